/* Contract tests of the store API. They run on a fresh SQLite file in a
 * temporary directory, or on STORE_TEST_URL when set (a backend must pass
 * them all; tables are expected empty). */
#include "store/store.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerting/policy.h"
#include "base/buf.h"
#include "base/utf8.h"
#include "harness.h"

static char tmpdir[256];
static int db_seq;

/* A fresh database URL per test. */
static void fresh_url(char *url, size_t cap)
{
  const char *env = getenv("STORE_TEST_URL");
  if (env) {
    snprintf(url, cap, "%s", env);
    return;
  }
  snprintf(url, cap, "%s/t%d/store.db", tmpdir, ++db_seq);
}

static struct store *open_fresh(void)
{
  char url[512], err[256];
  struct store *st = NULL;
  fresh_url(url, sizeof url);
  enum err rc = store_open(url, err, sizeof err, &st);
  if (rc)
    fprintf(stderr, "store_open(%s): %s\n", url, err);
  return st;
}

static const char *const level_names[] = {"calm", "dissatisfied", "frustrated",
                                          "angry"};
static const char *const severities[] = {"low", "medium", "high", "blocker"};

static struct ingest_msg msg(const char *mid, const char *cust, size_t level)
{
  struct ingest_msg m = {0};
  m.message_id = mid;
  m.customer_id = cust;
  m.level = level;
  m.level_name = level_names[level];
  m.severity = severities[level];
  m.frustrated = level >= 2;
  m.polarity = level >= 3 ? -0.8 : level == 2 ? -0.5 : 0.1;
  m.subjectivity = 0.6;
  m.text = "This is terrible, nothing works.";
  m.words = "'terrible'";
  m.result_json = "{\"polarity\":-0.5}";
  return m;
}

static const struct alert_policy POLICY = {.cooldown_ms = 1800000,
                                           .min_level = 2};
#define T0 1700000000000LL

/* Ingests one message and returns its outcome (result cleaned). */
static enum store_alert ingest1(struct store *st, struct ingest_msg m,
                                int64_t now, struct ingest_result *keep)
{
  struct ingest_result r;
  enum err rc = store_ingest(st, &m, 1, &POLICY, now, &r);
  CHECK_INT(rc, ERR_OK);
  if (rc)
    return STORE_ALERT_NONE;
  if (keep)
    *keep = r;
  else
    store_ingest_result_cleanup(&r);
  return r.outcome;
}

static void test_open_urls(void)
{
  char err[256];
  struct store *st = NULL;
  CHECK_INT(store_open("postgres://u@h/db", err, sizeof err, &st),
            ERR_UNSUPPORTED);
  CHECK(strstr(err, "PostgreSQL") != NULL);
  CHECK_INT(store_open("ftp://x/y", err, sizeof err, &st), ERR_UNSUPPORTED);
  CHECK_INT(store_open("sqlite:", err, sizeof err, &st), ERR_INVALID);
  CHECK_INT(store_open("", err, sizeof err, &st), ERR_INVALID);
  char url[512];
  snprintf(url, sizeof url, "sqlite:%s/opts.db?busy_timeout_ms=abc", tmpdir);
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_INVALID);
  CHECK(st == NULL);
  /* Tools that inspect a store do not create one. */
  snprintf(url, sizeof url, "%s/none/x.db", tmpdir);
  CHECK_INT(store_open_existing(url, err, sizeof err, &st), ERR_NOT_FOUND);
  CHECK(strstr(err, "no store at") != NULL);
  CHECK(st == NULL);
  CHECK(access(url, F_OK) != 0);
  /* Nested directories are created; both URL forms open the same file. */
  snprintf(url, sizeof url, "%s/a/b/c/x.db", tmpdir);
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  CHECK_STR(store_backend(st), "sqlite");
  struct ingest_msg m = msg("u1", "c1", 0);
  CHECK_INT(ingest1(st, m, T0, NULL), STORE_ALERT_NONE);
  store_close(st);
  snprintf(url, sizeof url, "sqlite://%s/a/b/c/x.db?synchronous=normal",
           tmpdir);
  st = NULL;
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  struct store_counts c;
  CHECK_INT(store_counts(st, &c), ERR_OK);
  CHECK_INT(c.messages, 1);
  store_close(st);
  st = NULL;
  CHECK_INT(store_open_existing(url, err, sizeof err, &st), ERR_OK);
  store_close(st);
  store_close(NULL);
}

static void test_migrations(void)
{
  char url[512], err[256];
  struct store *st = NULL;
  int v = 0;
  if (getenv("STORE_TEST_URL"))
    return;
  fresh_url(url, sizeof url);
  CHECK_INT(store_migrate_to(url, 1, err, sizeof err), ERR_OK);
  CHECK_INT(store_migrate_to(url, 0, err, sizeof err), ERR_INVALID);
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  if (!st)
    return;
  CHECK_INT(store_schema_version(st, &v), ERR_OK);
  CHECK_INT(v, STORE_SCHEMA_VERSION);
  /* The table added by migration 2 works. */
  struct ingest_msg m = msg("m1", "cust", 2);
  CHECK_INT(ingest1(st, m, T0, NULL), STORE_ALERT_CREATED);
  struct store_score sc[4];
  size_t n = 0;
  CHECK_INT(store_customer_recent(st, "cust", sc, 4, &n), ERR_OK);
  CHECK_INT(n, 1);
  store_close(st);
  /* Opening again changes nothing. */
  st = NULL;
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  CHECK_INT(store_schema_version(st, &v), ERR_OK);
  CHECK_INT(v, STORE_SCHEMA_VERSION);
  store_close(st);
}

