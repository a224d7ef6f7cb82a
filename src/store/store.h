/* store: the durable record of messages, alerts and the delivery outbox.
 *
 * One interface, several backends chosen by the URL given to store_open:
 * a plain path or "sqlite:PATH" is SQLite (WAL, synchronous=FULL, so a
 * commit that returned is on disk), for one serving process;
 * "postgres://..." is PostgreSQL (libpq), for any number of serving
 * processes on one database (docs/scaling.md).
 *
 * What lives here:
 *  - messages: scores, level, ids, the text (until purged by retention),
 *    the alert outcome and the result JSON answered to the client, so a
 *    repeated message_id is answered identically and creates nothing;
 *  - alerts: one open alert per customer episode, with its DevRev ticket
 *    once known;
 *  - outbox: what must still be told to DevRev (create_ticket, comment,
 *    update_severity on the alert's ticket; source_comment, update_source
 *    on the DevRev object a message came from), written in the same
 *    transaction as the message that caused it, with its delivery
 *    attempts;
 *  - customer_state: each customer's window of recent scores.
 *
 * Threads: a handle is not thread-safe; open one per thread (the committer
 * and the outbox worker each own theirs). Several handles on one SQLite
 * file are fine: writers take turns (busy timeout). All times are
 * milliseconds since the Unix epoch, passed in by the caller so that tests
 * control the clock.
 *
 * Errors: functions return enum err (ERR_STORE for a backend failure,
 * ERR_INVALID for bad arguments); the detail is in store_errmsg. */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct store; /* opaque; see store_int.h */
struct buf;   /* base/buf.h */
struct ingest_msg; /* below */

/* The newest schema version this build knows. */
#define STORE_SCHEMA_VERSION 6

/* Bytes of message text copied into an outbox payload (cut on a UTF-8
 * boundary): enough for an agent to see what was said, small enough that
 * a ticket body stays far below DevRev's 65536-character limit. */
#define STORE_EXCERPT_MAX 500

/* Scores kept per customer in customer_state. */
#define STORE_WINDOW_MAX 20

/* Levels an alert policy can name, and the room for a level's name (as in
 * config.h: CONFIG_MAX_LEVELS, CONFIG_LEVEL_NAME_MAX). */
#define STORE_MAX_LEVELS 8
#define STORE_LEVEL_NAME_MAX 32

/* Length of an alert key: 32 hex digits and a NUL. */
#define STORE_ALERT_KEY_LEN 33

/* ---- Opening ---------------------------------------------------------- */

/* Opens the store at url, creating it (and, for SQLite, the file's
 * directory) if needed and applying pending schema migrations. URL forms:
 *   PATH, sqlite:PATH, sqlite://PATH  SQLite file (":memory:" works too)
 *   sqlite:PATH?busy_timeout_ms=N&synchronous=full|normal|off
 *                                     (defaults 5000 and full)
 *   postgres://..., postgresql://...  PostgreSQL: any libpq URI, several
 *                                     hosts and target_session_attrs
 *                                     included
 * On failure returns ERR_INVALID / ERR_UNSUPPORTED / ERR_STORE / ERR_IO and
 * writes a message into err (errlen bytes); *out is untouched. On success
 * sets *out; release with store_close. */
enum err store_open(const char *url, char *err, size_t errlen,
                    struct store **out);

/* store_open for tools that inspect a store: ERR_NOT_FOUND (err says
 * where it looked) when the SQLite file does not exist, instead of
 * creating it. */
enum err store_open_existing(const char *url, char *err, size_t errlen,
                             struct store **out);

/* True for a PostgreSQL URL (postgres:// or postgresql://). */
bool store_url_is_pg(const char *url);

/* Closes the handle (rolling back an open transaction). NULL is fine. */
void store_close(struct store *st);

/* The last error's detail, borrowed until the next call on st; "" if none. */
const char *store_errmsg(const struct store *st);

/* Static backend name: "sqlite" or "postgresql". */
const char *store_backend(const struct store *st);

/* The schema version of the open database. */
enum err store_schema_version(struct store *st, int *out);

/* For tests and tooling: creates or upgrades the database at url only up
 * to schema version `version` (1..STORE_SCHEMA_VERSION), then closes it.
 * A later store_open upgrades the rest of the way. */
enum err store_migrate_to(const char *url, int version, char *err,
                          size_t errlen);

