/* vader: VADER's valence rules over its own lexicon (see vader.h).
 *
 * This follows the JavaScript port in npm vader-sentiment 1.1.3 line by
 * line, quirks included, so that the "lexicon-only VADER" figures of
 * `frustration-alert eval` are VADER's: negation words are matched with
 * their case, idioms and "but" too, while lexicon and degree words are
 * looked up in lower case. Each token is read once, alone
 * (vader_read_token: its map entry, capitals, negation, marks), so the
 * three-word look-back costs no further lookups and a caller that
 * remembers readings (the detector) can hand them in instead of the text
 * (vader_score_tokens). Only the words of the lexicon go through the
 * rules: the others are neutral, and their zeros change no sum. */
#include "detector/vader.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/xalloc.h"
#include "detector/strmap.h"
#include "detector/vader_data.h"

/* Empirical constants of the paper. */
#define B_INCR 0.293     /* degree word increase */
#define B_DECR (-0.293)  /* degree word decrease */
#define C_INCR 0.733     /* ALL CAPS emphasis of a word */
#define N_SCALAR (-0.74) /* negation */

/* One map answers every question about a lower-case token: its lexicon
 * row, its degree scalar, whether it negates, and whether it is one of the
 * words the rules name. The fields of a value: */
#define W_ROW_MASK 0x3fff /* row of vader_data_rows + 1; 0: not in it */
#define W_BOOST_SHIFT 14  /* index into boosters + 1; 0: not one */
#define W_BOOST_MASK 0x7f
#define W_NEGATION (1 << 21) /* in VADER's NEGATE list */
#define W_SPECIAL_SHIFT 22   /* enum special */
#define W_SPECIAL_MASK 0xf
#define W_RULE_SHIFT 26 /* enum rule_word: in an idiom or two-word degree */
#define W_RULE_MASK 0x1f

enum special {
  SP_NONE,
  SP_KIND,
  SP_OF,
  SP_LEAST,
  SP_AT,
  SP_VERY,
  SP_BUT,
  SP_NEVER,
  SP_SO,
  SP_THIS,
};

static const char *const special_words[] = {
    [SP_KIND] = "kind",   [SP_OF] = "of",     [SP_LEAST] = "least",
    [SP_AT] = "at",       [SP_VERY] = "very", [SP_BUT] = "but",
    [SP_NEVER] = "never", [SP_SO] = "so",     [SP_THIS] = "this",
};

/* The words of the idioms and of the two-word degree phrases: a token
 * reads one of them when it has no capital and its lower-case form carries
 * its number, so that phrases are compared as numbers. */
enum rule_word {
  RW_NONE,
  RW_THE,
  RW_SHIT,
  RW_BOMB,
  RW_BAD,
  RW_ASS,
  RW_YEAH,
  RW_RIGHT,
  RW_CUT,
  RW_MUSTARD,
  RW_KISS,
  RW_OF,
  RW_DEATH,
  RW_HAND,
  RW_TO,
  RW_MOUTH,
  RW_JUST,
  RW_ENOUGH,
  RW_KIND,
  RW_SORT,
  RW_COUNT
};

static const char *const rule_words[RW_COUNT] = {
    [RW_THE] = "the",     [RW_SHIT] = "shit",   [RW_BOMB] = "bomb",
    [RW_BAD] = "bad",     [RW_ASS] = "ass",     [RW_YEAH] = "yeah",
    [RW_RIGHT] = "right", [RW_CUT] = "cut",     [RW_MUSTARD] = "mustard",
    [RW_KISS] = "kiss",   [RW_OF] = "of",       [RW_DEATH] = "death",
    [RW_HAND] = "hand",   [RW_TO] = "to",       [RW_MOUTH] = "mouth",
    [RW_JUST] = "just",   [RW_ENOUGH] = "enough", [RW_KIND] = "kind",
    [RW_SORT] = "sort",
};

struct vader {
  struct strmap words; /* lower-case token -> fields above */
  /* The tokenizer's entry of each byte: its C_* class << 8 | its lower
   * case. */
  uint16_t byte_entry[256];
};

