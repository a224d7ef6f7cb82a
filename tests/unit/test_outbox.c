/* Tests of the delivery worker against the fake DevRev (tests/fake_devrev.py,
 * started once as a child process): the exact requests DevRev receives,
 * retries through an outage, 429 with Retry-After, dead letters, comments
 * on the created ticket, and no duplicate ticket after an unknown outcome
 * (connection dropped after the create, timeout, crash, stop). Messages
 * from DevRev: the internal comment on their source object and the
 * works.update of its severity/sentiment, in their own lane.
 *
 * The fake is found from SRC_DIR, else relative to this file's path. */
#include "alerting/outbox.h"

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
    char *cut = strstr(path, "tests/unit/test_outbox.c");
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
static cJSON *fake_updates(void)
{
  return fake_get("/_state", "updates");
}
static cJSON *fake_objects(void)
{
  return fake_get("/_state", "objects");
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

/* The body of the nth request (0-based) to path; NULL if there is none. */
static const cJSON *request_body(const cJSON *reqs, const char *path, int nth)
{
  const cJSON *r;
  cJSON_ArrayForEach(r, reqs)
  {
    const char *p = jstr(r, "path");
    if (p && !strcmp(p, path) && nth-- == 0)
      return cJSON_GetObjectItem(r, "body");
  }
  return NULL;
}

/* The body of the request to path whose `member` is value; NULL if none. */
static const cJSON *request_to(const cJSON *reqs, const char *path,
                               const char *member, const char *value)
{
  const cJSON *b;
  for (int i = 0; (b = request_body(reqs, path, i)) != NULL; i++) {
    const char *v = jstr(b, member);
    if (v && !strcmp(v, value))
      return b;
  }
  return NULL;
}

static bool ends_with(const char *s, const char *tail)
{
  return s && strlen(s) >= strlen(tail) &&
         !strcmp(s + strlen(s) - strlen(tail), tail);
}

/* ---- Store and worker helpers ----------------------------------------- */

static const struct alert_policy POLICY = {.cooldown_ms = 1800000,
                                           .min_level = 2};

static void fresh_db(char *url, size_t cap)
{
  snprintf(url, cap, "%s/o%d.db", tmpdir, ++db_seq);
}

static const char *const LEVEL_NAMES[] = {"calm", "dissatisfied", "frustrated",
                                          "angry"};
static const char *const SEVERITIES[] = {"low", "medium", "high", "blocker"};

/* The DevRev object a message was written on. */
struct source {
  const char *object, *display_id, *type;
};

#define SRC_OBJ "don:core:dvrv-us-1:devo/0:ticket/12"
#define SRC_CONV "don:core:dvrv-us-1:devo/0:conversation/5"
static const struct source TKT12 = {SRC_OBJ, "TKT-12", "ticket"};
static const struct source CONV5 = {SRC_CONV, "CONV-5", "conversation"};
/* The fake knows them: they exist in DevRev before any alert. */
#define SEED_OBJECTS                                                           \
  "\"objects\":[{\"id\":\"" SRC_OBJ "\",\"display_id\":\"TKT-12\","            \
  "\"type\":\"ticket\"},{\"id\":\"" SRC_CONV "\",\"display_id\":"              \
  "\"CONV-5\",\"type\":\"conversation\"}]"

/* DEVREV_COMMENT_SOURCE, _UPDATE_SEVERITY and _UPDATE_SENTIMENT on, with
 * DEVREV_SOURCE_TICKET as given; sentiments 3, 3, 4 (Unhappy), 5
 * (Frustrated). */
static struct alert_policy source_policy(bool ticket)
{
  static const int sentiments[] = {3, 3, 4, 5};
  struct alert_policy p = POLICY;
  p.n_levels = 4;
  for (size_t i = 0; i < 4; i++) {
    snprintf(p.level_names[i], sizeof p.level_names[i], "%s", LEVEL_NAMES[i]);
    snprintf(p.severities[i], sizeof p.severities[i], "%s", SEVERITIES[i]);
    p.sentiments[i] = sentiments[i];
  }
  p.source_comment = true;
  p.source_severity = true;
  p.source_sentiment = true;
  p.source_ticket = ticket;
  return p;
}

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

static struct ingest_result ingest(struct store *st, const char *mid,
                                   const char *cust, size_t level)
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

/* ---- Tests ------------------------------------------------------------ */

static void test_exact_requests(void)
{
  char url[512], err[256];
  struct store *st = NULL;
  fake_control("{\"reset\":true}");
  fresh_db(url, sizeof url);
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  struct outbox_options o = options(url);
  o.tick_ms = 5000; /* delivery must come from the wake-up, not the tick */
  struct outbox *ob = start(&o);
  if (!ob || !st)
    return;
  usleep(100000); /* the worker is asleep now */
  struct ingest_result a = ingest(st, "m1", "cust-1", 2);
  struct ingest_result b = ingest(st, "m2", "cust-1", 3);
  CHECK_INT(a.outcome, STORE_ALERT_CREATED);
  CHECK_INT(b.outcome, STORE_ALERT_APPENDED);
  double t0 = now_s();
  outbox_wake(ob);
  CHECK(drained(ob, 3, 4));
  CHECK(now_s() - t0 < 2.0);

  cJSON *reqs = fake_requests();
  CHECK_INT(cJSON_GetArraySize(reqs), 3);
  const cJSON *create = cJSON_GetArrayItem(reqs, 0);
  const cJSON *comment = cJSON_GetArrayItem(reqs, 1);
  const cJSON *update = cJSON_GetArrayItem(reqs, 2);
  CHECK_STR(jstr(create, "path"), "/works.create");
  CHECK_STR(jstr(comment, "path"), "/timeline-entries.create");
  CHECK_STR(jstr(update, "path"), "/works.update");
  const cJSON *r;
  cJSON_ArrayForEach(r, reqs)
  {
    const cJSON *h = cJSON_GetObjectItem(r, "headers");
    CHECK_STR(jstr(h, "authorization"), "Bearer " TOKEN);
    CHECK_STR(jstr(h, "content-type"), "application/json");
    CHECK(cJSON_GetObjectItem(h, "expect") == NULL);
    CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "status")) >= 200 &&
                  cJSON_GetNumberValue(cJSON_GetObjectItem(r, "status")) < 300,
              1);
  }
  const cJSON *cb = cJSON_GetObjectItem(create, "body");
  CHECK_STR(jstr(cb, "type"), "ticket");
  CHECK_STR(jstr(cb, "title"), "Frustrated customer: cust-1 (frustrated)");
  CHECK_STR(jstr(cb, "applies_to_part"), "PROD-1");
  CHECK_STR(jstr(cb, "severity"), "high");
  CHECK_STR(cJSON_GetStringValue(
                cJSON_GetArrayItem(cJSON_GetObjectItem(cb, "owned_by"), 0)),
            "DEVU-1");
  CHECK_STR(jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(cb, "tags"), 0), "id"),
            "TAG-7");
  const char *body = jstr(cb, "body");
  CHECK(body && strstr(body, "Customer: `cust-1`\n"));
  CHECK(body && strstr(body, "Conversation: `CONV-9`\n"));
  CHECK(body && strstr(body, "Level: frustrated (severity high)\n"));
  CHECK(body && strstr(body, "Polarity: -0.5 (subjectivity 0.8)\n"));
  CHECK(body && strstr(body, "Deciding words: `'terrible'`\n"));
  CHECK(body && strstr(body, "Message id: `m1`\n"));
  CHECK(body && strstr(body, "Still broken. This is terrible!"));
  char marker[64];
  snprintf(marker, sizeof marker, "\nfrustration-alert-id: %s", a.alert_key);
  CHECK(body && strlen(body) > strlen(marker) &&
        !strcmp(body + strlen(body) - strlen(marker), marker));

  cJSON *works = fake_works();
  CHECK_INT(cJSON_GetArraySize(works), 1);
  const char *work_id = jstr(cJSON_GetArrayItem(works, 0), "id");
  const cJSON *mb = cJSON_GetObjectItem(comment, "body");
  CHECK_STR(jstr(mb, "object"), work_id);
  CHECK_STR(jstr(mb, "type"), "timeline_comment");
  CHECK_STR(jstr(mb, "visibility"), "internal");
  CHECK_STR(jstr(mb, "body_type"), "text");
  CHECK(strstr(jstr(mb, "body"), "Level: angry (severity blocker)") != NULL);
  const cJSON *ub = cJSON_GetObjectItem(update, "body");
  CHECK_STR(jstr(ub, "id"), work_id);
  CHECK_STR(jstr(ub, "type"), "ticket");
  CHECK_STR(jstr(ub, "severity"), "blocker");
  CHECK_STR(jstr(cJSON_GetArrayItem(works, 0), "severity"), "blocker");

  struct store_alert_row row;
  CHECK_INT(store_alert_get(st, a.alert_id, &row), ERR_OK);
  CHECK_STR(row.ticket_id, work_id);
  CHECK_STR(row.ticket_display_id, "TKT-1");
  store_alert_row_cleanup(&row);
  struct outbox_stats s;
  outbox_stats(ob, &s);
  CHECK(s.delivering);
  CHECK_STR(s.mode, "deliver");
  CHECK_INT(s.pending, 0);
  CHECK_INT(s.dead, 0);
  CHECK_INT(s.attempts, 3);
  CHECK_INT(s.failures, 0);
  CHECK(s.last_success_ms > 0);
  CHECK_INT(s.oldest_pending_age_ms, 0);
  CHECK(s.store_ok);
  cJSON_Delete(works);
  cJSON_Delete(reqs);
  outbox_stop(ob);
  store_close(st);
}

