/* server: libmicrohttpd glue, per-connection state, limits and the
 * watchdog.
 *
 * Lifetimes. A struct conn is made when libmicrohttpd accepts a socket
 * (NOTIFY_CONNECTION STARTED) and freed when it closes (CLOSED); it holds
 * everything a request needs, reused from request to request: the body
 * buffer, the response, the routes scratch. A request begins when its
 * request line is parsed (the URI log callback, which hands the conn to
 * the access handler as its request context) and ends in the completion
 * callback, which logs it, counts it and resets the request state.
 *
 * The access handler sees three kinds of calls: the first (headers known,
 * no body: preflight checks, Content-Length against the limit), body
 * chunks (counted, copied up to the limit), and the last, with no data,
 * which answers. Only refusals that close the connection anyway (413, 408)
 * are queued early; everything else is answered in the last call, which
 * keeps the connection alive.
 *
 * The deadline. libmicrohttpd's connection timeout only closes idle
 * connections, so a client sending a byte a second would hold one forever.
 * Each conn records when its current phase began (the request line, or the
 * end of the previous request) and the deadline of that phase; a
 * watchdog thread scans the connections a few times per request timeout
 * and shuts down the socket of any that overstay. shutdown(2) makes the
 * connection's own thread see end-of-file and close it cleanly; the fd
 * cannot be reused meanwhile, because CLOSED (which unlinks the conn under
 * the same lock) is notified before libmicrohttpd closes the fd. A request
 * begins for libmicrohttpd only once its request line is complete, so a
 * client trickling the request line itself would get the whole idle
 * allowance; the watchdog therefore also asks the kernel (TCP_INFO) how
 * many bytes a waiting connection has received, and from the first byte
 * of a new request (or of a TLS handshake) on, it gets REQUEST_TIMEOUT_MS
 * like any request. That is nginx's client_header_timeout: a TLS client
 * that connects ahead of time and then stays silent is closed after
 * REQUEST_TIMEOUT_MS (its handshake started a request), a plain one only
 * after IDLE_TIMEOUT.
 *
 * Abuse limits, decided in the first handler call, before any body is
 * read: a token bucket per source address (ratelimit.h; 429 with
 * Retry-After) and the size of the request line and headers (431 over
 * MAX_HEADER_BYTES, or over one header line or cookie per
 * SERVER_LINE_BYTES of it). Headers that do not fit in libmicrohttpd's
 * memory pool at all (sized for both limits plus SERVER_POOL_HEADROOM)
 * never reach the handler: libmicrohttpd answers those itself, 431 with
 * its own small HTML body, and closes the connection; it has no hook for
 * that, nor for its other refusals of what it cannot parse (a malformed
 * request or header line, Content-Length value or chunk, an HTTP version
 * other than 1.0 and 1.1).
 *
 * Connection limits. libmicrohttpd, at its connection limit, stops
 * accepting (new clients wait unanswered in the kernel's queue until an
 * idle connection times out) and, at its per-address limit, closes new
 * sockets without a word. So both limits are kept here instead, the way
 * nginx reuses keep-alive connections (ngx_drain_connections): a new
 * connection over MAX_CONNECTIONS, or over MAX_CONNECTIONS_PER_IP for its
 * address, makes room by closing the connection that has waited longest
 * for its next request (of that address, for the per-address limit), and
 * when every connection is busy it is answered 503 with Retry-After and
 * closed. libmicrohttpd itself is allowed a few more sockets than
 * MAX_CONNECTIONS (at least SERVER_BUSY_SLOTS_MIN) for those answers. A
 * connection is idle from the end of a request (or from its accept) until
 * the next request line is parsed, unless bytes of that next request have
 * arrived (seen by the watchdog, or waiting unread in the socket); a
 * client whose request crosses the close sees a closed keep-alive
 * connection, which HTTP clients are prepared for (RFC 9112 section
 * 9.3.1).
 *
 * TLS. With a certificate and key, libmicrohttpd speaks TLS through
 * GnuTLS; everything above works the same, except that a refusal in the
 * middle of a body cannot be written beside libmicrohttpd (the socket
 * carries TLS records), so such a connection is closed without an answer.
 * The PEM text read from the files is kept until the daemon stops, then
 * wiped.
 *
 * Commits. A /webhook request with messages to store is not answered
 * until its transaction is durable, and a pool thread must not wait for
 * that (the pool is small; a group commit takes milliseconds). So the
 * connection is suspended, the messages go to the committer, and the
 * committer's callback, on its writer thread, records the outcome and
 * resumes the connection: libmicrohttpd then calls the access handler
 * again, which answers. The connection is suspended before the
 * submission because the callback may run before the submission returns.
 * A suspended connection is neither polled nor timed out nor closed by
 * libmicrohttpd, so its conn outlives the callback; the callback touches
 * nothing of the conn after resuming it. libmicrohttpd refuses to stop
 * with suspended connections, so server_stop waits for every outstanding
 * commit (the committer answers each one, committed or failed) before it
 * stops the daemon, and the committer is closed only after that. */
#include "http/server.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/xalloc.h"
#include "http/dashboard.h"
#include "http/ratelimit.h"
#include "http/routes.h"
#include "http/sse.h"
#include "alerting/committer.h"

/* Kept memory per idle connection: buffers that grew past these sizes for
 * one large request are released when it completes, so many connections
 * that once carried a big batch do not pin memory. */
#define SERVER_KEEP_BODY ((size_t)16 << 10)
#define SERVER_KEEP_RESPONSE ((size_t)64 << 10)
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
/* Largest PEM file read for TLS_CERT or TLS_KEY (a certificate chain). */
#define SERVER_PEM_MAX ((size_t)1 << 20)
/* GnuTLS priorities: its defaults, without TLS 1.0 and 1.1. */
#define SERVER_TLS_PRIORITIES "NORMAL:-VERS-TLS1.1:-VERS-TLS1.0"
/* The watchdog's answer to a request that overran REQUEST_TIMEOUT_MS while
 * arriving (routes_error's shape; the watchdog cannot use the conn's
 * response buffer, which belongs to the connection's thread). */
#define SERVER_TIMEOUT_JSON                                                    \
  "{\"error\":\"request_timeout\",\"message\":\"the request took longer "      \
  "than REQUEST_TIMEOUT_MS to arrive\"}"
/* How long a stopping server keeps open connections that have nothing in
 * flight, answering what arrives on them with 503 shutting_down: long
 * enough for a client that sent just before the stop. */
#define SERVER_DRAIN_MS 1000u
/* Sockets libmicrohttpd may hold beyond MAX_CONNECTIONS, to answer 503
 * to clients that arrive when every connection is busy (see the file
 * comment): an eighth of MAX_CONNECTIONS, at least this many. */
