/* store_pg_records: messages, alerts, customer windows and the insertion
 * of outbox entries on PostgreSQL (the primitives the alert policy calls
 * inside its transaction), with the record locks that make several
 * instances decide one message and one customer at a time; retention and
 * reading back. */
#include "store/store_pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/xalloc.h"

/* ---- Record locks ----------------------------------------------------- */

/* Two transactions that both ingest message id M (or customer C) must
 * take turns: the second then finds what the first committed (READ
 * COMMITTED reads the newest committed rows in each statement). */
static enum err lock_key(struct store *st, char ns, const char *key)
{
  if (PG(st)->batch_locked || !key)
    return ERR_OK;
  struct pg_params p = {0};
  pp_int(&p, pg_lock_key(ns, key));
  PGresult *r = pg_run(st, P_LOCK_KEY, &p, "lock record");
  if (!r)
    return pg_failed(st);
  PQclear(r);
  return ERR_OK;
}

/* Takes key's record lock (namespace ns) and runs statement id with key
 * as its one parameter: the result, or NULL with *rc set. */
static PGresult *locked_lookup(struct store *st, char ns, const char *key,
                               enum pg_stmt id, const char *what, enum err *rc)
{
  *rc = lock_key(st, ns, key);
  if (*rc)
    return NULL;
  struct pg_params p = {0};
  pp_text(&p, key);
  PGresult *r = pg_run(st, id, &p, what);
  if (!r)
    *rc = pg_failed(st);
  return r;
}

/* ---- Ingest primitives ------------------------------------------------ */

enum err pg_msg_find(struct store *st, const char *message_id,
                     struct ingest_result *out, bool *found)
{
  *found = false;
  if (pg_batch_msg_find(st, message_id, out, found))
    return ERR_OK;
  enum err rc;
  PGresult *r =
      locked_lookup(st, 'm', message_id, P_MSG_FIND, "find message", &rc);
  if (!r)
    return rc;
  if (PQntuples(r) > 0) {
    *found = true;
    out->row_id = pg_int(r, 0, 0);
    out->original = store_alert_parse(PQgetvalue(r, 0, 1));
    out->alert_id = pg_int(r, 0, 2);
    out->result_json = pg_dup(r, 0, 3);
    pg_copy(r, 0, 4, out->alert_key, sizeof out->alert_key);
  }
  PQclear(r);
  return ERR_OK;
}

void pg_msg_params(struct pg_params *p, const struct ingest_msg *m,
                   enum store_alert outcome, int64_t alert_id, int64_t now_ms)
{
  pp_text(p, m->message_id);
  pp_text(p, m->customer_id);
  pp_text(p, m->conversation_id);
  pp_text(p, m->channel);
  pp_text(p, m->timestamp);
  pp_text(p, m->lang);
  pp_text(p, m->text);
  pp_double(p, m->polarity);
  pp_double(p, m->subjectivity);
  pp_int(p, (int64_t)m->level);
  pp_text(p, m->level_name);
  pp_bool(p, m->frustrated);
  pp_text(p, store_alert_name(outcome));
  if (alert_id)
    pp_int(p, alert_id);
  else
    pp_text(p, NULL);
  pp_text(p, m->result_json);
  pp_int(p, now_ms);
  pp_text(p, m->source_object);
  pp_text(p, m->source_display_id);
  pp_text(p, m->source_type);
  pp_text(p, m->rev_org);
}

enum err pg_msg_insert(struct store *st, const struct ingest_msg *m,
                       enum store_alert outcome, int64_t alert_id,
                       int64_t now_ms, int64_t *row_id)
{
  enum err brc;
  /* The live feeds are told at commit (store_pg.c). */
  PG(st)->notify = true;
  if (pg_batch_msg_insert(st, m, outcome, alert_id, now_ms, row_id, &brc))
    return brc;
  struct pg_params p = {0};
  pg_msg_params(&p, m, outcome, alert_id, now_ms);
  PGresult *r = pg_run(st, P_MSG_INSERT, &p, "insert message");
  if (!r)
    return pg_failed(st);
  *row_id = pg_int(r, 0, 0);
  PQclear(r);
  pg_batch_msg_inserted(st, m, outcome, alert_id, *row_id);
  return ERR_OK;
}

