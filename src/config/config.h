/* config: the service's settings, read once from the environment (and
 * command-line flags applied on top), validated, then read-only.
 *
 * Names of the original service are kept (FRUSTRATION_THRESHOLD). Every
 * setting has a sane default; an invalid value stops startup with a message
 * naming the variable and what it accepts. */
#ifndef CONFIG_CONFIG_H
#define CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define CONFIG_MAX_LEVELS 8
#define CONFIG_LEVEL_NAME_MAX 32

/* One level of the ordered list: a message is at the highest level whose
 * bound its polarity is strictly below ("calm" has no bound). */
struct config_level {
  char name[CONFIG_LEVEL_NAME_MAX];
  double below;        /* polarity < below reaches this level; unused for [0] */
  char severity[16];   /* DevRev ticket severity: low|medium|high|blocker */
  int sentiment;       /* DevRev ticket sentiment ordinal (5 = frustrated) */
};

/* FRUSTRATION_MODEL_LEVELS: with FRUSTRATION_DETECTOR=model, where the
 * model's score puts a level. A level not named there is never reached by
 * the score alone. */
struct config_model_level {
  bool by_score;     /* named: the score reaches it */
  bool at_threshold; /* from the model's operating point (its verdict) */
  double from;       /* else from this score, in [0, 1] */
};

/* The anger signals (FRUSTRATION_ANGER_SIGNALS) that raise a message the
 * model finds frustrated one level: bits, in the order of their names. */
enum config_anger {
  CONFIG_ANGER_SHOUTING = 1u << 0,   /* words in ALL CAPS */
  CONFIG_ANGER_EXCLAIM = 1u << 1,    /* "!!" or more */
  CONFIG_ANGER_ESCALATION = 1u << 2, /* escalation, threats to leave */
  CONFIG_ANGER_INSULTS = 1u << 3,    /* insults, the strongest words */
};
#define CONFIG_ANGER_N 4
#define CONFIG_ANGER_ALL ((1u << CONFIG_ANGER_N) - 1)

/* The setting's name of anger signal i (< CONFIG_ANGER_N), e.g.
 * "shouting"; never NULL. */
const char *config_anger_name(unsigned i);

enum config_detector {
  CONFIG_DETECTOR_POLARITY, /* the original rule: polarity < threshold */
  CONFIG_DETECTOR_MODEL,    /* the support-tuned model */
};

struct config {
  /* Scoring */
  double threshold; /* FRUSTRATION_THRESHOLD, default -0.3 */
  enum config_detector detector; /* FRUSTRATION_DETECTOR, default model */
  char model_path[1024]; /* FRUSTRATION_MODEL: weights file; "" = built in */
  unsigned languages;    /* FRUSTRATION_LANGUAGES: bit (1u << enum lang) set
                            for each language scored with its own signals */
  struct config_level levels[CONFIG_MAX_LEVELS]; /* FRUSTRATION_LEVELS */
  size_t n_levels;
  /* FRUSTRATION_MODEL_LEVELS as given ("polarity" or "name:bound,..."),
   * and what it says of each level of `levels`; model_levels_polarity:
   * with the model too, levels come from polarity (lifted to
   * ALERT_MIN_LEVEL when the model finds the message frustrated). */
  char model_levels_spec[512];
  bool model_levels_polarity;
  struct config_model_level model_levels[CONFIG_MAX_LEVELS];
  unsigned anger_signals; /* FRUSTRATION_ANGER_SIGNALS: CONFIG_ANGER_* */

