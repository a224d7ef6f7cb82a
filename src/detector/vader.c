/* vader: VADER's valence rules over its own lexicon (see vader.h).
 *
 * This follows the JavaScript port in npm vader-sentiment 1.1.3 line by
 * line, quirks included, so that the "lexicon-only VADER" figures of
 * `frustration-alert eval` are VADER's: negation words are matched with
 * their case, idioms and "but" too, while lexicon and degree words are
 * looked up in lower case. Each token's attributes (lower-case form,
 * lexicon valence, degree scalar, capitals, negation) are computed once,
 * so the three-word look-back costs no further lookups. */
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
#define W_RULE (1 << 22)     /* appears in an idiom or a two-word degree */
#define W_SPECIAL_SHIFT 24   /* enum special */

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

/* The words of the idioms and of the two-word degree phrases. */
static const char *const rule_words[] = {
    "the",   "shit",    "bomb",   "bad",  "ass",   "yeah", "right",
    "cut",   "mustard", "kiss",   "of",   "death", "hand", "to",
    "mouth", "just",    "enough", "kind", "sort",
};

struct vader {
  struct strmap words; /* lower-case token -> fields above */
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

static const struct {
  const char *phrase;
  double valence;
} idioms[] = {
    {"the shit", 3},       {"the bomb", 3},        {"bad ass", 1.5},
    {"yeah right", -2},    {"cut the mustard", 2}, {"kiss of death", -1.5},
    {"hand to mouth", -2},
};

/* The marks VADER strips from either end of a token (its PUNC_LIST). */
static const char *const punc_list[] = {
    ".",  "!",   "?",  ",",   ";",   ":",   "-",    "'",    "\"",
    "!!", "!!!", "??", "???", "?!?", "!?!", "?!?!", "!?!?",
};

struct token {
  const char *raw; /* the token as VADER sees it, in the scored text */
  size_t len;
  double lex;   /* lexicon valence; meaningful when in_lex */
  double boost; /* degree scalar, 0 when not a degree word */
  bool in_lex;
  bool upper; /* Python's str.isupper() as VADER's JS port tests it */
  bool neg;   /* a negation word as VADER's negated([word]) tests it */
  bool rule;  /* may take part in an idiom or two-word degree phrase */
  bool as_is; /* no capital letter: the raw token equals its lower case */
  unsigned char special; /* enum special of the lower-case form */
};

struct scratch {
  struct token *tok;
  size_t tok_cap;
  double *sent;
  char *lower;
  size_t lower_cap;
  size_t hits_cap;
};

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
  for (size_t i = 0; i < sizeof rule_words / sizeof rule_words[0]; i++)
    merge(&v->words, rule_words[i], W_RULE);
  for (int i = SP_KIND; i <= SP_THIS; i++)
    merge(&v->words, special_words[i], i << W_SPECIAL_SHIFT);
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

void vader_result_init(struct vader_result *r)
{
  memset(r, 0, sizeof *r);
  r->priv = xcalloc(1, sizeof(struct scratch));
}

void vader_result_cleanup(struct vader_result *r)
{
  struct scratch *s = r->priv;
  if (s) {
    free(s->tok);
    free(s->sent);
    free(s->lower);
    free(s);
  }
  free(r->hits);
  memset(r, 0, sizeof *r);
}

/* JavaScript's \s beyond ASCII: the Unicode space separators and friends.
 * Returns the byte length of a white-space character at s, or 0. */
static size_t space_at(const char *s, size_t len)
{
  unsigned char c = (unsigned char)s[0];
  if (c == ' ' || (c >= '\t' && c <= '\r'))
    return 1;
  if (c < 0x80)
    return 0;
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

/* VADER's REGEX_REMOVE_PUNCTUATION: all of ASCII punctuation. */
static bool is_punct(unsigned char c)
{
  return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') ||
         (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
}

static bool punct_free(const char *s, size_t len)
{
  for (size_t i = 0; i < len; i++)
    if (is_punct((unsigned char)s[i]))
      return false;
  return true;
}

/* SentiText's words_plus_punc: a token that is one PUNC_LIST mark plus a
 * punctuation-free word of two or more characters becomes that word. */
static void strip_one_mark(const char **s, size_t *len)
{
  if (!is_punct((unsigned char)(*s)[0]) &&
      !is_punct((unsigned char)(*s)[*len - 1]))
    return;
  for (size_t i = 0; i < sizeof punc_list / sizeof punc_list[0]; i++) {
    size_t pl = strlen(punc_list[i]);
    if (*len <= pl)
      continue;
    const char *w = *s + pl;
    size_t wl = *len - pl;
    if (!memcmp(*s, punc_list[i], pl) && punct_free(w, wl) &&
        js_length(w, wl) > 1) {
      *s = w;
      *len = wl;
      return;
    }
    w = *s;
    if (!memcmp(*s + wl, punc_list[i], pl) && punct_free(w, wl) &&
        js_length(w, wl) > 1) {
      *len = wl;
      return;
    }
  }
}

/* /^[^a-z]*[A-Z]+[^a-z]*$/: some capital letter and no small one. */
static bool is_upper(const char *s, size_t len)
{
  bool cap = false;
  for (size_t i = 0; i < len; i++) {
    if (s[i] >= 'a' && s[i] <= 'z')
      return false;
    cap = cap || (s[i] >= 'A' && s[i] <= 'Z');
  }
  return cap;
}

static bool has_nt(const char *s, size_t len)
{
  for (size_t i = 0; i + 3 <= len; i++)
    if (s[i] == 'n' && s[i + 1] == '\'' && s[i + 2] == 't')
      return true;
  return false;
}

static void grow_tokens(struct scratch *s, size_t need)
{
  if (need <= s->tok_cap)
    return;
  size_t cap = s->tok_cap ? s->tok_cap : 64;
  while (cap < need)
    cap *= 2;
  s->tok = xrealloc(s->tok, cap * sizeof *s->tok);
  s->sent = xrealloc(s->sent, cap * sizeof *s->sent);
  s->tok_cap = cap;
}

/* Splits text into VADER's words_and_emoticons with their attributes. */
static size_t tokenize(const struct vader *v, const char *text, size_t len,
                       struct scratch *s)
{
  if (s->lower_cap < len + 1) {
    s->lower = xrealloc(s->lower, len + 1);
    s->lower_cap = len + 1;
  }
  size_t n = 0, lower_used = 0, i = 0;
  while (i < len) {
    size_t sp = space_at(text + i, len - i);
    if (sp) {
      i += sp;
      continue;
    }
    size_t start = i;
    while (i < len && !space_at(text + i, len - i))
      i++;
    const char *t = text + start;
    size_t tl = i - start;
    if (js_length(t, tl) <= 1)
      continue;
    strip_one_mark(&t, &tl);
    grow_tokens(s, n + 1);
    struct token *k = &s->tok[n++];
    k->raw = t;
    k->len = tl;

    char *low = s->lower + lower_used;
    bool caps = false;
    for (size_t j = 0; j < tl; j++) {
      char c = t[j];
      caps = caps || (c >= 'A' && c <= 'Z');
      low[j] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    lower_used += tl;
    int32_t f = 0;
    strmap_get(&v->words, low, tl, &f);
    int row = f & W_ROW_MASK, boost = (f >> W_BOOST_SHIFT) & W_BOOST_MASK;
    k->in_lex = row != 0;
    k->lex = row ? vader_data_rows[row - 1].valence : 0.0;
    k->boost = boost ? boosters[boost - 1].scalar : 0.0;
    k->upper = caps && is_upper(t, tl);
    k->as_is = !caps;
    /* NEGATE holds lower-case words, matched with their case. */
    k->neg = (!caps && (f & W_NEGATION)) || has_nt(t, tl);
    k->rule = (f & W_RULE) != 0;
    k->special = (unsigned char)(f >> W_SPECIAL_SHIFT);
  }
  return n;
}

/* Does the run of raw tokens tok[from..from+count) read phrase (words
 * separated by single spaces)? Case-sensitive, as in VADER. */
static bool seq_is(const struct token *tok, size_t from, size_t count,
                   const char *phrase)
{
  const char *p = phrase;
  for (size_t i = 0; i < count; i++) {
    const char *sp = strchr(p, ' ');
    size_t wl = sp ? (size_t)(sp - p) : strlen(p);
    if (wl != tok[from + i].len || memcmp(tok[from + i].raw, p, wl))
      return false;
    if (i + 1 < count) {
      if (!sp)
        return false;
      p = sp + 1;
    } else if (sp) {
      return false;
    }
  }
  return true;
}

static bool idiom_of(const struct token *tok, size_t from, size_t count,
                     double *valence)
{
  for (size_t i = 0; i < sizeof idioms / sizeof idioms[0]; i++)
    if (seq_is(tok, from, count, idioms[i].phrase)) {
      *valence = idioms[i].valence;
      return true;
    }
  return false;
}

static bool booster_pair(const struct token *tok, size_t from)
{
  return seq_is(tok, from, 2, "just enough") ||
         seq_is(tok, from, 2, "kind of") || seq_is(tok, from, 2, "sort of");
}

static double idioms_check(double valence, const struct token *tok, size_t n,
                           size_t i)
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
static bool raw_is(const struct token *t, enum special sp)
{
  return t->as_is && t->special == sp;
}

static bool is_so_or_this(const struct token *t)
{
  return raw_is(t, SP_SO) || raw_is(t, SP_THIS);
}

static double never_check(double valence, const struct token *tok,
                          size_t start_i, size_t i)
{
  if (start_i == 0) {
    if (tok[i - 1].neg)
      valence *= N_SCALAR;
  } else if (start_i == 1) {
    if (raw_is(&tok[i - 2], SP_NEVER) && is_so_or_this(&tok[i - 1]))
      valence *= 1.5;
    else if (tok[i - 2].neg)
      valence *= N_SCALAR;
  } else {
    if ((raw_is(&tok[i - 3], SP_NEVER) && is_so_or_this(&tok[i - 2])) ||
        is_so_or_this(&tok[i - 1]))
      valence *= 1.25;
    else if (tok[i - 3].neg)
      valence *= N_SCALAR;
  }
  return valence;
}

/* Can an idiom or a two-word degree phrase touch word i? (idioms_check
 * looks from i - 3 to i + 2; all their words carry W_RULE.) */
static bool rule_near(const struct token *tok, size_t n, size_t i)
{
  size_t end = i + 3 < n ? i + 3 : n;
  for (size_t j = i - 3; j < end; j++)
    if (tok[j].rule)
      return true;
  return false;
}

static double scalar_inc_dec(const struct token *t, double valence,
                             bool cap_diff)
{
  double scalar = t->boost;
  if (scalar == 0.0)
    return 0.0;
  if (valence < 0)
    scalar = -scalar;
  if (cap_diff && t->upper)
    scalar += valence > 0 ? C_INCR : -C_INCR;
  return scalar;
}

static bool low_is(const struct token *t, enum special sp)
{
  return t->special == sp;
}

static double word_valence(const struct scratch *s, size_t n, size_t i,
                           bool cap_diff)
{
  const struct token *tok = s->tok;
  if (!tok[i].in_lex)
    return 0.0;
  double valence = tok[i].lex;
  if (tok[i].upper && cap_diff)
    valence += valence > 0 ? C_INCR : -C_INCR;
  for (size_t start_i = 0; start_i < 3; start_i++) {
    if (i <= start_i || tok[i - (start_i + 1)].in_lex)
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
  if (i > 1 && low_is(&tok[i - 1], SP_LEAST) && !tok[i - 1].in_lex) {
    if (!low_is(&tok[i - 2], SP_AT) && !low_is(&tok[i - 2], SP_VERY))
      valence *= N_SCALAR;
  } else if (i > 0 && low_is(&tok[i - 1], SP_LEAST) && !tok[i - 1].in_lex) {
    valence *= N_SCALAR;
  }
  return valence;
}

static double punctuation_emphasis(const char *text, size_t len)
{
  size_t ep = 0, qm = 0;
  for (size_t i = 0; i < len; i++) {
    ep += text[i] == '!';
    qm += text[i] == '?';
  }
  if (ep > 4)
    ep = 4;
  double amp = (double)ep * 0.292;
  if (qm > 1)
    amp += qm <= 3 ? (double)qm * 0.18 : 0.96;
  return amp;
}

void vader_score(const struct vader *v, const char *text, size_t len,
                 struct vader_result *r)
{
  struct scratch *s = r->priv;
  size_t n = tokenize(v, text, len, s);
  r->compound = r->pos = r->neu = r->neg = r->sum = 0.0;
  r->n_words = n;
  r->n_upper = 0;
  r->n_negations = 0;
  r->n_hits = 0;
  for (size_t i = 0; i < n; i++) {
    r->n_upper += s->tok[i].upper;
    r->n_negations += s->tok[i].neg;
  }
  if (n == 0)
    return;
  bool cap_diff = r->n_upper > 0 && r->n_upper < n;
  double *sent = s->sent;
  for (size_t i = 0; i < n; i++) {
    const struct token *t = &s->tok[i];
    if ((i + 1 < n && low_is(t, SP_KIND) && low_is(&s->tok[i + 1], SP_OF)) ||
        t->boost != 0.0)
      sent[i] = 0.0;
    else
      sent[i] = word_valence(s, n, i, cap_diff);
  }
  /* but_check: the first "but" (else "BUT") splits the message. */
  size_t but = n;
  for (size_t i = 0; i < n && but == n; i++)
    if (raw_is(&s->tok[i], SP_BUT))
      but = i;
  for (size_t i = 0; i < n && but == n; i++)
    if (s->tok[i].special == SP_BUT && s->tok[i].upper)
      but = i;
  if (but < n)
    for (size_t i = 0; i < n; i++) {
      if (i < but)
        sent[i] *= 0.5;
      else if (i > but)
        sent[i] *= 1.5;
    }

  double sum = 0.0, pos_sum = 0.0, neg_sum = 0.0;
  size_t neu = 0;
  for (size_t i = 0; i < n; i++) {
    sum += sent[i];
    if (sent[i] > 0)
      pos_sum += sent[i] + 1;
    else if (sent[i] < 0)
      neg_sum += sent[i] - 1;
    else
      neu++;
  }
  double amp = punctuation_emphasis(text, len);
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

  size_t hits = 0;
  for (size_t i = 0; i < n; i++)
    hits += sent[i] != 0.0;
  if (hits > s->hits_cap) {
    r->hits = xrealloc(r->hits, hits * sizeof *r->hits);
    s->hits_cap = hits;
  }
  for (size_t i = 0; i < n; i++)
    if (sent[i] != 0.0) {
      struct vader_hit *h = &r->hits[r->n_hits++];
      h->off = (size_t)(s->tok[i].raw - text);
      h->len = s->tok[i].len;
      h->valence = sent[i];
    }
}
