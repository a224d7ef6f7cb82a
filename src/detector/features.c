/* features: what the model weighs in a message (see detector_int.h).
 *
 * Three kinds, from the words tokens.c read: the support phrases (the
 * longest match first, matches never overlapping), the hashed features
 * (word unigrams and bigrams, character 4- and 5-grams within words;
 * signed hashing: FNV-1a, MurmurHash3 finaliser, the top bit gives the
 * sign), and the dense signals in the order of DETECTOR_DENSE_MAP. The
 * hashed features' part of the score is summed here, crediting each word
 * with what its features added, for the reasons; fa-train records the
 * same features through detector_result.features. */
#include "detector/detector_int.h"

#include <math.h>
#include <string.h>

#include "base/xalloc.h"

/* log1p(k), from the table for small counts (same values). */
static double log1p_count(const struct detector *d, size_t k)
{
  return k < LOG1P_TABLE ? d->log1p[k] : log1p((double)k);
}

size_t detector_match_support(const struct detector *d, struct scratch *s,
                              size_t nw)
{
  /* Most words start no phrase (emoji and long words have no flags): the
   * ones that may are listed first, with no branch a word to mispredict. */
  uint32_t *starts = s->starts;
  size_t ns = 0;
  for (size_t i = 0; i < nw; i++) {
    starts[ns] = (uint32_t)i;
    ns += (s->words[i].sup_flags & (SUP_HIT | SUPPORT_MORE)) != 0;
  }
  size_t nm = 0, next = 0; /* matches do not overlap */
  char key[PHRASE_MAX];
  for (size_t j = 0; j < ns; j++) {
    size_t i = starts[j];
    if (i < next)
      continue;
    /* Longest match: extend while a longer phrase may start here. The
     * first word is looked up in place with its own hash; longer keys are
     * built, their hash extended word by word. */
    const struct word *w = &s->words[i];
    unsigned flags = w->sup_flags;
    size_t hit_k = 0, klen;
    const char *nw0 = word_norm(s, w, &klen);
    int hit_cat;
    uint32_t h = word_support(w, &hit_cat);
    if (hit_cat >= 0)
      hit_k = 1;
    if (flags & SUPPORT_MORE)
      memcpy(key, nw0, klen);
    for (size_t k = 1;
         (flags & SUPPORT_MORE) && i + k < nw && k < SUPPORT_MAX_WORDS; k++) {
      w = &s->words[i + k];
      size_t wl;
      const char *wn = word_norm(s, w, &wl);
      if ((w->sup_flags & WORD_EMOJI) || klen + wl + 1 > sizeof key)
        break;
      key[klen++] = ' ';
      memcpy(key + klen, wn, wl);
      h = strmap_fnv(h, key + klen - 1, wl + 1);
      klen += wl;
      int cat = support_lookup_fnv(&d->support, key, klen, h, &flags);
      if (cat >= 0) {
        hit_k = k + 1;
        hit_cat = cat;
      }
    }
    if (!hit_k)
      continue;
    if (nm == s->matches_cap) {
      s->matches_cap = scratch_cap(s->matches_cap, nm + 1, 16);
      s->matches = xrealloc(s->matches, s->matches_cap * sizeof *s->matches);
    }
    s->matches[nm++] = (struct match){(uint32_t)i, (uint32_t)hit_k, hit_cat};
    next = i + hit_k;
  }
  return nm;
}

static void grow_features(struct scratch *s, size_t need)
{
  if (need <= s->feat_cap)
    return;
  size_t cap = scratch_cap(s->feat_cap, need, 256);
  s->idx = xrealloc(s->idx, cap * sizeof *s->idx);
  s->val = xrealloc(s->val, cap * sizeof *s->val);
  s->feat_cap = cap;
}

/* The value of a hashed feature: 1 / sqrt(count of its kind), as a float
 * (the model's type); values shrink with length so that long messages are
 * not louder. */
static float value_of(size_t count)
{
  return count ? (float)(1.0 / sqrt((double)count)) : 0.0f;
}

