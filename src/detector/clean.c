/* clean: the text as the detector reads it (see detector_clean in
 * detector.h).
 *
 * Two passes in one: lines are judged first (a quoted reply line and
 * pasted code or logs are dropped, a signature or the start of a quoted
 * mail ends the text), then
 * each kept line is copied token by token with URLs, e-mail addresses,
 * @handles, dataset masks and HTML tags turned into a space and HTML
 * entities decoded. Everything removed is ASCII and
 * every decoded entity is shorter than its source, so the output never
 * grows and stays valid UTF-8. A text with HTML markup is first turned
 * into its plain text (a copy, each tag a space or a line break), then
 * read so.
 *
 * Most bytes start nothing, so the scans test sixteen at a time (SSE2
 * where there is one) for the few that may, and only the tokens that hold
 * one go through clean_token; the rest is copied as it is. A line is
 * judged by its first bytes before its end is looked for. No scan reads
 * outside text[0..len). */
#include "detector/detector.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/bits.h"
#include "base/utf8.h"
#include "base/xalloc.h"

#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#endif

/* The scans below run once or a few times a message: inlined, their
 * constants stay in registers across a line. */
#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

static bool is_space(char c)
{
  /* ' ', '\t', '\n', '\v', '\f', '\r': one test on a bit set. */
  unsigned char u = (unsigned char)c;
  return u <= ' ' && ((1ull << u) & (1ull << ' ' | 0x3e00ull));
}

static bool is_word(char c)
{
  /* c | 0x20 folds 'A'..'Z' onto 'a'..'z' and nothing else onto them. */
  return (unsigned char)((c | 0x20) - 'a') < 26 ||
         (unsigned char)(c - '0') < 10 || c == '_';
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
  if (!starts_ci(s, n, "sent "))
    return starts_ci(s, n, "get outlook for ") ||
           (n <= 60 && starts_ci(s, n, "gesendet von "));
  s += 5;
  n -= 5;
  return starts_ci(s, n, "from my ") || starts_ci(s, n, "from mail for ") ||
         starts_ci(s, n, "via ") || starts_ci(s, n, "with ");
}

/* The mobile mail signature in the other six languages ("Envoyé de mon
 * iPhone", "Von meinem iPhone gesendet", "Enviado desde mi Android",
 * "Inviato da iPhone", "Verstuurd vanaf mijn iPad", "Enviado do meu
 * iPhone"; s trimmed). */
static bool is_mobile_signature(const char *s, size_t n)
{
  static const char *const opens[] = {
      "envoy\xc3\xa9 de mon ", "envoy\xc3\xa9 depuis ", "von meinem ",
      "gesendet von ",         "enviado desde mi ",     "enviado do meu ",
      "inviato da ",           "verstuurd vanaf mijn ", "verzonden vanaf mijn ",
  };
  if (n > 60)
    return false;
  for (size_t i = 0; i < sizeof opens / sizeof *opens; i++)
    if (starts_ci(s, n, opens[i]))
      return true;
  return false;
}

/* A quoted line of a reply: "> ...". */
static bool is_quote(const char *line, size_t len)
{
  const char *s = line;
  size_t n = len;
  trim(&s, &n);
  return n && s[0] == '>';
}

/* Does s[0..len) hold lit, either case (ASCII)? */
static bool has_ci(const char *s, size_t len, const char *lit)
{
  size_t n = strlen(lit);
  for (size_t i = 0; i + n <= len; i++)
    if (starts_ci(s + i, len - i, lit))
      return true;
  return false;
}

/* ---- HTML ---------------------------------------------------------------
 * A message sent as HTML (a chat widget's or a help desk's body, a mail)
 * is read as the text a reader sees: the markup goes, block elements
 * ("<p>", "<div>", "<br>", "<li>"...) end a line, the contents of
 * "<style>", "<script>" and "<title>" go, and the text ends where
 * a mail client's quoted part starts: the first "<blockquote>", or an
 * element whose attributes name one (Gmail's "gmail_quote", Thunderbird's
 * "moz-cite-prefix", Outlook's "divRplyFwdMsg" and "appendonsend",
 * Yahoo's "yahoo_quoted", Proton's "protonmail_quote"). Only known
 * element names count as markup, so prose such as "<insert name here>"
 * or "<<face.jpg>>" is not HTML. Entities are decoded afterwards, with
 * the other text's. */

enum html_kind {
  HTML_INLINE, /* goes, a space in its place */
  HTML_BLOCK,  /* ends a line */
  HTML_SKIP,   /* goes with all it holds */
  HTML_QUOTE,  /* the quoted part of a mail starts: the text ends */
};

struct html_name {
  const char *name;
  enum html_kind kind;
};

