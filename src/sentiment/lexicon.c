/* lexicon: the word table of Sentiment.load (TextBlob's for English,
 * pattern's, which is the same, for fr, it and nl), built from the rows that
 * tools/lexgen.py compiles in, and its lookup.
 *
 * Sentiment.load groups the senses (<word> rows) of a form by part of
 * speech, averages polarity, subjectivity and intensity within each part of
 * speech, then averages those averages across the parts of speech, in order
 * of first appearance; that last average is what untagged text (all that
 * TextBlob's PatternAnalyzer and pattern's sentiment() of a string ever
 * see) looks up. A missing pos and an empty pos="" are distinct groups,
 * as None and "" are distinct dict keys. Sums
 * run left to right from zero, as Python's sum() does up to CPython 3.11, so
 * the entries are bit-identical to TextBlob's there (3.12's compensated sum
 * can differ in the last bit, far below the 1e-9 we promise).
 *
 * For English, textblob.en's Sentiment.load then adds an adverb for every
 * form with a JJ sense ("terrible" -> "terribly", "happy" -> "happily"),
 * carrying the JJ averages. Like annotate(), this overwrites the untagged
 * entry of a form that already exists and gives it an RB sense; when two
 * adjectives derive the same adverb the later one wins. Rows without a form
 * are skipped; the last non-empty label given to a form wins (the Italian
 * lexicon gives every row label="", which `if w and label` ignores).
 * French and Dutch add forms of their own at load (add_plain,
 * add_attributives); which words modify the next one is a per-language
 * set of parts of speech (struct pattern_rules).
 *
 * Lookup is an open-addressing hash table (linear probing, at most a
 * quarter full) sized once at build time; a word of up to eight bytes is
 * compared as one 64-bit integer (its head, with its length). After
 * lexicon_new returns nothing changes, so any number of threads may share
 * the lexicon. */
#include "sentiment/lexicon.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/xalloc.h"
#include "sentiment/lexicon_data.h"
#include "sentiment/lexicon_int.h"
#include "sentiment/pattern_rules.h"

#define NONE SIZE_MAX

/* The senses of one form that share one part of speech. */
struct group {
  const char *pos;
  double sum[3]; /* polarity, subjectivity, intensity */
  size_t count;
  size_t next; /* next group of the same form, or NONE */
};

/* Build-time bookkeeping of one form, parallel to the slots. */
struct form {
  size_t first, last; /* its groups, in order of first appearance */
  size_t jj;          /* its JJ group, or NONE */
  bool none_pos;      /* one of its groups has no pos (a None key) */
  bool has_jj;        /* it has a JJ key, whose scores are jj_val */
  double jj_val[3];   /* (pattern.nl's load may overwrite them) */
};

static const char *const lang_codes[] = {
    [LEXICON_EN] = "en",
    [LEXICON_FR] = "fr",
    [LEXICON_IT] = "it",
    [LEXICON_NL] = "nl",
};

/* Returns the slot of key, adding an empty one (the table has room). */
static size_t intern(struct lexicon *lx, const char *key, size_t len,
                     bool *added)
{
  uint64_t h = head(key, len);
  size_t b = bucket(lx, h, key, len);
  *added = lx->table[b] == 0;
  if (!*added)
    return lx->table[b] - 1;
  size_t i = lx->n_slots++;
  lx->slots[i].head = h;
  lx->slots[i].key = key;
  lx->slots[i].len = len;
  lx->table[b] = (uint32_t)(i + 1);
  if (len > lx->max_len[(unsigned char)key[0]])
    lx->max_len[(unsigned char)key[0]] = len;
  return i;
}

static bool is_modifier_tag(const char *pos, const char *const *tags)
{
  for (; pos && *tags; tags++)
    if (strcmp(pos, *tags) == 0)
      return true;
  return false;
}

