/* policy: the alert policy, above storage. What a scored message does:
 * a duplicate (by message_id) changes nothing; a frustrated one opens an
 * alert or joins the customer's open one (one alert per customer episode,
 * closed by the cooldown), raises its severity, and queues the outbox
 * entries each decision needs (payloads: alerting/payload.h); conversation
 * context (escalation) may raise a message's effective level first.
 *
 * Written once over the record calls of store/store.h, so every storage
 * backend decides alike. Invariants: an alert row and its outbox entries
 * are written in the same transaction as the message that caused them; at
 * most one alert per customer is open (the backend enforces it with a
 * unique index).
 *
 * The functions carry the store_ prefix: they are how a scored message
 * enters a store (the committer calls store_ingest), and take a store
 * handle, used by one thread at a time. */
#ifndef ALERTING_POLICY_H
#define ALERTING_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "store/store.h"

struct buf; /* base/buf.h */

struct alert_policy {
  /* ALERT_COOLDOWN: a frustrated message joins the customer's open alert
   * when that alert's last activity is at most this old; otherwise the old
   * alert is closed and a new one opened. */
  int64_t cooldown_ms;
  /* ALERT_MIN_LEVEL as a level index: frustrated messages below it raise
   * nothing. */
  size_t min_level;
  /* Conversation context (ESCALATION, default on in the service; a zeroed
   * policy has it off). Over the customer's window of recent scores (see
   * customer_state), a message's effective level is raised when:
   *  - it is negative (level >= 1) and, with it, negative_count negative
   *    messages of the customer fall within window_ms: to min_level;
   *  - its level is at least 2 above the window's mean level, or its
   *    polarity is more than drop below the window's mean polarity: one
   *    level up (never above the top);
   *  - with it, repeat_count messages of its conversation_id fall within
   *    window_ms, all negative (level >= 1 or polarity < 0) or while the
   *    customer's alert is open: to min_level.
   * An escalated message alerts like a frustrated one at its effective
   * level. Counts are at most STORE_WINDOW_MAX. */
  bool escalation;
  int64_t window_ms;     /* ESCALATE_WINDOW */
  size_t negative_count; /* ESCALATE_NEGATIVE_COUNT */
  size_t repeat_count;   /* ESCALATE_REPEAT_COUNT */
  double drop;           /* ESCALATE_DROP */
  /* The configured levels (names and DevRev severities), needed to name an
   * effective level the detector did not give; escalation needs n_levels
   * >= 1. */
  size_t n_levels;
  char level_names[STORE_MAX_LEVELS][STORE_LEVEL_NAME_MAX];
  char severities[STORE_MAX_LEVELS][16];
  int sentiments[STORE_MAX_LEVELS]; /* DevRev ticket sentiment per level */
  /* What an alert does for a message that came from DevRev (its
   * source_object is set):
   *  - source_comment (DEVREV_COMMENT_SOURCE): an internal comment on the
   *    source object (outbox source_comment);
   *  - source_ticket (DEVREV_SOURCE_TICKET): the alert's own ticket too,
   *    as for any message (otherwise the alert is recorded without one
   *    until a message without a source joins it);
   *  - source_severity / source_sentiment (DEVREV_UPDATE_SEVERITY /
   *    _SENTIMENT): when the source is a ticket, set its severity and/or
   *    sentiment to the alert's (outbox update_source).
   * An alert that has a ticket gets every message's comment on it,
   * whatever its source. */
  bool source_comment;
  bool source_ticket;
  bool source_severity;
  bool source_sentiment;
};

/* Records msgs[0..n) and applies the alert policy, in one transaction (or
 * as part of the one store_begin opened): either every message of the
 * batch is written with its alerts and outbox entries, or nothing is. For
 * each
 * message, in order:
 *  - a message_id already stored (also earlier in this batch): DUPLICATE,
 *    nothing written, result_json/original from the first one;
 *  - otherwise the message is inserted, and if it is frustrated at
 *    pol->min_level or above: the customer's open alert whose last activity
 *    is within pol->cooldown_ms gets it (APPENDED: outbox `comment`, plus
 *    `update_severity` when the level rose to a different severity; the
 *    alert's level, activity and count are updated); else a new alert is
 *    opened (CREATED: outbox `create_ticket`); otherwise NONE.
 *    With pol->escalation, the customer's window (read before the message
 *    joins it) may first raise the message's effective level (see struct
 *    alert_policy); the alert then uses that level, its name and severity,
 *    the result says why (level, level_name, escalation) and the stored
 *    result_json carries "escalated" so a duplicate replays it. The
 *    message row and the window keep the detector's level.
 * now_ms is the commit time used for cooldowns and created_at.
 * results has room for n; on success every entry is filled (clean each
 * with store_ingest_result_cleanup); on failure none needs cleaning.
 * Returns ERR_INVALID (a message lacks customer_id or level_name; nothing
 * written) or ERR_STORE. */
enum err store_ingest(struct store *st, const struct ingest_msg *msgs, size_t n,
                      const struct alert_policy *pol, int64_t now_ms,
                      struct ingest_result *results);

/* Appends "escalated":{"level":NAME,"reason":TEXT} for a result whose
 * escalation is not "" (the member an answer gets; the stored result_json
 * of an escalated message already holds it). Returns buf's error. */
enum err store_escalation_json(const struct ingest_result *r, struct buf *out);

/* Checks the fields store_ingest requires; ERR_INVALID if one is missing. */
enum err store_ingest_check(const struct ingest_msg *msgs, size_t n);

/* The customer's most recent scores (up to STORE_WINDOW_MAX), oldest
 * first, into out (room for cap); *n is how many. */
enum err store_customer_recent(struct store *st, const char *customer_id,
                               struct store_score *out, size_t cap, size_t *n);

#endif
