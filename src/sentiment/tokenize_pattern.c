/* tokenize_pattern: a port of pattern's find_tokens (pattern/text/
 * __init__.py, pattern 2.6 as Debian ships it) and of the Parser.find_tokens
 * of pattern.fr, pattern.it and pattern.nl.
 *
 * find_tokens rewrites the string, splits it into words, splits
 * punctuation off each word, groups the tokens into sentences, joins each
 * sentence with spaces and rewrites it with three regular expressions; the
 * language's parser then rewrites each sentence once more. This port runs
 * the same steps as passes over buffers kept in the struct, each linear:
 *
 * 1. prepare: the contractions (the replace dict, applied in turn with
 *    re.sub) only put a space after a key that ends with an apostrophe, or
 *    before one that starts with it; no key holds a space or a second
 *    apostrophe, so no rewrite can make or break a match of another, and
 *    the result is a space at every apostrophe that ends (starts) a match
 *    in the text. pattern.fr's regular expression turns U+2019 after an
 *    elided word into "&rsquo; " (in capitals "&RSQUO; ", which its parser
 *    never turns back: kept). The other curly quotes, and the remaining
 *    U+2019, are padded with spaces; "\r\n" becomes "\n".
 * 2. words: the text is split on whitespace (Python's str.isspace() set,
 *    which \s uses), a run of two or more "\n" being the word
 *    END-OF-SENTENCE; each word has its punctuation split off (split_word)
 *    and the tokens go through the sentence loop: a sentence ends after
 *    each run of ".", "!", "?", "..." and END-OF-SENTENCE tokens (the
 *    quote-balance test counts quotes in a list that is always empty, so a
 *    quote ends the run). The sentences are written to one buffer, tokens
 *    separated by " ", sentences by "\n".
 * 3. RE_SARCASM, RE_EMOTICONS and RE_EMOJI over that buffer, where "\n"
 *    stands for the end of a sentence ($, or the \s after an emoticon);
 *    then double spaces are collapsed and sentences stripped, and the
 *    language's clean-up (enum pattern_fixup) runs.
 * 4. The buffer is split on its spaces and newlines into the tokens.
 *
 * The emoticons of one group are a Python set, whose order varies with the
 * hash seed; no emoticon is a prefix of another of its group, so the order
 * never changes a match, and they are listed here group by group. */
#include "sentiment/tokenize_pattern.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/xalloc.h"

static const char EOS[] = "END-OF-SENTENCE";
#define EOS_LEN (sizeof EOS - 1)

/* clang-format off */
const char *const tokenize_pattern_emoticons[] = {
  "<3", "\xe2\x99\xa5", "\xe2\x9d\xa4",
  ">:D", ":-D", ":D", "=-D", "=D", "X-D", "x-D", "XD", "xD", "8-D",
  ">:P", ":-P", ":P", ":-p", ":p", ":-b", ":b", ":c)", ":o)", ":^)",
  ">:)", ":-)", ":)", "=)", "=]", ":]", ":}", ":>", ":3", "8)", "8-)",
  ">;]", ";-)", ";)", ";-]", ";]", ";D", ";^)", "*-)", "*)",
  ":-|", ":|",
  ">:o", ":-O", ":O", ":o", ":-o", "o_O", "o.O", "\xc2\xb0O\xc2\xb0",
  "\xc2\xb0o\xc2\xb0",
  ">:/", ":-/", ":/", ":\\", ">:\\", ":-.", ":-s", ":s", ":S", ":-S", ">.>",
  ">:[", ":-(", ":(", "=(", ":-[", ":[", ":{", ":-<", ":c", ":-c", "=/",
  ":'(", ":'''(", ";'(",
  NULL,
};

const double tokenize_pattern_emoticon_polarity[] = {
  1.0, 1.0, 1.0,
  1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0,
  0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75,
  0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5,
  0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25,
  0.0, 0.0,
  -0.05, -0.05, -0.05, -0.05, -0.05, -0.05, -0.05, -0.05, -0.05,
  -0.25, -0.25, -0.25, -0.25, -0.25, -0.25, -0.25, -0.25, -0.25, -0.25, -0.25,
  -0.75, -0.75, -0.75, -0.75, -0.75, -0.75, -0.75, -0.75, -0.75, -0.75, -0.75,
  -1.0, -1.0, -1.0,
};

