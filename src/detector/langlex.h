/* langlex: the detector's lexicons of the languages other than English,
 * indexed, and the reading of words in those languages (private to
 * src/detector/).
 *
 * A word of such a language is a run of letters and digits (an
 * apostrophe between two of them included, except after an elided
 * article or pronoun of French or Italian: "l'attente" reads as "l'" and
 * "attente"); an emoji is a word of its own. Words are matched in two
 * forms: in lower case (Latin, Greek and Cyrillic letters beyond ASCII
 * too) and folded, their diacritics dropped ("déçu" and "decu" fold
 * alike; "ß" folds as "ss", "æ" as "ae"). A lexicon entry is read by the
 * same code as a message, so that both are split and folded alike: an
 * entry matches a text that writes it with its accents (its lower-case
 * form) or without them (its folded form); for German, an entry with
 * "ä", "ö" or "ü" also matches "ae", "oe", "ue" ("enttaeuscht"). A stem
 * ("enttäusch*", the last word of an entry) matches every word that
 * starts with it; the longest stem wins. Built once, then read-only. */
#ifndef DETECTOR_LANGLEX_H
#define DETECTOR_LANGLEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detector/langlex_data.h"
#include "detector/strmap.h"

/* Entries are matched in two groups: a word is read once by each. */
enum langlex_group {
  LANGLEX_GROUP_WORDS,   /* @valence, @negators, @intensifiers, @contrast */
  LANGLEX_GROUP_SUPPORT, /* the support phrases */
  LANGLEX_N_GROUPS
};

/* Longest entry, in words as the split reads them (an entry of four
 * written words may read as more: "rendez-vous" is two). */
#define LANGLEX_MAX_WORDS 6

/* Lower case of a letter (ASCII, Latin-1, Latin Extended-A, Greek,
 * Cyrillic; others are returned as they are). */
uint32_t langlex_lower(uint32_t cp);

/* Is cp a letter of a word (not ASCII: those are [A-Za-z0-9])? Everything
 * from Latin-1's letters up that is not punctuation, symbols, arrows,
 * emoji or variation selectors. */
bool langlex_is_letter(uint32_t cp);
bool langlex_is_emoji(uint32_t cp);

/* A word found by langlex_next_word. */
struct langlex_span {
  uint32_t off, len;       /* in the text */
  uint32_t letters, upper; /* its letters, of them capitals */
  bool emoji;
};

/* Finds the next word of text t[0..len) (valid UTF-8) of language l at or
 * after *i; sets *out and moves *i past it. Returns false when there is
 * none. */
bool langlex_next_word(enum lang l, const char *t, size_t len, size_t *i,
                       struct langlex_span *out);

/* Writes the forms of word w[0..len) (as langlex_next_word found it):
 * lower case (digits as '0', U+2019 as '\'') into low and folded into fold,
 * each with room for len bytes (neither is longer); umlaut_e folds "ä",
 * "ö", "ü" as "ae", "oe", "ue". Sets the lengths. */
void langlex_norm(const char *w, size_t len, bool umlaut_e, char *low,
                  size_t *low_len, char *fold, size_t *fold_len);

/* A word of a message in its two forms, for langlex_match. */
struct langlex_word {
  const char *low, *fold;
  uint32_t low_len, fold_len;
  bool caps; /* in capitals: some capital letter, no small one (not read
                by langlex_match) */
};

/* One language's lexicon, indexed. */
struct langlex {
  enum lang lang;
  const struct langlex_table *table;
  struct strmap exact[LANGLEX_N_GROUPS];  /* lower-case entries */
  struct strmap folded[LANGLEX_N_GROUPS]; /* folded entries */
  struct strmap stems[LANGLEX_N_GROUPS];  /* folded entries ending in a stem */
  uint64_t stem_lens[LANGLEX_N_GROUPS];   /* bit k: a stem of k bytes */
};

/* Indexes language l's compiled-in lexicon (empty for English and for a
 * language without a file). */
void langlex_init(struct langlex *x, enum lang l);

/* Indexes table t (which must outlive x) as language l's lexicon. */
void langlex_init_table(struct langlex *x, enum lang l,
                        const struct langlex_table *t);
void langlex_cleanup(struct langlex *x);

/* The longest entry of group g that the words w[0..n) start with: its
 * index in x->table (and *count, its words), or -1. A lower-case match
 * comes before a folded one, which comes before a stem. */
int langlex_match(const struct langlex *x, enum langlex_group g,
                  const struct langlex_word *w, size_t n, size_t *count);

/* The valence of an emoji (VADER's scale, -4..4), 0 for one without. */
double langlex_emoji_valence(uint32_t cp);

#endif
