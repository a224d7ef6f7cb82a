/* jsonw: streaming JSON writer. Keeps only a comma flag per nesting level,
 * so writing allocates nothing beyond the output buffer's growth. */
#include "base/jsonw.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jsonw_init(struct jsonw *w, struct buf *out)
{
  memset(w, 0, sizeof *w);
  w->out = out;
}

static void put(struct jsonw *w, const char *s, size_t len)
{
  if (w->error)
    return;
  enum err rc = buf_append(w->out, s, len);
  if (rc)
    w->error = rc;
}

/* Emits the separator a new value needs at the current level. */
static void before_value(struct jsonw *w)
{
  if (w->after_key) {
    w->after_key = false;
    return;
  }
  if (w->need_comma[w->depth])
    put(w, ",", 1);
  w->need_comma[w->depth] = true;
}

static void open(struct jsonw *w, char c)
{
  before_value(w);
  put(w, &c, 1);
  if (w->depth >= JSONW_MAX_DEPTH) {
    w->error = ERR_TOO_DEEP;
    return;
  }
  w->depth++;
  w->need_comma[w->depth] = false;
}

static void close_(struct jsonw *w, char c)
{
  if (w->depth > 0)
    w->depth--;
  put(w, &c, 1);
}

void jsonw_object_begin(struct jsonw *w) { open(w, '{'); }
void jsonw_object_end(struct jsonw *w) { close_(w, '}'); }
void jsonw_array_begin(struct jsonw *w) { open(w, '['); }
void jsonw_array_end(struct jsonw *w) { close_(w, ']'); }

enum err jsonw_escape(struct buf *out, const char *s, size_t len)
{
  static const char hex[] = "0123456789abcdef";
  enum err rc = buf_putc(out, '"');
  size_t run = 0; /* start of the pending run of plain bytes */
  for (size_t i = 0; i < len && !rc; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    rc = buf_append(out, s + run, i - run);
    run = i + 1;
    if (rc)
      break;
    char esc[7] = {'\\', 0};
    size_t n = 2;
    switch (c) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    case '\b': esc[1] = 'b'; break;
    case '\f': esc[1] = 'f'; break;
    default:
      esc[1] = 'u';
      esc[2] = '0';
      esc[3] = '0';
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      n = 6;
    }
    rc = buf_append(out, esc, n);
  }
  if (!rc)
    rc = buf_append(out, s + run, len - run);
  if (!rc)
    rc = buf_putc(out, '"');
  return rc;
}

void jsonw_key(struct jsonw *w, const char *key)
{
  before_value(w);
  if (!w->error) {
    enum err rc = jsonw_escape(w->out, key, strlen(key));
    if (rc)
      w->error = rc;
  }
  put(w, ":", 1);
  w->after_key = true;
}

void jsonw_string_len(struct jsonw *w, const char *s, size_t len)
{
  before_value(w);
  if (w->error)
    return;
  enum err rc = jsonw_escape(w->out, s, len);
  if (rc)
    w->error = rc;
}

void jsonw_string(struct jsonw *w, const char *s)
{
  if (!s) {
    jsonw_null(w);
    return;
  }
  jsonw_string_len(w, s, strlen(s));
}

/* Fast exact path for the common case (scores such as -0.35833 or
 * 0.30000000000000004). It produces exactly what the reference below
 * produces, "%.Pg" for the first P in 15, 16, 17 that reads back as v,
 * without printf or strtod:
 *
 * - |v| = m * 2^e exactly (m < 2^53). For P significant digits and a
 *   decimal exponent x, |v| * 10^d with d = P - 1 - x equals m * 5^d *
 *   2^(d+e); m * 5^d < 2^105 fits in 128 bits and 2^(d+e) is a shift, so
 *   n = round(|v| * 10^d) is computed exactly, rounding half to even as
 *   glibc's printf does.
 * - n / 10^d reads back as v iff (double)n / 1e d == v: both n < 2^53 and
 *   10^d (d <= 22) are exact doubles and IEEE division rounds correctly,
 *   which is what strtod does with the decimal. 17 digits always read
 *   back, so P = 17 needs no test.
 *
 * Values outside [1e-4, 1e14), where %g may switch to exponent notation,
 * and the rare 16-digit n above 2^53 are left to the reference. Returns 0
 * then. */
#if defined(__SIZEOF_INT128__)
__extension__ typedef unsigned __int128 u128;

