/* Unit tests of devrev/event: DevRev webhook envelopes in, events out.
 *
 * Each fixture in tests/fixtures/devrev/ is read here field by field, with
 * the variations of its event kind. Detection and refusals are in
 * test_devrev_event_errors.c; optional and inferred fields, text and time
 * in test_devrev_event_fields.c. The shared helpers are in
 * devrev_event_helpers.h. */
#include "devrev_event_helpers.h"

static void fixture_verify(void)
{
  cJSON *root = fixture("verify.json");
  CHECK(devrev_event_detect(root));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_VERIFY);
  CHECK_STR(ev.challenge, "RGxyVmFLN3pQcTJ4TjhtV2JzQ3Y0ZEhnWWtMMGZBdVM=");
  CHECK_STR(ev.type, "verify");
  CHECK_STR(ev.id, EVT "v1Kq7");
  CHECK_STR(ev.webhook_id, HOOK);
  CHECK_STR(ev.timestamp, "2025-07-02T13:07:40.937074Z");
  CHECK(ev.has_time);
  CHECK_INT(ev.time_ms, 1751461660937LL);
  CHECK(ev.text == NULL && ev.author_id == NULL);
  CHECK_STR(ev.ignored, "");
  CHECK_STR(err, "");
  cJSON_Delete(root);
}

static void fixture_verify_toplevel(void)
{
  cJSON *root = fixture("verify_toplevel.json");
  CHECK(devrev_event_detect(root));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_VERIFY);
  CHECK_STR(ev.challenge, "TjNwWmtRN3ZMMnhSYjhzV2Y1Y0RoSmc5dUE0bUt0WWU=");
  CHECK_STR(ev.id, EVT "v2Zr1");
  CHECK_STR(ev.webhook_id, HOOK);
  CHECK(ev.has_time);
  CHECK_INT(ev.time_ms, 1751461661200LL);
  cJSON_Delete(root);
}

static void fixture_customer(void)
{
  cJSON *root = fixture("timeline_comment_customer.json");
  CHECK(devrev_event_detect(root));
  CHECK_INT(read_ev(root, BOT), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_MESSAGE);
  CHECK_STR(ev.id, EVT "Q1");
  CHECK_STR(ev.webhook_id, HOOK);
  CHECK_STR(ev.type, "timeline_entry_created");
  CHECK_STR(ev.timestamp, "2025-07-02T13:07:40.937074Z");
  CHECK(ev.has_time);
  CHECK_INT(ev.time_ms, 1751461660937LL);
  CHECK(ev.challenge == NULL);
  CHECK_STR(ev.text, "This is the third time I'm asking. Nothing works and "
                     "nobody answers! Your support is awful.");
  CHECK_INT(ev.text_len, strlen(ev.text));
  CHECK_STR(ev.object_id, "don:core:dvrv-us-1:devo/0:conversation/3502");
  CHECK_STR(ev.object_display_id, "CONV-3502");
  CHECK_STR(ev.object_type, "conversation");
  CHECK_STR(ev.entry_id,
            "don:core:dvrv-us-1:devo/0:conversation/3502:comment/k9");
  CHECK_STR(ev.author_id, JANE);
  CHECK_STR(ev.author_display_id, "REVU-1");
  CHECK_STR(ev.rev_org_id, ACME);
  CHECK_STR(ev.rev_org_display_id, "REV-3kUz7");
  CHECK_STR(ev.created_date, "2025-07-02T13:07:40.7Z");
  CHECK(ev.has_created);
  CHECK_INT(ev.created_ms, 1751461660700LL);
  CHECK_STR(ev.ignored, "");
  /* Borrowed from the tree, not copied. */
  CHECK(ev.text == at(root, "timeline_entry_created.entry.body")->valuestring);
  cJSON_Delete(root);
}

static void fixture_calm(void)
{
  cJSON *root = fixture("timeline_comment_calm.json");
  CHECK(devrev_event_detect(root));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_MESSAGE);
  CHECK_STR(ev.id, EVT "Q2");
  CHECK_STR(ev.timestamp, "2025-07-02T15:21:03+02:00");
  CHECK(ev.has_time);
  CHECK_INT(ev.time_ms, 1751462463000LL);
  CHECK_STR(ev.text, "Thanks for the quick fix, the export works again. "
                     "Have a great day!");
  CHECK_STR(ev.object_id, "don:core:dvrv-us-1:devo/0:ticket/12");
  CHECK_STR(ev.object_display_id, "TKT-12");
  CHECK_STR(ev.object_type, "ticket");
  CHECK_STR(ev.entry_id, "don:core:dvrv-us-1:devo/0:ticket/12:comment/m3");
  CHECK_STR(ev.author_id, OMAR);
  CHECK_STR(ev.author_display_id, "REVU-14");
  CHECK_STR(ev.rev_org_id, GLOBEX);
  CHECK_STR(ev.rev_org_display_id, "REV-8QmP2");
  CHECK_STR(ev.created_date, "2025-07-02T13:21:02.512Z");
  cJSON_Delete(root);
}