void pg_read_alert(const PGresult *r, int row, struct store_alert_row *a)
{
  a->id = pg_int(r, row, 0);
  pg_copy(r, row, 1, a->key, sizeof a->key);
  a->customer_id = pg_dup(r, row, 2);
  a->conversation_id = pg_dup(r, row, 3);
  a->level = pg_int(r, row, 4);
  a->level_name = pg_dup(r, row, 5);
  a->severity = pg_dup(r, row, 6);
  a->ticket_id = pg_dup(r, row, 7);
  a->ticket_display_id = pg_dup(r, row, 8);
  a->created_at_ms = pg_int(r, row, 9);
  a->last_activity_ms = pg_int(r, row, 10);
  a->message_count = pg_int(r, row, 11);
  a->ticket_wanted = pg_bool(r, row, 12);
  a->open = !strcmp(PQgetvalue(r, row, 13), "open");
}

enum err pg_alert_find_open(struct store *st, const char *customer_id,
                            struct store_alert_row *out, bool *found)
{
  *found = false;
  if (pg_batch_alert_find_open(st, customer_id, out, found))
    return ERR_OK;
  enum err rc;
  PGresult *r = locked_lookup(st, 'c', customer_id, P_ALERT_FIND_OPEN,
                              "find open alert", &rc);
  if (!r)
    return rc;
  if (PQntuples(r) > 0) {
    *found = true;
    pg_read_alert(r, 0, out);
  }
  PQclear(r);
  return ERR_OK;
}

enum err pg_alert_insert(struct store *st, struct store_alert_row *a)
{
  struct pg_params p = {0};
  pp_text(&p, a->key);
  pp_text(&p, a->customer_id);
  pp_text(&p, a->conversation_id);
  pp_int(&p, a->level);
  pp_text(&p, a->level_name);
  pp_text(&p, a->severity);
  pp_int(&p, a->created_at_ms);
  pp_int(&p, a->last_activity_ms);
  pp_int(&p, a->message_count);
  pp_bool(&p, a->ticket_wanted);
  int64_t id = pg_batch_alert_id(st);
  if (id) {
    /* In a prepared batch: the alert's id is known, nothing to wait for.
     * The updates held back go first (one of them may close the
     * customer's previous alert). */
    pp_int(&p, id);
    enum err rc = pg_batch_alert_flush(st);
    if (!rc)
      rc = pg_send(st, P_ALERT_INSERT_ID, &p, "insert alert", NULL);
    if (rc)
      return rc;
    a->id = id;
    pg_batch_alert_written(st, a, true);
    return ERR_OK;
  }
  PGresult *r = pg_run(st, P_ALERT_INSERT, &p, "insert alert");
  if (!r)
    return pg_failed(st);
  a->id = pg_int(r, 0, 0);
  PQclear(r);
  pg_batch_alert_written(st, a, true);
  return ERR_OK;
}

enum err pg_alert_update(struct store *st, const struct store_alert_row *a)
{
  struct pg_params p = {0};
  pp_int(&p, a->id);
  pp_int(&p, a->level);
  pp_text(&p, a->level_name);
  pp_text(&p, a->severity);
  pp_text(&p, a->open ? "open" : "closed");
  pp_int(&p, a->last_activity_ms);
  pp_int(&p, a->message_count);
  pp_bool(&p, a->ticket_wanted);
  enum err rc = ERR_OK;
  if (pg_batch_alert_update(st, a, &rc)) {
    if (!rc)
      pg_batch_alert_written(st, a, false);
    return rc;
  }
  if (PG(st)->batch) {
    rc = pg_send(st, P_ALERT_UPDATE, &p, "update alert", NULL);
    if (!rc)
      pg_batch_alert_written(st, a, false);
    return rc;
  }
  PGresult *r = pg_run(st, P_ALERT_UPDATE, &p, "update alert");
  if (!r)
    return pg_failed(st);
  PQclear(r);
  return ERR_OK;
}

enum err pg_outbox_insert(struct store *st, int64_t alert_id,
                          enum store_kind kind, const char *payload,
                          int64_t now_ms)
{
  enum err brc;
  if (pg_batch_outbox_insert(st, alert_id, kind, payload, now_ms, &brc))
    return brc;
  struct pg_params p = {0};
  pp_int(&p, alert_id);
  pp_text(&p, store_kind_name(kind));
  pp_text(&p, payload);
  pp_int(&p, now_ms);
  PGresult *r = pg_run(st, P_OUTBOX_INSERT, &p, "insert outbox entry");
  if (!r)
    return pg_failed(st);
  PQclear(r);
  return ERR_OK;
}

enum err pg_window_get(struct store *st, const char *customer_id, char **json)
{
  *json = NULL;
  if (pg_batch_window_get(st, customer_id, json))
    return ERR_OK;
  enum err rc;
  PGresult *r = locked_lookup(st, 'c', customer_id, P_WIN_GET,
                              "read customer state", &rc);
  if (!r)
    return rc;
  if (PQntuples(r) > 0)
    *json = pg_dup(r, 0, 0);
  PQclear(r);
  return ERR_OK;
}

