/* routes: dispatch, input validation and the four endpoints.
 *
 * Validation happens in this order, so a client learns about the most
 * basic problem first: path, method, Content-Type (routes_preflight), body
 * size, UTF-8 of the raw body, JSON nesting depth and lexical strictness
 * (prescan), JSON syntax (cJSON), then fields. cJSON alone would accept raw
 * control characters, numbers like "01" or "1.", any nesting up to 1000
 * levels and anything after a NUL byte; prescan refuses all of these before
 * cJSON sees the text, and the parse requires the NUL right after the value
 * so trailing garbage is refused too.
 *
 * A /webhook request is scored only after every message of it has passed
 * validation, so a refused batch has scored and stored nothing. With a
 * store, the scored messages wait in the scratch (the parsed body, one
 * analysis object per message) for their commit; the answer is the stored
 * analysis object with the alert outcome spliced in before its closing
 * brace, which is also how a duplicate replays its first answer. */
#include "http/routes.h"

#include "http/auth.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alerting/outbox.h"
#include "alerting/policy.h"
#include "analysis/analysis.h"
#include "base/jsonw.h"
#include "base/utf8.h"
#include "base/xalloc.h"
#include "base/log.h"
#include "http/dashboard.h"
#include "devrev/event.h"
#include "http/sig.h"
#include "alerting/committer.h"

#define CT_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"

/* Longest identifier fields (customer_id, message_id, ...), in bytes. */
#define ROUTES_MAX_ID 256
/* Longest lang and timestamp strings, in bytes. */
#define ROUTES_MAX_SHORT 64
/* Bytes of message text in a log line when LOG_MESSAGE_TEXT is on. */
#define ROUTES_LOG_TEXT 80

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

/* A refusal being built: where in a batch (index >= 0) and what. */
struct fail {
  int status;
  const char *code;
  long index; /* -1 outside a batch */
  char message[256];
};

void routes_scratch_init(struct routes_scratch *s)
{
  polarity_result_init(&s->scores);
  detector_result_init(&s->model);
  buf_init(&s->text, 0);
  buf_init(&s->verdict, 0);
  s->msgs = NULL;
  s->msgs_cap = 0;
  s->pending = false;
  s->batch = false;
  s->json = NULL;
  s->ingest = NULL;
  s->results = NULL;
  s->n_pending = 0;
  s->json_off = NULL;
  buf_init(&s->strs, HTTP_MAX_RESPONSE);
  buf_init(&s->compose, 0);
}

static void release_pending(struct routes_scratch *s);

void routes_scratch_cleanup(struct routes_scratch *s)
{
  /* A request still pending here had its commit end (a server never
   * frees a connection waiting for one) but was never answered. */
  release_pending(s);
  free(s->ingest);
  free(s->results);
  free(s->json_off);
  s->ingest = NULL;
  s->results = NULL;
  s->json_off = NULL;
  buf_cleanup(&s->strs);
  buf_cleanup(&s->compose);
  polarity_result_cleanup(&s->scores);
  detector_result_cleanup(&s->model);
  buf_cleanup(&s->text);
  buf_cleanup(&s->verdict);
  free(s->msgs);
  s->msgs = NULL;
  s->msgs_cap = 0;
}

