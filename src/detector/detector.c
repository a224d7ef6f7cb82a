/* detector: cleaning, features, logistic score and reasons (see
 * detector.h).
 *
 * One call runs: clean -> the text's tokens (VADER's: the text between
 * white space), each read for VADER and split into words (lower case,
 * digits as '0') -> VADER's rules -> support phrases (longest match first)
 * -> hashed features (signed hashing: FNV-1a, MurmurHash3 finaliser, the
 * top bit gives the sign) and the dense signals -> score -> reasons. Every
 * buffer lives in the result's scratch and keeps its capacity, so a warm
 * result scores without allocating. The text is bounded by
 * DETECTOR_MAX_TEXT, which bounds the scratch.
 *
 * Speed: most of what a message says was said before. What a token comes
 * to (VADER's reading, its words, its surface counts) and what a word
 * comes to (its unigram weight, the sum of its character n-grams'
 * weights, its support entry, its hash states) depend on it alone, so the
 * detector remembers both in memos (memo.h) shared by threads and filled
 * as messages come: a token seen before costs a lookup and the bigram
 * hashes of its words. A memo only holds what would be computed, and a
 * word's sums are worked out by one function whatever the path, so the
 * score is the same to the last bit whether the memo had the word or not.
 * fa-train records its features from the same code (its own sum of them
 * may differ from the score in the last bits: its order is another).
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
#include "detector/memo.h"
#include "detector/strmap.h"
#include "detector/support.h"
#include "detector/vader.h"

/* Character n-grams (4 and 5) are taken within words padded as "<word>", from
 * the first CHAR_WORD_MAX bytes of a word (longer ones are rare, and mostly
 * noise such as hashes or keyboard mashing). */
#define CHAR_N_MIN 4
#define CHAR_N_MAX 5
#define CHAR_WORD_MAX 24
#define CHAR_GRAMS_MAX (2 * (CHAR_WORD_MAX + 2) - CHAR_N_MIN - CHAR_N_MAX + 2)
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

/* Words of at most WORD_MEMO_MAX bytes (normalised: a memo key) are
 * remembered in a memo of 2^WORD_MEMO_BITS slots of 64 bytes (2 MiB; a
 * word's record and its key fill one cache line). */
#define WORD_MEMO_MAX MEMO_KEY_MAX
#define WORD_MEMO_BITS 15
/* Tokens of at most MEMO_KEY_MAX bytes and TOKEN_WORDS words are
 * remembered in a memo of 2^TOKEN_MEMO_BITS slots of 64 bytes (4 MiB).
 * Sizes: the 34,554 texts of the TextBlob golden set have about 53,000
 * distinct tokens and 26,000 distinct words; with 2^15 token slots a
 * stream of them read many more tokens the slow way (13,400 instructions
 * a message against 12,970; 2^17 would save 170 more for 4 MiB more, and
 * the service has a memory budget). Pages are touched as slots fill. */
#define TOKEN_WORDS 2
#define TOKEN_MEMO_BITS 16

/* The surface signals of a token, in the order token_record keeps them:
 * counts, and 0 or 1 for the two flags. */
enum {
  C_LETTERS,
  C_UPPER,
  C_CAPS,
  C_WITH_LETTERS,
  C_EXCLAIM,
  C_QUESTION,
  C_EXCLAIM_MULTI,
  C_QUESTION_MULTI,
  N_COUNTS
};
/* The counts of remembered tokens are summed as the eight bytes of a
 * 64-bit word, at most LANE_TOKENS tokens at a time: each is at most
 * MEMO_KEY_MAX, so no byte carries into another, whatever the byte
 * order. */
#define LANE_TOKENS (255 / MEMO_KEY_MAX)
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
  struct memo *words;  /* struct word_record of words seen, shared */
  struct memo *tokens; /* struct token_record of tokens seen, shared */
  uint32_t hash_bits;
  uint32_t mask;
  float bias;
  float threshold;
  /* The model's floats as doubles, as the score computes with them (the
   * conversion is exact). */
  double dense_w[DETECTOR_N_DENSE];
  double dense_mean[DETECTOR_N_DENSE];
  double dense_base; /* -(dense_w . dense_mean) */
  float *hash_w;
  /* Tables built once: the word loop's entry of each byte (W_*), the
   * FNV-1a state of each character n-gram's first byte, log1p of small
   * counts, and the seeds of the word features. */
  uint64_t word_byte[256];
  unsigned char space[256]; /* SPACE_* */
  uint32_t gram_first[256];
  double log1p[LOG1P_TABLE];
  uint32_t seed_u, start_b, end_b;
};

/* Flags of a word beside its support lookup's SUPPORT_MORE and
 * SUPPORT_STOP: the lookup found a phrase; the word is an emoji. */
#define SUP_HIT 0x80
#define WORD_EMOJI 0x40

/* Bytes of white space (VADER's, which splits tokens there). */
#define SPACE_ASCII 1 /* one of it */
#define SPACE_LEAD 2  /* may start a wide one: vader_space_at tells */

/* A word of the message. What every word needs is here; the rest (its
 * normalised form, its support key and category: see word_norm and
 * word_support) is in its memo record when it has one, which only the
 * words that may start a phrase or be quoted need to load. */
struct word {
  uint32_t off, len; /* in the cleaned text */
  /* Mixed hashes of the unigram and of the bigram that ends here (from
   * the word before, or the start). */
  uint32_t m_uni, m_bigram;
  float uni_w; /* the unigram's weight, signed */
  uint8_t n_grams;
  uint8_t sup_flags; /* of the support lookup of the word alone, SUP_HIT when
                        it found a phrase, and WORD_EMOJI */
  /* The sum of the signed weights of its character n-grams (n_grams of
   * them), in their order, in double. */
  double grams_w;
  const struct word_record *rec; /* in the memo, or NULL */
  /* Read only for a word without rec (set only for words read the slow
   * way, split_span): its normalised form, in scratch norm, the FNV-1a
   * state of that from the basis (the support key, which match_support
   * extends word by word) and its support category. */
  uint32_t noff, nlen;
  uint32_t h_support;
  int8_t sup_cat;
};

_Static_assert(WORD_MEMO_MAX <= MEMO_KEY_MAX, "remembered words are keys");

/* What a word comes to, whatever the message (given the model), as the
 * memo keeps it. */
struct word_record {
  uint32_t m_uni;     /* the mixed hash of its unigram */
  float uni_w;        /* its unigram's weight, signed */
  uint32_t support;   /* FNV-1a state over it from the basis: support key */
  int8_t support_cat; /* support_lookup of the word alone, or -1 */
  uint8_t flags;      /* as struct word's sup_flags */
  uint8_t n_grams;
  double grams_w; /* the sum of its n-grams' signed weights, in order */
};