enum err pg_window_put(struct store *st, const char *customer_id,
                       const char *json, int64_t now_ms)
{
  struct pg_params p = {0};
  pp_text(&p, customer_id);
  pp_text(&p, json);
  pp_int(&p, now_ms);
  if (pg_batch_window_put(st, customer_id, json, now_ms))
    return ERR_OK;
  if (PG(st)->batch)
    return pg_send(st, P_WIN_PUT, &p, "write customer state", NULL);
  PGresult *r = pg_run(st, P_WIN_PUT, &p, "write customer state");
  if (!r)
    return pg_failed(st);
  PQclear(r);
  return ERR_OK;
}

/* ---- Retention and reading back --------------------------------------- */

/* Runs sql with p for its effect inside the current transaction; sets
 * *changed (may be NULL) to the rows it changed. */
static enum err run_changes(struct store *st, const char *sql,
                            const struct pg_params *p, const char *what,
                            size_t *changed)
{
  PGresult *r = pg_query(st, sql, p, what);
  if (!r)
    return pg_failed(st);
  if (changed)
    *changed = (size_t)strtoull(PQcmdTuples(r), NULL, 10);
  PQclear(r);
  return ERR_OK;
}

enum err pg_purge_text(struct store *st, int64_t older_than_ms, size_t max_rows,
                       size_t *purged)
{
  enum err rc = store_tx_enter(st);
  if (rc)
    return rc;
  struct pg_params p = {0};
  pp_int(&p, older_than_ms);
  if (max_rows)
    pp_int(&p, (int64_t)max_rows);
  else
    pp_text(&p, NULL); /* LIMIT NULL: no limit */
  rc = run_changes(st,
                   "UPDATE messages SET text = NULL WHERE id IN"
                   " (SELECT id FROM messages WHERE text IS NOT NULL"
                   " AND created_at < $1 ORDER BY created_at LIMIT $2)",
                   &p, "purge message text", purged);
  if (!rc) {
    struct pg_params q = {0};
    pp_int(&q, older_than_ms);
    /* The excerpt copied into finished outbox payloads goes too. */
    rc = run_changes(st,
                     "UPDATE outbox SET payload = (payload::jsonb - 'excerpt')"
                     "::text WHERE state <> 'pending' AND created_at < $1"
                     " AND payload::jsonb ? 'excerpt'",
                     &q, "purge outbox excerpts", NULL);
  }
  return store_tx_leave(st, rc);
}

enum err pg_message_get(struct store *st, const char *message_id,
                        int64_t row_id, struct store_message *m, bool *found)
{
  struct pg_params p = {0};
  if (message_id)
    pp_text(&p, message_id);
  else
    pp_int(&p, row_id);
  PGresult *r =
      pg_run(st, message_id ? P_MSG_GET : P_MSG_GET_ROW, &p, "read message");
  if (!r)
    return pg_failed(st);
  *found = PQntuples(r) > 0;
  if (*found) {
    m->row_id = pg_int(r, 0, 0);
    m->message_id = pg_dup(r, 0, 1);
    m->customer_id = pg_dup(r, 0, 2);
    m->conversation_id = pg_dup(r, 0, 3);
    m->text = pg_dup(r, 0, 4);
    m->level_name = pg_dup(r, 0, 5);
    m->result_json = pg_dup(r, 0, 6);
    m->polarity = strtod(PQgetvalue(r, 0, 7), NULL);
    m->subjectivity = strtod(PQgetvalue(r, 0, 8), NULL);
    m->level = pg_int(r, 0, 9);
    m->frustrated = pg_bool(r, 0, 10);
    m->outcome = store_alert_parse(PQgetvalue(r, 0, 11));
    m->alert_id = pg_int(r, 0, 12);
    m->created_at_ms = pg_int(r, 0, 13);
    m->source_object = pg_dup(r, 0, 14);
    m->source_display_id = pg_dup(r, 0, 15);
    m->source_type = pg_dup(r, 0, 16);
    m->rev_org = pg_dup(r, 0, 17);
    m->labelled = !PQgetisnull(r, 0, 18);
    m->label = pg_bool(r, 0, 18);
    m->labelled_at_ms = pg_int(r, 0, 19);
    m->labelled_by = pg_dup(r, 0, 20);
  }
  PQclear(r);
  return ERR_OK;
}

/* Labels are rare: their statements are not prepared on every
 * connection. */
