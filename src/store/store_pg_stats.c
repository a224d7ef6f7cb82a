/* store_pg_stats: the dashboard's read-only queries on a PostgreSQL store
 * (struct store_reader_ops; store_stats.c checks the arguments and ranks).
 *
 * On a connection of its own whose transactions are read-only
 * (default_transaction_read_only), so a bug here cannot write, and whose
 * statements give up after READER_STATEMENT_MS, so that a stuck query
 * cannot hold the dashboard's lock for long. The queries read index
 * ranges bounded by time: messages_created (created_at),
 * outbox_finished (finished_at, state), attempts_failed (at, not ok),
 * customer_state_updated (updated_at); the open alerts come from
 * alerts_one_open and the top customers' last messages from a walk back
 * along the primary key, in pages, which stops as soon as each customer
 * has its messages (there is no index on messages(customer_id)). The
 * language mix is grouped and ranked by the server, so at most
 * STORE_STATS_LANGS + 1 rows come back; it reads the messages of its range
 * through messages_created and then the table, as no index covers lang.
 *
 * Memory does not grow with the store: the customer windows, the one
 * read that grows with traffic, are streamed row by row (libpq's
 * single-row mode) instead of being buffered whole, and the walk reads
 * pages of at most WALK_PAGE_MAX rows.
 *
 * A lost connection (a server restart) is re-established with PQreset
 * before the next query, and a query that failed because the connection
 * was lost is run once more on the new one: reads are idempotent (a
 * stream is run again only if it had delivered no row).
 *
 * Differences from SQLite: totals are the highest ids, as there, but a
 * PostgreSQL sequence is not given back by a rolled-back transaction, so
 * they may run ahead of the row counts after retried transactions. */
#include "store/store_pg_int.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/xalloc.h"

/* The longest a statement of the reader may run (the dashboard holds its
 * lock while it reads, and answers "store": {"ok": false} instead). */
#define READER_STATEMENT_MS 10000

/* Rows of the walk back through messages per round trip: a first page
 * small (the top customers wrote last, most of the time), doubled up to
 * the largest. Each row is an id, a customer id and a time. */
#define WALK_PAGE_MIN 256
#define WALK_PAGE_MAX 8192

struct pg_reader {
  PGconn *conn;
};

static PGconn *CONN(struct store_reader *r)
{
  return ((struct pg_reader *)r->impl)->conn;
}

/* r->errmsg from what and the server's (or libpq's) message. */
static enum err fail(struct store_reader *r, const char *what,
                     const PGresult *res)
{
  int len;
  const char *msg = pg_error_text(CONN(r), res, &len);
  snprintf(r->errmsg, sizeof r->errmsg, "postgresql: %s: %.*s", what, len, msg);
  return ERR_STORE;
}

static void ignore_notice(void *arg, const char *message)
{
  (void)arg;
  (void)message;
}

/* What every new connection of the reader is set up with (again after a
 * reset: settings live and die with the session). */
static enum err setup(struct store_reader *r)
{
  char sql[160];
  PGconn *c = CONN(r);
  PQsetNoticeProcessor(c, ignore_notice, NULL);
  PQsetClientEncoding(c, "UTF8");
  snprintf(sql, sizeof sql,
           "SET default_transaction_read_only = on;"
           " SET statement_timeout = %d",
           READER_STATEMENT_MS);
  PGresult *res = PQexec(c, sql);
  enum err rc = PQresultStatus(res) == PGRES_COMMAND_OK
                    ? ERR_OK
                    : fail(r, "set up the reader's session", res);
  PQclear(res);
  return rc;
}

/* Makes sure the connection is up, connecting again if it was lost. */
static enum err ready(struct store_reader *r)
{
  if (PQstatus(CONN(r)) == CONNECTION_OK)
    return ERR_OK;
  /* PQreset follows the URL again, so a URL with several hosts and
   * target_session_attrs finds the server that answers now. */
  PQreset(CONN(r));
  if (PQstatus(CONN(r)) != CONNECTION_OK)
    return fail(r, "PostgreSQL unavailable", NULL);
  return setup(r);
}

/* Runs sql with the text parameters v[0..n) and returns its rows (free
 * with PQclear), or NULL with r->errmsg set. A query that failed because
 * the connection was lost runs once more on a new one. */
