/* bench_lang: speed and accuracy of the language identifier.
 *
 *   bench_lang [--runs N] [FILE.jsonl...]
 *   bench_lang --accuracy [--part all|tune|test] [--errors] SET...
 *
 * Speed: reads the "text" of every line (default: the repository's
 * GoEmotions set, data/goemotions/goemotions_dev.jsonl, found from the
 * current folder or its parent), times lang_detect over the whole corpus N
 * runs (default 7), one thread, and prints the median and the spread in
 * nanoseconds per message, then the languages detected.
 *
 * Accuracy: each SET is one of
 *   tests/data/lang/short_<code>.txt   one text per line, all in <code>;
 *   tests/data/lang/short_other.txt    "code<TAB>text" lines;
 *   CODE:FILE.jsonl                    the "text" of each line, all in CODE.
 * A guess is right when its code is the expected one. --part picks the
 * lines of the short_*.txt sets: "tune" the odd lines (1, 3, ...), the
 * ones the function words were tuned on, "test" the even lines, held out;
 * JSONL sets are always read whole. --errors prints each wrong guess. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/xalloc.h"
#include "lang/lang.h"

struct msg {
  char *text;
  size_t len;
  char want[8];
};

struct corpus {
  struct msg *m;
  size_t n, cap;
};

static void add(struct corpus *c, const char *text, size_t len,
                const char *want)
{
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 1024;
    c->m = xrealloc(c->m, c->cap * sizeof *c->m);
  }
  struct msg *m = &c->m[c->n++];
  m->text = xmalloc(len + 1);
  memcpy(m->text, text, len);
  m->text[len] = 0;
  m->len = len;
  snprintf(m->want, sizeof m->want, "%s", want ? want : "");
}

static void corpus_free(struct corpus *c)
{
  for (size_t i = 0; i < c->n; i++)
    free(c->m[i].text);
  free(c->m);
  c->m = NULL;
  c->n = c->cap = 0;
}

static bool load_jsonl(const char *path, const char *want, struct corpus *c)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return false;
  }
  char *line = NULL;
  size_t lcap = 0;
  ssize_t got;
  while ((got = getline(&line, &lcap, f)) > 0) {
    cJSON *o = cJSON_ParseWithLength(line, (size_t)got);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "text");
    if (cJSON_IsString(t))
      add(c, t->valuestring, strlen(t->valuestring), want);
    cJSON_Delete(o);
  }
  free(line);
  fclose(f);
  return true;
}

/* part: 0 all lines, 1 the odd ones, 2 the even ones. */
static bool load_short(const char *path, int part, struct corpus *c)
{
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  char want[8] = "";
  bool tabbed = !strcmp(base, "short_other.txt");
  if (!tabbed && sscanf(base, "short_%7[a-z].txt", want) != 1) {
    fprintf(stderr, "%s: not a short_<code>.txt set\n", path);
    return false;
  }
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return false;
  }
  char *line = NULL;
  size_t lcap = 0;
  ssize_t got;
  long no = 0;
  while ((got = getline(&line, &lcap, f)) > 0) {
    no++;
    while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
      line[--got] = 0;
    if (got == 0 || (part == 1 && no % 2 == 0) || (part == 2 && no % 2 == 1))
      continue;
    if (tabbed) {
      char *tab = strchr(line, '\t');
      if (!tab || tab - line > 7)
        continue;
      *tab = 0;
      add(c, tab + 1, strlen(tab + 1), line);
    } else {
      add(c, line, (size_t)got, want);
    }
  }
  free(line);
  fclose(f);
  return true;
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y ? 1 : 0;
}

/* Counts of guessed codes, in order of first appearance. */
struct dist {
  char code[64][4];
  size_t count[64];
  int n;
};

static void dist_add(struct dist *d, const char *code)
{
  for (int i = 0; i < d->n; i++)
    if (!strcmp(d->code[i], code)) {
      d->count[i]++;
      return;
    }
  if (d->n < 64) {
    memcpy(d->code[d->n], code, 4);
    d->count[d->n++] = 1;
  }
}

