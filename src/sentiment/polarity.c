/* polarity: a port of Sentiment.__call__ and Sentiment.assessments from
 * TextBlob's _text.py, with textblob.en's settings (negations no, not, n't,
 * never; modifiers: words with an RB sense; a modifier ending in "ly" takes
 * a following negation into its group).
 *
 * Each token of tokenize (TextBlob's find_tokens) is lower-cased and walked
 * through the same state machine as assessments(): a known word opens a
 * group, or joins the group of a preceding modifier (its scores multiplied
 * by the modifier's intensity, clamped to [-1, 1]); a preceding negation
 * joins the group, inverts the intensity and marks it negated; negations
 * survive words of one character (after stripping apostrophes) and
 * modifiers survive words of at most two; "!" multiplies the last group's
 * polarity by 1.25; "(!)" adds an irony group (0.0, 1.0) and emoticons a
 * mood group (their value, 1.0). A negated group's polarity is multiplied
 * by -0.5 at the end. The scores are plain means over the groups, summed
 * left to right from zero as __call__'s avg() does, so results are
 * bit-identical to TextBlob's.
 *
 * Lower-casing: Python's str.lower() is Unicode-wide, but a token only
 * matters through (a) being equal to a lexicon word, a negation, "!", "(!)"
 * or an emoticon, all of which are ASCII (the English lexicon, pinned by
 * its SHA-256, has ASCII words only) apart from the emoticons' U+00B0 and
 * U+2665, which have no case, and (b) its length in code points. The only
 * non-ASCII characters whose lower case holds ASCII are U+212A KELVIN SIGN
 * (-> "k") and U+0130 (-> "i" U+0307, the only one that changes the
 * length), so this port maps ASCII A-Z and those two and leaves every other
 * character as it is. No score can differ, and neither can an assessment,
 * since only those same words ever appear in one. The emoticon test
 * `w.isalpha() is False` is likewise only decisive for the emoticon table
 * itself, where ASCII letters settle it ("xd" is alphabetic and so never
 * counts). */
#include "sentiment/polarity.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "sentiment/lexicon_int.h"
#include "sentiment/pattern_rules.h"
#include "sentiment/polarity_groups.h"
#include "sentiment/polarity_pattern.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "sentiment/tokenize.h"

#define NONE SIZE_MAX

/* Bytes after the lower-cased words: lexicon_find_inline reads the eight
 * bytes at the start of each word (see head_padded), put_text copies
 * them. */
#define LOWER_PAD 8

struct scratch {
  struct tokenize tk;
  char *lower;
  size_t cap_lower;
  const char *base; /* token t, lower-cased, is lower + (tk.tokens[t].str -
                       base), tk.tokens[t].len bytes long */
  struct polarity_groups g;
  size_t cap_assessments;
  void *pattern; /* polarity_pattern's buffers, for the other languages */
  bool ascii; /* the lower-cased tokens are ASCII: code points = bytes */
};

/* EMOTICONS of _text.py lower-cased, as assessments() compares them,
 * listed by first byte; within a first byte, in the dict's group order, so
 * that the first group holding a token wins (equal strings share their
 * first byte). */
/* clang-format off */
static const struct {
  const char *text;
  double polarity;
} emoticons[] = {
  {"<3", 1.0},
  {"\xe2\x99\xa5", 1.0},
  {">:d", 1.0}, {">:p", 0.75}, {">:)", 0.5}, {">;]", 0.25}, {">:o", 0.05},
  {">:/", -0.25}, {">:\\", -0.25}, {">.>", -0.25}, {">:[", -0.75},
  {":-d", 1.0}, {":d", 1.0}, {":-p", 0.75}, {":p", 0.75}, {":-b", 0.75},
  {":b", 0.75}, {":c)", 0.75}, {":o)", 0.75}, {":^)", 0.75}, {":-)", 0.5},
  {":)", 0.5}, {":]", 0.5}, {":}", 0.5}, {":>", 0.5}, {":3", 0.5},
  {":-o", 0.05}, {":o", 0.05}, {":-/", -0.25}, {":/", -0.25}, {":\\", -0.25},
  {":-.", -0.25}, {":-s", -0.25}, {":s", -0.25}, {":-(", -0.75}, {":(", -0.75},
  {":-[", -0.75}, {":[", -0.75}, {":{", -0.75}, {":-<", -0.75}, {":c", -0.75},
  {":-c", -0.75}, {":'(", -1.0}, {":'''(", -1.0},
  {"=-d", 1.0}, {"=d", 1.0}, {"=)", 0.5}, {"=]", 0.5}, {"=(", -0.75},
  {"=/", -0.75},
  {"x-d", 1.0}, {"xd", 1.0},
  {"8-d", 1.0}, {"8)", 0.5}, {"8-)", 0.5},
  {";-)", 0.25}, {";)", 0.25}, {";-]", 0.25}, {";]", 0.25}, {";d", 0.25},
  {";^)", 0.25}, {";'(", -1.0},
  {"*-)", 0.25}, {"*)", 0.25},
  {"o_o", 0.05}, {"o.o", 0.05},
  {"\xc2\xb0o\xc2\xb0", 0.05},
};
/* clang-format on */