static void fail_set(struct fail *f, int status, const char *code,
                     const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static void fail_set(struct fail *f, int status, const char *code,
                     const char *fmt, ...)
{
  f->status = status;
  f->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(f->message, sizeof f->message, fmt, ap);
  va_end(ap);
}

static void fail_write(const struct fail *f, struct http_response *resp)
{
  http_response_error_at(resp, f->status, f->code, f->message, f->index);
}

/* ---- content types -------------------------------------------------- */

enum media {
  MEDIA_NONE, /* no Content-Type */
  MEDIA_JSON,
  MEDIA_FORM,
  MEDIA_OTHER,
};

static const char *skip_ows(const char *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

static bool token_is(const char *p, size_t len, const char *want)
{
  return strlen(want) == len && !strncasecmp(p, want, len);
}

/* Classifies a Content-Type value (RFC 9110 8.3): the media type, then
 * parameters. The only parameter accepted is charset=utf-8 (any case,
 * optionally quoted): a body in another charset is not ours to read. */
static enum media media_type(const char *ct)
{
  if (!ct)
    return MEDIA_NONE;
  const char *p = skip_ows(ct);
  size_t len = strcspn(p, "; \t");
  enum media m = token_is(p, len, "application/json") ? MEDIA_JSON
                 : token_is(p, len, "application/x-www-form-urlencoded")
                     ? MEDIA_FORM
                     : MEDIA_OTHER;
  if (m == MEDIA_OTHER)
    return m;
  p = skip_ows(p + len);
  while (*p) {
    if (*p != ';')
      return MEDIA_OTHER;
    p = skip_ows(p + 1);
    if (!*p)
      break; /* a trailing ';' is harmless */
    size_t nlen = strcspn(p, "=; \t");
    if (!token_is(p, nlen, "charset") || p[nlen] != '=')
      return MEDIA_OTHER;
    p += nlen + 1;
    bool quoted = *p == '"';
    p += quoted;
    size_t vlen = strcspn(p, quoted ? "\"" : "; \t");
    if (!token_is(p, vlen, "utf-8"))
      return MEDIA_OTHER;
    p += vlen;
    if (quoted) {
      if (*p != '"')
        return MEDIA_OTHER;
      p++;
    }
    p = skip_ows(p);
  }
  return m;
}

/* ---- dispatch ------------------------------------------------------- */

typedef void (*route_fn)(struct app *app, struct routes_scratch *s,
                         const struct http_request *req,
                         struct http_response *resp);

static void handle_webhook(struct app *, struct routes_scratch *,
                           const struct http_request *, struct http_response *);
static void handle_slash(struct app *, struct routes_scratch *,
                         const struct http_request *, struct http_response *);
static void handle_health(struct app *, struct routes_scratch *,
                          const struct http_request *, struct http_response *);
static void handle_metrics(struct app *, struct routes_scratch *,
                           const struct http_request *, struct http_response *);

struct route {
  const char *path;
  enum metrics_route id;
  bool post;    /* POST with a body; otherwise GET (and HEAD) */
  bool form_ok; /* also takes application/x-www-form-urlencoded */
  route_fn fn;
};

static const struct route route_table[] = {
    {"/webhook", METRICS_ROUTE_WEBHOOK, true, false, handle_webhook},
    {"/slash-analyze", METRICS_ROUTE_SLASH, true, true, handle_slash},
    {"/health", METRICS_ROUTE_HEALTH, false, false, handle_health},
    {"/metrics", METRICS_ROUTE_METRICS, false, false, handle_metrics},
};

static const struct route *find_route(const char *path)
{
  for (size_t i = 0; i < sizeof route_table / sizeof route_table[0]; i++)
    if (!strcmp(path, route_table[i].path))
      return &route_table[i];
  return NULL;
}

static enum metrics_route route_of(const char *path)
{
  const struct route *rt = find_route(path);
  return rt ? rt->id : METRICS_ROUTE_OTHER;
}

/* True when req must carry the bearer token before anything else is
 * looked at (auth.h says where). A Slack form to /slash-analyze with
 * SLACK_SIGNING_SECRET set is authenticated by its signature instead
 * (handle_slash); /webhook checks its credentials once the body is in
 * (webhook_auth). */
static bool needs_token(const struct app *app, const struct http_request *req)
{
  return auth_needs_token(app->cfg, req->path,
                          media_type(req->content_type) == MEDIA_FORM);
}

static enum metrics_route route_of(const char *path);

bool routes_preflight(const struct app *app, const struct http_request *req,
                      struct http_response *resp)
{
  if (needs_token(app, req) &&
      !auth_token_ok(app->cfg->api_token, req->authorization,
                     req->access_token)) {
    resp->route = route_of(req->path);
    http_response_error(resp, 401, "unauthorized",
                        "%s needs Authorization: Bearer API_TOKEN", req->path);
    return false;
  }
  if (dashboard_owns(req->path)) {
    /* The dashboard (dashboard.h) answers its own paths, GET or HEAD. */
    resp->route = METRICS_ROUTE_OTHER;
    if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
      http_response_error(resp, 405, "method_not_allowed",
                          "%s takes GET or HEAD", req->path);
      resp->allow = "GET, HEAD";
      return false;
    }
    return true;
  }
  const struct route *rt = find_route(req->path);
  if (!rt) {
    resp->route = METRICS_ROUTE_OTHER;
    http_response_error(
        resp, 404, "not_found",
        "no such endpoint; try POST /webhook, POST /slash-analyze, "
        "GET /health or GET /metrics");
    return false;
  }
  resp->route = rt->id;
  bool method_ok =
      rt->post ? !strcmp(req->method, "POST")
               : !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
  if (!method_ok) {
    http_response_error(resp, 405, "method_not_allowed", "%s takes %s",
                        rt->path, rt->post ? "POST" : "GET or HEAD");
    resp->allow = rt->post ? "POST" : "GET, HEAD";
    return false;
  }
  if (rt->post) {
    enum media m = media_type(req->content_type);
    if (m != MEDIA_JSON && !(m == MEDIA_FORM && rt->form_ok)) {
      http_response_error(resp, 415, "unsupported_media_type",
                          "%s takes Content-Type: application/json%s", rt->path,
                          rt->form_ok ? " or application/x-www-form-urlencoded"
                                      : "");
      return false;
    }
  }
  return true;
}

/* Dispatches req; a /webhook request to commit is left pending in s. */
static void routes_handle_inner(struct app *app, struct routes_scratch *s,
                                const struct http_request *req,
                                struct http_response *resp)
{
  http_response_reset(resp);
  if (!routes_preflight(app, req, resp))
    return;
  if (req->body_len > app->cfg->max_body_bytes) {
    http_response_error(resp, 413, "body_too_large",
                        "the body exceeds %zu bytes (MAX_BODY_BYTES)",
                        app->cfg->max_body_bytes);
    return;
  }
  if (dashboard_owns(req->path)) {
    dashboard_handle(app->dashboard, req, resp);
    return;
  }
  find_route(req->path)->fn(app, s, req, resp);
}

void routes_handle(struct app *app, struct routes_scratch *s,
                   const struct http_request *req, struct http_response *resp)
{
  routes_handle_inner(app, s, req, resp);
  if (!s->pending)
    return;
  enum err rc =
      committer_submit(app->committer, s->ingest, s->n_pending, s->results);
  routes_finish(app, s, rc, resp);
}

/* ---- JSON input ----------------------------------------------------- */

/* Length of a JSON number (RFC 8259 section 6) at p[0..len), or 0 when
 * the run of number characters there is not one. */
static size_t number_len(const char *p, size_t len)
{
  size_t i = 0;
  /* cJSON reads every character of this set as part of the number, so
   * the whole run must be one valid number. */
  size_t run = 0;
  while (run < len && strchr("0123456789+-.eE", p[run]) && p[run])
    run++;
  if (i < run && p[i] == '-')
    i++;
  if (i < run && p[i] == '0')
    i++;
  else if (i < run && p[i] >= '1' && p[i] <= '9')
    while (i < run && p[i] >= '0' && p[i] <= '9')
      i++;
  else
    return 0;
  if (i < run && p[i] == '.') {
    i++;
    size_t d = i;
    while (i < run && p[i] >= '0' && p[i] <= '9')
      i++;
    if (i == d)
      return 0;
  }
  if (i < run && (p[i] == 'e' || p[i] == 'E')) {
    i++;
    if (i < run && (p[i] == '+' || p[i] == '-'))
      i++;
    size_t d = i;
    while (i < run && p[i] >= '0' && p[i] <= '9')
      i++;
    if (i == d)
      return 0;
  }
  return i == run ? run : 0;
}

/* Lexical checks cJSON does not make, in one pass: nesting depth, raw
 * control characters (in strings and between tokens), NUL bytes, raw or
 * escaped, and number syntax. The body is valid UTF-8 already.
 *
 * An escaped NUL ("\u0000") is valid JSON (RFC 8259 section 7), but cJSON
 * stores strings NUL-terminated, so every string would silently end there:
 * two message ids that differ after it would collide, a customer id would
 * lose its tail, a message its text. Refusing it here covers every string
 * of every JSON body, keys included. A surrogate pair cannot encode U+0000,
 * so this one spelling is the only one. */
static bool prescan(const char *p, size_t len, int max_depth, struct fail *f)
{
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)p[i];
    if (in_string) {
      if (c == '\\') {
        i++; /* the escaped character; cJSON checks which ones are valid */
        if (i < len && (unsigned char)p[i] < 0x20)
          goto control;
        if (i + 4 < len && p[i] == 'u' && !memcmp(p + i + 1, "0000", 4)) {
          fail_set(f, 400, "nul_in_string",
                   "a JSON string contains \\u0000 (NUL) at byte %zu; it "
                   "is not accepted in any field",
                   i - 1);
          return false;
        }
      } else if (c == '"') {
        in_string = false;
      } else if (c < 0x20) {
        goto control;
      }
      continue;
    }
    switch (c) {
    case '"':
      in_string = true;
      break;
    case '{':
    case '[':
      if (++depth > max_depth) {
        fail_set(f, 400, "too_deep",
                 "JSON nesting deeper than %d levels (MAX_JSON_DEPTH)",
                 max_depth);
        return false;
      }
      break;
    case '}':
    case ']':
      depth--;
      break;
    case ' ':
    case '\t':
    case '\n':
    case '\r':
      break;
    default:
      if (c == '-' || (c >= '0' && c <= '9')) {
        size_t n = number_len(p + i, len - i);
        if (n == 0) {
          fail_set(f, 400, "invalid_json", "invalid number at byte %zu", i);
          return false;
        }
        i += n - 1;
      } else if (c < 0x20) {
        goto control;
      }
      break;
    }
  }
  return true;
