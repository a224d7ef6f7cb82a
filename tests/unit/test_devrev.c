/* Tests of the DevRev client's pure half: the exact request bodies (on the
 * alert's ticket and on a message's source object), the classification of every
 * kind of reply, and the marker search in works.list replies. No socket. */
#include "devrev/client.h"

#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "harness.h"

static const struct devrev_config CFG = {
    .api_url = "http://127.0.0.1:1",
    .token = "tok",
    .part_id = "PROD-1",
    .owner_id = "DEVU-1",
    .tag_id = "TAG-7",
};

static struct devrev_alert alert(void)
{
  struct devrev_alert a = {0};
  a.alert_key = "0123456789abcdef0123456789abcdef";
  a.customer_id = "cust-42";
  a.conversation_id = "CONV-1";
  a.channel = "chat";
  a.message_id = "m-1";
  a.excerpt = "This is \"terrible\".\nFix it!";
  a.level = "angry";
  a.severity = "blocker";
  a.words = "'terrible', 'never'";
  a.polarity = -0.75;
  a.subjectivity = 0.9;
  a.has_scores = true;
  return a;
}

/* Text from outside is quoted as code (nothing in it is rendered). */
#define BODY_JSON                                                              \
  "Customer: `cust-42`\\nConversation: `CONV-1`\\nChannel: `chat`\\n"          \
  "Level: angry (severity blocker)\\n"                                         \
  "Polarity: -0.75 (subjectivity 0.9)\\n"                                      \
  "Deciding words: `'terrible', 'never'`\\nMessage id: `m-1`\\n\\n"            \
  "Message:\\n```\\nThis is \\\"terrible\\\".\\nFix it!\\n```\\n\\n"             \
  "frustration-alert-id: 0123456789abcdef0123456789abcdef"

static void test_create_request(void)
{
  struct devrev_alert a = alert();
  char *json = devrev_create_request(&CFG, &a);
  CHECK_STR(json,
            "{\"type\":\"ticket\","
            "\"title\":\"Frustrated customer: cust-42 (angry)\","
            "\"body\":\"A customer appears frustrated: raised by "
            "frustration-alert from the customer's message.\\n\\n" BODY_JSON
            "\","
            "\"applies_to_part\":\"PROD-1\",\"owned_by\":[\"DEVU-1\"],"
            "\"severity\":\"blocker\",\"tags\":[{\"id\":\"TAG-7\"}]}");
  free(json);
  /* No tag configured, no severity: neither field is sent. */
  struct devrev_config cfg = CFG;
  cfg.tag_id = "";
  struct devrev_alert b = {.alert_key = "k", .customer_id = "c"};
  json = devrev_create_request(&cfg, &b);
  CHECK_STR(json, "{\"type\":\"ticket\",\"title\":\"Frustrated customer: c\","
                  "\"body\":\"A customer appears frustrated: raised by "
                  "frustration-alert from the customer's message.\\n\\n"
                  "Customer: `c`\\n\\nfrustration-alert-id: k\","
                  "\"applies_to_part\":\"PROD-1\",\"owned_by\":[\"DEVU-1\"]}");
  free(json);
}

/* A customer cannot plant a mention or a link in an internal note: what
 * came from outside is code, whose fence no text inside can close. */
static void test_customer_text_quoted(void)
{
  struct devrev_alert a = alert();
  a.customer_id = "<don:identity:dvrv-us-1:devo/0:devu/1> `x`";
  a.words = "'[click](https://evil.example)'";
  a.excerpt = "hi <don:identity:dvrv-us-1:devo/0:devu/1>\n```\n"
              "[pay here](https://evil.example) ````` end";
  char *body = devrev_ticket_body(&a);
  CHECK(strstr(body, "Customer: `` <don:identity:dvrv-us-1:devo/0:devu/1> "
                     "`x` ``\n") != NULL);
  CHECK(strstr(body, "Deciding words: `'[click](https://evil.example)'`\n") !=
        NULL);
  /* The block's fence is six backticks: longer than the five inside. */
  CHECK(strstr(body, "\nMessage:\n``````\nhi <don:") != NULL);
  CHECK(strstr(body, "````` end\n``````\n") != NULL);
  free(body);
  char *title = devrev_ticket_title(&a);
  CHECK(strchr(title, '<') == NULL && strchr(title, '>') == NULL);
  CHECK(strstr(title, "\xe2\x80\xb9" "don:identity") != NULL);
  free(title);
  /* The source note quotes the same way. */
  char *json = devrev_source_comment_request("o", &a);
  CHECK(strstr(json, "Excerpt:\\n``````\\nhi <don:") != NULL);
  free(json);
}