/* The hashed feature after the last word: the bigram (last word, end). */
static uint32_t end_bigram(const struct detector *d, uint32_t last_b)
{
  return bigram_of(last_b, d->end_b);
}

/* Its part of the score: the weight of the feature whose mixed hash is m,
 * times value v, signed. */
static inline double part_of(const struct detector *d, uint32_t m, double v)
{
  return (double)signed_weight(d, m) * v;
}

/* Records hashed feature m of value v at s->idx/val[*n]. */
static inline void record(const struct detector *d, struct scratch *s,
                          size_t *n, uint32_t m, float v)
{
  s->idx[*n] = m & d->mask;
  s->val[*n] = m >> 31 ? -v : v;
  (*n)++;
}

size_t detector_lang_signals(const struct detector *d, struct scratch *s,
                             enum lang lang, const double *x, size_t nf,
                             double *z)
{
  if (s->keep)
    grow_features(s, nf + DETECTOR_N_DENSE);
  uint32_t base = strmap_mix(0x9E3779B9u * ((uint32_t)lang + 1u));
  double total = 0.0;
  for (size_t j = 0; j < DETECTOR_N_DENSE; j++) {
    if (x[j] == 0.0)
      continue;
    uint32_t m = strmap_mix(base ^ ((uint32_t)j * 0x85EBCA6Bu));
    total += part_of(d, m, x[j]);
    if (s->keep)
      record(d, s, &nf, m, (float)x[j]);
  }
  *z += total;
  return nf;
}

/* For trainers: every hashed feature and its signed value, in the order
 * detector_hash_features sums them. Returns their number. */
static size_t record_features(const struct detector *d, struct scratch *s,
                              size_t nw, size_t grams, uint32_t last_b)
{
  grow_features(s, 2 * nw + 1 + grams);
  float vw = value_of(nw), vb = value_of(nw + 1), vc = value_of(grams);
  size_t n = 0;
  for (size_t i = 0; i < nw; i++) {
    const struct word *w = &s->words[i];
    record(d, s, &n, w->m_uni, vw);
    record(d, s, &n, w->m_bigram, vb);
    if (w->sup_flags & WORD_EMOJI)
      continue;
    /* The memo keeps the n-grams' weights only: their hashes again. */
    uint32_t grams[CHAR_GRAMS_MAX];
    size_t wl;
    const char *wn = word_norm(s, w, &wl);
    size_t ng = detector_char_grams(d, wn, wl, grams);
    for (size_t g = 0; g < ng; g++)
      record(d, s, &n, grams[g], vc);
  }
  record(d, s, &n, end_bigram(d, last_b), vb);
  return n;
}

/* A bigram's part is credited half to each of its two words.
 * detector_read_text gave each word its hashes, the signed weight of its
 * unigram and the sum of its n-grams' (all n-grams of a message have the
 * same value, so a word's part is that sum times it). Sums are kept in
 * locals: going through memory for each feature would chain the
 * additions. */
size_t detector_hash_features(const struct detector *d, struct scratch *s,
                              size_t nw, size_t grams, uint32_t last_b,
                              double *z)
{
  double vw = value_of(nw), vb = value_of(nw + 1), vc = value_of(grams);
  double total = 0.0;
  for (size_t i = 0; i < nw; i++) {
    const struct word *w = &s->words[i];
    double c = (double)w->uni_w * vw;
    double own = c;
    total += c;
    c = part_of(d, w->m_bigram, vb);
    total += c;
    if (i > 0) {
      own += c / 2;
      s->contrib[i - 1] += c / 2;
    } else {
      own += c;
    }
    c = w->grams_w * vc;
    own += c;
    total += c;
    s->contrib[i] = own;
  }
  total += part_of(d, end_bigram(d, last_b), vb);
  *z += total;
  return s->keep ? record_features(d, s, nw, grams, last_b) : 0;
}

