/* store_sqlite_schema: the SQLite backend's tables and the SQL of its
 * prepared statements.
 *
 * Schema: versioned migrations, listed below in order and applied in one
 * transaction on open; the version is the single row of schema_version.
 * A database newer than this build is refused rather than misread. */
#include "store/store_sqlite_int.h"

#include <stdio.h>

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

    /* 5: the dashboard's language mix, keyed by the minute like
     * messages_by_minute and covering what it reads: a day's mix is
     * counted in index order without touching the table. */
    "CREATE INDEX messages_lang_by_minute ON messages"
    "  (created_at / 60000, lang, frustrated);",

    /* 6: the team's labels (POST /api/feedback): the true label, when
     * and by whom. Retraining reads the labelled messages through a
     * partial index, which an unlabelled message never enters (no page
     * written at ingest). */
    "ALTER TABLE messages ADD COLUMN label INTEGER"
    "  CHECK (label = 0 OR label = 1);"
    "ALTER TABLE messages ADD COLUMN labelled_at INTEGER;"
    "ALTER TABLE messages ADD COLUMN labelled_by TEXT;"
    "CREATE INDEX messages_labelled ON messages(id)"
    "  WHERE label IS NOT NULL;",
};

_Static_assert(sizeof migrations / sizeof migrations[0] == STORE_SCHEMA_VERSION,
               "one migration per schema version");

/* ---- Prepared statements ---------------------------------------------- */

/* What store_message_get reads, in the order its backend reads them. */
#define MSG_COLUMNS                                                            \
  "id, message_id, customer_id, conversation_id, text, level_name,"            \
  " result_json, polarity, subjectivity, level, frustrated, alert_outcome,"    \
  " alert_id, created_at, source_object, source_display_id, source_type,"      \
  " rev_org, label, labelled_at, labelled_by"

/* The text of each statement of enum stmt_id (store_sqlite_int.h). */
const char *const sq_sql_text[S_COUNT] = {
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
    [S_MSG_GET] = "SELECT " MSG_COLUMNS " FROM messages WHERE message_id = ?1",
    /* A message by its row id: the name of one sent without a
     * message_id (store_message_get_row). */
    [S_MSG_GET_ROW] = "SELECT " MSG_COLUMNS " FROM messages WHERE id = ?1",
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
    /* A create_ticket or comment is marked unknown while in flight: if
     * the process dies before the answer is recorded, the next attempt
     * looks first. */
    [S_CLAIM_UPDATE] =
        "UPDATE outbox SET attempts = attempts + 1, lease_until = ?2,"
        " first_attempt_at = COALESCE(first_attempt_at, ?3),"
        " outcome_unknown = CASE WHEN kind IN " LOOKUP_KINDS " THEN 1"
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

/* ---- Migration -------------------------------------------------------- */

enum err sq_migrate(struct store *st, int max_version, char *err, size_t errlen)
{
  int v = 0;
  int64_t rows = 0;
  enum err rc = sq_exec(st, "BEGIN IMMEDIATE");
  if (rc)
    goto fail;
  rc = sq_exec(st, "CREATE TABLE IF NOT EXISTS schema_version"
                   " (version INTEGER NOT NULL)");
  if (!rc)
    rc = sq_query_int(st, "SELECT COUNT(*) FROM schema_version", 0, 0, &rows);
  if (!rc && rows == 0)
    rc = sq_exec(st, "INSERT INTO schema_version (version) VALUES (0)");
  if (!rc)
    rc = sq_schema_version(st, &v);
  if (rc)
    goto fail;
  if (v > STORE_SCHEMA_VERSION) {
    snprintf(err, errlen,
             "database schema version %d is newer than this build knows (%d):"
             " refusing to use it",
             v, STORE_SCHEMA_VERSION);
    sq_exec(st, "ROLLBACK");
    return ERR_UNSUPPORTED;
  }
  for (; v < max_version; v++) {
    char bump[64];
    rc = sq_exec(st, migrations[v]);
    if (rc)
      goto fail;
    snprintf(bump, sizeof bump, "UPDATE schema_version SET version = %d",
             v + 1);
    rc = sq_exec(st, bump);
    if (rc)
      goto fail;
  }
  rc = sq_exec(st, "COMMIT");
  if (rc)
    goto fail;
  return ERR_OK;
fail:
  snprintf(err, errlen, "schema migration: %s", st->errmsg);
  if (!sqlite3_get_autocommit(SQ(st)->db))
    sq_exec(st, "ROLLBACK");
  return rc ? rc : ERR_STORE;
}