/* In strcmp order (bsearch). */
static const struct html_name html_names[] = {
    {"a", HTML_INLINE},          {"abbr", HTML_INLINE},
    {"address", HTML_BLOCK},     {"article", HTML_BLOCK},
    {"aside", HTML_BLOCK},       {"b", HTML_INLINE},
    {"big", HTML_INLINE},        {"blockquote", HTML_QUOTE},
    {"body", HTML_BLOCK},        {"br", HTML_BLOCK},
    {"button", HTML_INLINE},     {"center", HTML_BLOCK},
    {"cite", HTML_INLINE},       {"code", HTML_INLINE},
    {"dd", HTML_BLOCK},          {"del", HTML_INLINE},
    {"div", HTML_BLOCK},         {"dl", HTML_BLOCK},
    {"dt", HTML_BLOCK},          {"em", HTML_INLINE},
    {"figcaption", HTML_BLOCK},  {"figure", HTML_BLOCK},
    {"font", HTML_INLINE},       {"footer", HTML_BLOCK},
    {"form", HTML_BLOCK},        {"h1", HTML_BLOCK},
    {"h2", HTML_BLOCK},          {"h3", HTML_BLOCK},
    {"h4", HTML_BLOCK},          {"h5", HTML_BLOCK},
    {"h6", HTML_BLOCK},          {"head", HTML_INLINE},
    {"header", HTML_BLOCK},      {"hr", HTML_BLOCK},
    {"html", HTML_BLOCK},        {"i", HTML_INLINE},
    {"img", HTML_INLINE},        {"input", HTML_INLINE},
    {"ins", HTML_INLINE},        {"kbd", HTML_INLINE},
    {"label", HTML_INLINE},      {"li", HTML_BLOCK},
    {"link", HTML_INLINE},       {"main", HTML_BLOCK},
    {"mark", HTML_INLINE},       {"meta", HTML_INLINE},
    {"nav", HTML_BLOCK},         {"ol", HTML_BLOCK},
    {"p", HTML_BLOCK},           {"pre", HTML_BLOCK},
    {"q", HTML_INLINE},          {"s", HTML_INLINE},
    {"script", HTML_SKIP},       {"section", HTML_BLOCK},
    {"small", HTML_INLINE},      {"span", HTML_INLINE},
    {"strike", HTML_INLINE},     {"strong", HTML_INLINE},
    {"style", HTML_SKIP},        {"sub", HTML_INLINE},
    {"sup", HTML_INLINE},        {"table", HTML_BLOCK},
    {"tbody", HTML_BLOCK},       {"td", HTML_BLOCK},
    {"tfoot", HTML_BLOCK},       {"th", HTML_BLOCK},
    {"thead", HTML_BLOCK},       {"title", HTML_SKIP},
    {"tr", HTML_BLOCK},          {"tt", HTML_INLINE},
    {"u", HTML_INLINE},          {"ul", HTML_BLOCK},
    {"wbr", HTML_INLINE},
};

/* The longest tag read (a style attribute can be long). */
#define HTML_TAG_MAX 4096

static int by_html_name(const void *key, const void *elem)
{
  return strcmp(key, ((const struct html_name *)elem)->name);
}

/* The attributes that mark a mail client's quoted part (lower case). */
static const char *const html_quote_marks[] = {
    "gmail_quote",  "moz-cite-prefix", "divrplyfwdmsg",
    "appendonsend", "yahoo_quoted",    "protonmail_quote",
};

/* The markup at s[0..len) (s[0] == '<'): its length, the '>' included,
 * and its kind; 0 when it is none. A tag is '<', an optional '/', a known
 * name (or one with a namespace, "o:p", as Word writes), then attributes
 * up to a '>' with no '<' before it; a comment runs to "-->", a
 * declaration ("<!DOCTYPE html>") to '>'. *closing: "</name>". */
