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
 *    Each word then has punctuation split off its ends (split_word), and
 *    each resulting token goes through emit, which runs the sentence loop
 *    of find_tokens as a state machine: tokens are recorded as spans of
 *    the input with their sentence, END-OF-SENTENCE tokens are dropped.
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

#include "base/utf8.h"
#include "base/xalloc.h"

#define NONE SIZE_MAX

/* The per-token steps run for every byte or so of the text: the call would
 * cost more than the work, so they are merged into their callers. */
#if defined(__GNUC__)
#define PER_TOKEN inline __attribute__((always_inline))
#else
#define PER_TOKEN inline
#endif

static const char EOS[] = "END-OF-SENTENCE";

struct span {
  const char *p;
  size_t len;
};

struct scratch {
  struct span *tail; /* split_word's tail, emitted in reverse */
  size_t n_tail, cap_tail;
  char *joined; /* sentences, then the final tokens */
  size_t cap_joined;
  size_t cap_tokens;
  /* The sentence loop of find_tokens, run by emit one token at a time. */
  bool closing;      /* after a sentence end, in its closing marks */
  bool chunk_used;   /* the current sentence has a token */
  bool new_sentence; /* the next token recorded starts a sentence */
  size_t sentence;   /* of the last token recorded */
  bool may_join;     /* RE_SARCASM or RE_EMOTICONS may change the text */
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

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
  if (need <= *cap)
    return p;
  size_t c = *cap ? *cap : 64;
  while (c < need)
    c *= 2;
  *cap = c;
  return xrealloc(p, c * size);
}

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

/* `t in ABBREVIATIONS or RE_ABBR1/2/3.match(t)`, for t ending in '.'. */
static bool is_abbreviation(const char *t, size_t len)
{
  static const char *const known[] = {
      "a.",    "adj.", "adv.", "al.",  "a.m.",  "c.",   "cf.",   "comp.",
      "conf.", "def.", "ed.",  "e.g.", "esp.",  "etc.", "ex.",   "f.",
      "fig.",  "gen.", "id.",  "i.e.", "int.",  "l.",   "m.",    "Med.",
      "Mil.",  "Mr.",  "n.",   "n.q.", "orig.", "pl.",  "pred.", "pres.",
      "p.m.",  "ref.", "v.",   "vs.",  "w/"};
  struct span s = {t, len};
  for (size_t i = 0; len <= 5 && i < sizeof known / sizeof known[0]; i++)
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
  if (len < 3 || t[0] < 'A' || t[0] > 'Z')
    return false;
  for (size_t i = 1; i + 1 < len; i++)
    if (!t[i] || !strchr("bcdfghjklmnpqrstvwxz|", t[i]))
      return false;
  return true;
}

/* Marks that end a sentence: ... . ! ? END-OF-SENTENCE. */
static inline bool ends_sentence(struct span t)
{
  switch (t.len) {
  case 1:
    return t.p[0] == '.' || t.p[0] == '!' || t.p[0] == '?';
  case 3:
    return is_text(t, "...");
  case sizeof EOS - 1:
    return is_text(t, EOS);
  default:
    return false;
  }
}

/* Closing marks that stay with the sentence: ' " ” ’ ... . ! ? ) EOS. */
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

/* Records token t (END-OF-SENTENCE is dropped) in the current sentence,
 * starting a new sentence first if one ended before it. */