const char *const tokenize_pattern_emoji[] = {
  "\xe2\x9d\xa4\xef\xb8\x8f", "\xf0\x9f\x92\x9c", "\xf0\x9f\x92\x9a",
  "\xf0\x9f\x92\x99", "\xf0\x9f\x92\x9b", "\xf0\x9f\x92\x95",
  "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x84", "\xf0\x9f\x98\x83",
  "\xf0\x9f\x98\x86", "\xf0\x9f\x98\x85", "\xf0\x9f\x98\x82",
  "\xf0\x9f\x98\x81", "\xf0\x9f\x98\xbb", "\xf0\x9f\x98\x8d",
  "\xf0\x9f\x98\x88", "\xf0\x9f\x91\x8c",
  "\xf0\x9f\x98\x9b", "\xf0\x9f\x98\x9d", "\xf0\x9f\x98\x9c",
  "\xf0\x9f\x98\x8b", "\xf0\x9f\x98\x87",
  "\xf0\x9f\x98\x8a", "\xf0\x9f\x98\x8c", "\xf0\x9f\x98\x8f",
  "\xf0\x9f\x98\x8e", "\xe2\x98\xba", "\xf0\x9f\x91\x8d",
  "\xf0\x9f\x98\x89",
  "\xf0\x9f\x98\x90", "\xf0\x9f\x98\xb6",
  "\xf0\x9f\x98\xb3", "\xf0\x9f\x98\xae", "\xf0\x9f\x98\xaf",
  "\xf0\x9f\x98\xa7", "\xf0\x9f\x98\xa6", "\xf0\x9f\x99\x80",
  "\xf0\x9f\x98\x95", "\xf0\x9f\x98\xac",
  "\xf0\x9f\x98\x9f", "\xf0\x9f\x98\x92", "\xf0\x9f\x98\x94",
  "\xf0\x9f\x98\x9e", "\xf0\x9f\x98\xa0", "\xf0\x9f\x98\xa9",
  "\xf0\x9f\x98\xab", "\xf0\x9f\x98\xa1", "\xf0\x9f\x91\xbf",
  "\xf0\x9f\x98\xa2", "\xf0\x9f\x98\xa5", "\xf0\x9f\x98\x93",
  "\xf0\x9f\x98\xaa", "\xf0\x9f\x98\xad", "\xf0\x9f\x98\xbf",
  NULL,
};

const double tokenize_pattern_emoji_polarity[] = {
  1.0, 1.0, 1.0, 1.0, 1.0, 1.0,
  1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0,
  0.75, 0.75, 0.75, 0.75, 0.75,
  0.5, 0.5, 0.5, 0.5, 0.5, 0.5,
  0.25,
  0.0, 0.0,
  -0.05, -0.05, -0.05, -0.05, -0.05, -0.05,
  -0.25, -0.25,
  -0.75, -0.75, -0.75, -0.75, -0.75, -0.75, -0.75, -0.75, -0.75,
  -1.0, -1.0, -1.0, -1.0, -1.0, -1.0,
};
/* clang-format on */

/* PUNCTUATION of find_tokens: ".,;:!?()[]{}`''\"@#$^&*+-|=~_". */
static bool is_punct(unsigned char c)
{
  static const bool punct[256] = {
      ['.'] = true, [','] = true, [';'] = true, [':'] = true,  ['!'] = true,
      ['?'] = true, ['('] = true, [')'] = true, ['['] = true,  [']'] = true,
      ['{'] = true, ['}'] = true, ['`'] = true, ['\''] = true, ['"'] = true,
      ['@'] = true, ['#'] = true, ['$'] = true, ['^'] = true,  ['&'] = true,
      ['*'] = true, ['+'] = true, ['-'] = true, ['|'] = true,  ['='] = true,
      ['~'] = true, ['_'] = true,
  };
  return punct[c];
}

struct scratch {
  char *a, *b, *c; /* prepared text; sentences (two buffers, in turn) */
  size_t cap_a, cap_b, cap_c;
  struct tokenize_pattern_token *raw; /* tokens of step 2, into a */
  bool ascii;                         /* the text is ASCII: no emoji */
  size_t cap_raw, n_raw;
  size_t cap_tokens;
};

