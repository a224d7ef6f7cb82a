/* vader: VADER's rule-based valence (Hutto & Gilbert, ICWSM 2014), as the
 * npm package vader-sentiment computes it, over VADER's own lexicon.
 *
 * The rules: ALL CAPS emphasis when only some words are capitalised,
 * degree words ("very", "kind of", "barely") up to three words before a
 * sentiment word, damped with distance, negation in the same window
 * ("not", "n't", "never", "without"...), "never so/this", "least", the
 * contrastive "but" (before it x0.5, after it x1.5), a few idioms, and the
 * emphasis of "!" (up to four) and of "??"/"???". Tokens are split on
 * white space and lose one leading or trailing punctuation mark, like
 * VADER's SentiText. Pure: no I/O, no globals; the lexicon is built once
 * and may be shared by threads. */
#ifndef DETECTOR_VADER_H
#define DETECTOR_VADER_H

#include <stddef.h>

#include "base/err.h"

/* VADER's "usual cut-off": compound <= -0.05 is negative. */
#define VADER_NEGATIVE_CUTOFF (-0.05)

struct vader; /* opaque: the indexed lexicon */

/* One scored word: its place in the text given to vader_score and its final
 * valence (after every rule, "but" included). */
struct vader_hit {
  size_t off;
  size_t len;
  double valence;
};

struct vader_result {
  double compound;        /* -1..1, rounded to 4 decimals as VADER reports it */
  double pos, neu, neg;   /* proportions, 0..1, unrounded */
  double sum;             /* sum of valences, punctuation emphasis included */
  size_t n_words;         /* tokens VADER looked at */
  size_t n_upper;         /* of them ALL CAPS */
  size_t n_negations;     /* of them negation words */
  struct vader_hit *hits; /* tokens with a nonzero valence, in text order */
  size_t n_hits;
  void *priv; /* scratch, kept across calls */
};

/* Indexes the compiled-in lexicon. Sets *out (release with vader_free);
 * fails only with ERR_INTERNAL when the lexicon is missing. */
enum err vader_new(struct vader **out);
void vader_free(struct vader *v); /* NULL is fine */

/* Number of lexicon tokens. */
size_t vader_size(const struct vader *v);

/* Looks up one lower-case token; returns its valence, 0 when absent. */
double vader_valence(const struct vader *v, const char *word, size_t len);

void vader_result_init(struct vader_result *r);
void vader_result_cleanup(struct vader_result *r);

/* Scores text[0..len) (UTF-8; invalid bytes are taken as letters) into r,
 * replacing its contents. Allocates only to grow r's scratch space.
 * Thread-safe when each thread has its own r. */
void vader_score(const struct vader *v, const char *text, size_t len,
                 struct vader_result *r);

#endif
