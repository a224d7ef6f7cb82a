// Browser test of the live dashboard: the real binary on a loopback port
// with a temporary database, Debian's Chromium headless driven by
// playwright-core (no browser download). It opens /dashboard, posts
// frustrated and calm messages to /webhook, and checks that the charts'
// data, the customer table and the live feed change without a reload,
// within a couple of seconds; messages with an explicit "lang" show in the
// languages panel (live, then from the store) and in the feed. Saves screenshots (wide and narrow) to
// $BUILD_DIR (or the temp dir) as artifacts. Prints "N passed, M failed"
// and exits non-zero on failure.
//
// Env: FA_BIN (the binary), BUILD_DIR (artifacts), CHROMIUM (default
// /usr/bin/chromium), DASHBOARD_SCREENSHOT (also copy the wide screenshot
// there, e.g. docs/dashboard.png).
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRC_DIR = process.env.SRC_DIR || path.resolve(HERE, "..", "..");
const BUILD_DIR = process.env.BUILD_DIR || path.join(SRC_DIR, "build");
const FA_BIN = process.env.FA_BIN || path.join(BUILD_DIR, "frustration-alert");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const LIVE_MS = 2000; // "within a second or two"
// The service runs with API_TOKEN (labels need it); the page has it in its
// session, as after the operator typed it once.
const TOKEN = "dash-token-1";

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail ? ": " + detail : ""}`);
  }
}

function startServer(dir) {
  return new Promise((resolve, reject) => {
    const proc = spawn(FA_BIN, ["serve"], {
      env: {
        ...process.env,
        PORT: "0",
        HOST: "127.0.0.1",
        DATABASE_URL: path.join(dir, "fa.db"),
        LOG_LEVEL: "info",
        DEVREV_API_TOKEN: "",
        API_TOKEN: TOKEN,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let log = "";
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error("server did not start:\n" + log));
    }, 15000);
    const onData = (d) => {
      log += d.toString();
      const m = log.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1], log: () => log });
      }
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}):\n${log}`));
    });
  });
}

