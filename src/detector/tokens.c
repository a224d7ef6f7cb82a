/* tokens: the detector's reading of a text (see detector_int.h).
 *
 * VADER splits a text into tokens at white space; the detector reads it
 * token by token: VADER's reading of each, its words (words.c) and what
 * it adds to the surface signals. Most tokens were seen before, so the
 * token memo gives all three and only the bigrams of its words are
 * computed; the others are read the slow way and remembered. Then VADER's
 * rules score the tokens it kept. A text with U+1680 (white space to
 * VADER, a letter to the word split) is read the slow way whole. */
#include "detector/detector_int.h"

#include <string.h>

#include "base/xalloc.h"

/* The counts of remembered tokens are summed as the eight bytes of a
 * 64-bit word, at most LANE_TOKENS tokens at a time: each is at most
 * MEMO_KEY_MAX, so no byte carries into another, whatever the byte
 * order. */
#define LANE_TOKENS (255 / MEMO_KEY_MAX)

/* Adds to f the bytewise sums of tokens' counts (LANE_TOKENS at most). */
static void add_lanes(struct surface *f, uint64_t lanes)
{
  unsigned char c[N_COUNTS];
  memcpy(c, &lanes, sizeof c);
  f->letters += c[C_LETTERS];
  f->upper += c[C_UPPER];
  f->caps_words += c[C_CAPS];
  f->words_with_letters += c[C_WITH_LETTERS];
  f->exclaim += c[C_EXCLAIM];
  f->question += c[C_QUESTION];
  f->exclaim_multi = f->exclaim_multi || c[C_EXCLAIM_MULTI];
  f->question_multi = f->question_multi || c[C_QUESTION_MULTI];
}

/* Notes VADER's reading of the token at start (detector_read_text made room).
 * Its marks are not needed: they are the '!' and '?' the surface signals count.
 */
static inline void add_reading(struct scratch *s, size_t start,
                               const struct vader_reading *rd)
{
  if (rd->flags & VADER_KEEP)
    s->kept[s->n_kept++] = (struct vader_token){(uint32_t)(start + rd->off),
                                                rd->len, rd->fields, rd->flags};
}

/* Describes in rec the token at start (of at most MEMO_KEY_MAX bytes)
 * whose words detector_split_span added after the split state was was, with
 * surface signals f (its VADER reading is there already). Returns false
 * when the token cannot be remembered: too many words, or a word the memo
 * has not kept. */
static bool describe_token(const struct detector *d, const struct scratch *s,
                           const struct split *sp, const struct split *was,
                           size_t start, const struct surface *f,
                           struct token_record *rec)
{
  size_t n = sp->nw - was->nw;
  if (n > TOKEN_WORDS)
    return false;
  const struct word *w = &s->words[was->nw];
  for (size_t j = 0; j < n; j++)
    if (!w[j].rec)
      return false;
  if (n >= 1) {
    rec->word0 = memo_index_of(d->words, w[0].rec);
    rec->off0 = (uint8_t)(w[0].off - start);
    rec->len0 = (uint8_t)w[0].len;
  }
  if (n == 1) {
    rec->u.one.m_uni = w[0].m_uni;
    rec->u.one.uni_w = w[0].uni_w;
    rec->u.one.grams_w = w[0].grams_w;
    rec->b.one.n_grams = w[0].n_grams;
    rec->b.one.flags = w[0].sup_flags;
  } else if (n == 2) {
    rec->u.word1 = memo_index_of(d->words, w[1].rec);
    rec->b.two.off = (uint8_t)(w[1].off - start);
    rec->b.two.len = (uint8_t)w[1].len;
  }
  rec->n_words = (uint8_t)n;
  rec->counts[C_LETTERS] = (uint8_t)f->letters;
  rec->counts[C_UPPER] = (uint8_t)f->upper;
  rec->counts[C_CAPS] = (uint8_t)f->caps_words;
  rec->counts[C_WITH_LETTERS] = (uint8_t)f->words_with_letters;
  rec->counts[C_EXCLAIM] = (uint8_t)f->exclaim;
  rec->counts[C_QUESTION] = (uint8_t)f->question;
  rec->counts[C_EXCLAIM_MULTI] = f->exclaim_multi;
  rec->counts[C_QUESTION_MULTI] = f->question_multi;
  return true;
}

