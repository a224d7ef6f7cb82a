/* devrev_event: reads DevRev webhook events (docs/devrev-api.md 5.2-5.4).
 *
 * The envelope is {id, webhook_id, timestamp, type, <type>: payload}, in
 * any member order. Three event types can carry a customer's words
 * (timeline_entry_created, conversation_created, work_created); verify is
 * the handshake; every other type is answered as ignored.
 *
 * Two outcomes besides a message, and the line between them: a field this
 * module needs to do its job (the envelope ids, the payload and its main
 * object, the author of a comment) that is missing or of the wrong JSON
 * type makes the event malformed (ERR_INVALID, a 400 naming the JSON
 * path); an event that is well formed but not a customer's message (an
 * agent's reply, an internal note, our own comment, no text) is IGNORED
 * with a reason. Optional fields of the wrong JSON type count as absent,
 * because DevRev's objects grow fields and a 400 makes DevRev retry and
 * eventually mark the webhook degraded (5.3).
 *
 * Nothing is allocated except composed work_created text, which goes into
 * the caller's buffer; every other string is borrowed from the tree. */
#include "devrev/event.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/utf8.h"

#define JSON_PATH_MAX 96

/* The state of one devrev_event_read call. */
struct rd {
  struct devrev_event *ev;
  const char *self_id; /* NULL when there is none */
  struct buf *compose;
  char *err;
  size_t errlen;
};

/* One user summary (created_by, reported_by[i]) as read. */
struct user {
  const char *type; /* "rev_user", "dev_user", "sys_user", ... */
  const char *id;
  const char *display_id;
  const char *rev_org_id;
  const char *rev_org_display_id;
};

static enum err invalid(struct rd *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static enum err invalid(struct rd *r, const char *fmt, ...)
{
  if (r->err && r->errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, r->errlen, fmt, ap);
    va_end(ap);
  }
  return ERR_INVALID;
}

static void clear_message(struct devrev_event *ev)
{
  ev->text = NULL;
  ev->text_len = 0;
  ev->object_id = NULL;
  ev->object_display_id = NULL;
  ev->object_type = NULL;
  ev->entry_id = NULL;
  ev->author_id = NULL;
  ev->author_display_id = NULL;
  ev->rev_org_id = NULL;
  ev->rev_org_display_id = NULL;
  ev->created_date = NULL;
  ev->has_created = false;
  ev->created_ms = 0;
}

static enum err ignore(struct rd *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Marks the event IGNORED for the reason given; the event was well formed,
 * so this is a success. */
static enum err ignore(struct rd *r, const char *fmt, ...)
{
  r->ev->kind = DEVREV_EVENT_IGNORED;
  clear_message(r->ev);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->ev->ignored, sizeof r->ev->ignored, fmt, ap);
  va_end(ap);
  return ERR_OK;
}

/* Writes "path.name" (or "name" for an empty path) into out. */
static const char *join(char out[JSON_PATH_MAX], const char *path,
                        const char *name)
{
  int n = snprintf(out, JSON_PATH_MAX, "%s%s%s", path, *path ? "." : "", name);
  if (n < 0 || n >= JSON_PATH_MAX) /* cut short: say so */
    memcpy(out + JSON_PATH_MAX - 4, "...", 4);
  return out;
}

/* Reads obj.name as a string. Required: missing, null, not a string or
 * empty is ERR_INVALID. Optional: any of these leaves *out NULL. Either
 * way a string longer than max bytes (max > 0) is ERR_INVALID: ids are
 * stored and echoed, so they are bounded. */
static enum err get_str(struct rd *r, const cJSON *obj, const char *path,
                        const char *name, size_t max, bool required,
                        const char **out)
{
  char p[JSON_PATH_MAX];
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
  *out = NULL;
  if (!v || cJSON_IsNull(v)) {
    if (required)
      return invalid(r, "%s is required", join(p, path, name));
    return ERR_OK;
  }
  if (!cJSON_IsString(v) || !v->valuestring) {
    if (required)
      return invalid(r, "%s must be a string", join(p, path, name));
    return ERR_OK;
  }
  if (!*v->valuestring) {
    if (required)
      return invalid(r, "%s must not be empty", join(p, path, name));
    return ERR_OK;
  }
  if (max && strlen(v->valuestring) > max)
    return invalid(r, "%s is longer than %zu bytes", join(p, path, name), max);
  *out = v->valuestring;
  return ERR_OK;
}