static size_t html_tag(const char *s, size_t len, enum html_kind *kind,
                       bool *closing)
{
  size_t lim = len < HTML_TAG_MAX ? len : HTML_TAG_MAX;
  *kind = HTML_INLINE;
  *closing = false;
  if (lim >= 4 && s[1] == '!' && s[2] == '-' && s[3] == '-') {
    for (size_t i = 4; i + 2 < len; i++)
      if (s[i] == '-' && s[i + 1] == '-' && s[i + 2] == '>')
        return i + 3;
    return len; /* an unclosed comment hides the rest */
  }
  size_t i = 1;
  bool declaration = false;
  if (i < lim && (s[i] == '/' || s[i] == '!')) {
    *closing = s[i] == '/';
    declaration = s[i] == '!';
    i++;
  }
  char name[16];
  size_t n = 0;
  bool ns = false;
  while (i < lim && n < sizeof name - 1 &&
         (((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') ||
          (n > 0 && ((s[i] >= '0' && s[i] <= '9') || s[i] == ':')))) {
    ns |= s[i] == ':';
    name[n++] = (char)(s[i] | 0x20);
    i++;
  }
  name[n] = '\0';
  if (!n || (i < lim && !is_space(s[i]) && s[i] != '>' && s[i] != '/'))
    return 0;
  if (!declaration && !ns) {
    const struct html_name *h =
        bsearch(name, html_names, sizeof html_names / sizeof *html_names,
                sizeof *html_names, by_html_name);
    if (!h)
      return 0;
    *kind = h->kind;
  }
  size_t attrs = i;
  while (i < lim && s[i] != '>' && s[i] != '<')
    i++;
  if (i == lim || s[i] != '>')
    return 0;
  if (!*closing && *kind != HTML_SKIP)
    for (size_t m = 0; m < sizeof html_quote_marks / sizeof *html_quote_marks;
         m++)
      if (has_ci(s + attrs, i - attrs, html_quote_marks[m]))
        *kind = HTML_QUOTE;
  return i + 1;
}

/* Does text[0..len) hold markup (html_tag)? */
static bool has_html(const char *text, size_t len)
{
  enum html_kind kind;
  bool closing;
  for (const char *p = memchr(text, '<', len); p;
       p = memchr(p + 1, '<', len - (size_t)(p + 1 - text)))
    if (html_tag(p, len - (size_t)(p - text), &kind, &closing))
      return true;
  return false;
}

/* Writes the text of the HTML text[0..len) into out (room for len bytes):
 * see the opening comment. Returns its length. */
static size_t html_text(const char *text, size_t len, char *out)
{
  size_t o = 0, i = 0;
  while (i < len) {
    const char *lt = memchr(text + i, '<', len - i);
    size_t next = lt ? (size_t)(lt - text) : len;
    memcpy(out + o, text + i, next - i);
    o += next - i;
    i = next;
    if (i == len)
      break;
    enum html_kind kind;
    bool closing;
    size_t n = html_tag(text + i, len - i, &kind, &closing);
    if (!n) {
      out[o++] = '<';
      i++;
      continue;
    }
    if (kind == HTML_QUOTE && !closing)
      break;
    i += n;
    if (kind == HTML_SKIP && !closing) {
      /* To the element's end tag ("</style>"), or the text's end. */
      for (; i < len; i++) {
        if (text[i] != '<' || i + 1 == len || text[i + 1] != '/')
          continue;
        size_t m = html_tag(text + i, len - i, &kind, &closing);
        if (m && kind == HTML_SKIP) {
          i += m;
          break;
        }
      }
      continue;
    }
    out[o++] = kind == HTML_BLOCK ? '\n' : ' ';
  }
  return o;
}

/* The line after the one that ends at text[end] ('\n' or the end), or an
 * empty one; blank lines are passed over. */
static void next_line(const char *text, size_t len, size_t end,
                      const char **line, size_t *n)
{
  size_t pos = end < len ? end + 1 : len;
  for (;;) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t e = nl ? (size_t)(nl - text) : len;
    *line = text + pos;
    *n = e - pos;
    trim(line, n);
    if (*n || e == len)
      return;
    pos = e + 1;
  }
}

/* Has s[0..n) a digit (the date or time every client's attribution
 * holds, which "On Monday I wrote:" does not)? */
static bool has_digit(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (s[i] >= '0' && s[i] <= '9')
      return true;
  return false;
}

static const char *const attribution_opens[] = {"on ", "le ", "am ", "el ",
                                                "il ", "op ", "em "};

/* Which attribution s[0..n) may open: its index in attribution_opens, or
 * -1. */
static int attribution_open(const char *s, size_t n)
{
  for (size_t i = 0; i < sizeof attribution_opens / sizeof *attribution_opens;
       i++)
    if (starts_ci(s, n, attribution_opens[i]))
      return (int)i;
  return -1;
}

/* The line that introduces a quoted reply in the mail clients' languages:
 * "On <date>, <who> wrote:", "Le <date>, <who> a écrit :", "Am <date>
 * schrieb <who>:", "El <date>, <who> escribió:", "Il giorno <date> <who>
 * ha scritto:", "Op <date> schreef <who>:", "Em <date>, <who> escreveu:"
 * (s trimmed), with a digit in it. */
static bool is_attribution(const char *s, size_t n)
{
  static const char *const verbs[] = {
      " wrote",      " a \303\251crit", " schrieb",  " escribi\xc3\xb3",
      " ha scritto", " schreef",        " escreveu",
  };
  if (n <= 9 || s[n - 1] != ':' || !has_digit(s, n))
    return false;
  int i = attribution_open(s, n);
  return i >= 0 && has_ci(s, n, verbs[i]);
}

/* Does the trimmed line s[0..n) start with one of names (each ending in
 * ':' or " :")? */
static bool starts_any(const char *s, size_t n, const char *const *names,
                       size_t count)
{
  for (size_t i = 0; i < count; i++)
    if (starts_ci(s, n, names[i]))
      return true;
  return false;
}

/* The header fields mail clients write above a quoted or forwarded
 * message, in the seven languages. */
static const char *const from_fields[] = {
    "from:", "de :", "de:", "von:", "da:", "van:",
};
/* Those only mail has: the date sent and the subject. */
static const char *const mail_fields[] = {
    "sent:",    "subject:",    "envoy\xc3\xa9 :", "envoy\xc3\xa9:",
    "objet :",  "objet:",      "gesendet:",       "betreff:",
    "enviado:", "enviado el:", "asunto:",         "inviato:",
    "oggetto:", "verzonden:",  "onderwerp:",      "assunto:",
};
/* The others of such a block. */
static const char *const other_fields[] = {
    "to:",       "cc:",        "date:",     "date :", "\xc3\xa0 :",
    "\xc3\xa0:", "\xc3\x80 :", "\xc3\x80:", /* "À :", upper case beyond ASCII */
    "an:",       "datum:",     "para:",     "fecha:", "a:",
    "data:",     "aan:",       "cc :",
};

/* Is the trimmed line s[0..n) "From: ..." opening a mail header block:
 * followed, within four lines, by a field only mail has ("Sent:",
 * "Subject:"), every line between being a header field too? A form a
 * customer fills in ("From: London / To: Paris") has no such field. */
static bool opens_headers(const char *s, size_t n, const char *text, size_t len,
                          size_t end)
{
  if (!starts_any(s, n, from_fields, sizeof from_fields / sizeof *from_fields))
    return false;
  for (int k = 0; k < 4; k++) {
    const char *l;
    size_t ln;
    next_line(text, len, end, &l, &ln);
    if (!ln)
      return false;
    if (starts_any(l, ln, mail_fields,
                   sizeof mail_fields / sizeof *mail_fields))
      return true;
    if (!starts_any(l, ln, other_fields,
                    sizeof other_fields / sizeof *other_fields))
      return false;
    end = (size_t)(l + ln - text);
    while (end < len && text[end] != '\n')
      end++;
  }
  return false;
}

/* A line of dashes around the name of a quoted or forwarded message:
 * "-----Original Message-----", "---------- Forwarded message ---------",
 * and their names in the other six languages (s trimmed). */
static bool is_message_rule(const char *s, size_t n)
{
  static const char *const names[] = {
      "original message",
      "forwarded message",
      "message d'origine",
      "message transf\xc3\xa9r\xc3\xa9",
      "urspr\xc3\xbcngliche nachricht",
      "weitergeleitete nachricht",
      "mensaje original",
      "mensaje reenviado",
      "messaggio originale",
      "messaggio inoltrato",
      "oorspronkelijk bericht",
      "doorgestuurd bericht",
      "mensagem original",
      "mensagem encaminhada",
  };
  size_t d = 0;
  while (d < n && s[d] == '-')
    d++;
  if (d < 2)
    return false;
  s += d;
  n -= d;
  while (n && s[n - 1] == '-')
    n--;
  trim(&s, &n);
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (n == strlen(names[i]) && starts_ci(s, n, names[i]))
      return true;
  return false;
}

/* Does the line s[0..len) (ending at text[end]) start the quoted or
 * forwarded part of a mail: an attribution line ("On ... wrote:", also
 * wrapped over two lines), a "-----Original Message-----" rule or a
 * "From:" header block? The rest of the text is then not the writer's. */
static bool opens_quoted_mail(const char *line, size_t len, const char *text,
                              size_t tlen, size_t end)
{
  const char *s = line;
  size_t n = len;
  trim(&s, &n);
  if (n == 0)
    return false;
  if (s[0] == '-')
    return is_message_rule(s, n);
  if (is_attribution(s, n))
    return true;
  if (opens_headers(s, n, text, tlen, end))
    return true;
  /* "On Mon, 3 Mar 2025 at 10:12, Support <support@acme.com>\nwrote:" */
  if (n > 3 && s[n - 1] != ':' && attribution_open(s, n) >= 0) {
    const char *l;
    size_t ln;
    next_line(text, tlen, end, &l, &ln);
    if (ln && ln < 120 && ln + n < 400 && l[ln - 1] == ':') {
      char joined[400];
      memcpy(joined, s, n);
      joined[n] = ' ';
      memcpy(joined + n + 1, l, ln);
      return is_attribution(joined, n + 1 + ln);
    }
  }
  return false;
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
    if (starts_ci(s, len, named[i].name)) {
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
  /* A handle's first '@' is its first byte: no address. */
  if (len && tok[0] == '@')
    return false;
  const char *at = memchr(tok, '@', len);
  if (!at || at == tok)
    return false;
  size_t rest = len - (size_t)(at - tok) - 1;
  const char *dot = memchr(at + 1, '.', rest);
  return dot && dot > at + 1 && (size_t)(dot - tok) + 1 < len;
}

/* "www.", either case, at s[0..len): c | 0x20 is 'w' only for 'w', 'W'. */
static bool starts_www(const char *s, size_t len)
{
  return len >= 4 && (s[0] | 0x20) == 'w' && (s[1] | 0x20) == 'w' &&
         (s[2] | 0x20) == 'w' && s[3] == '.';
}

static const char *find_url(const char *tok, size_t len)
{
  if (starts_www(tok, len))
    return tok;
  /* Most tokens have no "://": check for it before looking further. */
  const char *colon = memchr(tok, ':', len);
  while (colon && !((size_t)(tok + len - colon) >= 3 && colon[1] == '/' &&
                    colon[2] == '/'))
    colon = memchr(colon + 1, ':', (size_t)(tok + len - colon) - 1);
  if (!colon)
    return NULL;
  for (size_t i = 0; i < len; i++)
    if ((tok[i] == 'h' || tok[i] == 'H') &&
        (starts_ci(tok + i, len - i, "http://") ||
         starts_ci(tok + i, len - i, "https://")))
      return tok + i;
  return NULL;
}

/* The length of the dataset mask ("[NAME]", "[RELIGION]", either case) at
 * s[0..len), or 0. */
static size_t mask_len(const char *s, size_t len)
{
  if (len < 6)
    return 0;
  char c = (char)(s[1] | 0x20); /* 'n' or 'r' only for the letters */
  if (c == 'n' && starts_ci(s, len, "[name]"))
    return 6;
  if (c == 'r' && starts_ci(s, len, "[religion]"))
    return 10;
  return 0;
}

/* Copies one white-space-free token, cleaned; returns bytes written. */
/* The length of the redaction mask at s[0..len) (s[0] == 'X', not inside
 * a word): what consumer-complaint data puts for a name, a number or a
 * date ("XXXX", "XX/XX/XXXX", "XXXXXXXX"), two X or more with '/' or '-'
 * between runs, ending where the word does; 0 when it is none ("XXL",
 * "X-ray"). */
static size_t x_mask_len(const char *s, size_t len)
{
  size_t i = 0, xs = 0, end = 0;
  while (i < len && (s[i] == 'X' || s[i] == '/' || s[i] == '-')) {
    if (s[i] == 'X') {
      xs++;
      end = i + 1;
    }
    i++;
  }
  if (xs < 2 || (end < len && is_word(s[end])))
    return 0;
  /* A separator before a word ("XX-ray") makes it no mask either. */
  if (i < len && i > end && is_word(s[i]))
    return 0;
  return end;
}

/* The length of the HTML tag without attributes at s[0..len) (s[0] ==
 * '<'): "<p>", "</div>", "<br/>", "<h1>", a name of one to ten ASCII
 * letters and digits starting with a letter; 0 when it is none ("<3",
 * "<-", "a < b"). What a message copied from a mail or a web page keeps
 * of its markup. */
static size_t tag_len(const char *s, size_t len)
{
  size_t i = 1;
  if (i < len && s[i] == '/')
    i++;
  size_t name = i;
  while (i < len && i - name < 11 &&
         (((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') ||
          (i > name && s[i] >= '0' && s[i] <= '9')))
    i++;
  if (i == name || i - name > 10)
    return 0;
  if (i < len && s[i] == '/')
    i++;
  return i < len && s[i] == '>' ? i + 1 : 0;
}

static size_t clean_token(const char *tok, size_t len, char *out)
{
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
    /* GoEmotions masks names as [NAME] and religions as [RELIGION];
     * redacted complaints write XXXX; markup writes <p>. */
    size_t mask = c == '[' ? mask_len(tok + i, len - i)
                  : c == 'X' && (i == 0 || !is_word(tok[i - 1]))
                      ? x_mask_len(tok + i, len - i)
                  : c == '<' ? tag_len(tok + i, len - i)
                             : 0;
    if (mask) {
      i += mask;
      out[o++] = ' ';
      continue;
    }
    out[o++] = c;
    i++;
  }
  return o;
}

/* Bytes that may start a change: a line break, '@' (addresses, handles),
 * '&' (entities), '[' (masks), ':' ("://" of a URL), 'w' ("www."), 'X'
 * (redaction masks), '<' (HTML tags). */
static const unsigned char may_change[256] = {
    ['\n'] = 1, ['@'] = 1, ['&'] = 1, ['['] = 1, [':'] = 2,
    ['w'] = 3,  ['W'] = 3, ['X'] = 4, ['<'] = 1,
};

/* The two sets of bytes the scans look for, sixteen at a time. */
enum scan_set {
  SCAN_CHANGES, /* may start a change: may_change[b] is not 0 */
  SCAN_BLANKS,  /* may be white space: b <= ' ' (is_space says) */
};

/* Bit k set: p[k] is in the set, for k < 16; a set bit may be a false
 * alarm, never a miss. With SSE2 (all of x86-64), SCAN_CHANGES folds
 * bytes together by or-ing bits into them, so that five compares find the
 * seven bytes: | 0x30 takes '\n' and ':' (with '*' and 0x1A) to ':', and
 * | 0x20 takes '@', '[', 'W' to '`', '{', 'w' (and 0x06 to '&'); 'X' and
 * '<' are compared as they are. The few others flagged are passed over by
 * changes_at, which reads may_change. */
static ALWAYS_INLINE unsigned scan16(const unsigned char *p, enum scan_set set)
{
#if defined(__SSE2__) && defined(__GNUC__)
  __m128i v = _mm_loadu_si128((const __m128i *)p);
  if (set == SCAN_BLANKS) /* min(v, ' ') == v: v <= ' ', unsigned */
    return (unsigned)_mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(' ')), v));
  __m128i b = _mm_or_si128(v, _mm_set1_epi8(0x30));
  __m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('X')),
                           _mm_cmpeq_epi8(v, _mm_set1_epi8('<')));
  v = _mm_or_si128(v, _mm_set1_epi8(0x20));
  __m128i x = _mm_or_si128(_mm_cmpeq_epi8(b, _mm_set1_epi8(':')),
                           _mm_cmpeq_epi8(v, _mm_set1_epi8('&')));
  __m128i y = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('@' | 0x20)),
                           _mm_cmpeq_epi8(v, _mm_set1_epi8('[' | 0x20)));
  __m128i z = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('w')), m);
  return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(x, y), z));
