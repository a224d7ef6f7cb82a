/* devrev: request bodies, reply classification and the libcurl transport
 * for DevRev's works.create, timeline-entries.create, works.update and
 * works.list (on the alert's ticket, or on the message's source object).
 *
 * Classification follows docs/devrev-api.md §1.3-1.5: 2xx success; 429 waits
 * for Retry-After (header, else the body's retry_after); 401 and 403 are
 * the token's fault (AUTH: the worker pauses); 408 and 5xx are worth
 * retrying; any other 4xx is permanent. A transport failure before
 * the request left is harmless (RETRY); after it, DevRev may have acted
 * (UNKNOWN): libcurl's CURLINFO_REQUEST_SIZE tells the two apart. A
 * create (works.create, timeline-entries.create) is sent at most once per
 * call: on a connection of its own, so libcurl never re-sends it.
 *
 * Everything from outside is bounded: reply bodies (DEVREV_REPLY_MAX),
 * fields copied into fixed buffers, text copied into tickets. */
#include "devrev/client.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/jsonw.h"
#include "base/utf8.h"
#include "base/xalloc.h"

/* ---- Text helpers ----------------------------------------------------- */

/* Every piece of a title or body is a literal or cut to a fixed size here
 * (put_cut), so the texts stay far below a buffer's limit: their appends
 * are wrapped in buf_must_fit. */

/* Appends at most max bytes of s, cut on a UTF-8 boundary, with an
 * ellipsis when cut. */
static void put_cut(struct buf *b, const char *s, size_t max)
{
  size_t len = strlen(s);
  size_t n = utf8_cut_bytes(s, len, max);
  buf_must_fit(buf_append(b, s, n));
  if (n < len)
    buf_must_fit(buf_puts(b, "\xe2\x80\xa6"));
}

static bool given(const char *s)
{
  return s && *s;
}

/* ---- Customer text, quoted --------------------------------------------
 *
 * DevRev renders ticket bodies and comments as markdown, where "<don:...>"
 * is a mention and "[x](url)", "<https://...>" and bare URLs are links.
 * Text that came from outside (the message, the words quoted from it, the
 * sender's ids) goes into code, where CommonMark renders nothing: a
 * customer cannot plant a mention or a link in an internal note. */

/* The longest run of backticks in s[0..len). */
static size_t longest_backticks(const char *s, size_t len)
{
  size_t best = 0, run = 0;
  for (size_t i = 0; i < len; i++) {
    run = s[i] == '`' ? run + 1 : 0;
    if (run > best)
      best = run;
  }
  return best;
}

static void put_backticks(struct buf *b, size_t n)
{
  while (n--)
    buf_must_fit(buf_putc(b, '`'));
}

/* s (at most max bytes, cut like put_cut) as an inline code span on one
 * line: line breaks become spaces; the fence is one backtick longer than
 * any run inside; spaces pad a span that starts or ends with a backtick or
 * a space (CommonMark strips one from each side). */
static void put_code_span(struct buf *b, const char *s, size_t max)
{
  struct buf t;
  buf_init(&t, 0);
  put_cut(&t, s, max);
  char *p = t.data ? t.data : "";
  for (size_t i = 0; i < t.len; i++)
    if (p[i] == '\n' || p[i] == '\r')
      p[i] = ' ';
  size_t fence = longest_backticks(p, t.len) + 1;
  bool pad = t.len && (p[0] == '`' || p[0] == ' ' || p[t.len - 1] == '`' ||
                       p[t.len - 1] == ' ');
  put_backticks(b, fence);
  if (pad)
    buf_must_fit(buf_putc(b, ' '));
  buf_must_fit(buf_append(b, p, t.len));
  if (pad)
    buf_must_fit(buf_putc(b, ' '));
  put_backticks(b, fence);
  buf_cleanup(&t);
}

/* s (at most max bytes) as a fenced code block: the fence is longer than
 * any run of backticks inside, so no line of s can close it. */
static void put_code_block(struct buf *b, const char *s, size_t max)
{
  struct buf t;
  buf_init(&t, 0);
  put_cut(&t, s, max);
  size_t fence = longest_backticks(buf_ptr(&t), t.len) + 1;
  if (fence < 3)
    fence = 3;
  put_backticks(b, fence);
  buf_must_fit(buf_putc(b, '\n'));
  buf_must_fit(buf_append(b, buf_ptr(&t), t.len));
  if (t.len && buf_ptr(&t)[t.len - 1] != '\n')
    buf_must_fit(buf_putc(b, '\n'));
  put_backticks(b, fence);
  buf_must_fit(buf_putc(b, '\n'));
  buf_cleanup(&t);
}

/* For a title, which DevRev shows as plain text: s cut like put_cut, with
 * the angle brackets of mentions and autolinks replaced by look-alikes. */
