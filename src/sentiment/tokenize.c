/* tokenize: a port of find_tokens from TextBlob's _text.py, as called by
 * Sentiment.__call__ (`" ".join(find_tokens(s)).split()`).
 *
 * find_tokens rewrites the whole string with a chain of re.sub and
 * str.replace calls, splits it on whitespace, splits punctuation off each
 * word, groups the words into sentences and runs two more regular
 * expressions on each sentence. Rather than copying the string at every
 * step, this port does the same work in one linear pass, plus a second one
 * in the rare case the regular expressions change anything:
 *
 * 1. scan: one walk over the text finds the whitespace-separated words of
 *    the rewritten string, as spans of the input. The rewrites reduce to
 *    boundaries: every quote (' " and the curly four) is padded with
 *    spaces, "n't" gets a space before it, and a run of two or more "\n"
 *    (after "\r\n" became "\n") is replaced by the word END-OF-SENTENCE.
 *    The other contraction rules ("'d" -> " 'd", ...) only add a space
 *    before an apostrophe that is padded anyway, so they change nothing.
 *    Each word then has punctuation split off its ends (put_word, and
 *    split_word for the less common shapes), and each resulting token goes
 *    through emit, which runs the sentence loop of find_tokens as a state
 *    machine: tokens are recorded as spans of the input with their
 *    sentence, END-OF-SENTENCE tokens only end a sentence. Most bytes of a
 *    text are printable ASCII inside words; a bitmap of the others
 *    (mark_other) lets scan pass over those runs by counting bits.
 * 2. RE_SARCASM and RE_EMOTICONS only ever remove spaces, and only a match
 *    that spans a space changes the text. In the joined sentence (tokens
 *    separated by ' ', sentences by '\n') such a match needs two
 *    neighbouring tokens of one sentence where the first ends and the
 *    second starts with consecutive characters of "(!)" or an emoticon
 *    (pair_next). emit watches for that; only then are the sentences
 *    written to one buffer, the two substitutions applied in place and the
 *    result split into tokens again.
 *
 * Quirks kept on purpose: "don't" gives do / n / ' / t (the apostrophe
 * rule undoes the contraction rule, so "n't" never reaches the scorer); the
 * quote-balance test of the sentence loop counts quotes in a list that is
 * always empty, so a quote always ends a run of closing punctuation; a word
 * typed as END-OF-SENTENCE counts as a paragraph break; emoticon matches
 * may start inside a word ("word> : )" gives "word>:)"); "8 )" is the
 * emoticon "8)". Unicode whitespace is Python's str.isspace() set, which is
 * what both \s in str patterns and str.split() use. */
#include "sentiment/tokenize.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/bits.h"
#include "base/utf8.h"
#include "base/xalloc.h"

#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#endif

/* The per-token steps run for every byte or so of the text: the call would
 * cost more than the work, so they are merged into their callers. Rare
 * steps are kept out of them, so as not to crowd the registers of the
 * per-token code. */
#if defined(__GNUC__)
#define PER_TOKEN inline __attribute__((always_inline))
#define RARE __attribute__((noinline))
#else
#define PER_TOKEN inline
#define RARE
#endif

static const char EOS[] = "END-OF-SENTENCE";

struct span {
  const char *p;
  size_t len;
};

struct scratch {
  struct span *spans; /* split_word's output */
  size_t cap_spans;
  uint64_t *other; /* bit i: text[i] is not plain, or i >= len */
  size_t cap_other;
  char *joined; /* sentences, then the final tokens */
  size_t cap_joined;
  size_t cap_tokens;
  size_t sentence; /* of the last token recorded */
  bool may_join;   /* RE_SARCASM or RE_EMOTICONS may change the text */
};

/* The sentence loop of find_tokens, run by emit one token at a time. scan
 * keeps it in a local variable whose address never escapes, so that the
 * compiler can hold it in registers: it is updated for every token. */
struct emitter {
  struct tokenize_token *out; /* where the next token goes */
  size_t sentence;            /* of the last token recorded */
  bool closing;               /* after a sentence end, in its closing marks */
  bool chunk_used;            /* the current sentence has a token */
  bool may_join;      /* RE_SARCASM or RE_EMOTICONS may change the text */
  unsigned char last; /* the last byte of the last token recorded */
};

