/* json_scan: the strict JSON validator (see json_scan.h).
 *
 * One left-to-right pass; the first problem stops it. Strings, which hold
 * almost all the bytes of a typical text, are scanned sixteen bytes at a
 * time with SSE2 (all of x86-64), eight at a time otherwise, and the plain
 * case of a string is inlined at every call, since a call costs as much as
 * scanning a short string. Recursion follows the nesting and is bounded by
 * max_depth. */
#include "base/json_scan.h"

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#endif

#include "base/bits.h"
#include "base/utf8.h"

/* Where a scan is: the text, the caller's options and results, the high
 * bits of the string bytes read, or-ed (see plain_run). */
struct scanner {
  const char *s;
  size_t len;
  struct json_scan *sc;
  enum json_scan_problem problem;
  uint64_t high;
};

static bool fail(struct scanner *st, enum json_scan_problem p, size_t at)
{
  st->problem = p;
  st->sc->offset = at;
  return false;
}

/* A byte at i where something else was expected: a control character
 * (or the end of the text) says more than "syntax". */
static bool unexpected(struct scanner *st, size_t i)
{
  if (i < st->len && (unsigned char)st->s[i] < 0x20)
    return fail(st, JSON_SCAN_CONTROL, i);
  return fail(st, JSON_SCAN_SYNTAX, i);
}

static bool is_ws(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static inline void skip_ws(const char *s, size_t len, size_t *i)
{
  while (*i < len && is_ws(s[*i]))
    (*i)++;
}

/* The value of four hex digits, or UINT32_MAX when one is not a digit. */
static uint32_t hex4(const char *h)
{
  uint32_t v = 0;
  for (int k = 0; k < 4; k++) {
    char c = h[k];
    uint32_t d = c >= '0' && c <= '9'   ? (uint32_t)(c - '0')
                 : c >= 'a' && c <= 'f' ? (uint32_t)(c - 'a' + 10)
                 : c >= 'A' && c <= 'F' ? (uint32_t)(c - 'A' + 10)
                                        : 16u;
    if (d == 16)
      return UINT32_MAX;
    v = v << 4 | d;
  }
  return v;
}

#if !(defined(__SSE2__) && defined(__GNUC__))
/* The bytes of w below 0x20, '"' or '\\' have their high bit set in the
 * result (the classic "has a zero byte" test on w, and on w xor the two
 * quote-like bytes). It never misses one, and a false flag can only sit
 * above a true one, so the lowest flag is exact. */
static uint64_t special_bytes(uint64_t w)
{
  const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
  uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
  uint64_t hits =
      ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b);
  return hits & highs;
}
#endif

/* The offset in s[k..len) of the first byte below 0x20, '"' or '\\', or
 * len - k when there is none; ors the high bits of the bytes it passes (and
 * maybe a few past the one found: harmless, *high is only a hint) into
 * *high. Sixteen bytes at a time with SSE2, the last ones through a load
 * that ends at len, so nothing outside s is read; eight at a time
 * otherwise. */
static BITS_ALWAYS_INLINE size_t plain_run(const char *s, size_t len, size_t k,
                                           uint64_t *high)
{
  size_t from = k;
  uint64_t any = 0;
#if defined(__SSE2__) && defined(__GNUC__)
  if (len - k >= 16) {
    const __m128i below = _mm_set1_epi8(0x1F), quote = _mm_set1_epi8('"');
    const __m128i bslash = _mm_set1_epi8('\\');
    __m128i bytes = _mm_setzero_si128();
    size_t at = k;
    unsigned m = 0;
    for (;;) {
      __m128i v = _mm_loadu_si128((const __m128i *)(s + at));
      bytes = _mm_or_si128(bytes, v);
      /* min(v, 0x1F) == v: v <= 0x1F, unsigned */
      __m128i hit = _mm_or_si128(
          _mm_cmpeq_epi8(_mm_min_epu8(v, below), v),
          _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
      m = (unsigned)_mm_movemask_epi8(hit);
      if (m || len - at == 16)
        break;
      /* The next sixteen, or the last sixteen of s: they overlap the ones
       * just tested, whose bits are shifted out below. */
      k = at + 16;
      at = len - k >= 16 ? k : len - 16;
    }
    m >>= k - at;
    k = m ? k + (size_t)__builtin_ctz(m) : len;
    if (_mm_movemask_epi8(bytes))
      *high |= 0x80;
    return k - from;
  }
#else
  while (len - k >= 8) {
    uint64_t w;
    memcpy(&w, s + k, 8);
    any |= w;
    uint64_t hits = special_bytes(w);
#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                            \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (hits) {
      k += (size_t)__builtin_ctzll(hits) >> 3; /* the first one */
      break;
    }
#else
    if (hits)
      break;
#endif
    k += 8;
  }
#endif
  while (k < len && (unsigned char)s[k] >= 0x20 && s[k] != '"' && s[k] != '\\')
    any |= (unsigned char)s[k++];
  *high |= any;
  return k - from;
}

