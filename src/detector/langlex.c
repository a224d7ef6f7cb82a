/* langlex: the lexicons of the other languages, indexed, and the reading
 * of their words (see langlex.h).
 *
 * An entry is split and normalised by the code that reads a message, so
 * that the two always agree. Map values: the entry's index + 1 in the
 * low bits (0: only a prefix of longer entries), and MORE when a longer
 * entry starts with this one. Where two entries read alike (the same
 * folded form, say), the first in the file wins. */
#include "detector/langlex.h"

#include <string.h>

#include "base/utf8.h"

#define ENTRY_MASK 0xffffff
#define MORE (1 << 24)
/* Keys are words joined by single spaces, at most this many bytes. */
#define KEY_MAX STRMAP_KEY_MAX

/* The elided articles and pronouns split off a word, in lower case,
 * without their apostrophe (the same lists as ELISIONS in
 * tools/langlexgen.py). */
static const char *const elisions_fr[] = {
    "l", "d",  "j",     "n",      "m",      "t",      "s",
    "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu", NULL,
};
static const char *const elisions_it[] = {
    "l",     "d",     "un", "dell", "all", "dall", "nell", "sull", "coll",
    "quell", "quest", "c",  "m",    "t",   "s",    "v",    "n",    NULL,
};

/* The folded form of U+00C0..U+017F: the base letter(s) without the
 * diacritic ("" for the two signs of Latin-1, U+00D7 and U+00F7). */
static const char fold_latin[][3] = {
    "a", "a", "a",  "a",  "a", "a", "ae", "c",  "e", "e", "e",  "e", "i", "i",
    "i", "i", "d",  "n",  "o", "o", "o",  "o",  "o", "",  "o",  "u", "u", "u",
    "u", "y", "th", "ss", "a", "a", "a",  "a",  "a", "a", "ae", "c", "e", "e",
    "e", "e", "i",  "i",  "i", "i", "d",  "n",  "o", "o", "o",  "o", "o", "",
    "o", "u", "u",  "u",  "u", "y", "th", "y",  "a", "a", "a",  "a", "a", "a",
    "c", "c", "c",  "c",  "c", "c", "c",  "c",  "d", "d", "d",  "d", "e", "e",
    "e", "e", "e",  "e",  "e", "e", "e",  "e",  "g", "g", "g",  "g", "g", "g",
    "g", "g", "h",  "h",  "h", "h", "i",  "i",  "i", "i", "i",  "i", "i", "i",
    "i", "i", "ij", "ij", "j", "j", "k",  "k",  "k", "l", "l",  "l", "l", "l",
    "l", "l", "l",  "l",  "l", "n", "n",  "n",  "n", "n", "n",  "n", "n", "n",
    "o", "o", "o",  "o",  "o", "o", "oe", "oe", "r", "r", "r",  "r", "r", "r",
    "s", "s", "s",  "s",  "s", "s", "s",  "s",  "t", "t", "t",  "t", "t", "t",
    "u", "u", "u",  "u",  "u", "u", "u",  "u",  "u", "u", "u",  "u", "w", "w",
    "y", "y", "y",  "z",  "z", "z", "z",  "z",  "z", "s",
};

_Static_assert(sizeof fold_latin / sizeof fold_latin[0] == 0x180 - 0xC0,
               "one folded form per letter of U+00C0..U+017F");

uint32_t langlex_lower(uint32_t cp)
{
  if (cp < 0x80)
    return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
    return cp + 32;
  if (cp >= 0x100 && cp <= 0x17F) {
    if (cp == 0x130) /* capital I with dot: Turkish i */
      return 'i';
    if (cp == 0x178)
      return 0xFF;
    /* Pairs, the capital first: even/odd, then odd/even from U+0139 to
     * U+0148 and from U+0179 (U+0138, U+0149 and U+017F have no pair). */
    bool odd_first = (cp >= 0x139 && cp <= 0x148) || cp >= 0x179;
    if (cp == 0x138 || cp == 0x149 || cp == 0x17F)
      return cp;
    return (cp % 2 == 1) == odd_first ? cp + 1 : cp;
  }
  if (cp == 0x1E9E) /* capital sharp s */
    return 0xDF;
  if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2)
    return cp + 32;
  if (cp == 0x386)
    return 0x3AC;
  if (cp >= 0x388 && cp <= 0x38A)
    return cp + 37;
  if (cp == 0x38C)
    return 0x3CC;
  if (cp == 0x38E || cp == 0x38F)
    return cp + 63;
  if (cp >= 0x410 && cp <= 0x42F)
    return cp + 32;
  if (cp >= 0x400 && cp <= 0x40F)
    return cp + 80;
  return cp;
}

