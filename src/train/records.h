/* records: labeled messages in JSON Lines, as the trainer learns them and
 * eval measures them.
 *
 * One record a line: "text", "label": {"frustrated": true|false|null},
 * optional "weight", "source", "lang" (ISO 639-1) and "meta":
 * {"orig_split"}. records_read hands each record with a true or false
 * label to a callback and counts the rest; what to do with a record (skip
 * the held-out ones, those the model was trained on...) is the caller's
 * policy. records_prf gives the figures eval reports over such records. */
#ifndef TRAIN_RECORDS_H
#define TRAIN_RECORDS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "lang/lang.h"

/* Longest line read with RECORDS_CHECK_BYTES: 16 MiB, as for score. */
#define RECORDS_MAX_LINE ((size_t)16 << 20)

/* Flags of records_read. */
#define RECORDS_STDIN 1u /* the path "-" reads standard input */
/* A line over RECORDS_MAX_LINE bytes or not valid UTF-8 is unreadable,
 * as the service would refuse it. */
#define RECORDS_CHECK_BYTES 2u
/* Each line without a "text" is said on stderr as "PATH:LINE: no
 * \"text\"". */
#define RECORDS_SAY_BAD 4u

/* One labeled record, borrowed for the callback's call only. */
struct records_item {
  const char *text; /* NUL-terminated too */
  size_t len;
  bool frustrated;
  double weight;          /* "weight", 1 when absent or not a number */
  const char *source;     /* "source", else "file:" and the file's name */
  const char *lang;       /* "lang" as written, NULL when absent */
  const char *orig_split; /* "meta"."orig_split", NULL when absent */
  const char *path;       /* where it was read, for messages */
  unsigned long line;     /* from 1 */
};

/* What records_read did not hand on. It adds to them, so that one struct
 * sums several files; a caller may count its own unusable records in bad
 * too. */
struct records_counts {
  size_t bad;       /* lines that are not a record with a "text" */
  size_t unlabeled; /* records whose label is neither true nor false */
};

typedef void (*records_fn)(void *arg, const struct records_item *r);

/* Reads the JSON Lines at path under flags (RECORDS_*), calling fn(arg,
 * record) for each record labeled true or false, in file order. Blank
 * lines are passed over. ERR_IO when path cannot be opened (said on
 * stderr; fn is never called) or read (after the records before the
 * error). */
enum err records_read(const char *path, unsigned flags, records_fn fn,
                      void *arg, struct records_counts *counts);

/* The language of a record's "lang": English when code is NULL,
 * LANG_OTHER for a language the service does not support. */
enum lang records_lang(const char *code);

/* Precision, recall and F1 of tp true and fp false positives among pos
 * frustrated records; 0 where a ratio has nothing to divide by. */
void records_prf(size_t tp, size_t fp, size_t pos, double *precision,
                 double *recall, double *f1);

#endif
