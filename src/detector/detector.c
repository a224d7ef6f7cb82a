/* detector: cleaning, features, logistic score and reasons (see
 * detector.h).
 *
 * One call runs: clean -> VADER over the cleaned text -> words (lower case,
 * digits as '0') -> support phrases (longest match first) -> hashed
 * features (signed hashing: FNV-1a, MurmurHash3 finaliser, the top bit
 * gives the sign) and the dense signals -> score -> reasons. Every buffer
 * lives in the result's scratch and keeps its capacity, so a warm result
 * scores without allocating. The text is bounded by DETECTOR_MAX_TEXT,
 * which bounds the scratch.
 *
 * Each word is credited with what its hashed features added, so the
 * reasons can name words ("frustrated wording: 'delayed'") instead of
 * bucket numbers. Character 3-grams were tried: they cost time and added
 * nothing out of fold. */
#include "detector/detector.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/xalloc.h"
#include "detector/strmap.h"
#include "detector/support.h"
#include "detector/vader.h"

/* Character n-grams (4 and 5) are taken within words padded as "<word>", from
 * the first CHAR_WORD_MAX bytes of a word (longer ones are rare, and mostly
 * noise such as hashes or keyboard mashing). */
#define CHAR_N_MIN 4
#define CHAR_N_MAX 5
#define CHAR_WORD_MAX 24
/* Phrases of the support lexicon are matched on at most this many bytes. */
#define PHRASE_MAX 96
/* Reasons quote at most this many items of one kind, of at most
 * QUOTE_MAX bytes each. */
#define QUOTE_ITEMS 3
#define QUOTE_MAX 40
#define QUOTES_MAX (QUOTE_ITEMS * DETECTOR_MAX_REASONS)
/* A reason must raise the log-odds by at least this much to be shown. */
#define REASON_MIN 0.05
/* Words considered for the "wording" reason (a bound on its work). */
#define REASON_WORDS_MAX 256

/* Marks a hashed feature that came from the bigram ending at a word. */
#define SRC_BIGRAM 0x80000000u
#define SRC_NONE 0x7fffffffu

static const char *const dense_names[DETECTOR_N_DENSE] = {
#define X(name, desc) desc,
    DETECTOR_DENSE_MAP(X)
#undef X
};

const char *detector_dense_name(size_t i)
{
  return i < DETECTOR_N_DENSE ? dense_names[i] : "?";
}

struct detector {
  struct vader *vader;
  struct support_index support;
  uint32_t hash_bits;
  uint32_t mask;
  float bias;
  float threshold;
  float dense_w[DETECTOR_N_DENSE];
  float dense_mean[DETECTOR_N_DENSE];
  float *hash_w;
};

struct word {
  uint32_t off, len;   /* in the cleaned text */
  uint32_t noff, nlen; /* normalised form, in scratch norm */
  bool emoji;
  bool stop;    /* a function word */
  bool covered; /* quoted by another reason already */
};

struct match {
  uint32_t first, count; /* words */
  int cat;
};

struct scratch {
  char *clean;
  char *norm;
  size_t text_cap; /* bytes of clean and of norm */
  struct word *words;
  double *contrib; /* per word, for the reasons */
  size_t words_cap;
  struct match *matches;
  size_t matches_cap;
  uint32_t *idx;
  float *val;
  size_t feat_cap;
  bool keep; /* store the hashed features (for trainers) */
  struct vader_result vr;
  size_t picked[QUOTE_ITEMS]; /* words of the wording reason */
  size_t n_picked;
  uint32_t q_off[QUOTES_MAX], q_len[QUOTES_MAX]; /* quoted so far */
  size_t n_q;
  char text[DETECTOR_MAX_REASONS][DETECTOR_REASON_MAX];
};

/* ---- Lifetime ---------------------------------------------------------- */

