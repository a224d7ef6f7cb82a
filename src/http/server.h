/* server: the service's HTTP front, on libmicrohttpd.
 *
 * Runs libmicrohttpd's epoll loop on a pool of cfg->threads threads and
 * feeds complete requests to routes_handle. It enforces what the library
 * leaves open (see docs/http-notes.md): a body limit checked before the
 * body is read, a total deadline per request that cuts trickling clients
 * (from their first byte, request line included), connection limits, and
 * answers queued after the first handler call so keep-alive survives. One
 * log line per request. microhttpd.h stays inside src/http/server*.c (and
 * sse.c, which streams on a connection); server_int.h, private to those
 * files, says which of them holds which concern.
 *
 * Abuse limits, all decided before a byte of the body is read:
 *   - RATE_LIMIT / RATE_LIMIT_BURST: a token bucket per source address
 *     (ratelimit.h) for every route alike, /health and /metrics included;
 *     loopback peers are exempt unless RATE_LIMIT_LOOPBACK. Over it: 429
 *     {"error":"rate_limited"} with Retry-After in whole seconds.
 *   - MAX_HEADER_BYTES: a request line and headers over it get 431
 *     {"error":"header_too_large"}. Past what libmicrohttpd's per-
 *     connection memory holds (MAX_HEADER_BYTES + 8 KiB, at least 16 KiB)
 *     libmicrohttpd answers 431 itself, with a short HTML body.
 *   A refused request without a body keeps its connection; one with a body
 *   is answered at once and the connection closed, the body unread.
 *
 * TLS: with TLS_CERT and TLS_KEY set the server speaks HTTPS only (GnuTLS
 * through libmicrohttpd, TLS 1.2 and later). */
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "base/log.h"
#include "http/app.h"

struct server; /* opaque */

/* Binds app->cfg->host:port (port 0: an ephemeral one) and starts serving,
 * over TLS when cfg->tls_cert and tls_key name PEM files (read here; the
 * key is wiped from memory when the server stops). A non-loopback address
 * is refused unless some authentication is configured (config_has_auth)
 * or allow_public is set. app and lg are borrowed and must outlive the
 * server. On failure returns ERR_INVALID (address, PEM files), ERR_IO (a
 * file unreadable), ERR_UNSUPPORTED (TLS asked of a libmicrohttpd without
 * it) or ERR_NET (bind, bad certificate or key, threads) with a message in
 * err. */
enum err server_start(struct app *app, const struct log *lg, bool allow_public,
                      struct server **out, char *err, size_t errlen);

/* The base URL actually listened on, e.g. "http://127.0.0.1:8080" or
 * "https://[::1]:8443"; valid while the server lives. */
const char *server_url(const struct server *srv);

/* Whether the server speaks TLS. */
bool server_tls(const struct server *srv);

/* The bound TCP port. */
unsigned server_port(const struct server *srv);

/* Stops accepting connections, lets requests in progress finish (waiting
 * at most grace_ms), closes every connection and frees srv. NULL is
 * fine. */
void server_stop(struct server *srv, unsigned grace_ms);

#endif