async function post(url, body) {
  const r = await fetch(url + "/webhook", {
    method: "POST",
    headers: { "Content-Type": "application/json",
      Authorization: "Bearer " + TOKEN },
    body: JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
}

// Polls fn (in the page) until it returns a truthy value or ms pass.
async function waitFor(page, fn, arg, ms) {
  const t0 = Date.now();
  try {
    await page.waitForFunction(fn, arg, { timeout: ms, polling: 50 });
    return Date.now() - t0;
  } catch {
    return -1;
  }
}

const sum = (a) => a.reduce((x, y) => x + (y || 0), 0);

async function chartTotals(page) {
  return page.evaluate(() => {
    const c = window.dashboard.charts;
    const s = (a) => a.reduce((x, y) => x + (y || 0), 0);
    const byLevel = {};
    for (const ds of c.trend.data.datasets)
      if (ds.type === "bar") byLevel[ds.label] = s(ds.data);
    const alerts = {};
    for (const ds of c.alerts.data.datasets) alerts[ds.label] = s(ds.data);
    return { byLevel, alerts, labels: c.trend.data.labels.length };
  });
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), "fa-dash-"));
  let server = null;
  let browser = null;
  const pageErrors = [];
  try {
    server = await startServer(dir);
    const url = server.url;

    // Something in the store before the page opens: the page starts from
    // /api/stats.
    await post(url, { customer_id: "early-bird", message: "I love it, thanks!" });

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage",
      ],
    });
    const context = await browser.newContext({
      viewport: { width: 1366, height: 900 },
    });
    await context.addInitScript((t) => sessionStorage.setItem("fa_token", t),
      TOKEN);
    const page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text());
    });
    // The page must not reach outside the service.
    const external = [];
    page.on("request", (req) => {
      if (!req.url().startsWith(url) && !req.url().startsWith("data:"))
        external.push(req.url());
    });

    const resp = await page.goto(url + "/dashboard", { waitUntil: "load" });
    check("GET /dashboard is 200", resp.status() === 200, String(resp.status()));
    check("charting library loaded",
      await page.evaluate(() => typeof window.Chart === "function"));
    const loaded = await waitFor(page,
      () => window.dashboard && window.dashboard.state.stats &&
        document.getElementById("conn").classList.contains("on"),
      null, 5000);
    check("stats loaded and stream connected", loaded >= 0);
    const before = await chartTotals(page);
    check("hour chart has 60 buckets", before.labels === 60, String(before.labels));
    check("initial stats include the earlier message",
      (before.byLevel.calm || 0) >= 1, JSON.stringify(before.byLevel));
    const detector = await page.textContent("#det-name");
    check("detector settings shown", detector === "model", detector);

    // A frustrated message: charts, customer table and feed update live.
    const reloads = await page.evaluate(() => performance.navigation.type);
    let t0 = Date.now();
    const angry = await post(url, {
      customer_id: "cust-angry",
      message_id: "dash-angry-1",
      message: "This is terrible, the worst service ever! Cancel my account!",
    });
    check("frustrated webhook accepted", angry.status === 200 &&
      angry.json.alert === "created", JSON.stringify(angry.json));
    let took = await waitFor(page, (n) => {
      const c = window.dashboard.charts.trend.data.datasets;
      const s = (a) => a.reduce((x, y) => x + (y || 0), 0);
      const lv = c.filter((d) => d.type === "bar" && d.label !== "calm");
      return lv.reduce((x, d) => x + s(d.data), 0) >= n;
    }, 1, LIVE_MS);
    check("trend chart counts the frustrated message live", took >= 0,
      `waited ${Date.now() - t0} ms`);
    took = await waitFor(page, () => {
      const a = window.dashboard.charts.alerts.data.datasets
        .find((d) => d.label === "created");
      return a && a.data.reduce((x, y) => x + (y || 0), 0) >= 1;
    }, null, LIVE_MS);
    check("alerts chart counts the created alert live", took >= 0);
    took = await waitFor(page,
      () => !!document.querySelector('#customers tr[data-customer="cust-angry"]'),
      null, LIVE_MS);
    check("customer table shows the frustrated customer live", took >= 0,
      `after ${Date.now() - t0} ms`);
    console.log(`     (first update ${Date.now() - t0} ms after the POST)`);

    // A second frustrated customer and calm messages.
    t0 = Date.now();
    await post(url, { customer_id: "cust-upset", message: "Still not working again, I am very disappointed and waiting for a refund." });
    await post(url, { customer_id: "cust-angry", message: "Unacceptable. Horrible. Third time I write!" });
    for (let i = 0; i < 3; i++)
      await post(url, { customer_id: `cust-happy-${i}`, message: "Great, thank you so much, works perfectly." });
    took = await waitFor(page, (n) => {
      const d = window.dashboard.charts.trend.data.datasets
        .find((x) => x.label === "calm");
      return d && d.data.reduce((x, y) => x + (y || 0), 0) >= n;
    }, (before.byLevel.calm || 0) + 3, LIVE_MS);
    check("calm messages counted live", took >= 0);
    took = await waitFor(page, () => {
      const n = Number(document.getElementById("live-count").textContent);
      return n >= 6 && document.querySelectorAll("#feed li").length >= 6;
    }, null, LIVE_MS);
    check("live feed lists every message", took >= 0);
    // An agent says the verdict was wrong: the label is stored (the answer
    // of POST /api/feedback) and shown on the message.
    const entry = '#feed li[data-message-id="dash-angry-1"]';
    check("a message with an id has right/wrong buttons",
      (await page.locator(entry + " button").count()) === 2);
    await page.click(entry + ' button[data-correct="false"]');
    took = await waitFor(page, (sel) => {
      const l = document.querySelector(sel + " .label");
      return l && l.textContent === "labelled calm (verdict wrong)";
    }, entry, LIVE_MS);
    check("clicking wrong stores the label and shows it", took >= 0,
      await page.textContent(entry + " .label"));
    await page.click(entry + ' button[data-correct="true"]');
    took = await waitFor(page, (sel) => {
      const l = document.querySelector(sel + " .label");
      return l && l.textContent === "labelled frustrated (verdict right)";
    }, entry, LIVE_MS);
    check("clicking right replaces it", took >= 0,
      await page.textContent(entry + " .label"));
    // cust-upset's message was sent without a message_id: its buttons name
    // it by its id in the store, and the label is stored (read back from
    // /api/stats, which reads the store).
    const upset = await page.evaluate(() => {
      const li = [...document.querySelectorAll("#feed li")]
        .find((x) => x.textContent.includes("cust-upset"));
      return li ? { id: li.dataset.id, mid: li.dataset.messageId || null,
        buttons: li.querySelectorAll(".fb button").length } : null;
    });
    check("a message without message_id has right/wrong buttons and its id",
      upset && upset.mid === null && /^[1-9][0-9]*$/.test(upset.id) &&
      upset.buttons === 2, JSON.stringify(upset));
    const upsetEntry = `#feed li[data-id="${upset ? upset.id : 0}"]`;
    if (upset && upset.buttons === 2)
      await page.click(upsetEntry + ' button[data-correct="false"]');
    took = await waitFor(page, (sel) => {
      const l = document.querySelector(sel + " .label");
      return l && /^labelled (calm|frustrated) \(verdict wrong\)$/.test(l.textContent);
    }, upsetEntry, LIVE_MS);
    check("clicking wrong on it stores the label and shows it", took >= 0,
      upset && await page.textContent(upsetEntry + " .label"));
    let upsetStored;
    for (let i = 0; i < 30 && !upsetStored; i++) {
      const r = await fetch(url + "/api/stats",
        { headers: { Authorization: "Bearer " + TOKEN } });
      const s = await r.json();
      upsetStored = (s.top_customers || []).flatMap((c) => c.recent)
        .find((m) => upset && String(m.id) === upset.id && m.label !== null);
      if (!upsetStored) await new Promise((res) => setTimeout(res, 200));
    }
    check("the store has the label of the message without message_id",
      upsetStored && upsetStored.message_id === null &&
      upsetStored.label === !upsetStored.frustrated, JSON.stringify(upsetStored));
    // After the refresh that follows events, the ranked table comes from
    // the store: the angry customer (two severe messages) ranks first and
    // shows its stored text; calm customers are not listed.
    took = await waitFor(page, () => {
      const rows = [...document.querySelectorAll("#customers tbody tr")];
      const ids = rows.map((r) => r.dataset.customer);
      return ids[0] === "cust-angry" && ids.includes("cust-upset") &&
        !ids.some((x) => x && x.startsWith("cust-happy")) &&
        rows[0].textContent.includes("Unacceptable");
    }, null, 4000);
    const ids = await page.evaluate(() =>
      [...document.querySelectorAll("#customers tbody tr")]
        .map((r) => r.dataset.customer));
    check("customer ranking from the store (after refresh)", took >= 0,
      JSON.stringify(ids));
    // The table's recent messages come from the store, with the label
    // given above (the last one: right).
    const labelled = '#customers .fb[data-message-id="dash-angry-1"]';
    took = await waitFor(page, (sel) => {
      const l = document.querySelector(sel + " .label");
      return l && l.textContent === "labelled frustrated (verdict right)";
    }, labelled, 4000);
    check("the customer table shows the stored label", took >= 0,
      await page.evaluate((sel) => document.querySelector(sel)?.textContent, labelled));
    const upsetRow = `#customers .fb[data-id="${upset ? upset.id : 0}"]`;
    took = await waitFor(page, (sel) => {
      const l = document.querySelector(sel + " .label");
      return l && / \(verdict wrong\)$/.test(l.textContent) &&
        !document.querySelector(sel).dataset.messageId;
    }, upsetRow, 4000);
    check("the customer table shows buttons and the stored label of the " +
      "message without message_id", took >= 0,
      await page.evaluate((sel) => document.querySelector(sel)?.textContent, upsetRow));
    check("stored stats match the page",
      (await page.evaluate(() => window.dashboard.state.stats.store.messages)) >= 7);
    check("the page was never reloaded",
      (await page.evaluate(() => performance.navigation.type)) === reloads &&
      (await page.evaluate(() => !!window.dashboard)));
    const obMode = await page.textContent("#ob-mode");
    check("outbox panel shows the delivery mode", /record-only/.test(obMode), obMode);

    // Messages with a language: the languages panel counts them per
    // language live, then as stored; the feed shows each one's code.
    // Whether each is frustrated is taken from the webhook's answer.
    const sent = [
      ["fr", "cust-fr-1", "This is terrible, the worst service ever! Cancel my account!"],
      ["fr", "cust-fr-2", "Great, thank you so much, works perfectly."],
      ["de", "cust-de-1", "Still not working again, I am very disappointed."],
      ["pt", "cust-pt-1", "Thanks, all good now."],
    ];
    const want = {};
    // The page's stats before the posts: the live counts must show before
    // a refresh replaces them (which comes REFRESH_AFTER_EVENT_MS after
    // the first event).
    await page.evaluate(() => { window.statsBefore = window.dashboard.state.stats; });
    for (const [lang, customer_id, message] of sent) {
      const r = await post(url, { customer_id, message, lang });
      const w = want[lang] || (want[lang] = { messages: 0, frustrated: 0 });
      w.messages++;
      if (r.json.frustrated === true) w.frustrated++;
      check(`webhook with lang ${lang} accepted`, r.status === 200 &&
        typeof r.json.frustrated === "boolean", JSON.stringify(r.json));
    }
    const langRows = () => page.evaluate(() =>
      Object.fromEntries([...document.querySelectorAll("#langs-table tbody tr")]
        .filter((r) => r.dataset.lang)
        .map((r) => [r.dataset.lang, [...r.cells].map((c) => c.textContent)])));
    took = await waitFor(page, (w) => {
      const rows = document.querySelectorAll("#langs-table tbody tr");
      const got = {};
      for (const r of rows) if (r.dataset.lang) got[r.dataset.lang] = Number(r.cells[1].textContent);
      return window.dashboard.state.stats === window.statsBefore &&
        Object.keys(w).every((k) => got[k] === w[k].messages);
    }, want, LIVE_MS);
    check("languages panel counts the messages per language live (before a refresh)", took >= 0,
      JSON.stringify(await langRows()));
    took = await waitFor(page,
      () => [...document.querySelectorAll("#feed li")].slice(0, 4)
        .map((li) => li.querySelector(".lang")?.textContent).join(",") === "pt,de,fr,fr",
      null, LIVE_MS);
    check("live feed shows each message's language", took >= 0,
      await page.evaluate(() => [...document.querySelectorAll("#feed li .lang")]
        .slice(0, 6).map((e) => e.textContent).join(",")));
    // From the store (the refresh after events): counts and frustrated
    // shares as sent; the earlier messages without a lang are detected as
    // English; most messages first.
    took = await waitFor(page, (w) => {
      const l = window.dashboard.state.stats.hour.languages || [];
      const by = Object.fromEntries(l.map((x) => [x.code, x]));
      return Object.keys(w).every((k) => by[k] && by[k].messages === w[k].messages &&
        by[k].frustrated === w[k].frustrated) && by.en && by.en.messages >= 7;
    }, want, 4000);
    const stored = await page.evaluate(() => window.dashboard.state.stats.hour.languages);
    check("stored language mix as sent (detected where not sent)", took >= 0,
      JSON.stringify(stored) + " want " + JSON.stringify(want));
    check("stored language mix most first", stored.every((x, i) =>
      i === 0 || stored[i - 1].messages >= x.messages) && stored[0].code === "en",
      JSON.stringify(stored));
    const rows = await langRows();
    const share = (w) => `${w.frustrated} · ${Math.round(100 * w.frustrated / w.messages)}%`;
    check("languages panel names them and shows the frustrated share",
      rows.fr && /French/.test(rows.fr[0]) && rows.fr[2] === share(want.fr) &&
      rows.de && /German/.test(rows.de[0]) && rows.de[2] === share(want.de) &&
      rows.pt && /Portuguese/.test(rows.pt[0]) && rows.en && /English/.test(rows.en[0]),
      JSON.stringify(rows));
    const chartLangs = await page.evaluate(() => {
      const c = window.dashboard.charts.langs;
      const [fr, calm] = c.data.datasets;
      return c.data.labels.map((l, i) => [l, fr.data[i], calm.data[i]]);
    });
    const frBar = chartLangs.find((x) => x[0] === "French (fr)");
    check("languages chart draws frustrated and other messages per language",
      frBar && frBar[1] === want.fr.frustrated &&
      frBar[1] + frBar[2] === want.fr.messages, JSON.stringify(chartLangs));

    // Day range switch redraws from the same data.
    await page.click("#range-day");
    const day = await chartTotals(page);
    check("day range has 144 buckets", day.labels === 144, String(day.labels));
    check("day range counts the messages",
      sum(Object.values(day.byLevel)) >= 7, JSON.stringify(day.byLevel));
    const dayLangs = await langRows();
    check("day range shows the day's languages",
      (await page.textContent("#langs-sub")).startsWith("last day") &&
      dayLangs.fr && Number(dayLangs.fr[1]) === want.fr.messages,
      JSON.stringify(dayLangs));
    await page.click("#range-hour");

    check("no requests outside the service", external.length === 0,
      external.join(", "));

    const shot = path.join(BUILD_DIR, "dashboard.png");
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`     screenshot: ${shot}`);
    if (process.env.DASHBOARD_SCREENSHOT)
      copyFileSync(shot, process.env.DASHBOARD_SCREENSHOT);

    // Narrow screen: no horizontal scrolling of the page itself.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    const overflow = await page.evaluate(() =>
      document.documentElement.scrollWidth - window.innerWidth);
    check("readable on a narrow screen (no page overflow)", overflow <= 1,
      `${overflow}px wider`);
    await page.screenshot({
      path: path.join(BUILD_DIR, "dashboard-narrow.png"), fullPage: true,
    });
    check("no errors in the page", pageErrors.length === 0,
      pageErrors.join(" | "));
  } catch (e) {
    failed++;
    console.log("FAIL " + (e && e.stack ? e.stack : e));
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (server) {
      server.proc.removeAllListeners("exit");
      const exited = new Promise((r) => server.proc.once("exit", r));
      server.proc.kill("SIGTERM");
      const t = setTimeout(() => server.proc.kill("SIGKILL"), 10000);
      const code = await exited;
      clearTimeout(t);
      check("server stops cleanly with a stream open", code === 0,
        `exit ${code}\n${server.log().slice(-2000)}`);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