#else
  unsigned m = 0;
  for (unsigned k = 0; k < 16; k++) {
    bool in = set == SCAN_BLANKS ? p[k] <= ' ' : may_change[p[k]] != 0;
    m |= (unsigned)in << k;
  }
  return m;
#endif
}

/* scan16 for the last bytes, text[i..len) (0 < len - i <= 16), reading
 * nothing outside text[0..len): the sixteen bytes that end at len are
 * tested and their bits shifted down; a shorter text is tested from a
 * copy. */
static ALWAYS_INLINE unsigned scan_last(const char *text, size_t len, size_t i,
                                        enum scan_set set)
{
  const unsigned char *u = (const unsigned char *)text;
  if (len >= 16)
    return scan16(u + len - 16, set) >> (16 - (len - i));
  unsigned char block[16] = {0};
  memcpy(block, u + i, len - i);
  return scan16(block, set) & ((1u << (len - i)) - 1);
}

/* Can the token holding text[i] (< len) change at text[i]? Only a token
 * with '@', '&', '[', "://" or starting "www." does; one without them is
 * copied as it is. */
static inline bool changes_at(const char *text, size_t len, size_t i)
{
  unsigned char kind = may_change[(unsigned char)text[i]];
  /* Most candidates are a 'w' that starts no "www." (either case). */
  if (kind == 3)
    return i + 3 < len && (text[i + 1] | 0x20) == 'w' &&
           (text[i + 2] | 0x20) == 'w' && text[i + 3] == '.';
  if (kind == 2) /* "://" */
    return i + 2 < len && text[i + 1] == '/' && text[i + 2] == '/';
  if (kind == 4) /* "XX" starting a word: maybe a mask (clean_token says) */
    return i + 1 < len && text[i + 1] == 'X' &&
           (i == 0 || !is_word(text[i - 1]));
  return kind == 1;
}