/* ---- Moving a store (the `migrate` command) --------------------------- */

/* What store_copy copied: rows per table, the outbox entries by state
 * (indexed by enum store_state), and how long it took. */
struct store_copy_stats {
  int64_t alerts, messages, outbox, attempts, customers;
  int64_t outbox_states[4];
  int64_t elapsed_ms;
};

/* Copies the SQLite store at from_url (a path or sqlite:PATH; it must
 * exist, and is brought to STORE_SCHEMA_VERSION) into the PostgreSQL
 * database at to_url (its schema is created if needed), in one PostgreSQL
 * transaction: all of it or nothing. Ids are kept and the target's id
 * sequences moved past them; outbox entries keep their state, attempts,
 * due time and unknown-outcome mark, without a lease. The source is owned
 * (store_own) for the duration, so no server may run on it.
 * Returns ERR_INVALID for URLs of the wrong kind, ERR_NOT_FOUND when the
 * source does not exist, ERR_BUSY when a server owns the source or serves
 * the target, ERR_DUPLICATE when the target holds data already (nothing
 * written), ERR_STORE (or another code) when a backend fails; the message
 * goes to err. Sets *out (may be NULL) on success. */
enum err store_copy(const char *from_url, const char *to_url,
                    struct store_copy_stats *out, char *err, size_t errlen);

/* ---- The serving instance --------------------------------------------- */

/* A store has one serving process: the one whose delivery worker claims
 * outbox entries and, at startup, takes back the leases a previous worker
 * left (store_outbox_recover) or, in record-only mode, marks pending
 * entries skipped (store_outbox_skip_pending); both assume no other
 * worker. store_own makes st's process that instance for as long as st
 * stays open:
 *  - SQLite: an exclusive flock(2) on "<database file>.lock" beside the
 *    database, which holds the owner's pid as text. The kernel drops the
 *    lock when the process ends (kill -9 included), so a crash leaves
 *    nothing stale to clean up. An in-memory database is private to its
 *    handle: always ERR_OK.
 *  - PostgreSQL, where several instances serve one database: the call
 *    registers an instance row (id, pid, host) and holds a session
 *    advisory lock on its id through this handle's connection (taken
 *    again after a reconnection); recovery then releases only the leases
 *    of instances whose lock is gone. Never ERR_BUSY.
 * Processes that only write through transactions (the `outbox` command)
 * need no ownership and do not disturb the owner.
 * Returns ERR_BUSY when another process owns the store (*holder_pid is
 * its pid, 0 if unknown; store_errmsg names it), ERR_IO when the lock
 * cannot be taken for another reason. Calling it again on an owning
 * handle is ERR_OK. */
enum err store_own(struct store *st, long *holder_pid);

/* Without taking it: the pid of the process that owns the store (see
 * store_own), 0 when none does. */
enum err store_owner(struct store *st, long *pid);

/* ---- Transactions ----------------------------------------------------- */

/* Starts a write transaction (SQLite: BEGIN IMMEDIATE, so the write lock
 * is taken now and a busy database fails here, not half-way). Calls that
 * write join it. If one of them fails with ERR_STORE the transaction is
 * poisoned: later writes fail and store_commit rolls back and returns
 * ERR_STORE (ERR_INVALID from store_ingest wrote nothing and poisons
 * nothing). */
enum err store_begin(struct store *st);
/* Commits; when it returns ERR_OK the data is durable. On failure the
 * transaction is rolled back. ERR_BUSY (from any call inside it) means
 * the backend gave up the transaction to break a deadlock with another
 * process: nothing is committed and running it again is safe. */
enum err store_commit(struct store *st);
/* Rolls back the open transaction, if any. */
void store_rollback(struct store *st);
/* ---- Time --------------------------------------------------------------- */

/* How a process reads the store's clock (store_now_ms); zero it first. */
struct store_clock {
  int64_t offset_ms;  /* the database server's clock minus this machine's */
  int64_t checked_ms; /* this machine's time of the last measurement; 0 */
};

/* How often the offset is measured again. */
#define STORE_CLOCK_EVERY_MS 10000

/* Now, epoch ms, on the store's clock: this machine's on SQLite (one
 * process owns the file), the database server's on PostgreSQL, so that
 * instances on machines whose clocks disagree read leases, cooldowns,
 * retries and pauses on one clock (an instance ten minutes ahead would
 * take leases that are not over, and send a ticket a second time). The
 * offset is measured by a query, its round trip halved, at the first call
 * and every STORE_CLOCK_EVERY_MS after (a failed measurement keeps the
 * last and is tried again a second later). Outside a transaction. */
