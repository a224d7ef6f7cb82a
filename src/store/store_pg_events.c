/* store_pg_events: the feed of committed messages on PostgreSQL (see
 * store_events.h).
 *
 * A feed owns one connection of its own that LISTENs on PG_EVENTS_CHANNEL
 * and runs the reads in autocommit mode; it never writes. The sending side
 * is the committing transaction itself (pg_tx in store_pg.c, for a
 * transaction that inserted messages), so a notification cannot arrive
 * before its rows are visible.
 *
 * Position: the highest id handed over (high) and the missing ids below it
 * (gaps, ascending by id and so by the time they were noticed). A read
 * first asks for the gaps, then for the rows above high, a page at a time.
 * A connection lost is made again by the next call; the position stays,
 * so nothing committed meanwhile is skipped. */
#include "store/store_events.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/xalloc.h"
#include "store/store_pg_int.h"

/* Rows asked for per query: a burst is read in pages of this size. */
#define PAGE_ROWS 500

#define MSG_COLUMNS                                                            \
  "id, created_at, customer_id, level, level_name, polarity, frustrated,"      \
  " alert_outcome, alert_id, lang, message_id"

struct gap {
  int64_t id;
  int64_t since_ms; /* monotonic: when it was first missed */
};

struct store_events {
  char *url;
  PGconn *conn; /* NULL until connected, and after a failure */
  bool started; /* high is known */
  int64_t high; /* the highest id handed over (or the start) */
  struct gap gaps[STORE_EVENTS_GAPS_MAX];
  size_t n_gaps;
  bool notified;        /* a notification came during a read */
  int wake_rd, wake_wr; /* store_events_interrupt's pipe */
  char errmsg[512];
};

bool store_events_supported(const char *url)
{
  return store_url_is_pg(url);
}

static void set_error(struct store_events *ev, const char *what,
                      const PGresult *r)
{
  int len;
  const char *msg = pg_error_text(ev->conn, r, &len);
  snprintf(ev->errmsg, sizeof ev->errmsg, "postgresql: %s: %.*s", what, len,
           msg);
}

/* Drops the connection after a failure: the next call connects again. */
static void disconnect(struct store_events *ev)
{
  PQfinish(ev->conn);
  ev->conn = NULL;
}

static void ignore_notice(void *arg, const char *message)
{
  (void)arg;
  (void)message;
}

/* Runs sql with p (NULL: none) on the feed's connection; the result when
 * it succeeded, else NULL with the message set and the connection dropped
 * if it is gone. */
static PGresult *run(struct store_events *ev, const char *sql,
                     const struct pg_params *p, const char *what)
{
  PGresult *r = PQexecParams(ev->conn, sql, p ? p->n : 0, NULL, p ? p->v : NULL,
                             NULL, NULL, 0);
  ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
    return r;
  set_error(ev, what, r);
  PQclear(r);
  if (PQstatus(ev->conn) != CONNECTION_OK)
    disconnect(ev);
  return NULL;
}

/* Takes the notifications libpq has read; true when there was one. */
static bool drain_notifies(struct store_events *ev)
{
  bool any = false;
  PGnotify *n;
  while ((n = PQnotifies(ev->conn)) != NULL) {
    any = true;
    PQfreemem(n);
  }
  return any;
}

/* Connects and listens when not connected; on the first connection the
 * feed starts after the newest row. */
static enum err connect_feed(struct store_events *ev)
{
  if (ev->conn && PQstatus(ev->conn) == CONNECTION_OK)
    return ERR_OK;
  disconnect(ev);
  ev->conn = pg_connect(ev->url);
  if (!ev->conn || PQstatus(ev->conn) != CONNECTION_OK) {
    set_error(ev, "cannot connect", NULL);
    disconnect(ev);
    return ERR_STORE;
  }
  PQsetNoticeProcessor(ev->conn, ignore_notice, NULL);
  PQsetClientEncoding(ev->conn, "UTF8");
  PGresult *r = run(ev, "LISTEN " PG_EVENTS_CHANNEL, NULL, "listen");
  if (!r)
    return ERR_STORE;
  PQclear(r);
  /* Notifications sent while there was no connection are lost: the
   * caller's next read finds their rows anyway. */
  ev->notified = true;
  if (ev->started)
    return ERR_OK;
  r = run(ev, "SELECT COALESCE(max(id), 0) FROM messages", NULL,
          "find the newest message");
  if (!r)
    return ERR_STORE;
  ev->high = pg_int(r, 0, 0);
  ev->started = true;
  PQclear(r);
  return ERR_OK;
}

