/* sig: request signature checks (HMAC-SHA256 via libcrypto's EVP_MAC).
 *
 * Every check has the same shape: bound and trim the header, decode it
 * into the 32 digest bytes (strictly: wrong length, stray characters or
 * non-canonical base64 are SIG_MALFORMED), compute the expected digest and
 * compare the bytes with CRYPTO_memcmp. Decoding before comparing is what
 * makes hex case and base64 padding irrelevant; comparing bytes in
 * constant time is what keeps the timing from revealing a valid prefix.
 * Branches on the header's form are fine: the header is the sender's
 * data, not ours. Nothing here allocates; libcrypto does internally.
 *
 * Invariant: no header is read past SIG_HEADER_MAX + 1 bytes (or
 * SIG_TIMESTAMP_MAX + 1 for the Slack timestamp), so an unterminated or
 * huge value costs nothing. */
#include "http/sig.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "base/bits.h"

#define DIGEST_LEN 32 /* SHA-256 */

const char *sig_result_name(enum sig_result r)
{
  switch (r) {
  case SIG_OK:
    return "ok";
  case SIG_MISSING:
    return "missing";
  case SIG_MALFORMED:
    return "malformed";
  case SIG_MISMATCH:
    return "mismatch";
  case SIG_STALE:
    return "stale";
  }
  return "unknown";
}

const char *sig_devrev_form_name(enum sig_devrev_form f)
{
  switch (f) {
  case SIG_DEVREV_HEX_RAWKEY:
    return "hex digest, secret as text";
  case SIG_DEVREV_BASE64_RAWKEY:
    return "base64 digest, secret as text";
  case SIG_DEVREV_HEX_B64KEY:
    return "hex digest, secret base64-decoded";
  case SIG_DEVREV_BASE64_B64KEY:
    return "base64 digest, secret base64-decoded";
  }
  return "unknown";
}

/* One piece of an HMAC's message; Slack signs three pieces and the body. */
struct part {
  const void *data;
  size_t len;
};

/* HMAC-SHA256 of the concatenated parts, streamed so that the Slack base
 * string needs no buffer. Returns false if libcrypto fails (out of memory,
 * provider missing); callers then refuse the request. */
static bool hmac_parts(const void *key, size_t key_len,
                       const struct part *parts, size_t n_parts,
                       unsigned char out[DIGEST_LEN])
{
  /* An empty key is legitimate HMAC, but EVP_MAC_init reads a NULL key as
   * "keep the previous one", so always pass a real pointer. */
  static const unsigned char empty_key[1];
  bool ok = false;
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
  if (!ctx)
    goto out;
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end(),
  };
  if (!EVP_MAC_init(ctx, key_len ? key : empty_key, key_len, params))
    goto out;
  for (size_t i = 0; i < n_parts; i++) {
    if (parts[i].len && !EVP_MAC_update(ctx, parts[i].data, parts[i].len))
      goto out;
  }
  size_t out_len = 0;
  ok = EVP_MAC_final(ctx, out, &out_len, DIGEST_LEN) && out_len == DIGEST_LEN;
out:
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  return ok;
}

void sig_hmac_hex(const void *key, size_t key_len, const void *msg, size_t len,
                  char out[65])
{
  static const char digits[] = "0123456789abcdef";
  struct part part = {msg, len};
  unsigned char md[DIGEST_LEN];
  if (!hmac_parts(key, key_len, &part, 1, md)) {
    out[0] = '\0';
    return;
  }
  for (size_t i = 0; i < DIGEST_LEN; i++) {
    out[2 * i] = digits[md[i] >> 4];
    out[2 * i + 1] = digits[md[i] & 0xf];
  }
  out[2 * DIGEST_LEN] = '\0';
}

static bool is_blank(char c)
{
  return c == ' ' || c == '\t';
}

/* Bounds and trims a header value. Reads at most max + 1 bytes of h, so an
 * overlong value is refused without being walked to its end. On SIG_OK,
 * [*start, *start + *len) is the value without surrounding blanks. */
static enum sig_result take_header(const char *h, size_t max,
                                   const char **start, size_t *len)
{
  if (!h)
    return SIG_MISSING;
  size_t n = strnlen(h, max + 1);
  if (n > max)
    return SIG_MALFORMED;
  while (n && is_blank(*h)) {
    h++;
    n--;
  }
  while (n && is_blank(h[n - 1]))
    n--;
  if (n == 0)
    return SIG_MISSING;
  *start = h;
  *len = n;
  return SIG_OK;
}

