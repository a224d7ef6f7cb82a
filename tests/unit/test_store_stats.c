/* Unit tests of store_stats (the dashboard's read-only queries) and of the
 * event hub's publishing side (sse). The reads are a contract every
 * backend passes: they run on fresh SQLite files, and on PostgreSQL
 * (a schema per test) when STORE_TEST_PG is set (tests/with_pg.py). */
#include "store/store_stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/policy.h"
#include "harness.h"
#include "http/sse.h"
#include "store_fixture.h"

/* The fixture's T0 is not a whole minute; the series need one. */
#undef T0
#define T0 ((int64_t)1795579980000)
#define MIN ((int64_t)60000)

#define RESULT_JSON                                                            \
  "{\"assessments\":[{\"words\":\"awful\",\"polarity\":-1}],"                  \
  "\"frustration\":{\"reasons\":[{\"text\":\"negative "                        \
  "words\",\"weight\":1}]}}"

static void ingest_full(struct store *st, const char *cust, const char *lang,
                        double pol, size_t level, const char *text, int64_t at,
                        const char *result_json)
{
  static const char *const names[] = {"calm", "dissatisfied", "frustrated",
                                      "angry"};
  struct alert_policy pol_ = {.cooldown_ms = 30 * MIN, .min_level = 2};
  struct ingest_msg m = {
      .customer_id = cust,
      .lang = lang,
      .text = text,
      .polarity = pol,
      .level = level,
      .level_name = names[level],
      .severity = "high",
      .frustrated = level >= 2,
      .result_json = result_json,
  };
  struct ingest_result r;
  CHECK_INT(store_ingest(st, &m, 1, &pol_, at, &r), ERR_OK);
  store_ingest_result_cleanup(&r);
}

static void ingest_result(struct store *st, const char *cust, double pol,
                          size_t level, const char *text, int64_t at,
                          const char *result_json)
{
  ingest_full(st, cust, NULL, pol, level, text, at, result_json);
}

/* A message in language lang (NULL: none stored), frustrated from level
 * 2 on. */
static void ingest_lang(struct store *st, const char *cust, const char *lang,
                        size_t level, int64_t at)
{
  ingest_full(st, cust, lang, level >= 2 ? -0.8 : 0.3, level, "text", at,
              RESULT_JSON);
}

static void ingest(struct store *st, const char *cust, double pol, size_t level,
                   const char *text, int64_t at)
{
  ingest_result(st, cust, pol, level, text, at, RESULT_JSON);
}

/* A fresh store (SQLite file or PostgreSQL schema) and its URL. */
static struct store *open_store(char *url, size_t cap)
{
  char err[256];
  struct store *st = NULL;
  fresh_url(url, cap);
  if (store_open(url, err, sizeof err, &st)) {
    fprintf(stderr, "store_open(%s): %s\n", url, err);
    return NULL;
  }
  return st;
}

static struct store_reader *open_reader(const char *url)
{
  char err[256];
  struct store_reader *r = NULL;
  enum err rc = store_reader_open(url, err, sizeof err, &r);
  CHECK_INT(rc, ERR_OK);
  if (rc)
    fprintf(stderr, "store_reader_open(%s): %s\n", url, err);
  return r;
}

/* Frees the n customers of a top list. */
static void top_free(struct store_stats_customer *top, size_t n)
{
  for (size_t i = 0; i < n; i++)
    store_stats_customer_cleanup(&top[i]);
}

/* Closes a test's reader (NULL is fine) and store. */
static void close_both(struct store_reader *r, struct store *st)
{
  store_reader_close(r);
  store_close(st);
}

