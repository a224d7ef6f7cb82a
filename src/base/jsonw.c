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

/* Fast exact path for the common case (scores such as -0.35833): finds the
 * fewest decimals d for which n = round(|v| * 10^d) satisfies
 * n / 10^d == |v| in double arithmetic. n and 10^d are exact doubles
 * (n < 2^53, d <= 16) and IEEE division rounds correctly, so strtod of the
 * printed decimal gives back v exactly; no fewer decimals can. Returns 0
 * when the value is outside the range where this is cheaper. */
static size_t format_fixed(double v, char *out)
{
  static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,
                                 1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16};
  double a = fabs(v);
  if (!(a >= 1e-4 && a < 1e15))
    return 0;
  for (int d = 0; d <= 16; d++) {
    double scaled = a * pow10[d];
    if (scaled >= 9007199254740992.0) /* 2^53 */
      return 0;
    long long n = llround(scaled);
    if ((double)n / pow10[d] != a)
      continue;
    char digits[24];
    int len = snprintf(digits, sizeof digits, "%lld", n);
    size_t o = 0;
    if (v < 0)
      out[o++] = '-';
    int int_len = len - d;
    if (int_len <= 0) {
      out[o++] = '0';
    } else {
      memcpy(out + o, digits, (size_t)int_len);
      o += (size_t)int_len;
    }
    out[o++] = '.';
    if (d == 0) {
      out[o++] = '0';
    } else {
      for (int z = int_len; z < 0; z++)
        out[o++] = '0';
      int start = int_len > 0 ? int_len : 0;
      memcpy(out + o, digits + start, (size_t)(len - start));
      o += (size_t)(len - start);
    }
    out[o] = '\0';
    return o;
  }
  return 0;
}

size_t jsonw_format_double(double v, char *out)
{
  if (!isfinite(v)) {
    memcpy(out, "null", 5);
    return 4;
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
