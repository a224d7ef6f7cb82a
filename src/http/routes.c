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
 * A /webhook answer is built only after every message of the request has
 * passed validation, so a refused batch has scored (and, once the store
 * exists, stored) nothing. */
#include "http/routes.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analysis/analysis.h"
#include "base/jsonw.h"
#include "base/utf8.h"
#include "base/xalloc.h"

#define CT_JSON "application/json"
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
};

/* A refusal being built: where in a batch (index >= 0) and what. */
struct fail {
  int status;
  const char *code;
  long index; /* -1 outside a batch */
  char message[256];
};

/* ---- responses ------------------------------------------------------ */

void http_response_init(struct http_response *resp)
{
  resp->status = 0;
  resp->content_type = CT_JSON;
  resp->allow = NULL;
  resp->error = NULL;
  resp->route = METRICS_ROUTE_OTHER;
  buf_init(&resp->body, ROUTES_MAX_RESPONSE);
  buf_init(&resp->note, 512);
}

void http_response_reset(struct http_response *resp)
{
  resp->status = 0;
  resp->content_type = CT_JSON;
  resp->allow = NULL;
  resp->error = NULL;
  resp->route = METRICS_ROUTE_OTHER;
  buf_reset(&resp->body);
  buf_reset(&resp->note);
}

void http_response_cleanup(struct http_response *resp)
{
  buf_cleanup(&resp->body);
  buf_cleanup(&resp->note);
}

void routes_scratch_init(struct routes_scratch *s)
{
  polarity_result_init(&s->scores);
  buf_init(&s->text, 0);
  buf_init(&s->verdict, 0);
  s->msgs = NULL;
  s->msgs_cap = 0;
}

void routes_scratch_cleanup(struct routes_scratch *s)
{
  polarity_result_cleanup(&s->scores);
  buf_cleanup(&s->text);
  buf_cleanup(&s->verdict);
  free(s->msgs);
  s->msgs = NULL;
  s->msgs_cap = 0;
}

static void write_error(struct http_response *resp, int status,
                        const char *code, const char *message, long index)
{
  struct jsonw w;
  resp->status = status;
  resp->content_type = CT_JSON;
  resp->error = code;
  buf_reset(&resp->body);
  jsonw_init(&w, &resp->body);
  jsonw_object_begin(&w);
  jsonw_key(&w, "error");
  jsonw_string(&w, code);
  jsonw_key(&w, "message");
  jsonw_string(&w, message);
  if (index >= 0) {
    jsonw_key(&w, "index");
    jsonw_int(&w, index);
  }
  jsonw_object_end(&w);
}