#define SERVER_BUSY_SLOTS_MIN 16u
/* Idle candidates checked with the kernel per new connection over a
 * limit, before it is answered 503 (see oldest_idle). */
#define SERVER_EVICT_TRIES 4u
/* Retry-After of that 503, in seconds. */
#define SERVER_BUSY_RETRY_S 1u
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
  /* The current phase (see the file comment): when it began, for the log;
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
  /* Connection limits (see the file comment). The peer's address, set
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

/* ---- helpers -------------------------------------------------------- */

static uint64_t ms_to_ns(uint64_t ms)
{
  return ms * 1000000u;
}

/* Between requests a connection may stay idle for the idle timeout, and
 * then needs time for its next request line. */
static uint64_t idle_limit_ns(const struct config *cfg)
{
  return ms_to_ns((uint64_t)cfg->idle_timeout_s * 1000u +
                  cfg->request_timeout_ms);
}

/* Starts a phase at now that may last limit_ns; waiting: between
 * requests (see the watchdog). */
static void set_phase(struct conn *c, uint64_t now, uint64_t limit_ns,
                      bool waiting)
{
  uint64_t deadline = limit_ns > UINT64_MAX - now ? UINT64_MAX : now + limit_ns;
  atomic_store_explicit(&c->phase_start_ns, now, memory_order_relaxed);
  atomic_store_explicit(&c->deadline_ns, deadline, memory_order_relaxed);
  atomic_store_explicit(&c->idle_since_ns, waiting ? now : 0,
                        memory_order_relaxed);
}

/* Copies s for a log line: at most cap - 1 bytes, anything but printable
 * ASCII replaced by '?', so a request cannot forge log lines. */
static void copy_printable(char *dst, size_t cap, const char *s)
{
  size_t i = 0;
  for (; s && s[i] && i + 1 < cap; i++) {
    unsigned char ch = (unsigned char)s[i];
    dst[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
  }
  dst[i] = '\0';
}

/* A client's X-Request-Id is echoed only when it is short and made of
 * characters that are safe in logs and headers. */
static bool valid_request_id(const char *s)
{
  size_t n = 0;
  if (!s)
    return false;
  for (; s[n]; n++) {
    char ch = s[n];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
              ch == ':';
    if (!ok || n + 1 >= APP_REQUEST_ID_MAX)
      return false;
  }
  return n > 0;
}

/* Parses a Content-Length value; false when it is not a plain number. */
static bool parse_length(const char *s, unsigned long long *out)
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

static struct conn *conn_of(struct MHD_Connection *mc)
{
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci ? ci->socket_context : NULL;
}

/* Claims the answer of c's current request for who; true when it is
 * who's to give (claimed now or before by the same one). */
static bool claim_reply(struct conn *c, enum replier who)
{
  int expected = REPLIER_NONE;
  return atomic_compare_exchange_strong(&c->replier, &expected, (int)who) ||
         expected == (int)who;
}

/* Writes a whole response on the plain socket fd, beside libmicrohttpd,
 * and ends the sending side; false when it could not be written whole at
 * once (then the caller just closes). Only for a request that is still
 * being received, when nothing else is being sent on the socket. */
static bool write_raw(int fd, int status, const char *content_type,
                      const char *body, size_t body_len, const char *rid)
{
  char head[256];
  const char *reason = MHD_get_reason_phrase_for((unsigned)status);
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
                   "%zu\r\n%s%s%sConnection: close\r\n\r\n",
                   status, reason, content_type, body_len,
                   *rid ? "X-Request-Id: " : "", rid, *rid ? "\r\n" : "");
  if (n <= 0 || (size_t)n >= sizeof head || fd < 0)
    return false;
  struct iovec iov[2] = {{head, (size_t)n}, {(void *)body, body_len}};
  struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
  ssize_t sent = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent != (ssize_t)((size_t)n + body_len))
    return false;
  shutdown(fd, SHUT_WR);
  return true;
}

/* ---- connection limits ---------------------------------------------- */

static bool same_host(const struct sockaddr_storage *a,
                      const struct sockaddr_storage *b)
{
  if (a->ss_family != b->ss_family)
    return false;
  if (a->ss_family == AF_INET)
    return !memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                   &((const struct sockaddr_in *)b)->sin_addr,
                   sizeof(struct in_addr));
  if (a->ss_family == AF_INET6)
    return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                   &((const struct sockaddr_in6 *)b)->sin6_addr,
                   sizeof(struct in6_addr));
  return false;
}

/* Whether c waits for a request of which nothing has arrived, as far as
 * the watchdog has seen: since when (0: it does not). Under srv->lock. */
static uint64_t idle_since(const struct conn *c)
{
  uint64_t since =
      atomic_load_explicit(&c->idle_since_ns, memory_order_relaxed);
  if (!since || !c->admitted || c->fd < 0 ||
      atomic_load_explicit(&c->cut, memory_order_relaxed))
    return 0;
  if (c->wd_wait == since && c->wd_rx_since)
    return 0;
  return since;
}

/* The admitted connection other than c that has been idle longest, of
 * c's address only when same_peer; NULL if none is idle. The one found
 * is checked with the kernel: bytes waiting in its socket are a request
 * its thread has not read yet (a client that sent one right after
 * connecting, say), so it is not idle; that is noted where the watchdog
 * notes it (the request is timed from now) and the next oldest is
 * tried, a few times at most. Under srv->lock. */
static struct conn *oldest_idle(struct server *srv, const struct conn *c,
                                bool same_peer)
{
  for (unsigned tries = 0; tries < SERVER_EVICT_TRIES; tries++) {
    struct conn *best = NULL;
    uint64_t best_since = 0;
    for (struct conn *o = srv->conns; o; o = o->next) {
      uint64_t since = o == c ? 0 : idle_since(o);
      if (!since || (same_peer && !same_host(&o->peer, &c->peer)))
        continue;
      if (!best || since < best_since) {
        best = o;
        best_since = since;
      }
    }
    int unread = 0;
    if (!best || (!ioctl(best->fd, FIONREAD, &unread) && unread == 0))
      return best;
    best->wd_wait = best_since;
    best->wd_rx_since = app_now_ns();
  }
  return NULL;
}

/* Decides whether the new connection c is served, closing an idle one
 * to make room if it must (see the file comment); otherwise marks it
 * over_limit. Under srv->lock, c already listed. */
