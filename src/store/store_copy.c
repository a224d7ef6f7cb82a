/* store_copy: copies a SQLite store into an empty PostgreSQL database
 * (the `migrate` command), the one file of the program that speaks to both
 * backends at once.
 *
 * The source is opened as any tool opens it (store_open_existing: brought
 * to STORE_SCHEMA_VERSION) and owned for the whole copy (store_own), so no
 * server can start on it meanwhile, and read in one SQLite read
 * transaction, one snapshot. The target is opened with store_open, which
 * creates its schema, and written in one PostgreSQL transaction: the
 * tables are locked, checked empty, filled with COPY FROM STDIN (text
 * format) in the order their foreign keys need, and the id sequences moved
 * past the copied ids. Any failure rolls the whole of it back: the target
 * is left as it was found (its schema, created by store_open, stays).
 *
 * Copied as they are: every id (alerts, messages, outbox entries,
 * attempts), so the references between them hold; outbox states,
 * attempts, due times, outcome_unknown marks and errors; customers'
 * windows. Not copied: leases (a migration runs with the service stopped,
 * so none is live: every pending entry is due for the target's first
 * worker), the SQLite store's lock file and the schema_version row (the
 * target has its own). */
#include "store/store_pg_int.h"
#include "store/store_sqlite_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"

/* COPY data is sent in pieces of about this size: large enough that libpq
 * sends full packets, small enough to keep memory flat on any store. */
#define COPY_CHUNK (256 * 1024)

/* How long the target's table locks are waited for before giving up (a
 * session holding one is something to look at, not to wait out). */
#define COPY_LOCK_TIMEOUT "10s"

/* One table to copy: the same column names on both sides, with the
 * PostgreSQL kind of each ('I' integer, 'F' double, 'B' boolean stored
 * as 0/1 in SQLite, 'T' text), in the order of `columns`. */
struct copy_table {
  const char *name;
  const char *columns;
  const char *kinds;
  const char *order; /* the source's ORDER BY */
  bool serial;       /* has a BIGSERIAL id to move past the copied ones */
  bool by_state;     /* the outbox: counted by state (column 4) */
};

/* In the order foreign keys need: alerts before the messages and outbox
 * entries that name them, entries before their attempts. */
static const struct copy_table tables[] = {
    {"alerts",
     "id, alert_key, customer_id, conversation_id, level, level_name,"
     " severity, state, ticket_id, ticket_display_id, created_at,"
     " last_activity_at, message_count, ticket_wanted",
     "ITTTITTTTTIIIB", "id", true, false},
    {"messages",
     "id, message_id, customer_id, conversation_id, channel, timestamp,"
     " lang, text, polarity, subjectivity, level, level_name, frustrated,"
     " alert_outcome, alert_id, result_json, created_at, source_object,"
     " source_display_id, source_type, rev_org, label, labelled_at,"
     " labelled_by",
     "ITTTTTTTFFITBTITITTTTBIT", "id", true, false},
    /* lease_until, lease_owner and lease_token take their defaults (0,
     * NULL, 0): no lease. */
    {"outbox",
     "id, alert_id, kind, payload, state, attempts, next_attempt_at,"
     " first_attempt_at, last_error, outcome_unknown, created_at,"
     " finished_at",
     "IITTTIIITBII", "id", true, true},
    {"delivery_attempts",
     "id, outbox_id, at, duration_ms, http_status, result, ok, error",
     "IIIIITBT", "id", true, false},
    {"customer_state", "customer_id, recent, messages, updated_at", "TTII",
     "customer_id", false, false},
};

#define N_TABLES (sizeof tables / sizeof tables[0])

/* The outbox's state column (by_state). */
#define OUTBOX_STATE_COLUMN 4

/* The whole copy's handles and where it stands. */
struct copy {
  struct store *src, *dst;
  struct buf out; /* COPY data not yet sent */
  char *err;
  size_t errlen;
};

static enum err fail(struct copy *c, enum err rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static enum err fail(struct copy *c, enum err rc, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err, c->errlen, fmt, ap);
  va_end(ap);
  return rc;
}

/* libpq's last message without its trailing newline (pg_error_text). */
static const char *pq_message(PGconn *conn, const PGresult *r)
{
  static _Thread_local char msg[512];
  int len;
  const char *m = pg_error_text(conn, r, &len);
  snprintf(msg, sizeof msg, "%.*s", len, m);
  return msg;
}

