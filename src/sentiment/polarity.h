/* polarity: the sentiment of a text, as the reference implementation of
 * its lexicon's language scores it.
 *
 * - English (LEXICON_EN): TextBlob(text).sentiment with its default
 *   PatternAnalyzer, that is pattern's English rules as TextBlob ships them
 *   (polarity.c).
 * - French, Italian, Dutch (LEXICON_FR, _IT, _NL): pattern.fr, pattern.it,
 *   pattern.nl's own sentiment(text), with each language's tokenizer,
 *   negations, modifiers and lexicon (polarity_pattern.c, pattern_rules.c).
 *
 * Both values are exact within 1e-9 (the golden tests find them
 * bit-identical), plus the assessments that the reference would list.
 * Pure: no I/O, no globals. The result struct is reusable: its buffers
 * keep their capacity across calls, so scoring many texts allocates
 * nothing per text once warmed up. */
#ifndef SENTIMENT_POLARITY_H
#define SENTIMENT_POLARITY_H

#include <stddef.h>

#include "base/err.h"
#include "sentiment/lexicon.h"

/* One scored word group, e.g. "not very happy" -> -0.3077, 0.7692. */
struct polarity_assessment {
  const char *words; /* space-joined lower-cased tokens; borrowed from the
                        result, valid until its next use or cleanup */
  double polarity;
  double subjectivity;
  const char *label; /* static: "mood" (emoticon), "irony" ("(!)"), a
                        lexicon label such as "profanity", or NULL */
};

struct polarity_result {
  double polarity;     /* -1..1 */
  double subjectivity; /* 0..1 for en; for fr, it and nl what pattern
                          gives: their lexicons hold values outside 0..1
                          (fr down to -1, it up to 3.25), which pattern
                          passes on unclamped, and so does this */
  struct polarity_assessment *assessments; /* n_assessments items */
  size_t n_assessments;
  void *priv; /* scratch space owned by the result */
};

void polarity_result_init(struct polarity_result *r);
void polarity_result_cleanup(struct polarity_result *r);

/* Scores text[0..len) (UTF-8; need not be NUL-terminated) with lexicon lx
 * and its language's rules, filling r (any previous content is replaced).
 * Returns ERR_UTF8 when the text is not valid UTF-8, ERR_UNSUPPORTED when
 * lx's language has no rules; r then holds zeros and no assessments.
 * Otherwise ERR_OK; empty text scores 0.0 / 0.0. Time and memory are linear
 * in len. Thread-safe as long as each thread has its own r. */
enum err polarity_analyze(const struct lexicon *lx, const char *text,
                          size_t len, struct polarity_result *r);

/* polarity_analyze for a text the caller already knows is valid UTF-8
 * (the check is skipped; anything else is undefined): ERR_UNSUPPORTED
 * when lx's language has no rules, else ERR_OK. */
enum err polarity_analyze_valid(const struct lexicon *lx, const char *text,
                                size_t len, struct polarity_result *r);

#endif
