/* app: what the HTTP service shares between its threads.
 *
 * One struct app lives for the whole run of `serve`: the read-only
 * configuration and lexicon, the metrics, the start time and the source of
 * request ids. Request handlers get it by pointer and never change it
 * except through the atomics inside. Later parts of the service (the store,
 * the outbox) are added here as fields, so routes reach them the same way. */
#ifndef HTTP_APP_H
#define HTTP_APP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "config/config.h"
#include "http/metrics.h"
#include "analysis/analysis.h"

/* Room for a request id: ours are 17 (or 25) characters; a client's
 * X-Request-Id is echoed when it is at most APP_REQUEST_ID_MAX - 1 safe
 * characters. */
#define APP_REQUEST_ID_MAX 65

struct committer;
struct outbox;
struct dashboard;
struct feedback;

struct log; /* base/log.h */

struct app {
  const struct config *cfg; /* borrowed; read-only */
  /* Borrowed; set by serve before the server starts, NULL otherwise.
   * Without a committer /webhook analyses and stores nothing; without an
   * outbox /health and /metrics show no delivery state. */
  struct committer *committer;
  struct outbox *outbox;
  /* Borrowed; set by serve: /api/stats and /api/stream (NULL: /api/stats
   * answers 503 and nothing is published). */
  struct dashboard *dashboard;
  /* Borrowed; set by serve: POST /api/feedback's store (NULL: 503). */
  struct feedback *feedback;
  /* Borrowed; set by serve (NULL: nothing is logged by the app's parts
   * that log, such as the dashboard's live feed). */
  const struct log *log;
  /* Owned; read-only after app_init: the polarity lexicons. */
  struct analysis_lexicons lexicons;
  /* Owned; read-only after app_init; NULL with FRUSTRATION_DETECTOR=
   * polarity (the model then does not run). */
  struct detector *detector;
  struct metrics metrics;
  uint64_t start_ns;     /* CLOCK_MONOTONIC at app_init */
  int64_t start_unix_ms; /* CLOCK_REALTIME at app_init, for /metrics */
  /* Owned: /health's "detector" object, fixed for the app's life. */
  char *detector_json;
  uint32_t boot_id; /* random; prefixes generated request ids */
  atomic_uint_least64_t next_request; /* counter for request ids */
};

/* Sets up app for cfg (borrowed: it must outlive app) and builds the
 * lexicons. Returns the lexicons' error on failure, with nothing
 * left to clean up. */
enum err app_init(struct app *app, const struct config *cfg);

/* Releases what app_init acquired. */
void app_cleanup(struct app *app);

/* Seconds since app_init. */
double app_uptime_s(const struct app *app);

/* Writes a new unique request id ("1a2b3c4d-0000002a") into out, which has
 * room for APP_REQUEST_ID_MAX bytes. Thread-safe. */
void app_request_id(struct app *app, char *out);

#endif
