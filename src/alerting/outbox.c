/* outbox: the delivery worker (see outbox.h for the guarantees).
 *
 * One loop: claim the oldest due entry, deliver it, record the outcome,
 * repeat; when nothing is due, refresh the statistics, run retention, and
 * sleep until woken, until the next retry is due, or for one tick.
 *
 * The store is the only memory that matters: every decision (retry time,
 * the unknown-outcome mark, dead letters) is written there before the
 * next entry is taken, so a restart resumes exactly. The mutex guards
 * only the wake flag, the stop flag and the statistics snapshot. */
#include "alerting/outbox.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alerting/payload.h"
#include "base/clock.h"
#include "base/xalloc.h"
#include "store/store.h"

#define DEFAULT_BACKOFF_BASE_MS 1000
#define DEFAULT_BACKOFF_MAX_MS (5 * 60 * 1000)
#define DEFAULT_TICK_MS 1000
#define DEFAULT_LOOKUP_MARGIN_MS (10 * 60 * 1000)
#define DEFAULT_LEASE_MS (5 * 60 * 1000)
#define DEFAULT_RETRY_AFTER_MAX_MS (5 * 60 * 1000)
/* Retention runs at most this often, in chunks of this many messages. */
#define RETENTION_EVERY_MS (60 * 60 * 1000)
#define RETENTION_CHUNK 1000
/* A failed store call (e.g. the database is busy) is retried this often. */
#define STORE_RETRY_MS 200
#define FINISH_TRIES 5
/* Record-only mode: the shortest time between two rounds of marking
 * pending entries skipped. */
#define RECORD_ONLY_PACE_MS 100

struct outbox {
  struct outbox_options opt;
  char *db_url; /* owned copies of opt's strings */
  struct store *st;
  struct devrev *dv; /* NULL: record-only */
  const struct log *log;
  uint64_t rng;
  int64_t paused_until_ms; /* worker thread only */
  bool paused_for_auth;    /* worker thread only: the pause is a 401/403 */
  int64_t auth_refusals;   /* worker thread only: 401/403 in a row */
  int64_t lease_end_ms;    /* worker thread only: the current claim's */
  struct store_clock clock; /* worker thread only: the store's time */
  int64_t next_retention_ms;

  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* CLOCK_MONOTONIC */
  bool wake;
  bool stopping;
  struct outbox_stats stats; /* under mu */
  int64_t oldest_pending_ms; /* under mu */
  int64_t clock_offset_ms;   /* under mu: clock's, for outbox_stats */
};

#define LOG(ob, lvl, ...)                                                      \
  do {                                                                         \
    if ((ob)->log)                                                             \
      log_write((ob)->log, (lvl), __VA_ARGS__);                                \
  } while (0)

/* Now on the store's clock (store_now_ms: the database server's on
 * PostgreSQL), which every time the worker stores or compares with stored
 * ones is read on: leases, retries, pauses. Worker thread only. */
static int64_t store_time(struct outbox *ob)
{
  return store_now_ms(ob->st, &ob->clock);
}

void outbox_options_from_config(const struct config *cfg,
                                struct outbox_options *o)
{
  memset(o, 0, sizeof *o);
  o->db_url = cfg->database_url;
  o->devrev.api_url = cfg->devrev_url;
  o->devrev.token = cfg->devrev_token;
  o->devrev.part_id = cfg->devrev_part_id;
  o->devrev.owner_id = cfg->devrev_owner_id;
  o->devrev.tag_id = cfg->devrev_tag_id;
  o->devrev.api_version = cfg->devrev_api_version;
  o->devrev.timeout_ms = (long)cfg->devrev_timeout_ms;
  o->backoff_base_ms = cfg->outbox_backoff_base_ms;
  o->backoff_max_ms = cfg->outbox_backoff_max_ms;
  o->lease_ms = cfg->outbox_lease_ms;
  o->text_retention_ms = (int64_t)cfg->text_retention_days * 86400 * 1000;
  o->retry_after_max_ms = (int64_t)cfg->devrev_retry_after_max_s * 1000;
}

/* ---- Backoff ---------------------------------------------------------- */