static void test_series_and_top(void)
{
  char url[512];
  struct store *st = open_store(url, sizeof url);
  if (!st)
    return;
  /* Rows are in commit order, and commit times only grow. */
  ingest(st, "old-1", -0.9, 3, "long ago", T0 - 120 * MIN);
  ingest(st, "calm-1", 0.5, 0, "thanks", T0 + 1000);
  ingest(st, "angry-1", -0.9, 3, "awful", T0 + 2000);
  ingest(st, "angry-1", -0.8, 3, "still awful", T0 + MIN + 5);
  ingest(st, "meh-1", -0.2, 1, "meh", T0 + 2 * MIN);

  struct store_reader *r = open_reader(url);
  if (!r)
    goto out;
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
    /* Each message carries its row, which names it for a label
     * (store_label_write): these were sent without a message_id. */
    for (size_t k = 0; k < 2; k++) {
      struct store_message m;
      bool found = false;
      CHECK(top[0].msgs[k].message_id == NULL);
      CHECK_INT(store_message_get_row(st, top[0].msgs[k].row_id, &m, &found),
                ERR_OK);
      CHECK(found && m.text && !strcmp(m.text, k ? "awful" : "still awful"));
      store_message_cleanup(&m);
    }
  }
  top_free(top, n);
  int64_t msgs = 0, alerts = 0;
  CHECK_INT(store_stats_totals(r, &msgs, &alerts), ERR_OK);
  CHECK_INT(msgs, 5);
  CHECK_INT(alerts, 2);
out:
  close_both(r, st);
}

/* More customers than the cap: exactly the cap best come back, in rank
 * order, equal scores ordered by the later message and then by id. */