/* The emoticons of RE_EMOTICONS. The alternation tries them in the order
 * of EMOTICONS' groups (love, grin, taunt, smile, wink, gasp, worry, frown,
 * cry); within a group Python iterates a set, whose order varies with the
 * hash seed, but no emoticon of a group is a prefix of another of the same
 * group, so that order never changes a match. Only alternatives with the
 * same first character can match at the same place, so they are listed by
 * first character, each list in that group order. */
/* clang-format off */
static const char *const emoticons[] = {
  /* '<' */ "<3",
  /* '>' */ ">:D", ">:P", ">:)", ">;]", ">:o", ">:/", ">:\\", ">.>", ">:[",
  /* ':' */ ":-D", ":D", ":-P", ":P", ":-p", ":p", ":-b", ":b", ":c)", ":o)",
            ":^)", ":-)", ":)", ":]", ":}", ":>", ":3", ":-O", ":O", ":o",
            ":-o", ":-/", ":/", ":\\", ":-.", ":-s", ":s", ":S", ":-S",
            ":-(", ":(", ":-[", ":[", ":{", ":-<", ":c", ":-c", ":'(",
            ":'''(",
  /* '=' */ "=-D", "=D", "=)", "=]", "=(", "=/",
  /* 'X' */ "X-D", "XD",
  /* 'x' */ "x-D", "xD",
  /* '8' */ "8-D", "8)", "8-)",
  /* ';' */ ";-)", ";)", ";-]", ";]", ";D", ";^)", ";'(",
  /* '*' */ "*-)", "*)",
  /* 'o' */ "o_O", "o.O",
  /* U+00B0 */ "\xc2\xb0O\xc2\xb0", "\xc2\xb0o\xc2\xb0",
  /* U+2665 */ "\xe2\x99\xa5",
};
/* clang-format on */

/* The emoticons starting with each byte: family[c] indexes families,
 * 0 for none; the table is sparse, so most bytes are rejected at once. */
static const unsigned char family[256] = {
    ['<'] = 1, ['>'] = 2, [':'] = 3, ['='] = 4,  ['X'] = 5,   ['x'] = 6,
    ['8'] = 7, [';'] = 8, ['*'] = 9, ['o'] = 10, [0xC2] = 11, [0xE2] = 12,
};
static const struct {
  unsigned char begin, end; /* in emoticons[] */
} families[] = {
    {0, 0},   {0, 1},   {1, 10},  {10, 49}, {49, 55}, {55, 57}, {57, 59},
    {59, 62}, {62, 69}, {69, 71}, {71, 73}, {73, 75}, {75, 76},
};

/* s == lit, without measuring lit first. */
static bool is_text(struct span s, const char *lit)
{
  for (size_t i = 0; i < s.len; i++)
    if (s.p[i] != lit[i] || !lit[i])
      return false;
  return lit[s.len] == '\0';
}

/* PUNCTUATION without the period: what find_tokens splits off word ends. */
static const bool punct[256] = {
    [','] = true, [';'] = true, [':'] = true,  ['!'] = true, ['?'] = true,
    ['('] = true, [')'] = true, ['['] = true,  [']'] = true, ['{'] = true,
    ['}'] = true, ['`'] = true, ['\''] = true, ['"'] = true, ['@'] = true,
    ['#'] = true, ['$'] = true, ['^'] = true,  ['&'] = true, ['*'] = true,
    ['+'] = true, ['-'] = true, ['|'] = true,  ['='] = true, ['~'] = true,
    ['_'] = true,
};

/* punct and '.': the bytes split_word may split off a word's ends. */
static const unsigned char edge[256] = {
    [','] = 1, [';'] = 1, [':'] = 1,  ['!'] = 1, ['?'] = 1, ['('] = 1,
    [')'] = 1, ['['] = 1, [']'] = 1,  ['{'] = 1, ['}'] = 1, ['`'] = 1,
    ['\''] = 1, ['"'] = 1, ['@'] = 1, ['#'] = 1, ['$'] = 1, ['^'] = 1,
    ['&'] = 1, ['*'] = 1, ['+'] = 1,  ['-'] = 1, ['|'] = 1, ['='] = 1,
    ['~'] = 1, ['_'] = 1, ['.'] = 1,
};

static bool is_punct(char c)
{
  return punct[(unsigned char)c];
}

/* The keys of find_tokens' `replace` dict, which it never splits. No word
 * can be one, since every apostrophe is padded, but the test is kept. */
