/* payload: writes and reads the outbox payloads (the schema is in
 * payload.h). Field names appear here and nowhere else in src/. */
#include "alerting/payload.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/jsonw.h"
#include "base/utf8.h"

/* ---- Writing ------------------------------------------------------------ */

static void key_str(struct jsonw *w, const char *key, const char *v)
{
  if (!v)
    return;
  jsonw_key(w, key);
  jsonw_string(w, v);
}

/* Every payload is one JSON object written into a fresh buffer. */
static void object_begin(struct buf *b, struct jsonw *w)
{
  buf_init(b, 0);
  jsonw_init(w, b);
  jsonw_object_begin(w);
}

static char *object_end(struct buf *b, struct jsonw *w)
{
  jsonw_object_end(w);
  return buf_take(b);
}

char *payload_facts(const struct ingest_msg *m)
{
  struct buf b;
  struct jsonw w;
  object_begin(&b, &w);
  key_str(&w, "customer_id", m->customer_id);
  key_str(&w, "conversation_id", m->conversation_id);
  key_str(&w, "channel", m->channel);
  key_str(&w, "language", m->lang);
  key_str(&w, "message_id", m->message_id);
  if (m->text) {
    size_t len = strlen(m->text);
    size_t cut = utf8_cut_bytes(m->text, len, STORE_EXCERPT_MAX);
    jsonw_key(&w, "excerpt");
    if (cut < len) {
      struct buf e;
      buf_init(&e, 0);
      /* At most STORE_EXCERPT_MAX bytes and an ellipsis. */
      buf_must_fit(buf_append(&e, m->text, cut));
      buf_must_fit(buf_puts(&e, "\xe2\x80\xa6")); /* U+2026, the text goes on */
      jsonw_string(&w, buf_ptr(&e));
      buf_cleanup(&e);
    } else {
      jsonw_string(&w, m->text);
    }
  }
  jsonw_kv_double(&w, "polarity", m->polarity);
  jsonw_kv_double(&w, "subjectivity", m->subjectivity);
  key_str(&w, "level", m->level_name);
  key_str(&w, "severity", m->severity);
  key_str(&w, "words", m->words);
  key_str(&w, "source_object", m->source_object);
  key_str(&w, "source_display_id", m->source_display_id);
  key_str(&w, "source_type", m->source_type);
  key_str(&w, "rev_org", m->rev_org);
  return object_end(&b, &w);
}

char *payload_source_update(const struct ingest_msg *m,
                            const struct alert_policy *pol, size_t level,
                            const char *severity)
{
  struct buf b;
  struct jsonw w;
  object_begin(&b, &w);
  key_str(&w, "source_object", m->source_object);
  key_str(&w, "source_display_id", m->source_display_id);
  key_str(&w, "customer_id", m->customer_id);
  if (level < pol->n_levels && level < STORE_MAX_LEVELS)
    key_str(&w, "level", pol->level_names[level]);
  if (pol->source_severity)
    key_str(&w, "severity", severity);
  if (pol->source_sentiment && level < pol->n_levels &&
      level < STORE_MAX_LEVELS && pol->sentiments[level] > 0) {
    jsonw_kv_int(&w, "sentiment", pol->sentiments[level]);
  }
  return object_end(&b, &w);
}

char *payload_severity(const struct ingest_msg *m, const char *prev)
{
  struct buf b;
  struct jsonw w;
  object_begin(&b, &w);
  key_str(&w, "level", m->level_name);
  key_str(&w, "severity", m->severity);
  key_str(&w, "previous_severity", prev);
  return object_end(&b, &w);
}

/* ---- Reading ------------------------------------------------------------ */

static const char *str_of(const cJSON *obj, const char *key)
{
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

bool payload_read(const char *json, struct payload *p)
{
  memset(p, 0, sizeof *p);
  cJSON *root = json ? cJSON_Parse(json) : NULL;
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return false;
  }
  p->root = root;
  struct devrev_alert *a = &p->facts;
  a->customer_id = str_of(root, "customer_id");
  a->conversation_id = str_of(root, "conversation_id");
  a->channel = str_of(root, "channel");
  a->language = str_of(root, "language");
  a->message_id = str_of(root, "message_id");
  a->excerpt = str_of(root, "excerpt");
  a->level = str_of(root, "level");
  a->severity = str_of(root, "severity");
  a->words = str_of(root, "words");
  const cJSON *pol = cJSON_GetObjectItemCaseSensitive(root, "polarity");
  const cJSON *sub = cJSON_GetObjectItemCaseSensitive(root, "subjectivity");
  a->has_scores = cJSON_IsNumber(pol) && cJSON_IsNumber(sub);
  if (a->has_scores) {
    a->polarity = pol->valuedouble;
    a->subjectivity = sub->valuedouble;
  }
  p->source_object = str_of(root, "source_object");
  p->source_display_id = str_of(root, "source_display_id");
  return true;
}

const char *payload_source_fields(const struct payload *p,
                                  const char **severity, int *sentiment)
{
  const cJSON *sev = cJSON_GetObjectItemCaseSensitive(p->root, "severity");
  const cJSON *sen = cJSON_GetObjectItemCaseSensitive(p->root, "sentiment");
  *severity = NULL;
  *sentiment = 0;
  if (sev && !cJSON_IsString(sev))
    return "payload has an invalid severity";
  if (sev && *sev->valuestring)
    *severity = sev->valuestring;
  if (sen) {
    /* DevRev's sentiment is an integer enum id, 1 or more. */
    if (!cJSON_IsNumber(sen) || sen->valuedouble < 1 ||
        sen->valuedouble > 1e6 ||
        sen->valuedouble != (double)(int)sen->valuedouble)
      return "payload has an invalid sentiment";
    *sentiment = (int)sen->valuedouble;
  }
  return NULL;
}

void payload_cleanup(struct payload *p)
{
  cJSON_Delete(p->root);
  memset(p, 0, sizeof *p);
}