void tokenize_pattern_init(struct tokenize_pattern *tk)
{
  tk->tokens = NULL;
  tk->n_tokens = 0;
  tk->priv = NULL;
}

void tokenize_pattern_cleanup(struct tokenize_pattern *tk)
{
  struct scratch *s = tk->priv;
  if (s) {
    free(s->a);
    free(s->b);
    free(s->c);
    free(s->raw);
    free(s);
  }
  free(tk->tokens);
  tokenize_pattern_init(tk);
}

static bool same(const char *s, size_t len, const char *lit)
{
  return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

static bool in_list(const char *s, size_t len, const char *const *list)
{
  for (; *list; list++)
    if (len > 0 && (*list)[0] == s[0] && same(s, len, *list))
      return true;
  return false;
}

/* The apostrophe at text[i] ends (after) or starts (!after) a match of a
 * contraction key. */
static bool contraction_at(const struct pattern_rules *r, const char *text,
                           size_t len, size_t i, bool after)
{
  for (const char *const *k = r->contractions; *k; k++) {
    size_t n = strlen(*k);
    if (after && (*k)[n - 1] == '\'' && i + 1 >= n &&
        memcmp(text + i + 1 - n, *k, n) == 0)
      return true;
    if (!after && (*k)[0] == '\'' && n <= len - i &&
        memcmp(text + i, *k, n) == 0)
      return true;
  }
  return false;
}

/* pattern.fr's (l|c|d|j|m|n|qu|s|t|jusqu|lorsqu|puisqu)’ before the U+2019
 * at text[i]: every alternative ends with one of those letters or "qu";
 * "lower" selects the expression in capitals. */
static bool elision_before(const char *text, size_t i, bool lower)
{
  if (i == 0)
    return false;
  char c = text[i - 1];
  if (strchr(lower ? "lcdjmnst" : "LCDJMNST", c) && c)
    return true;
  return i >= 2 && text[i - 1] == (lower ? 'u' : 'U') &&
         text[i - 2] == (lower ? 'q' : 'Q');
}

/* Step 1 into s->a; returns its length. */
static size_t prepare(struct scratch *s, const struct pattern_rules *r,
                      const char *text, size_t len)
{
  /* At most 8 bytes for 3 ("’" -> "&rsquo; "). */
  s->a = xgrow(s->a, &s->cap_a, 3 * len + 16, 1);
  char *o = s->a;
  unsigned char any = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    any |= c;
    if (c == '\'') {
      if (contraction_at(r, text, len, i, false))
        *o++ = ' ';
      *o++ = '\'';
      if (contraction_at(r, text, len, i, true))
        *o++ = ' ';
    } else if (c == '\r' && i + 1 < len && text[i + 1] == '\n') {
      continue;
    } else if (c == 0xE2 && i + 2 < len && (unsigned char)text[i + 1] == 0x80 &&
               strchr("\x98\x99\x9c\x9d", text[i + 2])) {
      /* U+2018, U+2019, U+201C, U+201D */
      if ((unsigned char)text[i + 2] == 0x99 && r->rsquo &&
          elision_before(text, i, true)) {
        memcpy(o, "&rsquo; ", 8);
        o += 8;
      } else if ((unsigned char)text[i + 2] == 0x99 && r->rsquo &&
                 elision_before(text, i, false)) {
        memcpy(o, "&RSQUO; ", 8);
        o += 8;
      } else {
        *o++ = ' ';
        memcpy(o, text + i, 3);
        o += 3;
        *o++ = ' ';
      }
      i += 2;
    } else {
      *o++ = (char)c;
    }
  }
  s->ascii = any < 0x80;
  return (size_t)(o - s->a);
}

/* What the regular abbreviations need to know of a word, whose period
 * loop only ever shortens it from the end: measured once, so that the loop
 * stays linear however many periods it splits off. */
struct abbr_prefix {
  size_t pairs; /* length of the longest prefix of letter-period pairs */
  size_t run;   /* characters of [b|c|d|...|z] from index 1 on, if the word
                   starts with A-Z (else 0) */
};