  /* HTTP */
  char host[256];           /* HOST, default 127.0.0.1 */
  unsigned port;            /* PORT, default 8080; 0 = ephemeral */
  size_t max_body_bytes;    /* MAX_BODY_BYTES, default 64 KiB */
  int max_json_depth;       /* MAX_JSON_DEPTH, default 32 */
  size_t max_batch;         /* MAX_BATCH, default 1000 messages */
  unsigned threads;         /* HTTP_THREADS, default: number of cores */
  unsigned max_connections; /* MAX_CONNECTIONS, default 512 */
  unsigned max_per_ip;      /* MAX_CONNECTIONS_PER_IP, default 256 */
  unsigned idle_timeout_s;  /* IDLE_TIMEOUT, default 30 s */
  unsigned request_timeout_ms; /* REQUEST_TIMEOUT_MS, default 10000 */
  bool log_text;            /* LOG_MESSAGE_TEXT, default false */
  char api_token[256];      /* API_TOKEN (secret); "" = not required */
  bool metrics_auth;        /* METRICS_REQUIRE_TOKEN: /metrics needs API_TOKEN */
  char log_level[16];       /* LOG_LEVEL: debug|info|warn|error */

  /* Request signatures (secrets; "" = that check is off) */
  char webhook_secret[512];        /* WEBHOOK_SECRET: X-Signature-256 */
  char devrev_webhook_secret[512]; /* DEVREV_WEBHOOK_SECRET */
  char slack_signing_secret[512];  /* SLACK_SIGNING_SECRET */
  unsigned signature_max_age_s; /* SIGNATURE_MAX_AGE, default 300 s: Slack
                                 * timestamps and DevRev event timestamps */

  /* Abuse limits */
  unsigned rate_limit;       /* RATE_LIMIT: requests/s per source address,
                              * default 50; 0 = off */
  unsigned rate_limit_burst; /* RATE_LIMIT_BURST, default 100 */
  bool rate_limit_loopback;  /* RATE_LIMIT_LOOPBACK: also limit loopback
                              * peers (default off: a local proxy or
                              * health check is one source for everyone) */
  size_t max_header_bytes;   /* MAX_HEADER_BYTES, default 8 KiB */
  char tls_cert[1024];       /* TLS_CERT (--tls-cert): PEM file; "" = plain */
  char tls_key[1024];        /* TLS_KEY (--tls-key): PEM file */

  /* DevRev events received on /webhook */
  char devrev_self_id[256]; /* DEVREV_SELF_ID: our own user (loop guard) */
  bool devrev_comment_source; /* DEVREV_COMMENT_SOURCE, default on: an
                               * alert from a DevRev message comments
                               * (internal) on the object it came from */
  bool devrev_source_ticket;  /* DEVREV_SOURCE_TICKET, default off: such an
                               * alert also opens an alert ticket */
  bool devrev_update_severity;  /* DEVREV_UPDATE_SEVERITY, default off */
  bool devrev_update_sentiment; /* DEVREV_UPDATE_SENTIMENT, default off */

  /* Store and alert policy */
  char database_url[1024];  /* DATABASE_URL, default ./var/frustration.db */
  unsigned alert_cooldown_s; /* ALERT_COOLDOWN, default 1800 (30 min) */
  char alert_min_level_name[CONFIG_LEVEL_NAME_MAX]; /* ALERT_MIN_LEVEL */
  size_t alert_min_level;   /* its index in levels (default "frustrated") */
  unsigned text_retention_days; /* MESSAGE_TEXT_RETENTION_DAYS, 0 = keep */

  /* Conversation context: escalation over each customer's recent scores */
  bool escalation;                 /* ESCALATION, default on */
  unsigned escalate_window_s;      /* ESCALATE_WINDOW, default 600 s */
  unsigned escalate_negative_count; /* ESCALATE_NEGATIVE_COUNT, default 3 */
  unsigned escalate_repeat_count;  /* ESCALATE_REPEAT_COUNT, default 3 */
  double escalate_drop;            /* ESCALATE_DROP, default 0.5 */