/* The emoticons starting with each byte: emoticons[begin..end). */
static const struct {
  unsigned char begin, end;
} by_first[256] = {
    ['<'] = {0, 1},
    [0xE2] = {1, 2},
    ['>'] = {2, 11},
    [':'] = {11, 44},
    ['='] = {44, 50},
    ['x'] = {50, 52},
    ['8'] = {52, 55},
    [';'] = {55, 62},
    ['*'] = {62, 64},
    ['o'] = {64, 66},
    [0xC2] = {66, 67},
};

/* What the first byte of a token that is no lexicon word may make it: all
 * the tokens the walk treats specially start with one of these bytes, so
 * a zero sends the others past every test. EMOTICON is set where by_first
 * has emoticons. */
enum { NEGATION = 1, EXCLAMATION = 2, IRONY = 4, EMOTICON = 8 };
static const unsigned char special_first[256] = {
    ['n'] = NEGATION,  ['!'] = EXCLAMATION, ['('] = IRONY,    ['<'] = EMOTICON,
    [0xE2] = EMOTICON, ['>'] = EMOTICON,    [':'] = EMOTICON, ['='] = EMOTICON,
    ['x'] = EMOTICON,  ['8'] = EMOTICON,    [';'] = EMOTICON, ['*'] = EMOTICON,
    ['o'] = EMOTICON,  [0xC2] = EMOTICON,
};

static const char PUNCTUATION[] = ".,;:!?()[]{}`''\"@#$^&*+-|=~_";

/* s[0..len) == lit, without measuring lit first. */
static bool is_text(const char *s, size_t len, const char *lit)
{
  for (size_t i = 0; i < len; i++)
    if (s[i] != lit[i] || !lit[i])
      return false;
  return lit[len] == '\0';
}

static size_t count_cps(const char *s, size_t len)
{
  size_t n = 0;
  for (size_t i = 0; i < len; i++)
    n += ((unsigned char)s[i] & 0xC0) != 0x80;
  return n;
}

/* str.lower() as far as scores can tell (see the top of the file), into
 * out; returns the length and sets *cps to the length in code points. */
static size_t lower(const char *s, size_t len, char *out, size_t *cps)
{
  size_t o = 0, n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) { /* the common case: one byte, one code point */
      out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
      n++;
    } else if (c == 0xC4 && i + 1 < len && (unsigned char)s[i + 1] == 0xB0) {
      memcpy(out + o, "i\xcc\x87", 3); /* U+0130 -> "i" U+0307 */
      o += 3;
      n += 2;
      i++;
    } else if (c == 0xE2 && i + 2 < len && (unsigned char)s[i + 1] == 0x84 &&
               (unsigned char)s[i + 2] == 0xAA) {
      out[o++] = 'k'; /* U+212A KELVIN SIGN */
      n++;
      i += 2;
    } else {
      out[o++] = (char)c;
      n += (c & 0xC0) != 0x80;
    }
  }
  *cps = n;
  return o;
}

/* lower() over the whole text at once, eight ASCII bytes at a time, so
 * that each token is a slice of out. Returns false, with out undefined,
 * when text holds U+0130 or U+212A, whose lower case has another length.
 * Sets *ascii when every byte is ASCII. */
