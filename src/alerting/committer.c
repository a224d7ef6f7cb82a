/* committer: a writer thread that turns many submissions into one
 * transaction.
 *
 * Submissions form a FIFO under one mutex. The writer takes everything
 * queued (up to max_batch_msgs), runs store_ingest for each submission
 * inside one store_begin/store_commit, then reports to every submission.
 * While it commits, new submissions queue up and form the next batch: the
 * batch size adapts to the load by itself, with no timer.
 *
 * A synchronous submission lives on its caller's stack; the writer must not
 * touch it after marking it finished (the caller may return at once), so
 * it reads `next` first. Asynchronous submissions are heap copies freed by
 * the writer after their callback.
 *
 * An idle writer checks its store once a second after a failed
 * transaction (committing a write), and always on a database server:
 * /health then tells whether a message would be stored now, traffic or
 * not. */
#include "alerting/committer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/policy.h"
#include "base/clock.h"
#include "base/xalloc.h"

#define DEFAULT_MAX_QUEUE 65536
#define DEFAULT_MAX_BATCH 10000

/* Times a transaction given up by the backend (ERR_BUSY) runs again. */
#define BUSY_RETRIES 5
/* How often an idle writer checks its store (see check_store). */
#define CHECK_EVERY_MS 1000

struct job {
  const struct ingest_msg *msgs;
  size_t n;
  struct ingest_result *results;
  committer_done_fn done; /* NULL: synchronous */
  void *ctx;
  enum err rc;
  bool finished;
  struct job *next;
};

struct committer {
  pthread_mutex_t mu;
  pthread_cond_t work_cv;  /* the writer waits for jobs */
  pthread_cond_t done_cv;  /* synchronous submitters wait for their commit */
  pthread_cond_t space_cv; /* submitters wait for queue room */
  struct job *head, *tail;
  size_t queued_msgs;
  bool closing;
  pthread_t thread;
  struct store *st; /* the writer's own */
  struct committer_options opt;
  bool server_store; /* a database server, which may go away by itself */
  struct store_clock clock;     /* the writer's: the store's time */
  struct committer_stats stats; /* under mu */
};

_Static_assert(CONFIG_MAX_LEVELS <= STORE_MAX_LEVELS &&
                   CONFIG_LEVEL_NAME_MAX <= STORE_LEVEL_NAME_MAX,
               "the alert policy holds every configured level");

void committer_options_from_config(const struct config *cfg,
                                   struct committer_options *o)
{
  memset(o, 0, sizeof *o);
  o->policy.cooldown_ms = (int64_t)cfg->alert_cooldown_s * 1000;
  o->policy.min_level = cfg->alert_min_level;
  o->policy.escalation = cfg->escalation;
  o->policy.window_ms = (int64_t)cfg->escalate_window_s * 1000;
  o->policy.negative_count = cfg->escalate_negative_count;
  o->policy.repeat_count = cfg->escalate_repeat_count;
  o->policy.drop = cfg->escalate_drop;
  o->policy.n_levels = cfg->n_levels;
  for (size_t i = 0; i < cfg->n_levels; i++) {
    snprintf(o->policy.level_names[i], sizeof o->policy.level_names[i], "%s",
             cfg->levels[i].name);
    snprintf(o->policy.severities[i], sizeof o->policy.severities[i], "%s",
             cfg->levels[i].severity);
    o->policy.sentiments[i] = cfg->levels[i].sentiment;
  }
  o->policy.source_comment = cfg->devrev_comment_source;
  o->policy.source_ticket = cfg->devrev_source_ticket;
  o->policy.source_severity = cfg->devrev_update_severity;
  o->policy.source_sentiment = cfg->devrev_update_sentiment;
}

/* Runs one transaction over the jobs list; sets each job's rc. Returns
 * true when something for the outbox was committed. */
/* Runs the jobs in one transaction; sets each job's rc (results filled
 * only when the transaction committed). */
static enum err run_jobs(struct committer *c, struct job *jobs, int64_t now)
{
  for (struct job *j = jobs; j; j = j->next)
    j->rc = ERR_STORE;
  enum err rc = store_begin(c->st);
  if (!rc) {
    /* Every message of the transaction, announced at once: a store
     * shared by several instances locks them in one order. */
    size_t n = 0;
    for (struct job *j = jobs; j; j = j->next)
      n += j->n;
    const struct ingest_msg **all = xmalloc((n ? n : 1) * sizeof *all);
    n = 0;
    for (struct job *j = jobs; j; j = j->next)
      for (size_t i = 0; i < j->n; i++)
        all[n++] = &j->msgs[i];
    rc = store_prepare_batch(c->st, all, n);
    free(all);
  }
  for (struct job *j = jobs; j && !rc; j = j->next) {
    j->rc = store_ingest(c->st, j->msgs, j->n, &c->opt.policy, now, j->results);
    /* A backend failure may have ended the whole transaction (SQLite rolls
     * back on a full disk): commit nothing rather than a part. */
    if (j->rc == ERR_STORE || j->rc == ERR_BUSY)
      rc = j->rc;
  }
  if (!rc)
    rc = store_commit(c->st);
  else
    store_rollback(c->st);
  if (rc)
    for (struct job *j = jobs; j; j = j->next) {
      if (j->rc == ERR_OK)
        for (size_t i = 0; i < j->n; i++)
          store_ingest_result_cleanup(&j->results[i]);
      j->rc = ERR_STORE;
    }
  return rc;
}