static bool same_pos(const char *a, const char *b)
{
  if (!a || !b)
    return a == b;
  return strcmp(a, b) == 0;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
  size_t n = strlen(suffix);
  return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* avg() of TextBlob: the sum from left to right, divided by the count. */
static void group_average(const struct group *g, double out[3])
{
  for (int k = 0; k < 3; k++)
    out[k] = g->sum[k] / (double)g->count;
}

/* Groups the rows by form and part of speech and fills each slot's entry
 * with the average across its parts of speech. */
static void load_rows(struct lexicon *lx, const struct lexicon_table *t,
                      const char *const *modifier_tags, struct form *forms,
                      struct group *groups)
{
  size_t n_groups = 0;
  for (size_t r = 0; r < t->n_rows; r++) {
    const struct lexicon_row *row = &t->rows[r];
    if (!row->form || !row->form[0])
      continue;
    bool added;
    size_t w = intern(lx, row->form, strlen(row->form), &added);
    struct form *f = &forms[w];
    if (added) {
      *f = (struct form){.first = NONE, .last = NONE, .jj = NONE};
      lx->slots[w].e.label = NULL;
    }
    size_t g = f->first;
    while (g != NONE && !same_pos(groups[g].pos, row->pos))
      g = groups[g].next;
    if (g == NONE) {
      g = n_groups++;
      groups[g] = (struct group){.pos = row->pos, .next = NONE};
      if (f->last == NONE)
        f->first = g;
      else
        groups[f->last].next = g;
      f->last = g;
      if (row->pos && strcmp(row->pos, "JJ") == 0)
        f->jj = g;
      if (!row->pos)
        f->none_pos = true;
    }
    groups[g].sum[0] += row->polarity;
    groups[g].sum[1] += row->subjectivity;
    groups[g].sum[2] += row->intensity;
    groups[g].count++;
    if (row->label && row->label[0]) /* `if w and label` */
      lx->slots[w].e.label = row->label;
  }
  for (size_t w = 0; w < lx->n_slots; w++) {
    double sum[3] = {0, 0, 0}, avg[3];
    size_t n = 0;
    bool rb = false;
    for (size_t g = forms[w].first; g != NONE; g = groups[g].next) {
      group_average(&groups[g], avg);
      for (int k = 0; k < 3; k++)
        sum[k] += avg[k];
      n++;
      rb = rb || is_modifier_tag(groups[g].pos, modifier_tags);
    }
    struct lexicon_entry *e = &lx->slots[w].e;
    e->polarity = sum[0] / (double)n;
    e->subjectivity = sum[1] / (double)n;
    e->intensity = sum[2] / (double)n;
    e->is_adverb = rb;
    if (forms[w].jj != NONE) {
      forms[w].has_jj = true;
      group_average(&groups[forms[w].jj], forms[w].jj_val);
    }
  }
}

/* textblob.en's derived adverbs: "-y" becomes "-ily", "-le" becomes "-ly",
 * anything else takes "-ly". */
static void add_adverbs(struct lexicon *lx, const struct form *forms,
                        const struct group *groups)
{
  size_t n_forms = lx->n_slots, size = 0;
  for (size_t w = 0; w < n_forms; w++)
    if (forms[w].jj != NONE)
      size += lx->slots[w].len + 2;
  lx->arena = xmalloc(size ? size : 1);
  char *out = lx->arena;
  for (size_t w = 0; w < n_forms; w++) {
    if (forms[w].jj == NONE)
      continue;
    const char *form = lx->slots[w].key;
    size_t len = lx->slots[w].len;
    char *key = out;
    memcpy(key, form, len);
    if (ends_with(key, len, "y"))
      key[len - 1] = 'i';
    if (ends_with(key, len, "le"))
      len -= 2;
    memcpy(key + len, "ly", 2);
    len += 2;
    out += len;

    double avg[3];
    group_average(&groups[forms[w].jj], avg);
    bool added;
    size_t d = intern(lx, key, len, &added);
    struct lexicon_entry *e = &lx->slots[d].e;
    if (added)
      e->label = NULL;
    e->polarity = avg[0];
    e->subjectivity = avg[1];
    e->intensity = avg[2];
    e->is_adverb = true;
  }
}

/* A form made by a language's load (or a target that already existed):
 * its slot, initialised as load_rows would have. */
static size_t intern_derived(struct lexicon *lx, struct form *forms,
                             const char *key, size_t len, bool *added)
{
  size_t d = intern(lx, key, len, added);
  if (*added) {
    forms[d] = (struct form){.first = NONE, .last = NONE, .jj = NONE};
    lx->slots[d].e = (struct lexicon_entry){0};
  }
  return d;
}

/* pattern.fr's Sentiment.load: every form holding a, e or i with a grave,
 * acute, circumflex or diaeresis (only the five of "àéèêï"), unless it
 * ends with one of them, is also entered without those diacritics
 * ("précaire" -> "precaire"), through annotate() for each of its parts of
 * speech in order. Each annotate() also sets the untagged entry, so the
 * untagged entry of the new form is the source's last part of speech in
 * dict order: the untagged average itself, unless the source has senses
 * without a pos, whose None key then sits where they first appeared. The
 * new form keeps its own label and gains the source's parts of speech
 * (and so its modifier status). A new form never holds one of the five,
 * so it is never a source itself; when two sources meet in one form, the
 * later one wins. */
static void add_plain(struct lexicon *lx, struct form *forms,
                      const struct group *groups)
{
  size_t n_forms = lx->n_slots, size = 0;
  for (size_t w = 0; w < n_forms; w++)
    size += lx->slots[w].len;
  lx->arena = xmalloc(size ? size : 1);
  char *out = lx->arena;
  for (size_t w = 0; w < n_forms; w++) {
    const char *form = lx->slots[w].key;
    size_t len = lx->slots[w].len, n = 0;
    if (len >= 2 && (unsigned char)form[len - 2] == 0xC3 &&
        strchr("\xa0\xa8\xa9\xaa\xaf", form[len - 1]))
      continue; /* ends with à è é ê ï */
    bool changed = false;
    for (size_t i = 0; i < len; i++) {
      unsigned char c = (unsigned char)form[i], c2 = 0;
      if (c == 0xC3 && i + 1 < len)
        c2 = (unsigned char)form[i + 1];
      char plain = c2 == 0xA0                               ? 'a'
                   : c2 == 0xA8 || c2 == 0xA9 || c2 == 0xAA ? 'e'
                   : c2 == 0xAF                             ? 'i'
                                                            : 0;
      if (plain) {
        out[n++] = plain;
        i++;
        changed = true;
      } else {
        out[n++] = (char)c;
      }
    }
    if (!changed)
      continue;
    const struct lexicon_entry *src = &lx->slots[w].e;
    double val[3] = {src->polarity, src->subjectivity, src->intensity};
    size_t last = forms[w].last;
    if (forms[w].none_pos && groups[last].pos)
      group_average(&groups[last], val);
    bool added;
    size_t d = intern_derived(lx, forms, out, n, &added);
    if (added)
      out += n;
    struct lexicon_entry *e = &lx->slots[d].e;
    e->polarity = val[0];
    e->subjectivity = val[1];
    e->intensity = val[2];
    e->is_adverb = e->is_adverb || src->is_adverb;
  }
}

static bool is_vowel(uint32_t c)
{
  return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

static bool cps_end(const uint32_t *w, size_t n, const char *ascii)
{
  size_t k = strlen(ascii);
  if (n < k)
    return false;
  for (size_t i = 0; i < k; i++)
    if (w[n - k + i] != (unsigned char)ascii[i])
      return false;
  return true;
}

/* pattern.nl's attributive(): the form an adjective takes before a noun
 * ("fel" -> "felle", "groot" -> "grote", "lief" -> "lieve"), lower-cased.
 * w holds n code points, with room for two more; returns the new count. */
static size_t attributive(uint32_t *w, size_t n)
{
  static const char *const irregular[][2] = {
      {"civiel", "civiele"},   {"complex", "complexe"}, {"enkel", "enkele"},
      {"grof", "grove"},       {"half", "halve"},       {"luttel", "luttele"},
      {"mobiel", "mobiele"},   {"parijs", "parijse"},   {"ruw", "ruwe"},
      {"simpel", "simpele"},   {"stabiel", "stabiele"}, {"steriel", "steriele"},
      {"subtiel", "subtiele"}, {"teer", "tere"},
  };
  for (size_t k = 0; k < sizeof irregular / sizeof irregular[0]; k++)
    if (strlen(irregular[k][0]) == n && cps_end(w, n, irregular[k][0])) {
      const char *a = irregular[k][1];
      for (n = 0; a[n]; n++)
        w[n] = (unsigned char)a[n];
      return n;
    }
  if (cps_end(w, n, "e"))
    return n;
  if ((cps_end(w, n, "er") || cps_end(w, n, "st")) && n > 4) {
    w[n++] = 'e';
    return n;
  }
  if (cps_end(w, n, "ees")) { /* "...ees" -> "...ese" */
    w[n - 2] = 's';
    w[n - 1] = 'e';
    return n;
  }
  if ((cps_end(w, n, "el") && n > 2 && !is_vowel(w[n - 3])) ||
      cps_end(w, n, "ig")) {
    w[n++] = 'e';
    return n;
  }
  if (n > 2 &&
      ((!is_vowel(w[n - 1]) && is_vowel(w[n - 2]) && is_vowel(w[n - 3])) ||
       (w[n - 3] == 'i' && w[n - 2] == 'j'))) {
    /* A long vowel before one consonant: the vowel is written once, and a
     * final f or s is voiced ("groot" -> "grote", "vies" -> "vieze"). */
    if (w[n - 1] == 'f')
      w[n - 1] = 'v';
    if (w[n - 1] == 's')
      w[n - 1] = 'z';
    if (w[n - 2] == w[n - 3]) {
      w[n - 2] = w[n - 1];
      n--;
    }
  } else if (n > 1 && is_vowel(w[n - 2]) && w[n - 1] != 0 && w[n - 1] < 0x80 &&
             strchr("bdfgklmnprst", (int)w[n - 1])) {
    /* A short vowel: the consonant is doubled ("fel" -> "felle"). */
    w[n] = w[n - 1];
    n++;
  }
  w[n++] = 'e';
  return n;
}

/* pattern.nl's Sentiment.load: for every form with a JJ sense, in order,
 * annotate(attributive(form), "JJ", its JJ scores), which sets both the JJ
 * and the untagged entry of the attributive form (of the form itself when
 * the two are equal: "rode"). The JJ scores read are the current ones, so
 * a form that an earlier annotate() reached passes on what it was given;
 * forms added here are not visited. The new forms gain a JJ sense, which
 * makes them modifiers; labels are untouched. */
static void add_attributives(struct lexicon *lx, struct form *forms,
                             const char *const *modifier_tags)
{
  size_t n_forms = lx->n_slots, size = 0, max_len = 0;
  for (size_t w = 0; w < n_forms; w++) {
    size += lx->slots[w].len + 2;
    if (lx->slots[w].len > max_len)
      max_len = lx->slots[w].len;
  }
  lx->arena = xmalloc(size ? size : 1);
  uint32_t *cps = xmalloc((max_len + 2) * sizeof *cps);
  char *out = lx->arena;
  for (size_t w = 0; w < n_forms; w++) {
    if (!forms[w].has_jj)
      continue;
    double val[3];
    memcpy(val, forms[w].jj_val, sizeof val);
    const char *form = lx->slots[w].key;
    size_t len = lx->slots[w].len, n = 0;
    for (size_t i = 0; i < len;) {
      uint32_t cp;
      size_t k = utf8_decode(form + i, len - i, &cp);
      if (k == 0) { /* not in the pinned lexicons */
        cp = (unsigned char)form[i];
        k = 1;
      }
      cps[n++] = pattern_rules_lower(cp);
      i += k;
    }
    n = attributive(cps, n);
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
      bytes += utf8_encode(cps[i], out + bytes);
    bool added;
    size_t d = intern_derived(lx, forms, out, bytes, &added);
    if (added)
      out += bytes;
    struct lexicon_entry *e = &lx->slots[d].e;
    e->polarity = val[0];
    e->subjectivity = val[1];
    e->intensity = val[2];
    e->is_adverb = e->is_adverb || is_modifier_tag("JJ", modifier_tags);
    forms[d].has_jj = true;
    memcpy(forms[d].jj_val, val, sizeof val);
  }
  free(cps);
}

enum err lexicon_new(enum lexicon_lang lang, struct lexicon **out)
{
  *out = NULL;
  if ((unsigned)lang >= sizeof lang_codes / sizeof lang_codes[0])
    return ERR_UNSUPPORTED;
  const struct lexicon_table *t = lexicon_tables;
  while (t->lang && strcmp(t->lang, lang_codes[lang]) != 0)
    t++;
  if (!t->lang || t->n_rows == 0)
    return ERR_UNSUPPORTED;

  /* At most one word per row, plus one derived adverb per word; the table
   * stays at most a quarter full. */
  size_t max_words = 2 * t->n_rows, size = 4;
  unsigned shift = 62;
  while (size < 4 * max_words) {
    size *= 2;
    shift--;
  }
  struct lexicon *lx = xcalloc(1, sizeof *lx);
  lx->lang = lang;
  lx->slots = xcalloc(max_words, sizeof *lx->slots);
  lx->table = xcalloc(size, sizeof *lx->table);
  lx->mask = size - 1;
  lx->shift = shift;
  struct form *forms = xmalloc(max_words * sizeof *forms);
  struct group *groups = xmalloc(t->n_rows * sizeof *groups);

  static const char *const rb[] = {"RB", NULL};
  const struct pattern_rules *rules = pattern_rules_get(lang);
  load_rows(lx, t, rules ? rules->modifier_tags : rb, forms, groups);
  if (!rules)
    add_adverbs(lx, forms, groups); /* English: textblob.en's load */
  else if (rules->load == PATTERN_LOAD_PLAIN)
    add_plain(lx, forms, groups);
  else if (rules->load == PATTERN_LOAD_ATTRIBUTIVE)
    add_attributives(lx, forms, rules->modifier_tags);

  free(groups);
  free(forms);
  *out = lx;
  return ERR_OK;
}

void lexicon_free(struct lexicon *lx)
{
  if (!lx)
    return;
  free(lx->arena);
  free(lx->table);
  free(lx->slots);
  free(lx);
}

const struct lexicon_entry *lexicon_find(const struct lexicon *lx,
                                         const char *word, size_t len)
{
  return lexicon_find_inline(lx, word, len, false);
}

size_t lexicon_size(const struct lexicon *lx)
{
  return lx->n_slots;
}

enum lexicon_lang lexicon_lang(const struct lexicon *lx)
{
  return lx->lang;
}