static void admit(struct server *srv, struct conn *c)
{
  const struct config *cfg = srv->app->cfg;
  struct metrics *m = &srv->app->metrics;
  size_t same = 0;
  /* Counted only when the address could be at its limit. */
  if (srv->admitted >= cfg->max_per_ip)
    for (struct conn *o = srv->conns; o; o = o->next)
      if (o != c && o->admitted && same_host(&o->peer, &c->peer))
        same++;
  bool peer_full = same >= cfg->max_per_ip;
  if (peer_full || srv->admitted >= cfg->max_connections) {
    struct conn *victim = oldest_idle(srv, c, peer_full);
    if (!victim) {
      c->over_limit = true;
      atomic_fetch_add_explicit(&m->connections_busy, 1, memory_order_relaxed);
      return;
    }
    /* As the watchdog does: its own thread sees end-of-file and closes
     * it; the fd stays valid until CLOSED unlinks it under this lock. */
    atomic_store_explicit(&victim->cut, true, memory_order_relaxed);
    shutdown(victim->fd, SHUT_RDWR);
    victim->admitted = false;
    srv->admitted--;
    atomic_fetch_add_explicit(&m->connections_evicted, 1, memory_order_relaxed);
    log_write(srv->log, LOG_DEBUG,
              "closing an idle connection to serve a new one (%s limit)",
              peer_full ? "MAX_CONNECTIONS_PER_IP" : "MAX_CONNECTIONS");
  }
  c->admitted = true;
  srv->admitted++;
}

/* ---- connections ---------------------------------------------------- */

static void conn_free(struct conn *c)
{
  buf_cleanup(&c->body);
  http_response_cleanup(&c->resp);
  routes_scratch_cleanup(&c->scratch);
  free(c);
}

static void on_connection(void *cls, struct MHD_Connection *mc,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
  struct server *srv = cls;
  struct metrics *m = &srv->app->metrics;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    struct conn *c = xcalloc(1, sizeof *c);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    c->srv = srv;
    c->fd = ci ? ci->connect_fd : -1;
    const union MHD_ConnectionInfo *pi =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (pi && pi->client_addr) {
      size_t len = pi->client_addr->sa_family == AF_INET6
                       ? sizeof(struct sockaddr_in6)
                       : sizeof(struct sockaddr_in);
      memcpy(&c->peer, pi->client_addr, len);
    }
    atomic_init(&c->cut, false);
    atomic_init(&c->commit_done, false);
    atomic_init(&c->replier, REPLIER_NONE);
    atomic_init(&c->phase_start_ns, 0);
    atomic_init(&c->deadline_ns, UINT64_MAX);
    atomic_init(&c->idle_since_ns, 0);
    uint64_t now = app_now_ns();
    set_phase(c, now, idle_limit_ns(srv->app->cfg), true);
    /* A new socket has received nothing but what its first request (or
     * TLS handshake) sent: time that from the watchdog's first look. */
    c->wd_wait = now;
    c->wd_rx_bytes = 0;
    c->wd_rx_since = 0;
    buf_init(&c->body, srv->app->cfg->max_body_bytes);
    http_response_init(&c->resp);
    routes_scratch_init(&c->scratch);
    pthread_mutex_lock(&srv->lock);
    c->next = srv->conns;
    if (srv->conns)
      srv->conns->prev = c;
    srv->conns = c;
    admit(srv, c);
    pthread_mutex_unlock(&srv->lock);
    /* Over the limit: only the time to send a request and hear 503. */
    if (c->over_limit)
      set_phase(c, now, ms_to_ns(srv->app->cfg->request_timeout_ms), true);
    atomic_fetch_add_explicit(&m->connections_total, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->connections_open, 1, memory_order_relaxed);
    *socket_context = c;
    return;
  }
  struct conn *c = *socket_context;
  if (!c)
    return;
  pthread_mutex_lock(&srv->lock);
  if (c->prev)
    c->prev->next = c->next;
  else
    srv->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  if (c->admitted)
    srv->admitted--;
  pthread_mutex_unlock(&srv->lock);
  atomic_fetch_sub_explicit(&m->connections_open, 1, memory_order_relaxed);
  *socket_context = NULL;
  conn_free(c);
}

/* Called when the request line has been parsed: the request starts here,
 * and its deadline with it. The return value becomes the handler's
 * request context. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
  struct server *srv = cls;
  (void)uri;
  struct conn *c = conn_of(mc);
  if (!c)
    return NULL;
  uint64_t now = app_now_ns();
  struct request *r = &c->req;
  r->stage = STAGE_NEW;
  r->in_flight = false;
  r->answered_early = false;
  r->retry_after_s = 0;
  r->start_ns = now;
  r->body_seen = 0;
  r->id[0] = '\0';
  buf_reset(&c->body);
  http_response_reset(&c->resp);
  set_phase(c, now, ms_to_ns(srv->app->cfg->request_timeout_ms), false);
  return c;
}

/* Fills hr with what routes.h needs of the request: the strings are
 * libmicrohttpd's, valid until the request completes. */
static void read_request(struct MHD_Connection *mc, const char *url,
                         const char *method, const char *body, size_t body_len,
                         struct http_request *hr)
{
  *hr = (struct http_request){
      .method = method,
      .path = url,
      .content_type = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_CONTENT_TYPE),
      .body = body,
      .body_len = body_len,
      .authorization = MHD_lookup_connection_value(
          mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
      .access_token = MHD_lookup_connection_value(mc, MHD_GET_ARGUMENT_KIND,
                                                  "access_token"),
      .signature_256 =
          MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "X-Signature-256"),
      .devrev_signature = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                                      "X-DevRev-Signature"),
      .slack_signature =
          MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "X-Slack-Signature"),
      .slack_timestamp = MHD_lookup_connection_value(
          mc, MHD_HEADER_KIND, "X-Slack-Request-Timestamp"),
  };
}

/* ---- answering ------------------------------------------------------ */

/* Queues c->resp. The body is handed over without a copy: it stays
 * untouched in the conn until the completion callback, which runs after
 * libmicrohttpd has sent it. */
static enum MHD_Result answer(struct conn *c, struct MHD_Connection *mc,
                              bool close)
{
  struct http_response *resp = &c->resp;
  if (!claim_reply(c, REPLIER_HANDLER))
    return MHD_NO; /* the watchdog answered 408 and is closing it */
  struct MHD_Response *mr = MHD_create_response_from_buffer(
      resp->body.len, (void *)buf_ptr(&resp->body), MHD_RESPMEM_PERSISTENT);
  if (!mr)
    return MHD_NO;
  MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
  MHD_add_response_header(mr, "X-Request-Id", c->req.id);
  if (resp->allow)
    MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, resp->allow);
  if (c->req.retry_after_s) {
    char secs[16];
    snprintf(secs, sizeof secs, "%u", c->req.retry_after_s);
    MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, secs);
  }
  if (close || atomic_load_explicit(&c->srv->closing, memory_order_relaxed))
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
  enum MHD_Result ret = MHD_queue_response(mc, (unsigned)resp->status, mr);
  MHD_destroy_response(mr);
  c->req.stage = STAGE_ANSWERED;
  return ret;
}

