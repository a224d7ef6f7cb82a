/* Unit tests of base/json_scan: every problem kind with its offset, the
 * inputs the server's JSON checks refuse (tests/unit/test_routes.c,
 * tests/integration/test_http.py and test_strict_input.py), the members
 * handed to the callback, and json_unescape. */
#include "harness.h"

#include "base/json_scan.h"

/* Scans the first len bytes of s with max_depth; returns the problem and
 * sets *offset. */
static enum json_scan_problem scan_n(const char *s, size_t len, int max_depth,
                                     size_t *offset)
{
  struct json_scan js = {.max_depth = max_depth};
  enum json_scan_problem p = json_scan(s, len, &js);
  *offset = js.offset;
  return p;
}

/* The problem whose json_scan_problem_name is name, or -1. */
static int problem_named(const char *name)
{
  for (int p = JSON_SCAN_OK; p <= JSON_SCAN_SYNTAX; p++)
    if (!strcmp(json_scan_problem_name((enum json_scan_problem)p), name))
      return p;
  return -1;
}

/* Decodes the \xHH of a case's text in place; returns its length. */
static size_t decode_case(char *s)
{
  size_t o = 0;
  for (size_t i = 0; s[i]; i++) {
    unsigned v;
    if (s[i] == '\\' && s[i + 1] == 'x' && sscanf(s + i + 2, "%2x", &v) == 1) {
      s[o++] = (char)v;
      i += 3;
    } else {
      s[o++] = s[i];
    }
  }
  return o;
}

/* Every case of tests/data/json_scan_cases.txt: each problem kind, and the
 * inputs the server's JSON checks refuse (tests/unit/test_routes.c,
 * tests/integration/test_http.py and test_strict_input.py). */
static void each_case(void)
{
  const char *dir = getenv("TEST_DATA");
  char path[4096], line[1024];
  snprintf(path, sizeof path, "%s/json_scan_cases.txt", dir ? dir : ".");
  FILE *f = fopen(path, "r");
  CHECK(f != NULL);
  if (!f)
    return;
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    if (line[0] == '#' || line[0] == '\0')
      continue;
    char name[32];
    size_t at;
    int used = 0;
    CHECK(sscanf(line, "%31s %zu%n", name, &at, &used) == 2);
    int kind = problem_named(name);
    CHECK(kind >= 0);
    char *text = line + used + (line[used] == ' ');
    size_t len = decode_case(text);
    size_t off;
    enum json_scan_problem p = scan_n(text, len, 32, &off);
    if ((int)p != kind || off != at)
      FAIL_AT("%s: %s at %zu, expected %s at %zu", line,
              json_scan_problem_name(p), off, name, at);
    n++;
  }
  fclose(f);
  CHECK(n >= 60);
}

static void results(void)
{
  struct json_scan js = {.max_depth = 8};
  const char *s = " {\"a\": 123456, \"b\": -1.25} ";
  CHECK_INT(json_scan(s, strlen(s), &js), JSON_SCAN_OK);
  CHECK_INT(js.end, strlen(s) - 1);
  CHECK_INT(js.longest_number, 6);
  CHECK(!js.non_ascii);
  s = "[\"caf\xc3\xa9\"]";
  CHECK_INT(json_scan(s, strlen(s), &js), JSON_SCAN_OK);
  CHECK(js.non_ascii);
  s = "[\"a long string with an accent, caf\xc3\xa9, past sixteen\"]";
  CHECK_INT(json_scan(s, strlen(s), &js), JSON_SCAN_OK);
  CHECK(js.non_ascii);
}

static void too_deep(void)
{
  size_t off;
  CHECK_INT(scan_n("[[[]]]", 6, 3, &off), JSON_SCAN_OK);
  CHECK_INT(scan_n("[[[[]]]]", 8, 3, &off), JSON_SCAN_TOO_DEEP);
  CHECK_INT(off, 3);
  CHECK_INT(scan_n("{\"a\": [{\"b\": 1}]}", 17, 2, &off), JSON_SCAN_TOO_DEEP);
  CHECK_INT(off, 7);
  CHECK_INT(scan_n("{\"a\": [{\"b\": 1}]}", 17, 3, &off), JSON_SCAN_OK);
  CHECK_INT(scan_n("[]", 2, 0, &off), JSON_SCAN_TOO_DEEP);
  CHECK_INT(off, 0);
  /* The server's case: MAX_JSON_DEPTH levels pass, one more does not. */
  char deep[256];
  int limit = 32;
  size_t n = (size_t)snprintf(deep, sizeof deep, "{\"d\":");
  for (int i = 1; i < limit; i++)
    deep[n++] = '[';
  for (int i = 1; i < limit; i++)
    deep[n++] = ']';
  deep[n++] = '}';
  CHECK_INT(scan_n(deep, n, limit, &off), JSON_SCAN_OK);
  memmove(deep + 1, deep, n);
  deep[0] = '[';
  deep[n + 1] = ']';
  CHECK_INT(scan_n(deep, n + 2, limit, &off), JSON_SCAN_TOO_DEEP);
  CHECK_INT(off, 5 + limit - 1);
  /* Deep input is refused at the limit, not after recursing through it. */
  static char huge[100000];
  memset(huge, '[', sizeof huge);
  CHECK_INT(scan_n(huge, sizeof huge, 1000, &off), JSON_SCAN_TOO_DEEP);
  CHECK_INT(off, 1000);
}

