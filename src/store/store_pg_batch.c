/* store_pg_batch: a prepared batch on PostgreSQL. store_prepare_batch
 * takes the record locks of every message id and customer of the
 * committer's transaction, sorted, and in the same round trip reads what
 * the alert policy will ask about those keys: the messages already
 * stored, the customers' windows and their open alerts, and takes message
 * and alert ids from the sequences. The policy's questions are then
 * answered here, and its writes keep these rows current: alerts go out at
 * once in pipeline mode (pg_send), messages, outbox entries and windows
 * are held back and written in one statement per table before anything
 * else runs (pg_drain) or at commit. A batch thus costs a few round trips
 * and statements instead of several per message.
 *
 * Ids taken for messages that turn out duplicates, and for alerts that
 * were not needed, are left unused: a batch leaves gaps in the ids.
 *
 * Why the rows cannot go stale: the transaction holds the record locks of
 * every key read ahead until it ends, and every writer of those rows takes
 * them first (another instance's committer, and this handle's own writes,
 * which update the rows here). A key that is not the batch's is not
 * answered here: the caller queries as before. */
#include "store/store_pg_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/fnv.h"
#include "base/xalloc.h"

/* A message id of the batch. */
struct bmsg {
  char *key;
  bool unknown; /* not answered here: a query finds the row */
  bool found;
  int64_t row_id;
  enum store_alert outcome;
  int64_t alert_id;
  char *result_json;
  char alert_key[STORE_ALERT_KEY_LEN];
};

/* A customer of the batch. */
struct bcust {
  char *key;
  char *window; /* NULL: none stored */
  /* Windows written since the last flush (0: nothing to write), the last
   * one's time. */
  int64_t puts, put_ms;
  bool alert_found;
  struct store_alert_row alert; /* the open alert when alert_found */
};

/* Keys to the index of their row: open addressing, a power of two of
 * slots at least twice the keys, slot 0 meaning empty (rows are 1-based
 * there). */
struct keymap {
  uint32_t *slot;
  size_t mask;
};

/* Rows held back for one insert: a text array literal per column. */
#define ROWS_MAX_COLS 21
struct rows {
  struct buf col[ROWS_MAX_COLS];
  int ncols;
  size_t n;
  enum err rc; /* the first failure to append */
};

/* Rows held back before they are sent. Enough to make one statement
 * worth it, few enough to keep the arrays small. */
#define ROWS_FLUSH 1000

/* An update of an open alert, held back (the columns of P_ALERT_UPDATE). */
struct bupdate {
  int64_t id, level, last_activity_ms, message_count;
  char *level_name, *severity;
  bool ticket_wanted;
  size_t seq; /* the order written: the last one per alert is sent */
};

struct pg_batch {
  struct rows msg_rows, outbox_rows;
  struct bupdate *updates;
  size_t n_updates, cap_updates;
  bool flushing;
  int64_t *alert_ids; /* alert ids taken from the sequence */
  size_t n_alert_ids, next_alert_id;
  struct bmsg *msgs;
  size_t n_msgs;
  struct keymap msg_map;
  struct bcust *custs;
  size_t n_custs;
  struct keymap cust_map;
  int64_t *ids; /* message row ids taken from the sequence */
  size_t n_ids, next_id;
};

static uint64_t hash_key(const char *s)
{
  return fnv1a64_str(FNV1A64_BASIS, s);
}

static void map_init(struct keymap *m, size_t n)
{
  size_t cap = 16;
  while (cap < 2 * n)
    cap *= 2;
  m->slot = xcalloc(cap, sizeof *m->slot);
  m->mask = cap - 1;
}

/* The slot of key: its row's, or the empty one where it would go. keys
 * are the rows' keys, stride bytes apart. */
static size_t map_slot(const struct keymap *m, const char *key,
                       const void *rows, size_t stride)
{
  size_t i = hash_key(key) & m->mask;
  while (m->slot[i]) {
    const char *k =
        *(char *const *)((const char *)rows + (m->slot[i] - 1) * stride);
    if (!strcmp(k, key))
      return i;
    i = (i + 1) & m->mask;
  }
  return i;
}