static void test_outage_then_back(void)
{
  char url[512], err[256];
  struct store *st = NULL;
  fake_control("{\"reset\":true,\"rules\":[{\"action\":\"status\","
               "\"status\":500,\"count\":6},{\"action\":\"status\","
               "\"status\":503,\"count\":3}]}");
  fresh_db(url, sizeof url);
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  struct ingest_result r[3];
  r[0] = ingest(st, "a", "c-a", 2);
  r[1] = ingest(st, "b", "c-b", 3);
  r[2] = ingest(st, "c", "c-c", 2);
  struct ingest_result app = ingest(st, "a2", "c-a", 2);
  CHECK_INT(app.outcome, STORE_ALERT_APPENDED);
  struct outbox_options o = options(url);
  struct outbox *ob = start(&o);
  if (!ob || !st)
    return;
  CHECK(drained(ob, 13, 15));
  /* Every alert once: one ticket each, carrying its own marker. */
  cJSON *works = fake_works();
  CHECK_INT(cJSON_GetArraySize(works), 3);
  for (int i = 0; i < 3; i++) {
    int n = 0;
    const cJSON *w;
    cJSON_ArrayForEach(w, works)
    {
      n += strstr(jstr(w, "body"), r[i].alert_key) != NULL;
    }
    CHECK_INT(n, 1);
    struct store_alert_row row;
    CHECK_INT(store_alert_get(st, r[i].alert_id, &row), ERR_OK);
    CHECK(row.ticket_id != NULL);
    store_alert_row_cleanup(&row);
  }
  cJSON *comments = fake_comments();
  CHECK_INT(cJSON_GetArraySize(comments), 1);
  cJSON *reqs = fake_requests();
  struct outbox_stats s;
  outbox_stats(ob, &s);
  CHECK_INT(s.attempts, cJSON_GetArraySize(reqs));
  CHECK_INT(s.failures, 9);
  CHECK_INT(s.dead, 0);
  /* A 500 on a create may have created it: those were looked up first. */
  CHECK(count_path(reqs, "/works.list") >= 1);
  cJSON_Delete(reqs);
  cJSON_Delete(comments);
  cJSON_Delete(works);
  outbox_stop(ob);
  store_close(st);
}

static double request_time(const cJSON *reqs, const char *path, int nth)
{
  const cJSON *r;
  cJSON_ArrayForEach(r, reqs)
  {
    const char *p = jstr(r, "path");
    if (p && !strcmp(p, path) && nth-- == 0)
      return cJSON_GetNumberValue(cJSON_GetObjectItem(r, "t"));
  }
  return -1;
}

static void test_rate_limit(void)
{
  char url[512], err[256];
  struct store *st = NULL;
  /* 429 with Retry-After: 1, then one with the body's retry_after only. */
  fake_control("{\"reset\":true,\"rules\":[{\"action\":\"status\","
               "\"status\":429,\"retry_after\":1,\"path\":\"/works.create\"},"
               "{\"action\":\"status\",\"status\":429,\"retry_after_body\":1,"
               "\"path\":\"/works.create\"}]}");
  fresh_db(url, sizeof url);
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  ingest(st, "r1", "c-r", 2);
  struct outbox_options o = options(url);
  o.backoff_base_ms = 10; /* a backoff would retry far sooner than 1 s */
  o.backoff_max_ms = 20;
  struct outbox *ob = start(&o);
  if (!ob || !st)
    return;
  CHECK(drained(ob, 3, 8));
  cJSON *reqs = fake_requests();
  CHECK_INT(count_path(reqs, "/works.create"), 3);
  double t0 = request_time(reqs, "/works.create", 0);
  double t1 = request_time(reqs, "/works.create", 1);
  double t2 = request_time(reqs, "/works.create", 2);
  CHECK(t1 - t0 >= 0.95);
  CHECK(t2 - t1 >= 0.95);
  CHECK(t2 - t0 < 4.0);
  cJSON *works = fake_works();
  CHECK_INT(cJSON_GetArraySize(works), 1);
  struct outbox_stats s;
  outbox_stats(ob, &s);
  CHECK_INT(s.failures, 2);
  CHECK_INT(s.rate_limited_until_ms, 0);
  cJSON_Delete(works);
  cJSON_Delete(reqs);
  outbox_stop(ob);
  store_close(st);
}

