/* score: JSON Lines in, JSON Lines out.
 *
 * Each input line is a JSON object with a string field "text"; it is
 * written back with "polarity" and "subjectivity" added and every other
 * field kept as it was. Memory stays constant: one line at a time, lines
 * longer than SCORE_MAX_LINE are refused. A bad line (not JSON, not an
 * object, no text, invalid UTF-8, too long) is reported on stderr with its
 * line number and skipped; the exit status is 1 when any line was bad. */
#include "cli/cli.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/jsonw.h"
#include "base/utf8.h"
#include "sentiment/lexicon.h"
#include "sentiment/polarity.h"

/* 16 MiB per line: documents in the labeled sets reach 33 KiB. */
#define SCORE_MAX_LINE ((size_t)16 << 20)

static void usage(FILE *f)
{
  fprintf(f,
          "usage: frustration-alert score [FILE...]\n"
          "\n"
          "Reads JSON Lines (FILE, or standard input) whose objects have a\n"
          "\"text\" field and writes each object back with \"polarity\" and\n"
          "\"subjectivity\" added, other fields kept. Bad lines are reported\n"
          "on stderr (file:line: reason) and skipped; the exit status is 1\n"
          "if there was any.\n");
}

/* Reads one line (without its newline) into line. Returns 1 on a line, 0 at
 * end of input, -1 when the line exceeded the limit (the rest of it is
 * consumed and dropped). */
static int read_line(FILE *in, struct buf *line)
{
  buf_reset(line);
  bool too_long = false;
  int c = 0;
  bool any = false;
  char chunk[4096];
  size_t n = 0;
  while ((c = getc_unlocked(in)) != EOF) {
    any = true;
    if (c == '\n')
      break;
    chunk[n++] = (char)c;
    if (n == sizeof chunk) {
      if (!too_long && buf_append(line, chunk, n))
        too_long = true;
      n = 0;
    }
  }
  if (!too_long && n && buf_append(line, chunk, n))
    too_long = true;
  if (!any)
    return 0;
  return too_long ? -1 : 1;
}

static bool blank(const char *s, size_t len)
{
  for (size_t i = 0; i < len; i++)
    if (!strchr(" \t\r", s[i]))
      return false;
  return true;
}

/* Scores one line into out; on failure returns a static reason. */
static const char *score_line(const struct lexicon *lx, struct buf *line,
                              struct polarity_result *r, struct buf *out)
{
  if (!utf8_is_valid(line->data, line->len))
    return "invalid UTF-8";
  /* A NUL byte is not JSON; cJSON would stop reading there. Requiring the
   * terminator after the value refuses trailing garbage. */
  cJSON *obj = NULL;
  if (!memchr(line->data, '\0', line->len))
    obj = cJSON_ParseWithOpts(line->data, NULL, 1);
  const char *why = NULL;
  if (!obj) {
    why = "malformed JSON";
    goto out;
  }
  if (!cJSON_IsObject(obj)) {
    why = "not a JSON object";
    goto out;
  }
  const cJSON *text = cJSON_GetObjectItemCaseSensitive(obj, "text");
  if (!cJSON_IsString(text)) {
    why = text ? "\"text\" is not a string" : "no \"text\" field";
    goto out;
  }
  if (polarity_analyze(lx, text->valuestring, strlen(text->valuestring), r)) {
    why = "text cannot be scored";
    goto out;
  }
  char p[40], s[40];
  size_t plen = jsonw_format_double(r->polarity, p);
  size_t slen = jsonw_format_double(r->subjectivity, s);
  if (!cJSON_GetObjectItemCaseSensitive(obj, "polarity") &&
      !cJSON_GetObjectItemCaseSensitive(obj, "subjectivity")) {
    /* Fast path: keep the original bytes, insert before the final brace. */
    size_t end = line->len;
    while (end > 0 && strchr(" \t\r", line->data[end - 1]))
      end--;
    buf_append(out, line->data, end - 1);
    buf_puts(out, ", \"polarity\": ");
    buf_append(out, p, plen);
    buf_puts(out, ", \"subjectivity\": ");
    buf_append(out, s, slen);
    buf_puts(out, "}\n");
  } else {
    cJSON_ReplaceItemInObjectCaseSensitive(obj, "polarity",
                                           cJSON_CreateNumber(r->polarity));
    cJSON_DeleteItemFromObjectCaseSensitive(obj, "subjectivity");
    cJSON_AddNumberToObject(obj, "subjectivity", r->subjectivity);
    if (!cJSON_GetObjectItemCaseSensitive(obj, "polarity"))
      cJSON_AddNumberToObject(obj, "polarity", r->polarity);
    char *json = cJSON_PrintUnformatted(obj);
    buf_puts(out, json);
    buf_putc(out, '\n');
    cJSON_free(json);
  }
out:
  cJSON_Delete(obj);
  return why;
}

static int score_stream(const struct lexicon *lx, FILE *in, const char *name,
                        struct polarity_result *r, struct buf *line,
                        struct buf *out, unsigned long *bad)
{
  unsigned long lineno = 0;
  int got;
  while ((got = read_line(in, line)) != 0) {
    lineno++;
    const char *why = NULL;
    if (got < 0)
      why = "line too long";
    else if (blank(line->data, line->len))
      continue;
    else
      why = score_line(lx, line, r, out);
    if (why) {
      (*bad)++;
      fprintf(stderr, "%s:%lu: %s\n", name, lineno, why);
    }
    /* Flush in large blocks: one write per line would dominate. */
    if (out->len >= 1 << 16) {
      fwrite(out->data, 1, out->len, stdout);
      buf_reset(out);
    }
  }
  if (ferror(in)) {
    fprintf(stderr, "%s: read error\n", name);
    return 1;
  }
  return 0;
}

int cli_score(int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    }
    if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "score: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  struct lexicon *lx = NULL;
  enum err rc = lexicon_new(LEXICON_EN, &lx);
  if (rc) {
    fprintf(stderr, "score: lexicon: %s\n", err_str(rc));
    return 1;
  }
  struct polarity_result r;
  struct buf line, out;
  polarity_result_init(&r);
  buf_init(&line, SCORE_MAX_LINE);
  buf_init(&out, 0);
  unsigned long bad = 0;
  int status = 0;
  if (argc < 2) {
    status = score_stream(lx, stdin, "<stdin>", &r, &line, &out, &bad);
  } else {
    for (int i = 1; i < argc; i++) {
      FILE *f = strcmp(argv[i], "-") ? fopen(argv[i], "rb") : stdin;
      if (!f) {
        perror(argv[i]);
        status = 1;
        continue;
      }
      status |= score_stream(lx, f, argv[i], &r, &line, &out, &bad);
      if (f != stdin)
        fclose(f);
    }
  }
  fwrite(out.data ? out.data : "", 1, out.len, stdout);
  if (fflush(stdout) != 0)
    status = 1;
  if (bad) {
    fprintf(stderr, "score: %lu bad line%s skipped\n", bad,
            bad == 1 ? "" : "s");
    status = 1;
  }
  buf_cleanup(&line);
  buf_cleanup(&out);
  polarity_result_cleanup(&r);
  lexicon_free(lx);
  return status;
}
