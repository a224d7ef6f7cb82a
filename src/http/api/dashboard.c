/* dashboard: embedded files, /api/stats and the live events (see
 * dashboard.h).
 *
 * /api/stats is built from six store reads (two series and the language
 * mix over each, the top customers, the totals) plus the outbox worker's and
 * the hub's in-memory snapshots. The answer is kept as text and reused for
 * DASHBOARD_CACHE_MS; the lock that guards it is held while it is rebuilt, so a
 * burst of viewers costs one computation. The store is read-only here: a
 * failure to read it is reported in the answer ("store": {"ok": false, ...})
 * and retried with a fresh connection on the next rebuild.
 *
 * Times sent to the page are epoch milliseconds; buckets are aligned on
 * their width (whole minutes, whole ten minutes) so that a bucket keeps
 * its start from one answer to the next and the page can add live events
 * to the right one. */
#include "http/api/dashboard.h"

#include "http/auth.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/committer.h"
#include "alerting/outbox.h"
#include "base/clock.h"
#include "base/jsonw.h"
#include "base/log.h"
#include "base/utf8.h"
#include "base/xalloc.h"
#include "http/sse.h"
#include "store/store_events.h"
#include "store/store_stats.h"

#define HOUR_BUCKET_MS 60000
#define HOUR_BUCKETS 60
#define DAY_BUCKET_MS 600000
#define DAY_BUCKETS 144

/* Top customers are ranked over the last hour. */
#define TOP_WINDOW_MS 3600000

/* Bytes of message text shown per message in the customer table. */
#define DASHBOARD_TEXT_MAX 280

struct dashboard {
  struct app *app; /* borrowed */
  const struct config *cfg;
  struct sse_hub *sse;  /* owned */
  pthread_mutex_t lock; /* guards everything below */
  struct store_reader *reader;
  struct buf cache;
  uint64_t cache_at_ms; /* monotonic; 0: none */
  /* The outbox counters last published (the hub's thread only). */
  struct outbox_stats last_outbox;
  bool have_last_outbox;
  /* With a shared store (PostgreSQL): the feed of every instance's
   * messages and the thread that publishes it. NULL: this process's
   * webhook publishes its own messages. */
  struct store_events *live;
  pthread_t live_thread;
  bool live_running;
  atomic_bool live_stop;
};

static void *live_main(void *arg);

enum err dashboard_new(struct app *app, struct dashboard **out)
{
  struct dashboard *d = xcalloc(1, sizeof *d);
  d->app = app;
  d->cfg = app->cfg;
  pthread_mutex_init(&d->lock, NULL);
  buf_init(&d->cache, 0);
  /* The tick is set once d->sse is: the hub's thread runs it and it
   * publishes through d->sse. */
  enum err rc = sse_hub_new(NULL, &d->sse);
  if (rc) {
    dashboard_free(d);
    return rc;
  }
  sse_hub_set_tick(d->sse, dashboard_tick, d);
  if (store_events_supported(d->cfg->database_url)) {
    rc = store_events_open(d->cfg->database_url, &d->live);
    if (!rc && pthread_create(&d->live_thread, NULL, live_main, d))
      rc = ERR_INTERNAL;
    if (rc) {
      dashboard_free(d);
      return rc;
    }
    d->live_running = true;
  }
  *out = d;
  return ERR_OK;
}

/* Stops and joins the feed's thread; idempotent. */
static void live_stop(struct dashboard *d)
{
  if (!d->live_running)
    return;
  atomic_store(&d->live_stop, true);
  store_events_interrupt(d->live);
  pthread_join(d->live_thread, NULL);
  d->live_running = false;
}

struct sse_hub *dashboard_hub(struct dashboard *d)
{
  return d ? d->sse : NULL;
}

void dashboard_shutdown(struct dashboard *d)
{
  if (!d)
    return;
  live_stop(d);
  sse_hub_shutdown(d->sse);
}

void dashboard_free(struct dashboard *d)
{
  if (!d)
    return;
  live_stop(d);
  store_events_close(d->live);
  sse_hub_free(d->sse);
  store_reader_close(d->reader);
  buf_cleanup(&d->cache);
  pthread_mutex_destroy(&d->lock);
  free(d);
}

/* ---- files ------------------------------------------------------------ */

const struct dashboard_file *dashboard_file_find(const char *path)
{
  if (!strcmp(path, "/") || !strcmp(path, "/dashboard") ||
      !strcmp(path, "/dashboard/"))
    path = "/index.html";
  for (size_t i = 0; i < dashboard_n_files; i++)
    if (!strcmp(dashboard_files[i].path, path))
      return &dashboard_files[i];
  return NULL;
}

