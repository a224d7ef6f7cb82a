/* routes: the router. Dispatch, preflight (path, method, Content-Type,
 * the bearer token), the body size limit, and the strict JSON input every
 * endpoint family shares; the endpoints themselves are in api/ (one file
 * per family, see routes_int.h).
 *
 * Validation happens in this order, so a client learns about the most
 * basic problem first: path, method, Content-Type (routes_preflight), body
 * size, UTF-8 of the raw body, JSON nesting depth and lexical strictness
 * (prescan), JSON syntax (cJSON), then fields. cJSON alone would accept raw
 * control characters, numbers like "01" or "1.", any nesting up to 1000
 * levels and anything after a NUL byte; prescan refuses all of these before
 * cJSON sees the text, and the parse requires the NUL right after the value
 * so trailing garbage is refused too. */
#include "http/routes.h"

#include "http/auth.h"
#include "http/routes_int.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alerting/committer.h"
#include "analysis/analysis.h"
#include "base/json_scan.h"
#include "base/jsonw.h"
#include "base/utf8.h"
#include "http/api/dashboard.h"

/* Bytes of message text in a log line when LOG_MESSAGE_TEXT is on. */
#define ROUTES_LOG_TEXT 80

/* ---- refusals ------------------------------------------------------ */

void routes_fail_set(struct routes_fail *f, int status, const char *code,
                     const char *fmt, ...)
{
  f->status = status;
  f->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(f->message, sizeof f->message, fmt, ap);
  va_end(ap);
}

void routes_fail_write(const struct routes_fail *f, struct http_response *resp)
{
  http_response_error_at(resp, f->status, f->code, f->message, f->index);
}

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