enum err detector_new(const struct detector_model *m, struct detector **out)
{
  *out = NULL;
  if (m->feature_version != DETECTOR_FEATURE_VERSION)
    return ERR_UNSUPPORTED;
  if (m->hash_bits < DETECTOR_MIN_HASH_BITS ||
      m->hash_bits > DETECTOR_MAX_HASH_BITS)
    return ERR_INVALID;
  struct vader *v = NULL;
  enum err rc = vader_new(&v);
  if (rc)
    return rc;
  struct detector *d = xcalloc(1, sizeof *d);
  d->vader = v;
  support_index_init(&d->support);
  d->hash_bits = m->hash_bits;
  d->mask = (1u << m->hash_bits) - 1;
  d->bias = m->bias;
  d->threshold = m->threshold;
  memcpy(d->dense_w, m->dense_w, sizeof d->dense_w);
  memcpy(d->dense_mean, m->dense_mean, sizeof d->dense_mean);
  size_t n = (size_t)1 << m->hash_bits;
  d->hash_w = xmalloc(n * sizeof *d->hash_w);
  memcpy(d->hash_w, m->hash_w, n * sizeof *d->hash_w);
  *out = d;
  return ERR_OK;
}

void detector_free(struct detector *d)
{
  if (!d)
    return;
  vader_free(d->vader);
  support_index_cleanup(&d->support);
  free(d->hash_w);
  free(d);
}

double detector_threshold(const struct detector *d)
{
  return d->threshold;
}

void detector_result_init(struct detector_result *r)
{
  memset(r, 0, sizeof *r);
  struct scratch *s = xcalloc(1, sizeof *s);
  vader_result_init(&s->vr);
  r->priv = s;
}

void detector_result_cleanup(struct detector_result *r)
{
  struct scratch *s = r->priv;
  if (s) {
    free(s->clean);
    free(s->norm);
    free(s->words);
    free(s->contrib);
    free(s->matches);
    free(s->idx);
    free(s->val);
    vader_result_cleanup(&s->vr);
    free(s);
  }
  memset(r, 0, sizeof *r);
}

/* ---- Words ------------------------------------------------------------- */

static bool is_emoji(uint32_t cp)
{
  return (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF) ||
         (cp >= 0x2B00 && cp <= 0x2BFF);
}

/* Letters of other scripts, roughly: everything from Latin-1's letters up
 * that is not punctuation, symbols, arrows, emoji or variation selectors. */
static bool is_letter(uint32_t cp)
{
  if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7)
    return false;
  if (cp >= 0x2000 && cp <= 0x2BFF)
    return false;
  if ((cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFE00 && cp <= 0xFE0F) ||
      (cp >= 0xFF00 && cp <= 0xFF0F) || cp == 0xFEFF)
    return false;
  return !is_emoji(cp);
}

static bool ascii_alnum(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

/* Is there a word character at t[i]? Sets *n to its byte length. */
static bool word_char_at(const char *t, size_t len, size_t i, size_t *n)
{
  unsigned char c = (unsigned char)t[i];
  if (c < 0x80) {
    *n = 1;
    return ascii_alnum(c);
  }
  uint32_t cp;
  *n = utf8_decode(t + i, len - i, &cp);
  if (*n == 0) {
    *n = 1;
    return false;
  }
  return is_letter(cp);
}

/* Apostrophe (ASCII or U+2019) at t[i]? Sets *n to its byte length. */
static bool apostrophe_at(const char *t, size_t len, size_t i, size_t *n)
{
  if (t[i] == '\'') {
    *n = 1;
    return true;
  }
  if (len - i >= 3 && !memcmp(t + i, "\xe2\x80\x99", 3)) {
    *n = 3;
    return true;
  }
  return false;
}

static void grow_words(struct scratch *s, size_t need)
{
  if (need <= s->words_cap)
    return;
  size_t cap = s->words_cap ? s->words_cap * 2 : 64;
  while (cap < need)
    cap *= 2;
  s->words = xrealloc(s->words, cap * sizeof *s->words);
  s->contrib = xrealloc(s->contrib, cap * sizeof *s->contrib);
  s->words_cap = cap;
}

/* Splits the cleaned text into words and emoji, writing their normalised
 * forms (ASCII lower case, digits as '0', U+2019 as ') into s->norm. */
static size_t split_words(struct scratch *s, size_t len)
{
  const char *t = s->clean;
  char *norm = s->norm;
  size_t nw = 0, no = 0, i = 0;
  while (i < len) {
    unsigned char c = (unsigned char)t[i];
    size_t n = 1;
    if (c >= 0x80) {
      uint32_t cp;
      n = utf8_decode(t + i, len - i, &cp);
      if (n == 0) {
        i++;
        continue;
      }
      if (is_emoji(cp)) {
        grow_words(s, nw + 1);
        s->words[nw++] =
            (struct word){(uint32_t)i, (uint32_t)n, (uint32_t)no, (uint32_t)n,
                          true,        false,       false};
        memcpy(norm + no, t + i, n);
        no += n;
        i += n;
        continue;
      }
    }
    if (!word_char_at(t, len, i, &n)) {
      i += n;
      continue;
    }
    size_t start = i, nstart = no;
    for (;;) {
      if (i < len && word_char_at(t, len, i, &n)) {
        for (size_t k = 0; k < n; k++) {
          char ch = t[i + k];
          if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch + 32);
          else if (ch >= '0' && ch <= '9')
            ch = '0';
          norm[no++] = ch;
        }
        i += n;
        continue;
      }
      size_t an, wn;
      if (i < len && apostrophe_at(t, len, i, &an) && i + an < len &&
          word_char_at(t, len, i + an, &wn)) {
        norm[no++] = '\'';
        i += an;
        continue;
      }
      break;
    }
    grow_words(s, nw + 1);
    s->words[nw++] = (struct word){(uint32_t)start,
                                   (uint32_t)(i - start),
                                   (uint32_t)nstart,
                                   (uint32_t)(no - nstart),
                                   false,
                                   false,
                                   false};
  }
  return nw;
}

