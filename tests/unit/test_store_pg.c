/* What the PostgreSQL backend promises beyond the store's contract (which
 * test_store*.c check on both backends): several processes on one
 * database. Each handle here stands for an instance; threads make two of
 * them act at the same moment. Runs only on a server (tests/with_pg.py
 * sets STORE_TEST_PG); without one it exits 77, reported as skipped. */
#include "store/store.h"

#include <pthread.h>

#include "base/clock.h"

#include "store_fixture.h"

static struct store *open_url(const char *url)
{
  char err[256];
  struct store *st = NULL;
  enum err rc = store_open(url, err, sizeof err, &st);
  if (rc)
    fprintf(stderr, "store_open(%s): %s\n", url, err);
  return st;
}

/* Two handles on one fresh database, standing for two instances: the
 * setup of most tests here. Returns false (a failed check) when either
 * cannot be opened; the caller closes both, NULL or not. */
static bool open_two(struct store **a, struct store **b)
{
  char url[512];
  fresh_url(url, sizeof url);
  *a = open_url(url);
  *b = open_url(url);
  CHECK(*a && *b);
  return *a && *b;
}

/* ---- Two instances at the same moment --------------------------------- */

#define ROUNDS 40

struct racer {
  struct store *st;
  pthread_barrier_t *go;
  const char *prefix; /* message ids prefix<i>, customers c<i> */
  bool same_id;       /* both racers send the same message id */
  enum err rc[ROUNDS];
  enum store_alert outcome[ROUNDS];
  int64_t row[ROUNDS];
  int64_t alert[ROUNDS];
};

static void *race(void *arg)
{
  struct racer *r = arg;
  for (int i = 0; i < ROUNDS; i++) {
    char mid[32], cust[32];
    snprintf(mid, sizeof mid, "%s%d", r->same_id ? "m" : r->prefix, i);
    snprintf(cust, sizeof cust, "c%d", i);
    struct ingest_msg m = msg(mid, cust, 2);
    struct ingest_result res;
    pthread_barrier_wait(r->go);
    r->rc[i] = store_ingest(r->st, &m, 1, &POLICY, T0 + i, &res);
    if (!r->rc[i]) {
      r->outcome[i] = res.outcome;
      r->row[i] = res.row_id;
      r->alert[i] = res.alert_id;
      store_ingest_result_cleanup(&res);
    }
  }
  return NULL;
}

