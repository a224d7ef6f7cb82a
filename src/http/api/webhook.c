/* api/webhook: POST /webhook, customer messages in (one, a batch, or a
 * DevRev webhook event), their analysis out, and the hand-off to the
 * committer (routes_begin, routes_finish).
 *
 * A /webhook request is scored only after every message of it has passed
 * validation, so a refused batch has scored and stored nothing. With a
 * store, the scored messages wait in the scratch (the parsed body, one
 * analysis object per message) for their commit; the answer is the stored
 * analysis object with the message's number in the store and the alert
 * outcome spliced in before its closing brace, which is also how a
 * duplicate replays its first answer. */
#include "http/routes_int.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerting/committer.h"
#include "alerting/policy.h"
#include "analysis/analysis.h"
#include "base/clock.h"
#include "base/jsonw.h"
#include "base/utf8.h"
#include "base/xalloc.h"
#include "devrev/event.h"
#include "http/auth.h"
#include "http/api/dashboard.h"
#include "http/sig.h"

struct routes_message {
  const char *customer_id;
  const char *message;
  size_t message_len;
  const char *message_id;      /* NULL when absent */
  const char *conversation_id; /* NULL when absent */
  const char *channel;         /* NULL when absent */
  const char *lang;            /* NULL when absent */
  const cJSON *timestamp;      /* string or number; NULL when absent */
  /* From a DevRev event: where the message was written (else NULL). */
  const char *source_object;
  const char *source_display_id;
  const char *source_type;
  const char *rev_org;
};

/* Reads one /webhook message object into m. */
static bool parse_message(const cJSON *obj, struct routes_message *m,
                          struct routes_fail *f)
{
  memset(m, 0, sizeof *m);
  if (!cJSON_IsObject(obj)) {
    routes_fail_set(f, 400, "invalid_field", "a message must be a JSON object");
    return false;
  }
  const cJSON *cid = cJSON_GetObjectItemCaseSensitive(obj, "customer_id");
  if (!cid || cJSON_IsNull(cid)) {
    routes_fail_set(f, 400, "missing_field", "customer_id is required");
    return false;
  }
  if (!cJSON_IsString(cid) || !*cid->valuestring) {
    routes_fail_set(f, 400, "invalid_field",
                    "customer_id must be a non-empty string");
    return false;
  }
  if (strlen(cid->valuestring) > ROUTES_MAX_ID) {
    routes_fail_set(f, 400, "invalid_field",
                    "customer_id is longer than %d bytes", ROUTES_MAX_ID);
    return false;
  }
  m->customer_id = cid->valuestring;

  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(obj, "message");
  if (!msg || cJSON_IsNull(msg)) {
    routes_fail_set(f, 400, "missing_field", "message is required");
    return false;
  }
  if (!cJSON_IsString(msg)) {
    routes_fail_set(f, 400, "invalid_field", "message must be a string");
    return false;
  }
  m->message = msg->valuestring;
  m->message_len = strlen(msg->valuestring);
  if (utf8_is_blank(m->message, m->message_len)) {
    routes_fail_set(f, 400, "empty_message",
                    "message is empty or only whitespace");
    return false;
  }

  if (!routes_opt_string(obj, "message_id", ROUTES_MAX_ID, &m->message_id, f) ||
      !routes_opt_string(obj, "conversation_id", ROUTES_MAX_ID,
                         &m->conversation_id, f) ||
      !routes_opt_string(obj, "channel", ROUTES_MAX_ID, &m->channel, f) ||
      !routes_opt_lang(obj, &m->lang, f))
    return false;

  const cJSON *ts = cJSON_GetObjectItemCaseSensitive(obj, "timestamp");
  if (ts && !cJSON_IsNull(ts)) {
    if (!cJSON_IsString(ts) && !cJSON_IsNumber(ts)) {
      routes_fail_set(f, 400, "invalid_field",
                      "timestamp must be a string or a number");
      return false;
    }
    if (cJSON_IsString(ts) && strlen(ts->valuestring) > ROUTES_MAX_SHORT) {
      routes_fail_set(f, 400, "invalid_field",
                      "timestamp is longer than %d bytes", ROUTES_MAX_SHORT);
      return false;
    }
    m->timestamp = ts;
  }
  return true;
}