static void fixture_dev_user(void)
{
  cJSON *root = fixture("timeline_comment_dev_user.json");
  CHECK(devrev_event_detect(root));
  CHECK_INT(read_ev(root, BOT), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_IGNORED);
  CHECK_STR(ev.ignored, "author is not a customer (dev_user)");
  /* The envelope is still read, for the log and dedupe. */
  CHECK_STR(ev.id, EVT "Q3");
  CHECK_STR(ev.webhook_id, HOOK);
  CHECK_STR(ev.type, "timeline_entry_created");
  CHECK(ev.has_time);
  CHECK(ev.text == NULL && ev.text_len == 0 && ev.author_id == NULL);
  CHECK(ev.object_id == NULL && ev.entry_id == NULL);
  CHECK(ev.created_date == NULL && !ev.has_created);
  cJSON_Delete(root);
}

static void fixture_internal(void)
{
  cJSON *root = fixture("timeline_comment_internal.json");
  CHECK(devrev_event_detect(root));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_IGNORED);
  CHECK_STR(ev.ignored, "internal entry (visibility internal)");
  CHECK_STR(ev.id, EVT "Q4");
  CHECK(ev.text == NULL);
  /* private is just as hidden; external, public and absent are not. */
  set(root, "timeline_entry_created.entry.visibility", str("private"));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.ignored, "internal entry (visibility private)");
  set(root, "timeline_entry_created.entry.visibility", str("public"));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_MESSAGE);
  del(root, "timeline_entry_created.entry.visibility");
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_MESSAGE);
  /* Of the wrong JSON type: treated as absent. */
  set(root, "timeline_entry_created.entry.visibility", cJSON_CreateNumber(1));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_MESSAGE);
  cJSON_Delete(root);
}

static void fixture_self(void)
{
  cJSON *root = fixture("timeline_comment_self.json");
  CHECK(devrev_event_detect(root));
  /* Without DEVREV_SELF_ID our comment is still nobody's customer. */
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.ignored, "author is not a customer (dev_user)");
  CHECK_INT(read_ev(root, ""), ERR_OK);
  CHECK_STR(ev.ignored, "author is not a customer (dev_user)");
  CHECK_INT(read_ev(root, BOT), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_IGNORED);
  CHECK_STR(ev.ignored, "our own comment");
  CHECK_STR(ev.id, EVT "Q5");
  /* The display id names us as well as the DON does. */
  CHECK_INT(read_ev(root, "DEVU-9"), ERR_OK);
  CHECK_STR(ev.ignored, "our own comment");
  cJSON_Delete(root);
}

/* The loop guard holds even for an author that looks like a customer
 * (a service posting through a rev_user's token). */
static void self_rev_user(void)
{
  cJSON *root = fixture("timeline_comment_customer.json");
  CHECK_INT(read_ev(root, JANE), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_IGNORED);
  CHECK_STR(ev.ignored, "our own comment");
  CHECK_INT(read_ev(root, "REVU-1"), ERR_OK);
  CHECK_STR(ev.ignored, "our own comment");
  CHECK_INT(read_ev(root, "REVU-10"), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_MESSAGE);
  cJSON_Delete(root);
}