void detector_dense_features(const struct detector *d, const struct scratch *s,
                             size_t nw, size_t nm, double polarity,
                             double subjectivity, const struct surface *f,
                             double *x)
{
  const struct vader_result *vr = &s->vr;
  x[DETECTOR_DENSE_POLARITY] = polarity;
  x[DETECTOR_DENSE_POLARITY_NEG] = polarity < 0 ? polarity : 0.0;
  /* Bins let the linear model bend its response to the two scores. */
  x[DETECTOR_DENSE_POL_VNEG] = polarity <= -0.5;
  x[DETECTOR_DENSE_POL_NEG] = polarity > -0.5 && polarity <= -0.1;
  x[DETECTOR_DENSE_POL_NEU] = polarity > -0.1 && polarity < 0.1;
  x[DETECTOR_DENSE_POL_POS] = polarity >= 0.1 && polarity < 0.5;
  x[DETECTOR_DENSE_SUBJECTIVITY] = subjectivity;
  x[DETECTOR_DENSE_VADER_COMPOUND] = vr->compound;
  x[DETECTOR_DENSE_VADER_NEG] = vr->neg;
  x[DETECTOR_DENSE_VADER_POS] = vr->pos;
  double c = vr->compound;
  x[DETECTOR_DENSE_VADER_VNEG] = c <= -0.5;
  x[DETECTOR_DENSE_VADER_NEG_CUT] = c > -0.5 && c <= VADER_NEGATIVE_CUTOFF;
  x[DETECTOR_DENSE_VADER_NEU] = c > VADER_NEGATIVE_CUTOFF && c < 0.05;
  x[DETECTOR_DENSE_VADER_POS_CUT] = c >= 0.05 && c < 0.5;
  double vmin = 0.0;
  size_t neg = 0, pos = 0;
  for (size_t i = 0; i < vr->n_hits; i++) {
    if (vr->hits[i].valence < vmin)
      vmin = vr->hits[i].valence;
    neg += vr->hits[i].valence < 0;
    pos += vr->hits[i].valence > 0;
  }
  x[DETECTOR_DENSE_VADER_MIN] = vmin / 4.0;
  x[DETECTOR_DENSE_VADER_NEG_WORDS] = log1p_count(d, neg);
  x[DETECTOR_DENSE_VADER_POS_WORDS] = log1p_count(d, pos);
  size_t cats[SUPPORT_N_CATS] = {0};
  for (size_t i = 0; i < nm; i++)
    cats[s->matches[i].cat]++;
  size_t complaints = 0;
  for (int c = 0; c < SUPPORT_N_CATS; c++) {
    /* A service named is a yes or no: a message about an order and its
     * delivery is no more written to a company than one about an order. */
    x[DETECTOR_DENSE_SUP_REPEAT + c] =
        c == SUPPORT_SERVICE ? (double)(cats[c] > 0) : log1p_count(d, cats[c]);
    if (support_cat_complains(c))
      complaints += cats[c];
  }
  x[DETECTOR_DENSE_SUP_ANY] = log1p_count(d, complaints);
  x[DETECTOR_DENSE_CAPS_RATIO] =
      f->letters >= 4 ? (double)f->upper / (double)f->letters : 0.0;
  x[DETECTOR_DENSE_SHOUTING] = f->shouting;
  x[DETECTOR_DENSE_EXCLAIM] = log1p_count(d, f->exclaim);
  x[DETECTOR_DENSE_EXCLAIM_MULTI] = f->exclaim_multi;
  x[DETECTOR_DENSE_QUESTION] = log1p_count(d, f->question);
  x[DETECTOR_DENSE_QUESTION_MULTI] = f->question_multi;
  x[DETECTOR_DENSE_NEGATIONS] = log1p_count(d, vr->n_negations);
  int bucket = nw <= 3 ? 0 : nw <= 8 ? 1 : nw <= 16 ? 2 : nw <= 32 ? 3 : 4;
  for (int b = 0; b <= 4; b++)
    x[DETECTOR_DENSE_LEN_TINY + b] = b == bucket;
  x[DETECTOR_DENSE_LANG_OTHER] = s->lang == LANG_OTHER;
  x[DETECTOR_DENSE_ADDRESSED] = s->addressed;
}
