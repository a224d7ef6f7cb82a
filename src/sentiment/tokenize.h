/* tokenize: TextBlob's tokenizer (find_tokens in textblob/_text.py, from
 * pattern), reproduced exactly.
 *
 * The tokens are those of `" ".join(find_tokens(text)).split()`, which is
 * what TextBlob's sentiment scores: contractions and quotes split off,
 * leading and trailing punctuation split from words (abbreviations kept),
 * "(!)" and spaced emoticons such as ": )" joined, blank-line paragraph
 * breaks dropped. Case is kept. Pure: no I/O, no globals. The struct is
 * reusable: its buffers keep their capacity across calls, so tokenizing
 * many texts allocates nothing per text once warmed up. Time and memory are
 * linear in the length of the text. */
#ifndef SENTIMENT_TOKENIZE_H
#define SENTIMENT_TOKENIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

struct tokenize_token {
  const char *str; /* UTF-8, not NUL-terminated; borrowed from the struct */
  size_t len;      /* bytes */
  size_t sentence; /* index among the non-empty sentences of find_tokens */
};

struct tokenize {
  struct tokenize_token *tokens; /* n_tokens items, valid until next run */
  size_t n_tokens;
  size_t n_sentences;
  bool in_text; /* every token points into the text given to tokenize_run
                   (false when RE_SARCASM or RE_EMOTICONS joined some) */
  void *priv;   /* scratch space */
};

void tokenize_init(struct tokenize *tk);
void tokenize_cleanup(struct tokenize *tk);

/* Tokenizes text[0..len) (UTF-8; need not be NUL-terminated; NUL bytes are
 * ordinary characters), replacing the previous tokens. Returns ERR_UTF8,
 * with no tokens, when the text is not valid UTF-8. Thread-safe as long as
 * each thread has its own struct. */
enum err tokenize_run(struct tokenize *tk, const char *text, size_t len);

/* tokenize_run for a text the caller already knows is valid UTF-8 (it
 * skips the check; anything else is undefined). */
void tokenize_run_valid(struct tokenize *tk, const char *text, size_t len);

#endif
