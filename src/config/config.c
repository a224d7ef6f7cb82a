/* config: defaults, environment parsing and validation.
 *
 * Parsing is strict: a number must be a whole valid number within range, a
 * boolean one of 1/0/true/false/yes/no/on/off. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static void copy(char *dst, size_t cap, const char *src)
{
  snprintf(dst, cap, "%s", src);
}

/* Store, alert policy and DevRev delivery (issue 4). */
static void alerts_defaults(struct config *cfg)
{
  copy(cfg->database_url, sizeof cfg->database_url, "./var/frustration.db");
  cfg->alert_cooldown_s = 1800;
  copy(cfg->alert_min_level_name, sizeof cfg->alert_min_level_name,
       "frustrated");
  cfg->alert_min_level = 2; /* "frustrated" among the default levels */
  cfg->text_retention_days = 0;
  cfg->escalation = true;
  cfg->escalate_window_s = 600;
  cfg->escalate_negative_count = 3;
  cfg->escalate_repeat_count = 3;
  cfg->escalate_drop = 0.5;
  copy(cfg->devrev_url, sizeof cfg->devrev_url, "https://api.devrev.ai");
  cfg->devrev_timeout_ms = 10000;
  copy(cfg->devrev_api_version, sizeof cfg->devrev_api_version, "2024-01-24");
  cfg->outbox_backoff_base_ms = 1000;
  cfg->outbox_backoff_max_ms = 300000;
  cfg->devrev_retry_after_max_s = 300;
}

void config_defaults(struct config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->threshold = -0.3;
  cfg->detector = CONFIG_DETECTOR_POLARITY;
  char err[128];
  /* Default levels of design.md: calm, dissatisfied (< -0.1), frustrated
   * (< -0.3, the original threshold), angry (< -0.6). */
  config_parse_levels(cfg,
                      "calm::low:3,dissatisfied:-0.1:medium:4,"
                      "frustrated:-0.3:high:5,angry:-0.6:blocker:5",
                      err, sizeof err);
  copy(cfg->host, sizeof cfg->host, "127.0.0.1");
  cfg->port = 8080;
  cfg->max_body_bytes = 64 * 1024;
  cfg->max_json_depth = 32;
  cfg->max_batch = 1000;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  cfg->threads = n > 0 && n < 64 ? (unsigned)n : 2;
  cfg->max_connections = 512;
  cfg->max_per_ip = 256;
  cfg->idle_timeout_s = 30;
  cfg->request_timeout_ms = 10000;
  cfg->log_text = false;
  cfg->signature_max_age_s = 300;
  cfg->rate_limit = 50;
  cfg->rate_limit_burst = 100;
  cfg->rate_limit_loopback = false;
  cfg->max_header_bytes = 8 * 1024;
  cfg->devrev_comment_source = true;
  copy(cfg->log_level, sizeof cfg->log_level, "info");
  alerts_defaults(cfg);
}

static enum err parse_double(const char *name, const char *v, double lo,
                             double hi, double *out, char *err, size_t errlen)
{
  char *end;
  errno = 0;
  double d = strtod(v, &end);
  if (errno || end == v || *end || !isfinite(d) || d < lo || d > hi) {
    snprintf(err, errlen, "%s: '%s' is not a number in [%g, %g]", name, v, lo,
             hi);
    return ERR_INVALID;
  }
  *out = d;
  return ERR_OK;
}

static enum err parse_ulong(const char *name, const char *v, unsigned long lo,
                            unsigned long hi, unsigned long *out, char *err,
                            size_t errlen)
{
  char *end;
  errno = 0;
  if (*v == '-' || *v == '+' || *v == ' ')
    goto bad;
  unsigned long n = strtoul(v, &end, 10);
  if (errno || end == v || *end || n < lo || n > hi)
    goto bad;
  *out = n;
  return ERR_OK;
bad:
  snprintf(err, errlen, "%s: '%s' is not a whole number in [%lu, %lu]", name, v,
           lo, hi);
  return ERR_INVALID;
}

