/* Fuzz target: the language identifier on raw bytes (invalid UTF-8
 * included). The guess must be a valid one (a supported language, or
 * LANG_OTHER with a 2-3 letter code), with a confidence in [0, 1], and the
 * same when the text is identified twice. lang_from_code reads the first
 * bytes as a code and must answer -1, a supported language or LANG_OTHER. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lang/lang.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *text = (const char *)data;
  struct lang_guess a, b;
  lang_detect(text, size, &a);
  size_t n = strnlen(a.code, sizeof a.code);
  if (a.lang > LANG_OTHER || n < 2 || n > 3 || !(a.confidence >= 0.0) ||
      a.confidence > 1.0)
    abort();
  if (a.lang != LANG_OTHER && strcmp(a.code, lang_code(a.lang)) != 0)
    abort();
  lang_detect(text, size, &b);
  if (b.lang != a.lang || strcmp(a.code, b.code) != 0 ||
      b.confidence != a.confidence)
    abort();
  int l = lang_from_code(text, size < 8 ? size : 8);
  if (l < -1 || l > LANG_OTHER)
    abort();
  return 0;
}
