/* store_pg_schema: the PostgreSQL backend's tables and the SQL of its
 * prepared statements.
 *
 * Schema: versioned migrations with the SQLite backend's numbering (one
 * version number is one data model on both), applied in one transaction
 * under an advisory lock, so that several instances starting at once
 * migrate once and the others wait and find it done. A database newer
 * than this build is refused rather than misread. Times are milliseconds
 * since the epoch (BIGINT), as in SQLite. */
#include "store/store_pg_int.h"

#include <stdio.h>

/* ---- Schema ----------------------------------------------------------- */

/* migrations[i] upgrades version i to i + 1. Never edit a released entry:
 * add a new one. */
static const char *const migrations[] = {
    /* 1: messages, alerts, the outbox and its attempts. */
    "CREATE TABLE alerts ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  alert_key TEXT NOT NULL UNIQUE,"
    "  customer_id TEXT NOT NULL,"
    "  conversation_id TEXT,"
    "  level BIGINT NOT NULL,"
    "  level_name TEXT NOT NULL,"
    "  severity TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),"
    "  ticket_id TEXT,"
    "  ticket_display_id TEXT,"
    "  created_at BIGINT NOT NULL,"
    "  last_activity_at BIGINT NOT NULL,"
    "  message_count BIGINT NOT NULL DEFAULT 1);"
    /* One open alert per customer episode, across every instance. */
    "CREATE UNIQUE INDEX alerts_one_open ON alerts(customer_id)"
    "  WHERE state = 'open';"
    "CREATE TABLE messages ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  message_id TEXT UNIQUE,"
    "  customer_id TEXT NOT NULL,"
    "  conversation_id TEXT,"
    "  channel TEXT,"
    "  timestamp TEXT,"
    "  lang TEXT,"
    "  text TEXT,"
    "  polarity DOUBLE PRECISION NOT NULL,"
    "  subjectivity DOUBLE PRECISION NOT NULL,"
    "  level BIGINT NOT NULL,"
    "  level_name TEXT NOT NULL,"
    "  frustrated BOOLEAN NOT NULL,"
    "  alert_outcome TEXT NOT NULL"
    "    CHECK (alert_outcome IN ('none', 'created', 'appended')),"
    "  alert_id BIGINT REFERENCES alerts(id),"
    "  result_json TEXT,"
    "  created_at BIGINT NOT NULL);"
    "CREATE INDEX messages_text_age ON messages(created_at)"
    "  WHERE text IS NOT NULL;"
    "CREATE TABLE outbox ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  alert_id BIGINT NOT NULL REFERENCES alerts(id),"
    "  kind TEXT NOT NULL"
    "    CHECK (kind IN ('create_ticket', 'comment', 'update_severity')),"
    "  payload TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'pending'"
    "    CHECK (state IN ('pending', 'done', 'dead', 'skipped')),"
    "  attempts BIGINT NOT NULL DEFAULT 0,"
    "  next_attempt_at BIGINT NOT NULL,"
    "  lease_until BIGINT NOT NULL DEFAULT 0,"
    "  first_attempt_at BIGINT,"
    "  last_error TEXT,"
    "  outcome_unknown BOOLEAN NOT NULL DEFAULT false,"
    "  created_at BIGINT NOT NULL,"
    "  finished_at BIGINT);"
    "CREATE INDEX outbox_pending ON outbox(id) WHERE state = 'pending';"
    "CREATE INDEX outbox_dead ON outbox(id) WHERE state = 'dead';"
    "CREATE INDEX outbox_alert ON outbox(alert_id, id);"
    "CREATE TABLE delivery_attempts ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  outbox_id BIGINT NOT NULL REFERENCES outbox(id),"
    "  at BIGINT NOT NULL,"
    "  duration_ms BIGINT NOT NULL,"
    "  http_status INTEGER NOT NULL,"
    "  result TEXT NOT NULL,"
    "  ok BOOLEAN NOT NULL,"
    "  error TEXT);"
    "CREATE INDEX attempts_outbox ON delivery_attempts(outbox_id);"
    "CREATE INDEX attempts_failed ON delivery_attempts(at) WHERE NOT ok;"
    "CREATE INDEX attempts_ok ON delivery_attempts(at) WHERE ok;",

    /* 2: per-customer window of recent scores (conversation context). */
    "CREATE TABLE customer_state ("
    "  customer_id TEXT PRIMARY KEY,"
    "  recent TEXT NOT NULL,"
    "  messages BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL);",

    /* 3: time indexes for the dashboard's aggregates. */
    "CREATE INDEX messages_created ON messages(created_at);"
    "CREATE INDEX outbox_finished ON outbox(finished_at, state)"
    "  WHERE finished_at IS NOT NULL;"
    "CREATE INDEX customer_state_updated ON customer_state(updated_at);",

    /* 4: messages from DevRev events keep where they were written; alerts
     * know whether they have a ticket to go to; the outbox learns the two
     * kinds aimed at the source object. For several instances: who holds
     * a lease and its fencing token, the instances, and the delivery
     * pause they share. */
    "ALTER TABLE messages ADD COLUMN source_object TEXT,"
    "  ADD COLUMN source_display_id TEXT, ADD COLUMN source_type TEXT,"
    "  ADD COLUMN rev_org TEXT;"
    "ALTER TABLE alerts ADD COLUMN ticket_wanted BOOLEAN NOT NULL"
    "  DEFAULT true;"
    "ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check,"
    "  ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('create_ticket',"
    "  'comment', 'update_severity', 'source_comment', 'update_source')),"
    "  ADD COLUMN lease_owner BIGINT,"
    "  ADD COLUMN lease_token BIGINT NOT NULL DEFAULT 0;"
    "CREATE SEQUENCE lease_tokens;"
    "CREATE TABLE instances ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  pid BIGINT NOT NULL,"
    "  host TEXT NOT NULL,"
    "  started_at BIGINT NOT NULL);"
    "CREATE TABLE delivery_pause ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  until_ms BIGINT NOT NULL,"
    "  reason TEXT);",

    /* 5: the dashboard's language mix reads lang and frustrated of a
     * day's messages from the index, not the table. */
    "CREATE INDEX messages_created_lang ON messages(created_at)"
    "  INCLUDE (lang, frustrated);",

    /* 6: the team's labels (POST /api/feedback), read back for retraining
     * through a partial index that unlabelled messages never enter. */
    "ALTER TABLE messages ADD COLUMN label BOOLEAN,"
    "  ADD COLUMN labelled_at BIGINT, ADD COLUMN labelled_by TEXT;"
    "CREATE INDEX messages_labelled ON messages(id)"
    "  WHERE label IS NOT NULL;",
};

