/* test_store_pg_events: the feed of committed messages (store_events.h)
 * on PostgreSQL. Runs only under tests/with_pg.py (STORE_TEST_PG); each
 * test has a schema of its own (store_fixture.h).
 *
 * What must hold: every committed row is handed over exactly once, with
 * what the policy stored; a commit wakes a waiting feed; without
 * notifications the rows still come with the next read; a row whose
 * transaction commits after a newer one's is not skipped; a lost
 * connection is made again without losing rows. */
#include "store/store_events.h"

#include "base/clock.h"
#include "store_fixture.h"

#define MAX_SEEN 16

struct seen {
  size_t n;
  struct {
    int64_t row_id, at_ms, level, alert_id;
    char customer_id[64], level_name[32];
    double polarity;
    bool frustrated;
    enum store_alert outcome;
  } m[MAX_SEEN];
};

static void collect(void *arg, const struct store_event_msg *e)
{
  struct seen *s = arg;
  if (s->n == MAX_SEEN)
    return;
  s->m[s->n].row_id = e->row_id;
  s->m[s->n].at_ms = e->at_ms;
  s->m[s->n].level = e->level;
  s->m[s->n].alert_id = e->alert_id;
  snprintf(s->m[s->n].customer_id, sizeof s->m[s->n].customer_id, "%s",
           e->customer_id);
  snprintf(s->m[s->n].level_name, sizeof s->m[s->n].level_name, "%s",
           e->level_name);
  s->m[s->n].polarity = e->polarity;
  s->m[s->n].frustrated = e->frustrated;
  s->m[s->n].outcome = e->outcome;
  s->n++;
}

/* Reads into s; returns the number handed over by this read. */
static size_t read_into(struct store_events *ev, struct seen *s)
{
  size_t n = 0;
  enum err rc = store_events_read(ev, collect, s, &n);
  if (rc)
    fprintf(stderr, "store_events_read: %s\n", store_events_errmsg(ev));
  CHECK_INT(rc, ERR_OK);
  return n;
}

static struct store *open_url(const char *url)
{
  char err[256];
  struct store *st = NULL;
  enum err rc = store_open(url, err, sizeof err, &st);
  if (rc)
    fprintf(stderr, "store_open(%s): %s\n", url, err);
  return st;
}

static void test_unsupported(void)
{
  struct store_events *ev = NULL;
  CHECK(!store_events_supported("sqlite:/tmp/x.db"));
  CHECK(store_events_supported("postgres://u@127.0.0.1/db"));
  CHECK_INT(store_events_open("/tmp/x.db", &ev), ERR_UNSUPPORTED);
  CHECK(ev == NULL);
}

static void test_each_row_once_with_its_fields(void)
{
  char url[512];
  fresh_url(url, sizeof url);
  struct store *st = open_url(url);
  struct store_events *ev = NULL;
  CHECK_INT(store_events_open(url, &ev), ERR_OK);
  if (!st || !ev)
    goto out;
  struct seen s = {0};
  /* Rows committed before the feed first connects are not handed over. */
  ingest1(st, msg("old", "c0", 0), T0, NULL);
  CHECK_INT(read_into(ev, &s), 0);

  struct ingest_result r;
  ingest1(st, msg("m1", "c1", 0), T0 + 1, NULL);
  ingest1(st, msg("m2", "c2", 3), T0 + 2, &r);
  /* The commit notified: the wait ends at once. */
  int64_t t0 = clock_mono_ms();
  bool notified = false;
  CHECK_INT(store_events_wait(ev, 5000, &notified), ERR_OK);
  CHECK(notified);
  CHECK(clock_mono_ms() - t0 < 1000);
  CHECK_INT(read_into(ev, &s), 2);
  CHECK_STR(s.m[0].customer_id, "c1");
  CHECK_INT(s.m[0].outcome, STORE_ALERT_NONE);
  CHECK_INT(s.m[0].alert_id, 0);
  CHECK(!s.m[0].frustrated);
  CHECK_STR(s.m[1].customer_id, "c2");
  CHECK_INT(s.m[1].at_ms, T0 + 2);
  CHECK_INT(s.m[1].level, 3);
  CHECK_STR(s.m[1].level_name, "angry");
  CHECK(s.m[1].polarity == -0.8);
  CHECK(s.m[1].frustrated);
  CHECK_INT(s.m[1].outcome, STORE_ALERT_CREATED);
  CHECK_INT(s.m[1].alert_id, r.alert_id);
  CHECK_INT(s.m[1].row_id, r.row_id);
  store_ingest_result_cleanup(&r);
  /* Nothing new, nothing handed over; a duplicate is no new row. */
  CHECK_INT(read_into(ev, &s), 0);
  ingest1(st, msg("m2", "c2", 3), T0 + 3, NULL);
  ingest1(st, msg("m3", "c2", 3), T0 + 4, NULL);
  CHECK_INT(read_into(ev, &s), 1);
  CHECK_INT(s.m[2].outcome, STORE_ALERT_APPENDED);
out:
  store_events_close(ev);
  store_close(st);
}