int64_t store_now_ms(struct store *st, struct store_clock *clk);

/* Whether a message could be stored now, outside any transaction: a
 * write transaction is begun (connecting again if the connection was
 * lost) and rolled back or, with write, given a write that changes
 * nothing and committed: only a commit meets a full disk, a file-size
 * limit or a read-only server. */
enum err store_check(struct store *st, bool write);

/* Optional, right after store_begin: announces every message the
 * transaction will ingest, so that a backend shared by several processes
 * takes their locks (message ids, customers) at once and in one order,
 * which no two transactions can deadlock on. A no-op for SQLite.
 * PostgreSQL also reads those messages' rows ahead and holds the
 * transaction's writes back to send them together: a write may then fail
 * only at store_commit (nothing is committed), and row ids are taken for
 * the whole batch (a batch can leave gaps in them). */
enum err store_prepare_batch(struct store *st,
                             const struct ingest_msg *const *msgs, size_t n);

/* ---- Messages and alerts: the records of the alert policy ------------- */

/* The policy itself (duplicates, episodes, cooldown, escalation, the
 * outbox entries each decision needs) is alerting/policy.h: it decides
 * once, for every backend, over the calls below. */

/* What a message did to alerts. */
enum store_alert {
  STORE_ALERT_NONE,      /* not frustrated, or below the minimum level */
  STORE_ALERT_CREATED,   /* opened a new alert (outbox: create_ticket) */
  STORE_ALERT_APPENDED,  /* joined the customer's open alert (comment) */
  STORE_ALERT_DUPLICATE, /* message_id seen before: nothing written */
};

/* "none", "created", "appended", "duplicate". */
const char *store_alert_name(enum store_alert a);

/* One message as the caller scored it. Strings are borrowed for the call;
 * NULL means absent. The caller bounds their sizes (HTTP body limit). */
struct ingest_msg {
  const char *message_id;  /* idempotency key; NULL: never a duplicate */
  const char *customer_id; /* required, non-empty */
  const char *conversation_id;
  const char *channel;
  const char *timestamp; /* as the sender gave it */
  const char *lang;
  const char *text; /* kept until store_purge_text */
  double polarity;
  double subjectivity;
  size_t level;           /* index in the configured levels */
  const char *level_name; /* required */
  const char *severity;   /* DevRev severity of the level; required
                           * when frustrated */
  bool frustrated;        /* the detector's verdict */
  const char *words;      /* deciding words, for the ticket body */
  /* A message from a DevRev event: the object it was written on (DON,
   * display id such as "TKT-12", its type: conversation, ticket, issue)
   * and the customer's rev org. NULL for other messages. */
  const char *source_object;
  const char *source_display_id;
  const char *source_type;
  const char *rev_org;
  /* The analysis as answered to the client (without the alert outcome,
   * which the alert policy decides). Stored, and handed back for a
   * duplicate so that the answer can be rebuilt identically. */
  const char *result_json;
};

/* Room for an escalation reason, NUL included. */
#define STORE_REASON_MAX 160

struct ingest_result {
  enum store_alert outcome;
  /* The level the alert policy used: the message's own, or higher when
   * conversation context escalated it (then level_name names it and
   * escalation says why; escalation is "" otherwise). Not set for
   * DUPLICATE: the first answer, stored, already tells it. */
  size_t level;
  char level_name[STORE_LEVEL_NAME_MAX];
  char escalation[STORE_REASON_MAX];
  /* For DUPLICATE: the outcome the first delivery of this message_id got
   * (what the client was told then); otherwise equal to outcome. */
  enum store_alert original;
  int64_t row_id;   /* the message's row (the first one's for DUPLICATE) */
  int64_t alert_id; /* 0 when no alert is involved */
  char alert_key[STORE_ALERT_KEY_LEN]; /* "" when no alert */
  /* DUPLICATE only: the stored result_json (owned; NULL if none was
   * stored). Free with store_ingest_result_cleanup. */
  char *result_json;
};

/* Frees what an ingest result owns; the struct can be reused. */
void store_ingest_result_cleanup(struct ingest_result *r);

