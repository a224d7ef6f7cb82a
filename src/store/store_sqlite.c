/* store_sqlite: the SQLite backend of store. This file opens the database
 * (pragmas, busy handler), runs transactions and holds the backend table
 * (struct store_ops); store_sqlite_schema.c has the migrations and the
 * text of the prepared statements, store_sqlite_records.c messages,
 * alerts, customer windows and retention, store_sqlite_outbox.c the
 * outbox, store_sqlite_own.c the store lock, store_sqlite_stats.c the
 * dashboard's reads. store_sqlite_int.h is what they share; these files
 * are the only ones of the program that include sqlite3.h.
 *
 * Durability: WAL journal with synchronous=FULL, so a COMMIT that returned
 * has been fsync'ed; a process or machine crash keeps every committed
 * transaction. Writers wait for each other up to the busy timeout; write
 * transactions start with BEGIN IMMEDIATE so a busy database fails at the
 * start, never half-way.
 *
 * Statements are prepared once per handle and reused. */
#include "store/store_sqlite_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/xalloc.h"

/* Pause between looks at a busy lock. SQLite's own busy timeout sleeps
 * 1, 2, 5, 10 ... up to 100 ms between looks, and a writer that commits
 * back to back (the outbox worker draining a backlog) then takes the lock
 * again before the sleeper wakes: /webhook commits waited seconds. Short
 * pauses find the gaps between the other writer's transactions. */
#define SQ_BUSY_PAUSE_NS 250000

/* sqlite3_busy_handler: keep waiting (non-zero) until the timeout. */
static int on_busy(void *arg, int n)
{
  struct sq *q = arg;
  int64_t now = (int64_t)clock_mono_ns();
  if (n == 0)
    q->busy_since_ns = now;
  if (now - q->busy_since_ns >= q->busy_timeout_ms * 1000000)
    return 0;
  struct timespec pause = {0, SQ_BUSY_PAUSE_NS};
  nanosleep(&pause, NULL);
  return 1;
}

/* ---- Helpers (store_sqlite_int.h) ------------------------------------- */

enum err sq_fail(struct store *st, const char *what)
{
  store_set_error(st, "sqlite: %s: %s", what, sqlite3_errmsg(SQ(st)->db));
  return ERR_STORE;
}

/* The statement `id`, prepared on first use and reset for a new run. */
sqlite3_stmt *sq_stmt(struct store *st, enum stmt_id id)
{
  struct sq *q = SQ(st);
  if (!q->stmts[id]) {
    if (sqlite3_prepare_v3(q->db, sq_sql_text[id], -1,
                           SQLITE_PREPARE_PERSISTENT, &q->stmts[id],
                           NULL) != SQLITE_OK) {
      sq_fail(st, "prepare");
      return NULL;
    }
  }
  sqlite3_reset(q->stmts[id]);
  sqlite3_clear_bindings(q->stmts[id]);
  return q->stmts[id];
}

void sq_bind_text(sqlite3_stmt *s, int i, const char *v)
{
  if (v)
    sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(s, i);
}

/* Owned copy of a text column, NULL for SQL NULL. */
char *sq_col_dup(sqlite3_stmt *s, int i)
{
  const unsigned char *t = sqlite3_column_text(s, i);
  return t ? xstrdup((const char *)t) : NULL;
}

void sq_col_copy(sqlite3_stmt *s, int i, char *dst, size_t cap)
{
  const unsigned char *t = sqlite3_column_text(s, i);
  snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* Runs a statement that returns no row. */
enum err sq_run(struct store *st, sqlite3_stmt *s, const char *what)
{
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE)
    return sq_fail(st, what);
  return ERR_OK;
}