/* Retry-After beyond retry_after_max_ms waits only the cap. */
static void test_retry_after_cap(void)
{
  char url[512], err[256];
  struct store *st = NULL;
  fake_control("{\"reset\":true,\"rules\":[{\"action\":\"status\","
               "\"status\":429,\"retry_after\":3600,"
               "\"path\":\"/works.create\"}]}");
  fresh_db(url, sizeof url);
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  ingest(st, "cap1", "c-cap", 2);
  struct outbox_options o = options(url);
  o.retry_after_max_ms = 300;
  struct outbox *ob = start(&o);
  if (!ob || !st)
    return;
  CHECK(drained(ob, 2, 5));
  cJSON *reqs = fake_requests();
  CHECK_INT(count_path(reqs, "/works.create"), 2);
  double gap = request_time(reqs, "/works.create", 1) -
               request_time(reqs, "/works.create", 0);
  CHECK(gap >= 0.28 && gap < 3.0);
  cJSON_Delete(reqs);
  outbox_stop(ob);
  store_close(st);
}

/* 401 and 403 are the token's fault: the entry waits (no dead letter),
 * the statistics say so meanwhile, and it is delivered once DevRev takes
 * the token again. */
static void test_auth_refused(void)
{
  char url[512], err[256];
  struct store *st = NULL;
  fake_control("{\"reset\":true,\"rules\":[{\"action\":\"status\","
               "\"status\":401,\"count\":2},{\"action\":\"status\","
               "\"status\":403,\"count\":1}]}");
  fresh_db(url, sizeof url);
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  ingest(st, "au1", "c-au", 2);
  ingest(st, "au2", "c-au", 2); /* a comment behind the ticket */
  struct outbox_options o = options(url);
  o.backoff_base_ms = 100;
  o.backoff_max_ms = 400;
  struct outbox *ob = start(&o);
  if (!ob || !st)
    return;
  /* Refused, paused: 100 then 200 ms after the first two refusals. */
  double until = now_s() + 3;
  struct outbox_stats s;
  do {
    usleep(10000);
    outbox_stats(ob, &s);
  } while (!s.auth_failing && now_s() < until);
  CHECK(s.auth_failing);
  CHECK(s.auth_failing_since_ms > 0);
  CHECK_INT(s.rate_limited_until_ms, 0);
  CHECK(drained(ob, 5, 8));
  outbox_stats(ob, &s);
  CHECK(!s.auth_failing);
  CHECK_INT(s.auth_failures, 3);
  CHECK_INT(s.dead, 0);
  cJSON *reqs = fake_requests();
  CHECK_INT(count_path(reqs, "/works.create"), 4);
  double gap = request_time(reqs, "/works.create", 3) -
               request_time(reqs, "/works.create", 2);
  CHECK(gap >= 0.38); /* the third refusal in a row: 400 ms, the cap */
  cJSON_Delete(reqs);
  cJSON *works = fake_works();
  CHECK_INT(cJSON_GetArraySize(works), 1);
  cJSON_Delete(works);
  cJSON *comments = fake_comments();
  CHECK_INT(cJSON_GetArraySize(comments), 1);
  cJSON_Delete(comments);
  outbox_stop(ob);
  store_close(st);
}

static void test_dead_letter(void)
{
  char url[512], err[256];
  struct store *st = NULL;
  fake_control("{\"reset\":true,\"rules\":[{\"action\":\"status\","
               "\"status\":400,\"type\":\"invalid_field\",\"message\":"
               "\"applies_to_part is not a part\",\"path\":\"/works.create\"}"
               "]}");
  fresh_db(url, sizeof url);
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  struct ingest_result a = ingest(st, "d1", "c-d", 2);
  ingest(st, "d2", "c-d", 2);
  struct ingest_result other = ingest(st, "e1", "c-e", 2);
  struct outbox_options o = options(url);
  struct outbox *ob = start(&o);
  if (!ob || !st)
    return;
  CHECK(drained(ob, 2, 5));
  struct outbox_stats s;
  outbox_stats(ob, &s);
  CHECK_INT(s.dead, 2); /* the create and the comment waiting for it */
  CHECK_INT(s.pending, 0);
  CHECK_INT(s.failures, 1);
  CHECK(strstr(s.last_error, "HTTP 400 invalid_field") != NULL);
  /* One request for the dead alert (never retried); the other alert
   * still got its ticket. */
  cJSON *reqs = fake_requests();
  CHECK_INT(count_path(reqs, "/works.create"), 2);
  CHECK_INT(count_path(reqs, "/timeline-entries.create"), 0);
  struct store_outbox_row *rows = NULL;
  size_t n = 0;
  CHECK_INT(store_outbox_list(st, a.alert_id, &rows, &n), ERR_OK);
  CHECK_INT(n, 2);
  if (n == 2) {
    CHECK_INT(rows[0].state, STORE_DEAD);
    CHECK(strstr(rows[0].last_error, "applies_to_part is not a part"));
    CHECK_INT(rows[1].state, STORE_DEAD);
  }
  store_outbox_rows_free(rows, n);
  struct store_alert_row row;
  CHECK_INT(store_alert_get(st, other.alert_id, &row), ERR_OK);
  CHECK(row.ticket_id != NULL);
  store_alert_row_cleanup(&row);
  cJSON_Delete(reqs);
  outbox_stop(ob);
  store_close(st);
}

/* The fake creates the ticket and drops the connection, or answers after
 * the client gave up: the worker must find the ticket, not make another. */
