/* Unit tests of store_stats (the dashboard's read-only queries) and of the
 * event hub's publishing side (sse). */
#include "store/store_stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/policy.h"
#include "harness.h"
#include "http/sse.h"

static char tmpdir[256];

#define T0 ((int64_t)1795579980000) /* a whole minute */
#define MIN ((int64_t)60000)

static void ingest(struct store *st, const char *cust, double pol, size_t level,
                   const char *text, int64_t at)
{
  static const char *const names[] = {"calm", "dissatisfied", "frustrated",
                                      "angry"};
  struct alert_policy pol_ = {.cooldown_ms = 30 * MIN, .min_level = 2};
  struct ingest_msg m = {
      .customer_id = cust,
      .text = text,
      .polarity = pol,
      .level = level,
      .level_name = names[level],
      .severity = "high",
      .frustrated = level >= 2,
      .result_json = "{\"assessments\":[{\"words\":\"awful\",\"polarity\":-1}],"
                     "\"frustration\":{\"reasons\":[{\"text\":\"negative "
                     "words\",\"weight\":1}]}}",
  };
  struct ingest_result r;
  CHECK_INT(store_ingest(st, &m, 1, &pol_, at, &r), ERR_OK);
  store_ingest_result_cleanup(&r);
}

static void test_series_and_top(void)
{
  char path[512], err[256];
  snprintf(path, sizeof path, "%s/stats.db", tmpdir);
  struct store *st = NULL;
  CHECK_INT(store_open(path, err, sizeof err, &st), ERR_OK);
  /* Rows are in commit order, and commit times only grow. */
  ingest(st, "old-1", -0.9, 3, "long ago", T0 - 120 * MIN);
  ingest(st, "calm-1", 0.5, 0, "thanks", T0 + 1000);
  ingest(st, "angry-1", -0.9, 3, "awful", T0 + 2000);
  ingest(st, "angry-1", -0.8, 3, "still awful", T0 + MIN + 5);
  ingest(st, "meh-1", -0.2, 1, "meh", T0 + 2 * MIN);

  struct store_reader *r = NULL;
  CHECK_INT(store_reader_open(path, err, sizeof err, &r), ERR_OK);
  struct store_stats_bucket b[3];
  CHECK_INT(store_stats_series(r, T0, MIN, 3, b), ERR_OK);
  CHECK_INT(b[0].start_ms, T0);
  CHECK_INT(b[0].messages, 2);
  CHECK_INT(b[0].by_level[0], 1);
  CHECK_INT(b[0].by_level[3], 1);
  CHECK_NEAR(b[0].polarity_sum, -0.4, 1e-12);
  CHECK_INT(b[0].created, 1);
  CHECK_INT(b[1].messages, 1);
  CHECK_INT(b[1].appended, 1);
  CHECK_INT(b[2].by_level[1], 1);
  /* Wider buckets add the minutes up. */
  struct store_stats_bucket w[1];
  CHECK_INT(store_stats_series(r, T0, 10 * MIN, 1, w), ERR_OK);
  CHECK_INT(w[0].messages, 4);
  CHECK_INT(store_stats_series(r, T0 + 1, MIN, 1, w), ERR_INVALID);

  struct store_stats_customer top[4];
  size_t n = 0;
  int64_t now = T0 + 3 * MIN;
  CHECK_INT(store_stats_top_customers(r, now, now - 60 * MIN, 4, 0, top, &n),
            ERR_OK);
  CHECK_INT(n, 2); /* calm-1 (level 0) and old-1 (too old) are left out */
  if (n == 2) {
    CHECK_STR(top[0].customer_id, "angry-1");
    CHECK_INT(top[0].messages, 2);
    CHECK_INT(top[0].max_level, 3);
    CHECK(top[0].alert_open);
    CHECK_INT(top[0].n_msgs, 2);
    CHECK_STR(top[0].msgs[0].text, "still awful"); /* newest first */
    CHECK_STR(top[0].msgs[0].words_json, "[\"awful\"]");
    CHECK_STR(top[0].msgs[0].reasons_json, "[\"negative words\"]");
    CHECK_INT(top[0].msgs[0].outcome, STORE_ALERT_APPENDED);
    CHECK_STR(top[1].customer_id, "meh-1");
  }
  for (size_t i = 0; i < n; i++)
    store_stats_customer_cleanup(&top[i]);
  int64_t msgs = 0, alerts = 0;
  CHECK_INT(store_stats_totals(r, &msgs, &alerts), ERR_OK);
  CHECK_INT(msgs, 5);
  CHECK_INT(alerts, 2);
  store_reader_close(r);
  store_close(st);
}