static size_t format_fixed(double v, char *out)
{
  static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,
                                 1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
                                 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
                                 1e21, 1e22};
  static const uint64_t ipow10[] = {
      1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
      10000000ull, 100000000ull, 1000000000ull, 10000000000ull, 100000000000ull,
      1000000000000ull, 10000000000000ull, 100000000000000ull,
      1000000000000000ull, 10000000000000000ull, 100000000000000000ull};
  static const uint64_t pow5[] = { /* 5^0 .. 5^22 < 2^52 */
      1ull, 5ull, 25ull, 125ull, 625ull, 3125ull, 15625ull, 78125ull,
      390625ull, 1953125ull, 9765625ull, 48828125ull, 244140625ull,
      1220703125ull, 6103515625ull, 30517578125ull, 152587890625ull,
      762939453125ull, 3814697265625ull, 19073486328125ull,
      95367431640625ull, 476837158203125ull, 2384185791015625ull};
  double a = fabs(v);
  if (!(a >= 1e-4 && a < 1e14))
    return 0;
  int e2;
  double frac = frexp(a, &e2); /* a = frac * 2^e2, frac in [0.5, 1) */
  uint64_t m = (uint64_t)ldexp(frac, 53);
  int e = e2 - 53; /* a = m * 2^e, -67 <= e < -6 here */
  /* Estimate of the decimal exponent x (10^x <= a < 10^(x+1)), off by at
   * most one; the loop below corrects it from the exact digits. */
  int x = -4;
  while (x < 13 && (x + 1 < 0 ? a * pow10[-(x + 1)] >= 1.0 : a >= pow10[x + 1]))
    x++;
  for (int p = 15; p <= 17; p++) {
    uint64_t n = 0;
    int d = 0;
    bool done = false;
    for (int tries = 0; tries < 4 && !done; tries++) {
      d = p - 1 - x;
      if (d < 0 || d > 22)
        return 0;
      u128 big = (u128)m * pow5[d];
      int shift = -(d + e); /* > 0 in this range */
      if (shift <= 0 || shift >= 128)
        return 0;
      u128 q = big >> shift; /* floor(a * 10^d), exact */
      if (q >= ipow10[p]) {
        x++;
        continue;
      }
      if (q < ipow10[p - 1]) {
        x--;
        continue;
      }
      u128 rem = big - (q << shift);
      u128 half = (u128)1 << (shift - 1);
      if (rem > half || (rem == half && (q & 1)))
        q++;
      n = (uint64_t)q;
      if (n == ipow10[p]) { /* 9.99...5 rounded up to 10.0...0 */
        n /= 10;
        d--;
      }
      done = true;
    }
    if (!done)
      return 0;
    if (p < 17) {
      if (n >= (1ull << 53))
        return 0;
      if ((double)n / pow10[d] != a)
        continue;
    }
    /* %g: drop trailing zeros of the fraction. */
    while (d > 0 && n % 10 == 0) {
      n /= 10;
      d--;
    }
    char digits[24];
    int len = 0;
    do {
      digits[len++] = (char)('0' + n % 10);
      n /= 10;
    } while (n);
    size_t o = 0;
    if (v < 0)
      out[o++] = '-';
    int int_len = len - d; /* digits before the point */
    if (int_len <= 0) {
      out[o++] = '0';
    } else {
      for (int k = 0; k < int_len; k++)
        out[o++] = digits[len - 1 - k];
    }
    out[o++] = '.';
    if (d == 0) {
      out[o++] = '0'; /* "2.0": Python writes floats with a point */
    } else {
      for (int z = int_len; z < 0; z++)
        out[o++] = '0';
      for (int k = (int_len > 0 ? int_len : 0); k < len; k++)
        out[o++] = digits[len - 1 - k];
    }
    out[o] = '\0';
    return o;
  }
  return 0;
}
#else
static size_t format_fixed(double v, char *out)
{
  (void)v;
  (void)out;
  return 0;
}
#endif

size_t jsonw_format_double(double v, char *out)
{
  if (!isfinite(v)) {
    memcpy(out, "null", 5);
    return 4;
  }
  if (v == 0.0) { /* the score of every neutral text */
    size_t n = signbit(v) ? 4 : 3;
    memcpy(out, signbit(v) ? "-0.0" : "0.0", n + 1);
    return n;
  }
  size_t fast = format_fixed(v, out);
  if (fast)
    return fast;
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(out, 32, "%.*g", prec, v);
    if (strtod(out, NULL) == v)
      break;
  }
  /* Keep a decimal point or exponent so the value reads back as a float,
   * as Python's json module writes 0.0 rather than 0. */
  if (!strpbrk(out, ".eEn")) {
    memcpy(out + n, ".0", 3);
    n += 2;
  }
  return (size_t)n;
}

void jsonw_double(struct jsonw *w, double v)
{
  char tmp[40];
  size_t n = jsonw_format_double(v, tmp);
  before_value(w);
  put(w, tmp, n);
}

void jsonw_int(struct jsonw *w, int64_t v)
{
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
  before_value(w);
  put(w, tmp, (size_t)n);
}

void jsonw_bool(struct jsonw *w, bool v)
{
  before_value(w);
  if (v)
    put(w, "true", 4);
  else
    put(w, "false", 5);
}

void jsonw_null(struct jsonw *w)
{
  before_value(w);
  put(w, "null", 4);
}

void jsonw_raw(struct jsonw *w, const char *json, size_t len)
{
  before_value(w);
  put(w, json, len);
}

enum err jsonw_error(const struct jsonw *w)
{
  return w->error;
}