static bool lower_text(const char *text, size_t len, char *out, bool *ascii)
{
  const uint64_t ones = 0x0101010101010101u, highs = ones * 0x80;
  uint64_t any = 0;
  size_t i = 0;
#if defined(__SSE2__)
  if (len >= 16) {
    /* Sixteen bytes at a time (SSE2 is in all of x86-64), the last ones
     * through the sixteen that end at len: bytes lowered twice come out
     * the same. As signed bytes, those >= 0x80 are below 'A'. */
    const __m128i before_a = _mm_set1_epi8('A' - 1);
    const __m128i after_z = _mm_set1_epi8('Z' + 1);
    const __m128i bit5 = _mm_set1_epi8(0x20);
    __m128i bytes = _mm_setzero_si128();
    for (;;) {
      size_t at = len - i >= 16 ? i : len - 16;
      __m128i v = _mm_loadu_si128((const __m128i *)(text + at));
      bytes = _mm_or_si128(bytes, v);
      __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(v, before_a),
                                    _mm_cmplt_epi8(v, after_z));
      _mm_storeu_si128((__m128i *)(out + at),
                       _mm_or_si128(v, _mm_and_si128(upper, bit5)));
      i = at + 16;
      if (i == len)
        break;
    }
    any = _mm_movemask_epi8(bytes) ? highs : 0;
  }
#endif
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, text + i, 8);
    any |= w;
    /* For each ASCII byte b, 'A' <= b <= 'Z' sets its high bit in
     * (b + 0x3F) & ~(b + 0x25); the sums never carry into the next byte
     * since b < 0x80. Bytes >= 0x80 are masked out. */
    uint64_t h = w & ~highs;
    uint64_t upper = (h + ones * 0x3F) & ~(h + ones * 0x25) & ~w & highs;
    w |= upper >> 2;
    memcpy(out + i, &w, 8);
  }
  for (; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    any |= c;
    out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  *ascii = (any & highs) == 0;
  if (*ascii)
    return true;
  for (const char *p = memchr(text, 0xC4, len); p;
       p = memchr(p + 1, 0xC4, len - (size_t)(p + 1 - text)))
    if (p + 1 < text + len && (unsigned char)p[1] == 0xB0)
      return false;
  for (const char *p = memchr(text, 0xE2, len); p;
       p = memchr(p + 1, 0xE2, len - (size_t)(p + 1 - text)))
    if (p + 2 < text + len && (unsigned char)p[1] == 0x84 &&
        (unsigned char)p[2] == 0xAA)
      return false;
  return true;
}

static bool is_negation(const char *w, size_t len)
{
  if (len < 2 || w[0] != 'n')
    return false;
  return is_text(w, len, "no") || is_text(w, len, "not") ||
         is_text(w, len, "n't") || is_text(w, len, "never");
}

/* len(w.strip("'")) */
static size_t stripped_cps(const char *w, size_t len)
{
  size_t b = 0, e = len;
  while (b < e && w[b] == '\'')
    b++;
  while (e > b && w[e - 1] == '\'')
    e--;
  return count_cps(w + b, e - b);
}

/* The emoticon test of assessments(): `w.isalpha() is False and len(w) <=
 * 5 and w not in PUNCTUATION`, then the first group holding w. */
static bool emoticon(const char *w, size_t len, double *value)
{
  size_t i = by_first[(unsigned char)w[0]].begin;
  size_t n = by_first[(unsigned char)w[0]].end;
  if (i == n || len > 6 || count_cps(w, len) > 5)
    return false; /* no emoticon starts with w[0], or too long (none has
                     more than 6 bytes) */
  while (i < n && !is_text(w, len, emoticons[i].text))
    i++;
  if (i == n)
    return false;
  bool alpha = true;
  for (size_t k = 0; k < len && alpha; k++)
    alpha = (w[k] >= 'a' && w[k] <= 'z') || (w[k] >= 'A' && w[k] <= 'Z');
  if (alpha)
    return false; /* "xd" */
  for (size_t k = 0; k + len < sizeof PUNCTUATION; k++)
    if (memcmp(PUNCTUATION + k, w, len) == 0)
      return false; /* a substring of PUNCTUATION; no emoticon is one */
  *value = emoticons[i].polarity;
  return true;
}

