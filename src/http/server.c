/* server: libmicrohttpd glue and the request life cycle.
 *
 * Lifetimes. A struct conn is made when libmicrohttpd accepts a socket
 * (NOTIFY_CONNECTION STARTED) and freed when it closes (CLOSED); it holds
 * everything a request needs, reused from request to request: the body
 * buffer, the response, the routes scratch. A request begins when its
 * request line is parsed (the URI log callback, which hands the conn to
 * the access handler as its request context) and ends in the completion
 * callback, which logs it, counts it and resets the request state.
 *
 * The access handler sees three kinds of calls: the first (headers known,
 * no body: preflight checks, Content-Length against the limit), body
 * chunks (counted, copied up to the limit), and the last, with no data,
 * which answers. Only refusals that close the connection anyway (413, 408)
 * are queued early; everything else is answered in the last call, which
 * keeps the connection alive.
 *
 * Abuse limits, decided in the first handler call, before any body is
 * read: a token bucket per source address (ratelimit.h; 429 with
 * Retry-After) and the size of the request line and headers (431 over
 * MAX_HEADER_BYTES, or over one header line or cookie per
 * SERVER_LINE_BYTES of it). Headers that do not fit in libmicrohttpd's
 * memory pool at all (sized for both limits plus SERVER_POOL_HEADROOM)
 * never reach the handler: libmicrohttpd answers those itself, 431 with
 * its own small HTML body, and closes the connection; it has no hook for
 * that, nor for its other refusals of what it cannot parse (a malformed
 * request or header line, Content-Length value or chunk, an HTTP version
 * other than 1.0 and 1.1). */
#include "http/server.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/buf.h"
#include "http/api/dashboard.h"
#include "http/ratelimit.h"
#include "http/routes.h"
#include "http/server_int.h"
#include "http/sse.h"

/* Kept memory per idle connection: buffers that grew past these sizes for
 * one large request are released when it completes, so many connections
 * that once carried a big batch do not pin memory. */
#define SERVER_KEEP_BODY ((size_t)16 << 10)
#define SERVER_KEEP_RESPONSE ((size_t)64 << 10)
/* Retry-After of that 503, in seconds. */
#define SERVER_BUSY_RETRY_S 1u

/* Copies s for a log line: at most cap - 1 bytes, anything but printable
 * ASCII replaced by '?', so a request cannot forge log lines. */
static void copy_printable(char *dst, size_t cap, const char *s)
{
  size_t i = 0;
  for (; s && s[i] && i + 1 < cap; i++) {
    unsigned char ch = (unsigned char)s[i];
    dst[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
  }
  dst[i] = '\0';
}

/* A client's X-Request-Id is echoed only when it is short and made of
 * characters that are safe in logs and headers. */
static bool valid_request_id(const char *s)
{
  size_t n = 0;
  if (!s)
    return false;
  for (; s[n]; n++) {
    char ch = s[n];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
              ch == ':';
    if (!ok || n + 1 >= APP_REQUEST_ID_MAX)
      return false;
  }
  return n > 0;
}

static struct conn *conn_of(struct MHD_Connection *mc)
{
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci ? ci->socket_context : NULL;
}

/* Called when the request line has been parsed: the request starts here,
 * and its deadline with it. The return value becomes the handler's
 * request context. */
void *server_on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
  struct server *srv = cls;
  (void)uri;
  struct conn *c = conn_of(mc);
  if (!c)
    return NULL;
  uint64_t now = clock_mono_ns();
  struct request *r = &c->req;
  r->stage = STAGE_NEW;
  r->in_flight = false;
  r->answered_early = false;
  r->retry_after_s = 0;
  r->start_ns = now;
  r->body_seen = 0;
  r->id[0] = '\0';
  buf_reset(&c->body);
  http_response_reset(&c->resp);
  server_set_phase(c, now, server_ms_to_ns(srv->app->cfg->request_timeout_ms),
                   false);
  return c;
}

/* Fills hr with what routes.h needs of the request: the strings are
 * libmicrohttpd's, valid until the request completes. */