static enum err parse_bool(const char *name, const char *v, bool *out,
                           char *err, size_t errlen)
{
  static const char *yes[] = {"1", "true", "yes", "on"};
  static const char *no[] = {"0", "false", "no", "off"};
  for (size_t i = 0; i < 4; i++) {
    if (!strcasecmp(v, yes[i])) {
      *out = true;
      return ERR_OK;
    }
    if (!strcasecmp(v, no[i])) {
      *out = false;
      return ERR_OK;
    }
  }
  snprintf(err, errlen, "%s: '%s' is not a boolean (true/false)", name, v);
  return ERR_INVALID;
}

static bool valid_severity(const char *s)
{
  return !strcmp(s, "low") || !strcmp(s, "medium") || !strcmp(s, "high") ||
         !strcmp(s, "blocker");
}

enum err config_parse_levels(struct config *cfg, const char *spec, char *err,
                             size_t errlen)
{
  struct config_level lv[CONFIG_MAX_LEVELS];
  size_t n = 0;
  const char *p = spec;
  memset(lv, 0, sizeof lv);
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char item[128];
    if (len >= sizeof item || n == CONFIG_MAX_LEVELS) {
      snprintf(err, errlen, "FRUSTRATION_LEVELS: too many or too long items");
      return ERR_INVALID;
    }
    memcpy(item, p, len);
    item[len] = '\0';
    /* name:bound:severity:sentiment */
    char *f[4] = {item, NULL, NULL, NULL};
    for (int i = 1; i < 4; i++) {
      char *c = f[i - 1] ? strchr(f[i - 1], ':') : NULL;
      if (!c) {
        snprintf(err, errlen,
                 "FRUSTRATION_LEVELS: '%s' is not name:bound:severity:"
                 "sentiment",
                 item);
        return ERR_INVALID;
      }
      *c = '\0';
      f[i] = c + 1;
    }
    struct config_level *l = &lv[n];
    /* Names go into JSON, metrics labels and logs as they are: letters,
     * digits, '_' and '-' only. */
    bool plain = *f[0] && strlen(f[0]) < sizeof l->name;
    for (const char *c = f[0]; plain && *c; c++)
      plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9') || *c == '_' || *c == '-';
    if (!plain) {
      snprintf(err, errlen,
               "FRUSTRATION_LEVELS: bad level name '%s' (letters, digits, "
               "'_' and '-', at most %zu)",
               f[0], sizeof l->name - 1);
      return ERR_INVALID;
    }
    copy(l->name, sizeof l->name, f[0]);
    if (n == 0) {
      if (*f[1]) {
        snprintf(err, errlen,
                 "FRUSTRATION_LEVELS: the first level ('%s') takes no bound",
                 f[0]);
        return ERR_INVALID;
      }
      l->below = INFINITY;
    } else {
      if (parse_double("FRUSTRATION_LEVELS bound", f[1], -1.0, 1.0, &l->below,
                       err, errlen))
        return ERR_INVALID;
      if (l->below >= lv[n - 1].below) {
        snprintf(err, errlen,
                 "FRUSTRATION_LEVELS: bounds must decrease ('%s' at %g)",
                 l->name, l->below);
        return ERR_INVALID;
      }
    }
    if (!valid_severity(f[2])) {
      snprintf(err, errlen,
               "FRUSTRATION_LEVELS: severity '%s' is not low, medium, high "
               "or blocker",
               f[2]);
      return ERR_INVALID;
    }
    copy(l->severity, sizeof l->severity, f[2]);
    unsigned long s;
    if (parse_ulong("FRUSTRATION_LEVELS sentiment", f[3], 1, 9, &s, err,
                    errlen))
      return ERR_INVALID;
    l->sentiment = (int)s;
    n++;
    p += len;
    if (*p == ',')
      p++;
  }
  if (n == 0) {
    snprintf(err, errlen, "FRUSTRATION_LEVELS: at least one level is needed");
    return ERR_INVALID;
  }
  memcpy(cfg->levels, lv, sizeof lv);
  cfg->n_levels = n;
  return ERR_OK;
}

enum err config_parse_listen(struct config *cfg, const char *spec, char *err,
                             size_t errlen)
{
  const char *colon = strrchr(spec, ':');
  const char *host = spec;
  size_t host_len = colon ? (size_t)(colon - spec) : 0;
  if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
    host++;
    host_len -= 2;
  }
  unsigned long port;
  if (!colon || host_len >= sizeof cfg->host || memchr(host, '[', host_len) ||
      memchr(host, ']', host_len) ||
      parse_ulong("--listen port", colon + 1, 0, 65535, &port, err, errlen)) {
    snprintf(err, errlen, "--listen: '%s' is not HOST:PORT", spec);
    return ERR_INVALID;
  }
  if (host_len > 0) {
    memcpy(cfg->host, host, host_len);
    cfg->host[host_len] = '\0';
  }
  cfg->port = (unsigned)port;
  return ERR_OK;
}