/* Every position of a long string, so that both the sixteen-byte and the
 * byte-by-byte paths are seen to stop at the exact byte. */
static void control_at_every_position(void)
{
  for (size_t at = 1; at < 60; at++) {
    char s[64];
    memset(s, 'x', sizeof s);
    s[0] = '"';
    s[62] = '"';
    s[at] = '\n';
    size_t off;
    CHECK_INT(scan_n(s, 63, 4, &off), JSON_SCAN_CONTROL);
    CHECK_INT(off, at);
    s[at] = '\\';
    s[at + 1] = 'q';
    CHECK_INT(scan_n(s, 63, 4, &off), JSON_SCAN_BAD_STRING);
    CHECK_INT(off, at);
  }
}

struct seen {
  int n;
  char keys[8][16];
  char values[8][32];
  bool key_escaped[8], string[8], escaped[8];
};

static void note_member(void *ctx, const struct json_member *m)
{
  struct seen *sn = ctx;
  if (sn->n >= 8)
    return;
  snprintf(sn->keys[sn->n], sizeof sn->keys[0], "%.*s", (int)m->key_len,
           m->key);
  snprintf(sn->values[sn->n], sizeof sn->values[0], "%.*s", (int)m->value_len,
           m->value);
  sn->key_escaped[sn->n] = m->key_escaped;
  sn->string[sn->n] = m->value_string;
  sn->escaped[sn->n] = m->value_escaped;
  sn->n++;
}

static void members_of_the_top_object(void)
{
  struct seen sn = {0};
  struct json_scan js = {.max_depth = 8, .member = note_member, .ctx = &sn};
  const char *s = "{\"id\": 7, \"text\": \"a\\nb\", \"t\\u0065xt\": "
                  "{\"inner\": \"no\"}, \"l\": [1, \"x\"], \"e\": \"\"}";
  CHECK_INT(json_scan(s, strlen(s), &js), JSON_SCAN_OK);
  CHECK_INT(sn.n, 5);
  CHECK_STR(sn.keys[0], "id");
  CHECK_STR(sn.values[0], "7");
  CHECK(!sn.string[0]);
  CHECK_STR(sn.keys[1], "text");
  CHECK_STR(sn.values[1], "a\\nb");
  CHECK(sn.string[1] && sn.escaped[1] && !sn.key_escaped[1]);
  CHECK_STR(sn.keys[2], "t\\u0065xt");
  CHECK(sn.key_escaped[2] && !sn.string[2]);
  CHECK_STR(sn.values[2], "{\"inner\": \"no\"}");
  CHECK_STR(sn.values[3], "[1, \"x\"]");
  CHECK_STR(sn.keys[4], "e");
  CHECK_STR(sn.values[4], "");
  CHECK(sn.string[4] && !sn.escaped[4]);
  /* Members come as they are read, up to the problem. */
  sn = (struct seen){0};
  s = "{\"a\": 1, \"b\": 01}";
  CHECK_INT(json_scan(s, strlen(s), &js), JSON_SCAN_BAD_NUMBER);
  CHECK_INT(sn.n, 1);
  /* Only the top level's object has members to report. */
  sn = (struct seen){0};
  s = "[{\"a\": 1}]";
  CHECK_INT(json_scan(s, strlen(s), &js), JSON_SCAN_OK);
  CHECK_INT(sn.n, 0);
}

static void unescape(void)
{
  struct buf b;
  buf_init(&b, 64);
  const char *s = "a\\\"\\\\\\/\\b\\f\\n\\r\\tz\\u00e9\\uD83D\\uDE00\\u20ac";
  CHECK_INT(json_unescape(s, strlen(s), &b), ERR_OK);
  CHECK_INT(b.len, 10 + 2 + 4 + 3);
  CHECK(memcmp(b.data, "a\"\\/\b\f\n\r\tz\xc3\xa9\xf0\x9f\x98\x80\xe2\x82\xac",
               b.len) == 0);
  CHECK_INT(json_unescape("plain", 5, &b), ERR_OK);
  CHECK_INT(b.len, 5);
  buf_cleanup(&b);
  buf_init(&b, 4);
  CHECK_INT(json_unescape("abcd\\n", 6, &b), ERR_TOO_BIG);
  CHECK_INT(json_unescape("abcdef", 6, &b), ERR_TOO_BIG);
  buf_cleanup(&b);
}

int main(void)
{
  RUN(each_case);
  RUN(results);
  RUN(too_deep);
  RUN(control_at_every_position);
  RUN(members_of_the_top_object);
  RUN(unescape);
  HARNESS_EXIT();
}
