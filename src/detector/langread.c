/* langread: the detector's reading of a text in another language than
 * English (see detector_int.h), in the place of tokens.c and words.c.
 *
 * The words are split and folded by langlex (elisions split off, lower
 * case beyond ASCII, diacritics dropped for matching and hashing), then
 * read with the language's lexicon: VADER's rules over its sentiment,
 * negation, degree and contrast words (vader_score_words), and its
 * support phrases (longest match first, matches never overlapping), into
 * the same struct word, vader_result and matches as an English text, so
 * that features.c, score.c and reasons.c need not know the language.
 * Emoji (a small valence table of langlex's) and VADER's emoticons keep
 * their valence in every language. The words take no hashed feature:
 * a few hundred messages per language would teach their weights from one
 * style of writing, where the lexicons' signals generalise (score.c adds
 * the language's own part of each signal instead).
 *
 * LANG_OTHER, a language without lexicons, is read for what does not
 * depend on it: emoji and emoticons (their valence), capitals, '!' and
 * '?', length. No word is matched.
 *
 * The memos are English's (their records hold English lookups): these
 * texts are read the slow way, a word at a time. */
#include "detector/detector_int.h"

#include <string.h>

#include "base/utf8.h"
#include "base/xalloc.h"

/* Emoticons are tokens of at most this many bytes (VADER's are shorter). */
#define EMOTICON_MAX 16

/* Room in the scratch for a text of len bytes. */
static void grow(struct scratch *s, size_t len)
{
  size_t words = len / 2 + 2;
  detector_grow_words(s, words);
  if (s->lw_cap < words) {
    s->lw_cap = scratch_cap(s->lw_cap, words, 64);
    s->lw = xrealloc(s->lw, s->lw_cap * sizeof *s->lw);
  }
  /* VADER's words: the text's words and its emoticons, one a byte at most
   * (each is followed by a separator, save the last). */
  if (s->vw_cap < words * 2) {
    s->vw_cap = scratch_cap(s->vw_cap, words * 2, 64);
    s->vw = xrealloc(s->vw, s->vw_cap * sizeof *s->vw);
    s->emo = xrealloc(s->emo, s->vw_cap * sizeof *s->emo);
    s->emo_cap = s->vw_cap;
  }
  if (s->low_cap < len + 1) {
    s->low_cap = scratch_cap(s->low_cap, len + 1, 256);
    s->low = xrealloc(s->low, s->low_cap);
  }
}

/* The '!' and '?' of the text, as the English split counts them. */
static void count_marks(const char *t, size_t len, struct surface *f)
{
  for (size_t i = 0; i < len; i++) {
    if (t[i] == '!') {
      f->exclaim++;
      f->exclaim_multi = f->exclaim_multi || (i + 1 < len && t[i + 1] == '!');
    } else if (t[i] == '?') {
      f->question++;
      if (i + 1 < len && (t[i + 1] == '?' || t[i + 1] == '!'))
        f->question_multi = true;
    }
  }
}

/* The emoticons of the text: VADER's tokens (between white space) that its
 * lexicon rates and that start with a mark, not a letter or digit (":(",
 * ":D", "<3", not "ok!": VADER's lexicon rates English words too), into
 * s->emo; returns how many. */
