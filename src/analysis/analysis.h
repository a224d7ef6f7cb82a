/* analysis: the verdict on one message, as every interface reports it.
 *
 * Combines the TextBlob-exact scores with the configuration: the original
 * rule (frustrated when polarity < FRUSTRATION_THRESHOLD, strictly), the
 * level from the ordered level list, and the words that decided. The CLI,
 * /webhook and /slash-analyze all write the same JSON fields through
 * analysis_write_fields, so a verdict reads the same everywhere. */
#ifndef ANALYSIS_ANALYSIS_H
#define ANALYSIS_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/jsonw.h"
#include "config/config.h"
#include "detector/detector.h"
#include "sentiment/polarity.h"

struct analysis {
  double polarity;
  double subjectivity;
  bool frustrated; /* the configured detector's verdict */
  size_t level;    /* index into cfg->levels */
  const struct polarity_result *scores; /* borrowed: assessments */
  /* Borrowed: the support-tuned model's result, or NULL when it did not
   * run (FRUSTRATION_DETECTOR=polarity). */
  const struct detector_result *model;
};

/* Scores text[0..len) completely: TextBlob polarity with lx, then, when d
 * is not NULL, the support-tuned model; fills a (which borrows pr and dr:
 * keep them alive while a is used). With FRUSTRATION_DETECTOR=model the
 * model decides `frustrated`, and a frustrated message is at least at the
 * alert level (ALERT_MIN_LEVEL) so that it raises an alert. Returns ERR_UTF8
 * on invalid UTF-8. */
enum err analysis_run(const struct config *cfg, const struct lexicon *lx,
                      const struct detector *d, const char *text, size_t len,
                      struct polarity_result *pr, struct detector_result *dr,
                      struct analysis *a);

/* Records the model's result dr in a (borrowed) and, with
 * FRUSTRATION_DETECTOR=model, lets it decide `frustrated` and lifts a
 * frustrated message to at least ALERT_MIN_LEVEL. */
void analysis_apply_model(const struct config *cfg, struct analysis *a,
                          const struct detector_result *dr);

/* Builds the detector the configuration asks for: NULL in *out for
 * FRUSTRATION_DETECTOR=polarity, the compiled-in model otherwise, made
 * for batch scoring when batch (see detector_new_batch). */
enum err analysis_detector_new(const struct config *cfg, bool batch,
                               struct detector **out);

/* Fills a from the scores r (borrowed: keep r alive while a is used). */
void analysis_compute(const struct config *cfg,
                      const struct polarity_result *r, struct analysis *a);

/* Writes the analysis fields (polarity, subjectivity, frustrated,
 * threshold, level, detector, assessments) as key/value pairs into the
 * object currently open in w. */
void analysis_write_fields(const struct config *cfg, const struct analysis *a,
                           struct jsonw *w);

/* Appends a one-line human verdict, e.g.
 * "Frustrated - polarity -0.62 (threshold -0.30), level angry, driven by:
 * 'terrible', 'not good'". */
enum err analysis_describe(const struct config *cfg, const struct analysis *a,
                           struct buf *out);

/* Deciding words listed by analysis_describe and analysis_words. */
#define ANALYSIS_MAX_WORDS 5

/* Appends what decided, for alert tickets: with the model, its reasons
 * joined by "; "; otherwise the deciding words (the assessments on the side
 * of the score, strongest first, at most ANALYSIS_MAX_WORDS) joined by
 * ", ", e.g. "terrible, not good". Nothing when there are none. */
enum err analysis_words(const struct analysis *a, struct buf *out);

#endif