/* Refuses in the first handler call, before the body is read: queued
 * there, libmicrohttpd sends it and closes the connection (it shuts the
 * reading side itself). */
static enum MHD_Result refuse_first(struct conn *c, struct MHD_Connection *mc,
                                    int status, const char *code,
                                    const char *message)
{
  routes_error(&c->resp, status, code, "%s", message);
  return answer(c, mc, true);
}

/* Refuses in the middle of the body. libmicrohttpd 0.9.x queues responses
 * only before the body or after all of it, and reading a body we have
 * refused to its end is what the limit is there to prevent. So the
 * response is written to the socket directly (nothing else is being sent
 * on it: the request is still being received), followed by a FIN. The
 * rest of the upload is then discarded unread by us, for as long as the
 * client keeps sending and at most until the watchdog's deadline: like
 * nginx's lingering close, this lets the client read the answer instead
 * of losing it to a reset. */
static enum MHD_Result refuse_midway(struct conn *c, int status,
                                     const char *code, const char *message)
{
  struct http_response *resp = &c->resp;
  routes_error(resp, status, code, "%s", message);
  c->req.stage = STAGE_ANSWERED;
  c->req.answered_early = true;
  if (c->srv->tls || !claim_reply(c, REPLIER_HANDLER))
    return MHD_NO; /* TLS: see the file comment; or the watchdog's 408 */
  if (!write_raw(c->fd, status, resp->content_type, buf_ptr(&resp->body),
                 resp->body.len, c->req.id))
    return MHD_NO; /* could not say it whole: just close */
  return MHD_YES;
}

static enum MHD_Result too_large_first(struct conn *c,
                                       struct MHD_Connection *mc)
{
  char message[96];
  snprintf(message, sizeof message,
           "the body exceeds %zu bytes (MAX_BODY_BYTES)",
           c->srv->app->cfg->max_body_bytes);
  return refuse_first(c, mc, 413, "body_too_large", message);
}

static enum MHD_Result too_large_midway(struct conn *c)
{
  char message[96];
  snprintf(message, sizeof message,
           "the body exceeds %zu bytes (MAX_BODY_BYTES)",
           c->srv->app->cfg->max_body_bytes);
  return refuse_midway(c, 413, "body_too_large", message);
}

/* Answers a connection that came over the connection limits when none
 * was idle (see admit): 503, and the connection closes. */
static enum MHD_Result refuse_busy(struct conn *c, struct MHD_Connection *mc)
{
  const struct config *cfg = c->srv->app->cfg;
  c->req.retry_after_s = SERVER_BUSY_RETRY_S;
  c->resp.allow = NULL;
  routes_error(&c->resp, 503, "too_many_connections",
               "every connection is busy (MAX_CONNECTIONS %u, "
               "MAX_CONNECTIONS_PER_IP %u); retry in %u s",
               cfg->max_connections, cfg->max_per_ip, SERVER_BUSY_RETRY_S);
  return answer(c, mc, true);
}

/* ---- commits -------------------------------------------------------- */

/* The committer's callback, on its writer thread (or on the handler's, for
 * a submission refused at once). */
static void on_committed(void *ctx, enum err rc)
{
  struct conn *c = ctx;
  struct server *srv = c->srv;
  c->commit_rc = rc;
  atomic_store_explicit(&c->commit_done, true, memory_order_release);
  MHD_resume_connection(c->mc);
  /* c may be answered, closed and freed from here on; srv lives until
   * server_stop has seen this count reach zero. */
  atomic_fetch_sub_explicit(&srv->suspended, 1, memory_order_release);
}

/* Hands the messages routes_begin left in c->scratch to the committer
 * and suspends the connection until it calls back. */
static enum MHD_Result start_commit(struct conn *c, struct MHD_Connection *mc)
{
  struct server *srv = c->srv;
  struct routes_scratch *s = &c->scratch;
  if (!claim_reply(c, REPLIER_HANDLER)) {
    routes_abandon(s); /* the watchdog answered 408: nothing is stored */
    return MHD_NO;
  }
  /* Counted before draining is read, and server_stop sets draining before
   * it reads the count (both sequentially consistent): either this
   * request sees draining and backs off, or server_stop sees it counted
   * and waits for its commit. Keep-alive connections go on sending
   * requests after the listening socket is closed, so this happens. */
  atomic_fetch_add(&srv->suspended, 1);
  if (atomic_load(&srv->draining)) {
    atomic_fetch_sub(&srv->suspended, 1);
    routes_abandon(s);
    routes_error(&c->resp, 503, "shutting_down",
                 "the server is stopping; nothing was recorded, retry");
    return answer(c, mc, true);
  }
  c->req.stage = STAGE_COMMIT;
  c->mc = mc;
  atomic_store_explicit(&c->commit_done, false, memory_order_relaxed);
  MHD_suspend_connection(mc);
  enum err rc =
      committer_submit_async(srv->app->committer, s->ingest, s->n_pending,
                             s->results, on_committed, c);
  if (rc)
    on_committed(c, rc); /* refused: the committer will not call back */
  return MHD_YES;
}

/* ---- the dashboard's event stream ------------------------------------ */

/* Answers GET /api/stream with a response that lasts as long as the
 * viewer stays (sse.h): the request deadline does not apply to it. */
static enum MHD_Result start_stream(struct conn *c, struct MHD_Connection *mc,
                                    const struct http_request *hr)
{
  struct app *app = c->srv->app;
  c->req.stage = STAGE_ANSWERED;
  if (!claim_reply(c, REPLIER_HANDLER))
    return MHD_NO; /* the watchdog answered 408 */
  if (!dashboard_authorized(app->dashboard, hr)) {
    routes_error(&c->resp, 401, "unauthorized",
                 "the dashboard needs Authorization: Bearer API_TOKEN");
    return answer(c, mc, false);
  }
  set_phase(c, app_now_ns(), UINT64_MAX, false);
  bool refused = true;
  const char *last =
      MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Last-Event-ID");
  enum MHD_Result ret = (enum MHD_Result)sse_respond(
      dashboard_hub(app->dashboard), mc, last, &refused);
  c->resp.status = refused ? 503 : 200;
  c->resp.content_type = "text/event-stream";
  return ret;
}

/* Whether the request announces a body (a length other than 0, or a
 * transfer coding). */
static bool has_body(struct MHD_Connection *mc)
{
  const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                  MHD_HTTP_HEADER_TRANSFER_ENCODING))
    return true;
  unsigned long long len = 0;
  return cl && (!parse_length(cl, &len) || len > 0);
}

/* Refuses in the first call with what c->resp holds, without reading a
 * byte of the body: a request without one is answered in the last call
 * like any other, which keeps the connection alive; one with a body is
 * answered now, which closes the connection instead of reading it. */