static void unknown_outcome(const char *rules, long timeout_ms)
{
  char url[512], err[256];
  struct store *st = NULL;
  fake_control(rules);
  fresh_db(url, sizeof url);
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  struct ingest_result a = ingest(st, "u1", "c-u", 2);
  ingest(st, "u2", "c-u", 2);
  struct outbox_options o = options(url);
  o.devrev.timeout_ms = timeout_ms;
  struct outbox *ob = start(&o);
  if (!ob || !st)
    return;
  CHECK(drained(ob, 3, 10));
  cJSON *works = fake_works();
  CHECK_INT(cJSON_GetArraySize(works), 1);
  cJSON *reqs = fake_requests();
  CHECK_INT(count_path(reqs, "/works.create"), 1);
  CHECK_INT(count_path(reqs, "/works.list"), 1);
  CHECK_INT(count_path(reqs, "/timeline-entries.create"), 1);
  const cJSON *list = NULL, *r;
  cJSON_ArrayForEach(r, reqs)
  {
    if (!strcmp(jstr(r, "path"), "/works.list"))
      list = cJSON_GetObjectItem(r, "body");
  }
  CHECK_STR(cJSON_GetStringValue(
                cJSON_GetArrayItem(cJSON_GetObjectItem(list, "type"), 0)),
            "ticket");
  CHECK_STR(cJSON_GetStringValue(
                cJSON_GetArrayItem(cJSON_GetObjectItem(list, "tags"), 0)),
            "TAG-7");
  struct store_alert_row row;
  CHECK_INT(store_alert_get(st, a.alert_id, &row), ERR_OK);
  CHECK_STR(row.ticket_id, jstr(cJSON_GetArrayItem(works, 0), "id"));
  store_alert_row_cleanup(&row);
  cJSON *comments = fake_comments();
  CHECK_STR(jstr(cJSON_GetArrayItem(comments, 0), "object"),
            jstr(cJSON_GetArrayItem(works, 0), "id"));
  cJSON_Delete(comments);
  cJSON_Delete(reqs);
  cJSON_Delete(works);
  outbox_stop(ob);
  store_close(st);
}

static void test_create_then_drop(void)
{
  unknown_outcome("{\"reset\":true,\"rules\":[{\"action\":\"create_drop\","
                  "\"path\":\"/works.create\"}]}",
                  3000);
}

static void test_create_then_timeout(void)
{
  unknown_outcome("{\"reset\":true,\"rules\":[{\"action\":\"hang\","
                  "\"seconds\":1.5,\"path\":\"/works.create\"}]}",
                  400);
}

/* A process that died between sending the create and recording it: the
 * restarted worker releases the lease, looks up, adopts. */
static void test_crash_restart(void)
{
  char url[512], err[256];
  struct store *st = NULL;
  fake_control("{\"reset\":true}");
  fresh_db(url, sizeof url);
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  if (!st)
    return;
  struct ingest_result a = ingest(st, "k1", "c-k", 2);
  struct store_entry e;
  bool found = false;
  CHECK_INT(
      store_outbox_claim(st, (int64_t)time(NULL) * 1000, 600000, &e, &found),
      ERR_OK);
  CHECK(found);
  store_entry_cleanup(&e);
  /* What the dead process had sent. */
  char body[512];
  snprintf(body, sizeof body,
           "{\"type\":\"ticket\",\"title\":\"t\",\"applies_to_part\":"
           "\"PROD-1\",\"owned_by\":[\"DEVU-1\"],\"tags\":[{\"id\":\"TAG-7\"}],"
           "\"body\":\"x\\nfrustration-alert-id: %s\"}",
           a.alert_key);
  /* Through the fake's real endpoint, with the token. */
  free(http_req("POST", "/works.create", body, true));
  CHECK_INT(last_status, 201);

  struct outbox_options o = options(url);
  struct outbox *ob = start(&o);
  if (!ob)
    return;
  CHECK(drained(ob, 1, 5)); /* the lookup is the only attempt */
  cJSON *works = fake_works();
  CHECK_INT(cJSON_GetArraySize(works), 1);
  cJSON *reqs = fake_requests();
  CHECK_INT(count_path(reqs, "/works.create"), 1); /* only the dead one's */
  CHECK_INT(count_path(reqs, "/works.list"), 1);
  struct store_alert_row row;
  CHECK_INT(store_alert_get(st, a.alert_id, &row), ERR_OK);
  CHECK_STR(row.ticket_id, jstr(cJSON_GetArrayItem(works, 0), "id"));
  store_alert_row_cleanup(&row);
  cJSON_Delete(reqs);
  cJSON_Delete(works);
  outbox_stop(ob);
  store_close(st);
}

/* outbox_stop cuts a hanging request short; the next run finds the
 * ticket the fake made meanwhile. */
static void test_stop_in_flight(void)
{
  char url[512], err[256];
  struct store *st = NULL;
  fake_control("{\"reset\":true,\"rules\":[{\"action\":\"hang\","
               "\"seconds\":3,\"path\":\"/works.create\"}]}");
  fresh_db(url, sizeof url);
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  struct ingest_result a = ingest(st, "s1", "c-s", 2);
  struct outbox_options o = options(url);
  o.devrev.timeout_ms = 10000;
  struct outbox *ob = start(&o);
  if (!ob || !st)
    return;
  double until = now_s() + 5;
  cJSON *reqs = NULL;
  while (now_s() < until) {
    cJSON_Delete(reqs);
    reqs = fake_requests();
    if (count_path(reqs, "/works.create") == 1)
      break;
    usleep(20000);
  }
  cJSON_Delete(reqs);
  double t0 = now_s();
  outbox_stop(ob);
  CHECK(now_s() - t0 < 1.0);
  struct store_outbox_row *rows = NULL;
  size_t n = 0;
  CHECK_INT(store_outbox_list(st, a.alert_id, &rows, &n), ERR_OK);
  CHECK(n == 1 && rows[0].state == STORE_PENDING && rows[0].outcome_unknown);
  store_outbox_rows_free(rows, n);
  ob = start(&o);
  if (!ob)
    return;
  CHECK(drained(ob, 2, 8));
  cJSON *works = fake_works();
  CHECK_INT(cJSON_GetArraySize(works), 1);
  reqs = fake_requests();
  CHECK_INT(count_path(reqs, "/works.create"), 1);
  cJSON_Delete(reqs);
  cJSON_Delete(works);
  outbox_stop(ob);
  store_close(st);
}