/* Retention: forgets the text of messages created before older_than_ms
 * (scores, ids and outcomes stay) and drops the excerpt from finished
 * outbox payloads of that age. Works in chunks of at most max_rows
 * messages per call (0: no limit) so the write lock is held briefly; sets
 * *purged to the number of messages changed (call again while it is
 * max_rows). */
enum err store_purge_text(struct store *st, int64_t older_than_ms,
                          size_t max_rows, size_t *purged);

/* ---- Reading back (tests, /api/stats, the dashboard) ------------------ */

struct store_message {
  int64_t row_id;
  char *message_id, *customer_id, *conversation_id, *text; /* owned */
  char *level_name, *result_json;                          /* owned */
  char *source_object, *source_display_id, *source_type;   /* owned */
  char *rev_org;                                           /* owned */
  double polarity, subjectivity;
  int64_t level;
  bool frustrated;
  enum store_alert outcome;
  int64_t alert_id;
  int64_t created_at_ms;
  /* The team's label (store_label_write): labelled is false when there is
   * none, and then the three others are zero. */
  bool labelled, label;
  int64_t labelled_at_ms;
  char *labelled_by; /* owned; NULL when no one was named */
};

/* Looks a message up by message_id; *found is false if there is none. */
enum err store_message_get(struct store *st, const char *message_id,
                           struct store_message *out, bool *found);
/* Looks a message up by its row id (store_message.row_id, the "id" the
 * dashboard shows with each message): the one name every message has,
 * those sent without a message_id included. *found is false if there is
 * none (always for row_id < 1). */
enum err store_message_get_row(struct store *st, int64_t row_id,
                               struct store_message *out, bool *found);
void store_message_cleanup(struct store_message *m);

struct store_alert_row {
  int64_t id;
  char key[STORE_ALERT_KEY_LEN];
  char *customer_id, *conversation_id; /* owned */
  char *level_name, *severity;         /* owned */
  char *ticket_id, *ticket_display_id; /* owned; NULL until known */
  /* A create_ticket entry was written for it (false for an alert raised
   * only by DevRev messages while DEVREV_SOURCE_TICKET is off). */
  bool ticket_wanted;
  int64_t level;
  bool open;
  int64_t created_at_ms, last_activity_ms, message_count;
};

/* Reads alert `id`; ERR_NOT_FOUND if it does not exist. */
enum err store_alert_get(struct store *st, int64_t id,
                         struct store_alert_row *out);
void store_alert_row_cleanup(struct store_alert_row *a);

/* One entry of a customer's window of recent scores (customer_state's
 * recent column): when, the polarity and level, and the conversation's
 * hash (0: none, or an entry written before conversations were kept). */
struct store_score {
  int64_t at_ms;
  double polarity;
  int64_t level;
  uint32_t conversation;
};

/* Parses a customer's window as customer_state stores it, the text
 * "[[at,polarity,level(,conversation)],...]" (written only by the alert
 * policy), into out (room for cap), oldest first; returns the count.
 * Entries of another shape are skipped. No allocation: the policy runs it
 * for every message, the dashboard over every customer of the last hour. */
size_t store_window_parse(const char *json, struct store_score *out,
                          size_t cap);

struct store_counts {
  int64_t messages, alerts, open_alerts;
  int64_t outbox_pending, outbox_done, outbox_dead, outbox_skipped;
};

/* Row counts (full scans: for tests and occasional stats, not per
 * request). */
enum err store_counts(struct store *st, struct store_counts *out);

/* ---- Labels: the team's corrections of the detector ------------------- */

/* Longest name of who labelled a message (labelled_by), in bytes. */
#define STORE_LABELLER_MAX 128

/* A label as store_label_write records it, and what it answers. */
struct store_label {
  /* The request. When relative, value says whether the detector's
   * stored verdict was right, and the label is that verdict or its
   * opposite; otherwise value is the true label. */
  bool relative, value;
  /* The answer: both names of the message (message_id owned, NULL when
   * it was sent without one), its verdict and the label stored. */
  int64_t row_id;
  char *message_id;
  bool verdict, label;
};