/* Runs one transaction over the jobs list; sets each job's rc. Returns
 * true when something for the outbox was committed. */
static bool commit_jobs(struct committer *c, struct job *jobs, char *errbuf,
                        size_t errlen, enum err *trc)
{
  bool outbox = false;
  /* The store's clock: on a database server its own, so that instances
   * whose clocks disagree judge cooldowns and windows alike. */
  int64_t now = store_now_ms(c->st, &c->clock);
  enum err rc = run_jobs(c, jobs, now);
  /* ERR_BUSY: the backend broke a deadlock with another process by
   * giving this transaction up; nothing of it is stored, so it runs
   * again. */
  for (int again = 0; rc == ERR_BUSY && again < BUSY_RETRIES; again++)
    rc = run_jobs(c, jobs, now);
  *trc = rc;
  if (rc) {
    snprintf(errbuf, errlen, "%s", store_errmsg(c->st));
    return false;
  }
  for (struct job *j = jobs; j; j = j->next)
    for (size_t i = 0; i < j->n && !j->rc; i++)
      if (j->results[i].outcome == STORE_ALERT_CREATED ||
          j->results[i].outcome == STORE_ALERT_APPENDED)
        outbox = true;
  return outbox;
}

/* Whether an idle writer should look at its store now and then: after a
 * failed transaction (to learn that the store is back without waiting for
 * a message: /health reads last_rc), and always for a database server,
 * which can stop or restart while no message arrives. */
static bool wants_check(const struct committer *c)
{
  return c->stats.last_rc != ERR_OK || c->server_store;
}

/* The idle writer's check of its store (store_check); its result
 * becomes last_rc. After a failure the check commits a write: a full
 * disk lets an empty transaction begin and end, and /health would call
 * the store usable while every message fails. Called with mu held and
 * returns with it held; the store is the writer's own. */
static void check_store(struct committer *c)
{
  bool write = c->stats.last_rc != ERR_OK;
  pthread_mutex_unlock(&c->mu);
  enum err rc = store_check(c->st, write);
  char errbuf[sizeof c->stats.last_error] = "";
  if (rc)
    snprintf(errbuf, sizeof errbuf, "%s", store_errmsg(c->st));
  else
    store_now_ms(c->st, &c->clock); /* the offset, when it is due */
  pthread_mutex_lock(&c->mu);
  if (rc)
    memcpy(c->stats.last_error, errbuf, sizeof errbuf);
  c->stats.last_rc = rc;
  c->stats.clock_offset_ms = c->clock.offset_ms;
}

