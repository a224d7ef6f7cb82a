/* Tests of the group committer: many threads submitting at once, every
 * message committed exactly once with the right alert outcome, failures
 * reported to every waiting caller, clean shutdown.
 *
 * COMMITTER_BENCH=1 also measures throughput (messages/s with
 * synchronous=FULL) and prints it. */
#include "alerting/committer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "test_db.h"

static char tmpdir[256];
static int db_seq;

static void fresh_path(char *path, size_t cap)
{
  test_db_url(path, cap, tmpdir, "c", ++db_seq);
}

static struct committer_options opts(void)
{
  struct committer_options o = {0};
  o.policy.cooldown_ms = 3600 * 1000;
  o.policy.min_level = 2;
  return o;
}

static const char *const level_names[] = {"calm", "dissatisfied", "frustrated",
                                          "angry"};
static const char *const severities[] = {"low", "medium", "high", "blocker"};

static void fill(struct ingest_msg *m, const char *mid, const char *cust,
                 size_t level)
{
  memset(m, 0, sizeof *m);
  m->message_id = mid;
  m->customer_id = cust;
  m->level = level;
  m->level_name = level_names[level];
  m->severity = severities[level];
  m->frustrated = level >= 2;
  m->polarity = level >= 2 ? -0.5 : 0.2;
  m->text = "text";
  m->result_json = "{}";
}

/* ---- Many writers ----------------------------------------------------- */

#define THREADS 8
#define ROUNDS 150
#define MAX_BATCH 4
#define CUSTOMERS 10

struct worker {
  struct committer *c;
  int id;
  int submitted;
  int failures;
  int created[CUSTOMERS];
  int appended[CUSTOMERS];
  int frustrated[CUSTOMERS];
  int none;
};

static void *submit_loop(void *arg)
{
  struct worker *w = arg;
  char ids[MAX_BATCH][64];
  char custs[MAX_BATCH][16];
  struct ingest_msg msgs[MAX_BATCH];
  struct ingest_result res[MAX_BATCH];
  for (int r = 0; r < ROUNDS; r++) {
    size_t n = 1 + (size_t)((w->id + r) % MAX_BATCH);
    for (size_t i = 0; i < n; i++) {
      snprintf(ids[i], sizeof ids[i], "w%d-r%d-%zu", w->id, r, i);
      int cust = (w->id * 7 + r + (int)i) % CUSTOMERS;
      snprintf(custs[i], sizeof custs[i], "cust%d", cust);
      fill(&msgs[i], ids[i], custs[i], (size_t)((r + (int)i) % 4));
    }
    enum err rc = committer_submit(w->c, msgs, n, res);
    if (rc) {
      w->failures++;
      continue;
    }
    for (size_t i = 0; i < n; i++) {
      int cust = atoi(custs[i] + 4);
      w->submitted++;
      if (msgs[i].frustrated)
        w->frustrated[cust]++;
      if (res[i].outcome == STORE_ALERT_CREATED)
        w->created[cust]++;
      else if (res[i].outcome == STORE_ALERT_APPENDED)
        w->appended[cust]++;
      else if (res[i].outcome == STORE_ALERT_NONE)
        w->none++;
      store_ingest_result_cleanup(&res[i]);
    }
  }
  return NULL;
}

static atomic_int outbox_calls;
static void on_outbox(void *ctx)
{
  (void)ctx;
  atomic_fetch_add(&outbox_calls, 1);
}

