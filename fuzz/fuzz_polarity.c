/* Fuzz target: the tokenizer and the TextBlob-exact scorer, on raw bytes
 * (invalid UTF-8 included). Each input is scored twice with one result
 * struct, to exercise buffer reuse, and must give the same scores both
 * times, within [-1, 1] and [0, 1]. The lexicon is built once and kept. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sentiment/lexicon.h"
#include "sentiment/polarity.h"
#include "sentiment/tokenize.h"

static struct lexicon *lexicon_once(void)
{
  static struct lexicon *lx;
  if (!lx && lexicon_new(LEXICON_EN, &lx) != ERR_OK)
    abort();
  return lx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *text = (const char *)data;
  struct polarity_result r;
  polarity_result_init(&r);
  enum err rc = polarity_analyze(lexicon_once(), text, size, &r);
  if (rc != ERR_OK && rc != ERR_UTF8)
    abort();
  double p = r.polarity, s = r.subjectivity;
  size_t n = r.n_assessments;
  if (!(p >= -1.0 && p <= 1.0 && s >= 0.0 && s <= 1.0))
    abort();
  for (size_t i = 0; i < n; i++)
    if (!r.assessments[i].words || !r.assessments[i].words[0])
      abort();
  if (polarity_analyze(lexicon_once(), text, size, &r) != rc ||
      r.polarity != p || r.subjectivity != s || r.n_assessments != n)
    abort();
  polarity_result_cleanup(&r);

  struct tokenize tk;
  tokenize_init(&tk);
  if (tokenize_run(&tk, text, size) == ERR_OK)
    for (size_t i = 0; i < tk.n_tokens; i++)
      if (tk.tokens[i].len == 0 ||
          memchr(tk.tokens[i].str, ' ', tk.tokens[i].len))
        abort();
  tokenize_cleanup(&tk);
  return 0;
}
