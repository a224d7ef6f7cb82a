/* api/feedback: POST /api/feedback (feedback.h says what it takes and
 * answers). The body is read strictly, as every JSON body (routes.c),
 * and then field by field: a body with a field this endpoint does not
 * know is refused, so that a misspelt "frustated" cannot pass for a body
 * without a label. Nothing is written before the whole body is known to
 * be good. */
#include "http/api/feedback.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/jsonw.h"
#include "base/xalloc.h"
#include "http/app.h"
#include "http/routes_int.h"
#include "store/store.h"

struct feedback {
  pthread_mutex_t lock; /* guards st: a store handle is not thread-safe */
  char *url;
  struct store *st; /* opened on first use; NULL after a failure */
};

struct feedback *feedback_new(const char *url)
{
  struct feedback *f = xcalloc(1, sizeof *f);
  pthread_mutex_init(&f->lock, NULL);
  f->url = xstrdup(url);
  return f;
}

void feedback_free(struct feedback *f)
{
  if (!f)
    return;
  store_close(f->st);
  pthread_mutex_destroy(&f->lock);
  free(f->url);
  free(f);
}

/* What a valid body asks for. */
struct label_req {
  const char *message_id; /* NULL: the message is named by row_id */
  int64_t row_id;         /* "id", the store's own number of the message */
  const char *by;         /* NULL: no one named */
  bool has_frustrated;    /* "frustrated" given: the true label */
  bool frustrated;
  bool has_correct; /* "correct" given: the verdict was right/wrong */
  bool correct;
};

static bool read_bool(const cJSON *obj, const char *name, bool *has, bool *out,
                      struct routes_fail *f)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
  *has = v != NULL;
  if (!v)
    return true;
  if (!cJSON_IsBool(v)) {
    routes_fail_set(f, 400, "invalid_field", "%s must be true or false", name);
    return false;
  }
  *out = cJSON_IsTrue(v);
  return true;
}

/* Reads the optional "id": a whole number from 1 to FEEDBACK_MAX_ROW_ID
 * (JSON numbers are doubles here, exact up to it). Absent or null leaves
 * *has false. */
static bool read_row_id(const cJSON *obj, bool *has, int64_t *out,
                        struct routes_fail *f)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "id");
  *has = v && !cJSON_IsNull(v);
  if (!*has)
    return true;
  double d = cJSON_IsNumber(v) ? v->valuedouble : 0;
  if (!(d >= 1 && d <= (double)FEEDBACK_MAX_ROW_ID &&
        d == (double)(int64_t)d)) {
    routes_fail_set(f, 400, "invalid_field",
                    "id must be a positive integer: the id the dashboard "
                    "shows with the message");
    return false;
  }
  *out = (int64_t)d;
  return true;
}

static bool parse_body(const cJSON *obj, struct label_req *r,
                       struct routes_fail *f)
{
  for (const cJSON *it = obj->child; it; it = it->next)
    if (strcmp(it->string, "message_id") && strcmp(it->string, "id") &&
        strcmp(it->string, "frustrated") && strcmp(it->string, "correct") &&
        strcmp(it->string, "by")) {
      routes_fail_set(f, 400, "invalid_field",
                      "unknown field \"%.64s\"; /api/feedback takes "
                      "message_id or id, frustrated or correct, and by",
                      it->string);
      return false;
    }
  bool has_id = false;
  if (!routes_opt_string(obj, "message_id", ROUTES_MAX_ID, &r->message_id, f) ||
      !read_row_id(obj, &has_id, &r->row_id, f) ||
      !routes_opt_string(obj, "by", STORE_LABELLER_MAX, &r->by, f) ||
      !read_bool(obj, "frustrated", &r->has_frustrated, &r->frustrated, f) ||
      !read_bool(obj, "correct", &r->has_correct, &r->correct, f))
    return false;
  /* One name for one message: with both, a message_id and an id that
   * name two different messages would have to be refused after a read,
   * and agreeing ones say nothing more. */
  if (r->message_id && has_id) {
    routes_fail_set(f, 400, "invalid_field", "give message_id or id, not both");
    return false;
  }
  if (!has_id && (!r->message_id || !*r->message_id)) {
    routes_fail_set(f, 400, "invalid_field",
                    "message_id is required (the id the message was sent "
                    "with), or id for a message sent without one (the id "
                    "the dashboard shows)");
    return false;
  }
  if (r->has_frustrated == r->has_correct) {
    routes_fail_set(f, 400, "invalid_field",
                    "give exactly one of \"frustrated\" (the true label) and "
                    "\"correct\" (whether the verdict was right)");
    return false;
  }
  return true;
}