static bool is_contraction(const char *p, size_t len)
{
  static const char *const keys[] = {"'d",  "'m",  "'s", "'ll",
                                     "'re", "'ve", "n't"};
  if (len < 2 || len > 3 || !memchr(p, '\'', len))
    return false;
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    struct span s = {p, len};
    if (is_text(s, keys[i]))
      return true;
  }
  return false;
}

static bool is_ascii_alpha(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ABBREVIATIONS of _text.py, by first byte: abbr_first[c] gives the
 * range of known[] that starts with c, so that a word is compared with a
 * few entries at most. */
/* clang-format off */
static const char *const known[] = {
  "a.", "adj.", "adv.", "al.", "a.m.",
  "c.", "cf.", "comp.", "conf.",
  "def.",
  "ed.", "e.g.", "esp.", "etc.", "ex.",
  "f.", "fig.",
  "gen.",
  "id.", "i.e.", "int.",
  "l.",
  "m.",
  "Med.", "Mil.", "Mr.",
  "n.", "n.q.",
  "orig.",
  "pl.", "pred.", "pres.", "p.m.",
  "ref.",
  "v.", "vs.",
  "w/",
};
static const struct {
  unsigned char begin, end; /* in known[] */
} abbr_first[256] = {
  ['a'] = {0, 5},   ['c'] = {5, 9},   ['d'] = {9, 10},  ['e'] = {10, 15},
  ['f'] = {15, 17}, ['g'] = {17, 18}, ['i'] = {18, 21}, ['l'] = {21, 22},
  ['m'] = {22, 23}, ['M'] = {23, 26}, ['n'] = {26, 28}, ['o'] = {28, 29},
  ['p'] = {29, 33}, ['r'] = {33, 34}, ['v'] = {34, 36}, ['w'] = {36, 37},
};
/* clang-format on */

/* `t in ABBREVIATIONS or RE_ABBR1/2/3.match(t)`, for t ending in '.'. */
static bool is_abbreviation(const char *t, size_t len)
{
  struct span s = {t, len};
  unsigned char c = (unsigned char)t[0];
  for (size_t i = abbr_first[c].begin; len <= 5 && i < abbr_first[c].end; i++)
    if (is_text(s, known[i])) /* none is longer than 5 */
      return true;
  /* RE_ABBR2 ^([A-Za-z]\.)+$, which includes RE_ABBR1 ^[A-Za-z]\.$ */
  bool letters = len % 2 == 0 && len > 0;
  for (size_t i = 0; letters && i < len; i += 2)
    letters = is_ascii_alpha(t[i]) && t[i + 1] == '.';
  if (letters)
    return true;
  /* RE_ABBR3 ^[A-Z][b|c|d|...|z]+.$: the class holds the consonants and
   * '|'; the final '.' (any character) is the period itself. */
  static const bool abbr3_class[256] = {
      ['b'] = true, ['c'] = true, ['d'] = true, ['f'] = true, ['g'] = true,
      ['h'] = true, ['j'] = true, ['k'] = true, ['l'] = true, ['m'] = true,
      ['n'] = true, ['p'] = true, ['q'] = true, ['r'] = true, ['s'] = true,
      ['t'] = true, ['v'] = true, ['w'] = true, ['x'] = true, ['z'] = true,
      ['|'] = true,
  };
  if (len < 3 || t[0] < 'A' || t[0] > 'Z')
    return false;
  for (size_t i = 1; i + 1 < len; i++)
    if (!abbr3_class[(unsigned char)t[i]])
      return false;
  return true;
}

static bool is_eos(const char *p, size_t len)
{
  return len == sizeof EOS - 1 && memcmp(p, EOS, len) == 0;
}

/* Marks that end a sentence: ... . ! ? (END-OF-SENTENCE is handled by
 * emit before this is asked). */
static inline bool ends_sentence(struct span t)
{
  if (t.len == 1)
    return t.p[0] == '.' || t.p[0] == '!' || t.p[0] == '?';
  return t.len == 3 && is_text(t, "...");
}

/* Closing marks that stay with the sentence: ' " ” ’ ... . ! ? ). */
static inline bool closes_sentence(struct span t)
{
  if (t.len == 1)
    return t.p[0] == '\'' || t.p[0] == '"' || t.p[0] == ')' || ends_sentence(t);
  if (t.len == 3 && (is_text(t, "\xe2\x80\x9d") || is_text(t, "\xe2\x80\x99")))
    return true;
  return ends_sentence(t);
}

/* For each byte, the bytes that may follow it, across one space, inside a
 * match of RE_SARCASM ("( ! )") or RE_EMOTICONS (whose characters are
 * joined by " ?"): the last byte of one character and the first byte of
 * the next. Generated from emoticons[]; U+00B0 gives its lead byte 0xC2
 * and its last byte 0xB0. */
/* clang-format off */
static const char *const pair_next[256] = {
    ['!'] = ")",
    ['\''] = "'(",
    ['('] = "!",
    ['*'] = ")-",
    ['-'] = "()./<DOPS[]bcops",
    ['.'] = ">O",
    ['8'] = ")-",
    [':'] = "'()-/3>DOPS[\\]^bcops{}",
    [';'] = "')-D]^",
    ['<'] = "3",
    ['='] = "()-/D]",
    ['>'] = ".:;",
    ['O'] = "\xc2",
    ['X'] = "-D",
    ['^'] = ")",
    ['_'] = "O",
    ['c'] = ")",
    ['o'] = ")._\xc2",
    ['x'] = "-D",
    [0xB0] = "Oo",
};
/* clang-format on */

/* Records token p[0..len) in the current sentence (the caller has started
 * a new one if needed), noting whether the joined text "<previous token>
 * <token>" may hold a match of RE_SARCASM or RE_EMOTICONS. */
static PER_TOKEN void record(struct emitter *e, const char *p, size_t len)
{
  if (e->chunk_used) {
    const char *next = pair_next[e->last];
    if (next)
      for (; *next; next++) /* strchr without the call; p[0] may be NUL */
        if (*next == p[0]) {
          e->may_join = true;
          break;
        }
  }
  e->chunk_used = true;
  *e->out++ = (struct tokenize_token){p, len, e->sentence};
  e->last = (unsigned char)p[len - 1];
}

/* The closing marks of a sentence end at the token at hand, which opens
 * the next sentence, unless the current one is still empty. (The token is
 * never END-OF-SENTENCE, which is a closing mark, so it is recorded: the
 * new sentence is not left empty.) */
static PER_TOKEN void end_closing(struct emitter *e)
{
  if (e->chunk_used) {
    e->sentence++;
    e->chunk_used = false;
  }
  e->closing = false;
}

/* One token of the words, through the sentence loop of find_tokens:
 *
 *   if ends_sentence(words[j]):
 *     while j < n and closes_sentence(words[j]) and not a quote: j += 1
 *     sentence = words[i:j]; i = j
 *   j += 1
 *
 * The word at which the closing run stops opens the next sentence without
 * being tested as a sentence end (the j += 1); it is no closing mark, or
 * a quote, so it could not end one anyway. END-OF-SENTENCE ends a
 * sentence, or continues its closing marks, and is then dropped: all it
 * does is set closing. */
static PER_TOKEN void emit(struct emitter *e, struct span t)
{
  if (is_eos(t.p, t.len)) {
    e->closing = true;
    return;
  }
  if (e->closing) {
    /* sentences[-1] is always empty here: a quote always stops. */
    if (!closes_sentence(t) || (t.len == 1 && (*t.p == '\'' || *t.p == '"')))
      end_closing(e);
    record(e, t.p, t.len);
    return;
  }
  record(e, t.p, t.len);
  e->closing = ends_sentence(t);
}

/* find_tokens' loop body for one word t[0..n): leading punctuation marks
 * become tokens, then trailing ones, "..." and periods (unless t is an
 * abbreviation) are split off from the end, and the word itself goes
 * between them. Writes the tokens in order to out (cap > n spans) and
 * returns their number. */
static size_t split_word(struct span *out, size_t cap, const char *t, size_t n)
{
  size_t k = 0;
  while (n > 0 && is_punct(t[0]) && !is_contraction(t, n)) {
    out[k++] = (struct span){t, 1};
    t++;
    n--;
  }
  /* The trailing marks are found last first: they fill out from its end
   * down, and so lie there in text order. Together with the leading ones
   * they hold at most n bytes, so the two ends never meet. */
  size_t back = cap;
  while (n > 0 && (is_punct(t[n - 1]) || t[n - 1] == '.') &&
         !is_contraction(t, n)) {
    if (is_punct(t[n - 1])) {
      out[--back] = (struct span){t + n - 1, 1};
      n--;
    }
    if (n >= 3 && memcmp(t + n - 3, "...", 3) == 0) {
      out[--back] = (struct span){t + n - 3, 3};
      n -= 3;
      while (n > 0 && t[n - 1] == '.') /* t[:-3].rstrip(".") */
        n--;
    }
    if (n > 0 && t[n - 1] == '.') {
      if (is_abbreviation(t, n))
        break;
      out[--back] = (struct span){t + n - 1, 1};
      n--;
    }
  }
  if (n > 0)
    out[k++] = (struct span){t, n};
  while (back < cap) /* a few: no call */
    out[k++] = out[back++];
  return k;
}

/* emit for a token t[0..n) with no punctuation or '.' at either end: it
 * neither ends a sentence nor is a closing mark (those all end in
 * punctuation or '.'), unless it is END-OF-SENTENCE, so the sentence loop
 * reduces to a test of closing. */
static PER_TOKEN void emit_plain(struct emitter *e, const char *t, size_t n)
{
  if (is_eos(t, n)) {
    e->closing = true;
    return;
  }
  if (e->closing)
    end_closing(e);
  record(e, t, n);
}

/* split_word and emit for a word t[0..n) (n > 0) of scan. Most words have
 * no punctuation or '.' at either end (a leading '.' is never split off,
 * but such words are rare), and most others one mark at the end, after a
 * byte that is neither: those are handled here, the rest by split_word.
 * (A word never holds an apostrophe, so is_contraction never applies.) */
static PER_TOKEN void put_word(struct emitter *e, const struct scratch *s,
                               const char *t, size_t n)
{
  unsigned char last = (unsigned char)t[n - 1];
  if (!edge[(unsigned char)t[0]]) {
    if (!edge[last]) {
      emit_plain(e, t, n);
      return;
    }
    if (n >= 2 && !edge[(unsigned char)t[n - 2]]) {
      if (last == '.' && is_abbreviation(t, n)) {
        emit(e, (struct span){t, n});
        return;
      }
      emit_plain(e, t, n - 1);
      emit(e, (struct span){t + n - 1, 1});
      return;
    }
  }
  struct span *spans = s->spans;
  size_t k = split_word(spans, s->cap_spans, t, n);
  for (size_t j = 0; j < k; j++)
    emit(e, spans[j]);
}

/* Bytes of the Unicode whitespace character at p (valid UTF-8, ASCII
 * handled by the caller), or 0: U+0085, U+00A0, U+1680, U+2000..U+200A,
 * U+2028, U+2029, U+202F, U+205F and U+3000. */
static RARE size_t unicode_space(const unsigned char *p, size_t avail)
{
  if (p[0] == 0xC2 && avail >= 2)
    return p[1] == 0x85 || p[1] == 0xA0 ? 2 : 0;
  if (avail < 3)
    return 0;
  if (p[0] == 0xE1)
    return p[1] == 0x9A && p[2] == 0x80 ? 3 : 0;
  if (p[0] == 0xE2 && p[1] == 0x80)
    return p[2] <= 0x8A || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF ? 3 : 0;
  if (p[0] == 0xE2 && p[1] == 0x81)
    return p[2] == 0x9F ? 3 : 0;
  if (p[0] == 0xE3)
    return p[1] == 0x80 && p[2] == 0x80 ? 3 : 0;
  return 0;
}

/* U+2018, U+2019, U+201C, U+201D: the curly quotes find_tokens pads. */
static bool is_curly_quote(const unsigned char *p, size_t avail)
{
  return avail >= 3 && p[0] == 0xE2 && p[1] == 0x80 &&
         (p[2] == 0x98 || p[2] == 0x99 || p[2] == 0x9C || p[2] == 0x9D);
}

static size_t seq_len(unsigned char c)
{
  return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* Printable ASCII bytes that continue a word without a rewrite: all but
 * the quotes (padded with spaces; the "n't" rule is handled at its
 * apostrophe). */
#define PLAIN(c) ((c) > ' ' && (c) < 0x7F && (c) != '\'' && (c) != '"')
#define R8(c) \
  [c] = PLAIN(c), [c + 1] = PLAIN(c + 1), [c + 2] = PLAIN(c + 2), \
  [c + 3] = PLAIN(c + 3), [c + 4] = PLAIN(c + 4), [c + 5] = PLAIN(c + 5), \
  [c + 6] = PLAIN(c + 6), [c + 7] = PLAIN(c + 7)
static const bool plain[256] = {
    R8(0x20), R8(0x28), R8(0x30), R8(0x38), R8(0x40), R8(0x48),
    R8(0x50), R8(0x58), R8(0x60), R8(0x68), R8(0x70), R8(0x78),
};
#undef R8
#undef PLAIN

#if defined(__SSE2__) && defined(__GNUC__)
/* Bit k set: p[k] is not plain, for k < 64. Four times sixteen bytes,
 * compared as signed bytes: those >= 0x80 are negative, so not above ' '. */
static inline uint64_t other64(const unsigned char *p)
{
  const __m128i space = _mm_set1_epi8(' '), del = _mm_set1_epi8(0x7F);
  const __m128i apos = _mm_set1_epi8('\''), quote = _mm_set1_epi8('"');
  uint64_t plain_bits = 0;
  for (int k = 0; k < 4; k++) {
    __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
    __m128i odd = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, del), _mm_cmpeq_epi8(v, apos)),
        _mm_cmpeq_epi8(v, quote));
    uint64_t m = (unsigned)_mm_movemask_epi8(
        _mm_andnot_si128(odd, _mm_cmpgt_epi8(v, space)));
    plain_bits |= m << (16 * k);
  }
  return ~plain_bits;
}
#else
static inline uint64_t other64(const unsigned char *p)
{
  uint64_t bits = 0;
  for (int k = 0; k < 64; k++)
    bits |= (uint64_t)!plain[p[k]] << k;
  return bits;
}
#endif

