/* routes: the service's endpoints as plain functions: a complete request
 * in, a response out, no socket.
 *
 *   POST /webhook         customer messages (one, or a batch, or a DevRev
 *                         webhook event) -> analysis
 *   POST /slash-analyze   one text (JSON, a Slack slash command or a DevRev
 *                         snap-in command forward) -> verdict
 *   GET  /health          status, version, uptime, detector settings
 *   GET  /metrics         Prometheus text format
 *
 * server.c feeds these from libmicrohttpd; the unit tests and the fuzzer
 * call them directly. routes.c is the router (dispatch, preflight, the
 * strict JSON input); each endpoint family has its file in api/:
 * webhook.c, slash.c, health.c (with /metrics). The dashboard's paths go
 * to dashboard.h. Requests and responses are response.h's types.
 *
 * Authentication, all comparisons constant-time:
 *  - /webhook, when WEBHOOK_SECRET, DEVREV_WEBHOOK_SECRET or API_TOKEN is
 *    set, needs one of: X-Signature-256 (generic senders), X-DevRev-
 *    Signature (DevRev), Authorization: Bearer API_TOKEN. A signature that
 *    is sent but does not verify is refused even if another credential
 *    would pass. DevRev events older (or newer) than SIGNATURE_MAX_AGE are
 *    refused when DEVREV_WEBHOOK_SECRET is set.
 *  - /slash-analyze: a Slack form with SLACK_SIGNING_SECRET set needs
 *    Slack's v0 signature and a fresh timestamp; anything else needs the
 *    bearer token when API_TOKEN is set.
 *  - /api/..., and /metrics with METRICS_REQUIRE_TOKEN: the bearer token.
 * A refused request gets 401 and changes nothing.
 *
 * Every refusal is a JSON body {"error": CODE,
 * "message": TEXT} with the matching status; nothing is done for a refused
 * request (a batch with one bad item is refused whole). */
#ifndef HTTP_ROUTES_H
#define HTTP_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "http/app.h"
#include "http/response.h"
#include "detector/detector.h"
#include "sentiment/polarity.h"
#include "store/store.h"

struct routes_message; /* a parsed /webhook message, private to api/webhook.c */

/* Scratch memory reused from one request to the next (server.c keeps one
 * per connection), so that a warmed-up connection scores without
 * allocating. Not thread-safe: one user at a time.
 *
 * Between routes_begin returning ROUTES_COMMIT and routes_finish, it also
 * holds the /webhook request waiting for its commit: the parsed body the
 * messages point into, the messages to commit and room for their
 * results. */
struct routes_scratch {
  struct polarity_result scores;
  struct detector_result model; /* used when app->detector is set */
  struct buf text;              /* a decoded form field */
  struct buf verdict;           /* analysis_describe's sentence */
  struct routes_message *msgs;
  size_t msgs_cap;

  bool pending;                  /* a commit is outstanding */
  bool batch;                    /* the request was {"messages": [...]} */
  void *json;                    /* the parsed body (cJSON), owned */
  struct ingest_msg *ingest;     /* n_pending messages to commit */
  struct ingest_result *results; /* room for n_pending results */
  size_t n_pending;
  size_t *json_off;   /* per message: its analysis object in strs */
  struct buf strs;    /* analysis objects, deciding words, timestamps */
  struct buf compose; /* a DevRev work's title and body, as one text */
};

void routes_scratch_init(struct routes_scratch *s);
/* Frees s; a request still pending (its commit over) is dropped. */
void routes_scratch_cleanup(struct routes_scratch *s);

/* Checks what is known before the body arrives: path (404), method (405,
 * with Allow), Content-Type (415). Returns true when the request may go
 * on; otherwise resp holds the refusal. Sets resp->route either way. */
bool routes_preflight(const struct app *app, const struct http_request *req,
                      struct http_response *resp);

/* Answers req into resp (reset first). Counts scored messages in
 * app->metrics. Without a store (app->committer NULL) /webhook analyses
 * and stores nothing ("alert": "none"); with one it commits the messages
 * and waits for the commit (committer_submit). Thread-safe across
 * distinct s and resp. */
void routes_handle(struct app *app, struct routes_scratch *s,
                   const struct http_request *req, struct http_response *resp);

/* What the caller of routes_begin does next. */
enum routes_next {
  ROUTES_ANSWER, /* resp holds the answer */
  ROUTES_COMMIT, /* s holds messages to commit; see routes_begin */
};

/* routes_handle for servers that wait for commits without holding a
 * thread. Returns ROUTES_ANSWER with resp filled, or, for a valid /webhook
 * request when app->committer is set, ROUTES_COMMIT: the caller submits
 * s->ingest[0..s->n_pending) with s->results (committer_submit_async;
 * both stay valid, untouched, until routes_finish) and, once the commit
 * is over (or the submission failed), calls routes_finish with its
 * outcome. */
enum routes_next routes_begin(struct app *app, struct routes_scratch *s,
                              const struct http_request *req,
                              struct http_response *resp);

/* Completes a request that routes_begin left at ROUTES_COMMIT: rc is the
 * commit's result (ERR_OK: durable; otherwise 503 store_unavailable, or
 * 500 for anything but ERR_STORE). Writes the answer into resp and
 * releases what the request held in s. A duplicate message_id is answered
 * with the result first stored for it, plus "duplicate": true. Must not
 * be called while the commit is still running. */
void routes_finish(struct app *app, struct routes_scratch *s, enum err rc,
                   struct http_response *resp);

/* Drops a request routes_begin left at ROUTES_COMMIT that was never
 * submitted (the server is stopping), releasing what it held in s. */
void routes_abandon(struct routes_scratch *s);

#endif