/* The letter that follows a backslash for byte ch in COPY's text format
 * (backslash, tab, newline, carriage return), 0 for a byte sent as it is. */
static char copy_escape(unsigned char ch)
{
  switch (ch) {
  case '\\':
    return '\\';
  case '\t':
    return 't';
  case '\n':
    return 'n';
  case '\r':
    return 'r';
  }
  return 0;
}

/* Appends text in COPY's text format (PostgreSQL's "COPY", File Formats,
 * Text Format): escaped bytes take two, the rest one. */
static enum err put_text(struct buf *b, const unsigned char *s, size_t len)
{
  if (!len)
    return ERR_OK;
  char *room = buf_room(b, 2 * len);
  if (!room)
    return ERR_TOO_BIG;
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    char e = copy_escape(s[i]);
    if (e) {
      room[n++] = '\\';
      room[n++] = e;
    } else {
      room[n++] = (char)s[i];
    }
  }
  buf_grow(b, n);
  return ERR_OK;
}

/* Appends the current row of s as one line of COPY text. */
static enum err put_row(struct copy *c, const struct copy_table *t,
                        sqlite3_stmt *s)
{
  struct buf *b = &c->out;
  int n = (int)strlen(t->kinds);
  enum err rc = ERR_OK;
  for (int i = 0; !rc && i < n; i++) {
    if (i)
      rc = buf_putc(b, '\t');
    if (rc)
      break;
    if (sqlite3_column_type(s, i) == SQLITE_NULL) {
      rc = buf_puts(b, "\\N");
      continue;
    }
    switch (t->kinds[i]) {
    case 'I':
      rc = buf_printf(b, "%" PRId64, (int64_t)sqlite3_column_int64(s, i));
      break;
    case 'F':
      /* %.17g reads back as the same double: scores round-trip exactly. */
      rc = buf_printf(b, "%.17g", sqlite3_column_double(s, i));
      break;
    case 'B':
      rc = buf_putc(b, sqlite3_column_int64(s, i) ? 't' : 'f');
      break;
    default: {
      const unsigned char *v = sqlite3_column_text(s, i);
      size_t len = (size_t)sqlite3_column_bytes(s, i);
      if (v && memchr(v, '\0', len))
        return fail(c, ERR_INVALID,
                    "%s: the row whose %.*s is %s: a text holds a NUL byte,"
                    " which PostgreSQL cannot store",
                    t->name, (int)strcspn(t->columns, ","), t->columns,
                    (const char *)sqlite3_column_text(s, 0));
      rc = put_text(b, v ? v : (const unsigned char *)"", len);
    }
    }
  }
  if (!rc)
    rc = buf_putc(b, '\n');
  if (rc)
    return fail(c, rc, "%s: a row does not fit in memory (%s)", t->name,
                err_str(rc));
  return ERR_OK;
}

/* Sends what is buffered. */
static enum err flush(struct copy *c, const struct copy_table *t)
{
  PGconn *conn = PG(c->dst)->conn;
  if (c->out.len && PQputCopyData(conn, buf_ptr(&c->out), (int)c->out.len) != 1)
    return fail(c, ERR_STORE, "postgresql: copy %s: %s", t->name,
                pq_message(conn, NULL));
  buf_reset(&c->out);
  return ERR_OK;
}

/* Ends the COPY (aborting it with abort_msg when not NULL) and checks that
 * PostgreSQL took `sent` rows. */
static enum err copy_end(struct copy *c, const struct copy_table *t,
                         const char *abort_msg, int64_t sent)
{
  PGconn *conn = PG(c->dst)->conn;
  enum err rc = ERR_OK;
  if (PQputCopyEnd(conn, abort_msg) != 1)
    rc = fail(c, ERR_STORE, "postgresql: copy %s: %s", t->name,
              pq_message(conn, NULL));
  for (PGresult *r = PQgetResult(conn); r; r = PQgetResult(conn)) {
    if (!rc && !abort_msg && PQresultStatus(r) != PGRES_COMMAND_OK)
      rc = fail(c, ERR_STORE, "postgresql: copy %s: %s", t->name,
                pq_message(conn, r));
    else if (!rc && !abort_msg &&
             strtoll(PQcmdTuples(r), NULL, 10) != (long long)sent)
      rc = fail(c, ERR_STORE,
                "postgresql: copy %s: %s rows taken, %" PRId64 " sent", t->name,
                PQcmdTuples(r), sent);
    PQclear(r);
  }
  return rc;
}