/* Reads obj.name as an object, with get_str's required/optional rules. */
static enum err get_obj(struct rd *r, const cJSON *obj, const char *path,
                        const char *name, bool required, const cJSON **out)
{
  char p[JSON_PATH_MAX];
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
  *out = NULL;
  if (!v || cJSON_IsNull(v)) {
    if (required)
      return invalid(r, "%s is required", join(p, path, name));
    return ERR_OK;
  }
  if (!cJSON_IsObject(v)) {
    if (required)
      return invalid(r, "%s must be an object", join(p, path, name));
    return ERR_OK;
  }
  *out = v;
  return ERR_OK;
}

/* A string field of an object, read with get_str as an id (at most
 * DEVREV_EVENT_MAX_ID bytes) into *out. */
struct id_field {
  const char *name;
  bool required;
  const char **out;
};

/* get_str for each of f[0..n) in order, up to the first error. */
static enum err get_ids(struct rd *r, const cJSON *obj, const char *path,
                        const struct id_field *f, size_t n)
{
  enum err rc = ERR_OK;
  for (size_t i = 0; i < n && !rc; i++)
    rc = get_str(r, obj, path, f[i].name, DEVREV_EVENT_MAX_ID, f[i].required,
                 f[i].out);
  return rc;
}

/* The string value of obj.name, or NULL when it is absent or not a
 * string; for fields that are never required nor bounded (text). */
static const char *text_of(const cJSON *obj, const char *name)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* True when s is NULL, empty or only whitespace (as the service's own
 * messages are judged, utf8_is_blank). */
static bool is_blank(const char *s)
{
  return !s || utf8_is_blank(s, strlen(s));
}

static bool str_is(const char *s, const char *want)
{
  return s && !strcmp(s, want);
}

/* Reads an organisation reference: an object {id, display_id} or, as in
 * request bodies, a bare id string. Absent or another type leaves both
 * NULL. */
static enum err read_org(struct rd *r, const cJSON *obj, const char *path,
                         const char *name, const char **id,
                         const char **display_id)
{
  char p[JSON_PATH_MAX];
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
  *id = NULL;
  *display_id = NULL;
  if (cJSON_IsString(v))
    return get_str(r, obj, path, name, DEVREV_EVENT_MAX_ID, false, id);
  if (!cJSON_IsObject(v))
    return ERR_OK;
  const struct id_field f[] = {{"id", false, id},
                               {"display_id", false, display_id}};
  return get_ids(r, v, join(p, path, name), f, 2);
}

/* Reads a user summary at path (an object). Its type is required, and so
 * is its id when it is a customer (rev_user), whose id we hand back. */
static enum err read_user(struct rd *r, const cJSON *obj, const char *path,
                          struct user *u)
{
  memset(u, 0, sizeof *u);
  enum err rc =
      get_str(r, obj, path, "type", DEVREV_EVENT_MAX_ID, true, &u->type);
  if (!rc)
    rc = get_str(r, obj, path, "id", DEVREV_EVENT_MAX_ID,
                 str_is(u->type, "rev_user"), &u->id);
  if (!rc)
    rc = get_str(r, obj, path, "display_id", DEVREV_EVENT_MAX_ID, false,
                 &u->display_id);
  if (!rc)
    rc = read_org(r, obj, path, "rev_org", &u->rev_org_id,
                  &u->rev_org_display_id);
  return rc;
}

/* The loop guard (5.4): true when u is our own user, named by DON or by
 * display id. */
static bool is_self(const struct rd *r, const struct user *u)
{
  return r->self_id &&
         (str_is(u->id, r->self_id) || str_is(u->display_id, r->self_id));
}

/* True for an entry customers cannot see: never a customer's message. */
static bool is_hidden(const char *visibility)
{
  return str_is(visibility, "internal") || str_is(visibility, "private");
}

