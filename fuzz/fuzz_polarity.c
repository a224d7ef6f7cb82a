/* Fuzz target: the tokenizers and the scorers of every language with a
 * lexicon (TextBlob's rules for English, pattern's for fr, it and nl), on
 * raw bytes (invalid UTF-8 included). Each input is scored in each language,
 * twice with one result struct, to exercise buffer reuse, and must give the
 * same scores both times, and assessments with words. Polarity is within
 * [-1, 1]; subjectivity within [0, 1] for English, and finite for the
 * others, whose lexicons pattern passes on unclamped (French has negative
 * subjectivities, Italian some up to 3.25). The lexicons are built once
 * and kept. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sentiment/lexicon.h"
#include "sentiment/polarity.h"
#include "sentiment/tokenize.h"
#include "sentiment/tokenize_pattern.h"

static const enum lexicon_lang langs[] = {LEXICON_EN, LEXICON_FR, LEXICON_IT,
                                          LEXICON_NL};
#define N_LANGS (sizeof langs / sizeof langs[0])

static struct lexicon *lexicon_once(size_t k)
{
  static struct lexicon *lx[N_LANGS];
  if (!lx[k] && lexicon_new(langs[k], &lx[k]) != ERR_OK)
    abort();
  return lx[k];
}

static void score(struct lexicon *lx, bool english, const char *text,
                  size_t size)
{
  struct polarity_result r;
  polarity_result_init(&r);
  enum err rc = polarity_analyze(lx, text, size, &r);
  if (rc != ERR_OK && rc != ERR_UTF8)
    abort();
  double p = r.polarity, s = r.subjectivity;
  size_t n = r.n_assessments;
  if (!(p >= -1.0 && p <= 1.0 && isfinite(s)) ||
      (english && !(s >= 0.0 && s <= 1.0)))
    abort();
  for (size_t i = 0; i < n; i++)
    if (!r.assessments[i].words || !r.assessments[i].words[0])
      abort();
  if (polarity_analyze(lx, text, size, &r) != rc || r.polarity != p ||
      r.subjectivity != s || r.n_assessments != n)
    abort();
  polarity_result_cleanup(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *text = (const char *)data;
  for (size_t k = 0; k < N_LANGS; k++)
    score(lexicon_once(k), langs[k] == LEXICON_EN, text, size);

  struct tokenize tk;
  tokenize_init(&tk);
  if (tokenize_run(&tk, text, size) == ERR_OK)
    for (size_t i = 0; i < tk.n_tokens; i++)
      if (tk.tokens[i].len == 0 ||
          memchr(tk.tokens[i].str, ' ', tk.tokens[i].len))
        abort();
  tokenize_cleanup(&tk);

  struct tokenize_pattern tp;
  tokenize_pattern_init(&tp);
  for (size_t k = 1; k < N_LANGS; k++)
    if (tokenize_pattern_run(&tp, pattern_rules_get(langs[k]), text, size,
                             false) == ERR_OK)
      for (size_t i = 0; i < tp.n_tokens; i++)
        if (tp.tokens[i].len == 0 ||
            memchr(tp.tokens[i].str, ' ', tp.tokens[i].len) ||
            memchr(tp.tokens[i].str, '\n', tp.tokens[i].len))
          abort();
  tokenize_pattern_cleanup(&tp);
  return 0;
}
