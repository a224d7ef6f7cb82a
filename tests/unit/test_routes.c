/* Unit tests of http/routes: dispatch and validation without a socket. */
#include "harness.h"

#include <cjson/cJSON.h>

#include "http/app.h"
#include "http/routes.h"
#include "alerting/committer.h"

static struct config cfg;
static struct app app;
static struct routes_scratch scratch;
static struct http_response resp;
static cJSON *parsed;

/* Runs one request; the body is copied so that it ends in a NUL. */
static int call(const char *method, const char *path, const char *ctype,
                const char *body, size_t len)
{
  char *copy = malloc(len + 1);
  memcpy(copy, body, len);
  copy[len] = '\0';
  struct http_request req = {
      .method = method, .path = path, .content_type = ctype, .body = copy,
      .body_len = len};
  routes_handle(&app, &scratch, &req, &resp);
  free(copy);
  cJSON_Delete(parsed);
  parsed = NULL;
  if (!strcmp(resp.content_type, "application/json"))
    parsed = cJSON_Parse(buf_ptr(&resp.body));
  return resp.status;
}

static int post(const char *path, const char *json)
{
  return call("POST", path, "application/json", json, strlen(json));
}

static const char *str_field(const char *name)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(parsed, name);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void expect_error(int status, const char *code)
{
  CHECK_INT(resp.status, status);
  CHECK_STR(str_field("error"), code);
  CHECK(str_field("message") != NULL);
  CHECK_STR(resp.error, code);
}

static void dispatch(void)
{
  CHECK_INT(call("GET", "/nope", NULL, "", 0), 404);
  expect_error(404, "not_found");
  CHECK_INT(resp.route, METRICS_ROUTE_OTHER);

  CHECK_INT(call("GET", "/webhook", NULL, "", 0), 405);
  expect_error(405, "method_not_allowed");
  CHECK_STR(resp.allow, "POST");
  CHECK_INT(resp.route, METRICS_ROUTE_WEBHOOK);

  CHECK_INT(call("POST", "/health", "application/json", "{}", 2), 405);
  CHECK_STR(resp.allow, "GET, HEAD");

  CHECK_INT(call("HEAD", "/health", NULL, "", 0), 200);
  CHECK_INT(call("GET", "/health", NULL, "", 0), 200);
  CHECK_STR(str_field("status"), "ok");
  CHECK(resp.allow == NULL);

  CHECK_INT(call("GET", "/metrics", NULL, "", 0), 200);
  CHECK(!strncmp(resp.content_type, "text/plain; version=0.0.4", 25));
  CHECK(strstr(buf_ptr(&resp.body), "# TYPE fa_http_requests_total counter"));
}

static void content_types(void)
{
  const char *body = "{\"customer_id\":\"c\",\"message\":\"fine\"}";
  size_t len = strlen(body);
  const char *ok[] = {"application/json", "application/json;charset=utf-8",
                      "Application/JSON ; charset=\"UTF-8\"",
                      "application/json; charset=utf-8;"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    CHECK_INT(call("POST", "/webhook", ok[i], body, len), 200);
  }
  const char *bad[] = {"text/plain",
                       "application/jsonx",
                       "application/json; foo=bar",
                       "application/json; charset=latin-1",
                       "application/x-www-form-urlencoded",
                       ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_INT(call("POST", "/webhook", bad[i], body, len), 415);
    expect_error(415, "unsupported_media_type");
  }
  CHECK_INT(call("POST", "/webhook", NULL, body, len), 415);
  CHECK_INT(call("POST", "/slash-analyze", "application/x-www-form-urlencoded",
                 "text=hello", 10),
            200);
}

static void webhook_single(void)
{
  CHECK_INT(post("/webhook", "{\"customer_id\": \"c1\", \"message\": "
                             "\"This is terrible\", \"message_id\": \"m9\"}"),
            200);
  CHECK_STR(str_field("customer_id"), "c1");
  CHECK_STR(str_field("message_id"), "m9");
  CHECK_STR(str_field("alert"), "none");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(parsed, "frustrated")));
  CHECK(cJSON_IsArray(cJSON_GetObjectItem(parsed, "assessments")));
  CHECK(resp.error == NULL);
}