bool dashboard_is_stream(const char *path)
{
  return !strcmp(path, "/api/stream");
}

bool dashboard_owns(const char *path)
{
  return !strcmp(path, "/") || !strcmp(path, "/dashboard") ||
         !strcmp(path, "/dashboard/") || !strncmp(path, "/static/", 8) ||
         !strcmp(path, "/api/stats") || dashboard_is_stream(path);
}

bool dashboard_authorized(const struct dashboard *d,
                          const struct http_request *req)
{
  /* The page sends API_TOKEN as "Authorization: Bearer" on fetches and as
   * ?access_token= on the EventSource (which cannot set headers). Static
   * files hold no data: the page loads and asks for the token. */
  if (!d || !auth_path_guarded(req->path))
    return true;
  return auth_token_ok(d->cfg->api_token, req->authorization,
                       req->access_token);
}

/* ---- /api/stats ------------------------------------------------------- */

/* The language mix of a series' window: "languages", most first, and
 * "languages_other", the sum of those past the bound. */
static void write_langs(struct jsonw *w, const struct store_stats_langs *l)
{
  jsonw_key(w, "languages");
  jsonw_array_begin(w);
  for (size_t i = 0; i < l->n; i++) {
    jsonw_object_begin(w);
    jsonw_kv_string(w, "code", l->langs[i].code);
    jsonw_kv_int(w, "messages", l->langs[i].messages);
    jsonw_kv_int(w, "frustrated", l->langs[i].frustrated);
    jsonw_object_end(w);
  }
  jsonw_array_end(w);
  jsonw_key(w, "languages_other");
  jsonw_object_begin(w);
  jsonw_kv_int(w, "languages", l->other_langs);
  jsonw_kv_int(w, "messages", l->other_messages);
  jsonw_kv_int(w, "frustrated", l->other_frustrated);
  jsonw_object_end(w);
}

static void write_series(struct jsonw *w, const struct config *cfg,
                         const struct store_stats_bucket *b, size_t n,
                         int64_t width_ms, const struct store_stats_langs *l)
{
  jsonw_object_begin(w);
  jsonw_kv_int(w, "bucket_ms", width_ms);
  jsonw_kv_int(w, "start_ms", b[0].start_ms);
  jsonw_key(w, "messages");
  jsonw_array_begin(w);
  for (size_t i = 0; i < n; i++)
    jsonw_int(w, b[i].messages);
  jsonw_array_end(w);
  jsonw_key(w, "avg_polarity");
  jsonw_array_begin(w);
  for (size_t i = 0; i < n; i++) {
    if (b[i].messages)
      jsonw_double(w, b[i].polarity_sum / (double)b[i].messages);
    else
      jsonw_null(w);
  }
  jsonw_array_end(w);
  jsonw_key(w, "by_level");
  jsonw_object_begin(w);
  size_t levels =
      cfg->n_levels < STORE_STATS_LEVELS ? cfg->n_levels : STORE_STATS_LEVELS;
  for (size_t l = 0; l < levels; l++) {
    jsonw_key(w, cfg->levels[l].name);
    jsonw_array_begin(w);
    for (size_t i = 0; i < n; i++)
      jsonw_int(w, b[i].by_level[l]);
    jsonw_array_end(w);
  }
  jsonw_object_end(w);
  jsonw_key(w, "alerts");
  jsonw_object_begin(w);
  static const char *const names[] = {"created", "appended", "delivered",
                                      "failed"};
  for (size_t k = 0; k < 4; k++) {
    jsonw_key(w, names[k]);
    jsonw_array_begin(w);
    for (size_t i = 0; i < n; i++) {
      const int64_t v[] = {b[i].created, b[i].appended, b[i].delivered,
                           b[i].failed};
      jsonw_int(w, v[k]);
    }
    jsonw_array_end(w);
  }
  jsonw_object_end(w);
  write_langs(w, l);
  jsonw_object_end(w);
}

/* Writes text cut to at most DASHBOARD_TEXT_MAX bytes on a UTF-8
 * boundary, with "..." when cut. */