static struct abbr_prefix abbr_measure(const char *t, size_t n)
{
  struct abbr_prefix a = {0, 0};
  while (a.pairs + 1 < n) {
    unsigned char c = (unsigned char)(t[a.pairs] | 0x20);
    if (c < 'a' || c > 'z' || t[a.pairs + 1] != '.')
      break;
    a.pairs += 2;
  }
  if (n > 0 && t[0] >= 'A' && t[0] <= 'Z')
    while (1 + a.run < n && t[1 + a.run] &&
           strchr("bcdfghjklmnpqrstvwxz|", t[1 + a.run]))
      a.run++;
  return a;
}

/* t[0..n) (ending with a period, a prefix of the word a was measured on)
 * is a known abbreviation of the language or matches RE_ABBR1
 * ^[A-Za-z]\.$, RE_ABBR2 ^([A-Za-z]\.)+$ or RE_ABBR3 ^[A-Z][b|c|...|z]+.$
 * (the class holds "|" too, and the last "." is any character: here the
 * final period). */
static bool is_abbreviation(const struct pattern_rules *r, const char *t,
                            size_t n, const struct abbr_prefix *a)
{
  if (in_list(t, n, r->abbreviations))
    return true;
  if (n >= 2 && n % 2 == 0 && n <= a->pairs)
    return true;                    /* ABBR2, which holds ABBR1 */
  return n >= 3 && n - 2 <= a->run; /* ABBR3 */
}

/* RE_MENTION.match: "@", one or more of [0-9A-z_], then the end or one of
 * ",:.!?" (no other character of that set is in the class, so the greedy
 * run needs no backtracking). */
static bool is_mention(const char *t, size_t n)
{
  if (n < 2 || t[0] != '@')
    return false;
  size_t k = 1;
  while (k < n &&
         ((t[k] >= '0' && t[k] <= '9') || (t[k] >= 'A' && t[k] <= 'z')))
    k++;
  return k > 1 && (k == n || strchr(",:.!?", t[k]));
}

struct sentences {
  struct scratch *s;
  char *out;   /* s->b */
  size_t n;    /* bytes written */
  size_t cur;  /* tokens in the open sentence */
  bool in_run; /* after a terminator, in the run that ends it */
};

static bool is_terminator(const char *t, size_t n)
{
  if (n == 1)
    return t[0] == '.' || t[0] == '!' || t[0] == '?';
  if (n == 3)
    return memcmp(t, "...", 3) == 0;
  return n == EOS_LEN && memcmp(t, EOS, EOS_LEN) == 0;
}

static bool is_quote(const char *t, size_t n)
{
  if (n == 1)
    return t[0] == '\'' || t[0] == '"';
  return n == 3 && (memcmp(t, "\xe2\x80\x9d", 3) == 0 ||
                    memcmp(t, "\xe2\x80\x99", 3) == 0);
}

static void close_sentence(struct sentences *st)
{
  if (st->cur > 0)
    st->out[st->n++] = '\n';
  st->cur = 0;
  st->in_run = false;
}

/* One token through the sentence loop of find_tokens. */
static void emit(struct sentences *st, const char *t, size_t n)
{
  bool term = is_terminator(t, n);
  if (st->in_run && (!term || is_quote(t, n)))
    close_sentence(st);
  if (term)
    st->in_run = true;
  if (n == EOS_LEN && memcmp(t, EOS, EOS_LEN) == 0)
    return;
  if (st->cur > 0)
    st->out[st->n++] = ' ';
  memcpy(st->out + st->n, t, n);
  st->n += n;
  st->cur++;
}