/* ---- Support phrases --------------------------------------------------- */

static size_t match_support(const struct detector *d, struct scratch *s,
                            size_t nw)
{
  size_t nm = 0;
  char key[PHRASE_MAX];
  for (size_t i = 0; i < nw;) {
    /* Longest match: extend while a longer phrase may start here. */
    size_t hit_k = 0, klen = 0;
    int hit_cat = -1;
    unsigned flags = SUPPORT_MORE;
    for (size_t k = 0;
         (flags & SUPPORT_MORE) && i + k < nw && k < SUPPORT_MAX_WORDS; k++) {
      const struct word *w = &s->words[i + k];
      if (w->emoji || klen + w->nlen + 1 > sizeof key)
        break;
      if (k)
        key[klen++] = ' ';
      memcpy(key + klen, s->norm + w->noff, w->nlen);
      klen += w->nlen;
      int cat = support_lookup(&d->support, key, klen, &flags);
      if (k == 0)
        s->words[i].stop = (flags & SUPPORT_STOP) != 0;
      if (cat >= 0) {
        hit_k = k + 1;
        hit_cat = cat;
      }
    }
    if (!hit_k) {
      i++;
      continue;
    }
    if (nm == s->matches_cap) {
      s->matches_cap = s->matches_cap ? s->matches_cap * 2 : 16;
      s->matches = xrealloc(s->matches, s->matches_cap * sizeof *s->matches);
    }
    s->matches[nm++] = (struct match){(uint32_t)i, (uint32_t)hit_k, hit_cat};
    i += hit_k;
  }
  return nm;
}

/* ---- Hashed features --------------------------------------------------- */

static size_t char_grams_of(size_t nlen)
{
  size_t l = (nlen > CHAR_WORD_MAX ? CHAR_WORD_MAX : nlen) + 2;
  size_t n = 0;
  for (size_t g = CHAR_N_MIN; g <= CHAR_N_MAX; g++)
    if (l >= g)
      n += l - g + 1;
  return n;
}

static void grow_features(struct scratch *s, size_t need)
{
  if (need <= s->feat_cap)
    return;
  size_t cap = s->feat_cap ? s->feat_cap * 2 : 256;
  while (cap < need)
    cap *= 2;
  s->idx = xrealloc(s->idx, cap * sizeof *s->idx);
  s->val = xrealloc(s->val, cap * sizeof *s->val);
  s->feat_cap = cap;
}

/* Records one hashed feature at s->idx/val[*n] and returns its part of
 * the score. */
static inline double add_hashed(const struct detector *d, struct scratch *s,
                                size_t *n, uint32_t h, float v)
{
  uint32_t m = strmap_mix(h);
  uint32_t idx = m & d->mask;
  float val = (m & 0x80000000u) ? -v : v;
  if (s->keep) {
    s->idx[*n] = idx;
    s->val[*n] = val;
    (*n)++;
  }
  return (double)d->hash_w[idx] * (double)val;
}

/* The per-group seeds: one distinct first byte for each kind of feature. */
#define SEED(c) strmap_fnv(STRMAP_FNV_BASIS, c, 1)

