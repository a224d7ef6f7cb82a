/* pattern_rules: the per-language settings of pattern's sentiment analysis
 * (pattern.fr, pattern.it, pattern.nl), as data.
 *
 * pattern scores every language with one algorithm (Sentiment in
 * pattern/text/__init__.py); what differs is the tokenizer's abbreviations
 * and contractions, a clean-up of the tokenizer's output, the negations,
 * which words modify the next one, and a change to the lexicon when it is
 * loaded. lexicon.c, tokenize_pattern.c and polarity_pattern.c read these
 * tables; none of them tests the language itself. Private to sentiment/. */
#ifndef SENTIMENT_PATTERN_RULES_H
#define SENTIMENT_PATTERN_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sentiment/lexicon.h"

/* What the language's Parser.find_tokens does to each sentence after the
 * common tokenizer. */
enum pattern_fixup {
  PATTERN_FIXUP_NONE,
  PATTERN_FIXUP_RSQUO,       /* fr: "&rsquo ;" -> U+2019 */
  PATTERN_FIXUP_CONTRACTION, /* it: " &contraction ;" -> "'", "XXX -" ->
                                "-" */
  PATTERN_FIXUP_S_TIME,      /* nl: "' s ochtends" -> "'s ochtends" (also
                                morgens, middags, avonds) */
};

/* What the language's Sentiment.load adds to the lexicon. */
enum pattern_load {
  PATTERN_LOAD_NONE,
  PATTERN_LOAD_PLAIN,       /* fr: "précaire" also as "precaire" */
  PATTERN_LOAD_ATTRIBUTIVE, /* nl: "fel" (JJ) also as "felle" */
};

struct pattern_rules {
  /* Tokenizer. Contractions are the keys of the replace dict, literal
   * strings that hold one apostrophe, at their end (a space is put after
   * each match: "l'" -> "l' ") or at their start (a space before it: "'n"
   * -> " 'n"). A word equal to a key keeps its apostrophe. */
  const char *const *contractions;  /* NULL-terminated */
  const char *const *abbreviations; /* NULL-terminated */
  bool rsquo; /* fr: U+2019 after l c d j m n s t or qu becomes "&rsquo; ",
                 after L C D J M N S T or QU "&RSQUO; " */
  enum pattern_fixup fixup;
  /* Scorer. */
  const char *const *negations;        /* NULL-terminated */
  const char *const *modifier_endings; /* the modifier predicate: the word
                                          ends with one of these */
  /* Lexicon. */
  const char *const *modifier_tags; /* a word with a sense of one of these
                                       parts of speech modifies the next */
  enum pattern_load load;
};

/* Python's str.lower() of one code point, as far as pattern's lexicons can
 * tell: the only characters whose lower case is ASCII or a letter of the
 * fr, it or nl lexicon (âçèéêëîïôû àèìòù éêëïöü) are A-Z, the Latin-1
 * capitals and U+212A KELVIN SIGN, so this maps those and leaves every
 * other character, which can then never be part of a lexicon word, as it
 * is. U+0130, whose lower case is two code points, is the caller's. */
static inline uint32_t pattern_rules_lower(uint32_t cp)
{
  if ((cp >= 'A' && cp <= 'Z') || (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7))
    return cp + 0x20;
  return cp == 0x212A ? 'k' : cp;
}

/* The rules of lang, or NULL for English (scored by TextBlob's rules, see
 * polarity.c) and for languages pattern has no lexicon for. */
const struct pattern_rules *pattern_rules_get(enum lexicon_lang lang);

#endif
