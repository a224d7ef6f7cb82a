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

struct slot {
  uint64_t head; /* head(key, len): most lookups compare only this */
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
  size_t max_len;  /* of the longest word: longer tokens miss at once */
  bool first[256]; /* bytes that start a word: other tokens miss at once */
  char *arena;     /* keys of the derived adverbs */
};

static inline uint64_t load64(const char *s)
{
  uint64_t v;
  memcpy(&v, s, 8);
  return v;
}

static inline uint64_t load32(const char *s)
{
  uint32_t v;
  memcpy(&v, s, 4);
  return v;
}

/* The first eight bytes of s[0..len) (len > 0); for a shorter string, a
 * packing of all its bytes (two overlapping 4-byte loads, or the first,
 * middle and last byte) that no other string of that length shares. Reads
 * nothing outside s[0..len). */
static inline uint64_t head(const char *s, size_t len)
{
  if (len >= 8)
    return load64(s);
  if (len >= 4)
    return load32(s) | load32(s + len - 4) << 32;
  return (uint64_t)(unsigned char)s[0] |
         (uint64_t)(unsigned char)s[len / 2] << 8 |
         (uint64_t)(unsigned char)s[len - 1] << 16;
}

/* a[0..len) == b[0..len) for len > 8, given that the first eight bytes
 * are equal: eight bytes at a time, the last load overlapping. No call,
 * so that the lookup stays a leaf function. */
static inline bool same_tail(const char *a, const char *b, size_t len)
{
  for (size_t i = 8; i + 8 < len; i += 8)
    if (load64(a + i) != load64(b + i))
      return false;
  return load64(a + len - 8) == load64(b + len - 8);
}

/* Returns the bucket holding key (whose head is h), or the empty bucket
 * where it would go. The hash is Fibonacci hashing of the head mixed with
 * the length and, past eight bytes, the last eight bytes. */
static inline size_t bucket(const struct lexicon *lx, uint64_t h,
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

/* lexicon_find, inline: see lexicon.h. */
static inline const struct lexicon_entry *
lexicon_find_inline(const struct lexicon *lx, const char *word, size_t len)
{
  if (len - 1 >= lx->max_len || !lx->first[(unsigned char)word[0]])
    return NULL; /* too long, empty (no word is: rows without a form are
                    skipped) or no word starts so */
  uint32_t v = lx->table[bucket(lx, head(word, len), word, len)];
  return v ? &lx->slots[v - 1].e : NULL;
}

#endif