static PGresult *query(struct store_reader *r, const char *sql, int n,
                       const char *const *v, const char *what)
{
  for (int attempt = 0; attempt < 2; attempt++) {
    if (ready(r))
      return NULL;
    PGresult *res = PQexecParams(CONN(r), sql, n, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
      return res;
    fail(r, what, res);
    PQclear(res);
    if (PQstatus(CONN(r)) == CONNECTION_OK)
      return NULL;
  }
  return NULL;
}

/* Like query, handing each row to row(arg, res) as it arrives instead of
 * keeping them all. */
static enum err stream(struct store_reader *r, const char *sql, int n,
                       const char *const *v, const char *what,
                       void (*row)(void *arg, const PGresult *res), void *arg)
{
  enum err rc = ERR_OK;
  for (int attempt = 0; attempt < 2; attempt++) {
    size_t rows = 0;
    rc = ready(r);
    if (rc)
      return rc;
    if (!PQsendQueryParams(CONN(r), sql, n, NULL, v, NULL, NULL, 0) ||
        !PQsetSingleRowMode(CONN(r))) {
      rc = fail(r, what, NULL);
      /* Nothing was sent or a result is under way: read it to the end. */
      PQclear(PQgetResult(CONN(r)));
    } else {
      PGresult *res;
      /* Every result is read, also after a failure, so that the
       * connection is ready for the next query. */
      while ((res = PQgetResult(CONN(r)))) {
        ExecStatusType s = PQresultStatus(res);
        if (s == PGRES_SINGLE_TUPLE && !rc) {
          row(arg, res);
          rows++;
        } else if (s != PGRES_TUPLES_OK && s != PGRES_SINGLE_TUPLE && !rc) {
          rc = fail(r, what, res);
        }
        PQclear(res);
      }
    }
    while (PQgetResult(CONN(r)))
      ;
    if (!rc || rows || PQstatus(CONN(r)) == CONNECTION_OK)
      return rc;
  }
  return rc;
}

static double field_double(const PGresult *res, int row, int col)
{
  return PQgetisnull(res, row, col) ? 0
                                    : strtod(PQgetvalue(res, row, col), NULL);
}

/* ---- Series ----------------------------------------------------------- */

/* Runs a "SELECT bucket, ..." query bound to (since, width, until) and
 * hands each row to add. */
static enum err each_bucket(struct store_reader *r, const char *sql,
                            int64_t since_ms, int64_t width_ms, size_t n,
                            struct store_stats_bucket *out,
                            void (*add)(struct store_stats_bucket *b,
                                        const PGresult *res, int row))
{
  struct pg_params p = {0};
  pp_int(&p, since_ms);
  pp_int(&p, width_ms);
  pp_int(&p, since_ms + (int64_t)n * width_ms);
  PGresult *res = query(r, sql, p.n, p.v, "stats");
  if (!res)
    return ERR_STORE;
  for (int i = 0; i < PQntuples(res); i++) {
    int64_t b = pg_int(res, i, 0);
    if (b >= 0 && (size_t)b < n)
      add(&out[b], res, i);
  }
  PQclear(res);
  return ERR_OK;
}

static void add_messages(struct store_stats_bucket *b, const PGresult *res,
                         int row)
{
  store_stats_bucket_add_messages(b, pg_int(res, row, 1), pg_int(res, row, 2),
                                  field_double(res, row, 3),
                                  pg_int(res, row, 4), pg_int(res, row, 5));
}

static void add_delivered(struct store_stats_bucket *b, const PGresult *res,
                          int row)
{
  b->delivered += pg_int(res, row, 1);
}

static void add_failed(struct store_stats_bucket *b, const PGresult *res,
                       int row)
{
  b->failed += pg_int(res, row, 1);
}

static enum err rd_series(struct store_reader *r, int64_t since_ms,
                          int64_t width_ms, size_t n,
                          struct store_stats_bucket *out)
{
  /* since_ms and the bucket ends are whole minutes, so a plain range on
   * created_at (messages_created) selects the same minutes as SQLite's
   * minute expressions. Grouped by bucket and level: a day comes back as
   * at most 144 x levels rows. The sum of polarities is summed per
   * bucket here and per minute in SQLite, so the two may differ in the
   * last bits of a double. */
  enum err rc = each_bucket(
      r,
      "SELECT (created_at / 60000 * 60000 - $1::bigint) / $2::bigint, level,"
      " count(*), sum(polarity), count(*) FILTER (WHERE alert_outcome ="
      " 'created'), count(*) FILTER (WHERE alert_outcome = 'appended')"
      " FROM messages WHERE created_at >= $1::bigint"
      " AND created_at < $3::bigint GROUP BY 1, 2",
      since_ms, width_ms, n, out, add_messages);
  if (!rc)
    rc = each_bucket(r,
                     "SELECT (finished_at - $1::bigint) / $2::bigint, count(*)"
                     " FROM outbox WHERE finished_at >= $1::bigint"
                     " AND finished_at < $3::bigint AND state = 'done'"
                     " GROUP BY 1",
                     since_ms, width_ms, n, out, add_delivered);
  if (!rc)
    rc = each_bucket(r,
                     "SELECT (at - $1::bigint) / $2::bigint, count(*)"
                     " FROM delivery_attempts WHERE NOT ok"
                     " AND at >= $1::bigint AND at < $3::bigint GROUP BY 1",
                     since_ms, width_ms, n, out, add_failed);
  return rc;
}

/* ---- Top customers ---------------------------------------------------- */

struct windows_arg {
  void (*each)(void *arg, const char *customer_id, const char *json);
  void *arg;
};

static void window_row(void *arg, const PGresult *res)
{
  struct windows_arg *w = arg;
  w->each(w->arg, PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0),
          PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1));
}