/* Extracts the hashed features, adds their part of the score to *z and
 * credits each word with what its features added (a bigram's half to each
 * of its two words), for the reasons. Sums are kept in locals: going
 * through memory for each feature would chain the additions. */
static size_t hash_features(const struct detector *d, struct scratch *s,
                            size_t nw, double *z)
{
  size_t grams = 0;
  for (size_t i = 0; i < nw; i++)
    if (!s->words[i].emoji)
      grams += char_grams_of(s->words[i].nlen);
  if (s->keep)
    grow_features(s, 2 * nw + 1 + grams);
  size_t n = 0;
  /* Values shrink with length so that long messages are not louder. */
  float vw = nw ? (float)(1.0 / sqrt((double)nw)) : 0.0f;
  float vb = (float)(1.0 / sqrt((double)nw + 1.0));
  float vc = grams ? (float)(1.0 / sqrt((double)grams)) : 0.0f;
  uint32_t seed_u = SEED("u"), seed_b = SEED("b"), seed_c = SEED("c");
  uint32_t prev = strmap_fnv(seed_b, "<s>", 3);
  double total = 0.0;
  for (size_t i = 0; i < nw; i++) {
    const struct word *w = &s->words[i];
    const char *nt = s->norm + w->noff;
    double c = add_hashed(d, s, &n, strmap_fnv(seed_u, nt, w->nlen), vw);
    double own = c;
    total += c;
    /* bigram (previous word or start, this word) */
    uint32_t hb = strmap_fnv(strmap_fnv(prev, " ", 1), nt, w->nlen);
    c = add_hashed(d, s, &n, hb, vb);
    total += c;
    if (i > 0) {
      own += c / 2;
      s->contrib[i - 1] += c / 2;
    } else {
      own += c;
    }
    prev = strmap_fnv(seed_b, nt, w->nlen);
    if (!w->emoji) {
      char pad[CHAR_WORD_MAX + 2];
      size_t l = w->nlen > CHAR_WORD_MAX ? CHAR_WORD_MAX : w->nlen;
      pad[0] = '<';
      memcpy(pad + 1, nt, l);
      pad[l + 1] = '>';
      l += 2;
      for (size_t a = 0; a + CHAR_N_MIN <= l; a++) {
        uint32_t h = strmap_fnv(seed_c, pad + a, CHAR_N_MIN);
        c = add_hashed(d, s, &n, h, vc);
        own += c;
        total += c;
        for (size_t g = CHAR_N_MIN + 1; g <= CHAR_N_MAX && a + g <= l; g++) {
          h = strmap_fnv(h, pad + a + g - 1, 1);
          c = add_hashed(d, s, &n, h, vc);
          own += c;
          total += c;
        }
      }
    }
    s->contrib[i] = own;
  }
  uint32_t he = strmap_fnv(strmap_fnv(prev, " ", 1), "</s>", 4);
  total += add_hashed(d, s, &n, he, vb);
  *z += total;
  return n;
}

/* ---- Dense signals ----------------------------------------------------- */

struct surface {
  size_t letters, upper, caps_words, words_with_letters;
  size_t exclaim, question;
  bool exclaim_multi, question_multi;
  bool shouting;
};

static void surface_of(const struct scratch *s, size_t len, size_t nw,
                       struct surface *f)
{
  memset(f, 0, sizeof *f);
  const char *t = s->clean;
  for (size_t i = 0; i < len; i++) {
    char c = t[i];
    if (c >= 'a' && c <= 'z')
      f->letters++;
    else if (c >= 'A' && c <= 'Z') {
      f->letters++;
      f->upper++;
    } else if (c == '!') {
      f->exclaim++;
      if (i + 1 < len && (t[i + 1] == '!' || t[i + 1] == '?'))
        f->exclaim_multi = f->exclaim_multi || t[i + 1] == '!';
    } else if (c == '?') {
      f->question++;
      if (i + 1 < len && (t[i + 1] == '?' || t[i + 1] == '!'))
        f->question_multi = true;
    }
  }
  for (size_t i = 0; i < nw; i++) {
    const struct word *w = &s->words[i];
    size_t lo = 0, up = 0;
    for (size_t k = 0; k < w->len; k++) {
      char c = t[w->off + k];
      lo += c >= 'a' && c <= 'z';
      up += c >= 'A' && c <= 'Z';
    }
    if (lo + up)
      f->words_with_letters++;
    if (up >= 3 && lo == 0)
      f->caps_words++;
  }
  /* Shouting: several words in capitals making up a good part of the
   * message, or a message mostly in capitals; a lone acronym is not. */
  f->shouting =
      f->caps_words >= 3 ||
      (f->caps_words >= 2 && f->caps_words * 10 >= f->words_with_letters * 3) ||
      (f->letters >= 8 && f->upper * 10 >= f->letters * 6);
}

