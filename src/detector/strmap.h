/* strmap: a read-mostly hash map from byte strings to small integers, and
 * the hash functions of the detector.
 *
 * Keys (at most STRMAP_KEY_MAX bytes) are copied into the map's own arena,
 * and a slot is 12 bytes, so that VADER's 7,500 words take under 200 KiB
 * and stay in cache next to the model's weights. Built once by detector_new
 * and friends, then only read, so it may be shared by threads. Open
 * addressing with linear probing, at most half full. A filter of one bit
 * per key, 8 bits per slot (16 KiB for VADER), answers most misses (most
 * words of a message are in no lexicon) without touching the slots. */
#ifndef DETECTOR_STRMAP_H
#define DETECTOR_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* FNV-1a, 32 bits, from a given state (start with STRMAP_FNV_BASIS). */
#define STRMAP_FNV_BASIS 2166136261u
#define STRMAP_FNV_PRIME 16777619u

static inline uint32_t strmap_fnv(uint32_t h, const void *data, size_t len)
{
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= STRMAP_FNV_PRIME;
  }
  return h;
}

/* MurmurHash3's finaliser: spreads FNV's weak low bits over the word. */
static inline uint32_t strmap_mix(uint32_t h)
{
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

#define STRMAP_KEY_MAX 255

struct strmap_slot {
  uint32_t key; /* offset of the key in the arena + 1; 0: empty */
  uint32_t hash;
  int32_t value;
};

struct strmap {
  struct strmap_slot *slots;
  size_t mask; /* number of slots - 1 */
  size_t count;
  uint64_t *filter;      /* 8 * (mask + 1) bits: set for each key's hash */
  unsigned filter_shift; /* 32 - log2 of the filter's bits */
  unsigned char *arena; /* keys, each as a length byte and its bytes */
  size_t arena_len, arena_cap;
};

/* Sets up a map sized for about expected keys (it never grows past twice
 * that without rehashing, which strmap_put does). */
void strmap_init(struct strmap *m, size_t expected);
void strmap_cleanup(struct strmap *m);

/* Adds or replaces key -> value (the key is copied). Keys longer than
 * STRMAP_KEY_MAX bytes are ignored: lexicons have none. */
void strmap_put(struct strmap *m, const char *key, size_t len, int32_t value);

/* Looks key up; on a hit stores its value in *value and returns true. */
bool strmap_get(const struct strmap *m, const char *key, size_t len,
                int32_t *value);

/* The hash strmap_get computes for a key whose FNV-1a state (from
 * STRMAP_FNV_BASIS) is fnv: callers that already ran FNV over the key, or
 * over a prefix of a longer key, pass it to strmap_get_hashed. */
static inline uint32_t strmap_hash_of(uint32_t fnv)
{
  return strmap_mix(fnv);
}

/* strmap_get with the key's hash given (strmap_hash_of): the hot lookup of
 * the detector, inline. */
/* The filter bit of a hash: multiply-shift, so that it does not follow
 * the slot (the low bits). */
static inline uint32_t strmap_filter_bit(const struct strmap *m, uint32_t hash)
{
  return (hash * 0x9E3779B1u) >> m->filter_shift;
}

static inline bool strmap_get_hashed(const struct strmap *m, const char *key,
                                     size_t len, uint32_t hash, int32_t *value)
{
  uint32_t b = strmap_filter_bit(m, hash);
  if (!(m->filter[b >> 6] >> (b & 63) & 1))
    return false;
  size_t i = hash & m->mask;
  for (;;) {
    const struct strmap_slot *s = &m->slots[i];
    if (!s->key)
      return false;
    if (s->hash == hash) {
      const unsigned char *k = m->arena + s->key - 1;
      if (k[0] == len) {
        size_t j = 0;
        while (j < len && k[1 + j] == (unsigned char)key[j])
          j++;
        if (j == len) {
          *value = s->value;
          return true;
        }
      }
    }
    i = (i + 1) & m->mask;
  }
}

#endif