/* A string at s[*i] (on its opening quote) with escapes or a problem.
 * Moves *i past the closing quote; sets *escaped when it holds a
 * backslash. */
static bool scan_string_slow(struct scanner *st, size_t *i, bool *escaped)
{
  const char *s = st->s;
  size_t len = st->len, k = *i + 1;
  *escaped = false;
  for (;;) {
    k += plain_run(s, len, k, &st->high);
    if (k >= len)
      return fail(st, JSON_SCAN_BAD_STRING, *i + 1); /* no closing quote */
    if ((unsigned char)s[k] < 0x20)
      return fail(st, JSON_SCAN_CONTROL, k);
    if (s[k] == '"')
      break;
    *escaped = true;
    if (k + 1 >= len)
      return fail(st, JSON_SCAN_BAD_STRING, k);
    char e = s[k + 1];
    if (e == 'u') {
      uint32_t v = len - k >= 6 ? hex4(s + k + 2) : UINT32_MAX;
      if (v == 0)
        return fail(st, JSON_SCAN_NUL_ESCAPE, k);
      if (v >= 0xD800 && v <= 0xDBFF && len - k >= 12 && s[k + 6] == '\\' &&
          s[k + 7] == 'u') {
        uint32_t lo = hex4(s + k + 8); /* a surrogate pair */
        if (lo < 0xDC00 || lo > 0xDFFF)
          return fail(st, JSON_SCAN_BAD_STRING, k);
        k += 12;
        continue;
      }
      if (v > 0xFFFF || (v >= 0xD800 && v <= 0xDFFF))
        return fail(st, JSON_SCAN_BAD_STRING, k);
      k += 6;
    } else if (e && strchr("\"\\/bfnrt", e)) {
      k += 2;
    } else if ((unsigned char)e < 0x20) {
      return fail(st, JSON_SCAN_CONTROL, k + 1);
    } else {
      return fail(st, JSON_SCAN_BAD_STRING, k);
    }
  }
  *i = k + 1;
  return true;
}

/* scan_string_slow, with the usual case inline: plain bytes up to the
 * closing quote. */
static BITS_ALWAYS_INLINE bool scan_string(struct scanner *st, size_t *i,
                                           bool *escaped)
{
  size_t k = *i + 1;
  k += plain_run(st->s, st->len, k, &st->high);
  if (k < st->len && st->s[k] == '"') {
    *escaped = false;
    *i = k + 1;
    return true;
  }
  return scan_string_slow(st, i, escaped);
}

static bool is_number_char(char c)
{
  return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' ||
         c == 'e' || c == 'E';
}

static size_t digits(const char *s, size_t len, size_t k)
{
  while (k < len && s[k] >= '0' && s[k] <= '9')
    k++;
  return k;
}

/* A number at s[*i] ('-' or a digit). cJSON reads every character of
 * is_number_char as part of the number, so the whole run must be exactly
 * one number (RFC 8259 section 6). */
static bool scan_number(struct scanner *st, size_t *i)
{
  const char *s = st->s;
  size_t start = *i, run = start;
  while (run < st->len && is_number_char(s[run]))
    run++;
  size_t k = start;
  if (s[k] == '-')
    k++;
  if (k < run && s[k] == '0')
    k++;
  else if (k < run && s[k] >= '1' && s[k] <= '9')
    k = digits(s, run, k);
  else
    return fail(st, JSON_SCAN_BAD_NUMBER, start);
  if (k < run && s[k] == '.') {
    size_t d = k + 1;
    k = digits(s, run, d);
    if (k == d)
      return fail(st, JSON_SCAN_BAD_NUMBER, start);
  }
  if (k < run && (s[k] == 'e' || s[k] == 'E')) {
    k++;
    if (k < run && (s[k] == '+' || s[k] == '-'))
      k++;
    size_t d = k;
    k = digits(s, run, d);
    if (k == d)
      return fail(st, JSON_SCAN_BAD_NUMBER, start);
  }
  if (k != run)
    return fail(st, JSON_SCAN_BAD_NUMBER, start);
  if (run - start > st->sc->longest_number)
    st->sc->longest_number = run - start;
  *i = run;
  return true;
}

static bool scan_value(struct scanner *st, size_t *i, int depth, bool top);

/* An array or object at s[*i], entered with depth levels left; at the top
 * level, an object's members go to the caller's callback. */
