/* store_sqlite: the SQLite backend of store (the only file that includes
 * sqlite3.h).
 *
 * Durability: WAL journal with synchronous=FULL, so a COMMIT that returned
 * has been fsync'ed; a process or machine crash keeps every committed
 * transaction. Writers wait for each other up to the busy timeout; write
 * transactions start with BEGIN IMMEDIATE so a busy database fails at the
 * start, never half-way.
 *
 * Schema: versioned migrations, listed below in order and applied in one
 * transaction on open; the version is the single row of schema_version.
 * A database newer than this build is refused rather than misread.
 *
 * Statements are prepared once per handle and reused.
 *
 * Ownership (store_own): an exclusive flock on "<database>.lock" held by
 * the owning handle; the file holds the owner's pid as text. flock rather
 * than fcntl locks: an fcntl lock belongs to the process and any close()
 * of the file in it drops the lock, while an flock belongs to the open
 * file and also conflicts within one process. */
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/xalloc.h"

/* ---- Schema ----------------------------------------------------------- */

/* migrations[i] upgrades version i to i + 1. Never edit a released entry:
 * add a new one. Times are milliseconds since the epoch. CHECK constraints
 * are written with OR, not IN (...): SQLite builds a temporary table for
 * an IN list on every insert, which tripled the cost of one. */
static const char *const migrations[] = {
    /* 1: messages, alerts, the outbox and its attempts. */
    "CREATE TABLE alerts ("
    "  id INTEGER PRIMARY KEY,"
    "  alert_key TEXT NOT NULL UNIQUE,"
    "  customer_id TEXT NOT NULL,"
    "  conversation_id TEXT,"
    "  level INTEGER NOT NULL,"
    "  level_name TEXT NOT NULL,"
    "  severity TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'open'"
    "    CHECK (state = 'open' OR state = 'closed'),"
    "  ticket_id TEXT,"
    "  ticket_display_id TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  last_activity_at INTEGER NOT NULL,"
    "  message_count INTEGER NOT NULL DEFAULT 1);"
    /* One open alert per customer episode. */
    "CREATE UNIQUE INDEX alerts_one_open ON alerts(customer_id)"
    "  WHERE state = 'open';"
    "CREATE TABLE messages ("
    "  id INTEGER PRIMARY KEY,"
    "  message_id TEXT UNIQUE,"
    "  customer_id TEXT NOT NULL,"
    "  conversation_id TEXT,"
    "  channel TEXT,"
    "  timestamp TEXT,"
    "  lang TEXT,"
    "  text TEXT,"
    "  polarity REAL NOT NULL,"
    "  subjectivity REAL NOT NULL,"
    "  level INTEGER NOT NULL,"
    "  level_name TEXT NOT NULL,"
    "  frustrated INTEGER NOT NULL,"
    "  alert_outcome TEXT NOT NULL CHECK (alert_outcome = 'none'"
    "    OR alert_outcome = 'created' OR alert_outcome = 'appended'),"
    "  alert_id INTEGER REFERENCES alerts(id),"
    "  result_json TEXT,"
    "  created_at INTEGER NOT NULL);"
    /* No index on customer_id: every index is one more page written per
     * message (about 20% of commit throughput); per-customer history is
     * customer_state's job. */
    /* Retention finds the texts still to purge without rescanning. */
    "CREATE INDEX messages_text_age ON messages(created_at)"
    "  WHERE text IS NOT NULL;"
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY,"
    "  alert_id INTEGER NOT NULL REFERENCES alerts(id),"
    "  kind TEXT NOT NULL CHECK (kind = 'create_ticket'"
    "    OR kind = 'comment' OR kind = 'update_severity'),"
    "  payload TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'pending' CHECK (state = 'pending'"
    "    OR state = 'done' OR state = 'dead' OR state = 'skipped'),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at INTEGER NOT NULL,"
    "  lease_until INTEGER NOT NULL DEFAULT 0,"
    "  first_attempt_at INTEGER,"
    "  last_error TEXT,"
    "  outcome_unknown INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  finished_at INTEGER);"
    "CREATE INDEX outbox_state ON outbox(state, next_attempt_at);"
    "CREATE INDEX outbox_alert ON outbox(alert_id, id);"
    "CREATE TABLE delivery_attempts ("
    "  id INTEGER PRIMARY KEY,"
    "  outbox_id INTEGER NOT NULL REFERENCES outbox(id),"
    "  at INTEGER NOT NULL,"
    "  duration_ms INTEGER NOT NULL,"
    "  http_status INTEGER NOT NULL,"
    "  result TEXT NOT NULL,"
    "  ok INTEGER NOT NULL,"
    "  error TEXT);"
    "CREATE INDEX attempts_outbox ON delivery_attempts(outbox_id);"
    "CREATE INDEX attempts_ok ON delivery_attempts(ok, at);",

    /* 2: per-customer window of recent scores (conversation context). */
    "CREATE TABLE customer_state ("
    "  customer_id TEXT PRIMARY KEY,"
    "  recent TEXT NOT NULL,"
    "  messages INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL) WITHOUT ROWID;",

    /* 3: time indexes for the dashboard's aggregates (store_stats.c). They
     * grow at their right edge only (times increase), so a group commit
     * writes about one more page per index, not one per message. The
     * messages index is keyed by the minute and covers what the series
     * read, so a day of traffic is summed in index order, without a sort
     * and without touching the table. */
    "CREATE INDEX messages_by_minute ON messages"
    "  (created_at / 60000, level, alert_outcome, polarity, created_at);"
    "CREATE INDEX outbox_finished ON outbox(finished_at, state)"
    "  WHERE finished_at IS NOT NULL;",

    /* 4: messages from DevRev events keep where they were written; alerts
     * know whether they have a ticket to go to; the outbox learns the two
     * kinds aimed at the source object. A CHECK cannot be altered, so the
     * outbox is rebuilt (SQLite's documented way: new table, copy, drop,
     * rename; foreign keys are off during migrations, see sq_open). */
    "ALTER TABLE messages ADD COLUMN source_object TEXT;"
    "ALTER TABLE messages ADD COLUMN source_display_id TEXT;"
    "ALTER TABLE messages ADD COLUMN source_type TEXT;"
    "ALTER TABLE messages ADD COLUMN rev_org TEXT;"
    "ALTER TABLE alerts ADD COLUMN ticket_wanted INTEGER NOT NULL DEFAULT 1;"
    "CREATE TABLE outbox_v4 ("
    "  id INTEGER PRIMARY KEY,"
    "  alert_id INTEGER NOT NULL REFERENCES alerts(id),"
    "  kind TEXT NOT NULL CHECK (kind = 'create_ticket'"
    "    OR kind = 'comment' OR kind = 'update_severity'"
    "    OR kind = 'source_comment' OR kind = 'update_source'),"
    "  payload TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'pending' CHECK (state = 'pending'"
    "    OR state = 'done' OR state = 'dead' OR state = 'skipped'),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at INTEGER NOT NULL,"
    "  lease_until INTEGER NOT NULL DEFAULT 0,"
    "  first_attempt_at INTEGER,"
    "  last_error TEXT,"
    "  outcome_unknown INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  finished_at INTEGER);"
    "INSERT INTO outbox_v4 (id, alert_id, kind, payload, state, attempts,"
    "  next_attempt_at, lease_until, first_attempt_at, last_error,"
    "  outcome_unknown, created_at, finished_at)"
    "  SELECT id, alert_id, kind, payload, state, attempts, next_attempt_at,"
    "  lease_until, first_attempt_at, last_error, outcome_unknown,"
    "  created_at, finished_at FROM outbox;"
    "DROP TABLE outbox;"
    "ALTER TABLE outbox_v4 RENAME TO outbox;"
    "CREATE INDEX outbox_state ON outbox(state, next_attempt_at);"
    "CREATE INDEX outbox_alert ON outbox(alert_id, id);"
    "CREATE INDEX outbox_finished ON outbox(finished_at, state)"
    "  WHERE finished_at IS NOT NULL;",
};

