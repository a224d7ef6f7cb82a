/* config: the settings as one table, read from the environment by one
 * parser and written back by one printer.
 *
 * Each row of `settings` names a variable, the struct config field it fills,
 * how it is read (a number within bounds, a boolean, a string, or a hook of
 * its own), its default written as it would be in the environment, whether
 * it is a secret, and a line of help. The table's order is the order of
 * check-config's lines and the order in which values are read; checks that
 * go across settings run after every row.
 *
 * Parsing is strict: a number must be a whole valid number within range, a
 * boolean one of 1/0/true/false/yes/no/on/off. */
#include "config/config.h"

#include "lang/lang.h"

#include <assert.h>
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

enum err config_parse_model_levels(struct config *cfg, const char *spec,
                                   char *err, size_t errlen)
{
  static const char name[] = "FRUSTRATION_MODEL_LEVELS";
  struct config_model_level ml[CONFIG_MAX_LEVELS];
  memset(ml, 0, sizeof ml);
  if (strlen(spec) >= sizeof cfg->model_levels_spec) {
    snprintf(err, errlen, "%s: value too long", name);
    return ERR_INVALID;
  }
  if (!strcmp(spec, "polarity")) {
    memcpy(cfg->model_levels, ml, sizeof ml);
    cfg->model_levels_polarity = true;
    copy(cfg->model_levels_spec, sizeof cfg->model_levels_spec, spec);
    return ERR_OK;
  }
  size_t prev = 0;       /* the last level named; 0: none yet */
  double prev_from = -1; /* the last bound given as a number */
  bool threshold = false;
  const char *p = spec;
  while (*p) {
    size_t len = strcspn(p, ",");
    char item[CONFIG_LEVEL_NAME_MAX + 32];
    if (len >= sizeof item) {
      snprintf(err, errlen, "%s: '%.*s' is too long", name, (int)len, p);
      return ERR_INVALID;
    }
    memcpy(item, p, len);
    item[len] = '\0';
    char *bound = strchr(item, ':');
    if (!bound) {
      snprintf(err, errlen,
               "%s: '%s' is not name:bound (a score from 0 to 1, or "
               "threshold)",
               name, item);
      return ERR_INVALID;
    }
    *bound++ = '\0';
    size_t i = 0;
    while (i < cfg->n_levels && strcmp(cfg->levels[i].name, item))
      i++;
    if (i == cfg->n_levels) {
      snprintf(err, errlen, "%s: '%s' is not one of the levels", name, item);
      return ERR_INVALID;
    }
    if (i == 0) {
      snprintf(err, errlen,
               "%s: the first level ('%s') is below every bound and takes "
               "none",
               name, item);
      return ERR_INVALID;
    }
    if (i <= prev) {
      snprintf(err, errlen,
               "%s: levels must be named once each, in the order of "
               "FRUSTRATION_LEVELS ('%s')",
               name, item);
      return ERR_INVALID;
    }
    ml[i].by_score = true;
    if (!strcmp(bound, "threshold")) {
      if (threshold) {
        snprintf(err, errlen,
                 "%s: only one level starts at the threshold ('%s')", name,
                 item);
        return ERR_INVALID;
      }
      threshold = true;
      ml[i].at_threshold = true;
    } else {
      char what[128];
      snprintf(what, sizeof what, "%s bound of '%s'", name, item);
      if (parse_double(what, bound, 0.0, 1.0, &ml[i].from, err, errlen))
        return ERR_INVALID;
      if (ml[i].from <= prev_from) {
        snprintf(err, errlen, "%s: bounds must increase ('%s' at %g)", name,
                 item, ml[i].from);
        return ERR_INVALID;
      }
      prev_from = ml[i].from;
    }
    prev = i;
    p += len;
    if (*p == ',' && !*++p) {
      snprintf(err, errlen, "%s: a level is missing after the last ','",
               name);
      return ERR_INVALID;
    }
  }
  if (prev == 0) {
    snprintf(err, errlen, "%s: at least one level (name:bound), or polarity",
             name);
    return ERR_INVALID;
  }
  memcpy(cfg->model_levels, ml, sizeof ml);
  cfg->model_levels_polarity = false;
  copy(cfg->model_levels_spec, sizeof cfg->model_levels_spec, spec);
  return ERR_OK;
}

