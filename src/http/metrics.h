/* metrics: the service's counters, rendered in the Prometheus text
 * exposition format (version 0.0.4) for GET /metrics.
 *
 * Every counter is a C11 atomic updated with relaxed ordering, so request
 * threads count without locks; a scrape reads each value once and may see
 * a request counted in one series and not yet in another, which Prometheus
 * tolerates. A struct metrics is owned by the app; nothing here is global. */
#ifndef HTTP_METRICS_H
#define HTTP_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "config/config.h"

/* The routes requests are counted under (the "route" label). */
enum metrics_route {
  METRICS_ROUTE_WEBHOOK,
  METRICS_ROUTE_SLASH,
  METRICS_ROUTE_HEALTH,
  METRICS_ROUTE_METRICS,
  METRICS_ROUTE_OTHER, /* unknown paths */
  METRICS_N_ROUTES
};

/* What a /webhook message did to alerts (the "outcome" label). */
enum metrics_alert {
  METRICS_ALERT_NONE,
  METRICS_ALERT_CREATED,
  METRICS_ALERT_APPENDED,
  METRICS_ALERT_DUPLICATE,
  METRICS_N_ALERTS
};

/* Statuses counted by value; any other lands under status="other". */
#define METRICS_STATUS_LIST(X)                                                 \
  X(200) X(400) X(401) X(404) X(405) X(408) X(413) X(415) X(429) X(431)   \
      X(500) X(503)
#define METRICS_N_STATUSES 13 /* the list above plus "other" */

/* Upper bounds of the latency histogram, in seconds: from 50 us (a scored
 * message on this machine) to 10 s (the default request deadline). */
#define METRICS_N_BUCKETS 16

struct metrics {
  atomic_uint_least64_t requests[METRICS_N_ROUTES][METRICS_N_STATUSES];
  /* Per route: non-cumulative bucket counts, the last one for +Inf. */
  atomic_uint_least64_t duration[METRICS_N_ROUTES][METRICS_N_BUCKETS + 1];
  atomic_uint_least64_t duration_ns_sum[METRICS_N_ROUTES];
  atomic_uint_least64_t messages[CONFIG_MAX_LEVELS]; /* by level index */
  atomic_uint_least64_t frustrated;
  atomic_uint_least64_t connections_total;
  atomic_int_least64_t connections_open;
  atomic_uint_least64_t requests_cut; /* over the per-request deadline */
  /* At the connection limit: idle connections closed to serve a new
   * one, and new ones answered 503 because none was idle. */
  atomic_uint_least64_t connections_evicted;
  atomic_uint_least64_t connections_busy;
  atomic_uint_least64_t alerts[METRICS_N_ALERTS]; /* committed messages */
  atomic_uint_least64_t store_unavailable;        /* /webhook answered 503 */
};

/* The state of the store and the delivery worker at one scrape, as plain
 * numbers (the caller reads them from the committer and the outbox). */
struct metrics_backend {
  int64_t start_unix_ms; /* the server's start, epoch ms */
  bool have_store;
  uint64_t commits, commit_failures, messages_committed, submissions;
  uint64_t last_batch_msgs, max_batch_msgs, queued_msgs;
  bool have_outbox;
  bool delivering;
  int64_t pending, dead, oldest_pending_age_ms, last_success_ms;
  int64_t oldest_pending_ms; /* the oldest pending entry's creation; 0 */
  int64_t attempts, failures;
  bool auth_failing;     /* DevRev refuses the token: delivery paused */
  int64_t auth_failures; /* 401/403 answers since the process started */
};

/* Sets every counter to zero. */
void metrics_init(struct metrics *m);

/* Counts one answered request of route with HTTP status, which took
 * duration_ns from its request line to its completion. */
void metrics_observe_request(struct metrics *m, enum metrics_route route,
                             int status, uint64_t duration_ns);

/* Counts one scored message at level index level. */
void metrics_count_message(struct metrics *m, size_t level, bool frustrated);

/* Counts one committed message by what it did to alerts. */
void metrics_count_alert(struct metrics *m, enum metrics_alert a);

/* The "route" label value of route ("webhook", "slash_analyze", ...). */
const char *metrics_route_name(enum metrics_route route);

/* Appends the exposition text of every metric to out; level names come
 * from cfg. Returns ERR_TOO_BIG when out's limit is reached. */
enum err metrics_render(struct metrics *m, const struct config *cfg,
                        double uptime_s, struct buf *out);

/* Appends the store and delivery series (fa_store_*, fa_outbox_*,
 * fa_delivery_*) for what b has. Returns ERR_TOO_BIG at out's limit. */
enum err metrics_render_backend(const struct metrics_backend *b,
                                struct buf *out);

#endif
