/* store: backend selection and what every backend shares: URL parsing,
 * transactions (store_begin joins the writes of a batch), the enum names,
 * and the thin calls that hand each request to the backend (st->ops).
 *
 * No policy lives here: what a message does to alerts, and the outbox
 * payloads it writes, are decided in src/alerting/ over the record calls
 * of store.h, so SQLite and a later PostgreSQL backend decide alike. The
 * backends only store and fetch. */
#include "store/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/xalloc.h"
#include "store/store_int.h"

void store_set_error(struct store *st, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(st->errmsg, sizeof st->errmsg, fmt, ap);
  va_end(ap);
}

static bool starts_with(const char *s, const char *prefix)
{
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool store_url_is_pg(const char *url)
{
  return url &&
         (starts_with(url, "postgres://") || starts_with(url, "postgresql://"));
}

/* Parses "busy_timeout_ms=N&synchronous=full" into o. */
static enum err parse_opts(char *q, struct store_url_opts *o, char *err,
                           size_t errlen)
{
  char *save = NULL;
  for (char *kv = strtok_r(q, "&", &save); kv;
       kv = strtok_r(NULL, "&", &save)) {
    char *eq = strchr(kv, '=');
    if (!eq)
      goto bad;
    *eq = '\0';
    const char *v = eq + 1;
    if (!strcmp(kv, "busy_timeout_ms")) {
      char *end;
      long n = strtol(v, &end, 10);
      if (!*v || *end || n < 0 || n > 3600000)
        goto bad;
      o->busy_timeout_ms = n;
    } else if (!strcmp(kv, "synchronous")) {
      if (!strcmp(v, "off"))
        o->synchronous = 0;
      else if (!strcmp(v, "normal"))
        o->synchronous = 1;
      else if (!strcmp(v, "full"))
        o->synchronous = 2;
      else
        goto bad;
    } else {
      goto bad;
    }
    continue;
  bad:
    snprintf(err, errlen,
             "DATABASE_URL: bad option '%s' (known: busy_timeout_ms=N, "
             "synchronous=full|normal|off)",
             kv);
    return ERR_INVALID;
  }
  return ERR_OK;
}

static enum err open_url(const char *url, int max_version, bool must_exist,
                         char *err, size_t errlen, struct store **out)
{
  struct store_url_opts opts = {.busy_timeout_ms = 5000, .synchronous = 2};
  char *path = NULL;
  struct store *st = NULL;
  enum err rc = ERR_OK;
  if (!url || !*url) {
    snprintf(err, errlen, "DATABASE_URL: empty");
    rc = ERR_INVALID;
    goto out;
  }
  if (store_url_is_pg(url)) {
    /* A PostgreSQL URL is libpq's to parse; must_exist does not apply (a
     * server is there or the connection fails). */
    st = xcalloc(1, sizeof *st);
    rc = store_pg_open(st, url, max_version, err, errlen);
    if (rc) {
      free(st);
      st = NULL;
      goto out;
    }
    *out = st;
    goto out;
  }
  if (starts_with(url, "sqlite:")) {
    const char *p = url + strlen("sqlite:");
    if (starts_with(p, "//"))
      p += 2;
    path = xstrdup(p);
    char *q = strchr(path, '?');
    if (q) {
      *q++ = '\0';
      rc = parse_opts(q, &opts, err, errlen);
      if (rc)
        goto out;
    }
  } else if (strstr(url, "://")) {
    snprintf(err, errlen,
             "DATABASE_URL: unknown scheme in '%s' (use a path, sqlite:PATH "
             "or postgres://)",
             url);
    rc = ERR_UNSUPPORTED;
    goto out;
  } else {
    path = xstrdup(url);
  }
  if (!*path) {
    snprintf(err, errlen, "DATABASE_URL: no file path in '%s'", url);
    rc = ERR_INVALID;
    goto out;
  }
  if (must_exist && strcmp(path, ":memory:") && strncmp(path, "file:", 5) &&
      access(path, F_OK) != 0) {
    snprintf(err, errlen, "no store at %s (DATABASE_URL or --db)", path);
    rc = ERR_NOT_FOUND;
    goto out;
  }
  st = xcalloc(1, sizeof *st);
  rc = store_sqlite_open(st, path, &opts, max_version, err, errlen);
  if (rc) {
    free(st);
    st = NULL;
    goto out;
  }
  *out = st;
out:
  free(path);
  return rc;
}

enum err store_open(const char *url, char *err, size_t errlen,
                    struct store **out)
{
  return open_url(url, STORE_SCHEMA_VERSION, false, err, errlen, out);
}

enum err store_open_existing(const char *url, char *err, size_t errlen,
                             struct store **out)
{
  return open_url(url, STORE_SCHEMA_VERSION, true, err, errlen, out);
}

enum err store_migrate_to(const char *url, int version, char *err,
                          size_t errlen)
{
  struct store *st = NULL;
  if (version < 1 || version > STORE_SCHEMA_VERSION) {
    snprintf(err, errlen, "schema version %d is not in [1, %d]", version,
             STORE_SCHEMA_VERSION);
    return ERR_INVALID;
  }
  enum err rc = open_url(url, version, false, err, errlen, &st);
  store_close(st);
  return rc;
}

void store_close(struct store *st)
{
  if (!st)
    return;
  if (st->in_tx)
    store_rollback(st);
  st->ops->close(st);
  free(st);
}

const char *store_errmsg(const struct store *st)
{
  return st->errmsg;
}

const char *store_backend(const struct store *st)
{
  return st->ops->name;
}

enum err store_schema_version(struct store *st, int *out)
{
  return st->ops->schema_version(st, out);
}

/* ---- Transactions ----------------------------------------------------- */

enum err store_begin(struct store *st)
{
  if (st->in_tx) {
    store_set_error(st, "store_begin: a transaction is already open");
    return ERR_INVALID;
  }
  enum err rc = st->ops->tx(st, STORE_TX_BEGIN);
  if (!rc) {
    st->in_tx = true;
    st->tx_failed = false;
  }
  return rc;
}

/* Runs op, keeping the message of the error that led to it. */
static void undo(struct store *st, enum store_tx op)
{
  char msg[sizeof st->errmsg];
  memcpy(msg, st->errmsg, sizeof msg);
  st->ops->tx(st, op);
  memcpy(st->errmsg, msg, sizeof msg);
}

enum err store_commit(struct store *st)
{
  if (!st->in_tx) {
    store_set_error(st, "store_commit: no transaction is open");
    return ERR_INVALID;
  }
  st->in_tx = false;
  if (st->tx_failed) {
    undo(st, STORE_TX_ROLLBACK);
    return ERR_STORE;
  }
  enum err rc = st->ops->tx(st, STORE_TX_COMMIT);
  if (rc)
    undo(st, STORE_TX_ROLLBACK);
  return rc;
}

enum err store_prepare_batch(struct store *st,
                             const struct ingest_msg *const *msgs, size_t n)
{
  if (!st->in_tx) {
    store_set_error(st, "store_prepare_batch: no transaction is open");
    return ERR_INVALID;
  }
  if (!st->ops->prepare_batch || st->tx_failed)
    return st->tx_failed ? ERR_STORE : ERR_OK;
  enum err rc = st->ops->prepare_batch(st, msgs, n);
  if (rc)
    st->tx_failed = true;
  return rc;
}

void store_rollback(struct store *st)
{
  if (!st->in_tx)
    return;
  st->in_tx = false;
  undo(st, STORE_TX_ROLLBACK);
}

int64_t store_now_ms(struct store *st, struct store_clock *clk)
{
  int64_t local = clock_wall_ms();
  if (!st->ops->server_clock || st->in_tx ||
      (clk->checked_ms && local - clk->checked_ms < STORE_CLOCK_EVERY_MS &&
       local >= clk->checked_ms))
    return local + clk->offset_ms;
  int64_t server = 0;
  /* The measurement's failure is the next store call's to report. */
  char keep[sizeof st->errmsg];
  memcpy(keep, st->errmsg, sizeof keep);
  enum err rc = st->ops->server_clock(st, &server);
  memcpy(st->errmsg, keep, sizeof keep);
  int64_t back = clock_wall_ms();
  if (rc) {
    clk->checked_ms = local - STORE_CLOCK_EVERY_MS + 1000;
    return back + clk->offset_ms;
  }
  clk->offset_ms = server - (local + (back - local) / 2);
  clk->checked_ms = back;
  return back + clk->offset_ms;
}

enum err store_check(struct store *st, bool write)
{
  enum err rc = store_begin(st);
  if (rc)
    return rc;
  if (!write) {
    store_rollback(st);
    return ERR_OK;
  }
  rc = st->ops->tx(st, STORE_TX_TOUCH);
  if (rc) {
    store_rollback(st);
    return rc;
  }
  return store_commit(st);
}

enum err store_tx_enter(struct store *st)
{
  if (st->in_tx)
    return st->tx_failed ? ERR_STORE : ERR_OK;
  return st->ops->tx(st, STORE_TX_BEGIN);
}

enum err store_tx_leave(struct store *st, enum err rc)
{
  if (st->in_tx) {
    /* No savepoint: one per batch copied every page the batch touched and
     * cost more than the batch. A failed write poisons the transaction. */
    if (rc)
      st->tx_failed = true;
    return rc;
  }
  if (!rc) {
    rc = st->ops->tx(st, STORE_TX_COMMIT);
    if (!rc)
      return ERR_OK;
  }
  undo(st, STORE_TX_ROLLBACK);
  return rc;
}

/* ---- Names ------------------------------------------------------------ */

const char *store_alert_name(enum store_alert a)
{
  switch (a) {
  case STORE_ALERT_NONE:
    return "none";
  case STORE_ALERT_CREATED:
    return "created";
  case STORE_ALERT_APPENDED:
    return "appended";
  case STORE_ALERT_DUPLICATE:
    return "duplicate";
  }
  return "none";
}

const char *store_kind_name(enum store_kind k)
{
  switch (k) {
  case STORE_KIND_CREATE_TICKET:
    return "create_ticket";
  case STORE_KIND_COMMENT:
    return "comment";
  case STORE_KIND_UPDATE_SEVERITY:
    return "update_severity";
  case STORE_KIND_SOURCE_COMMENT:
    return "source_comment";
  case STORE_KIND_UPDATE_SOURCE:
    return "update_source";
  }
  return "comment";
}

bool store_kind_is_source(enum store_kind k)
{
  return k == STORE_KIND_SOURCE_COMMENT || k == STORE_KIND_UPDATE_SOURCE;
}

bool store_kind_looks_up(enum store_kind k)
{
  return k == STORE_KIND_CREATE_TICKET || k == STORE_KIND_COMMENT ||
         k == STORE_KIND_SOURCE_COMMENT;
}

const char *store_state_name(enum store_state s)
{
  switch (s) {
  case STORE_PENDING:
    return "pending";
  case STORE_DONE:
    return "done";
  case STORE_DEAD:
    return "dead";
  case STORE_SKIPPED:
    return "skipped";
  }
  return "pending";
}

/* The inverses of the names above, for backends reading their rows back
 * (store_int.h). */
enum store_alert store_alert_parse(const char *s)
{
  if (s && !strcmp(s, "created"))
    return STORE_ALERT_CREATED;
  if (s && !strcmp(s, "appended"))
    return STORE_ALERT_APPENDED;
  return STORE_ALERT_NONE;
}

enum store_kind store_kind_parse(const char *s)
{
  if (s && !strcmp(s, "create_ticket"))
    return STORE_KIND_CREATE_TICKET;
  if (s && !strcmp(s, "update_severity"))
    return STORE_KIND_UPDATE_SEVERITY;
  if (s && !strcmp(s, "source_comment"))
    return STORE_KIND_SOURCE_COMMENT;
  if (s && !strcmp(s, "update_source"))
    return STORE_KIND_UPDATE_SOURCE;
  return STORE_KIND_COMMENT;
}

enum store_state store_state_parse(const char *s)
{
  if (s && !strcmp(s, "done"))
    return STORE_DONE;
  if (s && !strcmp(s, "dead"))
    return STORE_DEAD;
  if (s && !strcmp(s, "skipped"))
    return STORE_SKIPPED;
  return STORE_PENDING;
}

/* ---- Records of the alert policy -------------------------------------- */

void store_ingest_result_cleanup(struct ingest_result *r)
{
  free(r->result_json);
  r->result_json = NULL;
}

enum err store_msg_find(struct store *st, const char *message_id,
                        struct ingest_result *out, bool *found)
{
  return st->ops->msg_find(st, message_id, out, found);
}

enum err store_msg_insert(struct store *st, const struct ingest_msg *m,
                          enum store_alert outcome, int64_t alert_id,
                          int64_t now_ms, int64_t *row_id)
{
  return st->ops->msg_insert(st, m, outcome, alert_id, now_ms, row_id);
}

enum err store_alert_find_open(struct store *st, const char *customer_id,
                               struct store_alert_row *out, bool *found)
{
  return st->ops->alert_find_open(st, customer_id, out, found);
}

enum err store_alert_insert(struct store *st, struct store_alert_row *a)
{
  return st->ops->alert_insert(st, a);
}

enum err store_alert_update(struct store *st, const struct store_alert_row *a)
{
  return st->ops->alert_update(st, a);
}

enum err store_outbox_insert(struct store *st, int64_t alert_id,
                             enum store_kind kind, const char *payload,
                             int64_t now_ms)
{
  return st->ops->outbox_insert(st, alert_id, kind, payload, now_ms);
}

enum err store_window_get(struct store *st, const char *customer_id,
                          char **json)
{
  return st->ops->window_get(st, customer_id, json);
}

enum err store_window_put(struct store *st, const char *customer_id,
                          const char *json, int64_t now_ms)
{
  return st->ops->window_put(st, customer_id, json, now_ms);
}

enum err store_purge_text(struct store *st, int64_t older_than_ms,
                          size_t max_rows, size_t *purged)
{
  *purged = 0;
  return st->ops->purge_text(st, older_than_ms, max_rows, purged);
}

/* ---- Reading back ----------------------------------------------------- */

enum err store_message_get(struct store *st, const char *message_id,
                           struct store_message *out, bool *found)
{
  memset(out, 0, sizeof *out);
  *found = false;
  return st->ops->message_get(st, message_id, 0, out, found);
}

enum err store_message_get_row(struct store *st, int64_t row_id,
                               struct store_message *out, bool *found)
{
  memset(out, 0, sizeof *out);
  *found = false;
  if (row_id < 1)
    return ERR_OK;
  return st->ops->message_get(st, NULL, row_id, out, found);
}

void store_message_cleanup(struct store_message *m)
{
  free(m->message_id);
  free(m->customer_id);
  free(m->conversation_id);
  free(m->text);
  free(m->level_name);
  free(m->result_json);
  free(m->source_object);
  free(m->source_display_id);
  free(m->source_type);
  free(m->rev_org);
  free(m->labelled_by);
  memset(m, 0, sizeof *m);
}

/* ---- Labels ----------------------------------------------------------- */

/* False, with st's message set, for a by too long to store. */
static bool labeller_fits(struct store *st, const char *by)
{
  if (by && strlen(by) > STORE_LABELLER_MAX) {
    store_set_error(st, "labelled_by is longer than %d bytes",
                    STORE_LABELLER_MAX);
    return false;
  }
  return true;
}

enum err store_label_write(struct store *st, const char *message_id,
                           int64_t row_id, const char *by, int64_t now_ms,
                           struct store_label *l)
{
  *l = (struct store_label){.relative = l->relative, .value = l->value};
  if (message_id && !*message_id) {
    store_set_error(st, "a label needs a message id");
    return ERR_INVALID;
  }
  if (!message_id && row_id < 1) {
    store_set_error(st, "a label needs a row id of 1 or more");
    return ERR_INVALID;
  }
  if (!labeller_fits(st, by))
    return ERR_INVALID;
  return st->ops->label_set(st, message_id, message_id ? 0 : row_id, by, now_ms,
                            l);
}

void store_label_cleanup(struct store_label *l)
{
  free(l->message_id);
  l->message_id = NULL;
}

enum err store_labels_each(struct store *st,
                           bool (*each)(void *arg,
                                        const struct store_labelled *l),
                           void *arg)
{
  return st->ops->labels_each(st, each, arg);
}

enum err store_alert_get(struct store *st, int64_t id,
                         struct store_alert_row *out)
{
  memset(out, 0, sizeof *out);
  return st->ops->alert_get(st, id, out);
}

void store_alert_row_cleanup(struct store_alert_row *a)
{
  free(a->customer_id);
  free(a->conversation_id);
  free(a->level_name);
  free(a->severity);
  free(a->ticket_id);
  free(a->ticket_display_id);
  memset(a, 0, sizeof *a);
}

size_t store_window_parse(const char *json, struct store_score *out,
                          size_t cap)
{
  size_t n = 0;
  const char *p = json ? strchr(json, '[') : NULL;
  if (!p)
    return 0;
  p++;
  while (n < cap && (p = strchr(p, '['))) {
    char *end;
    struct store_score e = {0};
    p++;
    e.at_ms = strtoll(p, &end, 10);
    if (end == p || *end != ',')
      continue;
    p = end + 1;
    e.polarity = strtod(p, &end);
    if (end == p || *end != ',')
      continue;
    p = end + 1;
    e.level = strtoll(p, &end, 10);
    if (end == p)
      continue;
    p = end;
    if (*p == ',') {
      p++;
      e.conversation = (uint32_t)strtoul(p, &end, 10);
      p = end;
    }
    if (*p != ']')
      continue;
    out[n++] = e;
  }
  return n;
}

enum err store_counts(struct store *st, struct store_counts *out)
{
  memset(out, 0, sizeof *out);
  return st->ops->counts(st, out);
}

/* ---- Outbox ----------------------------------------------------------- */

void store_entry_cleanup(struct store_entry *e)
{
  free(e->payload);
  free(e->ticket_id);
  free(e->ticket_display_id);
  memset(e, 0, sizeof *e);
}

enum err store_outbox_claim(struct store *st, int64_t now_ms, int64_t lease_ms,
                            struct store_entry *out, bool *found)
{
  memset(out, 0, sizeof *out);
  *found = false;
  return st->ops->outbox_claim(st, now_ms, lease_ms, out, found);
}

enum err store_outbox_finish(struct store *st, const struct store_finish *f,
                             int64_t now_ms)
{
  return st->ops->outbox_finish(st, f, now_ms);
}

enum err store_outbox_renew(struct store *st, int64_t entry_id, int64_t lease,
                            int64_t until_ms)
{
  return st->ops->outbox_renew(st, entry_id, lease, until_ms);
}

enum err store_outbox_record_attempt(struct store *st, int64_t entry_id,
                                     const struct store_attempt *a)
{
  return st->ops->outbox_record_attempt(st, entry_id, a);
}

enum err store_outbox_recover(struct store *st, size_t *released)
{
  *released = 0;
  return st->ops->outbox_recover(st, released);
}

enum err store_outbox_skip_pending(struct store *st, const char *reason,
                                   int64_t now_ms, size_t *skipped)
{
  *skipped = 0;
  return st->ops->outbox_skip_pending(st, reason, now_ms, skipped);
}

enum err store_outbox_stats(struct store *st, int64_t now_ms,
                            struct store_outbox_stats *out)
{
  memset(out, 0, sizeof *out);
  return st->ops->outbox_stats(st, now_ms, out);
}

enum err store_outbox_list(struct store *st, int64_t alert_id,
                           struct store_outbox_row **out, size_t *n)
{
  *out = NULL;
  *n = 0;
  return st->ops->outbox_list(st, alert_id, out, n);
}

void store_outbox_rows_free(struct store_outbox_row *rows, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(rows[i].payload);
    free(rows[i].last_error);
  }
  free(rows);
}

