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

/* Statuses counted by value; any other lands under status="other". */
#define METRICS_STATUS_LIST(X)                                                 \
  X(200) X(400) X(404) X(405) X(408) X(413) X(415) X(500) X(503)
#define METRICS_N_STATUSES 10 /* the list above plus "other" */

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
};

/* Sets every counter to zero. */
void metrics_init(struct metrics *m);

/* Counts one answered request of route with HTTP status, which took
 * duration_ns from its request line to its completion. */
void metrics_observe_request(struct metrics *m, enum metrics_route route,
                             int status, uint64_t duration_ns);

/* Counts one scored message at level index level. */
void metrics_count_message(struct metrics *m, size_t level, bool frustrated);

/* The "route" label value of route ("webhook", "slash_analyze", ...). */
const char *metrics_route_name(enum metrics_route route);

/* Appends the exposition text of every metric to out; level names come
 * from cfg. Returns ERR_TOO_BIG when out's limit is reached. */
enum err metrics_render(struct metrics *m, const struct config *cfg,
                        double uptime_s, struct buf *out);

#endif
