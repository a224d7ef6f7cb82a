/* store_stats: the dashboard's read-only queries (see store_stats.h).
 *
 * SQLite only, on its own connection opened read-only (and query_only),
 * so a bug here cannot write. Every query reads an index range bounded by
 * time, so its cost follows the traffic of the window shown, not the size
 * of the store: messages_by_minute covers (minute, level, alert_outcome,
 * polarity), outbox_finished covers (finished_at, state), and the
 * failed attempts come from attempts_ok (ok, at). Top customers come from
 * customer_state (one row per customer, its window of recent scores as
 * JSON), streamed and ranked here into a top-N of fixed size, and, for
 * their last messages, a walk back from the newest message by rowid,
 * which stops as soon as each has its messages.
 *
 * Memory does not grow with the store: every query streams, the page
 * cache is SQLite's default (2 MB), and the file is not memory-mapped.
 *
 * The URL forms are those of store_open; the parsing is repeated here in
 * its simplest form because this handle needs none of the options. */
#include "store/store_stats.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

/* How long a query waits for a lock: a reader in WAL mode only meets one
 * while the database is being recovered or checkpointed in truncate mode. */
#define READER_BUSY_MS 2000

/* The age at which a score counts half in a customer's rank. */
#define RANK_HALF_LIFE_MS 900000

/* Rows walked back by default to find the top customers' messages. */
#define RANK_SCAN_DEFAULT 50000

/* The grain of messages_by_minute (schema version 3). */
#define STATS_MINUTE_MS 60000

struct store_reader {
  sqlite3 *db;
  char errmsg[512];
};

static enum err fail(struct store_reader *r, const char *what)
{
  snprintf(r->errmsg, sizeof r->errmsg, "%s: %s", what, sqlite3_errmsg(r->db));
  return ERR_STORE;
}

static char *col_dup(sqlite3_stmt *s, int i)
{
  const unsigned char *t = sqlite3_column_text(s, i);
  return t ? xstrdup((const char *)t) : NULL;
}

static enum err prepare(struct store_reader *r, const char *sql,
                        sqlite3_stmt **out)
{
  if (sqlite3_prepare_v2(r->db, sql, -1, out, NULL) != SQLITE_OK)
    return fail(r, "prepare");
  return ERR_OK;
}

enum err store_reader_open(const char *url, char *err, size_t errlen,
                           struct store_reader **out)
{
  const char *path = url;
  if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13)) {
    snprintf(err, errlen, "the dashboard reads SQLite stores only");
    return ERR_UNSUPPORTED;
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
  enum err rc = ERR_OK;
  if (sqlite3_open_v2(file, &r->db,
                      SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX |
                          SQLITE_OPEN_URI,
                      NULL) != SQLITE_OK) {
    snprintf(err, errlen, "cannot open database %s read-only: %s", file,
             r->db ? sqlite3_errmsg(r->db) : "out of memory");
    rc = ERR_STORE;
    goto out;
  }
  sqlite3_busy_timeout(r->db, READER_BUSY_MS);
  /* No memory-mapped reads: mapped pages of the file count in the
   * server's resident memory, and the top customers read every window
   * touched in the last hour (with 300,000 customers a 256 MiB map put
   * the server at 82 MiB). Read through the page cache, the series of a
   * day over 100,000 messages take about as long. */
  if (sqlite3_exec(r->db, "PRAGMA query_only=1; PRAGMA mmap_size=0", NULL, NULL,
                   NULL) != SQLITE_OK) {
    snprintf(err, errlen, "database %s: %s", file, sqlite3_errmsg(r->db));
    rc = ERR_STORE;
  }
out:
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
  sqlite3_close(r->db);
  free(r);
}

const char *store_reader_errmsg(const struct store_reader *r)
{
  return r ? r->errmsg : "";
}

/* ---- Series ----------------------------------------------------------- */

/* Runs a "SELECT bucket, ..." query bound to (since, width, until) and
 * hands each row to add. */