static void dense_features(const struct scratch *s, size_t len, size_t nw,
                           size_t nm, double polarity, double subjectivity,
                           const struct surface *f, double *x)
{
  const struct vader_result *vr = &s->vr;
  memset(x, 0, DETECTOR_N_DENSE * sizeof *x);
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
  x[DETECTOR_DENSE_VADER_NEG_WORDS] = log1p((double)neg);
  x[DETECTOR_DENSE_VADER_POS_WORDS] = log1p((double)pos);
  size_t cats[SUPPORT_N_CATS] = {0};
  for (size_t i = 0; i < nm; i++)
    cats[s->matches[i].cat]++;
  size_t complaints = 0;
  for (int c = 0; c < SUPPORT_N_CATS; c++) {
    x[DETECTOR_DENSE_SUP_REPEAT + c] = log1p((double)cats[c]);
    if (c != SUPPORT_THANKS)
      complaints += cats[c];
  }
  x[DETECTOR_DENSE_SUP_ANY] = log1p((double)complaints);
  x[DETECTOR_DENSE_CAPS_RATIO] =
      f->letters >= 4 ? (double)f->upper / (double)f->letters : 0.0;
  x[DETECTOR_DENSE_SHOUTING] = f->shouting;
  x[DETECTOR_DENSE_EXCLAIM] = log1p((double)f->exclaim);
  x[DETECTOR_DENSE_EXCLAIM_MULTI] = f->exclaim_multi;
  x[DETECTOR_DENSE_QUESTION] = log1p((double)f->question);
  x[DETECTOR_DENSE_QUESTION_MULTI] = f->question_multi;
  x[DETECTOR_DENSE_NEGATIONS] = log1p((double)vr->n_negations);
  int bucket = nw <= 3 ? 0 : nw <= 8 ? 1 : nw <= 16 ? 2 : nw <= 32 ? 3 : 4;
  x[DETECTOR_DENSE_LEN_TINY + bucket] = 1.0;
  (void)len;
}

/* ---- Reasons ----------------------------------------------------------- */

struct cand {
  double weight;
  int kind; /* enum reason_kind, or R_SUPPORT + category */
};

enum reason_kind {
  R_TONE,
  R_VADER,
  R_CAPS,
  R_EXCLAIM,
  R_QUESTION,
  R_NEGATION,
  R_LENGTH,
  R_WORDS,
  R_SUPPORT, /* + enum support_cat */
  R_COUNT = R_SUPPORT + SUPPORT_N_CATS
};

/* Appends "'word'" (lower case, shortened at a character boundary) to out
 * of capacity cap at *o; refuses when it would not fit with room for
 * more. */
static bool quote(char *out, size_t cap, size_t *o, const char *w, size_t len,
                  bool first)
{
  if (len > QUOTE_MAX) {
    len = QUOTE_MAX;
    while (len > 0 && ((unsigned char)w[len] & 0xC0) == 0x80)
      len--;
  }
  size_t need = (first ? 0 : 2) + len + 2;
  if (*o + need + 1 > cap)
    return false;
  if (!first) {
    out[(*o)++] = ',';
    out[(*o)++] = ' ';
  }
  out[(*o)++] = '\'';
  for (size_t i = 0; i < len; i++) {
    char c = w[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c + 32);
    else if (c == '\n' || c == '\r' || c == '\t')
      c = ' ';
    out[(*o)++] = c;
  }
  out[(*o)++] = '\'';
  out[*o] = '\0';
  return true;
}

static bool same_text(const char *a, size_t al, const char *b, size_t bl)
{
  if (al != bl)
    return false;
  for (size_t i = 0; i < al; i++) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z')
      x = (char)(x + 32);
    if (y >= 'A' && y <= 'Z')
      y = (char)(y + 32);
    if (x != y)
      return false;
  }
  return true;
}

