/* store_pg_outbox: the outbox of the PostgreSQL backend, shared by every
 * instance: claims under a lease with an owner and a fencing token,
 * fenced finishes, attempts, recovery of the leases of instances that are
 * gone, the shared delivery pause, redrive of dead letters, the
 * operators' views, and the instance registry (store_own). */
#include "store/store_pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/xalloc.h"

/* The instances alive now: those whose session holds their lock. */
#define LIVE_INSTANCES                                                         \
  "(SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory'"            \
  " AND objsubid = 2 AND granted AND classid = 1178664962::oid"                \
  " AND database = (SELECT oid FROM pg_database"                               \
  "   WHERE datname = current_database()))"

_Static_assert(PG_LOCK_CLASS_INSTANCE == 1178664962,
               "LIVE_INSTANCES names the instance lock class");

/* ---- Claim and finish ------------------------------------------------- */

enum err pg_outbox_claim(struct store *st, int64_t now_ms, int64_t lease_ms,
                         struct store_entry *e, bool *found)
{
  struct pg_params p = {0};
  pp_int(&p, now_ms);
  pp_int(&p, now_ms + lease_ms);
  if (PG(st)->instance_id)
    pp_int(&p, PG(st)->instance_id);
  else
    pp_text(&p, NULL);
  PGresult *r = pg_run(st, P_CLAIM, &p, "claim outbox entry");
  if (!r)
    return pg_failed(st);
  if (PQntuples(r) > 0) {
    *found = true;
    e->id = pg_int(r, 0, 0);
    e->alert_id = pg_int(r, 0, 1);
    e->kind = store_kind_parse(PQgetvalue(r, 0, 2));
    e->payload = pg_dup(r, 0, 3);
    e->attempts = pg_int(r, 0, 4);
    e->outcome_unknown = pg_bool(r, 0, 5);
    e->created_at_ms = pg_int(r, 0, 6);
    e->first_attempt_ms = pg_int(r, 0, 7);
    e->lease = pg_int(r, 0, 8);
    pg_copy(r, 0, 9, e->alert_key, sizeof e->alert_key);
    e->ticket_id = pg_dup(r, 0, 10);
    e->ticket_display_id = pg_dup(r, 0, 11);
  }
  PQclear(r);
  return ERR_OK;
}

static enum err insert_attempt(struct store *st, int64_t entry_id,
                               const struct store_attempt *a)
{
  const char *res = a->result ? a->result : "unknown";
  bool ok =
      !strcmp(res, "ok") || !strcmp(res, "found") || !strcmp(res, "not_found");
  struct pg_params p = {0};
  pp_int(&p, entry_id);
  pp_int(&p, a->at_ms);
  pp_int(&p, a->duration_ms);
  pp_int(&p, a->http_status);
  pp_text(&p, res);
  pp_bool(&p, ok);
  pp_text(&p, a->error);
  PGresult *r = pg_run(st, P_ATTEMPT_INSERT, &p, "record delivery attempt");
  if (!r)
    return pg_failed(st);
  PQclear(r);
  return ERR_OK;
}

/* Why a fenced finish changed nothing: ERR_NOT_FOUND or ERR_BUSY. */
static enum err finish_refused(struct store *st, const struct store_finish *f)
{
  struct pg_params p = {0};
  pp_int(&p, f->entry_id);
  PGresult *r = pg_query(st,
                         "SELECT state, lease_token FROM outbox"
                         " WHERE id = $1",
                         &p, "read outbox entry");
  if (!r)
    return pg_failed(st);
  enum err rc = ERR_NOT_FOUND;
  if (PQntuples(r) == 0) {
    store_set_error(st, "outbox entry %lld not found", (long long)f->entry_id);
  } else {
    store_set_error(st,
                    "outbox entry %lld is %s under lease %lld, not lease "
                    "%lld: another claim owns it now, this result is not "
                    "recorded",
                    (long long)f->entry_id, PQgetvalue(r, 0, 0),
                    (long long)pg_int(r, 0, 1), (long long)f->lease);
    rc = ERR_BUSY;
  }
  PQclear(r);
  return rc;
}