/* True when s[0..n) begins with prefix; advances past it. */
static bool skip_prefix(const char **s, size_t *n, const char *prefix)
{
  size_t plen = strlen(prefix);
  if (*n < plen || memcmp(*s, prefix, plen) != 0)
    return false;
  *s += plen;
  *n -= plen;
  return true;
}

/* Decodes exactly 64 hex digits (either case) into 32 bytes. */
static bool hex_decode_digest(const char *s, size_t n,
                              unsigned char out[DIGEST_LEN])
{
  if (n != 2 * DIGEST_LEN)
    return false;
  for (size_t i = 0; i < DIGEST_LEN; i++) {
    int hi = bits_hex_digit((unsigned char)s[2 * i]);
    int lo = bits_hex_digit((unsigned char)s[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return false;
    out[i] = (unsigned char)(hi << 4 | lo);
  }
  return true;
}

/* All-ones when lo <= c <= hi, else 0. */
static unsigned in_range(unsigned c, unsigned lo, unsigned hi)
{
  return 0u - (unsigned)(c - lo <= hi - lo);
}

/* The value of c in the standard alphabet (RFC 4648 section 4), or -1
 * ('=' included, so padding is only accepted where b64_decode strips it).
 * Masks rather than branches, because the secret is decoded too and the
 * time should not depend on which class each of its characters is in. */
static int b64_value(unsigned char c)
{
  unsigned r = (in_range(c, 'A', 'Z') & (c - 'A' + 1u)) |
               (in_range(c, 'a', 'z') & (c - 'a' + 27u)) |
               (in_range(c, '0', '9') & (c - '0' + 53u)) |
               (in_range(c, '+', '+') & 63u) | (in_range(c, '/', '/') & 64u);
  return (int)r - 1;
}

/* Strict standard base64 (RFC 4648 section 4): padding optional, but when
 * present it must make the length a multiple of 4 and be exactly what the
 * data needs; no other characters, no whitespace, and the unused low bits
 * of the last character must be zero (section 3.5), so each byte string
 * has one accepted encoding per padding choice. Returns the number of
 * bytes written to out, or -1 if s is not valid or decodes to more than
 * cap bytes. */
static long b64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
  if (n % 4 == 0 && n >= 4 && s[n - 1] == '=') {
    n--;
    if (s[n - 1] == '=')
      n--;
  }
  if (n % 4 == 1)
    return -1;
  size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
  if (need > cap)
    return -1;
  unsigned acc = 0, bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64_value((unsigned char)s[i]);
    if (v < 0)
      return -1;
    acc = (acc << 6 | (unsigned)v) & 0xfff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0)
    return -1;
  return (long)o;
}

static bool digest_equal(const unsigned char a[DIGEST_LEN],
                         const unsigned char b[DIGEST_LEN])
{
  return CRYPTO_memcmp(a, b, DIGEST_LEN) == 0;
}

enum sig_result sig_check_generic(const char *secret, const char *header,
                                  const void *body, size_t len)
{
  const char *v;
  size_t n;
  enum sig_result rc = take_header(header, SIG_HEADER_MAX, &v, &n);
  if (rc)
    return rc;
  unsigned char got[DIGEST_LEN];
  if (!skip_prefix(&v, &n, "sha256=") || !hex_decode_digest(v, n, got))
    return SIG_MALFORMED;
  if (!secret || !*secret)
    return SIG_MISMATCH;
  unsigned char want[DIGEST_LEN];
  struct part part = {body, len};
  if (!hmac_parts(secret, strlen(secret), &part, 1, want))
    return SIG_MISMATCH;
  return digest_equal(got, want) ? SIG_OK : SIG_MISMATCH;
}

enum sig_result sig_check_devrev(const char *secret, const char *header,
                                 const void *body, size_t len,
                                 enum sig_devrev_form *matched)
{
  const char *v;
  size_t n;
  enum sig_result rc = take_header(header, SIG_HEADER_MAX, &v, &n);
  if (rc)
    return rc;
  (void)skip_prefix(&v, &n, "sha256=");
  /* The lengths cannot collide: hex is 64 characters, base64 of 32 bytes
   * 43 or 44, so the form is known before any key is tried. */
  unsigned char got[DIGEST_LEN];
  bool hex = hex_decode_digest(v, n, got);
  if (!hex && b64_decode(v, n, got, sizeof got) != DIGEST_LEN)
    return SIG_MALFORMED;
  if (!secret || !*secret)
    return SIG_MISMATCH;