static const struct {
  const char *word;
  double scalar;
} boosters[] = {
    {"absolutely", B_INCR},   {"amazingly", B_INCR},
    {"awfully", B_INCR},      {"completely", B_INCR},
    {"considerably", B_INCR}, {"decidedly", B_INCR},
    {"deeply", B_INCR},       {"effing", B_INCR},
    {"enormously", B_INCR},   {"entirely", B_INCR},
    {"especially", B_INCR},   {"exceptionally", B_INCR},
    {"extremely", B_INCR},    {"fabulously", B_INCR},
    {"flipping", B_INCR},     {"flippin", B_INCR},
    {"fricking", B_INCR},     {"frickin", B_INCR},
    {"frigging", B_INCR},     {"friggin", B_INCR},
    {"fully", B_INCR},        {"fucking", B_INCR},
    {"greatly", B_INCR},      {"hella", B_INCR},
    {"highly", B_INCR},       {"hugely", B_INCR},
    {"incredibly", B_INCR},   {"intensely", B_INCR},
    {"majorly", B_INCR},      {"more", B_INCR},
    {"most", B_INCR},         {"particularly", B_INCR},
    {"purely", B_INCR},       {"quite", B_INCR},
    {"really", B_INCR},       {"remarkably", B_INCR},
    {"so", B_INCR},           {"substantially", B_INCR},
    {"thoroughly", B_INCR},   {"totally", B_INCR},
    {"tremendously", B_INCR}, {"uber", B_INCR},
    {"unbelievably", B_INCR}, {"unusually", B_INCR},
    {"utterly", B_INCR},      {"very", B_INCR},
    {"almost", B_DECR},       {"barely", B_DECR},
    {"hardly", B_DECR},       {"just enough", B_DECR},
    {"kind of", B_DECR},      {"kinda", B_DECR},
    {"kindof", B_DECR},       {"kind-of", B_DECR},
    {"less", B_DECR},         {"little", B_DECR},
    {"marginally", B_DECR},   {"occasionally", B_DECR},
    {"partly", B_DECR},       {"scarcely", B_DECR},
    {"slightly", B_DECR},     {"somewhat", B_DECR},
    {"sort of", B_DECR},      {"sorta", B_DECR},
    {"sortof", B_DECR},       {"sort-of", B_DECR},
};

static const char *const negations[] = {
    "aint",    "arent",    "cannot",  "cant",     "couldnt",  "darent",
    "didnt",   "doesnt",   "ain't",   "aren't",   "can't",    "couldn't",
    "daren't", "didn't",   "doesn't", "dont",     "hadnt",    "hasnt",
    "havent",  "isnt",     "mightnt", "mustnt",   "neither",  "don't",
    "hadn't",  "hasn't",   "haven't", "isn't",    "mightn't", "mustn't",
    "neednt",  "needn't",  "never",   "none",     "nope",     "nor",
    "not",     "nothing",  "nowhere", "oughtnt",  "shant",    "shouldnt",
    "uhuh",    "wasnt",    "werent",  "oughtn't", "shan't",   "shouldn't",
    "uh-uh",   "wasn't",   "weren't", "without",  "wont",     "wouldnt",
    "won't",   "wouldn't", "rarely",  "seldom",   "despite",
};

/* VADER's idioms, as rule words. */
static const struct {
  unsigned char words[3];
  unsigned char count;
  double valence;
} idioms[] = {
    {{RW_THE, RW_SHIT}, 2, 3},                  /* "the shit" */
    {{RW_THE, RW_BOMB}, 2, 3},                  /* "the bomb" */
    {{RW_BAD, RW_ASS}, 2, 1.5},                 /* "bad ass" */
    {{RW_YEAH, RW_RIGHT}, 2, -2},               /* "yeah right" */
    {{RW_CUT, RW_THE, RW_MUSTARD}, 3, 2},       /* "cut the mustard" */
    {{RW_KISS, RW_OF, RW_DEATH}, 3, -1.5},      /* "kiss of death" */
    {{RW_HAND, RW_TO, RW_MOUTH}, 3, -2},        /* "hand to mouth" */
};

/* The two-word degree phrases ("just enough", "kind of", "sort of"). */
static const unsigned char booster_pairs[][2] = {
    {RW_JUST, RW_ENOUGH},
    {RW_KIND, RW_OF},
    {RW_SORT, RW_OF},
};

/* The marks VADER strips from either end of a token (its PUNC_LIST). */
static const char *const punc_list[] = {
    ".",  "!",   "?",  ",",   ";",   ":",   "-",    "'",    "\"",
    "!!", "!!!", "??", "???", "?!?", "!?!", "?!?!", "!?!?",
};

/* The rules read tokens as struct vader_token: their fields are the map's
 * (W_*) for their lower-case form, 0 when in none. */

/* Python's str.isupper() as VADER's JS port tests it. */
static inline bool upper_of(const struct vader_token *t)
{
  return (t->flags & VADER_UPPER) != 0;
}