static const char *word_ptr(const struct scratch *s, size_t t)
{
  return s->lower + (s->tk.tokens[t].str - s->base);
}

static size_t word_len(const struct scratch *s, size_t t)
{
  return s->tk.tokens[t].len;
}

/* The modifier test of textblob.en: lambda w: w.endswith("ly"). */
static bool ends_with_ly(const struct scratch *s, size_t t)
{
  size_t len = word_len(s, t);
  return len >= 2 && memcmp(word_ptr(s, t) + len - 2, "ly", 2) == 0;
}

/* polarity_put_word for the lower-cased tokens. */
static size_t put_word(const void *words, size_t t, char *dst)
{
  const struct scratch *s = words;
  const char *w = word_ptr(s, t);
  size_t len = word_len(s, t);
  /* Most words fit in one 8-byte move, without a call: the words are
   * followed by LOWER_PAD bytes, the text by as many spare ones, and what
   * is written past the word is overwritten next. */
  if (len <= LOWER_PAD)
    memcpy(dst, w, LOWER_PAD);
  else
    memcpy(dst, w, len);
  return len;
}

static struct polarity_group *open_group(struct scratch *s, size_t t, double p,
                                         double subj, double i,
                                         const char *label)
{
  return polarity_groups_open(&s->g, put_word, s, t, p, subj, i, label);
}

/* Sentiment.assessments() over the lower-cased tokens. */
static void assess(struct scratch *s, const struct lexicon *lx, size_t n)
{
  /* Held in locals: the stores into the groups below could otherwise
   * alias them, and they would be loaded again for every token. */
  const struct tokenize_token *tokens = s->tk.tokens;
  const char *lower = s->lower, *base = s->base;
  bool ascii = s->ascii;
  size_t m = NONE;   /* preceding modifier */
  size_t neg = NONE; /* preceding negation */
  struct polarity_group *last = NULL;
  for (size_t t = 0; t < n; t++) {
    const char *w = lower + (tokens[t].str - base);
    size_t len = tokens[t].len;
    const struct lexicon_entry *e = lexicon_find_inline(lx, w, len, true);
    if (!e && m == NONE && neg == NONE) {
      /* With no modifier or negation pending, a token that is no lexicon
       * word and does not start with a byte of special_first changes
       * nothing: skip to the next one that may, in a loop that does only
       * the lookup (most tokens end here). */
      while (!special_first[(unsigned char)w[0]]) {
        if (++t == n)
          goto out;
        w = lower + (tokens[t].str - base);
        len = tokens[t].len;
        e = lexicon_find_inline(lx, w, len, true);
        if (e)
          break;
      }
    }
    if (e) {
      if (m == NONE) {
        last = open_group(s, t, e->polarity, e->subjectivity, e->intensity,
                          e->label);
      } else {
        polarity_groups_join(&s->g, last, t, e);
      }
      if (neg != NONE) {
        /* No English entry has intensity 0, where Python would raise. */
        s->g.front[s->g.n_front++] = neg;
        last->i = 1.0 / last->i;
        last->negated = true;
      }
      m = e->is_adverb ? t : NONE;
      neg = is_negation(w, len) ? t : NONE;
      continue;
    }
    unsigned kind = special_first[(unsigned char)w[0]];
    if ((kind & NEGATION) && is_negation(w, len))
      neg = t;
    else if (neg != NONE && stripped_cps(w, len) > 1)
      neg = NONE;
    if (m != NONE) {
      if (neg != NONE && ends_with_ly(s, m)) {
        s->g.back[s->g.n_back++] = neg;
        last->negated = true;
        neg = NONE;
      } else if ((ascii ? len : count_cps(w, len)) > 2) {
        m = NONE;
      }
    }
    if (!(kind & ~NEGATION))
      continue; /* most words */
    if (len == 1 && w[0] == '!' && s->g.n_groups > 0) {
      s->g.back[s->g.n_back++] = t;
      last->p = polarity_groups_clamp(last->p * 1.25);
    }
    if (len == 3 && w[0] == '(' && w[1] == '!' && w[2] == ')')
      last = open_group(s, t, 0.0, 1.0, 1.0, "irony");
    double value;
    if ((kind & EMOTICON) && emoticon(w, len, &value))
      last = open_group(s, t, value, 1.0, 1.0, "mood");
  }
out:
  polarity_groups_finish(&s->g, put_word, s);
}

