/* words: the word split of the detector (see detector_int.h).
 *
 * A word is a run of letters and digits (an apostrophe or U+2019 between
 * two of them included), normalised as it is read: ASCII in lower case,
 * digits as '0', letters of other scripts as they are; an emoji is a word
 * of its own. What a word comes to alone (its unigram weight, the sum of
 * its character n-grams' weights, its support entry) is worked out once,
 * by word_alone, and remembered in the word memo; the score is the same
 * to the last bit whether the memo had the word or not. tokens.c calls
 * the split for the tokens its memo lacks. */
#include "detector/detector_int.h"

#include <string.h>

#include "base/utf8.h"
#include "base/xalloc.h"

/* The character n-gram loop of detector_char_grams is written for these. */
_Static_assert(CHAR_N_MIN == 4 && CHAR_N_MAX == 5, "char n-grams are 4, 5");

static bool is_emoji(uint32_t cp)
{
  return (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF) ||
         (cp >= 0x2B00 && cp <= 0x2BFF);
}

/* Letters of other scripts, roughly: everything from Latin-1's letters up
 * that is not punctuation, symbols, arrows, emoji or variation selectors. */
static bool is_letter(uint32_t cp)
{
  if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7)
    return false;
  if (cp >= 0x2000 && cp <= 0x2BFF)
    return false;
  if ((cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFE00 && cp <= 0xFE0F) ||
      (cp >= 0xFF00 && cp <= 0xFF0F) || cp == 0xFEFF)
    return false;
  return !is_emoji(cp);
}

/* Is there a word character at t[i] (not ASCII)? Sets *n to its byte
 * length. */
static bool wide_word_char_at(const char *t, size_t len, size_t i, size_t *n)
{
  uint32_t cp;
  *n = utf8_decode(t + i, len - i, &cp);
  if (*n == 0) {
    *n = 1;
    return false;
  }
  return is_letter(cp);
}

/* Is there a word character at t[i]? Sets *n to its byte length. */
static inline bool word_char_at(const struct detector *d, const char *t,
                                size_t len, size_t i, size_t *n)
{
  unsigned char c = (unsigned char)t[i];
  if (c < 0x80) {
    *n = 1;
    return d->word_byte[c] & W_WORD;
  }
  return wide_word_char_at(t, len, i, n);
}

void detector_grow_words(struct scratch *s, size_t need)
{
  if (need <= s->words_cap)
    return;
  size_t cap = scratch_cap(s->words_cap, need, 64);
  s->words = xrealloc(s->words, cap * sizeof *s->words);
  s->contrib = xrealloc(s->contrib, cap * sizeof *s->contrib);
  s->starts = xrealloc(s->starts, cap * sizeof *s->starts);
  s->words_cap = cap;
}

size_t detector_char_grams(const struct detector *d, const char *nw,
                           size_t nlen, uint32_t *grams)
{
  unsigned char pad[CHAR_WORD_MAX + 2];
  size_t l = nlen > CHAR_WORD_MAX ? CHAR_WORD_MAX : nlen;
  pad[0] = '<';
  memcpy(pad + 1, nw, l);
  pad[l + 1] = '>';
  l += 2;
  size_t k = 0;
  for (size_t a = 0; a + CHAR_N_MIN <= l; a++) {
    uint32_t h = d->gram_first[pad[a]];
    h = (h ^ pad[a + 1]) * STRMAP_FNV_PRIME;
    h = (h ^ pad[a + 2]) * STRMAP_FNV_PRIME;
    h = (h ^ pad[a + 3]) * STRMAP_FNV_PRIME;
    grams[k++] = strmap_mix(h);
    if (a + CHAR_N_MAX <= l) {
      h = (h ^ pad[a + 4]) * STRMAP_FNV_PRIME;
      grams[k++] = strmap_mix(h);
    }
  }
  return k;
}

