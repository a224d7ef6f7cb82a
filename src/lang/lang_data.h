/* lang_data: the identifier's compiled-in tables, generated at build time
 * by tools/langgen.py (build/gen/lang_data.c) from the project's function
 * words (data/langid/words.txt) and libexttextcat's n-gram profiles. Only
 * src/lang/ reads them. */
#ifndef LANG_LANG_DATA_H
#define LANG_LANG_DATA_H

#include <stdint.h>

/* The languages the tables know: the supported ones first, in the order of
 * enum lang, then the others the identifier can name (Latin script). */
#define LANGID_N 27
#define LANGID_WORD_LANGS 6
#define LANGID_NO_LANG 0xFF

extern const char langid_codes[LANGID_N][4];

/* The function words: slot i holds the high 32 bits of a word's FNV-1a
 * hash in langid_word_check[i] (0 for an empty slot) and its up to
 * LANGID_WORD_LANGS (language, weight) pairs in langid_words[i], unused
 * ones LANGID_NO_LANG. The slot is the low bits of the hash, probed
 * linearly. */
struct langid_word {
  uint8_t lang[LANGID_WORD_LANGS];
  uint8_t weight[LANGID_WORD_LANGS];
};
extern const uint32_t langid_words_mask;
extern const uint32_t langid_word_check[];
extern const struct langid_word langid_words[];

/* The n-grams of the profiles: key = up to five lower-cased code points
 * (each < 0x1000, '_' a word boundary) packed 12 bits each, 0 for an empty
 * slot; slot = (key * 0x9E3779B97F4A7C15) >> (64 - langid_gram_bits),
 * probed linearly; langid_gram_rows gives the row of costs (1/16 nat) of
 * the n-gram in each language. A row is LANGID_GRAM_ROW bytes, its costs
 * then zeros, aligned so that none straddles two cache lines and a row is
 * added in whole vectors. */
#define LANGID_GRAM_ROW 32
_Static_assert(LANGID_GRAM_ROW >= LANGID_N, "a row holds every language");
extern const unsigned langid_gram_bits;
extern const uint64_t langid_gram_keys[];
extern const uint16_t langid_gram_rows[];
extern const uint8_t langid_gram_cost[][LANGID_GRAM_ROW];
extern const uint8_t langid_gram_missing[LANGID_N];

#endif
