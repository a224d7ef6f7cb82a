/* score: one message through the stages (see detector_int.h): clean,
 * read (tokens and words, VADER), hashed features, support phrases, dense
 * signals, then the logistic score and, when the score is high enough to
 * be worth explaining, the reasons. */
#include "detector/detector_int.h"

#include <math.h>
#include <string.h>

#include "base/utf8.h"
#include "base/xalloc.h"

/* Room for a text of len bytes, MEMO_KEY_READ bytes past its end and past
 * the last word of norm (memo keys are read whole), and a NUL. */
static void ensure_text(struct scratch *s, size_t len)
{
  if (len + MEMO_KEY_READ + 1 <= s->text_cap)
    return;
  size_t cap = s->text_cap ? s->text_cap : 256;
  while (cap < len + MEMO_KEY_READ + 1)
    cap *= 2;
  s->clean = xrealloc(s->clean, cap);
  s->norm = xrealloc(s->norm, cap);
  s->text_cap = cap;
}

enum err detector_score(const struct detector *d, const char *text, size_t len,
                        enum lang lang, double polarity, double subjectivity,
                        struct detector_result *r)
{
  if (!utf8_is_valid(text, len)) {
    r->score = 0.0;
    r->frustrated = false;
    r->threshold = d->threshold;
    r->n_reasons = 0;
    r->shouting = false;
    r->features.n = 0;
    memset(r->features.dense, 0, sizeof r->features.dense);
    return ERR_UTF8;
  }
  detector_score_valid(d, text, len, lang, polarity, subjectivity, r);
  return ERR_OK;
}

void detector_score_valid(const struct detector *d, const char *text,
                          size_t len, enum lang lang, double polarity,
                          double subjectivity, struct detector_result *r)
{
  struct scratch *s = r->priv;
  r->n_reasons = 0;
  /* Cut at a character boundary (the text is valid UTF-8). */
  len = utf8_cut_bytes(text, len, DETECTOR_MAX_TEXT);
  if (!isfinite(polarity))
    polarity = 0.0;
  if (!isfinite(subjectivity))
    subjectivity = 0.0;
  s->keep = r->keep_features;
  ensure_text(s, len);
  /* The cleaned text goes to scratch even when cleaning keeps it: memo
   * keys are read whole, MEMO_KEY_READ bytes, from anywhere in it, and the
   * token loop stops at a space after it. */
  size_t clen = len;
  if (detector_clean_keeps(text, len))
    memcpy(s->clean, text, len);
  else
    clen = detector_clean(text, len, s->clean);
  s->clean[clen] = ' ';
  memset(s->clean + clen + 1, 0, MEMO_KEY_READ);
  s->ct = s->clean;
  struct surface f;
  size_t grams, nw, nm, nf, n_all;
  uint32_t last_b;
  double z = d->bias;
  if ((unsigned)lang > LANG_OTHER)
    lang = LANG_OTHER;
  s->lang = lang;
  s->addressed = detector_starts_with_handle(text, len);
  if (lang == LANG_EN) {
    nw = detector_read_text(d, s, clen, &f, &grams, &last_b);
    nf = detector_hash_features(d, s, nw, grams, last_b, &z);
    nm = detector_match_support(d, s, nw);
    n_all = nw;
  } else {
    /* Another language's words take no hashed feature (langread.c says
     * why). A language without lexicons has no TextBlob polarity either. */
    nw = detector_read_lang(d, s, clen, lang, &f, &nm, &n_all);
    nf = 0;
    if (lang == LANG_OTHER)
      polarity = subjectivity = 0.0;
  }
  double *x = r->features.dense;
  detector_dense_features(d, s, n_all, nm, polarity, subjectivity, &f, x);
  if (lang != LANG_EN && lang != LANG_OTHER)
    nf = detector_lang_signals(d, s, lang, x, nf, &z);

  /* The signals' part: sum of dense_w[j] * (x[j] - dense_mean[j]), as
   * dense_w . x plus the constant part, which detector_new took. */
  double zd[4] = {0}; /* four sums: no addition waits on the one before */
  for (size_t j = 0; j < DETECTOR_N_DENSE; j++)
    zd[j % 4] += d->dense_w[j] * x[j];
  z += d->dense_base + ((zd[0] + zd[1]) + (zd[2] + zd[3]));
  r->score = 1.0 / (1.0 + exp(-z));
  r->frustrated = r->score >= d->threshold;
  r->threshold = d->threshold;
  r->features.idx = s->idx;
  r->features.val = s->val;
  r->features.n = nf;
  /* Only when the capitals signal is on (rarely) is the text read again. */
  r->shouting = f.shouting && detector_shouts(s->ct);
  /* A calm message has no reasons: what little raised its score would
   * read as an accusation ("frustrated wording: 'help'"). */
  if (!r->skip_reasons && r->score >= d->threshold / 2) {
    double c[DETECTOR_N_DENSE]; /* each signal's part */
    for (size_t j = 0; j < DETECTOR_N_DENSE; j++)
      c[j] = d->dense_w[j] * (x[j] - d->dense_mean[j]);
    detector_reasons(d, s, nw, nm, x, c, polarity, &f, r);
    /* A verdict always says why, even when it is the sum of small parts
     * that no reason names (a text with no sign at all sits near its
     * language's average). */
    if (r->frustrated && r->n_reasons == 0 && lang != LANG_OTHER)
      detector_note_no_sign(s, r);
  }
  if (lang == LANG_OTHER && !r->skip_reasons)
    detector_note_unsupported(s, r);
}

void detector_write_json(const struct detector_result *r, struct jsonw *w)
{
  jsonw_key(w, "frustration");
  jsonw_object_begin(w);
  jsonw_kv_double(w, "score", r->score);
  jsonw_kv_double(w, "threshold", r->threshold);
  jsonw_kv_bool(w, "frustrated", r->frustrated);
  jsonw_key(w, "reasons");
  jsonw_array_begin(w);
  for (size_t i = 0; i < r->n_reasons; i++) {
    jsonw_object_begin(w);
    jsonw_kv_string(w, "text", r->reasons[i].text);
    jsonw_kv_milli(w, "weight", r->reasons[i].weight);
    jsonw_object_end(w);
  }
  jsonw_array_end(w);
  jsonw_object_end(w);
}