static void test_record_only(void)
{
  char url[512], err[256];
  struct store *st = NULL;
  fake_control("{\"reset\":true}");
  fresh_db(url, sizeof url);
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  struct ingest_result a = ingest(st, "n1", "c-n", 2);
  struct outbox_options o = options(url);
  o.devrev.token = "";
  struct outbox *ob = start(&o);
  if (!ob || !st)
    return;
  CHECK(drained(ob, 0, 3));
  struct outbox_stats s;
  outbox_stats(ob, &s);
  CHECK(!s.delivering);
  CHECK_STR(s.mode, "record-only");
  CHECK_INT(s.attempts, 0);
  /* A later alert is skipped too, promptly (the store is the judge: the
   * statistics may still be those from before). */
  ingest(st, "n2", "c-n", 2);
  outbox_wake(ob);
  struct store_counts c;
  double until = now_s() + 3;
  do {
    usleep(20000);
    CHECK_INT(store_counts(st, &c), ERR_OK);
  } while (c.outbox_pending > 0 && now_s() < until);
  CHECK_INT(c.outbox_skipped, 2);
  CHECK_INT(c.outbox_pending, 0);
  struct store_alert_row row; /* the alert itself is kept */
  CHECK_INT(store_alert_get(st, a.alert_id, &row), ERR_OK);
  CHECK(row.open && row.ticket_id == NULL);
  store_alert_row_cleanup(&row);
  cJSON *reqs = fake_requests();
  CHECK_INT(cJSON_GetArraySize(reqs), 0);
  cJSON_Delete(reqs);
  outbox_stop(ob);
  outbox_stop(NULL);
  store_close(st);
  /* An incomplete DevRev config refuses to start. */
  o = options(url);
  o.devrev.owner_id = NULL;
  ob = NULL;
  CHECK_INT(outbox_start(&o, err, sizeof err, &ob), ERR_INVALID);
  CHECK(ob == NULL);
}

/* ---- Messages from DevRev: their source object ------------------------ */

/* A log written to a file, read back to check what the worker said. */
struct capture {
  struct log lg;
  char path[600];
};

static void capture_open(struct capture *c)
{
  snprintf(c->path, sizeof c->path, "%s/log%d.txt", tmpdir, ++db_seq);
  int fd = open(c->path, O_CREAT | O_RDWR | O_TRUNC, 0600);
  CHECK(fd >= 0);
  log_init(&c->lg, LOG_INFO, fd);
}

/* The log so far (caller frees); closes the file. */
static char *capture_close(struct capture *c)
{
  struct buf b;
  buf_init(&b, 0);
  char chunk[4096];
  ssize_t n;
  int fd = open(c->path, O_RDONLY);
  while (fd >= 0 && (n = read(fd, chunk, sizeof chunk)) > 0)
    if (buf_append(&b, chunk, (size_t)n))
      break; /* a cut log fails the caller's checks on its lines */
  if (fd >= 0)
    close(fd);
  close(c->lg.fd);
  return buf_take(&b);
}

/* The outbox rows of alert_id of kind k: the first one (NULL if none). */
static const struct store_outbox_row *
row_of(const struct store_outbox_row *rows, size_t n, enum store_kind k)
{
  for (size_t i = 0; i < n; i++)
    if (rows[i].kind == k)
      return &rows[i];
  return NULL;
}

/* Where each source test starts: the fake DevRev reset, with the seeded
 * objects and the failure rules (the inside of a JSON array, or NULL), a
 * fresh database open in e->st, and the source policy (ticket: the alert's
 * own ticket too). False (and a failed check) when the store did not
 * open. */
struct source_env {
  char url[512];
  struct store *st;
  struct alert_policy pol;
};

static bool source_setup(struct source_env *e, bool ticket, const char *rules)
{
  char control[2048], err[256];
  snprintf(control, sizeof control,
           "{\"reset\":true," SEED_OBJECTS ",\"rules\":[%s]}",
           rules ? rules : "");
  fake_control(control);
  e->st = NULL;
  e->pol = source_policy(ticket);
  fresh_db(e->url, sizeof e->url);
  CHECK_INT(store_open(e->url, err, sizeof err, &e->st), ERR_OK);
  return e->st != NULL;
}

/* A frustrated message written on the customer's ticket TKT-12, with no
 * alert ticket wanted: exactly an internal comment on TKT-12, a works.get
 * of its current severity, and a works.update raising it and setting the
 * sentiment; no works.create. */
static void test_source_exact_requests(void)
{
  struct source_env e;
  if (!source_setup(&e, false, NULL))
    return;
  struct ingest_result a = ingest_from(e.st, &e.pol, "s1", "cust-s", 3, &TKT12);
  CHECK_INT(a.outcome, STORE_ALERT_CREATED);
  struct capture cap;
  capture_open(&cap);
  struct outbox_options o = options(e.url);
  o.log = &cap.lg;
  struct outbox *ob = start(&o);
  if (!ob)
    return;
  CHECK(drained(ob, 2, 5));
  outbox_stop(ob);
  char *log = capture_close(&cap);

  cJSON *reqs = fake_requests();
  CHECK_INT(cJSON_GetArraySize(reqs), 3);
  CHECK_INT(count_path(reqs, "/works.create"), 0);
  CHECK_STR(jstr(request_body(reqs, "/works.get", 0), "id"), SRC_OBJ);
  const cJSON *cb = request_body(reqs, "/timeline-entries.create", 0);
  CHECK_STR(jstr(cb, "object"), SRC_OBJ);
  CHECK_STR(jstr(cb, "type"), "timeline_comment");
  CHECK_STR(jstr(cb, "visibility"), "internal");
  CHECK_STR(jstr(cb, "body_type"), "text");
  CHECK_INT(cJSON_GetArraySize(cb), 5);
  const char *body = jstr(cb, "body");
  const char *head = "frustration-alert: this customer's message reads as "
                     "angry (polarity -0.8).\nDeciding words: `'terrible'`\n"
                     "Excerpt:\n```\nStill broken. This is terrible!\n```\n\n"
                     "frustration-alert-id: ";
  CHECK(body && !strncmp(body, head, strlen(head)));
  CHECK(body && strstr(body, "Alert ticket:") == NULL); /* there is none */
  char marker[64];
  snprintf(marker, sizeof marker, "\nfrustration-alert-id: %s", a.alert_key);
  CHECK(ends_with(body, marker));
  const cJSON *ub = request_body(reqs, "/works.update", 0);
  CHECK_STR(jstr(ub, "id"), SRC_OBJ);
  CHECK_STR(jstr(ub, "type"), "ticket");
  CHECK_STR(jstr(ub, "severity"), "blocker");
  CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(ub, "sentiment")), 5);
  CHECK_INT(cJSON_GetArraySize(ub), 4);
  /* DevRev's view: the customer's ticket changed, nothing was created. */
  cJSON *works = fake_works();
  CHECK_INT(cJSON_GetArraySize(works), 0);
  cJSON *objects = fake_objects();
  const cJSON *tkt = cJSON_GetArrayItem(objects, 0);
  CHECK_STR(jstr(tkt, "severity"), "blocker");
  CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(
                cJSON_GetObjectItem(tkt, "sentiment"), "id")),
            5);
  cJSON *comments = fake_comments();
  CHECK_INT(cJSON_GetArraySize(comments), 1);
  CHECK_STR(jstr(cJSON_GetArrayItem(comments, 0), "object_display_id"),
            "TKT-12");
  /* The alert has no ticket; both entries are done. */
  struct store_alert_row row;
  CHECK_INT(store_alert_get(e.st, a.alert_id, &row), ERR_OK);
  CHECK(row.ticket_id == NULL && !row.ticket_wanted);
  store_alert_row_cleanup(&row);
  struct store_outbox_row *rows = NULL;
  size_t n = 0;
  CHECK_INT(store_outbox_list(e.st, a.alert_id, &rows, &n), ERR_OK);
  CHECK_INT(n, 2);
  for (size_t i = 0; i < n; i++) {
    CHECK(store_kind_is_source(rows[i].kind));
    CHECK_INT(rows[i].state, STORE_DONE);
  }
  store_outbox_rows_free(rows, n);
  /* The log names the source object, not a ticket. */
  char want[160];
  snprintf(want, sizeof want,
           "outbox: alert %s: source_comment delivered to TKT-12", a.alert_key);
  CHECK(strstr(log, want) != NULL);
  snprintf(want, sizeof want,
           "outbox: alert %s: update_source delivered to TKT-12", a.alert_key);
  CHECK(strstr(log, want) != NULL);
  CHECK(strstr(log, "(null)") == NULL);
  free(log);
  cJSON_Delete(comments);
  cJSON_Delete(objects);
  cJSON_Delete(works);
  cJSON_Delete(reqs);
  store_close(e.st);
}