static uint64_t next_random(struct outbox *ob)
{
  /* xorshift64*: plenty for jitter. */
  uint64_t x = ob->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  ob->rng = x;
  return x * 2685821657736338717ull;
}

/* Full jitter (uniform in (0, cap]) over base * 2^(attempts-1), capped:
 * spreads the retries of many entries instead of syncing them. */
static int64_t backoff_ms(struct outbox *ob, int64_t attempts)
{
  int64_t cap = ob->opt.backoff_base_ms;
  for (int64_t i = 1; i < attempts && cap < ob->opt.backoff_max_ms; i++)
    cap *= 2;
  if (cap > ob->opt.backoff_max_ms)
    cap = ob->opt.backoff_max_ms;
  if (cap < 1)
    cap = 1;
  return 1 + (int64_t)(next_random(ob) % (uint64_t)cap);
}

/* ---- Statistics ------------------------------------------------------- */

static void note_store_error(struct outbox *ob, const char *what)
{
  LOG(ob, LOG_ERROR, "outbox: %s: %s", what, store_errmsg(ob->st));
  pthread_mutex_lock(&ob->mu);
  ob->stats.store_ok = false;
  snprintf(ob->stats.last_error, sizeof ob->stats.last_error, "store: %s",
           store_errmsg(ob->st));
  pthread_mutex_unlock(&ob->mu);
}

/* Reads the store's numbers into the snapshot; returns the next due time
 * (0: none known). */
static int64_t refresh_stats(struct outbox *ob, int64_t now)
{
  struct store_outbox_stats s;
  if (store_outbox_stats(ob->st, now, &s)) {
    note_store_error(ob, "statistics");
    return 0;
  }
  pthread_mutex_lock(&ob->mu);
  ob->clock_offset_ms = ob->clock.offset_ms;
  ob->stats.pending = s.pending;
  ob->stats.dead = s.dead;
  ob->oldest_pending_ms = s.oldest_pending_ms;
  ob->stats.last_success_ms = s.last_success_ms;
  ob->stats.attempts = s.attempts;
  ob->stats.failures = s.failures;
  /* A pause another instance recorded holds this one back too. */
  if (s.paused_until_ms > now && s.paused_until_ms > ob->paused_until_ms) {
    ob->paused_until_ms = s.paused_until_ms;
    ob->paused_for_auth = false;
  }
  ob->stats.rate_limited_until_ms =
      ob->paused_until_ms > now && !ob->paused_for_auth ? ob->paused_until_ms
                                                        : 0;
  ob->stats.store_ok = true;
  snprintf(ob->stats.last_error, sizeof ob->stats.last_error, "%s",
           s.last_error);
  pthread_mutex_unlock(&ob->mu);
  return s.next_due_ms;
}

void outbox_stats(struct outbox *ob, struct outbox_stats *out)
{
  pthread_mutex_lock(&ob->mu);
  *out = ob->stats;
  int64_t oldest = ob->oldest_pending_ms;
  int64_t now = clock_wall_ms() + ob->clock_offset_ms;
  pthread_mutex_unlock(&ob->mu);
  out->oldest_pending_ms = out->pending > 0 && oldest > 0 ? oldest : 0;
  out->oldest_pending_age_ms =
      out->oldest_pending_ms && now > oldest ? now - oldest : 0;
  if (out->rate_limited_until_ms && out->rate_limited_until_ms <= now)
    out->rate_limited_until_ms = 0;
}

/* ---- Delivery --------------------------------------------------------- */

static const char *attempt_result(enum devrev_class c)
{
  return devrev_class_name(c);
}

/* What an entry is sent to, for log lines, as printable text: the source
 * object's display id (else its DON) for the source kinds, which may
 * have no alert ticket at all; the alert's ticket for the others. */
static void target_of(const struct store_entry *e, const struct payload *p,
                      char *out, size_t cap)
{
  const char *t = NULL;
  if (store_kind_is_source(e->kind)) {
    t = p->source_display_id;
    if (!t || !*t)
      t = p->source_object;
    if (!t || !*t)
      t = "(no source object)";
  } else if (e->ticket_display_id && *e->ticket_display_id) {
    t = e->ticket_display_id;
  } else {
    t = e->ticket_id && *e->ticket_id ? e->ticket_id : "(no ticket yet)";
  }
  /* From a webhook event: keep log lines one line each. */
  size_t n = 0;
  for (; t[n] && n + 1 < cap && n < 96; n++)
    out[n] = (unsigned char)t[n] < 0x20 || t[n] == 0x7f ? '?' : t[n];
  out[n] = '\0';
}

