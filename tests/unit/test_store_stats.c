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
  RUN(test_reader_refuses_memory);
  RUN(test_hub_ring);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  HARNESS_EXIT();
}
