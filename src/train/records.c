/* records: the one reader of labeled JSON Lines (records.h says what a
 * record holds). It only reads: no record is dropped here for what it
 * says, so that the trainer and eval each keep their own policy. */
#include "train/records.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

enum err records_read(const char *path, unsigned flags, records_fn fn,
                      void *arg, struct records_counts *counts)
{
  bool use_stdin = (flags & RECORDS_STDIN) && !strcmp(path, "-");
  FILE *f = use_stdin ? stdin : fopen(path, "rb");
  if (!f) {
    perror(path);
    return ERR_IO;
  }
  /* A record without a "source" is known by its file's name. */
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  char file_source[256];
  snprintf(file_source, sizeof file_source, "file:%s", base);
  char *line = NULL;
  size_t cap = 0;
  ssize_t got;
  unsigned long lineno = 0;
  while ((got = getline(&line, &cap, f)) > 0) {
    lineno++;
    if ((flags & RECORDS_CHECK_BYTES) &&
        ((size_t)got > RECORDS_MAX_LINE || !utf8_is_valid(line, (size_t)got))) {
      counts->bad++;
      continue;
    }
    cJSON *o = cJSON_ParseWithLength(line, (size_t)got);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "text");
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(o, "label");
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(label, "frustrated");
    if (!cJSON_IsString(text)) {
      if (o || strspn(line, " \t\r\n") != (size_t)got) {
        if (flags & RECORDS_SAY_BAD)
          fprintf(stderr, "%s:%lu: no \"text\"\n", path, lineno);
        counts->bad++;
      }
      cJSON_Delete(o);
      continue;
    }
    if (!cJSON_IsBool(fr)) {
      counts->unlabeled++;
      cJSON_Delete(o);
      continue;
    }
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "weight");
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(o, "source");
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(o, "lang");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(o, "meta");
    const cJSON *os = cJSON_GetObjectItemCaseSensitive(meta, "orig_split");
    struct records_item r = {
        .text = text->valuestring,
        .len = strlen(text->valuestring),
        .frustrated = cJSON_IsTrue(fr),
        .weight = cJSON_IsNumber(w) ? w->valuedouble : 1.0,
        .source = cJSON_IsString(src) ? src->valuestring : file_source,
        .lang = cJSON_IsString(lang) ? lang->valuestring : NULL,
        .orig_split = cJSON_IsString(os) ? os->valuestring : NULL,
        .path = path,
        .line = lineno,
    };
    fn(arg, &r);
    cJSON_Delete(o);
  }
  free(line);
  enum err rc = ferror(f) ? ERR_IO : ERR_OK;
  if (!use_stdin)
    fclose(f);
  return rc;
}

enum lang records_lang(const char *code)
{
  if (!code)
    return LANG_EN;
  int v = lang_from_code(code, strlen(code));
  return v < 0 ? LANG_OTHER : (enum lang)v;
}

void records_prf(size_t tp, size_t fp, size_t pos, double *precision,
                 double *recall, double *f1)
{
  *precision = tp + fp ? (double)tp / (double)(tp + fp) : 0.0;
  *recall = pos ? (double)tp / (double)pos : 0.0;
  *f1 = *precision + *recall > 0
            ? 2 * *precision * *recall / (*precision + *recall)
            : 0.0;
}
