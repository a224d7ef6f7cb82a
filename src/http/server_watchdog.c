/* server_watchdog: request deadlines, the 408 and the idle cut.
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
 * after IDLE_TIMEOUT. */
#include <linux/tcp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "http/server_int.h"

#include "base/clock.h"

/* The watchdog's answer to a request that overran REQUEST_TIMEOUT_MS while
 * arriving (http_response_error's shape; the watchdog cannot use the conn's
 * response buffer, which belongs to the connection's thread). */
#define SERVER_TIMEOUT_JSON                                                    \
  "{\"error\":\"request_timeout\",\"message\":\"the request took longer "      \
  "than REQUEST_TIMEOUT_MS to arrive\"}"

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
         now - c->wd_rx_since >
             server_ms_to_ns(srv->app->cfg->request_timeout_ms);
}

void *server_watchdog_main(void *arg)
{
  struct server *srv = arg;
  pthread_mutex_lock(&srv->lock);
  while (!srv->stopping) {
    uint64_t now = clock_mono_ns();
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
      if (arriving && !srv->tls && server_claim_reply(c, REPLIER_WATCHDOG))
        server_write_raw(c->fd, 408, "application/json", SERVER_TIMEOUT_JSON,
                         sizeof SERVER_TIMEOUT_JSON - 1, "");
      shutdown(c->fd, SHUT_RDWR);
      log_write(srv->log, LOG_INFO,
                "closing a connection that overran its deadline "
                "(%.1f s into its current request or wait)",
                now > start ? (double)(now - start) / 1e9 : 0.0);
      atomic_fetch_add_explicit(&srv->app->metrics.requests_cut, 1,
                                memory_order_relaxed);
    }
    struct timespec until = clock_deadline(CLOCK_MONOTONIC, srv->tick_ns);
    pthread_cond_timedwait(&srv->wake, &srv->lock, &until);
  }
  pthread_mutex_unlock(&srv->lock);
  return NULL;
}