static void write_excerpt(struct jsonw *w, const char *text)
{
  size_t len = strlen(text);
  if (len <= DASHBOARD_TEXT_MAX) {
    jsonw_string_len(w, text, len);
    return;
  }
  size_t cut = utf8_cut_bytes(text, len, DASHBOARD_TEXT_MAX);
  char tmp[DASHBOARD_TEXT_MAX + 4];
  memcpy(tmp, text, cut);
  memcpy(tmp + cut, "...", 3);
  jsonw_string_len(w, tmp, cut + 3);
}

static void write_customers(struct jsonw *w,
                            const struct store_stats_customer *cs, size_t n)
{
  jsonw_array_begin(w);
  for (size_t i = 0; i < n; i++) {
    const struct store_stats_customer *c = &cs[i];
    jsonw_object_begin(w);
    jsonw_kv_string(w, "customer_id", c->customer_id);
    jsonw_kv_double(w, "score", c->score);
    jsonw_kv_int(w, "messages", c->messages);
    jsonw_kv_int(w, "max_level", c->max_level);
    jsonw_kv_int(w, "last_level", c->last_level);
    jsonw_kv_double(w, "avg_polarity", c->avg_polarity);
    jsonw_kv_int(w, "last_at_ms", c->last_at_ms);
    jsonw_kv_bool(w, "alert_open", c->alert_open);
    jsonw_key(w, "recent");
    jsonw_array_begin(w);
    for (size_t k = 0; k < c->n_msgs; k++) {
      const struct store_stats_msg *m = &c->msgs[k];
      jsonw_object_begin(w);
      jsonw_kv_int(w, "at_ms", m->at_ms);
      jsonw_kv_double(w, "polarity", m->polarity);
      jsonw_kv_int(w, "level", m->level);
      jsonw_kv_string(w, "level_name", m->level_name ? m->level_name : "");
      jsonw_kv_bool(w, "frustrated", m->frustrated);
      jsonw_kv_string(w, "lang", m->lang ? m->lang : STORE_STATS_LANG_NONE);
      jsonw_kv_string(w, "alert", store_alert_name(m->outcome));
      /* What the page's right/wrong buttons label it by (message_id,
       * or the store's id when it was sent without one), and the label
       * the team gave it (null: none). */
      jsonw_kv_int(w, "id", m->row_id);
      jsonw_kv_string(w, "message_id", m->message_id);
      jsonw_key(w, "label");
      if (m->label < 0)
        jsonw_null(w);
      else
        jsonw_bool(w, m->label != 0);
      /* Both are JSON arrays, built by the store reader. */
      jsonw_key(w, "words");
      jsonw_raw(w, m->words_json, strlen(m->words_json));
      jsonw_key(w, "reasons");
      jsonw_raw(w, m->reasons_json, strlen(m->reasons_json));
      if (m->text) {
        jsonw_key(w, "text");
        write_excerpt(w, m->text);
      }
      jsonw_object_end(w);
    }
    jsonw_array_end(w);
    jsonw_object_end(w);
  }
  jsonw_array_end(w);
}

static void write_outbox(struct jsonw *w, struct outbox *ob, int64_t now_ms)
{
  if (!ob) {
    jsonw_null(w);
    return;
  }
  struct outbox_stats os;
  outbox_stats(ob, &os);
  jsonw_object_begin(w);
  jsonw_kv_string(w, "mode", os.mode);
  jsonw_kv_bool(w, "delivering", os.delivering);
  jsonw_kv_int(w, "pending", os.pending);
  jsonw_kv_int(w, "oldest_pending_age_ms", os.oldest_pending_age_ms);
  jsonw_kv_int(w, "dead", os.dead);
  jsonw_kv_int(w, "attempts", os.attempts);
  jsonw_kv_int(w, "failures", os.failures);
  jsonw_key(w, "last_success_ms");
  if (os.last_success_ms)
    jsonw_int(w, os.last_success_ms);
  else
    jsonw_null(w);
  jsonw_kv_bool(w, "rate_limited", os.rate_limited_until_ms > now_ms);
  jsonw_kv_bool(w, "store_ok", os.store_ok);
  jsonw_kv_text(w, "last_error", os.last_error);
  jsonw_object_end(w);
}

/* Reads the store's part of the answer into w (the "store" object and
 * the series and customers); on failure closes the reader so the next
 * rebuild reconnects. */
