/* Contract tests of the alert policy as the store applies it: escalation
 * on conversation context, and alerts from DevRev events (source
 * comments, severities, sentiments, lanes). Fixtures in store_fixture.h. */
#include "store/store.h"

#include <cjson/cJSON.h>

#include "base/buf.h"

#include "store_fixture.h"

/* ---- Conversation context: scripted conversations --------------------- */

#define MIN_MS 60000LL

/* POLICY with escalation on and the service's defaults: a 10-minute
 * window, 3 negative messages, 3 contacts, a drop of 0.5. */
static struct alert_policy ctx_policy(void)
{
  struct alert_policy p = POLICY;
  p.escalation = true;
  p.window_ms = 10 * MIN_MS;
  p.negative_count = 3;
  p.repeat_count = 3;
  p.drop = 0.5;
  p.n_levels = 4;
  for (size_t i = 0; i < 4; i++) {
    snprintf(p.level_names[i], sizeof p.level_names[i], "%s", level_names[i]);
    snprintf(p.severities[i], sizeof p.severities[i], "%s", severities[i]);
  }
  return p;
}

/* A mild message: level 1 (dissatisfied), not frustrated on its own. */
static struct ingest_msg mild(const char *mid, const char *cust)
{
  struct ingest_msg m = msg(mid, cust, 1);
  m.polarity = -0.2;
  m.text = "Still waiting for an answer.";
  return m;
}

/* Ingests m under pol into *r (the caller cleans it). */
static enum store_alert ingest_ctx(struct store *st, const struct ingest_msg *m,
                                   const struct alert_policy *pol, int64_t now,
                                   struct ingest_result *r)
{
  enum err rc = fixture_ingest(st, m, 1, pol, now, r);
  CHECK_INT(rc, ERR_OK);
  return rc ? STORE_ALERT_NONE : r->outcome;
}