size_t config_level_for(const struct config *cfg, double polarity)
{
  size_t level = 0;
  for (size_t i = 1; i < cfg->n_levels; i++)
    if (polarity < cfg->levels[i].below)
      level = i;
  return level;
}

/* Copies the string variable `name` into dst when set; ERR_INVALID when it
 * does not fit or (nonempty) is empty. */
/* A DevRev API version: a date "YYYY-MM-DD", or "beta" (DevRev's two
 * forms; the header's value is sent as it is). */
static bool api_version_ok(const char *v)
{
  if (!strcmp(v, "beta"))
    return true;
  static const char shape[] = "dddd-dd-dd";
  if (strlen(v) != sizeof shape - 1)
    return false;
  for (size_t i = 0; shape[i]; i++)
    if (shape[i] == 'd' ? !isdigit((unsigned char)v[i]) : v[i] != shape[i])
      return false;
  return true;
}

static enum err parse_str(const char *name, char *dst, size_t cap,
                          bool nonempty, char *err, size_t errlen)
{
  const char *v = getenv(name);
  if (!v)
    return ERR_OK;
  if (strlen(v) >= cap || (nonempty && !*v)) {
    snprintf(err, errlen, "%s: %s", name,
             *v ? "value too long" : "must not be empty");
    return ERR_INVALID;
  }
  copy(dst, cap, v);
  return ERR_OK;
}

/* Signatures, abuse limits, TLS and DevRev events (issue 5). */
static enum err security_from_env(struct config *cfg, char *err, size_t errlen)
{
  const char *v;
  unsigned long n;
  if (parse_str("WEBHOOK_SECRET", cfg->webhook_secret,
                sizeof cfg->webhook_secret, false, err, errlen) ||
      parse_str("DEVREV_WEBHOOK_SECRET", cfg->devrev_webhook_secret,
                sizeof cfg->devrev_webhook_secret, false, err, errlen) ||
      parse_str("SLACK_SIGNING_SECRET", cfg->slack_signing_secret,
                sizeof cfg->slack_signing_secret, false, err, errlen) ||
      parse_str("TLS_CERT", cfg->tls_cert, sizeof cfg->tls_cert, false, err,
                errlen) ||
      parse_str("TLS_KEY", cfg->tls_key, sizeof cfg->tls_key, false, err,
                errlen) ||
      parse_str("DEVREV_SELF_ID", cfg->devrev_self_id,
                sizeof cfg->devrev_self_id, false, err, errlen))
    return ERR_INVALID;
  if ((v = getenv("SIGNATURE_MAX_AGE"))) {
    if (parse_ulong("SIGNATURE_MAX_AGE", v, 1, 86400, &n, err, errlen))
      return ERR_INVALID;
    cfg->signature_max_age_s = (unsigned)n;
  }
  if ((v = getenv("RATE_LIMIT"))) {
    if (parse_ulong("RATE_LIMIT", v, 0, 1000000, &n, err, errlen))
      return ERR_INVALID;
    cfg->rate_limit = (unsigned)n;
  }
  if ((v = getenv("RATE_LIMIT_BURST"))) {
    if (parse_ulong("RATE_LIMIT_BURST", v, 1, 1000000, &n, err, errlen))
      return ERR_INVALID;
    cfg->rate_limit_burst = (unsigned)n;
  }
  if ((v = getenv("RATE_LIMIT_LOOPBACK")) &&
      parse_bool("RATE_LIMIT_LOOPBACK", v, &cfg->rate_limit_loopback, err,
                 errlen))
    return ERR_INVALID;
  if ((v = getenv("MAX_HEADER_BYTES"))) {
    if (parse_ulong("MAX_HEADER_BYTES", v, 1024, 1ul << 20, &n, err, errlen))
      return ERR_INVALID;
    cfg->max_header_bytes = n;
  }
  if ((v = getenv("DEVREV_COMMENT_SOURCE")) &&
      parse_bool("DEVREV_COMMENT_SOURCE", v, &cfg->devrev_comment_source, err,
                 errlen))
    return ERR_INVALID;
  if ((v = getenv("DEVREV_SOURCE_TICKET")) &&
      parse_bool("DEVREV_SOURCE_TICKET", v, &cfg->devrev_source_ticket, err,
                 errlen))
    return ERR_INVALID;
  if ((v = getenv("DEVREV_UPDATE_SEVERITY")) &&
      parse_bool("DEVREV_UPDATE_SEVERITY", v, &cfg->devrev_update_severity, err,
                 errlen))
    return ERR_INVALID;
  if ((v = getenv("DEVREV_UPDATE_SENTIMENT")) &&
      parse_bool("DEVREV_UPDATE_SENTIMENT", v, &cfg->devrev_update_sentiment,
                 err, errlen))
    return ERR_INVALID;
  return ERR_OK;
}

