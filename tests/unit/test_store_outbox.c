/* Contract tests of the store's outbox: claim order, retries and dead
 * letters, crash recovery, re-drive, and ownership of the store by one
 * serving instance. Fixtures in store_fixture.h. */
#include "store/store.h"

#include <unistd.h>

#include "store_fixture.h"

static void test_outbox_claim_order(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct ingest_result a, b;
  CHECK_INT(ingest1(st, msg("1", "lee", 2), T0, &a), STORE_ALERT_CREATED);
  CHECK_INT(ingest1(st, msg("2", "max", 2), T0, &b), STORE_ALERT_CREATED);
  CHECK_INT(ingest1(st, msg("3", "lee", 3), T0, NULL), STORE_ALERT_APPENDED);
  struct store_entry e1, e2, e3;
  bool found = false;
  /* Nothing is due before its time. */
  CHECK_INT(store_outbox_claim(st, T0 - 1, 60000, &e1, &found), ERR_OK);
  CHECK(!found);
  CHECK_INT(store_outbox_claim(st, T0, 60000, &e1, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(e1.kind, STORE_KIND_CREATE_TICKET);
  CHECK_INT(e1.alert_id, a.alert_id);
  CHECK_STR(e1.alert_key, a.alert_key);
  CHECK_INT(e1.attempts, 1);
  CHECK(!e1.outcome_unknown);
  CHECK_INT(e1.first_attempt_ms, T0);
  CHECK(e1.ticket_id == NULL);
  CHECK_INT(store_outbox_claim(st, T0, 60000, &e2, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(e2.alert_id, b.alert_id);
  /* lee's comment waits for lee's ticket. */
  CHECK_INT(store_outbox_claim(st, T0 + 1, 60000, &e3, &found), ERR_OK);
  CHECK(!found);
  finish(st, e1.id, STORE_DONE, 0, "don:ticket/1", "TKT-1", 201, "ok", NULL,
         T0 + 2);
  CHECK_INT(store_outbox_claim(st, T0 + 3, 60000, &e3, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(e3.kind, STORE_KIND_COMMENT);
  CHECK_STR(e3.ticket_id, "don:ticket/1");
  CHECK_STR(e3.ticket_display_id, "TKT-1");
  /* The severity update waits for the comment before it. */
  struct store_entry e4;
  CHECK_INT(store_outbox_claim(st, T0 + 3, 60000, &e4, &found), ERR_OK);
  CHECK(!found);
  finish(st, e3.id, STORE_DONE, 0, NULL, NULL, 201, "ok", NULL, T0 + 4);
  CHECK_INT(store_outbox_claim(st, T0 + 5, 60000, &e4, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(e4.kind, STORE_KIND_UPDATE_SEVERITY);
  CHECK(!e4.outcome_unknown); /* updates carry no in-flight mark */
  struct store_alert_row row;
  CHECK_INT(store_alert_get(st, a.alert_id, &row), ERR_OK);
  CHECK_STR(row.ticket_id, "don:ticket/1");
  store_alert_row_cleanup(&row);
  store_entry_cleanup(&e1);
  store_entry_cleanup(&e2);
  store_entry_cleanup(&e3);
  store_entry_cleanup(&e4);
  store_entry_cleanup(&e4);
  store_ingest_result_cleanup(&a);
  store_close(st);
}

static void test_outbox_retry_and_dead(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct ingest_result a, b;
  CHECK_INT(ingest1(st, msg("1", "nia", 2), T0, &a), STORE_ALERT_CREATED);
  CHECK_INT(ingest1(st, msg("2", "nia", 2), T0, NULL), STORE_ALERT_APPENDED);
  CHECK_INT(ingest1(st, msg("3", "oto", 2), T0, &b), STORE_ALERT_CREATED);
  struct store_entry e;
  bool found;
  CHECK_INT(store_outbox_claim(st, T0, 60000, &e, &found), ERR_OK);
  CHECK(found);
  int64_t id = e.id;
  store_entry_cleanup(&e);
  /* A lease keeps the entry from a second claim. */
  CHECK_INT(store_outbox_claim(st, T0 + 1, 60000, &e, &found), ERR_OK);
  CHECK(found && e.alert_id == b.alert_id);
  int64_t other = e.id;
  store_entry_cleanup(&e);
  CHECK_INT(store_outbox_claim(st, T0 + 2, 60000, &e, &found), ERR_OK);
  CHECK(!found);
  /* Retry later: a 503, outcome known. */
  finish(st, id, STORE_PENDING, T0 + 5000, NULL, NULL, 503, "retry",
         "503 service_unavailable", T0 + 10);
  CHECK_INT(store_outbox_claim(st, T0 + 4999, 60000, &e, &found), ERR_OK);
  CHECK(!found);
  struct store_outbox_stats s;
  CHECK_INT(store_outbox_stats(st, T0 + 4999, &s), ERR_OK);
  CHECK_INT(s.pending, 3);
  CHECK_INT(s.next_due_ms, T0 + 5000);
  CHECK_INT(s.oldest_pending_ms, T0);
  CHECK_INT(s.attempts, 1);
  CHECK_INT(s.failures, 1);
  CHECK_INT(s.last_success_ms, 0);
  CHECK_STR(s.last_error, "503 service_unavailable");
  CHECK_INT(store_outbox_claim(st, T0 + 5000, 60000, &e, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(e.id, id);
  CHECK_INT(e.attempts, 2);
  CHECK(!e.outcome_unknown);
  CHECK_INT(e.first_attempt_ms, T0);
  store_entry_cleanup(&e);
  /* A timeout: the outcome is unknown from now on. */
  finish(st, id, STORE_PENDING, T0 + 6000, NULL, NULL, 0, "unknown", "timeout",
         T0 + 5100);
  CHECK_INT(store_outbox_claim(st, T0 + 6000, 60000, &e, &found), ERR_OK);
  CHECK(found);
  CHECK(e.outcome_unknown);
  CHECK_INT(e.attempts, 3);
  store_entry_cleanup(&e);
  /* Permanent: dead, and the comment waiting for the ticket dies too. */
  CHECK_INT(store_outbox_record_attempt(
                st, id,
                &(struct store_attempt){.at_ms = T0 + 6001,
                                        .http_status = 200,
                                        .result = "not_found"}),
            ERR_OK);
  finish(st, id, STORE_DEAD, 0, NULL, NULL, 400, "permanent",
         "400 invalid_field: severity", T0 + 6002);
  struct store_outbox_row *rows = NULL;
  size_t n = 0;
  CHECK_INT(store_outbox_list(st, a.alert_id, &rows, &n), ERR_OK);
  CHECK_INT(n, 2);
  if (n == 2) {
    CHECK_INT(rows[0].state, STORE_DEAD);
    CHECK_STR(rows[0].last_error, "400 invalid_field: severity");
    CHECK_INT(rows[0].attempts, 3);
    CHECK(rows[0].outcome_unknown);
    CHECK_INT(rows[1].state, STORE_DEAD);
    CHECK(strstr(rows[1].last_error, "400 invalid_field") != NULL);
  }
  store_outbox_rows_free(rows, n);
  finish(st, other, STORE_DONE, 0, "don:t/2", "TKT-2", 201, "ok", NULL,
         T0 + 7000);
  CHECK_INT(store_outbox_stats(st, T0 + 7000, &s), ERR_OK);
  CHECK_INT(s.pending, 0);
  CHECK_INT(s.dead, 2);
  CHECK_INT(s.next_due_ms, 0);
  CHECK_INT(s.oldest_pending_ms, 0);
  CHECK_INT(s.attempts, 5);
  CHECK_INT(s.failures, 3);
  CHECK_INT(s.last_success_ms, T0 + 7000);
  CHECK_STR(s.last_error, "400 invalid_field: severity");
  struct store_finish none = {.entry_id = 424242, .state = STORE_DONE};
  CHECK_INT(store_outbox_finish(st, &none, T0), ERR_NOT_FOUND);
  store_close(st);
}

/* A lease is renewed for its claim while the entry is pending: not once
 * the entry is finished, nor (PostgreSQL, several instances) with the
 * token of a claim that another claim has replaced. */
static void test_outbox_renew(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  CHECK_INT(ingest1(st, msg("1", "ren", 2), T0, NULL), STORE_ALERT_CREATED);
  struct store_entry e;
  bool found = false;
  CHECK_INT(store_outbox_claim(st, T0, 1000, &e, &found), ERR_OK);
  CHECK(found);
  int64_t id = e.id, first = e.lease;
  store_entry_cleanup(&e);
  CHECK_INT(store_outbox_renew(st, id, first, T0 + 5000), ERR_OK);
  /* Still leased after the first lease's end, free at the new one. */
  CHECK_INT(store_outbox_claim(st, T0 + 4999, 1000, &e, &found), ERR_OK);
  CHECK(!found);
  CHECK_INT(store_outbox_claim(st, T0 + 5000, 1000, &e, &found), ERR_OK);
  CHECK(found && e.id == id);
  int64_t second = e.lease;
  store_entry_cleanup(&e);
  if (test_pg()) {
    CHECK(second != first);
    CHECK_INT(store_outbox_renew(st, id, first, T0 + 9000), ERR_BUSY);
    CHECK(strstr(store_errmsg(st), "another claim owns it") != NULL);
  }
  finish(st, id, STORE_DONE, 0, "don:ticket/1", "TKT-1", 201, "ok", NULL,
         T0 + 5100);
  CHECK_INT(store_outbox_renew(st, id, second, T0 + 9000), ERR_BUSY);
  store_close(st);
}

/* A crash between claim and finish: the reopened store releases the lease
 * and the create_ticket is marked unknown, so the worker looks it up. */
static void test_outbox_crash_recovery(void)
{
  char url[512], err[256];
  fresh_url(url, sizeof url);
  struct store *st = NULL;
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  if (!st)
    return;
  CHECK_INT(ingest1(st, msg("1", "pat", 2), T0, NULL), STORE_ALERT_CREATED);
  CHECK_INT(ingest1(st, msg("2", "pat", 2), T0, NULL), STORE_ALERT_APPENDED);
  struct store_entry e;
  bool found;
  CHECK_INT(store_outbox_claim(st, T0, 600000, &e, &found), ERR_OK);
  CHECK(found && !e.outcome_unknown);
  store_entry_cleanup(&e);
  store_close(st); /* "crash" */
  st = NULL;
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  size_t released = 0;
  CHECK_INT(store_outbox_claim(st, T0 + 1000, 600000, &e, &found), ERR_OK);
  CHECK(!found);
  CHECK_INT(store_outbox_recover(st, &released), ERR_OK);
  CHECK_INT(released, 1);
  CHECK_INT(store_outbox_claim(st, T0 + 1000, 600000, &e, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(e.kind, STORE_KIND_CREATE_TICKET);
  CHECK(e.outcome_unknown);
  CHECK_INT(e.attempts, 2);
  CHECK_INT(e.first_attempt_ms, T0);
  store_entry_cleanup(&e);
  /* Record-only: everything pending is skipped. */
  size_t skipped = 0;
  CHECK_INT(store_outbox_skip_pending(st, "record-only", T0 + 2000, &skipped),
            ERR_OK);
  CHECK_INT(skipped, 2);
  struct store_counts c;
  CHECK_INT(store_counts(st, &c), ERR_OK);
  CHECK_INT(c.outbox_pending, 0);
  CHECK_INT(c.outbox_skipped, 2);
  store_close(st);
}

/* "Crashes" st (closes it without finishing what it claimed) and opens
 * url again, its leftover leases released (*released of them). */
static struct store *crash_reopen(struct store *st, const char *url,
                                  size_t *released)
{
  char err[256];
  store_close(st);
  st = NULL;
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  if (st)
    CHECK_INT(store_outbox_recover(st, released), ERR_OK);
  return st;
}

/* The same for a comment: a crash while it is in flight leaves it marked
 * unknown, so the worker looks for it before commenting again. A severity
 * update (setting a field twice changes nothing) carries no mark. */
static void test_outbox_crash_comment(void)
{
  char url[512], err[256];
  fresh_url(url, sizeof url);
  struct store *st = NULL;
  CHECK_INT(store_open(url, err, sizeof err, &st), ERR_OK);
  if (!st)
    return;
  CHECK_INT(ingest1(st, msg("1", "kim", 2), T0, NULL), STORE_ALERT_CREATED);
  CHECK_INT(ingest1(st, msg("2", "kim", 3), T0, NULL), STORE_ALERT_APPENDED);
  struct store_entry e;
  bool found;
  CHECK_INT(store_outbox_claim(st, T0, 600000, &e, &found), ERR_OK);
  CHECK(found && e.kind == STORE_KIND_CREATE_TICKET);
  finish(st, e.id, STORE_DONE, 0, "don:ticket/1", "TKT-1", 201, "ok", NULL,
         T0 + 1);
  store_entry_cleanup(&e);
  CHECK_INT(store_outbox_claim(st, T0 + 2, 600000, &e, &found), ERR_OK);
  CHECK(found && e.kind == STORE_KIND_COMMENT && !e.outcome_unknown);
  int64_t comment = e.id;
  store_entry_cleanup(&e);
  size_t released = 0;
  st = crash_reopen(st, url, &released);
  if (!st)
    return;
  CHECK_INT(released, 1);
  CHECK_INT(store_outbox_claim(st, T0 + 1000, 600000, &e, &found), ERR_OK);
  CHECK(found && e.id == comment);
  CHECK(e.outcome_unknown);
  CHECK_INT(e.attempts, 2);
  finish(st, e.id, STORE_DONE, 0, NULL, NULL, 201, "ok", NULL, T0 + 1001);
  store_entry_cleanup(&e);
  CHECK_INT(store_outbox_claim(st, T0 + 1002, 600000, &e, &found), ERR_OK);
  CHECK(found && e.kind == STORE_KIND_UPDATE_SEVERITY);
  store_entry_cleanup(&e);
  st = crash_reopen(st, url, &released);
  if (!st)
    return;
  CHECK_INT(store_outbox_claim(st, T0 + 2000, 600000, &e, &found), ERR_OK);
  CHECK(found && e.kind == STORE_KIND_UPDATE_SEVERITY);
  CHECK(!e.outcome_unknown);
  store_entry_cleanup(&e);
  store_close(st);
}

/* An operator re-drives and drops dead letters (the outbox command): a
 * retried create_ticket brings back the comment that died with it, keeps
 * its unknown mark and starts its attempt count anew; ids that are not
 * dead letters change nothing. */
static void test_outbox_redrive(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct ingest_result a, b;
  CHECK_INT(ingest1(st, msg("1", "ria", 2), T0, &a), STORE_ALERT_CREATED);
  CHECK_INT(ingest1(st, msg("2", "ria", 2), T0, NULL), STORE_ALERT_APPENDED);
  CHECK_INT(ingest1(st, msg("3", "sol", 2), T0, &b), STORE_ALERT_CREATED);
  struct store_entry e;
  bool found;
  int64_t ids[2] = {0, 0};
  for (int i = 0; i < 2; i++) {
    CHECK_INT(store_outbox_claim(st, T0, 60000, &e, &found), ERR_OK);
    CHECK(found);
    ids[i] = e.id;
    store_entry_cleanup(&e);
  }
  finish(st, ids[0], STORE_DEAD, 0, NULL, NULL, 400, "permanent",
         "HTTP 400 bad_request", T0 + 10);
  finish(st, ids[1], STORE_DEAD, 0, NULL, NULL, 400, "permanent",
         "HTTP 400 bad_request", T0 + 11);
  struct store_outbox_row *rows = NULL;
  size_t n = 0;
  CHECK_INT(store_outbox_select(st, STORE_DEAD, false, 0, &rows, &n), ERR_OK);
  CHECK_INT(n, 3); /* two create_tickets and the comment */
  store_outbox_rows_free(rows, n);
  CHECK_INT(store_outbox_select(st, STORE_DEAD, false, 1, &rows, &n), ERR_OK);
  CHECK_INT(n, 1);
  store_outbox_rows_free(rows, n);
  CHECK_INT(store_outbox_select(st, STORE_PENDING, true, 0, &rows, &n), ERR_OK);
  CHECK_INT(n, 3);
  store_outbox_rows_free(rows, n);
  size_t changed = 9;
  CHECK_INT(store_outbox_retry(st, 424242, T0 + 20, &changed), ERR_NOT_FOUND);
  CHECK_INT(changed, 0);
  CHECK(strstr(store_errmsg(st), "does not exist") != NULL);
  CHECK_INT(store_outbox_retry(st, ids[0], T0 + 20, &changed), ERR_OK);
  CHECK_INT(changed, 2);
  CHECK_INT(store_outbox_list(st, a.alert_id, &rows, &n), ERR_OK);
  CHECK_INT(n, 2);
  for (size_t i = 0; i < n; i++) {
    CHECK_INT(rows[i].state, STORE_PENDING);
    CHECK_INT(rows[i].attempts, 0);
    CHECK_INT(rows[i].next_attempt_ms, T0 + 20);
  }
  store_outbox_rows_free(rows, n);
  /* Pending now: neither retried nor dropped again. */
  CHECK_INT(store_outbox_drop(st, ids[0], T0 + 21, &changed), ERR_NOT_FOUND);
  CHECK(strstr(store_errmsg(st), "is pending, not a dead letter") != NULL);
  CHECK_INT(store_outbox_claim(st, T0 + 20, 60000, &e, &found), ERR_OK);
  CHECK(found && e.id == ids[0]);
  CHECK_INT(e.attempts, 1);
  store_entry_cleanup(&e);
  /* The other dead letter is dropped: skipped, with the reason. */
  CHECK_INT(store_outbox_drop(st, 0, T0 + 30, &changed), ERR_OK);
  CHECK_INT(changed, 1);
  CHECK_INT(store_outbox_list(st, b.alert_id, &rows, &n), ERR_OK);
  CHECK_INT(n, 1);
  if (n == 1) {
    CHECK_INT(rows[0].state, STORE_SKIPPED);
    CHECK_STR(rows[0].last_error,
              "dropped by an operator (HTTP 400 bad_request)");
  }
  store_outbox_rows_free(rows, n);
  /* Inside a transaction, a miss leaves it usable. */
  CHECK_INT(store_begin(st), ERR_OK);
  CHECK_INT(store_outbox_retry(st, ids[1], T0 + 40, &changed), ERR_NOT_FOUND);
  CHECK_INT(store_commit(st), ERR_OK);
  CHECK_INT(store_outbox_retry(st, -1, T0, &changed), ERR_INVALID);
  store_close(st);
}

/* One serving instance per store: a second handle that wants to own it is
 * refused, naming the owner's pid; closing the owner frees it. */
static void test_ownership(void)
{
  char url[512], err[256];
  if (test_pg()) /* SQLite only */
    return;
  fresh_url(url, sizeof url);
  struct store *a = NULL, *b = NULL, *m = NULL;
  CHECK_INT(store_open(url, err, sizeof err, &a), ERR_OK);
  CHECK_INT(store_open(url, err, sizeof err, &b), ERR_OK);
  if (!a || !b) {
    store_close(a);
    store_close(b);
    return;
  }
  long pid = -1;
  CHECK_INT(store_owner(b, &pid), ERR_OK);
  CHECK_INT(pid, 0);
  CHECK_INT(store_own(a, &pid), ERR_OK);
  CHECK_INT(store_own(a, &pid), ERR_OK); /* again: still the owner */
  CHECK_INT(store_own(b, &pid), ERR_BUSY);
  CHECK_INT(pid, (long)getpid());
  char want[64];
  snprintf(want, sizeof want, "(pid %ld)", (long)getpid());
  CHECK(strstr(store_errmsg(b), want) != NULL);
  CHECK(strstr(store_errmsg(b), "in use") != NULL);
  CHECK_INT(store_owner(b, &pid), ERR_OK);
  CHECK_INT(pid, (long)getpid());
  /* The non-owner writes as before. */
  CHECK_INT(ingest1(b, msg("1", "uma", 2), T0, NULL), STORE_ALERT_CREATED);
  store_close(a);
  CHECK_INT(store_owner(b, &pid), ERR_OK);
  CHECK_INT(pid, 0);
  CHECK_INT(store_own(b, &pid), ERR_OK);
  store_close(b);
  /* An in-memory database has no one to share it with. */
  CHECK_INT(store_open(":memory:", err, sizeof err, &m), ERR_OK);
  if (m) {
    CHECK_INT(store_own(m, &pid), ERR_OK);
    store_close(m);
  }
}

int main(void)
{
  if (fixture_begin("test_store_outbox"))
    return 1;
  RUN(test_outbox_claim_order);
  RUN(test_outbox_retry_and_dead);
  RUN(test_outbox_renew);
  RUN(test_outbox_crash_recovery);
  RUN(test_outbox_crash_comment);
  RUN(test_outbox_redrive);
  RUN(test_ownership);
  fixture_end();
  HARNESS_EXIT();
}