static void write_store_part(struct dashboard *d, struct jsonw *w,
                             int64_t now_ms)
{
  struct app *app = d->app;
  static struct store_stats_bucket hour[HOUR_BUCKETS], day[DAY_BUCKETS];
  struct store_stats_langs hour_langs = {0}, day_langs = {0};
  struct store_stats_customer top[DASHBOARD_TOP_CUSTOMERS];
  size_t n_top = 0;
  int64_t total_msgs = 0, total_alerts = 0;
  char err[256] = "";
  enum err rc = ERR_OK;

  if (!app->committer) {
    rc = ERR_UNSUPPORTED;
    snprintf(err, sizeof err, "the service runs without a store");
  } else if (!d->reader) {
    rc = store_reader_open(d->cfg->database_url, err, sizeof err, &d->reader);
  }
  int64_t hour_since =
      (now_ms / HOUR_BUCKET_MS - (HOUR_BUCKETS - 1)) * HOUR_BUCKET_MS;
  int64_t day_since =
      (now_ms / DAY_BUCKET_MS - (DAY_BUCKETS - 1)) * DAY_BUCKET_MS;
  /* The series arrays are static: they are only used under d->lock. */
  if (!rc)
    rc = store_stats_series(d->reader, hour_since, HOUR_BUCKET_MS, HOUR_BUCKETS,
                            hour);
  if (!rc)
    rc = store_stats_series(d->reader, day_since, DAY_BUCKET_MS, DAY_BUCKETS,
                            day);
  if (!rc)
    rc = store_stats_langs(d->reader, hour_since,
                           hour_since + HOUR_BUCKETS * HOUR_BUCKET_MS,
                           &hour_langs);
  if (!rc)
    rc = store_stats_langs(d->reader, day_since,
                           day_since + DAY_BUCKETS * DAY_BUCKET_MS, &day_langs);
  if (!rc)
    rc = store_stats_top_customers(d->reader, now_ms, now_ms - TOP_WINDOW_MS,
                                   DASHBOARD_TOP_CUSTOMERS, 0, top, &n_top);
  if (!rc)
    rc = store_stats_totals(d->reader, &total_msgs, &total_alerts);
  if (rc && d->reader) {
    snprintf(err, sizeof err, "%s", store_reader_errmsg(d->reader));
    store_reader_close(d->reader);
    d->reader = NULL;
  }
  if (rc) {
    store_stats_langs_cleanup(&hour_langs);
    store_stats_langs_cleanup(&day_langs);
    memset(hour, 0, sizeof hour);
    memset(day, 0, sizeof day);
    for (size_t i = 0; i < HOUR_BUCKETS; i++)
      hour[i].start_ms = hour_since + (int64_t)i * HOUR_BUCKET_MS;
    for (size_t i = 0; i < DAY_BUCKETS; i++)
      day[i].start_ms = day_since + (int64_t)i * DAY_BUCKET_MS;
  }

  jsonw_key(w, "store");
  jsonw_object_begin(w);
  jsonw_kv_bool(w, "ok", rc == ERR_OK);
  jsonw_key(w, "error");
  if (rc)
    jsonw_string(w, err);
  else
    jsonw_null(w);
  jsonw_kv_int(w, "messages", total_msgs);
  jsonw_kv_int(w, "alerts", total_alerts);
  jsonw_object_end(w);
  jsonw_key(w, "hour");
  write_series(w, d->cfg, hour, HOUR_BUCKETS, HOUR_BUCKET_MS, &hour_langs);
  jsonw_key(w, "day");
  write_series(w, d->cfg, day, DAY_BUCKETS, DAY_BUCKET_MS, &day_langs);
  store_stats_langs_cleanup(&hour_langs);
  store_stats_langs_cleanup(&day_langs);
  jsonw_key(w, "top_customers");
  write_customers(w, top, n_top);
  for (size_t i = 0; i < n_top; i++)
    store_stats_customer_cleanup(&top[i]);
}

static void build_stats(struct dashboard *d, struct buf *out)
{
  struct app *app = d->app;
  uint64_t t0 = clock_mono_ns();
  int64_t now_ms = committer_now_ms(app->committer); /* stored times' */
  struct jsonw w;
  buf_reset(out);
  jsonw_init(&w, out);
  jsonw_object_begin(&w);
  jsonw_kv_int(&w, "now_ms", now_ms);
  jsonw_key(&w, "levels");
  jsonw_array_begin(&w);
  for (size_t l = 0; l < d->cfg->n_levels; l++)
    jsonw_string(&w, d->cfg->levels[l].name);
  jsonw_array_end(&w);
  write_store_part(d, &w, now_ms);
  jsonw_key(&w, "outbox");
  write_outbox(&w, app->outbox, now_ms);
  jsonw_key(&w, "detector");
  jsonw_raw(&w, app->detector_json, strlen(app->detector_json));
  jsonw_key(&w, "stream");
  if (d->sse) {
    struct sse_stats ss;
    sse_hub_stats(d->sse, &ss);
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "subscribers", (int64_t)ss.subscribers);
    jsonw_kv_int(&w, "published", (int64_t)ss.published);
    jsonw_kv_int(&w, "dropped", (int64_t)ss.dropped);
    jsonw_object_end(&w);
  } else {
    jsonw_null(&w);
  }
  jsonw_kv_int(&w, "cache_ms", DASHBOARD_CACHE_MS);
  jsonw_kv_double(&w, "build_ms",
                  (double)((clock_mono_ns() - t0) / 1000u) / 1000.0);
  jsonw_object_end(&w);
}

