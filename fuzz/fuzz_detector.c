/* Fuzz target: the support-tuned detector. The first byte picks the entry
 * point, the rest is the input:
 *   0: detector_clean (never longer than its input, UTF-8 kept valid)
 *      and detector_own_words (a prefix up to a line's end, or lines)
 *   1: detector_score with the built-in model, polarity from byte 2, the
 *      language from the first byte's upper bits
 *   2: vader_score
 *   3: detector_model_parse (a model file)
 * The lexicons and the model are built once and kept for the process. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "detector/detector.h"
#include "detector/vader.h"

static struct detector *det;
static struct vader *vader;

static void setup(void)
{
  if (det)
    return;
  struct detector_model *m = NULL;
  if (detector_model_builtin(&m) || detector_new(m, &det) || vader_new(&vader))
    abort();
  detector_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1 || size > (1 << 20))
    return 0;
  setup();
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  switch (data[0] % 4) {
  case 0: {
    char *out = malloc(len + 1);
    size_t n = detector_clean(text, len, out);
    if (n > len)
      abort();
    if (utf8_is_valid(text, len) && !utf8_is_valid(out, n))
      abort();
    free(out);
    /* The writer's own words: a prefix of the text ending at a line's
     * end, or whole lines of it copied, never more, never nothing of a
     * text that has something, valid UTF-8 when the text is. */
    struct buf scratch;
    buf_init(&scratch, 0);
    size_t own_len;
    const char *own = detector_own_words(text, len, &scratch, &own_len);
    if (own_len > len || (own_len == 0 && len > 0) ||
        (own == text && own_len < len && text[own_len - 1] != '\n') ||
        (own != text && (own != scratch.data || own_len != scratch.len)) ||
        (utf8_is_valid(text, len) && !utf8_is_valid(own, own_len)))
      abort();
    buf_cleanup(&scratch);
    break;
  }
  case 1: {
    if (len < 1)
      break;
    double polarity = ((double)(unsigned char)text[0] - 128.0) / 128.0;
    struct detector_result r;
    detector_result_init(&r);
    r.keep_features = (text[0] & 1) != 0;
    enum lang lang = (enum lang)(data[0] / 4 % (LANG_N + 1));
    if (detector_score(det, text + 1, len - 1, lang, polarity, 0.5, &r) ==
        ERR_OK) {
      if (!(r.score >= 0.0 && r.score <= 1.0))
        abort();
      for (size_t i = 0; i < r.n_reasons; i++) {
        const char *t = r.reasons[i].text;
        if (strlen(t) >= DETECTOR_REASON_MAX || !utf8_is_valid(t, strlen(t)))
          abort();
        /* A reason said to be plain has nothing JSON escapes. */
        for (; r.reasons[i].plain && *t; t++)
          if (*t == '"' || *t == '\\' || (unsigned char)*t < 0x20)
            abort();
      }
    }
    detector_result_cleanup(&r);
    break;
  }
  case 2: {
    struct vader_result r;
    vader_result_init(&r);
    vader_score(vader, text, len, &r);
    if (!(r.compound >= -1.0 && r.compound <= 1.0))
      abort();
    for (size_t i = 0; i < r.n_hits; i++)
      if (r.hits[i].off + r.hits[i].len > len)
        abort();
    vader_result_cleanup(&r);
    break;
  }
  default: {
    struct detector_model *m = NULL;
    if (detector_model_parse(text, len, &m) == ERR_OK) {
      struct detector *d = NULL;
      if (detector_new(m, &d) == ERR_OK)
        detector_free(d);
    }
    detector_model_free(m);
    break;
  }
  }
  return 0;
}
