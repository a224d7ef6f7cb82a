/* dashboard: the live web page and the data behind it.
 *
 *   GET /, /dashboard   the page (web/index.html, embedded at build time)
 *   GET /static/NAME    its script, style and charting library
 *   GET /api/stats      aggregates from the store as JSON (docs/api.md)
 *   GET /api/stream     server-sent events (sse.h; streamed by server.c)
 *
 * The files of web/ and the bundled charting library are compiled into
 * the binary by tools/webgen.py (build/gen/web_data.c), so the page needs
 * no other server and no network.
 *
 * /api/stats reads the store through its own read-only connection
 * (store_stats.h), opened on first use, and is computed at most once per
 * DASHBOARD_CACHE_MS whatever the number of viewers: concurrent requests
 * wait for the one computing it and share its answer.
 *
 * Live updates: every committed message becomes an "event: message" (and
 * "event: alert" when it opened or joined an alert) on the hub; the hub's
 * tick publishes "event: outbox" when the delivery counters move (they
 * are the store's, so they include every instance's deliveries). Where the
 * message events come from depends on the store:
 *  - SQLite (one serve per file): the webhook endpoint (api/webhook.c)
 *    calls dashboard_publish_message for every message it committed;
 *  - PostgreSQL (any number of serve processes on one database): a thread
 *    of the dashboard follows the messages table (store_events.h), woken
 *    by the committing transactions' notifications and reading at least
 *    every DASHBOARD_LIVE_POLL_MS, and publishes every instance's
 *    messages, this one's included; dashboard_publish_message then
 *    publishes nothing, so no message shows twice. */
#ifndef HTTP_API_DASHBOARD_H
#define HTTP_API_DASHBOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "config/config.h"
#include "http/app.h"
#include "http/response.h"
#include "store/store.h"

/* With a shared store: the longest a feed waits for a notification before
 * it reads the store anyway (store_events.h). */
#define DASHBOARD_LIVE_POLL_MS 1000

/* How long one /api/stats answer is reused. */
#define DASHBOARD_CACHE_MS 1000

/* Customers listed in /api/stats "top_customers". */
#define DASHBOARD_TOP_CUSTOMERS 10

/* One embedded file (generated into build/gen/web_data.c). */
struct dashboard_file {
  const char *path;         /* URL path: "/static/app.js" */
  const char *content_type; /* "text/javascript; charset=utf-8" */
  const unsigned char *data;
  size_t len;
};

extern const struct dashboard_file dashboard_files[];
extern const size_t dashboard_n_files;

/* The embedded file served at path ("/" and "/dashboard" are
 * "/index.html"); NULL when there is none. */
const struct dashboard_file *dashboard_file_find(const char *path);

struct dashboard; /* opaque */

/* Makes the dashboard of app (borrowed: it must outlive the dashboard;
 * its committer and outbox are read when used, so they may be set later)
 * and starts its event hub and, for a PostgreSQL DATABASE_URL, the feed's
 * thread, which connects on its own (and again after a failure). Other
 * store I/O waits for the first /api/stats. ERR_INTERNAL if a thread
 * cannot start. Release with dashboard_free. */
enum err dashboard_new(struct app *app, struct dashboard **out);

/* The event hub, for server.c's sse_respond; NULL for a NULL d. */
struct sse_hub *dashboard_hub(struct dashboard *d);

/* Stops the feed's thread and ends the event streams (sse_hub_shutdown):
 * call before stopping the HTTP daemon. NULL is fine. */
void dashboard_shutdown(struct dashboard *d);

/* Stops the hub and frees d; the HTTP daemon must be stopped. NULL is
 * fine. */
void dashboard_free(struct dashboard *d);

/* True for the paths this module answers (GET or HEAD only). */
bool dashboard_owns(const char *path);

/* True for GET /api/stream, which server.c streams with sse_respond. */
bool dashboard_is_stream(const char *path);

/* The one place where the dashboard's access is decided: with API_TOKEN
 * set, the paths auth.h guards (/api/..., the stream included) need the
 * bearer token or ?access_token=; the page's static files never do. */
bool dashboard_authorized(const struct dashboard *d,
                          const struct http_request *req);

/* Answers a GET (or HEAD) of a dashboard path into resp: an embedded
 * file, /api/stats (503 when d is NULL), or (called without server.c's
 * streaming) a 501 for /api/stream. Thread-safe. */
void dashboard_handle(struct dashboard *d, const struct http_request *req,
                      struct http_response *resp);

/* Publishes one committed message to the live page (no-op without a
 * hub, for a duplicate, and with a PostgreSQL store, whose feed publishes
 * it). Thread-safe; never blocks on a viewer. */
void dashboard_publish_message(struct dashboard *d, const struct ingest_msg *m,
                               const struct ingest_result *r, int64_t now_ms);

/* The hub's tick (sse_options.tick, ctx: the dashboard): publishes
 * "event: outbox" when the outbox's counters changed since the last call.
 */
void dashboard_tick(void *d);

#endif
