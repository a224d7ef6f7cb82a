/* Contract tests of the store API: opening, migrations, ingest outcomes
 * (dedupe, episodes, cooldown, severity), batches, text retention and two
 * handles on one file. The outbox is tested in test_store_outbox.c, the
 * policy's escalation and DevRev sources in test_store_policy.c, with the
 * fixtures of store_fixture.h. */
#include "store/store.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/utf8.h"

#include "store_fixture.h"

static void test_open_urls(void)
{
  char err[256];
  struct store *st = NULL;
  /* A PostgreSQL URL goes to libpq: nothing listens on port 1. */
  CHECK_INT(store_open("postgres://u@127.0.0.1:1/db", err, sizeof err, &st),
            ERR_STORE);
  CHECK(strstr(err, "cannot connect to PostgreSQL") != NULL);
  CHECK(st == NULL);
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

/* store_check begins a write transaction and, with write, commits a
 * write that changes nothing; inside a transaction it is refused. On
 * SQLite the write must reach the log: SQLite writes nothing for a row
 * written back unchanged, and a check that wrote nothing would miss a
 * full disk. */
static void test_check(void)
{
  char url[512], err[256];
  struct store *st = NULL;
  fresh_url(url, sizeof url);
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  if (!st)
    return;
  char wal[600];
  snprintf(wal, sizeof wal, "%s-wal", url);
  struct stat before, after;
  bool sqlite = !test_pg() && stat(wal, &before) == 0;
  CHECK(test_pg() || sqlite);
  CHECK_INT(store_check(st, false), ERR_OK);
  if (sqlite) {
    CHECK_INT(stat(wal, &after), 0);
    CHECK_INT(after.st_size, before.st_size);
  }
  CHECK_INT(store_check(st, true), ERR_OK);
  if (sqlite) {
    CHECK_INT(stat(wal, &after), 0);
    CHECK(after.st_size > before.st_size);
  }
  int v = 0;
  CHECK_INT(store_schema_version(st, &v), ERR_OK);
  CHECK_INT(v, STORE_SCHEMA_VERSION);
  CHECK_INT(store_begin(st), ERR_OK);
  CHECK_INT(store_check(st, true), ERR_INVALID);
  store_rollback(st);
  CHECK_INT(ingest1(st, msg("m1", "cust", 2), T0, NULL), STORE_ALERT_CREATED);
  store_close(st);
}

/* store_now_ms: this machine's clock on SQLite; on PostgreSQL the
 * server's (here the same machine's, so about the same), measured once
 * and kept for STORE_CLOCK_EVERY_MS. */
static void test_now(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct store_clock clk = {0, 0};
  int64_t before = clock_wall_ms();
  int64_t now = store_now_ms(st, &clk);
  int64_t after = clock_wall_ms();
  CHECK(now >= before - 1000 && now <= after + 1000);
  if (test_pg()) {
    CHECK(clk.checked_ms >= before && clk.checked_ms <= after);
    int64_t checked = clk.checked_ms;
    store_now_ms(st, &clk);
    CHECK_INT(clk.checked_ms, checked); /* not measured again so soon */
  } else {
    CHECK_INT(clk.offset_ms, 0);
  }
  /* Inside a transaction it reads no store. */
  CHECK_INT(store_begin(st), ERR_OK);
  clk.checked_ms = 0;
  now = store_now_ms(st, &clk);
  CHECK(now >= before - 1000);
  CHECK_INT(clk.checked_ms, 0);
  store_rollback(st);
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

/* Two handles on one file (the committer's and the worker's). */
static void test_two_handles(void)
{
  char url[512], err[256];
  if (test_pg()) /* SQLite only */
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
  CHECK_INT(store_check(r, false), ERR_STORE);
  CHECK_INT(store_check(r, true), ERR_STORE);
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

/* A version 3 database with delivered and pending entries keeps them
 * through migration 4 (the outbox table is rebuilt). */
static void test_migration_4_keeps_outbox(void)
{
  char url[512], err[256];
  if (test_pg()) /* SQLite only */
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
  CHECK_INT(v, STORE_SCHEMA_VERSION); /* 4 and on */
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

/* One transaction of ten messages announced with store_prepare_batch (as
 * the committer does) or not: duplicates of stored messages and within
 * the batch, alerts created and appended within it, an episode past its
 * cooldown closed and a new one opened, windows carried from message to
 * message. Both ways give the same answers and rows. */
static void batch_scenario(bool prepared)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct ingest_result before[3];
  CHECK_INT(ingest1(st, msg("p1", "alice", 2), T0, &before[0]),
            STORE_ALERT_CREATED);
  CHECK_INT(ingest1(st, msg("p2", "dave", 2), T0 - 7200000, &before[1]),
            STORE_ALERT_CREATED);
  CHECK_INT(ingest1(st, msg("p3", "erin", 0), T0, &before[2]),
            STORE_ALERT_NONE);
  /* alice's alert is updated twice in the batch: its last state counts. */
  struct ingest_msg b[11] = {
      msg("p1", "alice", 3), msg("b1", "alice", 2), msg("b2", "bob", 2),
      msg("b2", "bob", 2),   msg("b3", "bob", 3),   msg("b4", "dave", 2),
      msg("b5", "dave", 2),  msg(NULL, "erin", 0),  msg("b6", "erin", 2),
      msg("b1", "alice", 2), msg("b7", "alice", 3)};
  const struct ingest_msg *all[11];
  for (int i = 0; i < 11; i++)
    all[i] = &b[i];
  struct ingest_result r[11];
  int64_t now = T0 + 60000;
  CHECK_INT(store_begin(st), ERR_OK);
  if (prepared)
    CHECK_INT(store_prepare_batch(st, all, 11), ERR_OK);
  CHECK_INT(store_ingest(st, b, 11, &POLICY, now, r), ERR_OK);
  CHECK_INT(store_commit(st), ERR_OK);

  const enum store_alert want[11] = {
      STORE_ALERT_DUPLICATE, STORE_ALERT_APPENDED, STORE_ALERT_CREATED,
      STORE_ALERT_DUPLICATE, STORE_ALERT_APPENDED, STORE_ALERT_CREATED,
      STORE_ALERT_APPENDED,  STORE_ALERT_NONE,     STORE_ALERT_CREATED,
      STORE_ALERT_DUPLICATE, STORE_ALERT_APPENDED};
  for (int i = 0; i < 11; i++)
    CHECK_INT(r[i].outcome, want[i]);
  /* A stored message: its first answer. */
  CHECK_INT(r[0].original, STORE_ALERT_CREATED);
  CHECK_INT(r[0].row_id, before[0].row_id);
  CHECK_INT(r[0].alert_id, before[0].alert_id);
  CHECK_STR(r[0].alert_key, before[0].alert_key);
  CHECK_STR(r[0].result_json, "{\"polarity\":-0.5}");
  CHECK_INT(r[1].alert_id, before[0].alert_id);
  /* A message of this batch: the answer it got in it. */
  CHECK_INT(r[3].original, STORE_ALERT_CREATED);
  CHECK_INT(r[3].row_id, r[2].row_id);
  CHECK_INT(r[3].alert_id, r[2].alert_id);
  CHECK_STR(r[3].alert_key, r[2].alert_key);
  CHECK_STR(r[3].result_json, "{\"polarity\":-0.5}");
  CHECK_INT(r[9].original, STORE_ALERT_APPENDED);
  CHECK_INT(r[9].row_id, r[1].row_id);
  CHECK_INT(r[9].alert_id, before[0].alert_id);
  CHECK_STR(r[9].alert_key, before[0].alert_key);
  CHECK_INT(r[4].alert_id, r[2].alert_id);
  /* dave's episode was over: a new alert, the old one closed. */
  CHECK(r[5].alert_id != before[1].alert_id);
  CHECK_INT(r[6].alert_id, r[5].alert_id);
  /* Every new row has an id of its own. */
  const int fresh[7] = {1, 2, 4, 5, 6, 7, 8};
  for (int i = 0; i < 7; i++) {
    CHECK(r[fresh[i]].row_id > 0);
    for (int j = 0; j < i; j++)
      CHECK(r[fresh[i]].row_id != r[fresh[j]].row_id);
  }

  struct store_counts c;
  CHECK_INT(store_counts(st, &c), ERR_OK);
  CHECK_INT(c.messages, 11);
  CHECK_INT(c.alerts, 5);
  CHECK_INT(c.open_alerts, 4);
  /* create_ticket x5, comments on alice's (two), bob's and dave's new
   * alert, bob's and alice's severity raised. */
  CHECK_INT(c.outbox_pending, 11);
  struct store_alert_row a;
  CHECK_INT(store_alert_get(st, before[0].alert_id, &a), ERR_OK);
  CHECK_INT(a.message_count, 3);
  CHECK_INT(a.level, 3);
  CHECK_STR(a.severity, "blocker");
  CHECK_INT(a.last_activity_ms, now);
  store_alert_row_cleanup(&a);
  CHECK_INT(store_alert_get(st, r[2].alert_id, &a), ERR_OK);
  CHECK_INT(a.message_count, 2);
  CHECK_INT(a.level, 3);
  CHECK_STR(a.severity, "blocker");
  store_alert_row_cleanup(&a);
  CHECK_INT(store_alert_get(st, before[1].alert_id, &a), ERR_OK);
  CHECK(!a.open);
  store_alert_row_cleanup(&a);
  /* bob's entries in the order they were written: deliveries follow it. */
  struct store_outbox_row *rows = NULL;
  size_t nrows = 0;
  CHECK_INT(store_outbox_list(st, r[2].alert_id, &rows, &nrows), ERR_OK);
  CHECK_INT(nrows, 3);
  if (nrows == 3) {
    CHECK_INT(rows[0].kind, STORE_KIND_CREATE_TICKET);
    CHECK_INT(rows[1].kind, STORE_KIND_COMMENT);
    CHECK_INT(rows[2].kind, STORE_KIND_UPDATE_SEVERITY);
    CHECK(rows[0].id < rows[1].id && rows[1].id < rows[2].id);
  }
  store_outbox_rows_free(rows, nrows);
  struct store_score w[STORE_WINDOW_MAX];
  size_t n = 0;
  CHECK_INT(store_customer_recent(st, "erin", w, STORE_WINDOW_MAX, &n), ERR_OK);
  CHECK_INT(n, 3);
  CHECK_INT(store_customer_recent(st, "bob", w, STORE_WINDOW_MAX, &n), ERR_OK);
  CHECK_INT(n, 2);
  for (int i = 0; i < 11; i++)
    store_ingest_result_cleanup(&r[i]);
  for (int i = 0; i < 3; i++)
    store_ingest_result_cleanup(&before[i]);
  store_close(st);
}

/* One alert updated by several messages of a batch, with nothing in
 * between that sends the updates held back (PostgreSQL writes one row per
 * alert): its last state is the one stored. */
static void updates_scenario(bool prepared)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct ingest_result first;
  CHECK_INT(ingest1(st, msg("u0", "uma", 2), T0, &first), STORE_ALERT_CREATED);
  struct ingest_msg b[3] = {msg("u1", "uma", 2), msg("u2", "uma", 3),
                            msg("u3", "uma", 2)};
  const struct ingest_msg *all[3] = {&b[0], &b[1], &b[2]};
  struct ingest_result r[3];
  CHECK_INT(store_begin(st), ERR_OK);
  if (prepared)
    CHECK_INT(store_prepare_batch(st, all, 3), ERR_OK);
  CHECK_INT(store_ingest(st, b, 3, &POLICY, T0 + 1000, r), ERR_OK);
  CHECK_INT(store_commit(st), ERR_OK);
  struct store_alert_row a;
  CHECK_INT(store_alert_get(st, first.alert_id, &a), ERR_OK);
  CHECK_INT(a.message_count, 4);
  CHECK_INT(a.level, 3);
  CHECK_STR(a.severity, "blocker");
  CHECK(a.open);
  store_alert_row_cleanup(&a);
  for (int i = 0; i < 3; i++) {
    CHECK_INT(r[i].outcome, STORE_ALERT_APPENDED);
    store_ingest_result_cleanup(&r[i]);
  }
  store_ingest_result_cleanup(&first);
  store_close(st);
}

static void test_batch_updates_unprepared(void)
{
  updates_scenario(false);
}

static void test_batch_updates_prepared(void)
{
  updates_scenario(true);
}

static void test_batch_unprepared(void)
{
  batch_scenario(false);
}

static void test_batch_prepared(void)
{
  batch_scenario(true);
}

/* A write that fails late (on PostgreSQL a prepared batch's writes are
 * sent without waiting, and the failure is read at commit) fails the
 * commit: nothing of the transaction is stored, and the handle goes on. */
static void test_batch_late_failure(void)
{
  char url[512], err[256];
  struct store *st = NULL;
  fresh_url(url, sizeof url);
  if (store_open(url, err, sizeof err, &st)) {
    fprintf(stderr, "store_open(%s): %s\n", url, err);
    CHECK(0);
    return;
  }
  /* The store refuses customer zed's state. */
  if (test_pg()) {
    PGconn *c = PQconnectdb(url);
    PGresult *res = PQexec(c, "ALTER TABLE customer_state ADD CONSTRAINT"
                              " no_zed CHECK (customer_id <> 'zed')");
    CHECK_INT(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    PQfinish(c);
  } else {
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open(url, &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db,
                           "CREATE TRIGGER no_zed BEFORE INSERT ON"
                           " customer_state WHEN NEW.customer_id = 'zed'"
                           " BEGIN SELECT RAISE(ABORT, 'no zed'); END",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
  }
  struct ingest_msg b[3] = {msg("z0", "yan", 2), msg("z1", "zed", 2),
                            msg("z2", "amy", 0)};
  const struct ingest_msg *all[3] = {&b[0], &b[1], &b[2]};
  struct ingest_result r[3];
  CHECK_INT(store_begin(st), ERR_OK);
  CHECK_INT(store_prepare_batch(st, all, 3), ERR_OK);
  enum err rc = store_ingest(st, b, 3, &POLICY, T0, r);
  if (!rc)
    rc = store_commit(st);
  else
    store_rollback(st);
  CHECK(rc != ERR_OK);
  CHECK(strstr(store_errmsg(st), "customer") != NULL);
  struct store_counts c;
  CHECK_INT(store_counts(st, &c), ERR_OK);
  CHECK_INT(c.messages, 0);
  CHECK_INT(c.alerts, 0);
  CHECK_INT(c.outbox_pending, 0);
  /* The next transaction is not touched by it. */
  CHECK_INT(ingest1(st, msg("z3", "yan", 2), T0, NULL), STORE_ALERT_CREATED);
  CHECK_INT(store_counts(st, &c), ERR_OK);
  CHECK_INT(c.messages, 1);
  store_close(st);
}

struct label_seen {
  int n;
  char ids[8][16]; /* "(null)" for a message without one */
  int64_t rows[8];
  bool label[8], verdict[8];
  bool text_null[8];
  int stop_after; /* 0: never stop */
};

static bool collect_label(void *arg, const struct store_labelled *l)
{
  struct label_seen *s = arg;
  if (s->n < 8) {
    snprintf(s->ids[s->n], sizeof s->ids[0], "%s",
             l->message_id ? l->message_id : "(null)");
    s->rows[s->n] = l->row_id;
    s->label[s->n] = l->label;
    s->verdict[s->n] = l->verdict;
    s->text_null[s->n] = l->text == NULL;
  }
  s->n++;
  return !s->stop_after || s->n < s->stop_after;
}

static void test_labels(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  CHECK_INT(ingest1(st, msg("l1", "lena", 0), T0, NULL), STORE_ALERT_NONE);
  CHECK_INT(ingest1(st, msg("l2", "lena", 2), T0 + 1, NULL),
            STORE_ALERT_CREATED);
  CHECK_INT(ingest1(st, msg("l3", "lena", 0), T0 + 2, NULL), STORE_ALERT_NONE);
  struct label_seen seen = {0};
  CHECK_INT(store_labels_each(st, collect_label, &seen), ERR_OK);
  CHECK_INT(seen.n, 0);

  bool verdict = true;
  /* The calm verdict was wrong: the customer was frustrated. */
  CHECK_INT(label_true(st, "l1", 0, true, "agent ann", T0 + 10, &verdict),
            ERR_OK);
  CHECK(!verdict);
  CHECK_INT(label_true(st, "l2", 0, true, NULL, T0 + 11, &verdict), ERR_OK);
  CHECK(verdict);
  /* Unknown ids, empty ids and long names change nothing. */
  CHECK_INT(label_true(st, "nope", 0, true, NULL, T0, &verdict), ERR_NOT_FOUND);
  CHECK(strstr(store_errmsg(st), "nope") != NULL);
  CHECK_INT(label_true(st, "", 0, true, NULL, T0, &verdict), ERR_INVALID);
  char longname[STORE_LABELLER_MAX + 2];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  CHECK_INT(label_true(st, "l3", 0, true, longname, T0, &verdict), ERR_INVALID);

  struct store_message m;
  bool found = false;
  CHECK_INT(store_message_get(st, "l1", &m, &found), ERR_OK);
  CHECK(found && m.labelled && m.label);
  CHECK_INT(m.labelled_at_ms, T0 + 10);
  CHECK_STR(m.labelled_by ? m.labelled_by : "(null)", "agent ann");
  store_message_cleanup(&m);
  CHECK_INT(store_message_get(st, "l3", &m, &found), ERR_OK);
  CHECK(found && !m.labelled && m.labelled_by == NULL);
  store_message_cleanup(&m);

  /* Labelling again replaces the label: the last one wins. */
  CHECK_INT(label_true(st, "l1", 0, false, "agent bo", T0 + 20, &verdict),
            ERR_OK);
  CHECK_INT(store_message_get(st, "l1", &m, &found), ERR_OK);
  CHECK(found && m.labelled && !m.label);
  CHECK_INT(m.labelled_at_ms, T0 + 20);
  CHECK_STR(m.labelled_by ? m.labelled_by : "(null)", "agent bo");
  store_message_cleanup(&m);

  /* Only the labelled messages, in the order they were stored. */
  CHECK_INT(store_labels_each(st, collect_label, &seen), ERR_OK);
  CHECK_INT(seen.n, 2);
  CHECK_STR(seen.ids[0], "l1");
  CHECK(!seen.label[0] && !seen.verdict[0] && !seen.text_null[0]);
  CHECK_STR(seen.ids[1], "l2");
  CHECK(seen.label[1] && seen.verdict[1]);
  struct label_seen first = {.stop_after = 1};
  CHECK_INT(store_labels_each(st, collect_label, &first), ERR_OK);
  CHECK_INT(first.n, 1);

  /* Inside a transaction, a label rolled back is gone. */
  CHECK_INT(store_begin(st), ERR_OK);
  CHECK_INT(label_true(st, "l3", 0, true, NULL, T0 + 30, &verdict), ERR_OK);
  store_rollback(st);
  CHECK_INT(store_message_get(st, "l3", &m, &found), ERR_OK);
  CHECK(found && !m.labelled);
  store_message_cleanup(&m);
  store_close(st);
}

/* A message sent without a message_id is labelled by its row id, which
 * store_message_get_row reads back; labels_each hands it over with a NULL
 * message id and its row. */
static void test_labels_by_row(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct ingest_result r1 = {0}, r2 = {0};
  CHECK_INT(ingest1(st, msg(NULL, "rita", 2), T0, &r1), STORE_ALERT_CREATED);
  CHECK_INT(ingest1(st, msg("n2", "rita", 0), T0 + 1, &r2), STORE_ALERT_NONE);
  CHECK(r1.row_id > 0 && r2.row_id > r1.row_id);
  store_ingest_result_cleanup(&r1);
  store_ingest_result_cleanup(&r2);

  struct store_message m;
  bool found = false;
  CHECK_INT(store_message_get_row(st, r1.row_id, &m, &found), ERR_OK);
  CHECK(found && m.row_id == r1.row_id && m.message_id == NULL);
  CHECK(m.frustrated && !m.labelled);
  CHECK_STR(m.customer_id ? m.customer_id : "(null)", "rita");
  store_message_cleanup(&m);
  CHECK_INT(store_message_get_row(st, r2.row_id, &m, &found), ERR_OK);
  CHECK(found && m.message_id && !strcmp(m.message_id, "n2"));
  store_message_cleanup(&m);
  CHECK_INT(store_message_get_row(st, r2.row_id + 100, &m, &found), ERR_OK);
  CHECK(!found);
  store_message_cleanup(&m);
  CHECK_INT(store_message_get_row(st, 0, &m, &found), ERR_OK);
  CHECK(!found);
  store_message_cleanup(&m);

  /* Unknown rows, rows below 1 and long names change nothing. */
  bool verdict = false;
  CHECK_INT(label_true(st, NULL, r2.row_id + 100, true, NULL, T0, &verdict),
            ERR_NOT_FOUND);
  CHECK(strstr(store_errmsg(st), "row") != NULL);
  CHECK_INT(label_true(st, NULL, 0, true, NULL, T0, &verdict), ERR_INVALID);
  CHECK_INT(label_true(st, NULL, -3, true, NULL, T0, &verdict), ERR_INVALID);
  char longname[STORE_LABELLER_MAX + 2];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  CHECK_INT(label_true(st, NULL, r1.row_id, true, longname, T0, &verdict),
            ERR_INVALID);
  struct label_seen seen = {0};
  CHECK_INT(store_labels_each(st, collect_label, &seen), ERR_OK);
  CHECK_INT(seen.n, 0);

  /* The detector said frustrated; the team says not. */
  CHECK_INT(
      label_true(st, NULL, r1.row_id, false, "agent cy", T0 + 10, &verdict),
      ERR_OK);
  CHECK(verdict);
  CHECK_INT(store_message_get_row(st, r1.row_id, &m, &found), ERR_OK);
  CHECK(found && m.labelled && !m.label);
  CHECK_INT(m.labelled_at_ms, T0 + 10);
  CHECK_STR(m.labelled_by ? m.labelled_by : "(null)", "agent cy");
  store_message_cleanup(&m);
  /* Only that row: the other message is untouched. */
  CHECK_INT(store_message_get(st, "n2", &m, &found), ERR_OK);
  CHECK(found && !m.labelled);
  store_message_cleanup(&m);
  /* The row of a message with a message_id works too, and the last label
   * wins whichever name was used. */
  CHECK_INT(label_true(st, "n2", 0, true, NULL, T0 + 11, &verdict), ERR_OK);
  CHECK_INT(
      label_true(st, NULL, r2.row_id, false, "agent cy", T0 + 12, &verdict),
      ERR_OK);
  CHECK(!verdict);
  CHECK_INT(store_message_get(st, "n2", &m, &found), ERR_OK);
  CHECK(found && m.labelled && !m.label && m.labelled_at_ms == T0 + 12);
  store_message_cleanup(&m);

  /* Retraining reads it, with no message id and its row. */
  struct label_seen all = {0};
  CHECK_INT(store_labels_each(st, collect_label, &all), ERR_OK);
  CHECK_INT(all.n, 2);
  CHECK_STR(all.ids[0], "(null)");
  CHECK_INT(all.rows[0], r1.row_id);
  CHECK(!all.label[0] && all.verdict[0]);
  CHECK_STR(all.ids[1], "n2");
  CHECK_INT(all.rows[1], r2.row_id);
  store_close(st);
}

/* Reads back the label of the message stored as row: -1 for none. */
static int stored_label(struct store *st, int64_t row)
{
  struct store_message m;
  bool found = false;
  CHECK_INT(store_message_get_row(st, row, &m, &found), ERR_OK);
  int label = found && m.labelled ? m.label : -1;
  store_message_cleanup(&m);
  return label;
}

/* store_label_write: a label given as "the verdict was right/wrong" is
 * computed against the stored verdict in the same write, which answers
 * with both names of the message, its verdict and the label. */
static void test_label_write(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct ingest_result calm = {0}, hot = {0};
  CHECK_INT(ingest1(st, msg("w1", "wes", 0), T0, &calm), STORE_ALERT_NONE);
  CHECK_INT(ingest1(st, msg(NULL, "wes", 2), T0 + 1, &hot),
            STORE_ALERT_CREATED);
  store_ingest_result_cleanup(&calm);
  store_ingest_result_cleanup(&hot);

  /* Each verdict, each answer, by either name. */
  static const struct {
    bool by_row_hot; /* the frustrated message, by its row; else w1 */
    bool relative, value;
    bool want_label;
  } cases[] = {
      {false, true, true, false},  /* calm was right: not frustrated */
      {false, true, false, true},  /* calm was wrong: frustrated */
      {true, true, true, true},    /* frustrated was right */
      {true, true, false, false},  /* frustrated was wrong */
      {false, false, true, true},  /* the true label, as given */
      {true, false, false, false}, /* the true label, as given */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct store_label l = {.relative = cases[i].relative,
                            .value = cases[i].value};
    int64_t row = cases[i].by_row_hot ? hot.row_id : calm.row_id;
    CHECK_INT(store_label_write(st, cases[i].by_row_hot ? NULL : "w1",
                                cases[i].by_row_hot ? row : 0, "agent di",
                                T0 + 10 + (int64_t)i, &l),
              ERR_OK);
    CHECK_INT(l.row_id, row);
    CHECK_STR(l.message_id ? l.message_id : "(null)",
              cases[i].by_row_hot ? "(null)" : "w1");
    CHECK(l.verdict == cases[i].by_row_hot);
    CHECK(l.label == cases[i].want_label);
    CHECK_INT(stored_label(st, row), cases[i].want_label);
    store_label_cleanup(&l);
  }

  /* Unknown and invalid names change nothing and answer nothing. */
  struct store_label l = {.relative = true, .value = false};
  CHECK_INT(store_label_write(st, "nope", 0, NULL, T0 + 20, &l), ERR_NOT_FOUND);
  CHECK(l.row_id == 0 && l.message_id == NULL && !l.verdict && !l.label);
  CHECK_INT(store_label_write(st, NULL, hot.row_id + 100, NULL, T0 + 20, &l),
            ERR_NOT_FOUND);
  CHECK_INT(store_label_write(st, "", calm.row_id, NULL, T0 + 20, &l),
            ERR_INVALID);
  CHECK_INT(store_label_write(st, NULL, 0, NULL, T0 + 20, &l), ERR_INVALID);
  store_label_cleanup(&l);
  CHECK_INT(stored_label(st, calm.row_id), 1);
  CHECK_INT(stored_label(st, hot.row_id), 0);
  store_close(st);
}

int main(void)
{
  if (fixture_begin("test_store"))
    return 1;
  RUN(test_open_urls);
  RUN(test_migrations);
  RUN(test_check);
  RUN(test_now);
  RUN_BOTH(test_ingest_outcomes);
  RUN_BOTH(test_cooldown_expiry);
  RUN_BOTH(test_severity_raise);
  RUN(test_batch_atomicity);
  RUN(test_batch_unprepared);
  RUN(test_batch_prepared);
  RUN(test_batch_updates_unprepared);
  RUN(test_batch_updates_prepared);
  RUN(test_batch_late_failure);
  RUN(test_purge_text);
  RUN_BOTH(test_excerpt_and_window);
  RUN(test_two_handles);
  RUN(test_migration_4_keeps_outbox);
  RUN(test_labels);
  RUN_BOTH(test_labels_by_row);
  RUN_BOTH(test_label_write);
  fixture_end();
  HARNESS_EXIT();
}
