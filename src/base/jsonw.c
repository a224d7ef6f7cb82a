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

/* Writes into esc (room for 6) the escape of c, a byte JSON strings may
 * not hold as it is (below 0x20, '"' or '\\'); returns its length. */
static size_t escape_byte(unsigned char c, char *esc)
{
  static const char hex[] = "0123456789abcdef";
  esc[0] = '\\';
  switch (c) {
  case '"': esc[1] = '"'; return 2;
  case '\\': esc[1] = '\\'; return 2;
  case '\n': esc[1] = 'n'; return 2;
  case '\r': esc[1] = 'r'; return 2;
  case '\t': esc[1] = 't'; return 2;
  case '\b': esc[1] = 'b'; return 2;
  case '\f': esc[1] = 'f'; return 2;
  default:
    memcpy(esc + 1, "u00", 3);
    esc[4] = hex[c >> 4];
    esc[5] = hex[c & 15];
    return 6;
  }
}

static bool plain_byte(unsigned char c)
{
  return c >= 0x20 && c != '"' && c != '\\';
}

static bool plain_8(const char *s)
{
  uint64_t x;
  memcpy(&x, s, sizeof x);
  return jsonw_plain_8(x);
}

/* The first byte at or after s[i] that needs escaping, or len: eight
 * plain bytes at a time, then byte by byte. */
static size_t next_escape(const char *s, size_t len, size_t i)
{
  for (;;) {
    while (len - i >= 8 && plain_8(s + i))
      i += 8;
    /* Fewer than eight bytes left (those before i are plain): the last
     * eight, read at once, are most often plain too. */
    if (len - i < 8 && len >= 8 && plain_8(s + len - 8))
      return len;
    if (i == len || !plain_byte((unsigned char)s[i]))
      return i;
    i++;
  }
}

enum err jsonw_escape(struct buf *out, const char *s, size_t len)
{
  enum err rc = buf_putc(out, '"');
  for (size_t i = 0; i < len && !rc;) {
    size_t e = next_escape(s, len, i);
    rc = buf_append(out, s + i, e - i);
    if (rc || e == len)
      break;
    char esc[6];
    rc = buf_append(out, esc, escape_byte((unsigned char)s[e], esc));
    i = e + 1;
  }
  if (!rc)
    rc = buf_putc(out, '"');
  return rc;
}

size_t jsonw_escape_into(char *out, const char *s, size_t len)
{
  size_t o = 0;
  out[o++] = '"';
  for (size_t i = 0; i < len;) {
    size_t e = next_escape(s, len, i);
    memcpy(out + o, s + i, e - i);
    o += e - i;
    if (e == len)
      break;
    o += escape_byte((unsigned char)s[e], out + o);
    i = e + 1;
  }
  out[o++] = '"';
  return o;
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
 * - |v| = m * 2^e exactly (m < 2^53). With the decimal exponent x
 *   (10^x <= |v| < 10^(x+1)) and d = 16 - x, |v| * 10^d = m * 5^d *
 *   2^(d+e); m * 5^d < 2^100 fits in 128 bits and 2^(d+e) is a shift, so
 *   Q = floor(|v| * 10^d), the 17 leading digits, and whether anything
 *   is left below them are exact.
 * - The P-digit rounding, half to even as glibc's printf does, follows
 *   from Q alone: with k = 17 - P dropped digits r = Q mod 10^k, the
 *   fraction dropped is (r + f) / 10^k with 0 <= f < 1 exact, so it is
 *   above one half iff r > 10^k / 2, or r == 10^k / 2 and f > 0; a tie iff
 *   r == 10^k / 2 and f == 0.
 * - Whether n / 10^d' reads back as v (strtod rounds correctly) is an
 *   exact integer comparison against half the gap to v's neighbours
 *   (reads_back). 17 digits always read back, so P = 17 needs no test.
 *
 * Values outside [1e-4, 1e14), where %g may switch to exponent notation,
 * are left to the reference. Returns 0 then. */
#if defined(__SIZEOF_INT128__)
__extension__ typedef unsigned __int128 u128;

static const uint64_t ipow10[] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
    10000000ull, 100000000ull, 1000000000ull, 10000000000ull, 100000000000ull,
    1000000000000ull, 10000000000000ull, 100000000000000ull,
    1000000000000000ull, 10000000000000000ull, 100000000000000000ull};

