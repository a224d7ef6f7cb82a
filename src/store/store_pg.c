/* store_pg: the PostgreSQL backend of store. This file connects (and
 * reconnects), runs statements and transactions and holds the backend
 * table (struct store_ops); store_pg_schema.c has the migrations and the
 * text of the prepared statements, store_pg_records.c messages, alerts,
 * customer windows and retention, store_pg_outbox.c the outbox and the
 * instances, store_pg_batch.c a prepared batch (its rows read ahead, its
 * writes held back and pipelined), store_pg_stats.c the dashboard's
 * reads, store_pg_events.c the live feed of committed messages.
 * store_pg_int.h is what they share; these files are the only ones that
 * include libpq-fe.h.
 *
 * Durability: a COMMIT that returned is durable as the server is set up
 * (synchronous_commit on, PostgreSQL's default; with synchronous standbys
 * it is on them too).
 *
 * Connection loss: a statement that fails because the connection is gone
 * fails its transaction (ERR_STORE: the caller answers 503 and nothing is
 * half-stored); the next transaction, or the next call outside one,
 * connects again (PQreset, so a URI with several hosts and
 * target_session_attrs=read-write finds the new primary). */
#include "store/store_pg_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fnv.h"
#include "base/xalloc.h"

/* ---- Parameters ------------------------------------------------------- */

void pp_text(struct pg_params *p, const char *s)
{
  p->v[p->n++] = s;
}

void pp_int(struct pg_params *p, int64_t v)
{
  snprintf(p->num[p->n], sizeof p->num[p->n], "%" PRId64, v);
  p->v[p->n] = p->num[p->n];
  p->n++;
}

void pp_double(struct pg_params *p, double v)
{
  /* %.17g reads back as the same double. */
  snprintf(p->num[p->n], sizeof p->num[p->n], "%.17g", v);
  p->v[p->n] = p->num[p->n];
  p->n++;
}

void pp_bool(struct pg_params *p, bool v)
{
  p->v[p->n++] = v ? "t" : "f";
}

/* ---- Errors and connection -------------------------------------------- */

const char *pg_error_text(const PGconn *conn, const PGresult *r, int *len)
{
  const char *msg = r ? PQresultErrorMessage(r) : "";
  if ((!msg || !*msg) && conn)
    msg = PQerrorMessage(conn);
  if (!msg)
    msg = "";
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
    n--;
  *len = (int)n;
  return msg;
}

/* The handle's message from what and the server's (or libpq's) error. */
static void set_error(struct store *st, const char *what, const PGresult *r)
{
  int len;
  const char *msg = pg_error_text(PG(st)->conn, r, &len);
  store_set_error(st, "postgresql: %s: %.*s", what, len, msg);
}

static const char *sqlstate(const PGresult *r)
{
  const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  return s ? s : "";
}

/* Remembered from the last failure, for pg_failed. */
static _Thread_local bool last_retryable;

static PGresult *check(struct store *st, PGresult *r, const char *what)
{
  ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
    return r;
  const char *code = sqlstate(r);
  /* 40001 serialization failure, 40P01 deadlock detected. */
  last_retryable = !strcmp(code, "40001") || !strcmp(code, "40P01");
  set_error(st, what, r);
  PQclear(r);
  return NULL;
}

enum err pg_failed(struct store *st)
{
  (void)st;
  return last_retryable ? ERR_BUSY : ERR_STORE;
}

/* Prepares statement id on this connection if it is not yet. */
static bool prepare(struct store *st, enum pg_stmt id)
{
  struct pg *q = PG(st);
  if (q->prepared[id])
    return true;
  char name[16];
  snprintf(name, sizeof name, "fa%d", (int)id);
  PGresult *r =
      check(st, PQprepare(q->conn, name, pg_sql_text[id], 0, NULL), "prepare");
  if (!r)
    return false;
  PQclear(r);
  q->prepared[id] = true;
  return true;
}

/* ---- Pipeline mode ---------------------------------------------------- */

/* Statements sent before their results are read: enough to spare the
 * round trips, few enough that the server's answers to them always fit in
 * the sockets' buffers. */
#define PG_PIPELINE_MAX 512

/* Reads the results of one pending statement: NULL, and its error
 * recorded, when it failed (or was skipped after an earlier failure). */
