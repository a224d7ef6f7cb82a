/* metrics: lock-free counters and their Prometheus text rendering.
 *
 * The histogram keeps non-cumulative bucket counts (one atomic increment
 * per observation) and adds them up when rendering, as the exposition
 * format wants cumulative "le" buckets. Series whose value is zero are
 * still written for the fixed label sets (routes, levels), so dashboards
 * see them from the first scrape; request counters by status appear once
 * they count something. */
#include "http/metrics.h"

#include <stdarg.h>
#include <stdio.h>

static const double bucket_bounds[METRICS_N_BUCKETS] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   10.0};

static const int status_values[] = {
#define X(code) code,
    METRICS_STATUS_LIST(X)
#undef X
};
#define N_KNOWN_STATUSES (sizeof status_values / sizeof status_values[0])

static const char *const alert_names[METRICS_N_ALERTS] = {
    "none", "created", "appended", "duplicate"};

static const char *const route_names[METRICS_N_ROUTES] = {
    "webhook", "slash_analyze", "health", "metrics", "other"};

static void zero(atomic_uint_least64_t *a, size_t n)
{
  for (size_t i = 0; i < n; i++)
    atomic_init(&a[i], 0);
}

void metrics_init(struct metrics *m)
{
  for (size_t r = 0; r < METRICS_N_ROUTES; r++) {
    zero(m->requests[r], METRICS_N_STATUSES);
    zero(m->duration[r], METRICS_N_BUCKETS + 1);
  }
  zero(m->duration_ns_sum, METRICS_N_ROUTES);
  zero(m->messages, CONFIG_MAX_LEVELS);
  atomic_init(&m->frustrated, 0);
  atomic_init(&m->connections_total, 0);
  atomic_init(&m->connections_open, 0);
  atomic_init(&m->requests_cut, 0);
  atomic_init(&m->connections_evicted, 0);
  atomic_init(&m->connections_busy, 0);
  zero(m->alerts, METRICS_N_ALERTS);
  atomic_init(&m->store_unavailable, 0);
}

void metrics_count_alert(struct metrics *m, enum metrics_alert a)
{
  if (a < METRICS_N_ALERTS)
    atomic_fetch_add_explicit(&m->alerts[a], 1, memory_order_relaxed);
}

const char *metrics_route_name(enum metrics_route route)
{
  return route < METRICS_N_ROUTES ? route_names[route] : "other";
}

static size_t status_slot(int status)
{
  for (size_t i = 0; i < N_KNOWN_STATUSES; i++)
    if (status_values[i] == status)
      return i;
  return N_KNOWN_STATUSES;
}