static void test_comment_update_list_requests(void)
{
  struct devrev_alert a = alert();
  char *json = devrev_comment_request("don:core:x:ticket/12", &a);
  CHECK_STR(json, "{\"object\":\"don:core:x:ticket/12\","
                  "\"type\":\"timeline_comment\","
                  "\"body\":\"Another frustrated message from this "
                  "customer.\\n\\n" BODY_JSON "\","
                  "\"body_type\":\"text\",\"visibility\":\"internal\"}");
  free(json);
  json = devrev_update_request("don:core:x:ticket/12", "blocker");
  CHECK_STR(json, "{\"id\":\"don:core:x:ticket/12\",\"type\":\"ticket\","
                  "\"severity\":\"blocker\"}");
  free(json);
  /* 2023-11-14T22:13:20.123Z */
  json = devrev_list_request(&CFG, 1700000000123LL, NULL);
  CHECK_STR(json, "{\"type\":[\"ticket\"],\"tags\":[\"TAG-7\"],"
                  "\"created_date\":{\"type\":\"range\","
                  "\"after\":\"2023-11-14T22:13:20.123Z\"},\"limit\":50}");
  free(json);
  struct devrev_config cfg = CFG;
  cfg.tag_id = NULL;
  json = devrev_list_request(&cfg, 5, "c2");
  CHECK_STR(json, "{\"type\":[\"ticket\"],\"owned_by\":[\"DEVU-1\"],"
                  "\"created_date\":{\"type\":\"range\","
                  "\"after\":\"1970-01-01T00:00:00.005Z\"},\"limit\":50,"
                  "\"cursor\":\"c2\"}");
  free(json);
}

/* The DevRev object a message came from: an internal note for the agent
 * (not the ticket body: no customer/channel lines, no marker lookup) and
 * a works.update of only the fields given. */
static void test_source_requests(void)
{
  struct devrev_alert a = alert();
  char *json =
      devrev_source_comment_request("don:core:dvrv-us-1:devo/0:ticket/12", &a);
  CHECK_STR(json,
            "{\"object\":\"don:core:dvrv-us-1:devo/0:ticket/12\","
            "\"type\":\"timeline_comment\","
            "\"body\":\"frustration-alert: this customer's message reads as "
            "angry (polarity -0.75).\\n"
            "Deciding words: `'terrible', 'never'`\\n"
            "Excerpt:\\n```\\nThis is \\\"terrible\\\".\\nFix it!\\n```\\n\\n"
            "frustration-alert-id: 0123456789abcdef0123456789abcdef\","
            "\"body_type\":\"text\",\"visibility\":\"internal\"}");
  free(json);
  /* With the alert's ticket known, the agent is pointed at it. */
  a.ticket = "TKT-3";
  json = devrev_source_comment_request("don:core:x:conversation/7", &a);
  CHECK(strstr(json, "\"object\":\"don:core:x:conversation/7\"") != NULL);
  CHECK(strstr(json, "'never'`\\nAlert ticket: TKT-3\\nExcerpt:") != NULL);
  CHECK(strstr(json, "\"visibility\":\"internal\"") != NULL);
  free(json);
  /* Only what is known; the marker stays the last line. */
  struct devrev_alert b = {.alert_key = "k"};
  json = devrev_source_comment_request("o", &b);
  CHECK_STR(json, "{\"object\":\"o\",\"type\":\"timeline_comment\","
                  "\"body\":\"frustration-alert: this customer's message "
                  "reads as frustrated.\\n\\nfrustration-alert-id: k\","
                  "\"body_type\":\"text\",\"visibility\":\"internal\"}");
  free(json);

  json = devrev_source_update_request("don:core:x:ticket/12", "high", 5);
  CHECK_STR(json, "{\"id\":\"don:core:x:ticket/12\",\"type\":\"ticket\","
                  "\"severity\":\"high\",\"sentiment\":5}");
  free(json);
  json = devrev_source_update_request("don:core:x:ticket/12", "blocker", 0);
  CHECK_STR(json, "{\"id\":\"don:core:x:ticket/12\",\"type\":\"ticket\","
                  "\"severity\":\"blocker\"}");
  free(json);
  json = devrev_source_update_request("don:core:x:ticket/12", NULL, 4);
  CHECK_STR(json, "{\"id\":\"don:core:x:ticket/12\",\"type\":\"ticket\","
                  "\"sentiment\":4}");
  free(json);
  json = devrev_source_update_request("t", "", -1);
  CHECK_STR(json, "{\"id\":\"t\",\"type\":\"ticket\"}");
  free(json);
}