static PGresult *read_pending(struct store *st, const char *what)
{
  PGresult *r = PQgetResult(PG(st)->conn), *extra;
  /* Each statement's results end with NULL. */
  while ((extra = PQgetResult(PG(st)->conn)))
    PQclear(extra);
  if (r && PQresultStatus(r) == PGRES_PIPELINE_ABORTED) {
    PQclear(r);
    return NULL;
  }
  return check(st, r, what);
}

enum err pg_drain(struct store *st)
{
  struct pg *q = PG(st);
  /* The rows a batch holds back go first: what runs next sees them. */
  enum err frc = ERR_OK;
  if (q->batch && PQstatus(q->conn) == CONNECTION_OK)
    frc = pg_batch_flush(st);
  if (PQpipelineStatus(q->conn) == PQ_PIPELINE_OFF)
    return frc;
  if (PQstatus(q->conn) != CONNECTION_OK) {
    /* Lost: what was sent is lost with its transaction; the next
     * transaction connects again (pg_ready). */
    bool had = q->npend > 0;
    q->npend = 0;
    if (had) {
      set_error(st, "connection lost", NULL);
      return ERR_STORE;
    }
    return ERR_OK;
  }
  enum err rc = ERR_OK;
  bool retry = false;
  char first[sizeof st->errmsg] = "";
  if (!PQpipelineSync(q->conn)) {
    set_error(st, "send", NULL);
    rc = ERR_STORE;
  }
  for (size_t i = 0; i < q->npend && !rc; i++) {
    PGresult *r = read_pending(st, q->pend[i].what);
    if (!r) {
      /* The first failure tells why; the rest were skipped for it. */
      if (!*first) {
        retry = last_retryable;
        snprintf(first, sizeof first, "%s", st->errmsg);
      }
      if (PQstatus(q->conn) != CONNECTION_OK)
        rc = ERR_STORE;
    } else if (q->pend[i].keep) {
      *q->pend[i].keep = r;
    } else {
      PQclear(r);
    }
  }
  q->npend = 0;
  if (!rc) {
    PGresult *r = PQgetResult(q->conn);
    if (!r || PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
      set_error(st, "pipeline sync", r);
      rc = ERR_STORE;
    }
    PQclear(r);
  }
  if (!PQexitPipelineMode(q->conn) && !rc) {
    set_error(st, "leave pipeline mode", NULL);
    rc = ERR_STORE;
  }
  if (*first) {
    store_set_error(st, "%s", first);
    last_retryable = retry;
    return retry ? ERR_BUSY : ERR_STORE;
  }
  return rc ? rc : frc;
}

/* Sends the prepared statement name, or sql when name is NULL (planned
 * with these parameters, each time), in pipeline mode. */
static enum err send_one(struct store *st, const char *name, const char *sql,
                         const struct pg_params *p, const char *what,
                         PGresult **keep)
{
  struct pg *q = PG(st);
  if (PQpipelineStatus(q->conn) == PQ_PIPELINE_OFF &&
      !PQenterPipelineMode(q->conn)) {
    set_error(st, "enter pipeline mode", NULL);
    return ERR_STORE;
  }
  if (q->npend == q->cappend) {
    q->cappend = q->cappend ? 2 * q->cappend : 64;
    q->pend = xrealloc(q->pend, q->cappend * sizeof *q->pend);
  }
  int sent = name ? PQsendQueryPrepared(q->conn, name, p ? p->n : 0,
                                        p ? p->v : NULL, NULL, NULL, 0)
                  : PQsendQueryParams(q->conn, sql, p ? p->n : 0, NULL,
                                      p ? p->v : NULL, NULL, NULL, 0);
  if (!sent) {
    set_error(st, what, NULL);
    pg_drain(st);
    return ERR_STORE;
  }
  q->pend[q->npend++] = (struct pg_pending){.what = what, .keep = keep};
  return q->npend >= PG_PIPELINE_MAX ? pg_drain(st) : ERR_OK;
}

enum err pg_send(struct store *st, enum pg_stmt id, const struct pg_params *p,
                 const char *what, PGresult **keep)
{
  last_retryable = false;
  if (!PG(st)->prepared[id]) {
    /* Preparing waits for its answer: not in pipeline mode. */
    enum err rc = pg_drain(st);
    if (rc)
      return rc;
    if (!prepare(st, id))
      return ERR_STORE;
  }
  char name[16];
  snprintf(name, sizeof name, "fa%d", (int)id);
  return send_one(st, name, NULL, p, what, keep);
}

