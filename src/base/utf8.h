/* utf8: validation and decoding of UTF-8 text (RFC 3629).
 *
 * Overlong forms, surrogates (U+D800..U+DFFF) and code points above
 * U+10FFFF are invalid, as in Python's strict utf-8 codec. */
#ifndef BASE_UTF8_H
#define BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns true when s[0..len) is entirely valid UTF-8. NUL bytes are valid
 * (U+0000). */
bool utf8_is_valid(const char *s, size_t len);

/* Returns true when s[0..len) is all ASCII (and so valid UTF-8); reads
 * eight bytes at a time. */
bool utf8_is_ascii(const char *s, size_t len);

/* Decodes one code point at s[0..len), len > 0. Stores it in *cp and returns
 * the number of bytes used (1..4); on an invalid sequence returns 0 and
 * leaves *cp unspecified. */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Encodes cp (<= 0x10FFFF) into out (room for 4 bytes); returns the byte
 * count. */
size_t utf8_encode(uint32_t cp, char *out);

/* Python's str.isspace(), which the original service's strip() used: the
 * Unicode White_Space characters plus the ASCII separators 0x1c..0x1f. */
bool utf8_is_space(uint32_t cp);

/* True when s[0..len) is empty or only utf8_is_space characters. Invalid
 * UTF-8 counts as text (not blank). */
bool utf8_is_blank(const char *s, size_t len);

/* The byte length of the longest prefix of s[0..len) that holds at most
 * max_chars characters and ends on a character boundary. Characters are
 * counted in UTF-16 code units (a code point above U+FFFF counts 2), as
 * JavaScript's length and most web APIs' limits (Slack's Block Kit) count
 * them; an invalid byte counts 1. */
size_t utf8_cut(const char *s, size_t len, size_t max_chars);

/* The byte length of the longest prefix of s[0..len) that holds at most
 * max_bytes bytes and does not end inside a character: len when it fits,
 * else max_bytes less the continuation bytes (10xxxxxx) that s[max_bytes]
 * would split off. For limits counted in bytes (database columns, log
 * lines, DevRev fields). */
size_t utf8_cut_bytes(const char *s, size_t len, size_t max_bytes);

#endif