static void test_top_bounded(void)
{
  char url[512];
  struct store *st = open_store(url, sizeof url);
  if (!st)
    return;
  char id[32];
  for (int i = 0; i < 50; i++) {
    snprintf(id, sizeof id, "c-%02d", i);
    /* Level 1 to 3 in turn, later customers more recent. */
    ingest(st, id, -0.2, (size_t)(1 + i % 3), "m", T0 + i * 1000);
  }
  /* Two with the same score as c-47 (level 3 at the same time). */
  ingest(st, "z-tie", -0.9, 3, "m", T0 + 47 * 1000);
  ingest(st, "a-tie", -0.9, 3, "m", T0 + 47 * 1000);
  struct store_reader *r = open_reader(url);
  if (!r) {
    store_close(st);
    return;
  }
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
  top_free(top, n);
  close_both(r, st);
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

/* Delivered entries count in the bucket they were finished in, failed
 * attempts in the bucket they were made in. */
static void test_series_delivery(void)
{
  char url[512];
  struct store *st = open_store(url, sizeof url);
  if (!st)
    return;
  ingest(st, "angry-1", -0.9, 3, "awful", T0 + 1000);
  struct store_entry e = {0};
  bool found = false;
  CHECK_INT(store_outbox_claim(st, T0 + MIN + 1, MIN, &e, &found), ERR_OK);
  CHECK(found);
  finish(st, e.id, STORE_PENDING, T0 + 2 * MIN, NULL, NULL, 503, "retry",
         "unavailable", T0 + MIN + 10);
  store_entry_cleanup(&e);
  CHECK_INT(store_outbox_claim(st, T0 + 2 * MIN + 1, MIN, &e, &found), ERR_OK);
  CHECK(found);
  finish(st, e.id, STORE_DONE, 0, "don:ticket/1", "TKT-1", 201, "ok", NULL,
         T0 + 2 * MIN + 5);
  store_entry_cleanup(&e);

  struct store_reader *r = open_reader(url);
  struct store_stats_bucket b[3];
  if (r && store_stats_series(r, T0, MIN, 3, b) == ERR_OK) {
    CHECK_INT(b[0].messages, 1);
    CHECK_INT(b[0].created, 1);
    CHECK_INT(b[0].delivered + b[0].failed, 0);
    CHECK_INT(b[1].failed, 1);
    CHECK_INT(b[1].delivered, 0);
    CHECK_INT(b[2].delivered, 1);
    CHECK_INT(b[2].failed, 0);
  } else {
    CHECK(!"series read");
  }
  close_both(r, st);
}

/* The words and reasons come out of the stored result, "[]" when it has
 * none or is not JSON; an element without the field gives null, and so
 * does a value that is not a list (SQLite's json_each). Customer
 * ids with quotes and backslashes find their open alert. */
static void test_message_fields(void)
{
  char url[512];
  struct store *st = open_store(url, sizeof url);
  if (!st)
    return;
  const char *odd = "q\"u\\o,{x}";
  ingest_result(st, odd, -0.9, 3, "one", T0 + 1000, NULL);
  ingest_result(st, odd, -0.9, 3, "two", T0 + 2000, "not json");
  ingest_result(st, odd, -0.9, 3, "three", T0 + 3000,
                "{\"assessments\":[{\"polarity\":-1},{\"words\":"
                "[\"a\",\"b\\\"c\"]}],\"frustration\":{\"reasons\":7}}");
  ingest_result(st, "calm-1", 0.5, 1, "fine", T0 + 4000, "[]");
  struct store_reader *r = open_reader(url);
  struct store_stats_customer top[3];
  size_t n = 0;
  int64_t now = T0 + MIN;
  if (r && store_stats_top_customers(r, now, now - 60 * MIN, 3, 0, top, &n) ==
               ERR_OK) {
    CHECK_INT(n, 2);
    CHECK_STR(top[0].customer_id, odd);
    CHECK(top[0].alert_open);
    CHECK(!top[1].alert_open);
    CHECK_INT(top[0].n_msgs, 3);
    if (top[0].n_msgs == 3) {
      CHECK_STR(top[0].msgs[0].text, "three");
      CHECK_STR(top[0].msgs[0].words_json, "[null,[\"a\",\"b\\\"c\"]]");
      CHECK_STR(top[0].msgs[0].reasons_json, "[null]"); /* not a list */
      CHECK_STR(top[0].msgs[1].words_json, "[]");
      CHECK_STR(top[0].msgs[2].words_json, "[]");
      CHECK_STR(top[0].msgs[2].reasons_json, "[]");
      CHECK_INT(top[0].msgs[2].outcome, STORE_ALERT_CREATED);
      CHECK_INT(top[0].msgs[2].at_ms, T0 + 1000);
    }
    CHECK_INT(top[1].n_msgs, 1);
    if (top[1].n_msgs == 1) {
      CHECK_STR(top[1].msgs[0].words_json, "[]");
      CHECK_STR(top[1].msgs[0].level_name, "dissatisfied");
      CHECK(!top[1].msgs[0].frustrated);
      CHECK_NEAR(top[1].msgs[0].polarity, 0.5, 0);
    }
  } else {
    CHECK(!"top customers read");
  }
  top_free(top, n);
  close_both(r, st);
}

/* The walk back for the last messages stops at scan_max rows: customers
 * whose messages lie further back get none. Enough rows for several
 * pages of the PostgreSQL walk. */
static void test_last_messages_scan_max(void)
{
  char url[512];
  struct store *st = open_store(url, sizeof url);
  if (!st)
    return;
  ingest(st, "early", -0.9, 3, "first", T0);
  char id[32];
  for (int i = 0; i < 700; i++) {
    snprintf(id, sizeof id, "calm-%03d", i);
    ingest(st, id, 0.5, 0, "fine", T0 + 1 + i);
  }
  ingest(st, "late", -0.9, 3, "last", T0 + 800);
  struct store_reader *r = open_reader(url);
  struct store_stats_customer top[2];
  size_t n = 0;
  int64_t now = T0 + MIN;
  if (r &&
      store_stats_top_customers(r, now, now - 60 * MIN, 2, 600, top, &n) ==
          ERR_OK &&
      n == 2) {
    CHECK_STR(top[0].customer_id, "late");
    CHECK_INT(top[0].n_msgs, 1);
    CHECK_STR(top[1].customer_id, "early");
    CHECK_INT(top[1].n_msgs, 0); /* 702 rows back, past scan_max */
    top_free(top, n);
    CHECK_INT(store_stats_top_customers(r, now, now - 60 * MIN, 2, 0, top, &n),
              ERR_OK);
    CHECK_INT(n > 1 ? top[1].n_msgs : 0, 1); /* the default reaches it */
  } else {
    CHECK(!"top customers read");
  }
  top_free(top, n);
  close_both(r, st);
}

/* A message at any level index, even past the levels the dashboard
 * counts (store_ingest takes any index; only the configuration bounds
 * them), named after its level. */
static void ingest_level(struct store *st, const char *cust, size_t level,
                         const char *text, int64_t at)
{
  char name[32];
  snprintf(name, sizeof name, "level-%zu", level);
  struct alert_policy pol = {.cooldown_ms = 30 * MIN, .min_level = 2};
  struct ingest_msg m = {
      .customer_id = cust,
      .text = text,
      .polarity = -0.5,
      .level = level,
      .level_name = name,
      .severity = "high",
      .frustrated = level >= 2,
      .result_json = RESULT_JSON,
  };
  struct ingest_result r;
  CHECK_INT(store_ingest(st, &m, 1, &pol, at, &r), ERR_OK);
  store_ingest_result_cleanup(&r);
}

/* Sum of b's counts by level: every message counts under one level. */
static int64_t by_level_sum(const struct store_stats_bucket *b)
{
  int64_t sum = 0;
  for (size_t k = 0; k < STORE_STATS_LEVELS; k++)
    sum += b->by_level[k];
  return sum;
}

/* Level indexes at and past STORE_STATS_LEVELS count as the last one:
 * no message is lost from by_level and nothing spills into the bucket's
 * other sums. */
static void test_series_levels_clamped(void)
{
  char url[512];
  struct store *st = open_store(url, sizeof url);
  if (!st)
    return;
  const size_t last = STORE_STATS_LEVELS - 1;
  ingest_level(st, "c1", 1, "one", T0 + 1000);
  ingest_level(st, "c2", last, "last", T0 + 2000);
  ingest_level(st, "c3", last + 1, "past", T0 + 3000);
  ingest_level(st, "c3", last + 1, "past again", T0 + 4000);
  ingest_level(st, "c4", last + 5, "far past", T0 + 5000);
  ingest_level(st, "c5", 40, "much further", T0 + 6000);
  /* The next minute: only levels past the last. */
  ingest_level(st, "c6", last + 2, "next", T0 + MIN + 1000);
  ingest_level(st, "c6", last + 3, "next again", T0 + MIN + 2000);

  struct store_reader *r = open_reader(url);
  struct store_stats_bucket b[4];
  enum err rc = r ? store_stats_series(r, T0, MIN, 4, b) : ERR_STORE;
  CHECK_INT(rc, ERR_OK);
  if (!rc) {
    CHECK_INT(b[0].messages, 6);
    CHECK_INT(b[0].by_level[1], 1);
    CHECK_INT(b[0].by_level[last], 5);
    CHECK_INT(by_level_sum(&b[0]), b[0].messages);
    CHECK_NEAR(b[0].polarity_sum, -3.0, 1e-12);
    /* An alert for each customer from level 2 on, c3's second joins it. */
    CHECK_INT(b[0].created, 4);
    CHECK_INT(b[0].appended, 1);
    CHECK_INT(b[0].delivered + b[0].failed, 0);
    CHECK_INT(b[1].messages, 2);
    CHECK_INT(b[1].by_level[last], 2);
    CHECK_INT(by_level_sum(&b[1]), 2);
    CHECK_NEAR(b[1].polarity_sum, -1.0, 1e-12);
    CHECK_INT(b[1].created + b[1].appended, 2);
    CHECK_INT(b[1].delivered + b[1].failed, 0);
    for (size_t i = 2; i < 4; i++) {
      CHECK_INT(b[i].messages, 0);
      CHECK_INT(by_level_sum(&b[i]), 0);
      CHECK_INT(b[i].created + b[i].appended, 0);
      CHECK_INT(b[i].delivered + b[i].failed, 0);
      CHECK_NEAR(b[i].polarity_sum, 0, 0);
    }
  }
  /* One bucket over both minutes adds them up the same way. */
  struct store_stats_bucket w[1];
  rc = r ? store_stats_series(r, T0, 2 * MIN, 1, w) : ERR_STORE;
  CHECK_INT(rc, ERR_OK);
  if (!rc) {
    CHECK_INT(w[0].messages, 8);
    CHECK_INT(w[0].by_level[last], 7);
    CHECK_INT(by_level_sum(&w[0]), 8);
  }
  close_both(r, st);
}

/* Finds the entry of customer id in top[0..n); NULL when absent. */
static const struct store_stats_customer *
top_find(const struct store_stats_customer *top, size_t n, const char *id)
{
  for (size_t i = 0; i < n; i++)
    if (!strcmp(top[i].customer_id, id))
      return &top[i];
  return NULL;
}

/* c's messages are exactly the newest `want` of those named "<id> #<k>",
 * k = 1 .. newest: "<id> #<newest>" first, then older ones, strictly
 * older in time and row. */
static void check_last_msgs(const struct store_stats_customer *c, int newest,
                            size_t want)
{
  char text[64];
  CHECK_INT(c->n_msgs, want);
  for (size_t k = 0; k < c->n_msgs && k < want; k++) {
    snprintf(text, sizeof text, "%s #%d", c->customer_id, newest - (int)k);
    CHECK_STR(c->msgs[k].text, text);
    if (k > 0) {
      CHECK(c->msgs[k].at_ms < c->msgs[k - 1].at_ms);
      CHECK(c->msgs[k].row_id < c->msgs[k - 1].row_id);
    }
  }
}

/* More customers than the top list and more messages each than
 * STORE_STATS_CUSTOMER_MSGS, interleaved: each top customer gets exactly
 * its last STORE_STATS_CUSTOMER_MSGS, newest first, none of another's;
 * the walk goes on until every one of them has its share. */
static void test_last_messages_share(void)
{
  char url[512];
  struct store *st = open_store(url, sizeof url);
  if (!st)
    return;
  static const char *const ids[] = {"t1", "t2", "t3", "l1", "l2", "l3"};
  const int per = STORE_STATS_CUSTOMER_MSGS + 3;
  char text[64];
  int64_t at = T0;
  /* Round after round, one message of each; the t* above the l*. */
  for (int k = 1; k <= per; k++) {
    for (size_t c = 0; c < 6; c++) {
      snprintf(text, sizeof text, "%s #%d", ids[c], k);
      ingest(st, ids[c], -0.5, ids[c][0] == 't' ? 3 : 1, text, at);
      at += 1000;
    }
  }
  struct store_reader *r = open_reader(url);
  struct store_stats_customer top[6];
  size_t n = 0;
  int64_t now = T0 + 2 * MIN;
  enum err rc =
      r ? store_stats_top_customers(r, now, now - 60 * MIN, 3, 0, top, &n)
        : ERR_STORE;
  CHECK_INT(rc, ERR_OK);
  CHECK_INT(n, 3);
  for (size_t c = 0; !rc && c < 3; c++) {
    const struct store_stats_customer *e = top_find(top, n, ids[c]);
    CHECK(e != NULL);
    if (e)
      check_last_msgs(e, per, STORE_STATS_CUSTOMER_MSGS);
  }
  top_free(top, n);
  /* The l* are ranked too, only below the cap: with room for all six,
   * each gets its own share. */
  rc = r ? store_stats_top_customers(r, now, now - 60 * MIN, 6, 0, top, &n)
         : ERR_STORE;
  CHECK_INT(rc, ERR_OK);
  CHECK_INT(n, 6);
  for (size_t c = 0; !rc && c < 6; c++) {
    const struct store_stats_customer *e = top_find(top, n, ids[c]);
    CHECK(e != NULL);
    if (e)
      check_last_msgs(e, per, STORE_STATS_CUSTOMER_MSGS);
  }
  top_free(top, n);
  close_both(r, st);
}

/* A top customer with fewer messages than its share since since_ms gets
 * all of those and none from before since_ms; the others still get
 * their full share, and customers below the cap get nothing. */
static void test_last_messages_few(void)
{
  char url[512];
  struct store *st = open_store(url, sizeof url);
  if (!st)
    return;
  int64_t now = T0 + 2 * MIN;
  int64_t since = now - 60 * MIN;
  /* Before the range: rows are in commit order, so written first. */
  ingest_level(st, "few", 7, "few #0", since - 1000);
  static const char *const ids[] = {"t1", "l1", "t2", "l2", "few"};
  const int per = STORE_STATS_CUSTOMER_MSGS + 2;
  char text[64];
  int64_t at = T0;
  int few = 0;
  for (int k = 1; k <= per; k++) {
    for (size_t c = 0; c < 5; c++) {
      /* few: two messages, the first and the last round. */
      if (c == 4 && k != 1 && k != per)
        continue;
      snprintf(text, sizeof text, "%s #%d", ids[c], c == 4 ? ++few : k);
      /* Scores: t* 7 x 3, few 2 x 7, l* 7 x 1 (times the decay). */
      ingest_level(st, ids[c], c == 4 ? 7 : ids[c][0] == 't' ? 3 : 1, text, at);
      at += 1000;
    }
  }
  struct store_reader *r = open_reader(url);
  struct store_stats_customer top[3];
  size_t n = 0;
  enum err rc =
      r ? store_stats_top_customers(r, now, since, 3, 0, top, &n) : ERR_STORE;
  CHECK_INT(rc, ERR_OK);
  CHECK_INT(n, 3);
  if (!rc) {
    const struct store_stats_customer *e = top_find(top, n, "few");
    CHECK(e != NULL);
    if (e) {
      CHECK_INT(e->messages, 2); /* its window since since_ms */
      check_last_msgs(e, 2, 2);  /* not "few #0" */
    }
    for (size_t c = 0; c < 3; c += 2) {
      e = top_find(top, n, ids[c]);
      CHECK(e != NULL);
      if (e)
        check_last_msgs(e, per, STORE_STATS_CUSTOMER_MSGS);
    }
    CHECK(top_find(top, n, "l1") == NULL);
    CHECK(top_find(top, n, "l2") == NULL);
  }
  top_free(top, n);
  close_both(r, st);
}

/* A reader whose server connection was cut (a PostgreSQL restart ends
 * every session) connects again by itself. PostgreSQL only: a SQLite
 * reader has no connection to lose. */
static void test_reader_reconnects(void)
{
  const char *pg = test_pg();
  if (!pg)
    return;
  char url[512];
  struct store *st = open_store(url, sizeof url);
  if (!st)
    return;
  ingest(st, "angry-1", -0.9, 3, "awful", T0 + 1000);
  struct store_reader *r = open_reader(url);
  int64_t msgs = 0, alerts = 0;
  CHECK_INT(r ? store_stats_totals(r, &msgs, &alerts) : ERR_STORE, ERR_OK);
  PGconn *c = PQconnectdb(pg);
  PGresult *res = PQexec(c, "SELECT count(pg_terminate_backend(pid))"
                            " FROM pg_stat_activity WHERE backend_type ="
                            " 'client backend' AND pid <> pg_backend_pid()");
  CHECK_INT(PQresultStatus(res), PGRES_TUPLES_OK);
  CHECK(atoi(PQgetvalue(res, 0, 0)) >= 2); /* the store's and the reader's */
  PQclear(res);
  PQfinish(c);
  msgs = alerts = 0;
  enum err rc = r ? store_stats_totals(r, &msgs, &alerts) : ERR_STORE;
  CHECK_INT(rc, ERR_OK);
  if (rc)
    fprintf(stderr, "after the cut: %s\n", store_reader_errmsg(r));
  CHECK_INT(msgs, 1);
  CHECK_INT(alerts, 1);
  close_both(r, st);
}

/* The mix counts messages and frustrated messages per stored language,
 * NULL and "" as "und" (together with an explicit "und"), only inside the
 * range, most first and equal counts bytewise by code. */
static void test_langs_mix(void)
{
  char url[512];
  struct store *st = open_store(url, sizeof url);
  if (!st)
    return;
  ingest_lang(st, "early", "es", 3, T0 - 1); /* before the range */
  ingest_lang(st, "c1", "fr", 3, T0);
  ingest_lang(st, "c2", "fr", 2, T0 + 1000);
  ingest_lang(st, "c3", "fr", 0, T0 + 2000);
  ingest_lang(st, "c4", NULL, 3, T0 + 3000);
  ingest_lang(st, "c5", "", 0, T0 + 4000);
  ingest_lang(st, "c6", "und", 2, T0 + 5000);
  ingest_lang(st, "c7", "en", 3, T0 + MIN);
  ingest_lang(st, "c8", "en", 1, T0 + MIN + 1);
  ingest_lang(st, "c9", "de", 0, T0 + 2 * MIN);
  ingest_lang(st, "c9", "de", 0, T0 + 9 * MIN + 59999);
  ingest_lang(st, "late", "es", 3, T0 + 10 * MIN); /* at the end: out */
  struct store_reader *r = open_reader(url);
  struct store_stats_langs l = {0};
  enum err rc = r ? store_stats_langs(r, T0, T0 + 10 * MIN, &l) : ERR_STORE;
  CHECK_INT(rc, ERR_OK);
  CHECK_INT(l.n, 4);
  if (!rc && l.n == 4) {
    CHECK_STR(l.langs[0].code, "fr");
    CHECK_INT(l.langs[0].messages, 3);
    CHECK_INT(l.langs[0].frustrated, 2);
    CHECK_STR(l.langs[1].code, "und");
    CHECK_INT(l.langs[1].messages, 3);
    CHECK_INT(l.langs[1].frustrated, 2);
    CHECK_STR(l.langs[2].code, "de");
    CHECK_INT(l.langs[2].messages, 2);
    CHECK_INT(l.langs[2].frustrated, 0);
    CHECK_STR(l.langs[3].code, "en");
    CHECK_INT(l.langs[3].messages, 2);
    CHECK_INT(l.langs[3].frustrated, 1);
  }
  CHECK_INT(l.other_langs, 0);
  CHECK_INT(l.other_messages, 0);
  store_stats_langs_cleanup(&l);
  /* An empty range, and ranges that are not whole minutes. */
  CHECK_INT(r ? store_stats_langs(r, T0 + 60 * MIN, T0 + 61 * MIN, &l)
              : ERR_STORE,
            ERR_OK);
  CHECK_INT(l.n + (size_t)l.other_langs, 0);
  store_stats_langs_cleanup(&l);
  CHECK_INT(r ? store_stats_langs(r, T0 + 1, T0 + MIN, &l) : ERR_STORE,
            ERR_INVALID);
  CHECK_INT(r ? store_stats_langs(r, T0 + MIN, T0, &l) : ERR_STORE,
            ERR_INVALID);

  /* The top customers' messages carry their language, "und" for none. */
  struct store_stats_customer top[8];
  size_t n = 0;
  int64_t now = T0 + 10 * MIN;
  CHECK_INT(r ? store_stats_top_customers(r, now, T0, 8, 0, top, &n)
              : ERR_STORE,
            ERR_OK);
  for (size_t i = 0; i < n; i++) {
    const char *want = !strcmp(top[i].customer_id, "c1")   ? "fr"
                       : !strcmp(top[i].customer_id, "c4") ? "und"
                       : !strcmp(top[i].customer_id, "c7") ? "en"
                                                           : NULL;
    if (want && top[i].n_msgs == 1)
      CHECK_STR(top[i].msgs[0].lang, want);
    else if (want)
      CHECK(!"one message each");
    store_stats_customer_cleanup(&top[i]);
  }
  CHECK(n >= 3);
  close_both(r, st);
}

/* More languages than STORE_STATS_LANGS: the first ones by count and
 * then bytewise by code ("Zq" before "a00": bytewise, not a locale's
 * order), the rest summed into the other row; no message is lost. */
static void test_langs_bounded(void)
{
  char url[512], code[8];
  struct store *st = open_store(url, sizeof url);
  if (!st)
    return;
  int64_t at = T0;
  for (int i = 0; i < 20; i++) {
    snprintf(code, sizeof code, "a%02d", i);
    ingest_lang(st, "c", code, i == 19 ? 3 : 0, at++);
  }
  ingest_lang(st, "c", "Zq", 0, at++);
  for (int i = 0; i < 3; i++)
    ingest_lang(st, "c", "zz", 2, at++);
  for (int i = 0; i < 2; i++)
    ingest_lang(st, "c", "yy", 0, at++);
  struct store_reader *r = open_reader(url);
  struct store_stats_langs l = {0};
  enum err rc = r ? store_stats_langs(r, T0, T0 + MIN, &l) : ERR_STORE;
  CHECK_INT(rc, ERR_OK);
  CHECK_INT(l.n, STORE_STATS_LANGS);
  if (!rc && l.n == STORE_STATS_LANGS) {
    CHECK_STR(l.langs[0].code, "zz");
    CHECK_INT(l.langs[0].messages, 3);
    CHECK_INT(l.langs[0].frustrated, 3);
    CHECK_STR(l.langs[1].code, "yy");
    CHECK_INT(l.langs[1].messages, 2);
    CHECK_STR(l.langs[2].code, "Zq");
    CHECK_STR(l.langs[3].code, "a00");
    CHECK_STR(l.langs[15].code, "a12");
    CHECK_INT(l.langs[15].messages, 1);
  }
  /* a13 .. a19 */
  CHECK_INT(l.other_langs, 7);
  CHECK_INT(l.other_messages, 7);
  CHECK_INT(l.other_frustrated, 1);
  int64_t total = l.other_messages;
  for (size_t i = 0; i < l.n; i++)
    total += l.langs[i].messages;
  CHECK_INT(total, 26);
  store_stats_langs_cleanup(&l);
  close_both(r, st);
}

static void test_reader_refuses(void)
{
  char err[256];
  struct store_reader *r = NULL;
  /* SQLite only, whatever the backend under test: another connection
   * cannot see an in-memory database. */
  CHECK_INT(store_reader_open(":memory:", err, sizeof err, &r),
            ERR_UNSUPPORTED);
  /* Nothing listens on port 1: PostgreSQL refuses at once. */
  CHECK_INT(
      store_reader_open("postgres://fa@127.0.0.1:1/none", err, sizeof err, &r),
      ERR_STORE);
  CHECK(strstr(err, "PostgreSQL") != NULL);
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
  if (fixture_begin("test_store_stats"))
    return 1;
  RUN(test_series_and_top);
  RUN(test_top_bounded);
  RUN(test_series_delivery);
  RUN(test_series_levels_clamped);
  RUN(test_message_fields);
  RUN(test_last_messages_scan_max);
  RUN(test_last_messages_share);
  RUN(test_last_messages_few);
  RUN(test_langs_mix);
  RUN(test_langs_bounded);
  RUN(test_reader_reconnects);
  RUN(test_window_parse);
  RUN(test_reader_refuses);
  RUN(test_hub_ring);
  fixture_end();
  HARNESS_EXIT();
}