static void set_author(struct devrev_event *ev, const struct user *u)
{
  ev->author_id = u->id;
  ev->author_display_id = u->display_id;
  ev->rev_org_id = u->rev_org_id;
  ev->rev_org_display_id = u->rev_org_display_id;
}

static void set_text(struct devrev_event *ev, const char *text)
{
  ev->text = text;
  ev->text_len = strlen(text);
}

/* Reads obj.created_date (optional) into the message's creation time. */
static enum err set_created(struct rd *r, const cJSON *obj, const char *path)
{
  struct devrev_event *ev = r->ev;
  enum err rc = get_str(r, obj, path, "created_date", DEVREV_EVENT_MAX_TIME,
                        false, &ev->created_date);
  ev->has_created = devrev_parse_time(ev->created_date, &ev->created_ms);
  if (!ev->has_created)
    ev->created_ms = 0;
  return rc;
}

/* What the object at path of every event type starts with, in this order:
 * its ids (f[0..n)), created_date, and created_by, the author (required
 * or not: *by is NULL when it is optional and absent), read into u. */
static enum err read_head(struct rd *r, const cJSON *obj, const char *path,
                          const struct id_field *f, size_t n, bool by_required,
                          const cJSON **by, struct user *u)
{
  char p[JSON_PATH_MAX];
  memset(u, 0, sizeof *u);
  enum err rc = get_ids(r, obj, path, f, n);
  if (!rc)
    rc = set_created(r, obj, path);
  if (!rc)
    rc = get_obj(r, obj, path, "created_by", by_required, by);
  if (!rc && *by)
    rc = read_user(r, *by, join(p, path, "created_by"), u);
  return rc;
}

/* The type of the object a comment is on, when the event leaves
 * object_type out (it is optional): from the DON's last part
 * ("...:ticket/12") or else the display id's prefix ("TKT-12"); NULL when
 * neither says. */
static const char *object_type_of(const char *don, const char *display_id)
{
  static const struct {
    const char *don_part, *display_prefix, *type;
  } kinds[] = {{":ticket/", "TKT-", "ticket"},
               {":issue/", "ISS-", "issue"},
               {":conversation/", "CONV-", "conversation"}};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    const char *at = don ? strstr(don, kinds[i].don_part) : NULL;
    /* The object's own part: the last ':'-separated part of the DON. */
    if (at && !strchr(at + 1, ':'))
      return kinds[i].type;
  }
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (display_id && !strncmp(display_id, kinds[i].display_prefix,
                               strlen(kinds[i].display_prefix)))
      return kinds[i].type;
  return NULL;
}

/* ---- timeline_entry_created --------------------------------------- */

static enum err read_timeline_entry(struct rd *r, const cJSON *payload)
{
  static const char *const P = "timeline_entry_created.entry";
  struct devrev_event *ev = r->ev;
  const cJSON *entry, *by;
  const char *etype;
  enum err rc =
      get_obj(r, payload, "timeline_entry_created", "entry", true, &entry);
  if (!rc)
    rc = get_str(r, entry, P, "type", DEVREV_EVENT_MAX_ID, true, &etype);
  if (rc)
    return rc;
  /* Change events, notes and the like share the event type (5.4). */
  if (strcmp(etype, "timeline_comment"))
    return ignore(r, "entry is not a timeline_comment (%.64s)", etype);

  const struct id_field f[] = {
      {"id", true, &ev->entry_id},
      {"object", true, &ev->object_id},
      {"object_display_id", false, &ev->object_display_id},
      {"object_type", false, &ev->object_type},
  };
  struct user u;
  rc = read_head(r, entry, P, f, 4, false, &by, &u);
  if (rc)
    return rc;
  if (!ev->object_type)
    ev->object_type = object_type_of(ev->object_id, ev->object_display_id);