static bool stopping(struct outbox *ob);

/* Writes f. A failing store (busy, or a database server that went away)
 * is tried again until the claim's lease ends, at least FINISH_TRIES
 * times: losing this record would mean sending the entry again. */
static void finish(struct outbox *ob, const struct store_finish *f)
{
  for (int i = 1;; i++) {
    enum err rc = store_outbox_finish(ob->st, f, store_time(ob));
    if (!rc) {
      if (i > 1)
        LOG(ob, LOG_INFO, "outbox: delivery recorded at try %d", i);
      return;
    }
    if (rc == ERR_BUSY || rc == ERR_NOT_FOUND) {
      /* Fenced: the lease ran out and another claim owns the entry now
       * (it looks up what this attempt may have created). */
      LOG(ob, LOG_WARN, "outbox: %s", store_errmsg(ob->st));
      return;
    }
    if (i == 1)
      note_store_error(ob, "recording a delivery");
    if (stopping(ob) ||
        (i >= FINISH_TRIES && store_time(ob) >= ob->lease_end_ms)) {
      note_store_error(ob, "recording a delivery, given up");
      break;
    }
    usleep(STORE_RETRY_MS * 1000);
  }
  /* The entry is claimed again (by this instance at once, by others when
   * the lease has run out); a create_ticket keeps its unknown mark and is
   * looked up, not created twice. */
}

/* A 401 or 403: the pause before the next try (base, doubling with each
 * refusal in a row, capped), noted in the statistics. */
static int64_t auth_pause(struct outbox *ob, const struct devrev_reply *r)
{
  ob->auth_refusals++;
  int64_t wait = ob->opt.backoff_base_ms;
  for (int64_t i = 1; i < ob->auth_refusals && wait < ob->opt.backoff_max_ms;
       i++)
    wait *= 2;
  if (wait > ob->opt.backoff_max_ms)
    wait = ob->opt.backoff_max_ms;
  int64_t now = store_time(ob);
  pthread_mutex_lock(&ob->mu);
  if (!ob->stats.auth_failing)
    ob->stats.auth_failing_since_ms = now;
  ob->stats.auth_failing = true;
  ob->stats.auth_retry_at_ms = now + wait;
  ob->stats.auth_failures++;
  snprintf(ob->stats.auth_error, sizeof ob->stats.auth_error, "%s", r->error);
  pthread_mutex_unlock(&ob->mu);
  return wait;
}

/* A request got an answer other than 401/403: the token works again. */
static void auth_accepted(struct outbox *ob)
{
  if (!ob->auth_refusals)
    return;
  LOG(ob, LOG_INFO,
      "outbox: DevRev accepts the token again after %lld refusals: "
      "delivery resumed",
      (long long)ob->auth_refusals);
  ob->auth_refusals = 0;
  ob->paused_for_auth = false;
  pthread_mutex_lock(&ob->mu);
  ob->stats.auth_failing = false;
  ob->stats.auth_failing_since_ms = 0;
  ob->stats.auth_retry_at_ms = 0;
  pthread_mutex_unlock(&ob->mu);
}

