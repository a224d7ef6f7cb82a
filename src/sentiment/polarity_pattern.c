/* polarity_pattern: a port of Sentiment.__call__ and Sentiment.assessments
 * of pattern/text/__init__.py (pattern 2.6 as Debian ships it) for a plain
 * string, with a language's settings (struct pattern_rules): its tokenizer
 * (tokenize_pattern), its negations, and its modifiers (words with a sense
 * of the language's modifier tags; a modifier whose word passes the
 * language's predicate, such as French "-ment", takes a following negation
 * into its group).
 *
 * The walk is the one of TextBlob (see polarity.c), which took it from
 * pattern, with pattern's differences: an intensity of 0 counts as 1 when
 * a negation inverts it (`1.0 / (i or 1)`); the moods are pattern's
 * EMOTICONS (with a "blank" group scoring 0.0) and then its EMOJI, which
 * the tokenizer splits off. The idiom lookup of assessments() (n-grams
 * joined by spaces) never matches: no form of the fr, it or nl lexicon
 * holds a space. Each token is lower-cased as str.lower() does as far as
 * the lexicons can tell (pattern_rules_lower, and U+0130, the one
 * character whose lower case is longer), which keeps every length in code
 * points exact. */
#include "sentiment/polarity_pattern.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/xalloc.h"
#include "sentiment/lexicon_int.h"
#include "sentiment/polarity_groups.h"
#include "sentiment/tokenize_pattern.h"

#define NONE SIZE_MAX
#define LOWER_PAD 8 /* bytes after the words: see head_padded */

struct word {
  size_t off, len; /* lower-cased, in scratch.lower */
  size_t cps;      /* its length in code points */
};

struct scratch {
  struct tokenize_pattern tk;
  struct word *words;
  size_t cap_words;
  char *lower;
  size_t cap_lower;
  struct polarity_groups g;
};

/* w[0..len) (len > 0) is a word of list. Most tokens differ from every
 * word in their first byte, which is tested first. */
static bool in_list(const char *w, size_t len, const char *const *list)
{
  for (; *list; list++)
    if ((*list)[0] == w[0] && strlen(*list) == len &&
        memcmp(*list, w, len) == 0)
      return true;
  return false;
}

static bool ends_with_any(const char *w, size_t len, const char *const *list)
{
  for (; *list; list++) {
    size_t n = strlen(*list);
    if (n <= len && memcmp(w + len - n, *list, n) == 0)
      return true;
  }
  return false;
}

/* len(w.strip("'")) */
static size_t stripped_cps(const char *w, size_t len)
{
  size_t b = 0, e = len, n = 0;
  while (b < e && w[b] == '\'')
    b++;
  while (e > b && w[e - 1] == '\'')
    e--;
  for (size_t i = b; i < e; i++)
    n += ((unsigned char)w[i] & 0xC0) != 0x80;
  return n;
}

/* s[0..len) == lit with lit's ASCII capitals lowered. */
static bool same_lower(const char *s, size_t len, const char *lit)
{
  size_t i = 0;
  for (; i < len && lit[i]; i++) {
    char c = lit[i] >= 'A' && lit[i] <= 'Z' ? (char)(lit[i] + 32) : lit[i];
    if (s[i] != c)
      return false;
  }
  return i == len && !lit[i];
}

/* The mood test of assessments(): `w.isalpha() is False and len(w) <= 5
 * and w not in PUNCTUATION`, then the first group of EMOTICONS (lowered),
 * then of EMOJI, holding w. Of the emoticons only "xd" is alphabetic, and
 * none is longer than five characters or a substring of PUNCTUATION. */
static bool mood(const char *w, size_t len, double *value)
{
  /* The first bytes of the lowered emoticons and of the emoji. */
  static const bool first[256] = {
      ['<'] = true, [0xE2] = true, ['>'] = true,  [':'] = true,
      ['='] = true, ['x'] = true,  ['8'] = true,  [';'] = true,
      ['*'] = true, ['o'] = true,  [0xC2] = true, [0xF0] = true,
  };
  if (len < 2 || !first[(unsigned char)w[0]])
    return false; /* every emoticon and emoji has two bytes or more */
  bool alpha = true;
  for (size_t k = 0; k < len && alpha; k++)
    alpha = (w[k] >= 'a' && w[k] <= 'z');
  if (alpha || len > 6)
    return false;
  for (size_t k = 0; tokenize_pattern_emoticons[k]; k++)
    if (same_lower(w, len, tokenize_pattern_emoticons[k])) {
      *value = tokenize_pattern_emoticon_polarity[k];
      return true;
    }
  for (size_t k = 0; tokenize_pattern_emoji[k]; k++)
    if (strlen(tokenize_pattern_emoji[k]) == len &&
        memcmp(tokenize_pattern_emoji[k], w, len) == 0) {
      *value = tokenize_pattern_emoji_polarity[k];
      return true;
    }
  return false;
}

/* polarity_put_word for the words of lower_words. */
static size_t put_word(const void *words, size_t t, char *dst)
{
  const struct scratch *s = words;
  memcpy(dst, s->lower + s->words[t].off, s->words[t].len);
  return s->words[t].len;
}

