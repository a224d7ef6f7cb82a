/* Unit tests of devrev/event: DevRev webhook envelopes in, events out.
 *
 * The fixtures in tests/fixtures/devrev/ are the same files the integration
 * tests post to a running server; each is read here field by field. Other
 * cases are built by editing a parsed fixture (set/del) or inline JSON. The
 * fixture folder is DEVREV_FIXTURES if set, else found next to TEST_DATA
 * (tests/data, set by CMake), else next to this file. */
#include "harness.h"

#include <cjson/cJSON.h>
#include <stdint.h>

#include "base/buf.h"
#include "devrev/event.h"

#define HOOK "don:integration:dvrv-us-1:devo/0:webhook/AbC"
#define EVT HOOK ":webhook_event/"
#define JANE "don:identity:dvrv-us-1:devo/0:revo/3kUz7:revu/1"
#define ACME "don:identity:dvrv-us-1:devo/0:revo/3kUz7"
#define OMAR "don:identity:dvrv-us-1:devo/0:revo/8QmP2:revu/14"
#define GLOBEX "don:identity:dvrv-us-1:devo/0:revo/8QmP2"
#define BOT "don:identity:dvrv-us-1:devo/0:devu/9"

static struct buf compose;
static struct devrev_event ev;
static char err[256];

/* ---- helpers -------------------------------------------------------- */

static char fixture_dir[1024];

static void find_fixtures(void)
{
  const char *env = getenv("DEVREV_FIXTURES");
  const char *data = getenv("TEST_DATA");
  if (env && *env) {
    snprintf(fixture_dir, sizeof fixture_dir, "%s", env);
  } else if (data && *data) {
    /* TEST_DATA is <src>/tests/data; the folder may not exist (git keeps
     * no empty folders), so its parent is found textually. */
    snprintf(fixture_dir, sizeof fixture_dir, "%s", data);
    char *slash = strrchr(fixture_dir, '/');
    if (slash)
      *slash = '\0';
    strncat(fixture_dir, "/fixtures/devrev",
            sizeof fixture_dir - strlen(fixture_dir) - 1);
  } else {
    snprintf(fixture_dir, sizeof fixture_dir, "%s", __FILE__);
    char *slash = strrchr(fixture_dir, '/');
    if (slash)
      *slash = '\0';
    strncat(fixture_dir, "/../fixtures/devrev",
            sizeof fixture_dir - strlen(fixture_dir) - 1);
  }
}

/* Parses tests/fixtures/devrev/<name>; aborts the run when it is missing,
 * since every later check would fail for the same reason. */
static cJSON *fixture(const char *name)
{
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", fixture_dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(1);
  }
  struct buf b;
  buf_init(&b, 0);
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    CHECK_INT(buf_append(&b, chunk, n), ERR_OK);
  fclose(f);
  cJSON *root = cJSON_ParseWithLength(buf_ptr(&b), b.len);
  buf_cleanup(&b);
  if (!root) {
    fprintf(stderr, "%s: not JSON\n", path);
    exit(1);
  }
  return root;
}

static cJSON *parse(const char *json)
{
  cJSON *root = cJSON_Parse(json);
  if (!root) {
    fprintf(stderr, "bad test JSON: %s\n", json);
    exit(1);
  }
  return root;
}

/* The member at a dotted path ("a.b.c"; a number picks an array item),
 * or NULL. */
static cJSON *at(cJSON *root, const char *path)
{
  char copy[256];
  snprintf(copy, sizeof copy, "%s", path);
  cJSON *node = root;
  for (char *tok = strtok(copy, "."); tok && node; tok = strtok(NULL, ".")) {
    if (cJSON_IsArray(node))
      node = cJSON_GetArrayItem(node, atoi(tok));
    else
      node = cJSON_GetObjectItemCaseSensitive(node, tok);
  }
  return node;
}

/* Splits path into its parent node and last name. */
static cJSON *parent_of(cJSON *root, const char *path, const char **last)
{
  static char parent[256];
  const char *dot = strrchr(path, '.');
  if (!dot) {
    *last = path;
    return root;
  }
  snprintf(parent, sizeof parent, "%.*s", (int)(dot - path), path);
  *last = dot + 1;
  return at(root, parent);
}

/* Sets the member at path to value (taking it), adding it if absent. */
static void set(cJSON *root, const char *path, cJSON *value)
{
  const char *name;
  cJSON *parent = parent_of(root, path, &name);
  if (!parent) {
    fprintf(stderr, "no parent for %s\n", path);
    exit(1);
  }
  if (cJSON_GetObjectItemCaseSensitive(parent, name))
    cJSON_ReplaceItemInObjectCaseSensitive(parent, name, value);
  else
    cJSON_AddItemToObject(parent, name, value);
}

static void del(cJSON *root, const char *path)
{
  const char *name;
  cJSON *parent = parent_of(root, path, &name);
  if (parent)
    cJSON_DeleteItemFromObjectCaseSensitive(parent, name);
}

static enum err read_ev(const cJSON *root, const char *self_id)
{
  return devrev_event_read(root, self_id, &compose, &ev, err, sizeof err);
}

/* Reads root, expects ERR_INVALID with exactly msg, and frees root. */
#define EXPECT_INVALID(root, msg)                                              \
  do {                                                                         \
    cJSON *r_ = (root);                                                        \
    CHECK_INT(read_ev(r_, NULL), ERR_INVALID);                                 \
    CHECK_STR(err, msg);                                                       \
    CHECK_INT(ev.kind, DEVREV_EVENT_IGNORED);                                  \
    CHECK(ev.id == NULL && ev.type == NULL && ev.text == NULL);                \
    cJSON_Delete(r_);                                                          \
  } while (0)

/* Reads root, expects IGNORED with exactly reason, and frees root. */
#define EXPECT_IGNORED(root, self, reason)                                     \
  do {                                                                         \
    cJSON *r_ = (root);                                                        \
    CHECK_INT(read_ev(r_, self), ERR_OK);                                      \
    CHECK_INT(ev.kind, DEVREV_EVENT_IGNORED);                                  \
    CHECK_STR(ev.ignored, reason);                                             \
    CHECK(ev.text == NULL && ev.author_id == NULL && ev.object_id == NULL);    \
    CHECK(ev.entry_id == NULL && ev.rev_org_id == NULL);                       \
    cJSON_Delete(r_);                                                          \
  } while (0)

/* Reads root, expects a MESSAGE with exactly text, and frees root. */
#define EXPECT_TEXT(root, want)                                                \
  do {                                                                         \
    cJSON *r_ = (root);                                                        \
    CHECK_INT(read_ev(r_, NULL), ERR_OK);                                      \
    CHECK_INT(ev.kind, DEVREV_EVENT_MESSAGE);                                  \
    CHECK_STR(ev.text, want);                                                  \
    CHECK_INT(ev.text_len, strlen(want));                                      \
    cJSON_Delete(r_);                                                          \
  } while (0)

static cJSON *str(const char *s)
{
  return cJSON_CreateString(s);
}

/* ---- fixtures ------------------------------------------------------- */

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

/* ---- behaviours ----------------------------------------------------- */

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
  find_fixtures();
  buf_init(&compose, 1 << 20);
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
  RUN(detect);
  RUN(verify_cases);
  RUN(envelope_errors);
  RUN(payload_errors);
  RUN(optional_fields);
  RUN(authorless_events);
  RUN(object_type_inferred);
  RUN(blank_text);
  RUN(long_type_reason);
  RUN(parse_time);
  buf_cleanup(&compose);
  HARNESS_EXIT();
}