/* Reads the token s->ct[start..end) (of a text of len bytes) the memo
 * lacks (its key and hash given when it may be remembered) with VADER and
 * detector_split_span, and remembers it. */
static void read_new_token(const struct detector *d, struct scratch *s,
                           struct split *sp, size_t start, size_t end,
                           size_t len, const struct memo_key *key,
                           uint32_t hash)
{
  const char *t = s->ct + start;
  struct vader_reading rd;
  vader_read_token(d->vader, &s->vr, t, end - start, &rd);
  add_reading(s, start, &rd);
  /* The token's own surface signals, for the record, then added. */
  struct split was = *sp;
  memset(&sp->f, 0, sizeof sp->f);
  detector_split_span(d, s, sp, start, end, len);
  struct surface f = sp->f, *all = &sp->f;
  *all = was.f;
  all->letters += f.letters;
  all->upper += f.upper;
  all->caps_words += f.caps_words;
  all->words_with_letters += f.words_with_letters;
  all->exclaim += f.exclaim;
  all->question += f.question;
  all->exclaim_multi = all->exclaim_multi || f.exclaim_multi;
  all->question_multi = all->question_multi || f.question_multi;
  struct token_record fresh = {0};
  if (key && describe_token(d, s, sp, &was, start, &f, &fresh)) {
    fresh.fields = rd.fields;
    fresh.v_off = (uint8_t)rd.off;
    fresh.v_len = (uint8_t)rd.len;
    fresh.v_flags = rd.flags;
    memo_add(d->tokens, key, hash, &fresh);
  }
}

/* U+1680, OGHAM SPACE MARK: white space to VADER, a letter to the word
 * split, so that a word may run across two of VADER's tokens. */
static bool is_ogham_space(const char *t, size_t n)
{
  return n == 3 && !memcmp(t, "\xe1\x9a\x80", 3);
}

/* The first byte at or after t[i] that may start white space (space[] is
 * not 0); the text has one after it. Eight bytes at a time where the
 * byte order allows: a byte below 0x21 or from 0x80 is a candidate (one
 * subtraction and an or find the first), then the table decides. */
static inline size_t next_space_lead(const unsigned char *t,
                                     const unsigned char *space, size_t i)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  for (;;) {
    uint64_t x;
    memcpy(&x, t + i, sizeof x);
    uint64_t cand = ((x - 0x2121212121212121u) | x) & 0x8080808080808080u;
    if (!cand) {
      i += 8;
      continue;
    }
    /* The lowest flagged byte is a true candidate (a borrow only flags
     * bytes above one). */
    i += (size_t)__builtin_ctzll(cand) / 8;
    if (space[t[i]])
      return i;
    i++; /* a control character, or a byte from 0x80 that starts none */
  }
#else
  while (!space[t[i]])
    i++;
  return i;
#endif
}

/* The hash under which the token s->ct[start..end) is remembered (0 for
 * one too long to be); starts loading its home slot, so that the misses
 * of a message's tokens overlap rather than come one after another. */
static inline uint32_t token_hash(const struct detector *d,
                                  const struct scratch *s, size_t start,
                                  size_t end)
{
  if (end - start > MEMO_KEY_MAX)
    return 0;
  struct memo_key key;
  memo_key_of(d->tokens, s->ct + start, end - start, &key);
  uint32_t hash = memo_hash(&key);
  __builtin_prefetch(memo_slot_at(d->tokens, memo_home(d->tokens, hash)));
  return hash;
}