_Static_assert(sizeof migrations / sizeof migrations[0] == STORE_SCHEMA_VERSION,
               "one migration per schema version");

/* ---- Prepared statements ---------------------------------------------- */

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
  S_COUNT
};

static const char *const sql_text[S_COUNT] = {
    [S_MSG_FIND] =
        "SELECT m.id, m.alert_outcome, m.alert_id, m.result_json, a.alert_key"
        " FROM messages m LEFT JOIN alerts a ON a.id = m.alert_id"
        " WHERE m.message_id = ?1",
    [S_MSG_INSERT] =
        "INSERT INTO messages (message_id, customer_id, conversation_id,"
        " channel, timestamp, lang, text, polarity, subjectivity, level,"
        " level_name, frustrated, alert_outcome, alert_id, result_json,"
        " created_at, source_object, source_display_id, source_type,"
        " rev_org) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
        " ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
    [S_ALERT_FIND_OPEN] =
        "SELECT id, alert_key, customer_id, conversation_id, level,"
        " level_name, severity, ticket_id, ticket_display_id, created_at,"
        " last_activity_at, message_count, ticket_wanted FROM alerts"
        " WHERE customer_id = ?1 AND state = 'open'",
    [S_ALERT_INSERT] =
        "INSERT INTO alerts (alert_key, customer_id, conversation_id, level,"
        " level_name, severity, state, created_at, last_activity_at,"
        " message_count, ticket_wanted) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
        " 'open', ?7, ?8, ?9, ?10)",
    [S_ALERT_UPDATE] =
        "UPDATE alerts SET level = ?2, level_name = ?3, severity = ?4,"
        " state = ?5, last_activity_at = ?6, message_count = ?7,"
        " ticket_wanted = ?8 WHERE id = ?1",
    [S_OUTBOX_INSERT] =
        "INSERT INTO outbox (alert_id, kind, payload, state, next_attempt_at,"
        " created_at) VALUES (?1, ?2, ?3, 'pending', ?4, ?4)",
    [S_WIN_GET] = "SELECT recent FROM customer_state WHERE customer_id = ?1",
    [S_WIN_PUT] =
        "INSERT INTO customer_state (customer_id, recent, messages,"
        " updated_at) VALUES (?1, ?2, 1, ?3) ON CONFLICT (customer_id) DO"
        " UPDATE SET recent = excluded.recent, messages = messages + 1,"
        " updated_at = excluded.updated_at",
    [S_MSG_GET] =
        "SELECT id, message_id, customer_id, conversation_id, text,"
        " level_name, result_json, polarity, subjectivity, level, frustrated,"
        " alert_outcome, alert_id, created_at, source_object,"
        " source_display_id, source_type, rev_org FROM messages"
        " WHERE message_id = ?1",
    [S_ALERT_GET] =
        "SELECT id, alert_key, customer_id, conversation_id, level,"
        " level_name, severity, ticket_id, ticket_display_id, created_at,"
        " last_activity_at, message_count, ticket_wanted, state FROM alerts"
        " WHERE id = ?1",
    /* Oldest due entry whose alert has no older pending entry in the same
     * lane: the alert's ticket (comments wait for their ticket and keep
     * their order) or the source objects (need no ticket, keep their
     * order, and are not held up by a ticket that cannot be made). */
    [S_CLAIM_SELECT] =
        "SELECT o.id, o.alert_id, o.kind, o.payload, o.attempts,"
        " o.outcome_unknown, o.created_at, o.first_attempt_at, a.alert_key,"
        " a.ticket_id, a.ticket_display_id"
        " FROM outbox o JOIN alerts a ON a.id = o.alert_id"
        " WHERE o.state = 'pending' AND o.next_attempt_at <= ?1"
        " AND o.lease_until <= ?1"
        " AND (o.kind = 'create_ticket' OR o.kind = 'source_comment'"
        "   OR o.kind = 'update_source' OR a.ticket_id IS NOT NULL)"
        " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.alert_id = o.alert_id"
        "   AND p.state = 'pending' AND p.id < o.id"
        "   AND (p.kind = 'source_comment' OR p.kind = 'update_source')"
        "     = (o.kind = 'source_comment' OR o.kind = 'update_source'))"
        " ORDER BY o.id LIMIT 1",
    /* A create_ticket is marked unknown while in flight: if the process
     * dies before the answer is recorded, the next attempt looks first. */
    [S_CLAIM_UPDATE] =
        "UPDATE outbox SET attempts = attempts + 1, lease_until = ?2,"
        " first_attempt_at = COALESCE(first_attempt_at, ?3),"
        " outcome_unknown = CASE WHEN kind = 'create_ticket' THEN 1"
        "   ELSE outcome_unknown END WHERE id = ?1",
    [S_ENTRY_KIND] = "SELECT kind, alert_id FROM outbox WHERE id = ?1",
    [S_FINISH] =
        "UPDATE outbox SET state = ?2, next_attempt_at = ?3, lease_until = 0,"
        " outcome_unknown = ?4, last_error = ?5,"
        " finished_at = CASE WHEN ?2 = 'pending' THEN NULL ELSE ?6 END"
        " WHERE id = ?1",
    [S_ATTEMPT_INSERT] =
        "INSERT INTO delivery_attempts (outbox_id, at, duration_ms,"
        " http_status, result, ok, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_ALERT_TICKET] =
        "UPDATE alerts SET ticket_id = ?2, ticket_display_id = ?3"
        " WHERE id = ?1",
    [S_CASCADE_DEAD] =
        "UPDATE outbox SET state = 'dead', lease_until = 0, finished_at = ?3,"
        " last_error = 'the alert has no ticket: ' || ?4"
        " WHERE alert_id = ?1 AND state = 'pending' AND id <> ?2"
        " AND (kind = 'comment' OR kind = 'update_severity')",
};

