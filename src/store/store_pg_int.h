/* store_pg_int: what the files of the PostgreSQL backend share. Private to
 * src/store/; only these files include libpq-fe.h.
 *
 * The backend is built for several serving processes on one database:
 *  - the records of one message id, and of one customer, are serialised
 *    by transaction-scoped advisory locks (pg_advisory_xact_lock on a
 *    64-bit hash of the key), taken in sorted order for a whole batch
 *    (store_prepare_batch) so that two committers never deadlock, and
 *    taken one by one when a caller did not prepare;
 *  - outbox entries are claimed with FOR UPDATE SKIP LOCKED under a lease
 *    that names the claiming instance and carries a fencing token: a
 *    finish whose token is no longer the entry's changes nothing;
 *  - a DevRev rate limit is a row every instance's claim respects.
 * See docs/scaling.md. */
#ifndef STORE_STORE_PG_INT_H
#define STORE_STORE_PG_INT_H

#include <libpq-fe.h>

#include "store/store_int.h"

/* The statements prepared on each connection (text in store_pg_schema.c). */
enum pg_stmt {
  P_LOCK_KEY,
  P_MSG_FIND,
  P_MSG_INSERT,
  P_ALERT_FIND_OPEN,
  P_ALERT_INSERT,
  P_ALERT_UPDATE,
  P_OUTBOX_INSERT,
  P_WIN_GET,
  P_WIN_PUT,
  P_MSG_GET,
  P_ALERT_GET,
  P_CLAIM,
  P_FINISH,
  P_ATTEMPT_INSERT,
  P_ALERT_TICKET,
  P_CASCADE_DEAD,
  P_BATCH_START,
  P_ALERT_INSERT_ID,
  P_MSG_ROWS,
  P_OUTBOX_ROWS,
  P_WIN_ROWS,
  P_ALERT_ROWS,
  P_MSG_GET_ROW,
  P_COUNT
};

extern const char *const pg_sql_text[P_COUNT];

/* A prepared batch's reads (store_pg_schema.c), sent with pg_send_query:
 * $1 is a text array of the batch's keys, whose number the plan must
 * know. */
extern const char pg_sql_batch_msgs[], pg_sql_batch_windows[],
    pg_sql_batch_open[];

/* Advisory lock classes (the two-key form; the one-key form holds the
 * record locks, a separate key space). */
#define PG_LOCK_CLASS_MIGRATE 0x46410001  /* schema migrations */
#define PG_LOCK_CLASS_INSTANCE 0x46410002 /* a live instance's id */

/* The channel a transaction that stored messages notifies at commit, for
 * the live feeds of every instance (store_pg_events.c). */
#define PG_EVENTS_CHANNEL "fa_events"

/* Parameters of one statement, as text (libpq's text format). Numbers
 * point into num[] of the same struct: fill it in place, never copy it. */
#define PG_MAX_PARAMS 24
struct pg_params {
  const char *v[PG_MAX_PARAMS];
  char num[PG_MAX_PARAMS][32];
  int n;
};

void pp_text(struct pg_params *p, const char *s); /* NULL: SQL NULL */
void pp_int(struct pg_params *p, int64_t v);
void pp_double(struct pg_params *p, double v);
void pp_bool(struct pg_params *p, bool v);

/* A statement sent in pipeline mode whose result is not read yet. */
struct pg_pending {
  const char *what;
  PGresult **keep; /* receives the result; NULL: only its status matters */
};

/* What a prepared batch read ahead (store_pg_batch.c). */
struct pg_batch;

/* The state of a PostgreSQL handle (st->impl). */
struct pg {
  PGconn *conn;
  char *conninfo;
  bool prepared[P_COUNT]; /* on this connection */
  bool in_tx;             /* BEGIN sent and not ended */
  bool batch_locked;      /* this transaction's keys are locked already */
  bool notify;            /* this transaction stored messages: commit
                           * notifies PG_EVENTS_CHANNEL */
  int64_t instance_id;    /* store_own's row; 0 when not owner */
  int64_t lease_owner;    /* the id written on claimed leases */
  /* Statements sent in pipeline mode and not read yet (pg_send). */
  struct pg_pending *pend;
  size_t npend, cappend;
  /* The rows of the prepared batch's keys, read ahead; NULL outside a
   * prepared batch. */
  struct pg_batch *batch;
};

static inline struct pg *PG(struct store *st)
{
  return st->impl;
}

/* ---- Helpers (store_pg.c) --------------------------------------------- */