static void webhook_batch_all_or_nothing(void)
{
  uint64_t before = 0, after = 0;
  for (size_t i = 0; i < cfg.n_levels; i++)
    before += app.metrics.messages[i];
  CHECK_INT(post("/webhook", "{\"messages\": [{\"customer_id\": \"a\", "
                             "\"message\": \"bad\"}, {\"customer_id\": \"b\", "
                             "\"message\": 7}]}"),
            400);
  expect_error(400, "invalid_field");
  CHECK_INT(cJSON_GetObjectItem(parsed, "index")->valueint, 1);
  CHECK(strstr(str_field("message"), "messages[1]") != NULL);
  for (size_t i = 0; i < cfg.n_levels; i++)
    after += app.metrics.messages[i];
  CHECK_INT(after, before);

  CHECK_INT(post("/webhook", "{\"messages\": [{\"customer_id\": \"a\", "
                             "\"message\": \"bad\"}, {\"customer_id\": \"b\", "
                             "\"message\": \"good\"}]}"),
            200);
  CHECK_INT(cJSON_GetObjectItem(parsed, "count")->valueint, 2);
  CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(parsed, "results")), 2);

  char big[4096] = "{\"messages\": [";
  for (size_t i = 0; i <= cfg.max_batch; i++)
    strcat(big, i ? ",{\"customer_id\":\"c\",\"message\":\"x\"}"
                  : "{\"customer_id\":\"c\",\"message\":\"x\"}");
  strcat(big, "]}");
  CHECK_INT(post("/webhook", big), 413);
  expect_error(413, "too_many_items");
}

static void strict_json(void)
{
  const char *bad[] = {
      "",
      "{",
      "{\"customer_id\": \"c\", \"message\": \"x\"} x",
      "{\"customer_id\": \"c\", \"message\": \"x\", \"n\": 01}",
      "{\"customer_id\": \"c\", \"message\": \"x\", \"n\": -}",
      "{\"customer_id\": \"c\", \"message\": \"x\", \"n\": 1.}",
      "{\"customer_id\": \"c\", \"message\": \"x\", \"n\": 1e}",
      "{\"customer_id\": \"c\", \"message\": \"x\", \"n\": +1}",
      "{\"customer_id\": \"c\", \"message\": \"a\tb\"}",
      "[1, 2]",
      "null",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_INT(post("/webhook", bad[i]), 400);
    expect_error(400, "invalid_json");
  }
  /* A NUL byte would otherwise end the text for cJSON. */
  const char nul[] = "{\"customer_id\": \"c\", \"message\": \"x\"}\0junk";
  CHECK_INT(call("POST", "/webhook", "application/json", nul, sizeof nul - 1),
            400);
  expect_error(400, "invalid_json");
  /* An escaped NUL would end the string for cJSON: refused in any
   * string, while an escaped backslash before "u0000" is plain text. */
  CHECK_INT(post("/webhook", "{\"customer_id\": \"c\\u0000d\", "
                             "\"message\": \"x\"}"),
            400);
  expect_error(400, "nul_in_string");
  CHECK_INT(post("/slash-analyze", "{\"text\": \"ok\\u0000 bad\"}"), 400);
  expect_error(400, "nul_in_string");
  CHECK_INT(post("/webhook", "{\"customer_id\": \"c\\\\u0000\", "
                             "\"message\": \"x\\u0001\"}"),
            200);
  /* cJSON reads a \u escape with a non-hex digit as U+0000 and would cut
   * the string there too ("victim\uZZZZattacker" stored as "victim"). */
  CHECK_INT(post("/webhook", "{\"customer_id\": \"victim\\uZZZZattacker\", "
                             "\"message\": \"x\"}"),
            400);
  expect_error(400, "invalid_json");
  CHECK_INT(post("/slash-analyze", "{\"text\": \"calm \\ud83d alone\"}"), 400);
  expect_error(400, "invalid_json");
  /* Valid numbers pass. */
  CHECK_INT(post("/webhook", "{\"customer_id\": \"c\", \"message\": \"x\", "
                             "\"n\": [-0.5e+3, 0, 12, 1E2]}"),
            200);
  CHECK_INT(
      post("/webhook", "{\"customer_id\": \"c\", \"message\": \"x\xff\"}"),
      400);
  expect_error(400, "invalid_utf8");
}

static void depth_limit(void)
{
  char deep[128];
  int limit = cfg.max_json_depth;
  size_t n = 0;
  n += (size_t)snprintf(deep, sizeof deep,
                        "{\"customer_id\":\"c\","
                        "\"message\":\"x\",\"d\":");
  for (int i = 1; i < limit; i++)
    deep[n++] = '[';
  for (int i = 1; i < limit; i++)
    deep[n++] = ']';
  deep[n++] = '}';
  deep[n] = '\0';
  CHECK_INT(post("/webhook", deep), 200);
  memmove(deep + 1, deep, n + 1);
  deep[0] = '[';
  deep[n + 1] = ']';
  deep[n + 2] = '\0';
  CHECK_INT(post("/webhook", deep), 400);
  expect_error(400, "too_deep");
}