static enum err
each_bucket(struct store_reader *r, const char *sql, int64_t since_ms,
            int64_t width_ms, size_t n, struct store_stats_bucket *out,
            void (*add)(struct store_stats_bucket *b, sqlite3_stmt *s))
{
  sqlite3_stmt *s = NULL;
  enum err rc = prepare(r, sql, &s);
  if (rc)
    return rc;
  sqlite3_bind_int64(s, 1, since_ms);
  sqlite3_bind_int64(s, 2, width_ms);
  sqlite3_bind_int64(s, 3, since_ms + (int64_t)n * width_ms);
  int step;
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    int64_t i = sqlite3_column_int64(s, 0);
    if (i >= 0 && (size_t)i < n)
      add(&out[i], s);
  }
  if (step != SQLITE_DONE)
    rc = fail(r, "stats");
  sqlite3_finalize(s);
  return rc;
}

static void add_messages(struct store_stats_bucket *b, sqlite3_stmt *s)
{
  int64_t level = sqlite3_column_int64(s, 1);
  int64_t count = sqlite3_column_int64(s, 2);
  if (level < 0)
    level = 0;
  if (level >= STORE_STATS_LEVELS)
    level = STORE_STATS_LEVELS - 1;
  b->messages += count;
  b->by_level[level] += count;
  b->polarity_sum += sqlite3_column_double(s, 3);
  b->created += sqlite3_column_int64(s, 4);
  b->appended += sqlite3_column_int64(s, 5);
}

static void add_delivered(struct store_stats_bucket *b, sqlite3_stmt *s)
{
  b->delivered += sqlite3_column_int64(s, 1);
}

static void add_failed(struct store_stats_bucket *b, sqlite3_stmt *s)
{
  b->failed += sqlite3_column_int64(s, 1);
}

enum err store_stats_series(struct store_reader *r, int64_t since_ms,
                            int64_t width_ms, size_t n,
                            struct store_stats_bucket *out)
{
  if (width_ms <= 0)
    return ERR_INVALID;
  memset(out, 0, n * sizeof *out);
  for (size_t i = 0; i < n; i++)
    out[i].start_ms = since_ms + (int64_t)i * width_ms;
  /* Grouped by (minute, level), the order of messages_by_minute, so the
   * sums need no sort; the minutes are then added into the buckets
   * (whole minutes: since_ms and width_ms are multiples of a minute).
   * The expressions must read exactly as in the index for SQLite to use
   * it. A day of traffic comes back as at most 1440 x levels rows. */
  enum err rc = ERR_OK;
  if (since_ms % STATS_MINUTE_MS || width_ms % STATS_MINUTE_MS) {
    snprintf(r->errmsg, sizeof r->errmsg, "buckets must be whole minutes");
    return ERR_INVALID;
  }
  rc = each_bucket(
      r,
      "SELECT (created_at / 60000 * 60000 - ?1) / ?2, level, COUNT(*),"
      " TOTAL(polarity), SUM(alert_outcome = 'created'),"
      " SUM(alert_outcome = 'appended') FROM messages"
      " WHERE created_at / 60000 >= ?1 / 60000"
      " AND created_at / 60000 < ?3 / 60000"
      " GROUP BY created_at / 60000, level",
      since_ms, width_ms, n, out, add_messages);
  if (!rc)
    rc = each_bucket(r,
                     "SELECT (finished_at - ?1) / ?2, COUNT(*) FROM outbox"
                     " WHERE finished_at >= ?1 AND finished_at < ?3"
                     " AND state = 'done' GROUP BY 1",
                     since_ms, width_ms, n, out, add_delivered);
  if (!rc)
    rc = each_bucket(r,
                     "SELECT (at - ?1) / ?2, COUNT(*) FROM delivery_attempts"
                     " WHERE ok = 0 AND at >= ?1 AND at < ?3 GROUP BY 1",
                     since_ms, width_ms, n, out, add_failed);
  return rc;
}