/* Checks that go across settings; run once everything is read. */
static enum err security_check(const struct config *cfg, char *err,
                               size_t errlen)
{
  if (!*cfg->tls_cert != !*cfg->tls_key) {
    snprintf(err, errlen,
             "%s is set but %s is not: TLS needs both the "
             "certificate and its key",
             *cfg->tls_cert ? "TLS_CERT" : "TLS_KEY",
             *cfg->tls_cert ? "TLS_KEY" : "TLS_CERT");
    return ERR_INVALID;
  }
  if (cfg->metrics_auth && !*cfg->api_token) {
    snprintf(err, errlen,
             "METRICS_REQUIRE_TOKEN is on but API_TOKEN is not set");
    return ERR_INVALID;
  }
  return ERR_OK;
}

bool config_has_auth(const struct config *cfg)
{
  return *cfg->api_token || *cfg->webhook_secret ||
         *cfg->devrev_webhook_secret || *cfg->slack_signing_secret;
}

enum err config_check(const struct config *cfg, char *err, size_t errlen)
{
  return security_check(cfg, err, errlen);
}

static enum err alerts_from_env(struct config *cfg, char *err, size_t errlen)
{
  const char *v;
  unsigned long n;
  if (parse_str("DATABASE_URL", cfg->database_url, sizeof cfg->database_url,
                true, err, errlen))
    return ERR_INVALID;
  if ((v = getenv("ALERT_COOLDOWN"))) {
    if (parse_ulong("ALERT_COOLDOWN", v, 0, 30ul * 86400, &n, err, errlen))
      return ERR_INVALID;
    cfg->alert_cooldown_s = (unsigned)n;
  }
  bool min_set = getenv("ALERT_MIN_LEVEL") != NULL;
  if (parse_str("ALERT_MIN_LEVEL", cfg->alert_min_level_name,
                sizeof cfg->alert_min_level_name, true, err, errlen))
    return ERR_INVALID;
  /* Resolved against the levels in force (FRUSTRATION_LEVELS is read
   * first). Custom levels without "frustrated" and no ALERT_MIN_LEVEL: the
   * detector alone decides (index 0). */
  cfg->alert_min_level = 0;
  bool found = false;
  for (size_t i = 0; i < cfg->n_levels && !found; i++)
    if (!strcmp(cfg->levels[i].name, cfg->alert_min_level_name)) {
      cfg->alert_min_level = i;
      found = true;
    }
  if (!found && min_set) {
    snprintf(err, errlen, "ALERT_MIN_LEVEL: '%s' is not one of the levels",
             cfg->alert_min_level_name);
    return ERR_INVALID;
  }
  if (!found)
    copy(cfg->alert_min_level_name, sizeof cfg->alert_min_level_name,
         cfg->levels[0].name);
  if ((v = getenv("MESSAGE_TEXT_RETENTION_DAYS"))) {
    if (parse_ulong("MESSAGE_TEXT_RETENTION_DAYS", v, 0, 36500, &n, err,
                    errlen))
      return ERR_INVALID;
    cfg->text_retention_days = (unsigned)n;
  }
  if ((v = getenv("ESCALATION")) &&
      parse_bool("ESCALATION", v, &cfg->escalation, err, errlen))
    return ERR_INVALID;
  if ((v = getenv("ESCALATE_WINDOW"))) {
    if (parse_ulong("ESCALATE_WINDOW", v, 1, 7ul * 86400, &n, err, errlen))
      return ERR_INVALID;
    cfg->escalate_window_s = (unsigned)n;
  }
  /* The store keeps a customer's last 20 scores (STORE_WINDOW_MAX): a
   * count above that could never be reached. */
  if ((v = getenv("ESCALATE_NEGATIVE_COUNT"))) {
    if (parse_ulong("ESCALATE_NEGATIVE_COUNT", v, 1, 20, &n, err, errlen))
      return ERR_INVALID;
    cfg->escalate_negative_count = (unsigned)n;
  }
  if ((v = getenv("ESCALATE_REPEAT_COUNT"))) {
    if (parse_ulong("ESCALATE_REPEAT_COUNT", v, 1, 20, &n, err, errlen))
      return ERR_INVALID;
    cfg->escalate_repeat_count = (unsigned)n;
  }
  if ((v = getenv("ESCALATE_DROP")) &&
      parse_double("ESCALATE_DROP", v, 0.0, 2.0, &cfg->escalate_drop, err,
                   errlen))
    return ERR_INVALID;
  if (parse_str("DEVREV_API_TOKEN", cfg->devrev_token, sizeof cfg->devrev_token,
                false, err, errlen) ||
      parse_str("DEVREV_API_URL", cfg->devrev_url, sizeof cfg->devrev_url, true,
                err, errlen) ||
      parse_str("DEVREV_PART_ID", cfg->devrev_part_id,
                sizeof cfg->devrev_part_id, false, err, errlen) ||
      parse_str("DEVREV_OWNER_ID", cfg->devrev_owner_id,
                sizeof cfg->devrev_owner_id, false, err, errlen) ||
      parse_str("DEVREV_TAG_ID", cfg->devrev_tag_id, sizeof cfg->devrev_tag_id,
                false, err, errlen) ||
      parse_str("DEVREV_API_VERSION", cfg->devrev_api_version,
                sizeof cfg->devrev_api_version, true, err, errlen))
    return ERR_INVALID;
  if (!api_version_ok(cfg->devrev_api_version)) {
    snprintf(err, errlen,
             "DEVREV_API_VERSION: '%s' is not a version date (YYYY-MM-DD) "
             "or \"beta\"",
             cfg->devrev_api_version);
    return ERR_INVALID;
  }
  if (strncmp(cfg->devrev_url, "https://", 8) &&
      strncmp(cfg->devrev_url, "http://", 7)) {
    snprintf(err, errlen,
             "DEVREV_API_URL: '%s' is not an http:// or https:// URL",
             cfg->devrev_url);
    return ERR_INVALID;
  }
  size_t len = strlen(cfg->devrev_url);
  while (len > 8 && cfg->devrev_url[len - 1] == '/')
    cfg->devrev_url[--len] = '\0';
  if (*cfg->devrev_token && (!*cfg->devrev_part_id || !*cfg->devrev_owner_id)) {
    snprintf(err, errlen,
             "DEVREV_API_TOKEN is set but %s%s%s %s not: a DevRev ticket "
             "needs a part (DEVREV_PART_ID, e.g. PROD-1) and an owner "
             "(DEVREV_OWNER_ID, e.g. DEVU-1)",
             !*cfg->devrev_part_id ? "DEVREV_PART_ID" : "",
             !*cfg->devrev_part_id && !*cfg->devrev_owner_id ? " and " : "",
             !*cfg->devrev_owner_id ? "DEVREV_OWNER_ID" : "",
             !*cfg->devrev_part_id && !*cfg->devrev_owner_id ? "are" : "is");
    return ERR_INVALID;
  }
  if ((v = getenv("DEVREV_TIMEOUT_MS"))) {
    if (parse_ulong("DEVREV_TIMEOUT_MS", v, 100, 600000, &n, err, errlen))
      return ERR_INVALID;
    cfg->devrev_timeout_ms = (unsigned)n;
  }
  if ((v = getenv("OUTBOX_BACKOFF_BASE_MS"))) {
    if (parse_ulong("OUTBOX_BACKOFF_BASE_MS", v, 1, 3600000, &n, err, errlen))
      return ERR_INVALID;
    cfg->outbox_backoff_base_ms = (unsigned)n;
  }
  if ((v = getenv("OUTBOX_BACKOFF_MAX_MS"))) {
    if (parse_ulong("OUTBOX_BACKOFF_MAX_MS", v, 1, 86400000, &n, err, errlen))
      return ERR_INVALID;
    cfg->outbox_backoff_max_ms = (unsigned)n;
  }
  if ((v = getenv("DEVREV_RETRY_AFTER_MAX"))) {
    if (parse_ulong("DEVREV_RETRY_AFTER_MAX", v, 1, 86400, &n, err, errlen))
      return ERR_INVALID;
    cfg->devrev_retry_after_max_s = (unsigned)n;
  }
  if (cfg->outbox_backoff_max_ms < cfg->outbox_backoff_base_ms) {
    snprintf(err, errlen,
             "OUTBOX_BACKOFF_MAX_MS (%u) is below OUTBOX_BACKOFF_BASE_MS (%u)",
             cfg->outbox_backoff_max_ms, cfg->outbox_backoff_base_ms);
    return ERR_INVALID;
  }
  return ERR_OK;
}

