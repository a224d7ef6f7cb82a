/* server_int: what the files of the HTTP server share. Private to
 * src/http/server*.c; server.h is the public face.
 *
 *   server.c           libmicrohttpd glue and the request life cycle: the
 *                      access handler, preflight limits, answers, the log
 *   server_conn.c      connections: tracking, MAX_CONNECTIONS(_PER_IP)
 *   server_watchdog.c  request deadlines, the 408, the idle cut
 *   server_raw.c       answers written on the socket beside libmicrohttpd
 *   server_framing.c   Content-Length and Transfer-Encoding checks
 *   server_commit.c    requests suspended until the committer calls back
 *   server_tls.c       the PEM certificate and key
 *   server_start.c     server_start, server_stop and the drain
 *
 * microhttpd.h is included by these files (and sse.c) only. */
#ifndef HTTP_SERVER_INT_H
#define HTTP_SERVER_INT_H

#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "http/app.h"
#include "http/routes.h"
#include "http/server.h"

/* libmicrohttpd's memory per connection, for the request line, headers
 * and read buffer (its default is 32 KiB). It zeroes the whole pool after
 * every request, which showed up at 5% of the server's CPU under load, so
 * it is kept to what requests within the limits need, at least 16 KiB.
 * Bodies do not need to fit: they reach the handler in chunks of what the
 * read buffer holds. Each header line, and each cookie of a Cookie
 * header, takes its bytes plus SERVER_LINE_COST in the pool (measured
 * with libmicrohttpd 0.9.75: a 16 KiB pool held 219 lines of 10 bytes or
 * 174 of 28; 8 KiB more, 111 and 88 more lines). So the number of lines
 * is limited too, one per SERVER_LINE_BYTES of MAX_HEADER_BYTES (256 at
 * the default 8 KiB), and the pool holds MAX_HEADER_BYTES in that many
 * lines plus SERVER_POOL_HEADROOM: any block within both limits is
 * parsed, and blocks over them get our JSON 431 until they overflow the
 * pool (28 KiB at the default: about 370 lines of 10 bytes). */
#define SERVER_POOL_BYTES ((size_t)16 << 10)
#define SERVER_POOL_HEADROOM ((size_t)4 << 10)
#define SERVER_LINE_BYTES 32u
#define SERVER_LINE_COST 64u
/* Bytes of the method and path kept for the log line. */
#define SERVER_LOG_METHOD 16
#define SERVER_LOG_PATH 160

enum replier {
  REPLIER_NONE,
  REPLIER_HANDLER, /* the access handler: a response queued or written */
  REPLIER_WATCHDOG /* the watchdog's 408, written on the socket */
};

enum stage {
  STAGE_IDLE,     /* between requests */
  STAGE_NEW,      /* request line parsed; handler not called yet */
  STAGE_BODY,     /* accepted so far: the body is being collected */
  STAGE_REFUSED,  /* refused by preflight: the body is counted, dropped */
  STAGE_COMMIT,   /* suspended until the committer calls back */
  STAGE_ANSWERED, /* a response is queued */
};

struct request {
  enum stage stage;
  bool in_flight;         /* counted in server.in_flight */
  bool answered_early;    /* written by refuse_midway, not libmicrohttpd */
  unsigned retry_after_s; /* a 429's Retry-After; 0: no such header */
  uint64_t start_ns;
  size_t body_seen; /* bytes received, kept or not */
  char id[APP_REQUEST_ID_MAX];
  char method[SERVER_LOG_METHOD];
  char path[SERVER_LOG_PATH];
};

struct conn {
  struct server *srv;
  struct conn *prev, *next; /* the watchdog's list, under server.lock */
  int fd;
  atomic_bool cut; /* the watchdog shut it down */
  /* The current phase (see server_watchdog.c): when it began, for the log;
   * its deadline, one word so that the watchdog never pairs one phase's
   * start with another's limit; and, between requests, when the wait
   * began (0 during a request). */
  atomic_uint_least64_t phase_start_ns;
  atomic_uint_least64_t deadline_ns;
  atomic_uint_least64_t idle_since_ns;
  /* The watchdog's own notes on a waiting connection, under server.lock:
   * the wait they belong to, the bytes received when it first looked, and
   * when it first saw more (0: not yet). */
  uint64_t wd_wait, wd_rx_bytes, wd_rx_since;
  /* Connection limits (see server_conn.c). The peer's address, set
   * before the conn is listed; admitted: counted in server.admitted
   * (under server.lock); over_limit: to be answered 503 (set when the
   * conn is made, read by its own thread only). */
  struct sockaddr_storage peer;
  bool admitted;
  bool over_limit;
  struct request req;
  /* STAGE_COMMIT: the connection to resume, and the commit's outcome,
   * written by the committer's thread before it sets commit_done. */
  struct MHD_Connection *mc;
  enum err commit_rc;
  atomic_bool commit_done;
  /* Who answers the current request (enum replier), claimed once: the
   * connection's thread, or the watchdog when the request overran its
   * deadline while still arriving. Reset when a request completes, so a
   * claim on a request line still arriving outlives on_uri. */
  atomic_int replier;
  struct buf body;
  struct http_response resp;
  struct routes_scratch scratch;
};