enum fate { LINE_KEPT, LINE_DROPPED, LINE_ENDS };

/* ---- Pasted code and logs ----------------------------------------------
 * A customer who pastes an error log or a stack trace has not written its
 * words ("failed", "denied", "fatal", "invalid"): the detector reads around
 * them. Dropped: fenced code blocks (a line of "```" or "~~~" opens one and
 * the same fence closes it, or the message's end; CommonMark 0.31, 4.5),
 * indented lines (a tab or four spaces) after a blank line, a line ending
 * in ':' or another such line (CommonMark's indented code, 4.4, and what
 * "Here is the log:" introduces), and log records (a line opening with an
 * ISO 8601 date and a time with seconds, bracketed or not). */

/* The state of the walk through a message's lines. */
struct walk {
  char fence; /* '`' or '~' inside a fenced block, else 0 */
  bool code;  /* the line before was dropped as indented code */
};

/* The fence character of a line that is a code fence: at most three
 * spaces, then three '`' or '~' at least; 0 for any other line. */
static char fence_of(const char *s, size_t len)
{
  size_t k = 0;
  while (k < len && k < 3 && s[k] == ' ')
    k++;
  if (k + 3 > len)
    return 0;
  char c = s[k];
  return (c == '`' || c == '~') && s[k + 1] == c && s[k + 2] == c ? c : 0;
}