double config_model_level_from(const struct config_model_level *m,
                               double threshold)
{
  return m->at_threshold ? threshold : m->from;
}

size_t config_model_level_for(const struct config *cfg, double score,
                              double threshold)
{
  size_t level = 0;
  for (size_t i = 1; i < cfg->n_levels; i++) {
    const struct config_model_level *m = &cfg->model_levels[i];
    if (m->by_score && score >= config_model_level_from(m, threshold))
      level = i;
  }
  return level;
}

size_t config_verdict_level(const struct config *cfg)
{
  for (size_t i = 1; i < cfg->n_levels; i++)
    if (cfg->model_levels[i].by_score && cfg->model_levels[i].at_threshold)
      return i;
  return cfg->alert_min_level < cfg->n_levels ? cfg->alert_min_level : 0;
}

static const char *const anger_names[CONFIG_ANGER_N] = {
    "shouting", "exclamations", "escalation", "insults"};

const char *config_anger_name(unsigned i)
{
  return i < CONFIG_ANGER_N ? anger_names[i] : "?";
}

/* How a setting's value is read from the environment and printed. */
enum kind {
  KIND_DOUBLE, /* double, strtod within [lo, hi], printed %g */
  KIND_UINT,   /* unsigned, a whole number within [lo, hi] */
  KIND_SIZE,   /* size_t, likewise */
  KIND_INT,    /* int, likewise */
  KIND_BOOL,   /* bool, 1/0/true/false/yes/no/on/off, printed on/off */
  KIND_STR,    /* char array, at most its size - 1 bytes */
  KIND_OTHER,  /* read and printed by the row's own hooks */
};

#define SECRET 0x1u     /* printed as ******** when set */
#define NONEMPTY 0x2u   /* a string that may not be "" */
#define URL_MASK 0x4u   /* printed with the password of a URL masked */
#define TRUE_FALSE 0x8u /* a boolean printed true/false, not on/off */

struct setting;
/* Reads v into the row's field; ERR_INVALID with a message naming the
 * variable. Hooks that extend the kind's reading call read_kind first. */
typedef enum err (*setting_parse_fn)(const struct setting *s,
                                     struct config *cfg, const char *v,
                                     char *err, size_t errlen);
/* Writes the row's value, without name and newline. */
typedef void (*setting_print_fn)(const struct setting *s,
                                 const struct config *cfg, FILE *f);

struct setting {
  const char *name; /* the environment variable */
  enum kind kind;
  size_t off;             /* offsetof the field in struct config */
  size_t size;            /* sizeof the field (room of a string) */
  double lo, hi;          /* numbers: the accepted range */
  unsigned flags;         /* SECRET, NONEMPTY, URL_MASK, TRUE_FALSE */
  const char *def;        /* default as written in the environment; NULL: zero
                           * (HTTP_THREADS: set by config_defaults) */
  setting_parse_fn parse; /* NULL: the kind's reading */
  setting_print_fn print; /* NULL: the kind's printing */
  const char *help;
};

/* The field of a row, typed: a row whose kind does not match its field's
 * type does not compile. */
#define FIELD(f, T)                                                            \
  _Generic(((struct config *)0)->f, T : offsetof(struct config, f))
#define FSIZE(f) sizeof(((struct config *)0)->f)

#define ROW(name, kind, off, f, lo, hi, flags, def, parse, print, help)        \
  {                                                                            \
    name, kind, off, FSIZE(f), lo, hi, flags, def, parse, print, help          \
  }

/* clang-format off */
#define DOUBLE(name, f, lo, hi, def, help) \
  ROW(name, KIND_DOUBLE, FIELD(f, double), f, lo, hi, 0, def, NULL, NULL, help)
#define UINT(name, f, lo, hi, def, help) \
  ROW(name, KIND_UINT, FIELD(f, unsigned), f, lo, hi, 0, def, NULL, NULL, help)
#define SIZE(name, f, lo, hi, def, help) \
  ROW(name, KIND_SIZE, FIELD(f, size_t), f, lo, hi, 0, def, NULL, NULL, help)
#define INT(name, f, lo, hi, def, help) \
  ROW(name, KIND_INT, FIELD(f, int), f, lo, hi, 0, def, NULL, NULL, help)
#define BOOL(name, f, flags, def, help) \
  ROW(name, KIND_BOOL, FIELD(f, bool), f, 0, 0, flags, def, NULL, NULL, help)