/* A negation word as VADER's negated([word]) tests it. */
static inline bool neg_of(const struct vader_token *t)
{
  return (t->flags & VADER_NEG) != 0;
}

/* No capital letter: the raw token equals its lower case. */
static inline bool as_is_of(const struct vader_token *t)
{
  return (t->flags & VADER_AS_IS) != 0;
}

/* The fields of a token's lower-case form. */
static inline bool in_lex(const struct vader_token *t)
{
  return (t->fields & W_ROW_MASK) != 0;
}

static inline double lex_of(const struct vader_token *t) /* when in_lex */
{
  return vader_data_rows[(t->fields & W_ROW_MASK) - 1].valence;
}

/* Degree scalar, 0 when not a degree word. */
static inline double boost_of(const struct vader_token *t)
{
  unsigned b = (unsigned)(t->fields >> W_BOOST_SHIFT) & W_BOOST_MASK;
  return b ? boosters[b - 1].scalar : 0.0;
}

static inline unsigned rule_of(const struct vader_token *t) /* enum rule_word */
{
  return (unsigned)(t->fields >> W_RULE_SHIFT) & W_RULE_MASK;
}

static inline unsigned
special_of(const struct vader_token *t) /* enum special */
{
  return (unsigned)(t->fields >> W_SPECIAL_SHIFT) & W_SPECIAL_MASK;
}

/* What the rules need besides the tokens, counted as they are read. */
struct tally {
  size_t marks[2]; /* '!' and '?' of the text (all inside tokens) */
  size_t n_upper, n_negations;
  size_t but, but_upper; /* first "but" and "BUT", or SIZE_MAX */
  size_t n_lex;          /* tokens in the lexicon, listed in lexi */
};

struct scratch {
  const struct vader_token *tok; /* being scored (vader_score_tokens) */
  size_t n_tok;
  size_t *lexi; /* the tokens in the lexicon, in order */
  double *sent; /* their valences */
  size_t lex_cap;
  struct tally tally;
  struct vader_token *own; /* vader_score's tokens */
  size_t own_cap;
  char *lower; /* the token being read, in lower case */
  size_t lower_cap;
  size_t hits_cap;
};

static void init_byte_entries(struct vader *v);

static void merge(struct strmap *m, const char *key, int32_t bits)
{
  int32_t v = 0;
  strmap_get(m, key, strlen(key), &v);
  strmap_put(m, key, strlen(key), v | bits);
}

enum err vader_new(struct vader **out)
{
  *out = NULL;
  if (vader_data_count == 0 || vader_data_count >= W_ROW_MASK)
    return ERR_INTERNAL;
  struct vader *v = xcalloc(1, sizeof *v);
  strmap_init(&v->words, vader_data_count + 128);
  for (size_t i = 0; i < vader_data_count; i++)
    merge(&v->words, vader_data_rows[i].token, (int32_t)(i + 1));
  for (size_t i = 0; i < sizeof boosters / sizeof boosters[0]; i++)
    merge(&v->words, boosters[i].word, (int32_t)(i + 1) << W_BOOST_SHIFT);
  for (size_t i = 0; i < sizeof negations / sizeof negations[0]; i++)
    merge(&v->words, negations[i], W_NEGATION);
  for (int i = RW_THE; i < RW_COUNT; i++)
    merge(&v->words, rule_words[i], i << W_RULE_SHIFT);
  for (int i = SP_KIND; i <= SP_THIS; i++)
    merge(&v->words, special_words[i], i << W_SPECIAL_SHIFT);
  init_byte_entries(v);
  *out = v;
  return ERR_OK;
}

void vader_free(struct vader *v)
{
  if (!v)
    return;
  strmap_cleanup(&v->words);
  free(v);
}

size_t vader_size(const struct vader *v)
{
  (void)v;
  return vader_data_count;
}

double vader_valence(const struct vader *v, const char *word, size_t len)
{
  int32_t f;
  if (!strmap_get(&v->words, word, len, &f) || !(f & W_ROW_MASK))
    return 0.0;
  return vader_data_rows[(f & W_ROW_MASK) - 1].valence;
}

bool vader_is_negation(const struct vader *v, const char *word, size_t len)
{
  int32_t f;
  return strmap_get(&v->words, word, len, &f) && (f & W_NEGATION);
}

void vader_result_init(struct vader_result *r)
{
  memset(r, 0, sizeof *r);
  r->priv = xcalloc(1, sizeof(struct scratch));
}

void vader_result_cleanup(struct vader_result *r)
{
  struct scratch *s = r->priv;
  if (s) {
    free(s->own);
    free(s->lexi);
    free(s->sent);
    free(s->lower);
    free(s);
  }
  free(r->hits);
  memset(r, 0, sizeof *r);
}