/* Rounds q = floor(a * 10^d) + f (0 <= f < 1, f > 0 iff inexact) to
 * 17 - drop digits: the result and its d. Returns the digit count. */
static uint64_t round_drop(uint64_t q, bool inexact, int drop, int *d)
{
  uint64_t div = ipow10[drop], half = div / 2;
  uint64_t n = q / div, r = q - n * div;
  if (r > half || (r == half && (inexact || (n & 1))))
    n++;
  *d -= drop;
  if (n == ipow10[17 - drop]) { /* 9.99...5 rounded up to 10.0...0 */
    n /= 10;
    (*d)--;
  }
  return n;
}

/* Whether the decimal n * 10^-nd rounds to a = m * 2^e, given
 * big / 2^shift = a * 10^d: the nearest doubles are a +- 2^e (a - 2^(e-1)
 * below when m = 2^52), so in units of 2^-shift * 10^(d-nd) the decimal
 * must lie within 5^d / 2 (5^d / 4 below a power of two). 5^d is odd, so
 * there is never a tie. Exact, unlike dividing n by 10^nd in doubles once
 * n passes 2^53. */
static bool reads_back(uint64_t n, int nd, u128 big, int shift, int d,
                       uint64_t m)
{
  static const uint64_t pow5[] = {1ull, 5ull, 25ull, 125ull, 625ull,
                                  3125ull, 15625ull, 78125ull, 390625ull,
                                  1953125ull, 9765625ull, 48828125ull,
                                  244140625ull, 1220703125ull,
                                  6103515625ull, 30517578125ull,
                                  152587890625ull, 762939453125ull,
                                  3814697265625ull, 19073486328125ull,
                                  95367431640625ull};
  u128 scaled = ((u128)n * ipow10[d - nd]) << shift; /* n*10^(d-nd)*2^shift */
  u128 five = pow5[d];
  if (scaled >= big)
    return (scaled - big) * 2 < five;
  if (m == (1ull << 52))
    return (big - scaled) * 4 < five;
  return (big - scaled) * 2 < five;
}

