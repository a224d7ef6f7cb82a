/* Tests of the delivery worker after an unknown outcome, against the fake
 * DevRev (outbox_fixture.h): the connection dropped after the create, a
 * timeout, a crash, a stop in flight. Each time the worker finds the ticket
 * DevRev made and never makes a duplicate. */
#include "alerting/outbox.h"

#include "outbox_fixture.h"

/* ---- Tests ------------------------------------------------------------ */

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

int main(void)
{
  if (!fixture_begin("test_outbox_unknown"))
    return 1;
  RUN(test_create_then_drop);
  RUN(test_create_then_timeout);
  RUN(test_crash_restart);
  RUN(test_stop_in_flight);
  fixture_end();
  HARNESS_EXIT();
}
