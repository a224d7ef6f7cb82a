/* store_int: what a store backend implements. Private to src/store/.
 *
 * store.c holds what must not differ between backends (URL parsing,
 * transactions); the alert policy above (src/alerting/) calls the record
 * functions of store.h. A backend supplies storage primitives through
 * struct store_ops, the way redis's connection.h makes TCP and TLS
 * interchangeable, and the dashboard's reads through struct
 * store_reader_ops. A new backend (PostgreSQL) implements both and
 * passes tests/unit/test_store*.c (the store, its outbox, the policy over
 * it, and the dashboard's reads).
 *
 * Every primitive sets the handle's message with store_set_error on
 * failure and returns ERR_STORE (or the code documented in store.h). */
#ifndef STORE_STORE_INT_H
#define STORE_STORE_INT_H

#include "store/store.h"
#include "store/store_stats.h"

enum store_tx {
  STORE_TX_BEGIN, /* start a write transaction, taking the lock now */
  STORE_TX_COMMIT,
  STORE_TX_ROLLBACK,
  /* Inside a transaction: a write that changes nothing, so that its
   * commit tells whether the store can make a write durable (a full disk
   * or a read-only server fail it; an empty transaction does not). */
  STORE_TX_TOUCH,
};

/* The outbox kinds a claim marks "outcome unknown" while in flight, as
 * SQL: those of store_kind_looks_up. */
#define LOOKUP_KINDS "('create_ticket', 'comment', 'source_comment')"

/* Options of a URL, parsed by store.c. */
struct store_url_opts {
  long busy_timeout_ms; /* how long a writer waits for the lock */
  int synchronous;      /* 0 off, 1 normal, 2 full */
};

/* Backends read their rows back with these (store.c): the inverses of
 * store_alert_name ("none" for anything else, NULL included),
 * store_kind_name ("comment") and store_state_name ("pending"). */
enum store_alert store_alert_parse(const char *s);
enum store_kind store_kind_parse(const char *s);
enum store_state store_state_parse(const char *s);

struct store_ops {
  const char *name;
  void (*close)(struct store *st);
  enum err (*schema_version)(struct store *st, int *out);
  enum err (*tx)(struct store *st, enum store_tx op);
  /* Optional (NULL: nothing to do): store_prepare_batch. */
  enum err (*prepare_batch)(struct store *st,
                            const struct ingest_msg *const *msgs, size_t n);

  /* Record primitives of the alert policy (store.h: store_msg_find ...),
   * called inside a transaction. */
  enum err (*msg_find)(struct store *st, const char *message_id,
                       struct ingest_result *out, bool *found);
  enum err (*msg_insert)(struct store *st, const struct ingest_msg *m,
                         enum store_alert outcome, int64_t alert_id,
                         int64_t now_ms, int64_t *row_id);
  /* The customer's open alert (key, level, severity, activity, count). */
  enum err (*alert_find_open)(struct store *st, const char *customer_id,
                              struct store_alert_row *out, bool *found);
  /* Inserts a (sets a->id). */
  enum err (*alert_insert)(struct store *st, struct store_alert_row *a);
  /* Writes a's level, level_name, severity, open, last_activity_ms and
   * message_count. */
  enum err (*alert_update)(struct store *st, const struct store_alert_row *a);
  enum err (*outbox_insert)(struct store *st, int64_t alert_id,
                            enum store_kind kind, const char *payload,
                            int64_t now_ms);
  /* The customer's window as JSON (owned; NULL when there is none). */
  enum err (*window_get)(struct store *st, const char *customer_id,
                         char **json);
  enum err (*window_put)(struct store *st, const char *customer_id,
                         const char *json, int64_t now_ms);

  /* The rest of store.h, one to one. */
  enum err (*purge_text)(struct store *st, int64_t older_than_ms,
                         size_t max_rows, size_t *purged);
  /* The message stored under message_id or, when message_id is NULL,
   * as row row_id (store_message_get_row). */
  enum err (*message_get)(struct store *st, const char *message_id,
                          int64_t row_id, struct store_message *out,
                          bool *found);
  enum err (*alert_get)(struct store *st, int64_t id,
                        struct store_alert_row *out);
  /* store_label_write with its arguments checked; l's answer fields are
   * zero. */
  enum err (*label_set)(struct store *st, const char *message_id,
                        int64_t row_id, const char *by, int64_t now_ms,
                        struct store_label *l);
  enum err (*labels_each)(struct store *st,
                          bool (*each)(void *arg,
                                       const struct store_labelled *l),
                          void *arg);
  enum err (*counts)(struct store *st, struct store_counts *out);
  enum err (*outbox_claim)(struct store *st, int64_t now_ms, int64_t lease_ms,
                           struct store_entry *out, bool *found);
  enum err (*outbox_finish)(struct store *st, const struct store_finish *f,
                            int64_t now_ms);
  enum err (*outbox_renew)(struct store *st, int64_t entry_id, int64_t lease,
                           int64_t until_ms);
  enum err (*outbox_record_attempt)(struct store *st, int64_t entry_id,
                                    const struct store_attempt *a);
  enum err (*outbox_recover)(struct store *st, size_t *released);
  enum err (*outbox_skip_pending)(struct store *st, const char *reason,
                                  int64_t now_ms, size_t *skipped);
  enum err (*outbox_stats)(struct store *st, int64_t now_ms,
                           struct store_outbox_stats *out);
  enum err (*outbox_list)(struct store *st, int64_t alert_id,
                          struct store_outbox_row **out, size_t *n);
  enum err (*outbox_select)(struct store *st, enum store_state state, bool all,
                            size_t limit, struct store_outbox_row **out,
                            size_t *n);
  enum err (*outbox_retry)(struct store *st, int64_t id, int64_t now_ms,
                           size_t *n);
  enum err (*outbox_drop)(struct store *st, int64_t id, int64_t now_ms,
                          size_t *n);
  /* Optional (NULL: a no-op): store_delivery_pause. */
  enum err (*delivery_pause)(struct store *st, int64_t until_ms,
                             const char *reason);
  enum err (*own)(struct store *st, long *holder_pid);
  enum err (*owner)(struct store *st, long *pid);
  /* Optional (NULL: this machine's clock is the store's): the database
   * server's clock, epoch ms (store_now_ms). */
  enum err (*server_clock)(struct store *st, int64_t *ms);
};

