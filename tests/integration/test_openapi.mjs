// The API description (docs/openapi.yaml) against the real binary.
//
// 1. Lints the file with an OpenAPI 3.1 validator
//    (@seriousme/openapi-schema-validator) and compiles every schema in
//    it with ajv's JSON Schema 2020-12 class in strict mode.
// 2. Starts the real binary on loopback ports (several configurations:
//    open, with every credential and the model detector, with DevRev
//    delivery to tests/fake_devrev.py, with tight limits), sends every
//    request form the spec describes, checks each request body against
//    the spec's request schema, and each answer against the spec: its
//    status must be listed for that path and method, its content type
//    listed for that status, required headers present, and the body must
//    match the schema. An answer whose status the operation does not list
//    is a failure.
// 3. Checks that the check can fail: answers made wrong on purpose (an
//    extra field, a wrong type, an undescribed status) must be refused.
//
// Prints "N passed, M failed"; exits non-zero on failure.
// Env: FA_BIN (the binary), SRC_DIR.
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import YAML from "yaml";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRC_DIR = process.env.SRC_DIR || path.resolve(HERE, "..", "..");
const BUILD_DIR = process.env.BUILD_DIR || path.join(SRC_DIR, "build");
const FA_BIN = process.env.FA_BIN || path.join(BUILD_DIR, "frustration-alert");
const SPEC_PATH =
  process.env.OPENAPI_SPEC || path.join(SRC_DIR, "docs", "openapi.yaml");
const FIXTURES = path.join(SRC_DIR, "tests", "fixtures", "devrev");
const HOST = "127.0.0.1";

const TOKEN = "openapi-test-token";
const WEBHOOK_SECRET = "generic-secret-for-openapi";
const DEVREV_SECRET = "ZGV2cmV2LXNlY3JldC1mb3Itb3BlbmFwaQ==";
const SLACK_SECRET = "slack-signing-secret-openapi";
const DEVREV_TOKEN = "fake-devrev-token";

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) {
    passed++;
  } else {
    failed++;
    console.log(`FAIL ${name}${detail ? ": " + detail : ""}`);
  }
  return ok;
}

// ---- the spec -----------------------------------------------------------

let specText = "";
let spec = null; // set by loadSpec

// Component schema references point into the spec; ajv gets them as the
// $defs of one schema document whose $id is "openapi".
function rewriteRefs(node) {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node && typeof node === "object") {
    const out = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") {
        const m = v.match(/^#\/components\/schemas\/(.+)$/);
        if (!m) throw new Error(`unexpected $ref ${v} in a schema`);
        out[k] = `openapi#/$defs/${m[1]}`;
      } else {
        out[k] = rewriteRefs(v);
      }
    }
    return out;
  }
  return node;
}

const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
addFormats(ajv);

function loadSpec() {
  specText = readFileSync(SPEC_PATH, "utf8");
  spec = YAML.parse(specText, { prettyErrors: true });
  ajv.addSchema({ $id: "openapi", $defs: rewriteRefs(spec.components.schemas) });
}
const compiled = new Map();
function validator(schema) {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(rewriteRefs(schema));
    compiled.set(schema, v);
  }
  return v;
}
function named(name) {
  const s = spec.components.schemas[name];
  if (!s) throw new Error(`no schema ${name}`);
  return validator({ $ref: `#/components/schemas/${name}` });
}

// Follows a "#/components/..." reference (responses, headers).
function deref(obj) {
  while (obj && obj.$ref) {
    const parts = obj.$ref.replace(/^#\//, "").split("/");
    obj = parts.reduce((o, p) => o && o[p], spec);
  }
  return obj;
}

function errorsOf(v) {
  return ajv.errorsText(v.errors, { separator: "; " }).slice(0, 600);
}

// The operation for a concrete path: exact, else a template.
function findOperation(method, p) {
  const m = method.toLowerCase();
  if (spec.paths[p]) return spec.paths[p][m] ? { op: spec.paths[p][m], tpl: p } : null;
  for (const [tpl, item] of Object.entries(spec.paths)) {
    if (!tpl.includes("{")) continue;
    const re = new RegExp(
      "^" + tpl.replace(/\{[^}]+\}/g, "([^/]+)") + "$");
    if (re.test(p) && item[m]) return { op: item[m], tpl };
  }
  return null;
}

