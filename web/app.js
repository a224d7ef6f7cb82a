/* The dashboard's page logic: loads /api/stats, draws it with Chart.js,
 * and applies /api/stream's events as they arrive, so the page never
 * reloads. Events update the charts at once (the message's bucket, its
 * level, the alert outcome) and the customer table provisionally; a fresh
 * /api/stats follows within about a second and a half to get the ranking
 * and the stored details exactly right. No external resources: the
 * charting library is served by the binary itself. */
(function () {
  "use strict";

  var LEVEL_COLORS = {
    calm: "#3a9d5d", dissatisfied: "#d8b02a", frustrated: "#e07b24",
    angry: "#d2363a"
  };
  var EXTRA_COLORS = ["#6b7bd6", "#9b59b6", "#16a2b8", "#7f8c8d"];
  var ALERT_COLORS = {
    created: "#d2363a", appended: "#e07b24", delivered: "#2f6fdf",
    failed: "#6b2737"
  };
  /* The languages the service scores, by their ISO 639-1 codes; other
   * codes are named by the browser (Intl.DisplayNames) when it can. */
  var LANG_NAMES = {
    en: "English", fr: "French", de: "German", es: "Spanish",
    it: "Italian", nl: "Dutch", pt: "Portuguese", und: "Undetermined"
  };
  var LANGS_MAX = 16; /* as the server's list; the rest is "other" */
  var REFRESH_AFTER_EVENT_MS = 1200; /* > the server's 1 s stats cache */
  var REFRESH_EVERY_MS = 30000;      /* slides the windows when idle */
  var FEED_MAX = 30;

  var state = {
    stats: null,
    range: "hour",
    live: 0,
    token: sessionStorage.getItem("fa_token") || "",
    refreshTimer: null,
    lastRefresh: 0,
    source: null
  };
  var charts = { trend: null, alerts: null, langs: null };
  /* For tests and curious operators: window.dashboard.state / .charts. */
  window.dashboard = { state: state, charts: charts };

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function levelColor(name, i) {
    return LEVEL_COLORS[name] || EXTRA_COLORS[i % EXTRA_COLORS.length];
  }

  function pad2(n) { return (n < 10 ? "0" : "") + n; }

  function clock(ms) {
    var d = new Date(ms);
    return pad2(d.getHours()) + ":" + pad2(d.getMinutes());
  }

  function ago(ms) {
    if (!ms) return "–";
    var s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.round(s / 60) + " min ago";
    return Math.round(s / 3600) + " h ago";
  }

  function duration(ms) {
    if (!ms) return "–";
    var s = Math.round(ms / 1000);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.round(s / 60) + " min";
    return (s / 3600).toFixed(1) + " h";
  }

  var displayNames = null;
  try {
    displayNames = new Intl.DisplayNames(["en"], { type: "language" });
  } catch (e) { displayNames = null; }

  function langName(code) {
    if (LANG_NAMES[code]) return LANG_NAMES[code];
    try {
      var n = displayNames && displayNames.of(code);
      if (n && n !== code) return n;
    } catch (e) { /* not a code the browser knows */ }
    return code;
  }

  function pct(part, whole) {
    return whole ? Math.round(100 * part / whole) + "%" : "–";
  }

  function fmtPol(p) {
    return p === null || p === undefined ? "–" : (p >= 0 ? "+" : "") + p.toFixed(2);
  }

  /* ---- fetching ---------------------------------------------------- */

  function headers() {
    return state.token ? { Authorization: "Bearer " + state.token } : {};
  }

  function askToken() {
    $("auth").hidden = false;
    $("auth-form").onsubmit = function (ev) {
      ev.preventDefault();
      state.token = $("auth-token").value.trim();
      sessionStorage.setItem("fa_token", state.token);
      $("auth").hidden = true;
      refresh();
      connect();
    };
  }

  function refresh() {
    state.lastRefresh = Date.now();
    return fetch("/api/stats", { headers: headers(), cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) { askToken(); throw new Error("unauthorized"); }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (s) {
        state.stats = s;
        render();
      })
      .catch(function (e) { console.warn("stats:", e.message); });
  }

  /* At most one refresh per REFRESH_AFTER_EVENT_MS after events. */
  function scheduleRefresh() {
    if (state.refreshTimer) return;
    state.refreshTimer = setTimeout(function () {
      state.refreshTimer = null;
      refresh();
    }, REFRESH_AFTER_EVENT_MS);
  }

  /* ---- charts ------------------------------------------------------ */

  function series() {
    return state.stats ? state.stats[state.range] : null;
  }

  function labels(sr) {
    var out = [];
    for (var i = 0; i < sr.messages.length; i++)
      out.push(clock(sr.start_ms + i * sr.bucket_ms));
    return out;
  }

  function makeCharts() {
    var common = {
      responsive: true, maintainAspectRatio: false, animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } }
    };
    charts.trend = new Chart($("trend-chart"), {
      type: "bar",
      data: { labels: [], datasets: [] },
      options: Object.assign({}, common, {
        scales: {
          x: { stacked: true, ticks: { maxTicksLimit: 12, autoSkip: true } },
          y: { stacked: true, beginAtZero: true, title: { display: true, text: "messages" } },
          pol: {
            position: "right", min: -1, max: 1,
            grid: { drawOnChartArea: false },
            title: { display: true, text: "avg polarity" }
          }
        }
      })
    });
    charts.alerts = new Chart($("alerts-chart"), {
      type: "line",
      data: { labels: [], datasets: [] },
      options: Object.assign({}, common, {
        elements: { point: { radius: 0 }, line: { tension: 0.2 } },
        scales: {
          x: { ticks: { maxTicksLimit: 12, autoSkip: true } },
          y: { beginAtZero: true, ticks: { precision: 0 } }
        }
      })
    });
    charts.langs = new Chart($("langs-chart"), {
      type: "bar",
      data: { labels: [], datasets: [] },
      options: Object.assign({}, common, {
        indexAxis: "y",
        interaction: { mode: "index", intersect: false, axis: "y" },
        scales: {
          x: { stacked: true, beginAtZero: true, ticks: { precision: 0 },
               title: { display: true, text: "messages" } },
          y: { stacked: true, ticks: { autoSkip: false } }
        }
      })
    });
  }

  function drawCharts() {
    var sr = series();
    if (!sr || !charts.trend) return;
    var levels = state.stats.levels;
    var lab = labels(sr);
    var ds = levels.map(function (name, i) {
      return {
        type: "bar", label: name, data: (sr.by_level[name] || []).slice(),
        backgroundColor: levelColor(name, i), stack: "levels", yAxisID: "y",
        order: 2
      };
    });
    ds.push({
      type: "line", label: "avg polarity", data: sr.avg_polarity.slice(),
      borderColor: "#1d2330", backgroundColor: "#1d2330", yAxisID: "pol",
      spanGaps: true, pointRadius: 1.5, borderWidth: 1.5, order: 1
    });
    charts.trend.data.labels = lab;
    charts.trend.data.datasets = ds;
    charts.trend.update("none");

    charts.alerts.data.labels = lab.slice();
    charts.alerts.data.datasets = ["created", "appended", "delivered", "failed"]
      .map(function (k) {
        return {
          label: k, data: sr.alerts[k].slice(), borderColor: ALERT_COLORS[k],
          backgroundColor: ALERT_COLORS[k], fill: false
        };
      });
    charts.alerts.update("none");
    var per = state.range === "hour" ? "minute" : "10 minutes";
    $("trend-sub").textContent = "messages by level and average polarity per " + per;
    $("alerts-sub").textContent = "per " + per + ", by outcome";
    drawLangs(sr);
  }

  /* The series' language mix, with the rest summed as "other". */
  function langRows(sr) {
    var rows = (sr.languages || []).map(function (l) {
      return { code: l.code, name: langName(l.code), messages: l.messages,
               frustrated: l.frustrated };
    });
    var o = sr.languages_other;
    if (o && o.messages)
      rows.push({ code: null, name: "other (" + o.languages + ")",
                  messages: o.messages, frustrated: o.frustrated });
    return rows;
  }

  function drawLangs(sr) {
    var rows = langRows(sr);
    $("langs-sub").textContent = (state.range === "hour" ? "last hour" : "last day") +
      ", by messages";
    var tb = $("langs-table").tBodies[0];
    tb.textContent = "";
    if (!rows.length) {
      var tr = el("tr", "empty");
      var td = el("td", null, "No messages in the last " + state.range + ".");
      td.colSpan = 3;
      tr.appendChild(td);
      tb.appendChild(tr);
    }
    rows.forEach(function (r) {
      var tr = el("tr");
      tr.dataset.lang = r.code === null ? "other" : r.code;
      var name = el("td");
      if (r.code !== null) name.appendChild(el("span", "lang", r.code));
      name.appendChild(document.createTextNode(" " + r.name));
      tr.appendChild(name);
      tr.appendChild(el("td", "num", String(r.messages)));
      tr.appendChild(el("td", "num share", r.frustrated + " · " +
        pct(r.frustrated, r.messages)));
      tb.appendChild(tr);
    });
    if (!charts.langs) return;
    charts.langs.data.labels = rows.map(function (r) {
      return r.code === null ? r.name : r.name + " (" + r.code + ")";
    });
    charts.langs.data.datasets = [
      { label: "frustrated", backgroundColor: LEVEL_COLORS.frustrated, stack: "l",
        data: rows.map(function (r) { return r.frustrated; }) },
      { label: "not frustrated", backgroundColor: LEVEL_COLORS.calm, stack: "l",
        data: rows.map(function (r) { return r.messages - r.frustrated; }) }
    ];
    charts.langs.update("none");
  }

  /* ---- panels ------------------------------------------------------ */

  function badge(name) {
    return el("span", "badge " + (name || ""), name || "?");
  }

  function renderCustomers() {
    var tbody = $("customers").tBodies[0];
    var top = (state.stats && state.stats.top_customers) || [];
    var levels = (state.stats && state.stats.levels) || [];
    tbody.textContent = "";
    if (!top.length) {
      var tr = el("tr", "empty");
      var td = el("td", null, "No frustrated customers in the last hour.");
      td.colSpan = 7;
      tr.appendChild(td);
      tbody.appendChild(tr);
      return;
    }
    top.forEach(function (c) {
      var tr = el("tr", c.flash ? "flash" : "");
      c.flash = false;
      tr.dataset.customer = c.customer_id;
      tr.appendChild(el("td", null, c.customer_id));
      var lv = el("td");
      lv.appendChild(badge(levels[c.last_level] || String(c.last_level)));
      if (c.alert_open) lv.appendChild(el("span", "alert-open", "● alert"));
      tr.appendChild(lv);
      tr.appendChild(el("td", "num", c.score.toFixed(2)));
      tr.appendChild(el("td", "num", String(c.messages)));
      tr.appendChild(el("td", "num", fmtPol(c.avg_polarity)));
      tr.appendChild(el("td", "num", ago(c.last_at_ms)));
      var cell = el("td");
      var ul = el("ul", "msgs");
      (c.recent || []).slice(0, 3).forEach(function (m) {
        var li = el("li");
        var meta = el("span", "meta");
        meta.appendChild(badge(m.level_name));
        if (m.lang) {
          meta.appendChild(document.createTextNode(" "));
          meta.appendChild(el("span", "lang", m.lang));
        }
        meta.appendChild(document.createTextNode(
          " " + fmtPol(m.polarity) + " · " + clock(m.at_ms) +
          (m.alert && m.alert !== "none" ? " · alert " + m.alert : "")));
        li.appendChild(meta);
        if (m.text) li.appendChild(el("span", "text", m.text));
        var why = [];
        if (m.reasons && m.reasons.length) why.push(m.reasons.join("; "));
        if (m.words && m.words.length) why.push("words: " + m.words.join(", "));
        if (why.length) li.appendChild(el("span", "words", why.join(" — ")));
        feedbackButtons(li, m);
        ul.appendChild(li);
      });
      cell.appendChild(ul);
      tr.appendChild(cell);
      tbody.appendChild(tr);
    });
  }

  function renderOutbox(ob) {
    if (!ob) {
      $("ob-mode").textContent = "no delivery worker";
      return;
    }
    $("ob-mode").textContent = ob.mode + (ob.rate_limited ? " (rate limited)" : "");
    $("ob-pending").textContent = String(ob.pending);
    $("ob-oldest").textContent = ob.pending ? duration(ob.oldest_pending_age_ms) : "–";
    $("ob-dead").textContent = String(ob.dead);
    $("ob-attempts").textContent = ob.attempts + " / " + ob.failures;
    if (ob.last_success_ms !== undefined)
      $("ob-success").textContent = ob.last_success_ms ? ago(ob.last_success_ms) : "never";
    if (ob.last_error !== undefined)
      $("ob-error").textContent = ob.last_error || "none";
  }

  function renderDetector(d) {
    if (!d) return;
    $("det-name").textContent = d.detector;
    $("det-threshold").textContent = String(d.threshold);
    $("det-words").textContent = String(d.lexicon_words);
    var tb = $("det-levels").tBodies[0];
    tb.textContent = "";
    (d.levels || []).forEach(function (l) {
      var tr = el("tr");
      var td = el("td");
      td.appendChild(badge(l.name));
      tr.appendChild(td);
      tr.appendChild(el("td", "num", l.below === null ? "–" : String(l.below)));
      tr.appendChild(el("td", null, l.severity));
      tb.appendChild(tr);
    });
  }

  function render() {
    var s = state.stats;
    if (!s) return;
    $("total-messages").textContent = String(s.store.messages);
    $("total-alerts").textContent = String(s.store.alerts);
    drawCharts();
    renderCustomers();
    renderOutbox(s.outbox);
    renderDetector(s.detector);
    $("updated").textContent = "Last aggregate " + new Date(s.now_ms).toLocaleTimeString() +
      (s.store.ok ? "" : " (store unavailable: " + s.store.error + ")");
  }

  /* ---- live events ------------------------------------------------- */

  /* Moves sr forward so that at_ms falls in its last bucket at most, and
   * returns at_ms's bucket index (-1 when older than the window). */
  function bucketFor(sr, levels, at) {
    var n = sr.messages.length;
    while (at >= sr.start_ms + n * sr.bucket_ms) {
      sr.start_ms += sr.bucket_ms;
      sr.messages.shift(); sr.messages.push(0);
      sr.avg_polarity.shift(); sr.avg_polarity.push(null);
      levels.forEach(function (l) {
        if (sr.by_level[l]) { sr.by_level[l].shift(); sr.by_level[l].push(0); }
      });
      Object.keys(sr.alerts).forEach(function (k) {
        sr.alerts[k].shift(); sr.alerts[k].push(0);
      });
    }
    var i = Math.floor((at - sr.start_ms) / sr.bucket_ms);
    return i >= 0 && i < n ? i : -1;
  }

  function addToSeries(sr, levels, m) {
    var i = bucketFor(sr, levels, m.at_ms);
    if (i < 0) return;
    var n = sr.messages[i];
    var avg = sr.avg_polarity[i];
    sr.avg_polarity[i] = ((avg === null ? 0 : avg) * n + m.polarity) / (n + 1);
    sr.messages[i] = n + 1;
    var name = levels[m.level] || m.level_name;
    if (sr.by_level[name]) sr.by_level[name][i] += 1;
    if (m.alert === "created" || m.alert === "appended") sr.alerts[m.alert][i] += 1;
    addToLangs(sr, m);
  }

  /* Counts m in the series' language mix until the next /api/stats
   * brings the stored one. */
  function addToLangs(sr, m) {
    var code = m.lang || "und";
    var list = sr.languages || (sr.languages = []);
    var l = null;
    for (var i = 0; i < list.length; i++)
      if (list[i].code === code) l = list[i];
    if (!l && list.length >= LANGS_MAX) {
      var o = sr.languages_other ||
        (sr.languages_other = { languages: 0, messages: 0, frustrated: 0 });
      o.messages += 1;
      if (m.frustrated) o.frustrated += 1;
      return;
    }
    if (!l) {
      l = { code: code, messages: 0, frustrated: 0 };
      list.push(l);
    }
    l.messages += 1;
    if (m.frustrated) l.frustrated += 1;
    list.sort(function (a, b) {
      return b.messages - a.messages || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0);
    });
  }

  function addToCustomers(m) {
    var s = state.stats;
    var top = s.top_customers;
    var c = null;
    for (var i = 0; i < top.length; i++)
      if (top[i].customer_id === m.customer_id) c = top[i];
    if (!c) {
      if (m.level <= 0) return;
      c = {
        customer_id: m.customer_id, score: 0, messages: 0, max_level: 0,
        last_level: m.level, avg_polarity: m.polarity, last_at_ms: m.at_ms,
        alert_open: false, recent: []
      };
      top.push(c);
    }
    c.avg_polarity = (c.avg_polarity * c.messages + m.polarity) / (c.messages + 1);
    c.messages += 1;
    c.score += m.level;
    c.last_level = m.level;
    c.max_level = Math.max(c.max_level, m.level);
    c.last_at_ms = m.at_ms;
    if (m.alert === "created" || m.alert === "appended") c.alert_open = true;
    c.recent.unshift({
      at_ms: m.at_ms, polarity: m.polarity, level: m.level,
      level_name: m.level_name, frustrated: m.frustrated, alert: m.alert,
      lang: m.lang, id: m.id, message_id: m.message_id, label: null,
      words: [], reasons: []
    });
    c.recent = c.recent.slice(0, 5);
    c.flash = true;
    top.sort(function (a, b) { return b.score - a.score || b.last_at_ms - a.last_at_ms; });
    s.top_customers = top.slice(0, 10);
  }

  /* Shows a message's stored label beside its buttons. */
  function showLabel(box, text, cls) {
    var lab = box.querySelector(".label");
    lab.textContent = text;
    lab.className = "label " + (cls || "");
  }

  function labelText(label, frustrated) {
    return "labelled " + (label ? "frustrated" : "calm") +
      (label === frustrated ? " (verdict right)" : " (verdict wrong)");
  }

  function markButtons(box, correct) {
    box.querySelectorAll("button").forEach(function (btn) {
      btn.className = btn.dataset.correct === String(correct) ? "on" : "";
    });
  }

  /* The body naming m for POST /api/feedback: the message_id it was sent
   * with, or the store's id of a message sent without one. */
  function feedbackTarget(m, body) {
    if (m.message_id) body.message_id = m.message_id;
    else body.id = m.id;
    return body;
  }

  /* Tells the service whether the verdict on m was right (POST
   * /api/feedback): the label is stored with the message and teaches the
   * next retrained model. m.label keeps the stored one, so a redraw of
   * the table before the next /api/stats still shows it. */
  function sendFeedback(box, m, correct) {
    var h = headers();
    h["Content-Type"] = "application/json";
    showLabel(box, "saving…", "pending");
    return fetch("/api/feedback", {
      method: "POST", headers: h, cache: "no-store",
      body: JSON.stringify(feedbackTarget(m, { correct: correct }))
    }).then(function (r) {
      return r.json().then(function (b) {
        if (r.status === 401) askToken();
        if (!r.ok) throw new Error(b && b.message ? b.message : "HTTP " + r.status);
        m.label = b.label;
        markButtons(box, correct);
        showLabel(box, labelText(b.label, b.verdict), "saved");
      });
    }).catch(function (e) { showLabel(box, "not saved: " + e.message, "failed"); });
  }

  /* The right/wrong pair for message m, showing the label stored for it,
   * if any. Every message has one: one sent without a message_id is
   * labelled by its id in the store. */
  function feedbackButtons(parent, m) {
    var box = el("span", "fb");
    if (m.message_id) box.dataset.messageId = m.message_id;
    box.dataset.id = String(m.id);
    [[true, "✓ right"], [false, "✗ wrong"]].forEach(function (p) {
      var b = el("button", null, p[1]);
      b.type = "button";
      b.dataset.correct = String(p[0]);
      b.title = p[0] ? "the verdict was right" : "the verdict was wrong";
      b.onclick = function () { sendFeedback(box, m, p[0]); };
      box.appendChild(b);
    });
    box.appendChild(el("span", "label"));
    if (m.label === true || m.label === false) {
      markButtons(box, m.label === m.frustrated);
      showLabel(box, labelText(m.label, m.frustrated), "saved");
    }
    parent.appendChild(box);
  }

  function addToFeed(m) {
    var li = el("li");
    if (m.message_id) li.dataset.messageId = m.message_id;
    li.dataset.id = String(m.id);
    li.appendChild(el("span", "t", clock(m.at_ms)));
    li.appendChild(el("span", "lang", m.lang || "und"));
    li.appendChild(badge(m.level_name));
    li.appendChild(el("span", null, m.customer_id));
    li.appendChild(el("span", "words", fmtPol(m.polarity) +
      (m.alert !== "none" ? " · alert " + m.alert : "")));
    feedbackButtons(li, m);
    var feed = $("feed");
    feed.insertBefore(li, feed.firstChild);
    while (feed.children.length > FEED_MAX) feed.removeChild(feed.lastChild);
  }

  function onMessage(ev) {
    var m = JSON.parse(ev.data);
    state.live += 1;
    $("live-count").textContent = String(state.live);
    addToFeed(m);
    var s = state.stats;
    if (s) {
      addToSeries(s.hour, s.levels, m);
      addToSeries(s.day, s.levels, m);
      s.store.messages += 1;
      if (m.alert === "created") s.store.alerts += 1;
      addToCustomers(m);
      $("total-messages").textContent = String(s.store.messages);
      $("total-alerts").textContent = String(s.store.alerts);
      drawCharts();
      renderCustomers();
    }
    scheduleRefresh();
  }

  function onOutbox(ev) {
    var ob = JSON.parse(ev.data);
    if (state.stats && state.stats.outbox)
      Object.assign(state.stats.outbox, ob);
    renderOutbox(state.stats ? state.stats.outbox : ob);
    scheduleRefresh();
  }

  function setConn(on, text) {
    $("conn").className = "dot " + (on ? "on" : "off");
    $("conn-text").textContent = text;
  }

  function connect() {
    if (state.source) state.source.close();
    var url = "/api/stream" +
      (state.token ? "?access_token=" + encodeURIComponent(state.token) : "");
    var src = new EventSource(url);
    state.source = src;
    src.onopen = function () {
      setConn(true, "live");
      /* Whatever happened while disconnected is in the aggregates. */
      if (Date.now() - state.lastRefresh > 2000) refresh();
    };
    src.onerror = function () { setConn(false, "reconnecting…"); };
    src.addEventListener("message", onMessage);
    src.addEventListener("outbox", onOutbox);
    src.addEventListener("alert", scheduleRefresh);
    src.addEventListener("resync", refresh);
  }

  function setRange(r) {
    state.range = r;
    $("range-hour").className = r === "hour" ? "on" : "";
    $("range-day").className = r === "day" ? "on" : "";
    drawCharts();
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("range-hour").onclick = function () { setRange("hour"); };
    $("range-day").onclick = function () { setRange("day"); };
    if (typeof Chart !== "undefined") makeCharts();
    refresh().then(connect);
    setInterval(refresh, REFRESH_EVERY_MS);
  });
})();
