/* server_conn: the connections libmicrohttpd accepts, and the connection
 * limits.
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
 * Every conn is listed in server.conns under server.lock, from
 * NOTIFY_CONNECTION STARTED to CLOSED; the watchdog (server_watchdog.c)
 * scans the same list. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "base/clock.h"
#include "base/xalloc.h"
#include "http/server_int.h"

/* Idle candidates checked with the kernel per new connection over a
 * limit, before it is answered 503 (see oldest_idle). */
#define SERVER_EVICT_TRIES 4u

/* Starts a phase at now that may last limit_ns; waiting: between
 * requests (see the watchdog). */
void server_set_phase(struct conn *c, uint64_t now, uint64_t limit_ns,
                      bool waiting)
{
  uint64_t deadline = limit_ns > UINT64_MAX - now ? UINT64_MAX : now + limit_ns;
  atomic_store_explicit(&c->phase_start_ns, now, memory_order_relaxed);
  atomic_store_explicit(&c->deadline_ns, deadline, memory_order_relaxed);
  atomic_store_explicit(&c->idle_since_ns, waiting ? now : 0,
                        memory_order_relaxed);
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
    best->wd_rx_since = clock_mono_ns();
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

void server_on_connection(void *cls, struct MHD_Connection *mc,
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
    uint64_t now = clock_mono_ns();
    server_set_phase(c, now, server_idle_limit_ns(srv->app->cfg), true);
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
      server_set_phase(
          c, now, server_ms_to_ns(srv->app->cfg->request_timeout_ms), true);
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