// Checks one answer against a response object; returns the parsed body
// (or null when it did not match).
function checkResponse(name, resp, res) {
  resp = deref(resp);
  const ct = (res.headers["content-type"] || "").split(";")[0].trim();
  const media = resp.content && resp.content[ct];
  if (!check(`${name}: content type ${ct} is described`, !!media,
    `described: ${Object.keys(resp.content || {}).join(", ")}`))
    return null;
  for (const [h, hdef] of Object.entries(resp.headers || {})) {
    const d = deref(hdef);
    if (d.required)
      check(`${name}: header ${h}`, res.headers[h.toLowerCase()] !== undefined);
  }
  let body = res.body;
  if (ct === "application/json") {
    try {
      body = JSON.parse(res.body);
    } catch (e) {
      check(`${name}: JSON body`, false, `${e.message}: ${res.body.slice(0, 200)}`);
      return null;
    }
  }
  const v = validator(media.schema);
  if (!check(`${name}: body matches the schema`, v(body),
    `${errorsOf(v)}; body ${res.body.slice(0, 300)}`))
    return null;
  return body;
}

// The spec's verdict on an answer of METHOD PATH; `expect` names the
// status the test expects, `schema` the component the body must be.
function checkAnswer(name, method, p, res, expect = {}) {
  if (expect.status !== undefined)
    check(`${name}: status ${expect.status}`, res.status === expect.status,
      `got ${res.status} ${res.body.slice(0, 300)}`);
  const found = findOperation(method, p);
  if (!check(`${name}: ${method} ${p} is described`, !!found)) return null;
  const resp = found.op.responses[String(res.status)];
  if (!check(`${name}: status ${res.status} is described for ${method} ${found.tpl}`,
    !!resp, res.body.slice(0, 300)))
    return null;
  const body = checkResponse(name, resp, res);
  if (body !== null && expect.schema) {
    const v = named(expect.schema);
    check(`${name}: is a ${expect.schema}`, v(body), errorsOf(v));
  }
  if (body !== null && expect.error)
    check(`${name}: error ${expect.error}`, body.error === expect.error,
      JSON.stringify(body));
  return body;
}

// Answers to requests outside every operation (unknown path, method).
function checkGeneric(name, responseName, res, expect = {}) {
  if (expect.status !== undefined)
    check(`${name}: status ${expect.status}`, res.status === expect.status,
      `got ${res.status}`);
  const body = checkResponse(name, spec.components.responses[responseName], res);
  if (body && expect.error)
    check(`${name}: error ${expect.error}`, body.error === expect.error,
      JSON.stringify(body));
  return body;
}

// A request body must match the spec's request schema for its media type.
function checkRequest(name, method, p, ctype, raw) {
  const found = findOperation(method, p);
  const media = found && found.op.requestBody &&
    found.op.requestBody.content[ctype];
  if (!check(`${name}: request ${ctype} is described`, !!media)) return;
  const value = ctype === "application/json"
    ? JSON.parse(raw)
    : Object.fromEntries(new URLSearchParams(raw));
  const v = validator(media.schema);
  check(`${name}: request matches the schema`, v(value), errorsOf(v));
}

// ---- processes and requests ------------------------------------------

const procs = [];
process.on("exit", () => {
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
});

function startServer(dir, name, env) {
  return new Promise((resolve, reject) => {
    const clean = {};
    for (const [k, v] of Object.entries(process.env))
      if (!/^(DEVREV_|API_TOKEN|WEBHOOK_SECRET|SLACK_|METRICS_|RATE_LIMIT|FRUSTRATION_)/.test(k))
        clean[k] = v;
    const proc = spawn(FA_BIN, ["serve"], {
      env: {
        ...clean,
        PORT: "0",
        HOST,
        DATABASE_URL: path.join(dir, `${name}.db`),
        LOG_LEVEL: "info",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    procs.push(proc);
    let log = "";
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`${name}: server did not start:\n${log}`));
    }, 20000);
    const onData = (d) => {
      log += d.toString();
      const m = log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m && timer) {
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1]), log: () => log });
      }
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name}: server exited (${code}):\n${log}`));
    });
  });
}

const SANITIZER_MARKS = ["ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
  "runtime error:", "WARNING: ThreadSanitizer"];

// SIGTERM; resolves the exit status. A sanitizer report in the server's
// log (sanitizer builds) is a failure.
async function stopServer(s) {
  const code = await signalStop(s);
  const log = s.log();
  const mark = SANITIZER_MARKS.find((m) => log.includes(m));
  check("no sanitizer report", !mark, mark && log.slice(log.indexOf(mark), log.indexOf(mark) + 3000));
  return code;
}

function signalStop(s) {
  return new Promise((resolve) => {
    if (s.proc.exitCode !== null) return resolve(s.proc.exitCode);
    const t = setTimeout(() => s.proc.kill("SIGKILL"), 15000);
    s.proc.removeAllListeners("exit");
    s.proc.on("exit", (code) => {
      clearTimeout(t);
      resolve(code);
    });
    s.proc.kill("SIGTERM");
  });
}

function startFakeDevRev() {
  return new Promise((resolve, reject) => {
    const proc = spawn("python3",
      [path.join(SRC_DIR, "tests", "fake_devrev.py"), "--port", "0",
        "--token", DEVREV_TOKEN],
      { stdio: ["ignore", "pipe", "ignore"] });
    procs.push(proc);
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error("fake DevRev did not start"));
    }, 10000);
    proc.stdout.once("data", (d) => {
      clearTimeout(timer);
      const port = Number(d.toString().trim());
      if (!port) reject(new Error("fake DevRev printed no port"));
      resolve({ proc, url: `http://${HOST}:${port}` });
    });
    proc.on("error", reject);
  });
}