_Static_assert(MEMO_RECORD + sizeof(struct word_record) <= 64,
               "word records fill a line");

/* What a token (VADER's: the text between white space) comes to,
 * whatever the message, as the memo keeps it: VADER's reading of it, its
 * words (at most TOKEN_WORDS, each in the word memo) and what they add to
 * the surface signals. A token of one word, the most common, carries what
 * the word's record would give every word, so that reading it loads one
 * cache line, not two. 40 bytes: with the memo's head, one cache line. A
 * token has at most MEMO_KEY_MAX bytes, so its offsets and counts are
 * bytes. */
struct token_record {
  int32_t fields; /* VADER's reading: fields, */
  uint32_t word0; /* its first word, by place in the word memo */
  union {
    struct {          /* n_words == 1: the word's */
      uint32_t m_uni; /* word_record.m_uni, */
      float uni_w;    /* .uni_w */
      double grams_w; /* and .grams_w */
    } one;
    uint32_t word1; /* n_words == 2: the second word, by place */
  } u;
  uint8_t counts[N_COUNTS];      /* what it adds to the surface signals */
  uint8_t v_off, v_len, v_flags; /* VADER's reading: off, len, flags */
  uint8_t n_words;
  uint8_t off0, len0; /* the first word's place in the token */
  union {
    struct {
      uint8_t n_grams, flags; /* n_words == 1: the word's */
    } one;
    struct {
      uint8_t off, len; /* n_words == 2: the second word's place */
    } two;
  } b;
};

_Static_assert(MEMO_RECORD + sizeof(struct token_record) <= 64,
               "token records fill a line");
_Static_assert(N_COUNTS == sizeof(uint64_t), "counts are summed as a word");

struct match {
  uint32_t first, count; /* words */
  int cat;
};

struct scratch {
  const char *ct; /* the cleaned text (in clean), MEMO_KEY_READ zero
                     bytes after it */
  char *clean;
  char *norm;
  size_t text_cap; /* bytes of clean and of norm */
  struct word *words;
  double *contrib;  /* per word, for the reasons */
  uint32_t *starts; /* words that may start a phrase (match_support) */
  size_t words_cap;
  struct match *matches;
  size_t matches_cap;
  uint32_t *idx;
  float *val;
  size_t feat_cap;
  /* VADER's tokens: bounds and memo hashes (find_tokens); those VADER
   * keeps and the '!' and '?' of all (read_tokens). */
  uint32_t *tok_start, *tok_end, *tok_hash;
  struct vader_token *kept;
  size_t n_kept, marks[2];
  size_t tok_cap;
  bool keep; /* store the hashed features (for trainers) */
  struct vader_result vr;
  size_t picked[QUOTE_ITEMS]; /* words of the wording reason */
  size_t n_picked;
  uint32_t q_off[QUOTES_MAX], q_len[QUOTES_MAX]; /* quoted so far */
  size_t n_q;
  bool plain; /* the reason being written needs no JSON escaping */
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

static enum err create(const struct detector_model *m, bool batch,
                       struct detector **out)
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
  d->words = memo_new(WORD_MEMO_BITS, sizeof(struct word_record), batch);
  d->tokens = memo_new(TOKEN_MEMO_BITS, sizeof(struct token_record), batch);
  d->hash_bits = m->hash_bits;
  d->mask = (1u << m->hash_bits) - 1;
  d->bias = m->bias;
  d->threshold = m->threshold;
  d->dense_base = 0.0;
  for (size_t j = 0; j < DETECTOR_N_DENSE; j++) {
    d->dense_w[j] = m->dense_w[j];
    d->dense_mean[j] = m->dense_mean[j];
    d->dense_base -= d->dense_w[j] * d->dense_mean[j];
  }
  size_t n = (size_t)1 << m->hash_bits;
  d->hash_w = xmalloc(n * sizeof *d->hash_w);
  memcpy(d->hash_w, m->hash_w, n * sizeof *d->hash_w);
  init_tables(d);
  *out = d;
  return ERR_OK;
}

enum err detector_new(const struct detector_model *m, struct detector **out)
{
  return create(m, false, out);
}

enum err detector_new_batch(const struct detector_model *m,
                            struct detector **out)
{
  return create(m, true, out);
}