static enum MHD_Result refuse_before_body(struct conn *c,
                                          struct MHD_Connection *mc)
{
  if (!has_body(mc)) {
    c->req.stage = STAGE_REFUSED;
    return MHD_YES;
  }
  return answer(c, mc, true);
}

/* ---- message framing ------------------------------------------------ */

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
static bool framing_ok(struct conn *c, struct MHD_Connection *mc,
                       const char *version)
{
  struct framing fr = {0};
  MHD_get_connection_values(mc, MHD_HEADER_KIND, count_framing, &fr);
  if (fr.n_coding && fr.n_length)
    routes_error(&c->resp, 400, "bad_framing",
                 "both Content-Length and Transfer-Encoding: the body "
                 "length is ambiguous (RFC 9112 section 6.3)");
  else if (fr.n_length > 1)
    routes_error(&c->resp, 400, "bad_framing",
                 "more than one Content-Length header");
  else if (fr.n_coding && strcmp(version, MHD_HTTP_VERSION_1_1))
    routes_error(&c->resp, 400, "bad_framing",
                 "Transfer-Encoding in an HTTP/1.0 request");
  else if (fr.n_coding && (fr.n_coding > 1 || !ends_chunked(fr.coding)))
    routes_error(&c->resp, 400, "bad_framing",
                 "Transfer-Encoding does not end with chunked");
  else if (fr.n_coding && !only_chunked(fr.coding))
    routes_error(&c->resp, 501, "unsupported_transfer_coding",
                 "the only transfer coding accepted is \"chunked\" "
                 "(RFC 9112 section 6.1)");
  else
    return true;
  c->resp.allow = NULL;
  return false;
}

/* The first handler call: headers are known, no body yet. */
static enum MHD_Result first_call(struct conn *c, struct MHD_Connection *mc,
                                  const char *url, const char *method,
                                  const char *version)
{
  struct server *srv = c->srv;
  struct request *r = &c->req;
  const struct config *cfg = srv->app->cfg;

  r->in_flight = true;
  atomic_fetch_add_explicit(&srv->in_flight, 1, memory_order_relaxed);
  copy_printable(r->method, sizeof r->method, method);
  copy_printable(r->path, sizeof r->path, url);
  const char *rid =
      MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "X-Request-Id");
  if (valid_request_id(rid))
    memcpy(r->id, rid, strlen(rid) + 1);
  else
    app_request_id(srv->app, r->id);

  struct http_request hr;
  read_request(mc, url, method, "", 0, &hr);
  /* Run first even when a limit refuses: it names the route the refusal
   * is counted under. */
  bool go_on = routes_preflight(srv->app, &hr, &c->resp);
  if (c->over_limit)
    return refuse_busy(c, mc);
  if (!framing_ok(c, mc, version))
    return answer(c, mc, true); /* the body cannot be delimited: close */
  if (atomic_load(&srv->closing)) {
    /* Answered after its body, which is read and dropped like any refused
     * one: closing with unread bytes would reset the connection and lose
     * the answer. answer() adds Connection: close while stopping. */
    c->resp.allow = NULL;
    routes_error(&c->resp, 503, "shutting_down",
                 "the server is stopping; nothing was recorded, retry");
    r->stage = STAGE_REFUSED;
    return MHD_YES;
  }

  const union MHD_ConnectionInfo *peer =
      MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  unsigned retry_s = 0;
  if (!ratelimit_take(srv->ratelimit, peer ? peer->client_addr : NULL,
                      r->start_ns, &retry_s)) {
    r->retry_after_s = retry_s;
    c->resp.allow = NULL;
    routes_error(&c->resp, 429, "rate_limited",
                 "too many requests from your address: at most %u a second "
                 "after a burst of %u (RATE_LIMIT, RATE_LIMIT_BURST); retry "
                 "in %u s",
                 cfg->rate_limit, cfg->rate_limit_burst, retry_s);
    return refuse_before_body(c, mc);
  }
  const union MHD_ConnectionInfo *hs =
      MHD_get_connection_info(mc, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
  if (hs && hs->header_size > cfg->max_header_bytes) {
    c->resp.allow = NULL;
    routes_error(&c->resp, 431, "header_too_large",
                 "the request line and headers take %zu bytes, more than "
                 "%zu (MAX_HEADER_BYTES)",
                 hs->header_size, cfg->max_header_bytes);
    return refuse_before_body(c, mc);
  }
  size_t max_lines = cfg->max_header_bytes / SERVER_LINE_BYTES;
  size_t lines = (size_t)MHD_get_connection_values(
      mc, MHD_HEADER_KIND | MHD_COOKIE_KIND, NULL, NULL);
  if (lines > max_lines) {
    c->resp.allow = NULL;
    routes_error(&c->resp, 431, "too_many_headers",
                 "%zu header lines and cookies, more than %zu (one per %u "
                 "bytes of MAX_HEADER_BYTES)",
                 lines, max_lines, SERVER_LINE_BYTES);
    return refuse_before_body(c, mc);
  }
  r->stage = go_on ? STAGE_BODY : STAGE_REFUSED;

  /* A declared length over the limit is refused before a byte of the
   * body is read (and before libmicrohttpd sends 100 Continue). */
  const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_LENGTH);
  unsigned long long len;
  if (cl && parse_length(cl, &len) && len > cfg->max_body_bytes)
    return too_large_first(c, mc);
  return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
  (void)cls;
  struct conn *c = *req_cls;
  if (!c) {
    /* The URI callback always runs first; without a conn there is no
     * state to answer from. */
    return MHD_NO;
  }
  struct request *r = &c->req;
  const struct config *cfg = c->srv->app->cfg;

  if (r->stage == STAGE_NEW)
    return first_call(c, mc, url, method, version);

  if (*upload_data_size > 0) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if (r->stage == STAGE_ANSWERED)
      return MHD_YES; /* refused midway: discard */
    if (app_now_ns() - r->start_ns > ms_to_ns(cfg->request_timeout_ms))
      return refuse_midway(c, 408, "request_timeout",
                           "the request took longer than "
                           "REQUEST_TIMEOUT_MS");
    if (n > cfg->max_body_bytes - r->body_seen)
      return too_large_midway(c);
    r->body_seen += n;
    if (r->stage == STAGE_BODY && buf_append(&c->body, upload_data, n))
      return too_large_midway(c); /* not reached: the buffer has the limit */
    return MHD_YES;
  }

  if (r->stage == STAGE_ANSWERED)
    return r->answered_early ? MHD_NO : MHD_YES;
  if (r->stage == STAGE_COMMIT) {
    /* Called again after on_committed resumed the connection. */
    if (!atomic_load_explicit(&c->commit_done, memory_order_acquire))
      return MHD_YES; /* not expected: a suspended connection is not run */
    routes_finish(c->srv->app, &c->scratch, c->commit_rc, &c->resp);
    return answer(c, mc, false);
  }
  if (r->stage == STAGE_BODY) {
    struct http_request hr;
    read_request(mc, url, method, buf_ptr(&c->body), c->body.len, &hr);
    if (dashboard_is_stream(url) && !strcmp(method, "GET"))
      return start_stream(c, mc, &hr);
    if (routes_begin(c->srv->app, &c->scratch, &hr, &c->resp) == ROUTES_COMMIT)
      return start_commit(c, mc);
  }
  return answer(c, mc, false);
}