void routes_scratch_cleanup(struct routes_scratch *s)
{
  /* A request still pending here had its commit end (a server never
   * frees a connection waiting for one) but was never answered. */
  api_webhook_release(s);
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

/* ---- content types -------------------------------------------------- */

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
enum routes_media routes_media_type(const char *ct)
{
  if (!ct)
    return ROUTES_MEDIA_NONE;
  const char *p = skip_ows(ct);
  size_t len = strcspn(p, "; \t");
  enum routes_media m = token_is(p, len, "application/json") ? ROUTES_MEDIA_JSON
                        : token_is(p, len, "application/x-www-form-urlencoded")
                            ? ROUTES_MEDIA_FORM
                            : ROUTES_MEDIA_OTHER;
  if (m == ROUTES_MEDIA_OTHER)
    return m;
  p = skip_ows(p + len);
  while (*p) {
    if (*p != ';')
      return ROUTES_MEDIA_OTHER;
    p = skip_ows(p + 1);
    if (!*p)
      break; /* a trailing ';' is harmless */
    size_t nlen = strcspn(p, "=; \t");
    if (!token_is(p, nlen, "charset") || p[nlen] != '=')
      return ROUTES_MEDIA_OTHER;
    p += nlen + 1;
    bool quoted = *p == '"';
    p += quoted;
    size_t vlen = strcspn(p, quoted ? "\"" : "; \t");
    if (!token_is(p, vlen, "utf-8"))
      return ROUTES_MEDIA_OTHER;
    p += vlen;
    if (quoted) {
      if (*p != '"')
        return ROUTES_MEDIA_OTHER;
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

struct route {
  const char *path;
  enum metrics_route id;
  bool post;    /* POST with a body; otherwise GET (and HEAD) */
  bool form_ok; /* also takes application/x-www-form-urlencoded */
  route_fn fn;
};

static const struct route route_table[] = {
    {"/webhook", METRICS_ROUTE_WEBHOOK, true, false, api_webhook_handle},
    {"/slash-analyze", METRICS_ROUTE_SLASH, true, true, api_slash_handle},
    {"/health", METRICS_ROUTE_HEALTH, false, false, api_health_handle},
    {"/metrics", METRICS_ROUTE_METRICS, false, false, api_metrics_handle},
    {"/api/feedback", METRICS_ROUTE_OTHER, true, false, api_feedback_handle},
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
 * (api/slash.c); /webhook checks its credentials once the body is in
 * (api/webhook.c). */
static bool needs_token(const struct app *app, const struct http_request *req)
{
  return auth_needs_token(app->cfg, req->path,
                          routes_media_type(req->content_type) ==
                              ROUTES_MEDIA_FORM);
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
    enum routes_media m = routes_media_type(req->content_type);
    if (m != ROUTES_MEDIA_JSON && !(m == ROUTES_MEDIA_FORM && rt->form_ok)) {
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

enum routes_next routes_begin(struct app *app, struct routes_scratch *s,
                              const struct http_request *req,
                              struct http_response *resp)
{
  routes_handle_inner(app, s, req, resp);
  return s->pending ? ROUTES_COMMIT : ROUTES_ANSWER;
}

void routes_abandon(struct routes_scratch *s)
{
  api_webhook_release(s);
}

void routes_finish(struct app *app, struct routes_scratch *s, enum err rc,
                   struct http_response *resp)
{
  api_webhook_finish(app, s, rc, resp);
}

/* ---- JSON input ----------------------------------------------------- */

/* Lexical checks cJSON does not make, by base/json_scan: nesting depth,
 * raw control characters (in strings and between tokens), NUL bytes, raw
 * or escaped, and number syntax. The body is valid UTF-8 already.
 *
 * An escaped NUL ("\u0000") is valid JSON (RFC 8259 section 7), but cJSON
 * stores strings NUL-terminated, so every string would silently end there:
 * two message ids that differ after it would collide, a customer id would
 * lose its tail, a message its text. Refusing it here covers every string
 * of every JSON body, keys included. A surrogate pair cannot encode U+0000,
 * so this one spelling is the only one.
 *
 * cJSON also reads a "\u" escape with a non-hex digit as U+0000 and cuts
 * the string there, so bad strings (that, a lone surrogate, an unknown
 * escape, no closing quote) are refused here too. Syntax errors are left
 * to cJSON, which refuses every one (fuzz/fuzz_json_scan.c checks that it
 * does). The scan stops at the first problem. cJSON skips a UTF-8 byte
 * order mark before the value, so the scan starts after one. */
static bool prescan(const char *p, size_t len, int max_depth,
                    struct routes_fail *f)
{
  size_t bom = len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3) ? 3 : 0;
  struct json_scan js = {.max_depth = max_depth};
  enum json_scan_problem problem = json_scan(p + bom, len - bom, &js);
  size_t at = bom + js.offset;
  switch (problem) {
  case JSON_SCAN_TOO_DEEP:
    routes_fail_set(f, 400, "too_deep",
                    "JSON nesting deeper than %d levels (MAX_JSON_DEPTH)",
                    max_depth);
    return false;
  case JSON_SCAN_NUL_ESCAPE:
    routes_fail_set(f, 400, "nul_in_string",
                    "a JSON string contains \\u0000 (NUL) at byte %zu; it "
                    "is not accepted in any field",
                    at);
    return false;
  case JSON_SCAN_BAD_NUMBER:
    routes_fail_set(f, 400, "invalid_json", "invalid number at byte %zu", at);
    return false;
  case JSON_SCAN_BAD_STRING:
    routes_fail_set(f, 400, "invalid_json", "malformed JSON near byte %zu",
                    at);
    return false;
  case JSON_SCAN_CONTROL:
    routes_fail_set(f, 400, "invalid_json",
                    "control character or NUL byte in the JSON text");
    return false;
  case JSON_SCAN_OK:
  case JSON_SCAN_SYNTAX:
    break;
  }
  return true;
}

/* Parses the body as JSON; on failure fills f and returns NULL. The caller
 * frees the result with cJSON_Delete. */
cJSON *routes_parse_json(const struct app *app, const struct http_request *req,
                         struct routes_fail *f)
{
  if (!utf8_is_valid(req->body, req->body_len)) {
    routes_fail_set(f, 400, "invalid_utf8", "the body is not valid UTF-8");
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
      routes_fail_set(f, 400, "invalid_json",
                      "the body is empty; a JSON object "
                      "is expected");
    else
      routes_fail_set(f, 400, "invalid_json", "malformed JSON near byte %zu",
                      end && end >= req->body ? (size_t)(end - req->body) : 0);
    return NULL;
  }
  if (!cJSON_IsObject(root)) {
    routes_fail_set(f, 400, "invalid_json", "the body must be a JSON object");
    cJSON_Delete(root);
    return NULL;
  }
  return root;
}

/* Reads an optional string field of at most max bytes: absent or null
 * leaves *out NULL. */
bool routes_opt_string(const cJSON *obj, const char *name, size_t max,
                       const char **out, struct routes_fail *f)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
  *out = NULL;
  if (!v || cJSON_IsNull(v))
    return true;
  if (!cJSON_IsString(v)) {
    routes_fail_set(f, 400, "invalid_field", "%s must be a string", name);
    return false;
  }
  if (strlen(v->valuestring) > max) {
    routes_fail_set(f, 400, "invalid_field", "%s is longer than %zu bytes",
                    name, max);
    return false;
  }
  *out = v->valuestring;
  return true;
}

bool routes_opt_lang(const cJSON *obj, const char **out,
                     struct routes_fail *f)
{
  if (!routes_opt_string(obj, "lang", ROUTES_MAX_SHORT, out, f))
    return false;
  if (*out && !analysis_lang_valid(*out)) {
    routes_fail_set(f, 400, "invalid_lang",
                    "lang must be a language code such as \"fr\" or "
                    "\"pt-BR\"");
    return false;
  }
  return true;
}

/* Appends a printable excerpt of text to the log note (LOG_MESSAGE_TEXT). */
void routes_note_text(const struct app *app, struct http_response *resp,
                      const char *text, size_t len)
{
  if (!app->cfg->log_text)
    return;
  /* Cut on a character boundary so the excerpt stays UTF-8. */
  size_t n = utf8_cut_bytes(text, len, ROUTES_LOG_TEXT);
  /* The note is a log annotation with its own small limit: words that do
   * not fit are left out, the request goes on. */
  err_ignore(buf_puts(&resp->note, "text="));
  err_ignore(jsonw_escape(&resp->note, text, n));
  if (n < len)
    err_ignore(buf_puts(&resp->note, "..."));
}
