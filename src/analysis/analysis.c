/* analysis: language, verdict, level and report of one scored message. */
#include "analysis/analysis.h"

#include "base/utf8.h"
#include "detector/model_file.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

enum err analysis_lexicons_new(struct analysis_lexicons *out)
{
  static const struct {
    enum lang lang;
    enum lexicon_lang lexicon;
  } have[] = {{LANG_EN, LEXICON_EN},
              {LANG_FR, LEXICON_FR},
              {LANG_IT, LEXICON_IT},
              {LANG_NL, LEXICON_NL}};
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < sizeof have / sizeof have[0]; i++) {
    enum err rc = lexicon_new(have[i].lexicon, &out->by_lang[have[i].lang]);
    if (rc) {
      analysis_lexicons_free(out);
      return rc;
    }
  }
  return ERR_OK;
}

void analysis_lexicons_free(struct analysis_lexicons *l)
{
  if (!l)
    return;
  for (size_t i = 0; i < LANG_N; i++)
    lexicon_free(l->by_lang[i]);
  memset(l, 0, sizeof *l);
}

/* A BCP 47-like tag: a primary subtag of 2 or 3 ASCII letters, then
 * optional subtags of 1 to 8 letters or digits after '-' or '_'. */
bool analysis_lang_valid(const char *s)
{
  size_t n = 0;
  while (isalpha((unsigned char)s[n]))
    n++;
  if (n < 2 || n > 3)
    return false;
  while (s[n]) {
    if (s[n] != '-' && s[n] != '_')
      return false;
    size_t k = 0;
    n++;
    while (isalnum((unsigned char)s[n + k]))
      k++;
    if (k < 1 || k > 8)
      return false;
    n += k;
  }
  return true;
}