  /* created_by is optional in the spec (atom-base requires only id): a
   * comment whose author is not named cannot be a customer's. */
  if (!by)
    return ignore(r, "entry has no author (created_by)");
  if (is_self(r, &u))
    return ignore(r, "our own comment");
  const char *visibility = text_of(entry, "visibility");
  if (is_hidden(visibility))
    return ignore(r, "internal entry (visibility %s)", visibility);
  if (strcmp(u.type, "rev_user"))
    return ignore(r, "author is not a customer (%.64s)", u.type);
  /* body_type other than text (markdown-ish "text" is the norm) is still
   * words; a rich snap_kit_body without body has none for us. */
  const char *body = text_of(entry, "body");
  if (is_blank(body))
    return ignore(r, "message has no text");
  set_text(ev, body);
  set_author(ev, &u);
  ev->kind = DEVREV_EVENT_MESSAGE;
  return ERR_OK;
}

/* ---- conversation_created ----------------------------------------- */

/* A customer's message in conversation.messages[] that could be the text:
 * a visible comment by a rev_user with a non-blank body. Entries that do
 * not fit are skipped rather than refused: they are history, not the
 * event. */
struct candidate {
  const char *body;
  const char *id; /* NULL when absent or unusable */
  const char *created_date;
  bool has_time;
  int64_t ms;
  struct user author; /* a rev_user; its id NULL when absent or unusable */
};

static bool read_candidate(const struct rd *r, const cJSON *m,
                           struct candidate *c)
{
  memset(c, 0, sizeof *c);
  if (!cJSON_IsObject(m))
    return false;
  const char *type = text_of(m, "type");
  if (type && strcmp(type, "timeline_comment"))
    return false;
  if (is_hidden(text_of(m, "visibility")))
    return false;
  const cJSON *by = cJSON_GetObjectItemCaseSensitive(m, "created_by");
  if (!cJSON_IsObject(by) || !str_is(text_of(by, "type"), "rev_user"))
    return false;
  struct user u = {.type = "rev_user",
                   .id = text_of(by, "id"),
                   .display_id = text_of(by, "display_id")};
  if (is_self(r, &u))
    return false;
  if (u.id && (!*u.id || strlen(u.id) > DEVREV_EVENT_MAX_ID))
    u.id = NULL;
  if (u.display_id && strlen(u.display_id) > DEVREV_EVENT_MAX_ID)
    u.display_id = NULL;
  c->author = u;
  c->body = text_of(m, "body");
  if (is_blank(c->body))
    return false;
  c->id = text_of(m, "id");
  if (c->id && (!*c->id || strlen(c->id) > DEVREV_EVENT_MAX_ID))
    c->id = NULL;
  c->created_date = text_of(m, "created_date");
  if (c->created_date && strlen(c->created_date) > DEVREV_EVENT_MAX_TIME)
    c->created_date = NULL;
  c->has_time = devrev_parse_time(c->created_date, &c->ms);
  return true;
}

/* Whether c is newer than best: a dated message beats an undated one, a
 * later date beats an earlier one, and otherwise the later position in
 * the array wins (DevRev does not say which way messages[] is sorted). */
static bool newer(const struct candidate *c, const struct candidate *best)
{
  if (!best->body)
    return true;
  if (c->has_time != best->has_time)
    return c->has_time;
  return !c->has_time || c->ms >= best->ms;
}

static enum err read_conversation(struct rd *r, const cJSON *payload)
{
  static const char *const P = "conversation_created.conversation";
  struct devrev_event *ev = r->ev;
  const cJSON *conv, *by;
  const char *conv_id;
  struct user u;
  const struct id_field f[] = {{"id", true, &conv_id},
                               {"display_id", false, &ev->object_display_id}};
  enum err rc =
      get_obj(r, payload, "conversation_created", "conversation", true, &conv);
  if (!rc)
    rc = read_head(r, conv, P, f, 2, false, &by, &u);
  if (rc)
    return rc;
  ev->object_id = conv_id;
  ev->object_type = "conversation";
  ev->entry_id = conv_id;

  /* created_by is optional in the spec: without it the author is the
   * customer who wrote the chosen message (below). */
  if (by && is_self(r, &u))
    return ignore(r, "our own conversation");
  if (by && strcmp(u.type, "rev_user"))
    return ignore(r, "author is not a customer (%.64s)", u.type);

