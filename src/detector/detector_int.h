/* detector_int: what the stages of the detector share (private to
 * src/detector/; detector.h is the public map).
 *
 * The files, in the order one call of detector_score runs their stages
 * (detector.c is the lifetime):
 *
 *   clean.c     the text as the detector reads it (detector_clean)
 *   tokens.c    VADER's tokens (the text between white space), each read
 *               for VADER and split into words, from the token memo when
 *               seen before; then VADER's rules (detector_read_text)
 *   words.c     the word split (lower case, digits as '0') and what a
 *               word comes to alone, from the word memo when seen before
 *   langread.c  in place of tokens.c and words.c for a text in another
 *               language: its words read with its lexicon (langlex.c),
 *               VADER's rules over them, its support phrases
 *   features.c  support phrases (longest match first), hashed features
 *               (signed hashing: FNV-1a, MurmurHash3 finaliser, the top
 *               bit gives the sign) and the dense signals
 *   score.c     the logistic score, then the reasons when they are shown
 *   reasons.c   the reasons: the signals that raised the score most, in
 *               words a support agent reads
 *   detector.c  lifetime: the detector, its tables and memos, results
 *
 * Every buffer lives in the result's scratch and keeps its capacity, so a
 * warm result scores without allocating. The text is bounded by
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
 * reasons can name words ("frustrated wording: 'overbooked'") instead of
 * bucket numbers. Character 3-grams were tried: they cost time and added
 * nothing out of fold. */
#ifndef DETECTOR_DETECTOR_INT_H
#define DETECTOR_DETECTOR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "detector/detector.h"
#include "detector/langlex.h"
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
/* Reasons quote at most QUOTE_ITEMS items of one kind (reasons.c). */
#define QUOTE_ITEMS 3
#define QUOTES_MAX (QUOTE_ITEMS * DETECTOR_MAX_REASONS)

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
/* Counts below this take their log1p from a table. */
#define LOG1P_TABLE 64

/* The detector (detector.c builds it): the model's weights, the
 * lexicons, the memos and the tables. */
struct detector {
  struct vader *vader;
  struct support_index support;
  struct memo *words;  /* struct word_record of words seen, shared */
  struct memo *tokens; /* struct token_record of tokens seen, shared */
  uint32_t hash_bits;
  uint32_t mask;
  float bias;
  /* The model file's threshold, a float, as the decimal it was chosen as
   * (a multiple of 0.005, to 6 places): answers say 0.475, not
   * 0.4749999940395355, and only a score within 6e-9 of it is judged
   * otherwise. */
  double threshold;
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
  /* The other languages' lexicons (langread.c; English's entry is
   * empty): read only for texts in those languages. */
  struct langlex lex[LANG_N];
};

/* Flags of a word beside its support lookup's SUPPORT_MORE and
 * SUPPORT_STOP: the lookup found a phrase; the word is an emoji; the word
 * carries frustration on its own (detector_word_carries: the reasons may
 * quote it). */