static void handle_stats(struct dashboard *d, struct http_response *resp)
{
  pthread_mutex_lock(&d->lock);
  uint64_t now = (uint64_t)clock_mono_ms();
  if (!d->cache_at_ms || now - d->cache_at_ms >= DASHBOARD_CACHE_MS) {
    build_stats(d, &d->cache);
    d->cache_at_ms = (uint64_t)clock_mono_ms();
  }
  enum err rc = buf_append(&resp->body, buf_ptr(&d->cache), d->cache.len);
  pthread_mutex_unlock(&d->lock);
  if (rc) {
    http_response_error(resp, 500, "internal", "response too large");
    return;
  }
  resp->status = 200;
  resp->content_type = HTTP_CT_JSON;
}

void dashboard_handle(struct dashboard *d, const struct http_request *req,
                      struct http_response *resp)
{
  resp->route = METRICS_ROUTE_OTHER;
  if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
    http_response_error(resp, 405, "method_not_allowed", "%s takes GET or HEAD",
                        req->path);
    resp->allow = "GET, HEAD";
    return;
  }
  if (!dashboard_authorized(d, req)) {
    http_response_error(resp, 401, "unauthorized",
                        "the dashboard needs Authorization: Bearer API_TOKEN");
    return;
  }
  if (!strcmp(req->path, "/api/stats")) {
    if (!d) {
      http_response_error(resp, 503, "unavailable",
                          "the dashboard is not running");
      return;
    }
    handle_stats(d, resp);
    return;
  }
  if (dashboard_is_stream(req->path)) {
    http_response_error(resp, 501, "not_streaming",
                        "GET /api/stream is served by the HTTP server only");
    return;
  }
  const struct dashboard_file *f = dashboard_file_find(req->path);
  if (!f) {
    http_response_error(resp, 404, "not_found", "no such dashboard file");
    return;
  }
  if (buf_append(&resp->body, f->data, f->len)) {
    http_response_error(resp, 500, "internal", "response too large");
    return;
  }
  resp->status = 200;
  resp->content_type = f->content_type;
}

/* ---- live events ------------------------------------------------------ */

/* Publishes "event: message" and, for a message that opened or joined an
 * alert, "event: alert". Both the webhook (a store of this process only)
 * and the feed (a shared store) come here, so the page gets the same
 * fields whichever instance handled a message. */
static void publish_message(struct dashboard *d, int64_t row_id, int64_t at_ms,
                            const char *customer_id, const char *message_id,
                            const char *lang, int64_t level,
                            const char *level_name, double polarity,
                            bool frustrated, enum store_alert outcome,
                            int64_t alert_id)
{
  struct buf b;
  struct jsonw w;
  /* A message's event is small; one with a customer id too long for a
   * record is left out rather than cut. */
  buf_init(&b, SSE_EVENT_MAX);
  jsonw_init(&w, &b);
  jsonw_object_begin(&w);
  /* The store's id of the message: POST /api/feedback labels it by this
   * when it was sent without a message_id (null). The event is sent once
   * the message is committed, so the id names a stored row. */
  jsonw_kv_int(&w, "id", row_id);
  jsonw_kv_int(&w, "at_ms", at_ms);
  jsonw_kv_string(&w, "customer_id", customer_id);
  jsonw_kv_string(&w, "message_id", message_id);
  /* As /api/stats counts it: a message stored without one is "und". */
  jsonw_kv_string(&w, "lang", lang && *lang ? lang : STORE_STATS_LANG_NONE);
  jsonw_kv_int(&w, "level", level);
  jsonw_kv_string(&w, "level_name", level_name);
  jsonw_kv_double(&w, "polarity", polarity);
  jsonw_kv_bool(&w, "frustrated", frustrated);
  jsonw_kv_string(&w, "alert", store_alert_name(outcome));
  jsonw_kv_int(&w, "alert_id", alert_id);
  jsonw_object_end(&w);
  if (!jsonw_error(&w))
    sse_publish(d->sse, "message", buf_ptr(&b), b.len);
  if (!jsonw_error(&w) &&
      (outcome == STORE_ALERT_CREATED || outcome == STORE_ALERT_APPENDED)) {
    buf_reset(&b);
    jsonw_init(&w, &b);
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "at_ms", at_ms);
    jsonw_kv_int(&w, "alert_id", alert_id);
    jsonw_kv_string(&w, "customer_id", customer_id);
    jsonw_kv_string(&w, "outcome", store_alert_name(outcome));
    jsonw_kv_string(&w, "level_name", level_name);
    jsonw_object_end(&w);
    if (!jsonw_error(&w))
      sse_publish(d->sse, "alert", buf_ptr(&b), b.len);
  }
  buf_cleanup(&b);
}