static bool scan_container(struct scanner *st, size_t *i, int depth, bool top)
{
  const char *s = st->s;
  size_t len = st->len;
  char open = s[*i], close = open == '[' ? ']' : '}';
  json_member_fn member = top && open == '{' ? st->sc->member : NULL;
  if (depth <= 0)
    return fail(st, JSON_SCAN_TOO_DEEP, *i);
  (*i)++;
  skip_ws(s, len, i);
  if (*i < len && s[*i] == close) {
    (*i)++;
    return true;
  }
  for (;;) {
    struct json_member m;
    if (open == '{') {
      if (*i >= len || s[*i] != '"')
        return unexpected(st, *i);
      size_t key = *i;
      if (!scan_string(st, i, &m.key_escaped))
        return false;
      m.key = s + key + 1;
      m.key_len = *i - key - 2;
      skip_ws(s, len, i);
      if (*i >= len || s[*i] != ':')
        return unexpected(st, *i);
      (*i)++;
      skip_ws(s, len, i);
    }
    size_t value = *i;
    m.value_string = value < len && s[value] == '"';
    m.value_escaped = false;
    if (m.value_string) { /* the common case, inline */
      if (!scan_string(st, i, &m.value_escaped))
        return false;
    } else if (!scan_value(st, i, depth - 1, false)) {
      return false;
    }
    if (member) {
      m.value = s + value + m.value_string;
      m.value_len = *i - value - 2 * m.value_string;
      member(st->sc->ctx, &m);
    }
    skip_ws(s, len, i);
    if (*i < len && s[*i] == ',') {
      (*i)++;
      skip_ws(s, len, i);
      continue;
    }
    if (*i < len && s[*i] == close) {
      (*i)++;
      return true;
    }
    return unexpected(st, *i);
  }
}

/* One value at s[*i] (whitespace skipped), with depth levels left. */
static bool scan_value(struct scanner *st, size_t *i, int depth, bool top)
{
  const char *s = st->s;
  if (*i >= st->len)
    return unexpected(st, *i);
  char c = s[*i];
  bool escaped;
  switch (c) {
  case '"':
    return scan_string(st, i, &escaped);
  case 't':
  case 'f':
  case 'n': {
    const char *lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
    size_t n = strlen(lit);
    if (st->len - *i < n || memcmp(s + *i, lit, n) != 0)
      return unexpected(st, *i);
    *i += n;
    return true;
  }
  case '[':
  case '{':
    return scan_container(st, i, depth, top);
  default:
    if (c == '-' || (c >= '0' && c <= '9'))
      return scan_number(st, i);
    return unexpected(st, *i);
  }
}

enum json_scan_problem json_scan(const char *s, size_t len,
                                 struct json_scan *sc)
{
  struct scanner st = {.s = s, .len = len, .sc = sc};
  sc->offset = sc->end = sc->longest_number = 0;
  sc->non_ascii = false;
  size_t i = 0;
  skip_ws(s, len, &i);
  if (scan_value(&st, &i, sc->max_depth, true)) {
    sc->end = i;
    skip_ws(s, len, &i);
    if (i < len)
      (void)unexpected(&st, i);
  }
  sc->non_ascii = (st.high & 0x80) != 0;
  return st.problem;
}

const char *json_scan_problem_name(enum json_scan_problem p)
{
  switch (p) {
  case JSON_SCAN_OK:
    return "ok";
  case JSON_SCAN_TOO_DEEP:
    return "too_deep";
  case JSON_SCAN_CONTROL:
    return "control";
  case JSON_SCAN_NUL_ESCAPE:
    return "nul_escape";
  case JSON_SCAN_BAD_NUMBER:
    return "bad_number";
  case JSON_SCAN_BAD_STRING:
    return "bad_string";
  case JSON_SCAN_SYNTAX:
    return "syntax";
  }
  return "unknown";
}

enum err json_unescape(const char *s, size_t len, struct buf *out)
{
  buf_reset(out);
  size_t run = 0;
  for (;;) {
    const char *slash = memchr(s + run, '\\', len - run);
    if (!slash)
      break;
    size_t k = (size_t)(slash - s);
    if (buf_append(out, s + run, k - run))
      return ERR_TOO_BIG;
    char e = s[k + 1], c = e;
    switch (e) {
    case 'b':
      c = '\b';
      break;
    case 'f':
      c = '\f';
      break;
    case 'n':
      c = '\n';
      break;
    case 'r':
      c = '\r';
      break;
    case 't':
      c = '\t';
      break;
    case 'u': {
      char enc[4];
      uint32_t v = hex4(s + k + 2);
      k += 5;
      if (v >= 0xD800 && v <= 0xDBFF) {
        v = 0x10000 + ((v - 0xD800) << 10) + (hex4(s + k + 3) - 0xDC00);
        k += 6;
      }
      if (buf_append(out, enc, utf8_encode(v, enc)))
        return ERR_TOO_BIG;
      run = k + 1;
      continue;
    }
    default:
      break; /* '"', '\\', '/' */
    }
    if (buf_putc(out, c))
      return ERR_TOO_BIG;
    k++;
    run = k + 1;
  }
  return buf_append(out, s + run, len - run);
}
