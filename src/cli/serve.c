/* serve: runs the HTTP service in the foreground until SIGINT or SIGTERM.
 *
 * The signals are blocked before any thread starts, so every thread
 * inherits the mask and the main thread alone takes them with sigwait: no
 * handler, no global flag.
 *
 * Startup: the delivery worker (which opens the store first, creating and
 * migrating it), then the committer (told to wake the worker after each
 * commit that queued alerts), then HTTP. A store that cannot be opened
 * stops startup. On a signal, the reverse: the server stops accepting,
 * lets the requests in progress finish (up to REQUEST_TIMEOUT_MS, and
 * always until every commit in progress has ended), then the committer
 * commits what it holds and closes, then the worker stops. Exit 0.
 *
 * Exposure: the server listens beyond loopback only when some request
 * authentication is configured (API_TOKEN or a signature secret) or
 * --insecure says so; the startup log says which, naming the settings but
 * never their values. */
#include "cli/cli.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alerting/outbox.h"
#include "base/log.h"
#include "detector/model_file.h"
#include "http/app.h"
#include "http/api/dashboard.h"
#include "http/api/feedback.h"
#include "http/server.h"
#include "alerting/committer.h"

static void usage(FILE *f)
{
  fprintf(f,
          "usage: frustration-alert serve [--listen HOST:PORT] [--db URL]\n"
          "                               [--tls-cert FILE --tls-key FILE]\n"
          "                               [--insecure]\n"
          "\n"
          "Runs the HTTP service: POST /webhook, POST /slash-analyze,\n"
          "GET /health, GET /metrics. Settings come from the environment\n"
          "(see check-config); HOST and PORT default to 127.0.0.1:8080,\n"
          "PORT=0 picks a free port. Logs go to standard error. SIGINT or\n"
          "SIGTERM stop it after the requests in progress finish. One\n"
          "serve per store: a second one on the same SQLite file refuses\n"
          "to start, naming the first one's pid.\n"
          "\n"
          "A HOST beyond loopback needs authentication (API_TOKEN, or a\n"
          "signature secret: WEBHOOK_SECRET, DEVREV_WEBHOOK_SECRET,\n"
          "SLACK_SIGNING_SECRET) or --insecure. Each source address may\n"
          "send RATE_LIMIT requests a second after a burst of\n"
          "RATE_LIMIT_BURST (429 past that; loopback exempt unless\n"
          "RATE_LIMIT_LOOPBACK=on); request headers are limited to\n"
          "MAX_HEADER_BYTES (431).\n"
          "\n"
          "  --listen HOST:PORT  address to listen on (overrides HOST/PORT)\n"
          "  --db URL            the store: a SQLite file path or sqlite:PATH\n"
          "                      (overrides DATABASE_URL; default\n"
          "                      ./var/frustration.db)\n"
          "  --tls-cert FILE     serve HTTPS with this PEM certificate (or\n"
          "                      chain); needs --tls-key (overrides\n"
          "                      TLS_CERT)\n"
          "  --tls-key FILE      the certificate's PEM private key, not\n"
          "                      encrypted (overrides TLS_KEY)\n"
          "  --insecure          allow a non-loopback address although no\n"
          "                      authentication is configured\n");
}

/* Copies a path flag's value into a config field of cap bytes. */
static bool set_path(char *dst, size_t cap, const char *flag, const char *v)
{
  if (!*v || strlen(v) >= cap) {
    fprintf(stderr,
            "frustration-alert: %s must be a non-empty path of less than "
            "%zu bytes\n",
            flag, cap);
    return false;
  }
  memcpy(dst, v, strlen(v) + 1);
  return true;
}

/* Writes the names (never the values) of the authentication settings
 * that are set, comma-separated, into out. */