enum err store_events_open(const char *url, struct store_events **out)
{
  if (!store_events_supported(url))
    return ERR_UNSUPPORTED;
  int fds[2];
  if (pipe(fds))
    return ERR_INTERNAL;
  for (int i = 0; i < 2; i++) {
    fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    fcntl(fds[i], F_SETFD, FD_CLOEXEC);
  }
  struct store_events *ev = xcalloc(1, sizeof *ev);
  ev->url = xstrdup(url);
  ev->wake_rd = fds[0];
  ev->wake_wr = fds[1];
  *out = ev;
  return ERR_OK;
}

void store_events_close(struct store_events *ev)
{
  if (!ev)
    return;
  disconnect(ev);
  close(ev->wake_rd);
  close(ev->wake_wr);
  free(ev->url);
  free(ev);
}

void store_events_interrupt(struct store_events *ev)
{
  /* A full pipe already holds a wake-up: nothing is lost. */
  ssize_t w = write(ev->wake_wr, "x", 1);
  (void)w;
}

const char *store_events_errmsg(const struct store_events *ev)
{
  return ev ? ev->errmsg : "";
}

static void drain_wake(struct store_events *ev)
{
  char tmp[64];
  while (read(ev->wake_rd, tmp, sizeof tmp) > 0)
    ;
}

enum err store_events_wait(struct store_events *ev, int timeout_ms,
                           bool *notified)
{
  if (notified)
    *notified = false;
  enum err rc = connect_feed(ev);
  if (rc) {
    struct pollfd pf = {.fd = ev->wake_rd, .events = POLLIN};
    if (poll(&pf, 1, timeout_ms) > 0)
      drain_wake(ev);
    return rc;
  }
  if (!PQconsumeInput(ev->conn)) {
    set_error(ev, "wait for notifications", NULL);
    disconnect(ev);
    return ERR_STORE;
  }
  bool got = drain_notifies(ev) || ev->notified;
  if (!got) {
    struct pollfd pf[2] = {{.fd = PQsocket(ev->conn), .events = POLLIN},
                           {.fd = ev->wake_rd, .events = POLLIN}};
    int n = poll(pf, 2, timeout_ms);
    if (n < 0 && errno != EINTR) {
      snprintf(ev->errmsg, sizeof ev->errmsg, "poll: %s", strerror(errno));
      return ERR_STORE;
    }
    if (n > 0 && (pf[1].revents & POLLIN))
      drain_wake(ev);
    if (n > 0 && pf[0].revents) {
      if (!PQconsumeInput(ev->conn)) {
        set_error(ev, "wait for notifications", NULL);
        disconnect(ev);
        return ERR_STORE;
      }
      got = drain_notifies(ev);
    }
  }
  ev->notified = false;
  if (notified)
    *notified = got;
  return ERR_OK;
}

/* ---- Reading ---------------------------------------------------------- */

/* Forgets the gaps missed for longer than STORE_EVENTS_GAP_MS: they are
 * a prefix, gaps being noticed in id order. */
static void expire_gaps(struct store_events *ev, int64_t now_ms)
{
  size_t k = 0;
  while (k < ev->n_gaps && now_ms - ev->gaps[k].since_ms > STORE_EVENTS_GAP_MS)
    k++;
  if (!k)
    return;
  memmove(ev->gaps, ev->gaps + k, (ev->n_gaps - k) * sizeof ev->gaps[0]);
  ev->n_gaps -= k;
}

/* Remembers the ids between ev->high and id (both excluded) as missing,
 * giving up the oldest beyond STORE_EVENTS_GAPS_MAX. */
static void add_gaps(struct store_events *ev, int64_t id, int64_t now_ms)
{
  int64_t from = ev->high + 1;
  if (id - from > STORE_EVENTS_GAPS_MAX)
    from = id - STORE_EVENTS_GAPS_MAX;
  for (int64_t g = from; g < id; g++) {
    if (ev->n_gaps == STORE_EVENTS_GAPS_MAX) {
      memmove(ev->gaps, ev->gaps + 1, (ev->n_gaps - 1) * sizeof ev->gaps[0]);
      ev->n_gaps--;
    }
    ev->gaps[ev->n_gaps++] = (struct gap){.id = g, .since_ms = now_ms};
  }
}

