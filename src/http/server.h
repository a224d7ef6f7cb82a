/* server: the service's HTTP front, on libmicrohttpd.
 *
 * Runs libmicrohttpd's epoll loop on a pool of cfg->threads threads and
 * feeds complete requests to routes_handle. It enforces what the library
 * leaves open (see docs/http-notes.md): a body limit checked before the
 * body is read, a total deadline per request that cuts trickling clients,
 * connection limits, and answers queued after the first handler call so
 * keep-alive survives. One log line per request. microhttpd.h stays inside
 * this file's .c. */
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "base/log.h"
#include "http/app.h"

struct server; /* opaque */

/* Binds app->cfg->host:port (port 0: an ephemeral one) and starts serving.
 * A non-loopback address is refused unless allow_public is set, since the
 * service has no authentication of its own yet. app and lg are borrowed
 * and must outlive the server. On failure returns ERR_INVALID (address) or
 * ERR_NET (bind, threads) with a message in err. */
enum err server_start(struct app *app, const struct log *lg, bool allow_public,
                      struct server **out, char *err, size_t errlen);

/* The base URL actually listened on, e.g. "http://127.0.0.1:8080"; valid
 * while the server lives. */
const char *server_url(const struct server *srv);

/* The bound TCP port. */
unsigned server_port(const struct server *srv);

/* Stops accepting connections, lets requests in progress finish (waiting
 * at most grace_ms), closes every connection and frees srv. NULL is
 * fine. */
void server_stop(struct server *srv, unsigned grace_ms);

#endif
