/* Unit tests of base/: buf limits, UTF-8 validation and cuts, the clock,
 * the JSON writer. */
#include "harness.h"

#include <time.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/jsonw.h"
#include "base/utf8.h"

static void buf_grows_and_takes(void)
{
  struct buf b;
  buf_init(&b, 0);
  CHECK_STR(buf_ptr(&b), "");
  for (int i = 0; i < 1000; i++)
    CHECK_INT(buf_puts(&b, "ab"), ERR_OK);
  CHECK_INT(b.len, 2000);
  CHECK_INT(buf_printf(&b, "%d-%s", 42, "x"), ERR_OK);
  CHECK_STR(buf_ptr(&b) + 2000, "42-x");
  char *s = buf_take(&b);
  CHECK_INT(strlen(s), 2004);
  CHECK_INT(b.len, 0);
  free(s);
  buf_cleanup(&b);
}

static void buf_refuses_past_limit(void)
{
  struct buf b;
  buf_init(&b, 10);
  CHECK_INT(buf_puts(&b, "0123456789"), ERR_OK);
  CHECK_INT(buf_putc(&b, 'x'), ERR_TOO_BIG);
  CHECK_INT(buf_printf(&b, "%s", "long text"), ERR_TOO_BIG);
  CHECK_STR(buf_ptr(&b), "0123456789");
  buf_cleanup(&b);
}

static void utf8_cut_on_boundaries(void)
{
  /* "a", e-acute (2 bytes), a curly quote (3), an emoji (4, 2 UTF-16). */
  const char *s = "a\xc3\xa9\xe2\x80\x9c\xf0\x9f\x98\xa1" "b";
  size_t len = strlen(s);
  CHECK_INT(utf8_cut(s, len, 0), 0);
  CHECK_INT(utf8_cut(s, len, 1), 1);
  CHECK_INT(utf8_cut(s, len, 2), 3);
  CHECK_INT(utf8_cut(s, len, 3), 6);
  CHECK_INT(utf8_cut(s, len, 4), 6); /* the emoji needs two units */
  CHECK_INT(utf8_cut(s, len, 5), 10);
  CHECK_INT(utf8_cut(s, len, 6), len);
  CHECK_INT(utf8_cut(s, len, 100), len);
  /* Invalid bytes count one each and are kept whole. */
  CHECK_INT(utf8_cut("\xff\xfe", 2, 1), 1);
  /* Every cut of every prefix is a boundary: what is kept is valid. */
  for (size_t max = 0; max < 8; max++)
    for (size_t n = 0; n <= len; n++)
      CHECK(utf8_is_valid(s, utf8_cut(s, n, max)) || !utf8_is_valid(s, n));
}

static void utf8_cut_bytes_on_boundaries(void)
{
  /* "a", e-acute (2 bytes), a curly quote (3), an emoji (4), "b": the
   * characters end at bytes 1, 3, 6, 10 and 11. */
  const char *s = "a\xc3\xa9\xe2\x80\x9c\xf0\x9f\x98\xa1" "b";
  size_t len = strlen(s);
  static const size_t want[] = {0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10, 11};
  for (size_t max = 0; max <= len; max++)
    CHECK_INT(utf8_cut_bytes(s, len, max), want[max]);
  CHECK_INT(utf8_cut_bytes(s, len, 100), len);
  /* Only the byte at the cut is looked at: a prefix that fits is whole,
   * even when it ends inside a character. */
  CHECK_INT(utf8_cut_bytes(s, 2, 2), 2);
  CHECK_INT(utf8_cut_bytes(s, 2, 1), 1);
  /* Invalid lead bytes are kept as they are. */
  CHECK_INT(utf8_cut_bytes("\xff\xfe", 2, 1), 1);
  /* Every cut of valid text keeps valid text. */
  for (size_t max = 0; max <= len; max++)
    for (size_t n = 0; n <= len; n++)
      if (utf8_is_valid(s, n))
        CHECK(utf8_is_valid(s, utf8_cut_bytes(s, n, max)));
}

static void clock_formats_rfc3339(void)
{
  char out[32];
  clock_format_rfc3339(1700000000123LL, out);
  CHECK_STR(out, "2023-11-14T22:13:20.123Z");
  clock_format_rfc3339(0, out);
  CHECK_STR(out, "1970-01-01T00:00:00.000Z");
  clock_format_rfc3339(-5, out);
  CHECK_STR(out, "1970-01-01T00:00:00.000Z");
  clock_format_rfc3339(1709251199999LL, out); /* leap day, last ms */
  CHECK_STR(out, "2024-02-29T23:59:59.999Z");
}