static size_t find_emoticons(const struct detector *d, struct scratch *s,
                             size_t len)
{
  const char *t = s->ct;
  size_t n = 0, i = 0;
  while (i < len) {
    size_t sp = vader_space_at(t + i, len - i);
    if (sp) {
      i += sp;
      continue;
    }
    size_t start = i++;
    bool plain = (unsigned char)t[start] < 0x80;
    while (i < len && !vader_space_at(t + i, len - i)) {
      plain = plain && (unsigned char)t[i] < 0x80;
      i++;
    }
    unsigned char c0 = (unsigned char)t[start];
    if (!plain || i - start > EMOTICON_MAX || (c0 >= '0' && c0 <= '9') ||
        ((c0 | 0x20) >= 'a' && (c0 | 0x20) <= 'z'))
      continue;
    struct vader_reading rd;
    vader_read_token(d->vader, &s->vr, t + start, i - start, &rd);
    if (!(rd.flags & VADER_KEEP) || !(rd.flags & VADER_LEX))
      continue;
    /* Its lower case, as VADER looks it up (":D" is ":d"). */
    char low[EMOTICON_MAX];
    for (size_t k = 0; k < rd.len; k++) {
      char c = t[start + rd.off + k];
      low[k] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    double v = vader_valence(d->vader, low, rd.len);
    if (v != 0.0)
      s->emo[n++] =
          (struct vader_word){(uint32_t)(start + rd.off), rd.len, v, 0.0, 0};
  }
  return n;
}

/* Splits the text into words (all of them, emoji included) with their
 * forms; takes the surface signals of letters on the way. Returns their
 * number. */
static size_t split_words(struct scratch *s, size_t len, enum lang lang,
                          struct surface *f)
{
  const char *t = s->ct;
  size_t nw = 0, i = 0, no = 0, lo = 0;
  struct langlex_span sp;
  while (langlex_next_word(lang, t, len, &i, &sp)) {
    if (nw == s->words_cap || nw == s->lw_cap) { /* never, by grow's bound */
      detector_grow_words(s, nw + 1);
      s->lw_cap = s->words_cap;
      s->lw = xrealloc(s->lw, s->lw_cap * sizeof *s->lw);
    }
    struct word *w = &s->words[nw];
    memset(w, 0, sizeof *w);
    w->off = sp.off;
    w->len = sp.len;
    size_t ll, fl;
    if (sp.emoji) {
      w->sup_flags = WORD_EMOJI;
      memcpy(s->low + lo, t + sp.off, sp.len);
      memcpy(s->norm + no, t + sp.off, sp.len);
      ll = fl = sp.len;
    } else {
      langlex_norm(t + sp.off, sp.len, false, s->low + lo, &ll, s->norm + no,
                   &fl);
      f->letters += sp.letters;
      f->upper += sp.upper;
      f->words_with_letters += sp.letters > 0;
      f->caps_words += sp.upper >= 3 && sp.upper == sp.letters;
      /* Function words and elided articles are never quoted alone. */
      if (fl <= 3 || s->norm[no + fl - 1] == '\'')
        w->sup_flags |= SUPPORT_STOP;
    }
    w->noff = (uint32_t)no;
    w->nlen = (uint32_t)fl;
    s->lw[nw] = (struct langlex_word){s->low + lo, s->norm + no, (uint32_t)ll,
                                      (uint32_t)fl,
                                      sp.upper > 0 && sp.upper == sp.letters};
    lo += ll;
    no += fl;
    nw++;
  }
  /* Memo keys are read whole: defined bytes past the last form. */
  memset(s->norm + no, 0, MEMO_KEY_READ);
  return nw;
}

/* How many words from i on may make one entry: no emoji among them. */
static size_t run_of(const struct scratch *s, size_t i, size_t nw)
{
  size_t k = i;
  while (k < nw && k - i < LANGLEX_MAX_WORDS &&
         !(s->words[k].sup_flags & WORD_EMOJI))
    k++;
  return k - i;
}

/* VADER's words, in text order, into s->vw: each word of the text (or the
 * words of one sentiment, negation, degree or contrast entry, read as
 * one: "rendez-vous") and the ne emoticons; returns their number. */
static size_t vader_words(const struct detector *d, struct scratch *s,
                          size_t nw, size_t ne, enum lang lang)
{
  const struct langlex *x = lang < LANG_N ? &d->lex[lang] : NULL;
  size_t n = 0, e = 0;
  for (size_t i = 0; i < nw;) {
    struct word *w = &s->words[i];
    while (e < ne && s->emo[e].at < w->off)
      s->vw[n++] = s->emo[e++];
    struct vader_word v = {w->off, w->len, 0.0, 0.0,
                           s->lw[i].caps ? VADER_UPPER : 0};
    size_t count = 1;
    if (w->sup_flags & WORD_EMOJI) {
      uint32_t cp = 0;
      utf8_decode(s->ct + w->off, w->len, &cp);
      v.valence = langlex_emoji_valence(cp);
    } else if (x) {
      size_t k;
      int ent = langlex_match(x, LANGLEX_GROUP_WORDS, &s->lw[i],
                              run_of(s, i, nw), &k);
      if (ent >= 0) {
        const struct langlex_entry *en = &x->table->entries[ent];
        const struct word *last = &s->words[i + k - 1];
        v.len = last->off + last->len - w->off;
        count = k;
        if (en->section == LANGLEX_VALENCE)
          v.valence = en->value;
        else if (en->section == LANGLEX_NEGATORS)
          v.flags |= VADER_NEG;
        else if (en->section == LANGLEX_INTENSIFIERS)
          v.boost = en->value;
        else
          v.flags |= VADER_BUT;
        if (en->section != LANGLEX_VALENCE)
          for (size_t j = i; j < i + k; j++)
            s->words[j].sup_flags |= SUPPORT_STOP;
      }
    }
    s->vw[n++] = v;
    i += count;
  }
  while (e < ne)
    s->vw[n++] = s->emo[e++];
  return n;
}

/* The support phrases of the language among the nw words into s->matches
 * (longest match first, never overlapping); returns their number. */
static size_t match_support(const struct detector *d, struct scratch *s,
                            size_t nw, enum lang lang)
{
  const struct langlex *x = &d->lex[lang];
  size_t nm = 0;
  for (size_t i = 0; i < nw;) {
    size_t k = 0;
    int ent = -1;
    if (!(s->words[i].sup_flags & WORD_EMOJI))
      ent = langlex_match(x, LANGLEX_GROUP_SUPPORT, &s->lw[i], run_of(s, i, nw),
                          &k);
    if (ent < 0) {
      i++;
      continue;
    }
    if (nm == s->matches_cap) {
      s->matches_cap = scratch_cap(s->matches_cap, nm + 1, 16);
      s->matches = xrealloc(s->matches, s->matches_cap * sizeof *s->matches);
    }
    int cat = x->table->entries[ent].section - LANGLEX_REPEAT;
    s->matches[nm++] = (struct match){(uint32_t)i, (uint32_t)k, cat};
    i += k;
  }
  return nm;
}

size_t detector_read_lang(const struct detector *d, struct scratch *s,
                          size_t len, enum lang lang, struct surface *f,
                          size_t *nm, size_t *n_all)
{
  grow(s, len);
  memset(f, 0, sizeof *f);
  count_marks(s->ct, len, f);
  size_t ne = find_emoticons(d, s, len);
  size_t nw = split_words(s, len, lang, f);
  *n_all = nw;
  f->shouting = surface_shouting(f);
  if (s->vw_cap < nw + ne) { /* never, by grow's bound */
    s->vw_cap = nw + ne;
    s->vw = xrealloc(s->vw, s->vw_cap * sizeof *s->vw);
  }
  size_t nv = vader_words(d, s, nw, ne, lang);
  s->n_vw = nv;
  s->marks[0] = f->exclaim;
  s->marks[1] = f->question;
  vader_score_words(s->vw, nv, s->marks, &s->vr);
  *nm = 0;
  if (lang == LANG_OTHER) /* no words of an unknown language: what they */
    return 0;             /* and its emoji say is in VADER's reading */
  *nm = match_support(d, s, nw, lang);
  /* No hashed feature: no word has a part of its own in the score. */
  memset(s->contrib, 0, nw * sizeof *s->contrib);
  return nw;
}