static void read_request(struct MHD_Connection *mc, const char *url,
                         const char *method, const char *body, size_t body_len,
                         struct http_request *hr)
{
  *hr = (struct http_request){
      .method = method,
      .path = url,
      .content_type = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_CONTENT_TYPE),
      .body = body,
      .body_len = body_len,
      .authorization = MHD_lookup_connection_value(
          mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
      .access_token = MHD_lookup_connection_value(mc, MHD_GET_ARGUMENT_KIND,
                                                  "access_token"),
      .signature_256 =
          MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "X-Signature-256"),
      .devrev_signature = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                                      "X-DevRev-Signature"),
      .slack_signature =
          MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "X-Slack-Signature"),
      .slack_timestamp = MHD_lookup_connection_value(
          mc, MHD_HEADER_KIND, "X-Slack-Request-Timestamp"),
  };
}

/* ---- answering ------------------------------------------------------ */

/* Queues c->resp. The body is handed over without a copy: it stays
 * untouched in the conn until the completion callback, which runs after
 * libmicrohttpd has sent it. */
enum MHD_Result server_answer(struct conn *c, struct MHD_Connection *mc,
                              bool close)
{
  struct http_response *resp = &c->resp;
  if (!server_claim_reply(c, REPLIER_HANDLER))
    return MHD_NO; /* the watchdog answered 408 and is closing it */
  struct MHD_Response *mr = MHD_create_response_from_buffer(
      resp->body.len, (void *)buf_ptr(&resp->body), MHD_RESPMEM_PERSISTENT);
  if (!mr)
    return MHD_NO;
  MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
  MHD_add_response_header(mr, "X-Request-Id", c->req.id);
  if (resp->allow)
    MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, resp->allow);
  if (c->req.retry_after_s) {
    char secs[16];
    snprintf(secs, sizeof secs, "%u", c->req.retry_after_s);
    MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, secs);
  }
  if (close || atomic_load_explicit(&c->srv->closing, memory_order_relaxed))
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
  enum MHD_Result ret = MHD_queue_response(mc, (unsigned)resp->status, mr);
  MHD_destroy_response(mr);
  c->req.stage = STAGE_ANSWERED;
  return ret;
}

/* Refuses in the first handler call, before the body is read: queued
 * there, libmicrohttpd sends it and closes the connection (it shuts the
 * reading side itself). */
static enum MHD_Result refuse_first(struct conn *c, struct MHD_Connection *mc,
                                    int status, const char *code,
                                    const char *message)
{
  http_response_error(&c->resp, status, code, "%s", message);
  return server_answer(c, mc, true);
}

/* Refuses in the middle of the body. libmicrohttpd 0.9.x queues responses
 * only before the body or after all of it, and reading a body we have
 * refused to its end is what the limit is there to prevent. So the
 * response is written to the socket directly (nothing else is being sent
 * on it: the request is still being received), followed by a FIN. The
 * rest of the upload is then discarded unread by us, for as long as the
 * client keeps sending and at most until the watchdog's deadline: like
 * nginx's lingering close, this lets the client read the answer instead
 * of losing it to a reset. */
static enum MHD_Result refuse_midway(struct conn *c, int status,
                                     const char *code, const char *message)
{
  struct http_response *resp = &c->resp;
  http_response_error(resp, status, code, "%s", message);
  c->req.stage = STAGE_ANSWERED;
  c->req.answered_early = true;
  if (c->srv->tls || !server_claim_reply(c, REPLIER_HANDLER))
    return MHD_NO; /* TLS: see server_tls.c; or the watchdog's 408 */
  if (!server_write_raw(c->fd, status, resp->content_type, buf_ptr(&resp->body),
                        resp->body.len, c->req.id))
    return MHD_NO; /* could not say it whole: just close */
  return MHD_YES;
}

static enum MHD_Result too_large_first(struct conn *c,
                                       struct MHD_Connection *mc)
{
  char message[96];
  snprintf(message, sizeof message,
           "the body exceeds %zu bytes (MAX_BODY_BYTES)",
           c->srv->app->cfg->max_body_bytes);
  return refuse_first(c, mc, 413, "body_too_large", message);
}