static void test_escalate_negative_count(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct alert_policy pol = ctx_policy();
  struct ingest_result r;
  struct ingest_msg m = mild("n1", "nina");
  CHECK_INT(ingest_ctx(st, &m, &pol, T0, &r), STORE_ALERT_NONE);
  CHECK_STR(r.escalation, "");
  CHECK_INT(r.level, 1);
  store_ingest_result_cleanup(&r);
  m = mild("n2", "nina");
  CHECK_INT(ingest_ctx(st, &m, &pol, T0 + 2 * MIN_MS, &r), STORE_ALERT_NONE);
  CHECK_STR(r.escalation, "");
  store_ingest_result_cleanup(&r);
  /* The third within ten minutes: raised to ALERT_MIN_LEVEL, alerting. */
  m = mild("n3", "nina");
  CHECK_INT(ingest_ctx(st, &m, &pol, T0 + 4 * MIN_MS, &r),
            STORE_ALERT_CREATED);
  CHECK_INT(r.level, 2);
  CHECK_STR(r.level_name, "frustrated");
  CHECK(strstr(r.escalation, "3 negative messages within 600 s") != NULL);
  struct store_alert_row a;
  CHECK_INT(store_alert_get(st, r.alert_id, &a), ERR_OK);
  CHECK_INT(a.level, 2);
  CHECK_STR(a.severity, "high");
  store_alert_row_cleanup(&a);
  store_ingest_result_cleanup(&r);
  /* The row keeps the detector's level; the stored answer tells why. */
  struct store_message sm;
  bool found = false;
  CHECK_INT(store_message_get(st, "n3", &sm, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(sm.level, 1);
  CHECK(sm.result_json && strstr(sm.result_json, "\"escalated\":{\"level\":"
                                                 "\"frustrated\",\"reason\":"));
  store_message_cleanup(&sm);
  /* A duplicate replays it and escalates nothing again. */
  CHECK_INT(ingest_ctx(st, &m, &pol, T0 + 5 * MIN_MS, &r),
            STORE_ALERT_DUPLICATE);
  CHECK_INT(r.original, STORE_ALERT_CREATED);
  CHECK(r.result_json && strstr(r.result_json, "\"escalated\"") != NULL);
  store_ingest_result_cleanup(&r);
  /* A fourth joins the open alert. */
  m = mild("n4", "nina");
  CHECK_INT(ingest_ctx(st, &m, &pol, T0 + 6 * MIN_MS, &r),
            STORE_ALERT_APPENDED);
  store_ingest_result_cleanup(&r);
  /* In one batch (one transaction) the window sees the earlier messages. */
  struct ingest_msg batch[3] = {mild("b1", "bob"), mild("b2", "bob"),
                                mild("b3", "bob")};
  struct ingest_result rs[3];
  CHECK_INT(fixture_ingest(st, batch, 3, &pol, T0, rs), ERR_OK);
  CHECK_INT(rs[0].outcome, STORE_ALERT_NONE);
  CHECK_INT(rs[1].outcome, STORE_ALERT_NONE);
  CHECK_INT(rs[2].outcome, STORE_ALERT_CREATED);
  CHECK_INT(rs[2].level, 2);
  for (size_t i = 0; i < 3; i++)
    store_ingest_result_cleanup(&rs[i]);
  store_close(st);
}

static void test_escalate_outside_window(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct alert_policy pol = ctx_policy();
  struct ingest_result r;
  /* The same three mild messages, eleven minutes apart: never three
   * within the window. */
  const char *ids[] = {"s1", "s2", "s3", "s4"};
  for (int i = 0; i < 4; i++) {
    struct ingest_msg m = mild(ids[i], "sol");
    CHECK_INT(ingest_ctx(st, &m, &pol, T0 + i * 11 * MIN_MS, &r),
              STORE_ALERT_NONE);
    CHECK_STR(r.escalation, "");
    CHECK_INT(r.level, 1);
    store_ingest_result_cleanup(&r);
  }
  /* Calm messages do not count, nor does a calm one escalate. */
  struct ingest_msg c1 = mild("c1", "cal"), c2 = msg("c2", "cal", 0),
                    c3 = mild("c3", "cal"), c4 = msg("c4", "cal", 0);
  c2.polarity = c4.polarity = -0.05;
  CHECK_INT(ingest_ctx(st, &c1, &pol, T0, &r), STORE_ALERT_NONE);
  store_ingest_result_cleanup(&r);
  CHECK_INT(ingest_ctx(st, &c2, &pol, T0 + 1, &r), STORE_ALERT_NONE);
  store_ingest_result_cleanup(&r);
  CHECK_INT(ingest_ctx(st, &c3, &pol, T0 + 2, &r), STORE_ALERT_NONE);
  store_ingest_result_cleanup(&r);
  CHECK_INT(ingest_ctx(st, &c4, &pol, T0 + 3, &r), STORE_ALERT_NONE);
  CHECK_STR(r.escalation, "");
  store_ingest_result_cleanup(&r);
  store_close(st);
}

static void test_escalate_trend(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct alert_policy pol = ctx_policy();
  struct ingest_result r;
  /* Happy, happy, then a sharp drop to a mild complaint: one level up. */
  struct ingest_msg h1 = msg("t1", "tia", 0), h2 = msg("t2", "tia", 0);
  h1.polarity = 0.6;
  h2.polarity = 0.5;
  CHECK_INT(ingest_ctx(st, &h1, &pol, T0, &r), STORE_ALERT_NONE);
  store_ingest_result_cleanup(&r);
  CHECK_INT(ingest_ctx(st, &h2, &pol, T0 + MIN_MS, &r), STORE_ALERT_NONE);
  store_ingest_result_cleanup(&r);
  struct ingest_msg d = mild("t3", "tia");
  CHECK_INT(ingest_ctx(st, &d, &pol, T0 + 2 * MIN_MS, &r),
            STORE_ALERT_CREATED);
  CHECK_INT(r.level, 2);
  CHECK(strstr(r.escalation, "polarity dropped 0.75") != NULL);
  store_ingest_result_cleanup(&r);
  /* Calm, then frustrated: two steps above the mean, raised to angry. */
  struct ingest_msg k1 = msg("k1", "kai", 0), k2 = msg("k2", "kai", 2);
  k2.polarity = k1.polarity; /* the level alone rose */
  CHECK_INT(ingest_ctx(st, &k1, &pol, T0, &r), STORE_ALERT_NONE);
  store_ingest_result_cleanup(&r);
  CHECK_INT(ingest_ctx(st, &k2, &pol, T0 + MIN_MS, &r), STORE_ALERT_CREATED);
  CHECK_INT(r.level, 3);
  CHECK_STR(r.level_name, "angry");
  CHECK(strstr(r.escalation, "level rose 2.0") != NULL);
  struct store_alert_row a;
  CHECK_INT(store_alert_get(st, r.alert_id, &a), ERR_OK);
  CHECK_STR(a.severity, "blocker");
  CHECK_STR(a.level_name, "angry");
  store_alert_row_cleanup(&a);
  store_ingest_result_cleanup(&r);
  /* At the top already: nothing to raise. */
  struct ingest_msg l1 = msg("l1", "lou", 0), l2 = msg("l2", "lou", 3);
  CHECK_INT(ingest_ctx(st, &l1, &pol, T0, &r), STORE_ALERT_NONE);
  store_ingest_result_cleanup(&r);
  CHECK_INT(ingest_ctx(st, &l2, &pol, T0 + 1, &r), STORE_ALERT_CREATED);
  CHECK_INT(r.level, 3);
  CHECK_STR(r.escalation, "");
  store_ingest_result_cleanup(&r);
  store_close(st);
}

static void test_escalate_repeat_contact(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct alert_policy pol = ctx_policy();
  struct ingest_result r;
  /* Three slightly negative (calm) messages about one conversation. */
  const char *ids[] = {"r1", "r2", "r3"};
  for (int i = 0; i < 3; i++) {
    struct ingest_msg m = msg(ids[i], "ray", 0);
    m.polarity = -0.05;
    m.conversation_id = "conv-9";
    CHECK_INT(ingest_ctx(st, &m, &pol, T0 + i * MIN_MS, &r),
              i < 2 ? STORE_ALERT_NONE : STORE_ALERT_CREATED);
    if (i == 2) {
      CHECK_INT(r.level, 2);
      CHECK(strstr(r.escalation, "3 messages about the same conversation") !=
            NULL);
    }
    store_ingest_result_cleanup(&r);
  }
  /* Spread over two conversations: no repeat. */
  const char *convs[] = {"a", "b", "a"};
  const char *ids2[] = {"q1", "q2", "q3"};
  for (int i = 0; i < 3; i++) {
    struct ingest_msg m = msg(ids2[i], "quin", 0);
    m.polarity = -0.05;
    m.conversation_id = convs[i];
    CHECK_INT(ingest_ctx(st, &m, &pol, T0 + i * MIN_MS, &r), STORE_ALERT_NONE);
    CHECK_STR(r.escalation, "");
    store_ingest_result_cleanup(&r);
  }
  /* While an alert is open, even neutral follow-ups on the conversation
   * count. */
  struct ingest_msg f = msg("o1", "oli", 2);
  f.conversation_id = "conv-7";
  CHECK_INT(ingest_ctx(st, &f, &pol, T0, &r), STORE_ALERT_CREATED);
  store_ingest_result_cleanup(&r);
  const char *ids3[] = {"o2", "o3"};
  for (int i = 0; i < 2; i++) {
    struct ingest_msg m = msg(ids3[i], "oli", 0);
    m.polarity = 0.0;
    m.conversation_id = "conv-7";
    CHECK_INT(ingest_ctx(st, &m, &pol, T0 + (i + 1) * MIN_MS, &r),
              i == 0 ? STORE_ALERT_NONE : STORE_ALERT_APPENDED);
    if (i == 1)
      CHECK(strstr(r.escalation, "with an alert open") != NULL);
    store_ingest_result_cleanup(&r);
  }
  store_close(st);
}

static void test_escalation_off(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct alert_policy pol = ctx_policy();
  pol.escalation = false;
  struct ingest_result r;
  const char *ids[] = {"f1", "f2", "f3", "f4"};
  for (int i = 0; i < 4; i++) {
    struct ingest_msg m = mild(ids[i], "fay");
    m.conversation_id = "conv-1";
    CHECK_INT(ingest_ctx(st, &m, &pol, T0 + i * MIN_MS, &r), STORE_ALERT_NONE);
    CHECK_INT(r.level, 1);
    CHECK_STR(r.escalation, "");
    store_ingest_result_cleanup(&r);
  }
  /* The window still records them: turning it on later has the context. */
  struct store_score sc[8];
  size_t n = 0;
  CHECK_INT(store_customer_recent(st, "fay", sc, 8, &n), ERR_OK);
  CHECK_INT(n, 4);
  store_close(st);
}

/* ---- Messages from DevRev events ---------------------------------------- */

/* Claims every due entry (finishing each as done, with a ticket for a
 * create) and writes their kinds, in claim order, as "k1,k2,..." into
 * out; payloads are appended to payloads when not NULL. */
static void drain(struct store *st, int64_t now, char *out, size_t cap,
                  struct buf *payloads)
{
  out[0] = '\0';
  for (int i = 0; i < 20; i++) {
    struct store_entry e;
    bool found = false;
    CHECK_INT(store_outbox_claim(st, now, 60000, &e, &found), ERR_OK);
    if (!found)
      break;
    size_t len = strlen(out);
    snprintf(out + len, cap - len, "%s%s", len ? "," : "",
             store_kind_name(e.kind));
    if (payloads) {
      CHECK_INT(buf_puts(payloads, e.payload), ERR_OK);
      CHECK_INT(buf_putc(payloads, '\n'), ERR_OK);
    }
    bool create = e.kind == STORE_KIND_CREATE_TICKET;
    finish(st, e.id, STORE_DONE, 0, create ? "don:ticket/99" : NULL,
           create ? "TKT-99" : NULL, 201, "ok", NULL, now);
    store_entry_cleanup(&e);
  }
}

static void test_source_alerts(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct alert_policy pol = source_policy();
  struct ingest_msg m = source_msg("ev1", "revu/1", 2, "ticket");
  struct ingest_result r;
  CHECK_INT(fixture_ingest(st, &m, 1, &pol, T0, &r), ERR_OK);
  CHECK_INT(r.outcome, STORE_ALERT_CREATED);
  struct store_alert_row a;
  CHECK_INT(store_alert_get(st, r.alert_id, &a), ERR_OK);
  CHECK(!a.ticket_wanted); /* DEVREV_SOURCE_TICKET is off */
  store_alert_row_cleanup(&a);
  /* The message keeps where it came from. */
  struct store_message sm;
  bool found = false;
  CHECK_INT(store_message_get(st, "ev1", &sm, &found), ERR_OK);
  CHECK(found);
  CHECK_STR(sm.source_object, "don:core:dvrv-us-1:devo/0:ticket/12");
  CHECK_STR(sm.source_display_id, "TKT-12");
  CHECK_STR(sm.source_type, "ticket");
  CHECK_STR(sm.rev_org, "don:identity:dvrv-us-1:devo/0:revo/7");
  store_message_cleanup(&sm);
  /* No ticket: a comment on the source and its ticket fields, due at
   * once. */
  char kinds[256];
  struct buf pay;
  buf_init(&pay, 0);
  drain(st, T0, kinds, sizeof kinds, &pay);
  CHECK_STR(kinds, "source_comment,update_source");
  cJSON *first = cJSON_Parse(buf_ptr(&pay));
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(first, "source_object")),
            "don:core:dvrv-us-1:devo/0:ticket/12");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(first, "excerpt")),
            "This is terrible, nothing works.");
  cJSON_Delete(first);
  const char *second = strchr(buf_ptr(&pay), '\n') + 1;
  cJSON *upd = cJSON_Parse(second);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(upd, "severity")),
            "high");
  CHECK_INT((int)cJSON_GetNumberValue(cJSON_GetObjectItem(upd, "sentiment")),
            5);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(upd, "source_display_id")),
            "TKT-12");
  cJSON_Delete(upd);
  buf_reset(&pay);

  /* A message without a source joins the episode: the alert now gets
   * its ticket, at the episode's level. */
  struct ingest_msg plain = msg("p1", "revu/1", 2);
  store_ingest_result_cleanup(&r);
  CHECK_INT(fixture_ingest(st, &plain, 1, &pol, T0 + 1000, &r), ERR_OK);
  CHECK_INT(r.outcome, STORE_ALERT_APPENDED);
  CHECK_INT(store_alert_get(st, r.alert_id, &a), ERR_OK);
  CHECK(a.ticket_wanted);
  store_alert_row_cleanup(&a);
  drain(st, T0 + 1000, kinds, sizeof kinds, NULL);
  CHECK_STR(kinds, "create_ticket");

  /* An angrier DevRev message from a conversation: the ticket hears of
   * it (comment, severity), the conversation gets its comment, and no
   * works.update goes to a conversation. */
  struct ingest_msg conv = source_msg("ev2", "revu/1", 3, "conversation");
  conv.source_object = "don:core:dvrv-us-1:devo/0:conversation/5";
  store_ingest_result_cleanup(&r);
  CHECK_INT(fixture_ingest(st, &conv, 1, &pol, T0 + 2000, &r), ERR_OK);
  CHECK_INT(r.outcome, STORE_ALERT_APPENDED);
  drain(st, T0 + 2000, kinds, sizeof kinds, NULL);
  CHECK_STR(kinds, "comment,update_severity,source_comment");

  /* Comments on the source only when configured; severity only, no
   * sentiment. */
  pol.source_comment = false;
  pol.source_sentiment = false;
  struct ingest_msg t2 = source_msg("ev3", "revu/1", 2, "ticket");
  store_ingest_result_cleanup(&r);
  CHECK_INT(fixture_ingest(st, &t2, 1, &pol, T0 + 3000, &r), ERR_OK);
  drain(st, T0 + 3000, kinds, sizeof kinds, &pay);
  CHECK_STR(kinds, "comment,update_source");
  const char *u = strchr(buf_ptr(&pay), '\n') + 1;
  CHECK(strstr(u, "\"severity\":\"blocker\"") != NULL); /* the alert's */
  CHECK(strstr(u, "sentiment") == NULL);
  buf_cleanup(&pay);
  store_ingest_result_cleanup(&r);
  store_close(st);
}

