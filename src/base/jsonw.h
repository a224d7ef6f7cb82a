/* jsonw: a small streaming JSON writer into a struct buf.
 *
 * The caller emits values in order; the writer inserts commas and escapes
 * strings. Doubles are written in the shortest form that reads back to the
 * same value (like Python's repr); NaN and infinities become null. Nesting is
 * limited to JSONW_MAX_DEPTH. Errors (buffer limit) are sticky: check
 * jsonw_error once at the end. */
#ifndef BASE_JSONW_H
#define BASE_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define JSONW_MAX_DEPTH 64

struct jsonw {
  struct buf *out;                    /* borrowed */
  int depth;
  bool need_comma[JSONW_MAX_DEPTH + 1];
  bool after_key;
  enum err error;
};

void jsonw_init(struct jsonw *w, struct buf *out);
void jsonw_object_begin(struct jsonw *w);
void jsonw_object_end(struct jsonw *w);
void jsonw_array_begin(struct jsonw *w);
void jsonw_array_end(struct jsonw *w);
/* Writes a key inside an object; the next call writes its value. */
void jsonw_key(struct jsonw *w, const char *key);
void jsonw_string(struct jsonw *w, const char *s);
void jsonw_string_len(struct jsonw *w, const char *s, size_t len);
void jsonw_double(struct jsonw *w, double v);
void jsonw_int(struct jsonw *w, int64_t v);
void jsonw_bool(struct jsonw *w, bool v);
void jsonw_null(struct jsonw *w);
/* Inserts already-encoded JSON text as one value. */
void jsonw_raw(struct jsonw *w, const char *json, size_t len);

/* A key and its value in one call, for objects written field by field.
 * jsonw_kv_string writes null for s NULL; jsonw_kv_text also for "" (an
 * empty field that means "none"). */
void jsonw_kv_string(struct jsonw *w, const char *key, const char *s);
void jsonw_kv_text(struct jsonw *w, const char *key, const char *s);
void jsonw_kv_double(struct jsonw *w, const char *key, double v);
/* key, then v rounded to three decimals (as jsonw_format_milli writes it):
 * reasons' weights, durations. */
void jsonw_kv_milli(struct jsonw *w, const char *key, double v);
void jsonw_kv_int(struct jsonw *w, const char *key, int64_t v);
void jsonw_kv_bool(struct jsonw *w, const char *key, bool v);
/* ERR_OK, or the first error met (ERR_TOO_BIG, ERR_INVALID). */
enum err jsonw_error(const struct jsonw *w);

/* Appends s as a JSON string literal (with quotes) to out. Bytes >= 0x80
 * are copied as they are (the caller guarantees UTF-8); control characters
 * are escaped. */
enum err jsonw_escape(struct buf *out, const char *s, size_t len);

/* jsonw_escape into out, which has room for 6 * len + 2 bytes (the worst
 * case); returns the length written. For writers that build a line in
 * place. */
size_t jsonw_escape_into(char *out, const char *s, size_t len);

/* Are the eight bytes of x (as loaded from memory) all plain, left as
 * they are inside a JSON string? None below 0x20 (a borrow from a byte
 * that is flags it; the bytes after a flagged one may be flagged wrongly,
 * which only makes the answer no), '"' or '\\' (zero bytes of x ^
 * those). Never yes when a byte is not plain, on any byte order. */
static inline bool jsonw_plain_8(uint64_t x)
{
  const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
  uint64_t q = x ^ ones * '"', b = x ^ ones * '\\';
  uint64_t bad =
      ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b);
  return !(bad & high);
}

/* Formats v into out (room for 32 bytes) as the shortest decimal that
 * round-trips; returns the length. Non-finite values give "null". */
size_t jsonw_format_double(double v, char *out);

/* Formats v rounded to three decimals into out (room for 32 bytes), the
 * same bytes as jsonw_format_double(round(v * 1000) / 1000), faster for
 * the values reasons' weights take; returns the length. */
size_t jsonw_format_milli(double v, char *out);

#endif