/* Does s[0..len) open with digits, as many as pattern's '9's, and
 * pattern's other bytes where they are? */
static bool digits_like(const char *s, size_t len, const char *pattern)
{
  size_t n = strlen(pattern);
  if (len < n)
    return false;
  for (size_t i = 0; i < n; i++)
    if (pattern[i] == '9' ? (unsigned char)(s[i] - '0') > 9
                          : s[i] != pattern[i])
      return false;
  return true;
}

/* A log record: "2024-05-01 12:00:03 ...", "2024-05-01T12:00:03Z ...",
 * "[2024-05-01 12:00:03] ..." (trimmed at the start). The seconds make
 * it a machine's: "2024-05-01 12:00 and still no refund" is a person's. */
static bool is_log_record(const char *s, size_t len)
{
  while (len && is_space(*s)) {
    s++;
    len--;
  }
  if (len && *s == '[') {
    s++;
    len--;
  }
  return digits_like(s, len, "9999-99-99") && len > 13 &&
         (s[10] == ' ' || s[10] == 'T') &&
         digits_like(s + 11, len - 11, "99:99:99");
}

/* Is the line s[0..len) indented as code, with something in it? */
static bool is_indented(const char *s, size_t len)
{
  size_t k = s[0] == '\t' ? 1 : len >= 4 && !memcmp(s, "    ", 4) ? 4 : 0;
  if (!k)
    return false;
  while (k < len && is_space(s[k]))
    k++;
  return k < len;
}

/* May indented code start at the line at text[pos] (pos > 0)? When the
 * line before is blank or ends in ':'. */
static bool code_may_open(const char *text, size_t pos)
{
  size_t j = pos - 1; /* text[j] == '\n' */
  while (j > 0 && text[j - 1] != '\n' && is_space(text[j - 1]))
    j--;
  return j == 0 || text[j - 1] == '\n' || text[j - 1] == ':';
}

/* Is the line text[pos..end) pasted code or a log (dropped), given the
 * lines before (w, updated)? */
static bool is_code_line(struct walk *w, const char *text, size_t pos,
                         size_t end)
{
  const char *s = text + pos;
  size_t n = end - pos;
  char fence = n ? fence_of(s, n) : 0;
  if (w->fence) {
    if (fence == w->fence)
      w->fence = 0;
    return true;
  }
  if (fence) {
    w->fence = fence;
    return true;
  }
  bool code = pos > 0 && n && is_indented(s, n) &&
              (w->code || code_may_open(text, pos));
  w->code = code;
  return code || is_log_record(s, n);
}

/* Is the last byte of s[0..len) that is not white space a ':'? */
static bool ends_colon(const char *s, size_t len)
{
  while (len && is_space(s[len - 1]))
    len--;
  return len && s[len - 1] == ':';
}

/* What becomes of the line s[0..len) (no '\n' in it; text[end] is its
 * '\n' or the end, for the tests that read the next lines): kept, dropped
 * (a quote) or the end of the text (a signature, or a quoted mail). */