struct store {
  const struct store_ops *ops;
  void *impl;     /* the backend's state */
  bool in_tx;     /* inside store_begin .. store_commit/rollback */
  bool tx_failed; /* a write inside it failed: commit must not happen */
  char errmsg[512];
};

/* The dashboard's reads (store_stats.h), on a read-only handle of the
 * backend's own. store_stats.c checks the arguments and ranks; these
 * only query. Each sets r->errmsg on failure. */
struct store_reader_ops {
  void (*close)(struct store_reader *r);
  /* Adds the traffic of [since_ms, since_ms + n * width_ms) into out,
   * whose start_ms are set and sums zero; since_ms and width_ms are whole
   * minutes. */
  enum err (*series)(struct store_reader *r, int64_t since_ms, int64_t width_ms,
                     size_t n, struct store_stats_bucket *out);
  /* Calls each with every customer window (store_window_parse's JSON)
   * updated since since_ms; both strings are borrowed for the call. */
  enum err (*windows)(struct store_reader *r, int64_t since_ms,
                      void (*each)(void *arg, const char *customer_id,
                                   const char *json),
                      void *arg);
  /* Sets alert_open of cs[0..n). */
  enum err (*alerts_open)(struct store_reader *r,
                          struct store_stats_customer *cs, size_t n);
  /* Fills msgs of cs[0..n), newest first: walks back from the newest
   * message until each has its share, the messages get older than
   * since_ms, or scan_max messages were read. */
  enum err (*last_messages)(struct store_reader *r, int64_t since_ms,
                            size_t scan_max, struct store_stats_customer *cs,
                            size_t n);
  /* Fills out (zeroed) with the language mix of [since_ms, until_ms),
   * whole minutes, as store_stats_langs. */
  enum err (*langs)(struct store_reader *r, int64_t since_ms, int64_t until_ms,
                    struct store_stats_langs *out);
  /* Total messages and alerts, as store_stats_totals. */
  enum err (*totals)(struct store_reader *r, int64_t *messages,
                     int64_t *alerts);
};

struct store_reader {
  const struct store_reader_ops *ops;
  void *impl; /* the backend's state */
  char errmsg[512];
};

/* What the backends' reads do alike with the rows they fetch
 * (store_stats.c), so that both fill the dashboard's records the same
 * way whatever their queries. */

/* Adds a row of the messages series into b: count messages of level
 * (clamped to the levels there are), the sum of their polarities, and
 * how many created or were appended to an alert. */
void store_stats_bucket_add_messages(struct store_stats_bucket *b,
                                     int64_t level, int64_t count,
                                     double polarity_sum, int64_t created,
                                     int64_t appended);

/* One step of last_messages' walk back: keeps message id in ids/have if
 * cust (NULL is fine) is one of cs[0..n) and it still wants messages,
 * and counts *full up when that customer has its share. Returns whether
 * id was kept. */
bool store_stats_keep_id(const struct store_stats_customer *cs, size_t n,
                         const char *cust, int64_t id,
                         int64_t (*ids)[STORE_STATS_CUSTOMER_MSGS],
                         size_t *have, size_t *full);

/* Adds a row of the language mix to out: code (copied) with its messages
 * and the frustrated ones, or, for code NULL, the row that folds the
 * langs languages past STORE_STATS_LANGS. */
void store_stats_langs_add(struct store_stats_langs *out, const char *code,
                           int64_t messages, int64_t frustrated, int64_t langs);

/* Backends. Each fills st->ops and st->impl, or returns an error with
 * the message in err. */
enum err store_pg_open(struct store *st, const char *url, int max_version,
                       char *err, size_t errlen);
/* Fills r->ops and r->impl for the PostgreSQL database at url, on a
 * connection of its own (store_pg_stats.c); on failure the message goes
 * to err and r is released by store_reader_close. */
enum err store_pg_reader_open(struct store_reader *r, const char *url,
                              char *err, size_t errlen);
enum err store_sqlite_open(struct store *st, const char *path,
                           const struct store_url_opts *opts, int max_version,
                           char *err, size_t errlen);

/* Fills r->ops and r->impl for the file at path, opened read-only; on
 * failure the message goes to err and r is released by
 * store_reader_close. */
enum err store_sqlite_reader_open(struct store_reader *r, const char *path,
                                  char *err, size_t errlen);

#endif
