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
 * Speed (about 1 us a message is the aim): a text cleaning would not
 * change is read in place; the words are split, normalised, counted for
 * the surface signals and FNV-hashed four ways (unigram, bigram, next
 * bigram, support key) in one pass; the lexicons are probed with those
 * hashes behind a one-bit filter; the hashed features are mixed first and
 * their weights prefetched, then summed in feature order, so the score is
 * the same sum to the last bit whatever the speed-ups.
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

/* Counts below this take their log1p from a table. */
#define LOG1P_TABLE 64

/* The per-group seeds: one distinct first byte for each kind of feature. */
#define SEED(c) strmap_fnv(STRMAP_FNV_BASIS, c, 1)

/* The character n-gram loop of hash_features is written for these. */
_Static_assert(CHAR_N_MIN == 4 && CHAR_N_MAX == 5, "char n-grams are 4, 5");

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
  /* Tables built once: the ASCII class (A_*) and normalised form of each
   * byte, the FNV-1a state of each character n-gram's first byte, log1p
   * of small counts, and the seeds of the word features. */
  unsigned char ascii[128];
  char lower[128];
  uint32_t gram_first[256];
  double log1p[LOG1P_TABLE];
  uint32_t seed_u, seed_b, start_b;
};

struct word {
  uint32_t off, len;   /* in the cleaned text */
  uint32_t noff, nlen; /* normalised form, in scratch norm */
  /* FNV-1a states over the normalised form: the unigram, the bigram that
   * ends here (from the word before), the support key (from the basis). */
  uint32_t h_uni, h_bigram, h_support;
  bool emoji;
  bool stop;    /* a function word */
  bool covered; /* quoted by another reason already */
};

struct match {
  uint32_t first, count; /* words */
  int cat;
};

struct scratch {
  const char *ct; /* the cleaned text: clean, or the text itself when
                     cleaning keeps it */
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
  uint32_t *mixed; /* each hashed feature's mixed hash, in order */
  size_t feat_cap;
  bool keep; /* store the hashed features (for trainers) */
  struct vader_result vr;
  size_t picked[QUOTE_ITEMS]; /* words of the wording reason */
  size_t n_picked;
  uint32_t q_off[QUOTES_MAX], q_len[QUOTES_MAX]; /* quoted so far */
  size_t n_q;
  char text[DETECTOR_MAX_REASONS][DETECTOR_REASON_MAX];
};

struct surface {
  size_t letters, upper, caps_words, words_with_letters;
  size_t exclaim, question;
  bool exclaim_multi, question_multi;
  bool shouting;
};

static void init_tables(struct detector *d);

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
  init_tables(d);
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
    free(s->mixed);
    vader_result_cleanup(&s->vr);
    free(s);
  }
  memset(r, 0, sizeof *r);
}