static void test_concurrent_submitters(void)
{
  char path[512], err[256];
  fresh_path(path, sizeof path);
  struct committer_options o = opts();
  o.on_outbox = on_outbox;
  o.max_queue_msgs = 16; /* exercise backpressure */
  struct committer *c = NULL;
  CHECK_INT(committer_open(path, &o, err, sizeof err, &c), ERR_OK);
  if (!c)
    return;
  pthread_t th[THREADS];
  struct worker w[THREADS];
  memset(w, 0, sizeof w);
  for (int i = 0; i < THREADS; i++) {
    w[i].c = c;
    w[i].id = i;
    pthread_create(&th[i], NULL, submit_loop, &w[i]);
  }
  for (int i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  struct committer_stats s;
  committer_stats(c, &s);
  committer_close(c);

  int total = 0, failures = 0, created = 0, appended = 0;
  for (int i = 0; i < THREADS; i++) {
    total += w[i].submitted;
    failures += w[i].failures;
  }
  CHECK_INT(failures, 0);
  CHECK_INT(s.messages, (uint64_t)total);
  CHECK_INT(s.failed_transactions, 0);
  CHECK_INT(s.submissions, THREADS * ROUNDS);
  CHECK(s.transactions <= s.submissions);
  CHECK(s.max_batch_msgs_seen >= 1);
  CHECK(atomic_load(&outbox_calls) > 0);
  /* One alert per customer (long cooldown): each customer's frustrated
   * messages were created once and appended otherwise. */
  for (int k = 0; k < CUSTOMERS; k++) {
    int cr = 0, ap = 0, fr = 0;
    for (int i = 0; i < THREADS; i++) {
      cr += w[i].created[k];
      ap += w[i].appended[k];
      fr += w[i].frustrated[k];
    }
    CHECK_INT(cr, fr > 0 ? 1 : 0);
    CHECK_INT(cr + ap, fr);
    created += cr;
    appended += ap;
  }

  /* Everything is on disk, once. */
  struct store *st = NULL;
  CHECK_INT(store_open(path, err, sizeof err, &st), ERR_OK);
  if (!st)
    return;
  struct store_counts cnt;
  CHECK_INT(store_counts(st, &cnt), ERR_OK);
  CHECK_INT(cnt.messages, total);
  CHECK_INT(cnt.alerts, created);
  CHECK(cnt.outbox_pending >= created + appended);
  for (int i = 0; i < THREADS; i++)
    for (int r = 0; r < ROUNDS; r += 37) {
      char id[64];
      snprintf(id, sizeof id, "w%d-r%d-0", i, r);
      struct store_message m;
      bool found = false;
      CHECK_INT(store_message_get(st, id, &m, &found), ERR_OK);
      CHECK(found);
      store_message_cleanup(&m);
    }
  store_close(st);
}

/* ---- The same message_id from several threads ------------------------- */

struct dup_arg {
  struct committer *c;
  enum store_alert outcome;
  enum err rc;
};

static void *submit_dup(void *arg)
{
  struct dup_arg *a = arg;
  struct ingest_msg m;
  struct ingest_result r;
  fill(&m, "same-id", "zed", 2);
  a->rc = committer_submit(a->c, &m, 1, &r);
  if (!a->rc) {
    a->outcome = r.outcome;
    store_ingest_result_cleanup(&r);
  }
  return NULL;
}

static void test_concurrent_duplicates(void)
{
  char path[512], err[256];
  fresh_path(path, sizeof path);
  struct committer_options o = opts();
  struct committer *c = NULL;
  CHECK_INT(committer_open(path, &o, err, sizeof err, &c), ERR_OK);
  if (!c)
    return;
  pthread_t th[6];
  struct dup_arg a[6];
  for (int i = 0; i < 6; i++) {
    a[i].c = c;
    pthread_create(&th[i], NULL, submit_dup, &a[i]);
  }
  int created = 0, dups = 0;
  for (int i = 0; i < 6; i++) {
    pthread_join(th[i], NULL);
    CHECK_INT(a[i].rc, ERR_OK);
    created += a[i].outcome == STORE_ALERT_CREATED;
    dups += a[i].outcome == STORE_ALERT_DUPLICATE;
  }
  CHECK_INT(created, 1);
  CHECK_INT(dups, 5);
  committer_close(c);
}

/* ---- Asynchronous submissions and shutdown ---------------------------- */

struct async_req {
  struct ingest_msg m;
  struct ingest_result r;
  char id[32];
  atomic_int done;
  enum err rc;
};

static void async_done(void *ctx, enum err rc)
{
  struct async_req *q = ctx;
  q->rc = rc;
  atomic_store(&q->done, 1);
}

static void test_async_and_close(void)
{
  char path[512], err[256];
  fresh_path(path, sizeof path);
  struct committer_options o = opts();
  struct committer *c = NULL;
  CHECK_INT(committer_open(path, &o, err, sizeof err, &c), ERR_OK);
  if (!c)
    return;
  enum { N = 300 };
  struct async_req *q = calloc(N, sizeof *q);
  for (int i = 0; i < N; i++) {
    snprintf(q[i].id, sizeof q[i].id, "a%d", i);
    fill(&q[i].m, q[i].id, "amy", (size_t)(i % 4));
    CHECK_INT(committer_submit_async(c, &q[i].m, 1, &q[i].r, async_done, &q[i]),
              ERR_OK);
  }
  /* Close commits what was submitted, then refuses more. */
  committer_close(c);
  int done = 0, ok = 0;
  for (int i = 0; i < N; i++) {
    done += atomic_load(&q[i].done);
    ok += q[i].rc == ERR_OK;
    store_ingest_result_cleanup(&q[i].r);
  }
  CHECK_INT(done, N);
  CHECK_INT(ok, N);
  struct store *st = NULL;
  CHECK_INT(store_open(path, err, sizeof err, &st), ERR_OK);
  struct store_counts cnt;
  CHECK_INT(store_counts(st, &cnt), ERR_OK);
  CHECK_INT(cnt.messages, N);
  CHECK_INT(cnt.alerts, 1);
  store_close(st);
  free(q);
}

/* ---- Failures --------------------------------------------------------- */

static void test_invalid_and_store_error(void)
{
  char path[512], url[600], err[256];
  if (test_pg()) /* the write lock held below is SQLite's */
    return;
  fresh_path(path, sizeof path);
  snprintf(url, sizeof url, "sqlite:%s?busy_timeout_ms=100", path);
  struct committer_options o = opts();
  struct committer *c = NULL;
  CHECK_INT(committer_open(url, &o, err, sizeof err, &c), ERR_OK);
  if (!c)
    return;
  struct ingest_msg m[2];
  struct ingest_result r[2];
  fill(&m[0], "ok1", "bea", 2);
  fill(&m[1], "bad", NULL, 2);
  CHECK_INT(committer_submit(c, m, 2, r), ERR_INVALID);
  CHECK_INT(committer_submit_async(c, m, 2, r, async_done, NULL), ERR_INVALID);

  /* Another handle holds the write lock: the transaction cannot start and
   * every caller in it gets ERR_STORE; nothing is committed. */
  struct store *blocker = NULL;
  CHECK_INT(store_open(path, err, sizeof err, &blocker), ERR_OK);
  CHECK_INT(store_begin(blocker), ERR_OK);
  fill(&m[1], "ok2", "bea", 3);
  CHECK_INT(committer_submit(c, m, 2, r), ERR_STORE);
  struct committer_stats s;
  committer_stats(c, &s);
  CHECK_INT(s.failed_transactions, 1);
  CHECK_INT(s.last_rc, ERR_STORE);
  CHECK(strstr(s.last_error, "locked") != NULL);
  store_rollback(blocker);
  /* The lock is gone: the same messages now commit. */
  CHECK_INT(committer_submit(c, m, 2, r), ERR_OK);
  CHECK_INT(r[0].outcome, STORE_ALERT_CREATED);
  CHECK_INT(r[1].outcome, STORE_ALERT_APPENDED);
  committer_stats(c, &s);
  CHECK_INT(s.last_rc, ERR_OK);
  CHECK_INT(s.messages, 2);
  store_ingest_result_cleanup(&r[0]);
  store_ingest_result_cleanup(&r[1]);
  struct store_counts cnt;
  CHECK_INT(store_counts(blocker, &cnt), ERR_OK);
  CHECK_INT(cnt.messages, 2);
  store_close(blocker);
  committer_close(c);
  committer_close(NULL);
}

/* A store that cannot open. */
static void test_store_cannot_open(void)
{
  char err[256];
  struct committer_options o = opts();
  struct committer *c = NULL;
  CHECK_INT(committer_open("postgres://u@127.0.0.1:1/y", &o, err, sizeof err,
                           &c),
            ERR_STORE);
  CHECK(c == NULL);
}

/* ---- Throughput (COMMITTER_BENCH=1) ----------------------------------- */

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct bench_arg {
  struct committer *c;
  int id;
  int per_request;
  double until;
  long messages;
};

static void *bench_loop(void *arg)
{
  struct bench_arg *b = arg;
  char ids[16][48];
  char cust[32];
  struct ingest_msg m[16];
  struct ingest_result r[16];
  for (long k = 0; now_s() < b->until; k++) {
    for (int i = 0; i < b->per_request; i++) {
      snprintf(ids[i], sizeof ids[i], "b%d-%ld-%d", b->id, k, i);
      snprintf(cust, sizeof cust, "c%ld", (k * 31 + b->id) % 1000);
      fill(&m[i], ids[i], cust, (size_t)((k + i) % 4));
    }
    if (committer_submit(b->c, m, (size_t)b->per_request, r) == ERR_OK) {
      b->messages += b->per_request;
      for (int i = 0; i < b->per_request; i++)
        store_ingest_result_cleanup(&r[i]);
    }
  }
  return NULL;
}

static void bench(int threads, int per_request, double seconds)
{
  char path[512], err[256];
  fresh_path(path, sizeof path);
  struct committer_options o = opts();
  struct committer *c = NULL;
  if (committer_open(path, &o, err, sizeof err, &c))
    return;
  pthread_t *th = calloc((size_t)threads, sizeof *th);
  struct bench_arg *a = calloc((size_t)threads, sizeof *a);
  double t0 = now_s();
  for (int i = 0; i < threads; i++) {
    a[i] = (struct bench_arg){
        .c = c, .id = i, .per_request = per_request, .until = t0 + seconds};
    pthread_create(&th[i], NULL, bench_loop, &a[i]);
  }
  long total = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(th[i], NULL);
    total += a[i].messages;
  }
  double dt = now_s() - t0;
  struct committer_stats s;
  committer_stats(c, &s);
  committer_close(c);
  printf("committer bench: %3d threads x %2d msgs/request: %8.0f msgs/s, "
         "%6.0f commits/s, mean %.1f msgs/commit, max %zu\n",
         threads, per_request, total / dt, s.transactions / dt,
         s.transactions ? (double)s.messages / s.transactions : 0.0,
         s.max_batch_msgs_seen);
  free(th);
  free(a);
}

