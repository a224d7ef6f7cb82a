/* store_sqlite_int: what the files of the SQLite backend share. Private to
 * src/store/store_sqlite*.c; everything above the backend goes through
 * struct store_ops (store_int.h).
 *
 * Helpers set the handle's message (store_set_error) on failure and
 * return ERR_STORE, as every primitive does. */
#ifndef STORE_STORE_SQLITE_INT_H
#define STORE_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "store/store_int.h"

/* ---- Prepared statements (text in store_sqlite_schema.c) -------------- */

enum stmt_id {
  S_MSG_FIND,
  S_MSG_INSERT,
  S_ALERT_FIND_OPEN,
  S_ALERT_INSERT,
  S_ALERT_UPDATE,
  S_OUTBOX_INSERT,
  S_WIN_GET,
  S_WIN_PUT,
  S_MSG_GET,
  S_ALERT_GET,
  S_CLAIM_SELECT,
  S_CLAIM_UPDATE,
  S_ENTRY_KIND,
  S_FINISH,
  S_ATTEMPT_INSERT,
  S_ALERT_TICKET,
  S_CASCADE_DEAD,
  S_MSG_GET_ROW,
  S_COUNT
};

extern const char *const sq_sql_text[S_COUNT];

/* The state of a SQLite handle (st->impl). */
struct sq {
  sqlite3 *db;
  sqlite3_stmt *stmts[S_COUNT];
  int64_t busy_timeout_ms;
  int64_t busy_since_ns; /* when the current wait for a lock began */
  int lock_fd;           /* store_own's lock file; -1 when not owner */
};

static inline struct sq *SQ(struct store *st)
{
  return st->impl;
}

/* ---- Helpers (store_sqlite.c) ------------------------------------------ */

/* Sets the handle's message from what and SQLite's last error. */
enum err sq_fail(struct store *st, const char *what);
/* The statement id, prepared on first use and reset for a new run; NULL
 * (message set) when it cannot be prepared. */
sqlite3_stmt *sq_stmt(struct store *st, enum stmt_id id);
/* Binds v as text, or NULL when v is NULL; v must outlive the run. */
void sq_bind_text(sqlite3_stmt *s, int i, const char *v);
/* Owned copy of a text column, NULL for SQL NULL. */
char *sq_col_dup(sqlite3_stmt *s, int i);
/* Copies a text column into dst (cut to cap; "" for SQL NULL). */
void sq_col_copy(sqlite3_stmt *s, int i, char *dst, size_t cap);
/* Runs a statement that returns no row. */
enum err sq_run(struct store *st, sqlite3_stmt *s, const char *what);
/* Runs sql (one or more statements, no parameters, no rows). */
enum err sq_exec(struct store *st, const char *sql);
/* A single integer from sql with at most one ?1 (v1); *out = dflt when the
 * result is NULL or there is no row. */
enum err sq_query_int(struct store *st, const char *sql, int64_t v1,
                      int64_t dflt, int64_t *out);

/* ---- Schema (store_sqlite_schema.c) ------------------------------------ */

/* Brings the schema up to max_version in one transaction; the message goes
 * to err. ERR_UNSUPPORTED for a database newer than this build. */
enum err sq_migrate(struct store *st, int max_version, char *err,
                    size_t errlen);

/* ---- The backend table's entries (struct store_ops) ------------------- */

/* store_sqlite.c */
enum err sq_schema_version(struct store *st, int *out);

/* store_sqlite_records.c */
enum err sq_msg_find(struct store *st, const char *message_id,
                     struct ingest_result *out, bool *found);
enum err sq_msg_insert(struct store *st, const struct ingest_msg *m,
                       enum store_alert outcome, int64_t alert_id,
                       int64_t now_ms, int64_t *row_id);
enum err sq_alert_find_open(struct store *st, const char *customer_id,
                            struct store_alert_row *out, bool *found);
enum err sq_alert_insert(struct store *st, struct store_alert_row *a);
enum err sq_alert_update(struct store *st, const struct store_alert_row *a);
enum err sq_outbox_insert(struct store *st, int64_t alert_id,
                          enum store_kind kind, const char *payload,
                          int64_t now_ms);
enum err sq_window_get(struct store *st, const char *customer_id, char **json);
enum err sq_window_put(struct store *st, const char *customer_id,
                       const char *json, int64_t now_ms);
enum err sq_purge_text(struct store *st, int64_t older_than_ms, size_t max_rows,
                       size_t *purged);
enum err sq_message_get(struct store *st, const char *message_id,
                        int64_t row_id, struct store_message *out, bool *found);
enum err sq_label_set(struct store *st, const char *message_id, int64_t row_id,
                      const char *by, int64_t now_ms, struct store_label *l);
enum err sq_labels_each(struct store *st,
                        bool (*each)(void *arg, const struct store_labelled *l),
                        void *arg);
enum err sq_alert_get(struct store *st, int64_t id,
                      struct store_alert_row *out);
enum err sq_counts(struct store *st, struct store_counts *out);

/* store_sqlite_outbox.c */
enum err sq_outbox_claim(struct store *st, int64_t now_ms, int64_t lease_ms,
                         struct store_entry *out, bool *found);
enum err sq_outbox_finish(struct store *st, const struct store_finish *f,
                          int64_t now_ms);
enum err sq_outbox_renew(struct store *st, int64_t entry_id, int64_t lease,
                         int64_t until_ms);
enum err sq_outbox_record_attempt(struct store *st, int64_t entry_id,
                                  const struct store_attempt *a);
enum err sq_outbox_recover(struct store *st, size_t *released);
enum err sq_outbox_skip_pending(struct store *st, const char *reason,
                                int64_t now_ms, size_t *skipped);
enum err sq_outbox_stats(struct store *st, int64_t now_ms,
                         struct store_outbox_stats *out);
enum err sq_outbox_list(struct store *st, int64_t alert_id,
                        struct store_outbox_row **out, size_t *n);
enum err sq_outbox_select(struct store *st, enum store_state state, bool all,
                          size_t limit, struct store_outbox_row **out,
                          size_t *n);
enum err sq_outbox_retry(struct store *st, int64_t id, int64_t now_ms,
                         size_t *n);
enum err sq_outbox_drop(struct store *st, int64_t id, int64_t now_ms,
                        size_t *n);

/* store_sqlite_own.c */
enum err sq_own(struct store *st, long *holder_pid);
enum err sq_owner(struct store *st, long *pid);

#endif