#define SUP_HIT 0x80
#define WORD_EMOJI 0x40
#define WORD_CARRIES 0x20

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
   * way, detector_split_span): its normalised form, in scratch norm, the FNV-1a
   * state of that from the basis (the support key, which detector_match_support
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

/* A support phrase found in the message (features.c). */
struct match {
  uint32_t first, count; /* words */
  int cat;
};

/* A result's scratch (its priv): every buffer of one scoring, kept with
 * its capacity from one message to the next. */
struct scratch {
  const char *ct; /* the cleaned text (in clean), MEMO_KEY_READ zero
                     bytes after it */
  char *clean;
  char *norm;
  size_t text_cap; /* bytes of clean and of norm */
  struct word *words;
  double *contrib;  /* per word, for the reasons */
  uint32_t *starts; /* words that may start a phrase (detector_match_support) */
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
  /* The reading of a text in another language (langread.c). */
  enum lang lang;              /* of the text being scored */
  bool addressed;              /* it starts with an @handle */
  char *low;                   /* the words' lower-case forms */
  size_t low_cap;              /* bytes of low */
  struct langlex_word *lw;     /* each word's forms */
  struct vader_word *vw, *emo; /* VADER's words; the emoticons */
  size_t lw_cap, vw_cap, emo_cap;
  size_t n_vw; /* VADER's words of the last text in another language */
};

/* The surface signals of a message: letters, capitals, marks. */
struct surface {
  size_t letters, upper, caps_words, words_with_letters;
  size_t exclaim, question;
  bool exclaim_multi, question_multi;
  bool shouting;
};

/* The word loop's table: for each ASCII letter or digit, its normalised
 * form (lower case, digits as '0') in the low byte, W_WORD, and a one in
 * the count of small (W_LOWER) or capital (W_UPPER) letters, so that a
 * word's counts are one sum; 0 for every other byte. */
#define W_WORD ((uint64_t)1 << 8)
#define W_COUNTS 16 /* the counts start at this bit */
#define W_LOWER ((uint64_t)1 << W_COUNTS)
#define W_UPPER ((uint64_t)1 << (W_COUNTS + 24))
#define W_COUNT_MASK 0xffffffu /* 24 bits each: words are < 64 KiB */

/* The word split under way: words and normalised bytes so far, n-grams,
 * the unigram hash of the last word (start_b before the first), the
 * surface signals. */
struct split {
  size_t nw, no, ng;
  uint32_t prev_b;
  struct surface f;
};

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

/* The capacity for at least need elements of a scratch array that holds
 * cap: twice cap, first when it is empty, doubled until it fits. */
static inline size_t scratch_cap(size_t cap, size_t need, size_t first)
{
  cap = cap ? cap * 2 : first;
  while (cap < need)
    cap *= 2;
  return cap;
}

/* Shouting: several words in capitals making up a good part of the
 * message, or a message mostly in capitals; a lone acronym is not. */
static inline bool surface_shouting(const struct surface *f)
{
  return f->caps_words >= 3 ||
         (f->caps_words >= 2 &&
          f->caps_words * 10 >= f->words_with_letters * 3) ||
         (f->letters >= 8 && f->upper * 10 >= f->letters * 6);
}

/* ---- words.c ---------------------------------------------------------- */

/* Room in the scratch for need words. */
void detector_grow_words(struct scratch *s, size_t need);

/* The mixed hashes of the character n-grams of a word (not an emoji)
 * whose normalised form is nw[0..nlen), into grams (room for
 * CHAR_GRAMS_MAX); returns how many. */
size_t detector_char_grams(const struct detector *d, const char *nw,
                           size_t nlen, uint32_t *grams);

/* Splits the cleaned text s->ct[from..to) into words and emoji (to is at
 * white space or the end, len, so that no word runs past it), continuing
 * the split sp: see words.c. */
void detector_split_span(const struct detector *d, struct scratch *s,
                         struct split *sp, size_t from, size_t to, size_t len);

/* ---- tokens.c ---------------------------------------------------------- */

/* Splits the cleaned text s->ct[0..len) (a space and MEMO_KEY_READ zero
 * bytes after it) into words and scores it with VADER into s->vr. Sets
 * *f to the surface signals, *grams to the number of character n-grams of
 * the words and *last_b to the unigram hash of the last word (start_b
 * when there is none); returns the number of words. */
size_t detector_read_text(const struct detector *d, struct scratch *s,
                          size_t len, struct surface *f, size_t *grams,
                          uint32_t *last_b);

/* ---- langread.c -------------------------------------------------------- */

/* detector_read_text for a text in another language than English (lang,
 * LANG_OTHER included): its words read with the language's lexicon, VADER's
 * rules over it into s->vr, the support phrases into s->matches (their
 * number in *nm); no word has a hashed part (s->contrib is 0). Sets *f as
 * detector_read_text does, and *n_all to the number of words of the text
 * (emoji included); returns the number of words in s->words (none for
 * LANG_OTHER, whose words are not read). */
size_t detector_read_lang(const struct detector *d, struct scratch *s,
                          size_t len, enum lang lang, struct surface *f,
                          size_t *nm, size_t *n_all);

/* ---- features.c -------------------------------------------------------- */

/* Finds the support phrases among the nw words (longest match first,
 * matches do not overlap) into s->matches; returns their number. */
size_t detector_match_support(const struct detector *d, struct scratch *s,
                              size_t nw);

/* Adds the hashed features' part of the score to *z and credits each word
 * with what its features added (s->contrib). Returns the number of
 * features recorded for trainers (none unless s->keep). */
/* The language's own part of the signals: each nonzero signal x[j] of a
 * text in lang (neither English nor LANG_OTHER) is also a hashed feature
 * keyed by the language and j, with value x[j]. The shared weights of the
 * signals are learned mostly from English; these learn, from the
 * language's own training messages, how far its signals weigh otherwise
 * (a long German message, say, is less telling than a long English one).
 * Adds their part to *z; records them after the nf already recorded when
 * s->keep. Returns the new count. */
size_t detector_lang_signals(const struct detector *d, struct scratch *s,
                             enum lang lang, const double *x, size_t nf,
                             double *z);

size_t detector_hash_features(const struct detector *d, struct scratch *s,
                              size_t nw, size_t grams, uint32_t last_b,
                              double *z);

/* Fills x[DETECTOR_N_DENSE] with the dense signals of a message of nw
 * words and nm support matches. */
void detector_dense_features(const struct detector *d, const struct scratch *s,
                             size_t nw, size_t nm, double polarity,
                             double subjectivity, const struct surface *f,
                             double *x);

/* ---- reasons.c --------------------------------------------------------- */

/* Writes r's reasons: the signals whose parts c (with values x) raised
 * the score most, strongest first, with the words that carried them
 * (only words that carry frustration on their own: see reasons.c). */
void detector_reasons(const struct detector *d, struct scratch *s, size_t nw,
                      size_t nm, const double *x, const double *c,
                      double polarity, const struct surface *f,
                      struct detector_result *r);

/* Do the capitals of the NUL-terminated cleaned text t shout, rather than
 * only spell acronyms or codes ("SFO-PDX", "A320"; cleaning has removed
 * the "XXXX" of redacted complaints)?
 * The rule of the "shouting (ALL CAPS)" reason and of the level's
 * shouting signal (reasons.c). */
bool detector_shouts(const char *t);

/* Does the English word whose normalised form is norm[0..len) (support
 * category cat of the word alone, or -1) carry frustration on its own: a
 * support word (not thanks), negative in VADER's lexicon, or one of the
 * reasons' complaint words? Worked out once per word (WORD_CARRIES). */
bool detector_word_carries(const struct detector *d, const char *norm,
                           size_t len, int cat);

/* Makes r's one reason the note that no word or sign stands out (weight
 * 0), for a frustrated verdict that detector_reasons left without one. */
void detector_note_no_sign(struct scratch *s, struct detector_result *r);

/* Adds to r's reasons the note that the text's language is not supported
 * (weight 0: it raised nothing), in place of the last when they are
 * full. */
void detector_note_unsupported(struct scratch *s, struct detector_result *r);

#endif