  struct candidate best = {0}, c;
  const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(conv, "messages");
  const cJSON *m;
  if (cJSON_IsArray(msgs)) {
    cJSON_ArrayForEach(m, msgs)
    {
      if (read_candidate(r, m, &c) && newer(&c, &best))
        best = c;
    }
  }
  if (best.body) {
    set_text(ev, best.body);
    if (best.id)
      ev->entry_id = best.id;
    ev->created_date = best.created_date;
    ev->has_created = best.has_time;
    ev->created_ms = best.has_time ? best.ms : 0;
    if (!by) {
      if (!best.author.id)
        return ignore(r, "conversation has no author (created_by) and its "
                         "message's author has no id");
      u = best.author;
    }
  } else if (!by) {
    return ignore(r, "conversation has no author (created_by) and no "
                     "customer message");
  } else if (!is_blank(text_of(conv, "description"))) {
    set_text(ev, text_of(conv, "description"));
  } else if (!is_blank(text_of(conv, "title"))) {
    set_text(ev, text_of(conv, "title"));
  } else {
    return ignore(r, "message has no text");
  }

  set_author(ev, &u);
  if (!ev->rev_org_id) {
    /* The real sample lists the customer's orgs in rev_orgs[] (5.4). */
    const cJSON *orgs = cJSON_GetObjectItemCaseSensitive(conv, "rev_orgs");
    const cJSON *first = cJSON_IsArray(orgs) ? orgs->child : NULL;
    const struct id_field org[] = {
        {"id", false, &ev->rev_org_id},
        {"display_id", false, &ev->rev_org_display_id}};
    if (cJSON_IsObject(first) &&
        (rc = get_ids(r, first, "conversation_created.conversation.rev_orgs[0]",
                      org, 2)))
      return rc;
  }
  ev->kind = DEVREV_EVENT_MESSAGE;
  return ERR_OK;
}

/* ---- work_created ------------------------------------------------- */

/* The first customer among work.reported_by[] (user summaries), or false.
 * Reporters that are not well-formed rev_users are skipped. */
static bool first_reporter(const struct rd *r, const cJSON *work,
                           struct user *out)
{
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(work, "reported_by");
  const cJSON *item;
  if (!cJSON_IsArray(list))
    return false;
  cJSON_ArrayForEach(item, list)
  {
    if (!cJSON_IsObject(item) || !str_is(text_of(item, "type"), "rev_user"))
      continue;
    struct user u = {.type = "rev_user",
                     .id = text_of(item, "id"),
                     .display_id = text_of(item, "display_id")};
    if (!u.id || !*u.id || strlen(u.id) > DEVREV_EVENT_MAX_ID || is_self(r, &u))
      continue;
    if (u.display_id && strlen(u.display_id) > DEVREV_EVENT_MAX_ID)
      u.display_id = NULL;
    const cJSON *org = cJSON_GetObjectItemCaseSensitive(item, "rev_org");
    if (cJSON_IsObject(org)) {
      u.rev_org_id = text_of(org, "id");
      u.rev_org_display_id = text_of(org, "display_id");
    }
    if (u.rev_org_id && strlen(u.rev_org_id) > DEVREV_EVENT_MAX_ID)
      u.rev_org_id = NULL;
    if (u.rev_org_display_id &&
        strlen(u.rev_org_display_id) > DEVREV_EVENT_MAX_ID)
      u.rev_org_display_id = NULL;
    *out = u;
    return true;
  }
  return false;
}

static enum err read_work(struct rd *r, const cJSON *payload)
{
  static const char *const P = "work_created.work";
  struct devrev_event *ev = r->ev;
  const cJSON *work, *by;
  const char *wtype;
  const struct id_field f[] = {
      {"id", true, &ev->object_id},
      {"type", true, &wtype},
      {"display_id", false, &ev->object_display_id},
  };
  struct user u;
  enum err rc = get_obj(r, payload, "work_created", "work", true, &work);
  if (!rc)
    rc = read_head(r, work, P, f, 3, false, &by, &u);
  if (rc)
    return rc;
  ev->object_type = wtype;
  ev->entry_id = ev->object_id;