enum err pg_outbox_finish(struct store *st, const struct store_finish *f,
                          int64_t now_ms)
{
  enum err rc = store_tx_enter(st);
  if (rc)
    return rc;
  struct pg_params p = {0};
  pp_int(&p, f->entry_id);
  pp_text(&p, store_state_name(f->state));
  pp_int(&p, f->next_attempt_ms);
  pp_bool(&p, f->outcome_unknown);
  pp_text(&p, f->error);
  pp_int(&p, now_ms);
  pp_int(&p, f->lease);
  PGresult *r = pg_run(st, P_FINISH, &p, "finish outbox entry");
  if (!r) {
    rc = pg_failed(st);
    goto out;
  }
  if (PQntuples(r) == 0) {
    PQclear(r);
    rc = finish_refused(st, f);
    /* Nothing was written: the caller's transaction stays usable. */
    enum err left = store_tx_leave(st, ERR_OK);
    return left ? left : rc;
  }
  bool create = !strcmp(PQgetvalue(r, 0, 0), "create_ticket");
  int64_t alert_id = pg_int(r, 0, 1);
  PQclear(r);
  if (f->attempt)
    rc = insert_attempt(st, f->entry_id, f->attempt);
  if (rc)
    goto out;
  if (create && f->state == STORE_DONE && f->ticket_id) {
    struct pg_params t = {0};
    pp_int(&t, alert_id);
    pp_text(&t, f->ticket_id);
    pp_text(&t, f->ticket_display_id);
    r = pg_run(st, P_ALERT_TICKET, &t, "store ticket id");
  } else if (create && f->state == STORE_DEAD) {
    struct pg_params t = {0};
    pp_int(&t, alert_id);
    pp_int(&t, f->entry_id);
    pp_int(&t, now_ms);
    pp_text(&t, f->error ? f->error : "ticket creation failed");
    r = pg_run(st, P_CASCADE_DEAD, &t, "dead-letter dependent entries");
  } else {
    goto out;
  }
  if (!r)
    rc = pg_failed(st);
  PQclear(r);
out:
  return store_tx_leave(st, rc);
}

enum err pg_outbox_record_attempt(struct store *st, int64_t entry_id,
                                  const struct store_attempt *a)
{
  return insert_attempt(st, entry_id, a);
}

/* Runs sql with p; sets *n to the rows it changed. */
static enum err changes(struct store *st, const char *sql,
                        const struct pg_params *p, const char *what, size_t *n)
{
  PGresult *r = pg_query(st, sql, p, what);
  if (!r)
    return pg_failed(st);
  *n = (size_t)strtoull(PQcmdTuples(r), NULL, 10);
  PQclear(r);
  return ERR_OK;
}

enum err pg_outbox_renew(struct store *st, int64_t entry_id, int64_t lease,
                         int64_t until_ms)
{
  struct pg_params p = {0};
  pp_int(&p, entry_id);
  pp_int(&p, lease);
  pp_int(&p, until_ms);
  size_t n = 0;
  enum err rc = changes(st,
                        "UPDATE outbox SET lease_until = $3 WHERE id = $1"
                        " AND state = 'pending' AND lease_token = $2",
                        &p, "renew lease", &n);
  if (!rc && n == 0) {
    store_set_error(st,
                    "outbox entry %lld is no longer pending under lease "
                    "%lld: another claim owns it now, nothing is sent",
                    (long long)entry_id, (long long)lease);
    rc = ERR_BUSY;
  }
  return rc;
}

enum err pg_outbox_recover(struct store *st, size_t *released)
{
  /* Other instances keep theirs: only leases whose owner is gone (or
   * unknown) are released. Leases also run out by themselves. */
  enum err rc = changes(
      st,
      "UPDATE outbox SET lease_until = 0, lease_owner = NULL"
      " WHERE state = 'pending' AND lease_until > 0"
      " AND (lease_owner IS NULL OR lease_owner NOT IN " LIVE_INSTANCES ")",
      NULL, "release leases", released);
  size_t gone = 0;
  if (!rc)
    rc = changes(st, "DELETE FROM instances WHERE id NOT IN " LIVE_INSTANCES,
                 NULL, "forget stopped instances", &gone);
  return rc;
}

enum err pg_outbox_skip_pending(struct store *st, const char *reason,
                                int64_t now_ms, size_t *skipped)
{
  struct pg_params p = {0};
  pp_text(&p, reason);
  pp_int(&p, now_ms);
  return changes(st,
                 "UPDATE outbox SET state = 'skipped', lease_until = 0,"
                 " last_error = $1, finished_at = $2 WHERE state = 'pending'",
                 &p, "skip pending entries", skipped);
}