_Static_assert(sizeof migrations / sizeof migrations[0] == STORE_SCHEMA_VERSION,
               "one migration per schema version");

/* ---- Prepared statements ---------------------------------------------- */

#define ALERT_COLUMNS                                                          \
  "id, alert_key, customer_id, conversation_id, level, level_name,"            \
  " severity, ticket_id, ticket_display_id, created_at, last_activity_at,"     \
  " message_count, ticket_wanted, state"

#define SOURCE_KINDS "('source_comment', 'update_source')"

/* A prepared batch's rows, read ahead under its locks
 * (store_pg_batch.c), planned for the keys at hand: a plan made once,
 * while the tables were small, scanned a whole table and compared each
 * row with every key. */
const char pg_sql_batch_msgs[] =
    "SELECT m.message_id, m.id, m.alert_outcome, m.alert_id,"
    " m.result_json, a.alert_key"
    " FROM messages m LEFT JOIN alerts a ON a.id = m.alert_id"
    " WHERE m.message_id = ANY($1::text[])";
const char pg_sql_batch_windows[] =
    "SELECT customer_id, recent FROM customer_state"
    " WHERE customer_id = ANY($1::text[])";
const char pg_sql_batch_open[] =
    "SELECT " ALERT_COLUMNS " FROM alerts"
    " WHERE customer_id = ANY($1::text[]) AND state = 'open'";

