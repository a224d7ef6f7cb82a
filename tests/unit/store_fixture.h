/* store_fixture: what the store's contract tests share (test_store.c,
 * test_store_outbox.c, test_store_policy.c; each is its own program that
 * includes this once). They run on a fresh SQLite file in a temporary
 * directory, or on STORE_TEST_URL when set (a backend must pass them all;
 * tables are expected empty). */
#ifndef TESTS_STORE_FIXTURE_H
#define TESTS_STORE_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/policy.h"
#include "harness.h"
#include "store/store.h"
#include "test_db.h"

static char tmpdir[256];
static int db_seq;

/* A fresh database URL per test (test_db.h). */
static inline void fresh_url(char *url, size_t cap)
{
  test_db_url(url, cap, tmpdir, "t", ++db_seq);
}

static inline struct store *open_fresh(void)
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

static inline struct ingest_msg msg(const char *mid, const char *cust,
                                    size_t level)
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

/* True: fixture_ingest runs each call as the committer does, in a
 * transaction of its own whose messages were announced first with
 * store_prepare_batch (on PostgreSQL the batch's rows are then read ahead
 * and its writes pipelined). Tests of the policy run both ways. */
/* The true label of the message named by message_id or, when NULL, row
 * row_id, as store_label_write records it; *verdict: the stored verdict
 * (false on any error). */
static inline enum err label_true(struct store *st, const char *message_id,
                                  int64_t row_id, bool frustrated,
                                  const char *by, int64_t now_ms, bool *verdict)
{
  struct store_label l = {.value = frustrated};
  enum err rc = store_label_write(st, message_id, row_id, by, now_ms, &l);
  *verdict = l.verdict;
  store_label_cleanup(&l);
  return rc;
}

static bool fixture_prepared;

/* store_ingest, or the committer's way of running it (fixture_prepared);
 * not for use inside a transaction the test opened. */
static inline enum err fixture_ingest(struct store *st,
                                      const struct ingest_msg *m, size_t n,
                                      const struct alert_policy *pol,
                                      int64_t now, struct ingest_result *r)
{
  if (!fixture_prepared || store_ingest_check(m, n))
    return store_ingest(st, m, n, pol, now, r);
  const struct ingest_msg *all[64];
  if (n > sizeof all / sizeof all[0])
    return ERR_INVALID;
  for (size_t i = 0; i < n; i++)
    all[i] = &m[i];
  enum err rc = store_begin(st);
  if (rc)
    return rc;
  rc = store_prepare_batch(st, all, n);
  if (!rc)
    rc = store_ingest(st, m, n, pol, now, r);
  if (!rc)
    return store_commit(st);
  store_rollback(st);
  return rc;
}

/* Runs a test once as it is and once with prepared batches. */
#define RUN_BOTH(fn)                                                           \
  do {                                                                         \
    fixture_prepared = false;                                                  \
    RUN(fn);                                                                   \
    fixture_prepared = true;                                                   \
    RUN(fn);                                                                   \
    fixture_prepared = false;                                                  \
  } while (0)

/* Ingests one message and returns its outcome (result cleaned). */
static inline enum store_alert ingest1(struct store *st, struct ingest_msg m,
                                       int64_t now, struct ingest_result *keep)
{
  struct ingest_result r;
  enum err rc = fixture_ingest(st, &m, 1, &POLICY, now, &r);
  CHECK_INT(rc, ERR_OK);
  if (rc)
    return STORE_ALERT_NONE;
  if (keep)
    *keep = r;
  else
    store_ingest_result_cleanup(&r);
  return r.outcome;
}

static inline void finish(struct store *st, int64_t id, enum store_state state,
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

static inline struct alert_policy source_policy(void)
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

static inline struct ingest_msg source_msg(const char *mid, const char *cust,
                                           size_t level, const char *type)
{
  struct ingest_msg m = msg(mid, cust, level);
  m.source_object = "don:core:dvrv-us-1:devo/0:ticket/12";
  m.source_display_id = "TKT-12";
  m.source_type = type;
  m.rev_org = "don:identity:dvrv-us-1:devo/0:revo/7";
  return m;
}

/* Creates the temporary directory the fresh databases live in, named after
 * the test program. Returns 0, or -1 (reported) when it cannot. */
static inline int fixture_begin(const char *name)
{
  snprintf(tmpdir, sizeof tmpdir, "/tmp/%s.XXXXXX", name);
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return -1;
  }
  return 0;
}

/* Removes the temporary directory and everything in it. */
static inline void fixture_end(void)
{
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
}

#endif
