/* store_sqlite_stats: the dashboard's read-only queries on a SQLite store
 * (struct store_reader_ops; store_stats.c checks the arguments and ranks).
 *
 * On its own connection opened read-only (and query_only), so a bug here
 * cannot write. Every query reads an index range bounded by time, so its
 * cost follows the traffic of the window shown, not the size of the
 * store: messages_by_minute covers (minute, level, alert_outcome,
 * polarity), outbox_finished covers (finished_at, state), and the failed
 * attempts come from attempts_ok (ok, at). The top customers' windows
 * come from customer_state (one row per customer, its window of recent
 * scores as JSON), streamed, and their last messages from a walk back
 * from the newest message by rowid, which stops as soon as each has its
 * messages. The language mix is grouped and ranked by SQLite (a window
 * function), so at most STORE_STATS_LANGS + 1 rows come back; it reads
 * the messages of its range through messages_by_minute and then the
 * table, as no index covers lang.
 *
 * Memory does not grow with the store: every query streams, the page
 * cache is SQLite's default (2 MB), and the file is not memory-mapped. */
#include "store/store_sqlite_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

/* How long a query waits for a lock: a reader in WAL mode only meets one
 * while the database is being recovered or checkpointed in truncate mode. */
#define READER_BUSY_MS 2000

static sqlite3 *DB(struct store_reader *r)
{
  return r->impl;
}

static enum err fail(struct store_reader *r, const char *what)
{
  snprintf(r->errmsg, sizeof r->errmsg, "%s: %s", what, sqlite3_errmsg(DB(r)));
  return ERR_STORE;
}

static enum err prepare(struct store_reader *r, const char *sql,
                        sqlite3_stmt **out)
{
  if (sqlite3_prepare_v2(DB(r), sql, -1, out, NULL) != SQLITE_OK)
    return fail(r, "prepare");
  return ERR_OK;
}

static void rd_close(struct store_reader *r)
{
  sqlite3_close(DB(r));
  r->impl = NULL;
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
  store_stats_bucket_add_messages(
      b, sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 2),
      sqlite3_column_double(s, 3), sqlite3_column_int64(s, 4),
      sqlite3_column_int64(s, 5));
}

static void add_delivered(struct store_stats_bucket *b, sqlite3_stmt *s)
{
  b->delivered += sqlite3_column_int64(s, 1);
}

static void add_failed(struct store_stats_bucket *b, sqlite3_stmt *s)
{
  b->failed += sqlite3_column_int64(s, 1);
}

