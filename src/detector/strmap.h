/* strmap: a read-mostly hash map from byte strings to small integers, and
 * the hash functions of the detector.
 *
 * Keys (at most STRMAP_KEY_MAX bytes) are copied into the map's own arena,
 * and a slot is 12 bytes, so that VADER's 7,500 words take under 200 KiB
 * and stay in cache next to the model's weights. Built once by detector_new
 * and friends, then only read, so it may be shared by threads. Open
 * addressing with linear probing, at most half full. */
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

#endif