  /* Tasks and opportunities are internal work, not something a customer
   * files. */
  if (strcmp(wtype, "ticket") && strcmp(wtype, "issue"))
    return ignore(r, "work type %.64s is not scored", wtype);
  /* Checked before the reporter fallback: a ticket we create may name the
   * customer as its reporter. */
  if (by && is_self(r, &u))
    return ignore(r, "our own work item");
  if (!by || strcmp(u.type, "rev_user")) {
    const char *by_type = by ? u.type : "no created_by";
    if (!first_reporter(r, work, &u))
      return ignore(r, "author is not a customer (%.64s)", by_type);
  }

  const char *title = text_of(work, "title");
  const char *body = text_of(work, "body");
  bool has_title = !is_blank(title), has_body = !is_blank(body);
  if (has_title && has_body) {
    buf_reset(r->compose);
    rc = buf_puts(r->compose, title);
    if (!rc)
      rc = buf_puts(r->compose, "\n\n");
    if (!rc)
      rc = buf_puts(r->compose, body);
    if (rc) {
      invalid(r, "%s title and body exceed %zu bytes", P, r->compose->limit);
      return rc;
    }
    ev->text = buf_ptr(r->compose);
    ev->text_len = r->compose->len;
  } else if (has_title || has_body) {
    set_text(ev, has_title ? title : body);
  } else {
    return ignore(r, "message has no text");
  }

  set_author(ev, &u);
  const char *org_id, *org_display;
  rc = read_org(r, work, P, "rev_org", &org_id, &org_display);
  if (rc)
    return rc;
  if (org_id) {
    ev->rev_org_id = org_id;
    ev->rev_org_display_id = org_display;
  }
  ev->kind = DEVREV_EVENT_MESSAGE;
  return ERR_OK;
}

/* ---- verify and the envelope -------------------------------------- */

/* The challenge sits at verify.challenge per the guide and the spec, and
 * at the top level in DevRev's Go demo (5.2): nested first. */
static enum err read_verify(struct rd *r, const cJSON *root)
{
  const char *challenge = NULL;
  enum err rc;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "verify");
  if (v && !cJSON_IsNull(v)) {
    if (!cJSON_IsObject(v))
      return invalid(r, "verify must be an object");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "challenge");
    if (c && !cJSON_IsNull(c)) {
      rc = get_str(r, v, "verify", "challenge", DEVREV_EVENT_MAX_CHALLENGE,
                   true, &challenge);
      if (rc)
        return rc;
    }
  }
  if (!challenge) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "challenge");
    if (!c || cJSON_IsNull(c))
      return invalid(r, "verify.challenge is required");
    rc = get_str(r, root, "", "challenge", DEVREV_EVENT_MAX_CHALLENGE, true,
                 &challenge);
    if (rc)
      return rc;
  }
  r->ev->challenge = challenge;
  r->ev->kind = DEVREV_EVENT_VERIFY;
  return ERR_OK;
}

bool devrev_event_detect(const cJSON *root)
{
  if (!cJSON_IsObject(root))
    return false;
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
  if (!cJSON_IsString(type) || !type->valuestring)
    return false;
  if (cJSON_GetObjectItemCaseSensitive(root, "customer_id") ||
      cJSON_GetObjectItemCaseSensitive(root, "messages"))
    return false;
  return cJSON_GetObjectItemCaseSensitive(root, "webhook_id") ||
         !strcmp(type->valuestring, "verify");
}