enum err pg_outbox_stats(struct store *st, int64_t now_ms,
                         struct store_outbox_stats *o)
{
  struct pg_params p = {0};
  pp_int(&p, now_ms);
  /* One statement: one snapshot. */
  PGresult *r =
      pg_query(st,
               "SELECT count(*), min(created_at),"
               " min(CASE WHEN greatest(next_attempt_at, lease_until) > $1"
               "   THEN greatest(next_attempt_at, lease_until) END),"
               " (SELECT count(*) FROM outbox WHERE state = 'dead'),"
               " (SELECT max(id) FROM delivery_attempts),"
               " (SELECT count(*) FROM delivery_attempts WHERE NOT ok),"
               " (SELECT max(at) FROM delivery_attempts WHERE ok),"
               " (SELECT error FROM delivery_attempts WHERE NOT ok"
               "   ORDER BY at DESC, id DESC LIMIT 1),"
               " (SELECT until_ms FROM delivery_pause WHERE until_ms > $1)"
               " FROM outbox WHERE state = 'pending'",
               &p, "outbox stats");
  if (!r)
    return pg_failed(st);
  o->pending = pg_int(r, 0, 0);
  o->oldest_pending_ms = pg_int(r, 0, 1);
  o->next_due_ms = pg_int(r, 0, 2);
  o->dead = pg_int(r, 0, 3);
  o->attempts = pg_int(r, 0, 4);
  o->failures = pg_int(r, 0, 5);
  o->last_success_ms = pg_int(r, 0, 6);
  pg_copy(r, 0, 7, o->last_error, sizeof o->last_error);
  o->paused_until_ms = pg_int(r, 0, 8);
  PQclear(r);
  return ERR_OK;
}

#define OUTBOX_ROW_COLUMNS                                                     \
  "SELECT id, alert_id, kind, state, payload, last_error, attempts,"           \
  " next_attempt_at, created_at, outcome_unknown FROM outbox"

static enum err read_rows(struct store *st, const char *sql,
                          const struct pg_params *p,
                          struct store_outbox_row **out, size_t *n)
{
  PGresult *r = pg_query(st, sql, p, "list outbox");
  if (!r)
    return pg_failed(st);
  int rows = PQntuples(r);
  if (rows > 0)
    *out = xcalloc((size_t)rows, sizeof **out);
  for (int i = 0; i < rows; i++) {
    struct store_outbox_row *w = &(*out)[i];
    w->id = pg_int(r, i, 0);
    w->alert_id = pg_int(r, i, 1);
    w->kind = store_kind_parse(PQgetvalue(r, i, 2));
    w->state = store_state_parse(PQgetvalue(r, i, 3));
    w->payload = pg_dup(r, i, 4);
    w->last_error = pg_dup(r, i, 5);
    w->attempts = pg_int(r, i, 6);
    w->next_attempt_ms = pg_int(r, i, 7);
    w->created_at_ms = pg_int(r, i, 8);
    w->outcome_unknown = pg_bool(r, i, 9);
  }
  *n = (size_t)rows;
  PQclear(r);
  return ERR_OK;
}

enum err pg_outbox_list(struct store *st, int64_t alert_id,
                        struct store_outbox_row **out, size_t *n)
{
  struct pg_params p = {0};
  pp_int(&p, alert_id);
  return read_rows(st, OUTBOX_ROW_COLUMNS " WHERE alert_id = $1 ORDER BY id",
                   &p, out, n);
}

enum err pg_outbox_select(struct store *st, enum store_state state, bool all,
                          size_t limit, struct store_outbox_row **out,
                          size_t *n)
{
  struct pg_params p = {0};
  pp_bool(&p, all);
  pp_text(&p, store_state_name(state));
  if (limit)
    pp_int(&p, (int64_t)limit);
  else
    pp_text(&p, NULL);
  return read_rows(st,
                   OUTBOX_ROW_COLUMNS " WHERE $1::boolean OR state = $2"
                                      " ORDER BY id LIMIT $3",
                   &p, out, n);
}

/* Runs sql ($1 = id, $2 = now_ms) in its own transaction or the caller's;
 * ERR_NOT_FOUND when id != 0 changed nothing (see the SQLite backend). */