/* Sets other[0..len / 64] to the bytes of u[0..len) that are not plain,
 * one bit per byte, and every bit from len on, so that the end of a run
 * of plain bytes is found by counting zero bits (plain_end): with SSE2
 * (all of x86-64) well under one instruction a byte, where testing each
 * byte of each word took several. Reads nothing outside the text. */
static void mark_other(const unsigned char *u, size_t len, uint64_t *other)
{
  size_t i = 0;
  for (; len - i >= 64; i += 64)
    other[i >> 6] = other64(u + i);
  if (len >= 64 && i < len) {
    /* The last bytes, through the 64 that end at len. */
    uint64_t tail = other64(u + len - 64) >> (64 - (len - i));
    other[i >> 6] = tail | ~(uint64_t)0 << (len - i);
    return;
  }
  /* NUL is not plain: the padding sets the bits from len on. */
  unsigned char pad[64] = {0};
  if (len > i) /* u may be NULL when len is 0 */
    memcpy(pad, u + i, len - i);
  other[i >> 6] = other64(pad);
}

/* The first index from i on (i <= len) whose byte is not plain, or len. */
static PER_TOKEN size_t plain_end(const uint64_t *other, size_t i)
{
  uint64_t bits = other[i >> 6] >> (i & 63);
  while (bits == 0) { /* a run that reaches the next word of bits */
    i = (i | 63) + 1;
    bits = other[i >> 6];
  }
  return i + bits_lowest(bits);
}

