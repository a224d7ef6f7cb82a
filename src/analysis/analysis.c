/* analysis: language, verdict, level and report of one scored message. */
#include "analysis/analysis.h"

#include "base/utf8.h"
#include "detector/model_file.h"

#include <ctype.h>
#include <math.h>
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
  a->scores = r;
  a->model = NULL;
}

enum err analysis_run(const struct config *cfg,
                      const struct analysis_lexicons *lxs,
                      const struct detector *d, const char *given_lang,
                      const char *text, size_t len, struct polarity_result *pr,
                      struct detector_result *dr, struct analysis *a)
{
  analysis_language(cfg, given_lang, text, len, a);
  enum err rc = analysis_polarity(cfg, lxs, a, text, len, false, pr);
  analysis_compute(cfg, pr, a);
  if (rc || !d)
    return rc;
  rc =
      detector_score(d, text, len, a->lang, pr->polarity, pr->subjectivity, dr);
  if (rc)
    return rc;
  analysis_apply_model(cfg, a, dr);
  return ERR_OK;
}

void analysis_apply_model(const struct config *cfg, struct analysis *a,
                          const struct detector_result *dr)
{
  a->model = dr;
  if (cfg->detector != CONFIG_DETECTOR_MODEL)
    return;
  a->frustrated = dr->frustrated;
  /* Levels are defined on polarity; a message the model finds frustrated
   * must still reach the level at which alerts start. */
  if (a->frustrated && a->level < cfg->alert_min_level &&
      cfg->alert_min_level < cfg->n_levels)
    a->level = cfg->alert_min_level;
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

enum err analysis_describe(const struct config *cfg, const struct analysis *a,
                           struct buf *out)
{
  const char *level = cfg->levels[a->level].name;
  const char *verdict = a->frustrated ? "Frustrated" : "Not frustrated";
  if (cfg->detector == CONFIG_DETECTOR_MODEL && a->model) {
    /* The model decided: say so, with the language and the reasons. */
    enum err rc =
        a->lang != LANG_OTHER
            ? buf_printf(out, "%s - %s, model score %.2f (threshold %.2f)",
                         verdict, lang_name(a->lang), a->model->score,
                         a->model->threshold)
            : buf_printf(out,
                         "%s - language '%s' not supported, model score "
                         "%.2f (threshold %.2f)",
                         verdict, a->language, a->model->score,
                         a->model->threshold);
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
