/* tokenize_pattern: pattern's tokenizer (find_tokens in pattern/text/
 * __init__.py, with a language's Parser.find_tokens around it), as
 * pattern.fr, pattern.it and pattern.nl's sentiment() call it.
 *
 * The tokens are those of `" ".join(parser.find_tokens(text)).split()`:
 * the language's contractions split off ("l'avion" -> "l'" "avion"),
 * punctuation split from the ends of words (abbreviations and @mentions
 * kept), "(!)" and spaced emoticons joined, emoji split off, paragraph
 * breaks dropped, then the language's clean-up. Case is kept. Pure: no
 * I/O, no globals. The struct is reusable: its buffers keep their capacity
 * across calls, so tokenizing many texts allocates nothing per text once
 * warmed up. Time and memory are linear in the length of the text. */
#ifndef SENTIMENT_TOKENIZE_PATTERN_H
#define SENTIMENT_TOKENIZE_PATTERN_H

#include <stddef.h>

#include "base/err.h"
#include "sentiment/pattern_rules.h"

struct tokenize_pattern_token {
  const char *str; /* UTF-8, not NUL-terminated; borrowed from the struct */
  size_t len;      /* bytes */
};

struct tokenize_pattern {
  struct tokenize_pattern_token *tokens; /* n_tokens items, valid until the
                                            next run */
  size_t n_tokens;
  void *priv; /* scratch space */
};

void tokenize_pattern_init(struct tokenize_pattern *tk);
void tokenize_pattern_cleanup(struct tokenize_pattern *tk);

/* Tokenizes text[0..len) (UTF-8; need not be NUL-terminated) with the
 * language rules, replacing the previous tokens. Returns ERR_UTF8, with no
 * tokens, when the text is not valid UTF-8 (unless valid is set: the
 * caller has checked it). Thread-safe as long as each thread has its own
 * struct. */
enum err tokenize_pattern_run(struct tokenize_pattern *tk,
                              const struct pattern_rules *rules,
                              const char *text, size_t len, bool valid);

/* pattern's EMOJI (text/__init__.py), for the scorer: emoji[i] scores
 * emoji_polarity[i]; the list ends with NULL. */
extern const char *const tokenize_pattern_emoji[];
extern const double tokenize_pattern_emoji_polarity[];

/* pattern's EMOTICONS, in the dict's group order: the same layout. */
extern const char *const tokenize_pattern_emoticons[];
extern const double tokenize_pattern_emoticon_polarity[];

#endif