/* Whether the "\n" at u[i] follows another one in the rewritten string,
 * where "\r\n" became "\n": a '\r' right before it is gone, and the byte
 * before that is kept (a '\r' only goes before a '\n'). Two or more
 * newlines in a row are the word END-OF-SENTENCE; nothing is emitted
 * inside a run of whitespace, so setting closing at the second newline is
 * the same as emitting that word after the run (see emit). */
static bool after_newline(const unsigned char *u, size_t i)
{
  if (i > 0 && u[i - 1] == '\r')
    i--;
  return i > 0 && u[i - 1] == '\n';
}

/* Bytes of the whitespace character at u[0] (avail > 0 bytes, valid
 * UTF-8), or 0: str.isspace(). */
static PER_TOKEN size_t space_len(const unsigned char *u, size_t avail)
{
  unsigned char c = u[0];
  if (c < 0x80)
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F);
  return unicode_space(u, avail);
}

/* Bytes of the quote at u[0] (avail > 0 bytes), or 0. */
static PER_TOKEN size_t quote_len(const unsigned char *u, size_t avail)
{
  if (u[0] == '\'' || u[0] == '"')
    return 1;
  return is_curly_quote(u, avail) ? 3 : 0;
}

/* Pass 1: the words of the rewritten string, each through put_word, and
 * the quotes (padded with spaces, so words of their own) through emit. */
