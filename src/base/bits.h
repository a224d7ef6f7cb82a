/* bits: small bit tricks shared by the byte scanners. */
#ifndef BASE_BITS_H
#define BASE_BITS_H

#include <stddef.h>
#include <stdint.h>

/* The index of the lowest set bit of x (x != 0). */
static inline size_t bits_lowest(uint64_t x)
{
#if defined(__GNUC__)
  return (size_t)__builtin_ctzll(x);
#else
  size_t n = 0;
  for (; !(x & 1); x >>= 1)
    n++;
  return n;
#endif
}

#endif
