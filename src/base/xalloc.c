/* xalloc: malloc and friends that abort with a message on out-of-memory. */
#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t size)
{
  fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", size);
  abort();
}

void *xmalloc(size_t size)
{
  void *p = malloc(size ? size : 1);
  if (!p)
    oom(size);
  return p;
}

void *xcalloc(size_t n, size_t size)
{
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p)
    oom(n * size);
  return p;
}

void *xrealloc(void *p, size_t size)
{
  void *q = realloc(p, size ? size : 1);
  if (!q)
    oom(size);
  return q;
}

/* xgrow's growing half: need does not fit in *cap. */
void *xgrow_slow(void *p, size_t *cap, size_t need, size_t size)
{
  size_t c = *cap ? *cap : 64;
  while (c < need)
    c *= 2;
  *cap = c;
  return xrealloc(p, c * size);
}

char *xstrndup(const char *s, size_t len)
{
  char *p = xmalloc(len + 1);
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

char *xstrdup(const char *s)
{
  return xstrndup(s, strlen(s));
}