/* Has the word at t[off..off+len) already been quoted among the first n
 * of offs/lens? */
static bool already(const char *t, const uint32_t *offs, const uint32_t *lens,
                    size_t n, uint32_t off, uint32_t len)
{
  for (size_t i = 0; i < n; i++)
    if (same_text(t + offs[i], lens[i], t + off, len))
      return true;
  return false;
}

/* Copies the static text lit into out (capacity cap, NUL included);
 * returns its length (cheaper than snprintf, on the hot path). */
static size_t put(char *out, size_t cap, const char *lit)
{
  size_t n = strlen(lit);
  if (n >= cap)
    n = cap - 1;
  memcpy(out, lit, n);
  out[n] = '\0';
  return n;
}

/* Quotes t[off..off+len) into out unless an earlier reason of this
 * message quoted the same words; returns whether it did. */
static bool quote_new(struct scratch *s, char *out, size_t cap, size_t *o,
                      uint32_t off, uint32_t len, size_t *nq)
{
  if (already(s->clean, s->q_off, s->q_len, s->n_q, off, len) ||
      s->n_q == QUOTES_MAX || !quote(out, cap, o, s->clean + off, len, !*nq))
    return false;
  s->q_off[s->n_q] = off;
  s->q_len[s->n_q++] = len;
  (*nq)++;
  return true;
}

/* Writes the text of reason kind into out; returns false when it has
 * nothing left to say (every word it would quote was quoted already). */
static bool render(struct scratch *s, size_t nm, double polarity, int kind,
                   char *out, size_t cap)
{
  size_t o = 0, nq = 0;
  out[0] = '\0';
  switch (kind) {
  case R_TONE:
    snprintf(out, cap, "negative tone (TextBlob polarity %.2f)", polarity);
    return true;
  case R_VADER:
    o = put(out, cap, "negative words: ");
    for (size_t i = 0; i < s->vr.n_hits && nq < QUOTE_ITEMS; i++) {
      const struct vader_hit *h = &s->vr.hits[i];
      if (h->valence < 0)
        quote_new(s, out, cap, &o, (uint32_t)h->off, (uint32_t)h->len, &nq);
    }
    return nq > 0;
  case R_CAPS:
    put(out, cap, "shouting (ALL CAPS)");
    return true;
  case R_EXCLAIM:
    put(out, cap, "exclamation marks");
    return true;
  case R_QUESTION:
    put(out, cap, "insistent question marks (?? or ?!)");
    return true;
  case R_NEGATION:
    put(out, cap, "negations (not, never, no...)");
    return true;
  case R_LENGTH:
    put(out, cap, "long message");
    return true;
  case R_WORDS:
    o = put(out, cap, "frustrated wording: ");
    for (size_t i = 0; i < s->n_picked; i++) {
      const struct word *w = &s->words[s->picked[i]];
      quote_new(s, out, cap, &o, w->off, w->len, &nq);
    }
    return nq > 0;
  default: {
    int cat = kind - R_SUPPORT;
    o = put(out, cap, support_cat_label(cat));
    o += put(out + o, cap - o, ": ");
    for (size_t i = 0; i < nm && nq < QUOTE_ITEMS; i++) {
      const struct match *m = &s->matches[i];
      if (m->cat != cat)
        continue;
      const struct word *a = &s->words[m->first];
      const struct word *b = &s->words[m->first + m->count - 1];
      quote_new(s, out, cap, &o, a->off, b->off + b->len - a->off, &nq);
    }
    return nq > 0;
  }
  }
}

/* Marks the words quoted by the VADER and support reasons, so that the
 * wording reason names others. */
static void cover_words(struct scratch *s, size_t nw, size_t nm)
{
  for (size_t i = 0; i < nw; i++)
    s->words[i].covered = false;
  size_t h = 0;
  for (size_t i = 0; i < nw; i++) {
    struct word *w = &s->words[i];
    while (h < s->vr.n_hits && s->vr.hits[h].off + s->vr.hits[h].len <= w->off)
      h++;
    if (h < s->vr.n_hits && s->vr.hits[h].valence < 0 &&
        s->vr.hits[h].off <= w->off)
      w->covered = true;
  }
  for (size_t i = 0; i < nm; i++)
    for (uint32_t k = 0; k < s->matches[i].count; k++)
      s->words[s->matches[i].first + k].covered = true;
}