/* Byte classes of the tokenizer. */
#define C_SPACE 1   /* ASCII white space (JavaScript's \s) */
#define C_PUNCT 2   /* ASCII punctuation (REGEX_REMOVE_PUNCTUATION) */
#define C_UPPER 4   /* 'A'..'Z' */
#define C_LOWER 8   /* 'a'..'z' */
#define C_MARK 16   /* '!' or '?', counted for the emphasis */
#define C_HIGH 32   /* not ASCII */
#define C_USPACE 64 /* may start a non-ASCII white-space character */

/* byte -> C_* bits (generated: ASCII white space, punctuation, letters;
 * '!' and '?'; bytes >= 0x80; 0xC2, 0xE1, 0xE2, 0xE3 and 0xEF). */
/* clang-format off */
static const unsigned char byte_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 18, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 18,
    2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2,
    2, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 2, 2, 2, 2, 0,
    32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
    32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
    32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
    32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
    32, 32, 96, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
    32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
    32, 96, 96, 96, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 96,
    32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
};
/* clang-format on */

static void init_byte_entries(struct vader *v)
{
  for (unsigned c = 0; c < 256; c++) {
    unsigned cl = byte_class[c];
    v->byte_entry[c] = (uint16_t)(cl << 8 | (c | (cl & C_UPPER) << 3));
  }
}

/* JavaScript's \s beyond ASCII: the Unicode space separators and friends.
 * Returns the byte length of a white-space character at s (starting with
 * a C_USPACE byte), or 0. */
static size_t wide_space_at(const char *s, size_t len)
{
  uint32_t cp;
  size_t n = utf8_decode(s, len, &cp);
  if (n == 0)
    return 0;
  if (cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
      cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
      cp == 0x3000 || cp == 0xFEFF)
    return n;
  return 0;
}

/* Length in UTF-16 code units, as JavaScript's String.length counts. */
static size_t js_length(const char *s, size_t len)
{
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c & 0xC0) != 0x80)
      n += c >= 0xF0 ? 2 : 1;
  }
  return n;
}

static bool is_punct(unsigned char c)
{
  return (byte_class[c] & C_PUNCT) != 0;
}

/* Is s[0..len) one of the PUNC_LIST marks? (The first nine are the
 * single characters.) */
static bool is_mark(const char *s, size_t len)
{
  if (len == 1)
    return s[0] != '\0' && strchr(".!?,;:-'\"", s[0]) != NULL;
  for (size_t i = 9; i < sizeof punc_list / sizeof punc_list[0]; i++)
    if (strlen(punc_list[i]) == len && !memcmp(punc_list[i], s, len))
      return true;
  return false;
}

/* SentiText's words_plus_punc: a token that is one PUNC_LIST mark plus a
 * punctuation-free word of two or more characters becomes that word.
 * Marks are all punctuation and the word has none, so the mark can only
 * be the whole run of punctuation at one end, the other end being a
 * letter: this finds that run instead of trying each mark in turn.
 * Returns whether it stripped one. */
static bool strip_one_mark(const char **s, size_t *len)
{
  const char *p = *s;
  size_t n = *len;
  bool lead = is_punct((unsigned char)p[0]);
  bool trail = is_punct((unsigned char)p[n - 1]);
  if (lead == trail)
    return false;
  if (lead) {
    size_t r = 1;
    while (r < n && is_punct((unsigned char)p[r]))
      r++;
    for (size_t i = r; i < n; i++)
      if (is_punct((unsigned char)p[i]))
        return false;
    if (!is_mark(p, r) || js_length(p + r, n - r) <= 1)
      return false;
    *s = p + r;
    *len = n - r;
    return true;
  }
  size_t w = n - 1;
  while (w > 0 && is_punct((unsigned char)p[w - 1]))
    w--;
  for (size_t i = 0; i < w; i++)
    if (is_punct((unsigned char)p[i]))
      return false;
  if (!is_mark(p + w, n - w) || js_length(p, w) <= 1)
    return false;
  *len = w;
  return true;
}

static bool has_nt(const char *s, size_t len)
{
  for (size_t i = 0; i + 3 <= len; i++)
    if (s[i] == 'n' && s[i + 1] == '\'' && s[i + 2] == 't')
      return true;
  return false;
}

size_t vader_space_at(const char *s, size_t len)
{
  unsigned cl = byte_class[(unsigned char)s[0]];
  if (cl & C_SPACE)
    return 1;
  return cl & C_USPACE ? wide_space_at(s, len) : 0;
}

