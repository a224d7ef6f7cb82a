/* devrev: the DevRev REST client of the alert sink (the only file that
 * includes curl/curl.h). See docs/devrev-api.md.
 *
 * Two layers:
 *  - pure functions that build request bodies and classify replies; they
 *    touch no socket, so the unit tests and the fuzzer drive them directly;
 *  - a handle that sends them with libcurl: POST + JSON everywhere,
 *    `Authorization: Bearer <token>`, connect and total timeouts, one
 *    kept-alive connection for works.update and works.list, and a new
 *    connection for each works.create and timeline-entries.create (sent
 *    at most once per call: see client.c).
 *
 * Every ticket and comment carries a last line "frustration-alert-id:
 * <alert key>", and a comment the worker sends has the line
 * "frustration-alert-entry: <outbox entry id>" above it. DevRev has no
 * idempotency key, so after an attempt whose outcome is unknown the worker
 * lists recent tickets and looks for that line (devrev_find_ticket)
 * before creating the ticket again, and lists the object's internal
 * timeline entries for the two lines (devrev_find_comment) before
 * commenting again.
 *
 * Besides the alert's own ticket, a message that came from DevRev (a
 * webhook event) has a source object: the conversation or ticket the
 * customer wrote on. It can get an internal comment (agents see it, the
 * customer does not) and, for a ticket, a new severity and sentiment.
 *
 * A handle is used by one thread at a time; devrev_abort may be called
 * from any thread. */
#ifndef DEVREV_CLIENT_H
#define DEVREV_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* The marker line's prefix; the line is DEVREV_MARKER + alert key. */
#define DEVREV_MARKER "frustration-alert-id: "
/* A comment's line above the marker line: DEVREV_ENTRY_MARKER + the id of
 * the outbox entry that sends it (devrev_alert.entry_id). */
#define DEVREV_ENTRY_MARKER "frustration-alert-entry: "

/* Bounds on what goes into a ticket (DevRev: title 1-256 characters, body
 * at most 65536), applied on UTF-8 boundaries. */
#define DEVREV_TITLE_MAX 256
#define DEVREV_EXCERPT_MAX 2000
#define DEVREV_FIELD_MAX 256

/* Largest reply body kept; the rest is dropped (a reply that large is not
 * one of ours to understand). */
#define DEVREV_REPLY_MAX ((size_t)1 << 20)

/* Pages of works.list scanned by devrev_find_ticket, and of
 * timeline-entries.list by devrev_find_comment (50 entries a page). */
#define DEVREV_LIST_PAGES 20

/* The DevRev API version whose schemas the requests conform to
 * (https://developer.devrev.ai/api-reference/versioning). */
#define DEVREV_API_VERSION_DEFAULT "2024-01-24"

struct devrev_config {
  const char *api_url;     /* base URL, e.g. "https://api.devrev.ai" */
  const char *token;       /* PAT or other DevRev token */
  const char *part_id;     /* applies_to_part of created tickets */
  const char *owner_id;    /* owned_by[0] */
  const char *tag_id;      /* tags[0].id; NULL or "" for none */
  /* X-Devrev-Version of every request; NULL or "": DEVREV_API_VERSION_DEFAULT
   * (unpinned requests get DevRev's oldest version, 2022-10-20). */
  const char *api_version;
  long timeout_ms;         /* whole request; 0: 10000 */
  long connect_timeout_ms; /* 0: the smaller of timeout_ms and 5000 */
};

/* The facts one ticket or comment reports. All borrowed; NULL = absent. */
struct devrev_alert {
  const char *alert_key; /* required for the marker line */
  const char *customer_id;
  const char *conversation_id;
  const char *channel;
  const char *language; /* the code the message was scored in, "fr" */
  const char *message_id;
  const char *excerpt;
  const char *level;
  const char *severity; /* low|medium|high|blocker */
  const char *words;    /* the deciding words */
  double polarity;
  double subjectivity;
  bool has_scores;
  /* Source comments only: the alert's own ticket (display id) when it is
   * known, so the agent can find it; NULL or "": not mentioned. */
  const char *ticket;
  /* Comments: > 0 puts the line DEVREV_ENTRY_MARKER <entry_id> above the
   * marker line, by which devrev_find_comment finds this comment; 0: none
   * (tickets never have it). */
  int64_t entry_id;
};