void detector_free(struct detector *d)
{
  if (!d)
    return;
  vader_free(d->vader);
  support_index_cleanup(&d->support);
  memo_free(d->words);
  memo_free(d->tokens);
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
    free(s->starts);
    free(s->matches);
    free(s->idx);
    free(s->val);
    free(s->kept);
    free(s->tok_start);
    free(s->tok_end);
    free(s->tok_hash);
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

/* The word loop's table: for each ASCII letter or digit, its normalised
 * form (lower case, digits as '0') in the low byte, W_WORD, and a one in
 * the count of small (W_LOWER) or capital (W_UPPER) letters, so that a
 * word's counts are one sum; 0 for every other byte. */
#define W_WORD ((uint64_t)1 << 8)
#define W_COUNTS 16 /* the counts start at this bit */
#define W_LOWER ((uint64_t)1 << W_COUNTS)
#define W_UPPER ((uint64_t)1 << (W_COUNTS + 24))
#define W_COUNT_MASK 0xffffffu /* 24 bits each: words are < 64 KiB */

static void init_tables(struct detector *d)
{
  for (unsigned c = 0; c < 256; c++) {
    uint64_t e = 0;
    if (c >= 'a' && c <= 'z')
      e = c | W_WORD | W_LOWER;
    else if (c >= 'A' && c <= 'Z')
      e = (c + 32) | W_WORD | W_UPPER;
    else if (c >= '0' && c <= '9')
      e = '0' | W_WORD;
    d->word_byte[c] = e;
    /* White space in one byte is ASCII. */
    char b = (char)c;
    if (vader_space_at(&b, 1) == 1)
      d->space[c] = SPACE_ASCII;
    else if (vader_space_lead((unsigned char)c))
      d->space[c] = SPACE_LEAD;
  }
  uint32_t seed_c = SEED("c");
  d->seed_u = SEED("u");
  uint32_t seed_b = SEED("b");
  d->start_b = strmap_mix(strmap_fnv(seed_b, "<s>", 3));
  d->end_b = strmap_mix(strmap_fnv(seed_b, "</s>", 4));
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
    return d->word_byte[c] & W_WORD;
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
  s->starts = xrealloc(s->starts, cap * sizeof *s->starts);
  s->words_cap = cap;
}

/* The weight of the hashed feature whose mixed hash is m, with its sign
 * (the top bit of m; negating a float is exact). The sign bit is flipped
 * rather than chosen: the top bit of a hash is a coin toss, and a branch
 * on it is mispredicted every other time. */
static inline float signed_weight(const struct detector *d, uint32_t m)
{
  float w = d->hash_w[m & d->mask];
  uint32_t bits;
  memcpy(&bits, &w, sizeof bits);
  bits ^= m & 0x80000000u;
  memcpy(&w, &bits, sizeof w);
  return w;
}

/* The mixed hashes of the character n-grams of a word (not an emoji)
 * whose normalised form is nw[0..nlen), into grams (room for
 * CHAR_GRAMS_MAX); returns how many. */
static size_t char_grams(const struct detector *d, const char *nw, size_t nlen,
                         uint32_t *grams)
{
  unsigned char pad[CHAR_WORD_MAX + 2];
  size_t l = nlen > CHAR_WORD_MAX ? CHAR_WORD_MAX : nlen;
  pad[0] = '<';
  memcpy(pad + 1, nw, l);
  pad[l + 1] = '>';
  l += 2;
  size_t k = 0;
  for (size_t a = 0; a + CHAR_N_MIN <= l; a++) {
    uint32_t h = d->gram_first[pad[a]];
    h = (h ^ pad[a + 1]) * STRMAP_FNV_PRIME;
    h = (h ^ pad[a + 2]) * STRMAP_FNV_PRIME;
    h = (h ^ pad[a + 3]) * STRMAP_FNV_PRIME;
    grams[k++] = strmap_mix(h);
    if (a + CHAR_N_MAX <= l) {
      h = (h ^ pad[a + 4]) * STRMAP_FNV_PRIME;
      grams[k++] = strmap_mix(h);
    }
  }
  return k;
}

/* Works out what word w (m_uni set, its normalised form in norm, and
 * WORD_EMOJI in its flags when it is one) comes to alone: the sum of the
 * signed weights of its n-grams, its support entry; fills e. */
static void word_alone(const struct detector *d, const struct scratch *s,
                       const struct word *w, struct word_record *e)
{
  const char *nw = s->norm + w->noff;
  bool emoji = w->sup_flags & WORD_EMOJI;
  uint32_t grams[CHAR_GRAMS_MAX];
  size_t k = emoji ? 0 : char_grams(d, nw, w->nlen, grams);
  double sum = 0.0;
  for (size_t g = 0; g < k; g++)
    sum += (double)signed_weight(d, grams[g]);
  e->grams_w = sum;
  e->m_uni = w->m_uni;
  e->n_grams = (uint8_t)k;
  e->uni_w = signed_weight(d, w->m_uni);
  e->support = strmap_fnv(STRMAP_FNV_BASIS, nw, w->nlen);
  e->support_cat = -1;
  e->flags = emoji ? WORD_EMOJI : 0;
  /* match_support leaves out emoji and words too long for a phrase. */
  if (!emoji && w->nlen + 1 <= PHRASE_MAX) {
    unsigned flags;
    e->support_cat = (int8_t)support_lookup_fnv(&d->support, nw, w->nlen,
                                                e->support, &flags);
    e->flags = (uint8_t)(flags | (e->support_cat >= 0 ? SUP_HIT : 0));
  }
}

/* Gives word w what record e says of it alone. */
static inline void take_record(struct word *w, const struct word_record *e)
{
  w->uni_w = e->uni_w;
  w->h_support = e->support;
  w->sup_cat = e->support_cat;
  w->sup_flags = e->flags;
  w->n_grams = e->n_grams;
  w->grams_w = e->grams_w;
}

/* The normalised form of word w (MEMO_KEY_READ bytes readable from it);
 * sets *len. */
static inline const char *word_norm(const struct scratch *s,
                                    const struct word *w, size_t *len)
{
  if (w->rec)
    return memo_key_of_record(w->rec, len);
  *len = w->nlen;
  return s->norm + w->noff;
}

/* The support key (FNV-1a state) and category of word w alone. */
static inline uint32_t word_support(const struct word *w, int *cat)
{
  if (w->rec) {
    *cat = w->rec->support_cat;
    return w->rec->support;
  }
  *cat = w->sup_cat;
  return w->h_support;
}

/* The mixed hash of the bigram of two words, given by their unigrams'
 * mixed hashes (or the text's start and end, start_b and end_b): a hash of
 * the pair, so that a bigram costs no pass over the words' bytes. */
static inline uint32_t bigram_of(uint32_t prev, uint32_t next)
{
  return strmap_mix(prev * 0x9E3779B1u ^ next);
}

/* Sets the bigram of w (m_uni set) after the word whose unigram hash is
 * prev. */
static inline void set_bigram(const struct detector *d, struct word *w,
                              uint32_t prev)
{
  w->m_bigram = bigram_of(prev, w->m_uni);
  /* Its weight is read when the words are scored, after the others. */
  __builtin_prefetch(&d->hash_w[w->m_bigram & d->mask]);
}

/* The word split under way: words and normalised bytes so far, n-grams,
 * the unigram hash of the last word (start_b before the first), the
 * surface signals. */
struct split {
  size_t nw, no, ng;
  uint32_t prev_b;
  struct surface f;
};

/* Fills in word w (WORD_EMOJI set) from its unigram's FNV-1a state: from the
 * memo when the word was seen before, else worked out and remembered. */
static void finish_word(const struct detector *d, struct scratch *s,
                        struct split *sp, struct word *w, uint32_t uni)
{
  w->m_uni = strmap_mix(uni);
  set_bigram(d, w, sp->prev_b);
  sp->prev_b = w->m_uni;
  /* Remembered words are looked up by their unigram hash. */
  bool memo = w->nlen <= WORD_MEMO_MAX;
  struct memo_key key;
  const struct word_record *e = NULL;
  if (memo) {
    memo_key_of(d->words, s->norm + w->noff, w->nlen, &key);
    e = memo_find(d->words, &key, w->m_uni);
  }
  if (e) {
    take_record(w, e);
  } else {
    struct word_record fresh = {0};
    word_alone(d, s, w, &fresh);
    if (memo)
      e = memo_add(d->words, &key, w->m_uni, &fresh);
    take_record(w, &fresh);
  }
  w->rec = e; /* NULL when the memo had no room */
  sp->ng += w->n_grams;
}

static inline struct word *new_word(struct scratch *s, size_t *nw, size_t off,
                                    size_t len, size_t noff, size_t no)
{
  if (*nw == s->words_cap)
    grow_words(s, *nw + 1);
  struct word *w = &s->words[(*nw)++];
  w->off = (uint32_t)off;
  w->len = (uint32_t)len;
  w->noff = (uint32_t)noff;
  w->nlen = (uint32_t)(no - noff);
  w->sup_flags = 0;
  return w;
}

/* Splits the cleaned text s->ct[from..to) into words and emoji (to is at
 * white space or the end, len, so that no word runs past it), writing
 * their normalised forms (ASCII lower case, digits as '0', U+2019 as ')
 * into s->norm, and takes the surface signals on the way (every ASCII
 * letter is in a word; '!' and '?' never are). Each word's unigram hash
 * is taken byte by byte as it is read, the rest comes from finish_word. */
static void split_span(const struct detector *d, struct scratch *s,
                       struct split *sp, size_t from, size_t to, size_t len)
{
  const char *t = s->ct;
  char *norm = s->norm;
  struct surface *f = &sp->f;
  size_t i = from;
  while (i < to) {
    unsigned char c = (unsigned char)t[i];
    size_t n = 1;
    if (c < 0x80) {
      if (!(d->word_byte[c] & W_WORD)) {
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
        /* A word of its own, its bytes as they are, no n-grams. */
        memcpy(norm + sp->no, t + i, n);
        struct word *w = new_word(s, &sp->nw, i, n, sp->no, sp->no + n);
        sp->no += n;
        memset(norm + sp->no, 0, MEMO_KEY_READ);
        w->sup_flags = WORD_EMOJI;
        finish_word(d, s, sp, w, strmap_fnv(d->seed_u, t + i, n));
        i += n;
        continue;
      }
      if (!is_letter(cp)) {
        i += n;
        continue;
      }
    }
    size_t start = i, nstart = sp->no, no = sp->no;
    uint64_t counts = 0;
    uint32_t uni = d->seed_u;
    for (;;) {
      /* The common case, a run of ASCII letters and digits: one table
       * entry a byte, pointers rather than indices (fewer registers). */
      const unsigned char *p = (const unsigned char *)t + i;
      const unsigned char *end = (const unsigned char *)t + to;
      unsigned char *q = (unsigned char *)norm + no;
      while (p < end) {
        uint64_t e = d->word_byte[*p];
        if (!(e & W_WORD))
          break;
        unsigned char nc = (unsigned char)e;
        *q++ = nc;
        counts += e >> W_COUNTS;
        uni = (uni ^ nc) * STRMAP_FNV_PRIME;
        p++;
      }
      i = (size_t)(p - (const unsigned char *)t);
      no = (size_t)(q - (unsigned char *)norm);
      if (i >= to)
        break;
      /* Anything else: an apostrophe between word characters, a letter
       * of another script (its bytes as they are), or U+2019 as '. */
      c = (unsigned char)t[i];
      size_t wn, step;
      unsigned char nc;
      if (c < 0x80) {
        if (!(c == '\'' && i + 1 < len && word_char_at(d, t, len, i + 1, &wn)))
          break;
        nc = '\'';
        step = 1;
      } else if (wide_word_char_at(t, len, i, &n)) {
        for (size_t k = 0; k + 1 < n; k++) {
          nc = (unsigned char)t[i + k];
          norm[no++] = (char)nc;
          uni = (uni ^ nc) * STRMAP_FNV_PRIME;
        }
        nc = (unsigned char)t[i + n - 1];
        step = n;
      } else if (len - i >= 3 && !memcmp(t + i, "\xe2\x80\x99", 3) &&
                 i + 3 < len && word_char_at(d, t, len, i + 3, &wn)) {
        nc = '\'';
        step = 3;
      } else {
        break;
      }
      norm[no++] = (char)nc;
      uni = (uni ^ nc) * STRMAP_FNV_PRIME;
      i += step;
    }
    sp->no = no;
    struct word *w = new_word(s, &sp->nw, start, i - start, nstart, no);
    /* Memo keys are read whole: defined bytes past the word. */
    memset(norm + no, 0, MEMO_KEY_READ);
    finish_word(d, s, sp, w, uni);
    size_t lo = counts & W_COUNT_MASK, up = counts >> 24 & W_COUNT_MASK;
    f->letters += lo + up;
    f->upper += up;
    f->words_with_letters += lo + up > 0;
    f->caps_words += up >= 3 && lo == 0;
  }
}

/* ---- Tokens ------------------------------------------------------------ */

/* Adds to f the bytewise sums of tokens' counts (LANE_TOKENS at most). */
static void add_lanes(struct surface *f, uint64_t lanes)
{
  unsigned char c[N_COUNTS];
  memcpy(c, &lanes, sizeof c);
  f->letters += c[C_LETTERS];
  f->upper += c[C_UPPER];
  f->caps_words += c[C_CAPS];
  f->words_with_letters += c[C_WITH_LETTERS];
  f->exclaim += c[C_EXCLAIM];
  f->question += c[C_QUESTION];
  f->exclaim_multi = f->exclaim_multi || c[C_EXCLAIM_MULTI];
  f->question_multi = f->question_multi || c[C_QUESTION_MULTI];
}

/* Notes VADER's reading of the token at start (read_text made room). Its
 * marks are not needed: they are the '!' and '?' the surface signals
 * count. */
static inline void add_reading(struct scratch *s, size_t start,
                               const struct vader_reading *rd)
{
  if (rd->flags & VADER_KEEP)
    s->kept[s->n_kept++] = (struct vader_token){(uint32_t)(start + rd->off),
                                                rd->len, rd->fields, rd->flags};
}

/* Describes in rec the token at start (of at most MEMO_KEY_MAX bytes)
 * whose words split_span added after the split state was was, with
 * surface signals f (its VADER reading is there already). Returns false
 * when the token cannot be remembered: too many words, or a word the memo
 * has not kept. */
static bool describe_token(const struct detector *d, const struct scratch *s,
                           const struct split *sp, const struct split *was,
                           size_t start, const struct surface *f,
                           struct token_record *rec)
{
  size_t n = sp->nw - was->nw;
  if (n > TOKEN_WORDS)
    return false;
  const struct word *w = &s->words[was->nw];
  for (size_t j = 0; j < n; j++)
    if (!w[j].rec)
      return false;
  if (n >= 1) {
    rec->word0 = memo_index_of(d->words, w[0].rec);
    rec->off0 = (uint8_t)(w[0].off - start);
    rec->len0 = (uint8_t)w[0].len;
  }
  if (n == 1) {
    rec->u.one.m_uni = w[0].m_uni;
    rec->u.one.uni_w = w[0].uni_w;
    rec->u.one.grams_w = w[0].grams_w;
    rec->b.one.n_grams = w[0].n_grams;
    rec->b.one.flags = w[0].sup_flags;
  } else if (n == 2) {
    rec->u.word1 = memo_index_of(d->words, w[1].rec);
    rec->b.two.off = (uint8_t)(w[1].off - start);
    rec->b.two.len = (uint8_t)w[1].len;
  }
  rec->n_words = (uint8_t)n;
  rec->counts[C_LETTERS] = (uint8_t)f->letters;
  rec->counts[C_UPPER] = (uint8_t)f->upper;
  rec->counts[C_CAPS] = (uint8_t)f->caps_words;
  rec->counts[C_WITH_LETTERS] = (uint8_t)f->words_with_letters;
  rec->counts[C_EXCLAIM] = (uint8_t)f->exclaim;
  rec->counts[C_QUESTION] = (uint8_t)f->question;
  rec->counts[C_EXCLAIM_MULTI] = f->exclaim_multi;
  rec->counts[C_QUESTION_MULTI] = f->question_multi;
  return true;
}

/* Reads the token s->ct[start..end) (of a text of len bytes) the memo
 * lacks (its key and hash given when it may be remembered) with VADER and
 * split_span, and remembers it. */
static void read_new_token(const struct detector *d, struct scratch *s,
                           struct split *sp, size_t start, size_t end,
                           size_t len, const struct memo_key *key,
                           uint32_t hash)
{
  const char *t = s->ct + start;
  struct vader_reading rd;
  vader_read_token(d->vader, &s->vr, t, end - start, &rd);
  add_reading(s, start, &rd);
  /* The token's own surface signals, for the record, then added. */
  struct split was = *sp;
  memset(&sp->f, 0, sizeof sp->f);
  split_span(d, s, sp, start, end, len);
  struct surface f = sp->f, *all = &sp->f;
  *all = was.f;
  all->letters += f.letters;
  all->upper += f.upper;
  all->caps_words += f.caps_words;
  all->words_with_letters += f.words_with_letters;
  all->exclaim += f.exclaim;
  all->question += f.question;
  all->exclaim_multi = all->exclaim_multi || f.exclaim_multi;
  all->question_multi = all->question_multi || f.question_multi;
  struct token_record fresh = {0};
  if (key && describe_token(d, s, sp, &was, start, &f, &fresh)) {
    fresh.fields = rd.fields;
    fresh.v_off = (uint8_t)rd.off;
    fresh.v_len = (uint8_t)rd.len;
    fresh.v_flags = rd.flags;
    memo_add(d->tokens, key, hash, &fresh);
  }
}

/* U+1680, OGHAM SPACE MARK: white space to VADER, a letter to the word
 * split, so that a word may run across two of VADER's tokens. */
static bool is_ogham_space(const char *t, size_t n)
{
  return n == 3 && !memcmp(t, "\xe1\x9a\x80", 3);
}

/* The first byte at or after t[i] that may start white space (space[] is
 * not 0); the text has one after it. Eight bytes at a time where the
 * byte order allows: a byte below 0x21 or from 0x80 is a candidate (one
 * subtraction and an or find the first), then the table decides. */
static inline size_t next_space_lead(const unsigned char *t,
                                     const unsigned char *space, size_t i)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  for (;;) {
    uint64_t x;
    memcpy(&x, t + i, sizeof x);
    uint64_t cand = ((x - 0x2121212121212121u) | x) & 0x8080808080808080u;
    if (!cand) {
      i += 8;
      continue;
    }
    /* The lowest flagged byte is a true candidate (a borrow only flags
     * bytes above one). */
    i += (size_t)__builtin_ctzll(cand) / 8;
    if (space[t[i]])
      return i;
    i++; /* a control character, or a byte from 0x80 that starts none */
  }
#else
  while (!space[t[i]])
    i++;
  return i;
#endif
}