/* A conversation is commented on but never updated (works.update is for
 * tickets). */
static void test_source_conversation(void)
{
  struct source_env e;
  if (!source_setup(&e, false, NULL))
    return;
  ingest_from(e.st, &e.pol, "v1", "cust-v", 2, &CONV5);
  struct outbox_options o = options(e.url);
  struct outbox *ob = start(&o);
  if (!ob)
    return;
  CHECK(drained(ob, 1, 5));
  cJSON *reqs = fake_requests();
  CHECK_INT(cJSON_GetArraySize(reqs), 1);
  const cJSON *cb = request_body(reqs, "/timeline-entries.create", 0);
  CHECK_STR(jstr(cb, "object"), SRC_CONV);
  CHECK_STR(jstr(cb, "visibility"), "internal");
  CHECK(strstr(jstr(cb, "body"), "reads as frustrated (polarity -0.5).") !=
        NULL);
  cJSON_Delete(reqs);
  outbox_stop(ob);
  store_close(e.st);
}

/* DEVREV_SOURCE_TICKET on: the alert's ticket too, and the comment on the
 * source points at it. */
static void test_source_with_ticket(void)
{
  struct source_env e;
  if (!source_setup(&e, true, NULL))
    return;
  struct ingest_result a = ingest_from(e.st, &e.pol, "t1", "cust-t", 2, &TKT12);
  struct outbox_options o = options(e.url);
  struct outbox *ob = start(&o);
  if (!ob)
    return;
  CHECK(drained(ob, 3, 5));
  cJSON *reqs = fake_requests();
  CHECK_INT(cJSON_GetArraySize(reqs), 4);
  CHECK_INT(count_path(reqs, "/works.create"), 1);
  CHECK_INT(count_path(reqs, "/timeline-entries.create"), 1);
  CHECK_INT(count_path(reqs, "/works.get"), 1);
  CHECK_INT(count_path(reqs, "/works.update"), 1);
  cJSON *works = fake_works();
  CHECK_INT(cJSON_GetArraySize(works), 1);
  const char *work_id = jstr(cJSON_GetArrayItem(works, 0), "id");
  const cJSON *create = request_body(reqs, "/works.create", 0);
  CHECK_STR(jstr(create, "severity"), "high");
  /* The comment goes to the customer's ticket, not to the alert's. */
  const cJSON *cb = request_body(reqs, "/timeline-entries.create", 0);
  CHECK_STR(jstr(cb, "object"), SRC_OBJ);
  CHECK_STR(jstr(cb, "visibility"), "internal");
  /* The ticket was made first (older entry), so the note names it. */
  CHECK(strstr(jstr(cb, "body"), "\nAlert ticket: TKT-1\n") != NULL);
  const cJSON *ub = request_body(reqs, "/works.update", 0);
  CHECK_STR(jstr(ub, "id"), SRC_OBJ);
  CHECK_STR(jstr(ub, "severity"), "high");
  CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(ub, "sentiment")), 4);
  struct store_alert_row row;
  CHECK_INT(store_alert_get(e.st, a.alert_id, &row), ERR_OK);
  CHECK_STR(row.ticket_id, work_id);
  store_alert_row_cleanup(&row);
  cJSON_Delete(works);
  cJSON_Delete(reqs);
  outbox_stop(ob);
  store_close(e.st);
}

/* A 500 on the comment and a 503 on the update: each retried once. */
static void test_source_retry(void)
{
  struct source_env e;
  if (!source_setup(&e, false,
                    "{\"action\":\"status\",\"status\":500,"
                    "\"path\":\"/timeline-entries.create\"},"
                    "{\"action\":\"status\",\"status\":503,"
                    "\"path\":\"/works.update\"}"))
    return;
  ingest_from(e.st, &e.pol, "r1", "cust-r", 3, &TKT12);
  struct outbox_options o = options(e.url);
  struct outbox *ob = start(&o);
  if (!ob)
    return;
  CHECK(drained(ob, 4, 5));
  cJSON *reqs = fake_requests();
  CHECK_INT(count_path(reqs, "/timeline-entries.create"), 2);
  CHECK_INT(count_path(reqs, "/works.update"), 2);
  CHECK_INT(count_path(reqs, "/works.create"), 0);
  CHECK_INT(count_path(reqs, "/works.list"), 0); /* no lookups */
  const cJSON *retried = request_body(reqs, "/timeline-entries.create", 1);
  CHECK_STR(jstr(retried, "object"), SRC_OBJ);
  cJSON *comments = fake_comments();
  CHECK_INT(cJSON_GetArraySize(comments), 1);
  cJSON *updates = fake_updates();
  CHECK_INT(cJSON_GetArraySize(updates), 1);
  CHECK_STR(jstr(cJSON_GetArrayItem(updates, 0), "id"), SRC_OBJ);
  struct outbox_stats s;
  outbox_stats(ob, &s);
  CHECK_INT(s.attempts, 4);
  CHECK_INT(s.failures, 2);
  CHECK_INT(s.dead, 0);
  cJSON_Delete(updates);
  cJSON_Delete(comments);
  cJSON_Delete(reqs);
  outbox_stop(ob);
  store_close(e.st);
}