static enum fate line_fate(const char *s, size_t len, const char *text,
                           size_t tlen, size_t end)
{
  size_t k = 0;
  while (k < len && is_space(s[k]))
    k++;
  if (k == len)
    return LINE_KEPT;
  /* Most lines fail at their first two bytes (c | 0x20 folds only the
   * case of a letter onto what is compared here: s[k] is not '\r'). */
  int c = s[k] | 0x20, next = k + 1 < len ? s[k + 1] | 0x20 : 0;
  switch (c) {
  case '-':
    if (is_signature(s, len))
      return LINE_ENDS;
    return opens_quoted_mail(s, len, text, tlen, end) ? LINE_ENDS : LINE_KEPT;
  case 's': /* "sent ..." */
  case 'g': /* "get outlook for " */
    return next == 'e' && is_signature(s, len) ? LINE_ENDS : LINE_KEPT;
  case '>':
    return is_quote(s, len) ? LINE_DROPPED : LINE_KEPT;
  case 'o': /* "on ... wrote:", "op ... schreef" */
  case 'l': /* "le ... a écrit :" */
  case 'a': /* "am ... schrieb" */
  case 'e': /* "el ... escribió:", "em ... escreveu:" */
  case 'i': /* "il giorno ... ha scritto:" */
  case 'f': /* "from:" */
  case 'd': /* "de :", "da:" */
  case 'v': /* "von:", "van:" */
    /* A mobile signature ends the text. Alone, only an attribution
     * (ending in ':') may open a quote; the header blocks and wrapped
     * attributions need the next lines. Most messages are one line that
     * does not end so: judged here. */
    if (((c == 'e' && next == 'n') || (c == 'i' && next == 'n') ||
         (c == 'v' && (next == 'o' || next == 'e'))) &&
        is_mobile_signature(s + k, len - k))
      return LINE_ENDS;
    if (end >= tlen && !ends_colon(s, len))
      return LINE_KEPT;
    return opens_quoted_mail(s, len, text, tlen, end) ? LINE_ENDS : LINE_KEPT;
  default:
    return LINE_KEPT;
  }
}

/* First bytes (after white space, either case) of the lines that may go:
 * "--", "Sent ..." and "Get Outlook ..." signatures, "> " quotes, and what
 * opens a quoted mail (attributions, header blocks). */
static const bool opens_goer[256] = {
    ['-'] = 1, ['s'] = 1, ['S'] = 1, ['g'] = 1, ['G'] = 1, ['>'] = 1,
    ['o'] = 1, ['O'] = 1, ['l'] = 1, ['L'] = 1, ['a'] = 1, ['A'] = 1,
    ['e'] = 1, ['E'] = 1, ['i'] = 1, ['I'] = 1, ['f'] = 1, ['F'] = 1,
    ['d'] = 1, ['D'] = 1, ['v'] = 1, ['V'] = 1,
    /* code fences and log records */
    ['`'] = 1, ['~'] = 1, ['['] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1,
    ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,
    ['9'] = 1,
};

/* Could the line that starts at text[pos] go? Looks no further than its
 * first byte that is not white space, so most lines are judged without
 * finding their end. An indented line after the first may be code. */
static inline bool may_go(const char *text, size_t len, size_t pos)
{
  size_t start = pos;
  while (pos < len && text[pos] != '\n' && is_space(text[pos]))
    pos++;
  if (pos < len && start > 0 && text[start] != '\n' &&
      (text[start] == '\t' || pos - start >= 4))
    return true;
  return pos < len && opens_goer[(unsigned char)text[pos]];
}

/* Is text[c], flagged by a scan for set, what set looks for: a byte
 * where its token changes (changes_at) for SCAN_CHANGES, white space for
 * SCAN_BLANKS? */
static ALWAYS_INLINE bool confirmed(const char *text, size_t len, size_t c,
                                    enum scan_set set)
{
  return set == SCAN_CHANGES ? changes_at(text, len, c) : is_space(text[c]);
}

/* The first byte of text[i..i + 16) flagged in m (scan16) and confirmed,
 * or len. */
static ALWAYS_INLINE size_t first_of(const char *text, size_t len, size_t i,
                                     unsigned m, enum scan_set set)
{
  for (; m; m &= m - 1) {
    size_t c = i + bits_lowest(m);
    if (confirmed(text, len, c, set))
      return c;
  }
  return len;
}

/* The first byte at or after text[i] (i <= len) that set looks for and
 * confirmed says is one, or len. The loop over whole blocks stays short:
 * most blocks flag nothing. */
static ALWAYS_INLINE size_t next_of(const char *text, size_t len, size_t i,
                                    enum scan_set set)
{
  const unsigned char *u = (const unsigned char *)text;
  for (size_t last = len > 16 ? len - 16 : 0; i < last; i += 16) {
    unsigned m = scan16(u + i, set);
    size_t c = m ? first_of(text, len, i, m, set) : len;
    if (c < len)
      return c;
  }
  if (i == len)
    return len;
  return first_of(text, len, i, scan_last(text, len, i, set), set);
}

/* The first byte at or after text[i] where its token changes (changes_at),
 * a '\n' included, or len. */
static ALWAYS_INLINE size_t next_change(const char *text, size_t len, size_t i)
{
  return next_of(text, len, i, SCAN_CHANGES);
}

/* The end of the token that holds text[i]: the first white space at or
 * after text[i] (i <= len), or len. */
static ALWAYS_INLINE size_t token_end(const char *text, size_t len, size_t i)
{
  return next_of(text, len, i, SCAN_BLANKS);
}

/* What becomes of the line that starts at text[pos], the lines before
 * it having left w (updated): the one judgement of detector_clean and
 * detector_own_words. A line that cannot go (may_go) is kept without its
 * end being looked for; for the others *end is set to their '\n' or len
 * (it is left as it was otherwise). */
static enum fate walk_line(struct walk *w, const char *text, size_t len,
                           size_t pos, size_t *end)
{
  if (!w->fence && !may_go(text, len, pos)) {
    w->code = false;
    return LINE_KEPT;
  }
  const char *nl = memchr(text + pos, '\n', len - pos);
  *end = nl ? (size_t)(nl - text) : len;
  if (is_code_line(w, text, pos, *end))
    return LINE_DROPPED;
  return line_fate(text + pos, *end - pos, text, len, *end);
}