static void reserve_msgs(struct routes_scratch *s, size_t n)
{
  if (n <= s->msgs_cap)
    return;
  s->msgs = xrealloc(s->msgs, n * sizeof *s->msgs);
  s->ingest = xrealloc(s->ingest, n * sizeof *s->ingest);
  s->results = xrealloc(s->results, n * sizeof *s->results);
  s->json_off = xrealloc(s->json_off, n * sizeof *s->json_off);
  s->msgs_cap = n;
}

/* Frees what a pending request holds. Results are zeroed before they are
 * submitted and the committer leaves nothing in them on failure, so
 * cleaning each one is right whatever the outcome. */
void api_webhook_release(struct routes_scratch *s)
{
  if (!s->pending)
    return;
  for (size_t i = 0; i < s->n_pending; i++)
    store_ingest_result_cleanup(&s->results[i]);
  cJSON_Delete(s->json);
  s->json = NULL;
  s->n_pending = 0;
  s->pending = false;
  buf_reset(&s->strs);
}

/* Offsets into s->strs of one message's strings, turned into pointers
 * once every message is written (the buffer may move while it grows). */
struct strs_at {
  size_t words, timestamp, language;
  bool has_timestamp;
};

/* Scores one validated message: writes its analysis object (what the
 * client is answered, without the alert outcome) and its deciding words
 * into s->strs, NUL-terminated, and fills the ingest record but for the
 * strings kept in s->strs. Returns ERR_TOO_BIG when s->strs is full. */
static enum err score_message(struct app *app, struct routes_scratch *s,
                              size_t i, struct strs_at *at)
{
  const struct routes_message *m = &s->msgs[i];
  const struct config *cfg = app->cfg;
  struct analysis a;
  analysis_run(cfg, &app->lexicons, app->detector, m->lang, m->message,
               m->message_len, &s->scores, &s->model, &a);
  metrics_count_message(&app->metrics, a.level, a.frustrated);

  struct jsonw w;
  s->json_off[i] = s->strs.len;
  jsonw_init(&w, &s->strs);
  jsonw_object_begin(&w);
  jsonw_kv_string(&w, "customer_id", m->customer_id);
  if (m->message_id) {
    jsonw_kv_string(&w, "message_id", m->message_id);
  }
  if (m->conversation_id) {
    jsonw_kv_string(&w, "conversation_id", m->conversation_id);
  }
  if (m->source_display_id) {
    jsonw_kv_string(&w, "source_display_id", m->source_display_id);
  }
  analysis_write_fields(cfg, &a, &w);
  jsonw_object_end(&w);
  enum err rc = jsonw_error(&w);
  if (!rc)
    rc = buf_putc(&s->strs, '\0');
  at->words = s->strs.len;
  if (!rc)
    rc = analysis_words(&a, &s->strs);
  if (!rc)
    rc = buf_putc(&s->strs, '\0');
  /* The language the message was scored in is what the store keeps. */
  at->language = s->strs.len;
  if (!rc)
    rc = buf_append(&s->strs, a.language, strlen(a.language) + 1);
  at->has_timestamp = m->timestamp && cJSON_IsNumber(m->timestamp);
  at->timestamp = s->strs.len;
  if (!rc && at->has_timestamp) {
    char num[32];
    size_t n = jsonw_format_double(m->timestamp->valuedouble, num);
    rc = buf_append(&s->strs, num, n);
    if (!rc)
      rc = buf_putc(&s->strs, '\0');
  }

  const struct config_level *lv = &cfg->levels[a.level];
  s->ingest[i] = (struct ingest_msg){
      .message_id = m->message_id,
      .customer_id = m->customer_id,
      .conversation_id = m->conversation_id,
      .channel = m->channel,
      .timestamp = m->timestamp && cJSON_IsString(m->timestamp)
                       ? m->timestamp->valuestring
                       : NULL,
      .text = m->message,
      .polarity = a.polarity,
      .subjectivity = a.subjectivity,
      .level = a.level,
      .level_name = lv->name,
      .severity = lv->severity,
      .frustrated = a.frustrated,
      .source_object = m->source_object,
      .source_display_id = m->source_display_id,
      .source_type = m->source_type,
      .rev_org = m->rev_org,
  };
  return rc;
}