static enum err change_dead(struct store *st, const char *sql, int64_t id,
                            int64_t now_ms, const char *what, size_t *n)
{
  enum err rc = store_tx_enter(st);
  if (rc)
    return rc;
  struct pg_params p = {0};
  pp_int(&p, id);
  pp_int(&p, now_ms);
  rc = changes(st, sql, &p, what, n);
  if (!rc && id && *n == 0) {
    struct pg_params q = {0};
    pp_int(&q, id);
    PGresult *r =
        pg_query(st, "SELECT state FROM outbox WHERE id = $1", &q, what);
    if (r && PQntuples(r) > 0)
      store_set_error(st, "outbox entry %lld is %s, not a dead letter",
                      (long long)id, PQgetvalue(r, 0, 0));
    else
      store_set_error(st, "outbox entry %lld does not exist", (long long)id);
    PQclear(r);
    rc = ERR_NOT_FOUND;
  }
  enum err left = store_tx_leave(st, rc == ERR_NOT_FOUND ? ERR_OK : rc);
  return left ? left : rc;
}

enum err pg_outbox_retry(struct store *st, int64_t id, int64_t now_ms,
                         size_t *n)
{
  return change_dead(
      st,
      "UPDATE outbox SET state = 'pending', attempts = 0, lease_until = 0,"
      " next_attempt_at = $2, finished_at = NULL"
      " WHERE state = 'dead' AND ($1 = 0 OR id = $1"
      "  OR (alert_id = (SELECT alert_id FROM outbox WHERE id = $1"
      "                  AND kind = 'create_ticket')"
      "      AND last_error LIKE 'the alert has no ticket: %'))",
      id, now_ms, "retry dead letters", n);
}

enum err pg_outbox_drop(struct store *st, int64_t id, int64_t now_ms, size_t *n)
{
  return change_dead(st,
                     "UPDATE outbox SET state = 'skipped', lease_until = 0,"
                     " finished_at = $2, last_error = 'dropped by an operator"
                     " (' || COALESCE(last_error, 'no error') || ')'"
                     " WHERE state = 'dead' AND ($1 = 0 OR id = $1)",
                     id, now_ms, "drop dead letters", n);
}

/* ---- Several instances ------------------------------------------------ */

enum err pg_delivery_pause(struct store *st, int64_t until_ms,
                           const char *reason)
{
  struct pg_params p = {0};
  pp_int(&p, until_ms);
  pp_text(&p, reason);
  PGresult *r = pg_query(
      st,
      "INSERT INTO delivery_pause (id, until_ms, reason) VALUES (1, $1, $2)"
      " ON CONFLICT (id) DO UPDATE SET"
      " reason = CASE WHEN excluded.until_ms > delivery_pause.until_ms"
      "   THEN excluded.reason ELSE delivery_pause.reason END,"
      " until_ms = greatest(delivery_pause.until_ms, excluded.until_ms)",
      &p, "pause delivery");
  if (!r)
    return pg_failed(st);
  PQclear(r);
  return ERR_OK;
}

enum err pg_own(struct store *st, long *holder_pid)
{
  (void)holder_pid;
  struct pg *q = PG(st);
  if (q->instance_id)
    return ERR_OK;
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) != 0)
    snprintf(host, sizeof host, "unknown");
  struct pg_params p = {0};
  pp_int(&p, (int64_t)getpid());
  pp_text(&p, host);
  pp_int(&p, clock_wall_ms());
  PGresult *r = pg_query(st,
                         "INSERT INTO instances (pid, host, started_at)"
                         " VALUES ($1, $2, $3) RETURNING id",
                         &p, "register the instance");
  if (!r)
    return pg_failed(st);
  int64_t id = pg_int(r, 0, 0);
  PQclear(r);
  char sql[96];
  snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%d, %d)",
           PG_LOCK_CLASS_INSTANCE, (int)id);
  enum err rc = pg_exec(st, sql, "take the instance lock");
  if (!rc)
    q->instance_id = id;
  return rc;
}

enum err pg_owner(struct store *st, long *pid)
{
  if (PG(st)->instance_id) {
    *pid = (long)getpid();
    return ERR_OK;
  }
  int64_t v = 0;
  enum err rc =
      pg_query_int(st,
                   "SELECT pid FROM instances WHERE id IN " LIVE_INSTANCES
                   " ORDER BY id LIMIT 1",
                   0, &v);
  *pid = (long)v;
  return rc;
}