static struct bmsg *find_msg(struct pg_batch *b, const char *key)
{
  if (!key)
    return NULL;
  size_t i = map_slot(&b->msg_map, key, b->msgs, sizeof *b->msgs);
  return b->msg_map.slot[i] ? &b->msgs[b->msg_map.slot[i] - 1] : NULL;
}

static struct bcust *find_cust(struct pg_batch *b, const char *key)
{
  if (!key)
    return NULL;
  size_t i = map_slot(&b->cust_map, key, b->custs, sizeof *b->custs);
  return b->cust_map.slot[i] ? &b->custs[b->cust_map.slot[i] - 1] : NULL;
}

/* ---- Rows held back ---------------------------------------------------- */

static void rows_init(struct rows *r, int ncols)
{
  r->ncols = ncols;
  for (int i = 0; i < ncols; i++)
    buf_init(&r->col[i], 0);
}

static void rows_cleanup(struct rows *r)
{
  for (int i = 0; i < r->ncols; i++)
    buf_cleanup(&r->col[i]);
}

/* Appends one value (NULL: SQL NULL) to column c of the row being added. */
static void rows_text(struct rows *r, int c, const char *v)
{
  struct buf *b = &r->col[c];
  enum err rc = buf_putc(b, b->len ? ',' : '{');
  if (!rc && !v)
    rc = buf_puts(b, "NULL");
  else if (!rc) {
    rc = buf_putc(b, '"');
    for (const char *p = v; *p && !rc; p++) {
      if (*p == '"' || *p == '\\')
        rc = buf_putc(b, '\\');
      if (!rc)
        rc = buf_putc(b, *p);
    }
    if (!rc)
      rc = buf_putc(b, '"');
  }
  if (rc && !r->rc)
    r->rc = rc;
}

static void rows_params(struct rows *r, const struct pg_params *p)
{
  for (int i = 0; i < p->n; i++)
    rows_text(r, i, p->v[i]);
  r->n++;
}

/* Sends the rows held in r as one statement id. */
static enum err rows_send(struct store *st, struct rows *r, enum pg_stmt id,
                          const char *what)
{
  if (!r->n)
    return ERR_OK;
  enum err rc = r->rc;
  for (int i = 0; i < r->ncols && !rc; i++)
    rc = buf_putc(&r->col[i], '}');
  if (rc) {
    store_set_error(st, "postgresql: %s: the rows are too large", what);
    return ERR_STORE;
  }
  struct pg_params p = {0};
  for (int i = 0; i < r->ncols; i++)
    pp_text(&p, buf_ptr(&r->col[i]));
  rc = pg_send(st, id, &p, what, NULL);
  for (int i = 0; i < r->ncols; i++)
    buf_reset(&r->col[i]);
  r->n = 0;
  return rc;
}

static void updates_clear(struct pg_batch *b)
{
  for (size_t i = 0; i < b->n_updates; i++) {
    free(b->updates[i].level_name);
    free(b->updates[i].severity);
  }
  b->n_updates = 0;
}

/* By alert, the last written first. */
static int cmp_update(const void *x, const void *y)
{
  const struct bupdate *a = x, *b = y;
  if (a->id != b->id)
    return (a->id > b->id) - (a->id < b->id);
  return (a->seq < b->seq) - (a->seq > b->seq);
}

enum err pg_batch_alert_flush(struct store *st)
{
  struct pg_batch *b = PG(st)->batch;
  if (!b || !b->n_updates)
    return ERR_OK;
  qsort(b->updates, b->n_updates, sizeof *b->updates, cmp_update);
  struct rows r = {0};
  rows_init(&r, 8);
  for (size_t i = 0; i < b->n_updates; i++) {
    const struct bupdate *u = &b->updates[i];
    if (i && u->id == b->updates[i - 1].id)
      continue; /* an earlier state of the same alert */
    struct pg_params p = {0};
    pp_int(&p, u->id);
    pp_int(&p, u->level);
    pp_text(&p, u->level_name);
    pp_text(&p, u->severity);
    pp_text(&p, "open");
    pp_int(&p, u->last_activity_ms);
    pp_int(&p, u->message_count);
    pp_bool(&p, u->ticket_wanted);
    rows_params(&r, &p);
  }
  updates_clear(b);
  enum err rc = rows_send(st, &r, P_ALERT_ROWS, "update alerts");
  rows_cleanup(&r);
  return rc;
}