static void clock_reads_and_deadlines(void)
{
  /* Monotonic time does not go back; the two units agree. */
  uint64_t ns0 = clock_mono_ns();
  int64_t ms = clock_mono_ms();
  uint64_t ns1 = clock_mono_ns();
  CHECK(ns1 >= ns0);
  CHECK((uint64_t)ms >= ns0 / 1000000u && (uint64_t)ms <= ns1 / 1000000u);
  /* Wall-clock milliseconds match the real-time clock. Not time(): glibc
   * reads it from the coarse clock, which may still show the previous
   * second just after a second begins. */
  struct timespec w0, w1;
  clock_gettime(CLOCK_REALTIME, &w0);
  int64_t wall = clock_wall_ms();
  clock_gettime(CLOCK_REALTIME, &w1);
  CHECK(wall >= (int64_t)w0.tv_sec * 1000 + w0.tv_nsec / 1000000 &&
        wall <= (int64_t)w1.tv_sec * 1000 + w1.tv_nsec / 1000000);
  /* A deadline is normalized (nanoseconds below a second) and lies the
   * given time ahead, also when it carries whole seconds. */
  static const uint64_t aheads[] = {0, 1, 999999999u, 1000000000u,
                                    1500000000u, 5999999999u};
  for (size_t i = 0; i < sizeof aheads / sizeof aheads[0]; i++) {
    uint64_t before = clock_mono_ns();
    struct timespec d = clock_deadline(CLOCK_MONOTONIC, aheads[i]);
    uint64_t after = clock_mono_ns();
    CHECK(d.tv_nsec >= 0 && d.tv_nsec < 1000000000);
    uint64_t at = (uint64_t)d.tv_sec * 1000000000u + (uint64_t)d.tv_nsec;
    CHECK(at >= before + aheads[i] && at <= after + aheads[i]);
  }
  struct timespec w = clock_deadline(CLOCK_REALTIME, 2000000000u);
  CHECK((int64_t)w.tv_sec >= (int64_t)w0.tv_sec + 2);
  CHECK(w.tv_nsec >= 0 && w.tv_nsec < 1000000000);
}

static void utf8_validation(void)
{
  CHECK(utf8_is_valid("", 0));
  CHECK(utf8_is_valid("plain", 5));
  CHECK(utf8_is_valid("caf\xc3\xa9 \xe2\x80\x9c\xf0\x9f\x98\xa1", 13));
  CHECK(utf8_is_valid("a\0b", 3));
  CHECK(!utf8_is_valid("\xc3", 1));               /* truncated */
  CHECK(!utf8_is_valid("\xc0\xaf", 2));           /* overlong */
  CHECK(!utf8_is_valid("\xed\xa0\x80", 3));       /* surrogate */
  CHECK(!utf8_is_valid("\xf4\x90\x80\x80", 4));   /* > U+10FFFF */
  CHECK(!utf8_is_valid("\xff", 1));
  CHECK(!utf8_is_valid("ok\x80", 3));             /* lone continuation */
  char out[4];
  CHECK_INT(utf8_encode(0x1F621, out), 4);
  uint32_t cp = 0;
  CHECK_INT(utf8_decode(out, 4, &cp), 4);
  CHECK_INT(cp, 0x1F621);
}

/* jsonw_escape_into writes what jsonw_escape appends, byte for byte. */
static void jsonw_escape_into_matches_escape(void)
{
  static const char *const cases[] = {
      "", "plain text, longer than eight bytes", "q\"uote\\back",
      "\n\r\t\b\f\x01\x1f", "caf\xc3\xa9 \xf0\x9f\x98\x80 \"tail\"",
      "0123456789abcdef\x7f\"", "\"\"\"\"\"\"\"\"\""};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    const char *c = cases[k];
    size_t len = strlen(c);
    struct buf b;
    buf_init(&b, 0);
    CHECK_INT(jsonw_escape(&b, c, len), ERR_OK);
    char out[6 * 64 + 2];
    size_t n = jsonw_escape_into(out, c, len);
    CHECK_INT(n, b.len);
    CHECK(n == b.len && !memcmp(out, buf_ptr(&b), n));
    buf_cleanup(&b);
  }
}