static void test_periodic_read_without_notify(void)
{
  char url[512], quiet[600];
  fresh_url(url, sizeof url);
  /* fresh_url's options come last: add the setting to them. */
  snprintf(quiet, sizeof quiet, "%s%%20-cfrustration_alert.notify%%3Doff", url);
  struct store *st = open_url(quiet);
  struct store_events *ev = NULL;
  CHECK_INT(store_events_open(url, &ev), ERR_OK);
  if (!st || !ev)
    goto out;
  struct seen s = {0};
  CHECK_INT(read_into(ev, &s), 0);
  bool notified = true;
  CHECK_INT(store_events_wait(ev, 50, &notified), ERR_OK); /* the connect */
  ingest1(st, msg("q1", "c1", 3), T0, NULL);
  int64_t t0 = clock_mono_ms();
  CHECK_INT(store_events_wait(ev, 300, &notified), ERR_OK);
  CHECK(!notified);
  CHECK(clock_mono_ms() - t0 >= 250);
  CHECK_INT(read_into(ev, &s), 1);
  CHECK_STR(s.m[0].customer_id, "c1");
out:
  store_events_close(ev);
  store_close(st);
}

static void test_late_commit_not_skipped(void)
{
  char url[512];
  fresh_url(url, sizeof url);
  struct store *slow = open_url(url), *fast = open_url(url);
  struct store_events *ev = NULL;
  CHECK_INT(store_events_open(url, &ev), ERR_OK);
  if (!slow || !fast || !ev)
    goto out;
  struct seen s = {0};
  CHECK_INT(read_into(ev, &s), 0);
  /* slow takes the smaller id and commits last. */
  CHECK_INT(store_begin(slow), ERR_OK);
  ingest1(slow, msg("s1", "slow", 0), T0, NULL);
  ingest1(fast, msg("f1", "fast", 0), T0 + 1, NULL);
  CHECK_INT(read_into(ev, &s), 1);
  CHECK_STR(s.m[0].customer_id, "fast");
  CHECK_INT(store_commit(slow), ERR_OK);
  CHECK_INT(read_into(ev, &s), 1);
  CHECK_STR(s.m[1].customer_id, "slow");
  CHECK(s.m[1].row_id < s.m[0].row_id);
  /* A rolled-back id never comes; the rows after it do, once. */
  CHECK_INT(store_begin(slow), ERR_OK);
  ingest1(slow, msg("s2", "slow", 0), T0 + 2, NULL);
  store_rollback(slow);
  ingest1(fast, msg("f2", "fast", 0), T0 + 3, NULL);
  CHECK_INT(read_into(ev, &s), 1);
  CHECK_INT(read_into(ev, &s), 0);
  CHECK_INT(s.n, 3);
out:
  store_events_close(ev);
  store_close(slow);
  store_close(fast);
}

static void test_reconnects_without_loss(void)
{
  char url[512];
  fresh_url(url, sizeof url);
  struct store *st = open_url(url);
  struct store_events *ev = NULL;
  CHECK_INT(store_events_open(url, &ev), ERR_OK);
  if (!st || !ev)
    goto out;
  struct seen s = {0};
  CHECK_INT(read_into(ev, &s), 0);
  /* End the feed's session from the server side (its last statement was
   * the read of new rows), then commit a message. */
  PGconn *c = PQconnectdb(test_pg());
  PGresult *r = PQexec(c, "SELECT count(pg_terminate_backend(pid))"
                          " FROM pg_stat_activity WHERE pid <>"
                          " pg_backend_pid() AND query LIKE"
                          " '%FROM messages WHERE id > $1%'");
  CHECK_INT(PQresultStatus(r), PGRES_TUPLES_OK);
  CHECK_STR(PQgetvalue(r, 0, 0), "1");
  PQclear(r);
  PQfinish(c);
  ingest1(st, msg("r1", "c1", 0), T0, NULL);
  /* The first call after the loss may fail; the next ones connect again
   * and hand the row over. */
  size_t got = 0;
  for (int i = 0; i < 3 && !got; i++) {
    size_t n = 0;
    if (!store_events_read(ev, collect, &s, &n))
      got += n;
  }
  CHECK_INT(got, 1);
  CHECK_INT(s.n, 1);
  CHECK_STR(s.m[0].customer_id, "c1");
out:
  store_events_close(ev);
  store_close(st);
}

static void test_interrupt_ends_wait(void)
{
  char url[512];
  fresh_url(url, sizeof url);
  struct store *st = open_url(url); /* makes the tables */
  struct store_events *ev = NULL;
  CHECK_INT(store_events_open(url, &ev), ERR_OK);
  if (!st || !ev)
    goto out;
  struct seen s = {0};
  CHECK_INT(read_into(ev, &s), 0);
  bool notified = true;
  CHECK_INT(store_events_wait(ev, 50, &notified), ERR_OK); /* the connect */
  store_events_interrupt(ev);
  int64_t t0 = clock_mono_ms();
  CHECK_INT(store_events_wait(ev, 10000, &notified), ERR_OK);
  CHECK(!notified);
  CHECK(clock_mono_ms() - t0 < 1000);
out:
  store_events_close(ev);
  store_close(st);
}

int main(void)
{
  if (!test_pg()) {
    printf("SKIP: STORE_TEST_PG is not set (run under tests/with_pg.py)\n");
    return HARNESS_SKIP;
  }
  if (fixture_begin("test_store_pg_events"))
    return 1;
  RUN(test_unsupported);
  RUN(test_each_row_once_with_its_fields);
  RUN(test_periodic_read_without_notify);
  RUN(test_late_commit_not_skipped);
  RUN(test_reconnects_without_loss);
  RUN(test_interrupt_ends_wait);
  fixture_end();
  HARNESS_EXIT();
}