control:
  fail_set(f, 400, "invalid_json",
           "control character or NUL byte in the JSON text");
  return false;
}

/* Parses the body as JSON; on failure fills f and returns NULL. The caller
 * frees the result with cJSON_Delete. */
static cJSON *parse_json(const struct app *app, const struct http_request *req,
                         struct fail *f)
{
  if (!utf8_is_valid(req->body, req->body_len)) {
    fail_set(f, 400, "invalid_utf8", "the body is not valid UTF-8");
    return NULL;
  }
  if (!prescan(req->body, req->body_len, app->cfg->max_json_depth, f))
    return NULL;
  /* The length includes the NUL after the body: with
   * require_null_terminated, cJSON then refuses anything after the value
   * (and would refuse even a clean value if the NUL were left out). It
   * also resets a global error pointer on every call, which we never
   * read. */
  const char *end = NULL;
  cJSON *root =
      cJSON_ParseWithLengthOpts(req->body, req->body_len + 1, &end, 1);
  if (!root) {
    if (req->body_len == 0)
      fail_set(f, 400, "invalid_json",
               "the body is empty; a JSON object "
               "is expected");
    else
      fail_set(f, 400, "invalid_json", "malformed JSON near byte %zu",
               end && end >= req->body ? (size_t)(end - req->body) : 0);
    return NULL;
  }
  if (!cJSON_IsObject(root)) {
    fail_set(f, 400, "invalid_json", "the body must be a JSON object");
    cJSON_Delete(root);
    return NULL;
  }
  return root;
}