/* What store_message_get reads, in the order its backend reads them. */
#define MSG_COLUMNS                                                            \
  "id, message_id, customer_id, conversation_id, text, level_name,"            \
  " result_json, polarity, subjectivity, level, frustrated, alert_outcome,"    \
  " alert_id, created_at, source_object, source_display_id, source_type,"      \
  " rev_org, label, labelled_at, labelled_by"

const char *const pg_sql_text[P_COUNT] = {
    [P_LOCK_KEY] = "SELECT pg_advisory_xact_lock($1::bigint)",
    [P_MSG_FIND] =
        "SELECT m.id, m.alert_outcome, m.alert_id, m.result_json, a.alert_key"
        " FROM messages m LEFT JOIN alerts a ON a.id = m.alert_id"
        " WHERE m.message_id = $1",
    [P_MSG_INSERT] =
        "INSERT INTO messages (message_id, customer_id, conversation_id,"
        " channel, timestamp, lang, text, polarity, subjectivity, level,"
        " level_name, frustrated, alert_outcome, alert_id, result_json,"
        " created_at, source_object, source_display_id, source_type,"
        " rev_org) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
        " $12, $13, $14, $15, $16, $17, $18, $19, $20) RETURNING id",
    [P_ALERT_FIND_OPEN] = "SELECT " ALERT_COLUMNS " FROM alerts"
                          " WHERE customer_id = $1 AND state = 'open'",
    [P_ALERT_INSERT] =
        "INSERT INTO alerts (alert_key, customer_id, conversation_id, level,"
        " level_name, severity, state, created_at, last_activity_at,"
        " message_count, ticket_wanted) VALUES ($1, $2, $3, $4, $5, $6,"
        " 'open', $7, $8, $9, $10) RETURNING id",
    [P_ALERT_UPDATE] =
        "UPDATE alerts SET level = $2, level_name = $3, severity = $4,"
        " state = $5, last_activity_at = $6, message_count = $7,"
        " ticket_wanted = $8 WHERE id = $1",
    [P_OUTBOX_INSERT] =
        "INSERT INTO outbox (alert_id, kind, payload, state, next_attempt_at,"
        " created_at) VALUES ($1, $2, $3, 'pending', $4, $4)",
    [P_WIN_GET] = "SELECT recent FROM customer_state WHERE customer_id = $1",
    /* P_ALERT_INSERT with the alert's id ($11) taken by P_BATCH_START. */
    [P_ALERT_INSERT_ID] =
        "INSERT INTO alerts (alert_key, customer_id, conversation_id, level,"
        " level_name, severity, state, created_at, last_activity_at,"
        " message_count, ticket_wanted, id) VALUES ($1, $2, $3, $4, $5, $6,"
        " 'open', $7, $8, $9, $10, $11)",
    /* A prepared batch's rows, written at once: each parameter is an
     * array holding one column of every row. */
    [P_MSG_ROWS] =
        "INSERT INTO messages (message_id, customer_id, conversation_id,"
        " channel, timestamp, lang, text, polarity, subjectivity, level,"
        " level_name, frustrated, alert_outcome, alert_id, result_json,"
        " created_at, source_object, source_display_id, source_type,"
        " rev_org, id) SELECT * FROM unnest($1::text[], $2::text[],"
        " $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],"
        " $8::float8[], $9::float8[], $10::bigint[], $11::text[],"
        " $12::boolean[], $13::text[], $14::bigint[], $15::text[],"
        " $16::bigint[], $17::text[], $18::text[], $19::text[], $20::text[],"
        " $21::bigint[])",
    /* In the order written: entry ids order deliveries. */
    [P_OUTBOX_ROWS] =
        "INSERT INTO outbox (alert_id, kind, payload, state, next_attempt_at,"
        " created_at) SELECT a, k, p, 'pending', t, t FROM unnest($1::bigint[],"
        " $2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY"
        " AS r(a, k, p, t, o) ORDER BY o",
    /* One row per customer: its last window and how many it replaced. */
    [P_WIN_ROWS] = "INSERT INTO customer_state (customer_id, recent, messages,"
                   " updated_at) SELECT * FROM unnest($1::text[], $2::text[],"
                   " $3::bigint[], $4::bigint[]) ON CONFLICT (customer_id) DO"
                   " UPDATE SET recent = excluded.recent,"
                   " messages = customer_state.messages + excluded.messages,"
                   " updated_at = excluded.updated_at",
    /* The alerts a batch updated, each once (its last state). */
    [P_ALERT_ROWS] =
        "UPDATE alerts a SET level = u.level, level_name = u.level_name,"
        " severity = u.severity, state = u.state,"
        " last_activity_at = u.last_activity_at,"
        " message_count = u.message_count, ticket_wanted = u.ticket_wanted"
        " FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[],"
        " $5::text[], $6::bigint[], $7::bigint[], $8::boolean[])"
        " AS u(id, level, level_name, severity, state, last_activity_at,"
        " message_count, ticket_wanted) WHERE a.id = u.id",
    /* A prepared batch's first statement: its record locks ($1, sorted),
     * then as many message ($2) and alert ($3) ids as it may need. */
    [P_BATCH_START] =
        "SELECT (SELECT count(pg_advisory_xact_lock(k))"
        " FROM unnest($1::bigint[]) AS k),"
        " ARRAY(SELECT nextval(pg_get_serial_sequence('messages', 'id'))"
        " FROM generate_series(1, $2::bigint)),"
        " ARRAY(SELECT nextval(pg_get_serial_sequence('alerts', 'id'))"
        " FROM generate_series(1, $3::bigint))",
    [P_WIN_PUT] =
        "INSERT INTO customer_state (customer_id, recent, messages,"
        " updated_at) VALUES ($1, $2, 1, $3) ON CONFLICT (customer_id) DO"
        " UPDATE SET recent = excluded.recent,"
        " messages = customer_state.messages + 1,"
        " updated_at = excluded.updated_at",
    [P_MSG_GET] = "SELECT " MSG_COLUMNS " FROM messages WHERE message_id = $1",
    /* A message by its row id: the name of one sent without a
     * message_id (store_message_get_row). */
    [P_MSG_GET_ROW] = "SELECT " MSG_COLUMNS " FROM messages WHERE id = $1",
    [P_ALERT_GET] = "SELECT " ALERT_COLUMNS " FROM alerts WHERE id = $1",
    /* The oldest due entry whose alert has no older pending entry in the
     * same lane (see the SQLite backend), skipping rows another instance
     * is claiming right now, and nothing while a delivery pause is in
     * force. An entry still leased to the claiming instance is free for
     * it: its one worker claims only when it holds no entry, so that
     * lease is a leftover (a claim whose answer the broken connection
     * lost, a finish the store refused until the worker gave up). The
     * claim takes a new fencing token. $1 now, $2 lease end, $3 the
     * claiming instance. */
    [P_CLAIM] =
        "WITH c AS (SELECT o.id, o.outcome_unknown AS was_unknown"
        " FROM outbox o JOIN alerts a"
        "   ON a.id = o.alert_id"
        " WHERE o.state = 'pending' AND o.next_attempt_at <= $1"
        " AND (o.lease_until <= $1 OR o.lease_owner = $3)"
        " AND (o.kind = 'create_ticket' OR o.kind IN " SOURCE_KINDS
        "   OR a.ticket_id IS NOT NULL)"
        " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.alert_id = o.alert_id"
        "   AND p.state = 'pending' AND p.id < o.id"
        "   AND (p.kind IN " SOURCE_KINDS ") = (o.kind IN " SOURCE_KINDS "))"
        " AND NOT EXISTS (SELECT 1 FROM delivery_pause WHERE until_ms > $1)"
        " ORDER BY o.id LIMIT 1 FOR UPDATE OF o SKIP LOCKED)"
        " UPDATE outbox u SET attempts = u.attempts + 1, lease_until = $2,"
        " lease_owner = $3, lease_token = nextval('lease_tokens'),"
        " first_attempt_at = COALESCE(u.first_attempt_at, $1),"
        " outcome_unknown = (u.kind IN " LOOKUP_KINDS " OR u.outcome_unknown)"
        " FROM c WHERE u.id = c.id"
        " RETURNING u.id, u.alert_id, u.kind, u.payload, u.attempts,"
        " c.was_unknown, u.created_at, u.first_attempt_at,"
        " u.lease_token,"
        " (SELECT alert_key FROM alerts WHERE id = u.alert_id),"
        " (SELECT ticket_id FROM alerts WHERE id = u.alert_id),"
        " (SELECT ticket_display_id FROM alerts WHERE id = u.alert_id)",
    /* Fenced: only the claim holding token $7 (0: any, for tools) may
     * finish the entry, and only while it is pending. */
    [P_FINISH] =
        "UPDATE outbox SET state = $2, next_attempt_at = $3, lease_until = 0,"
        " lease_owner = NULL, outcome_unknown = $4, last_error = $5,"
        " finished_at = CASE WHEN $2 = 'pending' THEN NULL ELSE $6::bigint END"
        " WHERE id = $1 AND state = 'pending'"
        " AND ($7::bigint = 0 OR lease_token = $7::bigint)"
        " RETURNING kind, alert_id",
    [P_ATTEMPT_INSERT] =
        "INSERT INTO delivery_attempts (outbox_id, at, duration_ms,"
        " http_status, result, ok, error) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    [P_ALERT_TICKET] =
        "UPDATE alerts SET ticket_id = $2, ticket_display_id = $3"
        " WHERE id = $1",
    [P_CASCADE_DEAD] =
        "UPDATE outbox SET state = 'dead', lease_until = 0, finished_at = $3,"
        " last_error = 'the alert has no ticket: ' || $4"
        " WHERE alert_id = $1 AND state = 'pending' AND id <> $2"
        " AND kind IN ('comment', 'update_severity')",
};