/* Runs statement id with p (NULL: none); returns the result (free with
 * PQclear) when it succeeded, or NULL with the handle's message set. A
 * lost connection is noticed here and re-established at the start of the
 * next transaction. */
PGresult *pg_run(struct store *st, enum pg_stmt id, const struct pg_params *p,
                 const char *what);
/* The same for a statement not worth preparing. */
PGresult *pg_query(struct store *st, const char *sql, const struct pg_params *p,
                   const char *what);
/* Sends statement id with p in pipeline mode and returns at once: the
 * result is read by the next pg_drain, which every other statement of
 * the handle (and commit) runs first, into *keep when keep is not NULL
 * (the caller frees it), else only checked. A failure shows at that
 * drain, which then fails; the transaction is lost anyway. */
enum err pg_send(struct store *st, enum pg_stmt id, const struct pg_params *p,
                 const char *what, PGresult **keep);
/* The same for sql, planned for these parameters each time it runs (a
 * prepared statement's plan, made once for any parameters, may suit
 * some badly). */
enum err pg_send_query(struct store *st, const char *sql,
                       const struct pg_params *p, const char *what,
                       PGresult **keep);
/* Reads every pending result and leaves pipeline mode: ERR_OK when all
 * succeeded, else the first failure's code with its message set. */
enum err pg_drain(struct store *st);
/* Runs sql (one or more statements, no parameters) for its effect;
 * ERR_STORE (message set) on failure. */
enum err pg_exec(struct store *st, const char *sql, const char *what);
/* The error code of a failed call: ERR_BUSY for a deadlock or
 * serialisation failure (the caller may run the transaction again),
 * ERR_STORE otherwise. */
enum err pg_failed(struct store *st);
/* Owned copy of a field (NULL for SQL NULL). */
char *pg_dup(const PGresult *r, int row, int col);
void pg_copy(const PGresult *r, int row, int col, char *dst, size_t cap);
int64_t pg_int(const PGresult *r, int row, int col);
bool pg_bool(const PGresult *r, int row, int col);
/* A single integer from sql (no parameters); dflt for NULL or no row. */
enum err pg_query_int(struct store *st, const char *sql, int64_t dflt,
                      int64_t *out);
/* libpq's message for r, or else the connection's last one (conn may be
 * NULL), without its trailing newline: *len bytes at the pointer
 * returned (borrowed from r or conn). For "%.*s". */
const char *pg_error_text(const PGconn *conn, const PGresult *r, int *len);

/* A connection with the project's defaults (connect_timeout 5 s) under
 * what the URL says; check PQstatus. */
PGconn *pg_connect(const char *url);
/* Makes sure the connection is up (outside a transaction). */
enum err pg_ready(struct store *st);
/* 64-bit key of an advisory record lock. */
int64_t pg_lock_key(char ns, const char *key);

/* ---- Schema (store_pg_schema.c) ---------------------------------------- */

enum err pg_migrate(struct store *st, int max_version, char *err,
                    size_t errlen);

/* ---- The backend table's entries --------------------------------------- */

/* store_pg_batch.c: the record locks of a batch and its rows read ahead.
 * The pg_batch_* lookups answer from those rows (true) or say that they
 * cannot (false: the key is not the batch's, or no batch is prepared);
 * the writes keep them current. */
enum err pg_prepare_batch(struct store *st, const struct ingest_msg *const *m,
                          size_t n);
void pg_batch_free(struct store *st);
bool pg_batch_msg_find(struct store *st, const char *message_id,
                       struct ingest_result *out, bool *found);
/* Writes the rows the batch holds back (sends them in the pipeline);
 * pg_drain does first. */
enum err pg_batch_flush(struct store *st);
/* Holds m's row back for the batch's one insert of them all: true, with
 * *row_id set, or false when there is no batch. */
bool pg_batch_msg_insert(struct store *st, const struct ingest_msg *m,
                         enum store_alert outcome, int64_t alert_id,
                         int64_t now_ms, int64_t *row_id, enum err *rc);
/* An id for the batch's next alert (0: none left). */
int64_t pg_batch_alert_id(struct store *st);
/* An update of an alert that stays open is held back (true) and sent
 * with the others of the batch, one row per alert, at the next flush; an
 * update that closes an alert, and an insert, first send those held
 * (pg_batch_alert_flush), so that the one open alert per customer holds
 * at every statement. */
bool pg_batch_alert_update(struct store *st, const struct store_alert_row *a,
                           enum err *rc);
enum err pg_batch_alert_flush(struct store *st);
/* Holds an outbox entry back for the batch's one insert: true, or false
 * when there is no batch. */