static int speed(int runs, struct corpus *c)
{
  size_t bytes = 0;
  for (size_t i = 0; i < c->n; i++)
    bytes += c->m[i].len;
  double *ns = xmalloc((size_t)runs * sizeof *ns);
  struct lang_guess g;
  volatile double sink = 0;
  for (int r = 0; r < runs; r++) {
    double t0 = now_s();
    for (size_t i = 0; i < c->n; i++) {
      lang_detect(c->m[i].text, c->m[i].len, &g);
      sink += g.confidence;
    }
    ns[r] = (now_s() - t0) * 1e9 / (double)c->n;
  }
  qsort(ns, (size_t)runs, sizeof *ns, cmp_double);
  printf("%zu messages, %.1f bytes on average, %d runs\n", c->n,
         (double)bytes / (double)c->n, runs);
  printf("lang_detect: median %.1f ns/message (min %.1f, max %.1f)\n",
         ns[runs / 2], ns[0], ns[runs - 1]);
  struct dist d = {0};
  for (size_t i = 0; i < c->n; i++) {
    lang_detect(c->m[i].text, c->m[i].len, &g);
    dist_add(&d, g.code);
  }
  printf("languages:");
  for (int i = 0; i < d.n; i++)
    printf(" %s %zu (%.2f%%)", d.code[i], d.count[i],
           100.0 * (double)d.count[i] / (double)c->n);
  printf("\n");
  free(ns);
  return 0;
}

static void accuracy(const char *name, struct corpus *c, bool errors)
{
  struct dist d = {0};
  size_t right = 0;
  for (size_t i = 0; i < c->n; i++) {
    struct lang_guess g;
    lang_detect(c->m[i].text, c->m[i].len, &g);
    if (!strcmp(g.code, c->m[i].want))
      right++;
    else {
      dist_add(&d, g.code);
      if (errors)
        printf("  want %s got %s (%.2f): %s\n", c->m[i].want, g.code,
               g.confidence, c->m[i].text);
    }
  }
  printf("%-40s %5zu texts  %6.2f%% right", name, c->n,
         c->n ? 100.0 * (double)right / (double)c->n : 0.0);
  if (d.n) {
    printf("  wrong:");
    for (int i = 0; i < d.n; i++)
      printf(" %s %zu", d.code[i], d.count[i]);
  }
  printf("\n");
}

int main(int argc, char **argv)
{
  int runs = 7, part = 0, i = 1;
  bool acc = false, errors = false;
  for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
    if (!strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--accuracy"))
      acc = true;
    else if (!strcmp(argv[i], "--errors"))
      errors = true;
    else if (!strcmp(argv[i], "--part") && i + 1 < argc) {
      i++;
      part = !strcmp(argv[i], "tune") ? 1 : !strcmp(argv[i], "test") ? 2 : 0;
    } else {
      fprintf(stderr, "bench_lang: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (runs < 1 || runs > 1000)
    runs = 7;

  if (acc) {
    if (i >= argc) {
      fprintf(stderr, "usage: bench_lang --accuracy [--part all|tune|test] "
                      "[--errors] SET...\n");
      return 2;
    }
    for (; i < argc; i++) {
      struct corpus c = {0};
      const char *colon = strchr(argv[i], ':');
      bool ok;
      if (colon && colon - argv[i] <= 3) {
        char want[4] = {0};
        memcpy(want, argv[i], (size_t)(colon - argv[i]));
        ok = load_jsonl(colon + 1, want, &c);
      } else {
        ok = load_short(argv[i], part, &c);
      }
      if (!ok)
        return 1;
      const char *base = strrchr(argv[i], '/');
      accuracy(base ? base + 1 : argv[i], &c, errors);
      corpus_free(&c);
    }
    return 0;
  }

  struct corpus c = {0};
  if (i < argc) {
    for (; i < argc; i++)
      if (!load_jsonl(argv[i], NULL, &c))
        return 1;
  } else {
    const char *paths[] = {"data/goemotions/goemotions_dev.jsonl",
                           "../data/goemotions/goemotions_dev.jsonl"};
    for (size_t k = 0; k < 2 && !c.n; k++)
      if (access(paths[k], R_OK) == 0)
        load_jsonl(paths[k], NULL, &c);
  }
  if (!c.n) {
    fprintf(stderr, "usage: bench_lang [--runs N] FILE.jsonl...\n");
    return 2;
  }
  int rc = speed(runs, &c);
  corpus_free(&c);
  return rc;
}