bool pg_batch_alert_update(struct store *st, const struct store_alert_row *a,
                           enum err *rc)
{
  struct pg_batch *b = PG(st)->batch;
  if (!b)
    return false;
  if (!a->open) {
    *rc = pg_batch_alert_flush(st);
    return *rc != ERR_OK; /* sent by the caller when the flush worked */
  }
  if (b->n_updates == b->cap_updates) {
    b->cap_updates = b->cap_updates ? 2 * b->cap_updates : 16;
    b->updates = xrealloc(b->updates, b->cap_updates * sizeof *b->updates);
  }
  struct bupdate *u = &b->updates[b->n_updates];
  *u = (struct bupdate){.id = a->id,
                        .level = a->level,
                        .last_activity_ms = a->last_activity_ms,
                        .message_count = a->message_count,
                        .level_name =
                            xstrdup(a->level_name ? a->level_name : ""),
                        .severity = xstrdup(a->severity ? a->severity : ""),
                        .ticket_wanted = a->ticket_wanted,
                        .seq = b->n_updates};
  b->n_updates++;
  *rc = ERR_OK;
  return true;
}

enum err pg_batch_flush(struct store *st)
{
  struct pg_batch *b = PG(st)->batch;
  if (!b || b->flushing)
    return ERR_OK;
  b->flushing = true;
  /* Messages and entries refer to alerts, sent already. */
  enum err rc = pg_batch_alert_flush(st);
  if (!rc)
    rc = rows_send(st, &b->msg_rows, P_MSG_ROWS, "insert messages");
  if (!rc)
    rc = rows_send(st, &b->outbox_rows, P_OUTBOX_ROWS, "insert outbox entries");
  struct rows w = {0};
  rows_init(&w, 4);
  for (size_t i = 0; i < b->n_custs && !rc; i++) {
    struct bcust *c = &b->custs[i];
    if (!c->puts)
      continue;
    struct pg_params p = {0};
    pp_text(&p, c->key);
    pp_text(&p, c->window);
    pp_int(&p, c->puts);
    pp_int(&p, c->put_ms);
    rows_params(&w, &p);
    c->puts = 0;
  }
  if (!rc)
    rc = rows_send(st, &w, P_WIN_ROWS, "write customer state");
  rows_cleanup(&w);
  b->flushing = false;
  return rc;
}

bool pg_batch_msg_insert(struct store *st, const struct ingest_msg *m,
                         enum store_alert outcome, int64_t alert_id,
                         int64_t now_ms, int64_t *row_id, enum err *rc)
{
  struct pg_batch *b = PG(st)->batch;
  if (!b || b->next_id >= b->n_ids)
    return false;
  int64_t id = b->ids[b->next_id++];
  struct pg_params p = {0};
  pg_msg_params(&p, m, outcome, alert_id, now_ms);
  pp_int(&p, id);
  rows_params(&b->msg_rows, &p);
  *row_id = id;
  pg_batch_msg_inserted(st, m, outcome, alert_id, id);
  *rc = b->msg_rows.n >= ROWS_FLUSH ? pg_batch_flush(st) : ERR_OK;
  return true;
}

bool pg_batch_outbox_insert(struct store *st, int64_t alert_id,
                            enum store_kind kind, const char *payload,
                            int64_t now_ms, enum err *rc)
{
  struct pg_batch *b = PG(st)->batch;
  if (!b)
    return false;
  struct pg_params p = {0};
  pp_int(&p, alert_id);
  pp_text(&p, store_kind_name(kind));
  pp_text(&p, payload);
  pp_int(&p, now_ms);
  rows_params(&b->outbox_rows, &p);
  *rc = b->outbox_rows.n >= ROWS_FLUSH ? pg_batch_flush(st) : ERR_OK;
  return true;
}

int64_t pg_batch_alert_id(struct store *st)
{
  struct pg_batch *b = PG(st)->batch;
  return b && b->next_alert_id < b->n_alert_ids
             ? b->alert_ids[b->next_alert_id++]
             : 0;
}

