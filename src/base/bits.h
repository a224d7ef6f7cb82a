/* bits: small bit tricks shared by the byte scanners. */
#ifndef BASE_BITS_H
#define BASE_BITS_H

#include <stddef.h>
#include <stdint.h>

/* For the small helpers of a hot loop that must be inlined at every call
 * (a call would cost as much as the work): GCC and clang otherwise weigh
 * each call site on their own. */
#if defined(__GNUC__)
#define BITS_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define BITS_ALWAYS_INLINE inline
#endif

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

/* The value of the hex digit c (either case), or -1. */
static inline int bits_hex_digit(int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

#endif