bool detector_clean_keeps(const char *text, size_t len)
{
  if (next_change(text, len, 0) < len)
    return false;
  /* One line, whose tokens all stay: only the line itself may go. */
  struct walk w = {0, false};
  size_t end;
  return walk_line(&w, text, len, 0, &end) == LINE_KEPT;
}

/* Copies the kept line that starts at text[pos], its '\n' included,
 * cleaning only the tokens that may change (the others, and the white
 * space, go as they are); sets *next to where the next line starts (len
 * after the last) and returns the bytes written. */
static size_t clean_line(const char *text, size_t len, size_t pos, char *out,
                         size_t *next)
{
  size_t o = 0, done = pos; /* text[pos..done) is in out[0..o) */
  for (size_t c = next_change(text, len, done); c < len;
       c = next_change(text, len, done)) {
    if (text[c] == '\n') {
      memcpy(out + o, text + done, c + 1 - done);
      *next = c + 1;
      return o + c + 1 - done;
    }
    /* The token ends at white space, the line's '\n' included. */
    size_t start = c;
    while (start > done && !is_space(text[start - 1]))
      start--;
    size_t end = token_end(text, len, c + 1);
    if (start > done) { /* the bytes since the last token, if any */
      memcpy(out + o, text + done, start - done);
      o += start - done;
    }
    o += clean_token(text + start, end - start, out + o);
    done = end; /* the scan goes on after the token */
  }
  memcpy(out + o, text + done, len - done);
  *next = len;
  return o + len - done;
}

/* detector_clean of a text that holds no markup. */
static size_t clean_plain(const char *text, size_t len, char *out)
{
  size_t o = 0;
  size_t pos = 0;
  struct walk w = {0, false};
  while (pos < len) {
    size_t end = len;
    enum fate fate = walk_line(&w, text, len, pos, &end);
    if (fate == LINE_ENDS)
      break;
    if (fate == LINE_DROPPED)
      pos = end < len ? end + 1 : len;
    else
      o += clean_line(text, len, pos, out + o, &pos);
  }
  return o;
}

/* The text a reader sees of text[0..len) (html_text), in a new buffer the
 * caller frees, *n bytes; NULL when the text holds no markup. */
static char *html_plain(const char *text, size_t len, size_t *n)
{
  if (!memchr(text, '<', len) || !has_html(text, len))
    return NULL;
  char *plain = xmalloc(len + 1);
  *n = html_text(text, len, plain);
  return plain;
}

size_t detector_clean(const char *text, size_t len, char *out)
{
  size_t n;
  char *plain = html_plain(text, len, &n);
  if (!plain)
    return clean_plain(text, len, out);
  size_t o = clean_plain(plain, n, out);
  free(plain);
  return o;
}

/* detector_own_words of a text that holds no markup. */
static const char *own_plain(const char *text, size_t len, struct buf *scratch,
                             size_t *n)
{
  *n = len;
  if (!memchr(text, '\n', len))
    return text; /* one line: all of it, or none, is the writer's */
  /* The lines detector_clean keeps, as they are. While every line so far
   * is kept they are text's own bytes; from the first that is not, the
   * kept ones are copied. */
  struct walk w = {0, false};
  size_t kept = 0; /* text[0..kept): kept so far, when nothing is copied */
  bool copying = false;
  buf_reset(scratch);
  size_t pos = 0;
  while (pos < len) {
    size_t end = SIZE_MAX;
    enum fate fate = walk_line(&w, text, len, pos, &end);
    if (end == SIZE_MAX) { /* kept unread: its end is needed here */
      const char *nl = memchr(text + pos, '\n', len - pos);
      end = nl ? (size_t)(nl - text) : len;
    }
    size_t next = end < len ? end + 1 : len;
    if (fate == LINE_ENDS) {
      if (pos == 0) /* all of it goes: read whole, as one line is */
        return text;
      break;
    }
    if (fate == LINE_DROPPED && !copying) {
      copying = true;
      buf_must_fit(buf_append(scratch, text, kept));
    } else if (fate != LINE_DROPPED) {
      if (copying)
        buf_must_fit(buf_append(scratch, text + pos, next - pos));
      else
        kept = next;
    }
    pos = next;
  }
  if (!copying) {
    *n = kept;
    return text;
  }
  if (scratch->len == 0) /* nothing is kept: read whole too */
    return text;
  *n = scratch->len;
  return scratch->data;
}

const char *detector_own_words(const char *text, size_t len,
                               struct buf *scratch, size_t *n)
{
  size_t pn;
  char *plain = html_plain(text, len, &pn);
  if (!plain)
    return own_plain(text, len, scratch, n);
  /* The words of the text a reader sees; nothing of it: read whole. */
  const char *own = own_plain(plain, pn, scratch, n);
  if (own == plain) { /* a part of plain: scratch holds it instead */
    buf_reset(scratch);
    buf_must_fit(buf_append(scratch, plain, *n));
  }
  free(plain);
  size_t k = 0;
  while (k < scratch->len && is_space(scratch->data[k]))
    k++;
  if (k == scratch->len) {
    *n = len;
    return text;
  }
  *n = scratch->len;
  return scratch->data;
}

bool detector_starts_with_handle(const char *text, size_t len)
{
  size_t i = 0;
  while (i < len && is_space(text[i]))
    i++;
  if (i < len && text[i] == '.')
    i++;
  /* A handle as clean_token reads one: '@' and a word character. */
  return i + 1 < len && text[i] == '@' && is_word(text[i + 1]);
}
