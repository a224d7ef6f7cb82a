/* Unit tests of sig: HMAC-SHA256 request signatures (generic, DevRev,
 * Slack).
 *
 * Every expected digest below was computed outside this code (RFC 4231,
 * GitHub's and Slack's documentation, or python3's hmac module, as noted)
 * and pasted as a literal, so the tests do not check sig against itself. */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/sig.h"

/* Compares by name, so a failure prints "mismatch" != "ok". */
#define CHECK_SIG(expr, want)                                                  \
  CHECK_STR(sig_result_name(expr), sig_result_name(want))

/* --- HMAC-SHA256 itself ------------------------------------------------ */

static void hmac_hex_matches_rfc4231(void)
{
  char out[65];
  unsigned char key[131];

  /* Test case 1: 20-byte key 0x0b. */
  memset(key, 0x0b, 20);
  sig_hmac_hex(key, 20, "Hi There", 8, out);
  CHECK_STR(out,
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

  /* Test case 2: a key shorter than the digest. */
  sig_hmac_hex("Jefe", 4, "what do ya want for nothing?", 28, out);
  CHECK_STR(out,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

  /* Test case 6: a 131-byte key, longer than the block, is hashed first. */
  memset(key, 0xaa, sizeof key);
  const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
  sig_hmac_hex(key, sizeof key, m6, strlen(m6), out);
  CHECK_STR(out,
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");

  /* Test case 7: long key and data longer than the block. */
  const char *m7 = "This is a test using a larger than block-size key and a "
                   "larger than block-size data. The key needs to be hashed "
                   "before being used by the HMAC algorithm.";
  sig_hmac_hex(key, sizeof key, m7, strlen(m7), out);
  CHECK_STR(out,
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static void hmac_hex_takes_empty_key_and_message(void)
{
  /* python3: hmac.new(b"", b"", hashlib.sha256).hexdigest() */
  char out[65];
  sig_hmac_hex(NULL, 0, NULL, 0, out);
  CHECK_STR(out,
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void names_are_stable(void)
{
  CHECK_STR(sig_result_name(SIG_OK), "ok");
  CHECK_STR(sig_result_name(SIG_MISSING), "missing");
  CHECK_STR(sig_result_name(SIG_MALFORMED), "malformed");
  CHECK_STR(sig_result_name(SIG_MISMATCH), "mismatch");
  CHECK_STR(sig_result_name(SIG_STALE), "stale");
  CHECK_STR(sig_result_name((enum sig_result)99), "unknown");
  CHECK_STR(sig_devrev_form_name(SIG_DEVREV_HEX_RAWKEY),
            "hex digest, secret as text");
  CHECK_STR(sig_devrev_form_name(SIG_DEVREV_BASE64_RAWKEY),
            "base64 digest, secret as text");
  CHECK_STR(sig_devrev_form_name(SIG_DEVREV_HEX_B64KEY),
            "hex digest, secret base64-decoded");
  CHECK_STR(sig_devrev_form_name(SIG_DEVREV_BASE64_B64KEY),
            "base64 digest, secret base64-decoded");
}

/* --- Generic: X-Signature-256 ------------------------------------------ */

/* GitHub's documented example ("Validating webhook deliveries"). */
static const char gh_secret[] = "It's a Secret to Everybody";
static const char gh_body[] = "Hello, World!";
#define GH_HEX                                                                 \
  "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
#define GH_HEX_UPPER                                                           \
  "757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"

static enum sig_result generic(const char *header)
{
  return sig_check_generic(gh_secret, header, gh_body, strlen(gh_body));
}

static void generic_accepts_a_signed_request(void)
{
  CHECK_SIG(generic("sha256=" GH_HEX), SIG_OK);
  CHECK_SIG(generic(" \t sha256=" GH_HEX "\t "), SIG_OK);
  CHECK_SIG(generic("sha256=" GH_HEX_UPPER), SIG_OK);
  CHECK_SIG(generic("sha256=757107EA0eb2509fc211221cce984b8a37570b6d7586c22c4"
                    "6f4379c8b043e17"),
            SIG_OK);
}

static void generic_refuses_missing_header(void)
{
  CHECK_SIG(generic(NULL), SIG_MISSING);
  CHECK_SIG(generic(""), SIG_MISSING);
  CHECK_SIG(generic(" \t "), SIG_MISSING);
}

static void generic_refuses_malformed_header(void)
{
  /* Wrong prefix */
  CHECK_SIG(generic("sha1=" GH_HEX), SIG_MALFORMED);
  CHECK_SIG(generic("SHA256=" GH_HEX), SIG_MALFORMED);
  CHECK_SIG(generic(GH_HEX), SIG_MALFORMED);
  CHECK_SIG(generic("sha256= " GH_HEX), SIG_MALFORMED);
  /* Bad hex: a 'g' in place of the last digit */
  CHECK_SIG(generic("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c4"
                    "6f4379c8b043e1g"),
            SIG_MALFORMED);
  /* Wrong length: 63 and 65 digits, prefix only */
  CHECK_SIG(generic("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c4"
                    "6f4379c8b043e1"),
            SIG_MALFORMED);
  CHECK_SIG(generic("sha256=" GH_HEX "7"), SIG_MALFORMED);
  CHECK_SIG(generic("sha256="), SIG_MALFORMED);
  /* Base64 is not a generic form */
  CHECK_SIG(generic("sha256=dXEH6g6yUJ/CESIczphLijdXC211hsIsRvQ3nIsEPhc="),
            SIG_MALFORMED);
}

static void generic_refuses_wrong_secret(void)
{
  CHECK_SIG(sig_check_generic("It's a Secret to Everybody!", "sha256=" GH_HEX,
                              gh_body, strlen(gh_body)),
            SIG_MISMATCH);
  /* A check that is off must not be called; if it is, nothing passes. */
  CHECK_SIG(sig_check_generic("", "sha256=" GH_HEX, gh_body, strlen(gh_body)),
            SIG_MISMATCH);
  CHECK_SIG(sig_check_generic(NULL, "sha256=" GH_HEX, gh_body, strlen(gh_body)),
            SIG_MISMATCH);
  /* python3: hmac.new(b"", b"Hello, World!", hashlib.sha256) */
  CHECK_SIG(sig_check_generic("",
                              "sha256=2bbcfa9524f3218c7a34b30e6936f8b1a4516cb0"
                              "97f1a85a1c7d98b5977ec769",
                              gh_body, strlen(gh_body)),
            SIG_MISMATCH);
}

static void generic_refuses_changed_body(void)
{
  char body[sizeof gh_body + 1];
  memcpy(body, gh_body, sizeof gh_body);
  size_t len = strlen(gh_body);
  body[0] ^= 0x20; /* "hello, World!" */
  CHECK_SIG(sig_check_generic(gh_secret, "sha256=" GH_HEX, body, len),
            SIG_MISMATCH);
  body[0] ^= 0x20;
  CHECK_SIG(sig_check_generic(gh_secret, "sha256=" GH_HEX, body, len), SIG_OK);
  body[len] = '\n'; /* one byte appended */
  CHECK_SIG(sig_check_generic(gh_secret, "sha256=" GH_HEX, body, len + 1),
            SIG_MISMATCH);
  /* One byte dropped */
  CHECK_SIG(sig_check_generic(gh_secret, "sha256=" GH_HEX, body, len - 1),
            SIG_MISMATCH);
}

static void generic_takes_empty_and_binary_bodies(void)
{
  /* python3: hmac.new(b"It's a Secret to Everybody", b"", sha256) */
  CHECK_SIG(sig_check_generic(gh_secret,
                              "sha256=66a0c074deaa0f489ead6537e0d32f9a344b90bb"
                              "eda705b6ed45ecd3b413fb40",
                              NULL, 0),
            SIG_OK);
  /* python3: the same key over b"a\0b\0": the NULs are part of the body. */
  const char *hdr = "sha256=ed13ba1085a4462c765426606362c38896acd183d9e24e1e"
                    "e843ee914ad3a2e1";
  CHECK_SIG(sig_check_generic(gh_secret, hdr, "a\0b\0", 4), SIG_OK);
  CHECK_SIG(sig_check_generic(gh_secret, hdr, "a\0b\0", 3), SIG_MISMATCH);
  CHECK_SIG(sig_check_generic(gh_secret, hdr, "a", 1), SIG_MISMATCH);
}

static void overlong_headers_are_malformed(void)
{
  /* Valid signature drowned in trailing blanks: over the limit. */
  char padded[SIG_HEADER_MAX + 80];
  int n = snprintf(padded, sizeof padded, "sha256=%s", GH_HEX);
  memset(padded + n, ' ', sizeof padded - 1 - (size_t)n);
  padded[sizeof padded - 1] = '\0';
  CHECK_SIG(generic(padded), SIG_MALFORMED);
  /* Exactly at the limit it is still looked at. */
  padded[SIG_HEADER_MAX] = '\0';
  CHECK_SIG(generic(padded), SIG_OK);

  /* No terminator anywhere: only SIG_HEADER_MAX + 1 bytes may be read
   * (ASan reports a read past the allocation). */
  char *raw = malloc(SIG_HEADER_MAX + 1);
  CHECK(raw != NULL);
  if (!raw)
    return;
  memset(raw, 'a', SIG_HEADER_MAX + 1);
  CHECK_SIG(generic(raw), SIG_MALFORMED);
  CHECK_SIG(sig_check_devrev(gh_secret, raw, "", 0, NULL), SIG_MALFORMED);
  CHECK_SIG(sig_check_slack(gh_secret, raw, "1", "", 0, 1, 300), SIG_MALFORMED);
  /* An unterminated timestamp is garbage, also read only so far. */
  char *ts = malloc(SIG_TIMESTAMP_MAX + 1);
  CHECK(ts != NULL);
  if (ts) {
    memset(ts, '1', SIG_TIMESTAMP_MAX + 1);
    CHECK_SIG(sig_check_slack(gh_secret, "v0=" GH_HEX, ts, "", 0, 1, 300),
              SIG_STALE);
  }
  free(ts);
  free(raw);
}

/* --- DevRev: X-DevRev-Signature ---------------------------------------- */

/* A secret that is valid base64 (of "secret-key-bytes"), so all four forms
 * apply. Digests from python3 hmac over dv_body with key dv_secret (RAW)
 * or base64.b64decode(dv_secret) (B64). */
static const char dv_secret[] = "c2VjcmV0LWtleS1ieXRlcw==";
static const char dv_body[] =
    "{\"type\":\"webhook_verify\",\"webhook_verify\":{\"challenge\":\"abc\"}}";
#define DV_HEX_RAW                                                             \
  "a9e909a0c296e1591b6d5928df0ef9addfbed2aa175814997fc753c59476fca8"
#define DV_B64_RAW "qekJoMKW4VkbbVko3w75rd++0qoXWBSZf8dTxZR2/Kg="
#define DV_HEX_B64                                                             \
  "0cc5327507f534cdd434a68f75d6b181cbe8a1d2ce6bcfa63b3ee1546e27282e"
#define DV_B64_B64 "DMUydQf1NM3UNKaPddaxgcvoodLOa8+mOz7hVG4nKC4="

static enum sig_result devrev(const char *header, enum sig_devrev_form *f)
{
  return sig_check_devrev(dv_secret, header, dv_body, strlen(dv_body), f);
}

static void devrev_accepts_each_form(void)
{
  enum sig_devrev_form f = (enum sig_devrev_form) - 1;
  CHECK_SIG(devrev(DV_HEX_RAW, &f), SIG_OK);
  CHECK_INT(f, SIG_DEVREV_HEX_RAWKEY);
  CHECK_SIG(devrev(DV_B64_RAW, &f), SIG_OK);
  CHECK_INT(f, SIG_DEVREV_BASE64_RAWKEY);
  CHECK_SIG(devrev(DV_HEX_B64, &f), SIG_OK);
  CHECK_INT(f, SIG_DEVREV_HEX_B64KEY);
  CHECK_SIG(devrev(DV_B64_B64, &f), SIG_OK);
  CHECK_INT(f, SIG_DEVREV_BASE64_B64KEY);
  /* matched may be NULL */
  CHECK_SIG(devrev(DV_B64_B64, NULL), SIG_OK);
}

static void devrev_tolerates_case_padding_prefix_blanks(void)
{
  enum sig_devrev_form f = (enum sig_devrev_form) - 1;
  CHECK_SIG(devrev("A9E909A0C296E1591B6D5928DF0EF9ADDFBED2AA175814997FC753C"
                   "59476FCA8",
                   &f),
            SIG_OK);
  CHECK_INT(f, SIG_DEVREV_HEX_RAWKEY);
  /* Base64 without its '=' */
  CHECK_SIG(devrev("qekJoMKW4VkbbVko3w75rd++0qoXWBSZf8dTxZR2/Kg", &f), SIG_OK);
  CHECK_INT(f, SIG_DEVREV_BASE64_RAWKEY);
  CHECK_SIG(devrev("DMUydQf1NM3UNKaPddaxgcvoodLOa8+mOz7hVG4nKC4", &f), SIG_OK);
  CHECK_INT(f, SIG_DEVREV_BASE64_B64KEY);
  CHECK_SIG(devrev("sha256=" DV_HEX_B64, &f), SIG_OK);
  CHECK_INT(f, SIG_DEVREV_HEX_B64KEY);
  CHECK_SIG(devrev("sha256=" DV_B64_RAW, &f), SIG_OK);
  CHECK_INT(f, SIG_DEVREV_BASE64_RAWKEY);
  CHECK_SIG(devrev("  " DV_B64_B64 "\t", &f), SIG_OK);
  CHECK_INT(f, SIG_DEVREV_BASE64_B64KEY);
}

static void devrev_secret_without_padding_is_decoded_too(void)
{
  enum sig_devrev_form f = (enum sig_devrev_form) - 1;
  /* The same key bytes written without '=': the decoded-key forms still
   * match (the secret-as-text key is now different). */
  CHECK_SIG(sig_check_devrev("c2VjcmV0LWtleS1ieXRlcw", DV_HEX_B64, dv_body,
                             strlen(dv_body), &f),
            SIG_OK);
  CHECK_INT(f, SIG_DEVREV_HEX_B64KEY);
  CHECK_SIG(sig_check_devrev("c2VjcmV0LWtleS1ieXRlcw", DV_HEX_RAW, dv_body,
                             strlen(dv_body), &f),
            SIG_MISMATCH);
}

static void devrev_text_secret_works_for_raw_key_forms(void)
{
  /* "not base64!" is not base64, so only the text key applies.
   * python3: hmac.new(b"not base64!", dv_body, sha256) */
  enum sig_devrev_form f = (enum sig_devrev_form) - 1;
  const char *secret = "not base64!";
  CHECK_SIG(sig_check_devrev(secret,
                             "985ed4818b48b0b81b013e537ee43ab3c0e71572802d2c7e"
                             "72b59b078d46c9ec",
                             dv_body, strlen(dv_body), &f),
            SIG_OK);
  CHECK_INT(f, SIG_DEVREV_HEX_RAWKEY);
  CHECK_SIG(sig_check_devrev(
                secret, "mF7UgYtIsLgbAT5TfuQ6s8DnFXKALSx+crWbB41Gyew=", dv_body,
                strlen(dv_body), &f),
            SIG_OK);
  CHECK_INT(f, SIG_DEVREV_BASE64_RAWKEY);
  CHECK_SIG(sig_check_devrev(secret, DV_HEX_RAW, dv_body, strlen(dv_body), &f),
            SIG_MISMATCH);
}

static void devrev_secret_with_a_dangling_character_is_text(void)
{
  /* base64("secret-key-bytes!!") + "A": 25 characters cannot be base64,
   * so the decoded-key forms must not match with the 18 bytes before the
   * dangling "A". python3: HMAC over dv_body under those 18 bytes, then
   * under the 25 characters. */
  enum sig_devrev_form f = (enum sig_devrev_form) - 1;
  const char *secret = "c2VjcmV0LWtleS1ieXRlcyEhA";
  size_t len = strlen(dv_body);
  CHECK_SIG(sig_check_devrev(secret,
                             "4e9b5089f966db0880e0ed8349095032cbfbe56d56a9b8c1"
                             "8391bd2261182d12",
                             dv_body, len, &f),
            SIG_MISMATCH);
  CHECK_SIG(sig_check_devrev(secret,
                             "fa0533567de1f03dc10ef43e097850ab7c1eb8b982777788"
                             "ef71015a6dd18001",
                             dv_body, len, &f),
            SIG_OK);
  CHECK_INT(f, SIG_DEVREV_HEX_RAWKEY);
}

static void devrev_refuses_missing_and_malformed(void)
{
  enum sig_devrev_form f = SIG_DEVREV_HEX_RAWKEY;
  CHECK_SIG(devrev(NULL, &f), SIG_MISSING);
  CHECK_SIG(devrev("", &f), SIG_MISSING);
  CHECK_SIG(devrev("  ", &f), SIG_MISSING);
  /* Wrong prefix */
  CHECK_SIG(devrev("sha1=" DV_HEX_RAW, &f), SIG_MALFORMED);
  CHECK_SIG(devrev("v0=" DV_HEX_RAW, &f), SIG_MALFORMED);
  /* Bad hex: 64 characters, one not a digit (and not base64 of 32 bytes) */
  CHECK_SIG(devrev("a9e909a0c296e1591b6d5928df0ef9addfbed2aa175814997fc753c5"
                   "9476fcaz",
                   &f),
            SIG_MALFORMED);
  /* Wrong length: 62 hex digits; base64 of 31 bytes */
  CHECK_SIG(devrev("a9e909a0c296e1591b6d5928df0ef9addfbed2aa175814997fc753c5"
                   "9476fc",
                   &f),
            SIG_MALFORMED);
  CHECK_SIG(devrev("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", &f),
            SIG_MALFORMED);
  /* Bad base64: a stray character, URL-safe alphabet, padding in the
   * middle, too much padding, non-zero unused bits ('g' -> 'h') */
  CHECK_SIG(devrev("qekJoMKW4VkbbVko3w75rd++0qoXWBSZf8dTxZR2/K!=", &f),
            SIG_MALFORMED);
  CHECK_SIG(devrev("qekJoMKW4VkbbVko3w75rd--0qoXWBSZf8dTxZR2_Kg=", &f),
            SIG_MALFORMED);
  CHECK_SIG(devrev("qekJoMKW4VkbbVko3w75rd++=qoXWBSZf8dTxZR2/Kg", &f),
            SIG_MALFORMED);
  CHECK_SIG(devrev("qekJoMKW4VkbbVko3w75rd++0qoXWBSZf8dTxZR2/Kg==", &f),
            SIG_MALFORMED);
  CHECK_SIG(devrev("qekJoMKW4VkbbVko3w75rd++0qoXWBSZf8dTxZR2/Kh=", &f),
            SIG_MALFORMED);
  CHECK_SIG(devrev("qekJoMKW4VkbbVko3w75rd++ 0qoXWBSZf8dTxZR2/Kg=", &f),
            SIG_MALFORMED);
  CHECK_INT(f, SIG_DEVREV_HEX_RAWKEY); /* untouched on failure */
}

static void devrev_refuses_wrong_secret_and_changed_body(void)
{
  enum sig_devrev_form f = SIG_DEVREV_HEX_RAWKEY;
  size_t len = strlen(dv_body);
  CHECK_SIG(sig_check_devrev("c2VjcmV0LWtleS1ieXRlcQ==", DV_B64_B64, dv_body,
                             len, &f),
            SIG_MISMATCH);
  CHECK_SIG(sig_check_devrev("other", DV_HEX_RAW, dv_body, len, &f),
            SIG_MISMATCH);
  CHECK_SIG(sig_check_devrev("", DV_HEX_RAW, dv_body, len, &f), SIG_MISMATCH);
  CHECK_SIG(sig_check_devrev(NULL, DV_HEX_RAW, dv_body, len, &f), SIG_MISMATCH);

  char body[sizeof dv_body + 1];
  memcpy(body, dv_body, sizeof dv_body);
  body[len - 3] ^= 1; /* "abc" -> "abb" */
  CHECK_SIG(sig_check_devrev(dv_secret, DV_HEX_RAW, body, len, &f),
            SIG_MISMATCH);
  CHECK_SIG(sig_check_devrev(dv_secret, DV_B64_B64, body, len, &f),
            SIG_MISMATCH);
  body[len - 3] ^= 1;
  body[len] = ' '; /* one byte appended */
  CHECK_SIG(sig_check_devrev(dv_secret, DV_HEX_RAW, body, len + 1, &f),
            SIG_MISMATCH);
  CHECK_SIG(sig_check_devrev(dv_secret, DV_B64_B64, body, len + 1, &f),
            SIG_MISMATCH);
  CHECK_INT(f, SIG_DEVREV_HEX_RAWKEY);
}

/* --- Slack: X-Slack-Signature + X-Slack-Request-Timestamp --------------- */

/* Slack's documented example ("Verifying requests from Slack"). */
static const char sl_secret[] = "8f742231b10e8888abcd99yyyzzz85a5";
static const char sl_ts[] = "1531420618";
static const int64_t sl_ts_s = 1531420618;
static const char sl_body[] =
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain="
    "testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA"
    "&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url="
    "https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F"
    "96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121."
    "803a0bc887a14d10d2c447fce8b6703c";
#define SL_SIG                                                                 \
  "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

static enum sig_result slack(const char *sig, const char *ts, int64_t now)
{
  return sig_check_slack(sl_secret, sig, ts, sl_body, strlen(sl_body), now,
                         300);
}

static void slack_accepts_a_signed_request(void)
{
  CHECK_SIG(slack(SL_SIG, sl_ts, sl_ts_s), SIG_OK);
  CHECK_SIG(slack(SL_SIG, sl_ts, sl_ts_s + 10), SIG_OK);
  CHECK_SIG(slack(" " SL_SIG " ", "\t1531420618 ", sl_ts_s), SIG_OK);
  CHECK_SIG(slack("v0=A2114D57B48EAC39B9AD189DD8316235A7B4A8D21A10BD275196664"
                  "89C69B503",
                  sl_ts, sl_ts_s),
            SIG_OK);
  /* The window is inclusive: exactly max_age_s either way is fresh. */
  CHECK_SIG(slack(SL_SIG, sl_ts, sl_ts_s + 300), SIG_OK);
  CHECK_SIG(slack(SL_SIG, sl_ts, sl_ts_s - 300), SIG_OK);
}

static void slack_signs_timestamp_and_binary_body(void)
{
  /* python3: hmac.new(sl_secret, b"v0:1700000000:text=hi\0there", sha256) */
  const char *sig = "v0=bb21cf2433df479c13a294cbfe24b0fe24739ae690093756eb9a"
                    "c2e312827c48";
  const char body[] = "text=hi\0there";
  size_t len = sizeof body - 1;
  CHECK_SIG(
      sig_check_slack(sl_secret, sig, "1700000000", body, len, 1700000000, 300),
      SIG_OK);
  CHECK_SIG(
      sig_check_slack(sl_secret, sig, "1700000001", body, len, 1700000000, 300),
      SIG_MISMATCH);
  /* Leading zeros parse to the same time but are signed as sent. */
  CHECK_SIG(sig_check_slack(sl_secret, sig, "01700000000", body, len,
                            1700000000, 300),
            SIG_MISMATCH);
  CHECK_SIG(
      sig_check_slack(sl_secret, sig, "1700000000", body, 7, 1700000000, 300),
      SIG_MISMATCH);
  /* python3: the same with key b"other" */
  CHECK_SIG(sig_check_slack("other",
                            "v0=8a614d57a01e97acbe6dd57b0dc8a30e2ec6779b58a948"
                            "6310e138cf0f46b8a3",
                            "1700000000", body, len, 1700000000, 300),
            SIG_OK);
}

static void slack_refuses_stale_and_future(void)
{
  CHECK_SIG(slack(SL_SIG, sl_ts, sl_ts_s + 301), SIG_STALE);
  CHECK_SIG(slack(SL_SIG, sl_ts, sl_ts_s - 301), SIG_STALE);
  CHECK_SIG(slack(SL_SIG, sl_ts, 0), SIG_STALE);
  /* Stale wins over a wrong signature: the replay is the finding. */
  CHECK_SIG(sig_check_slack("other", SL_SIG, sl_ts, sl_body, strlen(sl_body),
                            sl_ts_s + 301, 300),
            SIG_STALE);
  /* A negative window counts as 0 */
  CHECK_SIG(sig_check_slack(sl_secret, SL_SIG, sl_ts, sl_body, strlen(sl_body),
                            sl_ts_s, -5),
            SIG_OK);
  CHECK_SIG(sig_check_slack(sl_secret, SL_SIG, sl_ts, sl_body, strlen(sl_body),
                            sl_ts_s + 1, -5),
            SIG_STALE);
}

static void slack_refuses_bad_timestamps(void)
{
  CHECK_SIG(slack(SL_SIG, NULL, sl_ts_s), SIG_STALE);
  CHECK_SIG(slack(SL_SIG, "", sl_ts_s), SIG_STALE);
  CHECK_SIG(slack(SL_SIG, "  ", sl_ts_s), SIG_STALE);
  CHECK_SIG(slack(SL_SIG, "1531420618x", sl_ts_s), SIG_STALE);
  CHECK_SIG(slack(SL_SIG, "1531420618.0", sl_ts_s), SIG_STALE);
  CHECK_SIG(slack(SL_SIG, "+1531420618", sl_ts_s), SIG_STALE);
  CHECK_SIG(slack(SL_SIG, "-1531420618", sl_ts_s), SIG_STALE);
  CHECK_SIG(slack(SL_SIG, "1531 420618", sl_ts_s), SIG_STALE);
  CHECK_SIG(slack(SL_SIG, "0x5B47B1CA", sl_ts_s), SIG_STALE);
  CHECK_SIG(slack(SL_SIG, "garbage", sl_ts_s), SIG_STALE);
  /* Overflow of int64_t, and its largest value */
  CHECK_SIG(slack(SL_SIG, "9223372036854775808", sl_ts_s), SIG_STALE);
  CHECK_SIG(slack(SL_SIG, "99999999999999999999999", sl_ts_s), SIG_STALE);
  CHECK_SIG(slack(SL_SIG, "9223372036854775807", sl_ts_s), SIG_STALE);
}

static void slack_window_never_overflows(void)
{
  /* Extreme clocks and windows run under UBSan without a report. */
  const char *ts = "9223372036854775807";
  CHECK_SIG(sig_check_slack(sl_secret, SL_SIG, ts, "", 0, INT64_MAX, 300),
            SIG_MISMATCH);
  CHECK_SIG(sig_check_slack(sl_secret, SL_SIG, ts, "", 0, INT64_MIN, 300),
            SIG_STALE);
  CHECK_SIG(sig_check_slack(sl_secret, SL_SIG, ts, "", 0, INT64_MIN, INT64_MAX),
            SIG_STALE);
  CHECK_SIG(
      sig_check_slack(sl_secret, SL_SIG, "0", "", 0, INT64_MAX, INT64_MAX),
      SIG_MISMATCH);
  CHECK_SIG(sig_check_slack(sl_secret, SL_SIG, "0", "", 0, INT64_MIN, 0),
            SIG_STALE);
}

static void slack_refuses_missing_and_malformed_signature(void)
{
  CHECK_SIG(slack(NULL, sl_ts, sl_ts_s), SIG_MISSING);
  CHECK_SIG(slack("", sl_ts, sl_ts_s), SIG_MISSING);
  CHECK_SIG(slack(NULL, NULL, sl_ts_s), SIG_MISSING);
  CHECK_SIG(slack("v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666"
                  "489c69b503",
                  sl_ts, sl_ts_s),
            SIG_MALFORMED);
  CHECK_SIG(slack("sha256=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd2751"
                  "9666489c69b503",
                  sl_ts, sl_ts_s),
            SIG_MALFORMED);
  CHECK_SIG(slack("a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c"
                  "69b503",
                  sl_ts, sl_ts_s),
            SIG_MALFORMED);
  CHECK_SIG(slack("v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666"
                  "489c69b50",
                  sl_ts, sl_ts_s),
            SIG_MALFORMED);
  CHECK_SIG(slack("v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666"
                  "489c69b5031",
                  sl_ts, sl_ts_s),
            SIG_MALFORMED);
  CHECK_SIG(slack("v0=x2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666"
                  "489c69b503",
                  sl_ts, sl_ts_s),
            SIG_MALFORMED);
  /* Base64 is not a Slack form */
  CHECK_SIG(
      slack("v0=ohFNV7SOrDm5rRid2DFiNae0qNIaEL0nUZZmSJxptQM=", sl_ts, sl_ts_s),
      SIG_MALFORMED);
}

static void slack_refuses_wrong_secret_and_changed_body(void)
{
  size_t len = strlen(sl_body);
  CHECK_SIG(sig_check_slack("8f742231b10e8888abcd99yyyzzz85a6", SL_SIG, sl_ts,
                            sl_body, len, sl_ts_s, 300),
            SIG_MISMATCH);
  CHECK_SIG(sig_check_slack("", SL_SIG, sl_ts, sl_body, len, sl_ts_s, 300),
            SIG_MISMATCH);
  char body[sizeof sl_body + 1];
  memcpy(body, sl_body, sizeof sl_body);
  body[6] ^= 1; /* one byte of the token flipped */
  CHECK_SIG(sig_check_slack(sl_secret, SL_SIG, sl_ts, body, len, sl_ts_s, 300),
            SIG_MISMATCH);
  body[6] ^= 1;
  body[len] = '&'; /* one byte appended */
  CHECK_SIG(
      sig_check_slack(sl_secret, SL_SIG, sl_ts, body, len + 1, sl_ts_s, 300),
      SIG_MISMATCH);
  CHECK_SIG(sig_check_slack(sl_secret, SL_SIG, sl_ts, body, len, sl_ts_s, 300),
            SIG_OK);
}

/* The last byte alone differs: every byte is compared, not a prefix. */
static void last_byte_differences_are_mismatches(void)
{
  CHECK_SIG(generic("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c4"
                    "6f4379c8b043e16"),
            SIG_MISMATCH);
  CHECK_SIG(generic("sha256=857107ea0eb2509fc211221cce984b8a37570b6d7586c22c4"
                    "6f4379c8b043e17"),
            SIG_MISMATCH);
  CHECK_SIG(devrev("a9e909a0c296e1591b6d5928df0ef9addfbed2aa175814997fc753c5"
                   "9476fca9",
                   NULL),
            SIG_MISMATCH);
  /* "Kg=" -> "Kk=": the last byte 0xa8 becomes 0xa9 */
  CHECK_SIG(devrev("qekJoMKW4VkbbVko3w75rd++0qoXWBSZf8dTxZR2/Kk=", NULL),
            SIG_MISMATCH);
  CHECK_SIG(devrev("DMUydQf1NM3UNKaPddaxgcvoodLOa8+mOz7hVG4nKC8=", NULL),
            SIG_MISMATCH);
  CHECK_SIG(slack("v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666"
                  "489c69b502",
                  sl_ts, sl_ts_s),
            SIG_MISMATCH);
}

int main(void)
{
  RUN(hmac_hex_matches_rfc4231);
  RUN(hmac_hex_takes_empty_key_and_message);
  RUN(names_are_stable);
  RUN(generic_accepts_a_signed_request);
  RUN(generic_refuses_missing_header);
  RUN(generic_refuses_malformed_header);
  RUN(generic_refuses_wrong_secret);
  RUN(generic_refuses_changed_body);
  RUN(generic_takes_empty_and_binary_bodies);
  RUN(overlong_headers_are_malformed);
  RUN(devrev_accepts_each_form);
  RUN(devrev_tolerates_case_padding_prefix_blanks);
  RUN(devrev_secret_without_padding_is_decoded_too);
  RUN(devrev_text_secret_works_for_raw_key_forms);
  RUN(devrev_secret_with_a_dangling_character_is_text);
  RUN(devrev_refuses_missing_and_malformed);
  RUN(devrev_refuses_wrong_secret_and_changed_body);
  RUN(slack_accepts_a_signed_request);
  RUN(slack_signs_timestamp_and_binary_body);
  RUN(slack_refuses_stale_and_future);
  RUN(slack_refuses_bad_timestamps);
  RUN(slack_window_never_overflows);
  RUN(slack_refuses_missing_and_malformed_signature);
  RUN(slack_refuses_wrong_secret_and_changed_body);
  RUN(last_byte_differences_are_mismatches);
  HARNESS_EXIT();
}
