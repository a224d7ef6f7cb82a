/* api/slash: POST /slash-analyze, one text in (JSON, a Slack slash
 * command form, or a DevRev snap-in command forward), its verdict out in
 * the shape the caller posts (Slack blocks, a snap-in comment, or the
 * analysis JSON). */
#include "http/routes_int.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "analysis/analysis.h"
#include "base/bits.h"
#include "base/clock.h"
#include "base/jsonw.h"
#include "base/utf8.h"
#include "http/sig.h"

/* Decodes one application/x-www-form-urlencoded component ('+' is a
 * space, %XX a byte) and appends it to out. ERR_INVALID on a bad escape. */
static enum err form_decode(const char *p, size_t len, struct buf *out)
{
  for (size_t i = 0; i < len; i++) {
    char c = p[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      int hi = i + 2 < len ? bits_hex_digit((unsigned char)p[i + 1]) : -1;
      int lo = i + 2 < len ? bits_hex_digit((unsigned char)p[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        return ERR_INVALID;
      c = (char)(hi * 16 + lo);
      i += 2;
      if (c == '\0')
        return ERR_INVALID; /* %00 would cut the text where it is read */
    }
    enum err rc = buf_putc(out, c);
    if (rc)
      return rc;
  }
  return ERR_OK;
}

/* Finds field name in a form body and decodes its value into out (reset
 * first). *found tells whether it was there; the first occurrence wins. */
static enum err form_field(const char *body, size_t len, const char *name,
                           struct buf *out, bool *found)
{
  size_t name_len = strlen(name);
  size_t i = 0;
  *found = false;
  buf_reset(out);
  while (i < len) {
    const char *amp = memchr(body + i, '&', len - i);
    size_t end = amp ? (size_t)(amp - body) : len;
    const char *eq = memchr(body + i, '=', end - i);
    size_t key_end = eq ? (size_t)(eq - body) : end;
    if (key_end - i == name_len && !memcmp(body + i, name, name_len)) {
      *found = true;
      return eq ? form_decode(eq + 1, end - key_end - 1, out) : ERR_OK;
    }
    i = end + 1;
  }
  return ERR_OK;
}

/* Appends s with Slack's three mrkdwn escapes (&, <, >). ERR_TOO_BIG
 * past out's limit. */
static enum err slack_escape(struct buf *out, const char *s, size_t len)
{
  enum err rc = ERR_OK;
  for (size_t i = 0; i < len && !rc; i++) {
    switch (s[i]) {
    case '&':
      rc = buf_puts(out, "&amp;");
      break;
    case '<':
      rc = buf_puts(out, "&lt;");
      break;
    case '>':
      rc = buf_puts(out, "&gt;");
      break;
    default:
      rc = buf_putc(out, s[i]);
    }
  }
  return rc;
}

/* Block Kit's limit on a section's text object, and Slack's on a
 * message's top-level text (longer is cut by Slack, not refused), in
 * characters (https://api.slack.com/reference/block-kit/blocks#section,
 * https://api.slack.com/methods/chat.postMessage#truncating). */
#define SLACK_SECTION_TEXT_MAX 3000
#define SLACK_MESSAGE_TEXT_MAX 40000

/* Cuts the mrkdwn text in out to at most max characters (utf8_cut's count)
 * on a UTF-8 boundary, never inside one of slack_escape's entities, and
 * marks the cut with an ellipsis. */
static enum err slack_cap(struct buf *out, size_t max)
{
  const char *t = buf_ptr(out);
  if (utf8_cut(t, out->len, max) == out->len)
    return ERR_OK;
  size_t cut = utf8_cut(t, out->len, max - 1);
  /* "&amp;" is 5 bytes: an '&' in the 4 bytes before the cut with no ';'
   * after it starts an entity the cut would split. */
  for (size_t i = cut; i > 0 && cut - i < 4; i--) {
    if (t[i - 1] == ';')
      break;
    if (t[i - 1] == '&') {
      cut = i - 1;
      break;
    }
  }
  out->len = cut;
  return buf_puts(out, "\xe2\x80\xa6"); /* U+2026 */
}

/* The answer to an empty Slack command: a usage hint only its caller sees
 * (a 400 would show the user an error from Slack instead). */
static void slack_usage(struct routes_scratch *s,
                        const struct http_request *req,
                        struct http_response *resp)
{
  bool found = false;
  buf_reset(&s->verdict);
  if (form_field(req->body, req->body_len, "command", &s->verdict, &found) ||
      !found || !s->verdict.len || s->verdict.len > 64 ||
      !utf8_is_valid(buf_ptr(&s->verdict), s->verdict.len)) {
    buf_reset(&s->verdict);
    buf_must_fit(buf_puts(&s->verdict, "/frustration"));
  }
  /* A command of at most 64 bytes and two literals. */
  buf_reset(&s->text);
  buf_must_fit(buf_puts(&s->text, "Usage: "));
  buf_must_fit(slack_escape(&s->text, buf_ptr(&s->verdict), s->verdict.len));
  buf_must_fit(buf_puts(&s->text,
                        " TEXT: tells whether a customer's message reads as "
                        "frustrated, and why."));
  struct jsonw w;
  jsonw_init(&w, &resp->body);
  jsonw_object_begin(&w);
  jsonw_kv_string(&w, "response_type", "ephemeral");
  jsonw_key(&w, "text");
  jsonw_string_len(&w, buf_ptr(&s->text), s->text.len);
  jsonw_object_end(&w);
  resp->status = 200;
  http_response_finish_json(&w, resp);
}

void api_slash_handle(struct app *app, struct routes_scratch *s,
                      const struct http_request *req,
                      struct http_response *resp)
{
  struct routes_fail f = {.index = -1};
  cJSON *root = NULL;
  const char *text = NULL;
  size_t text_len = 0;
  bool slack = routes_media_type(req->content_type) == ROUTES_MEDIA_FORM;
  /* A DevRev snap-in command forward: {"parameters", "source_id",
   * "actor_id"}; answered with a comment the snap-in can post. */
  const char *source_id = NULL, *actor_id = NULL;
  const char *lang = NULL; /* JSON callers may give the text's language */

  if (slack) {
    /* Slack's periodic certificate check comes unsigned: answer it (as
     * Slack's own Bolt does, before verifying), analyse nothing. */
    bool found;
    if (form_field(req->body, req->body_len, "ssl_check", &s->text, &found) ==
            ERR_OK &&
        found) {
      resp->status = 200;
      buf_must_fit(buf_puts(&resp->body, "{}")); /* an empty body */
      return;
    }
  }
  if (slack && *app->cfg->slack_signing_secret) {
    enum sig_result r = sig_check_slack(
        app->cfg->slack_signing_secret, req->slack_signature,
        req->slack_timestamp, req->body, req->body_len, clock_wall_ms() / 1000,
        (int64_t)app->cfg->signature_max_age_s);
    if (r == SIG_STALE) {
      routes_fail_set(
          &f, 401, "stale_timestamp",
          "X-Slack-Request-Timestamp is missing or more than %u s from "
          "now (SIGNATURE_MAX_AGE)",
          app->cfg->signature_max_age_s);
      goto refuse;
    }
    if (r != SIG_OK) {
      routes_fail_set(&f, 401,
                      r == SIG_MISSING ? "missing_signature" : "bad_signature",
                      "X-Slack-Signature does not verify (%s) against "
                      "SLACK_SIGNING_SECRET",
                      sig_result_name(r));
      goto refuse;
    }
  }

  if (slack) {
    if (!utf8_is_valid(req->body, req->body_len)) {
      routes_fail_set(&f, 400, "invalid_utf8", "the body is not valid UTF-8");
      goto refuse;
    }
    bool found;
    enum err rc =
        form_field(req->body, req->body_len, "text", &s->text, &found);
    if (rc) {
      routes_fail_set(
          &f, 400, "invalid_form",
          "the form body has a malformed %%-escape or a NUL (%%00)");
      goto refuse;
    }
    if (!found) {
      routes_fail_set(&f, 400, "missing_field", "the form has no text field");
      goto refuse;
    }
    if (!utf8_is_valid(s->text.data ? s->text.data : "", s->text.len)) {
      routes_fail_set(&f, 400, "invalid_utf8", "text is not valid UTF-8");
      goto refuse;
    }
    text = buf_ptr(&s->text);
    text_len = s->text.len;
  } else {
    root = routes_parse_json(app, req, &f);
    if (!root)
      goto refuse;
    if (!routes_opt_lang(root, &lang, &f))
      goto refuse;
    const char *name = "text";
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "text");
    if (!v || cJSON_IsNull(v)) {
      name = "message";
      v = cJSON_GetObjectItemCaseSensitive(root, "message");
    }
    if (!v || cJSON_IsNull(v)) {
      v = cJSON_GetObjectItemCaseSensitive(root, "parameters");
      if (v && !cJSON_IsNull(v)) {
        name = "parameters";
        if (!routes_opt_string(root, "source_id", ROUTES_MAX_ID, &source_id,
                               &f) ||
            !routes_opt_string(root, "actor_id", ROUTES_MAX_ID, &actor_id, &f))
          goto refuse;
        if (!source_id || !*source_id) {
          routes_fail_set(
              &f, 400, "missing_field",
              "source_id (the object the command ran on) is required "
              "with parameters");
          goto refuse;
        }
      }
    }
    if (!v || cJSON_IsNull(v)) {
      routes_fail_set(
          &f, 400, "missing_field",
          "text (or message, or a snap-in's parameters) is required");
      goto refuse;
    }
    if (!cJSON_IsString(v)) {
      routes_fail_set(&f, 400, "invalid_field", "%s must be a string", name);
      goto refuse;
    }
    text = v->valuestring;
    text_len = strlen(text);
  }
  if (utf8_is_blank(text, text_len)) {
    if (slack) {
      slack_usage(s, req, resp);
      return;
    }
    routes_fail_set(&f, 400, "empty_message",
                    "the text is empty or only whitespace");
    goto refuse;
  }
  routes_note_text(app, resp, text, text_len);

  struct analysis a;
  analysis_run(app->cfg, &app->lexicons, app->detector, lang, text, text_len,
               &s->scores, &s->model, &a);
  buf_reset(&s->verdict);
  analysis_describe(app->cfg, &a, &s->verdict);

  struct jsonw w;
  jsonw_init(&w, &resp->body);
  jsonw_object_begin(&w);
  if (slack) {
    /* Slack renders "text" as mrkdwn too, so both carry its escapes. */
    const char *v = buf_ptr(&s->verdict);
    size_t head =
        a.frustrated ? strlen("Frustrated") : strlen("Not frustrated");
    if (head > s->verdict.len)
      head = s->verdict.len;
    buf_reset(&s->text); /* the decoded form text is not needed any more */
    enum err rc = slack_escape(&s->text, v, s->verdict.len);
    if (!rc)
      rc = slack_cap(&s->text, SLACK_MESSAGE_TEXT_MAX);
    jsonw_kv_string(&w, "response_type", "ephemeral");
    jsonw_key(&w, "text");
    jsonw_string_len(&w, buf_ptr(&s->text), s->text.len);
    buf_reset(&s->text);
    if (!rc)
      rc = buf_putc(&s->text, '*');
    if (!rc)
      rc = slack_escape(&s->text, v, head);
    if (!rc)
      rc = buf_putc(&s->text, '*');
    if (!rc)
      rc = slack_escape(&s->text, v + head, s->verdict.len - head);
    if (!rc)
      rc = slack_cap(&s->text, SLACK_SECTION_TEXT_MAX);
    if (rc)
      goto too_big;
    jsonw_key(&w, "blocks");
    jsonw_array_begin(&w);
    jsonw_object_begin(&w);
    jsonw_kv_string(&w, "type", "section");
    jsonw_key(&w, "text");
    jsonw_object_begin(&w);
    jsonw_kv_string(&w, "type", "mrkdwn");
    jsonw_key(&w, "text");
    jsonw_string_len(&w, buf_ptr(&s->text), s->text.len);
    jsonw_object_end(&w);
    jsonw_object_end(&w);
    jsonw_array_end(&w);
  } else {
    jsonw_key(&w, "text");
    jsonw_string_len(&w, buf_ptr(&s->verdict), s->verdict.len);
  }
  if (source_id) {
    /* Ready for timeline-entries.create as it is: internal, so the
     * customer never sees the verdict. */
    buf_reset(&s->text);
    if (buf_puts(&s->text, "frustration-alert: ") ||
        buf_append(&s->text, buf_ptr(&s->verdict), s->verdict.len))
      goto too_big;
    jsonw_key(&w, "timeline_entry");
    jsonw_object_begin(&w);
    jsonw_kv_string(&w, "object", source_id);
    jsonw_kv_string(&w, "type", "timeline_comment");
    jsonw_kv_string(&w, "body_type", "text");
    jsonw_key(&w, "body");
    jsonw_string_len(&w, buf_ptr(&s->text), s->text.len);
    jsonw_kv_string(&w, "visibility", "internal");
    jsonw_object_end(&w);
    if (actor_id) {
      jsonw_kv_string(&w, "actor_id", actor_id);
    }
  }
  /* Slack gets Slack's fields only; other callers the whole analysis. */
  if (!slack)
    analysis_write_fields(app->cfg, &a, &w);
  jsonw_object_end(&w);
  resp->status = 200;
  http_response_finish_json(&w, resp);
  cJSON_Delete(root);
  return;

too_big:
  http_response_error(resp, 500, "internal_error",
                      "the response exceeds its size limit");
  cJSON_Delete(root);
  return;

refuse:
  routes_fail_write(&f, resp);
  cJSON_Delete(root);
}
