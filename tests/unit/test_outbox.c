/* Tests of the delivery worker against the fake DevRev (tests/fake_devrev.py,
 * started once as a child process): the exact requests DevRev receives,
 * retries through an outage, 429 with Retry-After, dead letters, comments
 * on the created ticket, and no duplicate ticket after an unknown outcome
 * (connection dropped after the create, timeout, crash, stop).
 *
 * The fake is found from SRC_DIR, else relative to this file's path. */
#include "alerts/outbox.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
  buf_printf(&req,
             "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             method, path, auth ? "Authorization: Bearer " TOKEN "\r\n" : "",
             body ? strlen(body) : 0, body ? body : "");
  if (write(fd, buf_ptr(&req), req.len) != (ssize_t)req.len) {
    close(fd);
    buf_cleanup(&req);
    return NULL;
  }
  char chunk[4096];
  ssize_t r;
  while ((r = read(fd, chunk, sizeof chunk)) > 0)
    buf_append(&resp, chunk, (size_t)r);
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
  snprintf(url, cap, "%s/o%d.db", tmpdir, ++db_seq);
}

static struct ingest_result ingest(struct store *st, const char *mid,
                                   const char *cust, size_t level)
{
  static const char *const names[] = {"calm", "dissatisfied", "frustrated",
                                      "angry"};
  static const char *const sev[] = {"low", "medium", "high", "blocker"};
  struct ingest_msg m = {.message_id = mid,
                         .customer_id = cust,
                         .conversation_id = "CONV-9",
                         .channel = "chat",
                         .text = "Still broken. This is terrible!",
                         .polarity = level == 3 ? -0.8 : -0.5,
                         .subjectivity = 0.8,
                         .level = level,
                         .level_name = names[level],
                         .severity = sev[level],
                         .frustrated = level >= 2,
                         .words = "'terrible'",
                         .result_json = "{}"};
  struct ingest_result r = {0};
  CHECK_INT(store_ingest(st, &m, 1, &POLICY, (int64_t)time(NULL) * 1000, &r),
            ERR_OK);
  return r;
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
  CHECK(body && strstr(body, "Customer: cust-1\n"));
  CHECK(body && strstr(body, "Conversation: CONV-9\n"));
  CHECK(body && strstr(body, "Level: frustrated (severity high)\n"));
  CHECK(body && strstr(body, "Polarity: -0.5 (subjectivity 0.8)\n"));
  CHECK(body && strstr(body, "Deciding words: 'terrible'\n"));
  CHECK(body && strstr(body, "Message id: m1\n"));
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
  RUN(test_dead_letter);
  RUN(test_create_then_drop);
  RUN(test_create_then_timeout);
  RUN(test_crash_restart);
  RUN(test_stop_in_flight);
  RUN(test_record_only);
  stop_fake();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  HARNESS_EXIT();
}