/* Writes url with the password of a "scheme://user:password@host" masked. */
static void print_masked_url(FILE *f, const char *url)
{
  const char *scheme = strstr(url, "://");
  const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
  const char *slash = scheme ? strchr(scheme + 3, '/') : NULL;
  const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
  if (at && (!slash || at < slash) && colon && colon < at)
    fprintf(f, "%.*s:****%s", (int)(colon - url), url, at);
  else
    fprintf(f, "%s", url);
}

static void alerts_print(const struct config *cfg, FILE *f)
{
  fprintf(f, "DATABASE_URL=");
  print_masked_url(f, cfg->database_url);
  fprintf(f, "\nALERT_COOLDOWN=%u\nALERT_MIN_LEVEL=%s\n", cfg->alert_cooldown_s,
          cfg->alert_min_level_name);
  fprintf(f, "MESSAGE_TEXT_RETENTION_DAYS=%u\n", cfg->text_retention_days);
  fprintf(f, "ESCALATION=%s\nESCALATE_WINDOW=%u\n",
          cfg->escalation ? "on" : "off", cfg->escalate_window_s);
  fprintf(f, "ESCALATE_NEGATIVE_COUNT=%u\nESCALATE_REPEAT_COUNT=%u\n",
          cfg->escalate_negative_count, cfg->escalate_repeat_count);
  fprintf(f, "ESCALATE_DROP=%g\n", cfg->escalate_drop);
  fprintf(f, "DEVREV_API_TOKEN=%s\n", *cfg->devrev_token ? "********" : "");
  fprintf(f, "DEVREV_API_URL=%s\nDEVREV_PART_ID=%s\nDEVREV_OWNER_ID=%s\n",
          cfg->devrev_url, cfg->devrev_part_id, cfg->devrev_owner_id);
  fprintf(f, "DEVREV_TAG_ID=%s\nDEVREV_TIMEOUT_MS=%u\n", cfg->devrev_tag_id,
          cfg->devrev_timeout_ms);
  fprintf(f, "DEVREV_API_VERSION=%s\n", cfg->devrev_api_version);
  fprintf(f, "OUTBOX_BACKOFF_BASE_MS=%u\nOUTBOX_BACKOFF_MAX_MS=%u\n",
          cfg->outbox_backoff_base_ms, cfg->outbox_backoff_max_ms);
  fprintf(f, "DEVREV_RETRY_AFTER_MAX=%u\n", cfg->devrev_retry_after_max_s);
}

