/* analysis: the verdict on one message, as every interface reports it.
 *
 * First the language: the one the sender gave, else the one lang_detect
 * finds in the text. Then the polarity of the language's own lexicon
 * (TextBlob for English, pattern's rules for French, Italian and Dutch;
 * German, Spanish and Portuguese have none and score 0), the original
 * rule on it (frustrated when polarity < FRUSTRATION_THRESHOLD,
 * strictly), the level from the ordered level list, and, by default, the
 * multilingual model, which decides, and whose score and anger signals
 * then set the level (FRUSTRATION_MODEL_LEVELS, FRUSTRATION_ANGER_SIGNALS;
 * see analysis_apply_model). A language outside
 * FRUSTRATION_LANGUAGES, or one the service does not support, is scored
 * by the model on its language-independent signals only, and says so.
 * With FRUSTRATION_DETECTOR=polarity every text is scored exactly as the
 * original service did: English TextBlob, whatever the language.
 *
 * The CLI, /webhook and /slash-analyze all write the same JSON fields
 * through analysis_write_fields, so a verdict reads the same everywhere. */
#ifndef ANALYSIS_ANALYSIS_H
#define ANALYSIS_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/jsonw.h"
#include "config/config.h"
#include "detector/detector.h"
#include "lang/lang.h"
#include "sentiment/polarity.h"

/* The polarity lexicons, one per language that has one (en, fr, it, nl);
 * read-only once built, shared by threads. */
struct analysis_lexicons {
  struct lexicon *by_lang[LANG_N]; /* NULL: the language has none */
};

/* Builds every compiled-in lexicon into *out. On failure nothing is left
 * to free. */
enum err analysis_lexicons_new(struct analysis_lexicons *out);
void analysis_lexicons_free(struct analysis_lexicons *l);

/* What set a message's level. */
enum analysis_level_by {
  ANALYSIS_LEVEL_POLARITY, /* polarity, by FRUSTRATION_LEVELS' bounds */
  ANALYSIS_LEVEL_LIFTED,   /* polarity, lifted to ALERT_MIN_LEVEL because
                              the model found the message frustrated */
  ANALYSIS_LEVEL_SCORE,    /* the model's score, by FRUSTRATION_MODEL_LEVELS */
  ANALYSIS_LEVEL_VERDICT,  /* the model's verdict: raised to its level
                              (frustrated) or held below it (not) */
  ANALYSIS_LEVEL_ANGER,    /* raised one level by anger signals */
};

struct analysis {
  /* The language: what was given or detected (its ISO 639-1 code, "und"
   * when unknown), and what it was scored as: lang is LANG_OTHER when
   * the language is not supported or not in FRUSTRATION_LANGUAGES. */
  char language[4];
  bool language_given; /* the sender said it */
  enum lang lang;
  /* The lexicon polarity was computed with (LANG_OTHER: none, polarity
   * and subjectivity are 0 and the original rule has no verdict). */
  enum lang polarity_lang;
  double polarity;
  double subjectivity;
  bool rule_frustrated; /* the original rule: polarity < threshold */
  bool frustrated;      /* the configured detector's verdict */
  size_t level;    /* index into cfg->levels */
  enum analysis_level_by level_by;
  /* The anger signals (CONFIG_ANGER_*) that raised the level; 0 when
   * none did. */
  unsigned anger_used;
  const struct polarity_result *scores; /* borrowed: assessments */
  /* Borrowed: the support-tuned model's result, or NULL when it did not
   * run (FRUSTRATION_DETECTOR=polarity). */
  const struct detector_result *model;
};

/* Scores text[0..len) completely: its language (given, an ISO 639-1 code
 * such as "fr" or "pt-BR", wins; NULL: detected from the writer's own
 * words, detector_own_words), polarity with the
 * language's lexicon from lxs, then, when d is not NULL, the model; fills
 * a (which borrows pr and dr: keep them alive while a is used). With
 * FRUSTRATION_DETECTOR=model the model decides `frustrated`, and a
 * frustrated message is at least at the alert level (ALERT_MIN_LEVEL) so
 * that it raises an alert. Returns ERR_UTF8 on invalid UTF-8. A given
 * code that is not one (analysis_lang_valid) is taken as absent. */
enum err analysis_run(const struct config *cfg,
                      const struct analysis_lexicons *lxs,
                      const struct detector *d, const char *given_lang,
                      const char *text, size_t len, struct polarity_result *pr,
                      struct detector_result *dr, struct analysis *a);

/* Is s a language code a message may give ("fr", "pt-BR", "zh_Hant")? */
bool analysis_lang_valid(const char *s);