#define STR(name, f, flags, def, parse, help) \
  ROW(name, KIND_STR, FIELD(f, char *), f, 0, 0, flags, def, parse, NULL, help)
#define OTHER(name, f, def, parse, print, help) \
  ROW(name, KIND_OTHER, offsetof(struct config, f), f, 0, 0, 0, def, parse, \
      print, help)
/* clang-format on */

static void *field(const struct setting *s, struct config *cfg)
{
  return (char *)cfg + s->off;
}

static const void *cfield(const struct setting *s, const struct config *cfg)
{
  return (const char *)cfg + s->off;
}

/* Reads v as the row's kind says. */
static enum err read_kind(const struct setting *s, struct config *cfg,
                          const char *v, char *err, size_t errlen)
{
  void *p = field(s, cfg);
  unsigned long n;
  switch (s->kind) {
  case KIND_DOUBLE:
    return parse_double(s->name, v, s->lo, s->hi, p, err, errlen);
  case KIND_UINT:
  case KIND_SIZE:
  case KIND_INT:
    if (parse_ulong(s->name, v, (unsigned long)s->lo, (unsigned long)s->hi, &n,
                    err, errlen))
      return ERR_INVALID;
    /* The bounds of every row fit its field's type. */
    if (s->kind == KIND_UINT)
      *(unsigned *)p = (unsigned)n;
    else if (s->kind == KIND_SIZE)
      *(size_t *)p = n;
    else
      *(int *)p = (int)n;
    return ERR_OK;
  case KIND_BOOL:
    return parse_bool(s->name, v, p, err, errlen);
  case KIND_STR:
    if (strlen(v) >= s->size || ((s->flags & NONEMPTY) && !*v)) {
      snprintf(err, errlen, "%s: %s", s->name,
               *v ? "value too long" : "must not be empty");
      return ERR_INVALID;
    }
    copy(p, s->size, v);
    return ERR_OK;
  case KIND_OTHER:
    break;
  }
  assert(!"a KIND_OTHER row without a parse hook");
  return ERR_INTERNAL;
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

static void print_kind(const struct setting *s, const struct config *cfg,
                       FILE *f)
{
  const void *p = cfield(s, cfg);
  switch (s->kind) {
  case KIND_DOUBLE:
    fprintf(f, "%g", *(const double *)p);
    break;
  case KIND_UINT:
    fprintf(f, "%u", *(const unsigned *)p);
    break;
  case KIND_SIZE:
    fprintf(f, "%zu", *(const size_t *)p);
    break;
  case KIND_INT:
    fprintf(f, "%d", *(const int *)p);
    break;
  case KIND_BOOL:
    if (s->flags & TRUE_FALSE)
      fprintf(f, "%s", *(const bool *)p ? "true" : "false");
    else
      fprintf(f, "%s", *(const bool *)p ? "on" : "off");
    break;
  case KIND_STR:
    if (s->flags & SECRET)
      fprintf(f, "%s", *(const char *)p ? "********" : "");
    else if (s->flags & URL_MASK)
      print_masked_url(f, p);
    else
      fprintf(f, "%s", (const char *)p);
    break;
  case KIND_OTHER:
    assert(!"a KIND_OTHER row without a print hook");
    break;
  }
}

/* Hooks of the rows that read more than their kind. */

static enum err parse_detector(const struct setting *s, struct config *cfg,
                               const char *v, char *err, size_t errlen)
{
  if (!strcmp(v, "polarity"))
    cfg->detector = CONFIG_DETECTOR_POLARITY;
  else if (!strcmp(v, "model"))
    cfg->detector = CONFIG_DETECTOR_MODEL;
  else {
    snprintf(err, errlen, "%s: '%s' is not 'polarity' or 'model'", s->name, v);
    return ERR_INVALID;
  }
  return ERR_OK;
}

static void print_detector(const struct setting *s, const struct config *cfg,
                           FILE *f)
{
  (void)s;
  fprintf(f, "%s",
          cfg->detector == CONFIG_DETECTOR_MODEL ? "model" : "polarity");
}

static enum err parse_languages(const struct setting *s, struct config *cfg,
                                const char *v, char *err, size_t errlen)
{
  unsigned mask = 0;
  const char *p = v;
  for (;;) {
    size_t n = strcspn(p, ",");
    const char *w = p;
    size_t wn = n;
    while (wn && (*w == ' ' || *w == '\t'))
      w++, wn--;
    while (wn && (w[wn - 1] == ' ' || w[wn - 1] == '\t'))
      wn--;
    int l = wn ? lang_from_code(w, wn) : -1;
    if (l < 0 || l == LANG_OTHER) {
      snprintf(err, errlen,
               "%s: '%.*s' is not a supported language (en, fr, de, es, it, "
               "nl, pt)",
               s->name, (int)wn, w);
      return ERR_INVALID;
    }
    mask |= 1u << l;
    if (!p[n])
      break;
    p += n + 1;
  }
  cfg->languages = mask;
  return ERR_OK;
}

static void print_languages(const struct setting *s, const struct config *cfg,
                            FILE *f)
{
  (void)s;
  const char *sep = "";
  for (int l = 0; l < LANG_N; l++)
    if (cfg->languages & (1u << l)) {
      fprintf(f, "%s%s", sep, lang_code((enum lang)l));
      sep = ",";
    }
}

static enum err parse_model(const struct setting *s, struct config *cfg,
                            const char *v, char *err, size_t errlen)
{
  if (read_kind(s, cfg, v, err, errlen))
    return ERR_INVALID;
  if (*cfg->model_path && access(cfg->model_path, R_OK) != 0) {
    snprintf(err, errlen, "%s: cannot read '%s'", s->name, cfg->model_path);
    return ERR_INVALID;
  }
  return ERR_OK;
}

static enum err parse_levels(const struct setting *s, struct config *cfg,
                             const char *v, char *err, size_t errlen)
{
  (void)s;
  return config_parse_levels(cfg, v, err, errlen);
}

static void print_levels(const struct setting *s, const struct config *cfg,
                         FILE *f)
{
  (void)s;
  for (size_t i = 0; i < cfg->n_levels; i++) {
    const struct config_level *l = &cfg->levels[i];
    if (i == 0)
      fprintf(f, "%s::%s:%d", l->name, l->severity, l->sentiment);
    else
      fprintf(f, ",%s:%g:%s:%d", l->name, l->below, l->severity, l->sentiment);
  }
}

/* Read against the levels in force: FRUSTRATION_LEVELS comes earlier in
 * the table (and the value is read again once every setting is: see
 * levels_check). */
static enum err parse_model_levels(const struct setting *s,
                                   struct config *cfg, const char *v,
                                   char *err, size_t errlen)
{
  (void)s;
  return config_parse_model_levels(cfg, v, err, errlen);
}

static void print_model_levels(const struct setting *s,
                               const struct config *cfg, FILE *f)
{
  (void)s;
  fprintf(f, "%s", cfg->model_levels_spec);
}

static enum err parse_anger(const struct setting *s, struct config *cfg,
                            const char *v, char *err, size_t errlen)
{
  unsigned mask = 0;
  if (strcmp(v, "none")) {
    const char *p = v;
    for (;;) {
      size_t n = strcspn(p, ",");
      unsigned i = 0;
      while (i < CONFIG_ANGER_N &&
             (strlen(anger_names[i]) != n || strncmp(anger_names[i], p, n)))
        i++;
      if (i == CONFIG_ANGER_N && n == 4 && !strncmp(p, "none", 4)) {
        snprintf(err, errlen, "%s: 'none' turns every signal off: alone",
                 s->name);
        return ERR_INVALID;
      }
      if (i == CONFIG_ANGER_N) {
        snprintf(err, errlen,
                 "%s: '%.*s' is not shouting, exclamations, escalation or "
                 "insults (or none)",
                 s->name, (int)n, p);
        return ERR_INVALID;
      }
      mask |= 1u << i;
      if (!p[n])
        break;
      p += n + 1;
    }
  }
  cfg->anger_signals = mask;
  return ERR_OK;
}

static void print_anger(const struct setting *s, const struct config *cfg,
                        FILE *f)
{
  (void)s;
  const char *sep = "";
  if (!cfg->anger_signals)
    fprintf(f, "none");
  for (unsigned i = 0; i < CONFIG_ANGER_N; i++)
    if (cfg->anger_signals & (1u << i)) {
      fprintf(f, "%s%s", sep, anger_names[i]);
      sep = ",";
    }
}

static enum err parse_host(const struct setting *s, struct config *cfg,
                           const char *v, char *err, size_t errlen)
{
  if (!*v || strlen(v) >= sizeof cfg->host) {
    snprintf(err, errlen, "%s: '%s' is not a host name or address", s->name, v);
    return ERR_INVALID;
  }
  copy(cfg->host, sizeof cfg->host, v);
  return ERR_OK;
}

static enum err parse_api_token(const struct setting *s, struct config *cfg,
                                const char *v, char *err, size_t errlen)
{
  if (strlen(v) >= sizeof cfg->api_token || strchr(v, ' ')) {
    snprintf(err, errlen, "%s: must be at most %zu characters without spaces",
             s->name, sizeof cfg->api_token - 1);
    return ERR_INVALID;
  }
  copy(cfg->api_token, sizeof cfg->api_token, v);
  return ERR_OK;
}

static enum err parse_log_level(const struct setting *s, struct config *cfg,
                                const char *v, char *err, size_t errlen)
{
  if (strcmp(v, "debug") && strcmp(v, "info") && strcmp(v, "warn") &&
      strcmp(v, "error")) {
    snprintf(err, errlen, "%s: '%s' is not debug, info, warn or error", s->name,
             v);
    return ERR_INVALID;
  }
  copy(cfg->log_level, sizeof cfg->log_level, v);
  return ERR_OK;
}

/* The level must be one of the levels in force: FRUSTRATION_LEVELS comes
 * earlier in the table. */
static enum err parse_min_level(const struct setting *s, struct config *cfg,
                                const char *v, char *err, size_t errlen)
{
  if (read_kind(s, cfg, v, err, errlen))
    return ERR_INVALID;
  for (size_t i = 0; i < cfg->n_levels; i++)
    if (!strcmp(cfg->levels[i].name, cfg->alert_min_level_name)) {
      cfg->alert_min_level = i;
      return ERR_OK;
    }
  snprintf(err, errlen, "%s: '%s' is not one of the levels", s->name,
           cfg->alert_min_level_name);
  return ERR_INVALID;
}

/* An http:// or https:// URL, kept without trailing slashes (paths are
 * appended to it). */
static enum err parse_devrev_url(const struct setting *s, struct config *cfg,
                                 const char *v, char *err, size_t errlen)
{
  if (read_kind(s, cfg, v, err, errlen))
    return ERR_INVALID;
  if (strncmp(cfg->devrev_url, "https://", 8) &&
      strncmp(cfg->devrev_url, "http://", 7)) {
    snprintf(err, errlen, "%s: '%s' is not an http:// or https:// URL", s->name,
             cfg->devrev_url);
    return ERR_INVALID;
  }
  size_t len = strlen(cfg->devrev_url);
  while (len > 8 && cfg->devrev_url[len - 1] == '/')
    cfg->devrev_url[--len] = '\0';
  return ERR_OK;
}

/* A DevRev API version: a date "YYYY-MM-DD", or "beta" (DevRev's two
 * forms; the header's value is sent as it is). */
static enum err parse_api_version(const struct setting *s, struct config *cfg,
                                  const char *v, char *err, size_t errlen)
{
  static const char shape[] = "dddd-dd-dd";
  if (read_kind(s, cfg, v, err, errlen))
    return ERR_INVALID;
  bool ok = !strcmp(v, "beta");
  if (!ok && strlen(v) == sizeof shape - 1) {
    ok = true;
    for (size_t i = 0; shape[i]; i++)
      if (shape[i] == 'd' ? !isdigit((unsigned char)v[i]) : v[i] != shape[i])
        ok = false;
  }
  if (!ok) {
    snprintf(err, errlen,
             "%s: '%s' is not a version date (YYYY-MM-DD) or \"beta\"", s->name,
             v);
    return ERR_INVALID;
  }
  return ERR_OK;
}

/* Every setting, in check-config's order. A new setting is a field in
 * struct config and one row here. */
static const struct setting settings[] = {
    /* Scoring */
    DOUBLE("FRUSTRATION_THRESHOLD", threshold, -1.0, 1.0, "-0.3",
           "frustrated when polarity < this (the original rule)"),
    OTHER("FRUSTRATION_DETECTOR", detector, "model", parse_detector,
          print_detector,
          "model (the multilingual model) or polarity (the original "
          "English TextBlob rule)"),
    OTHER("FRUSTRATION_LANGUAGES", languages, "en,fr,de,es,it,nl,pt",
          parse_languages, print_languages,
          "languages scored with their own signals; others: emoji, "
          "punctuation and capitals only"),
    STR("FRUSTRATION_MODEL", model_path, 0, NULL, parse_model,
        "the model's weights file; empty: built in"),
    OTHER("FRUSTRATION_LEVELS", levels,
          "calm::low:3,dissatisfied:-0.1:medium:4,frustrated:-0.3:high:5,"
          "angry:-0.6:blocker:5",
          parse_levels, print_levels,
          "ordered levels name:bound:severity:sentiment,..."),
    OTHER("FRUSTRATION_MODEL_LEVELS", model_levels_spec,
          "dissatisfied:0.3,frustrated:threshold,angry:0.98",
          parse_model_levels, print_model_levels,
          "with the model: the score from which each level starts "
          "(name:score|threshold,...), or polarity"),
    OTHER("FRUSTRATION_ANGER_SIGNALS", anger_signals,
          "shouting,exclamations,escalation,insults", parse_anger,
          print_anger,
          "with the model: signals that raise a frustrated message one "
          "level; none: off"),
    /* HTTP */
    STR("HOST", host, 0, "127.0.0.1", parse_host, "address to listen on"),
    UINT("PORT", port, 0, 65535, "8080", "port to listen on; 0: ephemeral"),
    SIZE("MAX_BODY_BYTES", max_body_bytes, 256, 64ul << 20, "65536",
         "request body limit, bytes"),
    INT("MAX_JSON_DEPTH", max_json_depth, 2, 1000, "32", "JSON nesting limit"),
    SIZE("MAX_BATCH", max_batch, 1, 100000, "1000", "messages per batch"),
    UINT("HTTP_THREADS", threads, 1, 256, NULL,
         "HTTP thread pool; default: the number of cores"),
    UINT("MAX_CONNECTIONS", max_connections, 1, 100000, "512",
         "connection limit"),
    UINT("MAX_CONNECTIONS_PER_IP", max_per_ip, 1, 100000, "256",
         "connection limit per source address"),
    UINT("IDLE_TIMEOUT", idle_timeout_s, 1, 3600, "30",
         "seconds before an idle connection is closed"),
    UINT("REQUEST_TIMEOUT_MS", request_timeout_ms, 100, 600000, "10000",
         "total time a request may take to arrive, ms"),
    STR("API_TOKEN", api_token, SECRET, NULL, parse_api_token,
        "bearer token the API needs; empty: not required"),
    BOOL("METRICS_REQUIRE_TOKEN", metrics_auth, 0, "off",
         "/metrics also needs API_TOKEN"),
    /* Request signatures; empty: that check is off */
    STR("WEBHOOK_SECRET", webhook_secret, SECRET, NULL, NULL,
        "key of /webhook's X-Signature-256 (HMAC-SHA256)"),
    STR("DEVREV_WEBHOOK_SECRET", devrev_webhook_secret, SECRET, NULL, NULL,
        "key of DevRev's X-DevRev-Signature on /webhook"),
    STR("SLACK_SIGNING_SECRET", slack_signing_secret, SECRET, NULL, NULL,
        "Slack forms need Slack's v0 signature"),
    UINT("SIGNATURE_MAX_AGE", signature_max_age_s, 1, 86400, "300",
         "seconds a Slack or DevRev timestamp may be off"),
    /* Abuse limits */
    UINT("RATE_LIMIT", rate_limit, 0, 1000000, "50",
         "requests per second per source address; 0: off"),
    UINT("RATE_LIMIT_BURST", rate_limit_burst, 1, 1000000, "100",
         "burst of requests per source address"),
    BOOL("RATE_LIMIT_LOOPBACK", rate_limit_loopback, 0, "off",
         "also limit loopback peers"),
    SIZE("MAX_HEADER_BYTES", max_header_bytes, 1024, 1ul << 20, "8192",
         "request header limit, bytes"),
    STR("TLS_CERT", tls_cert, 0, NULL, NULL,
        "PEM certificate: serve HTTPS (--tls-cert)"),
    STR("TLS_KEY", tls_key, 0, NULL, NULL, "PEM key file (--tls-key)"),
    /* DevRev events received on /webhook */
    STR("DEVREV_SELF_ID", devrev_self_id, 0, NULL, NULL,
        "the service's own DevRev user (its events are ignored)"),
    BOOL("DEVREV_COMMENT_SOURCE", devrev_comment_source, 0, "on",
         "an alert from a DevRev message comments on its source"),
    BOOL("DEVREV_SOURCE_TICKET", devrev_source_ticket, 0, "off",
         "such an alert also opens an alert ticket"),
    BOOL("DEVREV_UPDATE_SEVERITY", devrev_update_severity, 0, "off",
         "set the source ticket's severity to the alert's level"),
    BOOL("DEVREV_UPDATE_SENTIMENT", devrev_update_sentiment, 0, "off",
         "set the source ticket's sentiment to the alert's level"),
    /* Logs */
    BOOL("LOG_MESSAGE_TEXT", log_text, TRUE_FALSE, "false",
         "include message text in logs"),
    STR("LOG_LEVEL", log_level, 0, "info", parse_log_level,
        "debug, info, warn or error"),
    /* Store and alert policy */
    STR("DATABASE_URL", database_url, NONEMPTY | URL_MASK,
        "./var/frustration.db", NULL,
        "where alerts and messages are stored: a SQLite file (PATH, "
        "sqlite:PATH) or postgres://... for several instances"),
    UINT("ALERT_COOLDOWN", alert_cooldown_s, 0, 30ul * 86400, "1800",
         "seconds a customer's open alert takes more messages"),
    STR("ALERT_MIN_LEVEL", alert_min_level_name, NONEMPTY, "frustrated",
        parse_min_level, "the lowest level that opens an alert"),
    UINT("MESSAGE_TEXT_RETENTION_DAYS", text_retention_days, 0, 36500, "0",
         "forget message text after N days; 0: keep"),
    /* Escalation over each customer's recent scores */
    BOOL("ESCALATION", escalation, 0, "on",
         "raise levels from a customer's recent messages"),
    UINT("ESCALATE_WINDOW", escalate_window_s, 1, 7ul * 86400, "600",
         "how far back the escalation rules look, seconds"),
    /* The store keeps a customer's last 20 scores (STORE_WINDOW_MAX): a
     * count above that could never be reached. */
    UINT("ESCALATE_NEGATIVE_COUNT", escalate_negative_count, 1, 20, "3",
         "negative messages in the window that escalate"),
    UINT("ESCALATE_REPEAT_COUNT", escalate_repeat_count, 1, 20, "3",
         "messages on one conversation that escalate"),
    DOUBLE("ESCALATE_DROP", escalate_drop, 0.0, 2.0, "0.5",
           "fall below the window's mean polarity that escalates"),
    /* DevRev delivery; no token: record-only mode */
    STR("DEVREV_API_TOKEN", devrev_token, SECRET, NULL, NULL,
        "DevRev API token; empty: record alerts only"),
    STR("DEVREV_API_URL", devrev_url, NONEMPTY, "https://api.devrev.ai",
        parse_devrev_url, "DevRev API base URL"),
    STR("DEVREV_PART_ID", devrev_part_id, 0, NULL, NULL,
        "part of alert tickets (e.g. PROD-1); needed with a token"),
    STR("DEVREV_OWNER_ID", devrev_owner_id, 0, NULL, NULL,
        "owner of alert tickets (e.g. DEVU-1); needed with a token"),
    STR("DEVREV_TAG_ID", devrev_tag_id, 0, NULL, NULL,
        "tag put on alert tickets; optional"),
    UINT("DEVREV_TIMEOUT_MS", devrev_timeout_ms, 100, 600000, "10000",
         "milliseconds a DevRev call may take"),
    STR("DEVREV_API_VERSION", devrev_api_version, NONEMPTY, "2024-01-24",
        parse_api_version, "DevRev API version: YYYY-MM-DD or beta"),
    UINT("OUTBOX_BACKOFF_BASE_MS", outbox_backoff_base_ms, 1, 3600000, "1000",
         "first retry delay of a delivery, ms"),
    UINT("OUTBOX_BACKOFF_MAX_MS", outbox_backoff_max_ms, 1, 86400000, "300000",
         "longest retry delay, ms"),
    UINT("OUTBOX_LEASE_MS", outbox_lease_ms, 1000, 86400000, "300000",
         "how long a claimed delivery is kept from other workers, ms"),
    UINT("DEVREV_RETRY_AFTER_MAX", devrev_retry_after_max_s, 1, 86400, "300",
         "longest pause for a 429's Retry-After, seconds"),
};

#define N_SETTINGS (sizeof settings / sizeof settings[0])

static enum err read_setting(const struct setting *s, struct config *cfg,
                             const char *v, char *err, size_t errlen)
{
  return s->parse ? s->parse(s, cfg, v, err, errlen)
                  : read_kind(s, cfg, v, err, errlen);
}

void config_defaults(struct config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  for (size_t i = 0; i < N_SETTINGS; i++) {
    if (!settings[i].def)
      continue;
    char err[256];
    enum err rc =
        read_setting(&settings[i], cfg, settings[i].def, err, sizeof err);
    assert(rc == ERR_OK && "every default passes its own row's checks");
    (void)rc;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  cfg->threads = n > 0 && n < 64 ? (unsigned)n : 2;
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

/* Checks of the alert policy and DevRev delivery across settings. */
static enum err alerts_check(struct config *cfg, char *err, size_t errlen)
{
  /* ALERT_MIN_LEVEL unset and custom levels without its default: the
   * detector alone decides (index 0). */
  cfg->alert_min_level = 0;
  bool found = false;
  for (size_t i = 0; i < cfg->n_levels && !found; i++)
    if (!strcmp(cfg->levels[i].name, cfg->alert_min_level_name)) {
      cfg->alert_min_level = i;
      found = true;
    }
  if (!found)
    copy(cfg->alert_min_level_name, sizeof cfg->alert_min_level_name,
         cfg->levels[0].name);
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
  if (cfg->outbox_lease_ms <= cfg->devrev_timeout_ms) {
    snprintf(err, errlen,
             "OUTBOX_LEASE_MS (%u) must be above DEVREV_TIMEOUT_MS (%u): a "
             "lease that ends during its request lets another worker send "
             "the same entry",
             cfg->outbox_lease_ms, cfg->devrev_timeout_ms);
    return ERR_INVALID;
  }
  if (cfg->outbox_backoff_max_ms < cfg->outbox_backoff_base_ms) {
    snprintf(err, errlen,
             "OUTBOX_BACKOFF_MAX_MS (%u) is below OUTBOX_BACKOFF_BASE_MS (%u)",
             cfg->outbox_backoff_max_ms, cfg->outbox_backoff_base_ms);
    return ERR_INVALID;
  }
  return ERR_OK;
}

/* FRUSTRATION_MODEL_LEVELS again, against the levels finally in force.
 * A value read from the environment was checked against them already; the
 * default may not fit custom FRUSTRATION_LEVELS (other names): levels then
 * come from polarity, as before the model had levels of its own. */
static void levels_check(struct config *cfg)
{
  char err[256];
  char spec[sizeof cfg->model_levels_spec];
  copy(spec, sizeof spec, cfg->model_levels_spec);
  if (config_parse_model_levels(cfg, spec, err, sizeof err) &&
      config_parse_model_levels(cfg, "polarity", err, sizeof err))
    assert(!"polarity is always a valid FRUSTRATION_MODEL_LEVELS");
}

enum err config_from_env(struct config *cfg, char *err, size_t errlen)
{
  for (size_t i = 0; i < N_SETTINGS; i++) {
    const char *v = getenv(settings[i].name);
    if (v && read_setting(&settings[i], cfg, v, err, errlen))
      return ERR_INVALID;
  }
  if (alerts_check(cfg, err, errlen))
    return ERR_INVALID;
  levels_check(cfg);
  return security_check(cfg, err, errlen);
}

void config_print(const struct config *cfg, void *file)
{
  FILE *f = file;
  for (size_t i = 0; i < N_SETTINGS; i++) {
    const struct setting *s = &settings[i];
    fprintf(f, "%s=", s->name);
    if (s->print)
      s->print(s, cfg, f);
    else
      print_kind(s, cfg, f);
    fputc('\n', f);
  }
}

void config_describe(void *file)
{
  FILE *f = file;
  for (size_t i = 0; i < N_SETTINGS; i++) {
    const struct setting *s = &settings[i];
    fprintf(f, "  %-28s %s%s\n", s->name, s->help,
            (s->flags & SECRET) ? " (secret)" : "");
  }
}