void pg_batch_free(struct store *st)
{
  struct pg_batch *b = PG(st)->batch;
  if (!b)
    return;
  rows_cleanup(&b->msg_rows);
  rows_cleanup(&b->outbox_rows);
  updates_clear(b);
  free(b->updates);
  free(b->alert_ids);
  for (size_t i = 0; i < b->n_msgs; i++) {
    free(b->msgs[i].key);
    free(b->msgs[i].result_json);
  }
  for (size_t i = 0; i < b->n_custs; i++) {
    free(b->custs[i].key);
    free(b->custs[i].window);
    store_alert_row_cleanup(&b->custs[i].alert);
  }
  free(b->msgs);
  free(b->custs);
  free(b->msg_map.slot);
  free(b->cust_map.slot);
  free(b->ids);
  free(b);
  PG(st)->batch = NULL;
}

/* Appends key to the text array literal in out ("{" already there). */
static enum err array_add(struct buf *out, const char *key)
{
  enum err rc = buf_puts(out, out->len > 1 ? ",\"" : "\"");
  for (const char *p = key; *p && !rc; p++) {
    if (*p == '"' || *p == '\\')
      rc = buf_putc(out, '\\');
    if (!rc)
      rc = buf_putc(out, *p);
  }
  return rc ? rc : buf_putc(out, '"');
}

static int cmp_key(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The batch's distinct message ids and customers, as rows and as text
 * array literals; the sorted lock keys of both as a bigint array. */
static enum err collect(struct pg_batch *b, const struct ingest_msg *const *m,
                        size_t n, struct buf *mids, struct buf *custs,
                        struct buf *locks)
{
  b->msgs = xcalloc(n ? n : 1, sizeof *b->msgs);
  b->custs = xcalloc(n ? n : 1, sizeof *b->custs);
  map_init(&b->msg_map, n);
  map_init(&b->cust_map, n);
  int64_t *keys = xmalloc((2 * n + 1) * sizeof *keys);
  size_t k = 0;
  enum err rc = buf_putc(mids, '{');
  if (!rc)
    rc = buf_putc(custs, '{');
  for (size_t i = 0; i < n && !rc; i++) {
    const char *mid = m[i]->message_id, *cust = m[i]->customer_id;
    if (mid) {
      keys[k++] = pg_lock_key('m', mid);
      size_t s = map_slot(&b->msg_map, mid, b->msgs, sizeof *b->msgs);
      if (!b->msg_map.slot[s]) {
        b->msgs[b->n_msgs].key = xstrdup(mid);
        b->msg_map.slot[s] = (uint32_t)++b->n_msgs;
        rc = array_add(mids, mid);
      }
    }
    if (cust && !rc) {
      keys[k++] = pg_lock_key('c', cust);
      size_t s = map_slot(&b->cust_map, cust, b->custs, sizeof *b->custs);
      if (!b->cust_map.slot[s]) {
        b->custs[b->n_custs].key = xstrdup(cust);
        b->cust_map.slot[s] = (uint32_t)++b->n_custs;
        rc = array_add(custs, cust);
      }
    }
  }
  if (!rc)
    rc = buf_putc(mids, '}');
  if (!rc)
    rc = buf_putc(custs, '}');
  /* One order for every transaction: none waits for a lock held by one
   * that waits for its own. */
  qsort(keys, k, sizeof *keys, cmp_key);
  if (!rc)
    rc = buf_putc(locks, '{');
  for (size_t i = 0; i < k && !rc; i++) {
    if (i && keys[i] == keys[i - 1])
      continue;
    rc = buf_printf(locks, "%s%lld", locks->len > 1 ? "," : "",
                    (long long)keys[i]);
  }
  if (!rc)
    rc = buf_putc(locks, '}');
  free(keys);
  return rc;
}

/* The integers of the bigint array in column col ("{1,2,3}"). */
static int64_t *read_ids(const PGresult *r, int col, size_t *n)
{
  const char *s = PQntuples(r) > 0 ? PQgetvalue(r, 0, col) : "";
  size_t cap = 1;
  for (const char *p = s; *p; p++)
    cap += *p == ',';
  int64_t *ids = xmalloc(cap * sizeof *ids);
  *n = 0;
  for (const char *p = s; *p && *n < cap;) {
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
      char *end;
      ids[(*n)++] = strtoll(p, &end, 10);
      p = end;
    } else {
      p++;
    }
  }
  return ids;
}

