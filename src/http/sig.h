/* sig: request signature checks (HMAC-SHA256) for the three kinds of
 * sender that post to the service.
 *
 *   generic  X-Signature-256: sha256=<hex>       HMAC(secret, body)
 *   DevRev   X-DevRev-Signature: <hex|base64>    HMAC(secret, body), four
 *            tolerated encodings and keys (see sig_check_devrev)
 *   Slack    X-Slack-Signature: v0=<hex>         HMAC(secret, "v0:" ts ":"
 *            X-Slack-Request-Timestamp: <ts>     body), ts fresh
 *
 * Header values are trimmed of surrounding spaces and tabs, decoded into
 * the 32 digest bytes, and compared with the expected digest in constant
 * time, so hex case and base64 padding do not matter and the time taken
 * says nothing about how many bytes matched. Bodies are the raw bytes as
 * received (NULs allowed, len may be 0). A header longer than
 * SIG_HEADER_MAX bytes is refused as malformed; nothing past that is read.
 *
 * A NULL or empty secret matches nothing (fail closed): a check that is
 * off must be skipped by the caller, not called with "". If libcrypto
 * fails (out of memory), a check answers SIG_MISMATCH. Secrets are
 * never logged; this module does no logging and allocates nothing.
 * All functions are thread-safe. */
#ifndef HTTP_SIG_H
#define HTTP_SIG_H

#include <stddef.h>
#include <stdint.h>

/* Longest header value looked at, in bytes: the longest valid form,
 * "sha256=" and 64 hex digits, is 71; the rest leaves room for
 * surrounding whitespace. */
#define SIG_HEADER_MAX 256

/* Longest X-Slack-Request-Timestamp value looked at, in bytes. */
#define SIG_TIMESTAMP_MAX 64

/* Longest DevRev secret that is also tried base64-decoded, in characters
 * (the decoded key lives on the stack; config allows 511). */
#define SIG_DEVREV_B64_SECRET_MAX 1024

enum sig_result {
  SIG_OK,
  SIG_MISSING,   /* header absent, empty or only whitespace */
  SIG_MALFORMED, /* header present but not in the expected form (wrong
                    prefix, bad hex/base64, wrong length, overlong) */
  SIG_MISMATCH,  /* well-formed but the HMAC does not match */
  SIG_STALE,     /* Slack: timestamp missing, unparseable, or further than
                    max_age_s from now */
};

/* Returns "ok", "missing", "malformed", "mismatch" or "stale" (static;
 * "unknown" for a value outside the enum). */
const char *sig_result_name(enum sig_result r);

/* Generic senders: header is the X-Signature-256 value (NULL if absent),
 * "sha256=" followed by 64 hex digits in either case, the HMAC-SHA256 of
 * the body under the secret's bytes. The prefix must be lowercase, as
 * GitHub and its imitators send it. */
enum sig_result sig_check_generic(const char *secret, const char *header,
                                  const void *body, size_t len);

/* Which of DevRev's tolerated forms a signature matched. */
enum sig_devrev_form {
  SIG_DEVREV_HEX_RAWKEY,    /* hex digest, key = the secret's bytes */
  SIG_DEVREV_BASE64_RAWKEY, /* base64 digest, key = the secret's bytes */
  SIG_DEVREV_HEX_B64KEY,    /* hex digest, key = base64-decoded secret */
  SIG_DEVREV_BASE64_B64KEY, /* base64 digest, key = base64-decoded secret */
};

/* Returns a static description for a log line, e.g. "hex digest, secret
 * as text"; "unknown" for a value outside the enum. */
const char *sig_devrev_form_name(enum sig_devrev_form f);

/* DevRev: header is the X-DevRev-Signature value (NULL if absent). DevRev's
 * docs pin down neither the digest encoding nor the key, so this accepts
 * the HMAC-SHA256 of the body as 64 hex digits (either case) or as
 * standard base64 (44 characters with '=', or 43 without), optionally
 * after "sha256=", under either key: the secret's bytes as configured, or
 * the secret base64-decoded (tried only when the whole secret is strict
 * standard base64, padded or not, and at most SIG_DEVREV_B64_SECRET_MAX
 * characters). On SIG_OK, *matched (when matched is not NULL) tells which
 * form matched, the secret-as-text key winning a tie; otherwise *matched
 * is left alone. */
enum sig_result sig_check_devrev(const char *secret, const char *header,
                                 const void *body, size_t len,
                                 enum sig_devrev_form *matched);

/* Slack request signing, version v0: sig_header is X-Slack-Signature
 * ("v0=" and 64 hex digits), ts_header X-Slack-Request-Timestamp (decimal
 * Unix seconds, digits only); either may be NULL when absent. The digest is
 * HMAC-SHA256(secret, "v0:" ts ":" body) with ts as sent (trimmed).
 * Order of the checks: a missing signature is SIG_MISSING and a malformed
 * one SIG_MALFORMED; then a timestamp that is missing, not digits, too
 * large, or more than max_age_s seconds before or after now_s is
 * SIG_STALE (before the HMAC is computed, so a replayed request is refused
 * as stale whatever its signature); then SIG_MISMATCH or SIG_OK.
 * A negative max_age_s counts as 0. */
enum sig_result sig_check_slack(const char *secret, const char *sig_header,
                                const char *ts_header, const void *body,
                                size_t len, int64_t now_s, int64_t max_age_s);

/* For tests and tools: writes the lowercase hex HMAC-SHA256 of msg[0..len)
 * under key[0..key_len) (64 characters and a NUL) into out. Either pointer
 * may be NULL when its length is 0. If libcrypto fails, out is "". */
void sig_hmac_hex(const void *key, size_t key_len, const void *msg, size_t len,
                  char out[65]);

#endif
