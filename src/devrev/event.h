/* devrev_event: recognises and reads DevRev webhook events (the envelope of
 * docs/devrev-api.md section 5.3) from an already parsed cJSON tree.
 *
 * Pure: no I/O, no store, no globals, no signature check and no staleness
 * or duplicate decision; those belong to the caller (section 5.6). Every
 * const char * handed back is borrowed from the cJSON tree given to
 * devrev_event_read (or from its compose buffer, see there) and is valid
 * until that tree is deleted. Thread-safe: nothing is shared. */
#ifndef DEVREV_EVENT_H
#define DEVREV_EVENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* Longest id accepted (event, webhook, object, entry, author, rev org ids,
 * display ids and the type name), in bytes; longer is ERR_INVALID. */
#define DEVREV_EVENT_MAX_ID 512
/* Longest timestamp string (envelope timestamp, created_date), in bytes. */
#define DEVREV_EVENT_MAX_TIME 64
/* Longest verify challenge, in bytes: base64 text that is echoed back. */
#define DEVREV_EVENT_MAX_CHALLENGE 4096

/* True when root (a parsed JSON value) is an object that looks like a
 * DevRev webhook event envelope rather than the service's own
 * {"customer_id","message"} / {"messages":[...]} forms: it has a string
 * "type" and a "webhook_id" member (of any JSON type) or type == "verify",
 * and has no "customer_id" and no "messages" member. NULL is fine. */
bool devrev_event_detect(const cJSON *root);

enum devrev_event_kind {
  DEVREV_EVENT_VERIFY,  /* answer 200 {"challenge": ev.challenge} */
  DEVREV_EVENT_MESSAGE, /* a customer's message: score ev.text */
  DEVREV_EVENT_IGNORED, /* well formed but not for us: 200, ev.ignored */
};

/* One event as read. Strings are borrowed (see the top of this file) and
 * NULL when absent unless marked "always set". A plain record: it may be
 * copied, and needs no cleanup. */
struct devrev_event {
  enum devrev_event_kind kind;
  const char *id;         /* event id, the dedupe key; always set except
                           * for VERIFY (where it is read if present) */
  const char *webhook_id; /* always set except for VERIFY */
  const char *type;       /* "verify", "timeline_entry_created", ...;
                           * always set */
  const char *timestamp;  /* envelope timestamp as sent */
  bool has_time;          /* timestamp parsed (devrev_parse_time) */
  int64_t time_ms;        /* ... to ms since the epoch; 0 otherwise */
  const char *challenge;  /* VERIFY: verify.challenge, else a top-level
                           * "challenge"; non-empty */

  /* MESSAGE only (all NULL / 0 / false for the other kinds): */
  const char *text; /* the customer's words: NUL-terminated, never blank */
  size_t text_len;
  const char *object_id;         /* where the message lives: DON of the */
  const char *object_display_id; /* conversation / ticket / issue, its */
  const char *object_type;       /* display id, "conversation", "ticket"... */
  /* entry_id, always set: for timeline_entry_created the entry's id; for
   * conversation_created the id of the message chosen from messages[] (so
   * that the same comment, arriving again as timeline_entry_created, has
   * the same entry_id), else the conversation's; for work_created the
   * work's id. */
  const char *entry_id;
  const char *author_id;         /* the rev_user's DON; always set */
  const char *author_display_id; /* "REVU-1" */
  const char *rev_org_id;        /* the customer's org, when known */
  const char *rev_org_display_id;
  const char *created_date; /* the message's own creation time, as sent */
  bool has_created;         /* created_date parsed ... */
  int64_t created_ms;       /* ... to ms since the epoch; 0 otherwise */

  /* IGNORED: why, for the 200 answer and the log ("event type work_updated
   * is not scored", "author is not a customer (dev_user)", ...). "" for
   * the other kinds. */
  char ignored[160];
};

/* Reads root, a DevRev event envelope (devrev_event_detect need not have
 * been called), into ev. Field order does not matter.
 *
 * self_id is our own DevRev user (DEVREV_SELF_ID; NULL or "" for none): a
 * message whose author's id or display id equals it is IGNORED ("our own
 * comment"), so that the comments the service posts do not come back as
 * customer messages.
 *
 * compose is caller-owned scratch (buf_init'd; reset here): a work_created
 * event with both a title and a body hands back title "\n\n" body, written
 * into compose, and ev->text then points into it, valid until compose
 * changes or is cleaned up. Every other text points into the tree.
 *
 * What is read, by ev->type:
 *   verify                  verify.challenge, or a top-level challenge
 *   timeline_entry_created  .entry: type must be "timeline_comment", not
 *                           visibility internal/private, created_by a
 *                           rev_user (absent: IGNORED); text = body;
 *                           object_type, when absent, from the object's
 *                           DON (":ticket/12") or display id ("TKT-12")
 *   conversation_created    .conversation: created_by a rev_user; text =
 *                           the newest (created_date, then array order)
 *                           customer message of messages[] with a body,
 *                           else description, else title; without
 *                           created_by the author is that message's
 *                           (IGNORED when there is none)
 *   work_created            .work: type ticket or issue; author =
 *                           created_by if a rev_user, else the first
 *                           rev_user of reported_by[]; text = title and
 *                           body; rev org from work.rev_org
 *   anything else           IGNORED "event type X is not scored"
 * Blank text (missing, empty, whitespace only) is IGNORED "message has no
 * text".
 *
 * Returns ERR_OK with ev filled in, or, for a malformed envelope, ERR_INVALID
 * with a short message naming the JSON path in err (for a 400): a required
 * field (type; id and webhook_id except for verify; the challenge of a
 * verify; the payload object, its entry / conversation / work object with
 * its id and type; the object of a comment; a named author's id and type)
 * missing or of the wrong JSON
 * type, or an id, type or timestamp longer than its limit. Optional fields
 * of the wrong JSON type are treated as absent. ERR_TOO_BIG when composed
 * text exceeds compose's limit. On failure ev is zeroed apart from kind
 * (DEVREV_EVENT_IGNORED). err may be NULL. */
enum err devrev_event_read(const cJSON *root, const char *self_id,
                           struct buf *compose, struct devrev_event *ev,
                           char *err, size_t errlen);

/* Returns a static name for kind ("verify", "message", "ignored"). */
const char *devrev_event_kind_name(enum devrev_event_kind kind);

/* Parses an RFC 3339 date-time ("2025-07-02T13:07:40.937074Z",
 * "2025-07-02T15:07:40+02:00", fractional seconds of any length or none;
 * 'T' and 'Z' in either case) to ms since the epoch (fraction truncated)
 * in *ms. Strict: returns false, leaving *ms alone, on anything else,
 * including impossible dates (2025-02-29), hour 24, leap second 60,
 * missing offset and trailing bytes. s may be NULL. */
bool devrev_parse_time(const char *s, int64_t *ms);

#endif