  /* DevRev delivery; no token means record-only mode */
  char devrev_token[2048];  /* DEVREV_API_TOKEN (secret: masked in print) */
  char devrev_url[512];     /* DEVREV_API_URL, default https://api.devrev.ai */
  char devrev_part_id[256]; /* DEVREV_PART_ID, required with a token */
  char devrev_owner_id[256]; /* DEVREV_OWNER_ID, required with a token */
  char devrev_tag_id[256];  /* DEVREV_TAG_ID, optional */
  char devrev_api_version[32]; /* DEVREV_API_VERSION, default 2024-01-24 */
  unsigned devrev_timeout_ms; /* DEVREV_TIMEOUT_MS, default 10000 */
  unsigned outbox_backoff_base_ms; /* OUTBOX_BACKOFF_BASE_MS, default 1000 */
  unsigned outbox_backoff_max_ms;  /* OUTBOX_BACKOFF_MAX_MS, default 300000 */
  /* OUTBOX_LEASE_MS: a claim's lease (1000-86400000, above
   * DEVREV_TIMEOUT_MS), default 300000; with several instances, how soon
   * another takes over the deliveries of one that died */
  unsigned outbox_lease_ms;
  /* DEVREV_RETRY_AFTER_MAX: the longest a 429's Retry-After pauses
   * delivery, seconds (1-86400), default 300 */
  unsigned devrev_retry_after_max_s;
};

/* Fills cfg with the defaults. */
void config_defaults(struct config *cfg);

/* Reads every known variable from the environment on top of the current
 * values. On an invalid value returns ERR_INVALID and writes a message
 * naming the variable into err (errlen bytes). */
WARN_UNUSED_RESULT enum err config_from_env(struct config *cfg, char *err,
                                            size_t errlen);

/* Parses a FRUSTRATION_LEVELS value, "name:bound:severity:sentiment,..."
 * from the lowest level up; the first level has no bound ("calm::low:3").
 * Bounds must decrease. ERR_INVALID with a message on bad input. */
WARN_UNUSED_RESULT enum err config_parse_levels(struct config *cfg,
                                                const char *spec, char *err,
                                                size_t errlen);

/* Parses a FRUSTRATION_MODEL_LEVELS value against the levels in force:
 * "polarity", or "name:bound,..." naming levels of FRUSTRATION_LEVELS but
 * the first, in their order, each bound a score in [0, 1] (increasing) or
 * "threshold" (the model's operating point, for one level at most).
 * ERR_INVALID with a message on bad input; cfg is unchanged then. */
WARN_UNUSED_RESULT enum err config_parse_model_levels(struct config *cfg,
                                                      const char *spec,
                                                      char *err, size_t errlen);

/* Applies a --listen value, "HOST:PORT", "[IPV6]:PORT" or ":PORT" (keeps
 * the host), to cfg->host and cfg->port. ERR_INVALID with a message. */
WARN_UNUSED_RESULT enum err config_parse_listen(struct config *cfg,
                                                const char *spec, char *err,
                                                size_t errlen);

/* True when some request authentication is configured (API_TOKEN or a
 * signature secret): the server may then listen beyond loopback. */
bool config_has_auth(const struct config *cfg);

/* Re-checks the settings that go together (TLS_CERT with TLS_KEY,
 * METRICS_REQUIRE_TOKEN with API_TOKEN) after flags changed them. */
WARN_UNUSED_RESULT enum err config_check(const struct config *cfg, char *err,
                                         size_t errlen);

/* Index into cfg->levels of the level for polarity p. */
size_t config_level_for(const struct config *cfg, double polarity);

/* The score from which model level m is reached (its own bound, or the
 * model's operating point threshold for the verdict level); meaningful
 * when m->by_score. */
double config_model_level_from(const struct config_model_level *m,
                               double threshold);

/* Index into cfg->levels of the highest level FRUSTRATION_MODEL_LEVELS
 * puts at or below the model's score (threshold: the model's operating
 * point); 0 when none. */
size_t config_model_level_for(const struct config *cfg, double score,
                              double threshold);

/* The level of the model's verdict: a message the model finds frustrated
 * is at least there, any other below it. The level that starts at
 * "threshold" in FRUSTRATION_MODEL_LEVELS, else ALERT_MIN_LEVEL. */
size_t config_verdict_level(const struct config *cfg);

/* Writes the effective configuration as KEY=value lines, secrets masked. */
void config_print(const struct config *cfg, void *file /* FILE * */);

/* Writes one line per setting: the variable and what it sets. */
void config_describe(void *file /* FILE * */);

#endif