/* The outcome of one request, turned into the entry's next state. */
static void settle(struct outbox *ob, const struct store_entry *e,
                   const char *target, const struct devrev_reply *r,
                   int64_t started)
{
  struct store_attempt at = {.at_ms = started,
                             .duration_ms = r->duration_ms,
                             .http_status = r->http_status,
                             .result = attempt_result(r->cls),
                             .error = r->cls == DEVREV_OK ? NULL : r->error};
  struct store_finish f = {.entry_id = e->id,
                           .lease = e->lease,
                           .state = STORE_PENDING,
                           .outcome_unknown = e->outcome_unknown,
                           .error = at.error,
                           .attempt = &at};
  int64_t now = store_time(ob);
  bool create = e->kind == STORE_KIND_CREATE_TICKET;
  if (r->cls != DEVREV_AUTH && r->http_status)
    auth_accepted(ob);
  switch (r->cls) {
  case DEVREV_OK:
    f.state = STORE_DONE;
    f.outcome_unknown = false;
    if (create) {
      f.ticket_id = r->work_id;
      f.ticket_display_id = *r->display_id ? r->display_id : NULL;
    }
    if (create)
      LOG(ob, LOG_INFO, "outbox: alert %s: ticket %s created", e->alert_key,
          *r->display_id ? r->display_id : r->work_id);
    else
      LOG(ob, LOG_INFO, "outbox: alert %s: %s delivered to %s", e->alert_key,
          store_kind_name(e->kind), target);
    break;
  case DEVREV_PERMANENT:
    f.state = STORE_DEAD;
    if (create)
      LOG(ob, LOG_ERROR, "outbox: %s for alert %s is a dead letter: %s",
          store_kind_name(e->kind), e->alert_key, r->error);
    else
      LOG(ob, LOG_ERROR, "outbox: %s to %s for alert %s is a dead letter: %s",
          store_kind_name(e->kind), target, e->alert_key, r->error);
    break;
  case DEVREV_RATE_LIMITED: {
    int64_t wait = r->retry_after_ms >= 0 ? r->retry_after_ms
                                          : backoff_ms(ob, e->attempts);
    if (wait > ob->opt.retry_after_max_ms) {
      LOG(ob, LOG_WARN,
          "outbox: DevRev rate limit: a wait of %lld ms is above "
          "DEVREV_RETRY_AFTER_MAX, waiting %lld ms",
          (long long)wait, (long long)ob->opt.retry_after_max_ms);
      wait = ob->opt.retry_after_max_ms;
    }
    f.next_attempt_ms = now + wait;
    ob->paused_until_ms = f.next_attempt_ms;
    ob->paused_for_auth = false;
    /* Every instance on the store holds back, not only this one. */
    if (store_delivery_pause(ob->st, f.next_attempt_ms, r->error))
      note_store_error(ob, "sharing the rate-limit pause");
    LOG(ob, LOG_WARN, "outbox: DevRev rate limit: pausing %lld ms",
        (long long)wait);
    break;
  }
  case DEVREV_AUTH:
    /* Nothing happened at DevRev (the outcome mark stays as it was) and
     * nothing will until the token is fixed: hold every entry. */
    f.next_attempt_ms = now + auth_pause(ob, r);
    ob->paused_until_ms = f.next_attempt_ms;
    ob->paused_for_auth = true;
    LOG(ob, LOG_ERROR,
        "outbox: DevRev refuses the token (%s): delivery paused, nothing "
        "dropped; %lld entries wait; next try in %lld ms. Check "
        "DEVREV_API_TOKEN",
        r->error, (long long)ob->stats.pending,
        (long long)(f.next_attempt_ms - now));
    break;
  case DEVREV_UNKNOWN:
  case DEVREV_RETRY:
    /* A 5xx may come after the ticket or comment was made (503 says it
     * was not). */
    if (r->cls == DEVREV_UNKNOWN ||
        (store_kind_looks_up(e->kind) && r->http_status >= 500 &&
         r->http_status != 503))
      f.outcome_unknown = true;
    f.next_attempt_ms = now + backoff_ms(ob, e->attempts);
    LOG(ob, LOG_WARN,
        "outbox: %s%s%s for alert %s failed (attempt %lld, %s), retry in "
        "%lld ms: %s",
        store_kind_name(e->kind), create ? "" : " to ", create ? "" : target,
        e->alert_key, (long long)e->attempts, devrev_class_name(r->cls),
        (long long)(f.next_attempt_ms - now), r->error);
    break;
  }
  finish(ob, &f);
}

/* Before re-creating a ticket, or re-sending a comment to object, whose
 * earlier attempt may have made it: looks it up by its marker. Returns
 * true when the entry is settled (found, or the lookup failed and a retry
 * is scheduled); false to go on and send. */
