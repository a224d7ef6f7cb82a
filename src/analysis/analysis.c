/* analysis: verdict, level and report of one scored message. */
#include "analysis/analysis.h"

#include "detector/model_file.h"

#include <math.h>

void analysis_compute(const struct config *cfg, const struct polarity_result *r,
                      struct analysis *a)
{
  a->polarity = r->polarity;
  a->subjectivity = r->subjectivity;
  /* The original service's rule, kept exactly: strictly below. */
  a->frustrated = r->polarity < cfg->threshold;
  a->level = config_level_for(cfg, r->polarity);
  a->scores = r;
  a->model = NULL;
}

enum err analysis_run(const struct config *cfg, const struct lexicon *lx,
                      const struct detector *d, const char *text, size_t len,
                      struct polarity_result *pr, struct detector_result *dr,
                      struct analysis *a)
{
  enum err rc = polarity_analyze(lx, text, len, pr);
  analysis_compute(cfg, pr, a);
  if (rc || !d)
    return rc;
  rc =
      detector_score(d, text, len, LANG_EN, pr->polarity, pr->subjectivity, dr);
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
  jsonw_kv_double(w, "polarity", a->polarity);
  jsonw_kv_double(w, "subjectivity", a->subjectivity);
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
    /* The model decided: say so, with the reasons it gives. */
    enum err rc = buf_printf(
        out, "%s - model score %.2f (threshold %.2f), polarity %.2f, level %s",
        verdict, a->model->score, a->model->threshold, a->polarity, level);
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