/* Works out what word w (m_uni set, its normalised form in norm, and
 * WORD_EMOJI in its flags when it is one) comes to alone: the sum of the
 * signed weights of its n-grams, its support entry, whether it carries
 * frustration (for the reasons); fills e. */
static void word_alone(const struct detector *d, const struct scratch *s,
                       const struct word *w, struct word_record *e)
{
  const char *nw = s->norm + w->noff;
  bool emoji = w->sup_flags & WORD_EMOJI;
  uint32_t grams[CHAR_GRAMS_MAX];
  size_t k = emoji ? 0 : detector_char_grams(d, nw, w->nlen, grams);
  double sum = 0.0;
  for (size_t g = 0; g < k; g++)
    sum += (double)signed_weight(d, grams[g]);
  e->grams_w = sum;
  e->m_uni = w->m_uni;
  e->n_grams = (uint8_t)k;
  e->uni_w = signed_weight(d, w->m_uni);
  e->support = strmap_fnv(STRMAP_FNV_BASIS, nw, w->nlen);
  e->support_cat = -1;
  e->flags = emoji ? WORD_EMOJI : 0;
  /* detector_match_support leaves out emoji and words too long for a phrase. */
  if (!emoji && w->nlen + 1 <= PHRASE_MAX) {
    unsigned flags;
    e->support_cat = (int8_t)support_lookup_fnv(&d->support, nw, w->nlen,
                                                e->support, &flags);
    e->flags = (uint8_t)(flags | (e->support_cat >= 0 ? SUP_HIT : 0));
    if (detector_word_carries(d, nw, w->nlen, e->support_cat))
      e->flags |= WORD_CARRIES;
  }
}

/* Fills in word w (WORD_EMOJI set) from its unigram's FNV-1a state: from the
 * memo when the word was seen before, else worked out and remembered. */
static void finish_word(const struct detector *d, struct scratch *s,
                        struct split *sp, struct word *w, uint32_t uni)
{
  w->m_uni = strmap_mix(uni);
  set_bigram(d, w, sp->prev_b);
  sp->prev_b = w->m_uni;
  /* Remembered words are looked up by their unigram hash. */
  bool memo = w->nlen <= WORD_MEMO_MAX;
  struct memo_key key;
  const struct word_record *e = NULL;
  if (memo) {
    memo_key_of(d->words, s->norm + w->noff, w->nlen, &key);
    e = memo_find(d->words, &key, w->m_uni);
  }
  if (e) {
    take_record(w, e);
  } else {
    struct word_record fresh = {0};
    word_alone(d, s, w, &fresh);
    if (memo)
      e = memo_add(d->words, &key, w->m_uni, &fresh);
    take_record(w, &fresh);
  }
  w->rec = e; /* NULL when the memo had no room */
  sp->ng += w->n_grams;
}

static inline struct word *new_word(struct scratch *s, size_t *nw, size_t off,
                                    size_t len, size_t noff, size_t no)
{
  if (*nw == s->words_cap)
    detector_grow_words(s, *nw + 1);
  struct word *w = &s->words[(*nw)++];
  w->off = (uint32_t)off;
  w->len = (uint32_t)len;
  w->noff = (uint32_t)noff;
  w->nlen = (uint32_t)(no - noff);
  w->sup_flags = 0;
  return w;
}

/* Splits the cleaned text s->ct[from..to) into words and emoji (to is at
 * white space or the end, len, so that no word runs past it), writing
 * their normalised forms (ASCII lower case, digits as '0', U+2019 as ')
 * into s->norm, and takes the surface signals on the way (every ASCII
 * letter is in a word; '!' and '?' never are). Each word's unigram hash
 * is taken byte by byte as it is read, the rest comes from finish_word. */
