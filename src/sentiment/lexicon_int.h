/* lexicon_int: the lexicon's layout and lookup, private to sentiment/.
 * lexicon.c builds the table; polarity.c looks a word up per token, so the
 * lookup is a static inline here rather than a call into lexicon.c. */
#ifndef SENTIMENT_LEXICON_INT_H
#define SENTIMENT_LEXICON_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sentiment/lexicon.h"

/* The scorer looks up nearly every token: at -O2 the compiler would keep
 * the lookup out of line, and the call would cost as much as the work. */
#if defined(__GNUC__)
#define LEXICON_INLINE inline __attribute__((always_inline))
#else
#define LEXICON_INLINE inline
#endif

struct slot {
  uint64_t head;   /* head(key, len): most lookups compare only this */
  const char *key; /* rows' static strings, or the arena */
  size_t len;
  struct lexicon_entry e;
};

struct lexicon {
  enum lexicon_lang lang;
  struct slot *slots; /* words in insertion order */
  size_t n_slots;
  uint32_t *table; /* slot index + 1; 0 is an empty bucket */
  size_t mask;     /* table size - 1 (a power of two) */
  unsigned shift;  /* 64 - log2(table size) */
  /* By first byte, the length of the longest word that starts with it (0
   * for none): longer tokens, and those that start otherwise, miss at
   * once, with one test. */
  size_t max_len[256];
  char *arena; /* keys of the derived adverbs */
};

static LEXICON_INLINE uint64_t load64(const char *s)
{
  uint64_t v;
  memcpy(&v, s, 8);
  return v;
}

/* The first eight bytes of s[0..len) (len > 0), or all of a shorter
 * string followed by zero bytes, as memcpy lays them out: with the length,
 * this tells any two strings of up to eight bytes apart. Reads nothing
 * outside s[0..len). */
static LEXICON_INLINE uint64_t head(const char *s, size_t len)
{
  uint64_t v = 0;
  memcpy(&v, s, len < 8 ? len : 8);
  return v;
}

/* head(s, len) for a string followed by at least eight readable bytes
 * (the scorer pads its buffer of lower-cased words): one load and a mask,
 * without the branches and short copies of head. */
static LEXICON_INLINE uint64_t head_padded(const char *s, size_t len)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  static const uint64_t keep[8] = {
      0,          0xFF,         0xFFFF,         0xFFFFFF,
      0xFFFFFFFF, 0xFFFFFFFFFF, 0xFFFFFFFFFFFF, 0xFFFFFFFFFFFFFF,
  }; /* the first len bytes */
  uint64_t v = load64(s);
  return len >= 8 ? v : v & keep[len];
#else
  return head(s, len);
#endif
}

/* a[0..len) == b[0..len) for len > 8, given that the first eight bytes
 * are equal: eight bytes at a time, the last load overlapping. No call,
 * so that the lookup stays a leaf function. */
static LEXICON_INLINE bool same_tail(const char *a, const char *b, size_t len)
{
  for (size_t i = 8; i + 8 < len; i += 8)
    if (load64(a + i) != load64(b + i))
      return false;
  return load64(a + len - 8) == load64(b + len - 8);
}

/* Returns the bucket holding key (whose head is h), or the empty bucket
 * where it would go. The hash is Fibonacci hashing of the head mixed with
 * the length and, past eight bytes, the last eight bytes. */
static LEXICON_INLINE size_t bucket(const struct lexicon *lx, uint64_t h,
                            const char *key, size_t len)
{
  uint64_t x = h ^ (uint64_t)len << 58;
  if (len > 8)
    x ^= load64(key + len - 8) * 0xC2B2AE3D27D4EB4Fu;
  size_t b = (size_t)((x * 0x9E3779B97F4A7C15u) >> lx->shift);
  for (;;) {
    uint32_t v = lx->table[b];
    if (v == 0)
      return b;
    const struct slot *s = &lx->slots[v - 1];
    if (s->head == h && s->len == len &&
        (len <= 8 || same_tail(s->key, key, len)))
      return b;
    b = (b + 1) & lx->mask;
  }
}

/* lexicon_find, inline: see lexicon.h. With padded, word must be followed
 * by at least eight readable bytes (see head_padded). */
static LEXICON_INLINE const struct lexicon_entry *
lexicon_find_inline(const struct lexicon *lx, const char *word, size_t len,
                    bool padded)
{
  if (len == 0 || len > lx->max_len[(unsigned char)word[0]])
    return NULL; /* empty (no word is: rows without a form are skipped),
                    too long, or no word starts so */
  uint64_t h = padded ? head_padded(word, len) : head(word, len);
  uint32_t v = lx->table[bucket(lx, h, word, len)];
  return v ? &lx->slots[v - 1].e : NULL;
}

#endif