/* The hash under which the token s->ct[start..end) is remembered (0 for
 * one too long to be); starts loading its home slot, so that the misses
 * of a message's tokens overlap rather than come one after another. */
static inline uint32_t token_hash(const struct detector *d,
                                  const struct scratch *s, size_t start,
                                  size_t end)
{
  if (end - start > MEMO_KEY_MAX)
    return 0;
  struct memo_key key;
  memo_key_of(d->tokens, s->ct + start, end - start, &key);
  uint32_t hash = memo_hash(&key);
  __builtin_prefetch(memo_slot_at(d->tokens, memo_home(d->tokens, hash)));
  return hash;
}

/* Finds the tokens (VADER's: the text between white space) of the cleaned
 * text s->ct[0..len) (a space after it): their bounds into tok_start and
 * tok_end, and the hash each is remembered under into tok_hash, starting
 * the load of its memo slot, which read_tokens looks up. Returns the
 * number of tokens, or SIZE_MAX when the text has U+1680. */
static size_t find_tokens(const struct detector *d, struct scratch *s,
                          size_t len)
{
  const unsigned char *t = (const unsigned char *)s->ct;
  const unsigned char *space = d->space;
  size_t n = 0, i = 0;
  while (i < len) {
    if (space[t[i]] == SPACE_ASCII) {
      i++;
      continue;
    }
    if (space[t[i]] == SPACE_LEAD) {
      size_t sp = vader_space_at(s->ct + i, len - i);
      if (is_ogham_space(s->ct + i, sp))
        return SIZE_MAX;
      if (sp) {
        i += sp;
        continue;
      }
    }
    size_t start = i++;
    for (;;) {
      /* The space after the text ends this loop. */
      i = next_space_lead(t, space, i);
      if (i >= len || space[t[i]] == SPACE_ASCII)
        break;
      size_t sp = vader_space_at(s->ct + i, len - i);
      if (is_ogham_space(s->ct + i, sp))
        return SIZE_MAX;
      if (sp)
        break;
      i++; /* a byte that may start white space but does not */
    }
    s->tok_start[n] = (uint32_t)start;
    s->tok_end[n] = (uint32_t)i;
    s->tok_hash[n] = token_hash(d, s, start, i);
    n++;
  }
  return n;
}

