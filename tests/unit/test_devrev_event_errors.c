/* Unit tests of devrev/event: which bodies are DevRev events, and the
 * envelopes and payloads refused with ERR_INVALID and their messages.
 * Fixtures field by field are in test_devrev_event.c. */
#include "devrev_event_helpers.h"

static void detect(void)
{
  static const char *const names[] = {
      "verify.json",
      "verify_toplevel.json",
      "timeline_comment_customer.json",
      "timeline_comment_calm.json",
      "timeline_comment_dev_user.json",
      "timeline_comment_internal.json",
      "timeline_comment_self.json",
      "conversation_created.json",
      "work_created_ticket.json",
      "work_created_issue.json",
      "work_updated.json",
      "type_last.json",
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    cJSON *root = fixture(names[i]);
    if (!devrev_event_detect(root))
      FAIL_AT("%s not detected", names[i]);
    harness_checks++;
    cJSON_Delete(root);
  }
  static const struct {
    const char *json;
    bool want;
  } cases[] = {
      {"{\"customer_id\":\"c\",\"message\":\"hi\"}", false},
      {"{\"messages\":[{\"customer_id\":\"c\",\"message\":\"hi\"}]}", false},
      {"{\"type\":\"verify\"}", true},
      {"{\"type\":\"work_created\",\"webhook_id\":null}", true},
      {"{\"type\":\"work_created\",\"webhook_id\":5}", true},
      {"{\"type\":\"work_created\"}", false},
      {"{\"type\":1,\"webhook_id\":\"w\"}", false},
      {"{\"webhook_id\":\"w\"}", false},
      {"{\"type\":\"verify\",\"customer_id\":\"c\"}", false},
      {"{\"type\":\"x\",\"webhook_id\":\"w\",\"messages\":[]}", false},
      {"{\"customer_id\":\"c\",\"message\":\"hi\",\"type\":\"chat\"}", false},
      {"[{\"type\":\"verify\"}]", false},
      {"\"verify\"", false},
      {"{}", false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cJSON *root = parse(cases[i].json);
    harness_checks++;
    if (devrev_event_detect(root) != cases[i].want)
      FAIL_AT("detect(%s) != %d", cases[i].json, cases[i].want);
    cJSON_Delete(root);
  }
  CHECK(!devrev_event_detect(NULL));
}

static void verify_cases(void)
{
  /* Nested wins over top-level; id and webhook_id are optional. */
  cJSON *root = parse("{\"challenge\":\"top\",\"type\":\"verify\","
                      "\"verify\":{\"challenge\":\"nested\"}}");
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_VERIFY);
  CHECK_STR(ev.challenge, "nested");
  CHECK(ev.id == NULL && ev.webhook_id == NULL && ev.timestamp == NULL);
  CHECK(!ev.has_time);
  cJSON_Delete(root);

  /* verify without a challenge falls back to the top level. */
  root = parse("{\"type\":\"verify\",\"verify\":{},\"challenge\":\"top\","
               "\"id\":7}");
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.challenge, "top");
  CHECK(ev.id == NULL); /* optional here, so the wrong type is absent */
  cJSON_Delete(root);

  EXPECT_INVALID(parse("{\"type\":\"verify\"}"),
                 "verify.challenge is required");
  EXPECT_INVALID(parse("{\"type\":\"verify\",\"verify\":{\"challenge\":null}}"),
                 "verify.challenge is required");
  EXPECT_INVALID(parse("{\"type\":\"verify\",\"verify\":{\"challenge\":5}}"),
                 "verify.challenge must be a string");
  EXPECT_INVALID(parse("{\"type\":\"verify\",\"verify\":{\"challenge\":\"\"}}"),
                 "verify.challenge must not be empty");
  EXPECT_INVALID(parse("{\"type\":\"verify\",\"verify\":\"abc\"}"),
                 "verify must be an object");
  EXPECT_INVALID(parse("{\"type\":\"verify\",\"challenge\":[\"a\"]}"),
                 "challenge must be a string");
  EXPECT_INVALID(parse("{\"type\":\"verify\",\"challenge\":\"\"}"),
                 "challenge must not be empty");

  char *big = malloc(DEVREV_EVENT_MAX_CHALLENGE + 2);
  memset(big, 'A', DEVREV_EVENT_MAX_CHALLENGE + 1);
  big[DEVREV_EVENT_MAX_CHALLENGE + 1] = '\0';
  root = parse("{\"type\":\"verify\",\"verify\":{}}");
  set(root, "verify.challenge", str(big));
  EXPECT_INVALID(root, "verify.challenge is longer than 4096 bytes");
  big[DEVREV_EVENT_MAX_CHALLENGE] = '\0';
  root = parse("{\"type\":\"verify\",\"verify\":{}}");
  set(root, "verify.challenge", str(big));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_INT(strlen(ev.challenge), DEVREV_EVENT_MAX_CHALLENGE);
  cJSON_Delete(root);
  free(big);
}