static enum err rd_series(struct store_reader *r, int64_t since_ms,
                          int64_t width_ms, size_t n,
                          struct store_stats_bucket *out)
{
  /* Grouped by (minute, level), the order of messages_by_minute, so the
   * sums need no sort; the minutes are then added into the buckets
   * (whole minutes: since_ms and width_ms are multiples of a minute).
   * The expressions must read exactly as in the index for SQLite to use
   * it. A day of traffic comes back as at most 1440 x levels rows. */
  enum err rc = each_bucket(
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

static enum err rd_windows(struct store_reader *r, int64_t since_ms,
                           void (*each)(void *arg, const char *customer_id,
                                        const char *json),
                           void *arg)
{
  sqlite3_stmt *s = NULL;
  enum err rc = prepare(r,
                        "SELECT customer_id, recent FROM customer_state"
                        " WHERE updated_at >= ?1",
                        &s);
  if (!rc) {
    int step;
    sqlite3_bind_int64(s, 1, since_ms);
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
      each(arg, (const char *)sqlite3_column_text(s, 0),
           (const char *)sqlite3_column_text(s, 1));
    if (step != SQLITE_DONE)
      rc = fail(r, "top customers");
  }
  sqlite3_finalize(s);
  return rc;
}

static enum err rd_alerts_open(struct store_reader *r,
                               struct store_stats_customer *cs, size_t n)
{
  sqlite3_stmt *open = NULL;
  enum err rc =
      prepare(r,
              "SELECT EXISTS (SELECT 1 FROM alerts WHERE customer_id = ?1"
              " AND state = 'open')",
              &open);
  for (size_t i = 0; !rc && i < n; i++) {
    sqlite3_reset(open);
    sqlite3_bind_text(open, 1, cs[i].customer_id, -1, SQLITE_STATIC);
    if (sqlite3_step(open) != SQLITE_ROW)
      rc = fail(r, "open alerts");
    else
      cs[i].alert_open = sqlite3_column_int(open, 0) != 0;
  }
  sqlite3_finalize(open);
  return rc;
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
  m->row_id = row_id;
  m->at_ms = sqlite3_column_int64(s, 0);
  m->polarity = sqlite3_column_double(s, 1);
  m->level = sqlite3_column_int64(s, 2);
  m->level_name = sq_col_dup(s, 3);
  m->frustrated = sqlite3_column_int(s, 4) != 0;
  m->outcome = store_alert_parse((const char *)sqlite3_column_text(s, 5));
  m->text = sq_col_dup(s, 6);
  m->words_json = sq_col_dup(s, 7);
  m->reasons_json = sq_col_dup(s, 8);
  if (!m->words_json)
    m->words_json = xstrdup("[]");
  if (!m->reasons_json)
    m->reasons_json = xstrdup("[]");
  m->lang = sq_col_dup(s, 9);
  m->message_id = sq_col_dup(s, 10);
  m->label = sqlite3_column_type(s, 11) == SQLITE_NULL
                 ? -1
                 : sqlite3_column_int(s, 11) != 0;
  return ERR_OK;
}

/* Fills the customers' msgs: walks back from the newest message, keeping
 * row ids of the customers wanted, until each has its share, the messages
 * get older than since_ms, or scan_max rows were read. */
static enum err rd_last_messages(struct store_reader *r, int64_t since_ms,
                                 size_t scan_max,
                                 struct store_stats_customer *cs, size_t n)
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
    store_stats_keep_id(cs, n, (const char *)sqlite3_column_text(walk, 1),
                        sqlite3_column_int64(walk, 0), ids, have, &full);
  }
  rc = prepare(r,
               "SELECT created_at, polarity, level, level_name, frustrated,"
               " alert_outcome, text,"
               " CASE WHEN json_valid(result_json) THEN (SELECT"
               "   json_group_array(json_extract(value, '$.words'))"
               "   FROM json_each(result_json, '$.assessments')) END,"
               " CASE WHEN json_valid(result_json) THEN (SELECT"
               "   json_group_array(json_extract(value, '$.text'))"
               "   FROM json_each(result_json, '$.frustration.reasons')) END,"
               " COALESCE(NULLIF(lang, ''), '" STORE_STATS_LANG_NONE "'),"
               " message_id, label FROM messages WHERE id = ?1",
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

/* ---- Languages -------------------------------------------------------- */

static enum err rd_langs(struct store_reader *r, int64_t since_ms,
                         int64_t until_ms, struct store_stats_langs *out)
{
  /* Counted per language, ranked (most first, then bytewise by code: the
   * BINARY collation, as "C" on PostgreSQL), and the ranks past the
   * bound folded into one row whose code is NULL, last. The range is
   * written as in messages_by_minute so that SQLite reads only the
   * minutes asked for. Counting per (minute, lang) first costs little
   * more here, and lets an index on (created_at / 60000, lang,
   * frustrated), if the schema gets one, answer in index order without a
   * sort (about 4 times faster over a day of 100,000 messages). */
  sqlite3_stmt *s = NULL;
  enum err rc = prepare(
      r,
      "SELECT CASE WHEN rk <= ?3 THEN code END, SUM(n), SUM(f), COUNT(*)"
      " FROM (SELECT code, n, f,"
      "   ROW_NUMBER() OVER (ORDER BY n DESC, code) AS rk"
      "   FROM (SELECT COALESCE(NULLIF(lang, ''),"
      "     '" STORE_STATS_LANG_NONE "') AS code, SUM(n) AS n, SUM(f) AS f"
      "     FROM (SELECT lang, COUNT(*) AS n, SUM(frustrated <> 0) AS f"
      "       FROM messages WHERE created_at / 60000 >= ?1 / 60000"
      "       AND created_at / 60000 < ?2 / 60000"
      "       GROUP BY created_at / 60000, lang) GROUP BY 1))"
      " GROUP BY 1 ORDER BY MIN(rk)",
      &s);
  if (rc)
    return rc;
  sqlite3_bind_int64(s, 1, since_ms);
  sqlite3_bind_int64(s, 2, until_ms);
  sqlite3_bind_int(s, 3, STORE_STATS_LANGS);
  int step;
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    store_stats_langs_add(out, (const char *)sqlite3_column_text(s, 0),
                          sqlite3_column_int64(s, 1),
                          sqlite3_column_int64(s, 2),
                          sqlite3_column_int64(s, 3));
  }
  if (step != SQLITE_DONE)
    rc = fail(r, "languages");
  sqlite3_finalize(s);
  return rc;
}

static enum err rd_totals(struct store_reader *r, int64_t *messages,
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

static const struct store_reader_ops sqlite_reader_ops = {
    .close = rd_close,
    .series = rd_series,
    .windows = rd_windows,
    .alerts_open = rd_alerts_open,
    .last_messages = rd_last_messages,
    .langs = rd_langs,
    .totals = rd_totals,
};

enum err store_sqlite_reader_open(struct store_reader *r, const char *file,
                                  char *err, size_t errlen)
{
  sqlite3 *db = NULL;
  int orc = sqlite3_open_v2(
      file, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
      NULL);
  r->ops = &sqlite_reader_ops;
  r->impl = db;
  if (orc != SQLITE_OK) {
    snprintf(err, errlen, "cannot open database %s read-only: %s", file,
             db ? sqlite3_errmsg(db) : "out of memory");
    return ERR_STORE;
  }
  sqlite3_busy_timeout(db, READER_BUSY_MS);
  /* No memory-mapped reads: mapped pages of the file count in the
   * server's resident memory, and the top customers read every window
   * touched in the last hour (with 300,000 customers a 256 MiB map put
   * the server at 82 MiB). Read through the page cache, the series of a
   * day over 100,000 messages take about as long. */
  if (sqlite3_exec(db, "PRAGMA query_only=1; PRAGMA mmap_size=0", NULL, NULL,
                   NULL) != SQLITE_OK) {
    snprintf(err, errlen, "database %s: %s", file, sqlite3_errmsg(db));
    return ERR_STORE;
  }
  return ERR_OK;
}
