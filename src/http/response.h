/* response: one HTTP request as the endpoints see it, one response as
 * they write it, and the one writer of a JSON refusal.
 *
 * This is the bottom of http/: the router (routes.h), the endpoint
 * families (api/) and the dashboard (dashboard.h) all write their answers
 * through it, and it needs none of them. server.c fills a request from
 * libmicrohttpd and sends the response. */
#ifndef HTTP_RESPONSE_H
#define HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "http/metrics.h"

struct jsonw;

/* Largest response body: a full batch with every assessment fits. */
#define HTTP_MAX_RESPONSE ((size_t)16 << 20)

#define HTTP_CT_JSON "application/json"

/* One request as received. All strings are borrowed for the call. */
struct http_request {
  const char *method;       /* "GET", "POST", ... as sent */
  const char *path;         /* without the query string */
  const char *content_type; /* the Content-Type header; NULL when absent */
  const char *body;         /* body_len bytes, then a NUL (body[body_len]) */
  size_t body_len;
  const char *authorization; /* the Authorization header; NULL if absent */
  const char *access_token;  /* the ?access_token= query value, or NULL */
  /* Signature headers (NULL when absent): X-Signature-256,
   * X-DevRev-Signature, X-Slack-Signature, X-Slack-Request-Timestamp. */
  const char *signature_256;
  const char *devrev_signature;
  const char *slack_signature;
  const char *slack_timestamp;
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

/* Makes resp a JSON refusal: status, {"error": code, "message": ...}. */
void http_response_error(struct http_response *resp, int status,
                         const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* The same with a finished message and, when index >= 0, the position of
 * the refused item in a batch ("index": N). */
void http_response_error_at(struct http_response *resp, int status,
                            const char *code, const char *message, long index);

/* Ends a JSON body written with w into resp->body: one that could not be
 * written whole (only the size limit can stop jsonw) becomes a 500 rather
 * than a truncated 200. */
void http_response_finish_json(struct jsonw *w, struct http_response *resp);

#endif