static void put_title_text(struct buf *b, const char *s, size_t max)
{
  struct buf t;
  buf_init(&t, 0);
  put_cut(&t, s, max);
  const char *p = buf_ptr(&t);
  for (size_t i = 0; i < t.len; i++) {
    if (p[i] == '<')
      buf_must_fit(buf_puts(b, "\xe2\x80\xb9")); /* U+2039 */
    else if (p[i] == '>')
      buf_must_fit(buf_puts(b, "\xe2\x80\xba")); /* U+203A */
    else
      buf_must_fit(buf_putc(b, p[i]));
  }
  buf_cleanup(&t);
}

char *devrev_ticket_title(const struct devrev_alert *a)
{
  struct buf b;
  buf_init(&b, 0);
  buf_must_fit(buf_puts(&b, "Frustrated customer: "));
  /* 21 + 160 + level: well inside DevRev's 256 characters. */
  put_title_text(&b, given(a->customer_id) ? a->customer_id : "unknown", 160);
  if (given(a->level)) {
    buf_must_fit(buf_puts(&b, " ("));
    put_cut(&b, a->level, 32);
    buf_must_fit(buf_puts(&b, ")"));
  }
  return buf_take(&b);
}

/* A labelled line with a value from outside, quoted. */
static void put_line(struct buf *b, const char *label, const char *v)
{
  if (!given(v))
    return;
  buf_must_fit(buf_puts(b, label));
  put_code_span(b, v, DEVREV_FIELD_MAX);
  buf_must_fit(buf_putc(b, '\n'));
}

/* The facts shared by ticket bodies and comments. */
static void put_facts(struct buf *b, const struct devrev_alert *a)
{
  put_line(b, "Customer: ", a->customer_id);
  put_line(b, "Conversation: ", a->conversation_id);
  put_line(b, "Channel: ", a->channel);
  put_line(b, "Language: ", a->language);
  if (given(a->level)) {
    buf_must_fit(buf_puts(b, "Level: "));
    put_cut(b, a->level, 32);
    if (given(a->severity)) {
      buf_must_fit(buf_puts(b, " (severity "));
      put_cut(b, a->severity, 16);
      buf_must_fit(buf_puts(b, ")"));
    }
    buf_must_fit(buf_putc(b, '\n'));
  }
  if (a->has_scores) {
    char p[32], s[32];
    jsonw_format_double(a->polarity, p);
    jsonw_format_double(a->subjectivity, s);
    buf_must_fit(buf_printf(b, "Polarity: %s (subjectivity %s)\n", p, s));
  }
  if (given(a->words)) {
    buf_must_fit(buf_puts(b, "Deciding words: "));
    put_code_span(b, a->words, 1000);
    buf_must_fit(buf_putc(b, '\n'));
  }
  put_line(b, "Message id: ", a->message_id);
  if (given(a->excerpt)) {
    buf_must_fit(buf_puts(b, "\nMessage:\n"));
    put_code_block(b, a->excerpt, DEVREV_EXCERPT_MAX);
  }
}

/* The marker is the last line: text from the customer comes before it,
 * so it cannot fake the line that devrev_find_marker reads. */
static void put_marker(struct buf *b, const struct devrev_alert *a)
{
  if (a->entry_id > 0)
    buf_must_fit(buf_printf(b, "\n" DEVREV_ENTRY_MARKER "%lld",
                            (long long)a->entry_id));
  buf_must_fit(buf_puts(b, "\n" DEVREV_MARKER));
  put_cut(b, given(a->alert_key) ? a->alert_key : "", 64);
}

char *devrev_ticket_body(const struct devrev_alert *a)
{
  struct buf b;
  buf_init(&b, 0);
  buf_must_fit(
      buf_puts(&b, "A customer appears frustrated: raised by frustration-alert "
                   "from the customer's message.\n\n"));
  put_facts(&b, a);
  put_marker(&b, a);
  return buf_take(&b);
}

static char *comment_body(const struct devrev_alert *a)
{
  struct buf b;
  buf_init(&b, 0);
  buf_must_fit(
      buf_puts(&b, "Another frustrated message from this customer.\n\n"));
  put_facts(&b, a);
  put_marker(&b, a);
  return buf_take(&b);
}

/* The note on the customer's own conversation or ticket: short, because
 * the agent reading it has the conversation right there. */