void metrics_observe_request(struct metrics *m, enum metrics_route route,
                             int status, uint64_t duration_ns)
{
  if (route >= METRICS_N_ROUTES)
    route = METRICS_ROUTE_OTHER;
  atomic_fetch_add_explicit(&m->requests[route][status_slot(status)], 1,
                            memory_order_relaxed);
  double s = (double)duration_ns / 1e9;
  size_t b = 0;
  while (b < METRICS_N_BUCKETS && s > bucket_bounds[b])
    b++;
  atomic_fetch_add_explicit(&m->duration[route][b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&m->duration_ns_sum[route], duration_ns,
                            memory_order_relaxed);
}

void metrics_count_message(struct metrics *m, size_t level, bool frustrated)
{
  if (level < CONFIG_MAX_LEVELS)
    atomic_fetch_add_explicit(&m->messages[level], 1, memory_order_relaxed);
  if (frustrated)
    atomic_fetch_add_explicit(&m->frustrated, 1, memory_order_relaxed);
}

static uint64_t get(atomic_uint_least64_t *a)
{
  return (uint64_t)atomic_load_explicit(a, memory_order_relaxed);
}

/* The output with a sticky error: once an append fails, the rest are
 * skipped and the first error is returned. */
struct render {
  struct buf *out;
  enum err rc;
};

static void put(struct render *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void put(struct render *r, const char *fmt, ...)
{
  if (r->rc)
    return;
  va_list ap;
  va_start(ap, fmt);
  r->rc = buf_vprintf(r->out, fmt, ap);
  va_end(ap);
}

static void header(struct render *r, const char *name, const char *type,
                   const char *help)
{
  put(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values here are our own names (routes, configured level names,
 * which config restricts to short strings); escape what the format
 * requires anyway: backslash, double quote and newline. */
static void label_value(struct render *r, const char *s)
{
  for (; *s; s++) {
    if (*s == '\n')
      put(r, "\\n");
    else if (*s == '\\' || *s == '"')
      put(r, "\\%c", *s);
    else
      put(r, "%c", *s);
  }
}

static void render_requests(struct metrics *m, struct render *r)
{
  header(r, "fa_http_requests_total", "counter",
         "HTTP requests answered, by route and status.");
  for (size_t rt = 0; rt < METRICS_N_ROUTES; rt++) {
    for (size_t s = 0; s < METRICS_N_STATUSES; s++) {
      uint64_t v = get(&m->requests[rt][s]);
      if (v == 0)
        continue;
      if (s < N_KNOWN_STATUSES)
        put(r, "fa_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
            route_names[rt], status_values[s], (unsigned long long)v);
      else
        put(r,
            "fa_http_requests_total{route=\"%s\",status=\"other\"} "
            "%llu\n",
            route_names[rt], (unsigned long long)v);
    }
  }
}

static void render_durations(struct metrics *m, struct render *r)
{
  header(r, "fa_http_request_duration_seconds", "histogram",
         "Time from request line to completed response.");
  for (size_t rt = 0; rt < METRICS_N_ROUTES; rt++) {
    uint64_t cum = 0;
    for (size_t b = 0; b <= METRICS_N_BUCKETS; b++) {
      cum += get(&m->duration[rt][b]);
      if (b < METRICS_N_BUCKETS)
        put(r,
            "fa_http_request_duration_seconds_bucket{route=\"%s\","
            "le=\"%g\"} %llu\n",
            route_names[rt], bucket_bounds[b], (unsigned long long)cum);
      else
        put(r,
            "fa_http_request_duration_seconds_bucket{route=\"%s\","
            "le=\"+Inf\"} %llu\n",
            route_names[rt], (unsigned long long)cum);
    }
    put(r, "fa_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n",
        route_names[rt], (double)get(&m->duration_ns_sum[rt]) / 1e9);
    put(r, "fa_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
        route_names[rt], (unsigned long long)cum);
  }
}

enum err metrics_render(struct metrics *m, const struct config *cfg,
                        double uptime_s, struct buf *out)
{
  struct render rd = {out, ERR_OK};
  struct render *r = &rd;
  header(r, "fa_build_info", "gauge", "Build information; always 1.");
  put(r, "fa_build_info{version=\"%s\"} 1\n", FA_VERSION);
  header(r, "fa_uptime_seconds", "gauge", "Seconds since the server started.");
  put(r, "fa_uptime_seconds %.3f\n", uptime_s);

  render_requests(m, r);
  render_durations(m, r);

  header(r, "fa_messages_total", "counter",
         "Customer messages scored on /webhook, by level.");
  for (size_t i = 0; i < cfg->n_levels && i < CONFIG_MAX_LEVELS; i++) {
    put(r, "fa_messages_total{level=\"");
    label_value(r, cfg->levels[i].name);
    put(r, "\"} %llu\n", (unsigned long long)get(&m->messages[i]));
  }
  header(r, "fa_frustrated_total", "counter",
         "Customer messages on /webhook judged frustrated.");
  put(r, "fa_frustrated_total %llu\n", (unsigned long long)get(&m->frustrated));

  header(r, "fa_http_connections_total", "counter",
         "TCP connections accepted.");
  put(r, "fa_http_connections_total %llu\n",
      (unsigned long long)get(&m->connections_total));
  header(r, "fa_http_connections_open", "gauge",
         "TCP connections currently open.");
  put(r, "fa_http_connections_open %lld\n",
      (long long)atomic_load_explicit(&m->connections_open,
                                      memory_order_relaxed));
  header(r, "fa_http_requests_cut_total", "counter",
         "Connections closed for exceeding the per-request deadline.");
  put(r, "fa_http_requests_cut_total %llu\n",
      (unsigned long long)get(&m->requests_cut));
  header(r, "fa_http_connections_evicted_total", "counter",
         "Idle connections closed, oldest first, to serve a new one at "
         "MAX_CONNECTIONS or MAX_CONNECTIONS_PER_IP.");
  put(r, "fa_http_connections_evicted_total %llu\n",
      (unsigned long long)get(&m->connections_evicted));
  header(r, "fa_http_connections_busy_total", "counter",
         "New connections answered 503 at the connection limit because no "
         "connection was idle.");
  put(r, "fa_http_connections_busy_total %llu\n",
      (unsigned long long)get(&m->connections_busy));
  header(r, "fa_alerts_total", "counter",
         "Committed /webhook messages by what they did to alerts.");
  for (size_t i = 0; i < METRICS_N_ALERTS; i++)
    put(r, "fa_alerts_total{outcome=\"%s\"} %llu\n", alert_names[i],
        (unsigned long long)get(&m->alerts[i]));
  header(r, "fa_webhook_store_unavailable_total", "counter",
         "/webhook requests refused with 503 because the store failed.");
  put(r, "fa_webhook_store_unavailable_total %llu\n",
      (unsigned long long)get(&m->store_unavailable));
  return r->rc;
}

enum err metrics_render_backend(const struct metrics_backend *b,
                                struct buf *out)
{
  struct render rd = {out, ERR_OK};
  struct render *r = &rd;
  header(r, "fa_start_time_seconds", "gauge",
         "Unix time the server started, in seconds.");
  put(r, "fa_start_time_seconds %.3f\n", (double)b->start_unix_ms / 1e3);
  if (b->have_store) {
    header(r, "fa_store_commits_total", "counter",
           "Store transactions committed (group commits).");
    put(r, "fa_store_commits_total %llu\n", (unsigned long long)b->commits);
    header(r, "fa_store_commit_failures_total", "counter",
           "Store transactions that failed (their requests got 503).");
    put(r, "fa_store_commit_failures_total %llu\n",
        (unsigned long long)b->commit_failures);
    header(r, "fa_store_messages_committed_total", "counter",
           "Messages committed, duplicates included.");
    put(r, "fa_store_messages_committed_total %llu\n",
        (unsigned long long)b->messages_committed);
    header(r, "fa_store_submissions_total", "counter",
           "Requests submitted to the committer.");
    put(r, "fa_store_submissions_total %llu\n",
        (unsigned long long)b->submissions);
    header(r, "fa_store_commit_batch_messages", "gauge",
           "Messages in the last committed transaction.");
    put(r, "fa_store_commit_batch_messages %llu\n",
        (unsigned long long)b->last_batch_msgs);
    header(r, "fa_store_commit_batch_messages_max", "gauge",
           "Most messages seen in one transaction.");
    put(r, "fa_store_commit_batch_messages_max %llu\n",
        (unsigned long long)b->max_batch_msgs);
    header(r, "fa_store_queued_messages", "gauge",
           "Messages waiting for the next transaction.");
    put(r, "fa_store_queued_messages %llu\n",
        (unsigned long long)b->queued_msgs);
  }
  if (b->have_outbox) {
    header(r, "fa_delivery_enabled", "gauge",
           "1 when alerts are delivered to DevRev, 0 in record-only mode.");
    put(r, "fa_delivery_enabled %d\n", b->delivering ? 1 : 0);
    header(r, "fa_outbox_pending", "gauge",
           "Outbox entries still to deliver.");
    put(r, "fa_outbox_pending %lld\n", (long long)b->pending);
    header(r, "fa_outbox_oldest_pending_age_seconds", "gauge",
           "Age of the oldest outbox entry still to deliver (0: none).");
    put(r, "fa_outbox_oldest_pending_age_seconds %.3f\n",
        (double)b->oldest_pending_age_ms / 1e3);
    /* Prometheus' instrumentation guide: export the time of the event,
     * not the time since (time() - x then works across restarts). */
    header(r, "fa_outbox_oldest_pending_timestamp_seconds", "gauge",
           "Unix time the oldest outbox entry still to deliver was "
           "created (0: none).");
    put(r, "fa_outbox_oldest_pending_timestamp_seconds %.3f\n",
        (double)b->oldest_pending_ms / 1e3);
    header(r, "fa_outbox_dead_letters", "gauge",
           "Outbox entries that failed permanently.");
    put(r, "fa_outbox_dead_letters %lld\n", (long long)b->dead);
    header(r, "fa_delivery_attempts_total", "counter",
           "Requests made to DevRev, as recorded in the store.");
    put(r, "fa_delivery_attempts_total %lld\n", (long long)b->attempts);
    header(r, "fa_delivery_failures_total", "counter",
           "Requests to DevRev that failed.");
    put(r, "fa_delivery_failures_total %lld\n", (long long)b->failures);
    header(r, "fa_delivery_auth_failing", "gauge",
           "1 while DevRev refuses the token (401/403) and delivery is "
           "paused; nothing is dropped.");
    put(r, "fa_delivery_auth_failing %d\n", b->auth_failing ? 1 : 0);
    header(r, "fa_delivery_auth_failures_total", "counter",
           "DevRev answers refusing the token (401/403).");
    put(r, "fa_delivery_auth_failures_total %lld\n",
        (long long)b->auth_failures);
    header(r, "fa_delivery_last_success_timestamp_seconds", "gauge",
           "Unix time of the last successful DevRev request (0: never).");
    put(r, "fa_delivery_last_success_timestamp_seconds %.3f\n",
        (double)b->last_success_ms / 1e3);
  }
  return r->rc;
}