enum err pg_send_query(struct store *st, const char *sql,
                       const struct pg_params *p, const char *what,
                       PGresult **keep)
{
  last_retryable = false;
  return send_one(st, NULL, sql, p, what, keep);
}

PGresult *pg_run(struct store *st, enum pg_stmt id, const struct pg_params *p,
                 const char *what)
{
  last_retryable = false;
  if (pg_drain(st))
    return NULL;
  last_retryable = false;
  if (!PG(st)->in_tx && pg_ready(st))
    return NULL;
  if (!prepare(st, id))
    return NULL;
  char name[16];
  snprintf(name, sizeof name, "fa%d", (int)id);
  return check(st,
               PQexecPrepared(PG(st)->conn, name, p ? p->n : 0, p ? p->v : NULL,
                              NULL, NULL, 0),
               what);
}

PGresult *pg_query(struct store *st, const char *sql, const struct pg_params *p,
                   const char *what)
{
  last_retryable = false;
  if (pg_drain(st))
    return NULL;
  if (!PG(st)->in_tx && pg_ready(st))
    return NULL;
  return check(st,
               PQexecParams(PG(st)->conn, sql, p ? p->n : 0, NULL,
                            p ? p->v : NULL, NULL, NULL, 0),
               what);
}

enum err pg_exec(struct store *st, const char *sql, const char *what)
{
  last_retryable = false;
  enum err drc = pg_drain(st);
  if (drc)
    return drc;
  if (!PG(st)->in_tx && pg_ready(st))
    return ERR_STORE;
  /* The simple protocol: sql may hold several statements. */
  PGresult *r = check(st, PQexec(PG(st)->conn, sql), what);
  if (!r)
    return pg_failed(st);
  PQclear(r);
  return ERR_OK;
}

char *pg_dup(const PGresult *r, int row, int col)
{
  return PQgetisnull(r, row, col) ? NULL : xstrdup(PQgetvalue(r, row, col));
}