static void scan(struct scratch *s, struct tokenize *tk, const char *text,
                 size_t len)
{
  struct emitter e = {.out = tk->tokens};
  const unsigned char *u = (const unsigned char *)text;
  const uint64_t *other = s->other;
  mark_other(u, len, s->other);
  size_t i = 0;
  while (i < len) {
    unsigned char c = u[i];
    if (c == ' ') { /* most often, between two words */
      i++;
      continue;
    }
    if (!plain[c]) {
      size_t n = space_len(u + i, len - i);
      if (n > 0) {
        if (c == '\n' && after_newline(u, i))
          e.closing = true;
        i += n;
        continue;
      }
      n = quote_len(u + i, len - i);
      if (n > 0) {
        emit(&e, (struct span){text + i, n});
        i += n;
        continue;
      }
    }
    /* Words, each everything up to the next whitespace or quote, for as
     * long as one space and a plain byte follow (the usual case). */
    for (;;) {
      size_t start = i;
      for (;;) {
        i = plain_end(other, i);
        if (i == len || u[i] == ' ' || space_len(u + i, len - i) > 0 ||
            quote_len(u + i, len - i) > 0)
          break;
        i += seq_len(u[i]);
      }
      /* "n't" -> " n't": the word before the 'n' ends there. */
      if (i + 1 < len && u[i] == '\'' && u[i + 1] == 't' && u[i - 1] == 'n' &&
          i - 1 > start) {
        put_word(&e, s, text + start, i - 1 - start);
        start = i - 1;
      }
      put_word(&e, s, text + start, i - start);
      if (!(i + 1 < len && u[i] == ' ' && plain[u[i + 1]]))
        break;
      i++;
    }
  }
  tk->n_tokens = (size_t)(e.out - tk->tokens);
  s->sentence = e.sentence;
  s->may_join = e.may_join;
}