static void remove_gap(struct store_events *ev, int64_t id)
{
  for (size_t i = 0; i < ev->n_gaps; i++) {
    if (ev->gaps[i].id == id) {
      memmove(ev->gaps + i, ev->gaps + i + 1,
              (ev->n_gaps - i - 1) * sizeof ev->gaps[0]);
      ev->n_gaps--;
      return;
    }
  }
}

/* Hands row i of r (MSG_COLUMNS) to each. */
static void hand_over(const PGresult *r, int i,
                      void (*each)(void *, const struct store_event_msg *),
                      void *arg)
{
  struct store_event_msg m = {
      .row_id = pg_int(r, i, 0),
      .at_ms = pg_int(r, i, 1),
      .customer_id = PQgetvalue(r, i, 2),
      .level = pg_int(r, i, 3),
      .level_name = PQgetvalue(r, i, 4),
      .polarity = strtod(PQgetvalue(r, i, 5), NULL),
      .frustrated = pg_bool(r, i, 6),
      .outcome = store_alert_parse(PQgetvalue(r, i, 7)),
      .alert_id = pg_int(r, i, 8),
      .lang = PQgetisnull(r, i, 9) ? NULL : PQgetvalue(r, i, 9),
      .message_id = PQgetisnull(r, i, 10) ? NULL : PQgetvalue(r, i, 10),
  };
  each(arg, &m);
}

/* Asks for the rows of the missing ids; those found are handed over and
 * no longer missing. */
static enum err read_gaps(struct store_events *ev,
                          void (*each)(void *, const struct store_event_msg *),
                          void *arg, size_t *n)
{
  if (!ev->n_gaps)
    return ERR_OK;
  /* A bigint[] literal: "{1,2,3}". */
  size_t cap = ev->n_gaps * 21 + 3, len = 0;
  char *ids = xmalloc(cap);
  ids[len++] = '{';
  for (size_t i = 0; i < ev->n_gaps; i++)
    len += (size_t)snprintf(ids + len, cap - len, "%s%" PRId64, i ? "," : "",
                            ev->gaps[i].id);
  snprintf(ids + len, cap - len, "}");
  struct pg_params p = {0};
  pp_text(&p, ids);
  PGresult *r = run(ev,
                    "SELECT " MSG_COLUMNS " FROM messages"
                    " WHERE id = ANY($1::bigint[]) ORDER BY id",
                    &p, "read late messages");
  free(ids);
  if (!r)
    return ERR_STORE;
  for (int i = 0; i < PQntuples(r); i++) {
    remove_gap(ev, pg_int(r, i, 0));
    hand_over(r, i, each, arg);
    (*n)++;
  }
  PQclear(r);
  return ERR_OK;
}

enum err store_events_read(struct store_events *ev,
                           void (*each)(void *arg,
                                        const struct store_event_msg *m),
                           void *arg, size_t *n)
{
  size_t count = 0;
  if (n)
    *n = 0;
  enum err rc = connect_feed(ev);
  if (rc)
    return rc;
  int64_t now_ms = clock_mono_ms();
  expire_gaps(ev, now_ms);
  rc = read_gaps(ev, each, arg, &count);
  while (!rc) {
    struct pg_params p = {0};
    pp_int(&p, ev->high);
    pp_int(&p, PAGE_ROWS);
    PGresult *r = run(ev,
                      "SELECT " MSG_COLUMNS " FROM messages WHERE id > $1"
                      " ORDER BY id LIMIT $2",
                      &p, "read new messages");
    if (!r) {
      rc = ERR_STORE;
      break;
    }
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
      int64_t id = pg_int(r, i, 0);
      add_gaps(ev, id, now_ms);
      ev->high = id;
      hand_over(r, i, each, arg);
      count++;
    }
    PQclear(r);
    if (rows < PAGE_ROWS)
      break;
  }
  /* Notifications read with the results are for rows this read may have
   * missed only if they came after its last query: the next wait returns
   * at once and the next read looks. */
  if (ev->conn && drain_notifies(ev))
    ev->notified = true;
  if (n)
    *n = count;
  return rc;
}