bool vader_space_lead(unsigned char c)
{
  return (byte_class[c] & (C_SPACE | C_USPACE)) != 0;
}

void vader_read_token(const struct vader *v, struct vader_result *r,
                      const char *t, size_t tl, struct vader_reading *out)
{
  struct scratch *s = r->priv;
  if (s->lower_cap < tl) {
    s->lower = xrealloc(s->lower, tl);
    s->lower_cap = tl;
  }
  /* One pass over the token: its classes, its lower case (into low) and
   * the FNV-1a state of that. */
  char *low = s->lower;
  unsigned seen = 0; /* C_* << 8, and lower-case bytes below */
  uint32_t h = STRMAP_FNV_BASIS;
  memset(out, 0, sizeof *out);
  for (size_t j = 0; j < tl; j++) {
    unsigned char b = (unsigned char)t[j];
    unsigned e = v->byte_entry[b];
    seen |= e;
    low[j] = (char)e;
    h = (h ^ (e & 0xff)) * STRMAP_FNV_PRIME;
    if (e & C_MARK << 8)
      out->marks[b == '?']++;
  }
  seen >>= 8;
  if ((seen & C_HIGH) ? js_length(t, tl) <= 1 : tl <= 1)
    return;
  const char *w = t;
  size_t wl = tl;
  if ((seen & C_PUNCT) && strip_one_mark(&w, &wl)) {
    /* The classes and the state were of the whole token: redo them. */
    low += w - t;
    seen = 0;
    h = STRMAP_FNV_BASIS;
    for (size_t j = 0; j < wl; j++) {
      seen |= byte_class[(unsigned char)w[j]];
      h = (h ^ (unsigned char)low[j]) * STRMAP_FNV_PRIME;
    }
  }
  out->off = (uint32_t)(w - t);
  out->len = (uint32_t)wl;
  bool caps = (seen & C_UPPER) != 0;
  int32_t f = 0;
  strmap_get_hashed(&v->words, low, wl, strmap_hash_of(h), &f);
  out->fields = f;
  unsigned fl = VADER_KEEP;
  /* /^[^a-z]*[A-Z]+[^a-z]*$/: some capital letter and no small one. */
  if (caps && !(seen & C_LOWER))
    fl |= VADER_UPPER;
  if (!caps)
    fl |= VADER_AS_IS;
  /* NEGATE holds lower-case words, matched with their case. */
  if ((!caps && (f & W_NEGATION)) || ((seen & C_PUNCT) && has_nt(w, wl)))
    fl |= VADER_NEG;
  if (f & W_ROW_MASK)
    fl |= VADER_LEX;
  if (((f >> W_SPECIAL_SHIFT) & W_SPECIAL_MASK) == SP_BUT)
    fl |= VADER_BUT;
  out->flags = (uint8_t)fl;
}

/* Does the run of raw tokens tok[from..from+count) read the phrase of rule
 * words words[0..nwords)? Case-sensitive, as in VADER. */
static bool seq_is(const struct vader_token *tok, size_t from, size_t count,
                   const unsigned char *words, size_t nwords)
{
  if (count != nwords)
    return false;
  for (size_t i = 0; i < count; i++)
    if (!as_is_of(&tok[from + i]) || rule_of(&tok[from + i]) != words[i])
      return false;
  return true;
}

static bool idiom_of(const struct vader_token *tok, size_t from, size_t count,
                     double *valence)
{
  if (!rule_of(&tok[from]))
    return false;
  for (size_t i = 0; i < sizeof idioms / sizeof idioms[0]; i++)
    if (seq_is(tok, from, count, idioms[i].words, idioms[i].count)) {
      *valence = idioms[i].valence;
      return true;
    }
  return false;
}

static bool booster_pair(const struct vader_token *tok, size_t from)
{
  for (size_t i = 0; i < sizeof booster_pairs / sizeof booster_pairs[0]; i++)
    if (seq_is(tok, from, 2, booster_pairs[i], 2))
      return true;
  return false;
}

static double idioms_check(double valence, const struct vader_token *tok,
                           size_t n, size_t i)
{
  /* The sequences in VADER's order; the first known idiom wins. */
  double iv;
  if (idiom_of(tok, i - 1, 2, &iv) || idiom_of(tok, i - 2, 3, &iv) ||
      idiom_of(tok, i - 2, 2, &iv) || idiom_of(tok, i - 3, 3, &iv) ||
      idiom_of(tok, i - 3, 2, &iv))
    valence = iv;
  if (n - 1 > i && idiom_of(tok, i, 2, &iv))
    valence = iv;
  if (n - 1 > i + 1 && idiom_of(tok, i, 3, &iv))
    valence = iv;
  if (booster_pair(tok, i - 3) || booster_pair(tok, i - 2))
    valence += B_DECR;
  return valence;
}