/* Word w of a token, at off and len in the text, from the memo's record
 * e; the bigram from the word before (*prev), the n-grams counted. */
static inline void take_word(const struct detector *d, struct word *w,
                             size_t off, size_t len,
                             const struct word_record *e, uint32_t *prev,
                             size_t *ng)
{
  w->off = (uint32_t)off;
  w->len = (uint32_t)len;
  w->m_uni = e->m_uni;
  set_bigram(d, w, *prev);
  w->rec = e;
  take_record(w, e);
  *prev = e->m_uni;
  *ng += e->n_grams;
}

/* Reads the n tokens find_tokens found into VADER's result and the words.
 *
 * Most tokens were seen before: the memo gives VADER's reading and the
 * words, and each word's bigram is all that is computed. That path is
 * written out here with the split state in locals (stores into the words,
 * through byte-sized fields, would otherwise send it through memory);
 * read_new_token reads the others. find_tokens started loading every
 * token's memo slot, so that they are on their way while the tokens
 * before are read. */
static void read_tokens(const struct detector *d, struct scratch *s,
                        struct split *sp, size_t n, size_t len)
{
  struct word *words = s->words;
  size_t nw = sp->nw, no = sp->no, ng = sp->ng;
  uint32_t prev = sp->prev_b;
  uint64_t lanes = 0; /* token counts, bytewise */
  size_t in_lanes = 0;
  s->n_kept = 0;
  unsigned phrase = 0; /* words left of a phrase that may start */
  for (size_t k = 0; k < n; k++) {
    size_t start = s->tok_start[k], end = s->tok_end[k];
    /* find_tokens started loading the slot. A token new to the memo may
     * come twice in a message: the second finds what the first added. */
    const struct token_record *rec = NULL;
    struct memo_key key;
    uint32_t hash = s->tok_hash[k];
    bool keep = end - start <= MEMO_KEY_MAX;
    if (keep) {
      memo_key_of(d->tokens, s->ct + start, end - start, &key);
      rec = memo_find(d->tokens, &key, hash);
    }
    if (!rec) {
      sp->nw = nw;
      sp->no = no;
      sp->ng = ng;
      sp->prev_b = prev;
      read_new_token(d, s, sp, start, end, len, keep ? &key : NULL, hash);
      words = s->words; /* room was made, but to be sure */
      nw = sp->nw;
      no = sp->no;
      ng = sp->ng;
      prev = sp->prev_b;
      continue;
    }
    if (rec->v_flags & VADER_KEEP)
      s->kept[s->n_kept++] =
          (struct vader_token){(uint32_t)(start + rec->v_off), rec->v_len,
                               rec->fields, rec->v_flags};
    if (rec->n_words == 1) {
      /* The token carries its word's parts: its record is not loaded. */
      struct word *w = &words[nw++];
      w->off = (uint32_t)(start + rec->off0);
      w->len = rec->len0;
      w->m_uni = rec->u.one.m_uni;
      set_bigram(d, w, prev);
      w->uni_w = rec->u.one.uni_w;
      w->grams_w = rec->u.one.grams_w;
      w->n_grams = rec->b.one.n_grams;
      w->sup_flags = rec->b.one.flags;
      w->rec = memo_record_at(d->words, rec->word0);
      prev = w->m_uni;
      ng += w->n_grams;
      /* match_support reads the records of the words that may start a
       * phrase and of the words after them: on their way by then. (Other
       * words prefetch the scratch word just written: fetching every
       * word's record would push more useful lines out of the cache.) */
      phrase = (w->sup_flags & (SUP_HIT | SUPPORT_MORE)) ? SUPPORT_MAX_WORDS
                                                         : phrase;
      const char *ahead =
          phrase ? (const char *)w->rec - MEMO_RECORD : (const char *)w;
      __builtin_prefetch(ahead);
      phrase -= phrase != 0;
    } else if (rec->n_words == 2) {
      take_word(d, &words[nw++], start + rec->off0, rec->len0,
                memo_record_at(d->words, rec->word0), &prev, &ng);
      take_word(d, &words[nw++], start + rec->b.two.off, rec->b.two.len,
                memo_record_at(d->words, rec->u.word1), &prev, &ng);
    }
    uint64_t counts;
    memcpy(&counts, rec->counts, sizeof counts);
    lanes += counts;
    if (++in_lanes == LANE_TOKENS) {
      add_lanes(&sp->f, lanes);
      lanes = 0;
      in_lanes = 0;
    }
  }
  sp->nw = nw;
  sp->no = no;
  sp->ng = ng;
  sp->prev_b = prev;
  add_lanes(&sp->f, lanes);
  /* VADER's marks: every '!' and '?' of the tokens, as counted there. */
  s->marks[0] = sp->f.exclaim;
  s->marks[1] = sp->f.question;
  vader_score_tokens(d->vader, s->ct, s->kept, s->n_kept, s->marks, &s->vr);
}