static enum MHD_Result too_large_midway(struct conn *c)
{
  char message[96];
  snprintf(message, sizeof message,
           "the body exceeds %zu bytes (MAX_BODY_BYTES)",
           c->srv->app->cfg->max_body_bytes);
  return refuse_midway(c, 413, "body_too_large", message);
}

/* Answers a connection that came over the connection limits when none
 * was idle (see admit): 503, and the connection closes. */
static enum MHD_Result refuse_busy(struct conn *c, struct MHD_Connection *mc)
{
  const struct config *cfg = c->srv->app->cfg;
  c->req.retry_after_s = SERVER_BUSY_RETRY_S;
  c->resp.allow = NULL;
  http_response_error(&c->resp, 503, "too_many_connections",
               "every connection is busy (MAX_CONNECTIONS %u, "
               "MAX_CONNECTIONS_PER_IP %u); retry in %u s",
               cfg->max_connections, cfg->max_per_ip, SERVER_BUSY_RETRY_S);
  return server_answer(c, mc, true);
}

/* ---- the dashboard's event stream ------------------------------------ */

/* Answers GET /api/stream with a response that lasts as long as the
 * viewer stays (sse.h): the request deadline does not apply to it. */
static enum MHD_Result start_stream(struct conn *c, struct MHD_Connection *mc,
                                    const struct http_request *hr)
{
  struct app *app = c->srv->app;
  c->req.stage = STAGE_ANSWERED;
  if (!server_claim_reply(c, REPLIER_HANDLER))
    return MHD_NO; /* the watchdog answered 408 */
  if (!dashboard_authorized(app->dashboard, hr)) {
    http_response_error(&c->resp, 401, "unauthorized",
                 "the dashboard needs Authorization: Bearer API_TOKEN");
    return server_answer(c, mc, false);
  }
  server_set_phase(c, clock_mono_ns(), UINT64_MAX, false);
  bool refused = true;
  const char *last =
      MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Last-Event-ID");
  enum MHD_Result ret = (enum MHD_Result)sse_respond(
      dashboard_hub(app->dashboard), mc, last, &refused);
  c->resp.status = refused ? 503 : 200;
  c->resp.content_type = "text/event-stream";
  return ret;
}

/* Refuses in the first call with what c->resp holds, without reading a
 * byte of the body: a request without one is answered in the last call
 * like any other, which keeps the connection alive; one with a body is
 * answered now, which closes the connection instead of reading it. */
static enum MHD_Result refuse_before_body(struct conn *c,
                                          struct MHD_Connection *mc)
{
  if (!server_has_body(mc)) {
    c->req.stage = STAGE_REFUSED;
    return MHD_YES;
  }
  return server_answer(c, mc, true);
}

