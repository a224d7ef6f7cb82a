/* api/health: GET /health (status, version, uptime, detector settings,
 * the store and delivery as JSON) and GET /metrics (Prometheus text
 * format). */
#include "http/routes_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alerting/committer.h"
#include "alerting/outbox.h"
#include "base/clock.h"
#include "base/jsonw.h"

#define CT_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"

/* The store's URL without what could be secret: a user and password
 * ("scheme://user:pass@host") and the query string. */
static void public_url(const char *url, char *out, size_t cap)
{
  const char *scheme = strstr(url, "://");
  const char *rest = url;
  size_t head = 0;
  if (scheme) {
    head = (size_t)(scheme - url) + 3;
    const char *at = strchr(scheme + 3, '@');
    const char *slash = strchr(scheme + 3, '/');
    if (at && (!slash || at < slash))
      rest = at + 1;
    else
      rest = url + head;
  }
  size_t tail = strcspn(rest, "?");
  snprintf(out, cap, "%.*s%.*s", (int)head, url, (int)tail, rest);
}

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" for ms since the epoch, or null. */
static void json_time(struct jsonw *w, int64_t ms)
{
  if (ms <= 0) {
    jsonw_null(w);
    return;
  }
  char out[32];
  clock_format_rfc3339(ms, out);
  jsonw_string(w, out);
}

/* The store is unusable when its last transaction failed: /webhook is
 * answering 503 then. One that succeeds again makes it usable; so does
 * the idle writer's check of the store, which also notices a database
 * server that went away while no message came (see committer.c). */
static bool store_ok(const struct committer_stats *cs)
{
  return cs->last_rc == ERR_OK;
}

static void write_store(struct app *app, const struct committer_stats *cs,
                        struct jsonw *w)
{
  char url[sizeof app->cfg->database_url];
  public_url(app->cfg->database_url, url, sizeof url);
  jsonw_key(w, "store");
  jsonw_object_begin(w);
  jsonw_kv_bool(w, "ok", store_ok(cs));
  jsonw_kv_string(w, "url", url);
  jsonw_kv_int(w, "messages_committed", (int64_t)cs->messages);
  jsonw_kv_int(w, "transactions", (int64_t)cs->transactions);
  jsonw_kv_int(w, "failed_commits", (int64_t)cs->failed_transactions);
  jsonw_kv_int(w, "queued_messages", (int64_t)cs->queued_msgs);
  jsonw_key(w, "last_commit");
  json_time(w, cs->last_commit_ms);
  jsonw_key(w, "last_error");
  if (cs->last_error[0])
    jsonw_string(w, cs->last_error);
  else
    jsonw_null(w);
  /* The database server's clock minus this machine's (store_now_ms): what
   * the instance corrects its times by. 0 on SQLite. */
  jsonw_kv_int(w, "clock_offset_ms", cs->clock_offset_ms);
  jsonw_object_end(w);
}

static void write_delivery(const struct outbox_stats *os, struct jsonw *w)
{
  jsonw_key(w, "delivery");
  jsonw_object_begin(w);
  jsonw_kv_string(w, "mode", os->mode ? os->mode : "record-only");
  jsonw_kv_bool(w, "configured", os->delivering);
  jsonw_kv_int(w, "pending", os->pending);
  jsonw_kv_double(w, "oldest_pending_age_s",
                  (double)os->oldest_pending_age_ms / 1e3);
  jsonw_key(w, "last_success");
  json_time(w, os->last_success_ms);
  jsonw_kv_int(w, "attempts", os->attempts);
  jsonw_kv_int(w, "failures", os->failures);
  jsonw_kv_int(w, "dead_letters", os->dead);
  jsonw_key(w, "rate_limited_until");
  json_time(w, os->rate_limited_until_ms);
  /* A token DevRev refuses pauses delivery (see outbox.h). */
  jsonw_kv_bool(w, "auth_failing", os->auth_failing);
  jsonw_key(w, "auth_failing_since");
  json_time(w, os->auth_failing_since_ms);
  jsonw_key(w, "auth_retry_at");
  json_time(w, os->auth_retry_at_ms);
  jsonw_kv_int(w, "auth_failures", os->auth_failures);
  jsonw_kv_bool(w, "store_ok", os->store_ok);
  jsonw_key(w, "last_error");
  if (os->last_error[0])
    jsonw_string(w, os->last_error);
  else
    jsonw_null(w);
  jsonw_object_end(w);
}