bool pg_batch_outbox_insert(struct store *st, int64_t alert_id,
                            enum store_kind kind, const char *payload,
                            int64_t now_ms, enum err *rc);
void pg_batch_msg_inserted(struct store *st, const struct ingest_msg *m,
                           enum store_alert outcome, int64_t alert_id,
                           int64_t row_id);
bool pg_batch_window_get(struct store *st, const char *customer_id,
                         char **json);
/* Keeps the customer's window for the batch's one write of them all:
 * true, or false when the customer is not the batch's. */
bool pg_batch_window_put(struct store *st, const char *customer_id,
                         const char *json, int64_t now_ms);
bool pg_batch_alert_find_open(struct store *st, const char *customer_id,
                              struct store_alert_row *out, bool *found);
/* a was written (inserted or updated): the customer's open alert. */
void pg_batch_alert_written(struct store *st, const struct store_alert_row *a,
                            bool inserted);

/* store_pg_records.c */
/* Reads row `row` of a result selecting ALERT_COLUMNS
 * (store_pg_schema.c) into a. */
void pg_read_alert(const PGresult *r, int row, struct store_alert_row *a);
/* The columns of a messages row, as P_MSG_INSERT takes them ($1..$20). */
void pg_msg_params(struct pg_params *p, const struct ingest_msg *m,
                   enum store_alert outcome, int64_t alert_id, int64_t now_ms);
enum err pg_msg_find(struct store *st, const char *message_id,
                     struct ingest_result *out, bool *found);
enum err pg_msg_insert(struct store *st, const struct ingest_msg *m,
                       enum store_alert outcome, int64_t alert_id,
                       int64_t now_ms, int64_t *row_id);
enum err pg_alert_find_open(struct store *st, const char *customer_id,
                            struct store_alert_row *out, bool *found);
enum err pg_alert_insert(struct store *st, struct store_alert_row *a);
enum err pg_alert_update(struct store *st, const struct store_alert_row *a);
enum err pg_outbox_insert(struct store *st, int64_t alert_id,
                          enum store_kind kind, const char *payload,
                          int64_t now_ms);
enum err pg_window_get(struct store *st, const char *customer_id, char **json);
enum err pg_window_put(struct store *st, const char *customer_id,
                       const char *json, int64_t now_ms);
enum err pg_purge_text(struct store *st, int64_t older_than_ms, size_t max_rows,
                       size_t *purged);
enum err pg_message_get(struct store *st, const char *message_id,
                        int64_t row_id, struct store_message *m, bool *found);
enum err pg_alert_get(struct store *st, int64_t id, struct store_alert_row *a);
enum err pg_label_set(struct store *st, const char *message_id, int64_t row_id,
                      const char *by, int64_t now_ms, struct store_label *l);
enum err pg_labels_each(struct store *st,
                        bool (*each)(void *arg, const struct store_labelled *l),
                        void *arg);
enum err pg_counts(struct store *st, struct store_counts *c);

/* store_pg_outbox.c */
enum err pg_outbox_claim(struct store *st, int64_t now_ms, int64_t lease_ms,
                         struct store_entry *e, bool *found);
enum err pg_outbox_finish(struct store *st, const struct store_finish *f,
                          int64_t now_ms);
enum err pg_outbox_renew(struct store *st, int64_t entry_id, int64_t lease,
                         int64_t until_ms);
enum err pg_outbox_record_attempt(struct store *st, int64_t entry_id,
                                  const struct store_attempt *a);
enum err pg_outbox_recover(struct store *st, size_t *released);
enum err pg_outbox_skip_pending(struct store *st, const char *reason,
                                int64_t now_ms, size_t *skipped);
enum err pg_outbox_stats(struct store *st, int64_t now_ms,
                         struct store_outbox_stats *o);
enum err pg_outbox_list(struct store *st, int64_t alert_id,
                        struct store_outbox_row **out, size_t *n);
enum err pg_outbox_select(struct store *st, enum store_state state, bool all,
                          size_t limit, struct store_outbox_row **out,
                          size_t *n);
enum err pg_outbox_retry(struct store *st, int64_t id, int64_t now_ms,
                         size_t *n);
enum err pg_outbox_drop(struct store *st, int64_t id, int64_t now_ms,
                        size_t *n);
enum err pg_delivery_pause(struct store *st, int64_t until_ms,
                           const char *reason);
enum err pg_own(struct store *st, long *holder_pid);
enum err pg_owner(struct store *st, long *pid);

#endif