static struct polarity_group *open_group(struct scratch *s, size_t t, double p,
                                         double subj, double i,
                                         const char *label)
{
  return polarity_groups_open(&s->g, put_word, s, t, p, subj, i, label);
}

/* Sentiment.assessments() over the n lower-cased words. */
static void assess(struct scratch *s, const struct lexicon *lx,
                   const struct pattern_rules *rules, size_t n)
{
  size_t m = NONE, neg = NONE;
  struct polarity_group *last = NULL;
  for (size_t t = 0; t < n; t++) {
    const char *w = s->lower + s->words[t].off;
    size_t len = s->words[t].len;
    const struct lexicon_entry *e = lexicon_find_inline(lx, w, len, true);
    if (e) {
      if (m == NONE) {
        last = open_group(s, t, e->polarity, e->subjectivity, e->intensity,
                          e->label);
      } else {
        polarity_groups_join(&s->g, last, t, e);
      }
      if (neg != NONE) {
        s->g.front[s->g.n_front++] = neg;
        last->i = 1.0 / (last->i != 0.0 ? last->i : 1.0);
        last->negated = true;
      }
      m = e->is_adverb ? t : NONE;
      neg = in_list(w, len, rules->negations) ? t : NONE;
      continue;
    }
    if (in_list(w, len, rules->negations))
      neg = t;
    else if (neg != NONE && stripped_cps(w, len) > 1)
      neg = NONE;
    if (neg != NONE && m != NONE &&
        ends_with_any(s->lower + s->words[m].off, s->words[m].len,
                      rules->modifier_endings)) {
      s->g.back[s->g.n_back++] = neg;
      last->negated = true;
      neg = NONE;
    } else if (m != NONE && s->words[t].cps > 2) {
      m = NONE;
    }
    if (len == 1 && w[0] == '!' && s->g.n_groups > 0) {
      s->g.back[s->g.n_back++] = t;
      last->p = polarity_groups_clamp(last->p * 1.25);
    }
    if (len == 3 && memcmp(w, "(!)", 3) == 0)
      last = open_group(s, t, 0.0, 1.0, 1.0, "irony");
    double value;
    if (mood(w, len, &value))
      last = open_group(s, t, value, 1.0, 1.0, "mood");
  }
  polarity_groups_finish(&s->g, put_word, s);
}

/* Lower-cases the tokens into s->lower and s->words. */
static void lower_words(struct scratch *s)
{
  const struct tokenize_pattern *tk = &s->tk;
  size_t bytes = 0;
  for (size_t t = 0; t < tk->n_tokens; t++)
    bytes += tk->tokens[t].len;
  /* U+0130 (2 bytes) lowers to 3. */
  s->lower = xgrow(s->lower, &s->cap_lower, bytes + bytes / 2 + LOWER_PAD, 1);
  s->words = xgrow(s->words, &s->cap_words, tk->n_tokens + 1, sizeof *s->words);
  size_t o = 0;
  for (size_t t = 0; t < tk->n_tokens; t++) {
    const char *p = tk->tokens[t].str;
    size_t len = tk->tokens[t].len, cps = 0, start = o;
    for (size_t i = 0; i < len;) {
      unsigned char c = (unsigned char)p[i];
      if (c < 0x80) {
        s->lower[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        i++;
        cps++;
        continue;
      }
      uint32_t cp;
      size_t k = utf8_decode(p + i, len - i, &cp); /* valid: tokenized */
      if (cp == 0x130) {
        memcpy(s->lower + o, "i\xcc\x87", 3); /* "i" U+0307 */
        o += 3;
        cps += 2;
      } else {
        o += utf8_encode(pattern_rules_lower(cp), s->lower + o);
        cps++;
      }
      i += k;
    }
    s->words[t] = (struct word){start, o - start, cps};
  }
  memset(s->lower + o, 0, LOWER_PAD);
}

enum err polarity_pattern_analyze(const struct lexicon *lx,
                                  const struct pattern_rules *rules,
                                  const char *text, size_t len, bool check,
                                  struct polarity_result *r, void **scratch,
                                  size_t *cap_assessments)
{
  struct scratch *s = *scratch;
  if (!s) {
    s = *scratch = xcalloc(1, sizeof *s);
    tokenize_pattern_init(&s->tk);
  }
  enum err rc = tokenize_pattern_run(&s->tk, rules, text, len, !check);
  if (rc)
    return rc;
  lower_words(s);
  size_t n = s->tk.n_tokens, bytes = 0;
  for (size_t t = 0; t < n; t++)
    bytes += s->words[t].len;
  /* A group's words with their spaces and NUL: at most two per token. */
  polarity_groups_start(&s->g, n, 2 * (bytes + n) + 1);
  assess(s, lx, rules, n);

  polarity_groups_result(&s->g, r, cap_assessments);
  return ERR_OK;
}

void polarity_pattern_free(void *scratch)
{
  struct scratch *s = scratch;
  if (!s)
    return;
  tokenize_pattern_cleanup(&s->tk);
  free(s->words);
  free(s->lower);
  polarity_groups_cleanup(&s->g);
  free(s);
}