void detector_split_span(const struct detector *d, struct scratch *s,
                         struct split *sp, size_t from, size_t to, size_t len)
{
  const char *t = s->ct;
  char *norm = s->norm;
  struct surface *f = &sp->f;
  size_t i = from;
  while (i < to) {
    unsigned char c = (unsigned char)t[i];
    size_t n = 1;
    if (c < 0x80) {
      if (!(d->word_byte[c] & W_WORD)) {
        if (c == '!') {
          f->exclaim++;
          f->exclaim_multi =
              f->exclaim_multi || (i + 1 < len && t[i + 1] == '!');
        } else if (c == '?') {
          f->question++;
          if (i + 1 < len && (t[i + 1] == '?' || t[i + 1] == '!'))
            f->question_multi = true;
        }
        i++;
        continue;
      }
    } else {
      uint32_t cp;
      n = utf8_decode(t + i, len - i, &cp);
      if (n == 0) {
        i++;
        continue;
      }
      if (is_emoji(cp)) {
        /* A word of its own, its bytes as they are, no n-grams. */
        memcpy(norm + sp->no, t + i, n);
        struct word *w = new_word(s, &sp->nw, i, n, sp->no, sp->no + n);
        sp->no += n;
        memset(norm + sp->no, 0, MEMO_KEY_READ);
        w->sup_flags = WORD_EMOJI;
        finish_word(d, s, sp, w, strmap_fnv(d->seed_u, t + i, n));
        i += n;
        continue;
      }
      if (!is_letter(cp)) {
        i += n;
        continue;
      }
    }
    size_t start = i, nstart = sp->no, no = sp->no;
    uint64_t counts = 0;
    uint32_t uni = d->seed_u;
    for (;;) {
      /* The common case, a run of ASCII letters and digits: one table
       * entry a byte, pointers rather than indices (fewer registers). */
      const unsigned char *p = (const unsigned char *)t + i;
      const unsigned char *end = (const unsigned char *)t + to;
      unsigned char *q = (unsigned char *)norm + no;
      while (p < end) {
        uint64_t e = d->word_byte[*p];
        if (!(e & W_WORD))
          break;
        unsigned char nc = (unsigned char)e;
        *q++ = nc;
        counts += e >> W_COUNTS;
        uni = (uni ^ nc) * STRMAP_FNV_PRIME;
        p++;
      }
      i = (size_t)(p - (const unsigned char *)t);
      no = (size_t)(q - (unsigned char *)norm);
      if (i >= to)
        break;
      /* Anything else: an apostrophe between word characters, a letter
       * of another script (its bytes as they are), or U+2019 as '. */
      c = (unsigned char)t[i];
      size_t wn, step;
      unsigned char nc;
      if (c < 0x80) {
        if (!(c == '\'' && i + 1 < len && word_char_at(d, t, len, i + 1, &wn)))
          break;
        nc = '\'';
        step = 1;
      } else if (wide_word_char_at(t, len, i, &n)) {
        for (size_t k = 0; k + 1 < n; k++) {
          nc = (unsigned char)t[i + k];
          norm[no++] = (char)nc;
          uni = (uni ^ nc) * STRMAP_FNV_PRIME;
        }
        nc = (unsigned char)t[i + n - 1];
        step = n;
      } else if (len - i >= 3 && !memcmp(t + i, "\xe2\x80\x99", 3) &&
                 i + 3 < len && word_char_at(d, t, len, i + 3, &wn)) {
        nc = '\'';
        step = 3;
      } else {
        break;
      }
      norm[no++] = (char)nc;
      uni = (uni ^ nc) * STRMAP_FNV_PRIME;
      i += step;
    }
    sp->no = no;
    struct word *w = new_word(s, &sp->nw, start, i - start, nstart, no);
    /* Memo keys are read whole: defined bytes past the word. */
    memset(norm + no, 0, MEMO_KEY_READ);
    finish_word(d, s, sp, w, uni);
    size_t lo = counts & W_COUNT_MASK, up = counts >> 24 & W_COUNT_MASK;
    f->letters += lo + up;
    f->upper += up;
    f->words_with_letters += lo + up > 0;
    f->caps_words += up >= 3 && lo == 0;
  }
}