/* ---- completion ----------------------------------------------------- */

static const char *termination_name(enum MHD_RequestTerminationCode toe)
{
  switch (toe) {
  case MHD_REQUEST_TERMINATED_COMPLETED_OK:
    return "completed";
  case MHD_REQUEST_TERMINATED_WITH_ERROR:
    return "error";
  case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
    return "idle-timeout";
  case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
    return "shutdown";
  case MHD_REQUEST_TERMINATED_READ_ERROR:
    return "read-error";
  case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
    return "client-abort";
  }
  return "unknown";
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
  struct server *srv = cls;
  (void)mc;
  struct conn *c = *req_cls;
  if (!c)
    return;
  *req_cls = NULL;
  struct request *r = &c->req;
  if (r->stage == STAGE_IDLE)
    return;
  if (r->stage == STAGE_COMMIT &&
      atomic_load_explicit(&c->commit_done, memory_order_acquire)) {
    /* Resumed but closed before it could answer (the daemon stopping, or
     * the client gone): release what the request held. The messages are
     * committed or not, as the outcome says; nobody hears of it. */
    routes_finish(srv->app, &c->scratch, c->commit_rc, &c->resp);
  }
  uint64_t now = app_now_ns();
  uint64_t dur = now - r->start_ns;
  bool cut = atomic_load_explicit(&c->cut, memory_order_relaxed);
  bool answered = r->stage == STAGE_ANSWERED;
  int status = answered ? c->resp.status : cut ? 408 : 0;

  if (status)
    metrics_observe_request(&srv->app->metrics, c->resp.route, status, dur);
  if (log_enabled(srv->log, LOG_INFO) && r->in_flight) {
    /* Milliseconds with three decimals, in integers: printf's floating
     * point is a visible cost at one line per request. */
    unsigned long long us = (unsigned long long)(dur / 1000u);
    unsigned ms_frac = (unsigned)(us % 1000u);
    const char *note = buf_ptr(&c->resp.note);
    if (answered)
      log_write(srv->log, LOG_INFO, "%s %s %d %llu.%03ums rid=%s%s%s%s%s",
                r->method, r->path, status, us / 1000u, ms_frac, r->id,
                c->resp.error ? " error=" : "",
                c->resp.error ? c->resp.error : "", *note ? " " : "", note);
    else
      log_write(srv->log, LOG_INFO, "%s %s - %llu.%03ums rid=%s closed=%s",
                r->method, r->path, us / 1000u, ms_frac, r->id,
                cut ? "deadline" : termination_name(toe));
  }
  if (r->in_flight)
    atomic_fetch_sub_explicit(&srv->in_flight, 1, memory_order_relaxed);
  r->in_flight = false;
  r->stage = STAGE_IDLE;
  atomic_store(&c->replier, REPLIER_NONE);

  /* Give back what one large request made the buffers grow to. */
  if (c->body.cap > SERVER_KEEP_BODY)
    buf_cleanup(&c->body);
  else
    buf_reset(&c->body);
  if (c->resp.body.cap > SERVER_KEEP_RESPONSE)
    buf_cleanup(&c->resp.body);
  http_response_reset(&c->resp);
  set_phase(c, now, idle_limit_ns(srv->app->cfg), true);
}

/* ---- watchdog ------------------------------------------------------- */

/* Bytes the kernel has received on fd so far; false when it cannot say
 * (not TCP, or a kernel older than 4.1). */
static bool bytes_received(int fd, uint64_t *out)
{
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  memset(&ti, 0, sizeof ti);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
    return false;
  if (len < offsetof(struct tcp_info, tcpi_bytes_received) +
                sizeof ti.tcpi_bytes_received)
    return false;
  *out = ti.tcpi_bytes_received;
  return true;
}

/* Whether c, waiting for its next request since wait_start, has been
 * receiving one for longer than the request timeout: bytes arrived that
 * libmicrohttpd has not yet made a request line of. The first look at a
 * wait notes the count (a new connection starts from 0); the first look
 * that sees it grow notes the time. So a request is timed from at most a
 * tick after its first byte on a new connection, and after its second
 * byte (plus a tick) on a kept-alive one. Under srv->lock. */
static bool trickling(struct server *srv, struct conn *c, uint64_t wait_start,
                      uint64_t now)
{
  uint64_t rx;
  if (!bytes_received(c->fd, &rx))
    return false;
  if (c->wd_wait != wait_start) {
    c->wd_wait = wait_start;
    c->wd_rx_bytes = rx;
    c->wd_rx_since = 0;
    return false;
  }
  if (!c->wd_rx_since && rx != c->wd_rx_bytes)
    c->wd_rx_since = now;
  return c->wd_rx_since &&
         now - c->wd_rx_since > ms_to_ns(srv->app->cfg->request_timeout_ms);
}

static void *watchdog_main(void *arg)
{
  struct server *srv = arg;
  pthread_mutex_lock(&srv->lock);
  while (!srv->stopping) {
    uint64_t now = app_now_ns();
    for (struct conn *c = srv->conns; c; c = c->next) {
      if (atomic_load_explicit(&c->cut, memory_order_relaxed) || c->fd < 0)
        continue;
      uint64_t deadline =
          atomic_load_explicit(&c->deadline_ns, memory_order_relaxed);
      uint64_t waiting =
          atomic_load_explicit(&c->idle_since_ns, memory_order_relaxed);
      if (now <= deadline && !(waiting && trickling(srv, c, waiting, now)))
        continue;
      uint64_t start =
          atomic_load_explicit(&c->phase_start_ns, memory_order_relaxed);
      atomic_store_explicit(&c->cut, true, memory_order_relaxed);
      /* A request still arriving (not an idle wait) is told why, in JSON,
       * unless its handler has answered or is answering it. */
      bool arriving = !waiting || (c->wd_wait == waiting && c->wd_rx_since);
      if (arriving && !srv->tls && claim_reply(c, REPLIER_WATCHDOG))
        write_raw(c->fd, 408, "application/json", SERVER_TIMEOUT_JSON,
                  sizeof SERVER_TIMEOUT_JSON - 1, "");
      shutdown(c->fd, SHUT_RDWR);
      log_write(srv->log, LOG_INFO,
                "closing a connection that overran its deadline "
                "(%.1f s into its current request or wait)",
                now > start ? (double)(now - start) / 1e9 : 0.0);
      atomic_fetch_add_explicit(&srv->app->metrics.requests_cut, 1,
                                memory_order_relaxed);
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    uint64_t ns = (uint64_t)until.tv_nsec + srv->tick_ns;
    until.tv_sec += (time_t)(ns / 1000000000u);
    until.tv_nsec = (long)(ns % 1000000000u);
    pthread_cond_timedwait(&srv->wake, &srv->lock, &until);
  }
  pthread_mutex_unlock(&srv->lock);
  return NULL;
}

/* ---- start and stop ------------------------------------------------- */

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
  struct server *srv = cls;
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
    msg[--n] = '\0';
  /* Mostly clients misbehaving (closed mid-request, malformed request
   * lines); failures that matter, such as a bind error, are reported by
   * server_start itself, with the message kept here. */
  if (atomic_load(&srv->starting) && strncmp(msg, "Warning", 7)) {
    /* The first error is the cause ("GnuTLS failed to setup x509
     * certificate/key: ...", "Failed to bind to port ..."). */
    pthread_mutex_lock(&srv->lock);
    if (!*srv->start_msg)
      snprintf(srv->start_msg, sizeof srv->start_msg, "%.*s",
               (int)sizeof srv->start_msg - 1, msg);
    pthread_mutex_unlock(&srv->lock);
  }
  log_write(srv->log, LOG_INFO, "libmicrohttpd: %s", msg);
}