static void fixture_conversation(void)
{
  cJSON *root = fixture("conversation_created.json");
  CHECK(devrev_event_detect(root));
  CHECK_INT(read_ev(root, BOT), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_MESSAGE);
  CHECK_STR(ev.id, EVT "C1");
  CHECK_STR(ev.type, "conversation_created");
  CHECK_INT(ev.time_ms, 1751530502331LL);
  /* messages[] is newest first here: the choice is by created_date. */
  CHECK_STR(ev.text, "Still broken after clearing the cache. I have tried "
                     "everything and I'm losing patience.");
  CHECK_STR(ev.entry_id,
            "don:core:dvrv-us-1:devo/0:conversation/3511:comment/a3");
  CHECK_STR(ev.created_date, "2025-07-03T08:15:01.904Z");
  CHECK(ev.has_created);
  CHECK_INT(ev.created_ms, 1751530501904LL);
  CHECK_STR(ev.object_id, "don:core:dvrv-us-1:devo/0:conversation/3511");
  CHECK_STR(ev.object_display_id, "CONV-3511");
  CHECK_STR(ev.object_type, "conversation");
  CHECK_STR(ev.author_id, JANE);
  CHECK_STR(ev.author_display_id, "REVU-1");
  CHECK_STR(ev.rev_org_id, ACME);
  CHECK_STR(ev.rev_org_display_id, "REV-3kUz7");
  cJSON_Delete(root);
}

static void conversation_newest(void)
{
  /* Reversed to oldest first: the same message wins. */
  cJSON *root = fixture("conversation_created.json");
  cJSON *msgs = at(root, "conversation_created.conversation.messages");
  cJSON *newest = cJSON_DetachItemFromArray(msgs, 0);
  cJSON_AddItemToArray(msgs, newest);
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.entry_id,
            "don:core:dvrv-us-1:devo/0:conversation/3511:comment/a3");

  cJSON_Delete(root);

  /* Without dates the later array position wins; a dated one beats all
   * undated ones. The file's order is a3 (newest), a2 (bot), a1. */
  root = fixture("conversation_created.json");
  del(root, "conversation_created.conversation.messages.0.created_date");
  del(root, "conversation_created.conversation.messages.1.created_date");
  del(root, "conversation_created.conversation.messages.2.created_date");
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.text, "I can't log in since this morning.");
  CHECK(ev.created_date == NULL && !ev.has_created);
  set(root, "conversation_created.conversation.messages.0.created_date",
      str("2025-07-03T08:15:01Z"));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.entry_id,
            "don:core:dvrv-us-1:devo/0:conversation/3511:comment/a3");
  CHECK_INT(ev.created_ms, 1751530501000LL);

  /* A customer message that is internal, not a comment, blank or not by a
   * rev_user is never the text. */
  set(root, "conversation_created.conversation.messages.0.visibility",
      str("internal"));
  set(root, "conversation_created.conversation.messages.2.type",
      str("timeline_change_event"));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.text, "Started from the PLuG widget on app.acme.example");
  set(root, "conversation_created.conversation.messages.2.type",
      str("timeline_comment"));
  set(root, "conversation_created.conversation.messages.2.body", str(" \n"));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.text, "Started from the PLuG widget on app.acme.example");
  CHECK_STR(ev.entry_id, "don:core:dvrv-us-1:devo/0:conversation/3511");
  set(root, "conversation_created.conversation.messages.2.body", str("ok now"));
  set(root, "conversation_created.conversation.messages.2.created_by.type",
      str("dev_user"));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.text, "Started from the PLuG widget on app.acme.example");
  cJSON_Delete(root);

  /* Without its id the message still gives the text; the conversation's
   * id becomes the entry id. */
  root = fixture("conversation_created.json");
  del(root, "conversation_created.conversation.messages.0.id");
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.text, "Still broken after clearing the cache. I have tried "
                     "everything and I'm losing patience.");
  CHECK_STR(ev.entry_id, "don:core:dvrv-us-1:devo/0:conversation/3511");
  cJSON_Delete(root);
}

static void conversation_fallbacks(void)
{
  /* No messages: description, then title; nothing: ignored. */
  cJSON *root = fixture("conversation_created.json");
  set(root, "conversation_created.conversation.messages", str("oops"));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.text, "Started from the PLuG widget on app.acme.example");
  CHECK_STR(ev.entry_id, "don:core:dvrv-us-1:devo/0:conversation/3511");
  CHECK_STR(ev.created_date, "2025-07-03T08:14:58.120Z");
  del(root, "conversation_created.conversation.messages");
  set(root, "conversation_created.conversation.description", str("\t"));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.text, "Login page keeps failing");
  del(root, "conversation_created.conversation.title");
  del(root, "conversation_created.conversation.description");
  EXPECT_IGNORED(root, NULL, "message has no text");

  /* The org falls back to rev_orgs[0] when the author names none. */
  root = fixture("conversation_created.json");
  del(root, "conversation_created.conversation.created_by.rev_org");
  set(root, "conversation_created.conversation.rev_orgs.0.id",
      str("don:identity:dvrv-us-1:devo/0:revo/Other"));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.rev_org_id, "don:identity:dvrv-us-1:devo/0:revo/Other");
  CHECK_STR(ev.rev_org_display_id, "REV-3kUz7");
  del(root, "conversation_created.conversation.rev_orgs");
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK(ev.rev_org_id == NULL && ev.rev_org_display_id == NULL);
  cJSON_Delete(root);

  /* Started by an agent or a bot: not a customer's conversation. */
  root = fixture("conversation_created.json");
  set(root, "conversation_created.conversation.created_by.type",
      str("sys_user"));
  EXPECT_IGNORED(root, NULL, "author is not a customer (sys_user)");
  root = fixture("conversation_created.json");
  EXPECT_IGNORED(root, JANE, "our own conversation");
}