/* ---- Request bodies (pure; caller frees each result) ------------------ */

/* POST /works.create: type ticket, title, body (with the marker line),
 * applies_to_part, owned_by, severity, tags when cfg->tag_id is set. */
char *devrev_create_request(const struct devrev_config *cfg,
                            const struct devrev_alert *a);

/* POST /timeline-entries.create: an internal text comment on ticket_id. */
char *devrev_comment_request(const char *ticket_id,
                             const struct devrev_alert *a);

/* POST /works.update: the ticket's new severity. */
char *devrev_update_request(const char *ticket_id, const char *severity);

/* POST /timeline-entries.create on the object a customer's message came
 * from (object: its DON id): an internal text comment, a short note for
 * the agent (level, polarity, deciding words, the alert's ticket when
 * a->ticket is set, the excerpt) ending with the marker line. */
char *devrev_source_comment_request(const char *object,
                                    const struct devrev_alert *a);

/* POST /works.update of the ticket work_id: {"id", "type":"ticket"} with
 * "severity" when severity is not NULL or "", and "sentiment" (DevRev's
 * integer enum id; stock 5 = Frustrated) when sentiment > 0. */
char *devrev_source_update_request(const char *work_id, const char *severity,
                                   int sentiment);

/* POST /works.list: tickets created after created_after_ms (RFC 3339),
 * with cfg's tag (or, without one, its owner); cursor NULL for the first
 * page. */
char *devrev_list_request(const struct devrev_config *cfg,
                          int64_t created_after_ms, const char *cursor);

/* POST /timeline-entries.list: the internal entries of object (a ticket's
 * or conversation's DON id), 50 a page; cursor NULL for the first page. */
char *devrev_timeline_list_request(const char *object, const char *cursor);

/* The ticket title and body alone (used by the builders; for tests). */
char *devrev_ticket_title(const struct devrev_alert *a);
char *devrev_ticket_body(const struct devrev_alert *a);

/* ---- Replies (pure) --------------------------------------------------- */

enum devrev_op {
  DEVREV_OP_CREATE,
  DEVREV_OP_COMMENT,
  DEVREV_OP_UPDATE,
  DEVREV_OP_LIST,
  DEVREV_OP_GET, /* works.get: the work's current fields */
  DEVREV_OP_TIMELINE, /* timeline-entries.list */
};

enum devrev_class {
  DEVREV_OK,           /* 2xx, and for a create the work's id was read */
  DEVREV_RETRY,        /* 5xx, 408, or no connection: nothing happened */
  DEVREV_RATE_LIMITED, /* 429: wait retry_after_ms (-1: not given) */
  DEVREV_PERMANENT,    /* other 4xx: retrying cannot help (dead letter) */
  DEVREV_AUTH,         /* 401, 403: the token is refused, a configuration
                        * fault of the whole client, not of the request:
                        * nothing happened, pause and retry */
  DEVREV_UNKNOWN,      /* the request was sent but no usable answer came
                        * (timeout, reset, 2xx without an id): it may
                        * have taken effect */
};

/* "ok", "retry", "rate_limited", "permanent", "unknown", "auth". */
const char *devrev_class_name(enum devrev_class c);

struct devrev_reply {
  enum devrev_class cls;
  int http_status;        /* 0: no HTTP answer */
  int64_t retry_after_ms; /* RATE_LIMITED: from Retry-After or the body's
                           * retry_after; -1 when neither is usable */
  int64_t duration_ms;    /* set by the sending functions */
  char error[320];        /* failures: "HTTP 400 missing_required_field:
                           * ... (field applies_to_part)"; "" on success */
  char work_id[DEVREV_FIELD_MAX];     /* create OK / find found */
  char display_id[64];                /* e.g. "TKT-12"; may be "" */
  bool found;                         /* find: a work carries the marker */
  char next_cursor[DEVREV_FIELD_MAX]; /* list: "" on the last page */
  char severity[16]; /* get: the work's severity ("" when it has none) */
};

/* Classifies an HTTP answer to op: status, the Retry-After header value
 * (NULL if absent) and the body. Fills out completely. */