static void test_ingest_outcomes(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct ingest_result first, dup;
  /* Not frustrated: none. */
  CHECK_INT(ingest1(st, msg("n1", "alice", 0), T0, NULL), STORE_ALERT_NONE);
  /* Dissatisfied is below the minimum level even if flagged frustrated. */
  struct ingest_msg low = msg("n2", "alice", 1);
  low.frustrated = true;
  CHECK_INT(ingest1(st, low, T0, NULL), STORE_ALERT_NONE);
  /* Frustrated: created. */
  CHECK_INT(ingest1(st, msg("f1", "alice", 2), T0 + 1000, &first),
            STORE_ALERT_CREATED);
  CHECK(first.alert_id > 0);
  CHECK_INT(strlen(first.alert_key), 32);
  CHECK(first.result_json == NULL);
  /* Within the cooldown: appended to the same alert. */
  struct ingest_result app;
  CHECK_INT(ingest1(st, msg("f2", "alice", 2), T0 + 60000, &app),
            STORE_ALERT_APPENDED);
  CHECK_INT(app.alert_id, first.alert_id);
  CHECK_STR(app.alert_key, first.alert_key);
  /* Another customer has their own alert. */
  struct ingest_result bob;
  CHECK_INT(ingest1(st, msg("b1", "bob", 2), T0 + 60000, &bob),
            STORE_ALERT_CREATED);
  CHECK(bob.alert_id != first.alert_id);
  /* Duplicate: the original answer, nothing written. */
  struct ingest_msg again = msg("f1", "alice", 3);
  again.result_json = "{\"different\":true}";
  CHECK_INT(ingest1(st, again, T0 + 70000, &dup), STORE_ALERT_DUPLICATE);
  CHECK_INT(dup.original, STORE_ALERT_CREATED);
  CHECK_INT(dup.alert_id, first.alert_id);
  CHECK_INT(dup.row_id, first.row_id);
  CHECK_STR(dup.alert_key, first.alert_key);
  CHECK_STR(dup.result_json, "{\"polarity\":-0.5}");
  store_ingest_result_cleanup(&dup);
  store_ingest_result_cleanup(&dup); /* idempotent */
  /* A duplicate of a message that raised nothing. */
  CHECK_INT(ingest1(st, msg("n1", "alice", 0), T0 + 70000, &dup),
            STORE_ALERT_DUPLICATE);
  CHECK_INT(dup.original, STORE_ALERT_NONE);
  CHECK_INT(dup.alert_id, 0);
  CHECK_STR(dup.alert_key, "");
  store_ingest_result_cleanup(&dup);
  /* No message_id: never a duplicate. */
  CHECK_INT(ingest1(st, msg(NULL, "carol", 0), T0, NULL), STORE_ALERT_NONE);
  CHECK_INT(ingest1(st, msg(NULL, "carol", 0), T0, NULL), STORE_ALERT_NONE);

  struct store_counts c;
  CHECK_INT(store_counts(st, &c), ERR_OK);
  CHECK_INT(c.messages, 7);
  CHECK_INT(c.alerts, 2);
  CHECK_INT(c.open_alerts, 2);
  CHECK_INT(c.outbox_pending, 3); /* 2 create_ticket + 1 comment */

  struct store_alert_row a;
  CHECK_INT(store_alert_get(st, first.alert_id, &a), ERR_OK);
  CHECK_STR(a.customer_id, "alice");
  CHECK_INT(a.message_count, 2);
  CHECK_INT(a.last_activity_ms, T0 + 60000);
  CHECK_INT(a.created_at_ms, T0 + 1000);
  CHECK(a.open);
  CHECK(a.ticket_id == NULL);
  CHECK_STR(a.severity, "high");
  store_alert_row_cleanup(&a);
  CHECK_INT(store_alert_get(st, 9999, &a), ERR_NOT_FOUND);

  struct store_outbox_row *rows = NULL;
  size_t n = 0;
  CHECK_INT(store_outbox_list(st, first.alert_id, &rows, &n), ERR_OK);
  CHECK_INT(n, 2);
  if (n == 2) {
    CHECK_INT(rows[0].kind, STORE_KIND_CREATE_TICKET);
    CHECK_INT(rows[1].kind, STORE_KIND_COMMENT);
    CHECK_INT(rows[0].state, STORE_PENDING);
    cJSON *p = cJSON_Parse(rows[0].payload);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "customer_id")),
              "alice");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "excerpt")),
              "This is terrible, nothing works.");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "severity")), "high");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "words")),
              "'terrible'");
    CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(p, "polarity")), -0.5,
               0);
    cJSON_Delete(p);
  }
  store_outbox_rows_free(rows, n);

  struct store_message sm;
  bool found = false;
  CHECK_INT(store_message_get(st, "f2", &sm, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(sm.outcome, STORE_ALERT_APPENDED);
  CHECK_INT(sm.alert_id, first.alert_id);
  CHECK_STR(sm.text, "This is terrible, nothing works.");
  CHECK(sm.frustrated);
  store_message_cleanup(&sm);
  CHECK_INT(store_message_get(st, "nope", &sm, &found), ERR_OK);
  CHECK(!found);
  store_ingest_result_cleanup(&first);
  store_close(st);
}

static void test_cooldown_expiry(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct ingest_result a, b, c;
  CHECK_INT(ingest1(st, msg("1", "dave", 2), T0, &a), STORE_ALERT_CREATED);
  /* Exactly at the cooldown: still the same episode. */
  CHECK_INT(ingest1(st, msg("2", "dave", 2), T0 + POLICY.cooldown_ms, &b),
            STORE_ALERT_APPENDED);
  CHECK_INT(b.alert_id, a.alert_id);
  /* Quiet for longer than the cooldown: a new alert, the old one closed. */
  CHECK_INT(
      ingest1(st, msg("3", "dave", 2), T0 + 2 * POLICY.cooldown_ms + 1, &c),
      STORE_ALERT_CREATED);
  CHECK(c.alert_id != a.alert_id);
  CHECK(strcmp(c.alert_key, a.alert_key) != 0);
  struct store_alert_row row;
  CHECK_INT(store_alert_get(st, a.alert_id, &row), ERR_OK);
  CHECK(!row.open);
  store_alert_row_cleanup(&row);
  CHECK_INT(store_alert_get(st, c.alert_id, &row), ERR_OK);
  CHECK(row.open);
  CHECK_INT(row.message_count, 1);
  store_alert_row_cleanup(&row);
  /* Calm messages do not extend the episode. */
  CHECK_INT(ingest1(st, msg("4", "dave", 0), T0 + 3 * POLICY.cooldown_ms, NULL),
            STORE_ALERT_NONE);
  struct store_counts cnt;
  CHECK_INT(store_counts(st, &cnt), ERR_OK);
  CHECK_INT(cnt.alerts, 2);
  CHECK_INT(cnt.open_alerts, 1);
  store_close(st);
}

static void test_severity_raise(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct ingest_result a;
  CHECK_INT(ingest1(st, msg("1", "erin", 2), T0, &a), STORE_ALERT_CREATED);
  CHECK_INT(ingest1(st, msg("2", "erin", 3), T0 + 1, NULL),
            STORE_ALERT_APPENDED);
  /* Lower again: a comment only, the alert stays at the higher level. */
  CHECK_INT(ingest1(st, msg("3", "erin", 2), T0 + 2, NULL),
            STORE_ALERT_APPENDED);
  /* Same high level again: no second raise. */
  CHECK_INT(ingest1(st, msg("4", "erin", 3), T0 + 3, NULL),
            STORE_ALERT_APPENDED);
  struct store_outbox_row *rows = NULL;
  size_t n = 0;
  CHECK_INT(store_outbox_list(st, a.alert_id, &rows, &n), ERR_OK);
  CHECK_INT(n, 5);
  if (n == 5) {
    CHECK_INT(rows[0].kind, STORE_KIND_CREATE_TICKET);
    CHECK_INT(rows[1].kind, STORE_KIND_COMMENT);
    CHECK_INT(rows[2].kind, STORE_KIND_UPDATE_SEVERITY);
    CHECK_INT(rows[3].kind, STORE_KIND_COMMENT);
    CHECK_INT(rows[4].kind, STORE_KIND_COMMENT);
    cJSON *p = cJSON_Parse(rows[2].payload);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "severity")),
              "blocker");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "previous_severity")),
              "high");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "level")), "angry");
    cJSON_Delete(p);
  }
  store_outbox_rows_free(rows, n);
  struct store_alert_row row;
  CHECK_INT(store_alert_get(st, a.alert_id, &row), ERR_OK);
  CHECK_INT(row.level, 3);
  CHECK_STR(row.level_name, "angry");
  CHECK_STR(row.severity, "blocker");
  CHECK_INT(row.message_count, 4);
  store_alert_row_cleanup(&row);

  /* A level rise that keeps the severity queues no update. */
  struct ingest_result b;
  struct ingest_msg m1 = msg("5", "frank", 2);
  CHECK_INT(ingest1(st, m1, T0, &b), STORE_ALERT_CREATED);
  struct ingest_msg m2 = msg("6", "frank", 3);
  m2.severity = "high";
  CHECK_INT(ingest1(st, m2, T0 + 1, NULL), STORE_ALERT_APPENDED);
  CHECK_INT(store_outbox_list(st, b.alert_id, &rows, &n), ERR_OK);
  CHECK_INT(n, 2);
  store_outbox_rows_free(rows, n);
  CHECK_INT(store_alert_get(st, b.alert_id, &row), ERR_OK);
  CHECK_INT(row.level, 3);
  store_alert_row_cleanup(&row);
  store_close(st);
}