/* More customers than the cap: exactly the cap best come back, in rank
 * order, equal scores ordered by the later message and then by id. */
static void test_top_bounded(void)
{
  char path[512], err[256];
  snprintf(path, sizeof path, "%s/top.db", tmpdir);
  struct store *st = NULL;
  CHECK_INT(store_open(path, err, sizeof err, &st), ERR_OK);
  char id[32];
  for (int i = 0; i < 50; i++) {
    snprintf(id, sizeof id, "c-%02d", i);
    /* Level 1 to 3 in turn, later customers more recent. */
    ingest(st, id, -0.2, (size_t)(1 + i % 3), "m", T0 + i * 1000);
  }
  /* Two with the same score as c-47 (level 3 at the same time). */
  ingest(st, "z-tie", -0.9, 3, "m", T0 + 47 * 1000);
  ingest(st, "a-tie", -0.9, 3, "m", T0 + 47 * 1000);
  struct store_reader *r = NULL;
  CHECK_INT(store_reader_open(path, err, sizeof err, &r), ERR_OK);
  struct store_stats_customer top[4];
  size_t n = 0;
  int64_t now = T0 + 60 * 1000;
  CHECK_INT(store_stats_top_customers(r, now, now - 60 * MIN, 4, 0, top, &n),
            ERR_OK);
  CHECK_INT(n, 4);
  if (n == 4) {
    /* The latest at level 3, three of them, by id. */
    CHECK_STR(top[0].customer_id, "a-tie");
    CHECK_STR(top[1].customer_id, "c-47");
    CHECK_STR(top[2].customer_id, "z-tie");
    CHECK_STR(top[3].customer_id, "c-44");
    CHECK(top[0].score == top[1].score);
    CHECK_NEAR(top[3].score,
               3.0 / (1.0 + (double)(now - (T0 + 44000)) / 900000.0), 1e-12);
    CHECK_INT(top[3].last_level, 3);
  }
  for (size_t i = 0; i < n; i++)
    store_stats_customer_cleanup(&top[i]);
  store_reader_close(r);
  store_close(st);
}

static void test_window_parse(void)
{
  struct store_score w[3];
  CHECK_INT(store_window_parse("[[1,-0.5,2],[2,0.25,0,77],[x],[3,1,1]]", w, 3),
            3);
  CHECK_INT(w[0].at_ms, 1);
  CHECK_NEAR(w[1].polarity, 0.25, 0);
  CHECK_INT(w[2].level, 1);
  CHECK_INT(store_window_parse(NULL, w, 3), 0);
  CHECK_INT(store_window_parse("[[1,2,3],[4,5,6]]", w, 1), 1);
}

static void test_reader_refuses_memory(void)
{
  char err[256];
  struct store_reader *r = NULL;
  CHECK_INT(store_reader_open(":memory:", err, sizeof err, &r),
            ERR_UNSUPPORTED);
  CHECK_INT(store_reader_open("postgres://x/y", err, sizeof err, &r),
            ERR_UNSUPPORTED);
  CHECK(r == NULL);
}

static void test_hub_ring(void)
{
  struct sse_hub *h = NULL;
  struct sse_options o = {.ring_events = 4, .heartbeat_ms = 60000};
  CHECK_INT(sse_hub_new(&o, &h), ERR_OK);
  for (int i = 0; i < 10; i++)
    sse_publish(h, "message", "{\"a\":1}", 7);
  sse_publish(h, "message", "two\nlines", 9); /* refused: not one line */
  char big[SSE_EVENT_MAX];
  memset(big, 'x', sizeof big);
  sse_publish(h, "message", big, sizeof big); /* refused: too large */
  struct sse_stats s;
  sse_hub_stats(h, &s);
  CHECK_INT(s.published, 10);
  CHECK_INT(s.subscribers, 0);
  sse_hub_shutdown(h);
  sse_publish(h, "message", "{}", 2); /* after shutdown: dropped */
  sse_hub_stats(h, &s);
  CHECK_INT(s.published, 10);
  sse_hub_free(h);
}

int main(void)
{
  snprintf(tmpdir, sizeof tmpdir, "/tmp/test_store_stats.XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  RUN(test_series_and_top);
  RUN(test_top_bounded);
  RUN(test_window_parse);
  RUN(test_reader_refuses_memory);
  RUN(test_hub_ring);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  HARNESS_EXIT();
}