void routes_error(struct http_response *resp, int status, const char *code,
                  const char *fmt, ...)
{
  char message[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  write_error(resp, status, code, message, -1);
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
  write_error(resp, f->status, f->code, f->message, f->index);
}

/* A response that could not be written whole (only the size limit can
 * stop jsonw) becomes a 500 rather than a truncated 200. */
static void finish_json(struct jsonw *w, struct http_response *resp)
{
  if (jsonw_error(w))
    routes_error(resp, 500, "internal_error",
                 "the response exceeds its size limit");
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

bool routes_preflight(const struct app *app, const struct http_request *req,
                      struct http_response *resp)
{
  (void)app;
  const struct route *rt = find_route(req->path);
  if (!rt) {
    resp->route = METRICS_ROUTE_OTHER;
    routes_error(resp, 404, "not_found",
                 "no such endpoint; try POST /webhook, POST /slash-analyze, "
                 "GET /health or GET /metrics");
    return false;
  }
  resp->route = rt->id;
  bool method_ok =
      rt->post ? !strcmp(req->method, "POST")
               : !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
  if (!method_ok) {
    routes_error(resp, 405, "method_not_allowed", "%s takes %s", rt->path,
                 rt->post ? "POST" : "GET or HEAD");
    resp->allow = rt->post ? "POST" : "GET, HEAD";
    return false;
  }
  if (rt->post) {
    enum media m = media_type(req->content_type);
    if (m != MEDIA_JSON && !(m == MEDIA_FORM && rt->form_ok)) {
      routes_error(resp, 415, "unsupported_media_type",
                   "%s takes Content-Type: application/json%s", rt->path,
                   rt->form_ok ? " or application/x-www-form-urlencoded" : "");
      return false;
    }
  }
  return true;
}

void routes_handle(struct app *app, struct routes_scratch *s,
                   const struct http_request *req, struct http_response *resp)
{
  http_response_reset(resp);
  if (!routes_preflight(app, req, resp))
    return;
  if (req->body_len > app->cfg->max_body_bytes) {
    routes_error(resp, 413, "body_too_large",
                 "the body exceeds %zu bytes (MAX_BODY_BYTES)",
                 app->cfg->max_body_bytes);
    return;
  }
  find_route(req->path)->fn(app, s, req, resp);
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
 * control characters (in strings and between tokens), NUL bytes and
 * number syntax. The body is valid UTF-8 already. */
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

/* Python's str.isspace(), which the original service's strip() used: the
 * Unicode White_Space characters plus the ASCII separators 0x1c..0x1f. */
static bool is_space(uint32_t cp)
{
  return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) ||
         cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* True when the (valid UTF-8) text is empty or only whitespace. */
static bool is_blank(const char *s, size_t len)
{
  size_t i = 0;
  while (i < len) {
    uint32_t cp;
    size_t n = utf8_decode(s + i, len - i, &cp);
    if (n == 0 || !is_space(cp))
      return false;
    i += n;
  }
  return true;
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
  if (is_blank(m->message, m->message_len)) {
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
  buf_puts(&resp->note, "text=");
  jsonw_escape(&resp->note, text, n);
  if (n < len)
    buf_puts(&resp->note, "...");
}

/* ---- POST /webhook -------------------------------------------------- */

/* Scores one validated message and writes its result object. This is
 * where the store will record the message and decide the alert. */
static void process_message(struct app *app, struct routes_scratch *s,
                            const struct routes_message *m, struct jsonw *w)
{
  struct analysis a;
  polarity_analyze(app->lexicon, m->message, m->message_len, &s->scores);
  analysis_compute(app->cfg, &s->scores, &a);
  metrics_count_message(&app->metrics, a.level, a.frustrated);
  jsonw_object_begin(w);
  jsonw_key(w, "customer_id");
  jsonw_string(w, m->customer_id);
  if (m->message_id) {
    jsonw_key(w, "message_id");
    jsonw_string(w, m->message_id);
  }
  if (m->conversation_id) {
    jsonw_key(w, "conversation_id");
    jsonw_string(w, m->conversation_id);
  }
  analysis_write_fields(app->cfg, &a, w);
  jsonw_key(w, "alert");
  jsonw_string(w, "none");
  jsonw_object_end(w);
}

static void reserve_msgs(struct routes_scratch *s, size_t n)
{
  if (n <= s->msgs_cap)
    return;
  s->msgs = xrealloc(s->msgs, n * sizeof *s->msgs);
  s->msgs_cap = n;
}

static void handle_webhook(struct app *app, struct routes_scratch *s,
                           const struct http_request *req,
                           struct http_response *resp)
{
  struct fail f = {.index = -1};
  cJSON *root = parse_json(app, req, &f);
  if (!root)
    goto refuse;

  const cJSON *batch = cJSON_GetObjectItemCaseSensitive(root, "messages");
  size_t n = 1;
  if (batch) {
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
  } else if (!parse_message(root, &s->msgs[0], &f)) {
    goto refuse;
  }

  note_text(app, resp, s->msgs[0].message, s->msgs[0].message_len);
  struct jsonw w;
  jsonw_init(&w, &resp->body);
  if (batch) {
    jsonw_object_begin(&w);
    jsonw_key(&w, "results");
    jsonw_array_begin(&w);
    for (size_t i = 0; i < n; i++)
      process_message(app, s, &s->msgs[i], &w);
    jsonw_array_end(&w);
    jsonw_key(&w, "count");
    jsonw_int(&w, (int64_t)n);
    jsonw_object_end(&w);
  } else {
    process_message(app, s, &s->msgs[0], &w);
  }
  resp->status = 200;
  finish_json(&w, resp);
  cJSON_Delete(root);
  return;

refuse:
  fail_write(&f, resp);
  cJSON_Delete(root);
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

/* Appends s with Slack's three mrkdwn escapes (&, <, >). */
static void slack_escape(struct buf *out, const char *s, size_t len)
{
  for (size_t i = 0; i < len; i++) {
    switch (s[i]) {
    case '&':
      buf_puts(out, "&amp;");
      break;
    case '<':
      buf_puts(out, "&lt;");
      break;
    case '>':
      buf_puts(out, "&gt;");
      break;
    default:
      buf_putc(out, s[i]);
    }
  }
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

  if (slack) {
    if (!utf8_is_valid(req->body, req->body_len)) {
      fail_set(&f, 400, "invalid_utf8", "the body is not valid UTF-8");
      goto refuse;
    }
    bool found;
    if (form_field(req->body, req->body_len, "ssl_check", &s->text, &found) ==
            ERR_OK &&
        found) {
      /* Slack's periodic certificate check: answer, analyse nothing. */
      resp->status = 200;
      buf_puts(&resp->body, "{}");
      return;
    }
    enum err rc =
        form_field(req->body, req->body_len, "text", &s->text, &found);
    if (rc) {
      fail_set(&f, 400, "invalid_form",
               "the form body has a malformed %%-escape");
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
      fail_set(&f, 400, "missing_field", "text (or message) is required");
      goto refuse;
    }
    if (!cJSON_IsString(v)) {
      fail_set(&f, 400, "invalid_field", "%s must be a string", name);
      goto refuse;
    }
    text = v->valuestring;
    text_len = strlen(text);
  }
  if (is_blank(text, text_len)) {
    fail_set(&f, 400, "empty_message", "the text is empty or only whitespace");
    goto refuse;
  }
  note_text(app, resp, text, text_len);

  struct analysis a;
  polarity_analyze(app->lexicon, text, text_len, &s->scores);
  analysis_compute(app->cfg, &s->scores, &a);
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
    slack_escape(&s->text, v, s->verdict.len);
    jsonw_key(&w, "response_type");
    jsonw_string(&w, "ephemeral");
    jsonw_key(&w, "text");
    jsonw_string_len(&w, buf_ptr(&s->text), s->text.len);
    buf_reset(&s->text);
    buf_putc(&s->text, '*');
    slack_escape(&s->text, v, head);
    buf_putc(&s->text, '*');
    slack_escape(&s->text, v + head, s->verdict.len - head);
    jsonw_key(&w, "blocks");
    jsonw_array_begin(&w);
    jsonw_object_begin(&w);
    jsonw_key(&w, "type");
    jsonw_string(&w, "section");
    jsonw_key(&w, "text");
    jsonw_object_begin(&w);
    jsonw_key(&w, "type");
    jsonw_string(&w, "mrkdwn");
    jsonw_key(&w, "text");
    jsonw_string_len(&w, buf_ptr(&s->text), s->text.len);
    jsonw_object_end(&w);
    jsonw_object_end(&w);
    jsonw_array_end(&w);
  } else {
    jsonw_key(&w, "text");
    jsonw_string_len(&w, buf_ptr(&s->verdict), s->verdict.len);
  }
  analysis_write_fields(app->cfg, &a, &w);
  jsonw_object_end(&w);
  resp->status = 200;
  finish_json(&w, resp);
  cJSON_Delete(root);
  return;

refuse:
  fail_write(&f, resp);
  cJSON_Delete(root);
}

/* ---- GET /health, GET /metrics -------------------------------------- */

static void handle_health(struct app *app, struct routes_scratch *s,
                          const struct http_request *req,
                          struct http_response *resp)
{
  (void)s;
  (void)req;
  struct jsonw w;
  jsonw_init(&w, &resp->body);
  jsonw_object_begin(&w);
  jsonw_key(&w, "status");
  jsonw_string(&w, "ok");
  jsonw_key(&w, "version");
  jsonw_string(&w, FA_VERSION);
  jsonw_key(&w, "uptime_s");
  jsonw_int(&w, (int64_t)app_uptime_s(app));
  jsonw_key(&w, "detector");
  jsonw_raw(&w, app->detector_json, strlen(app->detector_json));
  jsonw_object_end(&w);
  resp->status = 200;
  finish_json(&w, resp);
}

static void handle_metrics(struct app *app, struct routes_scratch *s,
                           const struct http_request *req,
                           struct http_response *resp)
{
  (void)s;
  (void)req;
  resp->status = 200;
  resp->content_type = CT_PROMETHEUS;
  if (metrics_render(&app->metrics, app->cfg, app_uptime_s(app), &resp->body))
    routes_error(resp, 500, "internal_error",
                 "the metrics exceed the response size limit");
}