static char *source_comment_body(const struct devrev_alert *a)
{
  struct buf b;
  buf_init(&b, 0);
  buf_must_fit(
      buf_puts(&b, "frustration-alert: this customer's message reads as "));
  put_cut(&b, given(a->level) ? a->level : "frustrated", 32);
  if (a->has_scores) {
    char p[32];
    jsonw_format_double(a->polarity, p);
    buf_must_fit(buf_printf(&b, " (polarity %s)", p));
  }
  buf_must_fit(buf_puts(&b, ".\n"));
  if (given(a->words)) {
    buf_must_fit(buf_puts(&b, "Deciding words: "));
    put_code_span(&b, a->words, 1000);
    buf_must_fit(buf_putc(&b, '\n'));
  }
  if (given(a->ticket)) { /* DevRev's own display id: left to link */
    buf_must_fit(buf_puts(&b, "Alert ticket: "));
    put_cut(&b, a->ticket, 64);
    buf_must_fit(buf_putc(&b, '\n'));
  }
  if (given(a->excerpt)) {
    buf_must_fit(buf_puts(&b, "Excerpt:\n"));
    put_code_block(&b, a->excerpt, DEVREV_EXCERPT_MAX);
  }
  put_marker(&b, a);
  return buf_take(&b);
}

/* ---- Request bodies --------------------------------------------------- */

char *devrev_create_request(const struct devrev_config *cfg,
                            const struct devrev_alert *a)
{
  struct buf b;
  struct jsonw w;
  char *title = devrev_ticket_title(a);
  char *body = devrev_ticket_body(a);
  buf_init(&b, 0);
  jsonw_init(&w, &b);
  jsonw_object_begin(&w);
  jsonw_kv_string(&w, "type", "ticket");
  jsonw_kv_string(&w, "title", title);
  jsonw_kv_string(&w, "body", body);
  jsonw_kv_string(&w, "applies_to_part", cfg->part_id ? cfg->part_id : "");
  jsonw_key(&w, "owned_by");
  jsonw_array_begin(&w);
  jsonw_string(&w, cfg->owner_id ? cfg->owner_id : "");
  jsonw_array_end(&w);
  if (given(a->severity)) {
    jsonw_kv_string(&w, "severity", a->severity);
  }
  if (given(cfg->tag_id)) {
    jsonw_key(&w, "tags");
    jsonw_array_begin(&w);
    jsonw_object_begin(&w);
    jsonw_kv_string(&w, "id", cfg->tag_id);
    jsonw_object_end(&w);
    jsonw_array_end(&w);
  }
  jsonw_object_end(&w);
  free(title);
  free(body);
  return buf_take(&b);
}

/* An internal text comment with body on object. */
static char *comment_json(const char *object, const char *body)
{
  struct buf b;
  struct jsonw w;
  buf_init(&b, 0);
  jsonw_init(&w, &b);
  jsonw_object_begin(&w);
  jsonw_kv_string(&w, "object", object ? object : "");
  jsonw_kv_string(&w, "type", "timeline_comment");
  jsonw_kv_string(&w, "body", body);
  jsonw_kv_string(&w, "body_type", "text");
  /* The default, external, would show the alert to the customer. */
  jsonw_kv_string(&w, "visibility", "internal");
  jsonw_object_end(&w);
  return buf_take(&b);
}

char *devrev_comment_request(const char *ticket_id,
                             const struct devrev_alert *a)
{
  char *body = comment_body(a);
  char *json = comment_json(ticket_id, body);
  free(body);
  return json;
}

char *devrev_source_comment_request(const char *object,
                                    const struct devrev_alert *a)
{
  char *body = source_comment_body(a);
  char *json = comment_json(object, body);
  free(body);
  return json;
}

/* works.update of a ticket: severity when not NULL, sentiment when > 0. */
static char *update_json(const char *work_id, const char *severity,
                         int sentiment)
{
  struct buf b;
  struct jsonw w;
  buf_init(&b, 0);
  jsonw_init(&w, &b);
  jsonw_object_begin(&w);
  jsonw_kv_string(&w, "id", work_id ? work_id : "");
  jsonw_kv_string(&w, "type", "ticket");
  if (severity) {
    jsonw_kv_string(&w, "severity", severity);
  }
  if (sentiment > 0) {
    jsonw_kv_int(&w, "sentiment", sentiment);
  }
  jsonw_object_end(&w);
  return buf_take(&b);
}

char *devrev_update_request(const char *ticket_id, const char *severity)
{
  return update_json(ticket_id, severity ? severity : "", 0);
}

char *devrev_source_update_request(const char *work_id, const char *severity,
                                   int sentiment)
{
  return update_json(work_id, given(severity) ? severity : NULL, sentiment);
}

