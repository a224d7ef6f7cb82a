/* lexicon: an immutable word -> sentiment table, built from the pattern
 * lexicons compiled into the binary (lexicon_data.h): en, fr, it, nl. There
 * is none for de, es or pt (pattern has no sentiment lexicon for them).
 *
 * Building reproduces Sentiment.load (TextBlob's for English, pattern's for
 * the others: the same averaging): the scores of all senses of a word are
 * averaged per part of speech, then across parts of speech (the entry used
 * when no tag is known). Then each language's load adds its own forms: for
 * English, the derived "-ly" adverbs of textblob.en; for French, the forms
 * without the diacritics of "àéèêï" of pattern.fr ("précaire" ->
 * "precaire"); for Dutch, the attributive forms of pattern.nl's adjectives
 * ("fel" -> "felle"). After lexicon_new returns, the lexicon is read-only
 * and may be shared by any number of threads. */
#ifndef SENTIMENT_LEXICON_H
#define SENTIMENT_LEXICON_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

enum lexicon_lang {
  LEXICON_EN,
  LEXICON_FR,
  LEXICON_IT,
  LEXICON_NL,
};

struct lexicon; /* opaque */

/* The scores of one word (averaged over its senses and parts of speech). */
struct lexicon_entry {
  double polarity;
  double subjectivity;
  double intensity;
  bool is_adverb;    /* modifies the next word: has a sense of the
                        language's modifier tags (RB; for nl, JJ or RB) */
  const char *label; /* semantic label such as "profanity", or NULL */
};

/* Builds the lexicon of lang from the compiled-in tables. On success sets
 * *out (release with lexicon_free). ERR_UNSUPPORTED when the language's
 * table is absent. */
enum err lexicon_new(enum lexicon_lang lang, struct lexicon **out);
void lexicon_free(struct lexicon *lx); /* NULL is fine */

/* Looks up a word (already lower-cased, UTF-8, not NUL-terminated). Returns
 * a borrowed entry valid for the lexicon's lifetime, or NULL when absent. */
const struct lexicon_entry *lexicon_find(const struct lexicon *lx,
                                         const char *word, size_t len);

/* Number of distinct words. */
size_t lexicon_size(const struct lexicon *lx);

/* The language the lexicon was built for. */
enum lexicon_lang lexicon_lang(const struct lexicon *lx);

#endif
