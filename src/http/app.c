/* app: the shared context of the HTTP service. */
#include "http/app.h"

#include "analysis/analysis.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/jsonw.h"

/* The detector settings as a JSON object, written once: /health repeats
 * them on every call, and formatting doubles is most of its cost. */
static char *detector_json(const struct app *app)
{
  const struct config *cfg = app->cfg;
  struct buf out;
  struct jsonw w;
  buf_init(&out, 0);
  jsonw_init(&w, &out);
  jsonw_object_begin(&w);
  jsonw_key(&w, "detector");
  jsonw_string(&w,
               cfg->detector == CONFIG_DETECTOR_MODEL ? "model" : "polarity");
  jsonw_kv_double(&w, "threshold", cfg->threshold);
  jsonw_kv_int(&w, "lexicon_words",
               (int64_t)lexicon_size(app->lexicons.by_lang[LANG_EN]));
  if (app->detector) {
    /* Which weights serve (FRUSTRATION_MODEL), so that switching a
     * retrained model on can be checked; the file's name only, as
     * /health is open to probes. */
    const char *base = strrchr(cfg->model_path, '/');
    base = base ? base + 1 : cfg->model_path;
    jsonw_kv_string(&w, "model", *base ? base : "built-in");
    jsonw_kv_double(&w, "model_threshold", detector_threshold(app->detector));
  }
  jsonw_key(&w, "languages");
  jsonw_array_begin(&w);
  for (int l = 0; l < LANG_N; l++)
    if (cfg->languages & (1u << l))
      jsonw_string(&w, lang_code((enum lang)l));
  jsonw_array_end(&w);
  /* With the model, levels come from its score unless the operator kept
   * the polarity bands. */
  bool by_score = app->detector && !cfg->model_levels_polarity;
  jsonw_key(&w, "levels");
  jsonw_array_begin(&w);
  for (size_t i = 0; i < cfg->n_levels; i++) {
    const struct config_level *l = &cfg->levels[i];
    jsonw_object_begin(&w);
    jsonw_kv_string(&w, "name", l->name);
    jsonw_key(&w, "below");
    if (i == 0)
      jsonw_null(&w);
    else
      jsonw_double(&w, l->below);
    if (by_score) {
      /* Where the model's score puts this level (FRUSTRATION_MODEL_LEVELS):
       * what decides with the model, not the polarity bound above. */
      const struct config_model_level *m = &cfg->model_levels[i];
      jsonw_key(&w, "from_score");
      if (!m->by_score)
        jsonw_null(&w);
      else
        jsonw_double(
            &w, config_model_level_from(m, detector_threshold(app->detector)));
    }
    jsonw_kv_string(&w, "severity", l->severity);
    jsonw_kv_int(&w, "sentiment", l->sentiment);
    jsonw_object_end(&w);
  }
  jsonw_array_end(&w);
  if (by_score) {
    jsonw_key(&w, "anger_signals");
    jsonw_array_begin(&w);
    for (unsigned i = 0; i < CONFIG_ANGER_N; i++)
      if (cfg->anger_signals & (1u << i))
        jsonw_string(&w, config_anger_name(i));
    jsonw_array_end(&w);
  }
  jsonw_object_end(&w);
  return buf_take(&out);
}

enum err app_init(struct app *app, const struct config *cfg)
{
  app->cfg = cfg;
  app->committer = NULL;
  app->outbox = NULL;
  app->dashboard = NULL;
  memset(&app->lexicons, 0, sizeof app->lexicons);
  app->detector = NULL;
  app->detector_json = NULL;
  metrics_init(&app->metrics);
  app->start_ns = clock_mono_ns();
  app->start_unix_ms = clock_wall_ms();
  atomic_init(&app->next_request, 1);
  /* Request ids need only differ between runs, not be secret: fall back
   * to the clock when the kernel has no randomness to give yet. */
  if (getrandom(&app->boot_id, sizeof app->boot_id, GRND_NONBLOCK) !=
      (ssize_t)sizeof app->boot_id)
    app->boot_id = (uint32_t)(app->start_ns ^ (uint64_t)app->start_unix_ms);
  enum err rc = analysis_lexicons_new(&app->lexicons);
  if (rc)
    return rc;
  rc = analysis_detector_new(cfg, false, &app->detector);
  if (rc) {
    analysis_lexicons_free(&app->lexicons);
    return rc;
  }
  app->detector_json = detector_json(app);
  return ERR_OK;
}

void app_cleanup(struct app *app)
{
  analysis_lexicons_free(&app->lexicons);
  detector_free(app->detector);
  app->detector = NULL;
  free(app->detector_json);
  app->detector_json = NULL;
}

double app_uptime_s(const struct app *app)
{
  return (double)(clock_mono_ns() - app->start_ns) / 1e9;
}

/* Writes the low digits hex digits of v, most significant first. */
static char *put_hex(char *out, uint64_t v, int digits)
{
  static const char hex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; i--)
    *out++ = hex[(v >> (4 * i)) & 0xf];
  return out;
}

void app_request_id(struct app *app, char *out)
{
  uint64_t n =
      atomic_fetch_add_explicit(&app->next_request, 1, memory_order_relaxed);
  /* Formatted by hand: this runs for every request without an id. */
  out = put_hex(out, app->boot_id, 8);
  *out++ = '-';
  out = put_hex(out, n, n >> 32 ? 16 : 8);
  *out = '\0';
}
