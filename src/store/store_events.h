/* store_events: the messages committed to a shared store, by any
 * process, for live views (the dashboard's event stream).
 *
 * Several `serve` processes on one PostgreSQL database each handle only
 * their own requests. A feed follows the database instead: store_events_read
 * hands over every message row committed since the previous read,
 * whichever process committed it, and store_events_wait sleeps until a
 * committing transaction says "look now" or a timeout passes.
 *
 * The wake-up is PostgreSQL's LISTEN/NOTIFY: the backend's commit of a
 * transaction that stored messages also notifies (inside that transaction,
 * so the notification arrives when the rows are visible). A notification
 * only ends a wait early: what a read hands over comes from the tables, so
 * a notification that never arrives delays rows by at most the caller's
 * timeout and loses none. A session with the PostgreSQL setting
 * frustration_alert.notify = off (set, for example, by "options=-c
 * frustration_alert.notify=off" in its URL, percent-encoded) commits
 * without notifying; the tests use it to check that the periodic read
 * alone suffices.
 *
 * Rows are followed by id, and ids are not handed out in commit order: a
 * transaction holding a smaller id may commit after one holding a larger.
 * A missing id below the highest one read is kept as a gap and looked up
 * again on each read until its row appears or STORE_EVENTS_GAP_MS passes
 * (an id whose transaction rolled back never appears). Each row is handed
 * over once per feed.
 *
 * SQLite has no feed (ERR_UNSUPPORTED): one `serve` owns a SQLite file,
 * so what it handles itself is everything.
 *
 * Threads: a feed is used by one thread, except store_events_interrupt,
 * which any thread may call. */
#ifndef STORE_STORE_EVENTS_H
#define STORE_STORE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "store/store.h"

/* How long a missing id is waited for: far longer than a committing
 * transaction takes, so a late commit is still handed over. */
#define STORE_EVENTS_GAP_MS 60000

/* Missing ids remembered at most; beyond it the oldest are given up (only
 * a mass of rolled-back inserts gets there). */
#define STORE_EVENTS_GAPS_MAX 4096

/* One committed message, as the alert policy stored it: the detector's
 * own level (not an escalation) and the alert outcome. Strings are
 * borrowed for the callback only. */
struct store_event_msg {
  int64_t row_id;
  int64_t at_ms; /* when it was stored (messages.created_at) */
  const char *customer_id;
  const char *message_id; /* NULL when the sender gave none */
  const char *lang; /* the language scored in; NULL when none was stored */
  int64_t level;
  const char *level_name;
  double polarity;
  bool frustrated;
  enum store_alert outcome; /* NONE, CREATED or APPENDED */
  int64_t alert_id;         /* 0: none */
};

struct store_events; /* opaque */

/* True when url's backend has a feed (PostgreSQL). */
bool store_events_supported(const char *url);

/* Makes a feed of the database at url (copied). No I/O: the connection
 * is made by the first wait or read, and made again after a failure. The
 * feed starts at the rows committed when it first connects: older ones
 * are never handed over. ERR_UNSUPPORTED for a URL without a feed;
 * ERR_INTERNAL when the wake-up pipe cannot be made. Release with
 * store_events_close. */
enum err store_events_open(const char *url, struct store_events **out);

/* Closes the connection and frees ev. NULL is fine. */
void store_events_close(struct store_events *ev);

/* Waits until a notification arrives, store_events_interrupt is called or
 * timeout_ms pass, whichever is first; returns at once when a
 * notification came during the last read. Sets *notified (NULL: not
 * wanted) when one did. ERR_STORE (message in store_events_errmsg) when
 * there is no connection and none can be made: then it has waited for
 * the timeout (or the interrupt), so a loop of reads and waits does not
 * spin while the database is away. */
enum err store_events_wait(struct store_events *ev, int timeout_ms,
                           bool *notified);

/* Ends the current or next store_events_wait early. Thread-safe and
 * async-signal-safe (a write to a pipe). */
void store_events_interrupt(struct store_events *ev);

/* Calls each, in id order within a read (late commits of older ids
 * first), with every message row committed since the previous read and
 * not handed over before; sets *n (NULL: not wanted) to their number.
 * ERR_STORE when the database failed (message in store_events_errmsg):
 * the rows not yet handed over come with a later read. */
enum err store_events_read(struct store_events *ev,
                           void (*each)(void *arg,
                                        const struct store_event_msg *m),
                           void *arg, size_t *n);

/* The last failure's message; "" when none. Borrowed until the next call
 * on ev. */
const char *store_events_errmsg(const struct store_events *ev);

#endif