/* Appends one message's answer: its analysis object with the store's
 * number of the message ("id", which names it to /api/feedback when it
 * came without a message_id) and the alert outcome spliced in before the
 * closing brace. A duplicate replays the object stored with the first
 * delivery, with that delivery's number and outcome, so that its answer
 * is the first one's plus "duplicate": true. */
static void put_result(struct routes_scratch *s, size_t i, bool stored,
                       struct jsonw *w)
{
  const char *obj = s->ingest[i].result_json;
  enum store_alert outcome = STORE_ALERT_NONE;
  int64_t alert_id = 0;
  const char *key = "";
  bool duplicate = false;
  const struct ingest_result *escalated = NULL;
  int64_t row_id = 0;
  if (stored) {
    const struct ingest_result *r = &s->results[i];
    duplicate = r->outcome == STORE_ALERT_DUPLICATE;
    outcome = duplicate ? r->original : r->outcome;
    alert_id = r->alert_id;
    key = r->alert_key;
    row_id = r->row_id; /* known since the insert: no query */
    if (duplicate && r->result_json && r->result_json[0] == '{')
      obj = r->result_json;
    /* A duplicate's stored object already holds its "escalated". */
    if (!duplicate && r->escalation[0])
      escalated = r;
  }
  size_t len = strlen(obj);
  /* Every object here is one of ours: "{...}" with at least one field,
   * so the outcome goes before the last byte after a comma. The alert key
   * is hex: nothing to escape. */
  jsonw_raw(w, obj, len - 1);
  enum err rc = ERR_OK;
  if (row_id > 0)
    rc = buf_printf(w->out, ",\"id\":%lld", (long long)row_id);
  if (!rc && escalated) {
    rc = buf_putc(w->out, ',');
    if (!rc)
      rc = store_escalation_json(escalated, w->out);
  }
  if (!rc)
    rc = buf_printf(w->out, ",\"alert\":\"%s\"", store_alert_name(outcome));
  if (!rc && alert_id)
    rc = buf_printf(w->out, ",\"alert_id\":%lld,\"alert_key\":\"%s\"",
                    (long long)alert_id, key);
  if (!rc && duplicate)
    rc = buf_puts(w->out, ",\"duplicate\":true");
  if (!rc)
    rc = buf_putc(w->out, '}');
  if (rc && !w->error)
    w->error = rc;
}

static enum metrics_alert metrics_outcome(enum store_alert o)
{
  switch (o) {
  case STORE_ALERT_CREATED:
    return METRICS_ALERT_CREATED;
  case STORE_ALERT_APPENDED:
    return METRICS_ALERT_APPENDED;
  case STORE_ALERT_DUPLICATE:
    return METRICS_ALERT_DUPLICATE;
  case STORE_ALERT_NONE:
    break;
  }
  return METRICS_ALERT_NONE;
}

/* Writes the answer of the pending request into resp. stored: s->results
 * hold the commit's outcomes (otherwise every alert is "none"). */
static void write_answer(struct app *app, struct routes_scratch *s, bool stored,
                         struct http_response *resp)
{
  struct jsonw w;
  jsonw_init(&w, &resp->body);
  if (s->batch) {
    jsonw_object_begin(&w);
    jsonw_key(&w, "results");
    jsonw_array_begin(&w);
  }
  for (size_t i = 0; i < s->n_pending; i++) {
    put_result(s, i, stored, &w);
    if (stored)
      metrics_count_alert(&app->metrics,
                          metrics_outcome(s->results[i].outcome));
  }
  if (s->batch) {
    jsonw_array_end(&w);
    jsonw_kv_int(&w, "count", (int64_t)s->n_pending);
    jsonw_object_end(&w);
  }
  resp->status = 200;
  http_response_finish_json(&w, resp);
}