char *devrev_list_request(const struct devrev_config *cfg,
                          int64_t created_after_ms, const char *cursor)
{
  struct buf b;
  struct jsonw w;
  char after[32];
  clock_format_rfc3339(created_after_ms, after);
  buf_init(&b, 0);
  jsonw_init(&w, &b);
  jsonw_object_begin(&w);
  jsonw_key(&w, "type");
  jsonw_array_begin(&w);
  jsonw_string(&w, "ticket");
  jsonw_array_end(&w);
  /* Narrow by our tag, else by our owner: an agent may retag or reassign
   * the ticket, but not in the seconds before a lookup. */
  if (given(cfg->tag_id)) {
    jsonw_key(&w, "tags");
    jsonw_array_begin(&w);
    jsonw_string(&w, cfg->tag_id);
    jsonw_array_end(&w);
  } else if (given(cfg->owner_id)) {
    jsonw_key(&w, "owned_by");
    jsonw_array_begin(&w);
    jsonw_string(&w, cfg->owner_id);
    jsonw_array_end(&w);
  }
  jsonw_key(&w, "created_date");
  jsonw_object_begin(&w);
  jsonw_kv_string(&w, "type", "range");
  jsonw_kv_string(&w, "after", after);
  jsonw_object_end(&w);
  jsonw_kv_int(&w, "limit", 50);
  if (given(cursor)) {
    jsonw_kv_string(&w, "cursor", cursor);
  }
  jsonw_object_end(&w);
  return buf_take(&b);
}

char *devrev_timeline_list_request(const char *object, const char *cursor)
{
  struct buf b;
  struct jsonw w;
  buf_init(&b, 0);
  jsonw_init(&w, &b);
  jsonw_object_begin(&w);
  jsonw_kv_string(&w, "object", object ? object : "");
  /* The worker's comments are internal: the customer's own messages and
   * the agents' replies need not be read. */
  jsonw_key(&w, "visibility");
  jsonw_array_begin(&w);
  jsonw_string(&w, "internal");
  jsonw_array_end(&w);
  jsonw_kv_int(&w, "limit", 50);
  if (given(cursor))
    jsonw_kv_string(&w, "cursor", cursor);
  jsonw_object_end(&w);
  return buf_take(&b);
}

/* ---- Replies ---------------------------------------------------------- */

const char *devrev_class_name(enum devrev_class c)
{
  switch (c) {
  case DEVREV_OK:
    return "ok";
  case DEVREV_RETRY:
    return "retry";
  case DEVREV_RATE_LIMITED:
    return "rate_limited";
  case DEVREV_PERMANENT:
    return "permanent";
  case DEVREV_UNKNOWN:
    return "unknown";
  case DEVREV_AUTH:
    return "auth";
  }
  return "unknown";
}

/* Copies a JSON string member into dst (cap bytes); false if absent. */
static bool copy_str(const cJSON *obj, const char *key, char *dst, size_t cap)
{
  const char *v =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
  if (!v)
    return false;
  snprintf(dst, cap, "%s", v);
  return true;
}

/* Seconds in a Retry-After value ("30", " 30 ", "1.5"); -1 if it is not a
 * number (an HTTP-date is not supported: fall back to the body). Capped
 * at a day. */
static int64_t retry_after_header(const char *v)
{
  if (!v)
    return -1;
  while (isspace((unsigned char)*v))
    v++;
  if (!isdigit((unsigned char)*v))
    return -1;
  char *end;
  double s = strtod(v, &end);
  while (isspace((unsigned char)*end))
    end++;
  if (*end || s < 0)
    return -1;
  if (s > 86400)
    s = 86400;
  return (int64_t)(s * 1000);
}

/* "HTTP 400 missing_required_field: message (field x)" from an error body;
 * printable ASCII of the raw body when it is not JSON. */
static void describe_error(int status, const cJSON *root, const char *body,
                           size_t len, char *out, size_t cap)
{
  char type[64] = "", msg[200] = "", field[64] = "";
  if (cJSON_IsObject(root)) {
    copy_str(root, "type", type, sizeof type);
    if (!copy_str(root, "message", msg, sizeof msg))
      copy_str(root, "detail", msg, sizeof msg);
    copy_str(root, "field_name", field, sizeof field);
  } else if (body && len) {
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < sizeof msg; i++)
      msg[n++] = isprint((unsigned char)body[i]) ? body[i] : ' ';
    msg[n] = '\0';
  }
  int k = snprintf(out, cap, "HTTP %d", status);
  if (k < 0 || (size_t)k >= cap)
    return;
  if (*type)
    k += snprintf(out + k, cap - (size_t)k, " %s", type);
  if ((size_t)k < cap && *msg)
    k += snprintf(out + k, cap - (size_t)k, ": %s", msg);
  if ((size_t)k < cap && *field)
    snprintf(out + k, cap - (size_t)k, " (field %s)", field);
}

static void reply_reset(struct devrev_reply *out)
{
  memset(out, 0, sizeof *out);
  out->retry_after_ms = -1;
}

/* The array a list operation's reply holds. */
static const char *list_array(enum devrev_op op)
{
  return op == DEVREV_OP_TIMELINE ? "timeline_entries" : "works";
}