static void envelope_errors(void)
{
  cJSON *root = fixture("timeline_comment_customer.json");
  del(root, "id");
  CHECK(devrev_event_detect(root));
  EXPECT_INVALID(root, "id is required");

  root = fixture("timeline_comment_customer.json");
  set(root, "id", cJSON_CreateNumber(12));
  EXPECT_INVALID(root, "id must be a string");
  root = fixture("timeline_comment_customer.json");
  set(root, "id", str(""));
  EXPECT_INVALID(root, "id must not be empty");
  root = fixture("work_updated.json"); /* even for an ignored type */
  set(root, "id", cJSON_CreateNull());
  EXPECT_INVALID(root, "id is required");
  root = fixture("timeline_comment_customer.json");
  del(root, "webhook_id");
  EXPECT_INVALID(root, "webhook_id is required");
  root = fixture("timeline_comment_customer.json");
  set(root, "webhook_id", cJSON_CreateTrue());
  EXPECT_INVALID(root, "webhook_id must be a string");
  root = fixture("timeline_comment_customer.json");
  del(root, "type");
  EXPECT_INVALID(root, "type is required");
  root = fixture("timeline_comment_customer.json");
  set(root, "type", cJSON_CreateObject());
  EXPECT_INVALID(root, "type must be a string");
  EXPECT_INVALID(parse("[]"), "the event must be a JSON object");
  EXPECT_INVALID(parse("\"x\""), "the event must be a JSON object");
  CHECK_INT(read_ev(NULL, NULL), ERR_INVALID);

  /* Ids: 512 bytes pass, 513 do not. */
  char id[DEVREV_EVENT_MAX_ID + 2];
  memset(id, 'x', sizeof id - 1);
  id[sizeof id - 1] = '\0';
  root = fixture("timeline_comment_customer.json");
  set(root, "id", str(id));
  EXPECT_INVALID(root, "id is longer than 512 bytes");
  root = fixture("timeline_comment_customer.json");
  set(root, "timeline_entry_created.entry.created_by.rev_org.display_id",
      str(id));
  EXPECT_INVALID(
      root,
      "timeline_entry_created.entry.created_by.rev_org.display_id is longer "
      "than 512 bytes");
  id[DEVREV_EVENT_MAX_ID] = '\0';
  root = fixture("timeline_comment_customer.json");
  set(root, "id", str(id));
  set(root, "timeline_entry_created.entry.object", str(id));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_INT(strlen(ev.id), DEVREV_EVENT_MAX_ID);
  CHECK_INT(strlen(ev.object_id), DEVREV_EVENT_MAX_ID);
  cJSON_Delete(root);

  /* Timestamps: optional; unparseable is kept but not parsed; too long
   * is refused. */
  root = fixture("timeline_comment_customer.json");
  set(root, "timestamp", cJSON_CreateNumber(1751461660));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK(ev.timestamp == NULL && !ev.has_time && ev.time_ms == 0);
  set(root, "timestamp", str("yesterday"));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.timestamp, "yesterday");
  CHECK(!ev.has_time);
  CHECK_INT(ev.kind, DEVREV_EVENT_MESSAGE);
  del(root, "timestamp");
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK(ev.timestamp == NULL && !ev.has_time);
  set(root, "timestamp",
      str("2025-07-02T13:07:40.93707400000000000000000000000000000000000000Z"));
  CHECK_INT(read_ev(root, NULL), ERR_INVALID);
  CHECK_STR(err, "timestamp is longer than 64 bytes");
  cJSON_Delete(root);

  /* err may be NULL or empty. */
  root = parse("{\"type\":\"work_created\"}");
  CHECK_INT(devrev_event_read(root, NULL, &compose, &ev, NULL, 0), ERR_INVALID);
  err[0] = 'z';
  CHECK_INT(devrev_event_read(root, NULL, &compose, &ev, err, 0), ERR_INVALID);
  CHECK(err[0] == 'z');
  cJSON_Delete(root);
}