/* The punctuation loop of find_tokens for one word. */
static void split_word(struct sentences *st, const struct pattern_rules *r,
                       const char *t, size_t n)
{
  struct scratch *s = st->s;
  if (!is_mention(t, n))
    while (n > 0 && is_punct((unsigned char)t[0]) &&
           !in_list(t, n, r->contractions)) {
      emit(st, t, 1);
      t++;
      n--;
    }
  /* The tail, in reverse order, as spans ending at t + n. */
  size_t tail0 = s->n_raw;
  struct abbr_prefix abbr;
  bool measured = false;
  while (n > 0 && is_punct((unsigned char)t[n - 1]) &&
         !in_list(t, n, r->contractions)) {
    if (t[n - 1] != '.') {
      s->raw[s->n_raw++] = (struct tokenize_pattern_token){t + n - 1, 1};
      n--;
    }
    if (n >= 3 && memcmp(t + n - 3, "...", 3) == 0) {
      s->raw[s->n_raw++] = (struct tokenize_pattern_token){t + n - 3, 3};
      n -= 3;
      while (n > 0 && t[n - 1] == '.')
        n--;
    }
    if (n > 0 && t[n - 1] == '.') {
      if (!measured) {
        abbr = abbr_measure(t, n);
        measured = true;
      }
      if (is_abbreviation(r, t, n, &abbr))
        break;
      s->raw[s->n_raw++] = (struct tokenize_pattern_token){t + n - 1, 1};
      n--;
    }
  }
  if (n > 0)
    emit(st, t, n);
  while (s->n_raw > tail0) {
    s->n_raw--;
    emit(st, s->raw[s->n_raw].str, s->raw[s->n_raw].len);
  }
}

/* The bytes of the character at a[i]. */
static size_t next_cp(const char *a, size_t len, size_t i)
{
  uint32_t cp;
  size_t k = utf8_decode(a + i, len - i, &cp);
  return k ? k : 1;
}

/* Whether the character at a[i] is whitespace (str.isspace()). */
static bool space_at(const char *a, size_t len, size_t i, size_t *bytes)
{
  unsigned char c = (unsigned char)a[i];
  if (c > ' ' && c < 0x7F)
    return false;
  uint32_t cp;
  size_t k = utf8_decode(a + i, len - i, &cp);
  if (bytes)
    *bytes = k ? k : 1;
  return k && utf8_is_space(cp);
}

/* Step 2: the words of a[0..len) into sentences in s->b; returns the
 * length written. */
static size_t words(struct scratch *s, const struct pattern_rules *r,
                    size_t len)
{
  /* Each byte yields at most one token and one separator; EOS words come
   * from two bytes or more. */
  s->b = xgrow(s->b, &s->cap_b, 2 * len + 16, 1);
  s->raw = xgrow(s->raw, &s->cap_raw, len + 1, sizeof *s->raw);
  s->n_raw = 0;
  struct sentences st = {.s = s, .out = s->b};
  const char *a = s->a;
  size_t i = 0;
  while (i < len) {
    unsigned char c = (unsigned char)a[i];
    if (c > ' ' && c < 0x7F) { /* a word starting with a printable ASCII */
      size_t start = i;
      while (i < len && (unsigned char)a[i] > ' ' && (unsigned char)a[i] < 0x7F)
        i++;
      while (i < len && !space_at(a, len, i, NULL))
        i += next_cp(a, len, i);
      split_word(&st, r, a + start, i - start);
      continue;
    }
    uint32_t cp;
    size_t k = utf8_decode(a + i, len - i, &cp);
    if (k == 0)
      k = 1; /* not reached: the text is valid */
    if (cp == '\n' && i + 1 < len && a[i + 1] == '\n') {
      while (i < len && a[i] == '\n')
        i++;
      split_word(&st, r, EOS, EOS_LEN);
      continue;
    }
    if (utf8_is_space(cp)) {
      i += k;
      continue;
    }
    size_t start = i;
    while (i < len) {
      k = utf8_decode(a + i, len - i, &cp);
      if (k == 0)
        k = 1;
      if (utf8_is_space(cp))
        break;
      i += k;
    }
    split_word(&st, r, a + start, i - start);
  }
  close_sentence(&st);
  return st.n;
}

static bool sep(char c)
{
  return c == ' ' || c == '\n';
}

/* RE_SARCASM \( ?\! ?\) -> "(!)". */
static size_t sarcasm(const char *in, size_t n, char *out)
{
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    const char *p = memchr(in + i, '(', n - i);
    size_t gap = p ? (size_t)(p - in) - i : n - i;
    memcpy(out + o, in + i, gap);
    o += gap;
    i += gap;
    if (i == n)
      break;
    size_t j = i + 1;
    if (j < n && in[j] == ' ')
      j++;
    if (j < n && in[j] == '!') {
      j++;
      if (j < n && in[j] == ' ')
        j++;
      if (j < n && in[j] == ')') {
        memcpy(out + o, "(!)", 3);
        o += 3;
        i = j + 1;
        continue;
      }
    }
    out[o++] = in[i++];
  }
  return o;
}