void devrev_classify(enum devrev_op op, int http_status,
                     const char *retry_after, const char *body, size_t len,
                     struct devrev_reply *out);

/* Classifies a transport failure: before the request was sent it is
 * RETRY, after it UNKNOWN. detail goes into out->error. */
void devrev_classify_failure(bool request_sent, const char *detail,
                             struct devrev_reply *out);

/* Scans a works.list reply for a work whose body ends with (or whose title
 * carries) the marker line of alert_key: sets out->found, work_id and
 * display_id, and out->next_cursor. Returns false when body is not a
 * works.list reply (no "works" array). */
bool devrev_find_marker(const char *body, size_t len, const char *alert_key,
                        struct devrev_reply *out);

/* Scans a timeline-entries.list reply for the comment of alert_key that
 * outbox entry entry_id sent: an entry whose body ends with the line
 * DEVREV_ENTRY_MARKER <entry_id> and then the marker line of alert_key.
 * Sets out->found, work_id (the entry's id) and out->next_cursor. Returns
 * false when body is not such a reply (no "timeline_entries" array). */
bool devrev_find_entry_marker(const char *body, size_t len,
                              const char *alert_key, int64_t entry_id,
                              struct devrev_reply *out);

/* ---- Sending ---------------------------------------------------------- */

struct devrev; /* opaque: a curl handle and a copy of the config */

/* Once per process before threads start sending (curl_global_init);
 * devrev_open calls it too, guarded by pthread_once. */
void devrev_global_init(void);

/* Makes a client for cfg (strings copied). ERR_INVALID when api_url,
 * token, part_id or owner_id is missing. Release with devrev_close. */
enum err devrev_open(const struct devrev_config *cfg, struct devrev **out);
void devrev_close(struct devrev *dv); /* NULL is fine */

/* Makes the request in progress, and every later one, fail at once
 * (RETRY, or UNKNOWN if the request was already sent). Thread-safe: for a
 * fast shutdown. */
void devrev_abort(struct devrev *dv);

/* Each sends one request and classifies the answer into out; returns
 * ERR_OK when out->cls is DEVREV_OK, ERR_NET otherwise. */
enum err devrev_create_ticket(struct devrev *dv, const struct devrev_alert *a,
                              struct devrev_reply *out);
enum err devrev_add_comment(struct devrev *dv, const char *ticket_id,
                            const struct devrev_alert *a,
                            struct devrev_reply *out);
enum err devrev_update_severity(struct devrev *dv, const char *ticket_id,
                                const char *severity, struct devrev_reply *out);
/* The source object's internal comment and works.update (see the request
 * builders above); classified like a comment and an update. */
enum err devrev_add_source_comment(struct devrev *dv, const char *object,
                                   const struct devrev_alert *a,
                                   struct devrev_reply *out);
enum err devrev_update_source(struct devrev *dv, const char *work_id,
                              const char *severity, int sentiment,
                              struct devrev_reply *out);

/* works.get of work_id: out->severity is its current severity ("" for
 * none). Safe to repeat: it reads only. */
enum err devrev_get_work(struct devrev *dv, const char *work_id,
                         struct devrev_reply *out);

/* The rank of a DevRev severity, higher is more severe: low 1, medium 2,
 * high 3, blocker 4; 0 for anything else (none, unknown). */
int devrev_severity_rank(const char *severity);

/* Looks for the ticket of alert_key among tickets created after
 * created_after_ms (up to DEVREV_LIST_PAGES pages). ERR_OK with
 * out->found set or not; ERR_NET when a page could not be read (then the
 * caller must not conclude that the ticket does not exist). */
enum err devrev_find_ticket(struct devrev *dv, const char *alert_key,
                            int64_t created_after_ms, struct devrev_reply *out);

/* Looks for the comment that outbox entry entry_id of alert_key sent to
 * object, among its internal timeline entries (up to DEVREV_LIST_PAGES
 * pages). Like devrev_find_ticket: ERR_OK with out->found set or not;
 * ERR_NET when a page could not be read. */
enum err devrev_find_comment(struct devrev *dv, const char *object,
                             const char *alert_key, int64_t entry_id,
                             struct devrev_reply *out);

#endif