/* ---- Authentication of /webhook ----------------------------------- */

/* Checks /webhook's credentials (see routes.h). Returns true when the
 * request may go on; otherwise f holds the 401. Writes which credential
 * passed into the log note ("auth=devrev-signature (hex digest, secret as
 * text)"): DevRev's signature scheme is not pinned down by its docs, so
 * the first real event tells which of the accepted forms it uses. */
static bool webhook_auth(const struct app *app, const struct http_request *req,
                         struct http_response *resp, struct routes_fail *f)
{
  const struct config *cfg = app->cfg;
  bool generic = *cfg->webhook_secret, devrev = *cfg->devrev_webhook_secret;
  bool token = *cfg->api_token;
  if (!generic && !devrev && !token)
    return true;
  bool sent_generic = req->signature_256 && *req->signature_256;
  bool sent_devrev = req->devrev_signature && *req->devrev_signature;
  const char *passed = NULL;
  char form[96] = "";
  if (sent_devrev && devrev) {
    enum sig_devrev_form m;
    enum sig_result r =
        sig_check_devrev(cfg->devrev_webhook_secret, req->devrev_signature,
                         req->body, req->body_len, &m);
    if (r != SIG_OK) {
      routes_fail_set(f, 401, "bad_signature",
                      "X-DevRev-Signature does not verify (%s) against "
                      "DEVREV_WEBHOOK_SECRET",
                      sig_result_name(r));
      return false;
    }
    snprintf(form, sizeof form, "devrev-signature (%s)",
             sig_devrev_form_name(m));
    passed = form;
  }
  if (sent_generic && generic) {
    enum sig_result r = sig_check_generic(
        cfg->webhook_secret, req->signature_256, req->body, req->body_len);
    if (r != SIG_OK) {
      routes_fail_set(
          f, 401, "bad_signature",
          "X-Signature-256 does not verify (%s): expected sha256=<hex "
          "HMAC-SHA256 of the raw body with WEBHOOK_SECRET>",
          sig_result_name(r));
      return false;
    }
    if (!passed)
      passed = "signature-256";
  }
  if (!passed && token && req->authorization &&
      auth_token_ok(cfg->api_token, req->authorization, NULL))
    passed = "bearer";
  if (!passed) {
    char want[160];
    snprintf(want, sizeof want, "%s%s%s%s%s", generic ? "X-Signature-256" : "",
             generic && (devrev || token) ? " or " : "",
             devrev ? "X-DevRev-Signature" : "", devrev && token ? " or " : "",
             token ? "Authorization: Bearer API_TOKEN" : "");
    bool sent_other = (sent_generic && !generic) || (sent_devrev && !devrev) ||
                      (req->authorization && *req->authorization);
    routes_fail_set(f, 401, sent_other ? "unauthorized" : "missing_signature",
                    "/webhook needs %s", want);
    return false;
  }
  /* Log note: what does not fit is left out (see note_text). */
  if (resp->note.len)
    err_ignore(buf_putc(&resp->note, ' '));
  err_ignore(buf_printf(&resp->note, "auth=%s", passed));
  return true;
}

/* ---- DevRev events on /webhook --------------------------------------- */

/* Answers a DevRev event that is not a message to score (verify,
 * ignored) or refuses it. Returns true when resp holds the answer; false
 * when ev is a message, m filled from it, to be scored like any other. */