/* A 400 on the comment: a dead letter with DevRev's error, never
 * retried; the update (same lane, later) still goes. */
static void test_source_dead_letter(void)
{
  struct source_env e;
  if (!source_setup(&e, false,
                    "{\"action\":\"status\",\"status\":400,\"type\":"
                    "\"invalid_id\",\"message\":\"object is not a valid id\","
                    "\"path\":\"/timeline-entries.create\"}"))
    return;
  struct ingest_result a = ingest_from(e.st, &e.pol, "d1", "cust-d", 3, &TKT12);
  struct capture cap;
  capture_open(&cap);
  struct outbox_options o = options(e.url);
  o.log = &cap.lg;
  struct outbox *ob = start(&o);
  if (!ob)
    return;
  CHECK(drained(ob, 2, 5));
  struct outbox_stats s;
  outbox_stats(ob, &s);
  CHECK_INT(s.dead, 1);
  CHECK_INT(s.failures, 1);
  CHECK(strstr(s.last_error, "HTTP 400 invalid_id") != NULL);
  outbox_stop(ob);
  char *log = capture_close(&cap);
  cJSON *reqs = fake_requests();
  CHECK_INT(count_path(reqs, "/timeline-entries.create"), 1);
  CHECK_INT(count_path(reqs, "/works.update"), 1);
  struct store_outbox_row *rows = NULL;
  size_t n = 0;
  CHECK_INT(store_outbox_list(e.st, a.alert_id, &rows, &n), ERR_OK);
  const struct store_outbox_row *c = row_of(rows, n, STORE_KIND_SOURCE_COMMENT);
  const struct store_outbox_row *u = row_of(rows, n, STORE_KIND_UPDATE_SOURCE);
  CHECK(c && c->state == STORE_DEAD && c->last_error &&
        strstr(c->last_error, "object is not a valid id"));
  CHECK(u && u->state == STORE_DONE);
  store_outbox_rows_free(rows, n);
  CHECK(strstr(log, "source_comment to TKT-12 for alert") != NULL);
  CHECK(strstr(log, "is a dead letter: HTTP 400 invalid_id") != NULL);
  free(log);
  cJSON_Delete(reqs);
  store_close(e.st);
}

/* The alert's create_ticket keeps failing (503): the source lane does not
 * wait for it. */
static void test_source_lane_independent(void)
{
  struct source_env e;
  if (!source_setup(&e, true,
                    "{\"action\":\"status\",\"status\":503,\"count\":100000,"
                    "\"path\":\"/works.create\"}"))
    return;
  struct ingest_result a = ingest_from(e.st, &e.pol, "i1", "cust-i", 3, &TKT12);
  struct outbox_options o = options(e.url);
  struct outbox *ob = start(&o);
  if (!ob)
    return;
  double until = now_s() + 5;
  cJSON *comments = NULL, *updates = NULL;
  while (now_s() < until) {
    cJSON_Delete(comments);
    cJSON_Delete(updates);
    comments = fake_comments();
    updates = fake_updates();
    if (cJSON_GetArraySize(comments) == 1 && cJSON_GetArraySize(updates) == 1)
      break;
    usleep(20000);
  }
  CHECK_INT(cJSON_GetArraySize(comments), 1);
  CHECK_INT(cJSON_GetArraySize(updates), 1);
  CHECK_STR(jstr(cJSON_GetArrayItem(comments, 0), "object"), SRC_OBJ);
  CHECK(strstr(jstr(cJSON_GetArrayItem(comments, 0), "body"),
               "Alert ticket:") == NULL);
  outbox_stop(ob);
  cJSON *reqs = fake_requests();
  CHECK(count_path(reqs, "/works.create") >= 1);
  cJSON *works = fake_works();
  CHECK_INT(cJSON_GetArraySize(works), 0);
  struct store_outbox_row *rows = NULL;
  size_t n = 0;
  CHECK_INT(store_outbox_list(e.st, a.alert_id, &rows, &n), ERR_OK);
  const struct store_outbox_row *c = row_of(rows, n, STORE_KIND_CREATE_TICKET);
  CHECK(c && c->state == STORE_PENDING && c->attempts >= 1);
  CHECK(row_of(rows, n, STORE_KIND_SOURCE_COMMENT)->state == STORE_DONE);
  CHECK(row_of(rows, n, STORE_KIND_UPDATE_SOURCE)->state == STORE_DONE);
  store_outbox_rows_free(rows, n);
  cJSON_Delete(works);
  cJSON_Delete(reqs);
  cJSON_Delete(updates);
  cJSON_Delete(comments);
  store_close(e.st);
}

/* A plain message opens the alert (and its ticket); a DevRev message in
 * the same episode comments on that ticket AND on its own source, raises
 * the ticket's severity and updates its source. */
static void test_source_joins_ticket(void)
{
  struct source_env e;
  if (!source_setup(&e, false, NULL))
    return;
  struct ingest_result a = ingest_from(e.st, &e.pol, "j1", "cust-j", 2, NULL);
  struct ingest_result b = ingest_from(e.st, &e.pol, "j2", "cust-j", 3, &TKT12);
  CHECK_INT(a.outcome, STORE_ALERT_CREATED);
  CHECK_INT(b.outcome, STORE_ALERT_APPENDED);
  CHECK_INT(b.alert_id, a.alert_id);
  struct outbox_options o = options(e.url);
  struct outbox *ob = start(&o);
  if (!ob)
    return;
  CHECK(drained(ob, 5, 5));
  cJSON *reqs = fake_requests();
  CHECK_INT(count_path(reqs, "/works.create"), 1);
  CHECK_INT(count_path(reqs, "/timeline-entries.create"), 2);
  CHECK_INT(count_path(reqs, "/works.update"), 2);
  cJSON *works = fake_works();
  CHECK_INT(cJSON_GetArraySize(works), 1);
  const char *work_id = jstr(cJSON_GetArrayItem(works, 0), "id");
  const cJSON *on_ticket =
      request_to(reqs, "/timeline-entries.create", "object", work_id);
  const cJSON *on_source =
      request_to(reqs, "/timeline-entries.create", "object", SRC_OBJ);
  CHECK(on_ticket && strstr(jstr(on_ticket, "body"),
                            "Another frustrated message from this customer."));
  CHECK_STR(jstr(on_ticket, "visibility"), "internal");
  CHECK(on_source && strstr(jstr(on_source, "body"), "reads as angry"));
  CHECK(on_source && strstr(jstr(on_source, "body"), "Alert ticket: TKT-1\n"));
  CHECK_STR(jstr(on_source, "visibility"), "internal");
  const cJSON *raise = request_to(reqs, "/works.update", "id", work_id);
  CHECK_STR(jstr(raise, "severity"), "blocker");
  CHECK(cJSON_GetObjectItem(raise, "sentiment") == NULL);
  const cJSON *src = request_to(reqs, "/works.update", "id", SRC_OBJ);
  CHECK_STR(jstr(src, "severity"), "blocker");
  CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(src, "sentiment")), 5);
  cJSON_Delete(works);
  cJSON_Delete(reqs);
  outbox_stop(ob);
  store_close(e.st);
}