static void test_source_ticket_and_lanes(void)
{
  struct store *st = open_fresh();
  if (!st)
    return;
  struct alert_policy pol = source_policy();
  pol.source_ticket = true;
  pol.source_severity = pol.source_sentiment = false;
  struct ingest_msg m = source_msg("ev1", "revu/2", 2, "conversation");
  struct ingest_result r;
  CHECK_INT(fixture_ingest(st, &m, 1, &pol, T0, &r), ERR_OK);
  CHECK_INT(r.outcome, STORE_ALERT_CREATED);
  /* The source comment does not wait for the ticket, nor die with it. */
  struct store_entry e1, e2, e3;
  bool found = false;
  CHECK_INT(store_outbox_claim(st, T0, 60000, &e1, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(e1.kind, STORE_KIND_CREATE_TICKET);
  CHECK_INT(store_outbox_claim(st, T0, 60000, &e2, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(e2.kind, STORE_KIND_SOURCE_COMMENT);
  CHECK(store_kind_is_source(e2.kind));
  CHECK(!store_kind_is_source(e1.kind));
  CHECK(e2.ticket_id == NULL);
  /* A second message: its ticket comment waits, its source comment
   * waits only for the first source comment. */
  struct ingest_msg m2 = source_msg("ev2", "revu/2", 2, "conversation");
  store_ingest_result_cleanup(&r);
  CHECK_INT(fixture_ingest(st, &m2, 1, &pol, T0, &r), ERR_OK);
  CHECK_INT(store_outbox_claim(st, T0, 60000, &e3, &found), ERR_OK);
  CHECK(!found);
  finish(st, e2.id, STORE_DONE, 0, NULL, NULL, 201, "ok", NULL, T0);
  CHECK_INT(store_outbox_claim(st, T0, 60000, &e3, &found), ERR_OK);
  CHECK(found);
  CHECK_INT(e3.kind, STORE_KIND_SOURCE_COMMENT);
  /* The ticket cannot be made: its comment dies, the source lane does
   * not. */
  finish(st, e1.id, STORE_DEAD, 0, NULL, NULL, 400, "permanent", "bad part",
         T0);
  struct store_counts c;
  CHECK_INT(store_counts(st, &c), ERR_OK);
  CHECK_INT(c.outbox_dead, 2);
  CHECK_INT(c.outbox_pending, 1); /* e3, leased */
  store_entry_cleanup(&e1);
  store_entry_cleanup(&e2);
  store_entry_cleanup(&e3);
  store_ingest_result_cleanup(&r);
  store_close(st);
}

int main(void)
{
  if (fixture_begin("test_store_policy"))
    return 1;
  RUN_BOTH(test_escalate_negative_count);
  RUN_BOTH(test_escalate_outside_window);
  RUN_BOTH(test_escalate_trend);
  RUN_BOTH(test_escalate_repeat_contact);
  RUN_BOTH(test_escalation_off);
  RUN_BOTH(test_source_alerts);
  RUN_BOTH(test_source_ticket_and_lanes);
  fixture_end();
  HARNESS_EXIT();
}