static bool settled_by_lookup(struct outbox *ob, const struct store_entry *e,
                              const char *object, const char *target)
{
  struct devrev_reply r;
  int64_t started = store_time(ob);
  bool create = e->kind == STORE_KIND_CREATE_TICKET;
  if (create)
    devrev_find_ticket(ob->dv, e->alert_key,
                       e->first_attempt_ms - ob->opt.lookup_margin_ms, &r);
  else
    devrev_find_comment(ob->dv, object, e->alert_key, e->id, &r);
  if (r.cls != DEVREV_OK) {
    /* Without an answer we cannot rule it out: do not send. */
    settle(ob, e, target, &r, started);
    return true;
  }
  struct store_attempt at = {.at_ms = started,
                             .duration_ms = r.duration_ms,
                             .http_status = r.http_status,
                             .result = r.found ? "found" : "not_found"};
  if (!r.found) {
    if (create)
      LOG(ob, LOG_INFO,
          "outbox: alert %s: no ticket from the earlier attempt, creating it",
          e->alert_key);
    else
      LOG(ob, LOG_INFO,
          "outbox: alert %s: no %s on %s from the earlier attempt, sending "
          "it",
          e->alert_key, store_kind_name(e->kind), target);
    if (store_outbox_record_attempt(ob->st, e->id, &at))
      note_store_error(ob, "recording a lookup");
    return false;
  }
  if (create)
    LOG(ob, LOG_INFO,
        "outbox: alert %s: adopting ticket %s from an earlier attempt",
        e->alert_key, *r.display_id ? r.display_id : r.work_id);
  else
    LOG(ob, LOG_INFO,
        "outbox: alert %s: %s on %s found from an earlier attempt (%s): "
        "not sent again",
        e->alert_key, store_kind_name(e->kind), target, r.work_id);
  struct store_finish f = {.entry_id = e->id,
                           .lease = e->lease,
                           .state = STORE_DONE,
                           .ticket_id = create ? r.work_id : NULL,
                           .ticket_display_id = create && *r.display_id
                                                    ? r.display_id
                                                    : NULL,
                           .attempt = &at};
  finish(ob, &f);
  return true;
}

/* Before the second request of one delivery (the create after a lookup,
 * the update after a read): the lease starts again from now, so that this
 * request too ends within it. Otherwise another instance could claim the
 * entry meanwhile, find no ticket yet and create a second one. Returns
 * false, and nothing is to be sent, when the lease has passed to another
 * claim or the store failed (the entry is claimed again later). A claim
 * without a fencing token (SQLite's one worker) has no one to fence off. */
static bool renew_lease(struct outbox *ob, const struct store_entry *e)
{
  if (!e->lease)
    return true;
  int64_t now = store_time(ob);
  enum err rc =
      store_outbox_renew(ob->st, e->id, e->lease, now + ob->opt.lease_ms);
  if (!rc) {
    ob->lease_end_ms = now + ob->opt.lease_ms;
    return true;
  }
  if (rc == ERR_BUSY)
    LOG(ob, LOG_WARN, "outbox: %s", store_errmsg(ob->st));
  else
    note_store_error(ob, "renewing a lease");
  return false;
}

/* Ends an entry that cannot be sent as it is: no request, no retry. */
static void dead_letter(struct outbox *ob, const struct store_entry *e,
                        const char *target, const char *why)
{
  LOG(ob, LOG_ERROR, "outbox: %s%s%s for alert %s is a dead letter: %s",
      store_kind_name(e->kind), *target ? " to " : "", target, e->alert_key,
      why);
  struct store_finish f = {
      .entry_id = e->id, .lease = e->lease, .state = STORE_DEAD, .error = why};
  finish(ob, &f);
}

