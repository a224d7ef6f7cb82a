/* Tests of the delivery worker on messages from DevRev, against the fake
 * DevRev (outbox_fixture.h): the internal comment on their source object
 * and the works.update of its severity/sentiment, in their own lane. */
#include "alerting/outbox.h"

#include "outbox_fixture.h"

/* ---- The source objects, and what the fake says of them ---------------- */

/* The state the fake holds: the updates of works, and the objects. */
static cJSON *fake_updates(void)
{
  return fake_get("/_state", "updates");
}
static cJSON *fake_objects(void)
{
  return fake_get("/_state", "objects");
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

/* One run of the delivery worker on e's store, as most tests here make it:
 * started with the test options (and log, if not NULL), left until it has
 * made attempts attempts and nothing is pending (5 s at most), its stats
 * copied to *stats (if not NULL), stopped. False when it did not start. */
static bool run_worker(const struct source_env *e, struct log *log,
                       int64_t attempts, struct outbox_stats *stats)
{
  struct outbox_options o = options(e->url);
  o.log = log;
  struct outbox *ob = start(&o);
  CHECK(ob != NULL); /* a worker that cannot start fails the test */
  if (!ob)
    return false;
  CHECK(drained(ob, attempts, 5));
  if (stats)
    outbox_stats(ob, stats);
  outbox_stop(ob);
  return true;
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
  if (!run_worker(&e, &cap.lg, 2, NULL))
    return;
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
                     "frustration-alert-entry: ";
  CHECK(body && !strncmp(body, head, strlen(head)));
  /* The line naming the outbox entry, then the marker line. */
  long long entry = 0;
  int used = 0;
  CHECK(body && sscanf(body + strlen(head), "%lld\n%n", &entry, &used) == 1 &&
        entry > 0 && used > 0 &&
        !strncmp(body + strlen(head) + used, "frustration-alert-id: ", 22));
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
  if (!run_worker(&e, NULL, 1, NULL))
    return;
  cJSON *reqs = fake_requests();
  CHECK_INT(cJSON_GetArraySize(reqs), 1);
  const cJSON *cb = request_body(reqs, "/timeline-entries.create", 0);
  CHECK_STR(jstr(cb, "object"), SRC_CONV);
  CHECK_STR(jstr(cb, "visibility"), "internal");
  CHECK(strstr(jstr(cb, "body"), "reads as frustrated (polarity -0.5).") !=
        NULL);
  cJSON_Delete(reqs);
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
  if (!run_worker(&e, NULL, 3, NULL))
    return;
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
  store_close(e.st);
}

/* A 500 on the comment and a 503 on the update: each retried once. The
 * comment's 500 leaves its outcome unknown (a gateway may answer so after
 * DevRev acted), so the retry first lists the object's internal entries:
 * none carries the entry's lines, so it is sent again. The 503 says
 * nothing was done: no lookup. */
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
  struct outbox_stats s;
  if (!run_worker(&e, NULL, 4, &s))
    return;
  cJSON *reqs = fake_requests();
  CHECK_INT(count_path(reqs, "/timeline-entries.create"), 2);
  CHECK_INT(count_path(reqs, "/works.update"), 2);
  CHECK_INT(count_path(reqs, "/works.create"), 0);
  CHECK_INT(count_path(reqs, "/works.list"), 0);
  CHECK_INT(count_path(reqs, "/timeline-entries.list"), 1);
  const cJSON *listed = request_body(reqs, "/timeline-entries.list", 0);
  CHECK_STR(jstr(listed, "object"), SRC_OBJ);
  const cJSON *retried = request_body(reqs, "/timeline-entries.create", 1);
  CHECK_STR(jstr(retried, "object"), SRC_OBJ);
  cJSON *comments = fake_comments();
  CHECK_INT(cJSON_GetArraySize(comments), 1);
  cJSON *updates = fake_updates();
  CHECK_INT(cJSON_GetArraySize(updates), 1);
  CHECK_STR(jstr(cJSON_GetArrayItem(updates, 0), "id"), SRC_OBJ);
  CHECK_INT(s.attempts, 5); /* the lookup is recorded as one */
  CHECK_INT(s.failures, 2);
  CHECK_INT(s.dead, 0);
  cJSON_Delete(updates);
  cJSON_Delete(comments);
  cJSON_Delete(reqs);
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
  struct outbox_stats s;
  if (!run_worker(&e, &cap.lg, 2, &s))
    return;
  CHECK_INT(s.dead, 1);
  CHECK_INT(s.failures, 1);
  CHECK(strstr(s.last_error, "HTTP 400 invalid_id") != NULL);
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
  if (!run_worker(&e, NULL, 5, NULL))
    return;
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
  char sql[1024];
  if (test_pg()) {
    snprintf(sql, sizeof sql,
             "UPDATE outbox SET payload = (payload::jsonb - 'source_object')"
             "::text WHERE alert_id = %lld AND kind = 'source_comment';"
             "UPDATE outbox SET payload = (payload::jsonb - 'severity' -"
             " 'sentiment')::text WHERE alert_id = %lld AND kind ="
             " 'update_source';"
             "UPDATE outbox SET payload = jsonb_set(payload::jsonb,"
             " '{sentiment}', '\"five\"')::text WHERE alert_id = %lld AND"
             " kind = 'update_source';",
             (long long)a.alert_id, (long long)a.alert_id,
             (long long)b.alert_id);
    PGconn *pc = PQconnectdb(e.url);
    PGresult *pr = PQexec(pc, sql);
    CHECK_INT(PQresultStatus(pr), PGRES_COMMAND_OK);
    PQclear(pr);
    PQfinish(pc);
  } else {
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open(e.url, &db), SQLITE_OK);
    snprintf(sql, sizeof sql,
             "UPDATE outbox SET payload = json_remove(payload, "
             "'$.source_object') WHERE alert_id = %lld AND kind = "
             "'source_comment';"
             "UPDATE outbox SET payload = json_remove(payload, '$.severity', "
             "'$.sentiment') WHERE alert_id = %lld AND kind = "
             "'update_source';"
             "UPDATE outbox SET payload = json_set(payload, '$.sentiment', "
             "'five') WHERE alert_id = %lld AND kind = 'update_source';",
             (long long)a.alert_id, (long long)a.alert_id,
             (long long)b.alert_id);
    CHECK_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
  }
  if (!run_worker(&e, NULL, 1, NULL))
    return;
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
  if (!fixture_begin("test_outbox_source"))
    return 1;
  RUN(test_source_exact_requests);
  RUN(test_source_conversation);
  RUN(test_source_with_ticket);
  RUN(test_source_retry);
  RUN(test_source_dead_letter);
  RUN(test_source_lane_independent);
  RUN(test_source_joins_ticket);
  RUN(test_source_bad_payloads);
  RUN(test_source_record_only);
  fixture_end();
  HARNESS_EXIT();
}