static bool is_loopback(const struct sockaddr *sa)
{
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
  }
  return false;
}

/* Resolves cfg->host into srv->addr, with the configured port, and
 * refuses an address beyond loopback unless requests are authenticated or
 * allow_public says to do it anyway. */
static enum err resolve(struct server *srv, bool allow_public, char *err,
                        size_t errlen)
{
  const struct config *cfg = srv->app->cfg;
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  char port[8];
  snprintf(port, sizeof port, "%u", cfg->port);
  int gai = getaddrinfo(cfg->host, port, &hints, &res);
  if (gai || !res) {
    snprintf(err, errlen, "cannot resolve HOST '%s': %s", cfg->host,
             gai ? gai_strerror(gai) : "no address");
    if (res)
      freeaddrinfo(res);
    return ERR_INVALID;
  }
  memcpy(&srv->addr, res->ai_addr, res->ai_addrlen);
  srv->addr_len = res->ai_addrlen;
  freeaddrinfo(res);
  if (!allow_public && !config_has_auth(cfg) &&
      !is_loopback((struct sockaddr *)&srv->addr)) {
    snprintf(err, errlen,
             "refusing to listen on non-loopback HOST '%s': no "
             "authentication is configured (set API_TOKEN or a signature "
             "secret: WEBHOOK_SECRET, DEVREV_WEBHOOK_SECRET, "
             "SLACK_SIGNING_SECRET), or pass --insecure to do it anyway",
             cfg->host);
    return ERR_INVALID;
  }
  return ERR_OK;
}

static void wipe_free(char *p, size_t len)
{
  if (!p)
    return;
  explicit_bzero(p, len);
  free(p);
}

/* Reads the PEM file at path (named what in messages) into *out, NUL
 * terminated, with read(2) so that no stdio buffer keeps a copy of a key.
 * The caller wipes and frees it (wipe_free). */
static enum err read_pem(const char *what, const char *path, char **out,
                         size_t *out_len, char *err, size_t errlen)
{
  enum err rc = ERR_IO;
  char *text = NULL;
  size_t len = 0, cap = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st)) {
    snprintf(err, errlen, "cannot read %s file '%s': %s", what, path,
             strerror(errno));
    goto out;
  }
  if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
      (uint64_t)st.st_size > SERVER_PEM_MAX) {
    snprintf(err, errlen,
             "%s file '%s' is not a PEM file (empty, not a regular file, or "
             "over %zu bytes)",
             what, path, SERVER_PEM_MAX);
    rc = ERR_INVALID;
    goto out;
  }
  cap = (size_t)st.st_size + 1;
  text = xmalloc(cap);
  while (len + 1 < cap) {
    ssize_t n = read(fd, text + len, cap - 1 - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      snprintf(err, errlen, "cannot read %s file '%s': %s", what, path,
               n < 0 ? strerror(errno) : "it shrank while being read");
      goto out;
    }
    len += (size_t)n;
  }
  text[len] = '\0';
  if (!strstr(text, "-----BEGIN ")) {
    snprintf(err, errlen, "%s file '%s' is not PEM (no -----BEGIN line)", what,
             path);
    rc = ERR_INVALID;
    goto out;
  }
  *out = text;
  *out_len = len;
  text = NULL;
  rc = ERR_OK;
out:
  wipe_free(text, cap);
  if (fd >= 0)
    close(fd);
  return rc;
}

/* Loads TLS_CERT and TLS_KEY when set (config_check has made sure that
 * both or neither are). */
static enum err load_tls(struct server *srv, char *err, size_t errlen)
{
  const struct config *cfg = srv->app->cfg;
  if (!*cfg->tls_cert && !*cfg->tls_key)
    return ERR_OK;
  if (!*cfg->tls_cert || !*cfg->tls_key) {
    snprintf(err, errlen,
             "TLS needs both TLS_CERT and TLS_KEY "
             "(--tls-cert and --tls-key)");
    return ERR_INVALID;
  }
  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    snprintf(err, errlen,
             "TLS_CERT is set but this libmicrohttpd was built "
             "without TLS support");
    return ERR_UNSUPPORTED;
  }
  enum err rc = read_pem("TLS_CERT", cfg->tls_cert, &srv->tls_cert,
                         &srv->tls_cert_len, err, errlen);
  if (!rc)
    rc = read_pem("TLS_KEY", cfg->tls_key, &srv->tls_key, &srv->tls_key_len,
                  err, errlen);
  srv->tls = rc == ERR_OK;
  return rc;
}

enum err server_start(struct app *app, const struct log *lg, bool allow_public,
                      struct server **out, char *err, size_t errlen)
{
  const struct config *cfg = app->cfg;
  struct server *srv = xcalloc(1, sizeof *srv);
  enum err rc = ERR_OK;
  srv->app = app;
  srv->log = lg;
  atomic_init(&srv->in_flight, 0);
  atomic_init(&srv->suspended, 0);
  atomic_init(&srv->closing, false);
  atomic_init(&srv->draining, false);
  atomic_init(&srv->starting, true);
  pthread_mutex_init(&srv->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&srv->wake, &ca);
  pthread_condattr_destroy(&ca);
  /* Four looks per request timeout, but no busier than every 25 ms. */
  uint64_t tick_ms = cfg->request_timeout_ms / 4;
  srv->tick_ns = ms_to_ns(tick_ms < 25 ? 25 : tick_ms > 250 ? 250 : tick_ms);
  srv->ratelimit = ratelimit_new(cfg->rate_limit, cfg->rate_limit_burst,
                                 cfg->rate_limit_loopback, 0);