static void test_source_comment_bounds(void)
{
  static char big[6001];
  for (int i = 0; i < 3000; i++)
    memcpy(big + 2 * i, "\xc3\xa9", 2);
  big[6000] = '\0';
  struct devrev_alert a = {.alert_key = "k",
                           .level = big,
                           .words = big,
                           .excerpt = big,
                           .ticket = big};
  char *json = devrev_source_comment_request("o", &a);
  CHECK(utf8_is_valid(json, strlen(json)));
  /* level 32 + words 1000 + ticket 256 + excerpt 2000 bytes, and text. */
  CHECK(strlen(json) < 3600);
  const char *tail = "\\nfrustration-alert-id: k\",\"body_type\"";
  CHECK(strstr(json, tail) != NULL);
  free(json);
}

static void test_bounds(void)
{
  char big[5000];
  /* 2500 two-byte characters. */
  for (int i = 0; i < 2500; i++)
    memcpy(big + 2 * i, "\xc3\xa9", 2);
  big[5000 - 1] = '\0';
  big[4998] = '\0';
  struct devrev_alert a = {
      .alert_key = "k", .customer_id = big, .excerpt = big, .level = "angry"};
  char *title = devrev_ticket_title(&a);
  CHECK(strlen(title) <= DEVREV_TITLE_MAX);
  CHECK(utf8_is_valid(title, strlen(title)));
  free(title);
  char *body = devrev_ticket_body(&a);
  CHECK(strlen(body) < 4000);
  CHECK(utf8_is_valid(body, strlen(body)));
  /* The marker stays the last line however long the text. */
  const char *tail = "\nfrustration-alert-id: k";
  CHECK(strlen(body) > strlen(tail) &&
        !strcmp(body + strlen(body) - strlen(tail), tail));
  free(body);
}