/* One alternative of RE_EMOTICONS at in[i]: its characters with an
 * optional space between two of them, then the end of the sentence or
 * whitespace. Sets *end past the emoticon. */
static bool emoticon_at(const char *in, size_t n, size_t i, const char *e,
                        size_t *end)
{
  for (size_t k = 0; e[k]; k++) {
    if (k > 0 && ((unsigned char)e[k] & 0xC0) != 0x80 && i < n &&
        in[i] == ' ' && i + 1 < n && in[i + 1] == e[k])
      i++; /* " ?" between two characters */
    if (i >= n || in[i] != e[k])
      return false;
    i++;
  }
  if (i < n && !sep(in[i]))
    return false;
  *end = i;
  return true;
}

/* Whether an emoticon may start at in[i]: its first character is one
 * that starts an emoticon, and the next one (after an optional space) one
 * that follows it in some emoticon. Most bytes fail the first test, most
 * letters "o" and "x" the second, so the alternatives are tried rarely. */
static bool may_start(const char *in, size_t n, size_t i)
{
  const char *next;
  size_t j = i + 1;
  switch ((unsigned char)in[i]) {
  case '*':
  case '8':
    next = ")-";
    break;
  case ':':
    next = "'()-/3>DOPS[\\]^bcops{|}";
    break;
  case ';':
    next = "')-D]^";
    break;
  case '<':
    next = "3";
    break;
  case '=':
    next = "()-/D]";
    break;
  case '>':
    next = ".:;";
    break;
  case 'X':
  case 'x':
    next = "-D";
    break;
  case 'o':
    next = "._";
    break;
  case 0xC2: /* U+00B0 DEGREE SIGN */
    if (j >= n || (unsigned char)in[j] != 0xB0)
      return false;
    next = "Oo";
    j++;
    break;
  case 0xE2: /* U+2665, U+2764: one character */
    return true;
  default:
    return false;
  }
  if (j < n && in[j] == ' ')
    j++;
  return j < n && in[j] && strchr(next, in[j]);
}

/* RE_EMOTICONS: an emoticon spelled with spaces loses them. */
static size_t emoticons(const char *in, size_t n, char *out)
{
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t end = 0;
    if (may_start(in, n, i))
      for (size_t k = 0; tokenize_pattern_emoticons[k]; k++)
        if (emoticon_at(in, n, i, tokenize_pattern_emoticons[k], &end))
          break;
    if (end) {
      for (; i < end; i++)
        if (in[i] != ' ')
          out[o++] = in[i];
      if (i < n)
        out[o++] = in[i++]; /* group 2: the whitespace */
      continue;
    }
    out[o++] = in[i++];
  }
  return o;
}

/* The length of the emoji of EMOJI at in[i], or 0. */
static size_t emoji_at(const char *in, size_t n, size_t i)
{
  unsigned char c = (unsigned char)in[i];
  if (c != 0xE2 && c != 0xF0)
    return 0;
  for (size_t k = 0; tokenize_pattern_emoji[k]; k++) {
    const char *e = tokenize_pattern_emoji[k];
    size_t m = 0;
    while (e[m] && i + m < n && in[i + m] == e[m])
      m++;
    if (!e[m])
      return m;
  }
  return 0;
}

/* RE_EMOJI (\s?)(emoji)(\s?): each emoji gets whitespace on both sides.
 * Sets *found when there was one. */
static size_t emoji(const char *in, size_t n, char *out, bool *found)
{
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t m = 0, at = i;
    if (sep(in[i]) && i + 1 < n)
      m = emoji_at(in, n, at = i + 1);
    if (!m)
      m = emoji_at(in, n, at = i);
    if (!m) {
      out[o++] = in[i++];
      continue;
    }
    *found = true;
    out[o++] = at > i ? in[i] : ' ';
    memcpy(out + o, in + at, m);
    o += m;
    i = at + m;
    out[o++] = i < n && sep(in[i]) ? in[i++] : ' ';
  }
  return o;
}