/* Splits the cleaned text into words and scores it with VADER. Sets
 * *grams to the number of character n-grams of the words and *last_b to
 * the unigram hash of the last word (start_b when there is none); returns
 * the number of words. */
static size_t read_text(const struct detector *d, struct scratch *s, size_t len,
                        struct surface *f, size_t *grams, uint32_t *last_b)
{
  /* Words and tokens: at most one per two bytes (and the last), separators
   * between them or, for emoji, 3 bytes or more. */
  grow_words(s, len / 2 + 2);
  if (s->tok_cap < len / 2 + 2) {
    s->tok_cap = len / 2 + 2;
    s->kept = xrealloc(s->kept, s->tok_cap * sizeof *s->kept);
    s->tok_start = xrealloc(s->tok_start, s->tok_cap * sizeof *s->tok_start);
    s->tok_end = xrealloc(s->tok_end, s->tok_cap * sizeof *s->tok_end);
    s->tok_hash = xrealloc(s->tok_hash, s->tok_cap * sizeof *s->tok_hash);
  }
  struct split sp = {.prev_b = d->start_b};
  size_t n = find_tokens(d, s, len);
  if (n != SIZE_MAX) {
    read_tokens(d, s, &sp, n, len);
  } else {
    vader_score(d->vader, s->ct, len, &s->vr);
    split_span(d, s, &sp, 0, len, len);
  }
  /* Shouting: several words in capitals making up a good part of the
   * message, or a message mostly in capitals; a lone acronym is not. */
  sp.f.shouting = sp.f.caps_words >= 3 ||
                  (sp.f.caps_words >= 2 &&
                   sp.f.caps_words * 10 >= sp.f.words_with_letters * 3) ||
                  (sp.f.letters >= 8 && sp.f.upper * 10 >= sp.f.letters * 6);
  *f = sp.f;
  *grams = sp.ng;
  *last_b = sp.prev_b;
  return sp.nw;
}

/* ---- Support phrases --------------------------------------------------- */

static size_t match_support(const struct detector *d, struct scratch *s,
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
      s->matches_cap = s->matches_cap ? s->matches_cap * 2 : 16;
      s->matches = xrealloc(s->matches, s->matches_cap * sizeof *s->matches);
    }
    s->matches[nm++] = (struct match){(uint32_t)i, (uint32_t)hit_k, hit_cat};
    next = i + hit_k;
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

/* For trainers: every hashed feature and its signed value, in the order
 * hash_features sums them. Returns their number. */
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
    size_t ng = char_grams(d, wn, wl, grams);
    for (size_t g = 0; g < ng; g++)
      record(d, s, &n, grams[g], vc);
  }
  record(d, s, &n, end_bigram(d, last_b), vb);
  return n;
}

/* Adds the hashed features' part of the score to *z and credits each word
 * with what its features added (a bigram's half to each of its two
 * words), for the reasons. read_text gave each word its hashes, the
 * signed weight of its unigram and the sum of its n-grams' (all n-grams
 * of a message have the same value, so a word's part is that sum times
 * it). Sums are kept in locals: going through memory for each feature
 * would chain the additions. Returns the number of
 * features recorded for trainers (none unless s->keep). */
