/* Fuzz target: the request signature checks (generic, DevRev, Slack).
 *
 * Input: one option byte, then "signature\ntimestamp\nbody" (a missing
 * '\n' leaves the later parts empty; the body is the raw rest, NULs and
 * all). The option byte picks:
 *   bits 0-1  the secret: text, base64, empty, or longer than
 *             SIG_DEVREV_B64_SECRET_MAX (not decoded)
 *   bit 2     signature header absent (NULL)
 *   bit 3     timestamp header absent (NULL)
 *   bit 4     replace the signature with a correct one for the body, so the
 *             accepting paths run too, and check that they accept
 *   bits 5-7  Slack's max_age_s, from a table of edge values
 * The headers are copied into their own allocations, exactly as long as
 * they are, so ASan sees any read past their ends. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/sig.h"

#define NOW_S ((int64_t)1700000000)

static const int64_t max_ages[] = {
    300, 0, -1, 1, INT64_MAX, INT64_MIN, 86400, (int64_t)100 * 365 * 86400,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dup_part(const uint8_t *p, size_t n)
{
  char *s = malloc(n + 1);
  if (s) {
    memcpy(s, p, n);
    s[n] = '\0';
  }
  return s;
}

/* Splits off the part up to the next '\n' (or the end). */
static const uint8_t *next_part(const uint8_t *p, const uint8_t *end, size_t *n)
{
  const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
  *n = (size_t)((nl ? nl : end) - p);
  return nl ? nl + 1 : end;
}

static bool all_digits(const char *s)
{
  if (!*s || strlen(s) > 18)
    return false;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return false;
  }
  return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static char long_secret[SIG_DEVREV_B64_SECRET_MAX + 8];
  if (!long_secret[0])
    memset(long_secret, 'A', sizeof long_secret - 1);
  const char *secrets[] = {"8f742231b10e8888abcd99yyyzzz85a5",
                           "c2VjcmV0LWtleS1ieXRlcw==", "", long_secret};
  if (size < 1 || size > 1 << 16)
    return 0;
  unsigned opt = data[0];
  const char *secret = secrets[opt & 3];
  int64_t max_age = max_ages[opt >> 5];
  const uint8_t *p = data + 1, *end = data + size;
  size_t sig_len, ts_len;
  const uint8_t *sig_p = p;
  p = next_part(p, end, &sig_len);
  const uint8_t *ts_p = p;
  p = next_part(p, end, &ts_len);
  size_t body_len = (size_t)(end - p);
  /* A body of its own, so reads past its end are caught too. */
  uint8_t *body = malloc(body_len ? body_len : 1);
  char *sig = dup_part(sig_p, sig_len);
  char *ts = dup_part(ts_p, ts_len);
  if (!body || !sig || !ts)
    goto out;
  memcpy(body, p, body_len);
  const char *sig_h = opt & 4 ? NULL : sig;
  const char *ts_h = opt & 8 ? NULL : ts;
  enum sig_devrev_form form;

  if (!(opt & 16)) {
    (void)sig_result_name(sig_check_generic(secret, sig_h, body, body_len));
    if (sig_check_devrev(secret, sig_h, body, body_len, &form) == SIG_OK)
      (void)sig_devrev_form_name(form);
    (void)sig_check_slack(secret, sig_h, ts_h, body, body_len, NOW_S, max_age);
    goto out;
  }

  /* Correctly signed: every check must accept (Slack: unless stale). */
  char hex[65], header[80];
  size_t slen = strlen(secret);
  sig_hmac_hex(secret, slen, body, body_len, hex);
  snprintf(header, sizeof header, "sha256=%s", hex);
  enum sig_result want = slen ? SIG_OK : SIG_MISMATCH;
  if (sig_check_generic(secret, header, body, body_len) != want)
    abort();
  if (sig_check_devrev(secret, hex, body, body_len, &form) != want)
    abort();
  if (want == SIG_OK && form != SIG_DEVREV_HEX_RAWKEY)
    abort();
  if (all_digits(ts)) {
    ts_len = strlen(ts); /* the header ends at a NUL, as a string */
    size_t mlen = 3 + ts_len + 1 + body_len;
    uint8_t *msg = malloc(mlen);
    if (!msg)
      goto out;
    memcpy(msg, "v0:", 3);
    memcpy(msg + 3, ts, ts_len);
    msg[3 + ts_len] = ':';
    memcpy(msg + 4 + ts_len, body, body_len);
    sig_hmac_hex(secret, slen, msg, mlen, hex);
    free(msg);
    snprintf(header, sizeof header, "v0=%s", hex);
    enum sig_result rc =
        sig_check_slack(secret, header, ts, body, body_len, NOW_S, max_age);
    if (rc != want && rc != SIG_STALE)
      abort();
  }
out:
  free(ts);
  free(sig);
  free(body);
  return 0;
}