static bool devrev_event(struct app *app, struct routes_scratch *s,
                         const cJSON *root, const struct http_request *req,
                         struct http_response *resp, struct routes_message *m,
                         struct routes_fail *f)
{
  const struct config *cfg = app->cfg;
  struct devrev_event ev;
  char err[200];
  enum err rc = devrev_event_read(root, cfg->devrev_self_id, &s->compose, &ev,
                                  err, sizeof err);
  if (rc == ERR_TOO_BIG) {
    routes_fail_set(f, 413, "body_too_large", "the event's text is too long");
    return true;
  }
  if (rc) {
    routes_fail_set(f, 400, "invalid_event", "DevRev event: %s", err);
    return true;
  }
  struct jsonw w;
  jsonw_init(&w, &resp->body);
  if (ev.kind == DEVREV_EVENT_VERIFY) {
    /* Echoed byte for byte; answering changes nothing. */
    jsonw_object_begin(&w);
    jsonw_kv_string(&w, "challenge", ev.challenge);
    jsonw_object_end(&w);
    resp->status = 200;
    err_ignore(buf_puts(&resp->note, /* log note, see note_text */
                        resp->note.len ? " devrev=verify" : "devrev=verify"));
    http_response_finish_json(&w, resp);
    return true;
  }
  /* A signed event replayed long after it was signed: DevRev's own
   * retries come within about 3.5 minutes, and a duplicate of one already
   * taken is caught by its id. */
  int64_t now_ms = clock_wall_ms() / 1000 * 1000; /* whole seconds */
  int64_t max_ms = (int64_t)cfg->signature_max_age_s * 1000;
  bool unreadable = ev.timestamp && !ev.has_time;
  if (*cfg->devrev_webhook_secret && req->devrev_signature &&
      (unreadable || (ev.has_time && (ev.time_ms < now_ms - max_ms ||
                                      ev.time_ms > now_ms + max_ms)))) {
    routes_fail_set(f, 401, "stale_event",
                    "the event's timestamp %s is more than %u s from now "
                    "(SIGNATURE_MAX_AGE)",
                    ev.timestamp, cfg->signature_max_age_s);
    return true;
  }
  if (ev.kind == DEVREV_EVENT_IGNORED) {
    jsonw_object_begin(&w);
    jsonw_kv_string(&w, "status", "ignored");
    jsonw_kv_string(&w, "reason", ev.ignored);
    if (ev.id) {
      jsonw_kv_string(&w, "event_id", ev.id);
    }
    jsonw_object_end(&w);
    resp->status = 200;
    /* Log note: what does not fit is left out (see note_text). */
    err_ignore(buf_printf(&resp->note, "%sdevrev=ignored type=%s",
                          resp->note.len ? " " : "", ev.type ? ev.type : "?"));
    http_response_finish_json(&w, resp);
    return true;
  }
  memset(m, 0, sizeof *m);
  /* The entry (comment, conversation, work) is the message id: DevRev's
   * retries and duplicate deliveries of one event are answered from the
   * store, once, and so is one comment delivered twice under two event
   * types (inside conversation_created.messages[], then as its own
   * timeline_entry_created). */
  m->message_id = ev.entry_id ? ev.entry_id : ev.id;
  m->customer_id = ev.author_id;
  m->message = ev.text;
  m->message_len = ev.text_len;
  m->conversation_id = ev.object_id;
  m->channel = "devrev";
  m->source_object = ev.object_id;
  m->source_display_id = ev.object_display_id;
  m->source_type = ev.object_type;
  m->rev_org = ev.rev_org_id;
  /* Log note: what does not fit is left out (see note_text). */
  err_ignore(buf_printf(&resp->note, "%sdevrev=%s object=%s",
                        resp->note.len ? " " : "", ev.type,
                        ev.object_display_id ? ev.object_display_id : "?"));
  return false;
}

void api_webhook_handle(struct app *app, struct routes_scratch *s,
                        const struct http_request *req,
                        struct http_response *resp)
{
  struct routes_fail f = {.index = -1};
  /* A pending request is finished before the next one begins. */
  assert(!s->pending);
  cJSON *root = NULL;
  if (!webhook_auth(app, req, resp, &f))
    goto refuse;
  root = routes_parse_json(app, req, &f);
  if (!root)
    goto refuse;