enum err config_from_env(struct config *cfg, char *err, size_t errlen)
{
  const char *v;
  unsigned long n;
  if ((v = getenv("FRUSTRATION_THRESHOLD")) &&
      parse_double("FRUSTRATION_THRESHOLD", v, -1.0, 1.0, &cfg->threshold, err,
                   errlen))
    return ERR_INVALID;
  if ((v = getenv("FRUSTRATION_DETECTOR"))) {
    if (!strcmp(v, "polarity"))
      cfg->detector = CONFIG_DETECTOR_POLARITY;
    else if (!strcmp(v, "model"))
      cfg->detector = CONFIG_DETECTOR_MODEL;
    else {
      snprintf(err, errlen,
               "FRUSTRATION_DETECTOR: '%s' is not 'polarity' or 'model'", v);
      return ERR_INVALID;
    }
  }
  if (parse_str("FRUSTRATION_MODEL", cfg->model_path, sizeof cfg->model_path,
                false, err, errlen))
    return ERR_INVALID;
  if (*cfg->model_path && access(cfg->model_path, R_OK) != 0) {
    snprintf(err, errlen, "FRUSTRATION_MODEL: cannot read '%s'",
             cfg->model_path);
    return ERR_INVALID;
  }
  if ((v = getenv("FRUSTRATION_LEVELS")) &&
      config_parse_levels(cfg, v, err, errlen))
    return ERR_INVALID;
  if ((v = getenv("HOST"))) {
    if (!*v || strlen(v) >= sizeof cfg->host) {
      snprintf(err, errlen, "HOST: '%s' is not a host name or address", v);
      return ERR_INVALID;
    }
    copy(cfg->host, sizeof cfg->host, v);
  }
  if ((v = getenv("PORT"))) {
    if (parse_ulong("PORT", v, 0, 65535, &n, err, errlen))
      return ERR_INVALID;
    cfg->port = (unsigned)n;
  }
  if ((v = getenv("MAX_BODY_BYTES"))) {
    if (parse_ulong("MAX_BODY_BYTES", v, 256, 64ul << 20, &n, err, errlen))
      return ERR_INVALID;
    cfg->max_body_bytes = n;
  }
  if ((v = getenv("MAX_JSON_DEPTH"))) {
    if (parse_ulong("MAX_JSON_DEPTH", v, 2, 1000, &n, err, errlen))
      return ERR_INVALID;
    cfg->max_json_depth = (int)n;
  }
  if ((v = getenv("MAX_BATCH"))) {
    if (parse_ulong("MAX_BATCH", v, 1, 100000, &n, err, errlen))
      return ERR_INVALID;
    cfg->max_batch = n;
  }
  if ((v = getenv("HTTP_THREADS"))) {
    if (parse_ulong("HTTP_THREADS", v, 1, 256, &n, err, errlen))
      return ERR_INVALID;
    cfg->threads = (unsigned)n;
  }
  if ((v = getenv("MAX_CONNECTIONS"))) {
    if (parse_ulong("MAX_CONNECTIONS", v, 1, 100000, &n, err, errlen))
      return ERR_INVALID;
    cfg->max_connections = (unsigned)n;
  }
  if ((v = getenv("MAX_CONNECTIONS_PER_IP"))) {
    if (parse_ulong("MAX_CONNECTIONS_PER_IP", v, 1, 100000, &n, err, errlen))
      return ERR_INVALID;
    cfg->max_per_ip = (unsigned)n;
  }
  if ((v = getenv("IDLE_TIMEOUT"))) {
    if (parse_ulong("IDLE_TIMEOUT", v, 1, 3600, &n, err, errlen))
      return ERR_INVALID;
    cfg->idle_timeout_s = (unsigned)n;
  }
  if ((v = getenv("REQUEST_TIMEOUT_MS"))) {
    if (parse_ulong("REQUEST_TIMEOUT_MS", v, 100, 600000, &n, err, errlen))
      return ERR_INVALID;
    cfg->request_timeout_ms = (unsigned)n;
  }
  if ((v = getenv("API_TOKEN"))) {
    if (strlen(v) >= sizeof cfg->api_token || strchr(v, ' ')) {
      snprintf(err, errlen,
               "API_TOKEN: must be at most %zu characters without spaces",
               sizeof cfg->api_token - 1);
      return ERR_INVALID;
    }
    copy(cfg->api_token, sizeof cfg->api_token, v);
  }
  if ((v = getenv("METRICS_REQUIRE_TOKEN")) &&
      parse_bool("METRICS_REQUIRE_TOKEN", v, &cfg->metrics_auth, err, errlen))
    return ERR_INVALID;
  if (security_from_env(cfg, err, errlen))
    return ERR_INVALID;
  if ((v = getenv("LOG_MESSAGE_TEXT")) &&
      parse_bool("LOG_MESSAGE_TEXT", v, &cfg->log_text, err, errlen))
    return ERR_INVALID;
  if ((v = getenv("LOG_LEVEL"))) {
    if (strcmp(v, "debug") && strcmp(v, "info") && strcmp(v, "warn") &&
        strcmp(v, "error")) {
      snprintf(err, errlen, "LOG_LEVEL: '%s' is not debug, info, warn or error",
               v);
      return ERR_INVALID;
    }
    copy(cfg->log_level, sizeof cfg->log_level, v);
  }
  if (alerts_from_env(cfg, err, errlen))
    return ERR_INVALID;
  return security_check(cfg, err, errlen);
}

