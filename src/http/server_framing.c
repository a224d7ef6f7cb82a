/* server_framing: what a request's headers say about its body, checked
 * before a byte of the body is read. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "http/server_int.h"

/* Parses a Content-Length value; false when it is not a plain number. */
bool server_parse_length(const char *s, unsigned long long *out)
{
  unsigned long long v = 0;
  if (!*s)
    return false;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (~0ull - 9) / 10)
      return false;
    v = v * 10 + (unsigned long long)(*s - '0');
  }
  *out = v;
  return true;
}

/* Whether the request announces a body (a length other than 0, or a
 * transfer coding). */
bool server_has_body(struct MHD_Connection *mc)
{
  const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                  MHD_HTTP_HEADER_TRANSFER_ENCODING))
    return true;
  unsigned long long len = 0;
  return cl && (!server_parse_length(cl, &len) || len > 0);
}

/* What a request says about its body length, from every header line (a
 * lookup sees only the first of repeated headers). */
struct framing {
  unsigned n_length; /* Content-Length lines */
  unsigned n_coding; /* Transfer-Encoding lines */
  const char *coding;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind,
                                     const char *key, const char *value)
{
  struct framing *fr = cls;
  (void)kind;
  if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
    fr->n_length++;
  else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
    fr->n_coding++;
    fr->coding = value;
  }
  return MHD_YES;
}

/* Whether s, a list of transfer codings or its last item, is exactly
 * "chunked" (any case, optional whitespace around it). */
static bool only_chunked(const char *s)
{
  s += strspn(s, " \t");
  size_t n = strcspn(s, " \t");
  return n == 7 && !strncasecmp(s, "chunked", 7) &&
         !s[n + strspn(s + n, " \t")];
}

static bool ends_chunked(const char *s)
{
  const char *comma = strrchr(s, ',');
  return only_chunked(comma ? comma + 1 : s);
}

/* Checks the request's framing as RFC 9112 section 6 asks of a server,
 * which libmicrohttpd 0.9 does not: it takes Content-Length together with
 * Transfer-Encoding (reading the chunked body, then the bytes the length
 * would have covered as a new request: request smuggling behind a proxy
 * that framed it by the length), a second Content-Length, and codings it
 * cannot decode. Such a request cannot be delimited, so it is refused
 * before a byte of its body is read and the connection is closed (section
 * 6.3, items 3 and 4; 501 for a coding it does not know, section 6.1).
 * A second Transfer-Encoding line is refused like a second length. Fills
 * c->resp and returns false when it refuses. */
bool server_framing_ok(struct conn *c, struct MHD_Connection *mc,
                       const char *version)
{
  struct framing fr = {0};
  MHD_get_connection_values(mc, MHD_HEADER_KIND, count_framing, &fr);
  if (fr.n_coding && fr.n_length)
    http_response_error(&c->resp, 400, "bad_framing",
                 "both Content-Length and Transfer-Encoding: the body "
                 "length is ambiguous (RFC 9112 section 6.3)");
  else if (fr.n_length > 1)
    http_response_error(&c->resp, 400, "bad_framing",
                 "more than one Content-Length header");
  else if (fr.n_coding && strcmp(version, MHD_HTTP_VERSION_1_1))
    http_response_error(&c->resp, 400, "bad_framing",
                 "Transfer-Encoding in an HTTP/1.0 request");
  else if (fr.n_coding && (fr.n_coding > 1 || !ends_chunked(fr.coding)))
    http_response_error(&c->resp, 400, "bad_framing",
                 "Transfer-Encoding does not end with chunked");
  else if (fr.n_coding && !only_chunked(fr.coding))
    http_response_error(&c->resp, 501, "unsupported_transfer_coding",
                 "the only transfer coding accepted is \"chunked\" "
                 "(RFC 9112 section 6.1)");
  else
    return true;
  c->resp.allow = NULL;
  return false;
}
