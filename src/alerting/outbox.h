/* outbox: the delivery worker that tells DevRev what the store's outbox
 * holds, until DevRev has it.
 *
 * One thread with its own store handle and DevRev client. It claims the
 * oldest due entry (a comment waits for its alert's ticket), sends it,
 * records the attempt, and:
 *  - success: done; for create_ticket the ticket id goes on the alert;
 *  - 5xx, 408, network error: retry after exponential backoff with full
 *    jitter (base, doubling per attempt, capped);
 *  - 429: waits Retry-After, at most retry_after_max_ms (the whole worker
 *    pauses: the limit is per token, across endpoints);
 *  - 401, 403: DevRev refuses the token, a configuration fault: the entry
 *    stays pending and the whole worker pauses with exponential backoff
 *    (base, doubling per refusal in a row, capped; no jitter: one worker),
 *    logging an error each time, until a request gets through; the stats
 *    say so (auth_failing) for /health and /metrics. Nothing is dropped;
 *  - other 4xx: dead letter with DevRev's error; a dead create_ticket
 *    takes the alert's pending comments with it.
 *
 * No duplicate tickets: DevRev has no idempotency key, so a create_ticket
 * is marked "outcome unknown" in the store before it is sent, and keeps
 * the mark when no clear answer came back (timeout, reset, 5xx other than
 * 503). Before the next attempt the worker lists tickets created since
 * the first attempt (minus a margin for clock skew) and adopts the one
 * whose body ends with the alert's marker line; it creates a ticket only
 * when the lookup answered and found none. A crash mid-request leaves the
 * mark in place, so a restart looks up too. Comments (on the ticket and
 * on the source object) are marked and looked up the same way, by the
 * line naming their outbox entry above the marker line, among the
 * object's internal timeline entries. Severity updates and works.update
 * of the source are sent again after an unknown outcome: setting a field
 * to the same value twice changes nothing.
 *
 * Two lanes per alert. The alert's ticket (create_ticket, then comment and
 * update_severity on it) and the message's own DevRev object
 * (source_comment: an internal comment on the conversation or ticket the
 * customer wrote on; update_source: works.update of that ticket's
 * severity and/or sentiment). The source lane needs no ticket and is not
 * held up by one that cannot be made; it is retried, rate limited and
 * dead-lettered like the other. A source entry without source_object is
 * a dead letter; an update_source with neither field to set is done
 * without a request.
 *
 * Record-only mode (no DEVREV_API_TOKEN): nothing is sent; pending entries
 * are marked `skipped` so the backlog does not grow and a later token does
 * not flood DevRev with stale alerts. The alerts stay in the store;
 * outbox_stats reports the mode.
 *
 * Latency: outbox_wake (e.g. from the committer after a commit that
 * queued entries) wakes the worker at once; it also wakes every tick_ms,
 * and when the next retry is due. */
#ifndef ALERTING_OUTBOX_H
#define ALERTING_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devrev/client.h"
#include "base/err.h"
#include "base/log.h"
#include "config/config.h"

struct outbox; /* opaque */

struct outbox_options {
  const char *db_url;          /* store URL (see store_open) */
  struct devrev_config devrev; /* token NULL or "": record-only mode */
  int64_t backoff_base_ms;     /* 0: 1000 */
  int64_t backoff_max_ms;      /* 0: 300000 */
  int64_t tick_ms;             /* periodic wake-up; 0: 1000 */
  int64_t lookup_margin_ms;    /* lookups start this much before the first
                                * attempt; 0: 10 minutes */
  int64_t lease_ms;            /* how long a claim keeps an entry from other
                                * workers; 0: 5 minutes */
  int64_t text_retention_ms;   /* purge message text older than this; 0:
                                * keep it */
  int64_t retry_after_max_ms;  /* longest pause a 429 causes; 0: 300000 */
  const struct log *log;       /* NULL: silent. Never logs tokens or text */
};

/* Fills o from cfg (strings borrowed from cfg: keep it alive while the
 * worker runs): DATABASE_URL, DEVREV_* (DEVREV_RETRY_AFTER_MAX too),
 * OUTBOX_BACKOFF_*,
 * MESSAGE_TEXT_RETENTION_DAYS. */
void outbox_options_from_config(const struct config *cfg,
                                struct outbox_options *o);

/* Opens its own store handle, makes this process the store's one serving
 * instance (store_own), releases leases a previous process left, and
 * starts the worker thread. On failure writes a message to err and
 * returns its code (ERR_INVALID for an incomplete DevRev config, ERR_BUSY
 * when another process owns the store: err names its pid). Stop with
 * outbox_stop. */
enum err outbox_start(const struct outbox_options *o, char *err, size_t errlen,
                      struct outbox **out);

/* Wakes the worker to look for new entries. Thread-safe and cheap. */
void outbox_wake(struct outbox *ob);

/* outbox_wake for a void * callback (committer_options.on_outbox). */
void outbox_wake_cb(void *ob);

struct outbox_stats {
  bool delivering;               /* false: record-only mode */
  const char *mode;              /* "deliver" or "record-only" (static) */
  int64_t pending;               /* entries still to deliver */
  int64_t dead;                  /* dead letters */
  int64_t oldest_pending_age_ms; /* 0 when nothing is pending */
  int64_t oldest_pending_ms;     /* its creation, epoch ms; 0: none */
  int64_t last_success_ms;       /* epoch ms of the last answered request;
                                  * 0: never */
  int64_t attempts;              /* requests ever recorded */
  int64_t failures;              /* of which failed */
  int64_t rate_limited_until_ms; /* epoch ms while paused by a 429, else 0 */
  bool store_ok;                 /* the worker's last store call worked */
  bool auth_failing;             /* DevRev refused the token (401/403) and
                                  * no request got through since */
  int64_t auth_failing_since_ms; /* epoch ms of the first refusal; 0 */
  int64_t auth_retry_at_ms;      /* epoch ms of the next try; 0 */
  int64_t auth_failures;         /* refusals since the process started */
  char auth_error[320];          /* the last refusal; "" none */
  char last_error[256];          /* of the newest failed attempt or store
                                  * call; "" none */
};

/* A snapshot, refreshed by the worker after every delivery and wake-up
 * (at most tick_ms old). Thread-safe: for /health and /metrics. */
void outbox_stats(struct outbox *ob, struct outbox_stats *out);

/* Stops the worker: a request in flight is cut short (recorded as an
 * unknown outcome if it was sent), the thread is joined, everything
 * freed. NULL is fine. */
void outbox_stop(struct outbox *ob);

#endif