/* One thread keeping `window` asynchronous single-message submissions in
 * flight: the shape of a server that suspends requests. */
struct slot {
  struct ingest_msg m;
  struct ingest_result r;
  char id[48];
  atomic_int busy;
};

static void slot_done(void *ctx, enum err rc)
{
  struct slot *s = ctx;
  if (!rc)
    store_ingest_result_cleanup(&s->r);
  atomic_store(&s->busy, 0);
}

static void bench_async(int window, double seconds)
{
  char path[512], err[256];
  fresh_path(path, sizeof path);
  struct committer_options o = opts();
  struct committer *c = NULL;
  if (committer_open(path, &o, err, sizeof err, &c))
    return;
  struct slot *slots = calloc((size_t)window, sizeof *slots);
  char(*custs)[16] = calloc((size_t)window, 16);
  long total = 0;
  double t0 = now_s(), until = t0 + seconds;
  while (now_s() < until) {
    bool any = false;
    for (int i = 0; i < window; i++) {
      if (atomic_load(&slots[i].busy))
        continue;
      any = true;
      snprintf(slots[i].id, sizeof slots[i].id, "as%d-%ld", i, total);
      snprintf(custs[i], 16, "c%ld", total % 1000);
      fill(&slots[i].m, slots[i].id, custs[i], (size_t)(total % 4));
      atomic_store(&slots[i].busy, 1);
      if (committer_submit_async(c, &slots[i].m, 1, &slots[i].r, slot_done,
                                 &slots[i]))
        atomic_store(&slots[i].busy, 0);
      else
        total++;
    }
    if (!any)
      usleep(50);
  }
  committer_close(c); /* waits for the ones in flight */
  double dt = now_s() - t0;
  printf("committer bench: async window %4d:              %8.0f msgs/s\n",
         window, total / dt);
  free(slots);
  free(custs);
}

int main(void)
{
  snprintf(tmpdir, sizeof tmpdir, "/tmp/test_committer.XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  RUN(test_concurrent_submitters);
  RUN(test_concurrent_duplicates);
  RUN(test_async_and_close);
  RUN(test_invalid_and_store_error);
  RUN(test_store_cannot_open);
  if (getenv("COMMITTER_BENCH")) {
    double secs = atof(getenv("COMMITTER_BENCH"));
    if (secs < 1)
      secs = 3;
    bench(1, 1, secs);
    bench(2, 1, secs);
    bench(16, 1, secs);
    bench(64, 1, secs);
    bench(256, 1, secs);
    bench(16, 10, secs);
    bench(64, 10, secs);
    bench_async(64, secs);
    bench_async(512, secs);
  }
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  HARNESS_EXIT();
}