/* ---- Migration -------------------------------------------------------- */

enum err pg_migrate(struct store *st, int max_version, char *err, size_t errlen)
{
  int64_t v = 0;
  char sql[128];
  enum err rc = pg_exec(st, "BEGIN", "begin");
  if (rc)
    goto fail;
  PG(st)->in_tx = true;
  /* Instances starting together: one migrates, the others wait here and
   * then find the version current. */
  snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%d, 0)",
           PG_LOCK_CLASS_MIGRATE);
  rc = pg_exec(st, sql, "lock for migration");
  if (!rc)
    rc = pg_exec(st,
                 "CREATE TABLE IF NOT EXISTS schema_version"
                 " (version INTEGER NOT NULL)",
                 "create schema_version");
  int64_t rows = 0;
  if (!rc)
    rc = pg_query_int(st, "SELECT count(*) FROM schema_version", 0, &rows);
  if (!rc && rows == 0)
    rc = pg_exec(st, "INSERT INTO schema_version (version) VALUES (0)",
                 "init schema_version");
  if (!rc)
    rc = pg_query_int(st, "SELECT version FROM schema_version", 0, &v);
  if (rc)
    goto fail;
  if (v > STORE_SCHEMA_VERSION) {
    snprintf(err, errlen,
             "database schema version %d is newer than this build knows (%d):"
             " refusing to use it",
             (int)v, STORE_SCHEMA_VERSION);
    pg_exec(st, "ROLLBACK", "rollback");
    PG(st)->in_tx = false;
    return ERR_UNSUPPORTED;
  }
  for (; v < max_version; v++) {
    rc = pg_exec(st, migrations[v], "migrate");
    if (rc)
      goto fail;
    snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %d",
             (int)v + 1);
    rc = pg_exec(st, sql, "bump schema_version");
    if (rc)
      goto fail;
  }
  rc = pg_exec(st, "COMMIT", "commit");
  PG(st)->in_tx = false;
  if (rc)
    goto fail;
  return ERR_OK;
fail:
  snprintf(err, errlen, "schema migration: %s", st->errmsg);
  if (PG(st)->in_tx)
    pg_exec(st, "ROLLBACK", "rollback");
  PG(st)->in_tx = false;
  return rc ? rc : ERR_STORE;
}