static void test_classify_success(void)
{
  struct devrev_reply r;
  const char *created = "{\"work\":{\"type\":\"ticket\",\"id\":\"don:t/12\","
                        "\"display_id\":\"TKT-12\"}}";
  devrev_classify(DEVREV_OP_CREATE, 201, NULL, created, strlen(created), &r);
  CHECK_INT(r.cls, DEVREV_OK);
  CHECK_INT(r.http_status, 201);
  CHECK_STR(r.work_id, "don:t/12");
  CHECK_STR(r.display_id, "TKT-12");
  CHECK_STR(r.error, "");
  /* Created without an id we can read: the outcome is unknown. */
  devrev_classify(DEVREV_OP_CREATE, 201, NULL, "{}", 2, &r);
  CHECK_INT(r.cls, DEVREV_UNKNOWN);
  devrev_classify(DEVREV_OP_CREATE, 200, NULL, "not json", 8, &r);
  CHECK_INT(r.cls, DEVREV_UNKNOWN);
  devrev_classify(DEVREV_OP_CREATE, 201, NULL, "{\"work\":{\"id\":\"\"}}", 18,
                  &r);
  CHECK_INT(r.cls, DEVREV_UNKNOWN);
  /* Comments and updates only need a 2xx. */
  devrev_classify(DEVREV_OP_COMMENT, 201, NULL, "", 0, &r);
  CHECK_INT(r.cls, DEVREV_OK);
  devrev_classify(DEVREV_OP_UPDATE, 200, NULL, "{\"work\":{}}", 11, &r);
  CHECK_INT(r.cls, DEVREV_OK);
  /* A list without works cannot answer a lookup. */
  devrev_classify(DEVREV_OP_LIST, 200, NULL, "{}", 2, &r);
  CHECK_INT(r.cls, DEVREV_RETRY);
  devrev_classify(DEVREV_OP_LIST, 200, NULL, "{\"works\":[]}", 12, &r);
  CHECK_INT(r.cls, DEVREV_OK);
  /* Nor a timeline list without its entries (a works array is not one). */
  devrev_classify(DEVREV_OP_TIMELINE, 200, NULL, "{\"works\":[]}", 12, &r);
  CHECK_INT(r.cls, DEVREV_RETRY);
  CHECK(strstr(r.error, "timeline_entries") != NULL);
  devrev_classify(DEVREV_OP_TIMELINE, 200, NULL,
                  "{\"timeline_entries\":[]}", 23, &r);
  CHECK_INT(r.cls, DEVREV_OK);
  /* works.get: the current severity, "" when the work has none. */
  const char *got = "{\"work\":{\"id\":\"don:t/12\",\"severity\":\"blocker\"}}";
  devrev_classify(DEVREV_OP_GET, 200, NULL, got, strlen(got), &r);
  CHECK_INT(r.cls, DEVREV_OK);
  CHECK_STR(r.severity, "blocker");
  devrev_classify(DEVREV_OP_GET, 200, NULL, "{\"work\":{}}", 11, &r);
  CHECK_INT(r.cls, DEVREV_OK);
  CHECK_STR(r.severity, "");
  devrev_classify(DEVREV_OP_GET, 200, NULL, "{}", 2, &r);
  CHECK_INT(r.cls, DEVREV_RETRY);
  devrev_classify(DEVREV_OP_GET, 404, NULL, "{}", 2, &r);
  CHECK_INT(r.cls, DEVREV_PERMANENT);
  /* Severities by rank: only a higher one is ever sent. */
  CHECK(devrev_severity_rank("blocker") > devrev_severity_rank("high"));
  CHECK(devrev_severity_rank("high") > devrev_severity_rank("medium"));
  CHECK(devrev_severity_rank("medium") > devrev_severity_rank("low"));
  CHECK(devrev_severity_rank("low") > devrev_severity_rank(""));
  CHECK_INT(devrev_severity_rank(NULL), 0);
  CHECK_INT(devrev_severity_rank("urgent"), 0);
}

static void test_classify_errors(void)
{
  struct devrev_reply r;
  const char *missing =
      "{\"type\":\"missing_required_field\",\"message\":\"applies_to_part is "
      "required\",\"field_name\":\"applies_to_part\"}";
  devrev_classify(DEVREV_OP_CREATE, 400, NULL, missing, strlen(missing), &r);
  CHECK_INT(r.cls, DEVREV_PERMANENT);
  CHECK_STR(r.error, "HTTP 400 missing_required_field: applies_to_part is "
                     "required (field applies_to_part)");
  CHECK_STR(r.work_id, "");
  const char *nf = "{\"message\":\"route not found\"}";
  devrev_classify(DEVREV_OP_COMMENT, 404, NULL, nf, strlen(nf), &r);
  CHECK_INT(r.cls, DEVREV_PERMANENT);
  CHECK_STR(r.error, "HTTP 404: route not found");
  static const struct {
    int status;
    enum devrev_class cls;
  } table[] = {
      /* A refused token is the configuration's fault: not a dead letter. */
      {400, DEVREV_PERMANENT}, {401, DEVREV_AUTH},
      {403, DEVREV_AUTH},      {404, DEVREV_PERMANENT},
      {409, DEVREV_PERMANENT}, {422, DEVREV_PERMANENT},
      {408, DEVREV_RETRY},     {429, DEVREV_RATE_LIMITED},
      {500, DEVREV_RETRY},     {502, DEVREV_RETRY},
      {503, DEVREV_RETRY},     {504, DEVREV_RETRY},
      {301, DEVREV_RETRY},     {100, DEVREV_RETRY},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    devrev_classify(DEVREV_OP_CREATE, table[i].status, NULL, NULL, 0, &r);
    CHECK_INT(r.cls, table[i].cls);
    CHECK_INT(r.http_status, table[i].status);
    CHECK(r.error[0] != '\0');
  }
  /* A body that is not JSON is quoted, control bytes blanked. */
  const char *html = "<html>\nBad\tgateway";
  devrev_classify(DEVREV_OP_UPDATE, 502, NULL, html, strlen(html), &r);
  CHECK_STR(r.error, "HTTP 502: <html> Bad gateway");
}