static void deliver(struct outbox *ob, const struct store_entry *e)
{
  struct devrev_reply r;
  struct payload p;
  struct devrev_alert a;
  char target[128] = "";
  const char *source = NULL;
  if (!payload_read(e->payload, &p)) {
    dead_letter(ob, e, target, "unreadable outbox payload");
    goto out;
  }
  target_of(e, &p, target, sizeof target);
  a = p.facts;
  a.alert_key = e->alert_key;
  if (store_kind_is_source(e->kind)) {
    /* These go to the message's own DevRev object; e->ticket_id may well
     * be NULL (the alert may have no ticket, or not yet). */
    source = p.source_object;
    if (!source || !*source) {
      dead_letter(ob, e, target, "payload has no source_object");
      goto out;
    }
  }
  int64_t started = store_time(ob);
  bool sent = false;
  /* The object a comment goes to, and its line naming this entry. */
  const char *object =
      e->kind == STORE_KIND_COMMENT ? e->ticket_id : source;
  if (e->kind == STORE_KIND_COMMENT || e->kind == STORE_KIND_SOURCE_COMMENT)
    a.entry_id = e->id;
  if (store_kind_looks_up(e->kind) && e->outcome_unknown) {
    if (settled_by_lookup(ob, e, object, target) || !renew_lease(ob, e))
      goto out;
    started = store_time(ob);
  }
  switch (e->kind) {
  case STORE_KIND_CREATE_TICKET:
    devrev_create_ticket(ob->dv, &a, &r);
    sent = true;
    break;
  case STORE_KIND_COMMENT:
    devrev_add_comment(ob->dv, object, &a, &r);
    sent = true;
    break;
  case STORE_KIND_UPDATE_SEVERITY:
    devrev_update_severity(ob->dv, e->ticket_id, a.severity ? a.severity : "",
                           &r);
    sent = true;
    break;
  case STORE_KIND_SOURCE_COMMENT:
    /* Mention the alert's ticket when it exists by now. */
    a.ticket = e->ticket_display_id;
    devrev_add_source_comment(ob->dv, object, &a, &r);
    sent = true;
    break;
  case STORE_KIND_UPDATE_SOURCE: {
    const char *severity;
    int sentiment;
    const char *bad = payload_source_fields(&p, &severity, &sentiment);
    if (bad) {
      dead_letter(ob, e, target, bad);
      goto out;
    }
    if (severity) {
      /* Only ever raise a ticket's severity: an agent may have set it
       * higher than the level maps to. Read it first (works.get reads
       * only; a failure is settled like any other). */
      if (devrev_get_work(ob->dv, source, &r)) {
        settle(ob, e, target, &r, started);
        goto out;
      }
      if (devrev_severity_rank(r.severity) >= devrev_severity_rank(severity)) {
        LOG(ob, LOG_INFO,
            "outbox: alert %s: %s is at severity %s already: not set to %s",
            e->alert_key, target, *r.severity ? r.severity : "(none)",
            severity);
        severity = NULL;
      }
      if (!renew_lease(ob, e))
        goto out;
      started = store_time(ob);
    }
    if (!severity && !sentiment) {
      /* The policy asked for fields this level does not map (e.g. only
       * DEVREV_UPDATE_SENTIMENT and no sentiment for the level): nothing
       * to tell DevRev, and nothing broken, so not a dead letter. */
      LOG(ob, LOG_INFO,
          "outbox: alert %s: update_source for %s has no severity or "
          "sentiment left to set: done without an update",
          e->alert_key, target);
      struct store_finish f = {
          .entry_id = e->id, .lease = e->lease, .state = STORE_DONE};
      finish(ob, &f);
      goto out;
    }
    devrev_update_source(ob->dv, source, severity, sentiment, &r);
    sent = true;
    break;
  }
  }
  if (!sent) {
    dead_letter(ob, e, target, "unknown outbox kind");
    goto out;
  }
  settle(ob, e, target, &r, started);
out:
  payload_cleanup(&p);
}

/* ---- The loop --------------------------------------------------------- */

static void retention(struct outbox *ob, int64_t now)
{
  if (ob->opt.text_retention_ms <= 0 || now < ob->next_retention_ms)
    return;
  ob->next_retention_ms = now + RETENTION_EVERY_MS;
  size_t total = 0, n = 0;
  do {
    if (store_purge_text(ob->st, now - ob->opt.text_retention_ms,
                         RETENTION_CHUNK, &n)) {
      note_store_error(ob, "text retention");
      return;
    }
    total += n;
  } while (n == RETENTION_CHUNK);
  if (total)
    LOG(ob, LOG_INFO, "outbox: retention dropped the text of %zu messages",
        total);
}