/* Copies table t; sets *rows to its row count and, for the outbox, adds
 * its entries by state to states. */
static enum err copy_table(struct copy *c, const struct copy_table *t,
                           int64_t *rows, int64_t states[4])
{
  PGconn *conn = PG(c->dst)->conn;
  char sql[512];
  sqlite3_stmt *s = NULL;
  int64_t sent = 0;
  enum err rc = ERR_OK;
  snprintf(sql, sizeof sql, "SELECT %s FROM %s ORDER BY %s", t->columns,
           t->name, t->order);
  if (sqlite3_prepare_v2(SQ(c->src)->db, sql, -1, &s, NULL) != SQLITE_OK)
    return fail(c, ERR_STORE, "sqlite: read %s: %s", t->name,
                sqlite3_errmsg(SQ(c->src)->db));
  snprintf(sql, sizeof sql, "COPY %s (%s) FROM STDIN", t->name, t->columns);
  PGresult *r = PQexec(conn, sql);
  if (PQresultStatus(r) != PGRES_COPY_IN) {
    rc = fail(c, ERR_STORE, "postgresql: copy %s: %s", t->name,
              pq_message(conn, r));
    PQclear(r);
    goto out;
  }
  PQclear(r);
  int step = sqlite3_step(s);
  for (; step == SQLITE_ROW; step = sqlite3_step(s)) {
    rc = put_row(c, t, s);
    if (!rc && c->out.len >= COPY_CHUNK)
      rc = flush(c, t);
    if (rc)
      break;
    sent++;
    if (t->by_state) {
      const char *state =
          (const char *)sqlite3_column_text(s, OUTBOX_STATE_COLUMN);
      for (int k = 0; k < 4; k++)
        if (state && !strcmp(state, store_state_name((enum store_state)k)))
          states[k]++;
    }
  }
  if (!rc && step != SQLITE_DONE)
    rc = fail(c, ERR_STORE, "sqlite: read %s: %s", t->name,
              sqlite3_errmsg(SQ(c->src)->db));
  if (!rc)
    rc = flush(c, t);
  if (rc) {
    /* The transaction is lost anyway; ending the COPY keeps the
     * connection usable for the ROLLBACK. */
    copy_end(c, t, c->err, 0);
    goto out;
  }
  rc = copy_end(c, t, NULL, sent);
  if (!rc)
    *rows = sent;
out:
  buf_reset(&c->out);
  sqlite3_finalize(s);
  return rc;
}

/* A single integer from the target, inside its transaction. */
static enum err target_int(struct copy *c, const char *sql, int64_t *out)
{
  if (pg_query_int(c->dst, sql, 0, out))
    return fail(c, ERR_STORE, "%s", store_errmsg(c->dst));
  return ERR_OK;
}

/* Inside the target's transaction: takes every table the copy writes (a
 * server starting on it meanwhile waits for the copy to end) and checks
 * that they hold nothing and that no instance serves the database. */
static enum err target_check(struct copy *c)
{
  if (pg_exec(c->dst,
              "SET LOCAL lock_timeout = '" COPY_LOCK_TIMEOUT "';"
              " LOCK TABLE alerts, messages, outbox, delivery_attempts,"
              " customer_state IN ACCESS EXCLUSIVE MODE",
              "lock the target's tables"))
    return fail(c, ERR_STORE, "%s", store_errmsg(c->dst));
  for (size_t i = 0; i < N_TABLES; i++) {
    char sql[128];
    int64_t any = 0;
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT 1 FROM %s"
             " LIMIT 1) AS t",
             tables[i].name);
    enum err rc = target_int(c, sql, &any);
    if (rc)
      return rc;
    if (any)
      return fail(c, ERR_DUPLICATE,
                  "the target database is not empty (table %s has rows):"
                  " a migration only fills a new, empty database; nothing"
                  " was written",
                  tables[i].name);
  }
  long pid = 0;
  if (store_owner(c->dst, &pid))
    return fail(c, ERR_STORE, "%s", store_errmsg(c->dst));
  if (pid)
    return fail(c, ERR_BUSY,
                "a frustration-alert serve (pid %ld) runs on the target"
                " database: stop every instance on it first; nothing was"
                " written",
                pid);
  return ERR_OK;
}