/* Raw token comparisons of VADER's rules (case-sensitive). */
static bool raw_is(const struct vader_token *t, enum special sp)
{
  return as_is_of(t) && special_of(t) == sp;
}

static bool is_so_or_this(const struct vader_token *t)
{
  return raw_is(t, SP_SO) || raw_is(t, SP_THIS);
}

static double never_check(double valence, const struct vader_token *tok,
                          size_t start_i, size_t i)
{
  if (start_i == 0) {
    if (neg_of(&tok[i - 1]))
      valence *= N_SCALAR;
  } else if (start_i == 1) {
    if (raw_is(&tok[i - 2], SP_NEVER) && is_so_or_this(&tok[i - 1]))
      valence *= 1.5;
    else if (neg_of(&tok[i - 2]))
      valence *= N_SCALAR;
  } else {
    if ((raw_is(&tok[i - 3], SP_NEVER) && is_so_or_this(&tok[i - 2])) ||
        is_so_or_this(&tok[i - 1]))
      valence *= 1.25;
    else if (neg_of(&tok[i - 3]))
      valence *= N_SCALAR;
  }
  return valence;
}

/* Can an idiom or a two-word degree phrase touch word i? (idioms_check
 * looks from i - 3 to i + 2; all their words carry W_RULE.) */
static bool rule_near(const struct vader_token *tok, size_t n, size_t i)
{
  size_t end = i + 3 < n ? i + 3 : n;
  for (size_t j = i - 3; j < end; j++)
    if (rule_of(&tok[j]))
      return true;
  return false;
}

static double scalar_inc_dec(const struct vader_token *t, double valence,
                             bool cap_diff)
{
  double scalar = boost_of(t);
  if (scalar == 0.0)
    return 0.0;
  if (valence < 0)
    scalar = -scalar;
  if (cap_diff && upper_of(t))
    scalar += valence > 0 ? C_INCR : -C_INCR;
  return scalar;
}

static bool low_is(const struct vader_token *t, enum special sp)
{
  return special_of(t) == sp;
}

static double word_valence(const struct scratch *s, size_t n, size_t i,
                           bool cap_diff)
{
  const struct vader_token *tok = s->tok;
  if (!in_lex(&tok[i]))
    return 0.0;
  double valence = lex_of(&tok[i]);
  if (upper_of(&tok[i]) && cap_diff)
    valence += valence > 0 ? C_INCR : -C_INCR;
  for (size_t start_i = 0; start_i < 3; start_i++) {
    if (i <= start_i || in_lex(&tok[i - (start_i + 1)]))
      continue;
    double sc = scalar_inc_dec(&tok[i - (start_i + 1)], valence, cap_diff);
    if (start_i == 1 && sc != 0)
      sc *= 0.95;
    else if (start_i == 2 && sc != 0)
      sc *= 0.9;
    valence += sc;
    valence = never_check(valence, tok, start_i, i);
    if (start_i == 2 && rule_near(tok, n, i))
      valence = idioms_check(valence, tok, n, i);
  }
  /* least_check */
  if (i > 1 && low_is(&tok[i - 1], SP_LEAST) && !in_lex(&tok[i - 1])) {
    if (!low_is(&tok[i - 2], SP_AT) && !low_is(&tok[i - 2], SP_VERY))
      valence *= N_SCALAR;
  } else if (i > 0 && low_is(&tok[i - 1], SP_LEAST) && !in_lex(&tok[i - 1])) {
    valence *= N_SCALAR;
  }
  return valence;
}

/* The emphasis of ep '!' and qm '?' in the text. */
static double punctuation_emphasis(size_t ep, size_t qm)
{
  if (ep > 4)
    ep = 4;
  double amp = (double)ep * 0.292;
  if (qm > 1)
    amp += qm <= 3 ? (double)qm * 0.18 : 0.96;
  return amp;
}

static void end(struct vader_result *r);
static inline void totals(struct vader_result *r, struct scratch *s, size_t n,
                          const size_t marks[2],
                          const struct vader_word *words);

