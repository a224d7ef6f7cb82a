/* routes_int: what the router (routes.c) and the endpoint families
 * (api/webhook.c, api/slash.c, api/health.c) share. Private to http/:
 * routes.h is the public map.
 *
 * Every endpoint family answers one request into resp from the scratch
 * of its connection; a refusal is built in a struct routes_fail and
 * written once (routes_fail_write), so nothing is done for a refused
 * request. */
#ifndef HTTP_ROUTES_INT_H
#define HTTP_ROUTES_INT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "http/routes.h"

/* Longest identifier fields (customer_id, message_id, ...), in bytes. */
#define ROUTES_MAX_ID 256
/* Longest lang and timestamp strings, in bytes. */
#define ROUTES_MAX_SHORT 64

/* A refusal being built: where in a batch (index >= 0) and what. */
struct routes_fail {
  int status;
  const char *code;
  long index; /* -1 outside a batch */
  char message[256];
};

/* Sets f's status, code and message (printf-style). */
void routes_fail_set(struct routes_fail *f, int status, const char *code,
                     const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Makes resp the JSON refusal f describes. */
void routes_fail_write(const struct routes_fail *f, struct http_response *resp);

enum routes_media {
  ROUTES_MEDIA_NONE, /* no Content-Type */
  ROUTES_MEDIA_JSON,
  ROUTES_MEDIA_FORM,
  ROUTES_MEDIA_OTHER,
};

/* Classifies a Content-Type value (NULL: ROUTES_MEDIA_NONE). */
enum routes_media routes_media_type(const char *ct);

/* Parses req's body as one JSON object, strictly (routes.c says what is
 * refused); on failure fills f and returns NULL. The caller frees the
 * result with cJSON_Delete. */
cJSON *routes_parse_json(const struct app *app, const struct http_request *req,
                         struct routes_fail *f);

/* Reads an optional string field of at most max bytes: absent or null
 * leaves *out NULL. False, with f filled, for anything else. */
bool routes_opt_string(const cJSON *obj, const char *name, size_t max,
                       const char **out, struct routes_fail *f);

/* Reads the optional "lang" field: a language code such as "fr" or
 * "pt-BR" (analysis_lang_valid); absent or null leaves *out NULL. False,
 * with f filled (400 invalid_lang), for anything else. */
bool routes_opt_lang(const cJSON *obj, const char **out,
                     struct routes_fail *f);

/* Appends a printable excerpt of text to the log note (LOG_MESSAGE_TEXT). */
void routes_note_text(const struct app *app, struct http_response *resp,
                      const char *text, size_t len);

/* ---- the endpoint families, one file each under api/ ---------------- */

/* POST /webhook (api/webhook.c): one message, a batch, or a DevRev
 * event. With app->committer set, a valid request is left pending in s
 * for routes_begin's caller; otherwise it is answered at once. */
void api_webhook_handle(struct app *app, struct routes_scratch *s,
                        const struct http_request *req,
                        struct http_response *resp);
/* routes_finish (routes.h). */
void api_webhook_finish(struct app *app, struct routes_scratch *s, enum err rc,
                        struct http_response *resp);
/* Frees what a pending /webhook request holds in s; no-op if none. */
void api_webhook_release(struct routes_scratch *s);

/* POST /slash-analyze (api/slash.c): JSON, a Slack slash command or a
 * DevRev snap-in command forward. */
void api_slash_handle(struct app *app, struct routes_scratch *s,
                      const struct http_request *req,
                      struct http_response *resp);

/* POST /api/feedback (api/feedback.c): the team's label of a stored
 * message (app->feedback NULL: 503). */
void api_feedback_handle(struct app *app, struct routes_scratch *s,
                         const struct http_request *req,
                         struct http_response *resp);

/* GET /health and GET /metrics (api/health.c). */
void api_health_handle(struct app *app, struct routes_scratch *s,
                       const struct http_request *req,
                       struct http_response *resp);
void api_metrics_handle(struct app *app, struct routes_scratch *s,
                        const struct http_request *req,
                        struct http_response *resp);

#endif