static void run_race(bool same_id, struct racer *a, struct racer *b)
{
  char url[512];
  fresh_url(url, sizeof url);
  pthread_barrier_t go;
  pthread_barrier_init(&go, NULL, 2);
  *a = (struct racer){.st = open_url(url), .go = &go, .prefix = "a",
                      .same_id = same_id};
  *b = (struct racer){.st = open_url(url), .go = &go, .prefix = "b",
                      .same_id = same_id};
  if (a->st && b->st) {
    pthread_t ta, tb;
    pthread_create(&ta, NULL, race, a);
    pthread_create(&tb, NULL, race, b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
  }
  CHECK(a->st && b->st);
  pthread_barrier_destroy(&go);
}

/* The same message id at two instances at once: one stores it, the other
 * waits for that commit and answers it as a duplicate of the same row. */
static void test_same_message_at_once(void)
{
  struct racer a, b;
  run_race(true, &a, &b);
  int dups = 0;
  for (int i = 0; i < ROUNDS && a.st && b.st; i++) {
    CHECK_INT(a.rc[i], ERR_OK);
    CHECK_INT(b.rc[i], ERR_OK);
    CHECK_INT(a.row[i], b.row[i]);
    CHECK_INT(a.alert[i], b.alert[i]);
    bool one_dup = (a.outcome[i] == STORE_ALERT_DUPLICATE) !=
                   (b.outcome[i] == STORE_ALERT_DUPLICATE);
    CHECK(one_dup);
    dups += one_dup;
  }
  CHECK_INT(dups, ROUNDS);
  struct store_counts c = {0};
  if (a.st)
    CHECK_INT(store_counts(a.st, &c), ERR_OK);
  CHECK_INT(c.messages, ROUNDS);
  CHECK_INT(c.alerts, ROUNDS);
  CHECK_INT(c.outbox_pending, ROUNDS); /* one create_ticket each */
  store_close(a.st);
  store_close(b.st);
}

/* Two frustrated messages of one customer at two instances at once: one
 * alert, which the second message joins. */
static void test_same_customer_at_once(void)
{
  struct racer a, b;
  run_race(false, &a, &b);
  for (int i = 0; i < ROUNDS && a.st && b.st; i++) {
    CHECK_INT(a.rc[i], ERR_OK);
    CHECK_INT(b.rc[i], ERR_OK);
    CHECK_INT(a.alert[i], b.alert[i]);
    CHECK((a.outcome[i] == STORE_ALERT_CREATED &&
           b.outcome[i] == STORE_ALERT_APPENDED) ||
          (a.outcome[i] == STORE_ALERT_APPENDED &&
           b.outcome[i] == STORE_ALERT_CREATED));
  }
  struct store_counts c = {0};
  if (a.st)
    CHECK_INT(store_counts(a.st, &c), ERR_OK);
  CHECK_INT(c.messages, 2 * ROUNDS);
  CHECK_INT(c.alerts, ROUNDS);
  CHECK_INT(c.outbox_pending, 2 * ROUNDS); /* a create and a comment */
  store_close(a.st);
  store_close(b.st);
}

/* Batches whose messages two instances hold in opposite orders: the
 * batch locks are taken sorted, so neither waits for the other forever
 * (no deadlock to break, no ERR_BUSY). */
struct batcher {
  struct store *st;
  pthread_barrier_t *go;
  bool reverse;
  enum err rc;
};

static void *batch_race(void *arg)
{
  struct batcher *b = arg;
  b->rc = ERR_OK;
  for (int round = 0; round < 10 && !b->rc; round++) {
    struct ingest_msg m[8];
    char ids[8][32], cust[8][32];
    const struct ingest_msg *all[8];
    for (int i = 0; i < 8; i++) {
      int k = b->reverse ? 7 - i : i;
      snprintf(ids[i], sizeof ids[i], "r%d-%d-%s", round, k,
               b->reverse ? "b" : "a");
      snprintf(cust[i], sizeof cust[i], "cust%d", k);
      m[i] = msg(ids[i], cust[i], 2);
      all[i] = &m[i];
    }
    struct ingest_result res[8];
    pthread_barrier_wait(b->go);
    b->rc = store_begin(b->st);
    if (!b->rc)
      b->rc = store_prepare_batch(b->st, all, 8);
    if (!b->rc)
      b->rc = store_ingest(b->st, m, 8, &POLICY, T0 + round, res);
    if (!b->rc) {
      b->rc = store_commit(b->st);
      for (int i = 0; i < 8; i++)
        store_ingest_result_cleanup(&res[i]);
    } else {
      store_rollback(b->st);
    }
  }
  return NULL;
}

static void test_batches_in_opposite_orders(void)
{
  char url[512];
  fresh_url(url, sizeof url);
  pthread_barrier_t go;
  pthread_barrier_init(&go, NULL, 2);
  struct batcher a = {.st = open_url(url), .go = &go, .reverse = false};
  struct batcher b = {.st = open_url(url), .go = &go, .reverse = true};
  if (a.st && b.st) {
    pthread_t ta, tb;
    pthread_create(&ta, NULL, batch_race, &a);
    pthread_create(&tb, NULL, batch_race, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK_INT(a.rc, ERR_OK);
    CHECK_INT(b.rc, ERR_OK);
    struct store_counts c;
    CHECK_INT(store_counts(a.st, &c), ERR_OK);
    CHECK_INT(c.messages, 160);
    CHECK_INT(c.alerts, 8); /* one per customer */
  }
  CHECK(a.st && b.st);
  pthread_barrier_destroy(&go);
  store_close(a.st);
  store_close(b.st);
}

/* ---- The shared outbox ------------------------------------------------ */

/* A lease that ran out passes to the next claim; the first claimant's
 * late finish then changes nothing (fencing), the new owner's counts. */
static void test_fencing(void)
{
  struct store *a, *b;
  if (!open_two(&a, &b))
    goto out;
  CHECK_INT(ingest1(a, msg("1", "fay", 2), T0, NULL), STORE_ALERT_CREATED);
  struct store_entry ea, eb;
  bool found = false;
  CHECK_INT(store_outbox_claim(a, T0, 1000, &ea, &found), ERR_OK);
  CHECK(found && ea.lease > 0);
  /* Still leased: b finds nothing. */
  CHECK_INT(store_outbox_claim(b, T0 + 500, 1000, &eb, &found), ERR_OK);
  CHECK(!found);
  /* Lease over: b takes it, with a new token and the unknown mark. */
  CHECK_INT(store_outbox_claim(b, T0 + 2000, 60000, &eb, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(eb.id, ea.id);
  CHECK(eb.lease > ea.lease);
  CHECK(eb.outcome_unknown);
  CHECK_INT(eb.attempts, 2);
  /* a's answer arrives late: refused, nothing written. */
  struct store_finish late = {.entry_id = ea.id,
                              .lease = ea.lease,
                              .state = STORE_DONE,
                              .ticket_id = "don:late"};
  CHECK_INT(store_outbox_finish(a, &late, T0 + 2100), ERR_BUSY);
  CHECK(strstr(store_errmsg(a), "another claim owns it") != NULL);
  struct store_alert_row al;
  CHECK_INT(store_alert_get(b, ea.alert_id, &al), ERR_OK);
  CHECK(al.ticket_id == NULL);
  store_alert_row_cleanup(&al);
  /* A transaction of a's that saw the refusal is not poisoned. */
  CHECK_INT(ingest1(a, msg("2", "gus", 0), T0 + 2200, NULL), STORE_ALERT_NONE);
  /* The owner's finish counts. */
  struct store_finish own = {.entry_id = eb.id,
                             .lease = eb.lease,
                             .state = STORE_DONE,
                             .ticket_id = "don:b",
                             .ticket_display_id = "TKT-2"};
  CHECK_INT(store_outbox_finish(b, &own, T0 + 2300), ERR_OK);
  CHECK_INT(store_alert_get(a, ea.alert_id, &al), ERR_OK);
  CHECK_STR(al.ticket_id ? al.ticket_id : "", "don:b");
  store_alert_row_cleanup(&al);
  /* And once done, a stale claimant cannot reopen it either. */
  late.state = STORE_PENDING;
  CHECK_INT(store_outbox_finish(a, &late, T0 + 2400), ERR_BUSY);
  struct store_counts c;
  CHECK_INT(store_counts(a, &c), ERR_OK);
  CHECK_INT(c.outbox_done, 1);
  CHECK_INT(c.outbox_pending, 0);
  store_entry_cleanup(&ea);
  store_entry_cleanup(&eb);
out:
  store_close(a);
  store_close(b);
}

/* Recovery at an instance's start releases the leases of instances that
 * are gone, never those of one that is alive. */
static void test_recovery_spares_live_instances(void)
{
  char url[512];
  fresh_url(url, sizeof url);
  struct store *a = open_url(url), *b = open_url(url), *c = open_url(url);
  CHECK(a && b && c);
  if (!a || !b || !c)
    goto out;
  long pid = 0;
  CHECK_INT(store_own(a, &pid), ERR_OK);
  CHECK_INT(store_own(b, &pid), ERR_OK); /* several owners: fine */
  CHECK_INT(ingest1(a, msg("1", "ann", 2), T0, NULL), STORE_ALERT_CREATED);
  CHECK_INT(ingest1(a, msg("2", "ben", 2), T0, NULL), STORE_ALERT_CREATED);
  struct store_entry ea, eb;
  bool found = false;
  CHECK_INT(store_outbox_claim(a, T0, 600000, &ea, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(store_outbox_claim(b, T0, 600000, &eb, &found), ERR_OK);
  CHECK(found);
  CHECK(ea.id != eb.id);
  /* b dies (its session ends: the lock goes with it). */
  store_close(b);
  b = NULL;
  CHECK_INT(store_own(c, &pid), ERR_OK);
  size_t released = 0;
  CHECK_INT(store_outbox_recover(c, &released), ERR_OK);
  CHECK_INT(released, 1);
  struct store_entry ec;
  CHECK_INT(store_outbox_claim(c, T0 + 1, 600000, &ec, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(ec.id, eb.id); /* b's entry, not a's */
  CHECK(ec.outcome_unknown);
  struct store_finish f = {
      .entry_id = ec.id, .lease = ec.lease, .state = STORE_DONE};
  CHECK_INT(store_outbox_finish(c, &f, T0 + 2), ERR_OK);
  store_entry_cleanup(&ec);
  CHECK_INT(store_outbox_claim(c, T0 + 3, 600000, &ec, &found), ERR_OK);
  CHECK(!found); /* a's lease holds */
  CHECK_INT(store_owner(c, &pid), ERR_OK);
  CHECK_INT(pid, (long)getpid());
  store_entry_cleanup(&ea);
  store_entry_cleanup(&eb);
  store_entry_cleanup(&ec);
out:
  store_close(a);
  store_close(b);
  store_close(c);
}

/* DevRev's 429 seen by one instance holds back every instance's claims
 * until it ends; a shorter pause never shortens it. */
static void test_shared_pause(void)
{
  struct store *a, *b;
  if (!open_two(&a, &b))
    goto out;
  CHECK_INT(ingest1(a, msg("1", "cy", 2), T0, NULL), STORE_ALERT_CREATED);
  CHECK_INT(store_delivery_pause(a, T0 + 5000, "HTTP 429"), ERR_OK);
  CHECK_INT(store_delivery_pause(a, T0 + 3000, "HTTP 429"), ERR_OK);
  struct store_entry e;
  bool found = true;
  CHECK_INT(store_outbox_claim(b, T0 + 4000, 1000, &e, &found), ERR_OK);
  CHECK(!found);
  struct store_outbox_stats s;
  CHECK_INT(store_outbox_stats(b, T0 + 4000, &s), ERR_OK);
  CHECK_INT(s.paused_until_ms, T0 + 5000);
  CHECK_INT(s.pending, 1);
  CHECK_INT(store_outbox_claim(b, T0 + 5000, 1000, &e, &found), ERR_OK);
  CHECK(found);
  store_entry_cleanup(&e);
  CHECK_INT(store_outbox_stats(b, T0 + 5000, &s), ERR_OK);
  CHECK_INT(s.paused_until_ms, 0);
out:
  store_close(a);
  store_close(b);
}

/* ---- Schema and connection -------------------------------------------- */

struct opener {
  const char *url;
  struct store *st;
};

static void *open_thread(void *arg)
{
  struct opener *o = arg;
  o->st = open_url(o->url);
  return NULL;
}

/* Instances starting together on an empty database: one migrates, the
 * others wait for it and find the schema current. */
static void test_migrations_at_once(void)
{
  char url[512];
  fresh_url(url, sizeof url);
  struct opener o[4];
  pthread_t t[4];
  for (int i = 0; i < 4; i++) {
    o[i] = (struct opener){.url = url};
    pthread_create(&t[i], NULL, open_thread, &o[i]);
  }
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  for (int i = 0; i < 4; i++) {
    CHECK(o[i].st != NULL);
    int v = 0;
    if (o[i].st)
      CHECK_INT(store_schema_version(o[i].st, &v), ERR_OK);
    CHECK_INT(v, STORE_SCHEMA_VERSION);
    store_close(o[i].st);
  }
}

/* The server ends the connection (a restart, a failover): the statement
 * under way fails, and the next transaction connects again by itself. */
static void test_reconnect(void)
{
  struct store *st, *killer;
  if (!open_two(&st, &killer))
    goto out;
  CHECK_INT(ingest1(st, msg("1", "dee", 0), T0, NULL), STORE_ALERT_NONE);
  /* Another session ends st's (its pid is the one that is not killer's
   * in this schema's search_path: mark it by its application name). */
  CHECK_INT(store_begin(st), ERR_OK);
  PGconn *k = PQconnectdb(test_pg());
  PGresult *r = PQexec(k, "SELECT pg_terminate_backend(pid) FROM"
                          " pg_stat_activity WHERE state = 'idle in"
                          " transaction' AND application_name ="
                          " 'frustration-alert'");
  CHECK_INT(PQresultStatus(r), PGRES_TUPLES_OK);
  CHECK_INT(PQntuples(r), 1);
  PQclear(r);
  PQfinish(k);
  struct ingest_msg m = msg("2", "dee", 0);
  struct ingest_result res;
  CHECK_INT(store_ingest(st, &m, 1, &POLICY, T0 + 1, &res), ERR_STORE);
  CHECK(strstr(store_errmsg(st), "postgresql") != NULL);
  CHECK_INT(store_commit(st), ERR_STORE);
  /* Nothing of it was stored; the next transaction works. */
  CHECK_INT(ingest1(st, msg("2", "dee", 0), T0 + 2, NULL), STORE_ALERT_NONE);
  struct store_counts c;
  CHECK_INT(store_counts(killer, &c), ERR_OK);
  CHECK_INT(c.messages, 2);
out:
  store_close(st);
  store_close(killer);
}

/* The server ends an idle session (a restart or a failover between two
 * requests): the next transaction starts on a new connection at once,
 * not after failing once. */
static void test_reconnect_idle(void)
{
  char url[512];
  fresh_url(url, sizeof url);
  struct store *st = open_url(url);
  CHECK(st != NULL);
  if (!st)
    return;
  CHECK_INT(ingest1(st, msg("1", "eve", 0), T0, NULL), STORE_ALERT_NONE);
  PGconn *k = PQconnectdb(test_pg());
  PGresult *r = PQexec(k, "SELECT pg_terminate_backend(pid) FROM"
                          " pg_stat_activity WHERE state = 'idle' AND"
                          " application_name = 'frustration-alert'");
  CHECK_INT(PQresultStatus(r), PGRES_TUPLES_OK);
  CHECK_INT(PQntuples(r), 1);
  PQclear(r);
  PQfinish(k);
  /* Let the server finish ending it. */
  usleep(200 * 1000);
  CHECK_INT(ingest1(st, msg("2", "eve", 0), T0 + 1, NULL), STORE_ALERT_NONE);
  struct store_counts c;
  CHECK_INT(store_counts(st, &c), ERR_OK);
  CHECK_INT(c.messages, 2);
  store_close(st);
}

/* An instance that stalls inside a transaction (its process stopped,
 * its network gone; here a handle that never commits) holds back the
 * other instances' messages of the same customer only until the server
 * ends its session (idle_in_transaction_session_timeout, 10 s unless the
 * URL or the server set it: 0.5 s here). */
static void test_stalled_instance(void)
{
  char url[512], stalled[700];
  fresh_url(url, sizeof url);
  snprintf(stalled, sizeof stalled,
           "%s%%20-cidle_in_transaction_session_timeout%%3D500", url);
  struct store *a = open_url(stalled), *b = open_url(url);
  CHECK(a && b);
  if (!a || !b)
    goto out;
  struct ingest_msg m = msg("s1", "sam", 2);
  struct ingest_result r;
  CHECK_INT(store_begin(a), ERR_OK);
  CHECK_INT(store_ingest(a, &m, 1, &POLICY, T0, &r), ERR_OK);
  store_ingest_result_cleanup(&r);
  /* a holds sam's lock and says nothing more. */
  int64_t t0 = (int64_t)clock_mono_ms();
  CHECK_INT(ingest1(b, msg("s2", "sam", 2), T0 + 1, NULL),
            STORE_ALERT_CREATED);
  int64_t waited = (int64_t)clock_mono_ms() - t0;
  CHECK(waited >= 400);
  CHECK(waited < 5000);
  /* a's transaction was ended by the server: nothing of it is stored. */
  CHECK_INT(store_commit(a), ERR_STORE);
  struct store_counts c;
  CHECK_INT(store_counts(b, &c), ERR_OK);
  CHECK_INT(c.messages, 1);
  CHECK_INT(c.alerts, 1);
  /* And a works again afterwards. */
  CHECK_INT(ingest1(a, msg("s3", "sam", 2), T0 + 2, NULL),
            STORE_ALERT_APPENDED);
out:
  store_close(a);
  store_close(b);
}

/* A label given while the message's batch is still being written by
 * another instance: neither its row id nor its message_id names a message
 * yet (ERR_NOT_FOUND at once, no wait for the batch, nothing written);
 * once committed both do. A row id the batch took and left unused (a
 * rollback) never does. */
static void test_label_before_commit(void)
{
  struct store *a, *b;
  if (!open_two(&a, &b))
    goto out;
  struct ingest_msg m[2] = {msg(NULL, "pia", 2), msg("pc2", "pia", 0)};
  const struct ingest_msg *all[2] = {&m[0], &m[1]};
  struct ingest_result r[2] = {0};
  CHECK_INT(store_begin(a), ERR_OK);
  CHECK_INT(store_prepare_batch(a, all, 2), ERR_OK);
  CHECK_INT(store_ingest(a, m, 2, &POLICY, T0, r), ERR_OK);
  /* Reading through a sends the held-back rows: they are in the table,
   * uncommitted, and a sees them. */
  struct store_message got;
  bool found = false;
  CHECK_INT(store_message_get_row(a, r[0].row_id, &got, &found), ERR_OK);
  CHECK(found);
  store_message_cleanup(&got);

  bool verdict = false;
  int64_t t0 = clock_mono_ms();
  CHECK_INT(label_true(b, NULL, r[0].row_id, false, "ann", T0, &verdict),
            ERR_NOT_FOUND);
  CHECK_INT(label_true(b, "pc2", 0, true, "ann", T0, &verdict), ERR_NOT_FOUND);
  CHECK_INT(store_message_get_row(b, r[0].row_id, &got, &found), ERR_OK);
  CHECK(!found);
  store_message_cleanup(&got);
  CHECK(clock_mono_ms() - t0 < 2000);

  CHECK_INT(store_commit(a), ERR_OK);
  CHECK_INT(label_true(b, NULL, r[0].row_id, false, "ann", T0 + 1, &verdict),
            ERR_OK);
  CHECK(verdict);
  CHECK_INT(label_true(b, NULL, r[1].row_id, true, "ann", T0 + 1, &verdict),
            ERR_OK);
  CHECK(!verdict);
  CHECK_INT(store_message_get(a, "pc2", &got, &found), ERR_OK);
  CHECK(found && got.labelled && got.label);
  store_message_cleanup(&got);

  /* A batch rolled back leaves its row ids unused for good. */
  struct ingest_msg late = msg(NULL, "pia", 0);
  const struct ingest_msg *one[1] = {&late};
  struct ingest_result lr = {0};
  CHECK_INT(store_begin(a), ERR_OK);
  CHECK_INT(store_prepare_batch(a, one, 1), ERR_OK);
  CHECK_INT(store_ingest(a, &late, 1, &POLICY, T0 + 2, &lr), ERR_OK);
  CHECK(lr.row_id > r[1].row_id);
  store_rollback(a);
  CHECK_INT(label_true(b, NULL, lr.row_id, true, NULL, T0 + 3, &verdict),
            ERR_NOT_FOUND);
  struct store_counts c = {0};
  CHECK_INT(store_counts(b, &c), ERR_OK);
  CHECK_INT(c.messages, 2);
  store_ingest_result_cleanup(&lr);
  for (int i = 0; i < 2; i++)
    store_ingest_result_cleanup(&r[i]);
out:
  store_close(a);
  store_close(b);
}

int main(void)
{
  if (!test_pg()) {
    printf("SKIP: STORE_TEST_PG is not set (run through tests/with_pg.py)\n");
    return 77;
  }
  if (fixture_begin("test_store_pg"))
    return 1;
  RUN(test_same_message_at_once);
  RUN(test_same_customer_at_once);
  RUN(test_batches_in_opposite_orders);
  RUN(test_fencing);
  RUN(test_recovery_spares_live_instances);
  RUN(test_shared_pause);
  RUN(test_migrations_at_once);
  RUN(test_reconnect);
  RUN(test_reconnect_idle);
  RUN(test_stalled_instance);
  RUN(test_label_before_commit);
  fixture_end();
  HARNESS_EXIT();
}