static void auth_names(const struct config *cfg, char *out, size_t cap)
{
  const struct {
    const char *name;
    const char *value;
  } settings[] = {
      {"API_TOKEN", cfg->api_token},
      {"WEBHOOK_SECRET", cfg->webhook_secret},
      {"DEVREV_WEBHOOK_SECRET", cfg->devrev_webhook_secret},
      {"SLACK_SIGNING_SECRET", cfg->slack_signing_secret},
  };
  size_t len = 0;
  out[0] = '\0';
  for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
    if (!*settings[i].value)
      continue;
    int n = snprintf(out + len, cap - len, "%s%s", len ? ", " : "",
                     settings[i].name);
    if (n < 0 || (size_t)n >= cap - len)
      break;
    len += (size_t)n;
  }
}

/* glibc gives threads that allocate at once heaps of their own (up to
 * eight per core), and each keeps the memory freed in it: under load the
 * HTTP, commit and delivery threads held MiBs of free memory apiece. One
 * heap for all: bench/webhook.sh measured a peak RSS of 31.0 MiB instead
 * of 35.1, at the same throughput (the threads spend their time in
 * scoring and SQLite, not in malloc). Unless the operator chose with
 * glibc's own MALLOC_ARENA_MAX or GLIBC_TUNABLES. */
static void limit_malloc_arenas(void)
{
#if defined(M_ARENA_MAX)
  if (!getenv("MALLOC_ARENA_MAX") && !getenv("GLIBC_TUNABLES"))
    mallopt(M_ARENA_MAX, 1);
#endif
}