void config_print(const struct config *cfg, void *file)
{
  FILE *f = file;
  fprintf(f, "FRUSTRATION_THRESHOLD=%g\n", cfg->threshold);
  fprintf(f, "FRUSTRATION_DETECTOR=%s\n",
          cfg->detector == CONFIG_DETECTOR_MODEL ? "model" : "polarity");
  fprintf(f, "FRUSTRATION_MODEL=%s\n", cfg->model_path);
  fprintf(f, "FRUSTRATION_LEVELS=");
  for (size_t i = 0; i < cfg->n_levels; i++) {
    const struct config_level *l = &cfg->levels[i];
    if (i == 0)
      fprintf(f, "%s::%s:%d", l->name, l->severity, l->sentiment);
    else
      fprintf(f, ",%s:%g:%s:%d", l->name, l->below, l->severity, l->sentiment);
  }
  fprintf(f, "\n");
  fprintf(f, "HOST=%s\nPORT=%u\n", cfg->host, cfg->port);
  fprintf(f, "MAX_BODY_BYTES=%zu\nMAX_JSON_DEPTH=%d\nMAX_BATCH=%zu\n",
          cfg->max_body_bytes, cfg->max_json_depth, cfg->max_batch);
  fprintf(f, "HTTP_THREADS=%u\nMAX_CONNECTIONS=%u\nMAX_CONNECTIONS_PER_IP=%u\n",
          cfg->threads, cfg->max_connections, cfg->max_per_ip);
  fprintf(f, "IDLE_TIMEOUT=%u\nREQUEST_TIMEOUT_MS=%u\n", cfg->idle_timeout_s,
          cfg->request_timeout_ms);
  fprintf(f, "API_TOKEN=%s\n", cfg->api_token[0] ? "********" : "");
  fprintf(f, "METRICS_REQUIRE_TOKEN=%s\n", cfg->metrics_auth ? "on" : "off");
  fprintf(f, "WEBHOOK_SECRET=%s\n", *cfg->webhook_secret ? "********" : "");
  fprintf(f, "DEVREV_WEBHOOK_SECRET=%s\n",
          *cfg->devrev_webhook_secret ? "********" : "");
  fprintf(f, "SLACK_SIGNING_SECRET=%s\n",
          *cfg->slack_signing_secret ? "********" : "");
  fprintf(f, "SIGNATURE_MAX_AGE=%u\n", cfg->signature_max_age_s);
  fprintf(f, "RATE_LIMIT=%u\nRATE_LIMIT_BURST=%u\nRATE_LIMIT_LOOPBACK=%s\n",
          cfg->rate_limit, cfg->rate_limit_burst,
          cfg->rate_limit_loopback ? "on" : "off");
  fprintf(f, "MAX_HEADER_BYTES=%zu\nTLS_CERT=%s\nTLS_KEY=%s\n",
          cfg->max_header_bytes, cfg->tls_cert, cfg->tls_key);
  fprintf(f, "DEVREV_SELF_ID=%s\nDEVREV_COMMENT_SOURCE=%s\n",
          cfg->devrev_self_id, cfg->devrev_comment_source ? "on" : "off");
  fprintf(f, "DEVREV_SOURCE_TICKET=%s\nDEVREV_UPDATE_SEVERITY=%s\n",
          cfg->devrev_source_ticket ? "on" : "off",
          cfg->devrev_update_severity ? "on" : "off");
  fprintf(f, "DEVREV_UPDATE_SENTIMENT=%s\n",
          cfg->devrev_update_sentiment ? "on" : "off");
  fprintf(f, "LOG_MESSAGE_TEXT=%s\nLOG_LEVEL=%s\n",
          cfg->log_text ? "true" : "false", cfg->log_level);
  alerts_print(cfg, f);
}
