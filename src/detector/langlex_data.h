/* langlex_data: the per-language lexicons of the detector (data/lang/),
 * compiled into the binary.
 *
 * Generated at build time by tools/langlexgen.py, which checks the format
 * of data/lang/README.md; a language without a file has an empty table.
 * Entries are as written: UTF-8 (NFC), lower case, words separated by
 * single spaces, a trailing '*' on a stem. langlex.c indexes them. */
#ifndef DETECTOR_LANGLEX_DATA_H
#define DETECTOR_LANGLEX_DATA_H

#include <stddef.h>

#include "lang/lang.h"

/* The sections of a lexicon file; the support ones in the order of enum
 * support_cat. */
enum langlex_section {
  LANGLEX_VALENCE,      /* word, valence -4..4 */
  LANGLEX_NEGATORS,     /* negation words */
  LANGLEX_INTENSIFIERS, /* degree words, increment (0.293 "very") */
  LANGLEX_CONTRAST,     /* "but" */
  LANGLEX_REPEAT,       /* the support phrases, from here on */
  LANGLEX_WAIT,
  LANGLEX_BROKEN,
  LANGLEX_MONEY,
  LANGLEX_ESCALATE,
  LANGLEX_STRONG,
  LANGLEX_THANKS,
  LANGLEX_SERVICE,
  LANGLEX_N_SECTIONS
};

struct langlex_entry {
  const char *text; /* word or phrase */
  unsigned char section;
  double value; /* valence or increment; 0 in the other sections */
};

struct langlex_table {
  const struct langlex_entry *entries;
  size_t n;
};

/* Indexed by enum lang; English has no table here (VADER's lexicon and
 * support.c are its own): its entry is empty. */
extern const struct langlex_table langlex_tables[LANG_N];

#endif