enum err store_outbox_select(struct store *st, enum store_state state, bool all,
                             size_t limit, struct store_outbox_row **out,
                             size_t *n)
{
  *out = NULL;
  *n = 0;
  return st->ops->outbox_select(st, state, all, limit, out, n);
}

/* An entry id for retry and drop: >= 0 (0 is every dead letter). */
static enum err outbox_id_ok(struct store *st, int64_t id)
{
  if (id >= 0)
    return ERR_OK;
  store_set_error(st, "outbox entry id %lld is not valid", (long long)id);
  return ERR_INVALID;
}

enum err store_outbox_retry(struct store *st, int64_t id, int64_t now_ms,
                            size_t *n)
{
  *n = 0;
  enum err rc = outbox_id_ok(st, id);
  return rc ? rc : st->ops->outbox_retry(st, id, now_ms, n);
}

enum err store_outbox_drop(struct store *st, int64_t id, int64_t now_ms,
                           size_t *n)
{
  *n = 0;
  enum err rc = outbox_id_ok(st, id);
  return rc ? rc : st->ops->outbox_drop(st, id, now_ms, n);
}

enum err store_delivery_pause(struct store *st, int64_t until_ms,
                              const char *reason)
{
  return st->ops->delivery_pause ? st->ops->delivery_pause(st, until_ms, reason)
                                 : ERR_OK;
}

enum err store_own(struct store *st, long *holder_pid)
{
  *holder_pid = 0;
  return st->ops->own(st, holder_pid);
}

enum err store_owner(struct store *st, long *pid)
{
  *pid = 0;
  return st->ops->owner(st, pid);
}
