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

#endif
