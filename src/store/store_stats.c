/* store_stats: the dashboard's read-only queries (see store_stats.h).
 *
 * This file holds what does not depend on the backend: the URL, the
 * checks of the arguments and the ranking of the top customers. The
 * queries are the backend's (struct store_reader_ops in store_int.h;
 * SQLite's in store_sqlite_stats.c, PostgreSQL's in store_pg_stats.c), on
 * a read-only handle of its own.
 *
 * Top customers come from the customers' windows of recent scores,
 * streamed by the backend and ranked here into a top-N of fixed size, so
 * memory does not grow with the number of customers.
 *
 * The URL forms are those of store_open; the parsing is repeated here in
 * its simplest form because this handle needs none of the options. */
#include "store/store_stats.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "store/store_int.h"

/* The age at which a score counts half in a customer's rank. */
#define RANK_HALF_LIFE_MS 900000

/* Rows walked back by default to find the top customers' messages. */
#define RANK_SCAN_DEFAULT 50000

/* The grain of messages_by_minute (schema version 3). */
#define STATS_MINUTE_MS 60000

enum err store_reader_open(const char *url, char *err, size_t errlen,
                           struct store_reader **out)
{
  const char *path = url;
  if (store_url_is_pg(url)) {
    /* libpq parses the URL, options included. */
    struct store_reader *r = xcalloc(1, sizeof *r);
    enum err rc = store_pg_reader_open(r, url, err, errlen);
    if (rc) {
      store_reader_close(r);
      return rc;
    }
    *out = r;
    return ERR_OK;
  }
  if (!strncmp(path, "sqlite://", 9))
    path += 9;
  else if (!strncmp(path, "sqlite:", 7))
    path += 7;
  size_t len = strcspn(path, "?");
  char *file = xmalloc(len + 1);
  memcpy(file, path, len);
  file[len] = '\0';
  if (!strcmp(file, ":memory:") || !*file) {
    snprintf(err, errlen,
             "an in-memory store cannot be read by another "
             "connection");
    free(file);
    return ERR_UNSUPPORTED;
  }
  struct store_reader *r = xcalloc(1, sizeof *r);
  enum err rc = store_sqlite_reader_open(r, file, err, errlen);
  free(file);
  if (rc) {
    store_reader_close(r);
    return rc;
  }
  *out = r;
  return ERR_OK;
}

void store_reader_close(struct store_reader *r)
{
  if (!r)
    return;
  if (r->ops)
    r->ops->close(r);
  free(r);
}

const char *store_reader_errmsg(const struct store_reader *r)
{
  return r ? r->errmsg : "";
}

/* ---- Series ----------------------------------------------------------- */

enum err store_stats_series(struct store_reader *r, int64_t since_ms,
                            int64_t width_ms, size_t n,
                            struct store_stats_bucket *out)
{
  if (width_ms <= 0)
    return ERR_INVALID;
  memset(out, 0, n * sizeof *out);
  for (size_t i = 0; i < n; i++)
    out[i].start_ms = since_ms + (int64_t)i * width_ms;
  if (since_ms % STATS_MINUTE_MS || width_ms % STATS_MINUTE_MS) {
    snprintf(r->errmsg, sizeof r->errmsg, "buckets must be whole minutes");
    return ERR_INVALID;
  }
  return r->ops->series(r, since_ms, width_ms, n, out);
}

void store_stats_bucket_add_messages(struct store_stats_bucket *b,
                                     int64_t level, int64_t count,
                                     double polarity_sum, int64_t created,
                                     int64_t appended)
{
  if (level < 0)
    level = 0;
  if (level >= STORE_STATS_LEVELS)
    level = STORE_STATS_LEVELS - 1;
  b->messages += count;
  b->by_level[level] += count;
  b->polarity_sum += polarity_sum;
  b->created += created;
  b->appended += appended;
}

/* ---- Top customers ---------------------------------------------------- */

bool store_stats_keep_id(const struct store_stats_customer *cs, size_t n,
                         const char *cust, int64_t id,
                         int64_t (*ids)[STORE_STATS_CUSTOMER_MSGS],
                         size_t *have, size_t *full)
{
  for (size_t i = 0; cust && i < n; i++) {
    if (have[i] < STORE_STATS_CUSTOMER_MSGS &&
        !strcmp(cs[i].customer_id, cust)) {
      ids[i][have[i]++] = id;
      if (have[i] == STORE_STATS_CUSTOMER_MSGS)
        (*full)++;
      return true;
    }
  }
  return false;
}

void store_stats_customer_cleanup(struct store_stats_customer *c)
{
  free(c->customer_id);
  for (size_t i = 0; i < c->n_msgs; i++) {
    struct store_stats_msg *m = &c->msgs[i];
    free(m->lang);
    free(m->level_name);
    free(m->text);
    free(m->words_json);
    free(m->reasons_json);
    free(m->message_id);
  }
  memset(c, 0, sizeof *c);
}

/* Whether a ranks before b: higher score, then more recent, then the
 * smaller id (so that equal customers come out in a stable order). */
static bool ranks_before(const struct store_stats_customer *a,
                         const struct store_stats_customer *b)
{
  if (a->score != b->score)
    return a->score > b->score;
  if (a->last_at_ms != b->last_at_ms)
    return a->last_at_ms > b->last_at_ms;
  return strcmp(a->customer_id, b->customer_id) < 0;
}

