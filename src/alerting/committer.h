/* committer: group commit of incoming messages.
 *
 * One writer thread owns its own store handle. Callers on any thread
 * submit a batch of messages and are told when the transaction holding it
 * has committed (synchronous=FULL: on disk). The writer drains everything
 * queued into one transaction, so many concurrent requests share one
 * fsync: throughput grows with concurrency while each caller still gets a
 * durable answer.
 *
 * Failure: when a transaction fails, every submission in it gets the error
 * (ERR_STORE: answer 503) and nothing of it is committed. A submission
 * whose messages are invalid (store_ingest_check) is refused at once with
 * ERR_INVALID and never queued.
 *
 * Backpressure: at most max_queue_msgs messages wait; further submitters
 * block until the writer takes the queue (a single submission larger than
 * the bound is accepted when the queue is empty).
 *
 * All functions are thread-safe except committer_open/committer_close. */
#ifndef ALERTING_COMMITTER_H
#define ALERTING_COMMITTER_H

#include <stddef.h>
#include <stdint.h>

#include "alerting/policy.h"
#include "base/err.h"
#include "config/config.h"
#include "store/store.h"

struct committer; /* opaque */

/* Called once per submission, on the writer thread, when its transaction
 * has committed (rc ERR_OK: results are filled) or failed (rc ERR_STORE:
 * results hold nothing to free). Must not block for long: the next
 * transaction waits for it. May run before committer_submit_async
 * returns. */
typedef void (*committer_done_fn)(void *ctx, enum err rc);

struct committer_options {
  struct alert_policy policy;
  size_t max_queue_msgs; /* 0: 65536 */
  size_t max_batch_msgs; /* messages per transaction; 0: 10000 */
  /* When not NULL: called on the writer thread after a commit that queued
   * outbox entries (alerts created or appended), e.g. outbox_wake. */
  void (*on_outbox)(void *ctx);
  void *on_outbox_ctx;
};

/* Fills o from the configuration (ALERT_COOLDOWN, ALERT_MIN_LEVEL, the
 * levels, ESCALATION and ESCALATE_*) with
 * default queue sizes and no callback. */
void committer_options_from_config(const struct config *cfg,
                                   struct committer_options *o);

/* Opens the store at db_url (see store_open) and starts the writer. On
 * failure writes a message to err and returns its code. Release with
 * committer_close. */
enum err committer_open(const char *db_url, const struct committer_options *o,
                        char *err, size_t errlen, struct committer **out);

/* Commits msgs[0..n) (strings borrowed until it returns) and blocks until
 * the transaction holding them is durable. results has room for n; on
 * ERR_OK each is filled as store_ingest does (free them with
 * store_ingest_result_cleanup). Returns ERR_INVALID (bad message: nothing
 * queued) or ERR_STORE (the transaction failed, or the committer is
 * closing: nothing of msgs is committed). */
enum err committer_submit(struct committer *c, const struct ingest_msg *msgs,
                          size_t n, struct ingest_result *results);

/* The same without blocking for the commit (it may block for queue room):
 * on ERR_OK, done(ctx, rc) is called exactly once later; msgs (and their
 * strings) and results must stay valid until then. On an error return
 * (ERR_INVALID, ERR_STORE when closing) done is never called. For servers
 * that suspend a request instead of holding a thread. */
enum err committer_submit_async(struct committer *c,
                                const struct ingest_msg *msgs, size_t n,
                                struct ingest_result *results,
                                committer_done_fn done, void *ctx);

struct committer_stats {
  uint64_t transactions; /* committed */
  uint64_t messages;     /* committed (duplicates included) */
  uint64_t failed_transactions;
  uint64_t submissions;
  size_t queued_msgs;     /* waiting now */
  size_t last_batch_msgs; /* messages in the last transaction */
  size_t max_batch_msgs_seen;
  int64_t last_commit_ms; /* wall clock; 0: none yet */
  enum err last_rc;       /* of the last transaction, or of the idle
                           * writer's check of the store */
  char last_error[256];   /* detail of the last failure; "" none */
  int64_t clock_offset_ms; /* the store's clock minus this machine's, as
                            * last measured (store_now_ms); 0 on SQLite */
};

/* A consistent snapshot of the counters (for /health and /metrics). */
void committer_stats(struct committer *c, struct committer_stats *out);
/* Now, epoch ms, on the store's clock as the writer last measured it
 * (store_now_ms): what stored times are compared with (the dashboard's
 * buckets). Thread-safe; NULL c: this machine's clock. */
int64_t committer_now_ms(struct committer *c);

/* Commits everything submitted so far, refuses new submissions (ERR_STORE),
 * stops the writer, closes its store and frees c. NULL is fine. */
void committer_close(struct committer *c);

#endif