enum err devrev_event_read(const cJSON *root, const char *self_id,
                           struct buf *compose, struct devrev_event *ev,
                           char *err, size_t errlen)
{
  struct rd r = {.ev = ev,
                 .self_id = self_id && *self_id ? self_id : NULL,
                 .compose = compose,
                 .err = err,
                 .errlen = errlen};
  memset(ev, 0, sizeof *ev);
  if (err && errlen)
    err[0] = '\0';
  if (compose)
    buf_reset(compose);

  enum err rc;
  if (!cJSON_IsObject(root)) {
    rc = invalid(&r, "the event must be a JSON object");
    goto out;
  }
  rc = get_str(&r, root, "", "type", DEVREV_EVENT_MAX_ID, true, &ev->type);
  if (rc)
    goto out;
  bool verify = !strcmp(ev->type, "verify");
  rc = get_str(&r, root, "", "id", DEVREV_EVENT_MAX_ID, !verify, &ev->id);
  if (!rc)
    rc = get_str(&r, root, "", "webhook_id", DEVREV_EVENT_MAX_ID, !verify,
                 &ev->webhook_id);
  if (!rc)
    rc = get_str(&r, root, "", "timestamp", DEVREV_EVENT_MAX_TIME, false,
                 &ev->timestamp);
  if (rc)
    goto out;
  /* An unparseable timestamp is left for the caller to judge (has_time
   * false): the staleness window is its policy, not ours. */
  ev->has_time = devrev_parse_time(ev->timestamp, &ev->time_ms);

  if (verify) {
    rc = read_verify(&r, root);
    goto out;
  }

  bool entry = !strcmp(ev->type, "timeline_entry_created");
  bool conv = !strcmp(ev->type, "conversation_created");
  bool work = !strcmp(ev->type, "work_created");
  if (!entry && !conv && !work) {
    rc = ignore(&r, "event type %.64s is not scored", ev->type);
    goto out;
  }
  /* The payload sits under a member named like the type (5.3). */
  const cJSON *payload;
  rc = get_obj(&r, root, "", ev->type, true, &payload);
  if (rc)
    goto out;
  if (entry)
    rc = read_timeline_entry(&r, payload);
  else if (conv)
    rc = read_conversation(&r, payload);
  else
    rc = read_work(&r, payload);
out:
  if (rc) {
    memset(ev, 0, sizeof *ev);
    ev->kind = DEVREV_EVENT_IGNORED;
  }
  return rc;
}

const char *devrev_event_kind_name(enum devrev_event_kind kind)
{
  switch (kind) {
  case DEVREV_EVENT_VERIFY:
    return "verify";
  case DEVREV_EVENT_MESSAGE:
    return "message";
  case DEVREV_EVENT_IGNORED:
    return "ignored";
  }
  return "unknown";
}

/* ---- RFC 3339 ----------------------------------------------------- */

/* Reads exactly n decimal digits at *p, advancing it. */
static bool digits(const char **p, int n, int *out)
{
  int v = 0;
  for (int i = 0; i < n; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9')
      return false;
    v = v * 10 + (c - '0');
  }
  *p += n;
  *out = v;
  return true;
}

static bool expect(const char **p, char c)
{
  if (**p != c)
    return false;
  (*p)++;
  return true;
}

static bool is_leap(int y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* RFC 3339 section 5.6: full-date "T" partial-time time-offset. Leap
 * seconds (:60) are refused: DevRev stamps its events with fractional
 * clock time and never sends one, and none would order correctly. */
bool devrev_parse_time(const char *s, int64_t *ms)
{
  if (!s)
    return false;
  const char *p = s;
  int y, mo, d, h, mi, sec;
  if (!digits(&p, 4, &y) || !expect(&p, '-') || !digits(&p, 2, &mo) ||
      !expect(&p, '-') || !digits(&p, 2, &d))
    return false;
  if (*p != 'T' && *p != 't')
    return false;
  p++;
  if (!digits(&p, 2, &h) || !expect(&p, ':') || !digits(&p, 2, &mi) ||
      !expect(&p, ':') || !digits(&p, 2, &sec))
    return false;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
      mi > 59 || sec > 59)
    return false;
  int frac_ms = 0;
  if (*p == '.') {
    p++;
    int n = 0;
    while (*p >= '0' && *p <= '9') {
      if (n < 3)
        frac_ms = frac_ms * 10 + (*p - '0');
      n++;
      p++;
    }
    if (n == 0)
      return false;
    for (; n < 3; n++)
      frac_ms *= 10;
  }
  int offset_min = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1;
    int oh, om;
    p++;
    if (!digits(&p, 2, &oh) || !expect(&p, ':') || !digits(&p, 2, &om) ||
        oh > 23 || om > 59)
      return false;
    offset_min = sign * (oh * 60 + om);
  } else {
    return false;
  }
  if (*p)
    return false;
  int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
                 (int64_t)offset_min * 60;
  *ms = secs * 1000 + frac_ms;
  return true;
}