struct sq {
  sqlite3 *db;
  sqlite3_stmt *stmts[S_COUNT];
  int64_t busy_timeout_ms;
  int64_t busy_since_ns; /* when the current wait for a lock began */
  int lock_fd;           /* store_own's lock file; -1 when not owner */
};

/* Pause between looks at a busy lock. SQLite's own busy timeout sleeps
 * 1, 2, 5, 10 ... up to 100 ms between looks, and a writer that commits
 * back to back (the outbox worker draining a backlog) then takes the lock
 * again before the sleeper wakes: /webhook commits waited seconds. Short
 * pauses find the gaps between the other writer's transactions. */
#define SQ_BUSY_PAUSE_NS 250000

static int64_t mono_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* sqlite3_busy_handler: keep waiting (non-zero) until the timeout. */
static int on_busy(void *arg, int n)
{
  struct sq *q = arg;
  int64_t now = mono_ns();
  if (n == 0)
    q->busy_since_ns = now;
  if (now - q->busy_since_ns >= q->busy_timeout_ms * 1000000)
    return 0;
  struct timespec pause = {0, SQ_BUSY_PAUSE_NS};
  nanosleep(&pause, NULL);
  return 1;
}

static struct sq *SQ(struct store *st)
{
  return st->impl;
}

static enum err fail(struct store *st, const char *what)
{
  store_set_error(st, "sqlite: %s: %s", what, sqlite3_errmsg(SQ(st)->db));
  return ERR_STORE;
}

/* The statement `id`, prepared on first use and reset for a new run. */
static sqlite3_stmt *stmt(struct store *st, enum stmt_id id)
{
  struct sq *q = SQ(st);
  if (!q->stmts[id]) {
    if (sqlite3_prepare_v3(q->db, sql_text[id], -1, SQLITE_PREPARE_PERSISTENT,
                           &q->stmts[id], NULL) != SQLITE_OK) {
      fail(st, "prepare");
      return NULL;
    }
  }
  sqlite3_reset(q->stmts[id]);
  sqlite3_clear_bindings(q->stmts[id]);
  return q->stmts[id];
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
  if (v)
    sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(s, i);
}

/* Owned copy of a text column, NULL for SQL NULL. */
static char *col_dup(sqlite3_stmt *s, int i)
{
  const unsigned char *t = sqlite3_column_text(s, i);
  return t ? xstrdup((const char *)t) : NULL;
}

static void col_copy(sqlite3_stmt *s, int i, char *dst, size_t cap)
{
  const unsigned char *t = sqlite3_column_text(s, i);
  snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* Runs a statement that returns no row. */
static enum err run(struct store *st, sqlite3_stmt *s, const char *what)
{
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE)
    return fail(st, what);
  return ERR_OK;
}

static enum err exec(struct store *st, const char *sql)
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
static enum err query_int(struct store *st, const char *sql, int64_t v1,
                          int64_t dflt, int64_t *out)
{
  sqlite3_stmt *s = NULL;
  *out = dflt;
  if (sqlite3_prepare_v2(SQ(st)->db, sql, -1, &s, NULL) != SQLITE_OK)
    return fail(st, "prepare");
  if (sqlite3_bind_parameter_count(s) > 0)
    sqlite3_bind_int64(s, 1, v1);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
    *out = sqlite3_column_int64(s, 0);
  enum err e = rc == SQLITE_ROW || rc == SQLITE_DONE ? ERR_OK : fail(st, sql);
  sqlite3_finalize(s);
  return e;
}

static const char *outcome_name(enum store_alert a)
{
  return store_alert_name(a);
}

static enum store_alert outcome_parse(const char *s)
{
  if (s && !strcmp(s, "created"))
    return STORE_ALERT_CREATED;
  if (s && !strcmp(s, "appended"))
    return STORE_ALERT_APPENDED;
  return STORE_ALERT_NONE;
}

static enum store_kind kind_parse(const char *s)
{
  if (s && !strcmp(s, "create_ticket"))
    return STORE_KIND_CREATE_TICKET;
  if (s && !strcmp(s, "update_severity"))
    return STORE_KIND_UPDATE_SEVERITY;
  if (s && !strcmp(s, "source_comment"))
    return STORE_KIND_SOURCE_COMMENT;
  if (s && !strcmp(s, "update_source"))
    return STORE_KIND_UPDATE_SOURCE;
  return STORE_KIND_COMMENT;
}