/* Finds the tokens (VADER's: the text between white space) of the cleaned
 * text s->ct[0..len) (a space after it): their bounds into tok_start and
 * tok_end, and the hash each is remembered under into tok_hash, starting
 * the load of its memo slot, which read_tokens looks up. Returns the
 * number of tokens, or SIZE_MAX when the text has U+1680. */
static size_t find_tokens(const struct detector *d, struct scratch *s,
                          size_t len)
{
  const unsigned char *t = (const unsigned char *)s->ct;
  const unsigned char *space = d->space;
  size_t n = 0, i = 0;
  while (i < len) {
    if (space[t[i]] == SPACE_ASCII) {
      i++;
      continue;
    }
    if (space[t[i]] == SPACE_LEAD) {
      size_t sp = vader_space_at(s->ct + i, len - i);
      if (is_ogham_space(s->ct + i, sp))
        return SIZE_MAX;
      if (sp) {
        i += sp;
        continue;
      }
    }
    size_t start = i++;
    for (;;) {
      /* The space after the text ends this loop. */
      i = next_space_lead(t, space, i);
      if (i >= len || space[t[i]] == SPACE_ASCII)
        break;
      size_t sp = vader_space_at(s->ct + i, len - i);
      if (is_ogham_space(s->ct + i, sp))
        return SIZE_MAX;
      if (sp)
        break;
      i++; /* a byte that may start white space but does not */
    }
    s->tok_start[n] = (uint32_t)start;
    s->tok_end[n] = (uint32_t)i;
    s->tok_hash[n] = token_hash(d, s, start, i);
    n++;
  }
  return n;
}

/* Word w of a token, at off and len in the text, from the memo's record
 * e; the bigram from the word before (*prev), the n-grams counted. */
static inline void take_word(const struct detector *d, struct word *w,
                             size_t off, size_t len,
                             const struct word_record *e, uint32_t *prev,
                             size_t *ng)
{
  w->off = (uint32_t)off;
  w->len = (uint32_t)len;
  w->m_uni = e->m_uni;
  set_bigram(d, w, *prev);
  w->rec = e;
  take_record(w, e);
  *prev = e->m_uni;
  *ng += e->n_grams;
}

/* Reads the n tokens find_tokens found into VADER's result and the words.
 *
 * Most tokens were seen before: the memo gives VADER's reading and the
 * words, and each word's bigram is all that is computed. That path is
 * written out here with the split state in locals (stores into the words,
 * through byte-sized fields, would otherwise send it through memory);
 * read_new_token reads the others. find_tokens started loading every
 * token's memo slot, so that they are on their way while the tokens
 * before are read. */