/* JSON's escaping of one byte, written plainly: the reference. */
static size_t escape_ref(const char *s, size_t len, char *out)
{
  size_t o = 0;
  out[o++] = '"';
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c == '\n') {
      o += (size_t)sprintf(out + o, "\\n");
    } else if (c < 0x20 && c != '\r' && c != '\t' && c != '\b' &&
               c != '\f') {
      o += (size_t)sprintf(out + o, "\\u%04x", c);
    } else if (c < 0x20) {
      out[o++] = '\\';
      out[o++] = c == '\r' ? 'r' : c == '\t' ? 't' : c == '\b' ? 'b' : 'f';
    } else {
      out[o++] = (char)c;
    }
  }
  out[o++] = '"';
  return o;
}

/* One byte that needs escaping, or none, at every place of texts of 1 to
 * 24 bytes: the eight-byte scan, its tail read and the byte loop all
 * find it. */
static void jsonw_escape_finds_every_place(void)
{
  static const char specials[] = {'"', '\\', '\n', '\t', 0x01, 0x1f,
                                  0x7f, 'a'};
  for (size_t len = 1; len <= 24; len++)
    for (size_t at = 0; at < len; at++)
      for (size_t k = 0; k < sizeof specials; k++) {
        char text[32];
        memset(text, 'x', sizeof text);
        text[at] = specials[k];
        char want[6 * 32 + 2], got[6 * 32 + 2];
        size_t wn = escape_ref(text, len, want);
        size_t gn = jsonw_escape_into(got, text, len);
        CHECK_INT(gn, wn);
        CHECK(gn == wn && !memcmp(got, want, wn));
      }
}

/* jsonw_format_milli writes what jsonw_format_double writes for the value
 * rounded to three decimals: edges, then a million values of the range
 * reasons' weights take and beyond. */
static void jsonw_format_milli_matches_double(void)
{
  static const double edges[] = {0.0,    -0.0,  0.0004, 0.0005, 0.0015,
                                 0.001,  1.0,   1.5,    2.0005, 999999999.999,
                                 1e9,    1e12,  -1.25,  NAN,    INFINITY,
                                 0.1235, 3.4445};
  char a[40], b[40];
  size_t bad = 0;
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
    size_t n = jsonw_format_milli(edges[i], a);
    jsonw_format_double(round(edges[i] * 1000) / 1000, b);
    if (n != strlen(a) || strcmp(a, b)) {
      bad++;
      FAIL_AT("%.17g: milli '%s' double '%s'", edges[i], a, b);
    }
  }
  uint64_t x = 0x9E3779B97F4A7C15u;
  for (int i = 0; i < 1000000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    /* Weights are mostly 0.05 to 10; every 16th from 0 to 10^10. */
    double v = (i & 15) ? (double)(x >> 11) / (double)(1ull << 53) * 10.0
                        : (double)(x >> 11) / (double)(1ull << 53) * 1e10;
    jsonw_format_milli(v, a);
    jsonw_format_double(round(v * 1000) / 1000, b);
    if (strcmp(a, b) && bad++ < 5)
      FAIL_AT("%.17g: milli '%s' double '%s'", v, a, b);
  }
  CHECK_INT(bad, 0);
}

static void jsonw_key_value_helpers(void)
{
  struct buf b;
  buf_init(&b, 0);
  struct jsonw w;
  jsonw_init(&w, &b);
  jsonw_object_begin(&w);
  jsonw_kv_string(&w, "s", "x\"y");
  jsonw_kv_string(&w, "none", NULL);
  jsonw_kv_text(&w, "empty", "");
  jsonw_kv_text(&w, "t", "z");
  jsonw_kv_int(&w, "i", -42);
  jsonw_kv_bool(&w, "b", true);
  jsonw_kv_double(&w, "d", 0.5);
  jsonw_object_end(&w);
  CHECK_INT(jsonw_error(&w), ERR_OK);
  CHECK_STR(buf_ptr(&b), "{\"s\":\"x\\\"y\",\"none\":null,\"empty\":null,"
                    "\"t\":\"z\",\"i\":-42,\"b\":true,\"d\":0.5}");
  buf_cleanup(&b);
}

static void jsonw_writes_nested_values(void)
{
  struct buf b;
  buf_init(&b, 0);
  struct jsonw w;
  jsonw_init(&w, &b);
  jsonw_object_begin(&w);
  jsonw_key(&w, "s");
  jsonw_string(&w, "a\"b\\c\n\x01");
  jsonw_key(&w, "n");
  jsonw_array_begin(&w);
  jsonw_double(&w, -0.35833333333333334);
  jsonw_double(&w, 0.0);
  jsonw_double(&w, 1e-17);
  jsonw_int(&w, -7);
  jsonw_bool(&w, true);
  jsonw_null(&w);
  jsonw_array_end(&w);
  jsonw_key(&w, "e");
  jsonw_object_begin(&w);
  jsonw_object_end(&w);
  jsonw_object_end(&w);
  CHECK_INT(jsonw_error(&w), ERR_OK);
  CHECK_STR(buf_ptr(&b), "{\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"n\":"
                         "[-0.35833333333333334,0.0,1e-17,-7,true,null],"
                         "\"e\":{}}");
  buf_cleanup(&b);
}