/* Moves each id sequence past the largest copied id, so the target's new
 * rows take the ids after them. */
static enum err target_sequences(struct copy *c)
{
  for (size_t i = 0; i < N_TABLES; i++) {
    if (!tables[i].serial)
      continue;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT setval(pg_get_serial_sequence('%s', 'id'),"
             " COALESCE(max(id), 0) + 1, false) FROM %s",
             tables[i].name, tables[i].name);
    int64_t next = 0;
    enum err rc = target_int(c, sql, &next);
    if (rc)
      return rc;
  }
  return ERR_OK;
}

enum err store_copy(const char *from_url, const char *to_url,
                    struct store_copy_stats *out, char *err, size_t errlen)
{
  struct copy c = {.err = err, .errlen = errlen};
  struct store_copy_stats stats = {0};
  bool src_tx = false;
  uint64_t t0 = clock_mono_ns();
  enum err rc = ERR_OK;
  buf_init(&c.out, 0);
  if (!from_url || !*from_url || store_url_is_pg(from_url)) {
    rc = fail(&c, ERR_INVALID,
              "the source must be a SQLite store (a path or"
              " sqlite:PATH), not '%s'",
              from_url ? from_url : "");
    goto out;
  }
  if (!store_url_is_pg(to_url)) {
    rc = fail(&c, ERR_INVALID,
              "the target must be a PostgreSQL URL"
              " (postgres://...), not '%s'",
              to_url ? to_url : "");
    goto out;
  }
  char why[512];
  rc = store_open_existing(from_url, why, sizeof why, &c.src);
  if (rc == ERR_NOT_FOUND) {
    fail(&c, rc, "no SQLite store at %s", from_url);
    goto out;
  }
  if (rc) {
    fail(&c, rc, "source: %s", why);
    goto out;
  }
  long holder = 0;
  rc = store_own(c.src, &holder);
  if (rc == ERR_BUSY) {
    char pid[32] = "pid unknown";
    if (holder > 0)
      snprintf(pid, sizeof pid, "pid %ld", holder);
    fail(&c, rc,
         "the SQLite store is in use by a running frustration-alert serve"
         " (%s): stop it first; a migration copies a stopped store",
         pid);
    goto out;
  }
  if (rc) {
    fail(&c, rc, "source: %s", store_errmsg(c.src));
    goto out;
  }
  rc = store_open(to_url, why, sizeof why, &c.dst);
  if (rc) {
    fail(&c, rc, "target: %s", why);
    goto out;
  }
  /* One snapshot of the source: a deferred transaction's first read
   * fixes it (WAL). */
  rc = sq_exec(c.src, "BEGIN");
  if (rc) {
    fail(&c, rc, "%s", store_errmsg(c.src));
    goto out;
  }
  src_tx = true;
  rc = store_begin(c.dst);
  if (rc) {
    fail(&c, rc, "target: %s", store_errmsg(c.dst));
    goto out;
  }
  rc = target_check(&c);
  int64_t *counts[N_TABLES] = {&stats.alerts, &stats.messages, &stats.outbox,
                               &stats.attempts, &stats.customers};
  for (size_t i = 0; !rc && i < N_TABLES; i++)
    rc = copy_table(&c, &tables[i], counts[i], stats.outbox_states);
  if (!rc)
    rc = target_sequences(&c);
  if (rc) {
    store_rollback(c.dst);
    goto out;
  }
  rc = store_commit(c.dst);
  if (rc) {
    fail(&c, rc, "target: %s", store_errmsg(c.dst));
    goto out;
  }
  stats.elapsed_ms = (int64_t)((clock_mono_ns() - t0) / 1000000);
  if (out)
    *out = stats;
out:
  if (src_tx)
    sq_exec(c.src, "ROLLBACK");
  buf_cleanup(&c.out);
  store_close(c.dst);
  store_close(c.src);
  return rc;
}