static size_t hash_features(const struct detector *d, struct scratch *s,
                            size_t nw, size_t grams, uint32_t last_b, double *z)
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

/* ---- Dense signals ----------------------------------------------------- */

static void dense_features(const struct detector *d, const struct scratch *s,
                           size_t len, size_t nw, size_t nm, double polarity,
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
  for (int b = 0; b <= 4; b++)
    x[DETECTOR_DENSE_LEN_TINY + b] = b == bucket;
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

/* The high bit of each zero byte of t, and no other bit. */
static inline uint64_t zero_bytes(uint64_t t)
{
  const uint64_t low7 = 0x7f7f7f7f7f7f7f7fu;
  return ~(((t & low7) + low7) | t | low7); /* exactly: 0x80 where 0 */
}

/* Eight bytes as quote writes them: ASCII capitals in lower case, '\n',
 * '\r' and '\t' as spaces, any other byte as it is. Bytewise with no
 * carry from one byte into the next, so on any byte order. */
static inline uint64_t quote_8(uint64_t x)
{
  const uint64_t ones = 0x0101010101010101u, high = ones * 0x80,
                 low7 = ones * 0x7f;
  /* The high bit of each byte: its low seven bits >= 'A', > 'Z'. */
  uint64_t h = x & low7;
  uint64_t ge_a = h + ones * (0x80 - 'A'), gt_z = h + ones * (0x80 - 'Z' - 1);
  x ^= (ge_a & ~gt_z & ~x & high) >> 2;
  /* Control bytes are rare: the exact test for '\n', '\r' and '\t' only
   * when a byte may be below 0x20 (never missed; a false alarm costs the
   * test). */
  if ((x - ones * 0x20) & ~x & high) {
    uint64_t ctl = zero_bytes(x ^ ones * '\n') | zero_bytes(x ^ ones * '\r') |
                   zero_bytes(x ^ ones * '\t');
    uint64_t blank = (ctl >> 7) * 0xff;
    x = (x & ~blank) | (ones * ' ' & blank);
  }
  return x;
}

/* Appends "'word'" (lower case, shortened at a character boundary) to out
 * of capacity cap at *o; refuses when it would not fit with room for
 * more. Clears *plain when what it wrote may need escaping in JSON. w has
 * eight readable bytes past len (it is in the scratch text). */
static bool quote(char *out, size_t cap, size_t *o, const char *w, size_t len,
                  bool first, bool *plain)
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
  if (*o + len + 8 <= cap) {
    /* Eight bytes at a time, the last store running past the word (what
     * follows overwrites it). */
    bool all = true; /* the bytes past the word may make this no */
    for (size_t i = 0; i < len; i += 8) {
      uint64_t x;
      memcpy(&x, w + i, sizeof x);
      x = quote_8(x);
      all &= jsonw_plain_8(x);
      memcpy(out + *o + i, &x, sizeof x);
    }
    *o += len;
    *plain = *plain && all;
  } else {
    for (size_t i = 0; i < len; i++) {
      uint64_t x = (unsigned char)w[i];
      out[(*o)++] = (char)quote_8(x);
    }
    *plain = false; /* not looked at: rare */
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
 * returns its length (cheaper than snprintf, on the hot path). Always
 * inline: the length of a literal is then known when compiling, and the
 * copy is a few moves rather than two calls into the C library. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline size_t put(char *out, size_t cap, const char *lit)
{
  size_t n = strlen(lit);
  if (n >= cap)
    n = cap - 1;
  memcpy(out, lit, n);
  out[n] = '\0';
  return n;
}

/* Writes v as printf's "%.2f" does, exactly: the decimal
 * nearest to the double, halves to even, "-" for any negative number;
 * returns the length (cheaper than snprintf, on the hot path). The
 * comparisons are exact: fma rounds once, which keeps the sign. */
static size_t put_2f(char *out, size_t cap, double v)
{
  double a = fabs(v);
  /* Beyond this (or NaN), 100 a and the digits outgrow the shortcut. */
  if (!(a < 1e13)) {
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%.2f", v);
    return put(out, cap, tmp);
  }
  long k = (long)(a * 100.0); /* within one of floor(100 a) */
  while (k > 0 && fma(a, 100.0, (double)-k) < 0)
    k--;
  while (fma(a, 100.0, (double)-(k + 1)) >= 0)
    k++;
  /* 100 a is in [k, k + 1): round up past k + 1/2, and halves to even. */
  double half = fma(a, 200.0, (double)-(2 * k + 1));
  if (half > 0 || (half == 0 && k % 2))
    k++;
  char tmp[32];
  size_t n = 0;
  if (signbit(v))
    tmp[n++] = '-';
  char digits[24];
  size_t nd = 0;
  long units = k / 100;
  do {
    digits[nd++] = (char)('0' + units % 10);
    units /= 10;
  } while (units > 0);
  while (nd > 0)
    tmp[n++] = digits[--nd];
  tmp[n++] = '.';
  tmp[n++] = (char)('0' + k % 100 / 10);
  tmp[n++] = (char)('0' + k % 10);
  tmp[n] = '\0';
  return put(out, cap, tmp);
}

/* Quotes t[off..off+len) into out unless an earlier reason of this
 * message quoted the same words; returns whether it did. */
static bool quote_new(struct scratch *s, char *out, size_t cap, size_t *o,
                      uint32_t off, uint32_t len, size_t *nq)
{
  if (already(s->ct, s->q_off, s->q_len, s->n_q, off, len) ||
      s->n_q == QUOTES_MAX ||
      !quote(out, cap, o, s->ct + off, len, !*nq, &s->plain))
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
    o = put(out, cap, "negative tone (TextBlob polarity ");
    o += put_2f(out + o, cap - o, polarity);
    put(out + o, cap - o, ")");
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

/* Do words a and b have the same normalised form? */
static bool same_norm(const struct scratch *s, const struct word *a,
                      const struct word *b)
{
  size_t al, bl;
  const char *an = word_norm(s, a, &al), *bn = word_norm(s, b, &bl);
  return al == bl && !memcmp(an, bn, al);
}

/* Picks for the wording reason the (at most QUOTE_ITEMS) distinct words
 * whose n-grams raised the score most, leaving out function words and the
 * words the VADER and support reasons quote (a word inside a negative
 * VADER hit or a support match); returns what they add together. Only
 * the words that could be picked are looked at, in order, so that ties go
 * to the first. */
static double pick_words(struct scratch *s, size_t nw, size_t nm)
{
  size_t lim = nw < REASON_WORDS_MAX ? nw : REASON_WORDS_MAX;
  const struct vader_hit *hits = s->vr.hits;
  size_t nh = s->vr.n_hits, h = 0, m = 0;
  uint16_t cand[REASON_WORDS_MAX];
  bool taken[REASON_WORDS_MAX];
  /* The words that raised the score and are no function words, listed
   * with no branch a word to mispredict, */
  size_t nr = 0;
  for (size_t i = 0; i < lim; i++) {
    cand[nr] = (uint16_t)i;
    nr += (s->contrib[i] > REASON_MIN) &
          !(s->words[i].sup_flags & SUPPORT_STOP);
  }
  /* then those other reasons do not quote. */
  size_t nc = 0;
  for (size_t r = 0; r < nr; r++) {
    size_t i = cand[r];
    const struct word *w = &s->words[i];
    /* Hits and matches come in text order, as the words do. */
    while (h < nh && hits[h].off + hits[h].len <= w->off)
      h++;
    if (h < nh && hits[h].valence < 0 && hits[h].off <= w->off)
      continue;
    while (m < nm && s->matches[m].first + s->matches[m].count <= i)
      m++;
    if (m < nm && s->matches[m].first <= i)
      continue;
    taken[nc] = false;
    cand[nc++] = (uint16_t)i;
  }
  double total = 0.0;
  s->n_picked = 0;
  while (s->n_picked < QUOTE_ITEMS) {
    /* The strongest word not taken, the first of equals (every candidate
     * adds more than REASON_MIN > 0), chosen with conditional moves. */
    size_t best = nc;
    double top = 0.0;
    for (size_t c = 0; c < nc; c++) {
      double v = s->contrib[cand[c]];
      size_t better = (size_t)(!taken[c] & (v > top));
      size_t keep = better - 1; /* all ones when not better */
      best = (best & keep) | (c & ~keep);
      top = better ? v : top; /* maxsd-like: a conditional move */
    }
    if (best == nc)
      break;
    /* Each word once: its repetitions go with it. Words of one form have
     * one unigram hash, so the forms (in memo records that may have left
     * the cache) are compared only when the hashes are equal. */
    const struct word *b = &s->words[cand[best]];
    for (size_t c = 0; c < nc; c++) {
      const struct word *w = &s->words[cand[c]];
      if (w->m_uni == b->m_uni)
        taken[c] = taken[c] || c == best || same_norm(s, w, b);
    }
    total += s->contrib[cand[best]];
    s->picked[s->n_picked++] = cand[best];
  }
  return total;
}

static void reasons(struct scratch *s, size_t nw, size_t nm, const double *x,
                    const double *c, double polarity, const struct surface *f,
                    struct detector_result *r)
{
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
  w[R_WORDS] = pick_words(s, nw, nm);
  on[R_WORDS] = s->n_picked > 0;

  /* The candidates, strongest first (the first kind of equal ones first,
   * as a search for the strongest left would take them). */
  int kinds[R_COUNT], order[R_COUNT];
  size_t nk = 0, n = 0;
  for (int k = 0; k < R_COUNT; k++) { /* no branch a kind */
    kinds[nk] = k;
    nk += on[k] & (w[k] > REASON_MIN);
  }
  for (size_t j = 0; j < nk; j++) {
    int k = kinds[j];
    size_t at = n++;
    while (at > 0 && w[k] > w[order[at - 1]]) {
      order[at] = order[at - 1];
      at--;
    }
    order[at] = k;
  }
  r->n_reasons = 0;
  s->n_q = 0;
  for (size_t i = 0; i < n && r->n_reasons < DETECTOR_MAX_REASONS; i++) {
    int kind = order[i];
    char *text = s->text[r->n_reasons];
    s->plain = true; /* the reasons' own words are */
    if (!render(s, nm, polarity, kind, text, DETECTOR_REASON_MAX))
      continue;
    r->reasons[r->n_reasons].text = text;
    r->reasons[r->n_reasons].plain = s->plain;
    r->reasons[r->n_reasons].weight = w[kind];
    r->n_reasons++;
  }
}

/* ---- Scoring ----------------------------------------------------------- */

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
                        double polarity, double subjectivity,
                        struct detector_result *r)
{
  if (!utf8_is_valid(text, len)) {
    r->score = 0.0;
    r->frustrated = false;
    r->threshold = d->threshold;
    r->n_reasons = 0;
    r->features.n = 0;
    memset(r->features.dense, 0, sizeof r->features.dense);
    return ERR_UTF8;
  }
  detector_score_valid(d, text, len, polarity, subjectivity, r);
  return ERR_OK;
}

void detector_score_valid(const struct detector *d, const char *text,
                          size_t len, double polarity, double subjectivity,
                          struct detector_result *r)
{
  struct scratch *s = r->priv;
  r->n_reasons = 0;
  /* Cut at a character boundary (the text is valid UTF-8). */
  if (len > DETECTOR_MAX_TEXT) {
    len = DETECTOR_MAX_TEXT;
    while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
      len--;
  }
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
  size_t grams;
  uint32_t last_b;
  size_t nw = read_text(d, s, clen, &f, &grams, &last_b);
  double z = d->bias;
  size_t nf = hash_features(d, s, nw, grams, last_b, &z);
  size_t nm = match_support(d, s, nw);
  double *x = r->features.dense;
  dense_features(d, s, clen, nw, nm, polarity, subjectivity, &f, x);

  /* The signals' part: sum of dense_w[j] * (x[j] - dense_mean[j]), as
   * dense_w . x plus the constant part, which detector_new took. */
  double zd[4] = {0}; /* four sums: no addition waits on the one before */
  size_t j = 0;
  for (; j + 4 <= DETECTOR_N_DENSE; j += 4)
    for (size_t k = 0; k < 4; k++)
      zd[k] += d->dense_w[j + k] * x[j + k];
  for (; j < DETECTOR_N_DENSE; j++)
    zd[0] += d->dense_w[j] * x[j];
  z += d->dense_base + ((zd[0] + zd[1]) + (zd[2] + zd[3]));
  r->score = 1.0 / (1.0 + exp(-z));
  r->frustrated = r->score >= d->threshold;
  r->threshold = d->threshold;
  r->features.idx = s->idx;
  r->features.val = s->val;
  r->features.n = nf;
  /* A calm message has no reasons: what little raised its score would
   * read as an accusation ("frustrated wording: 'help'"). */
  if (!r->skip_reasons && r->score >= d->threshold / 2) {
    double c[DETECTOR_N_DENSE]; /* each signal's part */
    for (size_t j = 0; j < DETECTOR_N_DENSE; j++)
      c[j] = d->dense_w[j] * (x[j] - d->dense_mean[j]);
    reasons(s, nw, nm, x, c, polarity, &f, r);
  }
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