static enum store_state state_parse(const char *s)
{
  if (s && !strcmp(s, "done"))
    return STORE_DONE;
  if (s && !strcmp(s, "dead"))
    return STORE_DEAD;
  if (s && !strcmp(s, "skipped"))
    return STORE_SKIPPED;
  return STORE_PENDING;
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

static enum err sq_schema_version(struct store *st, int *out)
{
  int64_t v;
  enum err rc = query_int(st, "SELECT version FROM schema_version", 0, 0, &v);
  *out = (int)v;
  return rc;
}

static enum err sq_tx(struct store *st, enum store_tx op)
{
  switch (op) {
  case STORE_TX_BEGIN:
    return exec(st, "BEGIN IMMEDIATE");
  case STORE_TX_COMMIT:
    return exec(st, "COMMIT");
  case STORE_TX_ROLLBACK:
    if (sqlite3_get_autocommit(SQ(st)->db))
      return ERR_OK; /* SQLite already rolled back (e.g. after I/O error) */
    return exec(st, "ROLLBACK");
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

static enum err migrate(struct store *st, int max_version, char *err,
                        size_t errlen)
{
  int v = 0;
  int64_t rows = 0;
  enum err rc = exec(st, "BEGIN IMMEDIATE");
  if (rc)
    goto fail;
  rc = exec(st, "CREATE TABLE IF NOT EXISTS schema_version"
                " (version INTEGER NOT NULL)");
  if (!rc)
    rc = query_int(st, "SELECT COUNT(*) FROM schema_version", 0, 0, &rows);
  if (!rc && rows == 0)
    rc = exec(st, "INSERT INTO schema_version (version) VALUES (0)");
  if (!rc)
    rc = sq_schema_version(st, &v);
  if (rc)
    goto fail;
  if (v > STORE_SCHEMA_VERSION) {
    snprintf(err, errlen,
             "database schema version %d is newer than this build knows (%d):"
             " refusing to use it",
             v, STORE_SCHEMA_VERSION);
    exec(st, "ROLLBACK");
    return ERR_UNSUPPORTED;
  }
  for (; v < max_version; v++) {
    char bump[64];
    rc = exec(st, migrations[v]);
    if (rc)
      goto fail;
    snprintf(bump, sizeof bump, "UPDATE schema_version SET version = %d",
             v + 1);
    rc = exec(st, bump);
    if (rc)
      goto fail;
  }
  rc = exec(st, "COMMIT");
  if (rc)
    goto fail;
  return ERR_OK;
fail:
  snprintf(err, errlen, "schema migration: %s", st->errmsg);
  if (!sqlite3_get_autocommit(SQ(st)->db))
    exec(st, "ROLLBACK");
  return rc ? rc : ERR_STORE;
}

/* Forward declaration of the ops table (defined at the end). */
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
  rc = exec(st, sync_pragma[opts->synchronous]);
  /* Foreign keys stay off until the migrations ran: a migration that
   * rebuilds a table (4) must be able to drop the old one. */
  /* Statement journals and temporary tables stay in memory: a temporary
   * file per statement costs more than the statement. */
  if (!rc)
    rc = exec(st, "PRAGMA temp_store=MEMORY");
  if (rc) {
    snprintf(err, errlen, "database %s: %s", path, st->errmsg);
    goto fail;
  }
  rc = migrate(st, max_version, err, errlen);
  if (rc)
    goto fail;
  rc = exec(st, "PRAGMA foreign_keys=ON");
  if (rc) {
    snprintf(err, errlen, "database %s: %s", path, st->errmsg);
    goto fail;
  }
  return ERR_OK;
fail:
  sq_close(st);
  return rc;
}

/* ---- Ingest primitives ------------------------------------------------ */

static enum err sq_msg_find(struct store *st, const char *message_id,
                            struct ingest_result *out, bool *found)
{
  sqlite3_stmt *s = stmt(st, S_MSG_FIND);
  if (!s)
    return ERR_STORE;
  bind_text(s, 1, message_id);
  int rc = sqlite3_step(s);
  *found = rc == SQLITE_ROW;
  if (rc == SQLITE_ROW) {
    out->row_id = sqlite3_column_int64(s, 0);
    out->original = outcome_parse((const char *)sqlite3_column_text(s, 1));
    out->alert_id = sqlite3_column_int64(s, 2);
    out->result_json = col_dup(s, 3);
    col_copy(s, 4, out->alert_key, sizeof out->alert_key);
  }
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return fail(st, "find message");
  return ERR_OK;
}

static enum err sq_msg_insert(struct store *st, const struct ingest_msg *m,
                              enum store_alert outcome, int64_t alert_id,
                              int64_t now_ms, int64_t *row_id)
{
  sqlite3_stmt *s = stmt(st, S_MSG_INSERT);
  if (!s)
    return ERR_STORE;
  bind_text(s, 1, m->message_id);
  bind_text(s, 2, m->customer_id);
  bind_text(s, 3, m->conversation_id);
  bind_text(s, 4, m->channel);
  bind_text(s, 5, m->timestamp);
  bind_text(s, 6, m->lang);
  bind_text(s, 7, m->text);
  sqlite3_bind_double(s, 8, m->polarity);
  sqlite3_bind_double(s, 9, m->subjectivity);
  sqlite3_bind_int64(s, 10, (sqlite3_int64)m->level);
  bind_text(s, 11, m->level_name);
  sqlite3_bind_int(s, 12, m->frustrated);
  bind_text(s, 13, outcome_name(outcome));
  if (alert_id)
    sqlite3_bind_int64(s, 14, alert_id);
  bind_text(s, 15, m->result_json);
  sqlite3_bind_int64(s, 16, now_ms);
  bind_text(s, 17, m->source_object);
  bind_text(s, 18, m->source_display_id);
  bind_text(s, 19, m->source_type);
  bind_text(s, 20, m->rev_org);
  enum err rc = run(st, s, "insert message");
  if (!rc)
    *row_id = sqlite3_last_insert_rowid(SQ(st)->db);
  return rc;
}

/* Reads an alerts row selected with the columns of S_ALERT_FIND_OPEN. */
static void read_alert(sqlite3_stmt *s, struct store_alert_row *a)
{
  a->id = sqlite3_column_int64(s, 0);
  col_copy(s, 1, a->key, sizeof a->key);
  a->customer_id = col_dup(s, 2);
  a->conversation_id = col_dup(s, 3);
  a->level = sqlite3_column_int64(s, 4);
  a->level_name = col_dup(s, 5);
  a->severity = col_dup(s, 6);
  a->ticket_id = col_dup(s, 7);
  a->ticket_display_id = col_dup(s, 8);
  a->created_at_ms = sqlite3_column_int64(s, 9);
  a->last_activity_ms = sqlite3_column_int64(s, 10);
  a->message_count = sqlite3_column_int64(s, 11);
  a->ticket_wanted = sqlite3_column_int(s, 12) != 0;
  a->open = true;
}

static enum err sq_alert_find_open(struct store *st, const char *customer_id,
                                   struct store_alert_row *out, bool *found)
{
  sqlite3_stmt *s = stmt(st, S_ALERT_FIND_OPEN);
  if (!s)
    return ERR_STORE;
  bind_text(s, 1, customer_id);
  int rc = sqlite3_step(s);
  *found = rc == SQLITE_ROW;
  if (rc == SQLITE_ROW)
    read_alert(s, out);
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return fail(st, "find open alert");
  return ERR_OK;
}

static enum err sq_alert_insert(struct store *st, struct store_alert_row *a)
{
  sqlite3_stmt *s = stmt(st, S_ALERT_INSERT);
  if (!s)
    return ERR_STORE;
  bind_text(s, 1, a->key);
  bind_text(s, 2, a->customer_id);
  bind_text(s, 3, a->conversation_id);
  sqlite3_bind_int64(s, 4, a->level);
  bind_text(s, 5, a->level_name);
  bind_text(s, 6, a->severity);
  sqlite3_bind_int64(s, 7, a->created_at_ms);
  sqlite3_bind_int64(s, 8, a->last_activity_ms);
  sqlite3_bind_int64(s, 9, a->message_count);
  sqlite3_bind_int(s, 10, a->ticket_wanted);
  enum err rc = run(st, s, "insert alert");
  if (!rc)
    a->id = sqlite3_last_insert_rowid(SQ(st)->db);
  return rc;
}

static enum err sq_alert_update(struct store *st,
                                const struct store_alert_row *a)
{
  sqlite3_stmt *s = stmt(st, S_ALERT_UPDATE);
  if (!s)
    return ERR_STORE;
  sqlite3_bind_int64(s, 1, a->id);
  sqlite3_bind_int64(s, 2, a->level);
  bind_text(s, 3, a->level_name);
  bind_text(s, 4, a->severity);
  bind_text(s, 5, a->open ? "open" : "closed");
  sqlite3_bind_int64(s, 6, a->last_activity_ms);
  sqlite3_bind_int64(s, 7, a->message_count);
  sqlite3_bind_int(s, 8, a->ticket_wanted);
  return run(st, s, "update alert");
}

static enum err sq_outbox_insert(struct store *st, int64_t alert_id,
                                 enum store_kind kind, const char *payload,
                                 int64_t now_ms)
{
  sqlite3_stmt *s = stmt(st, S_OUTBOX_INSERT);
  if (!s)
    return ERR_STORE;
  sqlite3_bind_int64(s, 1, alert_id);
  bind_text(s, 2, store_kind_name(kind));
  bind_text(s, 3, payload);
  sqlite3_bind_int64(s, 4, now_ms);
  return run(st, s, "insert outbox entry");
}

static enum err sq_window_get(struct store *st, const char *customer_id,
                              char **json)
{
  *json = NULL;
  sqlite3_stmt *s = stmt(st, S_WIN_GET);
  if (!s)
    return ERR_STORE;
  bind_text(s, 1, customer_id);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW)
    *json = col_dup(s, 0);
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return fail(st, "read customer state");
  return ERR_OK;
}

static enum err sq_window_put(struct store *st, const char *customer_id,
                              const char *json, int64_t now_ms)
{
  sqlite3_stmt *s = stmt(st, S_WIN_PUT);
  if (!s)
    return ERR_STORE;
  bind_text(s, 1, customer_id);
  bind_text(s, 2, json);
  sqlite3_bind_int64(s, 3, now_ms);
  return run(st, s, "write customer state");
}

/* ---- Retention and reading back --------------------------------------- */

static enum err sq_purge_text(struct store *st, int64_t older_than_ms,
                              size_t max_rows, size_t *purged)
{
  sqlite3_stmt *s = NULL;
  enum err rc = store_tx_enter(st);
  if (rc)
    return rc;
  if (sqlite3_prepare_v2(SQ(st)->db,
                         "UPDATE messages SET text = NULL WHERE id IN"
                         " (SELECT id FROM messages WHERE text IS NOT NULL"
                         " AND created_at < ?1 ORDER BY created_at LIMIT ?2)",
                         -1, &s, NULL) != SQLITE_OK) {
    rc = fail(st, "prepare purge");
    goto out;
  }
  sqlite3_bind_int64(s, 1, older_than_ms);
  sqlite3_bind_int64(s, 2, max_rows ? (sqlite3_int64)max_rows : -1);
  rc = run(st, s, "purge message text");
  if (rc)
    goto out;
  *purged = (size_t)sqlite3_changes(SQ(st)->db);
  sqlite3_finalize(s);
  s = NULL;
  /* The excerpt copied into finished outbox payloads goes too. */
  if (sqlite3_prepare_v2(SQ(st)->db,
                         "UPDATE outbox SET payload ="
                         " json_remove(payload, '$.excerpt')"
                         " WHERE state <> 'pending' AND created_at < ?1"
                         " AND json_extract(payload, '$.excerpt') IS NOT NULL",
                         -1, &s, NULL) != SQLITE_OK) {
    rc = fail(st, "prepare purge");
    goto out;
  }
  sqlite3_bind_int64(s, 1, older_than_ms);
  rc = run(st, s, "purge outbox excerpts");
out:
  sqlite3_finalize(s);
  return store_tx_leave(st, rc);
}

static enum err sq_message_get(struct store *st, const char *message_id,
                               struct store_message *m, bool *found)
{
  sqlite3_stmt *s = stmt(st, S_MSG_GET);
  if (!s)
    return ERR_STORE;
  bind_text(s, 1, message_id);
  int rc = sqlite3_step(s);
  *found = rc == SQLITE_ROW;
  if (rc == SQLITE_ROW) {
    m->row_id = sqlite3_column_int64(s, 0);
    m->message_id = col_dup(s, 1);
    m->customer_id = col_dup(s, 2);
    m->conversation_id = col_dup(s, 3);
    m->text = col_dup(s, 4);
    m->level_name = col_dup(s, 5);
    m->result_json = col_dup(s, 6);
    m->polarity = sqlite3_column_double(s, 7);
    m->subjectivity = sqlite3_column_double(s, 8);
    m->level = sqlite3_column_int64(s, 9);
    m->frustrated = sqlite3_column_int(s, 10) != 0;
    m->outcome = outcome_parse((const char *)sqlite3_column_text(s, 11));
    m->alert_id = sqlite3_column_int64(s, 12);
    m->created_at_ms = sqlite3_column_int64(s, 13);
    m->source_object = col_dup(s, 14);
    m->source_display_id = col_dup(s, 15);
    m->source_type = col_dup(s, 16);
    m->rev_org = col_dup(s, 17);
  }
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return fail(st, "read message");
  return ERR_OK;
}

static enum err sq_alert_get(struct store *st, int64_t id,
                             struct store_alert_row *a)
{
  sqlite3_stmt *s = stmt(st, S_ALERT_GET);
  if (!s)
    return ERR_STORE;
  sqlite3_bind_int64(s, 1, id);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    read_alert(s, a);
    const unsigned char *state = sqlite3_column_text(s, 13);
    a->open = state && !strcmp((const char *)state, "open");
  }
  sqlite3_reset(s);
  if (rc == SQLITE_DONE) {
    store_set_error(st, "alert %lld not found", (long long)id);
    return ERR_NOT_FOUND;
  }
  if (rc != SQLITE_ROW)
    return fail(st, "read alert");
  return ERR_OK;
}

