/* store_sqlite_outbox: the outbox of the SQLite backend: claim under a
 * lease, finish, attempts, recovery, redrive of dead letters and the
 * operators' views. */
#include "store/store_sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

/* ---- Outbox ----------------------------------------------------------- */

enum err sq_outbox_claim(struct store *st, int64_t now_ms, int64_t lease_ms,
                         struct store_entry *e, bool *found)
{
  enum err rc = store_tx_enter(st);
  if (rc)
    return rc;
  sqlite3_stmt *s = sq_stmt(st, S_CLAIM_SELECT);
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
    e->kind = store_kind_parse((const char *)sqlite3_column_text(s, 2));
    e->payload = sq_col_dup(s, 3);
    e->attempts = sqlite3_column_int64(s, 4) + 1;
    e->outcome_unknown = sqlite3_column_int(s, 5) != 0;
    e->created_at_ms = sqlite3_column_int64(s, 6);
    e->first_attempt_ms = sqlite3_column_type(s, 7) == SQLITE_NULL
                              ? now_ms
                              : sqlite3_column_int64(s, 7);
    sq_col_copy(s, 8, e->alert_key, sizeof e->alert_key);
    e->ticket_id = sq_col_dup(s, 9);
    e->ticket_display_id = sq_col_dup(s, 10);
  }
  sqlite3_reset(s);
  if (step != SQLITE_ROW && step != SQLITE_DONE) {
    rc = sq_fail(st, "claim outbox entry");
    goto out;
  }
  if (!*found)
    goto out;
  s = sq_stmt(st, S_CLAIM_UPDATE);
  if (!s) {
    rc = ERR_STORE;
    goto out;
  }
  sqlite3_bind_int64(s, 1, e->id);
  sqlite3_bind_int64(s, 2, now_ms + lease_ms);
  sqlite3_bind_int64(s, 3, now_ms);
  rc = sq_run(st, s, "claim outbox entry");
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
  sqlite3_stmt *s = sq_stmt(st, S_ATTEMPT_INSERT);
  if (!s)
    return ERR_STORE;
  const char *res = a->result ? a->result : "unknown";
  bool ok =
      !strcmp(res, "ok") || !strcmp(res, "found") || !strcmp(res, "not_found");
  sqlite3_bind_int64(s, 1, entry_id);
  sqlite3_bind_int64(s, 2, a->at_ms);
  sqlite3_bind_int64(s, 3, a->duration_ms);
  sqlite3_bind_int(s, 4, a->http_status);
  sq_bind_text(s, 5, res);
  sqlite3_bind_int(s, 6, ok);
  sq_bind_text(s, 7, a->error);
  return sq_run(st, s, "record delivery attempt");
}

enum err sq_outbox_finish(struct store *st, const struct store_finish *f,
                          int64_t now_ms)
{
  enum err rc = store_tx_enter(st);
  char *kind = NULL;
  int64_t alert_id = 0;
  if (rc)
    return rc;
  sqlite3_stmt *s = sq_stmt(st, S_ENTRY_KIND);
  if (!s) {
    rc = ERR_STORE;
    goto out;
  }
  sqlite3_bind_int64(s, 1, f->entry_id);
  int step = sqlite3_step(s);
  if (step == SQLITE_ROW) {
    kind = sq_col_dup(s, 0);
    alert_id = sqlite3_column_int64(s, 1);
  }
  sqlite3_reset(s);
  if (step == SQLITE_DONE) {
    store_set_error(st, "outbox entry %lld not found", (long long)f->entry_id);
    rc = ERR_NOT_FOUND;
    goto out;
  }
  if (step != SQLITE_ROW) {
    rc = sq_fail(st, "read outbox entry");
    goto out;
  }
  s = sq_stmt(st, S_FINISH);
  if (!s) {
    rc = ERR_STORE;
    goto out;
  }
  sqlite3_bind_int64(s, 1, f->entry_id);
  sq_bind_text(s, 2, store_state_name(f->state));
  sqlite3_bind_int64(s, 3, f->next_attempt_ms);
  sqlite3_bind_int(s, 4, f->outcome_unknown);
  sq_bind_text(s, 5, f->error);
  sqlite3_bind_int64(s, 6, now_ms);
  rc = sq_run(st, s, "finish outbox entry");
  if (!rc && f->attempt)
    rc = insert_attempt(st, f->entry_id, f->attempt);
  if (rc)
    goto out;
  bool create = kind && !strcmp(kind, "create_ticket");
  if (create && f->state == STORE_DONE && f->ticket_id) {
    s = sq_stmt(st, S_ALERT_TICKET);
    if (!s) {
      rc = ERR_STORE;
      goto out;
    }
    sqlite3_bind_int64(s, 1, alert_id);
    sq_bind_text(s, 2, f->ticket_id);
    sq_bind_text(s, 3, f->ticket_display_id);
    rc = sq_run(st, s, "store ticket id");
  } else if (create && f->state == STORE_DEAD) {
    s = sq_stmt(st, S_CASCADE_DEAD);
    if (!s) {
      rc = ERR_STORE;
      goto out;
    }
    sqlite3_bind_int64(s, 1, alert_id);
    sqlite3_bind_int64(s, 2, f->entry_id);
    sqlite3_bind_int64(s, 3, now_ms);
    sq_bind_text(s, 4, f->error ? f->error : "ticket creation failed");
    rc = sq_run(st, s, "dead-letter dependent entries");
  }
out:
  free(kind);
  return store_tx_leave(st, rc);
}