void dashboard_publish_message(struct dashboard *d, const struct ingest_msg *m,
                               const struct ingest_result *r, int64_t now_ms)
{
  /* With a feed, this message comes back from the store like every other
   * instance's: publishing it here too would show it twice. */
  if (!d || d->live || r->outcome == STORE_ALERT_DUPLICATE)
    return;
  publish_message(d, r->row_id, now_ms, m->customer_id, m->message_id, m->lang,
                  (int64_t)m->level, m->level_name, m->polarity, m->frustrated,
                  r->outcome, r->alert_id);
}

static void publish_row(void *arg, const struct store_event_msg *m)
{
  publish_message(arg, m->row_id, m->at_ms, m->customer_id, m->message_id,
                  m->lang, m->level, m->level_name, m->polarity, m->frustrated,
                  m->outcome, m->alert_id);
}

/* The feed's thread: reads what was committed since the last read,
 * publishes it, and waits for a notification, at most
 * DASHBOARD_LIVE_POLL_MS, so that a notification that never comes only
 * delays the events. A failed read is tried again after the wait (the
 * wait itself sleeps while the database is away). */
static void *live_main(void *arg)
{
  struct dashboard *d = arg;
  bool failing = false;
  while (!atomic_load(&d->live_stop)) {
    enum err rc = store_events_read(d->live, publish_row, d, NULL);
    /* Said once when the feed fails and once when it is back: meanwhile
     * /api/stream shows no message, this instance's included. */
    if (rc && !failing && d->app->log)
      log_write(d->app->log, LOG_WARN,
                "dashboard: live feed: %s: /api/stream shows no messages "
                "until it reconnects",
                store_events_errmsg(d->live));
    else if (!rc && failing && d->app->log)
      log_write(d->app->log, LOG_INFO, "dashboard: live feed reconnected");
    failing = rc != ERR_OK;
    if (atomic_load(&d->live_stop))
      break;
    store_events_wait(d->live, DASHBOARD_LIVE_POLL_MS, NULL);
  }
  return NULL;
}

void dashboard_tick(void *ctx)
{
  struct dashboard *d = ctx;
  struct app *app = d->app;
  if (!app->outbox)
    return;
  struct outbox_stats os;
  outbox_stats(app->outbox, &os);
  const struct outbox_stats *last = &d->last_outbox;
  if (d->have_last_outbox && os.pending == last->pending &&
      os.dead == last->dead && os.attempts == last->attempts &&
      os.failures == last->failures &&
      os.last_success_ms == last->last_success_ms)
    return;
  d->last_outbox = os;
  d->have_last_outbox = true;
  struct buf b;
  struct jsonw w;
  buf_init(&b, SSE_EVENT_MAX);
  jsonw_init(&w, &b);
  jsonw_object_begin(&w);
  jsonw_kv_int(&w, "at_ms", clock_wall_ms());
  jsonw_kv_string(&w, "mode", os.mode);
  jsonw_kv_int(&w, "pending", os.pending);
  jsonw_kv_int(&w, "oldest_pending_age_ms", os.oldest_pending_age_ms);
  jsonw_kv_int(&w, "dead", os.dead);
  jsonw_kv_int(&w, "attempts", os.attempts);
  jsonw_kv_int(&w, "failures", os.failures);
  jsonw_object_end(&w);
  if (!jsonw_error(&w))
    sse_publish(d->sse, "outbox", buf_ptr(&b), b.len);
  buf_cleanup(&b);
}