int cli_serve(int argc, char **argv)
{
  limit_malloc_arenas();
  const char *listen = NULL;
  const char *db = NULL;
  const char *tls_cert = NULL;
  const char *tls_key = NULL;
  bool insecure = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
      listen = argv[++i];
    } else if (!strncmp(argv[i], "--listen=", 9)) {
      listen = argv[i] + 9;
    } else if (!strcmp(argv[i], "--db") && i + 1 < argc) {
      db = argv[++i];
    } else if (!strncmp(argv[i], "--db=", 5)) {
      db = argv[i] + 5;
    } else if (!strcmp(argv[i], "--tls-cert") && i + 1 < argc) {
      tls_cert = argv[++i];
    } else if (!strncmp(argv[i], "--tls-cert=", 11)) {
      tls_cert = argv[i] + 11;
    } else if (!strcmp(argv[i], "--tls-key") && i + 1 < argc) {
      tls_key = argv[++i];
    } else if (!strncmp(argv[i], "--tls-key=", 10)) {
      tls_key = argv[i] + 10;
    } else if (!strcmp(argv[i], "--insecure")) {
      insecure = true;
    } else {
      fprintf(stderr, "serve: unknown argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }

  struct config cfg;
  if (cli_load_config(&cfg))
    return 1;
  char err[256];
  if (listen && config_parse_listen(&cfg, listen, err, sizeof err)) {
    fprintf(stderr, "frustration-alert: %s\n", err);
    return 2;
  }
  if (db) {
    if (!*db || strlen(db) >= sizeof cfg.database_url) {
      fprintf(stderr,
              "frustration-alert: --db must be a non-empty URL of "
              "less than %zu bytes\n",
              sizeof cfg.database_url);
      return 2;
    }
    memcpy(cfg.database_url, db, strlen(db) + 1);
  }
  if (tls_cert &&
      !set_path(cfg.tls_cert, sizeof cfg.tls_cert, "--tls-cert", tls_cert))
    return 2;
  if (tls_key &&
      !set_path(cfg.tls_key, sizeof cfg.tls_key, "--tls-key", tls_key))
    return 2;
  /* The flags may have broken a pair (a certificate without its key). */
  if (config_check(&cfg, err, sizeof err)) {
    fprintf(stderr, "frustration-alert: invalid configuration: %s\n", err);
    return 2;
  }
  enum log_level level = LOG_INFO;
  log_level_parse(cfg.log_level, &level); /* validated by config */
  struct log lg;
  log_init(&lg, level, STDERR_FILENO);

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  /* A client that goes away mid-response must not kill the process. */
  signal(SIGPIPE, SIG_IGN);
  /* Nor a file-size limit (ulimit -f) reached by the store: the write
   * then fails like one on a full disk, and the request is answered 503
   * with nothing kept, as PostgreSQL's server does with this signal. */
  signal(SIGXFSZ, SIG_IGN);

  int status = 1;
  struct server *srv = NULL;
  struct outbox *ob = NULL;
  struct committer *cm = NULL;
  struct dashboard *dash = NULL;
  struct feedback *fb = NULL;
  struct app app;
  enum err rc = app_init(&app, &cfg);
  if (rc) {
    log_write(&lg, LOG_ERROR,
              "cannot build the lexicon or load the detector model: %s",
              detector_model_error(rc));
    goto out;
  }
  struct outbox_options oo;
  outbox_options_from_config(&cfg, &oo);
  oo.log = &lg;
  rc = outbox_start(&oo, err, sizeof err, &ob);
  if (rc) {
    log_write(&lg, LOG_ERROR, "cannot start: %s", err);
    goto out;
  }
  struct committer_options co;
  committer_options_from_config(&cfg, &co);
  co.on_outbox = outbox_wake_cb;
  co.on_outbox_ctx = ob;
  rc = committer_open(cfg.database_url, &co, err, sizeof err, &cm);
  if (rc) {
    log_write(&lg, LOG_ERROR, "cannot start: %s", err);
    goto out;
  }
  app.committer = cm;
  app.outbox = ob;
  app.log = &lg;
  rc = dashboard_new(&app, &dash);
  if (rc) {
    log_write(&lg, LOG_ERROR, "cannot start the dashboard: %s", err_str(rc));
    goto out;
  }
  app.dashboard = dash;
  fb = feedback_new(cfg.database_url);
  app.feedback = fb;
  rc = server_start(&app, &lg, insecure, &srv, err, sizeof err);
  if (rc) {
    log_write(&lg, LOG_ERROR, "cannot start: %s", err);
    goto out;
  }
  log_write(&lg, LOG_INFO,
            "frustration-alert %s listening on %s (threads %u, threshold "
            "%g, detector %s, max body %zu bytes)",
            FA_VERSION, server_url(srv), cfg.threads, cfg.threshold,
            cfg.detector == CONFIG_DETECTOR_MODEL ? "model" : "polarity",
            cfg.max_body_bytes);
  char names[128];
  auth_names(&cfg, names, sizeof names);
  if (*names)
    log_write(&lg, LOG_INFO, "authentication: %s", names);
  else if (insecure)
    log_write(&lg, LOG_WARN,
              "--insecure: no authentication configured and requests are "
              "not authenticated; anyone who can reach %s can use it",
              server_url(srv));
  else
    log_write(&lg, LOG_INFO,
              "no authentication configured: listening on loopback only");
  if (cfg.rate_limit)
    log_write(&lg, LOG_INFO,
              "rate limit: %u requests/s per source address, burst %u%s",
              cfg.rate_limit, cfg.rate_limit_burst,
              cfg.rate_limit_loopback ? " (loopback included)"
                                      : " (loopback exempt)");
  else
    log_write(&lg, LOG_INFO, "rate limit: off (RATE_LIMIT=0)");

  int sig = 0;
  while (sigwait(&stop_signals, &sig) != 0)
    ;
  log_write(&lg, LOG_INFO, "%s received: finishing requests in progress",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
  server_stop(srv, cfg.request_timeout_ms);
  srv = NULL;
  status = 0;
out:
  server_stop(srv, 0);
  dashboard_free(dash);
  feedback_free(fb);
  committer_close(cm);
  outbox_stop(ob);
  app_cleanup(&app);
  if (status == 0)
    log_write(&lg, LOG_INFO, "stopped");
  return status;
}