// One HTTP request; resolves {status, headers, body (text)}.
function request(port, method, p, { headers = {}, body = null } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === null ? null : Buffer.from(body);
    const req = http.request({
      host: HOST, port, method, path: p, agent: false, timeout: 10000,
      headers: {
        ...headers,
        ...(data ? { "Content-Length": String(data.length) } : {}),
      },
    }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({
        status: res.statusCode, headers: res.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${p}: timeout`)));
    req.on("error", reject);
    if (data) req.write(data);
    req.end();
  });
}

// The first chunk of an event stream, then the connection is dropped.
function streamStart(port, p) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: HOST, port, path: p, agent: false }, (res) => {
      let text = "";
      const done = () => {
        resolve({ status: res.statusCode, headers: res.headers, body: text });
        req.destroy();
      };
      if (res.statusCode !== 200) {
        res.on("data", (c) => (text += c));
        res.on("end", done);
        return;
      }
      res.on("data", (c) => {
        text += c;
        if (text.includes("\n\n")) done();
      });
    });
    req.setTimeout(5000, () => req.destroy(new Error("stream: no data")));
    req.on("error", (e) => (e.code === "ECONNRESET" ? null : reject(e)));
  });
}

// Raw bytes over a socket (what an HTTP client library will not send),
// the connection left open: resolves the answer as soon as it is whole
// (or when the server closes, or at the deadline).
function parseRaw(text) {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const head = text.slice(0, end);
  const m = head.match(/^HTTP\/1\.[01] (\d{3})/);
  if (!m) return null;
  const headers = {};
  for (const line of head.split("\r\n").slice(1)) {
    const i = line.indexOf(":");
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const rest = text.slice(end + 4);
  const len = Number(headers["content-length"]);
  if (!(len >= 0) || Buffer.byteLength(rest, "latin1") < len) return null;
  return { status: Number(m[1]), headers,
    body: Buffer.from(rest.slice(0, len), "latin1").toString("utf8") };
}

function rawRequest(port, bytes, waitMs = 5000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, HOST);
    let text = "";
    let done = false;
    const finish = (res, err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (res) resolve(res);
      else reject(err || new Error(
        `${bytes.split("\r\n")[0]}: no whole HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
    };
    const timer = setTimeout(() => finish(parseRaw(text)), waitMs);
    sock.on("connect", () => sock.write(bytes));
    sock.on("data", (c) => {
      text += c.toString("latin1");
      const res = parseRaw(text);
      if (res) finish(res);
    });
    sock.on("error", () => {});
    sock.on("close", () => finish(parseRaw(text)));
  });
}

const JSON_CT = { "Content-Type": "application/json" };
const FORM_CT = { "Content-Type": "application/x-www-form-urlencoded" };
const hmacHex = (key, data) => createHmac("sha256", key).update(data).digest("hex");

function fixture(name) {
  const ev = JSON.parse(readFileSync(path.join(FIXTURES, name), "utf8"));
  if ("timestamp" in ev) ev.timestamp = new Date().toISOString();
  return ev;
}

// Sends a JSON body (checking it against the request schema when
// `valid`), then checks the answer.
async function postJson(port, name, p, obj, expect, { headers = {}, valid = true } = {}) {
  const raw = typeof obj === "string" ? obj : JSON.stringify(obj);
  if (valid) checkRequest(name, "POST", p, "application/json", raw);
  const res = await request(port, "POST", p,
    { headers: { ...JSON_CT, ...headers }, body: raw });
  return checkAnswer(name, "POST", p, res, expect);
}

async function postForm(port, name, p, raw, expect, { headers = {}, valid = true } = {}) {
  if (valid) checkRequest(name, "POST", p, "application/x-www-form-urlencoded", raw);
  const res = await request(port, "POST", p,
    { headers: { ...FORM_CT, ...headers }, body: raw });
  return checkAnswer(name, "POST", p, res, expect);
}