void polarity_result_init(struct polarity_result *r)
{
  r->polarity = 0.0;
  r->subjectivity = 0.0;
  r->assessments = NULL;
  r->n_assessments = 0;
  r->priv = NULL;
}

void polarity_result_cleanup(struct polarity_result *r)
{
  struct scratch *s = r->priv;
  if (s) {
    tokenize_cleanup(&s->tk);
    free(s->lower);
    polarity_groups_cleanup(&s->g);
    polarity_pattern_free(s->pattern);
    free(s);
  }
  free(r->assessments);
  polarity_result_init(r);
}

/* Sizes every buffer for n tokens of total length bytes, once per text, so
 * that the walk itself never allocates. */
static void reserve(struct scratch *s, size_t n, size_t bytes)
{
  /* Lower-casing grows a token by at most half (U+0130: 2 -> 3 bytes);
   * LOWER_PAD zero bytes follow the words, for the lexicon lookup. */
  s->lower = xgrow(s->lower, &s->cap_lower, bytes + bytes / 2 + LOWER_PAD, 1);
  polarity_groups_start(&s->g, n, 2 * (bytes + bytes / 2 + n) + 1 + LOWER_PAD);
}

/* polarity_analyze and polarity_analyze_valid: check tells whether the
 * text still has to be checked for valid UTF-8. */
static enum err analyze(const struct lexicon *lx, const char *text,
                        size_t len, bool check, struct polarity_result *r)
{
  r->polarity = 0.0;
  r->subjectivity = 0.0;
  r->n_assessments = 0;
  struct scratch *s = r->priv;
  if (!s) {
    s = r->priv = xcalloc(1, sizeof *s);
    tokenize_init(&s->tk);
  }
  const struct pattern_rules *rules = pattern_rules_get(lx->lang);
  if (rules)
    return polarity_pattern_analyze(lx, rules, text, len, check, r,
                                    &s->pattern, &s->cap_assessments);
  if (lx->lang != LEXICON_EN)
    return ERR_UNSUPPORTED;
  if (check) {
    enum err rc = tokenize_run(&s->tk, text, len);
    if (rc)
      return rc;
  } else {
    tokenize_run_valid(&s->tk, text, len);
  }

  /* The tokens are disjoint slices of the text, or of it with spaces
   * removed: they hold at most len bytes. Summed only in the rare case. */
  size_t n = s->tk.n_tokens, bytes = 0;
  if (!s->tk.in_text)
    for (size_t t = 0; t < n; t++)
      bytes += s->tk.tokens[t].len;
  reserve(s, n, bytes > len ? bytes : len);
  if (s->tk.in_text && lower_text(text, len, s->lower, &s->ascii)) {
    /* The usual case: every token is a slice of the text, and lower-cased
     * in place there. */
    s->base = text;
    memset(s->lower + len, 0, LOWER_PAD);
  } else {
    /* Each token is lower-cased into lower, and then points there. */
    size_t off = 0;
    s->ascii = false;
    s->base = s->lower;
    for (size_t t = 0; t < n; t++) {
      struct tokenize_token *tok = &s->tk.tokens[t];
      size_t cps;
      size_t l = lower(tok->str, tok->len, s->lower + off, &cps);
      *tok = (struct tokenize_token){s->lower + off, l, tok->sentence};
      off += l;
    }
    memset(s->lower + off, 0, LOWER_PAD);
  }
  assess(s, lx, n);

  polarity_groups_result(&s->g, r, &s->cap_assessments);
  return ERR_OK;
}

enum err polarity_analyze(const struct lexicon *lx, const char *text,
                          size_t len, struct polarity_result *r)
{
  return analyze(lx, text, len, true, r);
}

enum err polarity_analyze_valid(const struct lexicon *lx, const char *text,
                                size_t len, struct polarity_result *r)
{
  return analyze(lx, text, len, false, r);
}
