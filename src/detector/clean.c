/* clean: the text as the detector reads it (see detector_clean in
 * detector.h).
 *
 * Two passes in one: lines are judged first (a quoted reply line is
 * dropped, a signature ends the text), then each kept line is copied token
 * by token with URLs, e-mail addresses, @handles and dataset masks turned
 * into a space and HTML entities decoded. Everything removed is ASCII and
 * every decoded entity is shorter than its source, so the output never
 * grows and stays valid UTF-8. */
#include "detector/detector.h"

#include <stdbool.h>
#include <string.h>

#include "base/utf8.h"

static bool is_space(char c)
{
  /* ' ', '\t', '\n', '\v', '\f', '\r': one test on a bit set. */
  unsigned char u = (unsigned char)c;
  return u <= ' ' && ((1ull << u) & (1ull << ' ' | 0x3e00ull));
}

static bool is_word(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_';
}

static bool starts_ci(const char *s, size_t len, const char *lit)
{
  size_t n = strlen(lit);
  if (len < n)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c + 32);
    if (c != lit[i])
      return false;
  }
  return true;
}

static bool ends_ci(const char *s, size_t len, const char *lit)
{
  size_t n = strlen(lit);
  return len >= n && starts_ci(s + len - n, n, lit);
}

static void trim(const char **s, size_t *len)
{
  while (*len && is_space(**s)) {
    (*s)++;
    (*len)--;
  }
  while (*len && is_space((*s)[*len - 1]))
    (*len)--;
}

/* The first byte of s[0..len) that is not white space, lower case (0 if
 * none): the line tests below look no further when it cannot start what
 * they look for. */
static char first_ci(const char *s, size_t len)
{
  size_t i = 0;
  while (i < len && is_space(s[i]))
    i++;
  if (i == len)
    return 0;
  char c = s[i];
  return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* A line that ends the message: the "-- " signature delimiter (RFC 3676
 * 4.3, also without its space) and the mobile mail signatures. */
static bool is_signature(const char *line, size_t len)
{
  const char *s = line;
  size_t n = len;
  while (n && (s[n - 1] == '\r'))
    n--;
  if ((n == 3 && !memcmp(s, "-- ", 3)) || (n == 2 && !memcmp(s, "--", 2)))
    return true;
  char c = first_ci(s, n);
  if (c != 's' && c != 'g')
    return false;
  trim(&s, &n);
  return starts_ci(s, n, "sent from my ") ||
         starts_ci(s, n, "sent from mail for ") ||
         starts_ci(s, n, "get outlook for ") || starts_ci(s, n, "sent via ") ||
         starts_ci(s, n, "sent with ");
}

/* A quoted line of a reply: "> ..." or the "On <date>, <who> wrote:" that
 * introduces the quote. */
static bool is_quote(const char *line, size_t len)
{
  const char *s = line;
  size_t n = len;
  char c = first_ci(s, n);
  if (c != '>' && c != 'o')
    return false;
  trim(&s, &n);
  if (n && s[0] == '>')
    return true;
  return n > 9 && starts_ci(s, n, "on ") && ends_ci(s, n, "wrote:");
}

/* Decodes the HTML entity at s (s[0] == '&'); on success writes the
 * character to out, sets *used to the entity's length and returns the
 * bytes written. Returns 0 when s is not a known entity. */
static size_t entity(const char *s, size_t len, char *out, size_t *used)
{
  static const struct {
    const char *name;
    const char *text;
  } named[] = {
      {"&amp;", "&"},   {"&lt;", "<"},   {"&gt;", ">"},
      {"&quot;", "\""}, {"&apos;", "'"}, {"&nbsp;", " "},
  };
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
    size_t n = strlen(named[i].name);
    if (len >= n && starts_ci(s, n, named[i].name)) {
      *used = n;
      out[0] = named[i].text[0];
      return 1;
    }
  }
  if (len < 4 || s[1] != '#')
    return 0;
  size_t i = 2;
  bool hex = s[i] == 'x' || s[i] == 'X';
  if (hex)
    i++;
  uint32_t cp = 0;
  size_t digits = 0;
  for (; i < len && digits < 7; i++, digits++) {
    char c = s[i];
    uint32_t d;
    if (c >= '0' && c <= '9')
      d = (uint32_t)(c - '0');
    else if (hex && c >= 'a' && c <= 'f')
      d = (uint32_t)(c - 'a' + 10);
    else if (hex && c >= 'A' && c <= 'F')
      d = (uint32_t)(c - 'A' + 10);
    else
      break;
    cp = cp * (hex ? 16 : 10) + d;
  }
  if (!digits || i >= len || s[i] != ';')
    return 0;
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  *used = i + 1;
  /* "&#N;" is at least 4 bytes; UTF-8 at most 4, so this never grows. */
  size_t n = utf8_encode(cp, out);
  if (n > *used)
    return 0;
  return n;
}

static bool is_email(const char *tok, size_t len)
{
  const char *at = memchr(tok, '@', len);
  if (!at || at == tok)
    return false;
  size_t rest = len - (size_t)(at - tok) - 1;
  const char *dot = memchr(at + 1, '.', rest);
  return dot && dot > at + 1 && (size_t)(dot - tok) + 1 < len;
}