/* Picks for the wording reason the (at most QUOTE_ITEMS) distinct words
 * not quoted elsewhere whose n-grams raised the score most; returns what
 * they add together. */
static double pick_words(struct scratch *s, size_t nw)
{
  size_t lim = nw < REASON_WORDS_MAX ? nw : REASON_WORDS_MAX;
  double total = 0.0;
  s->n_picked = 0;
  while (s->n_picked < QUOTE_ITEMS) {
    size_t best = lim;
    for (size_t i = 0; i < lim; i++)
      if (!s->words[i].covered && s->contrib[i] > REASON_MIN &&
          (best == lim || s->contrib[i] > s->contrib[best]))
        best = i;
    if (best == lim)
      break;
    const struct word *b = &s->words[best];
    for (size_t i = 0; i < lim; i++) {
      const struct word *w = &s->words[i];
      if (w->nlen == b->nlen &&
          !memcmp(s->norm + w->noff, s->norm + b->noff, b->nlen))
        s->words[i].covered = true;
    }
    total += s->contrib[best];
    s->picked[s->n_picked++] = best;
  }
  return total;
}

static void reasons(const struct detector *d, struct scratch *s, size_t nw,
                    size_t nm, const double *x, double polarity,
                    const struct surface *f, struct detector_result *r)
{
  double c[DETECTOR_N_DENSE];
  for (size_t j = 0; j < DETECTOR_N_DENSE; j++)
    c[j] = d->dense_w[j] * (x[j] - d->dense_mean[j]);
  double w[R_COUNT] = {0};
  bool on[R_COUNT] = {0};
  on[R_TONE] = polarity < 0;
  w[R_TONE] = c[DETECTOR_DENSE_POLARITY] + c[DETECTOR_DENSE_POLARITY_NEG] +
              c[DETECTOR_DENSE_POL_VNEG] + c[DETECTOR_DENSE_POL_NEG] +
              c[DETECTOR_DENSE_POL_NEU] + c[DETECTOR_DENSE_POL_POS] +
              c[DETECTOR_DENSE_SUBJECTIVITY];
  for (size_t i = 0; i < s->vr.n_hits; i++)
    on[R_VADER] = on[R_VADER] || s->vr.hits[i].valence < 0;
  w[R_VADER] = 0.0;
  for (int j = DETECTOR_DENSE_VADER_COMPOUND;
       j <= DETECTOR_DENSE_VADER_POS_WORDS; j++)
    w[R_VADER] += c[j];
  on[R_CAPS] = f->shouting;
  w[R_CAPS] = c[DETECTOR_DENSE_CAPS_RATIO] + c[DETECTOR_DENSE_SHOUTING];
  on[R_EXCLAIM] = f->exclaim > 0;
  w[R_EXCLAIM] = c[DETECTOR_DENSE_EXCLAIM] + c[DETECTOR_DENSE_EXCLAIM_MULTI];
  on[R_QUESTION] = f->question_multi;
  w[R_QUESTION] = c[DETECTOR_DENSE_QUESTION] + c[DETECTOR_DENSE_QUESTION_MULTI];
  on[R_NEGATION] = s->vr.n_negations > 0;
  w[R_NEGATION] = c[DETECTOR_DENSE_NEGATIONS];
  on[R_LENGTH] =
      x[DETECTOR_DENSE_LEN_LONG] > 0 || x[DETECTOR_DENSE_LEN_HUGE] > 0;
  w[R_LENGTH] = c[DETECTOR_DENSE_LEN_LONG] + c[DETECTOR_DENSE_LEN_HUGE];
  size_t present = 0;
  for (size_t i = 0; i < nm; i++) {
    int k = R_SUPPORT + s->matches[i].cat;
    if (!on[k] && s->matches[i].cat != SUPPORT_THANKS)
      present++;
    on[k] = true;
  }
  for (int cat = 0; cat < SUPPORT_N_CATS; cat++) {
    w[R_SUPPORT + cat] = c[DETECTOR_DENSE_SUP_REPEAT + cat];
    if (cat != SUPPORT_THANKS && on[R_SUPPORT + cat])
      w[R_SUPPORT + cat] += c[DETECTOR_DENSE_SUP_ANY] / (double)present;
  }
  cover_words(s, nw, nm);
  for (size_t i = 0; i < nw; i++)
    s->words[i].covered = s->words[i].covered || s->words[i].stop;
  w[R_WORDS] = pick_words(s, nw);
  on[R_WORDS] = s->n_picked > 0;

  r->n_reasons = 0;
  s->n_q = 0;
  bool used[R_COUNT] = {0};
  while (r->n_reasons < DETECTOR_MAX_REASONS) {
    int best = -1;
    for (int k = 0; k < R_COUNT; k++)
      if (on[k] && !used[k] && w[k] > REASON_MIN &&
          (best < 0 || w[k] > w[best]))
        best = k;
    if (best < 0)
      break;
    used[best] = true;
    char *text = s->text[r->n_reasons];
    if (!render(s, nm, polarity, best, text, DETECTOR_REASON_MAX))
      continue;
    r->reasons[r->n_reasons].text = text;
    r->reasons[r->n_reasons].weight = w[best];
    r->n_reasons++;
  }
}

