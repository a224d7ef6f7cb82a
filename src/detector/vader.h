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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Is the lower-case word[0..len) one of VADER's negation words ("not",
 * "never", "nothing", "don't"...)? */
bool vader_is_negation(const struct vader *v, const char *word, size_t len);

void vader_result_init(struct vader_result *r);
void vader_result_cleanup(struct vader_result *r);

/* Scores text[0..len) (UTF-8; invalid bytes are taken as letters) into r,
 * replacing its contents. Allocates only to grow r's scratch space.
 * Thread-safe when each thread has its own r. */
void vader_score(const struct vader *v, const char *text, size_t len,
                 struct vader_result *r);

/* ---- Token by token ------------------------------------------------------
 *
 * vader_score splits the text into tokens at white space (vader_space_at)
 * and reads each token alone (vader_read_token). A caller that splits the
 * text itself, and may remember what a token reads as, gets the same
 * result from vader_score_tokens, given the tokens VADER keeps. */

/* What VADER reads in one token, whatever the message. */
struct vader_reading {
  int32_t fields;    /* the lexicon's entry of its lower-case form */
  uint32_t off, len; /* the word VADER keeps of it, within the token */
  uint32_t marks[2]; /* the '!' and '?' in it (they count even when the
                        token is not kept) */
  uint8_t flags;     /* VADER_* */
};

#define VADER_KEEP 1  /* kept: longer than one character */
#define VADER_UPPER 2 /* ALL CAPS */
#define VADER_NEG 4   /* a negation */
#define VADER_AS_IS 8 /* no capital letter */
#define VADER_LEX 16  /* in the lexicon */
#define VADER_BUT 32  /* "but", whatever its case */

/* The byte length of the white-space character at s[0..len) (JavaScript's
 * \s: ASCII or Unicode), or 0. */
size_t vader_space_at(const char *s, size_t len);

/* Can byte c start a white-space character? */
bool vader_space_lead(unsigned char c);

/* Reads the token t[0..len) (no white space in it) into *out, using r's
 * scratch space. */
void vader_read_token(const struct vader *v, struct vader_result *r,
                      const char *t, size_t len, struct vader_reading *out);

/* A token VADER keeps (its reading has VADER_KEEP): the word it keeps
 * (text[at..at+len)), and its reading's fields and flags. */
struct vader_token {
  uint32_t at, len;
  int32_t fields;
  uint8_t flags;
};

/* Scores text, whose kept tokens are tok[0..n) in order and whose tokens
 * have marks[0] '!' and marks[1] '?' in all, into r: the same result as
 * vader_score's. tok is read during the call only. */
void vader_score_tokens(const struct vader *v, const char *text,
                        const struct vader_token *tok, size_t n,
                        const size_t marks[2], struct vader_result *r);

/* ---- Other languages ------------------------------------------------------
 *
 * The same rules over the words of another language, read by the caller
 * with that language's lexicon (see vader_score_words in vader.c). */

/* A word (or a phrase read as one) of another language, in text order. */
struct vader_word {
  uint32_t at, len; /* its place in the text */
  double valence;   /* -4..4; 0 when it is no sentiment word */
  double boost;     /* degree increment (0.293 "very"), 0 when none */
  uint8_t flags;    /* VADER_UPPER, VADER_NEG, VADER_BUT */
};

/* Scores the n words w (the hits are placed by their at and len) with
 * marks[0] '!' and marks[1] '?' in the text into r, replacing its
 * contents. */
void vader_score_words(const struct vader_word *w, size_t n,
                       const size_t marks[2], struct vader_result *r);

#endif