void devrev_classify(enum devrev_op op, int http_status,
                     const char *retry_after, const char *body, size_t len,
                     struct devrev_reply *out)
{
  reply_reset(out);
  out->http_status = http_status;
  cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
  if (http_status >= 200 && http_status < 300) {
    out->cls = DEVREV_OK;
    if (op == DEVREV_OP_CREATE) {
      const cJSON *work = cJSON_GetObjectItemCaseSensitive(root, "work");
      if (!copy_str(work, "id", out->work_id, sizeof out->work_id) ||
          !*out->work_id) {
        /* Created, probably, but we cannot know which: look it up. */
        out->cls = DEVREV_UNKNOWN;
        snprintf(out->error, sizeof out->error,
                 "HTTP %d without work.id in the reply", http_status);
      }
      copy_str(work, "display_id", out->display_id, sizeof out->display_id);
    } else if (op == DEVREV_OP_GET) {
      const cJSON *work = cJSON_GetObjectItemCaseSensitive(root, "work");
      if (!cJSON_IsObject(work)) {
        out->cls = DEVREV_RETRY;
        snprintf(out->error, sizeof out->error,
                 "HTTP %d without a work in the reply", http_status);
      }
      copy_str(work, "severity", out->severity, sizeof out->severity);
    } else if ((op == DEVREV_OP_LIST || op == DEVREV_OP_TIMELINE) &&
               !cJSON_IsArray(
                   cJSON_GetObjectItemCaseSensitive(root, list_array(op)))) {
      out->cls = DEVREV_RETRY;
      snprintf(out->error, sizeof out->error,
               "HTTP %d without a %s array in the reply", http_status,
               list_array(op));
    }
    goto out;
  }
  describe_error(http_status, root, body, len, out->error, sizeof out->error);
  if (http_status == 429) {
    out->cls = DEVREV_RATE_LIMITED;
    out->retry_after_ms = retry_after_header(retry_after);
    const cJSON *ra = cJSON_GetObjectItemCaseSensitive(root, "retry_after");
    if (out->retry_after_ms < 0 && cJSON_IsNumber(ra) && ra->valuedouble >= 0)
      out->retry_after_ms =
          (int64_t)((ra->valuedouble > 86400 ? 86400 : ra->valuedouble) * 1000);
  } else if (http_status == 401 || http_status == 403) {
    /* The token, not the request (docs/devrev-api.md §1.3: unauthenticated,
     * forbidden): the same request succeeds once the token is fixed. */
    out->cls = DEVREV_AUTH;
  } else if (http_status == 408 || http_status >= 500 || http_status < 200) {
    out->cls = DEVREV_RETRY;
  } else if (http_status >= 400) {
    out->cls = DEVREV_PERMANENT;
  } else {
    /* 3xx: DevRev answers POSTs with JSON, never a redirect; a proxy in
     * the way may. Not worth a dead letter. */
    out->cls = DEVREV_RETRY;
  }
out:
  cJSON_Delete(root);
}

void devrev_classify_failure(bool request_sent, const char *detail,
                             struct devrev_reply *out)
{
  reply_reset(out);
  out->cls = request_sent ? DEVREV_UNKNOWN : DEVREV_RETRY;
  /* Bounded so the message always fits (and says so to the compiler). */
  snprintf(out->error, sizeof out->error, "%s: %.280s",
           request_sent ? "no answer after sending" : "not sent",
           detail ? detail : "network error");
}

/* The start of body's last non-blank line when it is the marker line of
 * key; NULL otherwise. */
static const char *marker_line(const char *body, const char *key)
{
  size_t len = strlen(body);
  while (len > 0 && isspace((unsigned char)body[len - 1]))
    len--;
  size_t mlen = strlen(DEVREV_MARKER), klen = strlen(key);
  if (!klen || len < mlen + klen)
    return NULL;
  const char *line = body + len - mlen - klen;
  if (line > body && line[-1] != '\n')
    return NULL;
  if (strncmp(line, DEVREV_MARKER, mlen) || strncmp(line + mlen, key, klen))
    return NULL;
  return line;
}

/* True when the line just above body's marker line (which starts at line)
 * is DEVREV_ENTRY_MARKER <entry_id>, ended by "\n" or "\r\n". */
static bool entry_line_above(const char *body, const char *line,
                             int64_t entry_id)
{
  char want[64];
  int n = snprintf(want, sizeof want, DEVREV_ENTRY_MARKER "%lld",
                   (long long)entry_id);
  if (line == body)
    return false;
  const char *end = line - 1; /* the '\n' marker_line checked */
  if (end > body && end[-1] == '\r')
    end--;
  if ((size_t)(end - body) < (size_t)n)
    return false;
  const char *start = end - n;
  return (start == body || start[-1] == '\n') && !memcmp(start, want, (size_t)n);
}