static enum err sq_counts(struct store *st, struct store_counts *c)
{
  static const struct {
    const char *sql;
    size_t offset;
  } q[] = {
      {"SELECT COUNT(*) FROM messages",
       offsetof(struct store_counts, messages)},
      {"SELECT COUNT(*) FROM alerts", offsetof(struct store_counts, alerts)},
      {"SELECT COUNT(*) FROM alerts WHERE state = 'open'",
       offsetof(struct store_counts, open_alerts)},
      {"SELECT COUNT(*) FROM outbox WHERE state = 'pending'",
       offsetof(struct store_counts, outbox_pending)},
      {"SELECT COUNT(*) FROM outbox WHERE state = 'done'",
       offsetof(struct store_counts, outbox_done)},
      {"SELECT COUNT(*) FROM outbox WHERE state = 'dead'",
       offsetof(struct store_counts, outbox_dead)},
      {"SELECT COUNT(*) FROM outbox WHERE state = 'skipped'",
       offsetof(struct store_counts, outbox_skipped)},
  };
  for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
    int64_t *dst = (int64_t *)(void *)((char *)c + q[i].offset);
    enum err rc = query_int(st, q[i].sql, 0, 0, dst);
    if (rc)
      return rc;
  }
  return ERR_OK;
}

/* ---- Outbox ----------------------------------------------------------- */