/* Steps of analysis_run for callers that score in their own loop (the
 * score command, eval): the language of the text (sets a's language
 * fields), then polarity and subjectivity into pr with the lexicon of
 * that language (English TextBlob on every text with
 * FRUSTRATION_DETECTOR=polarity; no lexicon: both 0, nothing assessed),
 * which sets a->polarity_lang. valid: the caller knows the text is valid
 * UTF-8; otherwise ERR_UTF8 when it is not. */
void analysis_language(const struct config *cfg, const char *given_lang,
                       const char *text, size_t len, struct analysis *a);
enum err analysis_polarity(const struct config *cfg,
                           const struct analysis_lexicons *lxs,
                           struct analysis *a, const char *text, size_t len,
                           bool valid, struct polarity_result *pr);
/* The polarity and subjectivity the model reads of text[0..len), whose
 * own words are own[0..own_len) (detector_own_words), once a's language
 * is set and pr holds the polarity of the whole text: pr's when the own
 * words are all of text, else those of the own words with the same
 * lexicon (a mail reply without the mail it quotes, a message without the
 * log pasted in it; the original rule's polarity, pr, stays the whole
 * text's). */
enum err analysis_model_polarity(const struct config *cfg,
                                 const struct analysis_lexicons *lxs,
                                 struct analysis *a, const char *text,
                                 size_t len, const char *own, size_t own_len,
                                 const struct polarity_result *pr,
                                 double *polarity, double *subjectivity);
const struct lexicon *
analysis_polarity_lexicon(const struct config *cfg,
                          const struct analysis_lexicons *lxs,
                          struct analysis *a);

/* Records the model's result dr in a (borrowed) and, with
 * FRUSTRATION_DETECTOR=model, lets it decide `frustrated` and the level:
 * the highest level whose FRUSTRATION_MODEL_LEVELS bound the score
 * reaches; a frustrated message at least at the verdict level
 * (config_verdict_level: "frustrated" by default, where alerts start), any
 * other below it; then a frustrated message with one of the
 * FRUSTRATION_ANGER_SIGNALS one level higher (frustrated -> angry). With
 * FRUSTRATION_MODEL_LEVELS=polarity, the polarity level instead, lifted to
 * ALERT_MIN_LEVEL when frustrated. */
void analysis_apply_model(const struct config *cfg, struct analysis *a,
                          const struct detector_result *dr);

/* The anger signals (CONFIG_ANGER_*) of a text the model scored into dr:
 * words in ALL CAPS (shouting), "!!" or more, escalation or a threat to
 * leave (the support lexicon's escalation phrases: "manager", "never
 * again", "nie wieder"...), and insults or the strongest words (two
 * strong complaint phrases, or a word the sentiment lexicon rates -3 or
 * worse after its rules, such as "worst"). */
unsigned analysis_anger_signals(const struct detector_result *dr);

/* Builds the detector the configuration asks for: NULL in *out for
 * FRUSTRATION_DETECTOR=polarity, the compiled-in model otherwise, made
 * for batch scoring when batch (see detector_new_batch). */
enum err analysis_detector_new(const struct config *cfg, bool batch,
                               struct detector **out);

/* Fills a's scores from r (borrowed: keep r alive while a is used); a's
 * language fields are kept. */
void analysis_compute(const struct config *cfg,
                      const struct polarity_result *r, struct analysis *a);

/* Writes the analysis fields (language, language_supported,
 * language_source, polarity, subjectivity, polarity_lexicon,
 * rule_frustrated, frustrated, threshold, level, level_reason (with the
 * model's levels only), detector, frustration, assessments) as key/value
 * pairs into the object currently open in w. */
void analysis_write_fields(const struct config *cfg, const struct analysis *a,
                           struct jsonw *w);

/* Appends a one-line human verdict, e.g.
 * "Frustrated - polarity -0.62 (threshold -0.30), level angry, driven by:
 * 'terrible', 'not good'". */
enum err analysis_describe(const struct config *cfg, const struct analysis *a,
                           struct buf *out);

/* Writes into out (cap bytes, cut to fit) why the level was chosen, e.g.
 * "model score 0.99 >= 0.98" or "frustrated (model score 0.93), raised
 * by: shouting (ALL CAPS), '!!'". ANALYSIS_LEVEL_REASON_MAX bytes always
 * suffice. */
#define ANALYSIS_LEVEL_REASON_MAX 160
void analysis_level_reason(const struct config *cfg, const struct analysis *a,
                           char *out, size_t cap);

/* Deciding words listed by analysis_describe and analysis_words. */
#define ANALYSIS_MAX_WORDS 5

/* Appends what decided, for alert tickets: with the model, its reasons
 * joined by "; "; otherwise the deciding words (the assessments on the side
 * of the score, strongest first, at most ANALYSIS_MAX_WORDS) joined by
 * ", ", e.g. "terrible, not good". Nothing when there are none. */
enum err analysis_words(const struct analysis *a, struct buf *out);

#endif