/* Records a label of one message, named by message_id or, when
 * message_id is NULL, by its row id (store_message_get_row: the way to
 * label a message sent without a message_id): the label l->relative and
 * l->value describe, who gave it (by, NULL for no one named) and when
 * (now_ms), replacing any earlier label: the last one wins. One
 * statement, atomic on its own or inside store_begin: the label is
 * computed from the stored verdict by the write itself, which also reads
 * back what l's answer fields hold. Free them with store_label_cleanup
 * (also after a failure). Only a committed row is found: on PostgreSQL a
 * batch takes its row ids from a sequence before it commits (and leaves
 * gaps), and an id or message_id whose batch has not committed, or never
 * will, is ERR_NOT_FOUND (nothing written, message in store_errmsg), as
 * is one no message has. ERR_INVALID for an empty message_id, a row id
 * below 1 or a by longer than STORE_LABELLER_MAX. */
enum err store_label_write(struct store *st, const char *message_id,
                           int64_t row_id, const char *by, int64_t now_ms,
                           struct store_label *l);
void store_label_cleanup(struct store_label *l);

/* One labelled message, as store_labels_each hands it over. The strings
 * are borrowed for the call only. */
struct store_labelled {
  int64_t row_id;
  const char *message_id;
  const char *text; /* NULL once retention purged it */
  const char *lang; /* the language scored in; NULL when none was stored */
  bool label;       /* the team's: frustrated or not */
  bool verdict;     /* the detector's, when the message was stored */
  int64_t labelled_at_ms;
};

/* Calls each for every labelled message, in the order the messages were
 * stored (row id), through an index of the labelled ones only. each
 * returns false to stop early (still ERR_OK). */
enum err store_labels_each(struct store *st,
                           bool (*each)(void *arg,
                                        const struct store_labelled *l),
                           void *arg);

/* ---- Outbox (used by the delivery worker) ----------------------------- */

enum store_kind {
  STORE_KIND_CREATE_TICKET,
  STORE_KIND_COMMENT,
  STORE_KIND_UPDATE_SEVERITY,
  STORE_KIND_SOURCE_COMMENT, /* comment on the message's DevRev object */
  STORE_KIND_UPDATE_SOURCE,  /* works.update of the message's ticket */
};

/* True for the kinds that go to the message's own DevRev object rather
 * than to the alert's ticket: they need no ticket and do not wait for
 * one. */
bool store_kind_is_source(enum store_kind k);
/* Would DevRev carry out an entry of this kind twice if it got it twice
 * (create_ticket, comment, source_comment)? The claim marks those
 * "outcome unknown" while in flight (LOOKUP_KINDS, store_int.h), and the
 * worker looks one up by its marker before sending it again. */
bool store_kind_looks_up(enum store_kind k);

enum store_state {
  STORE_PENDING, /* to deliver (at next_attempt_at) */
  STORE_DONE,    /* DevRev has it */
  STORE_DEAD,    /* permanent failure: dead letter, with last_error */
  STORE_SKIPPED, /* record-only mode: never sent */
};

/* "create_ticket", "comment", "update_severity", "source_comment",
 * "update_source". */
const char *store_kind_name(enum store_kind k);
/* "pending", "done", "dead", "skipped". */
const char *store_state_name(enum store_state s);

/* One claimed outbox entry; free with store_entry_cleanup. The payload is
 * JSON text written by the alert policy (its schema: alerting/payload.h). */
struct store_entry {
  int64_t id;
  int64_t alert_id;
  enum store_kind kind;
  char *payload;    /* owned */
  int64_t attempts; /* including the one this claim starts */
  /* An earlier attempt (or one cut short by a crash) may have created the
   * ticket or comment: look it up before sending it again. */
  bool outcome_unknown;
  int64_t created_at_ms;
  int64_t first_attempt_ms; /* when the first attempt started */
  char alert_key[STORE_ALERT_KEY_LEN];
  /* The claim's fencing token (PostgreSQL; 0 for SQLite, whose single
   * worker needs none): store_outbox_finish with it changes nothing once
   * the lease has passed to another claim. */
  int64_t lease;
  char *ticket_id;         /* owned; the alert's ticket, NULL until known */
  char *ticket_display_id; /* owned; may be NULL */
};
void store_entry_cleanup(struct store_entry *e);

/* Claims the oldest due entry: pending, next_attempt_at <= now_ms, not
 * leased, with no older pending entry of the same alert (so a comment
 * waits for its alert's create_ticket, and comments keep their order).
 * The claim counts an attempt, leases the entry for lease_ms (another
 * worker will not take it meanwhile) and, for create_ticket, comment and
 * source_comment, durably marks the outcome unknown until
 * store_outbox_finish says otherwise: a crash in the middle of the
 * request leads to a lookup, not a second ticket or comment. *found is false when nothing is due. On a store shared by
 * several instances (PostgreSQL), an entry leased to this handle's own
 * instance (store_own) counts as not leased: the instance's one worker
 * claims only when it holds no entry, so such a lease is a leftover (a
 * claim whose answer a broken connection lost, a finish given up). */
