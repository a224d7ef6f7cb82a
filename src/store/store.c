/* store: backend selection and the logic shared by every backend.
 *
 * The alert policy lives here, written once over the primitives of
 * store_int.h, so SQLite and a later PostgreSQL backend decide alike:
 * duplicates by message_id, one open alert per customer episode, the
 * cooldown, the severity raise, and the outbox entries each decision
 * needs. The backends only store and fetch.
 *
 * Invariants: an alert row and its outbox entries are written in the same
 * transaction as the message that caused them; at most one alert per
 * customer is open (the backend enforces it with a unique index). */
#include "store/store.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/jsonw.h"
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
  if (starts_with(url, "postgres://") || starts_with(url, "postgresql://")) {
    snprintf(err, errlen,
             "DATABASE_URL: the PostgreSQL backend is not part of this "
             "build; use a file path or sqlite:PATH");
    rc = ERR_UNSUPPORTED;
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

void store_rollback(struct store *st)
{
  if (!st->in_tx)
    return;
  st->in_tx = false;
  undo(st, STORE_TX_ROLLBACK);
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

/* ---- Ingest ----------------------------------------------------------- */

enum err store_ingest_check(const struct ingest_msg *msgs, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    const struct ingest_msg *m = &msgs[i];
    if (!m->customer_id || !*m->customer_id || !m->level_name)
      return ERR_INVALID;
    if (m->frustrated && !m->severity)
      return ERR_INVALID;
  }
  return ERR_OK;
}

void store_ingest_result_cleanup(struct ingest_result *r)
{
  free(r->result_json);
  r->result_json = NULL;
}

/* A random alert key: 128 bits in hex, unique across databases, so the
 * marker found in DevRev can only be this alert's. */
static void new_alert_key(char key[STORE_ALERT_KEY_LEN])
{
  unsigned char b[16];
  if (getentropy(b, sizeof b) != 0) {
    /* getentropy cannot fail for 16 bytes on Linux >= 3.17; keep a
     * unique-enough fallback rather than aborting. */
    static unsigned long counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long x = (unsigned long long)ts.tv_sec * 1000000007ull ^
                           (unsigned long long)ts.tv_nsec ^
                           ((unsigned long long)getpid() << 32) ^
                           (unsigned long long)++counter;
    for (size_t i = 0; i < sizeof b; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      b[i] = (unsigned char)x;
    }
  }
  for (size_t i = 0; i < sizeof b; i++)
    snprintf(key + 2 * i, 3, "%02x", b[i]);
}

/* Length of at most max bytes of s that ends on a UTF-8 boundary. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
  if (len <= max)
    return len;
  size_t n = max;
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
    n--;
  return n;
}

static void key_str(struct jsonw *w, const char *key, const char *v)
{
  if (!v)
    return;
  jsonw_key(w, key);
  jsonw_string(w, v);
}

/* The facts a create_ticket or comment reports; caller frees. */
static char *facts_payload(const struct ingest_msg *m)
{
  struct buf b;
  struct jsonw w;
  buf_init(&b, 0);
  jsonw_init(&w, &b);
  jsonw_object_begin(&w);
  key_str(&w, "customer_id", m->customer_id);
  key_str(&w, "conversation_id", m->conversation_id);
  key_str(&w, "channel", m->channel);
  key_str(&w, "message_id", m->message_id);
  if (m->text) {
    size_t len = strlen(m->text);
    size_t cut = utf8_cut(m->text, len, STORE_EXCERPT_MAX);
    jsonw_key(&w, "excerpt");
    if (cut < len) {
      struct buf e;
      buf_init(&e, 0);
      /* At most STORE_EXCERPT_MAX bytes and an ellipsis. */
      buf_must_fit(buf_append(&e, m->text, cut));
      buf_must_fit(buf_puts(&e, "\xe2\x80\xa6")); /* U+2026, the text goes on */
      jsonw_string(&w, buf_ptr(&e));
      buf_cleanup(&e);
    } else {
      jsonw_string(&w, m->text);
    }
  }
  jsonw_kv_double(&w, "polarity", m->polarity);
  jsonw_kv_double(&w, "subjectivity", m->subjectivity);
  key_str(&w, "level", m->level_name);
  key_str(&w, "severity", m->severity);
  key_str(&w, "words", m->words);
  key_str(&w, "source_object", m->source_object);
  key_str(&w, "source_display_id", m->source_display_id);
  key_str(&w, "source_type", m->source_type);
  key_str(&w, "rev_org", m->rev_org);
  jsonw_object_end(&w);
  return buf_take(&b);
}

/* update_source: the fields to set on the message's ticket. */
static char *source_update_payload(const struct ingest_msg *m,
                                   const struct alert_policy *pol,
                                   size_t level, const char *severity)
{
  struct buf b;
  struct jsonw w;
  buf_init(&b, 0);
  jsonw_init(&w, &b);
  jsonw_object_begin(&w);
  key_str(&w, "source_object", m->source_object);
  key_str(&w, "source_display_id", m->source_display_id);
  key_str(&w, "customer_id", m->customer_id);
  if (level < pol->n_levels && level < STORE_MAX_LEVELS)
    key_str(&w, "level", pol->level_names[level]);
  if (pol->source_severity)
    key_str(&w, "severity", severity);
  if (pol->source_sentiment && level < pol->n_levels &&
      level < STORE_MAX_LEVELS && pol->sentiments[level] > 0) {
    jsonw_kv_int(&w, "sentiment", pol->sentiments[level]);
  }
  jsonw_object_end(&w);
  return buf_take(&b);
}

/* True when m came from a DevRev event (it knows its source object). */
static bool from_source(const struct ingest_msg *m)
{
  return m->source_object && *m->source_object;
}

/* True when an alert raised by m should have a ticket of its own. */
static bool wants_ticket(const struct ingest_msg *m,
                         const struct alert_policy *pol)
{
  return !from_source(m) || pol->source_ticket;
}

/* The outbox entries aimed at m's source object, for an alert (alert_id)
 * now at `level` with `severity`. */
static enum err source_entries(struct store *st, const struct ingest_msg *m,
                               const struct alert_policy *pol,
                               int64_t alert_id, size_t level,
                               const char *severity, int64_t now_ms)
{
  if (!from_source(m))
    return ERR_OK;
  enum err rc = ERR_OK;
  if (pol->source_comment) {
    char *payload = facts_payload(m);
    rc = st->ops->outbox_insert(st, alert_id, STORE_KIND_SOURCE_COMMENT,
                                payload, now_ms);
    free(payload);
  }
  if (!rc && (pol->source_severity || pol->source_sentiment) &&
      m->source_type && !strcmp(m->source_type, "ticket")) {
    char *payload = source_update_payload(m, pol, level, severity);
    rc = st->ops->outbox_insert(st, alert_id, STORE_KIND_UPDATE_SOURCE,
                                payload, now_ms);
    free(payload);
  }
  return rc;
}

static char *severity_payload(const struct ingest_msg *m, const char *prev)
{
  struct buf b;
  struct jsonw w;
  buf_init(&b, 0);
  jsonw_init(&w, &b);
  jsonw_object_begin(&w);
  key_str(&w, "level", m->level_name);
  key_str(&w, "severity", m->severity);
  key_str(&w, "previous_severity", prev);
  jsonw_object_end(&w);
  return buf_take(&b);
}

/* The conversation of a window entry: a 32-bit FNV-1a hash of its
 * conversation_id, never 0 (0 is "none"). The window keeps numbers only,
 * so no text of the client's can break its format; two conversations of
 * one customer colliding within 20 messages is negligible. */
static uint32_t conversation_hash(const char *conversation_id)
{
  if (!conversation_id || !*conversation_id)
    return 0;
  uint32_t h = 2166136261u;
  for (const unsigned char *p = (const unsigned char *)conversation_id; *p;
       p++) {
    h ^= *p;
    h *= 16777619u;
  }
  return h ? h : 1;
}

/* One entry of the customer's window. */
struct win_entry {
  int64_t at_ms;
  double polarity;
  int64_t level;
  uint32_t conversation; /* conversation_hash; 0: none (or an old entry) */
};

/* Parses the window text "[[at,polarity,level(,conversation)],...]" into
 * out (room for STORE_WINDOW_MAX), oldest first; returns the count.
 * Entries of another shape are skipped. Hand-parsed: this runs for every
 * message and needs no allocation. */
static size_t window_parse(const char *json, struct win_entry *out)
{
  size_t n = 0;
  const char *p = json ? strchr(json, '[') : NULL;
  if (!p)
    return 0;
  p++;
  while (n < STORE_WINDOW_MAX && (p = strchr(p, '['))) {
    char *end;
    struct win_entry e = {0};
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

/* Appends (now, polarity, level, conversation) to the customer's window
 * old (its text as read, NULL if none), keeping the newest
 * STORE_WINDOW_MAX. The window is JSON written only by this function, so
 * it is edited as text: the old entries are copied, never re-parsed and
 * re-printed (printing doubles exactly is the costly part, and this runs
 * for every message). Text of another shape is replaced. */
static enum err window_push(struct store *st, const struct ingest_msg *m,
                            const char *old, int64_t now_ms)
{
  struct buf b;
  buf_init(&b, 0);
  enum err rc = buf_putc(&b, '[');
  size_t len = old ? strlen(old) : 0;
  if (len > 4 && !strncmp(old, "[[", 2) && !strcmp(old + len - 2, "]]")) {
    /* Entries hold no brackets inside, so "],[" separates them. */
    const char *body = old + 1, *end = old + len - 1;
    size_t count = 1;
    for (const char *p = body; (p = strstr(p, "],[")) && p < end; p += 3)
      count++;
    while (count >= STORE_WINDOW_MAX) {
      body = strstr(body, "],[") + 2;
      count--;
    }
    if (!rc)
      rc = buf_append(&b, body, (size_t)(end - body));
    if (!rc)
      rc = buf_putc(&b, ',');
  }
  char pol[32];
  jsonw_format_double(m->polarity, pol);
  uint32_t conv = conversation_hash(m->conversation_id);
  if (!rc && conv)
    rc = buf_printf(&b, "[%lld,%s,%lld,%lu]]", (long long)now_ms, pol,
                    (long long)m->level, (unsigned long)conv);
  else if (!rc)
    rc = buf_printf(&b, "[%lld,%s,%lld]]", (long long)now_ms, pol,
                    (long long)m->level);
  if (!rc)
    rc = st->ops->window_put(st, m->customer_id, buf_ptr(&b), now_ms);
  buf_cleanup(&b);
  return rc;
}

/* Appends "; " and a printf-formatted reason to r->escalation. */
static void add_reason(struct ingest_result *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void add_reason(struct ingest_result *r, const char *fmt, ...)
{
  size_t len = strlen(r->escalation);
  if (len + 3 >= sizeof r->escalation)
    return;
  if (len) {
    memcpy(r->escalation + len, "; ", 3);
    len += 2;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->escalation + len, sizeof r->escalation - len, fmt, ap);
  va_end(ap);
}

/* Conversation context: m's effective level given the customer's window
 * (win[0..n), before m) and whether the customer has an alert open within
 * the cooldown. Fills r->escalation with the rules that raised it. */
static size_t escalate(const struct alert_policy *pol,
                       const struct ingest_msg *m, const struct win_entry *win,
                       size_t n, bool alert_open, int64_t now_ms,
                       struct ingest_result *r)
{
  size_t level = m->level;
  size_t top = pol->n_levels - 1;
  size_t target = pol->min_level < top ? pol->min_level : top;
  uint32_t conv = conversation_hash(m->conversation_id);
  size_t in_window = 0, negative = 0, same = 0, same_negative = 0;
  double level_sum = 0, polarity_sum = 0;
  for (size_t i = 0; i < n; i++) {
    /* A clock stepping back leaves entries from the "future": within. */
    if (now_ms - win[i].at_ms > pol->window_ms)
      continue;
    in_window++;
    level_sum += (double)win[i].level;
    polarity_sum += win[i].polarity;
    if (win[i].level >= 1)
      negative++;
    if (conv && win[i].conversation == conv) {
      same++;
      if (win[i].level >= 1 || win[i].polarity < 0)
        same_negative++;
    }
  }
  unsigned window_s = (unsigned)(pol->window_ms / 1000);
  /* Rising trend, against the window before this message. */
  if (in_window && level < top) {
    double mean_level = level_sum / (double)in_window;
    double mean_polarity = polarity_sum / (double)in_window;
    if ((double)m->level >= mean_level + 2) {
      level++;
      add_reason(r, "level rose %.1f above the recent average",
                 (double)m->level - mean_level);
    } else if (mean_polarity - m->polarity > pol->drop) {
      level++;
      add_reason(r, "polarity dropped %.2f below the recent average",
                 mean_polarity - m->polarity);
    }
  }
  /* N negative messages within the window, this one included. */
  if (m->level >= 1 && negative + 1 >= pol->negative_count &&
      level < target) {
    level = target;
    add_reason(r, "%zu negative messages within %u s", negative + 1,
               window_s);
  }
  /* Repeated contact about one conversation, this message included. */
  if (conv && level < target) {
    bool neg = m->level >= 1 || m->polarity < 0;
    if ((neg && same_negative + 1 >= pol->repeat_count) ||
        (alert_open && same + 1 >= pol->repeat_count)) {
      level = target;
      add_reason(r, "%zu messages about the same conversation within %u s%s",
                 (neg && same_negative + 1 >= pol->repeat_count)
                     ? same_negative + 1
                     : same + 1,
                 window_s, alert_open ? " with an alert open" : "");
    }
  }
  if (level <= m->level) {
    r->escalation[0] = '\0';
    return m->level;
  }
  return level;
}

/* Sets *out to m's result object with "escalated" spliced in before its
 * closing brace (caller frees), so that a duplicate replays it; to NULL
 * when m has no result object. ERR_TOO_BIG when it does not fit a buffer. */
static enum err escalated_json(const struct ingest_msg *m,
                               const struct ingest_result *r, char **out)
{
  *out = NULL;
  size_t len = m->result_json ? strlen(m->result_json) : 0;
  if (len < 2 || m->result_json[0] != '{' || m->result_json[len - 1] != '}')
    return ERR_OK;
  struct buf b;
  buf_init(&b, 0);
  enum err rc = buf_append(&b, m->result_json, len - 1);
  if (!rc && len > 2)
    rc = buf_putc(&b, ',');
  if (!rc)
    rc = store_escalation_json(r, &b);
  if (!rc)
    rc = buf_putc(&b, '}');
  if (!rc)
    *out = buf_take(&b);
  buf_cleanup(&b);
  return rc;
}

/* Opens a new alert for m; sets *id and key. */
static enum err open_alert(struct store *st, const struct ingest_msg *m,
                           const struct alert_policy *pol, int64_t now_ms,
                           struct ingest_result *r)
{
  struct store_alert_row a = {0};
  char *payload = NULL;
  new_alert_key(a.key);
  /* The row borrows m's strings; nothing in it is freed here. */
  a.customer_id = (char *)m->customer_id;
  a.conversation_id = (char *)m->conversation_id;
  a.level_name = (char *)m->level_name;
  a.severity = (char *)m->severity;
  a.level = (int64_t)m->level;
  a.open = true;
  a.created_at_ms = now_ms;
  a.last_activity_ms = now_ms;
  a.message_count = 1;
  a.ticket_wanted = wants_ticket(m, pol);
  enum err rc = st->ops->alert_insert(st, &a);
  if (rc)
    goto out;
  if (a.ticket_wanted) {
    payload = facts_payload(m);
    rc = st->ops->outbox_insert(st, a.id, STORE_KIND_CREATE_TICKET, payload,
                                now_ms);
    if (rc)
      goto out;
  }
  rc = source_entries(st, m, pol, a.id, m->level, m->severity, now_ms);
  if (rc)
    goto out;
  r->alert_id = a.id;
  memcpy(r->alert_key, a.key, sizeof a.key);
out:
  free(payload);
  return rc;
}

/* Adds m to the open alert a (owned by the caller). An alert without a
 * ticket (raised by DevRev messages only) gets one when a message that
 * wants one joins it; one with a ticket is told of every message. */
static enum err append_alert(struct store *st, const struct ingest_msg *m,
                             const struct alert_policy *pol, int64_t now_ms,
                             struct store_alert_row *a,
                             struct ingest_result *r)
{
  char *payload = facts_payload(m);
  char *raise = NULL;
  enum err rc = ERR_OK;
  bool had_ticket = a->ticket_wanted;
  if (had_ticket)
    rc = st->ops->outbox_insert(st, a->id, STORE_KIND_COMMENT, payload,
                                now_ms);
  else if (wants_ticket(m, pol)) {
    /* The ticket opens at the episode's highest level so far. */
    struct ingest_msg tm = *m;
    if (a->level > (int64_t)m->level && a->level_name && a->severity) {
      tm.level = (size_t)a->level;
      tm.level_name = a->level_name;
      tm.severity = a->severity;
    }
    char *first = facts_payload(&tm);
    rc = st->ops->outbox_insert(st, a->id, STORE_KIND_CREATE_TICKET, first,
                                now_ms);
    free(first);
    a->ticket_wanted = true;
  }
  if (rc)
    goto out;
  if ((int64_t)m->level > a->level) {
    /* Only a change DevRev can see is worth a request (a ticket created
     * just now already has the new severity). */
    if (had_ticket && (!a->severity || strcmp(a->severity, m->severity))) {
      raise = severity_payload(m, a->severity);
      rc = st->ops->outbox_insert(st, a->id, STORE_KIND_UPDATE_SEVERITY, raise,
                                  now_ms);
      if (rc)
        goto out;
    }
    a->level = (int64_t)m->level;
    free(a->level_name);
    a->level_name = xstrdup(m->level_name);
    free(a->severity);
    a->severity = xstrdup(m->severity);
  }
  a->last_activity_ms = now_ms;
  a->message_count++;
  rc = st->ops->alert_update(st, a);
  if (rc)
    goto out;
  /* The source ticket takes the alert's level: the episode's highest. */
  rc = source_entries(st, m, pol, a->id, (size_t)a->level, a->severity,
                      now_ms);
  if (rc)
    goto out;
  r->alert_id = a->id;
  memcpy(r->alert_key, a->key, sizeof a->key);
out:
  free(payload);
  free(raise);
  return rc;
}

static enum err ingest_one(struct store *st, const struct ingest_msg *m,
                           const struct alert_policy *pol, int64_t now_ms,
                           struct ingest_result *r)
{
  struct store_alert_row open = {0};
  bool found = false, open_found = false, open_read = false;
  char *window = NULL, *stored_json = NULL;
  enum err rc = ERR_OK;
  if (m->message_id) {
    rc = st->ops->msg_find(st, m->message_id, r, &found);
    if (rc || found) {
      if (found)
        r->outcome = STORE_ALERT_DUPLICATE;
      goto out;
    }
  }
  r->outcome = STORE_ALERT_NONE;
  r->level = m->level;
  snprintf(r->level_name, sizeof r->level_name, "%s", m->level_name);
  rc = st->ops->window_get(st, m->customer_id, &window);
  if (rc)
    goto out;
  /* The message as the alert policy sees it: escalation may raise it. */
  struct ingest_msg em = *m;
  bool escalating = pol->escalation && pol->n_levels > 0 &&
                    pol->n_levels <= STORE_MAX_LEVELS &&
                    m->level < pol->n_levels;
  if (escalating) {
    /* Only the repeated-contact rule asks whether an alert is open. */
    if (m->conversation_id && *m->conversation_id) {
      rc = st->ops->alert_find_open(st, m->customer_id, &open, &open_found);
      if (rc)
        goto out;
      open_read = true;
    }
    bool alert_open =
        open_found && now_ms - open.last_activity_ms <= pol->cooldown_ms;
    struct win_entry win[STORE_WINDOW_MAX];
    size_t n = window_parse(window, win);
    size_t level = escalate(pol, m, win, n, alert_open, now_ms, r);
    if (level > m->level) {
      em.level = level;
      em.level_name = pol->level_names[level];
      em.severity = pol->severities[level];
      em.frustrated = true;
      r->level = level;
      snprintf(r->level_name, sizeof r->level_name, "%s", em.level_name);
      rc = escalated_json(m, r, &stored_json);
      if (rc)
        goto out;
    }
  }
  if (em.frustrated && em.level >= pol->min_level) {
    if (!open_read) {
      rc = st->ops->alert_find_open(st, m->customer_id, &open, &open_found);
      if (rc)
        goto out;
    }
    /* A clock stepping back gives a negative age: still within. */
    if (open_found && now_ms - open.last_activity_ms <= pol->cooldown_ms) {
      rc = append_alert(st, &em, pol, now_ms, &open, r);
      r->outcome = STORE_ALERT_APPENDED;
    } else {
      if (open_found) {
        open.open = false; /* the episode is over */
        rc = st->ops->alert_update(st, &open);
        if (rc)
          goto out;
      }
      rc = open_alert(st, &em, pol, now_ms, r);
      r->outcome = STORE_ALERT_CREATED;
    }
    if (rc)
      goto out;
  }
  r->original = r->outcome;
  /* The row keeps the detector's own level (and the window too, so that
   * an escalation does not feed the next one); the stored answer tells
   * the escalation. */
  struct ingest_msg row = *m;
  if (stored_json)
    row.result_json = stored_json;
  rc = st->ops->msg_insert(st, &row, r->outcome, r->alert_id, now_ms,
                           &r->row_id);
  if (rc)
    goto out;
  rc = window_push(st, m, window, now_ms);
out:
  free(window);
  free(stored_json);
  store_alert_row_cleanup(&open);
  return rc;
}

enum err store_escalation_json(const struct ingest_result *r, struct buf *out)
{
  enum err rc = buf_puts(out, "\"escalated\":{\"level\":");
  if (!rc)
    rc = jsonw_escape(out, r->level_name, strlen(r->level_name));
  if (!rc)
    rc = buf_puts(out, ",\"reason\":");
  if (!rc)
    rc = jsonw_escape(out, r->escalation, strlen(r->escalation));
  if (!rc)
    rc = buf_putc(out, '}');
  return rc;
}

enum err store_ingest(struct store *st, const struct ingest_msg *msgs, size_t n,
                      const struct alert_policy *pol, int64_t now_ms,
                      struct ingest_result *results)
{
  enum err rc = store_ingest_check(msgs, n);
  if (rc) {
    store_set_error(st, "ingest: a message lacks customer_id, level_name "
                        "or (frustrated) severity");
    return rc;
  }
  memset(results, 0, n * sizeof *results);
  rc = store_tx_enter(st);
  if (rc)
    return rc;
  for (size_t i = 0; i < n && !rc; i++)
    rc = ingest_one(st, &msgs[i], pol, now_ms, &results[i]);
  rc = store_tx_leave(st, rc);
  if (rc) {
    for (size_t i = 0; i < n; i++)
      store_ingest_result_cleanup(&results[i]);
    memset(results, 0, n * sizeof *results);
  }
  return rc;
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
  return st->ops->message_get(st, message_id, out, found);
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
  memset(m, 0, sizeof *m);
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

enum err store_customer_recent(struct store *st, const char *customer_id,
                               struct store_score *out, size_t cap, size_t *n)
{
  char *json = NULL;
  *n = 0;
  enum err rc = st->ops->window_get(st, customer_id, &json);
  if (rc || !json)
    goto out;
  cJSON *arr = cJSON_Parse(json);
  const cJSON *it;
  cJSON_ArrayForEach(it, arr)
  {
    if (*n == cap)
      break;
    /* [at, polarity, level] and, when the message had a conversation, its
     * hash as a fourth item. */
    if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) < 3)
      continue;
    out[*n].at_ms = (int64_t)cJSON_GetNumberValue(cJSON_GetArrayItem(it, 0));
    out[*n].polarity = cJSON_GetNumberValue(cJSON_GetArrayItem(it, 1));
    out[*n].level = (int64_t)cJSON_GetNumberValue(cJSON_GetArrayItem(it, 2));
    (*n)++;
  }
  cJSON_Delete(arr);
out:
  free(json);
  return rc;
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

enum err store_outbox_retry(struct store *st, int64_t id, int64_t now_ms,
                            size_t *n)
{
  *n = 0;
  if (id < 0) {
    store_set_error(st, "outbox entry id %lld is not valid", (long long)id);
    return ERR_INVALID;
  }
  return st->ops->outbox_retry(st, id, now_ms, n);
}

enum err store_outbox_drop(struct store *st, int64_t id, int64_t now_ms,
                           size_t *n)
{
  *n = 0;
  if (id < 0) {
    store_set_error(st, "outbox entry id %lld is not valid", (long long)id);
    return ERR_INVALID;
  }
  return st->ops->outbox_drop(st, id, now_ms, n);
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