  size_t slen = strlen(secret);
  struct part part = {body, len};
  unsigned char want_raw[DIGEST_LEN];
  if (!hmac_parts(secret, slen, &part, 1, want_raw))
    return SIG_MISMATCH;
  /* Dashboards often show a base64 secret that the signer decodes before
   * use; when the secret reads as base64, try that key too. */
  unsigned char key[SIG_DEVREV_B64_SECRET_MAX / 4 * 3];
  unsigned char want_b64[DIGEST_LEN];
  long key_len = slen <= SIG_DEVREV_B64_SECRET_MAX
                     ? b64_decode(secret, slen, key, sizeof key)
                     : -1;
  bool have_b64 =
      key_len > 0 && hmac_parts(key, (size_t)key_len, &part, 1, want_b64);
  OPENSSL_cleanse(key, sizeof key);

  /* Both comparisons always run, so the time does not tell which key
   * came close. */
  bool raw_ok = digest_equal(got, want_raw);
  bool b64_ok = have_b64 && digest_equal(got, want_b64);
  OPENSSL_cleanse(want_raw, sizeof want_raw);
  OPENSSL_cleanse(want_b64, sizeof want_b64);
  if (!raw_ok && !b64_ok)
    return SIG_MISMATCH;
  if (matched) {
    if (raw_ok)
      *matched = hex ? SIG_DEVREV_HEX_RAWKEY : SIG_DEVREV_BASE64_RAWKEY;
    else
      *matched = hex ? SIG_DEVREV_HEX_B64KEY : SIG_DEVREV_BASE64_B64KEY;
  }
  return SIG_OK;
}

/* Parses a non-empty string of decimal digits into *out; false on any
 * other character or on overflow of int64_t. */
static bool parse_seconds(const char *s, size_t n, int64_t *out)
{
  int64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    int d = s[i] - '0';
    if (v > (INT64_MAX - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *out = v;
  return n > 0;
}

/* True when ts lies in [now - max_age, now + max_age], the bounds
 * saturating instead of overflowing whatever clock value is passed. */
static bool fresh(int64_t ts, int64_t now, int64_t max_age)
{
  if (max_age < 0)
    max_age = 0;
  int64_t lo = now < INT64_MIN + max_age ? INT64_MIN : now - max_age;
  int64_t hi = now > INT64_MAX - max_age ? INT64_MAX : now + max_age;
  return ts >= lo && ts <= hi;
}

enum sig_result sig_check_slack(const char *secret, const char *sig_header,
                                const char *ts_header, const void *body,
                                size_t len, int64_t now_s, int64_t max_age_s)
{
  /* https://api.slack.com/authentication/verifying-requests-from-slack */
  const char *v;
  size_t n;
  enum sig_result rc = take_header(sig_header, SIG_HEADER_MAX, &v, &n);
  if (rc)
    return rc;
  unsigned char got[DIGEST_LEN];
  if (!skip_prefix(&v, &n, "v0=") || !hex_decode_digest(v, n, got))
    return SIG_MALFORMED;

  /* Any problem with the timestamp is "stale": without a trustworthy time
   * the request may be a replay, which is what the check is for. */
  const char *ts;
  size_t ts_len;
  int64_t ts_s;
  if (take_header(ts_header, SIG_TIMESTAMP_MAX, &ts, &ts_len) != SIG_OK ||
      !parse_seconds(ts, ts_len, &ts_s) || !fresh(ts_s, now_s, max_age_s))
    return SIG_STALE;

  if (!secret || !*secret)
    return SIG_MISMATCH;
  const struct part parts[] = {
      {"v0:", 3},
      {ts, ts_len},
      {":", 1},
      {body, len},
  };
  unsigned char want[DIGEST_LEN];
  if (!hmac_parts(secret, strlen(secret), parts, sizeof parts / sizeof parts[0],
                  want))
    return SIG_MISMATCH;
  return digest_equal(got, want) ? SIG_OK : SIG_MISMATCH;
}
