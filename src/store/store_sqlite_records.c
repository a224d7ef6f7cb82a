/* store_sqlite_records: messages, alerts, customer windows and the
 * insertion of outbox entries (the primitives the alert policy calls
 * inside its transaction), text retention and reading back. */
#include "store/store_sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

static const char *outcome_name(enum store_alert a)
{
  return store_alert_name(a);
}

/* ---- Ingest primitives ------------------------------------------------ */

enum err sq_msg_find(struct store *st, const char *message_id,
                     struct ingest_result *out, bool *found)
{
  sqlite3_stmt *s = sq_stmt(st, S_MSG_FIND);
  if (!s)
    return ERR_STORE;
  sq_bind_text(s, 1, message_id);
  int rc = sqlite3_step(s);
  *found = rc == SQLITE_ROW;
  if (rc == SQLITE_ROW) {
    out->row_id = sqlite3_column_int64(s, 0);
    out->original = store_alert_parse((const char *)sqlite3_column_text(s, 1));
    out->alert_id = sqlite3_column_int64(s, 2);
    out->result_json = sq_col_dup(s, 3);
    sq_col_copy(s, 4, out->alert_key, sizeof out->alert_key);
  }
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return sq_fail(st, "find message");
  return ERR_OK;
}

enum err sq_msg_insert(struct store *st, const struct ingest_msg *m,
                       enum store_alert outcome, int64_t alert_id,
                       int64_t now_ms, int64_t *row_id)
{
  sqlite3_stmt *s = sq_stmt(st, S_MSG_INSERT);
  if (!s)
    return ERR_STORE;
  sq_bind_text(s, 1, m->message_id);
  sq_bind_text(s, 2, m->customer_id);
  sq_bind_text(s, 3, m->conversation_id);
  sq_bind_text(s, 4, m->channel);
  sq_bind_text(s, 5, m->timestamp);
  sq_bind_text(s, 6, m->lang);
  sq_bind_text(s, 7, m->text);
  sqlite3_bind_double(s, 8, m->polarity);
  sqlite3_bind_double(s, 9, m->subjectivity);
  sqlite3_bind_int64(s, 10, (sqlite3_int64)m->level);
  sq_bind_text(s, 11, m->level_name);
  sqlite3_bind_int(s, 12, m->frustrated);
  sq_bind_text(s, 13, outcome_name(outcome));
  if (alert_id)
    sqlite3_bind_int64(s, 14, alert_id);
  sq_bind_text(s, 15, m->result_json);
  sqlite3_bind_int64(s, 16, now_ms);
  sq_bind_text(s, 17, m->source_object);
  sq_bind_text(s, 18, m->source_display_id);
  sq_bind_text(s, 19, m->source_type);
  sq_bind_text(s, 20, m->rev_org);
  enum err rc = sq_run(st, s, "insert message");
  if (!rc)
    *row_id = sqlite3_last_insert_rowid(SQ(st)->db);
  return rc;
}

/* Reads an alerts row selected with the columns of S_ALERT_FIND_OPEN. */
static void read_alert(sqlite3_stmt *s, struct store_alert_row *a)
{
  a->id = sqlite3_column_int64(s, 0);
  sq_col_copy(s, 1, a->key, sizeof a->key);
  a->customer_id = sq_col_dup(s, 2);
  a->conversation_id = sq_col_dup(s, 3);
  a->level = sqlite3_column_int64(s, 4);
  a->level_name = sq_col_dup(s, 5);
  a->severity = sq_col_dup(s, 6);
  a->ticket_id = sq_col_dup(s, 7);
  a->ticket_display_id = sq_col_dup(s, 8);
  a->created_at_ms = sqlite3_column_int64(s, 9);
  a->last_activity_ms = sqlite3_column_int64(s, 10);
  a->message_count = sqlite3_column_int64(s, 11);
  a->ticket_wanted = sqlite3_column_int(s, 12) != 0;
  a->open = true;
}

enum err sq_alert_find_open(struct store *st, const char *customer_id,
                            struct store_alert_row *out, bool *found)
{
  sqlite3_stmt *s = sq_stmt(st, S_ALERT_FIND_OPEN);
  if (!s)
    return ERR_STORE;
  sq_bind_text(s, 1, customer_id);
  int rc = sqlite3_step(s);
  *found = rc == SQLITE_ROW;
  if (rc == SQLITE_ROW)
    read_alert(s, out);
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return sq_fail(st, "find open alert");
  return ERR_OK;
}