  bool devrev = devrev_event_detect(root);
  const cJSON *batch =
      devrev ? NULL : cJSON_GetObjectItemCaseSensitive(root, "messages");
  size_t n = 1;
  if (devrev) {
    reserve_msgs(s, 1);
    if (devrev_event(app, s, root, req, resp, &s->msgs[0], &f)) {
      cJSON_Delete(root);
      if (f.code)
        routes_fail_write(&f, resp);
      return;
    }
  } else if (batch) {
    if (!cJSON_IsArray(batch)) {
      routes_fail_set(&f, 400, "invalid_field", "messages must be an array");
      goto refuse;
    }
    n = (size_t)cJSON_GetArraySize(batch);
    if (n == 0) {
      routes_fail_set(&f, 400, "invalid_field", "messages must not be empty");
      goto refuse;
    }
    if (n > app->cfg->max_batch) {
      routes_fail_set(&f, 413, "too_many_items",
                      "a batch holds at most %zu messages (MAX_BATCH); got %zu",
                      app->cfg->max_batch, n);
      goto refuse;
    }
  }
  reserve_msgs(s, n);

  /* Validate everything before doing anything. */
  if (batch) {
    size_t i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, batch)
    {
      if (!parse_message(item, &s->msgs[i], &f)) {
        char detail[sizeof f.message];
        memcpy(detail, f.message, sizeof detail);
        snprintf(f.message, sizeof f.message, "messages[%zu]: %.200s", i,
                 detail);
        f.index = (long)i;
        goto refuse;
      }
      i++;
    }
  } else if (!devrev && !parse_message(root, &s->msgs[0], &f)) {
    goto refuse;
  }

  routes_note_text(app, resp, s->msgs[0].message, s->msgs[0].message_len);
  s->pending = true;
  s->batch = batch != NULL;
  s->json = root;
  s->n_pending = n;
  buf_reset(&s->strs);
  memset(s->results, 0, n * sizeof *s->results);
  struct strs_at at_stack[8];
  struct strs_at *at = n <= 8 ? at_stack : xmalloc(n * sizeof *at);
  enum err rc = ERR_OK;
  for (size_t i = 0; i < n && !rc; i++)
    rc = score_message(app, s, i, &at[i]);
  const char *base = buf_ptr(&s->strs);
  for (size_t i = 0; i < n && !rc; i++) {
    struct ingest_msg *m = &s->ingest[i];
    m->result_json = base + s->json_off[i];
    m->words = base[at[i].words] ? base + at[i].words : NULL;
    m->lang = base + at[i].language;
    if (at[i].has_timestamp)
      m->timestamp = base + at[i].timestamp;
  }
  if (at != at_stack)
    free(at);
  if (rc) {
    api_webhook_release(s);
    http_response_error(resp, 500, "internal_error",
                        "the response exceeds its size limit");
    return;
  }
  if (!app->committer) {
    write_answer(app, s, false, resp);
    api_webhook_release(s);
  }
  /* Otherwise the request stays pending for routes_begin's caller. */
  return;

refuse:
  routes_fail_write(&f, resp);
  cJSON_Delete(root);
}

void api_webhook_finish(struct app *app, struct routes_scratch *s, enum err rc,
                        struct http_response *resp)
{
  if (!s->pending)
    return;
  if (rc == ERR_STORE) {
    atomic_fetch_add_explicit(&app->metrics.store_unavailable, 1,
                              memory_order_relaxed);
    http_response_error(
        resp, 503, "store_unavailable",
        "the message%s could not be stored; nothing was recorded, "
        "retry later",
        s->n_pending > 1 ? "s" : "");
  } else if (rc) {
    http_response_error(resp, 500, "internal_error",
                        "the message%s could not be stored: %s",
                        s->n_pending > 1 ? "s" : "", err_str(rc));
  } else {
    write_answer(app, s, true, resp);
    /* Committed: the live dashboard hears of each message. */
    int64_t now_ms = committer_now_ms(app->committer);
    for (size_t i = 0; app->dashboard && i < s->n_pending; i++)
      dashboard_publish_message(app->dashboard, &s->ingest[i], &s->results[i],
                                now_ms);
  }
  api_webhook_release(s);
}