static void *writer(void *arg)
{
  struct committer *c = arg;
  pthread_mutex_lock(&c->mu);
  for (;;) {
    while (!c->head && !c->closing) {
      if (!wants_check(c)) {
        pthread_cond_wait(&c->work_cv, &c->mu);
        continue;
      }
      struct timespec ts =
          clock_deadline(CLOCK_REALTIME, (uint64_t)CHECK_EVERY_MS * 1000000u);
      if (pthread_cond_timedwait(&c->work_cv, &c->mu, &ts) && !c->head &&
          !c->closing)
        check_store(c);
    }
    if (!c->head)
      break; /* closing and drained */
    /* Take jobs up to the batch bound (always at least one). */
    struct job *jobs = c->head, *last = c->head;
    size_t msgs = last->n;
    while (last->next && msgs + last->next->n <= c->opt.max_batch_msgs) {
      last = last->next;
      msgs += last->n;
    }
    c->head = last->next;
    if (!c->head)
      c->tail = NULL;
    last->next = NULL;
    c->queued_msgs -= msgs;
    pthread_cond_broadcast(&c->space_cv);
    pthread_mutex_unlock(&c->mu);

    char errbuf[sizeof c->stats.last_error] = "";
    enum err trc;
    bool outbox = commit_jobs(c, jobs, errbuf, sizeof errbuf, &trc);

    pthread_mutex_lock(&c->mu);
    if (trc) {
      c->stats.failed_transactions++;
      memcpy(c->stats.last_error, errbuf, sizeof errbuf);
    } else {
      c->stats.transactions++;
      c->stats.messages += msgs;
      c->stats.last_commit_ms = clock_wall_ms();
    }
    c->stats.last_rc = trc;
    c->stats.clock_offset_ms = c->clock.offset_ms;
    c->stats.last_batch_msgs = msgs;
    if (msgs > c->stats.max_batch_msgs_seen)
      c->stats.max_batch_msgs_seen = msgs;
    /* Release the synchronous jobs; keep the asynchronous ones for their
     * callbacks outside the lock. */
    struct job *async = NULL;
    for (struct job *j = jobs, *next; j; j = next) {
      next = j->next;
      if (j->done) {
        j->next = async;
        async = j;
      } else {
        j->finished = true; /* j may vanish from here on */
      }
    }
    pthread_cond_broadcast(&c->done_cv);
    pthread_mutex_unlock(&c->mu);
    for (struct job *j = async, *next; j; j = next) {
      next = j->next;
      j->done(j->ctx, j->rc);
      free(j);
    }
    if (outbox && c->opt.on_outbox)
      c->opt.on_outbox(c->opt.on_outbox_ctx);
    pthread_mutex_lock(&c->mu);
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

enum err committer_open(const char *db_url, const struct committer_options *o,
                        char *err, size_t errlen, struct committer **out)
{
  struct committer *c = xcalloc(1, sizeof *c);
  c->opt = *o;
  if (!c->opt.max_queue_msgs)
    c->opt.max_queue_msgs = DEFAULT_MAX_QUEUE;
  if (!c->opt.max_batch_msgs)
    c->opt.max_batch_msgs = DEFAULT_MAX_BATCH;
  enum err rc = store_open(db_url, err, errlen, &c->st);
  if (rc) {
    free(c);
    return rc;
  }
  c->server_store = store_url_is_pg(db_url);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->work_cv, NULL);
  pthread_cond_init(&c->done_cv, NULL);
  pthread_cond_init(&c->space_cv, NULL);
  if (pthread_create(&c->thread, NULL, writer, c) != 0) {
    snprintf(err, errlen, "committer: cannot start the writer thread");
    pthread_cond_destroy(&c->space_cv);
    pthread_cond_destroy(&c->done_cv);
    pthread_cond_destroy(&c->work_cv);
    pthread_mutex_destroy(&c->mu);
    store_close(c->st);
    free(c);
    return ERR_INTERNAL;
  }
  *out = c;
  return ERR_OK;
}

/* Queues j, waiting for room; returns ERR_STORE if closing. Called with
 * mu held. */
static enum err enqueue(struct committer *c, struct job *j)
{
  while (!c->closing && c->queued_msgs > 0 &&
         c->queued_msgs + j->n > c->opt.max_queue_msgs)
    pthread_cond_wait(&c->space_cv, &c->mu);
  if (c->closing)
    return ERR_STORE;
  if (c->tail)
    c->tail->next = j;
  else
    c->head = j;
  c->tail = j;
  c->queued_msgs += j->n;
  c->stats.submissions++;
  pthread_cond_signal(&c->work_cv);
  return ERR_OK;
}

enum err committer_submit(struct committer *c, const struct ingest_msg *msgs,
                          size_t n, struct ingest_result *results)
{
  enum err rc = store_ingest_check(msgs, n);
  if (rc)
    return rc;
  struct job j = {.msgs = msgs, .n = n, .results = results};
  pthread_mutex_lock(&c->mu);
  rc = enqueue(c, &j);
  while (!rc && !j.finished)
    pthread_cond_wait(&c->done_cv, &c->mu);
  if (!rc)
    rc = j.rc;
  pthread_mutex_unlock(&c->mu);
  return rc;
}

enum err committer_submit_async(struct committer *c,
                                const struct ingest_msg *msgs, size_t n,
                                struct ingest_result *results,
                                committer_done_fn done, void *ctx)
{
  enum err rc = store_ingest_check(msgs, n);
  if (rc)
    return rc;
  struct job *j = xcalloc(1, sizeof *j);
  j->msgs = msgs;
  j->n = n;
  j->results = results;
  j->done = done;
  j->ctx = ctx;
  pthread_mutex_lock(&c->mu);
  rc = enqueue(c, j);
  pthread_mutex_unlock(&c->mu);
  if (rc)
    free(j);
  return rc;
}

void committer_stats(struct committer *c, struct committer_stats *out)
{
  pthread_mutex_lock(&c->mu);
  *out = c->stats;
  out->queued_msgs = c->queued_msgs;
  pthread_mutex_unlock(&c->mu);
}

int64_t committer_now_ms(struct committer *c)
{
  int64_t offset = 0;
  if (c) {
    pthread_mutex_lock(&c->mu);
    offset = c->stats.clock_offset_ms;
    pthread_mutex_unlock(&c->mu);
  }
  return clock_wall_ms() + offset;
}

void committer_close(struct committer *c)
{
  if (!c)
    return;
  pthread_mutex_lock(&c->mu);
  c->closing = true;
  pthread_cond_broadcast(&c->work_cv);
  pthread_cond_broadcast(&c->space_cv);
  pthread_mutex_unlock(&c->mu);
  pthread_join(c->thread, NULL);
  store_close(c->st);
  pthread_cond_destroy(&c->space_cv);
  pthread_cond_destroy(&c->done_cv);
  pthread_cond_destroy(&c->work_cv);
  pthread_mutex_destroy(&c->mu);
  free(c);
}