enum err sq_exec(struct store *st, const char *sql)
{
  char *msg = NULL;
  if (sqlite3_exec(SQ(st)->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    store_set_error(st, "sqlite: %s: %s", sql, msg ? msg : "failed");
    sqlite3_free(msg);
    return ERR_STORE;
  }
  return ERR_OK;
}

/* A single integer from sql with at most one ?1 (v1); *out = dflt when the
 * result is NULL or there is no row. */
enum err sq_query_int(struct store *st, const char *sql, int64_t v1,
                      int64_t dflt, int64_t *out)
{
  sqlite3_stmt *s = NULL;
  *out = dflt;
  if (sqlite3_prepare_v2(SQ(st)->db, sql, -1, &s, NULL) != SQLITE_OK)
    return sq_fail(st, "prepare");
  if (sqlite3_bind_parameter_count(s) > 0)
    sqlite3_bind_int64(s, 1, v1);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
    *out = sqlite3_column_int64(s, 0);
  enum err e =
      rc == SQLITE_ROW || rc == SQLITE_DONE ? ERR_OK : sq_fail(st, sql);
  sqlite3_finalize(s);
  return e;
}

/* ---- Lifecycle -------------------------------------------------------- */

static void sq_close(struct store *st)
{
  struct sq *q = SQ(st);
  if (!q)
    return;
  for (int i = 0; i < S_COUNT; i++)
    sqlite3_finalize(q->stmts[i]);
  sqlite3_close(q->db);
  if (q->lock_fd >= 0)
    close(q->lock_fd); /* drops the flock */
  free(q);
  st->impl = NULL;
}

enum err sq_schema_version(struct store *st, int *out)
{
  int64_t v;
  enum err rc =
      sq_query_int(st, "SELECT version FROM schema_version", 0, 0, &v);
  *out = (int)v;
  return rc;
}

static enum err sq_tx(struct store *st, enum store_tx op)
{
  switch (op) {
  case STORE_TX_BEGIN:
    return sq_exec(st, "BEGIN IMMEDIATE");
  case STORE_TX_COMMIT:
    return sq_exec(st, "COMMIT");
  case STORE_TX_ROLLBACK:
    if (sqlite3_get_autocommit(SQ(st)->db))
      return ERR_OK; /* SQLite already rolled back (e.g. after I/O error) */
    return sq_exec(st, "ROLLBACK");
  case STORE_TX_TOUCH:
    /* SQLite leaves a page alone when a row is written back unchanged,
     * and a commit with no page writes nothing: the row changes, then
     * changes back. */
    return sq_exec(st, "UPDATE schema_version SET version = -1 - version;"
                       "UPDATE schema_version SET version = -1 - version");
  }
  return ERR_INTERNAL;
}

/* Creates the directories leading to path (like mkdir -p of its dirname):
 * a fresh install starts with DATABASE_URL=./var/frustration.db. */
static enum err make_parent_dirs(const char *path, char *err, size_t errlen)
{
  char *p = xstrdup(path);
  enum err rc = ERR_OK;
  char *slash = strrchr(p, '/');
  if (!slash || slash == p)
    goto out;
  *slash = '\0';
  for (char *c = p + 1;; c++) {
    if (*c == '/' || *c == '\0') {
      char keep = *c;
      *c = '\0';
      if (mkdir(p, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "DATABASE_URL: cannot create directory %s: %s", p,
                 strerror(errno));
        rc = ERR_IO;
        goto out;
      }
      *c = keep;
      if (!keep)
        break;
    }
  }
out:
  free(p);
  return rc;
}

/* The table is at the end of this file. */
static const struct store_ops sqlite_ops;

enum err store_sqlite_open(struct store *st, const char *path,
                           const struct store_url_opts *opts, int max_version,
                           char *err, size_t errlen)
{
  struct sq *q = xcalloc(1, sizeof *q);
  enum err rc = ERR_OK;
  bool memory = !strcmp(path, ":memory:");
  q->lock_fd = -1;
  st->ops = &sqlite_ops;
  st->impl = q;
  if (!memory && strncmp(path, "file:", 5)) {
    rc = make_parent_dirs(path, err, errlen);
    if (rc)
      goto fail;
  }
  if (sqlite3_open_v2(path, &q->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                          SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
                      NULL) != SQLITE_OK) {
    snprintf(err, errlen, "cannot open database %s: %s", path,
             q->db ? sqlite3_errmsg(q->db) : "out of memory");
    rc = ERR_STORE;
    goto fail;
  }
  sqlite3_extended_result_codes(q->db, 1);
  q->busy_timeout_ms = (int64_t)opts->busy_timeout_ms;
  sqlite3_busy_handler(q->db, on_busy, q);
  /* journal_mode answers with the mode in force: check it took. */
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(q->db, "PRAGMA journal_mode=WAL", -1, &s, NULL) !=
          SQLITE_OK ||
      sqlite3_step(s) != SQLITE_ROW) {
    snprintf(err, errlen, "cannot open database %s: %s", path,
             sqlite3_errmsg(q->db));
    sqlite3_finalize(s);
    rc = ERR_STORE;
    goto fail;
  }
  const char *mode = (const char *)sqlite3_column_text(s, 0);
  bool wal =
      mode && (!strcmp(mode, "wal") || (memory && !strcmp(mode, "memory")));
  sqlite3_finalize(s);
  if (!wal) {
    snprintf(err, errlen, "database %s: cannot switch to WAL journal mode",
             path);
    rc = ERR_STORE;
    goto fail;
  }
  static const char *const sync_pragma[] = {"PRAGMA synchronous=OFF",
                                            "PRAGMA synchronous=NORMAL",
                                            "PRAGMA synchronous=FULL"};
  rc = sq_exec(st, sync_pragma[opts->synchronous]);
  /* Foreign keys stay off until the migrations ran: a migration that
   * rebuilds a table (4) must be able to drop the old one. */
  /* Statement journals and temporary tables stay in memory: a temporary
   * file per statement costs more than the statement. */
  if (!rc)
    rc = sq_exec(st, "PRAGMA temp_store=MEMORY");
  if (rc) {
    snprintf(err, errlen, "database %s: %s", path, st->errmsg);
    goto fail;
  }
  rc = sq_migrate(st, max_version, err, errlen);
  if (rc)
    goto fail;
  rc = sq_exec(st, "PRAGMA foreign_keys=ON");
  if (rc) {
    snprintf(err, errlen, "database %s: %s", path, st->errmsg);
    goto fail;
  }
  return ERR_OK;
fail:
  sq_close(st);
  return rc;
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .schema_version = sq_schema_version,
    .tx = sq_tx,
    .msg_find = sq_msg_find,
    .msg_insert = sq_msg_insert,
    .alert_find_open = sq_alert_find_open,
    .alert_insert = sq_alert_insert,
    .alert_update = sq_alert_update,
    .outbox_insert = sq_outbox_insert,
    .window_get = sq_window_get,
    .window_put = sq_window_put,
    .purge_text = sq_purge_text,
    .message_get = sq_message_get,
    .alert_get = sq_alert_get,
    .label_set = sq_label_set,
    .labels_each = sq_labels_each,
    .counts = sq_counts,
    .outbox_claim = sq_outbox_claim,
    .outbox_finish = sq_outbox_finish,
    .outbox_renew = sq_outbox_renew,
    .outbox_record_attempt = sq_outbox_record_attempt,
    .outbox_recover = sq_outbox_recover,
    .outbox_skip_pending = sq_outbox_skip_pending,
    .outbox_stats = sq_outbox_stats,
    .outbox_list = sq_outbox_list,
    .outbox_select = sq_outbox_select,
    .outbox_retry = sq_outbox_retry,
    .outbox_drop = sq_outbox_drop,
    .own = sq_own,
    .owner = sq_owner,
};