/* Sleeps until woken, stopped, or until wall-clock time `until` (at most
 * tick_ms). Returns false when stopping. */
static bool nap(struct outbox *ob, int64_t until)
{
  int64_t now = store_time(ob);
  int64_t ms = ob->opt.tick_ms;
  if (until > now && until - now < ms)
    ms = until - now;
  struct timespec ts =
      clock_deadline(CLOCK_MONOTONIC, ms > 0 ? (uint64_t)ms * 1000000u : 0);
  pthread_mutex_lock(&ob->mu);
  while (!ob->wake && !ob->stopping)
    if (pthread_cond_timedwait(&ob->cv, &ob->mu, &ts))
      break;
  ob->wake = false;
  bool go_on = !ob->stopping;
  pthread_mutex_unlock(&ob->mu);
  return go_on;
}

/* Sleeps ms, whatever wakes it, unless stopping; false when stopping. */
static bool pause_for(struct outbox *ob, int64_t ms)
{
  struct timespec ts = clock_deadline(CLOCK_MONOTONIC, (uint64_t)ms * 1000000u);
  pthread_mutex_lock(&ob->mu);
  while (!ob->stopping)
    if (pthread_cond_timedwait(&ob->cv, &ob->mu, &ts))
      break;
  bool go_on = !ob->stopping;
  pthread_mutex_unlock(&ob->mu);
  return go_on;
}

static bool stopping(struct outbox *ob)
{
  pthread_mutex_lock(&ob->mu);
  bool s = ob->stopping;
  pthread_mutex_unlock(&ob->mu);
  return s;
}

static void *worker(void *arg)
{
  struct outbox *ob = arg;
  for (;;) {
    if (stopping(ob))
      break;
    int64_t now = store_time(ob);
    if (!ob->dv) {
      size_t n = 0;
      if (store_outbox_skip_pending(ob->st,
                                    "record-only mode: DEVREV_API_TOKEN is "
                                    "not set",
                                    now, &n))
        note_store_error(ob, "record-only skip");
      else if (n)
        LOG(ob, LOG_INFO,
            "outbox: record-only mode: %zu entries recorded, "
            "not sent",
            n);
      refresh_stats(ob, now);
      retention(ob, now);
      /* At most one round per RECORD_ONLY_PACE_MS however often commits
       * wake it: each round scans the pending entries, which on a busy
       * shared store cost as much as the commits themselves. */
      if (!pause_for(ob, RECORD_ONLY_PACE_MS) || !nap(ob, 0))
        break;
      continue;
    }
    if (now < ob->paused_until_ms) {
      refresh_stats(ob, now);
      if (!nap(ob, ob->paused_until_ms))
        break;
      continue;
    }
    struct store_entry e;
    bool found = false;
    if (store_outbox_claim(ob->st, now, ob->opt.lease_ms, &e, &found)) {
      note_store_error(ob, "claiming an entry");
      if (!nap(ob, now + STORE_RETRY_MS))
        break;
      continue;
    }
    if (found) {
      ob->lease_end_ms = now + ob->opt.lease_ms;
      deliver(ob, &e);
      store_entry_cleanup(&e);
      refresh_stats(ob, store_time(ob));
      continue;
    }
    int64_t due = refresh_stats(ob, now);
    retention(ob, now);
    if (!nap(ob, due))
      break;
  }
  return NULL;
}