void vader_score(const struct vader *v, const char *text, size_t len,
                 struct vader_result *r)
{
  struct scratch *s = r->priv;
  size_t n = 0, i = 0, marks[2] = {0, 0};
  while (i < len) {
    size_t sp = vader_space_at(text + i, len - i);
    if (sp) {
      i += sp;
      continue;
    }
    size_t start = i++;
    while (i < len && !vader_space_at(text + i, len - i))
      i++;
    struct vader_reading rd;
    vader_read_token(v, r, text + start, i - start, &rd);
    marks[0] += rd.marks[0];
    marks[1] += rd.marks[1];
    if (!(rd.flags & VADER_KEEP))
      continue;
    if (n == s->own_cap) {
      s->own_cap = s->own_cap ? 2 * s->own_cap : 64;
      s->own = xrealloc(s->own, s->own_cap * sizeof *s->own);
    }
    s->own[n++] = (struct vader_token){(uint32_t)(start + rd.off), rd.len,
                                       rd.fields, rd.flags};
  }
  vader_score_tokens(v, text, s->own, n, marks, r);
}

void vader_score_tokens(const struct vader *v, const char *text,
                        const struct vader_token *tok, size_t n,
                        const size_t marks[2], struct vader_result *r)
{
  (void)v;
  (void)text;
  struct scratch *s = r->priv;
  if (n > s->lex_cap) {
    s->lex_cap = n;
    s->lexi = xrealloc(s->lexi, n * sizeof *s->lexi);
    s->sent = xrealloc(s->sent, n * sizeof *s->sent);
  }
  s->tok = tok;
  s->n_tok = n;
  size_t *lexi = s->lexi;
  size_t nl = 0, n_upper = 0, n_neg = 0;
  size_t but = SIZE_MAX, but_upper = SIZE_MAX;
  for (size_t i = 0; i < n; i++) {
    unsigned fl = tok[i].flags;
    n_upper += (fl & VADER_UPPER) != 0;
    n_neg += (fl & VADER_NEG) != 0;
    if (fl & VADER_BUT) {
      if (but == SIZE_MAX && (fl & VADER_AS_IS))
        but = i;
      if (but_upper == SIZE_MAX && (fl & VADER_UPPER))
        but_upper = i;
    }
    lexi[nl] = i; /* no branch a token to mispredict */
    nl += (fl & VADER_LEX) != 0;
  }
  s->tally =
      (struct tally){{marks[0], marks[1]}, n_upper, n_neg, but, but_upper, nl};
  end(r);
}

/* Applies the rules to the tokens added, filling r as vader_score does. */
static void end(struct vader_result *r)
{
  struct scratch *s = r->priv;
  const struct tally *c = &s->tally;
  size_t n = s->n_tok;
  r->compound = r->pos = r->neu = r->neg = r->sum = 0.0;
  r->n_words = n;
  r->n_upper = c->n_upper;
  r->n_negations = c->n_negations;
  r->n_hits = 0;
  /* but_check: the first "but" (else "BUT") splits the message. */
  size_t but = c->but != SIZE_MAX ? c->but : c->but_upper;
  if (n == 0)
    return;
  bool cap_diff = r->n_upper > 0 && r->n_upper < n;
  /* Only words of the lexicon get a valence: the others count as neutral,
   * and adding their 0 would change no sum. */
  const struct vader_token *tok = s->tok;
  const size_t *lexi = s->lexi;
  double *sent = s->sent;
  size_t nl = c->n_lex;
  for (size_t k = 0; k < nl; k++) {
    size_t i = lexi[k];
    const struct vader_token *t = &tok[i];
    if ((i + 1 < n && low_is(t, SP_KIND) && low_is(&tok[i + 1], SP_OF)) ||
        boost_of(t) != 0.0)
      sent[k] = 0.0;
    else
      sent[k] = word_valence(s, n, i, cap_diff);
  }
  if (but < n)
    for (size_t k = 0; k < nl; k++) {
      if (lexi[k] < but)
        sent[k] *= 0.5;
      else if (lexi[k] > but)
        sent[k] *= 1.5;
    }
  totals(r, s, n, c->marks, NULL);
}