bool langlex_is_emoji(uint32_t cp)
{
  return (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF) ||
         (cp >= 0x2B00 && cp <= 0x2BFF);
}

bool langlex_is_letter(uint32_t cp)
{
  if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7)
    return false;
  if (cp >= 0x2000 && cp <= 0x2BFF)
    return false;
  if ((cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFE00 && cp <= 0xFE0F) ||
      (cp >= 0xFF00 && cp <= 0xFF0F) || cp == 0xFEFF)
    return false;
  return !langlex_is_emoji(cp);
}

static bool ascii_word(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

/* Is there a word character (letter or digit) at t[i]? Sets *n to the
 * byte length of the character there (1 for a byte that is none). */
static bool word_char_at(const char *t, size_t len, size_t i, size_t *n,
                         uint32_t *cp)
{
  unsigned char c = (unsigned char)t[i];
  if (c < 0x80) {
    *n = 1;
    *cp = c;
    return ascii_word(c);
  }
  *n = utf8_decode(t + i, len - i, cp);
  if (*n == 0) {
    *n = 1;
    *cp = 0;
    return false;
  }
  return langlex_is_letter(*cp);
}

/* Is t[0..len) (ASCII letters of any case) an elision of language l? */
static bool is_elision(enum lang l, const char *t, size_t len)
{
  const char *const *list = l == LANG_FR   ? elisions_fr
                            : l == LANG_IT ? elisions_it
                                           : NULL;
  if (!list || len > 6)
    return false;
  char low[6];
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)t[i];
    if (c >= 0x80)
      return false;
    low[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  for (size_t k = 0; list[k]; k++)
    if (strlen(list[k]) == len && !memcmp(list[k], low, len))
      return true;
  return false;
}

/* The byte length of an apostrophe (' or U+2019) at t[i], or 0. */
static size_t apostrophe_at(const char *t, size_t len, size_t i)
{
  if (t[i] == '\'')
    return 1;
  if (len - i >= 3 && !memcmp(t + i, "\xe2\x80\x99", 3))
    return 3;
  return 0;
}

bool langlex_next_word(enum lang l, const char *t, size_t len, size_t *i,
                       struct langlex_span *out)
{
  size_t p = *i, n;
  uint32_t cp;
  while (p < len) {
    if (word_char_at(t, len, p, &n, &cp))
      break;
    if (cp >= 0x80 && langlex_is_emoji(cp)) {
      *out = (struct langlex_span){(uint32_t)p, (uint32_t)n, 0, 0, true};
      *i = p + n;
      return true;
    }
    p += n;
  }
  if (p >= len) {
    *i = len;
    return false;
  }
  size_t start = p;
  uint32_t letters = 0, upper = 0;
  for (;;) {
    bool digit = cp >= '0' && cp <= '9';
    letters += !digit;
    upper += !digit && langlex_lower(cp) != cp;
    p += n;
    if (p >= len)
      break;
    if (word_char_at(t, len, p, &n, &cp))
      continue;
    /* An apostrophe between two word characters: within the word, or
     * after an elision, the word's end. */
    size_t a = apostrophe_at(t, len, p), m;
    uint32_t next;
    if (!a || p + a >= len || !word_char_at(t, len, p + a, &m, &next))
      break;
    if (is_elision(l, t + start, p - start)) {
      p += a;
      break;
    }
    p += a;
    n = m;
    cp = next;
  }
  *out = (struct langlex_span){(uint32_t)start, (uint32_t)(p - start), letters,
                               upper, false};
  *i = p;
  return true;
}

void langlex_norm(const char *w, size_t len, bool umlaut_e, char *low,
                  size_t *low_len, char *fold, size_t *fold_len)
{
  size_t lo = 0, fo = 0, i = 0;
  while (i < len) {
    unsigned char c = (unsigned char)w[i];
    if (c < 0x80) {
      char b = (char)(c >= 'A' && c <= 'Z'   ? c + 32
                      : c >= '0' && c <= '9' ? '0'
                                             : c);
      low[lo++] = b;
      fold[fo++] = b;
      i++;
      continue;
    }
    uint32_t cp;
    size_t n = utf8_decode(w + i, len - i, &cp);
    if (n == 0) { /* not UTF-8: the byte as it is */
      low[lo++] = (char)c;
      fold[fo++] = (char)c;
      i++;
      continue;
    }
    i += n;
    if (cp == 0x2019) {
      low[lo++] = '\'';
      fold[fo++] = '\'';
      continue;
    }
    uint32_t lc = langlex_lower(cp);
    char enc[4];
    size_t en = utf8_encode(lc, enc);
    /* Lower case is never longer here: the capitals that lower-case to a
     * longer sequence (U+1E9E) are three bytes, their letter two. */
    memcpy(low + lo, enc, en);
    lo += en;
    if (lc >= 0xC0 && lc < 0x180 && fold_latin[lc - 0xC0][0]) {
      const char *f = fold_latin[lc - 0xC0];
      if (umlaut_e && (lc == 0xE4 || lc == 0xF6 || lc == 0xFC)) {
        fold[fo++] = f[0];
        fold[fo++] = 'e';
      } else {
        for (size_t k = 0; k < 2 && f[k]; k++)
          fold[fo++] = f[k];
      }
    } else {
      memcpy(fold + fo, enc, en);
      fo += en;
    }
  }
  *low_len = lo;
  *fold_len = fo;
}

/* ---- Index --------------------------------------------------------------- */

/* Puts key -> entry (an index, or -1 for a prefix only) into m, keeping an
 * entry already there (the first wins) and the MORE flag. */
static void put(struct strmap *m, const char *key, size_t len, int entry,
                bool more)
{
  int32_t v = 0;
  strmap_get(m, key, len, &v);
  if (!(v & ENTRY_MASK) && entry >= 0)
    v |= entry + 1;
  if (more)
    v |= MORE;
  strmap_put(m, key, len, v);
}

/* A key being built word by word, and where each word started. */
struct key {
  char b[KEY_MAX];
  size_t len;
  size_t starts[LANGLEX_MAX_WORDS];
  size_t n;
  bool over; /* too long */
};

static void key_add(struct key *k, const char *w, size_t len)
{
  size_t need = (k->n ? 1 : 0) + len;
  if (k->over || k->n == LANGLEX_MAX_WORDS || k->len + need > KEY_MAX) {
    k->over = true;
    return;
  }
  if (k->n)
    k->b[k->len++] = ' ';
  k->starts[k->n++] = k->len;
  memcpy(k->b + k->len, w, len);
  k->len += len;
}

/* Indexes the words of one form of entry e (keys built) in group g. */
static void index_key(struct langlex *x, int g, struct strmap *m,
                      const struct key *k, int e, bool stem, size_t stem_len)
{
  if (k->over || k->n == 0)
    return;
  /* Every shorter run of words is a prefix. */
  for (size_t j = 1; j < k->n; j++)
    put(m, k->b, k->starts[j] - 1, -1, true);
  if (stem) {
    put(&x->stems[g], k->b, k->len, e, false);
    if (stem_len < 64)
      x->stem_lens[g] |= (uint64_t)1 << stem_len;
  } else {
    put(m, k->b, k->len, e, false);
  }
}

/* Reads entry e of the table (split, normalised) and indexes it. */
static void index_entry(struct langlex *x, int e)
{
  const struct langlex_entry *en = &x->table->entries[e];
  int g = en->section >= LANGLEX_REPEAT ? LANGLEX_GROUP_SUPPORT
                                        : LANGLEX_GROUP_WORDS;
  size_t len = strlen(en->text);
  bool stem = len > 0 && en->text[len - 1] == '*';
  if (stem)
    len--;
  /* The forms: lower case, folded and, for German, folded with "ae". */
  struct key low = {0}, fold = {0}, fold_e = {0};
  size_t i = 0, last = 0, last_e = 0;
  struct langlex_span sp;
  while (langlex_next_word(x->lang, en->text, len, &i, &sp)) {
    if (sp.emoji)
      continue;
    char l[KEY_MAX], f[KEY_MAX], fe[KEY_MAX];
    size_t ll, fl, fel;
    if (sp.len > KEY_MAX)
      return;
    langlex_norm(en->text + sp.off, sp.len, false, l, &ll, f, &fl);
    langlex_norm(en->text + sp.off, sp.len, true, l, &ll, fe, &fel);
    key_add(&low, l, ll);
    key_add(&fold, f, fl);
    key_add(&fold_e, fe, fel);
    last = fl;
    last_e = fel;
  }
  if (stem) {
    /* A stem is matched in its folded forms only. */
    index_key(x, g, &x->folded[g], &fold, e, true, last);
    if (x->lang == LANG_DE)
      index_key(x, g, &x->folded[g], &fold_e, e, true, last_e);
    /* The prefixes of a longer entry are matched lower case too. */
    index_key(x, g, &x->exact[g], &low, -1, false, 0);
    return;
  }
  index_key(x, g, &x->exact[g], &low, e, false, 0);
  index_key(x, g, &x->folded[g], &fold, e, false, 0);
  if (x->lang == LANG_DE)
    index_key(x, g, &x->folded[g], &fold_e, e, false, 0);
}

void langlex_init(struct langlex *x, enum lang l)
{
  static const struct langlex_table empty = {NULL, 0};
  langlex_init_table(
      x, l, (unsigned)l < LANG_N && l != LANG_EN ? &langlex_tables[l] : &empty);
}

void langlex_init_table(struct langlex *x, enum lang l,
                        const struct langlex_table *t)
{
  memset(x, 0, sizeof *x);
  x->lang = l;
  x->table = t;
  size_t n = x->table->n;
  /* The maps grow as entries come (an entry goes to one group and most
   * to no stem map): sized for every entry in each, the six languages'
   * maps held 11 MiB, a third of the service's memory budget. */
  for (int g = 0; g < LANGLEX_N_GROUPS; g++) {
    strmap_init(&x->exact[g], 16);
    strmap_init(&x->folded[g], 16);
    strmap_init(&x->stems[g], 16);
  }
  for (size_t e = 0; e < n; e++)
    index_entry(x, (int)e);
}

void langlex_cleanup(struct langlex *x)
{
  for (int g = 0; g < LANGLEX_N_GROUPS; g++) {
    strmap_cleanup(&x->exact[g]);
    strmap_cleanup(&x->folded[g]);
    strmap_cleanup(&x->stems[g]);
  }
}

/* The longest stem of group g that ends the folded key k (whose last word
 * starts at from): its entry, or -1. */
static int match_stem(const struct langlex *x, int g, const struct key *k,
                      size_t from)
{
  size_t wl = k->len - from;
  uint64_t lens = x->stem_lens[g];
  for (size_t p = wl < 63 ? wl : 63; p > 0; p--) {
    if (!(lens >> p & 1))
      continue;
    /* A stem ends at a character boundary. */
    if (p < wl && ((unsigned char)k->b[from + p] & 0xC0) == 0x80)
      continue;
    int32_t v = 0;
    if (strmap_get(&x->stems[g], k->b, from + p, &v) && (v & ENTRY_MASK))
      return (v & ENTRY_MASK) - 1;
  }
  return -1;
}

int langlex_match(const struct langlex *x, enum langlex_group g,
                  const struct langlex_word *w, size_t n, size_t *count)
{
  struct key low = {0}, fold = {0};
  int best = -1;
  *count = 0;
  if (x->table->n == 0)
    return -1;
  for (size_t k = 0; k < n && k < LANGLEX_MAX_WORDS; k++) {
    key_add(&low, w[k].low, w[k].low_len);
    key_add(&fold, w[k].fold, w[k].fold_len);
    if (low.over || fold.over)
      break;
    int32_t vl = 0, vf = 0;
    strmap_get(&x->exact[g], low.b, low.len, &vl);
    strmap_get(&x->folded[g], fold.b, fold.len, &vf);
    int e = (vl & ENTRY_MASK)   ? (vl & ENTRY_MASK) - 1
            : (vf & ENTRY_MASK) ? (vf & ENTRY_MASK) - 1
                                : -1;
    if (e < 0 && x->stem_lens[g])
      e = match_stem(x, g, &fold, fold.starts[k]);
    if (e >= 0) {
      best = e;
      *count = k + 1;
    }
    if (!((vl | vf) & MORE))
      break;
  }
  return best;
}

/* ---- Emoji --------------------------------------------------------------- */

/* The valence of common emoji on VADER's scale, written for this project
 * (VADER's own lexicon has emoticons but no emoji). Sorted by code point. */
static const struct {
  uint32_t cp;
  float valence;
} emoji_valence[] = {
    {0x2639, -1.8f},  /* frowning face */
    {0x2705, 1.2f},   /* check mark */
    {0x2764, 2.5f},   /* heart */
    {0x1F389, 2.2f},  /* party popper */
    {0x1F44C, 1.5f},  /* OK hand */
    {0x1F44D, 1.8f},  /* thumbs up */
    {0x1F44E, -2.0f}, /* thumbs down */
    {0x1F44F, 2.0f},  /* clapping hands */
    {0x1F494, -2.2f}, /* broken heart */
    {0x1F4A9, -2.0f}, /* pile of poo */
    {0x1F4AF, 1.8f},  /* hundred points */
    {0x1F595, -3.0f}, /* middle finger */
    {0x1F600, 2.0f},  /* grinning face */
    {0x1F601, 2.0f},  /* beaming face */
    {0x1F602, 1.0f},  /* tears of joy */
    {0x1F603, 2.2f},  /* grinning, big eyes */
    {0x1F604, 2.2f},  /* grinning, smiling eyes */
    {0x1F609, 1.5f},  /* winking */
    {0x1F60A, 2.2f},  /* smiling eyes */
    {0x1F60D, 2.8f},  /* heart eyes */
    {0x1F60E, 1.8f},  /* sunglasses */
    {0x1F610, -0.5f}, /* neutral face */
    {0x1F611, -1.0f}, /* expressionless */
    {0x1F612, -1.8f}, /* unamused */
    {0x1F613, -1.2f}, /* downcast, sweat */
    {0x1F614, -1.5f}, /* pensive */
    {0x1F615, -1.3f}, /* confused */
    {0x1F616, -2.0f}, /* confounded */
    {0x1F618, 2.0f},  /* blowing a kiss */
    {0x1F61E, -2.0f}, /* disappointed */
    {0x1F61F, -1.5f}, /* worried */
    {0x1F620, -2.5f}, /* angry */
    {0x1F621, -3.0f}, /* pouting, enraged */
    {0x1F622, -2.0f}, /* crying */
    {0x1F623, -2.0f}, /* persevering */
    {0x1F624, -2.0f}, /* steam from nose */
    {0x1F629, -2.2f}, /* weary */
    {0x1F62B, -2.2f}, /* tired */
    {0x1F62C, -0.8f}, /* grimacing */
    {0x1F62D, -2.2f}, /* loudly crying */
    {0x1F630, -1.8f}, /* anxious, sweat */
    {0x1F631, -1.5f}, /* screaming in fear */
    {0x1F641, -1.5f}, /* slightly frowning */
    {0x1F642, 1.5f},  /* slightly smiling */
    {0x1F644, -1.5f}, /* rolling eyes */
    {0x1F64F, 1.5f},  /* folded hands */
    {0x1F917, 2.0f},  /* hugging */
    {0x1F922, -2.0f}, /* nauseated */
    {0x1F923, 1.2f},  /* rolling on the floor laughing */
    {0x1F926, -1.5f}, /* facepalm */
    {0x1F92C, -3.5f}, /* symbols on mouth */
    {0x1F92E, -2.5f}, /* vomiting */
    {0x1F970, 2.8f},  /* smiling, hearts */
    {0x1F973, 2.5f},  /* partying */
};

double langlex_emoji_valence(uint32_t cp)
{
  size_t lo = 0, hi = sizeof emoji_valence / sizeof emoji_valence[0];
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (emoji_valence[mid].cp < cp)
      lo = mid + 1;
    else
      hi = mid;
  }
  size_t n = sizeof emoji_valence / sizeof emoji_valence[0];
  return lo < n && emoji_valence[lo].cp == cp ? emoji_valence[lo].valence : 0.0;
}
