/* vader_data: VADER's valence lexicon, compiled into the binary.
 *
 * The table is generated at build time by tools/vadergen.py from the
 * vader_lexicon.txt that scripts/fetch-vader.sh fetched and checked; none of
 * it is in the repository. Rows are sorted bytewise by token. */
#ifndef DETECTOR_VADER_DATA_H
#define DETECTOR_VADER_DATA_H

#include <stddef.h>

struct vader_data_row {
  const char *token; /* as in the lexicon: lower case words, emoticons */
  double valence;    /* mean rating, -4..4 */
};

extern const struct vader_data_row vader_data_rows[];
extern const size_t vader_data_count;

#endif