static void fields(void)
{
  struct {
    const char *json;
    const char *code;
  } cases[] = {
      {"{\"message\": \"x\"}", "missing_field"},
      {"{\"customer_id\": \"c\"}", "missing_field"},
      {"{\"customer_id\": 1, \"message\": \"x\"}", "invalid_field"},
      {"{\"customer_id\": \"\", \"message\": \"x\"}", "invalid_field"},
      {"{\"customer_id\": \"c\", \"message\": true}", "invalid_field"},
      {"{\"customer_id\": \"c\", \"message\": \"x\", \"lang\": 1}",
       "invalid_field"},
      {"{\"customer_id\": \"c\", \"message\": \"x\", \"timestamp\": []}",
       "invalid_field"},
      {"{\"customer_id\": \"c\", \"message\": \"\"}", "empty_message"},
      {"{\"customer_id\": \"c\", \"message\": \" \\n\\t\"}", "empty_message"},
      {"{\"customer_id\": \"c\", \"message\": \"\\u00a0\\u2003\"}",
       "empty_message"},
      {"{\"messages\": {}}", "invalid_field"},
      {"{\"messages\": []}", "invalid_field"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    CHECK_INT(post("/webhook", cases[i].json), 400);
    expect_error(400, cases[i].code);
  }
  CHECK_INT(post("/webhook", "{\"customer_id\": \"c\", \"message\": \"x\", "
                             "\"timestamp\": 17.5, \"channel\": null}"),
            200);
}

/* The language a message gives wins over the detected one; one that is
 * not a language code is refused and nothing is stored. */
static void webhook_lang(void)
{
  CHECK_INT(post("/webhook", "{\"customer_id\": \"c\", \"message\": "
                             "\"terrible\", \"lang\": \"pt-BR\"}"),
            200);
  CHECK(!strcmp(str_field("language"), "pt"));
  CHECK(!strcmp(str_field("language_source"), "given"));
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(parsed, "polarity_lexicon")));
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(parsed, "rule_frustrated")));
  CHECK_INT(post("/webhook", "{\"customer_id\": \"c\", \"message\": "
                             "\"terrible\", \"lang\": \"pl\"}"),
            200);
  CHECK(!strcmp(str_field("language"), "pl"));
  CHECK(cJSON_IsFalse(cJSON_GetObjectItem(parsed, "language_supported")));
  CHECK_INT(post("/webhook", "{\"customer_id\": \"c\", \"message\": "
                             "\"terrible\", \"lang\": \"english!\"}"),
            400);
  expect_error(400, "invalid_lang");
  CHECK_INT(post("/webhook", "{\"customer_id\": \"c\", \"message\": "
                             "\"terrible\"}"),
            200);
  CHECK(!strcmp(str_field("language"), "en"));
  CHECK(!strcmp(str_field("language_source"), "detected"));
  CHECK(!strcmp(str_field("polarity_lexicon"), "en"));
}