static PER_TOKEN void record(struct scratch *s, struct tokenize *tk,
                             struct span t)
{
  if (t.len == sizeof EOS - 1 && is_text(t, EOS))
    return;
  if (!s->chunk_used) {
    if (s->new_sentence) {
      s->sentence++;
      s->new_sentence = false;
    }
    s->chunk_used = true;
  } else {
    /* The joined text holds "<previous token> <t>" here. */
    const char *next = pair_next[s->last];
    if (next)
      for (; *next; next++) /* strchr without the call; t.p[0] may be NUL */
        if (*next == t.p[0]) {
          s->may_join = true;
          break;
        }
  }
  tk->tokens[tk->n_tokens++] =
      (struct tokenize_token){t.p, t.len, s->sentence};
  s->last = (unsigned char)t.p[t.len - 1];
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
 * a quote, so it could not end one anyway. */
static PER_TOKEN void emit(struct scratch *s, struct tokenize *tk,
                           const char *p, size_t len)
{
  struct span t = {p, len};
  if (s->closing) {
    /* sentences[-1] is always empty here: a quote always stops. */
    if (closes_sentence(t) && !is_text(t, "'") && !is_text(t, "\"")) {
      record(s, tk, t);
      return;
    }
    if (s->chunk_used)
      s->new_sentence = true;
    s->chunk_used = false;
    s->closing = false;
    record(s, tk, t);
    return;
  }
  record(s, tk, t);
  s->closing = ends_sentence(t);
}

/* find_tokens' loop body for one word t: leading punctuation marks become
 * tokens, then trailing ones, "..." and periods (unless t is an
 * abbreviation) are split off from the end, and the word itself goes
 * between them. */
static void split_word(struct scratch *s, struct tokenize *tk, const char *t,
                       size_t n)
{
  while (n > 0 && is_punct(t[0]) && !is_contraction(t, n)) {
    emit(s, tk, t, 1);
    t++;
    n--;
  }
  size_t tail0 = s->n_tail;
  while (n > 0 && (is_punct(t[n - 1]) || t[n - 1] == '.') &&
         !is_contraction(t, n)) {
    if (is_punct(t[n - 1])) {
      s->tail[s->n_tail++] = (struct span){t + n - 1, 1};
      n--;
    }
    if (n >= 3 && memcmp(t + n - 3, "...", 3) == 0) {
      s->tail[s->n_tail++] = (struct span){t + n - 3, 3};
      n -= 3;
      while (n > 0 && t[n - 1] == '.') /* t[:-3].rstrip(".") */
        n--;
    }
    if (n > 0 && t[n - 1] == '.') {
      if (is_abbreviation(t, n))
        break;
      s->tail[s->n_tail++] = (struct span){t + n - 1, 1};
      n--;
    }
  }
  if (n > 0)
    emit(s, tk, t, n);
  while (s->n_tail > tail0) {
    struct span x = s->tail[--s->n_tail];
    emit(s, tk, x.p, x.len);
  }
}

/* split_word for a word t[0..n) (n > 0) of scan's main loop: most words
 * have nothing to split off and go straight to emit, without a call. */
static PER_TOKEN void put_word(struct scratch *s, struct tokenize *tk,
                               const char *t, size_t n)
{
  /* A leading '.' is never split off, but such words are rare: one test
   * of both ends against punctuation and '.' sends them to split_word,
   * which emits them whole. */
  if (!(edge[(unsigned char)t[0]] | edge[(unsigned char)t[n - 1]]))
    emit(s, tk, t, n);
  else
    split_word(s, tk, t, n);
}

/* Bytes of the Unicode whitespace character at p (valid UTF-8, ASCII
 * handled by the caller), or 0: U+0085, U+00A0, U+1680, U+2000..U+200A,
 * U+2028, U+2029, U+202F, U+205F and U+3000. */
static size_t unicode_space(const unsigned char *p, size_t avail)
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

/* Pass 1: the words of the rewritten string, each through split_word. */
static void scan(struct scratch *s, struct tokenize *tk, const char *text,
                 size_t len)
{
  const unsigned char *u = (const unsigned char *)text;
  size_t start = NONE; /* start of the current word */
  size_t newlines = 0; /* consecutive "\n" in the current whitespace */
  size_t i = 0;
  while (i < len) {
    unsigned char c = u[i];
    /* Fast path: printable ASCII bytes that start or continue a word. A
     * word only starts after whitespace (or at the beginning), and only
     * then can newlines be counted. */
    if (plain[c]) {
      if (start == NONE) {
        if (newlines >= 2)
          split_word(s, tk, EOS, sizeof EOS - 1);
        newlines = 0;
        start = i;
      }
      do
        i++;
      while (i < len && plain[u[i]]);
      if (i == len)
        break;
      c = u[i];
    }
    /* Fast path: a plain space ends a word. */
    if (c == ' ') {
      if (start != NONE)
        put_word(s, tk, text + start, i - start);
      start = NONE;
      if (newlines >= 2)
        split_word(s, tk, EOS, sizeof EOS - 1);
      newlines = 0;
      i++;
      continue;
    }
    size_t n = seq_len(c);
    bool space;
    if (u[i] < 0x80)
      space = u[i] == ' ' || (u[i] >= '\t' && u[i] <= '\r') ||
              (u[i] >= 0x1C && u[i] <= 0x1F);
    else
      space = unicode_space(u + i, len - i) > 0;
    if (space) {
      if (start != NONE)
        put_word(s, tk, text + start, i - start);
      start = NONE;
      if (u[i] == '\r' && i + 1 < len && u[i + 1] == '\n') {
        i++; /* re.sub("\r\n", "\n"): the "\r" is gone */
        continue;
      }
      if (u[i] == '\n') {
        newlines++;
      } else {
        if (newlines >= 2)
          split_word(s, tk, EOS, sizeof EOS - 1);
        newlines = 0;
      }
      i += n;
      continue;
    }
    if (newlines >= 2)
      split_word(s, tk, EOS, sizeof EOS - 1);
    newlines = 0;
    if (u[i] == '\'' || u[i] == '"' || is_curly_quote(u + i, len - i)) {
      if (start != NONE) {
        /* "n't" -> " n't": the word before the 'n' ends there. */
        if (u[i] == '\'' && i + 1 < len && u[i + 1] == 't' &&
            u[i - 1] == 'n' && i - 1 > start) {
          split_word(s, tk, text + start, i - 1 - start);
          start = i - 1;
        }
        split_word(s, tk, text + start, i - start);
      }
      start = NONE;
      split_word(s, tk, text + i, n);
    } else if (start == NONE) {
      start = i;
    }
    i += n;
  }
  if (start != NONE)
    split_word(s, tk, text + start, len - start);
  if (newlines >= 2)
    split_word(s, tk, EOS, sizeof EOS - 1);
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
    free(s->tail);
    free(s->joined);
    free(s);
  }
  free(tk->tokens);
  tk->tokens = NULL;
  tk->priv = NULL;
  tk->n_tokens = 0;
  tk->n_sentences = 0;
}

/* Whether text[0..len) is all ASCII (and so valid UTF-8), eight bytes at
 * a time. */
static bool is_ascii(const char *text, size_t len)
{
  uint64_t any = 0;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, text + i, 8);
    any |= w;
  }
  for (; i < len; i++)
    any |= (unsigned char)text[i];
  return (any & 0x8080808080808080u) == 0;
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
  s->joined = grow(s->joined, &s->cap_joined, need, 1);
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
  if (!is_ascii(text, len) && !utf8_is_valid(text, len))
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
  s->tail = grow(s->tail, &s->cap_tail, len + 1, sizeof *s->tail);
  tk->tokens = grow(tk->tokens, &s->cap_tokens, len + 1, sizeof *tk->tokens);
  s->n_tail = 0;
  s->closing = s->chunk_used = s->new_sentence = s->may_join = false;
  s->last = 0;
  s->sentence = 0;
  scan(s, tk, text, len);
  tk->in_text = true;
  if (s->may_join)
    tk->in_text = !join_and_split(s, tk);
  tk->n_sentences = tk->n_tokens ? s->sentence + 1 : 0;
}
