/* polarity_pattern: pattern's own sentiment rules (pattern.fr, pattern.it,
 * pattern.nl), behind polarity_analyze. Private to sentiment/. */
#ifndef SENTIMENT_POLARITY_PATTERN_H
#define SENTIMENT_POLARITY_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "sentiment/lexicon.h"
#include "sentiment/pattern_rules.h"
#include "sentiment/polarity.h"

/* polarity_analyze for a lexicon with pattern rules: see polarity.h. check
 * tells whether the text still has to be checked for valid UTF-8. *scratch
 * is the caller's slot for this module's buffers (NULL at first; release
 * with polarity_pattern_free); *cap_assessments the capacity of
 * r->assessments. */
enum err polarity_pattern_analyze(const struct lexicon *lx,
                                  const struct pattern_rules *rules,
                                  const char *text, size_t len, bool check,
                                  struct polarity_result *r, void **scratch,
                                  size_t *cap_assessments);

void polarity_pattern_free(void *scratch); /* NULL is fine */

#endif