static void payload_errors(void)
{
  static const struct {
    const char *file;
    const char *path;  /* member to change */
    const char *value; /* JSON, or NULL to delete */
    const char *want;
  } cases[] = {
      {"timeline_comment_customer.json", "timeline_entry_created", NULL,
       "timeline_entry_created is required"},
      {"timeline_comment_customer.json", "timeline_entry_created", "\"x\"",
       "timeline_entry_created must be an object"},
      {"timeline_comment_customer.json", "timeline_entry_created.entry", "[]",
       "timeline_entry_created.entry must be an object"},
      {"timeline_comment_customer.json", "timeline_entry_created.entry", NULL,
       "timeline_entry_created.entry is required"},
      {"timeline_comment_customer.json", "timeline_entry_created.entry.type",
       NULL, "timeline_entry_created.entry.type is required"},
      {"timeline_comment_customer.json", "timeline_entry_created.entry.type",
       "3", "timeline_entry_created.entry.type must be a string"},
      {"timeline_comment_customer.json", "timeline_entry_created.entry.id",
       NULL, "timeline_entry_created.entry.id is required"},
      {"timeline_comment_customer.json", "timeline_entry_created.entry.object",
       "{}", "timeline_entry_created.entry.object must be a string"},
      {"timeline_comment_customer.json",
       "timeline_entry_created.entry.created_by.type", NULL,
       "timeline_entry_created.entry.created_by.type is required"},
      {"timeline_comment_customer.json",
       "timeline_entry_created.entry.created_by.id", NULL,
       "timeline_entry_created.entry.created_by.id is required"},
      {"timeline_comment_customer.json",
       "timeline_entry_created.entry.created_by.id", "1",
       "timeline_entry_created.entry.created_by.id must be a string"},
      {"conversation_created.json", "conversation_created", "[]",
       "conversation_created must be an object"},
      {"conversation_created.json", "conversation_created.conversation", NULL,
       "conversation_created.conversation is required"},
      {"conversation_created.json", "conversation_created.conversation.id",
       NULL, "conversation_created.conversation.id is required"},
      {"conversation_created.json",
       "conversation_created.conversation.created_by.type", "null",
       "conversation_created.conversation.created_by.type is required"},
      {"work_created_ticket.json", "work_created", NULL,
       "work_created is required"},
      {"work_created_ticket.json", "work_created.work", "true",
       "work_created.work must be an object"},
      {"work_created_ticket.json", "work_created.work.id", "12",
       "work_created.work.id must be a string"},
      {"work_created_ticket.json", "work_created.work.type", NULL,
       "work_created.work.type is required"},
      {"work_created_ticket.json", "work_created.work.created_by.type", "[]",
       "work_created.work.created_by.type must be a string"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cJSON *root = fixture(cases[i].file);
    if (cases[i].value)
      set(root, cases[i].path, parse(cases[i].value));
    else
      del(root, cases[i].path);
    harness_checks++;
    enum err rc = read_ev(root, NULL);
    if (rc != ERR_INVALID || strcmp(err, cases[i].want))
      FAIL_AT("%s %s: rc %d, \"%s\", want \"%s\"", cases[i].file, cases[i].path,
              (int)rc, err, cases[i].want);
    CHECK(ev.kind == DEVREV_EVENT_IGNORED && ev.text == NULL);
    cJSON_Delete(root);
  }
}

int main(void)
{
  event_tests_begin();
  RUN(detect);
  RUN(verify_cases);
  RUN(envelope_errors);
  RUN(payload_errors);
  event_tests_end();
  HARNESS_EXIT();
}