static enum err sq_outbox_claim(struct store *st, int64_t now_ms,
                                int64_t lease_ms, struct store_entry *e,
                                bool *found)
{
  enum err rc = store_tx_enter(st);
  if (rc)
    return rc;
  sqlite3_stmt *s = stmt(st, S_CLAIM_SELECT);
  if (!s) {
    rc = ERR_STORE;
    goto out;
  }
  sqlite3_bind_int64(s, 1, now_ms);
  int step = sqlite3_step(s);
  if (step == SQLITE_ROW) {
    *found = true;
    e->id = sqlite3_column_int64(s, 0);
    e->alert_id = sqlite3_column_int64(s, 1);
    e->kind = kind_parse((const char *)sqlite3_column_text(s, 2));
    e->payload = col_dup(s, 3);
    e->attempts = sqlite3_column_int64(s, 4) + 1;
    e->outcome_unknown = sqlite3_column_int(s, 5) != 0;
    e->created_at_ms = sqlite3_column_int64(s, 6);
    e->first_attempt_ms = sqlite3_column_type(s, 7) == SQLITE_NULL
                              ? now_ms
                              : sqlite3_column_int64(s, 7);
    col_copy(s, 8, e->alert_key, sizeof e->alert_key);
    e->ticket_id = col_dup(s, 9);
    e->ticket_display_id = col_dup(s, 10);
  }
  sqlite3_reset(s);
  if (step != SQLITE_ROW && step != SQLITE_DONE) {
    rc = fail(st, "claim outbox entry");
    goto out;
  }
  if (!*found)
    goto out;
  s = stmt(st, S_CLAIM_UPDATE);
  if (!s) {
    rc = ERR_STORE;
    goto out;
  }
  sqlite3_bind_int64(s, 1, e->id);
  sqlite3_bind_int64(s, 2, now_ms + lease_ms);
  sqlite3_bind_int64(s, 3, now_ms);
  rc = run(st, s, "claim outbox entry");
out:
  rc = store_tx_leave(st, rc);
  if (rc) {
    store_entry_cleanup(e);
    *found = false;
  }
  return rc;
}

static enum err insert_attempt(struct store *st, int64_t entry_id,
                               const struct store_attempt *a)
{
  sqlite3_stmt *s = stmt(st, S_ATTEMPT_INSERT);
  if (!s)
    return ERR_STORE;
  const char *res = a->result ? a->result : "unknown";
  bool ok =
      !strcmp(res, "ok") || !strcmp(res, "found") || !strcmp(res, "not_found");
  sqlite3_bind_int64(s, 1, entry_id);
  sqlite3_bind_int64(s, 2, a->at_ms);
  sqlite3_bind_int64(s, 3, a->duration_ms);
  sqlite3_bind_int(s, 4, a->http_status);
  bind_text(s, 5, res);
  sqlite3_bind_int(s, 6, ok);
  bind_text(s, 7, a->error);
  return run(st, s, "record delivery attempt");
}

static enum err sq_outbox_finish(struct store *st, const struct store_finish *f,
                                 int64_t now_ms)
{
  enum err rc = store_tx_enter(st);
  char *kind = NULL;
  int64_t alert_id = 0;
  if (rc)
    return rc;
  sqlite3_stmt *s = stmt(st, S_ENTRY_KIND);
  if (!s) {
    rc = ERR_STORE;
    goto out;
  }
  sqlite3_bind_int64(s, 1, f->entry_id);
  int step = sqlite3_step(s);
  if (step == SQLITE_ROW) {
    kind = col_dup(s, 0);
    alert_id = sqlite3_column_int64(s, 1);
  }
  sqlite3_reset(s);
  if (step == SQLITE_DONE) {
    store_set_error(st, "outbox entry %lld not found", (long long)f->entry_id);
    rc = ERR_NOT_FOUND;
    goto out;
  }
  if (step != SQLITE_ROW) {
    rc = fail(st, "read outbox entry");
    goto out;
  }
  s = stmt(st, S_FINISH);
  if (!s) {
    rc = ERR_STORE;
    goto out;
  }
  sqlite3_bind_int64(s, 1, f->entry_id);
  bind_text(s, 2, store_state_name(f->state));
  sqlite3_bind_int64(s, 3, f->next_attempt_ms);
  sqlite3_bind_int(s, 4, f->outcome_unknown);
  bind_text(s, 5, f->error);
  sqlite3_bind_int64(s, 6, now_ms);
  rc = run(st, s, "finish outbox entry");
  if (!rc && f->attempt)
    rc = insert_attempt(st, f->entry_id, f->attempt);
  if (rc)
    goto out;
  bool create = kind && !strcmp(kind, "create_ticket");
  if (create && f->state == STORE_DONE && f->ticket_id) {
    s = stmt(st, S_ALERT_TICKET);
    if (!s) {
      rc = ERR_STORE;
      goto out;
    }
    sqlite3_bind_int64(s, 1, alert_id);
    bind_text(s, 2, f->ticket_id);
    bind_text(s, 3, f->ticket_display_id);
    rc = run(st, s, "store ticket id");
  } else if (create && f->state == STORE_DEAD) {
    s = stmt(st, S_CASCADE_DEAD);
    if (!s) {
      rc = ERR_STORE;
      goto out;
    }
    sqlite3_bind_int64(s, 1, alert_id);
    sqlite3_bind_int64(s, 2, f->entry_id);
    sqlite3_bind_int64(s, 3, now_ms);
    bind_text(s, 4, f->error ? f->error : "ticket creation failed");
    rc = run(st, s, "dead-letter dependent entries");
  }
out:
  free(kind);
  return store_tx_leave(st, rc);
}

static enum err sq_outbox_record_attempt(struct store *st, int64_t entry_id,
                                         const struct store_attempt *a)
{
  return insert_attempt(st, entry_id, a);
}