enum err pg_label_set(struct store *st, const char *message_id, int64_t row_id,
                      const char *by, int64_t now_ms, struct store_label *l)
{
  struct pg_params p = {0};
  if (message_id)
    pp_text(&p, message_id);
  else
    pp_int(&p, row_id);
  pp_bool(&p, l->value);
  pp_int(&p, now_ms);
  pp_text(&p, by);
  pp_bool(&p, l->relative);
  /* Either way the UPDATE sees committed rows only and does not wait for
   * a batch still being written: its rows, ids included, do not exist
   * for it yet (ERR_NOT_FOUND). One statement: the label is computed from
   * the stored verdict ($5: relative, then $2 says whether the verdict
   * was right), and RETURNING reads back, after the update, the names and
   * values the answer gives. */
  PGresult *r = pg_query(
      st,
      message_id ? "UPDATE messages SET label = CASE WHEN $5::boolean"
                   " THEN frustrated = $2::boolean ELSE $2::boolean END,"
                   " labelled_at = $3, labelled_by = $4 WHERE message_id = $1"
                   " RETURNING id, message_id, frustrated, label"
                 : "UPDATE messages SET label = CASE WHEN $5::boolean"
                   " THEN frustrated = $2::boolean ELSE $2::boolean END,"
                   " labelled_at = $3, labelled_by = $4 WHERE id = $1"
                   " RETURNING id, message_id, frustrated, label",
      &p, "label message");
  if (!r)
    return pg_failed(st);
  bool found = PQntuples(r) > 0;
  if (found) {
    l->row_id = pg_int(r, 0, 0);
    l->message_id = pg_dup(r, 0, 1);
    l->verdict = pg_bool(r, 0, 2);
    l->label = pg_bool(r, 0, 3);
  }
  PQclear(r);
  if (!found) {
    if (message_id)
      store_set_error(st, "no message has the id '%s'", message_id);
    else
      store_set_error(st, "no message is stored as row %lld",
                      (long long)row_id);
    return ERR_NOT_FOUND;
  }
  return ERR_OK;
}

enum err pg_labels_each(struct store *st,
                        bool (*each)(void *arg, const struct store_labelled *l),
                        void *arg)
{
  /* The team labels messages by hand: thousands, not millions, so one
   * result holds them all. */
  PGresult *r = pg_query(st,
                         "SELECT id, message_id, text, lang, label, frustrated,"
                         " labelled_at FROM messages WHERE label IS NOT NULL"
                         " ORDER BY id",
                         NULL, "read labels");
  if (!r)
    return pg_failed(st);
  int n = PQntuples(r);
  for (int i = 0; i < n; i++) {
    struct store_labelled l = {
        .row_id = pg_int(r, i, 0),
        .message_id = PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1),
        .text = PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2),
        .lang = PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3),
        .label = pg_bool(r, i, 4),
        .verdict = pg_bool(r, i, 5),
        .labelled_at_ms = pg_int(r, i, 6),
    };
    if (!each(arg, &l))
      break;
  }
  PQclear(r);
  return ERR_OK;
}

enum err pg_alert_get(struct store *st, int64_t id, struct store_alert_row *a)
{
  struct pg_params p = {0};
  pp_int(&p, id);
  PGresult *r = pg_run(st, P_ALERT_GET, &p, "read alert");
  if (!r)
    return pg_failed(st);
  bool found = PQntuples(r) > 0;
  if (found)
    pg_read_alert(r, 0, a);
  PQclear(r);
  if (!found) {
    store_set_error(st, "alert %lld not found", (long long)id);
    return ERR_NOT_FOUND;
  }
  return ERR_OK;
}

enum err pg_counts(struct store *st, struct store_counts *c)
{
  PGresult *r = pg_query(
      st,
      "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM alerts),"
      " (SELECT count(*) FROM alerts WHERE state = 'open'),"
      " count(*) FILTER (WHERE state = 'pending'),"
      " count(*) FILTER (WHERE state = 'done'),"
      " count(*) FILTER (WHERE state = 'dead'),"
      " count(*) FILTER (WHERE state = 'skipped') FROM outbox",
      NULL, "count rows");
  if (!r)
    return pg_failed(st);
  c->messages = pg_int(r, 0, 0);
  c->alerts = pg_int(r, 0, 1);
  c->open_alerts = pg_int(r, 0, 2);
  c->outbox_pending = pg_int(r, 0, 3);
  c->outbox_done = pg_int(r, 0, 4);
  c->outbox_dead = pg_int(r, 0, 5);
  c->outbox_skipped = pg_int(r, 0, 6);
  PQclear(r);
  return ERR_OK;
}
