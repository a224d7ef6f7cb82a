/* bench_detector: microseconds per message of the support-tuned detector.
 *
 *   bench_detector [--runs N] FILE.jsonl...
 *
 * Reads the "text" of every line (default: the repository's GoEmotions
 * set, data/goemotions/goemotions_dev.jsonl, found from the current folder
 * or its parent, as `make bench` and build/ run it), computes each text's TextBlob polarity once, then times
 * detector_score alone over the whole corpus, N runs (default 7), and
 * prints the median and the spread in microseconds per message. A last line
 * times the whole model path (polarity_analyze + detector_score), the
 * figure to set against TextBlob's messages per second. One thread, warm
 * result buffers, as the service scores.
 *
 * The detector remembers the words and tokens it has read, so its first
 * run, over text it has never seen, is reported on its own line: the
 * figure for a stream of new messages whose vocabulary is new too. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/xalloc.h"
#include "detector/detector.h"
#include "sentiment/lexicon.h"
#include "sentiment/polarity.h"

struct msg {
  char *text;
  size_t len;
  double polarity, subjectivity;
};

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

static size_t load(const char *path, struct msg **msgs, size_t n, size_t *cap)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return n;
  }
  char *line = NULL;
  size_t lcap = 0;
  ssize_t got;
  while ((got = getline(&line, &lcap, f)) > 0) {
    cJSON *o = cJSON_ParseWithLength(line, (size_t)got);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "text");
    if (cJSON_IsString(t)) {
      if (n == *cap) {
        *cap = *cap ? *cap * 2 : 4096;
        *msgs = xrealloc(*msgs, *cap * sizeof **msgs);
      }
      (*msgs)[n].text = xstrdup(t->valuestring);
      (*msgs)[n].len = strlen(t->valuestring);
      n++;
    }
    cJSON_Delete(o);
  }
  free(line);
  fclose(f);
  return n;
}

int main(int argc, char **argv)
{
  int runs = 7, first = 1;
  if (argc > 2 && !strcmp(argv[1], "--runs")) {
    runs = atoi(argv[2]);
    first = 3;
  }
  if (runs < 1 || runs > 1000)
    runs = 7;
  struct msg *msgs = NULL;
  size_t n = 0, cap = 0;
  if (first < argc) {
    for (int i = first; i < argc; i++)
      n = load(argv[i], &msgs, n, &cap);
  } else {
    const char *paths[] = {"data/goemotions/goemotions_dev.jsonl",
                           "../data/goemotions/goemotions_dev.jsonl"};
    for (size_t i = 0; i < 2 && !n; i++)
      if (access(paths[i], R_OK) == 0)
        n = load(paths[i], &msgs, n, &cap);
  }
  if (!n) {
    fprintf(stderr, "usage: bench_detector [--runs N] FILE.jsonl...\n");
    return 2;
  }

  struct lexicon *lx = NULL;
  struct detector_model *m = NULL;
  struct detector *d = NULL;
  if (lexicon_new(LEXICON_EN, &lx) || detector_model_builtin(&m) ||
      detector_new(m, &d)) {
    fprintf(stderr, "bench_detector: no lexicon or no built-in model\n");
    return 1;
  }
  struct polarity_result pr;
  struct detector_result r;
  polarity_result_init(&pr);
  detector_result_init(&r);
  size_t bytes = 0;
  for (size_t i = 0; i < n; i++) {
    polarity_analyze(lx, msgs[i].text, msgs[i].len, &pr);
    msgs[i].polarity = pr.polarity;
    msgs[i].subjectivity = pr.subjectivity;
    bytes += msgs[i].len;
  }

  double *us = xcalloc((size_t)runs, sizeof *us);
  double *us_all = xcalloc((size_t)runs, sizeof *us_all);
  double sink = 0; /* keeps the compiler from dropping the work */
  double us_first = 0;
  for (int k = 0; k < runs; k++) {
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
      detector_score(d, msgs[i].text, msgs[i].len, LANG_EN, msgs[i].polarity,
                     msgs[i].subjectivity, &r);
      sink += r.score;
    }
    us[k] = (now_s() - t0) * 1e6 / (double)n;
    if (k == 0)
      us_first = us[k];
    t0 = now_s();
    for (size_t i = 0; i < n; i++) {
      polarity_analyze(lx, msgs[i].text, msgs[i].len, &pr);
      detector_score(d, msgs[i].text, msgs[i].len, LANG_EN, pr.polarity,
                     pr.subjectivity, &r);
      sink += r.score;
    }
    us_all[k] = (now_s() - t0) * 1e6 / (double)n;
  }
  qsort(us, (size_t)runs, sizeof *us, cmp_double);
  qsort(us_all, (size_t)runs, sizeof *us_all, cmp_double);
  printf("corpus: %zu messages, %.0f bytes on average; %d runs\n", n,
         (double)bytes / (double)n, runs);
  printf("detector_score, first run: %.2f us/message (its memo empty)\n",
         us_first);
  printf("detector_score:           median %.2f us/message (min %.2f, max "
         "%.2f), %.0f messages/s\n",
         us[runs / 2], us[0], us[runs - 1], 1e6 / us[runs / 2]);
  printf("polarity + detector_score: median %.2f us/message (min %.2f, max "
         "%.2f), %.0f messages/s\n",
         us_all[runs / 2], us_all[0], us_all[runs - 1], 1e6 / us_all[runs / 2]);
  if (sink < 0)
    printf("%f\n", sink);
  free(us);
  free(us_all);
  for (size_t i = 0; i < n; i++)
    free(msgs[i].text);
  free(msgs);
  detector_result_cleanup(&r);
  polarity_result_cleanup(&pr);
  detector_free(d);
  detector_model_free(m);
  lexicon_free(lx);
  return 0;
}
