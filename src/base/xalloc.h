/* xalloc: allocation that aborts on out-of-memory.
 *
 * Safe only because every size taken from outside input is capped before it
 * reaches an allocation (see buf.h). All functions accept what their libc
 * counterparts accept; xfree(NULL) is a no-op. */
#ifndef BASE_XALLOC_H
#define BASE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
/* The array p of *cap items of size bytes, grown when need items do not
 * fit: its capacity doubles from 64 until they do (*cap is updated).
 * Returns p itself when they fit; scratch buffers reused across calls.
 * The check is inline: scorers call this for several buffers on every
 * message, and the buffers almost always fit. */
void *xgrow_slow(void *p, size_t *cap, size_t need, size_t size);
static inline void *xgrow(void *p, size_t *cap, size_t need, size_t size)
{
  return need <= *cap ? p : xgrow_slow(p, cap, need, size);
}
/* Copies s (NUL-terminated); caller frees. */
char *xstrdup(const char *s);
/* Copies len bytes of s and adds a NUL; caller frees. */
char *xstrndup(const char *s, size_t len);

#endif