enum err store_outbox_claim(struct store *st, int64_t now_ms, int64_t lease_ms,
                            struct store_entry *out, bool *found);

/* One request to DevRev, as recorded in delivery_attempts. */
struct store_attempt {
  int64_t at_ms;
  int64_t duration_ms;
  int http_status;    /* 0: no HTTP response */
  const char *result; /* "ok", "retry", "rate_limited", "permanent",
                       * "unknown", "found", "not_found" */
  const char *error;  /* NULL on success */
};

/* The end of one claimed delivery. */
struct store_finish {
  int64_t entry_id;
  int64_t lease; /* the claim's store_entry.lease */
  enum store_state state; /* PENDING = retry at next_attempt_ms */
  int64_t next_attempt_ms;
  /* Written as given; the worker keeps it set once an attempt may have
   * reached DevRev (the claim's in-flight mark is replaced by it). */
  bool outcome_unknown;
  const char *error; /* last_error; NULL clears it */
  /* DONE create_ticket: the ticket, stored on the alert. */
  const char *ticket_id;
  const char *ticket_display_id;
  const struct store_attempt *attempt; /* recorded if not NULL */
};

/* Records the outcome of a claimed entry in one transaction: the attempt,
 * the new state, and for a DONE create_ticket the alert's ticket. A DEAD
 * create_ticket also makes the alert's other pending entries DEAD (they
 * have no ticket to go to). ERR_NOT_FOUND if the entry does not exist;
 * ERR_BUSY, with nothing changed, when its lease has passed to another
 * claim (the entry is the new owner's: a late answer cannot overwrite
 * its result). */
enum err store_outbox_finish(struct store *st, const struct store_finish *f,
                             int64_t now_ms);

/* Extends a claim's lease to until_ms, before a second request of one
 * delivery (the create after a lookup), so that the request ends within
 * the lease. ERR_BUSY, with nothing changed, when the entry is no longer
 * pending under that claim (lease: its store_entry.lease; the lease has
 * passed to another claim, which may send the request itself). */
enum err store_outbox_renew(struct store *st, int64_t entry_id, int64_t lease,
                            int64_t until_ms);

/* Records one extra attempt (a lookup before a create) for entry_id. */
enum err store_outbox_record_attempt(struct store *st, int64_t entry_id,
                                     const struct store_attempt *a);

/* At startup of the only worker of a single-instance store: releases the
 * leases left by a previous process so its entries are due again now.
 * Their outcome_unknown marks stay. Sets *released. */
enum err store_outbox_recover(struct store *st, size_t *released);

/* Record-only mode: marks every pending entry SKIPPED with reason as its
 * last_error; sets *skipped. */
enum err store_outbox_skip_pending(struct store *st, const char *reason,
                                   int64_t now_ms, size_t *skipped);

struct store_outbox_stats {
  int64_t pending;
  int64_t dead;
  int64_t oldest_pending_ms; /* created_at of the oldest pending; 0 none */
  int64_t next_due_ms;       /* earliest time after now_ms at which a
                              * pending entry's backoff or lease ends; 0
                              * none */
  int64_t attempts;          /* delivery attempts ever recorded */
  int64_t failures;          /* of which not successful */
  int64_t last_success_ms;   /* 0: never */
  char last_error[256];      /* of the newest failed attempt; "" none */
  int64_t paused_until_ms;   /* store_delivery_pause in force; 0 none */
};

/* Delivery statistics. Cheap (index lookups over pending and dead entries
 * and failed attempts), so the worker calls it on every wake-up. */
enum err store_outbox_stats(struct store *st, int64_t now_ms,
                            struct store_outbox_stats *out);

struct store_outbox_row {
  int64_t id, alert_id;
  enum store_kind kind;
  enum store_state state;
  char *payload, *last_error; /* owned */
  int64_t attempts, next_attempt_ms, created_at_ms;
  bool outcome_unknown;
};

/* Lists the outbox entries of alert_id in creation order (tests and the
 * dashboard): *out is an owned array of *n rows; free with
 * store_outbox_rows_free. */