/* The first handler call: headers are known, no body yet. */
static enum MHD_Result first_call(struct conn *c, struct MHD_Connection *mc,
                                  const char *url, const char *method,
                                  const char *version)
{
  struct server *srv = c->srv;
  struct request *r = &c->req;
  const struct config *cfg = srv->app->cfg;

  r->in_flight = true;
  atomic_fetch_add_explicit(&srv->in_flight, 1, memory_order_relaxed);
  copy_printable(r->method, sizeof r->method, method);
  copy_printable(r->path, sizeof r->path, url);
  const char *rid =
      MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "X-Request-Id");
  if (valid_request_id(rid))
    memcpy(r->id, rid, strlen(rid) + 1);
  else
    app_request_id(srv->app, r->id);

  struct http_request hr;
  read_request(mc, url, method, "", 0, &hr);
  /* Run first even when a limit refuses: it names the route the refusal
   * is counted under. */
  bool go_on = routes_preflight(srv->app, &hr, &c->resp);
  if (c->over_limit)
    return refuse_busy(c, mc);
  if (!server_framing_ok(c, mc, version))
    return server_answer(c, mc, true); /* the body cannot be delimited: close */
  if (atomic_load(&srv->closing)) {
    /* Answered after its body, which is read and dropped like any refused
     * one: closing with unread bytes would reset the connection and lose
     * the answer. server_answer() adds Connection: close while stopping. */
    c->resp.allow = NULL;
    http_response_error(&c->resp, 503, "shutting_down",
                 "the server is stopping; nothing was recorded, retry");
    r->stage = STAGE_REFUSED;
    return MHD_YES;
  }

  const union MHD_ConnectionInfo *peer =
      MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  unsigned retry_s = 0;
  if (!ratelimit_take(srv->ratelimit, peer ? peer->client_addr : NULL,
                      r->start_ns, &retry_s)) {
    r->retry_after_s = retry_s;
    c->resp.allow = NULL;
    http_response_error(&c->resp, 429, "rate_limited",
                 "too many requests from your address: at most %u a second "
                 "after a burst of %u (RATE_LIMIT, RATE_LIMIT_BURST); retry "
                 "in %u s",
                 cfg->rate_limit, cfg->rate_limit_burst, retry_s);
    return refuse_before_body(c, mc);
  }
  const union MHD_ConnectionInfo *hs =
      MHD_get_connection_info(mc, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
  if (hs && hs->header_size > cfg->max_header_bytes) {
    c->resp.allow = NULL;
    http_response_error(&c->resp, 431, "header_too_large",
                 "the request line and headers take %zu bytes, more than "
                 "%zu (MAX_HEADER_BYTES)",
                 hs->header_size, cfg->max_header_bytes);
    return refuse_before_body(c, mc);
  }
  size_t max_lines = cfg->max_header_bytes / SERVER_LINE_BYTES;
  size_t lines = (size_t)MHD_get_connection_values(
      mc, MHD_HEADER_KIND | MHD_COOKIE_KIND, NULL, NULL);
  if (lines > max_lines) {
    c->resp.allow = NULL;
    http_response_error(&c->resp, 431, "too_many_headers",
                 "%zu header lines and cookies, more than %zu (one per %u "
                 "bytes of MAX_HEADER_BYTES)",
                 lines, max_lines, SERVER_LINE_BYTES);
    return refuse_before_body(c, mc);
  }
  r->stage = go_on ? STAGE_BODY : STAGE_REFUSED;

  /* A declared length over the limit is refused before a byte of the
   * body is read (and before libmicrohttpd sends 100 Continue). */
  const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_LENGTH);
  unsigned long long len;
  if (cl && server_parse_length(cl, &len) && len > cfg->max_body_bytes)
    return too_large_first(c, mc);
  return MHD_YES;
}

enum MHD_Result server_on_request(void *cls, struct MHD_Connection *mc,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
  (void)cls;
  struct conn *c = *req_cls;
  if (!c) {
    /* The URI callback always runs first; without a conn there is no
     * state to answer from. */
    return MHD_NO;
  }
  struct request *r = &c->req;
  const struct config *cfg = c->srv->app->cfg;

  if (r->stage == STAGE_NEW)
    return first_call(c, mc, url, method, version);

  if (*upload_data_size > 0) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if (r->stage == STAGE_ANSWERED)
      return MHD_YES; /* refused midway: discard */
    if (clock_mono_ns() - r->start_ns > server_ms_to_ns(cfg->request_timeout_ms))
      return refuse_midway(c, 408, "request_timeout",
                           "the request took longer than "
                           "REQUEST_TIMEOUT_MS");
    if (n > cfg->max_body_bytes - r->body_seen)
      return too_large_midway(c);
    r->body_seen += n;
    if (r->stage == STAGE_BODY && buf_append(&c->body, upload_data, n))
      return too_large_midway(c); /* not reached: the buffer has the limit */
    return MHD_YES;
  }

  if (r->stage == STAGE_ANSWERED)
    return r->answered_early ? MHD_NO : MHD_YES;
  if (r->stage == STAGE_COMMIT) {
    /* Called again after on_committed resumed the connection. */
    if (!atomic_load_explicit(&c->commit_done, memory_order_acquire))
      return MHD_YES; /* not expected: a suspended connection is not run */
    routes_finish(c->srv->app, &c->scratch, c->commit_rc, &c->resp);
    return server_answer(c, mc, false);
  }
  if (r->stage == STAGE_BODY) {
    struct http_request hr;
    read_request(mc, url, method, buf_ptr(&c->body), c->body.len, &hr);
    if (dashboard_is_stream(url) && !strcmp(method, "GET"))
      return start_stream(c, mc, &hr);
    if (routes_begin(c->srv->app, &c->scratch, &hr, &c->resp) == ROUTES_COMMIT)
      return server_submit_commit(c, mc);
  }
  return server_answer(c, mc, false);
}

