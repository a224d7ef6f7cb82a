/* buf: a growable byte buffer with a hard size limit.
 *
 * The contents are always NUL-terminated (the NUL is not counted in len), so
 * buf_ptr can be passed to C string functions when the data has no NUL.
 * A buffer that would grow past its limit refuses the append with
 * ERR_TOO_BIG and keeps what it had. The appenders' results are marked
 * WARN_UNUSED_RESULT: each call checks, or says why it cannot fail
 * (buf_must_fit) or why a refusal does not matter (err_ignore). */
#ifndef BASE_BUF_H
#define BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "base/err.h"

struct buf {
  char *data;   /* owned; NULL until the first append */
  size_t len;   /* bytes used, not counting the terminating NUL */
  size_t cap;   /* bytes allocated */
  size_t limit; /* maximum len; 0 means BUF_DEFAULT_LIMIT */
};

/* 64 MiB: larger than anything the service accepts from outside. */
#define BUF_DEFAULT_LIMIT ((size_t)64 << 20)

/* Sets up an empty buffer that will never hold more than limit bytes
 * (0: BUF_DEFAULT_LIMIT). Allocates nothing. */
void buf_init(struct buf *b, size_t limit);
/* Frees the contents; the buffer is empty and reusable afterwards. */
void buf_cleanup(struct buf *b);
/* Forgets the contents but keeps the memory for reuse. */
void buf_reset(struct buf *b);

WARN_UNUSED_RESULT enum err buf_append(struct buf *b, const void *data,
                                       size_t len);
WARN_UNUSED_RESULT enum err buf_puts(struct buf *b, const char *s);
WARN_UNUSED_RESULT enum err buf_putc(struct buf *b, char c);
WARN_UNUSED_RESULT enum err buf_printf(struct buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
WARN_UNUSED_RESULT enum err buf_vprintf(struct buf *b, const char *fmt,
                                        va_list ap);

/* For writers that build a piece in place: room for up to n more bytes at
 * the end, to be kept with buf_grow; NULL (nothing changed) when b would
 * pass its limit. Valid until the next call that changes b. */
WARN_UNUSED_RESULT char *buf_room(struct buf *b, size_t n);
/* Keeps the first n bytes written into buf_room's room (n <= its n). */
void buf_grow(struct buf *b, size_t n);

/* For writers whose output is bounded by construction (every piece cut to
 * a fixed size, the whole far below the buffer's limit): a refused append
 * there is a bug, not bad input, so it aborts with a message, as xmalloc
 * does when memory runs out. Wraps the append: buf_must_fit(buf_puts(...)). */
void buf_must_fit(enum err rc);

/* Borrowed pointer to the contents ("" when empty); valid until the next
 * call that changes b. */
const char *buf_ptr(const struct buf *b);

/* Moves the contents to the caller (caller frees; never NULL) and leaves b
 * empty. */
WARN_UNUSED_RESULT char *buf_take(struct buf *b);

#endif