enum err outbox_start(const struct outbox_options *o, char *err, size_t errlen,
                      struct outbox **out)
{
  struct outbox *ob = xcalloc(1, sizeof *ob);
  enum err rc = ERR_OK;
  ob->opt = *o;
  ob->db_url = xstrdup(o->db_url ? o->db_url : "");
  ob->opt.db_url = ob->db_url;
  if (ob->opt.backoff_base_ms <= 0)
    ob->opt.backoff_base_ms = DEFAULT_BACKOFF_BASE_MS;
  if (ob->opt.backoff_max_ms <= 0)
    ob->opt.backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
  if (ob->opt.backoff_max_ms < ob->opt.backoff_base_ms)
    ob->opt.backoff_max_ms = ob->opt.backoff_base_ms;
  if (ob->opt.tick_ms <= 0)
    ob->opt.tick_ms = DEFAULT_TICK_MS;
  if (ob->opt.lookup_margin_ms <= 0)
    ob->opt.lookup_margin_ms = DEFAULT_LOOKUP_MARGIN_MS;
  if (ob->opt.lease_ms <= 0)
    ob->opt.lease_ms = DEFAULT_LEASE_MS;
  if (ob->opt.retry_after_max_ms <= 0)
    ob->opt.retry_after_max_ms = DEFAULT_RETRY_AFTER_MAX_MS;
  ob->log = o->log;
  /* The devrev handle copies what it keeps; opt.devrev is not used after
   * this function. */
  memset(&ob->opt.devrev, 0, sizeof ob->opt.devrev);
  unsigned char seed[8];
  if (getentropy(seed, sizeof seed) == 0)
    memcpy(&ob->rng, seed, sizeof seed);
  ob->rng ^= (uint64_t)clock_wall_ms() | 1;

  bool deliver = o->devrev.token && *o->devrev.token;
  if (deliver) {
    rc = devrev_open(&o->devrev, &ob->dv);
    if (rc) {
      snprintf(err, errlen,
               "DevRev delivery needs DEVREV_API_URL, DEVREV_API_TOKEN, "
               "DEVREV_PART_ID and DEVREV_OWNER_ID");
      goto fail;
    }
  }
  rc = store_open(ob->db_url, err, errlen, &ob->st);
  if (rc)
    goto fail;
  /* The one worker of this store (recovery below takes back every lease):
   * a second server on it stops here, before it changes anything. */
  long holder = 0;
  rc = store_own(ob->st, &holder);
  if (rc) {
    snprintf(err, errlen, "%s", store_errmsg(ob->st));
    goto fail;
  }
  size_t released = 0;
  if (store_outbox_recover(ob->st, &released)) {
    snprintf(err, errlen, "outbox: %s", store_errmsg(ob->st));
    rc = ERR_STORE;
    goto fail;
  }
  pthread_mutex_init(&ob->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&ob->cv, &ca);
  pthread_condattr_destroy(&ca);
  ob->stats.delivering = deliver;
  ob->stats.mode = deliver ? "deliver" : "record-only";
  ob->stats.store_ok = true;
  refresh_stats(ob, store_time(ob));
  if (deliver)
    LOG(ob, LOG_INFO, "outbox: delivering to DevRev at %s (%lld pending)",
        o->devrev.api_url, (long long)ob->stats.pending);
  else
    LOG(ob, LOG_WARN,
        "outbox: record-only mode (DEVREV_API_TOKEN not set): "
        "alerts are stored, nothing is sent to DevRev");
  if (pthread_create(&ob->thread, NULL, worker, ob) != 0) {
    snprintf(err, errlen, "outbox: cannot start the worker thread");
    pthread_cond_destroy(&ob->cv);
    pthread_mutex_destroy(&ob->mu);
    rc = ERR_INTERNAL;
    goto fail;
  }
  *out = ob;
  return ERR_OK;
fail:
  store_close(ob->st);
  devrev_close(ob->dv);
  free(ob->db_url);
  free(ob);
  return rc;
}

void outbox_wake(struct outbox *ob)
{
  pthread_mutex_lock(&ob->mu);
  ob->wake = true;
  pthread_cond_signal(&ob->cv);
  pthread_mutex_unlock(&ob->mu);
}

void outbox_wake_cb(void *ob)
{
  outbox_wake(ob);
}

void outbox_stop(struct outbox *ob)
{
  if (!ob)
    return;
  pthread_mutex_lock(&ob->mu);
  ob->stopping = true;
  pthread_cond_signal(&ob->cv);
  pthread_mutex_unlock(&ob->mu);
  if (ob->dv)
    devrev_abort(ob->dv);
  pthread_join(ob->thread, NULL);
  store_close(ob->st);
  devrev_close(ob->dv);
  pthread_cond_destroy(&ob->cv);
  pthread_mutex_destroy(&ob->mu);
  free(ob->db_url);
  free(ob);
}