/* s.replace("  ", " ").strip() per sentence. Spaces come at most two in a
 * row here (one from the join, one from RE_EMOJI), so each run becomes one
 * space. */
static size_t squeeze(const char *in, size_t n, char *out)
{
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (in[i] == ' ' && (o == 0 || sep(out[o - 1])))
      continue;
    if (in[i] == '\n' && o > 0 && out[o - 1] == ' ')
      o--;
    out[o++] = in[i];
  }
  if (o > 0 && out[o - 1] == ' ')
    o--;
  return o;
}

/* str.replace(from, to), left to right, without overlaps. */
static size_t replace(const char *in, size_t n, const char *from,
                      const char *to, char *out)
{
  size_t fl = strlen(from), tl = strlen(to), o = 0;
  for (size_t i = 0; i < n;) {
    const char *p = memchr(in + i, from[0], n - i);
    size_t gap = p ? (size_t)(p - in) - i : n - i;
    memcpy(out + o, in + i, gap);
    o += gap;
    i += gap;
    if (i == n)
      break;
    if (fl <= n - i && memcmp(in + i, from, fl) == 0) {
      memcpy(out + o, to, tl);
      o += tl;
      i += fl;
    } else {
      out[o++] = in[i++];
    }
  }
  return o;
}

/* pattern.nl: re.sub(r"' s (ochtends|morgens|middags|avonds)", "'s \1"). */
static size_t s_time(const char *in, size_t n, char *out)
{
  static const char *const when[] = {"ochtends", "morgens", "middags",
                                     "avonds"};
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    if (in[i] == '\'' && 4 <= n - i && memcmp(in + i, "' s ", 4) == 0) {
      size_t k = 0;
      while (k < 4 && !(strlen(when[k]) <= n - i - 4 &&
                        memcmp(in + i + 4, when[k], strlen(when[k])) == 0))
        k++;
      if (k < 4) {
        memcpy(out + o, "'s ", 3);
        o += 3;
        i += 4;
        continue;
      }
    }
    out[o++] = in[i++];
  }
  return o;
}

enum err tokenize_pattern_run(struct tokenize_pattern *tk,
                              const struct pattern_rules *r, const char *text,
                              size_t len, bool valid)
{
  tk->n_tokens = 0;
  if (!valid && !utf8_is_valid(text, len))
    return ERR_UTF8;
  struct scratch *s = tk->priv;
  if (!s)
    s = tk->priv = xcalloc(1, sizeof *s);

  size_t n = prepare(s, r, text, len);
  n = words(s, r, n);
  /* RE_EMOJI adds at most two bytes per emoji (of three bytes or more). */
  s->b = xgrow(s->b, &s->cap_b, 2 * n + 16, 1);
  s->c = xgrow(s->c, &s->cap_c, 2 * n + 16, 1);
  n = sarcasm(s->b, n, s->c);
  n = emoticons(s->c, n, s->b);
  /* Joined sentences hold single spaces, none at either end, and the two
   * passes above keep it so: only an emoji makes squeeze needed. */
  bool found = false;
  if (!s->ascii)
    n = emoji(s->b, n, s->c, &found);
  if (found)
    n = squeeze(s->c, n, s->b);
  char *buf = s->b;
  if (r->fixup == PATTERN_FIXUP_RSQUO) {
    n = replace(s->b, n, "&rsquo ;", "\xe2\x80\x99", s->c);
    buf = s->c;
  } else if (r->fixup == PATTERN_FIXUP_CONTRACTION) {
    n = replace(s->b, n, " &contraction ;", "'", s->c);
    n = replace(s->c, n, "XXX -", "-", s->b);
  } else if (r->fixup == PATTERN_FIXUP_S_TIME) {
    n = s_time(s->b, n, s->c);
    buf = s->c;
  }

  tk->tokens = xgrow(tk->tokens, &s->cap_tokens, n / 2 + 2, sizeof *tk->tokens);
  for (size_t i = 0; i < n;) {
    if (sep(buf[i])) {
      i++;
      continue;
    }
    size_t start = i;
    while (i < n && !sep(buf[i]))
      i++;
    tk->tokens[tk->n_tokens++] =
        (struct tokenize_pattern_token){buf + start, i - start};
  }
  return ERR_OK;
}