static void test_classify_rate_limit(void)
{
  struct devrev_reply r;
  const char *body = "{\"type\":\"too_many_requests\",\"message\":\"slow "
                     "down\",\"retry_after\":7}";
  size_t len = strlen(body);
  devrev_classify(DEVREV_OP_CREATE, 429, "30", body, len, &r);
  CHECK_INT(r.cls, DEVREV_RATE_LIMITED);
  CHECK_INT(r.retry_after_ms, 30000);
  devrev_classify(DEVREV_OP_CREATE, 429, " 2 \r\n", body, len, &r);
  CHECK_INT(r.retry_after_ms, 2000);
  devrev_classify(DEVREV_OP_CREATE, 429, "0.5", body, len, &r);
  CHECK_INT(r.retry_after_ms, 500);
  /* No header, or one we do not read (an HTTP-date): the body's field. */
  devrev_classify(DEVREV_OP_CREATE, 429, NULL, body, len, &r);
  CHECK_INT(r.retry_after_ms, 7000);
  devrev_classify(DEVREV_OP_CREATE, 429, "Wed, 21 Oct 2015 07:28:00 GMT", body,
                  len, &r);
  CHECK_INT(r.retry_after_ms, 7000);
  devrev_classify(DEVREV_OP_CREATE, 429, "-3", body, len, &r);
  CHECK_INT(r.retry_after_ms, 7000);
  /* Neither. */
  devrev_classify(DEVREV_OP_CREATE, 429, NULL, "{}", 2, &r);
  CHECK_INT(r.retry_after_ms, -1);
  devrev_classify(DEVREV_OP_CREATE, 429, "soon", NULL, 0, &r);
  CHECK_INT(r.retry_after_ms, -1);
  /* Absurd values are capped at a day. */
  devrev_classify(DEVREV_OP_CREATE, 429, "99999999999", NULL, 0, &r);
  CHECK_INT(r.retry_after_ms, 86400000);
  devrev_classify(DEVREV_OP_CREATE, 429, NULL, "{\"retry_after\":1e300}", 21,
                  &r);
  CHECK_INT(r.retry_after_ms, 86400000);
  CHECK_STR(devrev_class_name(DEVREV_RATE_LIMITED), "rate_limited");
  CHECK_STR(devrev_class_name(DEVREV_AUTH), "auth");
}

static void test_classify_failure(void)
{
  struct devrev_reply r;
  devrev_classify_failure(false, "Couldn't connect to server", &r);
  CHECK_INT(r.cls, DEVREV_RETRY);
  CHECK_INT(r.http_status, 0);
  CHECK_STR(r.error, "not sent: Couldn't connect to server");
  devrev_classify_failure(true, "Timeout was reached", &r);
  CHECK_INT(r.cls, DEVREV_UNKNOWN);
  CHECK_STR(r.error, "no answer after sending: Timeout was reached");
}