/* devrev_find_marker (entry_id 0, array "works") and
 * devrev_find_entry_marker (the entry's line above the marker line too). */
static bool scan_for_marker(const char *body, size_t len, const char *array,
                            const char *alert_key, int64_t entry_id,
                            struct devrev_reply *out)
{
  out->found = false;
  out->next_cursor[0] = '\0';
  cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
  const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, array);
  bool ok = cJSON_IsArray(items);
  if (!ok)
    goto out;
  copy_str(root, "next_cursor", out->next_cursor, sizeof out->next_cursor);
  const cJSON *w;
  cJSON_ArrayForEach(w, items)
  {
    const char *b =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(w, "body"));
    const char *line = b ? marker_line(b, alert_key) : NULL;
    char id[DEVREV_FIELD_MAX];
    if (!line || (entry_id > 0 && !entry_line_above(b, line, entry_id)) ||
        !copy_str(w, "id", id, sizeof id) || !*id)
      continue;
    out->found = true;
    memcpy(out->work_id, id, sizeof id);
    out->display_id[0] = '\0';
    copy_str(w, "display_id", out->display_id, sizeof out->display_id);
    break;
  }
out:
  cJSON_Delete(root);
  return ok;
}

bool devrev_find_marker(const char *body, size_t len, const char *alert_key,
                        struct devrev_reply *out)
{
  return scan_for_marker(body, len, "works", alert_key, 0, out);
}

bool devrev_find_entry_marker(const char *body, size_t len,
                              const char *alert_key, int64_t entry_id,
                              struct devrev_reply *out)
{
  if (entry_id <= 0) { /* no comment has such a line */
    out->found = false;
    out->next_cursor[0] = '\0';
    return true;
  }
  return scan_for_marker(body, len, "timeline_entries", alert_key, entry_id,
                         out);
}

/* ---- Sending ---------------------------------------------------------- */