/* Fills the batch's rows from the results read ahead. */
static void fill(struct pg_batch *b, PGresult *const res[4])
{
  for (int i = 0; i < PQntuples(res[0]); i++) {
    struct bmsg *m = find_msg(b, PQgetvalue(res[0], i, 0));
    if (!m)
      continue;
    m->found = true;
    m->row_id = pg_int(res[0], i, 1);
    m->outcome = store_alert_parse(PQgetvalue(res[0], i, 2));
    m->alert_id = pg_int(res[0], i, 3);
    m->result_json = pg_dup(res[0], i, 4);
    pg_copy(res[0], i, 5, m->alert_key, sizeof m->alert_key);
  }
  for (int i = 0; i < PQntuples(res[1]); i++) {
    struct bcust *c = find_cust(b, PQgetvalue(res[1], i, 0));
    if (c)
      c->window = pg_dup(res[1], i, 1);
  }
  for (int i = 0; i < PQntuples(res[2]); i++) {
    struct bcust *c = find_cust(b, PQgetvalue(res[2], i, 2));
    if (c && !c->alert_found) {
      c->alert_found = true;
      pg_read_alert(res[2], i, &c->alert);
    }
  }
  b->ids = read_ids(res[3], 1, &b->n_ids);
  b->alert_ids = read_ids(res[3], 2, &b->n_alert_ids);
}

enum err pg_prepare_batch(struct store *st, const struct ingest_msg *const *m,
                          size_t n)
{
  pg_batch_free(st);
  struct pg_batch *b = xcalloc(1, sizeof *b);
  rows_init(&b->msg_rows, 21);
  rows_init(&b->outbox_rows, 4);
  /* An alert id for each message frustrated on its own (more are taken
   * one by one if escalation raises others). */
  size_t frustrated = 0;
  for (size_t i = 0; i < n; i++)
    frustrated += m[i]->frustrated;
  struct buf mids, custs, locks;
  buf_init(&mids, 0);
  buf_init(&custs, 0);
  buf_init(&locks, 0);
  PGresult *res[4] = {0};
  enum err rc = collect(b, m, n, &mids, &custs, &locks);
  if (rc) {
    store_set_error(st, "postgresql: lock the batch: too many keys");
    rc = ERR_STORE;
    goto out;
  }
  struct pg_params lp = {0}, mp = {0}, cp = {0};
  pp_text(&lp, buf_ptr(&locks));
  pp_int(&lp, (int64_t)n); /* every message may need a row */
  pp_int(&lp, (int64_t)frustrated);
  pp_text(&mp, buf_ptr(&mids));
  pp_text(&cp, buf_ptr(&custs));
  /* In order, in one round trip: the reads run once the locks are held. */
  rc = pg_send(st, P_BATCH_START, &lp, "lock the batch", &res[3]);
  if (!rc)
    rc = pg_send_query(st, pg_sql_batch_msgs, &mp, "read the batch's messages",
                       &res[0]);
  if (!rc)
    rc = pg_send_query(st, pg_sql_batch_windows, &cp,
                       "read the batch's customer state", &res[1]);
  if (!rc)
    rc = pg_send_query(st, pg_sql_batch_open, &cp,
                       "read the batch's open alerts", &res[2]);
  if (!rc)
    rc = pg_drain(st);
  if (rc)
    goto out;
  fill(b, res);
  PG(st)->batch_locked = true;
  PG(st)->batch = b;
  b = NULL;
out:
  for (int i = 0; i < 4; i++)
    PQclear(res[i]);
  buf_cleanup(&mids);
  buf_cleanup(&custs);
  buf_cleanup(&locks);
  if (b) {
    PG(st)->batch = b;
    pg_batch_free(st);
  }
  return rc;
}

/* ---- Answers and their upkeep ------------------------------------------ */

bool pg_batch_msg_find(struct store *st, const char *message_id,
                       struct ingest_result *out, bool *found)
{
  struct pg_batch *b = PG(st)->batch;
  struct bmsg *m = b ? find_msg(b, message_id) : NULL;
  if (!m || m->unknown)
    return false;
  *found = m->found;
  if (m->found) {
    out->row_id = m->row_id;
    out->original = m->outcome;
    out->alert_id = m->alert_id;
    out->result_json = m->result_json ? xstrdup(m->result_json) : NULL;
    memcpy(out->alert_key, m->alert_key, sizeof out->alert_key);
  }
  return true;
}

