/* routes: the service's endpoints as plain functions: a complete request
 * in, a response out, no socket.
 *
 *   POST /webhook         customer messages (one, or a batch) -> analysis
 *   POST /slash-analyze   one text (JSON or a Slack slash command) -> verdict
 *   GET  /health          status, version, uptime, detector settings
 *   GET  /metrics         Prometheus text format
 *
 * server.c feeds these from libmicrohttpd; the unit tests and the fuzzer
 * call them directly. Every refusal is a JSON body {"error": CODE,
 * "message": TEXT} with the matching status; nothing is done for a refused
 * request (a batch with one bad item is refused whole). */
#ifndef HTTP_ROUTES_H
#define HTTP_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "http/app.h"
#include "http/metrics.h"
#include "sentiment/polarity.h"

/* Largest response body: a full batch with every assessment fits. */
#define ROUTES_MAX_RESPONSE ((size_t)16 << 20)

/* One request as received. All strings are borrowed for the call. */
struct http_request {
  const char *method;       /* "GET", "POST", ... as sent */
  const char *path;         /* without the query string */
  const char *content_type; /* the Content-Type header; NULL when absent */
  const char *body;         /* body_len bytes, then a NUL (body[body_len]) */
  size_t body_len;
};

/* One response. The strings are static; the body is owned. */
struct http_response {
  int status;
  const char *content_type;
  const char *allow;        /* the Allow header of a 405; NULL otherwise */
  const char *error;        /* the error code of a refusal; NULL otherwise */
  enum metrics_route route; /* what the request is counted under */
  struct buf body;
  struct buf note; /* words for the request's log line ("" if none) */
};

void http_response_init(struct http_response *resp);
/* Forgets the previous response but keeps the memory for the next one. */
void http_response_reset(struct http_response *resp);
void http_response_cleanup(struct http_response *resp);

struct routes_message; /* a parsed /webhook message, private to routes.c */

/* Scratch memory reused from one request to the next (server.c keeps one
 * per connection), so that a warmed-up connection scores without
 * allocating. Not thread-safe: one user at a time. */
struct routes_scratch {
  struct polarity_result scores;
  struct buf text;    /* a decoded form field */
  struct buf verdict; /* analysis_describe's sentence */
  struct routes_message *msgs;
  size_t msgs_cap;
};

void routes_scratch_init(struct routes_scratch *s);
void routes_scratch_cleanup(struct routes_scratch *s);

/* Checks what is known before the body arrives: path (404), method (405,
 * with Allow), Content-Type (415). Returns true when the request may go
 * on; otherwise resp holds the refusal. Sets resp->route either way. */
bool routes_preflight(const struct app *app, const struct http_request *req,
                      struct http_response *resp);

/* Answers req into resp (reset first). Counts scored messages in
 * app->metrics; changes nothing else. Thread-safe across distinct s and
 * resp. */
void routes_handle(struct app *app, struct routes_scratch *s,
                   const struct http_request *req, struct http_response *resp);

/* Makes resp a JSON refusal: status, {"error": code, "message": ...}. */
void routes_error(struct http_response *resp, int status, const char *code,
                  const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