/* Stores r's label under f's lock and fills *done (store_label_cleanup
 * it). One write: a "correct" is turned into the label against the
 * verdict by the store itself (store_label_write), which also gives back
 * the message's names and verdict for the answer. The message (for 404
 * or 503) goes to fail. */
static enum err store_label(struct feedback *fb, const struct label_req *r,
                            int64_t now_ms, struct store_label *done,
                            struct routes_fail *fail)
{
  char err[256] = "";
  pthread_mutex_lock(&fb->lock);
  enum err rc = ERR_OK;
  if (!fb->st)
    rc = store_open(fb->url, err, sizeof err, &fb->st);
  done->relative = r->has_correct;
  done->value = r->has_correct ? r->correct : r->frustrated;
  if (!rc)
    rc = store_label_write(fb->st, r->message_id, r->row_id, r->by, now_ms,
                           done);
  if (rc == ERR_NOT_FOUND) {
    routes_fail_set(fail, 404, "unknown_message",
                    r->message_id ? "no stored message has this message_id"
                                  : "no stored message has this id");
  } else if (rc) {
    routes_fail_set(fail, 503, "store_unavailable", "the store failed: %s",
                    fb->st ? store_errmsg(fb->st) : err);
    /* A handle that failed is opened again next time (a restarted
     * PostgreSQL server, a moved file). */
    store_close(fb->st);
    fb->st = NULL;
  }
  pthread_mutex_unlock(&fb->lock);
  return rc;
}

void api_feedback_handle(struct app *app, struct routes_scratch *s,
                         const struct http_request *req,
                         struct http_response *resp)
{
  (void)s;
  struct routes_fail fail = {.index = -1};
  struct label_req r = {0};
  cJSON *root = NULL;
  if (!*app->cfg->api_token) {
    routes_fail_set(&fail, 403, "api_token_required",
                    "labels change the model: /api/feedback works only when "
                    "API_TOKEN is set");
    goto refuse;
  }
  if (req->body_len > FEEDBACK_MAX_BODY) {
    routes_fail_set(&fail, 413, "body_too_large", "the body exceeds %d bytes",
                    FEEDBACK_MAX_BODY);
    goto refuse;
  }
  if (!app->feedback) {
    routes_fail_set(&fail, 503, "store_unavailable",
                    "this server keeps no store");
    goto refuse;
  }
  root = routes_parse_json(app, req, &fail);
  if (!root || !parse_body(root, &r, &fail))
    goto refuse;
  int64_t now = clock_wall_ms();
  struct store_label done = {0};
  if (store_label(app->feedback, &r, now, &done, &fail)) {
    store_label_cleanup(&done);
    goto refuse;
  }
  char at[32];
  clock_format_rfc3339(now, at);
  struct jsonw w;
  jsonw_init(&w, &resp->body);
  jsonw_object_begin(&w);
  /* Both names, whichever the request used: message_id is null for a
   * message sent without one. */
  jsonw_kv_int(&w, "id", done.row_id);
  jsonw_kv_string(&w, "message_id", done.message_id);
  jsonw_kv_bool(&w, "label", done.label);
  jsonw_kv_bool(&w, "verdict", done.verdict);
  jsonw_kv_bool(&w, "agreed", done.label == done.verdict);
  jsonw_kv_string(&w, "labelled_at", at);
  jsonw_kv_string(&w, "labelled_by", r.by);
  jsonw_object_end(&w);
  resp->status = 200;
  resp->content_type = HTTP_CT_JSON;
  http_response_finish_json(&w, resp);
  store_label_cleanup(&done);
  cJSON_Delete(root);
  return;
refuse:
  cJSON_Delete(root);
  routes_fail_write(&fail, resp);
}