static void jsonw_shortest_doubles(void)
{
  char tmp[40];
  jsonw_format_double(0.1, tmp);
  CHECK_STR(tmp, "0.1");
  jsonw_format_double(0.6000000000000001, tmp);
  CHECK_STR(tmp, "0.6000000000000001");
  jsonw_format_double(5.551115123125783e-17, tmp);
  CHECK_STR(tmp, "5.551115123125783e-17");
  jsonw_format_double(2.0, tmp);
  CHECK_STR(tmp, "2.0");
  jsonw_format_double(NAN, tmp);
  CHECK_STR(tmp, "null");
}

/* The fast fixed-point path must agree with the reference formatting
 * (%.15g..%.17g, first that round-trips) on values of every magnitude. */
static void jsonw_fast_path_matches_reference(void)
{
  unsigned long long x = 88172645463325252ull;
  int mismatches = 0;
  for (int i = 0; i < 400000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    double v;
    uint64_t bits;
    switch (i % 8) {
    case 0: v = (double)(x % 2000001) / 1e6 - 1.0; break;      /* scores */
    case 1: v = ((double)(x >> 11) / 9007199254740992.0) * 2 - 1; break;
    case 2: v = (double)(x % 100000) / 7.0; break;
    case 3: v = (double)(x % 1000) * 1e-3 + 1e-4 * (double)(i % 5); break;
    case 4: /* any bit pattern from 2^-15 to 2^49: across both cut-offs */
      bits = (x & ((1ull << 52) - 1)) | ((1008ull + (x >> 58)) << 52);
      memcpy(&v, &bits, sizeof v);
      break;
    case 5: /* powers of two and their neighbours: the uneven gap below */
      v = ldexp(1.0, (int)(x % 66) - 16);
      if (x & (1ull << 40))
        v = nextafter(v, (x & (1ull << 41)) ? 0.0 : 1e300);
      break;
    case 6: /* 16-digit decimals: the shortest often needs 16 digits, above 2^53 */
      v = (double)(x % 10000000000000000ull) / 1e16;
      break;
    default: /* short decimals at every magnitude */
      v = (double)(x % 100000) / pow(10.0, (double)(x >> 59));
      break;
    }
    if (x & (1ull << 42))
      v = -v;
    char fast[40], ref[40];
    jsonw_format_double(v, fast);
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
      n = snprintf(ref, sizeof ref, "%.*g", prec, v);
      if (strtod(ref, NULL) == v)
        break;
    }
    if (!strpbrk(ref, ".eEn"))
      memcpy(ref + n, ".0", 3);
    if (strtod(fast, NULL) != v || strcmp(fast, ref)) {
      if (mismatches++ < 5)
        FAIL_AT("%.17g: fast '%s' reference '%s'", v, fast, ref);
    }
  }
  CHECK_INT(mismatches, 0);
  char tmp[40];
  jsonw_format_double(-0.5, tmp);
  CHECK_STR(tmp, "-0.5");
  jsonw_format_double(123456.0, tmp);
  CHECK_STR(tmp, "123456.0");
  jsonw_format_double(0.00015, tmp);
  CHECK_STR(tmp, "0.00015");
  jsonw_format_double(-1.0, tmp);
  CHECK_STR(tmp, "-1.0");
}

int main(void)
{
  RUN(jsonw_fast_path_matches_reference);
  RUN(buf_grows_and_takes);
  RUN(buf_refuses_past_limit);
  RUN(utf8_validation);
  RUN(utf8_cut_on_boundaries);
  RUN(utf8_cut_bytes_on_boundaries);
  RUN(clock_reads_and_deadlines);
  RUN(clock_formats_rfc3339);
  RUN(jsonw_writes_nested_values);
  RUN(jsonw_key_value_helpers);
  RUN(jsonw_escape_into_matches_escape);
  RUN(jsonw_escape_finds_every_place);
  RUN(jsonw_format_milli_matches_double);
  RUN(jsonw_shortest_doubles);
  HARNESS_EXIT();
}
