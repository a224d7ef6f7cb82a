/* server_start: binding, starting libmicrohttpd and the watchdog, and the
 * stop with its drain. */
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/xalloc.h"
#include "http/api/dashboard.h"
#include "http/ratelimit.h"
#include "http/server_int.h"

/* GnuTLS priorities: its defaults, without TLS 1.0 and 1.1. */
#define SERVER_TLS_PRIORITIES "NORMAL:-VERS-TLS1.1:-VERS-TLS1.0"

/* How long a stopping server keeps open connections that have nothing in
 * flight, answering what arrives on them with 503 shutting_down: long
 * enough for a client that sent just before the stop. */
#define SERVER_DRAIN_MS 1000u
/* Sockets libmicrohttpd may hold beyond MAX_CONNECTIONS, to answer 503
 * to clients that arrive when every connection is busy (see server_conn.c):
 * an eighth of MAX_CONNECTIONS, at least this many. */
#define SERVER_BUSY_SLOTS_MIN 16u

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
  srv->tick_ns = server_ms_to_ns(tick_ms < 25    ? 25
                                 : tick_ms > 250 ? 250
                                                 : tick_ms);
  srv->ratelimit = ratelimit_new(cfg->rate_limit, cfg->rate_limit_burst,
                                 cfg->rate_limit_loopback, 0);

  rc = resolve(srv, allow_public, err, errlen);
  if (!rc)
    rc = server_load_tls(srv, err, errlen);
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
      flags, 0, NULL, NULL, server_on_request, srv,
      /* The logger goes first so that no option's message bypasses it. */
      MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, MHD_OPTION_SOCK_ADDR,
      (struct sockaddr *)&srv->addr, MHD_OPTION_THREAD_POOL_SIZE,
      /* 0: no pool, the one internal thread (1 draws a warning). */
      cfg->threads > 1 ? (unsigned)cfg->threads : 0u,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)cfg->max_connections + busy_slots,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->idle_timeout_s,
      MHD_OPTION_NOTIFY_CONNECTION, server_on_connection, srv,
      MHD_OPTION_URI_LOG_CALLBACK, server_on_uri, srv,
      MHD_OPTION_NOTIFY_COMPLETED, server_on_completed, srv, MHD_OPTION_ARRAY,
      tls_opts, MHD_OPTION_END);
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

  if (pthread_create(&srv->watchdog, NULL, server_watchdog_main, srv)) {
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
    uint64_t now = clock_mono_ns();
    uint64_t until = now + server_ms_to_ns(grace_ms);
    uint64_t linger =
        now + server_ms_to_ns(grace_ms < SERVER_DRAIN_MS ? grace_ms
                                                         : SERVER_DRAIN_MS);
    const struct metrics *m = &srv->app->metrics;
    while (now < until &&
           (atomic_load(&srv->in_flight) > 0 ||
            (now < linger && atomic_load(&m->connections_open) > 0))) {
      struct timespec pause = {0, 5 * 1000000L};
      nanosleep(&pause, NULL);
      now = clock_mono_ns();
    }
    /* Past the grace period too: libmicrohttpd aborts when stopped with a
     * suspended connection, and each one has a commit in progress that
     * the committer will end (committed or failed) and call back for. No
     * new one starts once draining is set (see server_submit_commit). */
    atomic_store(&srv->draining, true);
    uint64_t waited_from = clock_mono_ns();
    bool said = false;
    while (atomic_load_explicit(&srv->suspended, memory_order_acquire) > 0) {
      if (!said && clock_mono_ns() - waited_from > server_ms_to_ns(1000)) {
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
  server_wipe_free(srv->tls_key, srv->tls_key_len + 1);
  server_wipe_free(srv->tls_cert, srv->tls_cert_len + 1);
  ratelimit_free(srv->ratelimit);
  pthread_cond_destroy(&srv->wake);
  pthread_mutex_destroy(&srv->lock);
  free(srv);
}
