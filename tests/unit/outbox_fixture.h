/* The fixture the delivery worker's tests share (test_outbox.c,
 * test_outbox_unknown.c, test_outbox_source.c; each includes this once and
 * is its own program): the fake DevRev (tests/fake_devrev.py, started once
 * per program as a child process), one-shot requests to it and readers of
 * what it saw, and the store and worker helpers.
 *
 * The fake is found from SRC_DIR, else relative to this file's path. */
#ifndef TESTS_OUTBOX_FIXTURE_H
#define TESTS_OUTBOX_FIXTURE_H

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alerting/policy.h"
#include "base/buf.h"
#include "harness.h"
#include "store/store.h"
#include "test_db.h"

#define TOKEN "test-token"

static char tmpdir[256];
static int db_seq;
static pid_t fake_pid;
static int fake_port;
static char api_url[64];

/* ---- The fake DevRev -------------------------------------------------- */

static bool start_fake(void)
{
  char path[1024];
  const char *src = getenv("SRC_DIR");
  if (src) {
    snprintf(path, sizeof path, "%s/tests/fake_devrev.py", src);
  } else {
    snprintf(path, sizeof path, "%s", __FILE__);
    char *cut = strstr(path, "tests/unit/outbox_fixture.h");
    if (!cut)
      return false;
    snprintf(cut, sizeof path - (size_t)(cut - path), "tests/fake_devrev.py");
  }
  int fds[2];
  if (pipe(fds))
    return false;
  fake_pid = fork();
  if (fake_pid < 0)
    return false;
  if (fake_pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execlp("python3", "python3", path, "--token", TOKEN, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char line[32] = "";
  size_t n = 0;
  while (n + 1 < sizeof line) {
    ssize_t r = read(fds[0], line + n, 1);
    if (r <= 0 || line[n] == '\n')
      break;
    n++;
  }
  line[n] = '\0';
  close(fds[0]);
  fake_port = atoi(line);
  snprintf(api_url, sizeof api_url, "http://127.0.0.1:%d", fake_port);
  return fake_port > 0;
}

static void stop_fake(void)
{
  if (fake_pid > 0) {
    kill(fake_pid, SIGTERM);
    waitpid(fake_pid, NULL, 0);
  }
}

static int last_status; /* of the last http() call */

/* A one-shot HTTP/1.1 request to the fake (with the token when auth);
 * returns the body (caller frees) or NULL. */
static char *http_req(const char *method, const char *path, const char *body,
                      bool auth)
{
  last_status = 0;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)fake_port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  struct buf req, resp;
  buf_init(&req, 0);
  buf_init(&resp, 0);
  /* A refused request or a cut reply fails the caller's checks on the
   * status and body. */
  if (buf_printf(
          &req,
          "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
          "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
          method, path, auth ? "Authorization: Bearer " TOKEN "\r\n" : "",
          body ? strlen(body) : 0, body ? body : "") ||
      write(fd, buf_ptr(&req), req.len) != (ssize_t)req.len) {
    close(fd);
    buf_cleanup(&req);
    return NULL;
  }
  char chunk[4096];
  ssize_t r;
  while ((r = read(fd, chunk, sizeof chunk)) > 0)
    if (buf_append(&resp, chunk, (size_t)r))
      break;
  close(fd);
  buf_cleanup(&req);
  if (!strncmp(buf_ptr(&resp), "HTTP/1.1 ", 9))
    last_status = atoi(buf_ptr(&resp) + 9);
  const char *sep = strstr(buf_ptr(&resp), "\r\n\r\n");
  char *out = sep ? strdup(sep + 4) : NULL;
  buf_cleanup(&resp);
  return out;
}

static char *http(const char *method, const char *path, const char *body)
{
  return http_req(method, path, body, false);
}

static void fake_control(const char *json)
{
  free(http("POST", "/_control", json));
}

static cJSON *fake_get(const char *path, const char *member)
{
  char *body = http("GET", path, NULL);
  cJSON *root = body ? cJSON_Parse(body) : NULL;
  free(body);
  cJSON *arr = cJSON_DetachItemFromObject(root, member);
  cJSON_Delete(root);
  return arr;
}

/* API requests the fake saw, and the works it holds. */
static cJSON *fake_requests(void)
{
  return fake_get("/_requests", "requests");
}
static cJSON *fake_works(void)
{
  return fake_get("/_state", "works");
}
static cJSON *fake_comments(void)
{
  return fake_get("/_state", "comments");
}

static int count_path(const cJSON *reqs, const char *path)
{
  int n = 0;
  const cJSON *r;
  cJSON_ArrayForEach(r, reqs)
  {
    const char *p = cJSON_GetStringValue(cJSON_GetObjectItem(r, "path"));
    n += p && !strcmp(p, path);
  }
  return n;
}

static const char *jstr(const cJSON *obj, const char *key)
{
  return cJSON_GetStringValue(cJSON_GetObjectItem(obj, key));
}

/* ---- Store and worker helpers ----------------------------------------- */

static const struct alert_policy POLICY = {.cooldown_ms = 1800000,
                                           .min_level = 2};

static void fresh_db(char *url, size_t cap)
{
  test_db_url(url, cap, tmpdir, "o", ++db_seq);
}

static const char *const LEVEL_NAMES[] = {"calm", "dissatisfied", "frustrated",
                                          "angry"};
static const char *const SEVERITIES[] = {"low", "medium", "high", "blocker"};

/* The DevRev object a message was written on. */
struct source {
  const char *object, *display_id, *type;
};

/* A message at `level` (2 and up are frustrated) from customer cust,
 * written on src (NULL: not from DevRev), under pol. */
static struct ingest_result ingest_from(struct store *st,
                                        const struct alert_policy *pol,
                                        const char *mid, const char *cust,
                                        size_t level, const struct source *src)
{
  struct ingest_msg m = {.message_id = mid,
                         .customer_id = cust,
                         .conversation_id = "CONV-9",
                         .channel = "chat",
                         .text = "Still broken. This is terrible!",
                         .polarity = level == 3 ? -0.8 : -0.5,
                         .subjectivity = 0.8,
                         .level = level,
                         .level_name = LEVEL_NAMES[level],
                         .severity = SEVERITIES[level],
                         .frustrated = level >= 2,
                         .words = "'terrible'",
                         .result_json = "{}"};
  if (src) {
    m.source_object = src->object;
    m.source_display_id = src->display_id;
    m.source_type = src->type;
    m.rev_org = "REV-1";
  }
  struct ingest_result r = {0};
  CHECK_INT(store_ingest(st, &m, 1, pol, (int64_t)time(NULL) * 1000, &r),
            ERR_OK);
  return r;
}

/* A message at `level` from customer cust, not from DevRev, under POLICY
 * (unused where every message comes from DevRev). */
__attribute__((unused)) static struct ingest_result
ingest(struct store *st, const char *mid, const char *cust, size_t level)
{
  return ingest_from(st, &POLICY, mid, cust, level, NULL);
}

static struct outbox_options options(const char *url)
{
  struct outbox_options o = {0};
  o.db_url = url;
  o.devrev.api_url = api_url;
  o.devrev.token = TOKEN;
  o.devrev.part_id = "PROD-1";
  o.devrev.owner_id = "DEVU-1";
  o.devrev.tag_id = "TAG-7";
  o.devrev.timeout_ms = 3000;
  o.backoff_base_ms = 50;
  o.backoff_max_ms = 300;
  o.tick_ms = 100;
  return o;
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits until nothing is pending (and at least `attempts` were made);
 * false on timeout. */
static bool drained(struct outbox *ob, int64_t attempts, double timeout_s)
{
  double until = now_s() + timeout_s;
  struct outbox_stats s;
  while (now_s() < until) {
    outbox_stats(ob, &s);
    if (s.pending == 0 && s.attempts >= attempts)
      return true;
    usleep(20000);
  }
  outbox_stats(ob, &s);
  fprintf(stderr, "not drained: pending %lld attempts %lld error %s\n",
          (long long)s.pending, (long long)s.attempts, s.last_error);
  return false;
}

static struct outbox *start(const struct outbox_options *o)
{
  char err[256];
  struct outbox *ob = NULL;
  enum err rc = outbox_start(o, err, sizeof err, &ob);
  if (rc)
    fprintf(stderr, "outbox_start: %s\n", err);
  return ob;
}

/* ---- Program start and end -------------------------------------------- */

/* Starts a program of these tests: a fresh directory /tmp/<name>.XXXXXX for
 * its databases and logs, and the fake DevRev. False (with the reason on
 * stderr) when either fails. */
static bool fixture_begin(const char *name)
{
  signal(SIGPIPE, SIG_IGN);
  snprintf(tmpdir, sizeof tmpdir, "/tmp/%s.XXXXXX", name);
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return false;
  }
  if (!start_fake()) {
    fprintf(stderr, "cannot start tests/fake_devrev.py\n");
    stop_fake();
    return false;
  }
  return true;
}

/* Stops the fake and removes the directory. */
static void fixture_end(void)
{
  stop_fake();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
}

#endif