static size_t char_grams_of(size_t nlen)
{
  size_t l = (nlen > CHAR_WORD_MAX ? CHAR_WORD_MAX : nlen) + 2;
  size_t n = 0;
  for (size_t g = CHAR_N_MIN; g <= CHAR_N_MAX; g++)
    if (l >= g)
      n += l - g + 1;
  return n;
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

/* ASCII bytes of words: their class and normalised form (lower case,
 * digits as '0'). */
#define A_WORD 1  /* letter or digit */
#define A_LOWER 2 /* 'a'..'z' */
#define A_UPPER 4 /* 'A'..'Z' */

static unsigned ascii_class(unsigned char c)
{
  if (c >= 'a' && c <= 'z')
    return A_WORD | A_LOWER;
  if (c >= 'A' && c <= 'Z')
    return A_WORD | A_UPPER;
  return c >= '0' && c <= '9' ? A_WORD : 0;
}

static void init_tables(struct detector *d)
{
  for (unsigned c = 0; c < 128; c++) {
    unsigned k = ascii_class((unsigned char)c);
    d->ascii[c] = (unsigned char)k;
    d->lower[c] = (char)(k & A_UPPER ? c + 32 : k & A_LOWER ? c : k ? '0' : c);
  }
  uint32_t seed_c = SEED("c");
  d->seed_u = SEED("u");
  d->seed_b = SEED("b");
  d->start_b = strmap_fnv(d->seed_b, "<s>", 3);
  for (unsigned c = 0; c < 256; c++)
    d->gram_first[c] = (seed_c ^ c) * STRMAP_FNV_PRIME;
  for (size_t k = 0; k < LOG1P_TABLE; k++)
    d->log1p[k] = log1p((double)k);
}

/* log1p(k), from the table for small counts (same values). */
static double log1p_count(const struct detector *d, size_t k)
{
  return k < LOG1P_TABLE ? d->log1p[k] : log1p((double)k);
}

/* Is there a word character at t[i] (not ASCII)? Sets *n to its byte
 * length. */
static bool wide_word_char_at(const char *t, size_t len, size_t i, size_t *n)
{
  uint32_t cp;
  *n = utf8_decode(t + i, len - i, &cp);
  if (*n == 0) {
    *n = 1;
    return false;
  }
  return is_letter(cp);
}

/* Is there a word character at t[i]? Sets *n to its byte length. */
static inline bool word_char_at(const struct detector *d, const char *t,
                                size_t len, size_t i, size_t *n)
{
  unsigned char c = (unsigned char)t[i];
  if (c < 0x80) {
    *n = 1;
    return d->ascii[c] & A_WORD;
  }
  return wide_word_char_at(t, len, i, n);
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

/* The FNV-1a states of a word under way: the unigram, this word as the
 * first of a bigram, the bigram that ends here, the support key. Four
 * independent chains over the same bytes, taken as they are written. */
struct word_hash {
  uint32_t uni, next, bigram, support;
};

static inline void hash_start(const struct detector *d, struct word_hash *h,
                              uint32_t prev_b)
{
  h->uni = d->seed_u;
  h->next = d->seed_b;
  h->bigram = (prev_b ^ ' ') * STRMAP_FNV_PRIME;
  h->support = STRMAP_FNV_BASIS;
}

static inline void hash_byte(struct word_hash *h, unsigned char c)
{
  h->uni = (h->uni ^ c) * STRMAP_FNV_PRIME;
  h->next = (h->next ^ c) * STRMAP_FNV_PRIME;
  h->bigram = (h->bigram ^ c) * STRMAP_FNV_PRIME;
  h->support = (h->support ^ c) * STRMAP_FNV_PRIME;
}

/* Records a word of the cleaned text t[off..off+len), normalised as
 * s->norm[noff..no), hashed as h; *prev_b becomes its bigram state. */
static inline void add_word(struct scratch *s, size_t *nw, size_t off,
                            size_t len, size_t noff, size_t no, bool emoji,
                            const struct word_hash *h, uint32_t *prev_b)
{
  if (*nw == s->words_cap)
    grow_words(s, *nw + 1);
  struct word *w = &s->words[(*nw)++];
  w->off = (uint32_t)off;
  w->len = (uint32_t)len;
  w->noff = (uint32_t)noff;
  w->nlen = (uint32_t)(no - noff);
  w->h_uni = h->uni;
  w->h_bigram = h->bigram;
  w->h_support = h->support;
  w->emoji = emoji;
  w->stop = false;
  w->covered = false;
  *prev_b = h->next;
}

/* Splits the cleaned text into words and emoji, writing their normalised
 * forms (ASCII lower case, digits as '0', U+2019 as ') into s->norm, and
 * takes the surface signals on the way (every ASCII letter is in a word;
 * '!' and '?' never are). Sets *grams to the number of character n-grams
 * of the words and *last_b to the bigram state of the last word. */
static size_t split_words(const struct detector *d, struct scratch *s,
                          size_t len, struct surface *f, size_t *grams,
                          uint32_t *last_b)
{
  const char *t = s->ct;
  char *norm = s->norm;
  size_t nw = 0, no = 0, i = 0, ng = 0;
  uint32_t prev_b = d->start_b;
  memset(f, 0, sizeof *f);
  while (i < len) {
    unsigned char c = (unsigned char)t[i];
    size_t n = 1;
    if (c < 0x80) {
      if (!(d->ascii[c] & A_WORD)) {
        if (c == '!') {
          f->exclaim++;
          f->exclaim_multi =
              f->exclaim_multi || (i + 1 < len && t[i + 1] == '!');
        } else if (c == '?') {
          f->question++;
          if (i + 1 < len && (t[i + 1] == '?' || t[i + 1] == '!'))
            f->question_multi = true;
        }
        i++;
        continue;
      }
    } else {
      uint32_t cp;
      n = utf8_decode(t + i, len - i, &cp);
      if (n == 0) {
        i++;
        continue;
      }
      if (is_emoji(cp)) {
        struct word_hash h;
        hash_start(d, &h, prev_b);
        for (size_t k = 0; k < n; k++) {
          norm[no + k] = t[i + k];
          hash_byte(&h, (unsigned char)t[i + k]);
        }
        add_word(s, &nw, i, n, no, no + n, true, &h, &prev_b);
        no += n;
        i += n;
        continue;
      }
      if (!is_letter(cp)) {
        i += n;
        continue;
      }
    }
    size_t start = i, nstart = no, lo = 0, up = 0, wn;
    struct word_hash h;
    hash_start(d, &h, prev_b);
    while (i < len) {
      c = (unsigned char)t[i];
      if (c < 0x80) {
        unsigned k = d->ascii[c];
        if (k & A_WORD) {
          unsigned char nc = (unsigned char)d->lower[c];
          norm[no++] = (char)nc;
          hash_byte(&h, nc);
          lo += (k & A_LOWER) != 0;
          up += (k & A_UPPER) != 0;
          i++;
          continue;
        }
        if (c == '\'' && i + 1 < len && word_char_at(d, t, len, i + 1, &wn)) {
          norm[no++] = '\'';
          hash_byte(&h, '\'');
          i++;
          continue;
        }
        break;
      }
      if (wide_word_char_at(t, len, i, &n)) {
        for (size_t k = 0; k < n; k++) {
          norm[no++] = t[i + k];
          hash_byte(&h, (unsigned char)t[i + k]);
        }
        i += n;
        continue;
      }
      if (len - i >= 3 && !memcmp(t + i, "\xe2\x80\x99", 3) && i + 3 < len &&
          word_char_at(d, t, len, i + 3, &wn)) {
        norm[no++] = '\'';
        hash_byte(&h, '\'');
        i += 3;
        continue;
      }
      break;
    }
    add_word(s, &nw, start, i - start, nstart, no, false, &h, &prev_b);
    ng += char_grams_of(no - nstart);
    f->letters += lo + up;
    f->upper += up;
    f->words_with_letters += lo + up > 0;
    f->caps_words += up >= 3 && lo == 0;
  }
  /* Shouting: several words in capitals making up a good part of the
   * message, or a message mostly in capitals; a lone acronym is not. */
  f->shouting =
      f->caps_words >= 3 ||
      (f->caps_words >= 2 && f->caps_words * 10 >= f->words_with_letters * 3) ||
      (f->letters >= 8 && f->upper * 10 >= f->letters * 6);
  *grams = ng;
  *last_b = prev_b;
  return nw;
}

/* ---- Support phrases --------------------------------------------------- */

static size_t match_support(const struct detector *d, struct scratch *s,
                            size_t nw)
{
  size_t nm = 0;
  char key[PHRASE_MAX];
  for (size_t i = 0; i < nw;) {
    /* Longest match: extend while a longer phrase may start here. The
     * first word is looked up in place with its own hash; longer keys are
     * built, their hash extended word by word. */
    const struct word *w = &s->words[i];
    if (w->emoji || w->nlen + 1 > sizeof key) {
      i++;
      continue;
    }
    size_t hit_k = 0, klen = w->nlen;
    unsigned flags;
    uint32_t h = w->h_support;
    int hit_cat =
        support_lookup_fnv(&d->support, s->norm + w->noff, klen, h, &flags);
    s->words[i].stop = (flags & SUPPORT_STOP) != 0;
    if (hit_cat >= 0)
      hit_k = 1;
    if (flags & SUPPORT_MORE)
      memcpy(key, s->norm + w->noff, klen);
    for (size_t k = 1;
         (flags & SUPPORT_MORE) && i + k < nw && k < SUPPORT_MAX_WORDS; k++) {
      w = &s->words[i + k];
      if (w->emoji || klen + w->nlen + 1 > sizeof key)
        break;
      key[klen++] = ' ';
      memcpy(key + klen, s->norm + w->noff, w->nlen);
      h = strmap_fnv(h, key + klen - 1, w->nlen + 1);
      klen += w->nlen;
      int cat = support_lookup_fnv(&d->support, key, klen, h, &flags);
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

static void grow_features(struct scratch *s, size_t need)
{
  if (need <= s->feat_cap)
    return;
  size_t cap = s->feat_cap ? s->feat_cap * 2 : 256;
  while (cap < need)
    cap *= 2;
  s->idx = xrealloc(s->idx, cap * sizeof *s->idx);
  s->val = xrealloc(s->val, cap * sizeof *s->val);
  s->mixed = xrealloc(s->mixed, cap * sizeof *s->mixed);
  s->feat_cap = cap;
}

/* A hashed feature's value, both signs: [0] as is, [1] negated (the top
 * bit of the mixed hash picks one, without a branch). */
struct value {
  double d[2];
  float f[2];
};

static struct value value_of(float v)
{
  return (struct value){{(double)v, -(double)v}, {v, -v}};
}

/* Records one hashed feature (its mixed hash m) at s->idx/val[*n] and
 * returns its part of the score. */
static inline double add_hashed(const struct detector *d, struct scratch *s,
                                size_t *n, uint32_t m, const struct value *v)
{
  uint32_t idx = m & d->mask;
  uint32_t neg = m >> 31;
  if (s->keep) {
    s->idx[*n] = idx;
    s->val[*n] = v->f[neg];
    (*n)++;
  }
  return (double)d->hash_w[idx] * v->d[neg];
}

/* Mixes hash h into the next feature of s->mixed and starts loading its
 * weight: the weights are read later, in feature order, when most of them
 * have arrived. */
static inline void put_mixed(const struct detector *d, uint32_t *mixed,
                             size_t *k, uint32_t h)
{
  uint32_t m = strmap_mix(h);
  mixed[(*k)++] = m;
  __builtin_prefetch(&d->hash_w[m & d->mask]);
}

/* Extracts the hashed features, adds their part of the score to *z and
 * credits each word with what its features added (a bigram's half to each
 * of its two words), for the reasons. The word hashes come from
 * split_words. Two passes: the hashes of every feature first, then the
 * weights, summed in feature order. Sums are kept in locals: going through
 * memory for each feature would chain the additions. */
static size_t hash_features(const struct detector *d, struct scratch *s,
                            size_t nw, size_t grams, uint32_t last_b, double *z)
{
  grow_features(s, 2 * nw + 1 + grams);
  uint32_t *mixed = s->mixed;
  size_t k = 0;
  for (size_t i = 0; i < nw; i++) {
    const struct word *w = &s->words[i];
    put_mixed(d, mixed, &k, w->h_uni);
    /* bigram (previous word or start, this word) */
    put_mixed(d, mixed, &k, w->h_bigram);
    if (w->emoji)
      continue;
    unsigned char pad[CHAR_WORD_MAX + 2];
    size_t l = w->nlen > CHAR_WORD_MAX ? CHAR_WORD_MAX : w->nlen;
    pad[0] = '<';
    memcpy(pad + 1, s->norm + w->noff, l);
    pad[l + 1] = '>';
    l += 2;
    for (size_t a = 0; a + CHAR_N_MIN <= l; a++) {
      uint32_t h = d->gram_first[pad[a]];
      h = (h ^ pad[a + 1]) * STRMAP_FNV_PRIME;
      h = (h ^ pad[a + 2]) * STRMAP_FNV_PRIME;
      h = (h ^ pad[a + 3]) * STRMAP_FNV_PRIME;
      put_mixed(d, mixed, &k, h);
      if (a + CHAR_N_MAX <= l) {
        h = (h ^ pad[a + 4]) * STRMAP_FNV_PRIME;
        put_mixed(d, mixed, &k, h);
      }
    }
  }
  put_mixed(d, mixed, &k, strmap_fnv(strmap_fnv(last_b, " ", 1), "</s>", 4));

  size_t n = 0;
  /* Values shrink with length so that long messages are not louder. */
  struct value vw = value_of(nw ? (float)(1.0 / sqrt((double)nw)) : 0.0f);
  struct value vb = value_of((float)(1.0 / sqrt((double)nw + 1.0)));
  struct value vc = value_of(grams ? (float)(1.0 / sqrt((double)grams)) : 0.0f);
  double total = 0.0;
  k = 0;
  for (size_t i = 0; i < nw; i++) {
    const struct word *w = &s->words[i];
    double c = add_hashed(d, s, &n, mixed[k++], &vw);
    double own = c;
    total += c;
    c = add_hashed(d, s, &n, mixed[k++], &vb);
    total += c;
    if (i > 0) {
      own += c / 2;
      s->contrib[i - 1] += c / 2;
    } else {
      own += c;
    }
    size_t ng = w->emoji ? 0 : char_grams_of(w->nlen);
    for (size_t g = 0; g < ng; g++) {
      c = add_hashed(d, s, &n, mixed[k++], &vc);
      own += c;
      total += c;
    }
    s->contrib[i] = own;
  }
  total += add_hashed(d, s, &n, mixed[k], &vb);
  *z += total;
  return n;
}

/* ---- Dense signals ----------------------------------------------------- */

static void dense_features(const struct detector *d, const struct scratch *s,
                           size_t len, size_t nw, size_t nm, double polarity,
                           double subjectivity, const struct surface *f,
                           double *x)
{
  const struct vader_result *vr = &s->vr;
  memset(x, 0, DETECTOR_N_DENSE * sizeof *x); /* the bins left at 0 */
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
    x[DETECTOR_DENSE_SUP_REPEAT + c] = log1p_count(d, cats[c]);
    if (c != SUPPORT_THANKS)
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
  if (already(s->ct, s->q_off, s->q_len, s->n_q, off, len) ||
      s->n_q == QUOTES_MAX || !quote(out, cap, o, s->ct + off, len, !*nq))
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
  size_t clen = len;
  s->ct = text;
  if (!detector_clean_keeps(text, len)) {
    clen = detector_clean(text, len, s->clean);
    s->clean[clen] = '\0';
    s->ct = s->clean;
  }
  vader_score(d->vader, s->ct, clen, &s->vr);
  struct surface f;
  size_t grams;
  uint32_t last_b;
  size_t nw = split_words(d, s, clen, &f, &grams, &last_b);
  size_t nm = match_support(d, s, nw);
  double z = d->bias;
  size_t nf = hash_features(d, s, nw, grams, last_b, &z);
  double *x = r->features.dense;
  dense_features(d, s, clen, nw, nm, polarity, subjectivity, &f, x);

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