static void test_batch_atomicity(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct ingest_msg batch[4] = {msg("a", "gina", 2), msg("b", "gina", 2),
                                msg("a", "gina", 2), msg("c", "hal", 0)};
  struct ingest_result r[4];
  /* One bad message: nothing of the batch is written. */
  batch[3].customer_id = NULL;
  CHECK_INT(store_ingest(st, batch, 4, &POLICY, T0, r), ERR_INVALID);
  struct store_counts c;
  CHECK_INT(store_counts(st, &c), ERR_OK);
  CHECK_INT(c.messages, 0);
  /* A good batch: a duplicate inside the batch is seen. */
  batch[3].customer_id = "hal";
  CHECK_INT(store_ingest(st, batch, 4, &POLICY, T0, r), ERR_OK);
  CHECK_INT(r[0].outcome, STORE_ALERT_CREATED);
  CHECK_INT(r[1].outcome, STORE_ALERT_APPENDED);
  CHECK_INT(r[2].outcome, STORE_ALERT_DUPLICATE);
  CHECK_INT(r[2].original, STORE_ALERT_CREATED);
  CHECK_INT(r[3].outcome, STORE_ALERT_NONE);
  for (int i = 0; i < 4; i++)
    store_ingest_result_cleanup(&r[i]);
  CHECK_INT(store_counts(st, &c), ERR_OK);
  CHECK_INT(c.messages, 3);

  /* Inside a transaction: a refused batch (ERR_INVALID writes nothing)
   * leaves the others; a rollback undoes everything. */
  struct ingest_msg ok1 = msg("t1", "ivy", 2), ok2 = msg("t2", "jon", 2);
  struct ingest_msg bad = msg("t3", NULL, 2);
  CHECK_INT(store_begin(st), ERR_OK);
  CHECK_INT(store_begin(st), ERR_INVALID);
  CHECK_INT(store_ingest(st, &ok1, 1, &POLICY, T0, r), ERR_OK);
  CHECK_INT(store_ingest(st, &bad, 1, &POLICY, T0, r), ERR_INVALID);
  CHECK_INT(store_ingest(st, &ok2, 1, &POLICY, T0, r), ERR_OK);
  CHECK_INT(store_commit(st), ERR_OK);
  CHECK_INT(store_commit(st), ERR_INVALID);
  CHECK_INT(store_counts(st, &c), ERR_OK);
  CHECK_INT(c.messages, 5);
  CHECK_INT(c.alerts, 3);

  struct ingest_msg gone = msg("t4", "kim", 2);
  CHECK_INT(store_begin(st), ERR_OK);
  CHECK_INT(store_ingest(st, &gone, 1, &POLICY, T0, r), ERR_OK);
  store_rollback(st);
  CHECK_INT(store_counts(st, &c), ERR_OK);
  CHECK_INT(c.messages, 5);
  CHECK_INT(c.alerts, 3);
  CHECK_INT(c.outbox_pending, 4);
  /* An open transaction is rolled back by close. */
  CHECK_INT(store_begin(st), ERR_OK);
  CHECK_INT(store_ingest(st, &gone, 1, &POLICY, T0, r), ERR_OK);
  store_close(st);
}

static void finish(struct store *st, int64_t id, enum store_state state,
                   int64_t next, const char *ticket, const char *display,
                   int status, const char *result, const char *error,
                   int64_t now)
{
  /* The worker keeps the unknown mark once set; so does this helper. */
  static int64_t unknown_id;
  bool unknown = (result && !strcmp(result, "unknown")) || unknown_id == id;
  if (unknown)
    unknown_id = id;
  struct store_attempt at = {.at_ms = now,
                             .duration_ms = 12,
                             .http_status = status,
                             .result = result,
                             .error = error};
  struct store_finish f = {.entry_id = id,
                           .state = state,
                           .next_attempt_ms = next,
                           .outcome_unknown = unknown,
                           .error = error,
                           .ticket_id = ticket,
                           .ticket_display_id = display,
                           .attempt = &at};
  CHECK_INT(store_outbox_finish(st, &f, now), ERR_OK);
}