/* RE_SARCASM.sub("(!)", ...): "( ! )", "(! )", "( !)" become "(!)". */
static size_t join_sarcasm(char *b, size_t len)
{
  const char *open = memchr(b, '(', len);
  if (!open)
    return len;
  size_t r = (size_t)(open - b), w = r;
  while (r < len) {
    if (b[r] == '(') {
      size_t k = r + 1;
      if (k < len && b[k] == ' ')
        k++;
      if (k < len && b[k] == '!') {
        k++;
        if (k < len && b[k] == ' ')
          k++;
        if (k < len && b[k] == ')') {
          memcpy(b + w, "(!)", 3);
          w += 3;
          r = k + 1;
          continue;
        }
      }
    }
    b[w++] = b[r++];
  }
  return w;
}

/* Matches one alternative of RE_EMOTICONS, its characters joined by " ?",
 * at b[r], followed by ($|\s); '\n' ends a sentence, so it stands for $.
 * On success sets *end past the emoticon (before the whitespace). */
static bool match_emoticon(const char *b, size_t len, size_t r, const char *alt,
                           size_t *end)
{
  while (*alt) {
    size_t n = seq_len((unsigned char)*alt);
    if (len - r < n)
      return false;
    for (size_t k = 0; k < n; k++)
      if (b[r + k] != alt[k])
        return false;
    r += n;
    alt += n;
    if (*alt && r < len && b[r] == ' ')
      r++;
  }
  if (r < len && b[r] != ' ' && b[r] != '\n')
    return false;
  *end = r;
  return true;
}

/* RE_EMOTICONS.sub(lambda m: m.group(1).replace(" ", "") + m.group(2)). */
static size_t join_emoticons(char *b, size_t len)
{
  size_t r = 0, w = 0;
  while (r < len) {
    /* Most bytes start no emoticon: move over them in one run (no copy
     * at all until the first emoticon has been joined). */
    size_t run = r;
    while (run < len && !family[(unsigned char)b[run]])
      run++;
    if (w != r)
      memmove(b + w, b + r, run - r);
    w += run - r;
    r = run;
    if (r == len)
      break;
    unsigned f = family[(unsigned char)b[r]];
    size_t i = families[f].begin, last = families[f].end, end = 0;
    bool found = false;
    if (f) {
      /* The byte that must follow an ASCII first character, skipping the
       * optional space: a cheap test that rules out most alternatives. */
      size_t k = r + 1 < len && b[r + 1] == ' ' ? r + 2 : r + 1;
      char next = k < len ? b[k] : '\0';
      for (; i < last && !found; i++)
        if ((unsigned char)b[r] >= 0x80 || emoticons[i][1] == next)
          found = match_emoticon(b, len, r, emoticons[i], &end);
    }
    if (!found) {
      b[w++] = b[r++];
      continue;
    }
    size_t n = strlen(emoticons[i - 1]);
    memcpy(b + w, emoticons[i - 1], n);
    w += n;
    r = end;
    if (r < len)
      b[w++] = b[r++]; /* group 2: the whitespace */
  }
  return w;
}

