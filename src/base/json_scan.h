/* json_scan: one strict validating pass over a JSON text (RFC 8259).
 *
 * Builds no tree and allocates nothing: it checks that s[0..len) is one
 * JSON value surrounded by whitespace, and reports the first problem as a
 * kind and a byte offset. It is stricter than cJSON where cJSON reads a
 * text differently from the standard: raw control characters anywhere, a
 * "\u0000" escape (cJSON stores strings NUL-terminated and would cut the
 * string there), a "\u" escape with a non-hex digit (cJSON reads it as
 * "\u0000"), and numbers that are not exactly RFC 8259 numbers (cJSON
 * takes "01" or "1." to strtod). A text json_scan accepts, cJSON accepts
 * too (when its numbers are under 63 bytes and it nests at most 1000
 * levels, cJSON's own limits), with the same strings;
 * fuzz/fuzz_json_scan.c checks both directions.
 *
 * Optionally it hands each member of a top-level object to a callback, so
 * that a caller can find a field without parsing the text (cli/score.c). */
#ifndef BASE_JSON_SCAN_H
#define BASE_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

/* The first problem found, in the order the bytes are read. */
enum json_scan_problem {
  JSON_SCAN_OK = 0,
  JSON_SCAN_TOO_DEEP,   /* an array or object past max_depth levels */
  JSON_SCAN_CONTROL,    /* a raw byte below 0x20 (NUL included) in a
                           string, or where a token or whitespace was
                           expected */
  JSON_SCAN_NUL_ESCAPE, /* "\u0000" in a string (offset: its backslash) */
  JSON_SCAN_BAD_NUMBER, /* the run of number characters (digits, "+-.eE")
                           at offset is not exactly one number */
  JSON_SCAN_BAD_STRING, /* an unknown escape, bad hex digits, a lone
                           surrogate (offset: its backslash), or no
                           closing quote (offset: the string's first
                           byte after its opening quote) */
  JSON_SCAN_SYNTAX,     /* anything else: a token where another was
                           expected, an empty text, trailing bytes */
};

/* A member of the top-level object, as the text spells it. */
struct json_member {
  const char *key; /* the key's bytes between its quotes */
  size_t key_len;
  bool key_escaped;  /* the key holds a backslash */
  const char *value; /* a string: its bytes between the quotes; anything
                        else: the value's bytes */
  size_t value_len;
  bool value_string;  /* the value is a string */
  bool value_escaped; /* a string value holding a backslash */
};

typedef void (*json_member_fn)(void *ctx, const struct json_member *m);

/* What to check, and what was found. */
struct json_scan {
  int max_depth;         /* arrays and objects nested, the outermost
                            counting 1; deeper is JSON_SCAN_TOO_DEEP */
  json_member_fn member; /* NULL, or called for each member of the
                            top-level object, in order, as it is read
                            (also when a later byte turns out bad) */
  void *ctx;             /* passed to member */
  /* Results. */
  size_t offset;         /* where the problem is (0 when there is none) */
  size_t end;            /* just past the value (when there is no problem) */
  size_t longest_number; /* bytes of the longest number read */
  bool non_ascii;        /* a byte >= 0x80 was read (only strings may hold
                            one; a hint: when false, the text is ASCII up
                            to the problem) */
};

/* Scans s[0..len) as one JSON value with optional whitespace around it,
 * filling the results of sc. Returns the first problem, JSON_SCAN_OK when
 * there is none. Does not check UTF-8 (see base/utf8.h). Thread-safe;
 * recursion is bounded by max_depth. */
WARN_UNUSED_RESULT enum json_scan_problem json_scan(const char *s, size_t len,
                                                    struct json_scan *sc);

/* A short static name of p ("too_deep", "control", ...). */
const char *json_scan_problem_name(enum json_scan_problem p);

/* Decodes the escapes of a string's bytes (between its quotes) that
 * json_scan accepted, into out (reset first), as cJSON decodes them.
 * ERR_TOO_BIG past out's limit. */
WARN_UNUSED_RESULT enum err json_unescape(const char *s, size_t len,
                                          struct buf *out);

#endif
