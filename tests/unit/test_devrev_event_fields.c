/* Unit tests of devrev/event: optional fields of a wrong type read as
 * absent, events without an author, the inferred object type, blank text,
 * the ignored reason's bound and devrev_parse_time. Fixtures field by field
 * are in test_devrev_event.c. */
#include "devrev_event_helpers.h"

static void optional_fields(void)
{
  /* Wrong JSON types of optional fields count as absent. */
  cJSON *root = fixture("timeline_comment_customer.json");
  set(root, "timeline_entry_created.entry.object_display_id",
      cJSON_CreateNumber(3502));
  set(root, "timeline_entry_created.entry.object_type", cJSON_CreateArray());
  set(root, "timeline_entry_created.entry.created_by.display_id",
      cJSON_CreateFalse());
  set(root, "timeline_entry_created.entry.created_by.rev_org",
      cJSON_CreateNumber(1));
  set(root, "timeline_entry_created.entry.created_date", cJSON_CreateNumber(1));
  set(root, "timeline_entry_created.entry.body_type", str("snap_kit"));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_MESSAGE);
  /* object_type absent: read from the object's DON. */
  CHECK(ev.object_display_id == NULL);
  CHECK_STR(ev.object_type, "conversation");
  CHECK(ev.author_display_id == NULL && ev.rev_org_id == NULL);
  CHECK(ev.created_date == NULL && !ev.has_created && ev.created_ms == 0);
  CHECK_STR(ev.author_id, JANE);
  /* rev_org as a bare id. */
  set(root, "timeline_entry_created.entry.created_by.rev_org", str(ACME));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.rev_org_id, ACME);
  CHECK(ev.rev_org_display_id == NULL);
  cJSON_Delete(root);

  /* Non-customer authors of any kind, and non-comment entries. */
  root = fixture("timeline_comment_customer.json");
  set(root, "timeline_entry_created.entry.created_by.type", str("sys_user"));
  EXPECT_IGNORED(root, NULL, "author is not a customer (sys_user)");
  root = fixture("timeline_comment_customer.json");
  set(root, "timeline_entry_created.entry.created_by.type",
      str("service_account"));
  del(root, "timeline_entry_created.entry.created_by.id");
  EXPECT_IGNORED(root, NULL, "author is not a customer (service_account)");
  root = fixture("timeline_comment_customer.json");
  set(root, "timeline_entry_created.entry.type", str("timeline_change_event"));
  del(root, "timeline_entry_created.entry.id"); /* not needed to ignore it */
  EXPECT_IGNORED(root, NULL,
                 "entry is not a timeline_comment (timeline_change_event)");
}

/* created_by is optional in DevRev's spec (atom-base requires only id):
 * such events are answered, never refused with a 400. */
static void authorless_events(void)
{
  /* A comment without an author is not a customer's: ignored. */
  cJSON *root = fixture("timeline_comment_customer.json");
  del(root, "timeline_entry_created.entry.created_by");
  EXPECT_IGNORED(root, NULL, "entry has no author (created_by)");
  root = fixture("timeline_comment_customer.json");
  set(root, "timeline_entry_created.entry.created_by", str("REVU-1"));
  EXPECT_IGNORED(root, NULL, "entry has no author (created_by)");

  /* A conversation without one: its chosen message's author, a customer. */
  root = fixture("conversation_created.json");
  del(root, "conversation_created.conversation.created_by");
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_MESSAGE);
  CHECK_STR(ev.author_id, JANE);
  CHECK_STR(ev.author_display_id, "REVU-1");
  CHECK_STR(ev.text, "Still broken after clearing the cache. I have tried "
                     "everything and I'm losing patience.");
  /* ... whose org comes from rev_orgs[0], as for any author without one. */
  CHECK(ev.rev_org_id != NULL);
  /* Our own messages are never the customer's. */
  CHECK_INT(read_ev(root, JANE), ERR_OK);
  CHECK(ev.kind == DEVREV_EVENT_IGNORED);
  /* No customer message: nobody to alert about. */
  del(root, "conversation_created.conversation.messages");
  EXPECT_IGNORED(root, NULL,
                 "conversation has no author (created_by) and no customer "
                 "message");
  /* A customer message whose author has no id cannot name the customer. */
  root = fixture("conversation_created.json");
  del(root, "conversation_created.conversation.created_by");
  del(root, "conversation_created.conversation.messages.0.created_by.id");
  EXPECT_IGNORED(root, NULL,
                 "conversation has no author (created_by) and its message's "
                 "author has no id");
}

