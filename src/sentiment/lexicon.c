/* lexicon: the word table of TextBlob's Sentiment.load, built from the rows
 * that tools/lexgen.py compiles in, and its lookup.
 *
 * Sentiment.load groups the senses (<word> rows) of a form by part of
 * speech, averages polarity, subjectivity and intensity within each part of
 * speech, then averages those averages across the parts of speech, in order
 * of first appearance; that last average is what untagged text (all that
 * TextBlob's PatternAnalyzer ever sees) looks up. A missing pos and an empty
 * pos="" are distinct groups, as None and "" are distinct dict keys. Sums
 * run left to right from zero, as Python's sum() does up to CPython 3.11, so
 * the entries are bit-identical to TextBlob's there (3.12's compensated sum
 * can differ in the last bit, far below the 1e-9 we promise).
 *
 * For English, textblob.en's Sentiment.load then adds an adverb for every
 * form with a JJ sense ("terrible" -> "terribly", "happy" -> "happily"),
 * carrying the JJ averages. Like annotate(), this overwrites the untagged
 * entry of a form that already exists and gives it an RB sense; when two
 * adjectives derive the same adverb the later one wins. Rows without a form
 * are skipped; the last label given to a form wins.
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

#include "base/xalloc.h"
#include "sentiment/lexicon_data.h"
#include "sentiment/lexicon_int.h"

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
                      struct form *forms, struct group *groups)
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
      f->first = f->last = f->jj = NONE;
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
    }
    groups[g].sum[0] += row->polarity;
    groups[g].sum[1] += row->subjectivity;
    groups[g].sum[2] += row->intensity;
    groups[g].count++;
    if (row->label)
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
      rb = rb || same_pos(groups[g].pos, "RB");
    }
    struct lexicon_entry *e = &lx->slots[w].e;
    e->polarity = sum[0] / (double)n;
    e->subjectivity = sum[1] / (double)n;
    e->intensity = sum[2] / (double)n;
    e->is_adverb = rb;
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

  load_rows(lx, t, forms, groups);
  if (lang == LEXICON_EN)
    add_adverbs(lx, forms, groups);

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