/* ---- Top customers ---------------------------------------------------- */

void store_stats_customer_cleanup(struct store_stats_customer *c)
{
  free(c->customer_id);
  for (size_t i = 0; i < c->n_msgs; i++) {
    struct store_stats_msg *m = &c->msgs[i];
    free(m->level_name);
    free(m->text);
    free(m->words_json);
    free(m->reasons_json);
  }
  memset(c, 0, sizeof *c);
}

static enum store_alert outcome_parse(const char *s)
{
  if (s && !strcmp(s, "created"))
    return STORE_ALERT_CREATED;
  if (s && !strcmp(s, "appended"))
    return STORE_ALERT_APPENDED;
  return STORE_ALERT_NONE;
}

/* Reads message row_id into m. The words and reasons are pulled out of
 * the stored result as JSON arrays of strings, "[]" when absent. */
static enum err read_message(struct store_reader *r, sqlite3_stmt *s,
                             int64_t row_id, struct store_stats_msg *m)
{
  sqlite3_reset(s);
  sqlite3_bind_int64(s, 1, row_id);
  int step = sqlite3_step(s);
  if (step == SQLITE_DONE)
    return ERR_NOT_FOUND;
  if (step != SQLITE_ROW)
    return fail(r, "stats message");
  m->at_ms = sqlite3_column_int64(s, 0);
  m->polarity = sqlite3_column_double(s, 1);
  m->level = sqlite3_column_int64(s, 2);
  m->level_name = col_dup(s, 3);
  m->frustrated = sqlite3_column_int(s, 4) != 0;
  m->outcome = outcome_parse((const char *)sqlite3_column_text(s, 5));
  m->text = col_dup(s, 6);
  m->words_json = col_dup(s, 7);
  m->reasons_json = col_dup(s, 8);
  if (!m->words_json)
    m->words_json = xstrdup("[]");
  if (!m->reasons_json)
    m->reasons_json = xstrdup("[]");
  return ERR_OK;
}

/* Fills the customers' msgs: walks back from the newest message, keeping
 * row ids of the customers wanted, until each has its share, the messages
 * get older than since_ms, or scan_max rows were read. */