  rc = resolve(srv, allow_public, err, errlen);
  if (!rc)
    rc = load_tls(srv, err, errlen);
  if (rc)
    goto out;

  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                   MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
  if (srv->addr.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  /* The TLS options, when on, go in an array: the variadic list below
   * cannot leave them out. */
  struct MHD_OptionItem tls_opts[] = {
      {MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key},
      {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)SERVER_TLS_PRIORITIES},
      {MHD_OPTION_END, 0, NULL},
  };
  if (srv->tls)
    flags |= MHD_USE_TLS;
  else
    tls_opts[0].option = MHD_OPTION_END;
  size_t pool = cfg->max_header_bytes +
                cfg->max_header_bytes / SERVER_LINE_BYTES * SERVER_LINE_COST +
                SERVER_POOL_HEADROOM;
  if (pool < SERVER_POOL_BYTES)
    pool = SERVER_POOL_BYTES;
  /* The connection limits are kept by admit; libmicrohttpd only caps the
   * sockets, with room for the 503 answers, and has no per-address
   * limit. */
  unsigned busy_slots = cfg->max_connections / 8;
  if (busy_slots < SERVER_BUSY_SLOTS_MIN)
    busy_slots = SERVER_BUSY_SLOTS_MIN;
  srv->daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, srv,
      /* The logger goes first so that no option's message bypasses it. */
      MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, MHD_OPTION_SOCK_ADDR,
      (struct sockaddr *)&srv->addr, MHD_OPTION_THREAD_POOL_SIZE,
      /* 0: no pool, the one internal thread (1 draws a warning). */
      cfg->threads > 1 ? (unsigned)cfg->threads : 0u,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)cfg->max_connections + busy_slots,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->idle_timeout_s,
      MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
      MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED,
      on_completed, srv, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
  atomic_store(&srv->starting, false);
  if (!srv->daemon) {
    pthread_mutex_lock(&srv->lock);
    const char *why = *srv->start_msg ? srv->start_msg : "no detail";
    if (srv->tls)
      snprintf(err, errlen,
               "cannot listen with TLS on %s port %u: %s (is the port in "
               "use? are TLS_CERT and TLS_KEY a certificate and its "
               "unencrypted key?)",
               cfg->host, cfg->port, why);
    else
      snprintf(err, errlen, "cannot listen on %s port %u: %s", cfg->host,
               cfg->port, *srv->start_msg ? srv->start_msg : "in use?");
    pthread_mutex_unlock(&srv->lock);
    rc = ERR_NET;
    goto out;
  }
  const union MHD_DaemonInfo *di =
      MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
  srv->port = di ? di->port : cfg->port;
  char host[INET6_ADDRSTRLEN];
  if (getnameinfo((struct sockaddr *)&srv->addr, srv->addr_len, host,
                  sizeof host, NULL, 0, NI_NUMERICHOST))
    snprintf(host, sizeof host, "%.45s", cfg->host);
  snprintf(srv->url, sizeof srv->url,
           srv->addr.ss_family == AF_INET6 ? "%s://[%s]:%u" : "%s://%s:%u",
           srv->tls ? "https" : "http", host, srv->port);

  if (pthread_create(&srv->watchdog, NULL, watchdog_main, srv)) {
    snprintf(err, errlen, "cannot start the watchdog thread");
    rc = ERR_NET;
    goto out;
  }
  srv->watchdog_running = true;
out:
  atomic_store(&srv->starting, false);
  if (rc) {
    server_stop(srv, 0);
    srv = NULL;
  }
  *out = srv;
  return rc;
}

const char *server_url(const struct server *srv)
{
  return srv->url;
}

unsigned server_port(const struct server *srv)
{
  return srv->port;
}

bool server_tls(const struct server *srv)
{
  return srv->tls;
}

void server_stop(struct server *srv, unsigned grace_ms)
{
  if (!srv)
    return;
  if (srv->daemon) {
    /* Event streams never finish on their own: end them first (they are
     * in flight, and suspended when idle). */
    dashboard_shutdown(srv->app->dashboard);
    MHD_socket lfd = MHD_quiesce_daemon(srv->daemon);
    /* The drain: requests in flight finish (answered with Connection:
     * close); requests that arrive on connections still open get 503
     * shutting_down (first_call) instead of a closed socket, for as long
     * as any request is in flight, and for at least SERVER_DRAIN_MS while
     * connections remain open; all of it within grace_ms. */
    atomic_store(&srv->closing, true);
    uint64_t now = app_now_ns();
    uint64_t until = now + ms_to_ns(grace_ms);
    uint64_t linger =
        now + ms_to_ns(grace_ms < SERVER_DRAIN_MS ? grace_ms : SERVER_DRAIN_MS);
    const struct metrics *m = &srv->app->metrics;
    while (now < until &&
           (atomic_load(&srv->in_flight) > 0 ||
            (now < linger && atomic_load(&m->connections_open) > 0))) {
      struct timespec pause = {0, 5 * 1000000L};
      nanosleep(&pause, NULL);
      now = app_now_ns();
    }
    /* Past the grace period too: libmicrohttpd aborts when stopped with a
     * suspended connection, and each one has a commit in progress that
     * the committer will end (committed or failed) and call back for. No
     * new one starts once draining is set (see start_commit). */
    atomic_store(&srv->draining, true);
    uint64_t waited_from = app_now_ns();
    bool said = false;
    while (atomic_load_explicit(&srv->suspended, memory_order_acquire) > 0) {
      if (!said && app_now_ns() - waited_from > ms_to_ns(1000)) {
        log_write(srv->log, LOG_WARN,
                  "waiting for %lld commits in progress before stopping",
                  (long long)atomic_load(&srv->suspended));
        said = true;
      }
      struct timespec pause = {0, 1000000L};
      nanosleep(&pause, NULL);
    }
    MHD_stop_daemon(srv->daemon);
    if (lfd != MHD_INVALID_SOCKET)
      close(lfd);
  }
  if (srv->watchdog_running) {
    pthread_mutex_lock(&srv->lock);
    srv->stopping = true;
    pthread_cond_signal(&srv->wake);
    pthread_mutex_unlock(&srv->lock);
    pthread_join(srv->watchdog, NULL);
  }
  /* libmicrohttpd may use the PEM text until it has stopped. */
  wipe_free(srv->tls_key, srv->tls_key_len + 1);
  wipe_free(srv->tls_cert, srv->tls_cert_len + 1);
  ratelimit_free(srv->ratelimit);
  pthread_cond_destroy(&srv->wake);
  pthread_mutex_destroy(&srv->lock);
  free(srv);
}