/* Reads an optional string field of at most max bytes: absent or null
 * leaves *out NULL. */
static bool opt_string(const cJSON *obj, const char *name, size_t max,
                       const char **out, struct fail *f)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
  *out = NULL;
  if (!v || cJSON_IsNull(v))
    return true;
  if (!cJSON_IsString(v)) {
    fail_set(f, 400, "invalid_field", "%s must be a string", name);
    return false;
  }
  if (strlen(v->valuestring) > max) {
    fail_set(f, 400, "invalid_field", "%s is longer than %zu bytes", name, max);
    return false;
  }
  *out = v->valuestring;
  return true;
}

/* Reads one /webhook message object into m. */
static bool parse_message(const cJSON *obj, struct routes_message *m,
                          struct fail *f)
{
  memset(m, 0, sizeof *m);
  if (!cJSON_IsObject(obj)) {
    fail_set(f, 400, "invalid_field", "a message must be a JSON object");
    return false;
  }
  const cJSON *cid = cJSON_GetObjectItemCaseSensitive(obj, "customer_id");
  if (!cid || cJSON_IsNull(cid)) {
    fail_set(f, 400, "missing_field", "customer_id is required");
    return false;
  }
  if (!cJSON_IsString(cid) || !*cid->valuestring) {
    fail_set(f, 400, "invalid_field", "customer_id must be a non-empty string");
    return false;
  }
  if (strlen(cid->valuestring) > ROUTES_MAX_ID) {
    fail_set(f, 400, "invalid_field", "customer_id is longer than %d bytes",
             ROUTES_MAX_ID);
    return false;
  }
  m->customer_id = cid->valuestring;

  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(obj, "message");
  if (!msg || cJSON_IsNull(msg)) {
    fail_set(f, 400, "missing_field", "message is required");
    return false;
  }
  if (!cJSON_IsString(msg)) {
    fail_set(f, 400, "invalid_field", "message must be a string");
    return false;
  }
  m->message = msg->valuestring;
  m->message_len = strlen(msg->valuestring);
  if (utf8_is_blank(m->message, m->message_len)) {
    fail_set(f, 400, "empty_message", "message is empty or only whitespace");
    return false;
  }

  if (!opt_string(obj, "message_id", ROUTES_MAX_ID, &m->message_id, f) ||
      !opt_string(obj, "conversation_id", ROUTES_MAX_ID, &m->conversation_id,
                  f) ||
      !opt_string(obj, "channel", ROUTES_MAX_ID, &m->channel, f) ||
      !opt_string(obj, "lang", ROUTES_MAX_SHORT, &m->lang, f))
    return false;

  const cJSON *ts = cJSON_GetObjectItemCaseSensitive(obj, "timestamp");
  if (ts && !cJSON_IsNull(ts)) {
    if (!cJSON_IsString(ts) && !cJSON_IsNumber(ts)) {
      fail_set(f, 400, "invalid_field",
               "timestamp must be a string or a number");
      return false;
    }
    if (cJSON_IsString(ts) && strlen(ts->valuestring) > ROUTES_MAX_SHORT) {
      fail_set(f, 400, "invalid_field", "timestamp is longer than %d bytes",
               ROUTES_MAX_SHORT);
      return false;
    }
    m->timestamp = ts;
  }
  return true;
}