struct server {
  struct app *app;
  const struct log *log;
  struct MHD_Daemon *daemon;
  struct ratelimit *ratelimit; /* owned; allows everything with RATE_LIMIT=0 */
  bool tls;
  char *tls_cert, *tls_key; /* PEM text, owned until the daemon stops */
  size_t tls_cert_len, tls_key_len;
  /* While server_start runs: libmicrohttpd's last message, for the error
   * of a failed start (written under lock). */
  atomic_bool starting;
  char start_msg[160];
  struct sockaddr_storage addr;
  socklen_t addr_len;
  unsigned port;
  char url[INET6_ADDRSTRLEN + 32];
  atomic_int_least64_t in_flight;
  atomic_int_least64_t suspended; /* connections waiting for a commit */
  atomic_bool closing;            /* server_stop began: new requests get 503 */
  atomic_bool draining;           /* past the drain: no new commits */

  pthread_mutex_t lock; /* guards conns and stopping */
  pthread_cond_t wake;  /* wakes the watchdog to stop */
  struct conn *conns;
  size_t admitted; /* conns within the connection limits */
  bool stopping;
  bool watchdog_running;
  pthread_t watchdog;
  uint64_t tick_ns;
};

static inline uint64_t server_ms_to_ns(uint64_t ms)
{
  return ms * 1000000u;
}

/* Between requests a connection may stay idle for the idle timeout, and
 * then needs time for its next request line. */
static inline uint64_t server_idle_limit_ns(const struct config *cfg)
{
  return server_ms_to_ns((uint64_t)cfg->idle_timeout_s * 1000u +
                         cfg->request_timeout_ms);
}

/* ---- server_conn.c ---------------------------------------------------- */

/* Starts a phase at now that may last limit_ns; waiting: between
 * requests (see server_watchdog.c). */
void server_set_phase(struct conn *c, uint64_t now, uint64_t limit_ns,
                      bool waiting);

/* libmicrohttpd's NOTIFY_CONNECTION callback (cls: the server): makes,
 * lists and admits a conn when a socket is accepted, unlists and frees it
 * when it closes. */
void server_on_connection(void *cls, struct MHD_Connection *mc,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code);

/* ---- server.c --------------------------------------------------------- */

/* libmicrohttpd's URI log, access handler and completion callbacks (cls:
 * the server). */
void *server_on_uri(void *cls, const char *uri, struct MHD_Connection *mc);
enum MHD_Result server_on_request(void *cls, struct MHD_Connection *mc,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls);
void server_on_completed(void *cls, struct MHD_Connection *mc, void **req_cls,
                         enum MHD_RequestTerminationCode toe);

/* Queues c->resp, with Connection: close when close is set or the server
 * is stopping. */
enum MHD_Result server_answer(struct conn *c, struct MHD_Connection *mc,
                              bool close);

/* ---- server_raw.c ----------------------------------------------------- */

/* Claims the answer of c's current request for who; true when it is
 * who's to give (claimed now or before by the same one). */
bool server_claim_reply(struct conn *c, enum replier who);

/* Writes a whole response on the plain socket fd and ends the sending
 * side; false when it could not be written whole at once. */
bool server_write_raw(int fd, int status, const char *content_type,
                      const char *body, size_t body_len, const char *rid);

/* ---- server_framing.c ------------------------------------------------- */

/* Parses a Content-Length value; false when it is not a plain number. */
bool server_parse_length(const char *s, unsigned long long *out);

/* Whether the request announces a body (a length other than 0, or a
 * transfer coding). */
bool server_has_body(struct MHD_Connection *mc);

/* Checks the request's framing (RFC 9112 section 6); fills c->resp and
 * returns false when it refuses. */
bool server_framing_ok(struct conn *c, struct MHD_Connection *mc,
                       const char *version);

/* ---- server_commit.c -------------------------------------------------- */

/* Hands the messages routes_begin left in c->scratch to the committer
 * and suspends the connection until it calls back. */
enum MHD_Result server_submit_commit(struct conn *c, struct MHD_Connection *mc);

/* ---- server_watchdog.c ------------------------------------------------ */

/* The watchdog thread (arg: the server); runs until srv->stopping. */
void *server_watchdog_main(void *arg);

/* ---- server_tls.c ----------------------------------------------------- */

/* Loads TLS_CERT and TLS_KEY into srv when set; sets srv->tls. */
enum err server_load_tls(struct server *srv, char *err, size_t errlen);

/* Wipes len bytes at p and frees it; NULL is fine. */
void server_wipe_free(char *p, size_t len);

#endif