enum err sq_alert_insert(struct store *st, struct store_alert_row *a)
{
  sqlite3_stmt *s = sq_stmt(st, S_ALERT_INSERT);
  if (!s)
    return ERR_STORE;
  sq_bind_text(s, 1, a->key);
  sq_bind_text(s, 2, a->customer_id);
  sq_bind_text(s, 3, a->conversation_id);
  sqlite3_bind_int64(s, 4, a->level);
  sq_bind_text(s, 5, a->level_name);
  sq_bind_text(s, 6, a->severity);
  sqlite3_bind_int64(s, 7, a->created_at_ms);
  sqlite3_bind_int64(s, 8, a->last_activity_ms);
  sqlite3_bind_int64(s, 9, a->message_count);
  sqlite3_bind_int(s, 10, a->ticket_wanted);
  enum err rc = sq_run(st, s, "insert alert");
  if (!rc)
    a->id = sqlite3_last_insert_rowid(SQ(st)->db);
  return rc;
}

enum err sq_alert_update(struct store *st, const struct store_alert_row *a)
{
  sqlite3_stmt *s = sq_stmt(st, S_ALERT_UPDATE);
  if (!s)
    return ERR_STORE;
  sqlite3_bind_int64(s, 1, a->id);
  sqlite3_bind_int64(s, 2, a->level);
  sq_bind_text(s, 3, a->level_name);
  sq_bind_text(s, 4, a->severity);
  sq_bind_text(s, 5, a->open ? "open" : "closed");
  sqlite3_bind_int64(s, 6, a->last_activity_ms);
  sqlite3_bind_int64(s, 7, a->message_count);
  sqlite3_bind_int(s, 8, a->ticket_wanted);
  return sq_run(st, s, "update alert");
}

enum err sq_outbox_insert(struct store *st, int64_t alert_id,
                          enum store_kind kind, const char *payload,
                          int64_t now_ms)
{
  sqlite3_stmt *s = sq_stmt(st, S_OUTBOX_INSERT);
  if (!s)
    return ERR_STORE;
  sqlite3_bind_int64(s, 1, alert_id);
  sq_bind_text(s, 2, store_kind_name(kind));
  sq_bind_text(s, 3, payload);
  sqlite3_bind_int64(s, 4, now_ms);
  return sq_run(st, s, "insert outbox entry");
}

enum err sq_window_get(struct store *st, const char *customer_id, char **json)
{
  *json = NULL;
  sqlite3_stmt *s = sq_stmt(st, S_WIN_GET);
  if (!s)
    return ERR_STORE;
  sq_bind_text(s, 1, customer_id);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW)
    *json = sq_col_dup(s, 0);
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return sq_fail(st, "read customer state");
  return ERR_OK;
}

enum err sq_window_put(struct store *st, const char *customer_id,
                       const char *json, int64_t now_ms)
{
  sqlite3_stmt *s = sq_stmt(st, S_WIN_PUT);
  if (!s)
    return ERR_STORE;
  sq_bind_text(s, 1, customer_id);
  sq_bind_text(s, 2, json);
  sqlite3_bind_int64(s, 3, now_ms);
  return sq_run(st, s, "write customer state");
}

/* ---- Retention and reading back --------------------------------------- */

enum err sq_purge_text(struct store *st, int64_t older_than_ms, size_t max_rows,
                       size_t *purged)
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
    rc = sq_fail(st, "prepare purge");
    goto out;
  }
  sqlite3_bind_int64(s, 1, older_than_ms);
  sqlite3_bind_int64(s, 2, max_rows ? (sqlite3_int64)max_rows : -1);
  rc = sq_run(st, s, "purge message text");
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
    rc = sq_fail(st, "prepare purge");
    goto out;
  }
  sqlite3_bind_int64(s, 1, older_than_ms);
  rc = sq_run(st, s, "purge outbox excerpts");
out:
  sqlite3_finalize(s);
  return store_tx_leave(st, rc);
}

enum err sq_message_get(struct store *st, const char *message_id,
                        int64_t row_id, struct store_message *m, bool *found)
{
  sqlite3_stmt *s = sq_stmt(st, message_id ? S_MSG_GET : S_MSG_GET_ROW);
  if (!s)
    return ERR_STORE;
  if (message_id)
    sq_bind_text(s, 1, message_id);
  else
    sqlite3_bind_int64(s, 1, row_id);
  int rc = sqlite3_step(s);
  *found = rc == SQLITE_ROW;
  if (rc == SQLITE_ROW) {
    m->row_id = sqlite3_column_int64(s, 0);
    m->message_id = sq_col_dup(s, 1);
    m->customer_id = sq_col_dup(s, 2);
    m->conversation_id = sq_col_dup(s, 3);
    m->text = sq_col_dup(s, 4);
    m->level_name = sq_col_dup(s, 5);
    m->result_json = sq_col_dup(s, 6);
    m->polarity = sqlite3_column_double(s, 7);
    m->subjectivity = sqlite3_column_double(s, 8);
    m->level = sqlite3_column_int64(s, 9);
    m->frustrated = sqlite3_column_int(s, 10) != 0;
    m->outcome = store_alert_parse((const char *)sqlite3_column_text(s, 11));
    m->alert_id = sqlite3_column_int64(s, 12);
    m->created_at_ms = sqlite3_column_int64(s, 13);
    m->source_object = sq_col_dup(s, 14);
    m->source_display_id = sq_col_dup(s, 15);
    m->source_type = sq_col_dup(s, 16);
    m->rev_org = sq_col_dup(s, 17);
    m->labelled = sqlite3_column_type(s, 18) != SQLITE_NULL;
    m->label = sqlite3_column_int(s, 18) != 0;
    m->labelled_at_ms = sqlite3_column_int64(s, 19);
    m->labelled_by = sq_col_dup(s, 20);
  }
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return sq_fail(st, "read message");
  return ERR_OK;
}