enum err sq_outbox_renew(struct store *st, int64_t entry_id, int64_t lease,
                         int64_t until_ms)
{
  /* One worker: no other claim to fence off, only a finished entry. */
  (void)lease;
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(SQ(st)->db,
                         "UPDATE outbox SET lease_until = ?1"
                         " WHERE id = ?2 AND state = 'pending'",
                         -1, &s, NULL) != SQLITE_OK) {
    sqlite3_finalize(s);
    return sq_fail(st, "renew lease");
  }
  sqlite3_bind_int64(s, 1, until_ms);
  sqlite3_bind_int64(s, 2, entry_id);
  enum err rc = sq_run(st, s, "renew lease");
  sqlite3_finalize(s);
  if (!rc && sqlite3_changes(SQ(st)->db) == 0) {
    store_set_error(st,
                    "outbox entry %lld is not pending: its lease is not "
                    "renewed",
                    (long long)entry_id);
    rc = ERR_BUSY;
  }
  return rc;
}

enum err sq_outbox_record_attempt(struct store *st, int64_t entry_id,
                                  const struct store_attempt *a)
{
  return insert_attempt(st, entry_id, a);
}

enum err sq_outbox_recover(struct store *st, size_t *released)
{
  enum err rc = sq_exec(st, "UPDATE outbox SET lease_until = 0"
                            " WHERE state = 'pending' AND lease_until > 0");
  if (!rc)
    *released = (size_t)sqlite3_changes(SQ(st)->db);
  return rc;
}

enum err sq_outbox_skip_pending(struct store *st, const char *reason,
                                int64_t now_ms, size_t *skipped)
{
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(SQ(st)->db,
                         "UPDATE outbox SET state = 'skipped', lease_until = 0,"
                         " last_error = ?1, finished_at = ?2"
                         " WHERE state = 'pending'",
                         -1, &s, NULL) != SQLITE_OK)
    return sq_fail(st, "prepare skip");
  sq_bind_text(s, 1, reason);
  sqlite3_bind_int64(s, 2, now_ms);
  enum err rc = sq_run(st, s, "skip pending entries");
  if (!rc)
    *skipped = (size_t)sqlite3_changes(SQ(st)->db);
  sqlite3_finalize(s);
  return rc;
}