static enum err fill_messages(struct store_reader *r, int64_t since_ms,
                              size_t scan_max, struct store_stats_customer *cs,
                              size_t n)
{
  int64_t(*ids)[STORE_STATS_CUSTOMER_MSGS] = xcalloc(n ? n : 1, sizeof *ids);
  size_t *have = xcalloc(n ? n : 1, sizeof *have);
  sqlite3_stmt *walk = NULL, *one = NULL;
  size_t full = 0;
  enum err rc = prepare(r,
                        "SELECT id, customer_id, created_at FROM messages"
                        " ORDER BY id DESC",
                        &walk);
  if (rc)
    goto out;
  size_t seen = 0;
  while (full < n && seen < scan_max && sqlite3_step(walk) == SQLITE_ROW) {
    seen++;
    if (sqlite3_column_int64(walk, 2) < since_ms)
      break;
    const char *cust = (const char *)sqlite3_column_text(walk, 1);
    for (size_t i = 0; cust && i < n; i++) {
      if (have[i] < STORE_STATS_CUSTOMER_MSGS &&
          !strcmp(cs[i].customer_id, cust)) {
        ids[i][have[i]++] = sqlite3_column_int64(walk, 0);
        if (have[i] == STORE_STATS_CUSTOMER_MSGS)
          full++;
        break;
      }
    }
  }
  rc = prepare(r,
               "SELECT created_at, polarity, level, level_name, frustrated,"
               " alert_outcome, text,"
               " CASE WHEN json_valid(result_json) THEN (SELECT"
               "   json_group_array(json_extract(value, '$.words'))"
               "   FROM json_each(result_json, '$.assessments')) END,"
               " CASE WHEN json_valid(result_json) THEN (SELECT"
               "   json_group_array(json_extract(value, '$.text'))"
               "   FROM json_each(result_json, '$.frustration.reasons')) END"
               " FROM messages WHERE id = ?1",
               &one);
  for (size_t i = 0; !rc && i < n; i++) {
    for (size_t k = 0; !rc && k < have[i]; k++) {
      rc = read_message(r, one, ids[i][k], &cs[i].msgs[cs[i].n_msgs]);
      if (rc == ERR_OK)
        cs[i].n_msgs++;
      else if (rc == ERR_NOT_FOUND)
        rc = ERR_OK;
    }
  }
out:
  sqlite3_finalize(walk);
  sqlite3_finalize(one);
  free(ids);
  free(have);
  return rc;
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

enum err store_stats_top_customers(struct store_reader *r, int64_t now_ms,
                                   int64_t since_ms, size_t cap,
                                   size_t scan_max,
                                   struct store_stats_customer *out, size_t *n)
{
  sqlite3_stmt *s = NULL, *open = NULL;
  size_t k = 0;
  *n = 0;
  /* One pass over the windows touched since since_ms, streamed: each is
   * parsed and ranked here and only the best cap are kept, so memory
   * does not grow with the number of customers (grouping and sorting
   * them in SQL, through json_each, held them all and took 116 MiB for
   * 100,000 customers). Each window entry is [at, polarity, level]. */
  enum err rc = prepare(r,
                        "SELECT customer_id, recent FROM customer_state"
                        " WHERE updated_at >= ?1",
                        &s);
  if (rc)
    goto out;
  sqlite3_bind_int64(s, 1, since_ms);
  int step;
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    struct store_score win[STORE_WINDOW_MAX];
    struct store_stats_customer cand;
    const char *id = (const char *)sqlite3_column_text(s, 0);
    size_t len = store_window_parse((const char *)sqlite3_column_text(s, 1),
                                    win, STORE_WINDOW_MAX);
    if (!id || !rank_window(win, len, now_ms, since_ms, &cand))
      continue;
    cand.customer_id = (char *)id;
    top_offer(out, cap, &k, &cand);
  }
  if (step != SQLITE_DONE) {
    rc = fail(r, "top customers");
    goto out;
  }
  rc = prepare(r,
               "SELECT EXISTS (SELECT 1 FROM alerts WHERE customer_id = ?1"
               " AND state = 'open')",
               &open);
  for (size_t i = 0; !rc && i < k; i++) {
    sqlite3_reset(open);
    sqlite3_bind_text(open, 1, out[i].customer_id, -1, SQLITE_STATIC);
    if (sqlite3_step(open) != SQLITE_ROW)
      rc = fail(r, "open alerts");
    else
      out[i].alert_open = sqlite3_column_int(open, 0) != 0;
  }
  if (!rc)
    rc = fill_messages(r, since_ms, scan_max ? scan_max : RANK_SCAN_DEFAULT,
                       out, k);
out:
  sqlite3_finalize(s);
  sqlite3_finalize(open);
  if (rc) {
    for (size_t i = 0; i < k; i++)
      store_stats_customer_cleanup(&out[i]);
    return rc;
  }
  *n = k;
  return ERR_OK;
}

enum err store_stats_totals(struct store_reader *r, int64_t *messages,
                            int64_t *alerts)
{
  sqlite3_stmt *s = NULL;
  enum err rc = prepare(r,
                        "SELECT (SELECT COALESCE(MAX(id), 0) FROM messages),"
                        " (SELECT COALESCE(MAX(id), 0) FROM alerts)",
                        &s);
  if (rc)
    return rc;
  if (sqlite3_step(s) == SQLITE_ROW) {
    *messages = sqlite3_column_int64(s, 0);
    *alerts = sqlite3_column_int64(s, 1);
  } else {
    rc = fail(r, "totals");
  }
  sqlite3_finalize(s);
  return rc;
}