void pg_batch_msg_inserted(struct store *st, const struct ingest_msg *m,
                           enum store_alert outcome, int64_t alert_id,
                           int64_t row_id)
{
  struct pg_batch *b = PG(st)->batch;
  struct bmsg *e = b ? find_msg(b, m->message_id) : NULL;
  if (!e)
    return;
  free(e->result_json);
  e->found = true;
  e->row_id = row_id;
  e->outcome = outcome;
  e->alert_id = alert_id;
  e->result_json = m->result_json ? xstrdup(m->result_json) : NULL;
  e->alert_key[0] = '\0';
  if (alert_id) {
    /* The message's alert is its customer's open one. */
    struct bcust *c = find_cust(b, m->customer_id);
    if (c && c->alert_found && c->alert.id == alert_id) {
      memcpy(e->alert_key, c->alert.key, sizeof e->alert_key);
    } else {
      e->unknown = true; /* the alert's key is not known here */
    }
  }
}

bool pg_batch_window_get(struct store *st, const char *customer_id, char **json)
{
  struct pg_batch *b = PG(st)->batch;
  struct bcust *c = b ? find_cust(b, customer_id) : NULL;
  if (!c)
    return false;
  *json = c->window ? xstrdup(c->window) : NULL;
  return true;
}

bool pg_batch_window_put(struct store *st, const char *customer_id,
                         const char *json, int64_t now_ms)
{
  struct pg_batch *b = PG(st)->batch;
  struct bcust *c = b ? find_cust(b, customer_id) : NULL;
  if (!c)
    return false;
  free(c->window);
  c->window = xstrdup(json);
  c->puts++;
  c->put_ms = now_ms;
  return true;
}

static void copy_alert(struct store_alert_row *dst,
                       const struct store_alert_row *src)
{
  *dst = *src;
  dst->customer_id = src->customer_id ? xstrdup(src->customer_id) : NULL;
  dst->conversation_id =
      src->conversation_id ? xstrdup(src->conversation_id) : NULL;
  dst->level_name = src->level_name ? xstrdup(src->level_name) : NULL;
  dst->severity = src->severity ? xstrdup(src->severity) : NULL;
  dst->ticket_id = src->ticket_id ? xstrdup(src->ticket_id) : NULL;
  dst->ticket_display_id =
      src->ticket_display_id ? xstrdup(src->ticket_display_id) : NULL;
}

bool pg_batch_alert_find_open(struct store *st, const char *customer_id,
                              struct store_alert_row *out, bool *found)
{
  struct pg_batch *b = PG(st)->batch;
  struct bcust *c = b ? find_cust(b, customer_id) : NULL;
  if (!c)
    return false;
  *found = c->alert_found;
  if (c->alert_found)
    copy_alert(out, &c->alert);
  return true;
}

void pg_batch_alert_written(struct store *st, const struct store_alert_row *a,
                            bool inserted)
{
  struct pg_batch *b = PG(st)->batch;
  if (!b)
    return;
  struct bcust *c = NULL;
  if (a->customer_id) {
    c = find_cust(b, a->customer_id);
  } else {
    /* An update names the alert by id: its customer's entry, if any. */
    for (size_t i = 0; i < b->n_custs && !c; i++)
      if (b->custs[i].alert_found && b->custs[i].alert.id == a->id)
        c = &b->custs[i];
  }
  /* An update of an alert that is not the customer's open one changes
   * nothing here (only one alert per customer is open). */
  if (!c || (!inserted && (!c->alert_found || c->alert.id != a->id)))
    return;
  char *ticket_id = NULL, *ticket_display_id = NULL;
  if (!inserted) {
    /* An update leaves the ticket as it was. */
    ticket_id = c->alert.ticket_id;
    ticket_display_id = c->alert.ticket_display_id;
    c->alert.ticket_id = c->alert.ticket_display_id = NULL;
  }
  store_alert_row_cleanup(&c->alert);
  c->alert_found = inserted || a->open;
  if (!c->alert_found) {
    free(ticket_id);
    free(ticket_display_id);
    return;
  }
  copy_alert(&c->alert, a);
  free(c->alert.ticket_id);
  free(c->alert.ticket_display_id);
  c->alert.ticket_id = ticket_id;
  c->alert.ticket_display_id = ticket_display_id;
  if (inserted)
    c->alert.open = true;
}