/* Which checks are on (never the secrets themselves), for operators. */
static void write_security(const struct config *cfg, struct jsonw *w)
{
  jsonw_key(w, "security");
  jsonw_object_begin(w);
  jsonw_kv_bool(w, "api_token", *cfg->api_token);
  jsonw_kv_bool(w, "webhook_secret", *cfg->webhook_secret);
  jsonw_kv_bool(w, "devrev_webhook_secret", *cfg->devrev_webhook_secret);
  jsonw_kv_bool(w, "slack_signing_secret", *cfg->slack_signing_secret);
  jsonw_kv_bool(w, "tls", *cfg->tls_cert);
  jsonw_kv_int(w, "rate_limit", cfg->rate_limit);
  jsonw_object_end(w);
}

void api_health_handle(struct app *app, struct routes_scratch *s,
                       const struct http_request *req,
                       struct http_response *resp)
{
  (void)s;
  (void)req;
  struct committer_stats cs;
  struct outbox_stats os;
  bool ok = true;
  if (app->committer) {
    committer_stats(app->committer, &cs);
    ok = store_ok(&cs);
  }
  if (app->outbox)
    outbox_stats(app->outbox, &os);
  struct jsonw w;
  jsonw_init(&w, &resp->body);
  jsonw_object_begin(&w);
  /* Degraded: serving and storing, but alerts do not reach DevRev
   * until an operator fixes the token. Still 200: restarting would not
   * help. */
  bool degraded = ok && app->outbox && os.auth_failing;
  jsonw_kv_string(&w, "status",
                  !ok        ? "store_unavailable"
                  : degraded ? "degraded"
                             : "ok");
  if (degraded) {
    char reason[512];
    snprintf(reason, sizeof reason,
             "DevRev refuses DEVREV_API_TOKEN (%s): delivery is paused and "
             "retried, nothing is dropped",
             os.auth_error);
    jsonw_kv_string(&w, "reason", reason);
  }
  jsonw_kv_string(&w, "version", FA_VERSION);
  jsonw_kv_int(&w, "uptime_s", (int64_t)app_uptime_s(app));
  jsonw_key(&w, "detector");
  jsonw_raw(&w, app->detector_json, strlen(app->detector_json));
  if (app->committer)
    write_store(app, &cs, &w);
  if (app->outbox)
    write_delivery(&os, &w);
  write_security(app->cfg, &w);
  jsonw_object_end(&w);
  resp->status = ok ? 200 : 503;
  http_response_finish_json(&w, resp);
}

void api_metrics_handle(struct app *app, struct routes_scratch *s,
                        const struct http_request *req,
                        struct http_response *resp)
{
  (void)s;
  (void)req;
  resp->status = 200;
  resp->content_type = CT_PROMETHEUS;
  struct metrics_backend b = {0};
  b.start_unix_ms = app->start_unix_ms;
  if (app->committer) {
    struct committer_stats cs;
    committer_stats(app->committer, &cs);
    b.have_store = true;
    b.commits = cs.transactions;
    b.commit_failures = cs.failed_transactions;
    b.messages_committed = cs.messages;
    b.submissions = cs.submissions;
    b.last_batch_msgs = cs.last_batch_msgs;
    b.max_batch_msgs = cs.max_batch_msgs_seen;
    b.queued_msgs = cs.queued_msgs;
  }
  if (app->outbox) {
    struct outbox_stats os;
    outbox_stats(app->outbox, &os);
    b.have_outbox = true;
    b.delivering = os.delivering;
    b.pending = os.pending;
    b.dead = os.dead;
    b.oldest_pending_age_ms = os.oldest_pending_age_ms;
    b.oldest_pending_ms = os.oldest_pending_ms;
    b.last_success_ms = os.last_success_ms;
    b.attempts = os.attempts;
    b.failures = os.failures;
    b.auth_failing = os.auth_failing;
    b.auth_failures = os.auth_failures;
  }
  if (metrics_render(&app->metrics, app->cfg, app_uptime_s(app), &resp->body) ||
      metrics_render_backend(&b, &resp->body))
    http_response_error(resp, 500, "internal_error",
                        "the metrics exceed the response size limit");
}
