/* Unit tests of train/records: what a line hands on and what it counts,
 * the byte check eval asks for (RECORDS_CHECK_BYTES) and the trainer
 * does not, a file that cannot be opened, the language of a "lang", and
 * precision, recall and F1. */
#include "harness.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "train/records.h"

/* What the callback saw, copied out of the borrowed record. */
struct seen {
  size_t n;
  char text[4][64];
  bool frustrated[4];
  double weight[4];
  char source[4][64];
  char lang[4][8];        /* "" for NULL */
  char orig_split[4][16]; /* "" for NULL */
  unsigned long line[4];
};

static void keep(void *arg, const struct records_item *r)
{
  struct seen *s = arg;
  if (s->n == 4) {
    s->n++;
    return;
  }
  size_t i = s->n++;
  CHECK_INT(r->len, strlen(r->text));
  snprintf(s->text[i], sizeof s->text[i], "%s", r->text);
  s->frustrated[i] = r->frustrated;
  s->weight[i] = r->weight;
  snprintf(s->source[i], sizeof s->source[i], "%s", r->source);
  snprintf(s->lang[i], sizeof s->lang[i], "%s", r->lang ? r->lang : "");
  snprintf(s->orig_split[i], sizeof s->orig_split[i], "%s",
           r->orig_split ? r->orig_split : "");
  s->line[i] = r->line;
}

/* Writes body to a new file under /tmp; path gets its name. */
static void write_file(const char *body, char *path, size_t size)
{
  snprintf(path, size, "/tmp/test_records.XXXXXX");
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0)
    return;
  CHECK_INT(write(fd, body, strlen(body)), strlen(body));
  close(fd);
}

static const char lines[] =
    "{\"text\": \"broken again\", \"label\": {\"frustrated\": true}}\n"
    "{not json\n"
    "{\"label\": {\"frustrated\": true}}\n"
    "\n"
    "  \n"
    "{\"text\": \"fine\", \"label\": {\"frustrated\": null}}\n"
    "{\"text\": \"ok\", \"label\": {\"frustrated\": \"yes\"}}\n"
    "{\"text\": \"thanks\", \"label\": {\"frustrated\": false}, \"weight\": "
    "2.5, \"source\": \"mine\", \"lang\": \"fr\", \"meta\": {\"orig_split\": "
    "\"dev\"}}\n"
    "{\"text\": \"caf\xe9\", \"label\": {\"frustrated\": true}}\n";

static void records_and_counts(void)
{
  char path[64];
  write_file(lines, path, sizeof path);
  struct seen s = {0};
  struct records_counts c = {1, 1}; /* added to, not reset */
  CHECK_INT(records_read(path, 0, keep, &s, &c), ERR_OK);
  CHECK_INT(s.n, 3);
  CHECK_INT(c.bad, 1 + 2);       /* not JSON, no "text"; blanks pass */
  CHECK_INT(c.unlabeled, 1 + 2); /* null, a string */
  char file_source[80];
  snprintf(file_source, sizeof file_source, "file:%s", strrchr(path, '/') + 1);
  CHECK_STR(s.text[0], "broken again");
  CHECK(s.frustrated[0]);
  CHECK_NEAR(s.weight[0], 1.0, 0);
  CHECK_STR(s.source[0], file_source);
  CHECK_STR(s.lang[0], "");
  CHECK_STR(s.orig_split[0], "");
  CHECK_INT(s.line[0], 1);
  CHECK_STR(s.text[1], "thanks");
  CHECK(!s.frustrated[1]);
  CHECK_NEAR(s.weight[1], 2.5, 0);
  CHECK_STR(s.source[1], "mine");
  CHECK_STR(s.lang[1], "fr");
  CHECK_STR(s.orig_split[1], "dev");
  CHECK_INT(s.line[1], 8);
  /* Without RECORDS_CHECK_BYTES a line that is not UTF-8 is read. */
  CHECK_STR(s.text[2], "caf\xe9");
  CHECK_INT(s.line[2], 9);
  unlink(path);
}

static void check_bytes_refuses_bad_utf8(void)
{
  char path[64];
  write_file(lines, path, sizeof path);
  struct seen s = {0};
  struct records_counts c = {0};
  CHECK_INT(records_read(path, RECORDS_CHECK_BYTES, keep, &s, &c), ERR_OK);
  CHECK_INT(s.n, 2);
  CHECK_INT(c.bad, 3);
  CHECK_INT(c.unlabeled, 2);
  unlink(path);
}

static void missing_file_is_io(void)
{
  struct seen s = {0};
  struct records_counts c = {0};
  /* records_read says why on stderr; a passing test prints nothing. */
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  int null = open("/dev/null", O_WRONLY);
  dup2(null, STDERR_FILENO);
  enum err rc =
      records_read("/nonexistent/records.jsonl", RECORDS_STDIN, keep, &s, &c);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(null);
  CHECK_INT(rc, ERR_IO);
  CHECK_INT(s.n, 0);
  CHECK_INT(c.bad, 0);
}

static void lang_of_a_code(void)
{
  CHECK_INT(records_lang(NULL), LANG_EN);
  CHECK_INT(records_lang("en"), LANG_EN);
  CHECK_INT(records_lang("fr"), LANG_FR);
  CHECK_INT(records_lang("pt"), LANG_PT);
  CHECK_INT(records_lang("pl"), LANG_OTHER);
  /* Not a language code at all: not English either. */
  CHECK_INT(records_lang("english please"), LANG_OTHER);
}

static void prf(void)
{
  double p, r, f1;
  records_prf(3, 1, 6, &p, &r, &f1);
  CHECK_NEAR(p, 0.75, 1e-15);
  CHECK_NEAR(r, 0.5, 1e-15);
  CHECK_NEAR(f1, 0.6, 1e-15);
  /* Nothing predicted, nothing to find: 0, not a division by zero. */
  records_prf(0, 0, 0, &p, &r, &f1);
  CHECK_NEAR(p, 0.0, 0);
  CHECK_NEAR(r, 0.0, 0);
  CHECK_NEAR(f1, 0.0, 0);
  records_prf(0, 2, 4, &p, &r, &f1);
  CHECK_NEAR(f1, 0.0, 0);
}

int main(void)
{
  RUN(records_and_counts);
  RUN(check_bytes_refuses_bad_utf8);
  RUN(missing_file_is_io);
  RUN(lang_of_a_code);
  RUN(prf);
  HARNESS_EXIT();
}