enum err store_outbox_list(struct store *st, int64_t alert_id,
                           struct store_outbox_row **out, size_t *n);
void store_outbox_rows_free(struct store_outbox_row *rows, size_t n);

/* Pauses every worker of the store until until_ms (DevRev's 429 seen by
 * one instance holds back all of them): claims return nothing before
 * then. A pause never shortens one already in force. SQLite has one
 * worker, which pauses itself: a no-op there. */
enum err store_delivery_pause(struct store *st, int64_t until_ms,
                              const char *reason);

/* ---- Outbox (operators: the `outbox` command) ------------------------- */

/* Lists entries in `state` (all states when all is true), oldest first,
 * at most limit (0: no limit): *out is an owned array of *n rows; free
 * with store_outbox_rows_free. */
enum err store_outbox_select(struct store *st, enum store_state state, bool all,
                             size_t limit, struct store_outbox_row **out,
                             size_t *n);

/* Re-drives dead letters: entry id (0: every dead letter) goes back to
 * pending, due at now_ms, with its attempt count reset (the attempts
 * stay recorded) and its unknown-outcome mark kept (a create_ticket that
 * may have reached DevRev is looked up first). Retrying a create_ticket
 * also revives the entries of its alert that died with it (no ticket to
 * go to). One transaction; a running worker picks them up on its next
 * claim. ERR_NOT_FOUND (nothing changed) when id is not a dead letter.
 * Sets *n to the number of entries revived. */
enum err store_outbox_retry(struct store *st, int64_t id, int64_t now_ms,
                            size_t *n);

/* Gives dead letters up: entry id (0: every dead letter) becomes
 * skipped, never sent, kept for the record with "dropped by an operator"
 * before its last error. ERR_NOT_FOUND (nothing changed) when id is not
 * a dead letter. Sets *n. */
enum err store_outbox_drop(struct store *st, int64_t id, int64_t now_ms,
                           size_t *n);

/* ---- Records of the alert policy (alerting/policy.c) ------------------ */

/* The record calls the alert policy runs inside one write transaction
 * (store_tx_enter). Each returns ERR_STORE (detail in store_errmsg) when
 * the backend fails. */

/* The message stored under message_id: fills out's outcome (as
 * `original`), row_id, alert_id, alert_key and result_json (owned);
 * *found is false when there is none. */
enum err store_msg_find(struct store *st, const char *message_id,
                        struct ingest_result *out, bool *found);
/* Inserts m with its alert outcome; sets *row_id. */
enum err store_msg_insert(struct store *st, const struct ingest_msg *m,
                          enum store_alert outcome, int64_t alert_id,
                          int64_t now_ms, int64_t *row_id);
/* The customer's open alert (key, level, severity, activity, count, ticket
 * wanted); clean with store_alert_row_cleanup. */
enum err store_alert_find_open(struct store *st, const char *customer_id,
                               struct store_alert_row *out, bool *found);
/* Inserts a (sets a->id); at most one open alert per customer. */
enum err store_alert_insert(struct store *st, struct store_alert_row *a);
/* Writes a's level, level_name, severity, open, ticket_wanted,
 * last_activity_ms and message_count. */
enum err store_alert_update(struct store *st, const struct store_alert_row *a);
/* Queues a pending outbox entry of alert_id, due now_ms. payload is JSON
 * text the store keeps as it is (alerting/payload.h). */
enum err store_outbox_insert(struct store *st, int64_t alert_id,
                             enum store_kind kind, const char *payload,
                             int64_t now_ms);
/* The customer's window of recent scores as text (owned; NULL when there
 * is none) and its replacement. The format is alerting/policy.c's. */
enum err store_window_get(struct store *st, const char *customer_id,
                          char **json);
enum err store_window_put(struct store *st, const char *customer_id,
                          const char *json, int64_t now_ms);

/* Runs a multi-statement write atomically: as its own transaction, or
 * inside the caller's store_begin (joining it; a failure then marks it
 * failed so that store_commit rolls back instead). store_tx_leave commits
 * (rc == ERR_OK) or undoes, and returns rc or the commit's error. */
enum err store_tx_enter(struct store *st);
enum err store_tx_leave(struct store *st, enum err rc);

/* Sets st's error message (printf-style), for store_errmsg. */
void store_set_error(struct store *st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