/* Entries that cannot be sent as they are (payloads edited in the
 * database): no source_object is a dead letter; an update_source with
 * nothing to set is done without a request; a sentiment that is not an
 * integer enum id is a dead letter. */
static void test_source_bad_payloads(void)
{
  struct source_env e;
  if (!source_setup(&e, false, NULL))
    return;
  struct ingest_result a = ingest_from(e.st, &e.pol, "b1", "cust-b", 3, &TKT12);
  struct ingest_result b = ingest_from(e.st, &e.pol, "b2", "cust-c", 3, &TKT12);
  sqlite3 *db = NULL;
  CHECK_INT(sqlite3_open(e.url, &db), SQLITE_OK);
  char sql[1024];
  snprintf(sql, sizeof sql,
           "UPDATE outbox SET payload = json_remove(payload, "
           "'$.source_object') WHERE alert_id = %lld AND kind = "
           "'source_comment';"
           "UPDATE outbox SET payload = json_remove(payload, '$.severity', "
           "'$.sentiment') WHERE alert_id = %lld AND kind = 'update_source';"
           "UPDATE outbox SET payload = json_set(payload, '$.sentiment', "
           "'five') WHERE alert_id = %lld AND kind = 'update_source';",
           (long long)a.alert_id, (long long)a.alert_id, (long long)b.alert_id);
  CHECK_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  struct outbox_options o = options(e.url);
  struct outbox *ob = start(&o);
  if (!ob)
    return;
  CHECK(drained(ob, 1, 5));
  outbox_stop(ob);
  /* Only b's comment was sent. */
  cJSON *reqs = fake_requests();
  CHECK_INT(cJSON_GetArraySize(reqs), 1);
  CHECK_STR(jstr(request_body(reqs, "/timeline-entries.create", 0), "object"),
            SRC_OBJ);
  struct store_outbox_row *rows = NULL;
  size_t n = 0;
  CHECK_INT(store_outbox_list(e.st, a.alert_id, &rows, &n), ERR_OK);
  const struct store_outbox_row *c = row_of(rows, n, STORE_KIND_SOURCE_COMMENT);
  const struct store_outbox_row *u = row_of(rows, n, STORE_KIND_UPDATE_SOURCE);
  CHECK(c && c->state == STORE_DEAD && c->last_error &&
        !strcmp(c->last_error, "payload has no source_object"));
  CHECK(u && u->state == STORE_DONE && u->last_error == NULL);
  store_outbox_rows_free(rows, n);
  CHECK_INT(store_outbox_list(e.st, b.alert_id, &rows, &n), ERR_OK);
  c = row_of(rows, n, STORE_KIND_SOURCE_COMMENT);
  u = row_of(rows, n, STORE_KIND_UPDATE_SOURCE);
  CHECK(c && c->state == STORE_DONE);
  CHECK(u && u->state == STORE_DEAD && u->last_error &&
        !strcmp(u->last_error, "payload has an invalid sentiment"));
  store_outbox_rows_free(rows, n);
  cJSON_Delete(reqs);
  store_close(e.st);
}

/* Record-only mode: the source entries are skipped like the others. */
static void test_source_record_only(void)
{
  char url[512], err[256];
  struct store *st = NULL;
  struct alert_policy pol = source_policy(true);
  fake_control("{\"reset\":true," SEED_OBJECTS "}");
  fresh_db(url, sizeof url);
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  struct ingest_result a = ingest_from(st, &pol, "o1", "cust-o", 3, &TKT12);
  struct outbox_options o = options(url);
  o.devrev.token = "";
  struct outbox *ob = start(&o);
  if (!ob || !st)
    return;
  struct store_counts c;
  double until = now_s() + 3;
  do {
    usleep(20000);
    CHECK_INT(store_counts(st, &c), ERR_OK);
  } while (c.outbox_pending > 0 && now_s() < until);
  outbox_stop(ob);
  CHECK_INT(c.outbox_skipped, 3); /* create_ticket, source_comment, update */
  CHECK_INT(c.outbox_pending, 0);
  struct store_outbox_row *rows = NULL;
  size_t n = 0;
  CHECK_INT(store_outbox_list(st, a.alert_id, &rows, &n), ERR_OK);
  CHECK(row_of(rows, n, STORE_KIND_SOURCE_COMMENT) != NULL);
  CHECK(row_of(rows, n, STORE_KIND_UPDATE_SOURCE) != NULL);
  for (size_t i = 0; i < n; i++)
    CHECK_INT(rows[i].state, STORE_SKIPPED);
  store_outbox_rows_free(rows, n);
  cJSON *reqs = fake_requests();
  CHECK_INT(cJSON_GetArraySize(reqs), 0);
  cJSON_Delete(reqs);
  store_close(st);
}

int main(void)
{
  signal(SIGPIPE, SIG_IGN);
  snprintf(tmpdir, sizeof tmpdir, "/tmp/test_outbox.XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  if (!start_fake()) {
    fprintf(stderr, "cannot start tests/fake_devrev.py\n");
    stop_fake();
    return 1;
  }
  RUN(test_exact_requests);
  RUN(test_outage_then_back);
  RUN(test_rate_limit);
  RUN(test_retry_after_cap);
  RUN(test_auth_refused);
  RUN(test_dead_letter);
  RUN(test_create_then_drop);
  RUN(test_create_then_timeout);
  RUN(test_crash_restart);
  RUN(test_stop_in_flight);
  RUN(test_record_only);
  RUN(test_source_exact_requests);
  RUN(test_source_conversation);
  RUN(test_source_with_ticket);
  RUN(test_source_retry);
  RUN(test_source_dead_letter);
  RUN(test_source_lane_independent);
  RUN(test_source_joins_ticket);
  RUN(test_source_bad_payloads);
  RUN(test_source_record_only);
  stop_fake();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  HARNESS_EXIT();
}