/* Appends a printable excerpt of text to the log note (LOG_MESSAGE_TEXT). */
static void note_text(const struct app *app, struct http_response *resp,
                      const char *text, size_t len)
{
  if (!app->cfg->log_text)
    return;
  size_t n = len < ROUTES_LOG_TEXT ? len : ROUTES_LOG_TEXT;
  /* Cut on a character boundary so the excerpt stays UTF-8. */
  while (n > 0 && n < len && ((unsigned char)text[n] & 0xc0) == 0x80)
    n--;
  /* The note is a log annotation with its own small limit: words that do
   * not fit are left out, the request goes on. */
  err_ignore(buf_puts(&resp->note, "text="));
  err_ignore(jsonw_escape(&resp->note, text, n));
  if (n < len)
    err_ignore(buf_puts(&resp->note, "..."));
}

/* ---- POST /webhook -------------------------------------------------- */

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
static void release_pending(struct routes_scratch *s)
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
  size_t words, timestamp;
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
  analysis_run(cfg, app->lexicon, app->detector, m->message, m->message_len,
               &s->scores, &s->model, &a);
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
      .lang = m->lang,
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

/* Appends one message's answer: its analysis object with the alert
 * outcome spliced in before the closing brace. A duplicate replays the
 * object stored with the first delivery, with that delivery's outcome,
 * so that its answer is the first one's plus "duplicate": true. */
