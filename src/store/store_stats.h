/* store_stats: read-only aggregates of the store, for the dashboard
 * (GET /api/stats).
 *
 * A struct store_reader is its own read-only connection to the database
 * (SQLite in WAL mode, like PostgreSQL, lets readers run beside the
 * committer's writes without blocking them or being blocked; a reader of
 * PostgreSQL connects again after losing its server). It never migrates: it
 * reads whatever schema the writer left, and is fast from schema version 3 on,
 * which adds the time indexes these queries use.
 *
 * What it answers, all over a time range [since, since + n * width):
 *  - message counts by level, polarity sums and alert outcomes (created,
 *    appended) per time bucket, from messages;
 *  - delivered outbox entries (state done, by finished_at) and failed
 *    delivery attempts per bucket, from outbox and delivery_attempts;
 *  - the customers whose frustration is highest now (from the windows of
 *    customer_state) with their last messages;
 *  - the language mix: messages and frustrated messages per language the
 *    messages were scored in (messages.lang), the most frequent first.
 *
 * Threads: a reader is not thread-safe; one user at a time. Times are
 * milliseconds since the Unix epoch. */
#ifndef STORE_STORE_STATS_H
#define STORE_STORE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "store/store.h"

/* Level indexes counted separately; higher ones count as the last. */
#define STORE_STATS_LEVELS 8

/* Most messages returned per top customer. */
#define STORE_STATS_CUSTOMER_MSGS 5

struct store_reader; /* opaque */

/* Opens a read-only connection to the database at url (the forms of
 * store_open). ERR_UNSUPPORTED for ":memory:" (another connection cannot
 * see it); ERR_STORE when the file cannot be opened or the PostgreSQL
 * server cannot be reached.
 * The message goes to err. Release with store_reader_close. */
enum err store_reader_open(const char *url, char *err, size_t errlen,
                           struct store_reader **out);

void store_reader_close(struct store_reader *r); /* NULL is fine */

/* The last error's detail, borrowed until the next call; "" if none. */
const char *store_reader_errmsg(const struct store_reader *r);

struct store_stats_bucket {
  int64_t start_ms;
  int64_t messages;
  int64_t by_level[STORE_STATS_LEVELS];
  double polarity_sum;       /* average: polarity_sum / messages */
  int64_t created, appended; /* alert outcomes of the bucket's messages */
  int64_t delivered;         /* outbox entries done in the bucket */
  int64_t failed;            /* delivery attempts that failed */
};

/* Fills out[0..n) with the buckets [since_ms + i * width_ms, + width_ms).
 * since_ms and width_ms must be whole minutes (ERR_INVALID otherwise).
 * Reads one index range per table. */
enum err store_stats_series(struct store_reader *r, int64_t since_ms,
                            int64_t width_ms, size_t n,
                            struct store_stats_bucket *out);

struct store_stats_msg {
  int64_t row_id; /* the message's row (store_label_write) */
  int64_t at_ms;
  double polarity;
  int64_t level;
  bool frustrated;
  enum store_alert outcome; /* NONE, CREATED or APPENDED */
  char *lang;               /* owned: the language scored in, "und" when
                             * none was stored */
  char *level_name;         /* owned */
  char *text;               /* owned; NULL when purged (retention) */
  char *words_json;         /* owned: JSON array of the assessments'
                             * words, "[]" when none */
  char *reasons_json;       /* owned: the detector's reasons as stored
                             * in the result (JSON), NULL when none */
  char *message_id;         /* owned; NULL when sent without one */
  int label;                /* the team's label (store_label_write): 1
                             * frustrated, 0 not, -1 none */
};

struct store_stats_customer {
  char *customer_id; /* owned */
  /* Sum over the window's scores since since_ms of level times a decay
   * 1 / (1 + age / 15 min): recent, severe and repeated frustration
   * rank first. */
  double score;
  int64_t messages;  /* window scores since since_ms (at most
                      * STORE_WINDOW_MAX) */
  int64_t max_level; /* among them */
  int64_t last_level;
  double avg_polarity;
  int64_t last_at_ms;
  bool alert_open; /* the customer has an open alert */
  size_t n_msgs;   /* filled entries of msgs, newest first */
  struct store_stats_msg msgs[STORE_STATS_CUSTOMER_MSGS];
};

/* The at most cap customers with the highest score whose windows hold a
 * score since since_ms with level > 0, highest first (ties: the most
 * recent last_at_ms, then the smaller customer id), into out; *n is how
 * many. One streamed pass over the windows touched since since_ms, in
 * memory bounded by cap whatever the number of customers. Each gets its
 * last messages since since_ms (found by walking back through the newest
 * messages, at most scan_max rows: 0 means 50000). Free each entry with
 * store_stats_customer_cleanup. */
enum err store_stats_top_customers(struct store_reader *r, int64_t now_ms,
                                   int64_t since_ms, size_t cap,
                                   size_t scan_max,
                                   struct store_stats_customer *out, size_t *n);

void store_stats_customer_cleanup(struct store_stats_customer *c);

/* Total messages and alerts: on SQLite the highest ids (cheap; rows are
 * never deleted and ids have no gaps), on PostgreSQL counts (its ids have
 * gaps: taken for a batch ahead, not given back on a rollback). */
enum err store_stats_totals(struct store_reader *r, int64_t *messages,
                            int64_t *alerts);

/* Languages listed at most by store_stats_langs; the others are summed
 * into one "other" row. */
#define STORE_STATS_LANGS 16

/* The code every message stored without a language counts under. */
#define STORE_STATS_LANG_NONE "und"

struct store_stats_lang {
  char *code; /* owned: messages.lang as stored, STORE_STATS_LANG_NONE for
               * NULL or "" */
  int64_t messages;
  int64_t frustrated;
};

struct store_stats_langs {
  size_t n; /* filled entries of langs, most messages first (ties: the
             * smaller code, bytewise) */
  struct store_stats_lang langs[STORE_STATS_LANGS];
  /* The languages past the first STORE_STATS_LANGS, summed. */
  int64_t other_langs; /* how many */
  int64_t other_messages, other_frustrated;
};

/* The language mix of the messages stored in [since_ms, until_ms), both
 * whole minutes (ERR_INVALID otherwise), into out (clean up with
 * store_stats_langs_cleanup, also after a failure). Grouped and ranked by
 * the database: at most STORE_STATS_LANGS + 1 rows come back whatever the
 * number of distinct languages. Reads every message of the range (no index
 * covers lang), through the time index. */
enum err store_stats_langs(struct store_reader *r, int64_t since_ms,
                           int64_t until_ms, struct store_stats_langs *out);

void store_stats_langs_cleanup(struct store_stats_langs *l);

#endif
