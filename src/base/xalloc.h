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
/* Copies s (NUL-terminated); caller frees. */
char *xstrdup(const char *s);
/* Copies len bytes of s and adds a NUL; caller frees. */
char *xstrndup(const char *s, size_t len);

#endif