static void put_result(struct routes_scratch *s, size_t i, bool stored,
                       struct jsonw *w)
{
  const char *obj = s->ingest[i].result_json;
  enum store_alert outcome = STORE_ALERT_NONE;
  int64_t alert_id = 0;
  const char *key = "";
  bool duplicate = false;
  const struct ingest_result *escalated = NULL;
  if (stored) {
    const struct ingest_result *r = &s->results[i];
    duplicate = r->outcome == STORE_ALERT_DUPLICATE;
    outcome = duplicate ? r->original : r->outcome;
    alert_id = r->alert_id;
    key = r->alert_key;
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
  if (escalated) {
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
                         struct http_response *resp, struct fail *f)
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
      fail_set(f, 401, "bad_signature",
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
      fail_set(f, 401, "bad_signature",
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
    fail_set(f, 401, sent_other ? "unauthorized" : "missing_signature",
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
                         struct fail *f)
{
  const struct config *cfg = app->cfg;
  struct devrev_event ev;
  char err[200];
  enum err rc = devrev_event_read(root, cfg->devrev_self_id, &s->compose, &ev,
                                  err, sizeof err);
  if (rc == ERR_TOO_BIG) {
    fail_set(f, 413, "body_too_large", "the event's text is too long");
    return true;
  }
  if (rc) {
    fail_set(f, 400, "invalid_event", "DevRev event: %s", err);
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
  int64_t now_ms = (int64_t)time(NULL) * 1000;
  int64_t max_ms = (int64_t)cfg->signature_max_age_s * 1000;
  bool unreadable = ev.timestamp && !ev.has_time;
  if (*cfg->devrev_webhook_secret && req->devrev_signature &&
      (unreadable || (ev.has_time && (ev.time_ms < now_ms - max_ms ||
                                      ev.time_ms > now_ms + max_ms)))) {
    fail_set(f, 401, "stale_event",
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

static void handle_webhook(struct app *app, struct routes_scratch *s,
                           const struct http_request *req,
                           struct http_response *resp)
{
  struct fail f = {.index = -1};
  /* A pending request is finished before the next one begins. */
  assert(!s->pending);
  cJSON *root = NULL;
  if (!webhook_auth(app, req, resp, &f))
    goto refuse;
  root = parse_json(app, req, &f);
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
        fail_write(&f, resp);
      return;
    }
  } else if (batch) {
    if (!cJSON_IsArray(batch)) {
      fail_set(&f, 400, "invalid_field", "messages must be an array");
      goto refuse;
    }
    n = (size_t)cJSON_GetArraySize(batch);
    if (n == 0) {
      fail_set(&f, 400, "invalid_field", "messages must not be empty");
      goto refuse;
    }
    if (n > app->cfg->max_batch) {
      fail_set(&f, 413, "too_many_items",
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

  note_text(app, resp, s->msgs[0].message, s->msgs[0].message_len);
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
    if (at[i].has_timestamp)
      m->timestamp = base + at[i].timestamp;
  }
  if (at != at_stack)
    free(at);
  if (rc) {
    release_pending(s);
    http_response_error(resp, 500, "internal_error",
                        "the response exceeds its size limit");
    return;
  }
  if (!app->committer) {
    write_answer(app, s, false, resp);
    release_pending(s);
  }
  /* Otherwise the request stays pending for routes_begin's caller. */
  return;

refuse:
  fail_write(&f, resp);
  cJSON_Delete(root);
}

enum routes_next routes_begin(struct app *app, struct routes_scratch *s,
                              const struct http_request *req,
                              struct http_response *resp)
{
  routes_handle_inner(app, s, req, resp);
  return s->pending ? ROUTES_COMMIT : ROUTES_ANSWER;
}

void routes_abandon(struct routes_scratch *s)
{
  release_pending(s);
}

void routes_finish(struct app *app, struct routes_scratch *s, enum err rc,
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
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    for (size_t i = 0; app->dashboard && i < s->n_pending; i++)
      dashboard_publish_message(app->dashboard, &s->ingest[i], &s->results[i],
                                now_ms);
  }
  release_pending(s);
}

/* ---- POST /slash-analyze -------------------------------------------- */

static int hex_value(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decodes one application/x-www-form-urlencoded component ('+' is a
 * space, %XX a byte) and appends it to out. ERR_INVALID on a bad escape. */
static enum err form_decode(const char *p, size_t len, struct buf *out)
{
  for (size_t i = 0; i < len; i++) {
    char c = p[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      int hi = i + 2 < len ? hex_value(p[i + 1]) : -1;
      int lo = i + 2 < len ? hex_value(p[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        return ERR_INVALID;
      c = (char)(hi * 16 + lo);
      i += 2;
      if (c == '\0')
        return ERR_INVALID; /* %00 would cut the text where it is read */
    }
    enum err rc = buf_putc(out, c);
    if (rc)
      return rc;
  }
  return ERR_OK;
}

/* Finds field name in a form body and decodes its value into out (reset
 * first). *found tells whether it was there; the first occurrence wins. */
static enum err form_field(const char *body, size_t len, const char *name,
                           struct buf *out, bool *found)
{
  size_t name_len = strlen(name);
  size_t i = 0;
  *found = false;
  buf_reset(out);
  while (i < len) {
    const char *amp = memchr(body + i, '&', len - i);
    size_t end = amp ? (size_t)(amp - body) : len;
    const char *eq = memchr(body + i, '=', end - i);
    size_t key_end = eq ? (size_t)(eq - body) : end;
    if (key_end - i == name_len && !memcmp(body + i, name, name_len)) {
      *found = true;
      return eq ? form_decode(eq + 1, end - key_end - 1, out) : ERR_OK;
    }
    i = end + 1;
  }
  return ERR_OK;
}

/* Appends s with Slack's three mrkdwn escapes (&, <, >). ERR_TOO_BIG
 * past out's limit. */
static enum err slack_escape(struct buf *out, const char *s, size_t len)
{
  enum err rc = ERR_OK;
  for (size_t i = 0; i < len && !rc; i++) {
    switch (s[i]) {
    case '&':
      rc = buf_puts(out, "&amp;");
      break;
    case '<':
      rc = buf_puts(out, "&lt;");
      break;
    case '>':
      rc = buf_puts(out, "&gt;");
      break;
    default:
      rc = buf_putc(out, s[i]);
    }
  }
  return rc;
}

/* Block Kit's limit on a section's text object, and Slack's on a
 * message's top-level text (longer is cut by Slack, not refused), in
 * characters (https://api.slack.com/reference/block-kit/blocks#section,
 * https://api.slack.com/methods/chat.postMessage#truncating). */
#define SLACK_SECTION_TEXT_MAX 3000
#define SLACK_MESSAGE_TEXT_MAX 40000

/* Cuts the mrkdwn text in out to at most max characters (utf8_cut's count)
 * on a UTF-8 boundary, never inside one of slack_escape's entities, and
 * marks the cut with an ellipsis. */
static enum err slack_cap(struct buf *out, size_t max)
{
  const char *t = buf_ptr(out);
  if (utf8_cut(t, out->len, max) == out->len)
    return ERR_OK;
  size_t cut = utf8_cut(t, out->len, max - 1);
  /* "&amp;" is 5 bytes: an '&' in the 4 bytes before the cut with no ';'
   * after it starts an entity the cut would split. */
  for (size_t i = cut; i > 0 && cut - i < 4; i--) {
    if (t[i - 1] == ';')
      break;
    if (t[i - 1] == '&') {
      cut = i - 1;
      break;
    }
  }
  out->len = cut;
  return buf_puts(out, "\xe2\x80\xa6"); /* U+2026 */
}

/* The answer to an empty Slack command: a usage hint only its caller sees
 * (a 400 would show the user an error from Slack instead). */
static void slack_usage(struct routes_scratch *s,
                        const struct http_request *req,
                        struct http_response *resp)
{
  bool found = false;
  buf_reset(&s->verdict);
  if (form_field(req->body, req->body_len, "command", &s->verdict, &found) ||
      !found || !s->verdict.len || s->verdict.len > 64 ||
      !utf8_is_valid(buf_ptr(&s->verdict), s->verdict.len)) {
    buf_reset(&s->verdict);
    buf_must_fit(buf_puts(&s->verdict, "/frustration"));
  }
  /* A command of at most 64 bytes and two literals. */
  buf_reset(&s->text);
  buf_must_fit(buf_puts(&s->text, "Usage: "));
  buf_must_fit(slack_escape(&s->text, buf_ptr(&s->verdict), s->verdict.len));
  buf_must_fit(buf_puts(&s->text,
                        " TEXT: tells whether a customer's message reads as "
                        "frustrated, and why."));
  struct jsonw w;
  jsonw_init(&w, &resp->body);
  jsonw_object_begin(&w);
  jsonw_kv_string(&w, "response_type", "ephemeral");
  jsonw_key(&w, "text");
  jsonw_string_len(&w, buf_ptr(&s->text), s->text.len);
  jsonw_object_end(&w);
  resp->status = 200;
  http_response_finish_json(&w, resp);
}

static void handle_slash(struct app *app, struct routes_scratch *s,
                         const struct http_request *req,
                         struct http_response *resp)
{
  struct fail f = {.index = -1};
  cJSON *root = NULL;
  const char *text = NULL;
  size_t text_len = 0;
  bool slack = media_type(req->content_type) == MEDIA_FORM;
  /* A DevRev snap-in command forward: {"parameters", "source_id",
   * "actor_id"}; answered with a comment the snap-in can post. */
  const char *source_id = NULL, *actor_id = NULL;

  if (slack) {
    /* Slack's periodic certificate check comes unsigned: answer it (as
     * Slack's own Bolt does, before verifying), analyse nothing. */
    bool found;
    if (form_field(req->body, req->body_len, "ssl_check", &s->text, &found) ==
            ERR_OK &&
        found) {
      resp->status = 200;
      buf_must_fit(buf_puts(&resp->body, "{}")); /* an empty body */
      return;
    }
  }
  if (slack && *app->cfg->slack_signing_secret) {
    enum sig_result r = sig_check_slack(
        app->cfg->slack_signing_secret, req->slack_signature,
        req->slack_timestamp, req->body, req->body_len, (int64_t)time(NULL),
        (int64_t)app->cfg->signature_max_age_s);
    if (r == SIG_STALE) {
      fail_set(&f, 401, "stale_timestamp",
               "X-Slack-Request-Timestamp is missing or more than %u s from "
               "now (SIGNATURE_MAX_AGE)",
               app->cfg->signature_max_age_s);
      goto refuse;
    }
    if (r != SIG_OK) {
      fail_set(&f, 401,
               r == SIG_MISSING ? "missing_signature" : "bad_signature",
               "X-Slack-Signature does not verify (%s) against "
               "SLACK_SIGNING_SECRET",
               sig_result_name(r));
      goto refuse;
    }
  }

  if (slack) {
    if (!utf8_is_valid(req->body, req->body_len)) {
      fail_set(&f, 400, "invalid_utf8", "the body is not valid UTF-8");
      goto refuse;
    }
    bool found;
    enum err rc =
        form_field(req->body, req->body_len, "text", &s->text, &found);
    if (rc) {
      fail_set(&f, 400, "invalid_form",
               "the form body has a malformed %%-escape or a NUL (%%00)");
      goto refuse;
    }
    if (!found) {
      fail_set(&f, 400, "missing_field", "the form has no text field");
      goto refuse;
    }
    if (!utf8_is_valid(s->text.data ? s->text.data : "", s->text.len)) {
      fail_set(&f, 400, "invalid_utf8", "text is not valid UTF-8");
      goto refuse;
    }
    text = buf_ptr(&s->text);
    text_len = s->text.len;
  } else {
    root = parse_json(app, req, &f);
    if (!root)
      goto refuse;
    const char *name = "text";
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "text");
    if (!v || cJSON_IsNull(v)) {
      name = "message";
      v = cJSON_GetObjectItemCaseSensitive(root, "message");
    }
    if (!v || cJSON_IsNull(v)) {
      v = cJSON_GetObjectItemCaseSensitive(root, "parameters");
      if (v && !cJSON_IsNull(v)) {
        name = "parameters";
        if (!opt_string(root, "source_id", ROUTES_MAX_ID, &source_id, &f) ||
            !opt_string(root, "actor_id", ROUTES_MAX_ID, &actor_id, &f))
          goto refuse;
        if (!source_id || !*source_id) {
          fail_set(&f, 400, "missing_field",
                   "source_id (the object the command ran on) is required "
                   "with parameters");
          goto refuse;
        }
      }
    }
    if (!v || cJSON_IsNull(v)) {
      fail_set(&f, 400, "missing_field",
               "text (or message, or a snap-in's parameters) is required");
      goto refuse;
    }
    if (!cJSON_IsString(v)) {
      fail_set(&f, 400, "invalid_field", "%s must be a string", name);
      goto refuse;
    }
    text = v->valuestring;
    text_len = strlen(text);
  }
  if (utf8_is_blank(text, text_len)) {
    if (slack) {
      slack_usage(s, req, resp);
      return;
    }
    fail_set(&f, 400, "empty_message", "the text is empty or only whitespace");
    goto refuse;
  }
  note_text(app, resp, text, text_len);

  struct analysis a;
  analysis_run(app->cfg, app->lexicon, app->detector, text, text_len,
               &s->scores, &s->model, &a);
  buf_reset(&s->verdict);
  analysis_describe(app->cfg, &a, &s->verdict);

  struct jsonw w;
  jsonw_init(&w, &resp->body);
  jsonw_object_begin(&w);
  if (slack) {
    /* Slack renders "text" as mrkdwn too, so both carry its escapes. */
    const char *v = buf_ptr(&s->verdict);
    size_t head =
        a.frustrated ? strlen("Frustrated") : strlen("Not frustrated");
    if (head > s->verdict.len)
      head = s->verdict.len;
    buf_reset(&s->text); /* the decoded form text is not needed any more */
    enum err rc = slack_escape(&s->text, v, s->verdict.len);
    if (!rc)
      rc = slack_cap(&s->text, SLACK_MESSAGE_TEXT_MAX);
    jsonw_kv_string(&w, "response_type", "ephemeral");
    jsonw_key(&w, "text");
    jsonw_string_len(&w, buf_ptr(&s->text), s->text.len);
    buf_reset(&s->text);
    if (!rc)
      rc = buf_putc(&s->text, '*');
    if (!rc)
      rc = slack_escape(&s->text, v, head);
    if (!rc)
      rc = buf_putc(&s->text, '*');
    if (!rc)
      rc = slack_escape(&s->text, v + head, s->verdict.len - head);
    if (!rc)
      rc = slack_cap(&s->text, SLACK_SECTION_TEXT_MAX);
    if (rc)
      goto too_big;
    jsonw_key(&w, "blocks");
    jsonw_array_begin(&w);
    jsonw_object_begin(&w);
    jsonw_kv_string(&w, "type", "section");
    jsonw_key(&w, "text");
    jsonw_object_begin(&w);
    jsonw_kv_string(&w, "type", "mrkdwn");
    jsonw_key(&w, "text");
    jsonw_string_len(&w, buf_ptr(&s->text), s->text.len);
    jsonw_object_end(&w);
    jsonw_object_end(&w);
    jsonw_array_end(&w);
  } else {
    jsonw_key(&w, "text");
    jsonw_string_len(&w, buf_ptr(&s->verdict), s->verdict.len);
  }
  if (source_id) {
    /* Ready for timeline-entries.create as it is: internal, so the
     * customer never sees the verdict. */
    buf_reset(&s->text);
    if (buf_puts(&s->text, "frustration-alert: ") ||
        buf_append(&s->text, buf_ptr(&s->verdict), s->verdict.len))
      goto too_big;
    jsonw_key(&w, "timeline_entry");
    jsonw_object_begin(&w);
    jsonw_kv_string(&w, "object", source_id);
    jsonw_kv_string(&w, "type", "timeline_comment");
    jsonw_kv_string(&w, "body_type", "text");
    jsonw_key(&w, "body");
    jsonw_string_len(&w, buf_ptr(&s->text), s->text.len);
    jsonw_kv_string(&w, "visibility", "internal");
    jsonw_object_end(&w);
    if (actor_id) {
      jsonw_kv_string(&w, "actor_id", actor_id);
    }
  }
  /* Slack gets Slack's fields only; other callers the whole analysis. */
  if (!slack)
    analysis_write_fields(app->cfg, &a, &w);
  jsonw_object_end(&w);
  resp->status = 200;
  http_response_finish_json(&w, resp);
  cJSON_Delete(root);
  return;

too_big:
  http_response_error(resp, 500, "internal_error",
                      "the response exceeds its size limit");
  cJSON_Delete(root);
  return;

refuse:
  fail_write(&f, resp);
  cJSON_Delete(root);
}

/* ---- GET /health, GET /metrics -------------------------------------- */

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
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  char out[40];
  gmtime_r(&t, &tm);
  size_t n = strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, sizeof out - n, ".%03dZ", (int)(ms % 1000));
  jsonw_string(w, out);
}

/* The store is unusable when its last transaction failed: /webhook is
 * answering 503 then. One that succeeds again makes it usable. */
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

static void handle_health(struct app *app, struct routes_scratch *s,
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

static void handle_metrics(struct app *app, struct routes_scratch *s,
                           const struct http_request *req,
                           struct http_response *resp)
{
  (void)s;
  (void)req;
  resp->status = 200;
  resp->content_type = CT_PROMETHEUS;
  struct metrics_backend b = {0};
  struct timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  b.start_unix_ms = app->start_unix_ms;
  b.now_unix_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
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