static const char *find_url(const char *tok, size_t len)
{
  if (starts_ci(tok, len, "www."))
    return tok;
  /* Most tokens have no "://": check for it before looking further. */
  bool scheme = false;
  for (size_t i = 0; i + 3 <= len && !scheme; i++)
    scheme = tok[i] == ':' && tok[i + 1] == '/' && tok[i + 2] == '/';
  if (!scheme)
    return NULL;
  for (size_t i = 0; i < len; i++)
    if ((tok[i] == 'h' || tok[i] == 'H') &&
        (starts_ci(tok + i, len - i, "http://") ||
         starts_ci(tok + i, len - i, "https://")))
      return tok + i;
  return NULL;
}

/* Copies one white-space-free token, cleaned; returns bytes written. */
static size_t clean_token(const char *tok, size_t len, char *out)
{
  bool plain = true;
  for (size_t i = 0; i < len && plain; i++)
    plain = tok[i] != '@' && tok[i] != '&' && tok[i] != '[' && tok[i] != ':';
  if (plain && !(len >= 4 && (tok[0] == 'w' || tok[0] == 'W'))) {
    memcpy(out, tok, len);
    return len;
  }
  if (is_email(tok, len))
    return 0;
  const char *url = find_url(tok, len);
  if (url)
    len = (size_t)(url - tok);
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    char c = tok[i];
    if (c == '@' && (i == 0 || !is_word(tok[i - 1])) && i + 1 < len &&
        is_word(tok[i + 1])) {
      i++;
      while (i < len && is_word(tok[i]))
        i++;
      out[o++] = ' ';
      continue;
    }
    if (c == '&') {
      size_t used = 0;
      size_t n = entity(tok + i, len - i, out + o, &used);
      if (n) {
        o += n;
        i += used;
        continue;
      }
    }
    /* GoEmotions masks names as [NAME] and religions as [RELIGION]. */
    if (c == '[' && (starts_ci(tok + i, len - i, "[name]") ||
                     starts_ci(tok + i, len - i, "[religion]"))) {
      i += tok[i + 1] == 'N' || tok[i + 1] == 'n' ? 6 : 10;
      out[o++] = ' ';
      continue;
    }
    out[o++] = c;
    i++;
  }
  return o;
}

/* Bytes that may start a change: a line break, '@' (addresses, handles),
 * '&' (entities), '[' (masks), ':' ("://" of a URL), 'w' ("www."). */
static const unsigned char may_change[256] = {
    ['\n'] = 1, ['@'] = 1, ['&'] = 1, ['['] = 1, [':'] = 2, ['w'] = 3,
    ['W'] = 3,
};

/* The first byte at or after i that may start a change (may_change), or
 * len. Eight bytes at a time: most text has none. */
static size_t next_candidate(const char *text, size_t len, size_t i)
{
  const unsigned char *u = (const unsigned char *)text;
  for (; i + 8 <= len; i += 8)
    if (may_change[u[i]] | may_change[u[i + 1]] | may_change[u[i + 2]] |
        may_change[u[i + 3]] | may_change[u[i + 4]] | may_change[u[i + 5]] |
        may_change[u[i + 6]] | may_change[u[i + 7]])
      break;
  for (; i < len; i++)
    if (may_change[u[i]])
      return i;
  return len;
}

/* Can the token holding text[i] (< len) change at text[i]? Only a token
 * with '@', '&', '[', "://" or starting "www." does; one without them is
 * copied as it is. */
static bool changes_at(const char *text, size_t len, size_t i)
{
  switch (may_change[(unsigned char)text[i]]) {
  case 0:
    return false;
  case 1:
    return true;
  case 2:
    return len - i >= 3 && text[i + 1] == '/' && text[i + 2] == '/';
  default:
    return starts_ci(text + i, len - i, "www.");
  }
}

bool detector_clean_keeps(const char *text, size_t len)
{
  for (size_t i = next_candidate(text, len, 0); i < len;
       i = next_candidate(text, len, i + 1))
    if (changes_at(text, len, i))
      return false;
  /* One line, whose tokens all stay: only the line itself may go. */
  return !is_signature(text, len) && !is_quote(text, len);
}

/* Copies one kept line, cleaning only the tokens that may change (the
 * others, and the white space, go as they are); returns bytes written. */
static size_t clean_line(const char *line, size_t llen, char *out)
{
  size_t o = 0, done = 0;
  for (size_t i = next_candidate(line, llen, 0); i < llen;
       i = next_candidate(line, llen, i + 1)) {
    if (!changes_at(line, llen, i))
      continue;
    size_t start = i, end = i;
    while (start > done && !is_space(line[start - 1]))
      start--;
    while (end < llen && !is_space(line[end]))
      end++;
    memcpy(out + o, line + done, start - done);
    o += start - done;
    o += clean_token(line + start, end - start, out + o);
    done = i = end;
  }
  memcpy(out + o, line + done, llen - done);
  return o + llen - done;
}

size_t detector_clean(const char *text, size_t len, char *out)
{
  size_t o = 0;
  size_t pos = 0;
  while (pos < len) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - text) : len;
    const char *line = text + pos;
    size_t llen = end - pos;
    size_t next = nl ? end + 1 : len;
    if (is_signature(line, llen))
      break;
    if (is_quote(line, llen)) {
      pos = next;
      continue;
    }
    o += clean_line(line, llen, out + o);
    if (nl)
      out[o++] = '\n';
    pos = next;
  }
  return o;
}