/* Sums the window's scores since since_ms into c (all but customer_id,
 * alert_open and msgs); false when none of them is above level 0. The
 * arithmetic is that of the SQL this replaced, term for term, so the
 * scores are the same doubles. */
static bool rank_window(const struct store_score *win, size_t n, int64_t now_ms,
                        int64_t since_ms, struct store_stats_customer *c)
{
  double pol_sum = 0;
  memset(c, 0, sizeof *c);
  for (size_t i = 0; i < n; i++) {
    if (win[i].at_ms < since_ms)
      continue;
    c->score += (double)win[i].level /
                (1.0 + (double)(now_ms - win[i].at_ms) / RANK_HALF_LIFE_MS);
    pol_sum += win[i].polarity;
    if (!c->messages || win[i].level > c->max_level)
      c->max_level = win[i].level;
    if (!c->messages || win[i].at_ms > c->last_at_ms)
      c->last_at_ms = win[i].at_ms;
    c->messages++;
  }
  if (!c->messages || c->max_level <= 0)
    return false;
  c->avg_polarity = pol_sum / (double)c->messages;
  c->last_level = win[n - 1].level;
  return true;
}

/* Puts cand (its customer_id borrowed) into top[0..*k), kept in rank
 * order and at most cap long; copies the id only when cand gets in. */
static void top_offer(struct store_stats_customer *top, size_t cap, size_t *k,
                      const struct store_stats_customer *cand)
{
  size_t at = *k;
  while (at > 0 && ranks_before(cand, &top[at - 1]))
    at--;
  if (at >= cap)
    return;
  if (*k == cap)
    free(top[--(*k)].customer_id);
  memmove(&top[at + 1], &top[at], (*k - at) * sizeof *top);
  top[at] = *cand;
  top[at].customer_id = xstrdup(cand->customer_id);
  (*k)++;
}

/* The ranking in progress: the best k of the windows seen so far. */
struct ranking {
  int64_t now_ms, since_ms;
  struct store_stats_customer *top;
  size_t cap, k;
};

/* store_reader_ops.windows' callback: ranks one customer's window. Each
 * window entry is [at, polarity, level]. */
static void rank_one(void *arg, const char *customer_id, const char *json)
{
  struct ranking *g = arg;
  struct store_score win[STORE_WINDOW_MAX];
  struct store_stats_customer cand;
  size_t len = store_window_parse(json, win, STORE_WINDOW_MAX);
  if (!customer_id || !rank_window(win, len, g->now_ms, g->since_ms, &cand))
    return;
  cand.customer_id = (char *)customer_id;
  top_offer(g->top, g->cap, &g->k, &cand);
}

enum err store_stats_top_customers(struct store_reader *r, int64_t now_ms,
                                   int64_t since_ms, size_t cap,
                                   size_t scan_max,
                                   struct store_stats_customer *out, size_t *n)
{
  struct ranking g = {now_ms, since_ms, out, cap, 0};
  *n = 0;
  /* One pass over the windows touched since since_ms, streamed: each is
   * parsed and ranked here and only the best cap are kept, so memory
   * does not grow with the number of customers (grouping and sorting
   * them in SQL, through json_each, held them all and took 116 MiB for
   * 100,000 customers). */
  enum err rc = r->ops->windows(r, since_ms, rank_one, &g);
  if (!rc)
    rc = r->ops->alerts_open(r, out, g.k);
  if (!rc)
    rc = r->ops->last_messages(
        r, since_ms, scan_max ? scan_max : RANK_SCAN_DEFAULT, out, g.k);
  if (rc) {
    for (size_t i = 0; i < g.k; i++)
      store_stats_customer_cleanup(&out[i]);
    return rc;
  }
  *n = g.k;
  return ERR_OK;
}

/* ---- Languages -------------------------------------------------------- */

enum err store_stats_langs(struct store_reader *r, int64_t since_ms,
                           int64_t until_ms, struct store_stats_langs *out)
{
  memset(out, 0, sizeof *out);
  if (since_ms % STATS_MINUTE_MS || until_ms % STATS_MINUTE_MS ||
      until_ms < since_ms) {
    snprintf(r->errmsg, sizeof r->errmsg,
             "a language range must be whole minutes, in order");
    return ERR_INVALID;
  }
  return r->ops->langs(r, since_ms, until_ms, out);
}

void store_stats_langs_add(struct store_stats_langs *out, const char *code,
                           int64_t messages, int64_t frustrated, int64_t langs)
{
  if (!code) {
    out->other_langs = langs;
    out->other_messages = messages;
    out->other_frustrated = frustrated;
  } else if (out->n < STORE_STATS_LANGS) {
    struct store_stats_lang *l = &out->langs[out->n++];
    l->code = xstrdup(code);
    l->messages = messages;
    l->frustrated = frustrated;
  }
}

void store_stats_langs_cleanup(struct store_stats_langs *l)
{
  for (size_t i = 0; i < l->n; i++)
    free(l->langs[i].code);
  memset(l, 0, sizeof *l);
}

enum err store_stats_totals(struct store_reader *r, int64_t *messages,
                            int64_t *alerts)
{
  return r->ops->totals(r, messages, alerts);
}