static void test_find_marker(void)
{
  struct devrev_reply r;
  const char *key = "0123456789abcdef0123456789abcdef";
  const char *list =
      "{\"works\":["
      /* The key inside the customer's text, not as the last line. */
      "{\"id\":\"don:t/1\",\"display_id\":\"TKT-1\",\"body\":\"x\\n"
      "frustration-alert-id: 0123456789abcdef0123456789abcdef\\nmore\"},"
      /* Another alert's key that starts the same. */
      "{\"id\":\"don:t/2\",\"body\":\"frustration-alert-id: "
      "0123456789abcdef0123456789abcdef00\"},"
      /* Not on a line of its own. */
      "{\"id\":\"don:t/3\",\"body\":\"xfrustration-alert-id: "
      "0123456789abcdef0123456789abcdef\"},"
      "{\"id\":\"don:t/4\",\"display_id\":\"TKT-4\",\"body\":\"hello\\r\\n"
      "frustration-alert-id: 0123456789abcdef0123456789abcdef \\r\\n\"},"
      "{\"id\":\"don:t/5\",\"body\":\"frustration-alert-id: "
      "0123456789abcdef0123456789abcdef\"}"
      "],\"next_cursor\":\"c-2\"}";
  CHECK(devrev_find_marker(list, strlen(list), key, &r));
  CHECK(r.found);
  CHECK_STR(r.work_id, "don:t/4");
  CHECK_STR(r.display_id, "TKT-4");
  CHECK_STR(r.next_cursor, "c-2");
  CHECK(devrev_find_marker(list, strlen(list), "ffff", &r));
  CHECK(!r.found);
  /* A body that is just the marker (first line) counts. */
  const char *one = "{\"works\":[{\"id\":\"don:t/5\",\"body\":"
                    "\"frustration-alert-id: k9\"}]}";
  CHECK(devrev_find_marker(one, strlen(one), "k9", &r));
  CHECK(r.found);
  CHECK_STR(r.work_id, "don:t/5");
  CHECK_STR(r.display_id, "");
  CHECK_STR(r.next_cursor, "");
  /* Works without an id or body are skipped; non-list replies refused. */
  const char *odd = "{\"works\":[{\"body\":\"frustration-alert-id: k9\"},"
                    "{\"id\":7},3,null]}";
  CHECK(devrev_find_marker(odd, strlen(odd), "k9", &r));
  CHECK(!r.found);
  CHECK(!devrev_find_marker("{}", 2, "k9", &r));
  CHECK(!devrev_find_marker("[", 1, "k9", &r));
  CHECK(!devrev_find_marker(NULL, 0, "k9", &r));
  /* An empty key never matches. */
  CHECK(devrev_find_marker(one, strlen(one), "", &r));
  CHECK(!r.found);
}

/* A comment's own lines, as the worker writes them (the entry, then the
 * marker), and the timeline-entries.list scan that finds them. */