static enum err rd_windows(struct store_reader *r, int64_t since_ms,
                           void (*each)(void *arg, const char *customer_id,
                                        const char *json),
                           void *arg)
{
  struct pg_params p = {0};
  struct windows_arg w = {each, arg};
  pp_int(&p, since_ms);
  return stream(r,
                "SELECT customer_id, recent FROM customer_state"
                " WHERE updated_at >= $1::bigint",
                p.n, p.v, "top customers", window_row, &w);
}

/* The customers' ids as a PostgreSQL array literal ("{"a","b\"c"}"),
 * owned by the caller. */
static char *id_array(const struct store_stats_customer *cs, size_t n)
{
  size_t cap = 3;
  for (size_t i = 0; i < n; i++)
    cap += 2 * strlen(cs[i].customer_id) + 3;
  char *s = xmalloc(cap), *o = s;
  *o++ = '{';
  for (size_t i = 0; i < n; i++) {
    if (i)
      *o++ = ',';
    *o++ = '"';
    for (const char *c = cs[i].customer_id; *c; c++) {
      if (*c == '"' || *c == '\\')
        *o++ = '\\';
      *o++ = *c;
    }
    *o++ = '"';
  }
  *o++ = '}';
  *o = '\0';
  return s;
}

static enum err rd_alerts_open(struct store_reader *r,
                               struct store_stats_customer *cs, size_t n)
{
  if (!n)
    return ERR_OK;
  char *ids = id_array(cs, n);
  const char *v[1] = {ids};
  /* alerts_one_open: one row per customer with an open alert. */
  PGresult *res = query(r,
                        "SELECT customer_id FROM alerts WHERE state = 'open'"
                        " AND customer_id = ANY ($1::text[])",
                        1, v, "open alerts");
  free(ids);
  if (!res)
    return ERR_STORE;
  for (size_t i = 0; i < n; i++)
    cs[i].alert_open = false;
  for (int k = 0; k < PQntuples(res); k++)
    for (size_t i = 0; i < n; i++)
      if (!strcmp(cs[i].customer_id, PQgetvalue(res, k, 0)))
        cs[i].alert_open = true;
  PQclear(res);
  return ERR_OK;
}

/* The field of each element of the value at root.path[0].path[1] as a
 * JSON array (null where an element has none), owned. What SQLite's
 * json_group_array(json_extract(value, '$.field')) over json_each(root,
 * path) gives for the same text: the elements of an array, the values of
 * an object, one null for anything else, "[]" when there is no value
 * there (or no JSON at all). */
static char *pluck(const cJSON *root, const char *const *path, size_t depth,
                   const char *field)
{
  const cJSON *a = root;
  for (size_t i = 0; a && i < depth; i++)
    a = cJSON_IsObject(a) ? cJSON_GetObjectItemCaseSensitive(a, path[i]) : NULL;
  cJSON *out = cJSON_CreateArray();
  if (!out)
    abort(); /* out of memory, as in xmalloc */
  const cJSON *el;
  if (cJSON_IsArray(a) || cJSON_IsObject(a)) {
    cJSON_ArrayForEach(el, a)
    {
      const cJSON *v = cJSON_IsObject(el)
                           ? cJSON_GetObjectItemCaseSensitive(el, field)
                           : NULL;
      cJSON *copy = v ? cJSON_Duplicate(v, true) : cJSON_CreateNull();
      if (!copy)
        abort();
      cJSON_AddItemToArray(out, copy);
    }
  } else if (a) {
    cJSON *null = cJSON_CreateNull();
    if (!null)
      abort();
    cJSON_AddItemToArray(out, null);
  }
  char *text = cJSON_PrintUnformatted(out);
  cJSON_Delete(out);
  if (!text)
    abort();
  char *s = xstrdup(text);
  cJSON_free(text);
  return s;
}