static size_t format_fixed(double v, char *out)
{
  static const uint64_t pow5[] = { /* 5^0 .. 5^22 < 2^52 */
      1ull, 5ull, 25ull, 125ull, 625ull, 3125ull, 15625ull, 78125ull,
      390625ull, 1953125ull, 9765625ull, 48828125ull, 244140625ull,
      1220703125ull, 6103515625ull, 30517578125ull, 152587890625ull,
      762939453125ull, 3814697265625ull, 19073486328125ull,
      95367431640625ull, 476837158203125ull, 2384185791015625ull};
  double a = fabs(v);
  if (!(a >= 1e-4 && a < 1e14))
    return 0;
  uint64_t bits;
  memcpy(&bits, &a, sizeof bits);
  int be = (int)(bits >> 52); /* normal here: a >= 1e-4 */
  uint64_t m = (bits & ((1ull << 52) - 1)) | (1ull << 52);
  int e = be - 1075; /* a = m * 2^e, -66 <= e <= -6 here */
  /* 2^(be-1023) <= a < 2^(be-1022): x is about (be - 1023) * log10(2)
   * (78913 / 2^18); the exact digit count below corrects it. */
  int x = ((be - 1023) * 78913 + (64 << 18)) / (1 << 18) - 64; /* floor */
  int d = 0, shift = 0;
  u128 big = 0;
  uint64_t q = 0;
  for (int tries = 0;; tries++) {
    if (tries == 3)
      return 0;
    d = 16 - x;
    if (d < 0 || d > 22)
      return 0;
    big = (u128)m * pow5[d];
    shift = -(d + e); /* 3 <= shift <= 46 in this range */
    if (shift <= 0 || shift >= 64)
      return 0;
    q = (uint64_t)(big >> shift); /* floor(a * 10^d) */
    if (q >= ipow10[17])
      x++;
    else if (q < ipow10[16])
      x--;
    else
      break; /* 17 digits: x is right */
  }
  bool inexact = (big & (((u128)1 << shift) - 1)) != 0;
  uint64_t n = 0;
  int nd = d;
  for (int drop = 2; drop >= 0; drop--) {
    nd = d;
    if (drop == 0) {
      u128 rem = big & (((u128)1 << shift) - 1);
      u128 half = (u128)1 << (shift - 1);
      n = q;
      if (rem > half || (rem == half && (n & 1)))
        n++;
      if (n == ipow10[17]) {
        n /= 10;
        nd--;
      }
      break;
    }
    n = round_drop(q, inexact, drop, &nd);
    if (reads_back(n, nd, big, shift, d, m))
      break;
  }
  d = nd;
  /* %g: drop trailing zeros of the fraction. */
  while (d > 0 && n % 10 == 0) {
    n /= 10;
    d--;
  }
  static const char pairs[201] =
      "0001020304050607080910111213141516171819"
      "2021222324252627282930313233343536373839"
      "4041424344454647484950515253545556575859"
      "6061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";
  char buf[20];
  char *p = buf + sizeof buf; /* the digits of n, most significant first */
  while (n >= 100) {
    uint64_t r = n % 100;
    n /= 100;
    p -= 2;
    memcpy(p, pairs + 2 * r, 2);
  }
  if (n >= 10) {
    p -= 2;
    memcpy(p, pairs + 2 * n, 2);
  } else {
    *--p = (char)('0' + n);
  }
  int len = (int)(buf + sizeof buf - p);
  size_t o = 0;
  if (v < 0)
    out[o++] = '-';
  int int_len = len - d; /* digits before the point */
  if (int_len <= 0) {
    memcpy(out + o, "0.0000", 2 + (size_t)-int_len); /* -int_len <= 4 */
    o += 2 + (size_t)-int_len;
    memcpy(out + o, p, (size_t)len);
    o += (size_t)len;
  } else {
    memcpy(out + o, p, (size_t)int_len);
    o += (size_t)int_len;
    out[o++] = '.';
    if (d == 0) {
      out[o++] = '0'; /* "2.0": Python writes floats with a point */
    } else {
      memcpy(out + o, p + int_len, (size_t)d);
      o += (size_t)d;
    }
  }
  out[o] = '\0';
  return o;
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

/* From 0.001 up to 10^9 the shortest decimal of k / 1000 (k = round(v *
 * 1000), an integer) is k / 1000 written out, trailing zeros dropped: at
 * most 12 significant digits, which a double always reads back. Other
 * values go the general way. */
size_t jsonw_format_milli(double v, char *out)
{
  double k = round(v * 1000);
  if (!(k >= 1 && k < 1e12))
    return jsonw_format_double(k / 1000, out);
  uint64_t n = (uint64_t)k, ip = n / 1000;
  unsigned frac = (unsigned)(n % 1000);
  char digits[24];
  size_t nd = 0, o = 0;
  do {
    digits[nd++] = (char)('0' + ip % 10);
    ip /= 10;
  } while (ip);
  while (nd)
    out[o++] = digits[--nd];
  out[o++] = '.';
  out[o++] = (char)('0' + frac / 100);
  if (frac % 100) {
    out[o++] = (char)('0' + frac / 10 % 10);
    if (frac % 10)
      out[o++] = (char)('0' + frac % 10);
  }
  out[o] = '\0';
  return o;
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

void jsonw_kv_string(struct jsonw *w, const char *key, const char *s)
{
  jsonw_key(w, key);
  jsonw_string(w, s);
}

void jsonw_kv_text(struct jsonw *w, const char *key, const char *s)
{
  jsonw_key(w, key);
  if (s && *s)
    jsonw_string(w, s);
  else
    jsonw_null(w);
}

void jsonw_kv_double(struct jsonw *w, const char *key, double v)
{
  jsonw_key(w, key);
  jsonw_double(w, v);
}

void jsonw_kv_milli(struct jsonw *w, const char *key, double v)
{
  char tmp[40];
  size_t n = jsonw_format_milli(v, tmp);
  jsonw_key(w, key);
  before_value(w);
  put(w, tmp, n);
}

void jsonw_kv_int(struct jsonw *w, const char *key, int64_t v)
{
  jsonw_key(w, key);
  jsonw_int(w, v);
}

void jsonw_kv_bool(struct jsonw *w, const char *key, bool v)
{
  jsonw_key(w, key);
  jsonw_bool(w, v);
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
