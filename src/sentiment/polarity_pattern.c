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
#include "sentiment/tokenize_pattern.h"

#define NONE SIZE_MAX
#define LOWER_PAD 8 /* bytes after the words: see head_padded */

struct group {
  double p, s, i;
  bool negated;
  const char *label;
  size_t text_off;
};

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
  struct group *groups;
  size_t cap_groups, n_groups;
  size_t *front, *back;
  size_t n_front, n_back, cap_front, cap_back;
  char *text;
  size_t cap_text, n_text;
};

static double clamp(double x)
{
  double y = 1.0 < x ? 1.0 : x; /* max(-1.0, min(x, +1.0)) */
  return y > -1.0 ? y : -1.0;
}

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

static void put_text(struct scratch *s, size_t t, bool space)
{
  if (space)
    s->text[s->n_text++] = ' ';
  memcpy(s->text + s->n_text, s->lower + s->words[t].off, s->words[t].len);
  s->n_text += s->words[t].len;
}

static void finish_group(struct scratch *s)
{
  if (s->n_groups == 0)
    return;
  struct group *g = &s->groups[s->n_groups - 1];
  g->text_off = s->n_text;
  bool space = false;
  for (size_t k = s->n_front; k > 0; k--, space = true)
    put_text(s, s->front[k - 1], space);
  for (size_t k = 0; k < s->n_back; k++, space = true)
    put_text(s, s->back[k], space);
  s->text[s->n_text++] = '\0';
  s->n_front = s->n_back = 0;
}

static struct group *open_group(struct scratch *s, size_t t, double p,
                                double subj, double i, const char *label)
{
  finish_group(s);
  struct group *g = &s->groups[s->n_groups++];
  *g = (struct group){.p = p, .s = subj, .i = i, .label = label};
  s->back[s->n_back++] = t;
  return g;
}

/* Sentiment.assessments() over the n lower-cased words. */
static void assess(struct scratch *s, const struct lexicon *lx,
                   const struct pattern_rules *rules, size_t n)
{
  size_t m = NONE, neg = NONE;
  struct group *last = NULL;
  for (size_t t = 0; t < n; t++) {
    const char *w = s->lower + s->words[t].off;
    size_t len = s->words[t].len;
    const struct lexicon_entry *e = lexicon_find_inline(lx, w, len, true);
    if (e) {
      if (m == NONE) {
        last = open_group(s, t, e->polarity, e->subjectivity, e->intensity,
                          e->label);
      } else {
        s->back[s->n_back++] = t;
        last->p = clamp(e->polarity * last->i);
        last->s = clamp(e->subjectivity * last->i);
        last->i = e->intensity;
        last->label = e->label;
      }
      if (neg != NONE) {
        s->front[s->n_front++] = neg;
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
      s->back[s->n_back++] = neg;
      last->negated = true;
      neg = NONE;
    } else if (m != NONE && s->words[t].cps > 2) {
      m = NONE;
    }
    if (len == 1 && w[0] == '!' && s->n_groups > 0) {
      s->back[s->n_back++] = t;
      last->p = clamp(last->p * 1.25);
    }
    if (len == 3 && memcmp(w, "(!)", 3) == 0)
      last = open_group(s, t, 0.0, 1.0, 1.0, "irony");
    double value;
    if (mood(w, len, &value))
      last = open_group(s, t, value, 1.0, 1.0, "mood");
  }
  finish_group(s);
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
  s->groups = xgrow(s->groups, &s->cap_groups, n + 1, sizeof *s->groups);
  /* A token joins groups at most twice (as itself, and as a negation). */
  s->front = xgrow(s->front, &s->cap_front, 2 * n + 1, sizeof *s->front);
  s->back = xgrow(s->back, &s->cap_back, 2 * n + 1, sizeof *s->back);
  s->text = xgrow(s->text, &s->cap_text, 2 * (bytes + n) + 1, 1);
  s->n_groups = s->n_front = s->n_back = s->n_text = 0;
  assess(s, lx, rules, n);

  /* __call__'s avg(): s += w * score from 0, then s / float(n or 1). */
  r->assessments = xgrow(r->assessments, cap_assessments, s->n_groups + 1,
                         sizeof *r->assessments);
  double sum_p = 0.0, sum_s = 0.0;
  for (size_t k = 0; k < s->n_groups; k++) {
    const struct group *g = &s->groups[k];
    double p = g->negated ? g->p * -0.5 : g->p;
    sum_p += p;
    sum_s += g->s;
    r->assessments[k] =
        (struct polarity_assessment){s->text + g->text_off, p, g->s, g->label};
  }
  r->n_assessments = s->n_groups;
  double count = s->n_groups ? (double)s->n_groups : 1.0;
  r->polarity = sum_p / count;
  r->subjectivity = sum_s / count;
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
  free(s->groups);
  free(s->front);
  free(s->back);
  free(s->text);
  free(s);
}