struct devrev {
  CURL *curl;
  char *api_url, *token, *part_id, *owner_id, *tag_id;
  struct devrev_config cfg; /* points at the copies above */
  char *auth_header, *version_header;
  atomic_bool aborted;
  struct buf reply;
  char retry_after[64];
  bool have_retry_after;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init_once(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

void devrev_global_init(void)
{
  pthread_once(&global_once, global_init_once);
}

static char *dup_or_null(const char *s)
{
  return given(s) ? xstrdup(s) : NULL;
}

enum err devrev_open(const struct devrev_config *cfg, struct devrev **out)
{
  if (!given(cfg->api_url) || !given(cfg->token) || !given(cfg->part_id) ||
      !given(cfg->owner_id))
    return ERR_INVALID;
  devrev_global_init();
  CURL *curl = curl_easy_init();
  if (!curl)
    return ERR_INTERNAL;
  struct devrev *dv = xcalloc(1, sizeof *dv);
  dv->curl = curl;
  /* Keep only the newest idle connection: each create opens one, and the
   * older one would sit idle until DevRev or CURLOPT_MAXAGE_CONN ends it. */
  curl_easy_setopt(curl, CURLOPT_MAXCONNECTS, 1L);
  dv->api_url = xstrdup(cfg->api_url);
  size_t n = strlen(dv->api_url);
  while (n > 0 && dv->api_url[n - 1] == '/')
    dv->api_url[--n] = '\0';
  dv->token = xstrdup(cfg->token);
  dv->part_id = xstrdup(cfg->part_id);
  dv->owner_id = xstrdup(cfg->owner_id);
  dv->tag_id = dup_or_null(cfg->tag_id);
  dv->cfg = *cfg;
  dv->cfg.api_url = dv->api_url;
  dv->cfg.token = dv->token;
  dv->cfg.part_id = dv->part_id;
  dv->cfg.owner_id = dv->owner_id;
  dv->cfg.tag_id = dv->tag_id;
  if (dv->cfg.timeout_ms <= 0)
    dv->cfg.timeout_ms = 10000;
  if (dv->cfg.connect_timeout_ms <= 0)
    dv->cfg.connect_timeout_ms =
        dv->cfg.timeout_ms < 5000 ? dv->cfg.timeout_ms : 5000;
  struct buf h;
  buf_init(&h, 0);
  buf_must_fit(buf_printf(&h, "Authorization: Bearer %s", dv->token));
  dv->auth_header = buf_take(&h);
  buf_must_fit(buf_printf(
      &h, "X-Devrev-Version: %s",
      given(cfg->api_version) ? cfg->api_version : DEVREV_API_VERSION_DEFAULT));
  dv->version_header = buf_take(&h);
  atomic_init(&dv->aborted, false);
  buf_init(&dv->reply, 0);
  *out = dv;
  return ERR_OK;
}

void devrev_close(struct devrev *dv)
{
  if (!dv)
    return;
  curl_easy_cleanup(dv->curl);
  free(dv->api_url);
  /* The token is a secret: do not leave it in freed memory. */
  memset(dv->token, 0, strlen(dv->token));
  memset(dv->auth_header, 0, strlen(dv->auth_header));
  free(dv->token);
  free(dv->auth_header);
  free(dv->version_header);
  free(dv->part_id);
  free(dv->owner_id);
  free(dv->tag_id);
  buf_cleanup(&dv->reply);
  free(dv);
}

void devrev_abort(struct devrev *dv)
{
  atomic_store(&dv->aborted, true);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
  struct devrev *dv = arg;
  size_t len = size * nmemb;
  size_t room = DEVREV_REPLY_MAX - dv->reply.len;
  /* Keep reading past the cap (so the status line and the connection
   * stay usable), but keep only the first DEVREV_REPLY_MAX bytes. */
  buf_must_fit(buf_append(&dv->reply, data, len < room ? len : room));
  return len;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
  struct devrev *dv = arg;
  size_t len = size * nmemb;
  static const char name[] = "retry-after:";
  if (len > sizeof name - 1 && !strncasecmp(data, name, sizeof name - 1)) {
    size_t vlen = len - (sizeof name - 1);
    if (vlen >= sizeof dv->retry_after)
      vlen = sizeof dv->retry_after - 1;
    memcpy(dv->retry_after, data + sizeof name - 1, vlen);
    dv->retry_after[vlen] = '\0';
    dv->have_retry_after = true;
  }
  return len;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
  struct devrev *dv = arg;
  (void)dltotal;
  (void)dlnow;
  (void)ultotal;
  (void)ulnow;
  return atomic_load(&dv->aborted) ? 1 : 0;
}

/* True for the calls that DevRev would carry out twice if it received
 * them twice: works.create and timeline-entries.create. works.update sets
 * fields to given values and works.list only reads. */
static bool creates(enum devrev_op op)
{
  return op == DEVREV_OP_CREATE || op == DEVREV_OP_COMMENT;
}

/* POSTs json to path and classifies the answer into out. */
static enum err post(struct devrev *dv, enum devrev_op op, const char *path,
                     const char *json, struct devrev_reply *out)
{
  int64_t t0 = clock_mono_ms();
  struct curl_slist *headers = NULL;
  char url[1024];
  char errbuf[CURL_ERROR_SIZE] = "";
  snprintf(url, sizeof url, "%s%s", dv->api_url, path);
  if (atomic_load(&dv->aborted)) {
    devrev_classify_failure(false, "shutting down", out);
    goto out;
  }
  buf_reset(&dv->reply);
  dv->have_retry_after = false;
  dv->retry_after[0] = '\0';
  headers = curl_slist_append(headers, dv->auth_header);
  headers = curl_slist_append(headers, dv->version_header);
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Accept: application/json");
  headers = curl_slist_append(headers, "Expect:"); /* no 100-continue wait */
  CURL *c = dv->curl;
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, dv->cfg.timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, dv->cfg.connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM */
  /* When a reused connection dies before the first byte of the answer,
   * libcurl takes it for a stale keep-alive connection and sends the
   * request again on a new one, without telling us. DevRev may have
   * carried out the first one: two tickets. On a connection of its own a
   * create is sent once, and a lost answer is UNKNOWN (looked up before
   * any new attempt). The cost is a connection setup per create. */
  curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, creates(op) ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "frustration-alert/" FA_VERSION);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, dv);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, dv);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, dv);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  CURLcode cc = curl_easy_perform(c);
  if (cc == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    devrev_classify(op, (int)status,
                    dv->have_retry_after ? dv->retry_after : NULL,
                    buf_ptr(&dv->reply), dv->reply.len, out);
  } else {
    /* Bytes of request handed to the connection: 0 means DevRev never
     * saw it (refused, DNS, TLS, connect timeout). */
    long sent = 0;
    curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent);
    char detail[CURL_ERROR_SIZE + 64];
    snprintf(detail, sizeof detail, "%s%s%s", curl_easy_strerror(cc),
             *errbuf ? ": " : "", errbuf);
    devrev_classify_failure(sent > 0, detail, out);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
out:
  curl_slist_free_all(headers);
  out->duration_ms = clock_mono_ms() - t0;
  return out->cls == DEVREV_OK ? ERR_OK : ERR_NET;
}

/* post, for a request built for it: frees json. */
static enum err post_built(struct devrev *dv, enum devrev_op op,
                           const char *path, char *json,
                           struct devrev_reply *out)
{
  enum err rc = post(dv, op, path, json, out);
  free(json);
  return rc;
}