static enum err sq_outbox_recover(struct store *st, size_t *released)
{
  enum err rc = exec(st, "UPDATE outbox SET lease_until = 0"
                         " WHERE state = 'pending' AND lease_until > 0");
  if (!rc)
    *released = (size_t)sqlite3_changes(SQ(st)->db);
  return rc;
}

static enum err sq_outbox_skip_pending(struct store *st, const char *reason,
                                       int64_t now_ms, size_t *skipped)
{
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(SQ(st)->db,
                         "UPDATE outbox SET state = 'skipped', lease_until = 0,"
                         " last_error = ?1, finished_at = ?2"
                         " WHERE state = 'pending'",
                         -1, &s, NULL) != SQLITE_OK)
    return fail(st, "prepare skip");
  bind_text(s, 1, reason);
  sqlite3_bind_int64(s, 2, now_ms);
  enum err rc = run(st, s, "skip pending entries");
  if (!rc)
    *skipped = (size_t)sqlite3_changes(SQ(st)->db);
  sqlite3_finalize(s);
  return rc;
}

static enum err sq_outbox_stats(struct store *st, int64_t now_ms,
                                struct store_outbox_stats *o)
{
  sqlite3_stmt *s = NULL;
  enum err rc = ERR_OK;
  /* Reads only: one snapshot keeps the numbers consistent (inside a
   * caller's transaction that one already is). */
  bool own_tx = !st->in_tx;
  if (own_tx) {
    rc = exec(st, "BEGIN");
    if (rc)
      return rc;
  }
  if (sqlite3_prepare_v2(SQ(st)->db,
                         "SELECT COUNT(*), MIN(created_at),"
                         " MIN(CASE WHEN MAX(next_attempt_at, lease_until) > ?1"
                         " THEN MAX(next_attempt_at, lease_until) END)"
                         " FROM outbox WHERE state = 'pending'",
                         -1, &s, NULL) != SQLITE_OK) {
    rc = fail(st, "prepare stats");
    goto out;
  }
  sqlite3_bind_int64(s, 1, now_ms);
  if (sqlite3_step(s) != SQLITE_ROW) {
    rc = fail(st, "outbox stats");
    goto out;
  }
  o->pending = sqlite3_column_int64(s, 0);
  o->oldest_pending_ms = sqlite3_column_int64(s, 1);
  o->next_due_ms = sqlite3_column_int64(s, 2);
  sqlite3_finalize(s);
  s = NULL;
  rc = query_int(st, "SELECT COUNT(*) FROM outbox WHERE state = 'dead'", 0, 0,
                 &o->dead);
  /* Attempts are never deleted, so the largest id counts them in O(1). */
  if (!rc)
    rc = query_int(st, "SELECT MAX(id) FROM delivery_attempts", 0, 0,
                   &o->attempts);
  if (!rc)
    rc = query_int(st, "SELECT COUNT(*) FROM delivery_attempts WHERE ok = 0", 0,
                   0, &o->failures);
  if (!rc)
    rc = query_int(st, "SELECT MAX(at) FROM delivery_attempts WHERE ok = 1", 0,
                   0, &o->last_success_ms);
  if (rc)
    goto out;
  if (sqlite3_prepare_v2(SQ(st)->db,
                         "SELECT error FROM delivery_attempts WHERE ok = 0"
                         " ORDER BY at DESC, id DESC LIMIT 1",
                         -1, &s, NULL) != SQLITE_OK) {
    rc = fail(st, "prepare stats");
    goto out;
  }
  if (sqlite3_step(s) == SQLITE_ROW)
    col_copy(s, 0, o->last_error, sizeof o->last_error);
out:
  sqlite3_finalize(s);
  if (own_tx)
    exec(st, "COMMIT");
  return rc;
}

#define OUTBOX_ROW_COLUMNS                                                     \
  "SELECT id, alert_id, kind, state, payload, last_error, attempts,"           \
  " next_attempt_at, created_at, outcome_unknown FROM outbox"

/* Reads the rows of s (selecting OUTBOX_ROW_COLUMNS, bound) into *out and
 * finalizes s. */
static enum err read_outbox_rows(struct store *st, sqlite3_stmt *s,
                                 struct store_outbox_row **out, size_t *n)
{
  size_t cap = 0;
  int step;
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? 2 * cap : 8;
      *out = xrealloc(*out, cap * sizeof **out);
    }
    struct store_outbox_row *r = &(*out)[(*n)++];
    r->id = sqlite3_column_int64(s, 0);
    r->alert_id = sqlite3_column_int64(s, 1);
    r->kind = kind_parse((const char *)sqlite3_column_text(s, 2));
    r->state = state_parse((const char *)sqlite3_column_text(s, 3));
    r->payload = col_dup(s, 4);
    r->last_error = col_dup(s, 5);
    r->attempts = sqlite3_column_int64(s, 6);
    r->next_attempt_ms = sqlite3_column_int64(s, 7);
    r->created_at_ms = sqlite3_column_int64(s, 8);
    r->outcome_unknown = sqlite3_column_int(s, 9) != 0;
  }
  enum err rc = step == SQLITE_DONE ? ERR_OK : fail(st, "list outbox");
  sqlite3_finalize(s);
  if (rc) {
    store_outbox_rows_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

static enum err sq_outbox_list(struct store *st, int64_t alert_id,
                               struct store_outbox_row **out, size_t *n)
{
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(SQ(st)->db,
                         OUTBOX_ROW_COLUMNS " WHERE alert_id = ?1 ORDER BY id",
                         -1, &s, NULL) != SQLITE_OK)
    return fail(st, "prepare outbox list");
  sqlite3_bind_int64(s, 1, alert_id);
  return read_outbox_rows(st, s, out, n);
}

static enum err sq_outbox_select(struct store *st, enum store_state state,
                                 bool all, size_t limit,
                                 struct store_outbox_row **out, size_t *n)
{
  sqlite3_stmt *s = NULL;
  /* The state index serves the usual question (the dead letters). */
  if (sqlite3_prepare_v2(SQ(st)->db,
                         OUTBOX_ROW_COLUMNS " WHERE ?1 OR state = ?2"
                                            " ORDER BY id LIMIT ?3",
                         -1, &s, NULL) != SQLITE_OK)
    return fail(st, "prepare outbox select");
  sqlite3_bind_int(s, 1, all);
  bind_text(s, 2, store_state_name(state));
  sqlite3_bind_int64(s, 3, limit ? (sqlite3_int64)limit : -1);
  return read_outbox_rows(st, s, out, n);
}

/* Runs sql (binding ?1 = id, ?2 = now_ms) in its own transaction or the
 * caller's; sets *n to the rows changed; ERR_NOT_FOUND when id != 0
 * changed nothing, with the entry's state in the message. */