/* Labels are rare writes and rarer reads: their statements are prepared
 * per call rather than kept. */
enum err sq_label_set(struct store *st, const char *message_id, int64_t row_id,
                      const char *by, int64_t now_ms, struct store_label *l)
{
  sqlite3_stmt *s = NULL;
  /* One statement: the label is computed from the stored verdict (?5:
   * relative, then ?2 says whether the verdict was right), and RETURNING
   * (SQLite 3.35) reads back the names and values the answer gives. The
   * values RETURNING sees are those after the update. */
  if (sqlite3_prepare_v2(
          SQ(st)->db,
          message_id
              ? "UPDATE messages SET"
                " label = CASE WHEN ?5 THEN frustrated = ?2 ELSE ?2 END,"
                " labelled_at = ?3, labelled_by = ?4 WHERE message_id = ?1"
                " RETURNING id, message_id, frustrated, label"
              : "UPDATE messages SET"
                " label = CASE WHEN ?5 THEN frustrated = ?2 ELSE ?2 END,"
                " labelled_at = ?3, labelled_by = ?4 WHERE id = ?1"
                " RETURNING id, message_id, frustrated, label",
          -1, &s, NULL) != SQLITE_OK)
    return sq_fail(st, "prepare label");
  if (message_id)
    sq_bind_text(s, 1, message_id);
  else
    sqlite3_bind_int64(s, 1, row_id);
  sqlite3_bind_int(s, 2, l->value ? 1 : 0);
  sqlite3_bind_int64(s, 3, now_ms);
  sq_bind_text(s, 4, by);
  sqlite3_bind_int(s, 5, l->relative ? 1 : 0);
  int rc = sqlite3_step(s);
  enum err out = ERR_OK;
  if (rc == SQLITE_ROW) {
    l->row_id = sqlite3_column_int64(s, 0);
    l->message_id = sq_col_dup(s, 1);
    l->verdict = sqlite3_column_int(s, 2) != 0;
    l->label = sqlite3_column_int(s, 3) != 0;
    rc = sqlite3_step(s);
  } else if (rc == SQLITE_DONE) {
    if (message_id)
      store_set_error(st, "no message has the id '%s'", message_id);
    else
      store_set_error(st, "no message is stored as row %lld",
                      (long long)row_id);
    out = ERR_NOT_FOUND;
  }
  if (rc != SQLITE_DONE)
    out = sq_fail(st, "label message");
  sqlite3_finalize(s);
  return out;
}

enum err sq_labels_each(struct store *st,
                        bool (*each)(void *arg, const struct store_labelled *l),
                        void *arg)
{
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(SQ(st)->db,
                         "SELECT id, message_id, text, lang, label, frustrated,"
                         " labelled_at FROM messages INDEXED BY"
                         " messages_labelled WHERE label IS NOT NULL"
                         " ORDER BY id",
                         -1, &s, NULL) != SQLITE_OK)
    return sq_fail(st, "prepare labels");
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    struct store_labelled l = {
        .row_id = sqlite3_column_int64(s, 0),
        .message_id = (const char *)sqlite3_column_text(s, 1),
        .text = (const char *)sqlite3_column_text(s, 2),
        .lang = (const char *)sqlite3_column_text(s, 3),
        .label = sqlite3_column_int(s, 4) != 0,
        .verdict = sqlite3_column_int(s, 5) != 0,
        .labelled_at_ms = sqlite3_column_int64(s, 6),
    };
    if (!each(arg, &l)) {
      rc = SQLITE_DONE;
      break;
    }
  }
  enum err out = rc == SQLITE_DONE ? ERR_OK : sq_fail(st, "read labels");
  sqlite3_finalize(s);
  return out;
}

enum err sq_alert_get(struct store *st, int64_t id, struct store_alert_row *a)
{
  sqlite3_stmt *s = sq_stmt(st, S_ALERT_GET);
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
    return sq_fail(st, "read alert");
  return ERR_OK;
}

enum err sq_counts(struct store *st, struct store_counts *c)
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
    enum err rc = sq_query_int(st, q[i].sql, 0, 0, dst);
    if (rc)
      return rc;
  }
  return ERR_OK;
}