/* Fills m from row k of the messages query. The words and reasons are
 * pulled out of the stored result (the analysis as answered); a result
 * that is not JSON gives "[]", as in SQLite. */
static void read_message(const PGresult *res, int k, struct store_stats_msg *m)
{
  static const char *const assessments[] = {"assessments"};
  static const char *const reasons[] = {"frustration", "reasons"};
  m->row_id = pg_int(res, k, 0);
  m->at_ms = pg_int(res, k, 1);
  m->polarity = field_double(res, k, 2);
  m->level = pg_int(res, k, 3);
  m->level_name = pg_dup(res, k, 4);
  m->frustrated = pg_bool(res, k, 5);
  m->outcome = store_alert_parse(PQgetvalue(res, k, 6));
  m->text = pg_dup(res, k, 7);
  cJSON *root =
      PQgetisnull(res, k, 8) ? NULL : cJSON_Parse(PQgetvalue(res, k, 8));
  m->words_json = pluck(root, assessments, 1, "words");
  m->reasons_json = pluck(root, reasons, 2, "text");
  cJSON_Delete(root);
  m->lang = pg_dup(res, k, 9);
  m->message_id = pg_dup(res, k, 10);
  m->label = PQgetisnull(res, k, 11) ? -1 : pg_bool(res, k, 11);
}

/* Fills the customers' msgs: walks back from the newest message by id,
 * keeping the ids of the customers wanted, until each has its share, the
 * messages get older than since_ms, or scan_max rows were read; then
 * reads those messages in one query. */
static enum err rd_last_messages(struct store_reader *r, int64_t since_ms,
                                 size_t scan_max,
                                 struct store_stats_customer *cs, size_t n)
{
  int64_t(*ids)[STORE_STATS_CUSTOMER_MSGS] = xcalloc(n ? n : 1, sizeof *ids);
  size_t *have = xcalloc(n ? n : 1, sizeof *have);
  size_t full = 0, seen = 0, page = WALK_PAGE_MIN, wanted = 0;
  int64_t before = INT64_MAX;
  bool older = false, end = false;
  enum err rc = ERR_OK;
  char *list = NULL;
  while (!rc && full < n && seen < scan_max && !older && !end) {
    size_t limit = scan_max - seen < page ? scan_max - seen : page;
    struct pg_params p = {0};
    pp_int(&p, before);
    pp_int(&p, (int64_t)limit);
    /* The primary key, backwards: no sort, and no index on customer_id
     * is needed. */
    PGresult *res = query(r,
                          "SELECT id, customer_id, created_at FROM messages"
                          " WHERE id < $1::bigint ORDER BY id DESC"
                          " LIMIT $2::bigint",
                          p.n, p.v, "recent messages");
    if (!res) {
      rc = ERR_STORE;
      break;
    }
    int rows = PQntuples(res);
    end = (size_t)rows < limit;
    for (int k = 0; k < rows && full < n; k++) {
      seen++;
      before = pg_int(res, k, 0);
      if (pg_int(res, k, 2) < since_ms) {
        older = true;
        break;
      }
      if (store_stats_keep_id(cs, n, PQgetvalue(res, k, 1), before, ids, have,
                              &full))
        wanted++;
    }
    PQclear(res);
    if (page < WALK_PAGE_MAX)
      page *= 2;
  }
  if (rc || !wanted)
    goto out;
  /* The ids as a bigint[] literal: digits and commas only. */
  list = xmalloc(wanted * 21 + 3);
  size_t len = 0;
  list[len++] = '{';
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < have[i]; k++)
      len += (size_t)sprintf(list + len, "%s%" PRId64, len > 1 ? "," : "",
                             ids[i][k]);
  list[len++] = '}';
  list[len] = '\0';
  const char *v[1] = {list};
  PGresult *res =
      query(r,
            "SELECT id, created_at, polarity, level, level_name, frustrated,"
            " alert_outcome, text, result_json,"
            " COALESCE(NULLIF(lang, ''), '" STORE_STATS_LANG_NONE "'),"
            " message_id, label FROM messages WHERE id = ANY ($1::bigint[])",
            1, v, "stats messages");
  if (!res) {
    rc = ERR_STORE;
    goto out;
  }
  /* In walk order (newest first per customer); an id that is gone is
   * left out. */
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < have[i]; k++)
      for (int row = 0; row < PQntuples(res); row++)
        if (pg_int(res, row, 0) == ids[i][k]) {
          read_message(res, row, &cs[i].msgs[cs[i].n_msgs++]);
          break;
        }
  PQclear(res);
