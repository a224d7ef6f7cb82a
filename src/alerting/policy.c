/* policy: the alert policy (see policy.h), over the record calls of
 * store/store.h. Payloads are written by alerting/payload.c. */
#include "alerting/policy.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerting/payload.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/jsonw.h"
#include "base/xalloc.h"

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

/* A random alert key: 128 bits in hex, unique across databases, so the
 * marker found in DevRev can only be this alert's. */
static void new_alert_key(char key[STORE_ALERT_KEY_LEN])
{
  unsigned char b[16];
  if (getentropy(b, sizeof b) != 0) {
    /* getentropy cannot fail for 16 bytes on Linux >= 3.17; keep a
     * unique-enough fallback rather than aborting. */
    static unsigned long counter;
    unsigned long long x = (unsigned long long)clock_wall_ms() * 1000000007ull ^
                           (unsigned long long)clock_mono_ns() ^
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
                               const struct alert_policy *pol, int64_t alert_id,
                               size_t level, const char *severity,
                               int64_t now_ms)
{
  if (!from_source(m))
    return ERR_OK;
  enum err rc = ERR_OK;
  if (pol->source_comment) {
    char *payload = payload_facts(m);
    rc = store_outbox_insert(st, alert_id, STORE_KIND_SOURCE_COMMENT, payload,
                             now_ms);
    free(payload);
  }
  if (!rc && (pol->source_severity || pol->source_sentiment) &&
      m->source_type && !strcmp(m->source_type, "ticket")) {
    char *payload = payload_source_update(m, pol, level, severity);
    rc = store_outbox_insert(st, alert_id, STORE_KIND_UPDATE_SOURCE, payload,
                             now_ms);
    free(payload);
  }
  return rc;
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
    rc = store_window_put(st, m->customer_id, buf_ptr(&b), now_ms);
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
                       const struct ingest_msg *m,
                       const struct store_score *win, size_t n, bool alert_open,
                       int64_t now_ms, struct ingest_result *r)
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
  if (m->level >= 1 && negative + 1 >= pol->negative_count && level < target) {
    level = target;
    add_reason(r, "%zu negative messages within %u s", negative + 1, window_s);
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

/* m's result object with "escalated" spliced in before its closing brace
 * into *out (caller frees), so that a duplicate replays it; *out NULL when
 * m has no result object. */
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
  enum err rc = store_alert_insert(st, &a);
  if (rc)
    goto out;
  if (a.ticket_wanted) {
    payload = payload_facts(m);
    rc = store_outbox_insert(st, a.id, STORE_KIND_CREATE_TICKET, payload,
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
                             struct store_alert_row *a, struct ingest_result *r)
{
  char *payload = payload_facts(m);
  char *raise = NULL;
  enum err rc = ERR_OK;
  bool had_ticket = a->ticket_wanted;
  if (had_ticket)
    rc = store_outbox_insert(st, a->id, STORE_KIND_COMMENT, payload, now_ms);
  else if (wants_ticket(m, pol)) {
    /* The ticket opens at the episode's highest level so far. */
    struct ingest_msg tm = *m;
    if (a->level > (int64_t)m->level && a->level_name && a->severity) {
      tm.level = (size_t)a->level;
      tm.level_name = a->level_name;
      tm.severity = a->severity;
    }
    char *first = payload_facts(&tm);
    rc =
        store_outbox_insert(st, a->id, STORE_KIND_CREATE_TICKET, first, now_ms);
    free(first);
    a->ticket_wanted = true;
  }
  if (rc)
    goto out;
  if ((int64_t)m->level > a->level) {
    /* Only a change DevRev can see is worth a request (a ticket created
     * just now already has the new severity). */
    if (had_ticket && (!a->severity || strcmp(a->severity, m->severity))) {
      raise = payload_severity(m, a->severity);
      rc = store_outbox_insert(st, a->id, STORE_KIND_UPDATE_SEVERITY, raise,
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
  /* Never backwards: with several instances, a transaction that took its
   * time before waiting for the customer's lock may run after one that
   * took it later. */
  if (now_ms > a->last_activity_ms)
    a->last_activity_ms = now_ms;
  a->message_count++;
  rc = store_alert_update(st, a);
  if (rc)
    goto out;
  /* The source ticket takes the alert's level: the episode's highest. */
  rc = source_entries(st, m, pol, a->id, (size_t)a->level, a->severity, now_ms);
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
    rc = store_msg_find(st, m->message_id, r, &found);
    if (rc || found) {
      if (found)
        r->outcome = STORE_ALERT_DUPLICATE;
      goto out;
    }
  }
  r->outcome = STORE_ALERT_NONE;
  r->level = m->level;
  snprintf(r->level_name, sizeof r->level_name, "%s", m->level_name);
  rc = store_window_get(st, m->customer_id, &window);
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
      rc = store_alert_find_open(st, m->customer_id, &open, &open_found);
      if (rc)
        goto out;
      open_read = true;
    }
    bool alert_open =
        open_found && now_ms - open.last_activity_ms <= pol->cooldown_ms;
    struct store_score win[STORE_WINDOW_MAX];
    size_t n = store_window_parse(window, win, STORE_WINDOW_MAX);
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
      rc = store_alert_find_open(st, m->customer_id, &open, &open_found);
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
        rc = store_alert_update(st, &open);
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
  rc = store_msg_insert(st, &row, r->outcome, r->alert_id, now_ms, &r->row_id);
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

enum err store_customer_recent(struct store *st, const char *customer_id,
                               struct store_score *out, size_t cap, size_t *n)
{
  char *json = NULL;
  *n = 0;
  enum err rc = store_window_get(st, customer_id, &json);
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