/* ---- completion ----------------------------------------------------- */

static const char *termination_name(enum MHD_RequestTerminationCode toe)
{
  switch (toe) {
  case MHD_REQUEST_TERMINATED_COMPLETED_OK:
    return "completed";
  case MHD_REQUEST_TERMINATED_WITH_ERROR:
    return "error";
  case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
    return "idle-timeout";
  case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
    return "shutdown";
  case MHD_REQUEST_TERMINATED_READ_ERROR:
    return "read-error";
  case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
    return "client-abort";
  }
  return "unknown";
}

void server_on_completed(void *cls, struct MHD_Connection *mc, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
  struct server *srv = cls;
  (void)mc;
  struct conn *c = *req_cls;
  if (!c)
    return;
  *req_cls = NULL;
  struct request *r = &c->req;
  if (r->stage == STAGE_IDLE)
    return;
  if (r->stage == STAGE_COMMIT &&
      atomic_load_explicit(&c->commit_done, memory_order_acquire)) {
    /* Resumed but closed before it could answer (the daemon stopping, or
     * the client gone): release what the request held. The messages are
     * committed or not, as the outcome says; nobody hears of it. */
    routes_finish(srv->app, &c->scratch, c->commit_rc, &c->resp);
  }
  uint64_t now = clock_mono_ns();
  uint64_t dur = now - r->start_ns;
  bool cut = atomic_load_explicit(&c->cut, memory_order_relaxed);
  bool answered = r->stage == STAGE_ANSWERED;
  int status = answered ? c->resp.status : cut ? 408 : 0;

  if (status)
    metrics_observe_request(&srv->app->metrics, c->resp.route, status, dur);
  if (log_enabled(srv->log, LOG_INFO) && r->in_flight) {
    /* Milliseconds with three decimals, in integers: printf's floating
     * point is a visible cost at one line per request. */
    unsigned long long us = (unsigned long long)(dur / 1000u);
    unsigned ms_frac = (unsigned)(us % 1000u);
    const char *note = buf_ptr(&c->resp.note);
    if (answered)
      log_write(srv->log, LOG_INFO, "%s %s %d %llu.%03ums rid=%s%s%s%s%s",
                r->method, r->path, status, us / 1000u, ms_frac, r->id,
                c->resp.error ? " error=" : "",
                c->resp.error ? c->resp.error : "", *note ? " " : "", note);
    else
      log_write(srv->log, LOG_INFO, "%s %s - %llu.%03ums rid=%s closed=%s",
                r->method, r->path, us / 1000u, ms_frac, r->id,
                cut ? "deadline" : termination_name(toe));
  }
  if (r->in_flight)
    atomic_fetch_sub_explicit(&srv->in_flight, 1, memory_order_relaxed);
  r->in_flight = false;
  r->stage = STAGE_IDLE;
  atomic_store(&c->replier, REPLIER_NONE);

  /* Give back what one large request made the buffers grow to. */
  if (c->body.cap > SERVER_KEEP_BODY)
    buf_cleanup(&c->body);
  else
    buf_reset(&c->body);
  if (c->resp.body.cap > SERVER_KEEP_RESPONSE)
    buf_cleanup(&c->resp.body);
  http_response_reset(&c->resp);
  server_set_phase(c, now, server_idle_limit_ns(srv->app->cfg), true);
}