/* VADER's sums over the valences s->sent of the s->tally.n_lex words
 * s->lexi of n tokens, with the emphasis of marks: compound, proportions
 * and hits (placed by tok, the scratch's tokens, or by words when not
 * NULL), into r. Always inline: English texts pay no call for it, and
 * words is known NULL there. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void
totals(struct vader_result *r, struct scratch *s, size_t n,
       const size_t marks[2], const struct vader_word *words)
{
  const size_t *lexi = s->lexi;
  const double *sent = s->sent;
  size_t nl = s->tally.n_lex;
  double sum = 0.0, pos_sum = 0.0, neg_sum = 0.0;
  size_t pos = 0, neg = 0;
  for (size_t k = 0; k < nl; k++) {
    sum += sent[k];
    if (sent[k] > 0) {
      pos_sum += sent[k] + 1;
      pos++;
    } else if (sent[k] < 0) {
      neg_sum += sent[k] - 1;
      neg++;
    }
  }
  size_t neu = n - pos - neg, hits = pos + neg;
  double amp = punctuation_emphasis(marks[0], marks[1]);
  if (sum > 0)
    sum += amp;
  else if (sum < 0)
    sum -= amp;
  double compound = sum / sqrt(sum * sum + 15.0);
  if (compound < -1.0)
    compound = -1.0;
  else if (compound > 1.0)
    compound = 1.0;
  r->sum = sum;
  r->compound = round(compound * 1e4) / 1e4;
  if (pos_sum > fabs(neg_sum))
    pos_sum += amp;
  else if (pos_sum < fabs(neg_sum))
    neg_sum -= amp;
  double total = pos_sum + fabs(neg_sum) + (double)neu;
  r->pos = fabs(pos_sum / total);
  r->neg = fabs(neg_sum / total);
  r->neu = fabs((double)neu / total);

  if (hits > s->hits_cap) {
    r->hits = xrealloc(r->hits, hits * sizeof *r->hits);
    s->hits_cap = hits;
  }
  for (size_t k = 0; k < nl; k++)
    if (sent[k] != 0.0) {
      struct vader_hit *h = &r->hits[r->n_hits++];
      h->off = words ? words[lexi[k]].at : s->tok[lexi[k]].at;
      h->len = words ? words[lexi[k]].len : s->tok[lexi[k]].len;
      h->valence = sent[k];
    }
}

/* The rules over another language's words: VADER's, without the English
 * idioms and the quirks of its negation list ("never so", "least", "kind
 * of"): capitals, up to three degree words before a sentiment word (damped
 * with distance), a negation in the same window, the first contrast word
 * (before it x0.5, after it x1.5). A degree word or a negation that is
 * itself a sentiment word cannot be (langlexgen refuses it). */
void vader_score_words(const struct vader_word *w, size_t n,
                       const size_t marks[2], struct vader_result *r)
{
  struct scratch *s = r->priv;
  if (n > s->lex_cap) {
    s->lex_cap = n;
    s->lexi = xrealloc(s->lexi, n * sizeof *s->lexi);
    s->sent = xrealloc(s->sent, n * sizeof *s->sent);
  }
  size_t nl = 0, n_upper = 0, n_neg = 0, but = SIZE_MAX;
  for (size_t i = 0; i < n; i++) {
    n_upper += (w[i].flags & VADER_UPPER) != 0;
    n_neg += (w[i].flags & VADER_NEG) != 0;
    if ((w[i].flags & VADER_BUT) && but == SIZE_MAX)
      but = i;
    if (w[i].valence != 0.0)
      s->lexi[nl++] = i;
  }
  s->tally =
      (struct tally){{marks[0], marks[1]}, n_upper, n_neg, but, SIZE_MAX, nl};
  r->compound = r->pos = r->neu = r->neg = r->sum = 0.0;
  r->n_words = n;
  r->n_upper = n_upper;
  r->n_negations = n_neg;
  r->n_hits = 0;
  if (n == 0)
    return;
  bool cap_diff = n_upper > 0 && n_upper < n;
  for (size_t k = 0; k < nl; k++) {
    size_t i = s->lexi[k];
    double v = w[i].valence;
    if (cap_diff && (w[i].flags & VADER_UPPER))
      v += v > 0 ? C_INCR : -C_INCR;
    for (size_t back = 1; back <= 3 && back <= i; back++) {
      const struct vader_word *b = &w[i - back];
      if (b->valence != 0.0)
        continue;
      double sc = b->boost;
      if (sc != 0.0) {
        if (v < 0)
          sc = -sc;
        if (cap_diff && (b->flags & VADER_UPPER))
          sc += v > 0 ? C_INCR : -C_INCR;
        sc *= back == 1 ? 1.0 : back == 2 ? 0.95 : 0.9;
        v += sc;
      }
      if (b->flags & VADER_NEG)
        v *= N_SCALAR;
    }
    s->sent[k] = v;
  }
  if (but < n)
    for (size_t k = 0; k < nl; k++) {
      if (s->lexi[k] < but)
        s->sent[k] *= 0.5;
      else if (s->lexi[k] > but)
        s->sent[k] *= 1.5;
    }
  totals(r, s, n, marks, w);
}