void analysis_language(const struct config *cfg, const char *given_lang,
                       const char *text, size_t len, struct analysis *a)
{
  int l;
  if (given_lang && analysis_lang_valid(given_lang)) {
    size_t n = strspn(given_lang, "abcdefghijklmnopqrstuvwxyz"
                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    for (size_t i = 0; i < n; i++)
      a->language[i] = (char)tolower((unsigned char)given_lang[i]);
    a->language[n] = '\0';
    a->language_given = true;
    l = lang_from_code(given_lang, strlen(given_lang));
  } else {
    struct lang_guess g;
    lang_detect(text, len, &g);
    memcpy(a->language, g.code, sizeof a->language);
    a->language[sizeof a->language - 1] = '\0';
    a->language_given = false;
    l = (int)g.lang;
  }
  a->lang = l >= 0 && l < LANG_N && (cfg->languages & (1u << l)) ? (enum lang)l
                                                                 : LANG_OTHER;
}

enum err analysis_polarity(const struct config *cfg,
                           const struct analysis_lexicons *lxs,
                           struct analysis *a, const char *text, size_t len,
                           bool valid, struct polarity_result *pr)
{
  /* The original rule is English TextBlob on every text, exactly. */
  enum lang l = cfg->detector == CONFIG_DETECTOR_POLARITY ? LANG_EN : a->lang;
  const struct lexicon *lx = l < LANG_N ? lxs->by_lang[l] : NULL;
  a->polarity_lang = lx ? l : LANG_OTHER;
  if (lx)
    return valid ? polarity_analyze_valid(lx, text, len, pr)
                 : polarity_analyze(lx, text, len, pr);
  /* No lexicon: the scores of an empty text (0, 0, nothing assessed). */
  enum err rc = polarity_analyze_valid(lxs->by_lang[LANG_EN], "", 0, pr);
  if (!rc && !valid && !utf8_is_valid(text, len))
    rc = ERR_UTF8;
  return rc;
}

enum err analysis_model_polarity(const struct config *cfg,
                                 const struct analysis_lexicons *lxs,
                                 struct analysis *a, const char *text,
                                 size_t len, const char *own, size_t own_len,
                                 const struct polarity_result *pr,
                                 double *polarity, double *subjectivity)
{
  *polarity = pr->polarity;
  *subjectivity = pr->subjectivity;
  if (own == text && own_len >= len)
    return ERR_OK;
  /* Rare (a mail reply quoting a mail, a pasted log): a result of its
   * own, for once. */
  struct polarity_result own_pr;
  polarity_result_init(&own_pr);
  enum lang was = a->polarity_lang;
  enum err rc = analysis_polarity(cfg, lxs, a, own, own_len, true, &own_pr);
  a->polarity_lang = was;
  if (!rc) {
    *polarity = own_pr.polarity;
    *subjectivity = own_pr.subjectivity;
  }
  polarity_result_cleanup(&own_pr);
  return rc;
}

void analysis_compute(const struct config *cfg, const struct polarity_result *r,
                      struct analysis *a)
{
  a->polarity = r->polarity;
  a->subjectivity = r->subjectivity;
  /* The original service's rule, kept exactly: strictly below. Without a
   * lexicon there is no polarity to judge. */
  a->rule_frustrated =
      a->polarity_lang != LANG_OTHER && r->polarity < cfg->threshold;
  a->frustrated = a->rule_frustrated;
  a->level = config_level_for(cfg, r->polarity);
  a->level_by = ANALYSIS_LEVEL_POLARITY;
  a->anger_used = 0;
  a->scores = r;
  a->model = NULL;
}

enum err analysis_run(const struct config *cfg,
                      const struct analysis_lexicons *lxs,
                      const struct detector *d, const char *given_lang,
                      const char *text, size_t len, struct polarity_result *pr,
                      struct detector_result *dr, struct analysis *a)
{
  /* The language and the model's polarity are the writer's own words';
   * the original rule's polarity is the whole text's, as TextBlob's. */
  struct buf scratch; /* allocates only when the words are copied */
  buf_init(&scratch, 0);
  size_t own_len = len;
  const char *own =
      d ? detector_own_words(text, len, &scratch, &own_len) : text;
  analysis_language(cfg, given_lang, own, own_len, a);
  enum err rc = analysis_polarity(cfg, lxs, a, text, len, false, pr);
  analysis_compute(cfg, pr, a);
  if (rc || !d)
    goto out;
  double pol, subj;
  rc = analysis_model_polarity(cfg, lxs, a, text, len, own, own_len, pr, &pol,
                               &subj);
  if (!rc)
    rc = detector_score(d, text, len, a->lang, pol, subj, dr);
  if (!rc)
    analysis_apply_model(cfg, a, dr);
out:
  buf_cleanup(&scratch);
  return rc;
}

/* Insults and the strongest words: two strong complaint phrases, or a
 * word at -3 or worse on the sentiment lexicon's -4..4 scale after its
 * rules (VADER_MIN holds the most negative word's valence / 4). One
 * strong phrase alone is not enough: the category also holds milder
 * words ("disappointed", "poor"). */
#define ANGER_STRONG_PHRASES 2
#define ANGER_WORD_VALENCE (-3.0 / 4.0)

unsigned analysis_anger_signals(const struct detector_result *dr)
{
  const double *x = dr->features.dense;
  unsigned s = 0;
  /* Capitals as the reasons read them: acronyms, codes and redaction
   * masks ("LAX", "A320", "XXXX") are not shouting, though the model's
   * own capitals signal counts them. */
  if (dr->shouting)
    s |= CONFIG_ANGER_SHOUTING;
  if (x[DETECTOR_DENSE_EXCLAIM_MULTI] > 0)
    s |= CONFIG_ANGER_EXCLAIM;
  if (x[DETECTOR_DENSE_SUP_ESCALATE] > 0)
    s |= CONFIG_ANGER_ESCALATION;
  /* Support counts are log1p(count). */
  if (x[DETECTOR_DENSE_SUP_STRONG] >= log1p(ANGER_STRONG_PHRASES) - 1e-9 ||
      x[DETECTOR_DENSE_VADER_MIN] <= ANGER_WORD_VALENCE)
    s |= CONFIG_ANGER_INSULTS;
  return s;
}

void analysis_apply_model(const struct config *cfg, struct analysis *a,
                          const struct detector_result *dr)
{
  a->model = dr;
  if (cfg->detector != CONFIG_DETECTOR_MODEL)
    return;
  a->frustrated = dr->frustrated;
  if (cfg->model_levels_polarity) {
    /* Levels are defined on polarity; a message the model finds
     * frustrated must still reach the level at which alerts start. */
    if (a->frustrated && a->level < cfg->alert_min_level &&
        cfg->alert_min_level < cfg->n_levels) {
      a->level = cfg->alert_min_level;
      a->level_by = ANALYSIS_LEVEL_LIFTED;
    }
    return;
  }
  /* The score places the message; the verdict has the last word on which
   * side of the verdict level it is, so that a level at or above it always
   * means the model found the message frustrated (and, with the default
   * ALERT_MIN_LEVEL, that it raises an alert). */
  a->level = config_model_level_for(cfg, dr->score, dr->threshold);
  a->level_by = ANALYSIS_LEVEL_SCORE;
  size_t v = config_verdict_level(cfg);
  if (a->frustrated && a->level < v) {
    a->level = v;
    a->level_by = ANALYSIS_LEVEL_VERDICT;
  } else if (!a->frustrated && v > 0 && a->level >= v) {
    a->level = v - 1;
    a->level_by = ANALYSIS_LEVEL_VERDICT;
  }
  a->anger_used = analysis_anger_signals(dr) & cfg->anger_signals;
  if (a->frustrated && a->anger_used && a->level + 1 < cfg->n_levels) {
    a->level++;
    a->level_by = ANALYSIS_LEVEL_ANGER;
  } else {
    a->anger_used = 0;
  }
}

enum err analysis_detector_new(const struct config *cfg, bool batch,
                               struct detector **out)
{
  *out = NULL;
  if (cfg->detector != CONFIG_DETECTOR_MODEL)
    return ERR_OK;
  struct detector_model *m = NULL;
  enum err rc = detector_model_load(cfg->model_path, &m);
  if (!rc)
    rc = batch ? detector_new_batch(m, out) : detector_new(m, out);
  detector_model_free(m);
  return rc;
}

void analysis_write_fields(const struct config *cfg, const struct analysis *a,
                           struct jsonw *w)
{
  jsonw_kv_string(w, "language", a->language);
  jsonw_kv_bool(w, "language_supported", a->lang != LANG_OTHER);
  jsonw_kv_string(w, "language_source",
                  a->language_given ? "given" : "detected");
  jsonw_kv_double(w, "polarity", a->polarity);
  jsonw_kv_double(w, "subjectivity", a->subjectivity);
  jsonw_key(w, "polarity_lexicon");
  if (a->polarity_lang != LANG_OTHER)
    jsonw_string(w, lang_code(a->polarity_lang));
  else
    jsonw_null(w);
  jsonw_key(w, "rule_frustrated");
  if (a->polarity_lang != LANG_OTHER)
    jsonw_bool(w, a->rule_frustrated);
  else
    jsonw_null(w);
  jsonw_kv_bool(w, "frustrated", a->frustrated);
  jsonw_kv_double(w, "threshold", cfg->threshold);
  jsonw_kv_string(w, "level", cfg->levels[a->level].name);
  if (a->level_by >= ANALYSIS_LEVEL_SCORE) {
    char why[ANALYSIS_LEVEL_REASON_MAX];
    analysis_level_reason(cfg, a, why, sizeof why);
    jsonw_kv_string(w, "level_reason", why);
  }
  jsonw_key(w, "detector");
  jsonw_string(w,
               cfg->detector == CONFIG_DETECTOR_MODEL ? "model" : "polarity");
  if (a->model)
    detector_write_json(a->model, w);
  jsonw_key(w, "assessments");
  jsonw_array_begin(w);
  for (size_t i = 0; i < a->scores->n_assessments; i++) {
    const struct polarity_assessment *as = &a->scores->assessments[i];
    jsonw_object_begin(w);
    jsonw_kv_string(w, "words", as->words);
    jsonw_kv_double(w, "polarity", as->polarity);
    jsonw_kv_double(w, "subjectivity", as->subjectivity);
    jsonw_object_end(w);
  }
  jsonw_array_end(w);
}

/* The assessments that pushed the verdict: those on the side of the score
 * (negative words for a negative score), strongest first, at most max.
 * Lists are short, so a repeated scan is simplest. */
static size_t deciding(const struct analysis *a, size_t *idx, size_t max)
{
  const struct polarity_result *r = a->scores;
  size_t n = 0;
  if (a->polarity == 0)
    return 0;
  while (n < max) {
    size_t best = r->n_assessments;
    for (size_t i = 0; i < r->n_assessments; i++) {
      double p = r->assessments[i].polarity;
      if (a->polarity < 0 ? p >= 0 : p <= 0)
        continue;
      bool taken = false;
      for (size_t k = 0; k < n; k++)
        taken = taken || idx[k] == i;
      if (taken)
        continue;
      if (best == r->n_assessments ||
          fabs(p) > fabs(r->assessments[best].polarity))
        best = i;
    }
    if (best == r->n_assessments)
      break;
    idx[n++] = best;
  }
  return n;
}

/* A model threshold or level bound as the text says it: two decimals, or
 * three when the third is not 0 (a threshold of 0.475 read as "0.47"
 * would seem to let a score of 0.47 through). "Not 0" allows for the
 * bound's binary rounding (0.475 is 0.47499999...). */
struct bound_text {
  char s[16];
};
static struct bound_text bound_text(double x)
{
  struct bound_text b;
  double c = x * 100.0;
  snprintf(b.s, sizeof b.s, fabs(c - round(c)) < 1e-4 ? "%.2f" : "%.3f", x);
  return b;
}

enum err analysis_describe(const struct config *cfg, const struct analysis *a,
                           struct buf *out)
{
  const char *level = cfg->levels[a->level].name;
  const char *verdict = a->frustrated ? "Frustrated" : "Not frustrated";
  if (cfg->detector == CONFIG_DETECTOR_MODEL && a->model) {
    /* The model decided: say so, with the language and the reasons. */
    enum err rc =
        a->lang != LANG_OTHER
            ? buf_printf(out, "%s - %s, model score %.2f (threshold %s)",
                         verdict, lang_name(a->lang), a->model->score,
                         bound_text(a->model->threshold).s)
            : buf_printf(out,
                         "%s - language '%s' not supported, model score "
                         "%.2f (threshold %s)",
                         verdict, a->language, a->model->score,
                         bound_text(a->model->threshold).s);
    if (!rc && a->polarity_lang != LANG_OTHER)
      rc = buf_printf(out, ", polarity %.2f", a->polarity);
    if (!rc)
      rc = buf_printf(out, ", level %s", level);
    for (size_t i = 0; i < a->model->n_reasons && !rc; i++)
      rc = buf_printf(out, "%s%s",
                      i ? "; " : ", because: ", a->model->reasons[i].text);
    return rc;
  }
  enum err rc = buf_printf(out, "%s - polarity %.2f (threshold %.2f), level %s",
                           verdict, a->polarity, cfg->threshold, level);
  size_t idx[ANALYSIS_MAX_WORDS];
  size_t n = deciding(a, idx, ANALYSIS_MAX_WORDS);
  if (!rc && n > 0)
    rc = buf_puts(out, ", driven by: ");
  for (size_t i = 0; i < n && !rc; i++)
    rc = buf_printf(out, "%s'%s'", i ? ", " : "",
                    a->scores->assessments[idx[i]].words);
  return rc;
}

enum err analysis_words(const struct analysis *a, struct buf *out)
{
  /* With the model (it only runs when configured), its reasons are what
   * decided, in words an agent understands. */
  if (a->model && a->model->n_reasons > 0) {
    enum err rc = ERR_OK;
    for (size_t i = 0; i < a->model->n_reasons && !rc; i++)
      rc = buf_printf(out, "%s%s", i ? "; " : "", a->model->reasons[i].text);
    return rc;
  }
  size_t idx[ANALYSIS_MAX_WORDS];
  size_t n = deciding(a, idx, ANALYSIS_MAX_WORDS);
  enum err rc = ERR_OK;
  for (size_t i = 0; i < n && !rc; i++)
    rc = buf_printf(out, "%s%s", i ? ", " : "",
                    a->scores->assessments[idx[i]].words);
  return rc;
}

/* What each anger signal is called in a level's reason. */
static const char *const anger_label[CONFIG_ANGER_N] = {
    "shouting (ALL CAPS)", "'!!'", "escalation or threat to leave",
    "insults or strongest words"};

void analysis_level_reason(const struct config *cfg, const struct analysis *a,
                           char *out, size_t cap)
{
  const struct detector_result *m = a->model;
  switch (a->level_by) {
  case ANALYSIS_LEVEL_POLARITY:
    snprintf(out, cap, "polarity %.2f", a->polarity);
    return;
  case ANALYSIS_LEVEL_LIFTED:
    snprintf(out, cap, "found frustrated by the model: at least %s",
             cfg->levels[a->level].name);
    return;
  case ANALYSIS_LEVEL_SCORE: {
    if (a->level == 0) {
      snprintf(out, cap, "model score %.2f, below every level's bound",
               m->score);
      return;
    }
    const struct config_model_level *ml = &cfg->model_levels[a->level];
    snprintf(out, cap, "model score %.2f >= %s%s", m->score,
             bound_text(config_model_level_from(ml, m->threshold)).s,
             ml->at_threshold ? " (the threshold)" : "");
    return;
  }
  case ANALYSIS_LEVEL_VERDICT:
    if (a->frustrated)
      snprintf(out, cap, "model score %.2f >= %s (the threshold)", m->score,
               bound_text(m->threshold).s);
    else
      snprintf(out, cap, "model score %.2f below the threshold %s",
               m->score, bound_text(m->threshold).s);
    return;
  case ANALYSIS_LEVEL_ANGER: {
    int n = snprintf(out, cap, "frustrated (model score %.2f), raised by: ",
                     m->score);
    const char *sep = "";
    for (unsigned i = 0; i < CONFIG_ANGER_N; i++)
      if (a->anger_used & (1u << i)) {
        size_t at = n > 0 && (size_t)n < cap ? (size_t)n : cap - 1;
        n += snprintf(out + at, cap - at, "%s%s", sep, anger_label[i]);
        sep = ", ";
      }
    return;
  }
  }
  snprintf(out, cap, "?");
}
