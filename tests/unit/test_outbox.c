/* Tests of the delivery worker against the fake DevRev (outbox_fixture.h):
 * the exact requests DevRev receives, retries through an outage, 429 with
 * Retry-After, refused auth, dead letters, comments on the created ticket,
 * and the record-only mode. The unknown outcomes are in
 * test_outbox_unknown.c, messages from DevRev in test_outbox_source.c. */
#include "alerting/outbox.h"

#include "outbox_fixture.h"

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
  if (!fixture_begin("test_outbox"))
    return 1;
  RUN(test_exact_requests);
  RUN(test_outage_then_back);
  RUN(test_rate_limit);
  RUN(test_retry_after_cap);
  RUN(test_auth_refused);
  RUN(test_dead_letter);
  RUN(test_record_only);
  fixture_end();
  HARNESS_EXIT();
}