static enum err change_dead(struct store *st, const char *sql, int64_t id,
                            int64_t now_ms, const char *what, size_t *n)
{
  sqlite3_stmt *s = NULL;
  enum err rc = store_tx_enter(st);
  if (rc)
    return rc;
  if (sqlite3_prepare_v2(SQ(st)->db, sql, -1, &s, NULL) != SQLITE_OK) {
    rc = fail(st, what);
    goto out;
  }
  sqlite3_bind_int64(s, 1, id);
  sqlite3_bind_int64(s, 2, now_ms);
  rc = run(st, s, what);
  if (rc)
    goto out;
  *n = (size_t)sqlite3_changes(SQ(st)->db);
  if (id && *n == 0) {
    char state[16] = "";
    sqlite3_finalize(s);
    s = NULL;
    if (sqlite3_prepare_v2(SQ(st)->db, "SELECT state FROM outbox WHERE id = ?1",
                           -1, &s, NULL) == SQLITE_OK) {
      sqlite3_bind_int64(s, 1, id);
      if (sqlite3_step(s) == SQLITE_ROW)
        col_copy(s, 0, state, sizeof state);
    }
    if (*state)
      store_set_error(st, "outbox entry %lld is %s, not a dead letter",
                      (long long)id, state);
    else
      store_set_error(st, "outbox entry %lld does not exist", (long long)id);
    rc = ERR_NOT_FOUND;
  }
out:
  sqlite3_finalize(s);
  /* Nothing was written for ERR_NOT_FOUND: end the transaction as a
   * success so that a caller's transaction is not poisoned. */
  enum err left = store_tx_leave(st, rc == ERR_NOT_FOUND ? ERR_OK : rc);
  return left ? left : rc;
}

static enum err sq_outbox_retry(struct store *st, int64_t id, int64_t now_ms,
                                size_t *n)
{
  /* The entries a dead create_ticket took with it carry S_CASCADE_DEAD's
   * last_error. */
  return change_dead(
      st,
      "UPDATE outbox SET state = 'pending', attempts = 0, lease_until = 0,"
      " next_attempt_at = ?2, finished_at = NULL"
      " WHERE state = 'dead' AND (?1 = 0 OR id = ?1"
      "  OR (alert_id = (SELECT alert_id FROM outbox WHERE id = ?1"
      "                  AND kind = 'create_ticket')"
      "      AND last_error LIKE 'the alert has no ticket: %'))",
      id, now_ms, "retry dead letters", n);
}

static enum err sq_outbox_drop(struct store *st, int64_t id, int64_t now_ms,
                               size_t *n)
{
  return change_dead(st,
                     "UPDATE outbox SET state = 'skipped', lease_until = 0,"
                     " finished_at = ?2, last_error = 'dropped by an operator"
                     " (' || COALESCE(last_error, 'no error') || ')'"
                     " WHERE state = 'dead' AND (?1 = 0 OR id = ?1)",
                     id, now_ms, "drop dead letters", n);
}

/* ---- Ownership -------------------------------------------------------- */

/* How long store_own waits for the lock: long enough to outlast a
 * store_owner's brief look (it takes the lock shared for a moment), far
 * shorter than any owner keeps it. */
#define OWN_TRIES 20
#define OWN_PAUSE_NS (5 * 1000 * 1000)

/* "<database file>.lock", or NULL for a database without a file. */
static char *lock_path(struct store *st)
{
  const char *file = sqlite3_db_filename(SQ(st)->db, "main");
  if (!file || !*file)
    return NULL;
  size_t len = strlen(file);
  char *p = xmalloc(len + sizeof ".lock");
  memcpy(p, file, len);
  memcpy(p + len, ".lock", sizeof ".lock");
  return p;
}

/* The pid written in the lock file; 0 when there is none (yet). */
static long lock_file_pid(int fd)
{
  char text[32];
  ssize_t got = pread(fd, text, sizeof text - 1, 0);
  if (got <= 0)
    return 0;
  text[got] = '\0';
  char *end;
  long pid = strtol(text, &end, 10);
  return pid > 0 && (*end == '\n' || *end == '\0') ? pid : 0;
}

static void busy_message(struct store *st, const char *path, long pid)
{
  size_t len = strlen(path) - strlen(".lock");
  if (pid)
    store_set_error(st,
                    "the store %.*s is in use by another frustration-alert "
                    "serve (pid %ld): one server per SQLite file; stop it "
                    "first or give this one another DATABASE_URL",
                    (int)len, path, pid);
  else
    store_set_error(st,
                    "the store %.*s is in use by another frustration-alert "
                    "serve (pid unknown, see %s): one server per SQLite "
                    "file",
                    (int)len, path, path);
}

static enum err sq_own(struct store *st, long *holder_pid)
{
  struct sq *q = SQ(st);
  if (q->lock_fd >= 0)
    return ERR_OK;
  char *path = lock_path(st);
  enum err rc = ERR_OK;
  int fd = -1;
  if (!path)
    goto out;
  fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    store_set_error(st, "cannot open the lock file %s: %s", path,
                    strerror(errno));
    rc = ERR_IO;
    goto out;
  }
  int tries = 0;
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      store_set_error(st, "cannot lock %s: %s", path, strerror(errno));
      rc = ERR_IO;
      goto out;
    }
    if (++tries >= OWN_TRIES) {
      *holder_pid = lock_file_pid(fd);
      busy_message(st, path, *holder_pid);
      rc = ERR_BUSY;
      goto out;
    }
    struct timespec pause = {0, OWN_PAUSE_NS};
    nanosleep(&pause, NULL);
  }
  /* For operators and for the next one refused: who holds it. */
  char text[32];
  int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
    store_set_error(st, "cannot write the lock file %s: %s", path,
                    strerror(errno));
    rc = ERR_IO;
    goto out;
  }
  q->lock_fd = fd;
  fd = -1;
out:
  if (fd >= 0)
    close(fd);
  free(path);
  return rc;
}

static enum err sq_owner(struct store *st, long *pid)
{
  if (SQ(st)->lock_fd >= 0) {
    *pid = (long)getpid();
    return ERR_OK;
  }
  char *path = lock_path(st);
  if (!path)
    return ERR_OK;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    /* A shared lock is granted only when nobody owns the store. */
    if (flock(fd, LOCK_SH | LOCK_NB) == 0)
      flock(fd, LOCK_UN);
    else if (errno == EWOULDBLOCK)
      *pid = lock_file_pid(fd);
    close(fd);
  }
  free(path);
  return ERR_OK;
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
    .counts = sq_counts,
    .outbox_claim = sq_outbox_claim,
    .outbox_finish = sq_outbox_finish,
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