enum err devrev_create_ticket(struct devrev *dv, const struct devrev_alert *a,
                              struct devrev_reply *out)
{
  return post_built(dv, DEVREV_OP_CREATE, "/works.create",
                    devrev_create_request(&dv->cfg, a), out);
}

enum err devrev_add_comment(struct devrev *dv, const char *ticket_id,
                            const struct devrev_alert *a,
                            struct devrev_reply *out)
{
  return post_built(dv, DEVREV_OP_COMMENT, "/timeline-entries.create",
                    devrev_comment_request(ticket_id, a), out);
}

enum err devrev_update_severity(struct devrev *dv, const char *ticket_id,
                                const char *severity, struct devrev_reply *out)
{
  return post_built(dv, DEVREV_OP_UPDATE, "/works.update",
                    devrev_update_request(ticket_id, severity), out);
}

enum err devrev_add_source_comment(struct devrev *dv, const char *object,
                                   const struct devrev_alert *a,
                                   struct devrev_reply *out)
{
  return post_built(dv, DEVREV_OP_COMMENT, "/timeline-entries.create",
                    devrev_source_comment_request(object, a), out);
}

enum err devrev_update_source(struct devrev *dv, const char *work_id,
                              const char *severity, int sentiment,
                              struct devrev_reply *out)
{
  return post_built(dv, DEVREV_OP_UPDATE, "/works.update",
                    devrev_source_update_request(work_id, severity, sentiment),
                    out);
}

enum err devrev_get_work(struct devrev *dv, const char *work_id,
                         struct devrev_reply *out)
{
  struct buf b;
  struct jsonw w;
  buf_init(&b, 0);
  jsonw_init(&w, &b);
  jsonw_object_begin(&w);
  jsonw_kv_string(&w, "id", work_id);
  jsonw_object_end(&w);
  return post_built(dv, DEVREV_OP_GET, "/works.get", buf_take(&b), out);
}

int devrev_severity_rank(const char *severity)
{
  static const char *const ranks[] = {"low", "medium", "high", "blocker"};
  for (int i = 0; severity && i < 4; i++)
    if (!strcmp(severity, ranks[i]))
      return i + 1;
  return 0;
}

/* What a marker lookup lists and looks for: the alert's ticket among
 * recent tickets (DEVREV_OP_LIST), or one comment among an object's
 * internal timeline entries (DEVREV_OP_TIMELINE). */
struct lookup {
  enum devrev_op op;
  const char *alert_key;
  int64_t created_after_ms; /* tickets */
  const char *object;       /* comments */
  int64_t entry_id;         /* comments */
};

static enum err find_paged(struct devrev *dv, const struct lookup *l,
                           struct devrev_reply *out)
{
  bool tickets = l->op == DEVREV_OP_LIST;
  const char *path = tickets ? "/works.list" : "/timeline-entries.list";
  char cursor[DEVREV_FIELD_MAX] = "";
  int64_t total_ms = 0;
  enum err rc = ERR_OK;
  for (int page = 0; page < DEVREV_LIST_PAGES; page++) {
    const char *c = *cursor ? cursor : NULL;
    char *json = tickets
                     ? devrev_list_request(&dv->cfg, l->created_after_ms, c)
                     : devrev_timeline_list_request(l->object, c);
    rc = post_built(dv, l->op, path, json, out);
    total_ms += out->duration_ms;
    if (rc)
      break;
    const char *body = buf_ptr(&dv->reply);
    if (!(tickets ? devrev_find_marker(body, dv->reply.len, l->alert_key, out)
                  : devrev_find_entry_marker(body, dv->reply.len, l->alert_key,
                                             l->entry_id, out))) {
      out->cls = DEVREV_RETRY;
      snprintf(out->error, sizeof out->error, "%s: unreadable reply",
               path + 1);
      rc = ERR_NET;
      break;
    }
    /* A cursor that does not move would loop: stop. */
    if (out->found || !*out->next_cursor || !strcmp(out->next_cursor, cursor))
      break;
    memcpy(cursor, out->next_cursor, sizeof cursor);
  }
  out->duration_ms = total_ms;
  return rc;
}

enum err devrev_find_ticket(struct devrev *dv, const char *alert_key,
                            int64_t created_after_ms, struct devrev_reply *out)
{
  struct lookup l = {.op = DEVREV_OP_LIST,
                     .alert_key = alert_key,
                     .created_after_ms = created_after_ms};
  return find_paged(dv, &l, out);
}

enum err devrev_find_comment(struct devrev *dv, const char *object,
                             const char *alert_key, int64_t entry_id,
                             struct devrev_reply *out)
{
  struct lookup l = {.op = DEVREV_OP_TIMELINE,
                     .alert_key = alert_key,
                     .object = object,
                     .entry_id = entry_id};
  return find_paged(dv, &l, out);
}
