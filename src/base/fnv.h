/* fnv: FNV-1a, 64 bits (Fowler, Noll, Vo; public domain), for the hashes
 * that must stay the same from one build to the next: the training folds
 * and held-out labels, the PostgreSQL batch map and advisory-lock keys.
 * Not for anything an attacker picks to collide. */
#ifndef BASE_FNV_H
#define BASE_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A64_BASIS UINT64_C(14695981039346656037)
#define FNV1A64_PRIME UINT64_C(1099511628211)

/* h extended with data[0..len). Start from FNV1A64_BASIS. */
static inline uint64_t fnv1a64(uint64_t h, const void *data, size_t len)
{
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++)
    h = (h ^ p[i]) * FNV1A64_PRIME;
  return h;
}

/* h extended with the bytes of the string s, its NUL left out. */
static inline uint64_t fnv1a64_str(uint64_t h, const char *s)
{
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    h = (h ^ *p) * FNV1A64_PRIME;
  return h;
}

#endif