static void read_tokens(const struct detector *d, struct scratch *s,
                        struct split *sp, size_t n, size_t len)
{
  struct word *words = s->words;
  size_t nw = sp->nw, no = sp->no, ng = sp->ng;
  uint32_t prev = sp->prev_b;
  uint64_t lanes = 0; /* token counts, bytewise */
  size_t in_lanes = 0;
  s->n_kept = 0;
  unsigned phrase = 0; /* words left of a phrase that may start */
  for (size_t k = 0; k < n; k++) {
    size_t start = s->tok_start[k], end = s->tok_end[k];
    /* find_tokens started loading the slot. A token new to the memo may
     * come twice in a message: the second finds what the first added. */
    const struct token_record *rec = NULL;
    struct memo_key key;
    uint32_t hash = s->tok_hash[k];
    bool keep = end - start <= MEMO_KEY_MAX;
    if (keep) {
      memo_key_of(d->tokens, s->ct + start, end - start, &key);
      rec = memo_find(d->tokens, &key, hash);
    }
    if (!rec) {
      sp->nw = nw;
      sp->no = no;
      sp->ng = ng;
      sp->prev_b = prev;
      read_new_token(d, s, sp, start, end, len, keep ? &key : NULL, hash);
      words = s->words; /* room was made, but to be sure */
      nw = sp->nw;
      no = sp->no;
      ng = sp->ng;
      prev = sp->prev_b;
      continue;
    }
    if (rec->v_flags & VADER_KEEP)
      s->kept[s->n_kept++] =
          (struct vader_token){(uint32_t)(start + rec->v_off), rec->v_len,
                               rec->fields, rec->v_flags};
    if (rec->n_words == 1) {
      /* The token carries its word's parts: its record is not loaded. */
      struct word *w = &words[nw++];
      w->off = (uint32_t)(start + rec->off0);
      w->len = rec->len0;
      w->m_uni = rec->u.one.m_uni;
      set_bigram(d, w, prev);
      w->uni_w = rec->u.one.uni_w;
      w->grams_w = rec->u.one.grams_w;
      w->n_grams = rec->b.one.n_grams;
      w->sup_flags = rec->b.one.flags;
      w->rec = memo_record_at(d->words, rec->word0);
      prev = w->m_uni;
      ng += w->n_grams;
      /* detector_match_support reads the records of the words that may start a
       * phrase and of the words after them: on their way by then. (Other
       * words prefetch the scratch word just written: fetching every
       * word's record would push more useful lines out of the cache.) */
      phrase = (w->sup_flags & (SUP_HIT | SUPPORT_MORE)) ? SUPPORT_MAX_WORDS
                                                         : phrase;
      const char *ahead =
          phrase ? (const char *)w->rec - MEMO_RECORD : (const char *)w;
      __builtin_prefetch(ahead);
      phrase -= phrase != 0;
    } else if (rec->n_words == 2) {
      take_word(d, &words[nw++], start + rec->off0, rec->len0,
                memo_record_at(d->words, rec->word0), &prev, &ng);
      take_word(d, &words[nw++], start + rec->b.two.off, rec->b.two.len,
                memo_record_at(d->words, rec->u.word1), &prev, &ng);
    }
    uint64_t counts;
    memcpy(&counts, rec->counts, sizeof counts);
    lanes += counts;
    if (++in_lanes == LANE_TOKENS) {
      add_lanes(&sp->f, lanes);
      lanes = 0;
      in_lanes = 0;
    }
  }
  sp->nw = nw;
  sp->no = no;
  sp->ng = ng;
  sp->prev_b = prev;
  add_lanes(&sp->f, lanes);
  /* VADER's marks: every '!' and '?' of the tokens, as counted there. */
  s->marks[0] = sp->f.exclaim;
  s->marks[1] = sp->f.question;
  vader_score_tokens(d->vader, s->ct, s->kept, s->n_kept, s->marks, &s->vr);
}

size_t detector_read_text(const struct detector *d, struct scratch *s,
                          size_t len, struct surface *f, size_t *grams,
                          uint32_t *last_b)
{
  /* Words and tokens: at most one per two bytes (and the last), separators
   * between them or, for emoji, 3 bytes or more. */
  detector_grow_words(s, len / 2 + 2);
  if (s->tok_cap < len / 2 + 2) {
    s->tok_cap = len / 2 + 2;
    s->kept = xrealloc(s->kept, s->tok_cap * sizeof *s->kept);
    s->tok_start = xrealloc(s->tok_start, s->tok_cap * sizeof *s->tok_start);
    s->tok_end = xrealloc(s->tok_end, s->tok_cap * sizeof *s->tok_end);
    s->tok_hash = xrealloc(s->tok_hash, s->tok_cap * sizeof *s->tok_hash);
  }
  struct split sp = {.prev_b = d->start_b};
  size_t n = find_tokens(d, s, len);
  if (n != SIZE_MAX) {
    read_tokens(d, s, &sp, n, len);
  } else {
    s->n_kept = 0; /* VADER's tokens are not at hand (no phrase to quote) */
    vader_score(d->vader, s->ct, len, &s->vr);
    detector_split_span(d, s, &sp, 0, len, len);
  }
  sp.f.shouting = surface_shouting(&sp.f);
  *f = sp.f;
  *grams = sp.ng;
  *last_b = sp.prev_b;
  return sp.nw;
}