out:
  free(list);
  free(ids);
  free(have);
  return rc;
}

/* ---- Languages -------------------------------------------------------- */

static enum err rd_langs(struct store_reader *r, int64_t since_ms,
                         int64_t until_ms, struct store_stats_langs *out)
{
  struct pg_params p = {0};
  pp_int(&p, since_ms);
  pp_int(&p, until_ms);
  pp_int(&p, STORE_STATS_LANGS);
  /* The query of SQLite's rd_langs: codes are ordered bytewise (COLLATE
   * "C", SQLite's BINARY) so that ties rank the same on both. */
  PGresult *res =
      query(r,
            "SELECT CASE WHEN rk <= $3::bigint THEN code END, sum(n), sum(f),"
            " count(*) FROM (SELECT code, n, f,"
            "   row_number() OVER (ORDER BY n DESC, code COLLATE \"C\") AS rk"
            "   FROM (SELECT COALESCE(NULLIF(lang, ''),"
            "     '" STORE_STATS_LANG_NONE "') AS code, count(*) AS n,"
            "     count(*) FILTER (WHERE frustrated) AS f FROM messages"
            "     WHERE created_at >= $1::bigint AND created_at < $2::bigint"
            "     GROUP BY 1) AS per_lang) AS ranked"
            " GROUP BY 1 ORDER BY min(rk)",
            p.n, p.v, "languages");
  if (!res)
    return ERR_STORE;
  for (int i = 0; i < PQntuples(res); i++) {
    store_stats_langs_add(
        out, PQgetisnull(res, i, 0) ? NULL : PQgetvalue(res, i, 0),
        pg_int(res, i, 1), pg_int(res, i, 2), pg_int(res, i, 3));
  }
  PQclear(res);
  return ERR_OK;
}

static enum err rd_totals(struct store_reader *r, int64_t *messages,
                          int64_t *alerts)
{
  /* count(*), not max(id) as on SQLite: ids taken for a batch and not
   * used (duplicates, a transaction run again) leave gaps. Each read
   * costs a scan of the primary keys (index-only once vacuumed); the
   * dashboard caches its answer for a second. */
  PGresult *res = query(r,
                        "SELECT (SELECT count(*) FROM messages),"
                        " (SELECT count(*) FROM alerts)",
                        0, NULL, "totals");
  if (!res)
    return ERR_STORE;
  *messages = PQntuples(res) ? pg_int(res, 0, 0) : 0;
  *alerts = PQntuples(res) ? pg_int(res, 0, 1) : 0;
  PQclear(res);
  return ERR_OK;
}

static void rd_close(struct store_reader *r)
{
  struct pg_reader *q = r->impl;
  if (!q)
    return;
  PQfinish(q->conn);
  free(q);
  r->impl = NULL;
}

static const struct store_reader_ops pg_reader_ops = {
    .close = rd_close,
    .series = rd_series,
    .windows = rd_windows,
    .alerts_open = rd_alerts_open,
    .last_messages = rd_last_messages,
    .langs = rd_langs,
    .totals = rd_totals,
};

enum err store_pg_reader_open(struct store_reader *r, const char *url,
                              char *err, size_t errlen)
{
  struct pg_reader *q = xcalloc(1, sizeof *q);
  r->ops = &pg_reader_ops;
  r->impl = q;
  q->conn = pg_connect(url);
  if (!q->conn || PQstatus(q->conn) != CONNECTION_OK) {
    int len;
    const char *m = pg_error_text(q->conn, NULL, &len);
    snprintf(err, errlen, "cannot connect to PostgreSQL: %.*s", len, m);
    return ERR_STORE;
  }
  if (setup(r)) {
    snprintf(err, errlen, "%s", r->errmsg);
    return ERR_STORE;
  }
  return ERR_OK;
}