static void test_find_comment_marker(void)
{
  struct devrev_alert a = {.alert_key = "k9", .excerpt = "awful", .entry_id = 17};
  char *req = devrev_comment_request("don:t/12", &a);
  CHECK(strstr(req, "\\nfrustration-alert-entry: 17\\nfrustration-alert-id: "
                    "k9\"") != NULL);
  free(req);
  a.entry_id = 0; /* no entry: the marker line alone */
  req = devrev_comment_request("don:t/12", &a);
  CHECK(strstr(req, "frustration-alert-entry") == NULL);
  free(req);
  req = devrev_timeline_list_request("don:t/12", NULL);
  CHECK_STR(req, "{\"object\":\"don:t/12\",\"visibility\":[\"internal\"],"
                 "\"limit\":50}");
  free(req);
  req = devrev_timeline_list_request("don:t/12", "c-2");
  CHECK(strstr(req, "\"cursor\":\"c-2\"") != NULL);
  free(req);

  struct devrev_reply r;
  const char *list =
      "{\"timeline_entries\":["
      /* The same alert's other comment. */
      "{\"id\":\"don:c/1\",\"body\":\"x\\nfrustration-alert-entry: 16\\n"
      "frustration-alert-id: k9\"},"
      /* An entry id that starts the same. */
      "{\"id\":\"don:c/2\",\"body\":\"x\\nfrustration-alert-entry: 170\\n"
      "frustration-alert-id: k9\"},"
      /* The entry's line, but another alert's marker. */
      "{\"id\":\"don:c/3\",\"body\":\"x\\nfrustration-alert-entry: 17\\n"
      "frustration-alert-id: k90\"},"
      /* The lines apart: not the worker's. */
      "{\"id\":\"don:c/4\",\"body\":\"frustration-alert-entry: 17\\nx\\n"
      "frustration-alert-id: k9\"},"
      /* Not at the start of its line. */
      "{\"id\":\"don:c/5\",\"body\":\"xfrustration-alert-entry: 17\\n"
      "frustration-alert-id: k9\"},"
      "{\"id\":\"don:c/6\",\"body\":\"hi\\r\\nfrustration-alert-entry: 17\\r\\n"
      "frustration-alert-id: k9\\r\\n\"}"
      "],\"next_cursor\":\"c-2\"}";
  CHECK(devrev_find_entry_marker(list, strlen(list), "k9", 17, &r));
  CHECK(r.found);
  CHECK_STR(r.work_id, "don:c/6");
  CHECK_STR(r.next_cursor, "c-2");
  CHECK(devrev_find_entry_marker(list, strlen(list), "k9", 16, &r));
  CHECK(r.found);
  CHECK_STR(r.work_id, "don:c/1");
  CHECK(devrev_find_entry_marker(list, strlen(list), "k9", 18, &r));
  CHECK(!r.found);
  /* A comment line at the very start of the body counts. */
  const char *first = "{\"timeline_entries\":[{\"id\":\"don:c/7\",\"body\":"
                      "\"frustration-alert-entry: 5\\nfrustration-alert-id: "
                      "k9\"}]}";
  CHECK(devrev_find_entry_marker(first, strlen(first), "k9", 5, &r));
  CHECK(r.found);
  CHECK_STR(r.next_cursor, "");
  /* No entry id finds nothing; a works list is not a timeline list. */
  CHECK(devrev_find_entry_marker(first, strlen(first), "k9", 0, &r));
  CHECK(!r.found);
  const char *works = "{\"works\":[]}";
  CHECK(!devrev_find_entry_marker(works, strlen(works), "k9", 5, &r));
  CHECK(!devrev_find_entry_marker(NULL, 0, "k9", 5, &r));
}

static void test_open_validation(void)
{
  struct devrev *dv = NULL;
  struct devrev_config cfg = CFG;
  cfg.part_id = "";
  CHECK_INT(devrev_open(&cfg, &dv), ERR_INVALID);
  cfg = CFG;
  cfg.token = NULL;
  CHECK_INT(devrev_open(&cfg, &dv), ERR_INVALID);
  CHECK(dv == NULL);
  CHECK_INT(devrev_open(&CFG, &dv), ERR_OK);
  /* Port 1 on loopback refuses: a failure before sending. */
  struct devrev_reply r;
  struct devrev_alert a = alert();
  CHECK_INT(devrev_create_ticket(dv, &a, &r), ERR_NET);
  CHECK_INT(r.cls, DEVREV_RETRY);
  devrev_abort(dv);
  CHECK_INT(devrev_add_comment(dv, "t", &a, &r), ERR_NET);
  CHECK_INT(r.cls, DEVREV_RETRY);
  CHECK_INT(devrev_add_source_comment(dv, "o", &a, &r), ERR_NET);
  CHECK_INT(r.cls, DEVREV_RETRY);
  CHECK_INT(devrev_update_source(dv, "t", "high", 5, &r), ERR_NET);
  CHECK_INT(r.cls, DEVREV_RETRY);
  devrev_close(dv);
  devrev_close(NULL);
}

int main(void)
{
  RUN(test_create_request);
  RUN(test_comment_update_list_requests);
  RUN(test_customer_text_quoted);
  RUN(test_source_requests);
  RUN(test_source_comment_bounds);
  RUN(test_bounds);
  RUN(test_classify_success);
  RUN(test_classify_errors);
  RUN(test_classify_rate_limit);
  RUN(test_classify_failure);
  RUN(test_find_marker);
  RUN(test_find_comment_marker);
  RUN(test_open_validation);
  HARNESS_EXIT();
}
