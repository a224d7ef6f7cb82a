/* Fuzz target: base/json_scan against cJSON's verdict.
 *
 * Input: one option byte, then the JSON text. The option byte picks
 * max_depth (bits 0-3: 1, 2, 3, 4, 8, 16, 32, ... up to 1000) and whether
 * the member callback is set (bit 4). The text is copied into an
 * allocation of its own length, so ASan sees any read past its end.
 *
 * Where the two must agree (see json_scan.h):
 *   - a text json_scan accepts, cJSON accepts, unless it holds a number
 *     longer than cJSON's 63-byte buffer; and each string member of a
 *     top-level object decodes (json_unescape) to cJSON's string, its key
 *     too;
 *   - a text json_scan refuses as bad string or syntax, cJSON refuses,
 *     unless it opens with a UTF-8 byte order mark, which cJSON skips, or
 *     the bad string is a "\u" escape with a non-hex digit, which cJSON
 *     reads as "\u0000" (and cuts the string there).
 * The other problems (control characters, "\u0000", numbers cJSON reads
 * leniently, depth) are the ones json_scan is stricter about. */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int depths[16] = {1,  2,  3,   4,   8,   16,  32,   64,
                               65, 99, 100, 200, 500, 999, 1000, 1000};

#define MAX_MEMBERS 64

struct members {
  size_t n;
  struct json_member m[MAX_MEMBERS];
};

static void note(void *ctx, const struct json_member *m)
{
  struct members *ms = ctx;
  if (ms->n < MAX_MEMBERS)
    ms->m[ms->n] = *m;
  ms->n++;
}

/* s[at] starts a "\u" escape with a byte among its four that is not a
 * hex digit. cJSON reads those four as 0000 (its parse_hex4), and so
 * accepts the string cut at the escape; json_scan refuses it. */
static bool bad_hex(const char *s, size_t len, size_t at)
{
  if (len - at < 6 || s[at] != '\\' || s[at + 1] != 'u')
    return false;
  for (size_t k = at + 2; k < at + 6; k++)
    if (!strchr("0123456789abcdefABCDEF", s[k]) || !s[k])
      return true;
  return false;
}

/* Decoded s[0..len) equals the NUL-terminated z. */
static bool same_text(const char *s, size_t len, bool escaped, const char *z)
{
  if (!escaped)
    return strlen(z) == len && memcmp(s, z, len) == 0;
  struct buf b;
  buf_init(&b, 0);
  bool same = json_unescape(s, len, &b) == ERR_OK && strlen(z) == b.len &&
              memcmp(b.data ? b.data : "", z, b.len) == 0;
  buf_cleanup(&b);
  return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1 || size > 1 << 16)
    return 0;
  unsigned opt = data[0];
  size_t len = size - 1;
  char *text = malloc(len ? len : 1);
  char *z = malloc(len + 1); /* cJSON's copy, NUL-terminated */
  if (!text || !z)
    goto out;
  memcpy(text, data + 1, len);
  memcpy(z, data + 1, len);
  z[len] = '\0';

  struct members ms = {0};
  struct json_scan js = {.max_depth = depths[opt & 15]};
  if (opt & 16) {
    js.member = note;
    js.ctx = &ms;
  }
  enum json_scan_problem p = json_scan(text, len, &js);
  if (p != JSON_SCAN_OK && js.offset > len)
    abort();
  if (p == JSON_SCAN_OK && (js.end == 0 || js.end > len))
    abort();
  (void)json_scan_problem_name(p);

  /* As the server calls it: the NUL after the text is part of the length,
   * and nothing may follow the value. */
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(z, len + 1, &end, 1);
  bool bom = len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3);
  if (p == JSON_SCAN_OK && js.longest_number < 63 && !root)
    abort();
  if ((p == JSON_SCAN_BAD_STRING || p == JSON_SCAN_SYNTAX) && root && !bom &&
      !(p == JSON_SCAN_BAD_STRING && bad_hex(text, len, js.offset)))
    abort();
  if (p == JSON_SCAN_OK && root && cJSON_IsObject(root) && js.member) {
    size_t i = 0;
    for (const cJSON *c = root->child; c; c = c->next, i++) {
      if (i >= ms.n)
        abort();
      if (i >= MAX_MEMBERS)
        continue;
      const struct json_member *m = &ms.m[i];
      if (!same_text(m->key, m->key_len, m->key_escaped, c->string))
        abort();
      if (m->value_string != (cJSON_IsString(c) != 0))
        abort();
      if (m->value_string &&
          !same_text(m->value, m->value_len, m->value_escaped, c->valuestring))
        abort();
    }
    if (i != ms.n)
      abort();
  }
  cJSON_Delete(root);
out:
  free(z);
  free(text);
  return 0;
}