void tokenize_init(struct tokenize *tk)
{
  tk->tokens = NULL;
  tk->n_tokens = 0;
  tk->n_sentences = 0;
  tk->in_text = true;
  tk->priv = xcalloc(1, sizeof(struct scratch));
}

void tokenize_cleanup(struct tokenize *tk)
{
  struct scratch *s = tk->priv;
  if (s) {
    free(s->spans);
    free(s->other);
    free(s->joined);
    free(s);
  }
  free(tk->tokens);
  tk->tokens = NULL;
  tk->priv = NULL;
  tk->n_tokens = 0;
  tk->n_sentences = 0;
}

/* Writes the recorded tokens as find_tokens joins them (' ' between the
 * tokens of a sentence, '\n' between sentences), runs RE_SARCASM and
 * RE_EMOTICONS over that, and splits the result again when they changed
 * it. Returns whether they did (the tokens then point into joined). */
static bool join_and_split(struct scratch *s, struct tokenize *tk)
{
  size_t need = 1;
  for (size_t k = 0; k < tk->n_tokens; k++)
    need += tk->tokens[k].len + 1;
  s->joined = xgrow(s->joined, &s->cap_joined, need, 1);
  size_t joined = 0;
  for (size_t k = 0; k < tk->n_tokens; k++) {
    const struct tokenize_token *t = &tk->tokens[k];
    if (k > 0)
      s->joined[joined++] = t->sentence != t[-1].sentence ? '\n' : ' ';
    memcpy(s->joined + joined, t->str, t->len);
    joined += t->len;
  }
  size_t n = join_sarcasm(s->joined, joined);
  n = join_emoticons(s->joined, n);
  if (n == joined)
    return false; /* both passes only remove spaces: nothing changed */

  /* Final split on ' ' and '\n'. There are no empty tokens, and joining
   * only ever merges tokens, so there are no more than before. */
  tk->n_tokens = 0;
  size_t sentence = 0, start = 0;
  for (size_t k = 0; k <= n; k++) {
    while (k < n && s->joined[k] != ' ' && s->joined[k] != '\n')
      k++;
    if (k > start)
      tk->tokens[tk->n_tokens++] =
          (struct tokenize_token){s->joined + start, k - start, sentence};
    if (k < n && s->joined[k] == '\n')
      sentence++;
    start = k + 1;
  }
  s->sentence = sentence;
  return true;
}

enum err tokenize_run(struct tokenize *tk, const char *text, size_t len)
{
  tk->n_tokens = 0;
  tk->n_sentences = 0;
  if (!utf8_is_ascii(text, len) && !utf8_is_valid(text, len))
    return ERR_UTF8;
  tokenize_run_valid(tk, text, len);
  return ERR_OK;
}

void tokenize_run_valid(struct tokenize *tk, const char *text, size_t len)
{
  struct scratch *s = tk->priv;
  tk->n_tokens = 0;
  tk->n_sentences = 0;
  /* Every token holds at least one byte of the text (END-OF-SENTENCE
   * tokens are dropped), so len + 1 entries are enough and nothing grows
   * while scanning. */
  s->spans = xgrow(s->spans, &s->cap_spans, len + 1, sizeof *s->spans);
  s->other = xgrow(s->other, &s->cap_other, len / 64 + 1, sizeof *s->other);
  tk->tokens = xgrow(tk->tokens, &s->cap_tokens, len + 1, sizeof *tk->tokens);
  scan(s, tk, text, len);
  tk->in_text = true;
  if (s->may_join)
    tk->in_text = !join_and_split(s, tk);
  tk->n_sentences = tk->n_tokens ? s->sentence + 1 : 0;
}