/* object_type is optional too: a ticket is known by its DON or display id
 * (the alert's works.update of severity and sentiment depends on it). */
static void object_type_inferred(void)
{
  static const struct {
    const char *object, *display_id, *want;
  } cases[] = {
      {"don:core:dvrv-us-1:devo/0:ticket/12", "TKT-12", "ticket"},
      {"don:core:dvrv-us-1:devo/0:ticket/12", NULL, "ticket"},
      {"don:core:dvrv-us-1:devo/0:issue/98", NULL, "issue"},
      {"don:core:dvrv-us-1:devo/0:conversation/3502", NULL, "conversation"},
      {"don:core:dvrv-us-1:devo/0:thing/1", "TKT-7", "ticket"},
      {"don:core:dvrv-us-1:devo/0:thing/1", "ISS-7", "issue"},
      {"don:core:dvrv-us-1:devo/0:thing/1", "CONV-7", "conversation"},
      /* The object's own part decides, not an org named "ticket/". */
      {"don:core:dvrv-us-1:devo/ticket/x:thing/1", NULL, NULL},
      {"don:core:dvrv-us-1:devo/0:thing/1", "XTKT-7", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cJSON *root = fixture("timeline_comment_customer.json");
    del(root, "timeline_entry_created.entry.object_type");
    set(root, "timeline_entry_created.entry.object", str(cases[i].object));
    if (cases[i].display_id)
      set(root, "timeline_entry_created.entry.object_display_id",
          str(cases[i].display_id));
    else
      del(root, "timeline_entry_created.entry.object_display_id");
    CHECK_INT(read_ev(root, NULL), ERR_OK);
    if (cases[i].want)
      CHECK_STR(ev.object_type, cases[i].want);
    else
      CHECK(ev.object_type == NULL);
    cJSON_Delete(root);
  }
  /* A type that is sent is kept as sent. */
  cJSON *root = fixture("timeline_comment_customer.json");
  set(root, "timeline_entry_created.entry.object_type", str("issue"));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_STR(ev.object_type, "issue");
  cJSON_Delete(root);
}

static void blank_text(void)
{
  static const char *const blanks[] = {"", " ", "\n\t \r", "\xe3\x80\x80",
                                       "\xc2\xa0\xe2\x80\x83"};
  for (size_t i = 0; i < sizeof blanks / sizeof blanks[0]; i++) {
    cJSON *root = fixture("timeline_comment_customer.json");
    set(root, "timeline_entry_created.entry.body", str(blanks[i]));
    EXPECT_IGNORED(root, NULL, "message has no text");
  }
  cJSON *root = fixture("timeline_comment_customer.json");
  del(root, "timeline_entry_created.entry.body");
  EXPECT_IGNORED(root, NULL, "message has no text");
  root = fixture("timeline_comment_customer.json");
  set(root, "timeline_entry_created.entry.body", cJSON_CreateNumber(1));
  EXPECT_IGNORED(root, NULL, "message has no text");
  root = fixture("timeline_comment_customer.json");
  set(root, "timeline_entry_created.entry.body", str(" ok\xe2\x80\x83"));
  EXPECT_TEXT(root, " ok\xe2\x80\x83"); /* handed back as sent */
  root = fixture("timeline_comment_customer.json");
  set(root, "timeline_entry_created.entry.body",
      str("caf\xc3\xa9 \xf0\x9f\x98\xa1"));
  EXPECT_TEXT(root, "caf\xc3\xa9 \xf0\x9f\x98\xa1");
}

static void long_type_reason(void)
{
  char type[300];
  memset(type, 't', sizeof type - 1);
  type[sizeof type - 1] = '\0';
  cJSON *root = parse("{\"id\":\"e\",\"webhook_id\":\"w\"}");
  set(root, "type", str(type));
  CHECK_INT(read_ev(root, NULL), ERR_OK);
  CHECK_INT(ev.kind, DEVREV_EVENT_IGNORED);
  CHECK(strlen(ev.ignored) < sizeof ev.ignored);
  CHECK(!strncmp(ev.ignored, "event type tttt", 15));
  cJSON_Delete(root);
  CHECK_STR(devrev_event_kind_name(DEVREV_EVENT_VERIFY), "verify");
  CHECK_STR(devrev_event_kind_name(DEVREV_EVENT_MESSAGE), "message");
  CHECK_STR(devrev_event_kind_name(DEVREV_EVENT_IGNORED), "ignored");
}

static void parse_time(void)
{
  static const struct {
    const char *s;
    long long ms;
  } good[] = {
      {"2025-07-02T13:07:40.937074Z", 1751461660937LL},
      {"2025-07-02T13:07:40.937Z", 1751461660937LL},
      {"2025-07-02T13:07:40.9Z", 1751461660900LL},
      {"2025-07-02T13:07:40Z", 1751461660000LL},
      {"2025-07-02T13:07:40.937074123Z", 1751461660937LL},
      {"2025-07-02T13:07:40.000000000000000000000000001Z", 1751461660000LL},
      {"2025-07-02t13:07:40z", 1751461660000LL},
      {"2025-07-02T15:07:40+02:00", 1751461660000LL},
      {"2025-07-02T08:37:40.5-04:30", 1751461660500LL},
      {"2025-07-02T13:07:40-00:00", 1751461660000LL},
      {"2025-07-03T00:07:40+11:00", 1751461660000LL},
      {"1970-01-01T00:00:00Z", 0},
      {"1969-12-31T23:59:59.5Z", -500},
      {"2024-02-29T23:59:59.999Z", 1709251199999LL},
      {"2000-02-29T00:00:00Z", 951782400000LL},
      {"0001-01-01T00:00:00Z", -62135596800000LL},
      {"9999-12-31T23:59:59Z", 253402300799000LL},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    int64_t ms = 42;
    harness_checks++;
    if (!devrev_parse_time(good[i].s, &ms) || ms != good[i].ms)
      FAIL_AT("parse_time(%s) = %lld, want %lld", good[i].s, (long long)ms,
              good[i].ms);
  }
  static const char *const bad[] = {
      "",
      "2025-07-02",
      "2025-07-02T13:07:40",       /* no offset */
      "2025-07-02 13:07:40Z",      /* space instead of T */
      "2025-13-01T00:00:00Z",      /* month 13 */
      "2025-00-01T00:00:00Z",      /* month 0 */
      "2025-02-29T00:00:00Z",      /* not a leap year */
      "1900-02-29T00:00:00Z",      /* nor is 1900 */
      "2025-06-31T00:00:00Z",      /* June has 30 days */
      "2025-07-00T00:00:00Z",      /* day 0 */
      "2025-07-02T24:00:00Z",      /* hour 24 */
      "2025-07-02T23:60:00Z",      /* minute 60 */
      "2025-12-31T23:59:60Z",      /* leap second */
      "2025-07-02T13:07:40.Z",     /* dot without digits */
      "2025-07-02T13:07:40,5Z",    /* comma fraction */
      "2025-07-02T13:07:40+0200",  /* offset without colon */
      "2025-07-02T13:07:40+02",    /* short offset */
      "2025-07-02T13:07:40+24:00", /* offset hour 24 */
      "2025-07-02T13:07:40+02:60", /* offset minute 60 */
      "2025-07-02T13:07:40ZZ",     /* trailing bytes */
      "2025-07-02T13:07:40Z ",     /* trailing space */
      " 2025-07-02T13:07:40Z",     /* leading space */
      "25-07-02T13:07:40Z",        /* two-digit year */
      "+2025-07-02T13:07:40Z",     /* signed year */
      "2025-7-02T13:07:40Z",       /* one-digit month */
      "2025-07-02T13:7:40Z",       /* one-digit minute */
      "2025-07-02T13:07:4Z",       /* one-digit second */
      "2025/07/02T13:07:40Z",
      "2025-07-02T13:07:40.5.5Z",
      "1751461660",
      "2025-07-02T13:07:40\xef\xbc\xba", /* fullwidth Z */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t ms = 42;
    harness_checks++;
    if (devrev_parse_time(bad[i], &ms) || ms != 42)
      FAIL_AT("parse_time(\"%s\") accepted", bad[i]);
  }
  int64_t ms = 42;
  CHECK(!devrev_parse_time(NULL, &ms));
  CHECK_INT(ms, 42);
}

int main(void)
{
  event_tests_begin();
  RUN(optional_fields);
  RUN(authorless_events);
  RUN(object_type_inferred);
  RUN(blank_text);
  RUN(long_type_reason);
  RUN(parse_time);
  event_tests_end();
  HARNESS_EXIT();
}