void pg_copy(const PGresult *r, int row, int col, char *dst, size_t cap)
{
  snprintf(dst, cap, "%s",
           PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

int64_t pg_int(const PGresult *r, int row, int col)
{
  return PQgetisnull(r, row, col) ? 0
                                  : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

bool pg_bool(const PGresult *r, int row, int col)
{
  return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

enum err pg_query_int(struct store *st, const char *sql, int64_t dflt,
                      int64_t *out)
{
  *out = dflt;
  PGresult *r = pg_query(st, sql, NULL, sql);
  if (!r)
    return pg_failed(st);
  if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
    *out = pg_int(r, 0, 0);
  PQclear(r);
  return ERR_OK;
}

int64_t pg_lock_key(char ns, const char *key)
{
  /* FNV-1a over the namespace letter and the key; a collision only makes
   * two keys wait for each other. */
  return (int64_t)fnv1a64_str(fnv1a64(FNV1A64_BASIS, &ns, 1), key);
}

/* Takes the instance lock again after a new connection (the server
 * dropped it with the old session). Without waiting: while the server
 * has not yet noticed the old session is gone, the lock is still held
 * there, and this instance then looks gone to the others for a moment,
 * which costs at most a lease taken over (and fenced), never a second
 * ticket. */
static void relock_instance(struct store *st)
{
  struct pg *q = PG(st);
  if (!q->instance_id)
    return;
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock(%d, %d)",
           PG_LOCK_CLASS_INSTANCE, (int)q->instance_id);
  PQclear(PQexec(q->conn, sql));
}

/* A session that stays inside a transaction without a word for this
 * long is ended by the server, its record locks with it: an instance
 * that stalls or loses its network in the middle of a transaction holds
 * back the others' messages of the same customers for at most this long
 * (its own transaction then fails, nothing of it stored). Applied when
 * neither the URL nor the server set one. */
#define PG_IDLE_IN_TX_TIMEOUT_MS 10000

static void session_defaults(PGconn *conn)
{
  PGresult *r = PQexec(conn, "SHOW idle_in_transaction_session_timeout");
  bool unset = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
               !strcmp(PQgetvalue(r, 0, 0), "0");
  PQclear(r);
  if (unset) {
    char sql[96];
    snprintf(sql, sizeof sql, "SET idle_in_transaction_session_timeout = %d",
             PG_IDLE_IN_TX_TIMEOUT_MS);
    PQclear(PQexec(conn, sql));
  }
}

enum err pg_ready(struct store *st)
{
  struct pg *q = PG(st);
  if (PQstatus(q->conn) == CONNECTION_OK)
    return ERR_OK;
  PQreset(q->conn);
  memset(q->prepared, 0, sizeof q->prepared);
  q->npend = 0;
  if (PQpipelineStatus(q->conn) != PQ_PIPELINE_OFF)
    PQexitPipelineMode(q->conn);
  if (PQstatus(q->conn) != CONNECTION_OK) {
    set_error(st, "PostgreSQL unavailable", NULL);
    return ERR_STORE;
  }
  session_defaults(q->conn);
  relock_instance(st);
  return ERR_OK;
}

/* ---- Transactions ----------------------------------------------------- */

/* The wake-up of the live feeds (store_events.h), sent once per
 * transaction that stored messages. A session whose setting
 * frustration_alert.notify is 'off' sends none (the feeds then find the
 * rows by their periodic read; the tests use it to prove that). */
/* Sent with the COMMIT, in one round trip: inside the transaction,
 * PostgreSQL delivers the notification when the rows are visible, and
 * only if it commits. */
static const char notify_commit_sql[] =
    "SELECT pg_notify('" PG_EVENTS_CHANNEL "', '')"
    " WHERE current_setting('frustration_alert.notify', true)"
    " IS DISTINCT FROM 'off'; COMMIT";

static enum err pg_tx(struct store *st, enum store_tx op)
{
  struct pg *q = PG(st);
  switch (op) {
  case STORE_TX_BEGIN: {
    enum err rc = pg_ready(st);
    if (rc)
      return rc;
    PGresult *r = check(st, PQexec(q->conn, "BEGIN"), "begin");
    if (!r && PQstatus(q->conn) != CONNECTION_OK) {
      /* The connection was gone without our knowing (a server restart
       * or failover while idle): nothing of the transaction was sent,
       * so it starts again on a new connection rather than failing. */
      rc = pg_ready(st);
      if (rc)
        return rc;
      r = check(st, PQexec(q->conn, "BEGIN"), "begin");
    }
    if (!r)
      return ERR_STORE;
    PQclear(r);
    q->in_tx = true;
    q->batch_locked = false;
    q->notify = false;
    pg_batch_free(st);
    return ERR_OK;
  }
  case STORE_TX_COMMIT: {
    /* The writes held back or still in the pipeline first: one that
     * failed fails the commit (the server has aborted the transaction). */
    enum err drc = pg_drain(st);
    pg_batch_free(st);
    if (drc) {
      q->in_tx = false;
      if (PQstatus(q->conn) == CONNECTION_OK)
        PQclear(PQexec(q->conn, "ROLLBACK"));
      return drc;
    }
    last_retryable = false;
    const char *sql = q->notify ? notify_commit_sql : "COMMIT";
    q->notify = false;
    PGresult *r = check(st, PQexec(q->conn, sql), "commit");
    q->in_tx = false;
    q->batch_locked = false;
    if (!r) {
      /* The notification failed and the COMMIT was not run. */
      if (PQstatus(q->conn) == CONNECTION_OK &&
          PQtransactionStatus(q->conn) != PQTRANS_IDLE)
        PQclear(PQexec(q->conn, "ROLLBACK"));
      return pg_failed(st);
    }
    /* A transaction that had failed answers COMMIT with ROLLBACK. */
    bool committed = !strcmp(PQcmdStatus(r), "COMMIT");
    PQclear(r);
    if (!committed) {
      store_set_error(st, "postgresql: commit: the transaction was rolled "
                          "back");
      return ERR_STORE;
    }
    return ERR_OK;
  }
  case STORE_TX_ROLLBACK: {
    pg_batch_free(st);
    /* The handle's message tells why the caller rolls back: a failure of
     * a write still in the pipeline must not replace it. */
    char why[sizeof st->errmsg];
    memcpy(why, st->errmsg, sizeof why);
    pg_drain(st);
    memcpy(st->errmsg, why, sizeof why);
    q->in_tx = false;
    q->batch_locked = false;
    if (PQstatus(q->conn) != CONNECTION_OK ||
        PQtransactionStatus(q->conn) == PQTRANS_IDLE)
      return ERR_OK;
    PQclear(PQexec(q->conn, "ROLLBACK"));
    return ERR_OK;
  }
  case STORE_TX_TOUCH:
    return pg_exec(st, "UPDATE schema_version SET version = version",
                   "touch");
  }
  return ERR_INTERNAL;
}

/* ---- Lifecycle -------------------------------------------------------- */

static void pg_close(struct store *st)
{
  struct pg *q = PG(st);
  if (!q)
    return;
  /* Ending the session drops the instance lock; the row stays for the
   * record until an instance's recovery removes it. */
  pg_batch_free(st);
  PQfinish(q->conn);
  free(q->pend);
  free(q->conninfo);
  free(q);
  st->impl = NULL;
}

static enum err pg_server_clock(struct store *st, int64_t *ms)
{
  return pg_query_int(
      st, "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint", 0,
      ms);
}

static enum err pg_schema_version(struct store *st, int *out)
{
  int64_t v = 0;
  enum err rc = pg_query_int(st, "SELECT version FROM schema_version", 0, &v);
  *out = (int)v;
  return rc;
}

/* Connects with the project's defaults under what the URL says:
 * keywords before "dbname" are defaults the URL overrides. */
PGconn *pg_connect(const char *url)
{
  const char *const keys[] = {"connect_timeout", "application_name", "dbname",
                              NULL};
  const char *const vals[] = {"5", "frustration-alert", url, NULL};
  return PQconnectdbParams(keys, vals, 1);
}

/* The server's notices ("relation already exists, skipping") are not
 * errors and must not reach stderr. */
static void ignore_notice(void *arg, const char *message)
{
  (void)arg;
  (void)message;
}

static const struct store_ops pg_ops;

enum err store_pg_open(struct store *st, const char *url, int max_version,
                       char *err, size_t errlen)
{
  struct pg *q = xcalloc(1, sizeof *q);
  enum err rc = ERR_OK;
  st->ops = &pg_ops;
  st->impl = q;
  q->conninfo = xstrdup(url);
  q->conn = pg_connect(url);
  if (!q->conn || PQstatus(q->conn) != CONNECTION_OK) {
    int len;
    const char *m = pg_error_text(q->conn, NULL, &len);
    snprintf(err, errlen, "cannot connect to PostgreSQL: %.*s", len, m);
    rc = ERR_STORE;
    goto fail;
  }
  PQsetNoticeProcessor(q->conn, ignore_notice, NULL);
  session_defaults(q->conn);
  /* Plain text comes back as it was stored; times are numbers, not
   * timestamps, so the session's time zone does not matter. */
  PQsetClientEncoding(q->conn, "UTF8");
  rc = pg_migrate(st, max_version, err, errlen);
  if (rc)
    goto fail;
  return ERR_OK;
fail:
  pg_close(st);
  return rc;
}

static const struct store_ops pg_ops = {
    .name = "postgresql",
    .close = pg_close,
    .schema_version = pg_schema_version,
    .tx = pg_tx,
    .prepare_batch = pg_prepare_batch,
    .msg_find = pg_msg_find,
    .msg_insert = pg_msg_insert,
    .alert_find_open = pg_alert_find_open,
    .alert_insert = pg_alert_insert,
    .alert_update = pg_alert_update,
    .outbox_insert = pg_outbox_insert,
    .window_get = pg_window_get,
    .window_put = pg_window_put,
    .purge_text = pg_purge_text,
    .message_get = pg_message_get,
    .alert_get = pg_alert_get,
    .label_set = pg_label_set,
    .labels_each = pg_labels_each,
    .counts = pg_counts,
    .outbox_claim = pg_outbox_claim,
    .outbox_finish = pg_outbox_finish,
    .outbox_renew = pg_outbox_renew,
    .outbox_record_attempt = pg_outbox_record_attempt,
    .outbox_recover = pg_outbox_recover,
    .outbox_skip_pending = pg_outbox_skip_pending,
    .outbox_stats = pg_outbox_stats,
    .outbox_list = pg_outbox_list,
    .outbox_select = pg_outbox_select,
    .outbox_retry = pg_outbox_retry,
    .outbox_drop = pg_outbox_drop,
    .delivery_pause = pg_delivery_pause,
    .own = pg_own,
    .owner = pg_owner,
    .server_clock = pg_server_clock,
};