static void fixture_work_ticket(void)
{
  cJSON *root = fixture("work_created_ticket.json");
  CHECK(devrev_event_detect(root));
  buf_cleanup(&compose);
  CHECK_INT(read_ev(root, BOT), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_MESSAGE);
  CHECK_STR(ev.id, EVT "W1");
  CHECK_STR(ev.type, "work_created");
  CHECK_INT(ev.time_ms, 1751621412500LL);
  const char *want = "Invoices export is broken again\n\nThe CSV export has "
                     "failed every day this week. We are losing hours "
                     "re-typing invoices and nobody has replied to my "
                     "emails.";
  CHECK_STR(ev.text, want);
  CHECK_INT(ev.text_len, strlen(want));
  /* Composed in the caller's buffer. */
  CHECK(ev.text == buf_ptr(&compose));
  CHECK_INT(compose.len, strlen(want));
  CHECK_STR(ev.object_id, "don:core:dvrv-us-1:devo/0:ticket/12");
  CHECK_STR(ev.object_display_id, "TKT-12");
  CHECK_STR(ev.object_type, "ticket");
  CHECK_STR(ev.entry_id, "don:core:dvrv-us-1:devo/0:ticket/12");
  CHECK_STR(ev.author_id, OMAR);
  CHECK_STR(ev.author_display_id, "REVU-14");
  CHECK_STR(ev.rev_org_id, GLOBEX);
  CHECK_STR(ev.rev_org_display_id, "REV-8QmP2");
  CHECK_STR(ev.created_date, "2025-07-04T09:30:11.982Z");
  CHECK_INT(ev.created_ms, 1751621411982LL);
  cJSON_Delete(root);
}

static void work_text(void)
{
  /* One part only: borrowed from the tree, compose left empty. */
  cJSON *root = fixture("work_created_ticket.json");
  del(root, "work_created.work.body");
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.text, "Invoices export is broken again");
  CHECK(ev.text == at(root, "work_created.work.title")->valuestring);
  CHECK_INT(compose.len, 0);
  set(root, "work_created.work.body", str("Export fails."));
  set(root, "work_created.work.title", str("   "));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.text, "Export fails.");
  set(root, "work_created.work.body", cJSON_CreateNumber(3));
  EXPECT_IGNORED(root, NULL, "message has no text");

  /* Composed text that outgrows the buffer's limit. */
  struct buf small;
  buf_init(&small, 16);
  root = fixture("work_created_ticket.json");
  CHECK_INT(devrev_event_read(root, NULL, &small, &ev, err, sizeof err),
            ERR_TOO_BIG);
  CHECK_STR(err, "work_created.work title and body exceed 16 bytes");
  CHECK(ev.text == NULL);
  buf_cleanup(&small);
  cJSON_Delete(root);
}