static void test_outbox_claim_order(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct ingest_result a, b;
  CHECK_INT(ingest1(st, msg("1", "lee", 2), T0, &a), STORE_ALERT_CREATED);
  CHECK_INT(ingest1(st, msg("2", "max", 2), T0, &b), STORE_ALERT_CREATED);
  CHECK_INT(ingest1(st, msg("3", "lee", 3), T0, NULL), STORE_ALERT_APPENDED);
  struct store_entry e1, e2, e3;
  bool found = false;
  /* Nothing is due before its time. */
  CHECK_INT(store_outbox_claim(st, T0 - 1, 60000, &e1, &found), ERR_OK);
  CHECK(!found);
  CHECK_INT(store_outbox_claim(st, T0, 60000, &e1, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(e1.kind, STORE_KIND_CREATE_TICKET);
  CHECK_INT(e1.alert_id, a.alert_id);
  CHECK_STR(e1.alert_key, a.alert_key);
  CHECK_INT(e1.attempts, 1);
  CHECK(!e1.outcome_unknown);
  CHECK_INT(e1.first_attempt_ms, T0);
  CHECK(e1.ticket_id == NULL);
  CHECK_INT(store_outbox_claim(st, T0, 60000, &e2, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(e2.alert_id, b.alert_id);
  /* lee's comment waits for lee's ticket. */
  CHECK_INT(store_outbox_claim(st, T0 + 1, 60000, &e3, &found), ERR_OK);
  CHECK(!found);
  finish(st, e1.id, STORE_DONE, 0, "don:ticket/1", "TKT-1", 201, "ok", NULL,
         T0 + 2);
  CHECK_INT(store_outbox_claim(st, T0 + 3, 60000, &e3, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(e3.kind, STORE_KIND_COMMENT);
  CHECK_STR(e3.ticket_id, "don:ticket/1");
  CHECK_STR(e3.ticket_display_id, "TKT-1");
  /* The severity update waits for the comment before it. */
  struct store_entry e4;
  CHECK_INT(store_outbox_claim(st, T0 + 3, 60000, &e4, &found), ERR_OK);
  CHECK(!found);
  finish(st, e3.id, STORE_DONE, 0, NULL, NULL, 201, "ok", NULL, T0 + 4);
  CHECK_INT(store_outbox_claim(st, T0 + 5, 60000, &e4, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(e4.kind, STORE_KIND_UPDATE_SEVERITY);
  CHECK(!e4.outcome_unknown); /* only creates carry the in-flight mark */
  struct store_alert_row row;
  CHECK_INT(store_alert_get(st, a.alert_id, &row), ERR_OK);
  CHECK_STR(row.ticket_id, "don:ticket/1");
  store_alert_row_cleanup(&row);
  store_entry_cleanup(&e1);
  store_entry_cleanup(&e2);
  store_entry_cleanup(&e3);
  store_entry_cleanup(&e4);
  store_entry_cleanup(&e4);
  store_ingest_result_cleanup(&a);
  store_close(st);
}

static void test_outbox_retry_and_dead(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct ingest_result a, b;
  CHECK_INT(ingest1(st, msg("1", "nia", 2), T0, &a), STORE_ALERT_CREATED);
  CHECK_INT(ingest1(st, msg("2", "nia", 2), T0, NULL), STORE_ALERT_APPENDED);
  CHECK_INT(ingest1(st, msg("3", "oto", 2), T0, &b), STORE_ALERT_CREATED);
  struct store_entry e;
  bool found;
  CHECK_INT(store_outbox_claim(st, T0, 60000, &e, &found), ERR_OK);
  CHECK(found);
  int64_t id = e.id;
  store_entry_cleanup(&e);
  /* A lease keeps the entry from a second claim. */
  CHECK_INT(store_outbox_claim(st, T0 + 1, 60000, &e, &found), ERR_OK);
  CHECK(found && e.alert_id == b.alert_id);
  int64_t other = e.id;
  store_entry_cleanup(&e);
  CHECK_INT(store_outbox_claim(st, T0 + 2, 60000, &e, &found), ERR_OK);
  CHECK(!found);
  /* Retry later: a 503, outcome known. */
  finish(st, id, STORE_PENDING, T0 + 5000, NULL, NULL, 503, "retry",
         "503 service_unavailable", T0 + 10);
  CHECK_INT(store_outbox_claim(st, T0 + 4999, 60000, &e, &found), ERR_OK);
  CHECK(!found);
  struct store_outbox_stats s;
  CHECK_INT(store_outbox_stats(st, T0 + 4999, &s), ERR_OK);
  CHECK_INT(s.pending, 3);
  CHECK_INT(s.next_due_ms, T0 + 5000);
  CHECK_INT(s.oldest_pending_ms, T0);
  CHECK_INT(s.attempts, 1);
  CHECK_INT(s.failures, 1);
  CHECK_INT(s.last_success_ms, 0);
  CHECK_STR(s.last_error, "503 service_unavailable");
  CHECK_INT(store_outbox_claim(st, T0 + 5000, 60000, &e, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(e.id, id);
  CHECK_INT(e.attempts, 2);
  CHECK(!e.outcome_unknown);
  CHECK_INT(e.first_attempt_ms, T0);
  store_entry_cleanup(&e);
  /* A timeout: the outcome is unknown from now on. */
  finish(st, id, STORE_PENDING, T0 + 6000, NULL, NULL, 0, "unknown", "timeout",
         T0 + 5100);
  CHECK_INT(store_outbox_claim(st, T0 + 6000, 60000, &e, &found), ERR_OK);
  CHECK(found);
  CHECK(e.outcome_unknown);
  CHECK_INT(e.attempts, 3);
  store_entry_cleanup(&e);
  /* Permanent: dead, and the comment waiting for the ticket dies too. */
  CHECK_INT(store_outbox_record_attempt(
                st, id,
                &(struct store_attempt){.at_ms = T0 + 6001,
                                        .http_status = 200,
                                        .result = "not_found"}),
            ERR_OK);
  finish(st, id, STORE_DEAD, 0, NULL, NULL, 400, "permanent",
         "400 invalid_field: severity", T0 + 6002);
  struct store_outbox_row *rows = NULL;
  size_t n = 0;
  CHECK_INT(store_outbox_list(st, a.alert_id, &rows, &n), ERR_OK);
  CHECK_INT(n, 2);
  if (n == 2) {
    CHECK_INT(rows[0].state, STORE_DEAD);
    CHECK_STR(rows[0].last_error, "400 invalid_field: severity");
    CHECK_INT(rows[0].attempts, 3);
    CHECK(rows[0].outcome_unknown);
    CHECK_INT(rows[1].state, STORE_DEAD);
    CHECK(strstr(rows[1].last_error, "400 invalid_field") != NULL);
  }
  store_outbox_rows_free(rows, n);
  finish(st, other, STORE_DONE, 0, "don:t/2", "TKT-2", 201, "ok", NULL,
         T0 + 7000);
  CHECK_INT(store_outbox_stats(st, T0 + 7000, &s), ERR_OK);
  CHECK_INT(s.pending, 0);
  CHECK_INT(s.dead, 2);
  CHECK_INT(s.next_due_ms, 0);
  CHECK_INT(s.oldest_pending_ms, 0);
  CHECK_INT(s.attempts, 5);
  CHECK_INT(s.failures, 3);
  CHECK_INT(s.last_success_ms, T0 + 7000);
  CHECK_STR(s.last_error, "400 invalid_field: severity");
  struct store_finish none = {.entry_id = 424242, .state = STORE_DONE};
  CHECK_INT(store_outbox_finish(st, &none, T0), ERR_NOT_FOUND);
  store_close(st);
}

/* An operator re-drives and drops dead letters (the outbox command): a
 * retried create_ticket brings back the comment that died with it, keeps
 * its unknown mark and starts its attempt count anew; ids that are not
 * dead letters change nothing. */
static void test_outbox_redrive(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct ingest_result a, b;
  CHECK_INT(ingest1(st, msg("1", "ria", 2), T0, &a), STORE_ALERT_CREATED);
  CHECK_INT(ingest1(st, msg("2", "ria", 2), T0, NULL), STORE_ALERT_APPENDED);
  CHECK_INT(ingest1(st, msg("3", "sol", 2), T0, &b), STORE_ALERT_CREATED);
  struct store_entry e;
  bool found;
  int64_t ids[2] = {0, 0};
  for (int i = 0; i < 2; i++) {
    CHECK_INT(store_outbox_claim(st, T0, 60000, &e, &found), ERR_OK);
    CHECK(found);
    ids[i] = e.id;
    store_entry_cleanup(&e);
  }
  finish(st, ids[0], STORE_DEAD, 0, NULL, NULL, 400, "permanent",
         "HTTP 400 bad_request", T0 + 10);
  finish(st, ids[1], STORE_DEAD, 0, NULL, NULL, 400, "permanent",
         "HTTP 400 bad_request", T0 + 11);
  struct store_outbox_row *rows = NULL;
  size_t n = 0;
  CHECK_INT(store_outbox_select(st, STORE_DEAD, false, 0, &rows, &n), ERR_OK);
  CHECK_INT(n, 3); /* two create_tickets and the comment */
  store_outbox_rows_free(rows, n);
  CHECK_INT(store_outbox_select(st, STORE_DEAD, false, 1, &rows, &n), ERR_OK);
  CHECK_INT(n, 1);
  store_outbox_rows_free(rows, n);
  CHECK_INT(store_outbox_select(st, STORE_PENDING, true, 0, &rows, &n), ERR_OK);
  CHECK_INT(n, 3);
  store_outbox_rows_free(rows, n);
  size_t changed = 9;
  CHECK_INT(store_outbox_retry(st, 424242, T0 + 20, &changed), ERR_NOT_FOUND);
  CHECK_INT(changed, 0);
  CHECK(strstr(store_errmsg(st), "does not exist") != NULL);
  CHECK_INT(store_outbox_retry(st, ids[0], T0 + 20, &changed), ERR_OK);
  CHECK_INT(changed, 2);
  CHECK_INT(store_outbox_list(st, a.alert_id, &rows, &n), ERR_OK);
  CHECK_INT(n, 2);
  for (size_t i = 0; i < n; i++) {
    CHECK_INT(rows[i].state, STORE_PENDING);
    CHECK_INT(rows[i].attempts, 0);
    CHECK_INT(rows[i].next_attempt_ms, T0 + 20);
  }
  store_outbox_rows_free(rows, n);
  /* Pending now: neither retried nor dropped again. */
  CHECK_INT(store_outbox_drop(st, ids[0], T0 + 21, &changed), ERR_NOT_FOUND);
  CHECK(strstr(store_errmsg(st), "is pending, not a dead letter") != NULL);
  CHECK_INT(store_outbox_claim(st, T0 + 20, 60000, &e, &found), ERR_OK);
  CHECK(found && e.id == ids[0]);
  CHECK_INT(e.attempts, 1);
  store_entry_cleanup(&e);
  /* The other dead letter is dropped: skipped, with the reason. */
  CHECK_INT(store_outbox_drop(st, 0, T0 + 30, &changed), ERR_OK);
  CHECK_INT(changed, 1);
  CHECK_INT(store_outbox_list(st, b.alert_id, &rows, &n), ERR_OK);
  CHECK_INT(n, 1);
  if (n == 1) {
    CHECK_INT(rows[0].state, STORE_SKIPPED);
    CHECK_STR(rows[0].last_error,
              "dropped by an operator (HTTP 400 bad_request)");
  }
  store_outbox_rows_free(rows, n);
  /* Inside a transaction, a miss leaves it usable. */
  CHECK_INT(store_begin(st), ERR_OK);
  CHECK_INT(store_outbox_retry(st, ids[1], T0 + 40, &changed), ERR_NOT_FOUND);
  CHECK_INT(store_commit(st), ERR_OK);
  CHECK_INT(store_outbox_retry(st, -1, T0, &changed), ERR_INVALID);
  store_close(st);
}

/* One serving instance per store: a second handle that wants to own it is
 * refused, naming the owner's pid; closing the owner frees it. */
static void test_ownership(void)
{
  char url[512], err[256];
  if (getenv("STORE_TEST_URL"))
    return;
  fresh_url(url, sizeof url);
  struct store *a = NULL, *b = NULL, *m = NULL;
  CHECK_INT(store_open(url, err, sizeof err, &a), ERR_OK);
  CHECK_INT(store_open(url, err, sizeof err, &b), ERR_OK);
  if (!a || !b) {
    store_close(a);
    store_close(b);
    return;
  }
  long pid = -1;
  CHECK_INT(store_owner(b, &pid), ERR_OK);
  CHECK_INT(pid, 0);
  CHECK_INT(store_own(a, &pid), ERR_OK);
  CHECK_INT(store_own(a, &pid), ERR_OK); /* again: still the owner */
  CHECK_INT(store_own(b, &pid), ERR_BUSY);
  CHECK_INT(pid, (long)getpid());
  char want[64];
  snprintf(want, sizeof want, "(pid %ld)", (long)getpid());
  CHECK(strstr(store_errmsg(b), want) != NULL);
  CHECK(strstr(store_errmsg(b), "in use") != NULL);
  CHECK_INT(store_owner(b, &pid), ERR_OK);
  CHECK_INT(pid, (long)getpid());
  /* The non-owner writes as before. */
  CHECK_INT(ingest1(b, msg("1", "uma", 2), T0, NULL), STORE_ALERT_CREATED);
  store_close(a);
  CHECK_INT(store_owner(b, &pid), ERR_OK);
  CHECK_INT(pid, 0);
  CHECK_INT(store_own(b, &pid), ERR_OK);
  store_close(b);
  /* An in-memory database has no one to share it with. */
  CHECK_INT(store_open(":memory:", err, sizeof err, &m), ERR_OK);
  if (m) {
    CHECK_INT(store_own(m, &pid), ERR_OK);
    store_close(m);
  }
}

/* A crash between claim and finish: the reopened store releases the lease
 * and the create_ticket is marked unknown, so the worker looks it up. */
static void test_outbox_crash_recovery(void)
{
  char url[512], err[256];
  if (getenv("STORE_TEST_URL"))
    return;
  fresh_url(url, sizeof url);
  struct store *st = NULL;
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  if (!st)
    return;
  CHECK_INT(ingest1(st, msg("1", "pat", 2), T0, NULL), STORE_ALERT_CREATED);
  CHECK_INT(ingest1(st, msg("2", "pat", 2), T0, NULL), STORE_ALERT_APPENDED);
  struct store_entry e;
  bool found;
  CHECK_INT(store_outbox_claim(st, T0, 600000, &e, &found), ERR_OK);
  CHECK(found && !e.outcome_unknown);
  store_entry_cleanup(&e);
  store_close(st); /* "crash" */
  st = NULL;
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  size_t released = 0;
  CHECK_INT(store_outbox_claim(st, T0 + 1000, 600000, &e, &found), ERR_OK);
  CHECK(!found);
  CHECK_INT(store_outbox_recover(st, &released), ERR_OK);
  CHECK_INT(released, 1);
  CHECK_INT(store_outbox_claim(st, T0 + 1000, 600000, &e, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(e.kind, STORE_KIND_CREATE_TICKET);
  CHECK(e.outcome_unknown);
  CHECK_INT(e.attempts, 2);
  CHECK_INT(e.first_attempt_ms, T0);
  store_entry_cleanup(&e);
  /* Record-only: everything pending is skipped. */
  size_t skipped = 0;
  CHECK_INT(store_outbox_skip_pending(st, "record-only", T0 + 2000, &skipped),
            ERR_OK);
  CHECK_INT(skipped, 2);
  struct store_counts c;
  CHECK_INT(store_counts(st, &c), ERR_OK);
  CHECK_INT(c.outbox_pending, 0);
  CHECK_INT(c.outbox_skipped, 2);
  store_close(st);
}

static void test_purge_text(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct ingest_result a;
  CHECK_INT(ingest1(st, msg("old1", "quinn", 2), T0, &a), STORE_ALERT_CREATED);
  CHECK_INT(ingest1(st, msg("old2", "quinn", 0), T0 + 1, NULL),
            STORE_ALERT_NONE);
  CHECK_INT(ingest1(st, msg("new", "quinn", 0), T0 + 100000, NULL),
            STORE_ALERT_NONE);
  struct store_entry e;
  bool found;
  CHECK_INT(store_outbox_claim(st, T0, 1000, &e, &found), ERR_OK);
  finish(st, e.id, STORE_DONE, 0, "don:t/9", "TKT-9", 201, "ok", NULL, T0 + 5);
  store_entry_cleanup(&e);
  size_t purged = 0;
  CHECK_INT(store_purge_text(st, T0 + 50000, 1, &purged), ERR_OK);
  CHECK_INT(purged, 1);
  CHECK_INT(store_purge_text(st, T0 + 50000, 0, &purged), ERR_OK);
  CHECK_INT(purged, 1);
  CHECK_INT(store_purge_text(st, T0 + 50000, 0, &purged), ERR_OK);
  CHECK_INT(purged, 0);
  struct store_message m;
  CHECK_INT(store_message_get(st, "old1", &m, &found), ERR_OK);
  CHECK(found && m.text == NULL);
  CHECK_NEAR(m.polarity, -0.5, 0); /* scores stay */
  store_message_cleanup(&m);
  CHECK_INT(store_message_get(st, "new", &m, &found), ERR_OK);
  CHECK_STR(m.text, "This is terrible, nothing works.");
  store_message_cleanup(&m);
  struct store_outbox_row *rows = NULL;
  size_t n = 0;
  CHECK_INT(store_outbox_list(st, a.alert_id, &rows, &n), ERR_OK);
  CHECK_INT(n, 1);
  if (n == 1) {
    CHECK(strstr(rows[0].payload, "excerpt") == NULL);
    CHECK(strstr(rows[0].payload, "quinn") != NULL);
  }
  store_outbox_rows_free(rows, n);
  store_close(st);
}

static void test_excerpt_and_window(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  /* 400 two-byte characters: cut on a character boundary. */
  char text[801];
  for (int i = 0; i < 400; i++)
    memcpy(text + 2 * i, "\xc3\xa9", 2);
  text[800] = '\0';
  struct ingest_msg m = msg("x", "rae", 2);
  m.text = text;
  struct ingest_result r;
  CHECK_INT(ingest1(st, m, T0, &r), STORE_ALERT_CREATED);
  struct store_outbox_row *rows = NULL;
  size_t n = 0;
  CHECK_INT(store_outbox_list(st, r.alert_id, &rows, &n), ERR_OK);
  if (n == 1) {
    cJSON *p = cJSON_Parse(rows[0].payload);
    const char *ex = cJSON_GetStringValue(cJSON_GetObjectItem(p, "excerpt"));
    CHECK(ex != NULL);
    if (ex) {
      CHECK(strlen(ex) <= STORE_EXCERPT_MAX + 3);
      CHECK(utf8_is_valid(ex, strlen(ex)));
      CHECK(strstr(ex, "\xe2\x80\xa6") != NULL);
    }
    cJSON_Delete(p);
  }
  store_outbox_rows_free(rows, n);
  /* The window keeps the newest STORE_WINDOW_MAX scores, oldest first. */
  for (int i = 0; i < 25; i++) {
    struct ingest_msg w = msg(NULL, "sam", (size_t)(i % 2));
    w.polarity = i / 100.0;
    CHECK_INT(ingest1(st, w, T0 + i, NULL), STORE_ALERT_NONE);
  }
  struct store_score sc[32];
  CHECK_INT(store_customer_recent(st, "sam", sc, 32, &n), ERR_OK);
  CHECK_INT(n, STORE_WINDOW_MAX);
  CHECK_INT(sc[0].at_ms, T0 + 5);
  CHECK_NEAR(sc[0].polarity, 0.05, 1e-12);
  CHECK_INT(sc[0].level, 1);
  CHECK_INT(sc[n - 1].at_ms, T0 + 24);
  CHECK_INT(store_customer_recent(st, "sam", sc, 3, &n), ERR_OK);
  CHECK_INT(n, 3);
  CHECK_INT(store_customer_recent(st, "nobody", sc, 3, &n), ERR_OK);
  CHECK_INT(n, 0);
  store_close(st);
}

/* ---- Conversation context: scripted conversations --------------------- */

#define MIN_MS 60000LL

/* POLICY with escalation on and the service's defaults: a 10-minute
 * window, 3 negative messages, 3 contacts, a drop of 0.5. */
static struct alert_policy ctx_policy(void)
{
  struct alert_policy p = POLICY;
  p.escalation = true;
  p.window_ms = 10 * MIN_MS;
  p.negative_count = 3;
  p.repeat_count = 3;
  p.drop = 0.5;
  p.n_levels = 4;
  for (size_t i = 0; i < 4; i++) {
    snprintf(p.level_names[i], sizeof p.level_names[i], "%s", level_names[i]);
    snprintf(p.severities[i], sizeof p.severities[i], "%s", severities[i]);
  }
  return p;
}

/* A mild message: level 1 (dissatisfied), not frustrated on its own. */
static struct ingest_msg mild(const char *mid, const char *cust)
{
  struct ingest_msg m = msg(mid, cust, 1);
  m.polarity = -0.2;
  m.text = "Still waiting for an answer.";
  return m;
}

/* Ingests m under pol into *r (the caller cleans it). */
static enum store_alert ingest_ctx(struct store *st, const struct ingest_msg *m,
                                   const struct alert_policy *pol, int64_t now,
                                   struct ingest_result *r)
{
  enum err rc = store_ingest(st, m, 1, pol, now, r);
  CHECK_INT(rc, ERR_OK);
  return rc ? STORE_ALERT_NONE : r->outcome;
}

static void test_escalate_negative_count(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct alert_policy pol = ctx_policy();
  struct ingest_result r;
  struct ingest_msg m = mild("n1", "nina");
  CHECK_INT(ingest_ctx(st, &m, &pol, T0, &r), STORE_ALERT_NONE);
  CHECK_STR(r.escalation, "");
  CHECK_INT(r.level, 1);
  store_ingest_result_cleanup(&r);
  m = mild("n2", "nina");
  CHECK_INT(ingest_ctx(st, &m, &pol, T0 + 2 * MIN_MS, &r), STORE_ALERT_NONE);
  CHECK_STR(r.escalation, "");
  store_ingest_result_cleanup(&r);
  /* The third within ten minutes: raised to ALERT_MIN_LEVEL, alerting. */
  m = mild("n3", "nina");
  CHECK_INT(ingest_ctx(st, &m, &pol, T0 + 4 * MIN_MS, &r),
            STORE_ALERT_CREATED);
  CHECK_INT(r.level, 2);
  CHECK_STR(r.level_name, "frustrated");
  CHECK(strstr(r.escalation, "3 negative messages within 600 s") != NULL);
  struct store_alert_row a;
  CHECK_INT(store_alert_get(st, r.alert_id, &a), ERR_OK);
  CHECK_INT(a.level, 2);
  CHECK_STR(a.severity, "high");
  store_alert_row_cleanup(&a);
  store_ingest_result_cleanup(&r);
  /* The row keeps the detector's level; the stored answer tells why. */
  struct store_message sm;
  bool found = false;
  CHECK_INT(store_message_get(st, "n3", &sm, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(sm.level, 1);
  CHECK(sm.result_json && strstr(sm.result_json, "\"escalated\":{\"level\":"
                                                 "\"frustrated\",\"reason\":"));
  store_message_cleanup(&sm);
  /* A duplicate replays it and escalates nothing again. */
  CHECK_INT(ingest_ctx(st, &m, &pol, T0 + 5 * MIN_MS, &r),
            STORE_ALERT_DUPLICATE);
  CHECK_INT(r.original, STORE_ALERT_CREATED);
  CHECK(r.result_json && strstr(r.result_json, "\"escalated\"") != NULL);
  store_ingest_result_cleanup(&r);
  /* A fourth joins the open alert. */
  m = mild("n4", "nina");
  CHECK_INT(ingest_ctx(st, &m, &pol, T0 + 6 * MIN_MS, &r),
            STORE_ALERT_APPENDED);
  store_ingest_result_cleanup(&r);
  /* In one batch (one transaction) the window sees the earlier messages. */
  struct ingest_msg batch[3] = {mild("b1", "bob"), mild("b2", "bob"),
                                mild("b3", "bob")};
  struct ingest_result rs[3];
  CHECK_INT(store_ingest(st, batch, 3, &pol, T0, rs), ERR_OK);
  CHECK_INT(rs[0].outcome, STORE_ALERT_NONE);
  CHECK_INT(rs[1].outcome, STORE_ALERT_NONE);
  CHECK_INT(rs[2].outcome, STORE_ALERT_CREATED);
  CHECK_INT(rs[2].level, 2);
  for (size_t i = 0; i < 3; i++)
    store_ingest_result_cleanup(&rs[i]);
  store_close(st);
}

static void test_escalate_outside_window(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct alert_policy pol = ctx_policy();
  struct ingest_result r;
  /* The same three mild messages, eleven minutes apart: never three
   * within the window. */
  const char *ids[] = {"s1", "s2", "s3", "s4"};
  for (int i = 0; i < 4; i++) {
    struct ingest_msg m = mild(ids[i], "sol");
    CHECK_INT(ingest_ctx(st, &m, &pol, T0 + i * 11 * MIN_MS, &r),
              STORE_ALERT_NONE);
    CHECK_STR(r.escalation, "");
    CHECK_INT(r.level, 1);
    store_ingest_result_cleanup(&r);
  }
  /* Calm messages do not count, nor does a calm one escalate. */
  struct ingest_msg c1 = mild("c1", "cal"), c2 = msg("c2", "cal", 0),
                    c3 = mild("c3", "cal"), c4 = msg("c4", "cal", 0);
  c2.polarity = c4.polarity = -0.05;
  CHECK_INT(ingest_ctx(st, &c1, &pol, T0, &r), STORE_ALERT_NONE);
  store_ingest_result_cleanup(&r);
  CHECK_INT(ingest_ctx(st, &c2, &pol, T0 + 1, &r), STORE_ALERT_NONE);
  store_ingest_result_cleanup(&r);
  CHECK_INT(ingest_ctx(st, &c3, &pol, T0 + 2, &r), STORE_ALERT_NONE);
  store_ingest_result_cleanup(&r);
  CHECK_INT(ingest_ctx(st, &c4, &pol, T0 + 3, &r), STORE_ALERT_NONE);
  CHECK_STR(r.escalation, "");
  store_ingest_result_cleanup(&r);
  store_close(st);
}

static void test_escalate_trend(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct alert_policy pol = ctx_policy();
  struct ingest_result r;
  /* Happy, happy, then a sharp drop to a mild complaint: one level up. */
  struct ingest_msg h1 = msg("t1", "tia", 0), h2 = msg("t2", "tia", 0);
  h1.polarity = 0.6;
  h2.polarity = 0.5;
  CHECK_INT(ingest_ctx(st, &h1, &pol, T0, &r), STORE_ALERT_NONE);
  store_ingest_result_cleanup(&r);
  CHECK_INT(ingest_ctx(st, &h2, &pol, T0 + MIN_MS, &r), STORE_ALERT_NONE);
  store_ingest_result_cleanup(&r);
  struct ingest_msg d = mild("t3", "tia");
  CHECK_INT(ingest_ctx(st, &d, &pol, T0 + 2 * MIN_MS, &r),
            STORE_ALERT_CREATED);
  CHECK_INT(r.level, 2);
  CHECK(strstr(r.escalation, "polarity dropped 0.75") != NULL);
  store_ingest_result_cleanup(&r);
  /* Calm, then frustrated: two steps above the mean, raised to angry. */
  struct ingest_msg k1 = msg("k1", "kai", 0), k2 = msg("k2", "kai", 2);
  k2.polarity = k1.polarity; /* the level alone rose */
  CHECK_INT(ingest_ctx(st, &k1, &pol, T0, &r), STORE_ALERT_NONE);
  store_ingest_result_cleanup(&r);
  CHECK_INT(ingest_ctx(st, &k2, &pol, T0 + MIN_MS, &r), STORE_ALERT_CREATED);
  CHECK_INT(r.level, 3);
  CHECK_STR(r.level_name, "angry");
  CHECK(strstr(r.escalation, "level rose 2.0") != NULL);
  struct store_alert_row a;
  CHECK_INT(store_alert_get(st, r.alert_id, &a), ERR_OK);
  CHECK_STR(a.severity, "blocker");
  CHECK_STR(a.level_name, "angry");
  store_alert_row_cleanup(&a);
  store_ingest_result_cleanup(&r);
  /* At the top already: nothing to raise. */
  struct ingest_msg l1 = msg("l1", "lou", 0), l2 = msg("l2", "lou", 3);
  CHECK_INT(ingest_ctx(st, &l1, &pol, T0, &r), STORE_ALERT_NONE);
  store_ingest_result_cleanup(&r);
  CHECK_INT(ingest_ctx(st, &l2, &pol, T0 + 1, &r), STORE_ALERT_CREATED);
  CHECK_INT(r.level, 3);
  CHECK_STR(r.escalation, "");
  store_ingest_result_cleanup(&r);
  store_close(st);
}

static void test_escalate_repeat_contact(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct alert_policy pol = ctx_policy();
  struct ingest_result r;
  /* Three slightly negative (calm) messages about one conversation. */
  const char *ids[] = {"r1", "r2", "r3"};
  for (int i = 0; i < 3; i++) {
    struct ingest_msg m = msg(ids[i], "ray", 0);
    m.polarity = -0.05;
    m.conversation_id = "conv-9";
    CHECK_INT(ingest_ctx(st, &m, &pol, T0 + i * MIN_MS, &r),
              i < 2 ? STORE_ALERT_NONE : STORE_ALERT_CREATED);
    if (i == 2) {
      CHECK_INT(r.level, 2);
      CHECK(strstr(r.escalation, "3 messages about the same conversation") !=
            NULL);
    }
    store_ingest_result_cleanup(&r);
  }
  /* Spread over two conversations: no repeat. */
  const char *convs[] = {"a", "b", "a"};
  const char *ids2[] = {"q1", "q2", "q3"};
  for (int i = 0; i < 3; i++) {
    struct ingest_msg m = msg(ids2[i], "quin", 0);
    m.polarity = -0.05;
    m.conversation_id = convs[i];
    CHECK_INT(ingest_ctx(st, &m, &pol, T0 + i * MIN_MS, &r), STORE_ALERT_NONE);
    CHECK_STR(r.escalation, "");
    store_ingest_result_cleanup(&r);
  }
  /* While an alert is open, even neutral follow-ups on the conversation
   * count. */
  struct ingest_msg f = msg("o1", "oli", 2);
  f.conversation_id = "conv-7";
  CHECK_INT(ingest_ctx(st, &f, &pol, T0, &r), STORE_ALERT_CREATED);
  store_ingest_result_cleanup(&r);
  const char *ids3[] = {"o2", "o3"};
  for (int i = 0; i < 2; i++) {
    struct ingest_msg m = msg(ids3[i], "oli", 0);
    m.polarity = 0.0;
    m.conversation_id = "conv-7";
    CHECK_INT(ingest_ctx(st, &m, &pol, T0 + (i + 1) * MIN_MS, &r),
              i == 0 ? STORE_ALERT_NONE : STORE_ALERT_APPENDED);
    if (i == 1)
      CHECK(strstr(r.escalation, "with an alert open") != NULL);
    store_ingest_result_cleanup(&r);
  }
  store_close(st);
}

static void test_escalation_off(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct alert_policy pol = ctx_policy();
  pol.escalation = false;
  struct ingest_result r;
  const char *ids[] = {"f1", "f2", "f3", "f4"};
  for (int i = 0; i < 4; i++) {
    struct ingest_msg m = mild(ids[i], "fay");
    m.conversation_id = "conv-1";
    CHECK_INT(ingest_ctx(st, &m, &pol, T0 + i * MIN_MS, &r), STORE_ALERT_NONE);
    CHECK_INT(r.level, 1);
    CHECK_STR(r.escalation, "");
    store_ingest_result_cleanup(&r);
  }
  /* The window still records them: turning it on later has the context. */
  struct store_score sc[8];
  size_t n = 0;
  CHECK_INT(store_customer_recent(st, "fay", sc, 8, &n), ERR_OK);
  CHECK_INT(n, 4);
  store_close(st);
}

/* Two handles on one file (the committer's and the worker's). */
static void test_two_handles(void)
{
  char url[512], err[256];
  if (getenv("STORE_TEST_URL"))
    return;
  fresh_url(url, sizeof url);
  struct store *w = NULL, *r = NULL;
  CHECK_INT(store_open(url, err, sizeof err, &w), ERR_OK);
  snprintf(url + strlen(url), sizeof url - strlen(url), "%s", "");
  char url2[600];
  snprintf(url2, sizeof url2, "sqlite:%s?busy_timeout_ms=50", url);
  CHECK_INT(store_open(url2, err, sizeof err, &r), ERR_OK);
  if (!w || !r) {
    store_close(w);
    store_close(r);
    return;
  }
  CHECK_INT(ingest1(w, msg("1", "tom", 2), T0, NULL), STORE_ALERT_CREATED);
  /* While w holds the write lock, r's write fails after its timeout. */
  CHECK_INT(store_begin(w), ERR_OK);
  struct store_entry e;
  bool found;
  CHECK_INT(store_outbox_claim(r, T0, 1000, &e, &found), ERR_STORE);
  CHECK(strstr(store_errmsg(r), "locked") != NULL);
  /* Reads still work (WAL). */
  struct store_counts c;
  CHECK_INT(store_counts(r, &c), ERR_OK);
  CHECK_INT(c.messages, 1);
  store_rollback(w);
  CHECK_INT(store_outbox_claim(r, T0, 1000, &e, &found), ERR_OK);
  CHECK(found);
  store_entry_cleanup(&e);
  store_close(w);
  store_close(r);
}


/* ---- Messages from DevRev events ---------------------------------------- */

static struct alert_policy source_policy(void)
{
  struct alert_policy p = POLICY;
  p.n_levels = 4;
  for (size_t i = 0; i < 4; i++) {
    snprintf(p.level_names[i], sizeof p.level_names[i], "%s", level_names[i]);
    snprintf(p.severities[i], sizeof p.severities[i], "%s", severities[i]);
    p.sentiments[i] = i >= 2 ? 5 : 3;
  }
  p.source_comment = true;
  p.source_severity = true;
  p.source_sentiment = true;
  return p;
}

static struct ingest_msg source_msg(const char *mid, const char *cust,
                                    size_t level, const char *type)
{
  struct ingest_msg m = msg(mid, cust, level);
  m.source_object = "don:core:dvrv-us-1:devo/0:ticket/12";
  m.source_display_id = "TKT-12";
  m.source_type = type;
  m.rev_org = "don:identity:dvrv-us-1:devo/0:revo/7";
  return m;
}

/* Claims every due entry (finishing each as done, with a ticket for a
 * create) and writes their kinds, in claim order, as "k1,k2,..." into
 * out; payloads are appended to payloads when not NULL. */
static void drain(struct store *st, int64_t now, char *out, size_t cap,
                  struct buf *payloads)
{
  out[0] = '\0';
  for (int i = 0; i < 20; i++) {
    struct store_entry e;
    bool found = false;
    CHECK_INT(store_outbox_claim(st, now, 60000, &e, &found), ERR_OK);
    if (!found)
      break;
    size_t len = strlen(out);
    snprintf(out + len, cap - len, "%s%s", len ? "," : "",
             store_kind_name(e.kind));
    if (payloads) {
      CHECK_INT(buf_puts(payloads, e.payload), ERR_OK);
      CHECK_INT(buf_putc(payloads, '\n'), ERR_OK);
    }
    bool create = e.kind == STORE_KIND_CREATE_TICKET;
    finish(st, e.id, STORE_DONE, 0, create ? "don:ticket/99" : NULL,
           create ? "TKT-99" : NULL, 201, "ok", NULL, now);
    store_entry_cleanup(&e);
  }
}

static void test_source_alerts(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct alert_policy pol = source_policy();
  struct ingest_msg m = source_msg("ev1", "revu/1", 2, "ticket");
  struct ingest_result r;
  CHECK_INT(store_ingest(st, &m, 1, &pol, T0, &r), ERR_OK);
  CHECK_INT(r.outcome, STORE_ALERT_CREATED);
  struct store_alert_row a;
  CHECK_INT(store_alert_get(st, r.alert_id, &a), ERR_OK);
  CHECK(!a.ticket_wanted); /* DEVREV_SOURCE_TICKET is off */
  store_alert_row_cleanup(&a);
  /* The message keeps where it came from. */
  struct store_message sm;
  bool found = false;
  CHECK_INT(store_message_get(st, "ev1", &sm, &found), ERR_OK);
  CHECK(found);
  CHECK_STR(sm.source_object, "don:core:dvrv-us-1:devo/0:ticket/12");
  CHECK_STR(sm.source_display_id, "TKT-12");
  CHECK_STR(sm.source_type, "ticket");
  CHECK_STR(sm.rev_org, "don:identity:dvrv-us-1:devo/0:revo/7");
  store_message_cleanup(&sm);
  /* No ticket: a comment on the source and its ticket fields, due at
   * once. */
  char kinds[256];
  struct buf pay;
  buf_init(&pay, 0);
  drain(st, T0, kinds, sizeof kinds, &pay);
  CHECK_STR(kinds, "source_comment,update_source");
  cJSON *first = cJSON_Parse(buf_ptr(&pay));
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(first, "source_object")),
            "don:core:dvrv-us-1:devo/0:ticket/12");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(first, "excerpt")),
            "This is terrible, nothing works.");
  cJSON_Delete(first);
  const char *second = strchr(buf_ptr(&pay), '\n') + 1;
  cJSON *upd = cJSON_Parse(second);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(upd, "severity")),
            "high");
  CHECK_INT((int)cJSON_GetNumberValue(cJSON_GetObjectItem(upd, "sentiment")),
            5);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(upd, "source_display_id")),
            "TKT-12");
  cJSON_Delete(upd);
  buf_reset(&pay);

  /* A message without a source joins the episode: the alert now gets
   * its ticket, at the episode's level. */
  struct ingest_msg plain = msg("p1", "revu/1", 2);
  store_ingest_result_cleanup(&r);
  CHECK_INT(store_ingest(st, &plain, 1, &pol, T0 + 1000, &r), ERR_OK);
  CHECK_INT(r.outcome, STORE_ALERT_APPENDED);
  CHECK_INT(store_alert_get(st, r.alert_id, &a), ERR_OK);
  CHECK(a.ticket_wanted);
  store_alert_row_cleanup(&a);
  drain(st, T0 + 1000, kinds, sizeof kinds, NULL);
  CHECK_STR(kinds, "create_ticket");

  /* An angrier DevRev message from a conversation: the ticket hears of
   * it (comment, severity), the conversation gets its comment, and no
   * works.update goes to a conversation. */
  struct ingest_msg conv = source_msg("ev2", "revu/1", 3, "conversation");
  conv.source_object = "don:core:dvrv-us-1:devo/0:conversation/5";
  store_ingest_result_cleanup(&r);
  CHECK_INT(store_ingest(st, &conv, 1, &pol, T0 + 2000, &r), ERR_OK);
  CHECK_INT(r.outcome, STORE_ALERT_APPENDED);
  drain(st, T0 + 2000, kinds, sizeof kinds, NULL);
  CHECK_STR(kinds, "comment,update_severity,source_comment");

  /* Comments on the source only when configured; severity only, no
   * sentiment. */
  pol.source_comment = false;
  pol.source_sentiment = false;
  struct ingest_msg t2 = source_msg("ev3", "revu/1", 2, "ticket");
  store_ingest_result_cleanup(&r);
  CHECK_INT(store_ingest(st, &t2, 1, &pol, T0 + 3000, &r), ERR_OK);
  drain(st, T0 + 3000, kinds, sizeof kinds, &pay);
  CHECK_STR(kinds, "comment,update_source");
  const char *u = strchr(buf_ptr(&pay), '\n') + 1;
  CHECK(strstr(u, "\"severity\":\"blocker\"") != NULL); /* the alert's */
  CHECK(strstr(u, "sentiment") == NULL);
  buf_cleanup(&pay);
  store_ingest_result_cleanup(&r);
  store_close(st);
}

static void test_source_ticket_and_lanes(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct alert_policy pol = source_policy();
  pol.source_ticket = true;
  pol.source_severity = pol.source_sentiment = false;
  struct ingest_msg m = source_msg("ev1", "revu/2", 2, "conversation");
  struct ingest_result r;
  CHECK_INT(store_ingest(st, &m, 1, &pol, T0, &r), ERR_OK);
  CHECK_INT(r.outcome, STORE_ALERT_CREATED);
  /* The source comment does not wait for the ticket, nor die with it. */
  struct store_entry e1, e2, e3;
  bool found = false;
  CHECK_INT(store_outbox_claim(st, T0, 60000, &e1, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(e1.kind, STORE_KIND_CREATE_TICKET);
  CHECK_INT(store_outbox_claim(st, T0, 60000, &e2, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(e2.kind, STORE_KIND_SOURCE_COMMENT);
  CHECK(store_kind_is_source(e2.kind));
  CHECK(!store_kind_is_source(e1.kind));
  CHECK(e2.ticket_id == NULL);
  /* A second message: its ticket comment waits, its source comment
   * waits only for the first source comment. */
  struct ingest_msg m2 = source_msg("ev2", "revu/2", 2, "conversation");
  store_ingest_result_cleanup(&r);
  CHECK_INT(store_ingest(st, &m2, 1, &pol, T0, &r), ERR_OK);
  CHECK_INT(store_outbox_claim(st, T0, 60000, &e3, &found), ERR_OK);
  CHECK(!found);
  finish(st, e2.id, STORE_DONE, 0, NULL, NULL, 201, "ok", NULL, T0);
  CHECK_INT(store_outbox_claim(st, T0, 60000, &e3, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(e3.kind, STORE_KIND_SOURCE_COMMENT);
  /* The ticket cannot be made: its comment dies, the source lane does
   * not. */
  finish(st, e1.id, STORE_DEAD, 0, NULL, NULL, 400, "permanent", "bad part",
         T0);
  struct store_counts c;
  CHECK_INT(store_counts(st, &c), ERR_OK);
  CHECK_INT(c.outbox_dead, 2);
  CHECK_INT(c.outbox_pending, 1); /* e3, leased */
  store_entry_cleanup(&e1);
  store_entry_cleanup(&e2);
  store_entry_cleanup(&e3);
  store_ingest_result_cleanup(&r);
  store_close(st);
}

/* A version 3 database with delivered and pending entries keeps them
 * through migration 4 (the outbox table is rebuilt). */
static void test_migration_4_keeps_outbox(void)
{
  char url[512], err[256];
  if (getenv("STORE_TEST_URL"))
    return;
  fresh_url(url, sizeof url);
  CHECK_INT(store_migrate_to(url, 3, err, sizeof err), ERR_OK);
  sqlite3 *db = NULL;
  CHECK_INT(sqlite3_open(url, &db), SQLITE_OK);
  const char *seed =
      "INSERT INTO alerts (id, alert_key, customer_id, level, level_name,"
      " severity, created_at, last_activity_at) VALUES (1, 'k1', 'c', 2,"
      " 'frustrated', 'high', 1, 1);"
      "INSERT INTO outbox (id, alert_id, kind, payload, state,"
      " next_attempt_at, created_at) VALUES (1, 1, 'create_ticket', '{}',"
      " 'done', 1, 1), (2, 1, 'comment', '{}', 'pending', 1, 1);"
      "INSERT INTO delivery_attempts (outbox_id, at, duration_ms,"
      " http_status, result, ok) VALUES (1, 1, 5, 201, 'ok', 1);";
  CHECK_INT(sqlite3_exec(db, seed, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  struct store *st = NULL;
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  if (!st)
    return;
  int v = 0;
  CHECK_INT(store_schema_version(st, &v), ERR_OK);
  CHECK_INT(v, 4);
  struct store_counts c;
  CHECK_INT(store_counts(st, &c), ERR_OK);
  CHECK_INT(c.outbox_done, 1);
  CHECK_INT(c.outbox_pending, 1);
  struct store_alert_row a;
  CHECK_INT(store_alert_get(st, 1, &a), ERR_OK);
  CHECK(a.ticket_wanted); /* alerts from before had their ticket */
  store_alert_row_cleanup(&a);
  /* The new kinds are accepted, and foreign keys are on again. */
  struct alert_policy pol = source_policy();
  struct ingest_msg m = source_msg("ev9", "other", 2, "ticket");
  struct ingest_result r;
  CHECK_INT(store_ingest(st, &m, 1, &pol, T0, &r), ERR_OK);
  CHECK_INT(r.outcome, STORE_ALERT_CREATED);
  store_ingest_result_cleanup(&r);
  CHECK_INT(store_counts(st, &c), ERR_OK);
  CHECK_INT(c.outbox_pending, 3);
  store_close(st);
  CHECK_INT(sqlite3_open(url, &db), SQLITE_OK);
  sqlite3_stmt *q = NULL;
  sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &q, NULL);
  CHECK_INT(sqlite3_step(q), SQLITE_DONE); /* no dangling reference */
  sqlite3_finalize(q);
  sqlite3_close(db);
}

int main(void)
{
  snprintf(tmpdir, sizeof tmpdir, "/tmp/test_store.XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  RUN(test_open_urls);
  RUN(test_migrations);
  RUN(test_ingest_outcomes);
  RUN(test_cooldown_expiry);
  RUN(test_severity_raise);
  RUN(test_batch_atomicity);
  RUN(test_outbox_claim_order);
  RUN(test_outbox_retry_and_dead);
  RUN(test_outbox_crash_recovery);
  RUN(test_outbox_redrive);
  RUN(test_ownership);
  RUN(test_purge_text);
  RUN(test_excerpt_and_window);
  RUN(test_two_handles);
  RUN(test_escalate_negative_count);
  RUN(test_escalate_outside_window);
  RUN(test_escalate_trend);
  RUN(test_escalate_repeat_contact);
  RUN(test_escalation_off);
  RUN(test_source_alerts);
  RUN(test_source_ticket_and_lanes);
  RUN(test_migration_4_keeps_outbox);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  HARNESS_EXIT();
}