enum err sq_outbox_stats(struct store *st, int64_t now_ms,
                         struct store_outbox_stats *o)
{
  sqlite3_stmt *s = NULL;
  enum err rc = ERR_OK;
  /* Reads only: one snapshot keeps the numbers consistent (inside a
   * caller's transaction that one already is). */
  bool own_tx = !st->in_tx;
  if (own_tx) {
    rc = sq_exec(st, "BEGIN");
    if (rc)
      return rc;
  }
  if (sqlite3_prepare_v2(SQ(st)->db,
                         "SELECT COUNT(*), MIN(created_at),"
                         " MIN(CASE WHEN MAX(next_attempt_at, lease_until) > ?1"
                         " THEN MAX(next_attempt_at, lease_until) END)"
                         " FROM outbox WHERE state = 'pending'",
                         -1, &s, NULL) != SQLITE_OK) {
    rc = sq_fail(st, "prepare stats");
    goto out;
  }
  sqlite3_bind_int64(s, 1, now_ms);
  if (sqlite3_step(s) != SQLITE_ROW) {
    rc = sq_fail(st, "outbox stats");
    goto out;
  }
  o->pending = sqlite3_column_int64(s, 0);
  o->oldest_pending_ms = sqlite3_column_int64(s, 1);
  o->next_due_ms = sqlite3_column_int64(s, 2);
  sqlite3_finalize(s);
  s = NULL;
  rc = sq_query_int(st, "SELECT COUNT(*) FROM outbox WHERE state = 'dead'", 0,
                    0, &o->dead);
  /* Attempts are never deleted, so the largest id counts them in O(1). */
  if (!rc)
    rc = sq_query_int(st, "SELECT MAX(id) FROM delivery_attempts", 0, 0,
                      &o->attempts);
  if (!rc)
    rc = sq_query_int(st, "SELECT COUNT(*) FROM delivery_attempts WHERE ok = 0",
                      0, 0, &o->failures);
  if (!rc)
    rc = sq_query_int(st, "SELECT MAX(at) FROM delivery_attempts WHERE ok = 1",
                      0, 0, &o->last_success_ms);
  if (rc)
    goto out;
  if (sqlite3_prepare_v2(SQ(st)->db,
                         "SELECT error FROM delivery_attempts WHERE ok = 0"
                         " ORDER BY at DESC, id DESC LIMIT 1",
                         -1, &s, NULL) != SQLITE_OK) {
    rc = sq_fail(st, "prepare stats");
    goto out;
  }
  if (sqlite3_step(s) == SQLITE_ROW)
    sq_col_copy(s, 0, o->last_error, sizeof o->last_error);
out:
  sqlite3_finalize(s);
  if (own_tx)
    sq_exec(st, "COMMIT");
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
    r->kind = store_kind_parse((const char *)sqlite3_column_text(s, 2));
    r->state = store_state_parse((const char *)sqlite3_column_text(s, 3));
    r->payload = sq_col_dup(s, 4);
    r->last_error = sq_col_dup(s, 5);
    r->attempts = sqlite3_column_int64(s, 6);
    r->next_attempt_ms = sqlite3_column_int64(s, 7);
    r->created_at_ms = sqlite3_column_int64(s, 8);
    r->outcome_unknown = sqlite3_column_int(s, 9) != 0;
  }
  enum err rc = step == SQLITE_DONE ? ERR_OK : sq_fail(st, "list outbox");
  sqlite3_finalize(s);
  if (rc) {
    store_outbox_rows_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

enum err sq_outbox_list(struct store *st, int64_t alert_id,
                        struct store_outbox_row **out, size_t *n)
{
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(SQ(st)->db,
                         OUTBOX_ROW_COLUMNS " WHERE alert_id = ?1 ORDER BY id",
                         -1, &s, NULL) != SQLITE_OK)
    return sq_fail(st, "prepare outbox list");
  sqlite3_bind_int64(s, 1, alert_id);
  return read_outbox_rows(st, s, out, n);
}

enum err sq_outbox_select(struct store *st, enum store_state state, bool all,
                          size_t limit, struct store_outbox_row **out,
                          size_t *n)
{
  sqlite3_stmt *s = NULL;
  /* The state index serves the usual question (the dead letters). */
  if (sqlite3_prepare_v2(SQ(st)->db,
                         OUTBOX_ROW_COLUMNS " WHERE ?1 OR state = ?2"
                                            " ORDER BY id LIMIT ?3",
                         -1, &s, NULL) != SQLITE_OK)
    return sq_fail(st, "prepare outbox select");
  sqlite3_bind_int(s, 1, all);
  sq_bind_text(s, 2, store_state_name(state));
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
    rc = sq_fail(st, what);
    goto out;
  }
  sqlite3_bind_int64(s, 1, id);
  sqlite3_bind_int64(s, 2, now_ms);
  rc = sq_run(st, s, what);
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
        sq_col_copy(s, 0, state, sizeof state);
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

enum err sq_outbox_retry(struct store *st, int64_t id, int64_t now_ms,
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

enum err sq_outbox_drop(struct store *st, int64_t id, int64_t now_ms, size_t *n)
{
  return change_dead(st,
                     "UPDATE outbox SET state = 'skipped', lease_until = 0,"
                     " finished_at = ?2, last_error = 'dropped by an operator"
                     " (' || COALESCE(last_error, 'no error') || ')'"
                     " WHERE state = 'dead' AND (?1 = 0 OR id = ?1)",
                     id, now_ms, "drop dead letters", n);
}
