/* lexicon_data: the raw rows of pattern's sentiment lexicons, compiled in.
 *
 * Generated at build time by tools/lexgen.py (see scripts/fetch-lexicons.sh
 * for where the XML comes from). Rows are in file order; one row per
 * <word> element, that is per word sense. */
#ifndef SENTIMENT_LEXICON_DATA_H
#define SENTIMENT_LEXICON_DATA_H

#include <stddef.h>

struct lexicon_row {
  const char *form;    /* UTF-8; may be NULL if the element had none */
  const char *pos;     /* Penn tag such as "JJ", or NULL */
  double polarity;     /* -1..1 */
  double subjectivity; /* 0..1 */
  double intensity;    /* modifier strength, 1.0 when absent */
  double confidence;   /* 0.0 when absent */
  const char *label;   /* e.g. "profanity", or NULL */
};

struct lexicon_table {
  const char *lang; /* "en", "fr", "it", "nl"; NULL ends the list */
  const struct lexicon_row *rows;
  size_t n_rows;
};

/* Terminated by an entry whose lang is NULL. */
extern const struct lexicon_table lexicon_tables[];

#endif