/* ---- Scoring ----------------------------------------------------------- */

static void ensure_text(struct scratch *s, size_t len)
{
  if (len + 1 <= s->text_cap)
    return;
  size_t cap = s->text_cap ? s->text_cap : 256;
  while (cap < len + 1)
    cap *= 2;
  s->clean = xrealloc(s->clean, cap);
  s->norm = xrealloc(s->norm, cap);
  s->text_cap = cap;
}

enum err detector_score(const struct detector *d, const char *text, size_t len,
                        double polarity, double subjectivity,
                        struct detector_result *r)
{
  struct scratch *s = r->priv;
  r->score = 0.0;
  r->frustrated = false;
  r->threshold = d->threshold;
  r->n_reasons = 0;
  r->features.n = 0;
  memset(r->features.dense, 0, sizeof r->features.dense);
  if (len > DETECTOR_MAX_TEXT) {
    len = DETECTOR_MAX_TEXT;
    while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
      len--;
  }
  if (!utf8_is_valid(text, len))
    return ERR_UTF8;
  if (!isfinite(polarity))
    polarity = 0.0;
  if (!isfinite(subjectivity))
    subjectivity = 0.0;
  s->keep = r->keep_features;
  ensure_text(s, len);
  size_t clen = detector_clean(text, len, s->clean);
  s->clean[clen] = '\0';
  vader_score(d->vader, s->clean, clen, &s->vr);
  size_t nw = split_words(s, clen);
  size_t nm = match_support(d, s, nw);
  double z = d->bias;
  size_t nf = hash_features(d, s, nw, &z);
  struct surface f;
  surface_of(s, clen, nw, &f);
  double *x = r->features.dense;
  dense_features(s, clen, nw, nm, polarity, subjectivity, &f, x);

  for (size_t j = 0; j < DETECTOR_N_DENSE; j++)
    z += d->dense_w[j] * (x[j] - d->dense_mean[j]);
  r->score = 1.0 / (1.0 + exp(-z));
  r->frustrated = r->score >= d->threshold;
  r->features.idx = s->idx;
  r->features.val = s->val;
  r->features.n = nf;
  /* A calm message has no reasons: what little raised its score would
   * read as an accusation ("frustrated wording: 'help'"). */
  if (r->score >= d->threshold / 2)
    reasons(d, s, nw, nm, x, polarity, &f, r);
  return ERR_OK;
}

void detector_write_json(const struct detector_result *r, struct jsonw *w)
{
  jsonw_key(w, "frustration");
  jsonw_object_begin(w);
  jsonw_key(w, "score");
  jsonw_double(w, r->score);
  jsonw_key(w, "threshold");
  jsonw_double(w, r->threshold);
  jsonw_key(w, "frustrated");
  jsonw_bool(w, r->frustrated);
  jsonw_key(w, "reasons");
  jsonw_array_begin(w);
  for (size_t i = 0; i < r->n_reasons; i++) {
    jsonw_object_begin(w);
    jsonw_key(w, "text");
    jsonw_string(w, r->reasons[i].text);
    jsonw_key(w, "weight");
    jsonw_double(w, round(r->reasons[i].weight * 1000) / 1000);
    jsonw_object_end(w);
  }
  jsonw_array_end(w);
  jsonw_object_end(w);
}