static void slash(void)
{
  CHECK_INT(post("/slash-analyze", "{\"text\": \"not good, terrible\"}"), 200);
  CHECK(!strncmp(str_field("text"), "Frustrated - ", 13));
  CHECK(strstr(str_field("text"), "model score") != NULL);
  CHECK(!strcmp(str_field("language"), "en"));
  CHECK(cJSON_GetObjectItem(parsed, "alert") == NULL);
  CHECK_INT(post("/slash-analyze", "{\"message\": \"lovely\"}"), 200);
  CHECK(!strncmp(str_field("text"), "Not frustrated", 14));
  CHECK_INT(post("/slash-analyze", "{\"text\": \"  \"}"), 400);
  expect_error(400, "empty_message");
  CHECK_INT(post("/slash-analyze", "{}"), 400);
  expect_error(400, "missing_field");

  const char *form = "application/x-www-form-urlencoded";
  const char *body = "command=%2Fa&text=so+bad+%26+%3Cawful%3E";
  CHECK_INT(call("POST", "/slash-analyze", form, body, strlen(body)), 200);
  CHECK_STR(str_field("response_type"), "ephemeral");
  const cJSON *block =
      cJSON_GetArrayItem(cJSON_GetObjectItem(parsed, "blocks"), 0);
  CHECK_STR(cJSON_GetObjectItem(block, "type")->valuestring, "section");
  const cJSON *t = cJSON_GetObjectItem(block, "text");
  CHECK_STR(cJSON_GetObjectItem(t, "type")->valuestring, "mrkdwn");
  CHECK(!strncmp(cJSON_GetObjectItem(t, "text")->valuestring, "*Frustrated*",
                 12));
  CHECK(strchr(str_field("text"), '<') == NULL);

  CHECK_INT(call("POST", "/slash-analyze", form, "text=%4", 7), 400);
  expect_error(400, "invalid_form");
  /* An empty command: Slack shows its caller a usage hint, not an error. */
  CHECK_INT(call("POST", "/slash-analyze", form, "text=", 5), 200);
  CHECK(!strncmp(str_field("text"), "Usage: /frustration ", 20));
  CHECK_STR(str_field("response_type"), "ephemeral");
  CHECK_INT(call("POST", "/slash-analyze", form, "user=x", 6), 400);
  expect_error(400, "missing_field");
  CHECK_INT(call("POST", "/slash-analyze", form, "ssl_check=1", 11), 200);
}

static void body_limit(void)
{
  size_t len = cfg.max_body_bytes + 1;
  char *big = malloc(len);
  memset(big, ' ', len);
  CHECK_INT(call("POST", "/webhook", "application/json", big, len), 413);
  expect_error(413, "body_too_large");
  free(big);
}

/* With a store: the outcome is committed and answered; a repeated
 * message_id answers the first result plus "duplicate": true. */
static void webhook_stored(void)
{
  struct committer_options co;
  committer_options_from_config(&cfg, &co);
  char err[256];
  struct committer *cm = NULL;
  CHECK_INT(committer_open(":memory:", &co, err, sizeof err, &cm), ERR_OK);
  app.committer = cm;
  const char *m = "{\"customer_id\": \"s-1\", \"message_id\": \"id-1\","
                  " \"message\": \"This is terrible\"}";
  CHECK_INT(post("/webhook", m), 200);
  CHECK_STR(str_field("alert"), "created");
  CHECK_INT(strlen(str_field("alert_key")), 32);
  char *first = strdup(buf_ptr(&resp.body));
  CHECK_INT(post("/webhook", m), 200);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(parsed, "duplicate")));
  /* The same bytes, "duplicate": true added before the closing brace. */
  size_t n = strlen(first) - 1;
  CHECK(!strncmp(buf_ptr(&resp.body), first, n));
  CHECK_STR(buf_ptr(&resp.body) + n, ",\"duplicate\":true}");
  CHECK_INT(post("/webhook", "{\"messages\": [{\"customer_id\": \"s-1\","
                             " \"message\": \"awful, awful\"}, "
                             "{\"customer_id\": \"s-2\", \"message\": "
                             "\"fine\"}]}"),
            200);
  const cJSON *res = cJSON_GetObjectItemCaseSensitive(parsed, "results");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                cJSON_GetArrayItem(res, 0), "alert")),
            "appended");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                cJSON_GetArrayItem(res, 1), "alert")),
            "none");
  CHECK_INT(call("GET", "/health", NULL, "", 0), 200);
  const cJSON *store = cJSON_GetObjectItemCaseSensitive(parsed, "store");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(store, "ok")));
  CHECK_INT(cJSON_GetObjectItemCaseSensitive(store, "messages_committed")
                ->valueint,
            4);
  free(first);
  app.committer = NULL;
  committer_close(cm);
}

int main(void)
{
  config_defaults(&cfg);
  cfg.max_batch = 5;
  cfg.max_json_depth = 8;
  if (app_init(&app, &cfg)) {
    fprintf(stderr, "app_init failed\n");
    return 1;
  }
  routes_scratch_init(&scratch);
  http_response_init(&resp);

  RUN(dispatch);
  RUN(content_types);
  RUN(webhook_lang);
  RUN(webhook_single);
  RUN(webhook_batch_all_or_nothing);
  RUN(strict_json);
  RUN(depth_limit);
  RUN(fields);
  RUN(slash);
  RUN(body_limit);
  RUN(webhook_stored);

  cJSON_Delete(parsed);
  http_response_cleanup(&resp);
  routes_scratch_cleanup(&scratch);
  app_cleanup(&app);
  HARNESS_EXIT();
}