static void work_authors(void)
{
  /* An agent files for the customer: the reporter is the author. */
  cJSON *root = fixture("work_created_ticket.json");
  set(root, "work_created.work.created_by",
      parse("{\"type\":\"dev_user\",\"id\":\"" BOT "\"}"));
  set(root, "work_created.work.reported_by",
      parse("[\"don:identity:x\", {\"type\":\"dev_user\",\"id\":\"d\"},"
            "{\"type\":\"rev_user\"},"
            "{\"type\":\"rev_user\",\"id\":\"" OMAR "\","
            "\"display_id\":\"REVU-14\"}]"));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_MESSAGE);
  CHECK_STR(ev.author_id, OMAR);
  CHECK_STR(ev.author_display_id, "REVU-14");
  CHECK_STR(ev.rev_org_id, GLOBEX); /* from work.rev_org */
  /* ... unless we filed it: our alert tickets may name the customer. */
  CHECK_INT(read_ev(root, BOT), ERR_OK);
  CHECK_STR(ev.ignored, "our own work item");
  /* No created_by at all: the reporter still counts. */
  del(root, "work_created.work.created_by");
  CHECK_INT(read_ev(root, BOT), ERR_OK);
  CHECK_STR(ev.author_id, OMAR);
  del(root, "work_created.work.reported_by");
  EXPECT_IGNORED(root, NULL, "author is not a customer (no created_by)");

  /* rev_org given as a bare id string. */
  root = fixture("work_created_ticket.json");
  set(root, "work_created.work.rev_org", str(GLOBEX));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.rev_org_id, GLOBEX);
  CHECK(ev.rev_org_display_id == NULL);
  del(root, "work_created.work.rev_org");
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK(ev.rev_org_id == NULL);
  cJSON_Delete(root);

  root = fixture("work_created_issue.json");
  CHECK(devrev_event_detect(root));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_IGNORED);
  CHECK_STR(ev.ignored, "author is not a customer (dev_user)");
  CHECK_STR(ev.id, EVT "W2");
  cJSON_Delete(root);

  root = fixture("work_created_ticket.json");
  set(root, "work_created.work.type", str("task"));
  EXPECT_IGNORED(root, NULL, "work type task is not scored");
}

static void fixture_work_updated(void)
{
  cJSON *root = fixture("work_updated.json");
  CHECK(devrev_event_detect(root));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_IGNORED);
  CHECK_STR(ev.ignored, "event type work_updated is not scored");
  CHECK_STR(ev.id, EVT "W3");
  CHECK_STR(ev.type, "work_updated");
  CHECK(ev.text == NULL && ev.object_id == NULL);
  cJSON_Delete(root);

  /* Other types need no payload at all. */
  EXPECT_IGNORED(parse("{\"id\":\"e\",\"webhook_id\":\"w\","
                       "\"type\":\"timeline_entry_updated\"}"),
                 NULL, "event type timeline_entry_updated is not scored");
  EXPECT_IGNORED(parse("{\"id\":\"e\",\"webhook_id\":\"w\","
                       "\"type\":\"conversation_updated\","
                       "\"conversation_updated\":7}"),
                 NULL, "event type conversation_updated is not scored");
}

static void fixture_type_last(void)
{
  cJSON *root = fixture("type_last.json");
  CHECK(devrev_event_detect(root));
  CHECK(!strcmp(cJSON_GetArrayItem(root, cJSON_GetArraySize(root) - 1)->string,
                "type"));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_MESSAGE);
  CHECK_STR(ev.id, EVT "Q6");
  CHECK_STR(ev.webhook_id, HOOK);
  CHECK_STR(ev.type, "timeline_entry_created");
  CHECK_INT(ev.time_ms, 1751733608512LL);
  CHECK_STR(ev.text, "Your update deleted half of our dashboards. This is "
                     "unacceptable and awful, I want this fixed today.");
  CHECK_STR(ev.object_id, "don:core:dvrv-us-1:devo/0:ticket/31");
  CHECK_STR(ev.object_display_id, "TKT-31");
  CHECK_STR(ev.object_type, "ticket");
  CHECK_STR(ev.entry_id, "don:core:dvrv-us-1:devo/0:ticket/31:comment/p2");
  CHECK_STR(ev.author_id, "don:identity:dvrv-us-1:devo/0:revo/Zt81x:revu/3");
  CHECK_STR(ev.author_display_id, "REVU-3");
  CHECK_STR(ev.rev_org_id, "don:identity:dvrv-us-1:devo/0:revo/Zt81x");
  CHECK_STR(ev.rev_org_display_id, "REV-Zt81x");
  CHECK_INT(ev.created_ms, 1751733608260LL);
  cJSON_Delete(root);
}

int main(void)
{
  event_tests_begin();
  RUN(fixture_verify);
  RUN(fixture_verify_toplevel);
  RUN(fixture_customer);
  RUN(fixture_calm);
  RUN(fixture_dev_user);
  RUN(fixture_internal);
  RUN(fixture_self);
  RUN(self_rev_user);
  RUN(fixture_conversation);
  RUN(conversation_newest);
  RUN(conversation_fallbacks);
  RUN(fixture_work_ticket);
  RUN(work_text);
  RUN(work_authors);
  RUN(fixture_work_updated);
  RUN(fixture_type_last);
  event_tests_end();
  HARNESS_EXIT();
}
