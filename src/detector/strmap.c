/* strmap: string -> int map for the detector's lexicons (see strmap.h). */
#include "detector/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

static uint32_t key_hash(const char *key, size_t len)
{
  return strmap_mix(strmap_fnv(STRMAP_FNV_BASIS, key, len));
}

static void init_slots(struct strmap *m, size_t expected)
{
  size_t n = 16;
  unsigned log2 = 4;
  while (n < expected * 2) {
    n *= 2;
    log2++;
  }
  m->slots = xcalloc(n, sizeof *m->slots);
  m->mask = n - 1;
  m->count = 0;
  /* 8 * n bits, as n / 8 words. */
  m->filter = xcalloc(n / 8, sizeof *m->filter);
  m->filter_shift = 32 - (log2 + 3);
}

static void set_filter(struct strmap *m, uint32_t hash)
{
  uint32_t b = strmap_filter_bit(m, hash);
  m->filter[b >> 6] |= (uint64_t)1 << (b & 63);
}

void strmap_init(struct strmap *m, size_t expected)
{
  init_slots(m, expected);
  m->arena = NULL;
  m->arena_len = 0;
  m->arena_cap = 0;
}

void strmap_cleanup(struct strmap *m)
{
  free(m->slots);
  free(m->filter);
  free(m->arena);
  memset(m, 0, sizeof *m);
}

static bool same_key(const struct strmap *m, const struct strmap_slot *s,
                     const char *key, size_t len)
{
  const unsigned char *k = m->arena + s->key - 1;
  return k[0] == len && !memcmp(k + 1, key, len);
}

static struct strmap_slot *find(const struct strmap *m, const char *key,
                                size_t len, uint32_t h)
{
  size_t i = h & m->mask;
  for (;;) {
    struct strmap_slot *s = &m->slots[i];
    if (!s->key || (s->hash == h && same_key(m, s, key, len)))
      return s;
    i = (i + 1) & m->mask;
  }
}

static void grow(struct strmap *m)
{
  struct strmap_slot *old = m->slots;
  size_t n = m->mask + 1, count = m->count;
  free(m->filter);
  init_slots(m, n);
  for (size_t i = 0; i < n; i++) {
    if (!old[i].key)
      continue;
    size_t j = old[i].hash & m->mask;
    while (m->slots[j].key)
      j = (j + 1) & m->mask;
    m->slots[j] = old[i];
    set_filter(m, old[i].hash);
  }
  m->count = count;
  free(old);
}

void strmap_put(struct strmap *m, const char *key, size_t len, int32_t value)
{
  if (len > STRMAP_KEY_MAX)
    return;
  if ((m->count + 1) * 2 > m->mask + 1)
    grow(m);
  uint32_t h = key_hash(key, len);
  struct strmap_slot *s = find(m, key, len, h);
  if (!s->key) {
    if (m->arena_len + len + 1 > m->arena_cap) {
      size_t cap = m->arena_cap ? m->arena_cap * 2 : 1024;
      while (cap < m->arena_len + len + 1)
        cap *= 2;
      m->arena = xrealloc(m->arena, cap);
      m->arena_cap = cap;
    }
    m->arena[m->arena_len] = (unsigned char)len;
    memcpy(m->arena + m->arena_len + 1, key, len);
    s->key = (uint32_t)m->arena_len + 1;
    s->hash = h;
    set_filter(m, h);
    m->arena_len += len + 1;
    m->count++;
  }
  s->value = value;
}

bool strmap_get(const struct strmap *m, const char *key, size_t len,
                int32_t *value)
{
  if (len > STRMAP_KEY_MAX)
    return false;
  return strmap_get_hashed(m, key, len, key_hash(key, len), value);
}