async function get(port, name, p, expect, headers = {}) {
  const res = await request(port, "GET", p, { headers });
  return checkAnswer(name, "GET", p, res, expect);
}

// ---- the cases ----------------------------------------------------------

const FRUSTRATED = "This is terrible, the app is still not working! Third time I ask.";

async function openServer(dir) {
  // No credentials: every form, and the errors of bad input.
  // The original rule (the escalation below counts its negative messages).
  const s = await startServer(dir, "open", { MAX_BATCH: "5", MAX_JSON_DEPTH: "8",
    FRUSTRATION_DETECTOR: "polarity" });
  const port = s.port;
  try {
    await get(port, "health", "/health", { status: 200, schema: "Health" });
    const metrics = await get(port, "metrics", "/metrics", { status: 200 });
    check("metrics: Prometheus text", typeof metrics === "string" &&
      metrics.includes("# TYPE fa_http_requests_total counter"));

    const one = await postJson(port, "webhook message", "/webhook",
      { customer_id: "c1", message_id: "m-1", conversation_id: "conv-1",
        channel: "email", timestamp: "2026-01-02T03:04:05Z", lang: "en",
        message: FRUSTRATED },
      { status: 200, schema: "WebhookResult" });
    check("webhook message: alert created", one && one.alert === "created" && one.alert_id >= 1);
    const dup = await postJson(port, "webhook duplicate", "/webhook",
      { customer_id: "c1", message_id: "m-1", message: FRUSTRATED },
      { status: 200, schema: "WebhookResult" });
    check("webhook duplicate: marked", dup && dup.duplicate === true);
    check("webhook: the store's number, the first one's on a replay",
      one && Number.isInteger(one.id) && one.id >= 1 && dup && dup.id === one.id);
    await postJson(port, "webhook numeric timestamp", "/webhook",
      { customer_id: "c9", message: "Thanks, all good", timestamp: 1767225600 },
      { status: 200, schema: "WebhookResult" });
    const batch = await postJson(port, "webhook batch", "/webhook",
      { messages: [{ customer_id: "c2", message: "Thanks, it works now" },
        { customer_id: "c3", message: "Awful. Still broken!" }] },
      { status: 200, schema: "BatchResult" });
    check("webhook batch: count", batch && batch.count === 2 && batch.results.length === 2);
    check("webhook batch: a number per message", batch &&
      batch.results.every((r) => Number.isInteger(r.id)) &&
      batch.results[0].id !== batch.results[1].id);
    const given = await postJson(port, "webhook given language", "/webhook",
      { customer_id: "c4", message: "Ça ne marche toujours pas", lang: "fr-CA" },
      { status: 200, schema: "WebhookResult" });
    check("webhook given language: kept", given && given.language === "fr" &&
      given.language_source === "given", JSON.stringify(given));
    await postJson(port, "webhook bad language", "/webhook",
      { customer_id: "c4", message: "hello", lang: "français!" },
      { status: 400, error: "invalid_lang" }, { valid: false });
    // Three negative messages from one customer: the escalation rule.
    let esc = null;
    for (let i = 0; i < 3; i++)
      esc = await postJson(port, `webhook escalation ${i}`, "/webhook",
        { customer_id: "c-esc", message: "The response was a little late" },
        { status: 200, schema: "WebhookResult" });
    check("webhook escalation: escalated", esc && esc.escalated && esc.escalated.reason,
      JSON.stringify(esc));

    // DevRev events, unsigned (no secret configured).
    await postJson(port, "devrev verify", "/webhook", fixture("verify.json"),
      { status: 200, schema: "Challenge" });
    await postJson(port, "devrev verify top-level", "/webhook",
      fixture("verify_toplevel.json"), { status: 200, schema: "Challenge" });
    const tl = await postJson(port, "devrev comment", "/webhook",
      fixture("timeline_comment_customer.json"), { status: 200, schema: "WebhookResult" });
    check("devrev comment: source named", tl && tl.source_display_id === "CONV-3502");
    await postJson(port, "devrev conversation", "/webhook",
      fixture("conversation_created.json"), { status: 200, schema: "WebhookResult" });
    await postJson(port, "devrev work", "/webhook",
      fixture("work_created_ticket.json"), { status: 200, schema: "WebhookResult" });
    for (const f of ["timeline_comment_dev_user.json", "timeline_comment_internal.json",
      "work_updated.json", "work_created_issue.json"])
      await postJson(port, `devrev ${f}`, "/webhook", fixture(f),
        { status: 200, schema: "Ignored" });

    // Bad input on /webhook.
    const bad = (n, body, status, error) =>
      postJson(port, `webhook ${n}`, "/webhook", body, { status, error }, { valid: false });
    await bad("malformed JSON", '{"customer_id": "c1", "message": ', 400, "invalid_json");
    await bad("missing field", { customer_id: "c1" }, 400, "missing_field");
    await bad("wrong type", { customer_id: 7, message: "x" }, 400, "invalid_field");
    await bad("blank message", { customer_id: "c1", message: "  \n " }, 400, "empty_message");
    await bad("too deep", '{"customer_id":"c","message":"x","a":[[[[[[[[[[1]]]]]]]]]]}', 400, "too_deep");
    const idx = await bad("batch item", { messages: [{ customer_id: "c", message: "ok" },
      { customer_id: "c", message: "" }] }, 400, "empty_message");
    check("webhook batch item: index", idx && idx.index === 1, JSON.stringify(idx));
    await bad("batch too large", { messages: Array.from({ length: 6 },
      (_, i) => ({ customer_id: `c${i}`, message: "hello" })) }, 413, "too_many_items");
    const noId = fixture("timeline_comment_customer.json");
    delete noId.id;
    await bad("devrev without id", noId, 400, "invalid_event");
    {
      const res = await request(port, "POST", "/webhook",
        { headers: JSON_CT, body: Buffer.from('{"customer_id":"c","message":"\xff"}', "latin1") });
      checkAnswer("webhook invalid UTF-8", "POST", "/webhook", res,
        { status: 400, error: "invalid_utf8" });
    }
    {
      const res = await request(port, "POST", "/webhook",
        { headers: { "Content-Type": "text/plain" }, body: "hello" });
      checkAnswer("webhook text/plain", "POST", "/webhook", res,
        { status: 415, error: "unsupported_media_type" });
    }
    {
      // A Content-Length over MAX_BODY_BYTES is refused before the body.
      const res = await rawRequest(port,
        "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        "Content-Length: 1000000\r\n\r\n");
      checkAnswer("webhook body too large", "POST", "/webhook", res,
        { status: 413, error: "body_too_large" });
    }
    {
      const res = await request(port, "GET", "/health",
        { headers: { "X-Padding": "p".repeat(9000) } });
      checkAnswer("health header too large", "GET", "/health", res,
        { status: 431, error: "header_too_large" });
    }

    // /slash-analyze, every form.
    const tv = await postJson(port, "slash text", "/slash-analyze",
      { text: "not good at all" }, { status: 200, schema: "TextVerdict" });
    check("slash text: verdict", tv && /^(Not f|F)rustrated/.test(tv.text));
    await postJson(port, "slash message", "/slash-analyze",
      { message: "I love it" }, { status: 200, schema: "TextVerdict" });
    const sn = await postJson(port, "slash snap-in", "/slash-analyze",
      { parameters: "I asked three times and nothing works, this is terrible",
        source_id: "don:core:dvrv-us-1:devo/0:ticket/12",
        actor_id: "don:identity:dvrv-us-1:devo/0:devu/3" },
      { status: 200, schema: "SnapInVerdict" });
    check("slash snap-in: internal comment", sn &&
      sn.timeline_entry.object === "don:core:dvrv-us-1:devo/0:ticket/12");
    await postForm(port, "slash Slack form", "/slash-analyze",
      "token=x&team_id=T1&channel_id=C1&user_id=U1&command=%2Ffrustration&text=this+is+terrible" +
      "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1",
      { status: 200, schema: "SlackVerdict" });
    await postForm(port, "slash ssl_check", "/slash-analyze", "ssl_check=1&token=x",
      { status: 200, schema: "SlackSslCheck" });
    await postForm(port, "slash empty command", "/slash-analyze",
      "token=x&command=%2Ffrustration&text=",
      { status: 200, schema: "SlackUsage" });
    await postJson(port, "slash missing text", "/slash-analyze", { foo: 1 },
      { status: 400, error: "missing_field" }, { valid: false });
    await postJson(port, "slash snap-in without source", "/slash-analyze",
      { parameters: "bad" }, { status: 400, error: "missing_field" }, { valid: false });
    await postJson(port, "slash text not a string", "/slash-analyze", { text: 3 },
      { status: 400, error: "invalid_field" }, { valid: false });
    await postJson(port, "slash blank", "/slash-analyze", { text: " " },
      { status: 400, error: "empty_message" }, { valid: false });
    await postForm(port, "slash bad escape", "/slash-analyze", "text=%zz",
      { status: 400, error: "invalid_form" }, { valid: false });
    await postForm(port, "slash form without text", "/slash-analyze", "command=%2Ff",
      { status: 400, error: "missing_field" }, { valid: false });

    // The dashboard.
    await get(port, "page /", "/", { status: 200 });
    await get(port, "page /dashboard", "/dashboard", { status: 200 });
    for (const f of ["app.js", "style.css", "chart.umd.min.js"])
      await get(port, `static ${f}`, `/static/${f}`, { status: 200 });
    await get(port, "static missing", "/static/nope.js", { status: 404, error: "not_found" });
    const stats = await get(port, "stats", "/api/stats", { status: 200, schema: "Stats" });
    check("stats: counts the messages", stats && stats.store.messages >= 5 &&
      stats.top_customers.length >= 1 && stats.hour.messages.length === 60,
      JSON.stringify(stats && stats.store));
    const st = await streamStart(port, "/api/stream");
    checkAnswer("stream", "GET", "/api/stream", st, { status: 200 });
    await postJson(port, "feedback without API_TOKEN", "/api/feedback",
      { message_id: "m-1", correct: false },
      { status: 403, error: "api_token_required" });

    // Outside every operation.
    checkGeneric("unknown path", "NotFound",
      await request(port, "GET", "/nope"), { status: 404, error: "not_found" });
    checkGeneric("unknown /api path", "NotFound",
      await request(port, "GET", "/api/nope"), { status: 404, error: "not_found" });
    for (const [m, p] of [["GET", "/webhook"], ["PUT", "/slash-analyze"],
      ["POST", "/health"], ["DELETE", "/metrics"], ["POST", "/api/stats"],
      ["POST", "/dashboard"]])
      checkGeneric(`${m} ${p}`, "MethodNotAllowed",
        await request(port, m, p, m === "GET" ? {} : { headers: JSON_CT, body: "{}" }),
        { status: 405, error: "method_not_allowed" });
  } finally {
    check("open server stops cleanly", (await stopServer(s)) === 0);
  }
}

async function securedServer(dir) {
  // Every credential on, the model detector, delivery to a fake DevRev.
  const fake = await startFakeDevRev();
  const s = await startServer(dir, "secured", {
    API_TOKEN: TOKEN, WEBHOOK_SECRET, DEVREV_WEBHOOK_SECRET: DEVREV_SECRET,
    SLACK_SIGNING_SECRET: SLACK_SECRET, METRICS_REQUIRE_TOKEN: "on",
    FRUSTRATION_DETECTOR: "model",
    DEVREV_API_URL: fake.url, DEVREV_API_TOKEN: DEVREV_TOKEN,
    DEVREV_PART_ID: "don:core:dvrv-us-1:devo/fake:product/1",
    DEVREV_OWNER_ID: "don:identity:dvrv-us-1:devo/fake:devu/1",
    DEVREV_SELF_ID: "don:identity:dvrv-us-1:devo/0:devu/999",
  });
  const port = s.port;
  const bearer = { Authorization: `Bearer ${TOKEN}` };
  try {
    const msg = JSON.stringify({ customer_id: "s1", message_id: "s-1", message: FRUSTRATED });
    const r1 = await postJson(port, "signed webhook", "/webhook", msg,
      { status: 200, schema: "WebhookResult" },
      { headers: { "X-Signature-256": "sha256=" + hmacHex(WEBHOOK_SECRET, msg) } });
    check("model detector: frustration", r1 && r1.detector === "model" && r1.frustration);
    await postJson(port, "bearer webhook", "/webhook",
      { customer_id: "s2", message: "fine, thanks" },
      { status: 200, schema: "WebhookResult" }, { headers: bearer });
    await postJson(port, "webhook without credential", "/webhook",
      { customer_id: "s3", message: "hi" }, { status: 401, error: "missing_signature" });
    await postJson(port, "webhook bad signature", "/webhook", msg,
      { status: 401, error: "bad_signature" },
      { headers: { "X-Signature-256": "sha256=" + "0".repeat(64) } });
    await postJson(port, "webhook wrong token", "/webhook",
      { customer_id: "s3", message: "hi" }, { status: 401, error: "unauthorized" },
      { headers: { Authorization: "Bearer nope" } });
    const fb = await postJson(port, "feedback", "/api/feedback",
      { message_id: "s-1", correct: false, by: "ann" },
      { status: 200, schema: "FeedbackResult" }, { headers: bearer });
    check("feedback: the opposite of the verdict stored",
      fb && fb.label === false && fb.verdict === true && fb.agreed === false,
      JSON.stringify(fb));
    await postJson(port, "feedback true label", "/api/feedback",
      { message_id: "s-1", frustrated: true },
      { status: 200, schema: "FeedbackResult" }, { headers: bearer });
    const byId = await postJson(port, "feedback by id", "/api/feedback",
      { id: fb ? fb.id : 1, correct: true },
      { status: 200, schema: "FeedbackResult" }, { headers: bearer });
    check("feedback by id: the same message",
      byId && fb && byId.id === fb.id && byId.message_id === "s-1",
      JSON.stringify(byId));
    await postJson(port, "feedback unknown id", "/api/feedback",
      { id: 1000000, correct: true },
      { status: 404, error: "unknown_message" }, { headers: bearer });
    await postJson(port, "feedback both names", "/api/feedback",
      { message_id: "s-1", id: fb ? fb.id : 1, correct: true },
      { status: 400, error: "invalid_field" }, { headers: bearer, valid: false });
    await postJson(port, "feedback id not positive", "/api/feedback",
      { id: 0, correct: true },
      { status: 400, error: "invalid_field" }, { headers: bearer, valid: false });
    await postJson(port, "feedback unknown message", "/api/feedback",
      { message_id: "nope", frustrated: true },
      { status: 404, error: "unknown_message" }, { headers: bearer });
    await postJson(port, "feedback both labels", "/api/feedback",
      { message_id: "s-1", frustrated: true, correct: true },
      { status: 400, error: "invalid_field" }, { headers: bearer, valid: false });
    await postJson(port, "feedback without token", "/api/feedback",
      { message_id: "s-1", frustrated: true },
      { status: 401, error: "unauthorized" });
    const devKey = Buffer.from(DEVREV_SECRET, "base64");
    const ev = JSON.stringify(fixture("timeline_comment_customer.json"));
    await postJson(port, "devrev signed comment", "/webhook", ev,
      { status: 200, schema: "WebhookResult" },
      { headers: { "X-DevRev-Signature": hmacHex(devKey, ev) } });
    const old = fixture("timeline_comment_calm.json");
    old.timestamp = "2020-01-01T00:00:00Z";
    const oldRaw = JSON.stringify(old);
    await postJson(port, "devrev stale event", "/webhook", oldRaw,
      { status: 401, error: "stale_event" },
      { headers: { "X-DevRev-Signature": hmacHex(devKey, oldRaw) } });
    const vr = JSON.stringify(fixture("verify.json"));
    await postJson(port, "devrev signed verify", "/webhook", vr,
      { status: 200, schema: "Challenge" },
      { headers: { "X-DevRev-Signature": hmacHex(devKey, vr) } });

    // Slack, signed the way Slack signs: v0:TIMESTAMP:BODY.
    const form = "command=%2Ffrustration&user_id=U1&text=still+broken%2C+awful+support";
    const now = Math.floor(Date.now() / 1000);
    const slackSig = (ts, body) => "v0=" + hmacHex(SLACK_SECRET, `v0:${ts}:${body}`);
    await postForm(port, "slack signed", "/slash-analyze", form,
      { status: 200, schema: "SlackVerdict" },
      { headers: { "X-Slack-Request-Timestamp": String(now),
        "X-Slack-Signature": slackSig(now, form) } });
    await postForm(port, "slack unsigned", "/slash-analyze", form,
      { status: 401 }, { headers: { "X-Slack-Request-Timestamp": String(now) } });
    await postForm(port, "slack unsigned ssl_check", "/slash-analyze",
      "ssl_check=1&token=x", { status: 200, schema: "SlackSslCheck" });
    await postForm(port, "slack bad signature", "/slash-analyze", form,
      { status: 401, error: "bad_signature" },
      { headers: { "X-Slack-Request-Timestamp": String(now),
        "X-Slack-Signature": "v0=" + "1".repeat(64) } });
    await postForm(port, "slack stale", "/slash-analyze", form,
      { status: 401, error: "stale_timestamp" },
      { headers: { "X-Slack-Request-Timestamp": String(now - 3600),
        "X-Slack-Signature": slackSig(now - 3600, form) } });
    await postJson(port, "slash JSON without token", "/slash-analyze",
      { text: "hello" }, { status: 401, error: "unauthorized" });
    await postJson(port, "slash JSON with token", "/slash-analyze",
      { text: "hello" }, { status: 200, schema: "TextVerdict" }, { headers: bearer });

    await get(port, "metrics without token", "/metrics", { status: 401, error: "unauthorized" });
    await get(port, "metrics with token", "/metrics", { status: 200 }, bearer);
    await get(port, "stats without token", "/api/stats", { status: 401, error: "unauthorized" });
    await get(port, "stats with token", "/api/stats", { status: 200, schema: "Stats" }, bearer);
    checkAnswer("stream without token", "GET", "/api/stream",
      await streamStart(port, "/api/stream"), { status: 401, error: "unauthorized" });
    checkAnswer("stream with access_token", "GET", "/api/stream",
      await streamStart(port, `/api/stream?access_token=${TOKEN}`), { status: 200 });
    await get(port, "page without token", "/dashboard", { status: 200 });

    // Delivery to the fake DevRev: /health shows it.
    let h = null;
    for (let i = 0; i < 100; i++) {
      h = JSON.parse((await request(port, "GET", "/health")).body);
      if (h.delivery && h.delivery.last_success && h.delivery.pending === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const health = await get(port, "health delivering", "/health",
      { status: 200, schema: "Health" });
    check("health: delivered", health && health.delivery.mode === "deliver" &&
      health.delivery.last_success !== null && health.security.api_token === true,
      JSON.stringify(health && health.delivery));
  } finally {
    check("secured server stops cleanly", (await stopServer(s)) === 0);
    fake.proc.kill("SIGTERM");
  }
}

async function limitedServer(dir) {
  // The rate limit (429), loopback included.
  const s = await startServer(dir, "limited", {
    RATE_LIMIT: "1", RATE_LIMIT_BURST: "3",
    RATE_LIMIT_LOOPBACK: "on",
  });
  const port = s.port;
  try {
    let limited = null;
    for (let i = 0; i < 8 && !limited; i++) {
      const r = await request(port, "GET", "/health");
      if (r.status === 429) limited = r;
    }
    check("rate limit reached", !!limited);
    if (limited)
      checkAnswer("rate limited", "GET", "/health", limited,
        { status: 429, error: "rate_limited" });
  } finally {
    check("limited server stops cleanly", (await stopServer(s)) === 0);
  }
}

// ---- the check can fail -------------------------------------------------

function selfTest() {
  const before = failed;
  const quiet = (fn) => {
    const p = passed, f = failed, log = console.log;
    console.log = () => {};
    try {
      fn();
    } finally {
      console.log = log;
    }
    const caught = failed > f;
    passed = p;
    failed = f;
    return caught;
  };
  const ok = {
    status: 200, headers: { "content-type": "application/json" },
    body: JSON.stringify({ challenge: "abc" }),
  };
  check("self-test: a right answer passes",
    !quiet(() => checkAnswer("x", "POST", "/webhook", ok)));
  check("self-test: an extra field fails", quiet(() => checkAnswer("x", "POST",
    "/webhook", { ...ok, body: JSON.stringify({ challenge: "abc", extra: 1 }) })));
  check("self-test: a wrong type fails", quiet(() => checkAnswer("x", "POST",
    "/webhook", { ...ok, body: JSON.stringify({ challenge: 1 }) })));
  check("self-test: an undescribed status fails", quiet(() => checkAnswer("x",
    "POST", "/webhook", { ...ok, status: 418 })));
  check("self-test: an undescribed content type fails", quiet(() => checkAnswer("x",
    "GET", "/health", { ...ok, headers: { "content-type": "text/html" } })));
  check("self-test: an unknown error code fails", quiet(() => checkAnswer("x",
    "POST", "/webhook", { ...ok, status: 400,
      body: JSON.stringify({ error: "no_such_code", message: "m" }) })));
  check("self-test: a missing Retry-After fails", quiet(() => checkAnswer("x",
    "GET", "/health", { ...ok, status: 429,
      body: JSON.stringify({ error: "rate_limited", message: "m" }) })));
  check("self-test: an undescribed path fails", quiet(() => checkAnswer("x",
    "GET", "/nope", ok)));
  return failed === before;
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), "fa-openapi-"));
  try {
    loadSpec();
    // 1. The file is a valid OpenAPI 3.1 description.
    const v = new Validator();
    const res = await v.validate(specText);
    check("openapi.yaml is valid OpenAPI", res.valid,
      JSON.stringify(res.errors, null, 1)?.slice(0, 2000));
    check("openapi.yaml is OpenAPI 3.1", v.version === "3.1", v.version);
    // Every schema compiles (ajv strict: unknown keywords, bad refs).
    for (const name of Object.keys(spec.components.schemas)) {
      try {
        named(name);
        passed++;
      } catch (e) {
        check(`schema ${name} compiles`, false, e.message);
      }
    }
    // Every example of a request body matches its schema.
    for (const [p, item] of Object.entries(spec.paths))
      for (const [m, op] of Object.entries(item))
        for (const [ct, media] of Object.entries(op.requestBody?.content || {}))
          for (const [ex, e] of Object.entries(media.examples || {})) {
            const val = validator(media.schema);
            check(`example ${m} ${p} ${ct} ${ex}`, val(e.value), errorsOf(val));
          }
    selfTest();
    // 2. Live answers.
    await openServer(dir);
    await securedServer(dir);
    await limitedServer(dir);
  } catch (e) {
    check("no exception", false, e.stack);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
