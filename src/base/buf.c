/* buf: growable, capped byte buffer (the shape of curl's dynbuf).
 *
 * Invariant: data is NULL or holds len bytes plus a NUL, len < cap. */
#include "base/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

void buf_init(struct buf *b, size_t limit)
{
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->limit = limit ? limit : BUF_DEFAULT_LIMIT;
}

void buf_cleanup(struct buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void buf_reset(struct buf *b)
{
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

static enum err reserve(struct buf *b, size_t extra)
{
  if (extra > b->limit || b->len > b->limit - extra)
    return ERR_TOO_BIG;
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return ERR_OK;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap *= 2;
  b->data = xrealloc(b->data, cap);
  b->cap = cap;
  return ERR_OK;
}

void buf_must_fit(enum err rc)
{
  if (rc == ERR_OK)
    return;
  fprintf(stderr, "fatal: a bounded buffer overflowed: %s\n", err_str(rc));
  abort();
}

enum err buf_append(struct buf *b, const void *data, size_t len)
{
  enum err rc = reserve(b, len);
  if (rc)
    return rc;
  if (len)
    memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return ERR_OK;
}

char *buf_room(struct buf *b, size_t n)
{
  return reserve(b, n) ? NULL : b->data + b->len;
}

void buf_grow(struct buf *b, size_t n)
{
  b->len += n;
  b->data[b->len] = '\0';
}

enum err buf_puts(struct buf *b, const char *s)
{
  return buf_append(b, s, strlen(s));
}

enum err buf_putc(struct buf *b, char c)
{
  return buf_append(b, &c, 1);
}

enum err buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
  char small[256];
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(small, sizeof small, fmt, ap2);
  va_end(ap2);
  if (n < 0)
    return ERR_INVALID;
  if ((size_t)n < sizeof small)
    return buf_append(b, small, (size_t)n);
  enum err rc = reserve(b, (size_t)n);
  if (rc)
    return rc;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return ERR_OK;
}

enum err buf_printf(struct buf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  enum err rc = buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

const char *buf_ptr(const struct buf *b)
{
  return b->data ? b->data : "";
}

char *buf_take(struct buf *b)
{
  char *p = b->data ? b->data : xstrdup("");
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  return p;
}
