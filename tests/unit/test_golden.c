/* Golden test of polarity: every line of a golden file ({"id", "text",
 * "polarity", "subjectivity"}, scored by TextBlob itself) must score within
 * 1e-9 on both values. Prints the number of mismatches and the first few in
 * detail, and the scoring rate.
 *
 *   test_golden FILE       a missing file is a failure
 *   test_golden --shared   $SHARED_DATA/textblob_golden.jsonl, skipped
 *                          (exit 77) when SHARED_DATA is unset or lacks it
 *
 * CTest runs both: the repository's tests/data/textblob_golden.jsonl
 * (GoEmotions texts and the project's edge cases), and the larger shared
 * file, whose other texts' licenses keep them out of the repository. */
#include "harness.h"

#include <cjson/cJSON.h>
#include <time.h>
#include <unistd.h>

#include "sentiment/lexicon.h"
#include "sentiment/polarity.h"

#define GOLDEN_EPS 1e-9
#define GOLDEN_SHOWN 20

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void show(size_t line_no, const char *text, double want_p, double want_s,
                 const struct polarity_result *r)
{
  fprintf(stderr, "line %zu: %.300s\n  want %.17g %.17g\n  got  %.17g %.17g\n",
          line_no, text, want_p, want_s, r->polarity, r->subjectivity);
  for (size_t i = 0; i < r->n_assessments; i++)
    fprintf(stderr, "    [%s] %.17g %.17g\n", r->assessments[i].words,
            r->assessments[i].polarity, r->assessments[i].subjectivity);
}

static char golden_path[4096];

static void golden_file(void)
{
  FILE *f = fopen(golden_path, "r");
  if (!f) {
    FAIL_AT("cannot open %s", golden_path);
    return;
  }
  struct lexicon *lx = NULL;
  CHECK_INT(lexicon_new(LEXICON_EN, &lx), ERR_OK);
  struct polarity_result r;
  polarity_result_init(&r);

  char *line = NULL;
  size_t cap = 0, line_no = 0, scored = 0, mismatches = 0, exact = 0;
  double seconds = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) > 0) {
    line_no++;
    cJSON *doc = cJSON_ParseWithLength(line, (size_t)n);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(doc, "text");
    const cJSON *pol = cJSON_GetObjectItemCaseSensitive(doc, "polarity");
    const cJSON *subj = cJSON_GetObjectItemCaseSensitive(doc, "subjectivity");
    if (!cJSON_IsString(text) || !cJSON_IsNumber(pol) ||
        !cJSON_IsNumber(subj)) {
      FAIL_AT("line %zu: not a golden record", line_no);
      cJSON_Delete(doc);
      continue;
    }
    /* cJSON strings stop at an escaped NUL; no golden text has one. */
    double t0 = now_s();
    enum err rc =
        polarity_analyze(lx, text->valuestring, strlen(text->valuestring), &r);
    seconds += now_s() - t0;
    scored++;
    bool ok = rc == ERR_OK &&
              fabs(r.polarity - pol->valuedouble) <= GOLDEN_EPS &&
              fabs(r.subjectivity - subj->valuedouble) <= GOLDEN_EPS;
    if (!ok) {
      if (mismatches < GOLDEN_SHOWN)
        show(line_no, text->valuestring, pol->valuedouble, subj->valuedouble,
             &r);
      mismatches++;
    } else if (r.polarity == pol->valuedouble &&
               r.subjectivity == subj->valuedouble) {
      exact++;
    }
    cJSON_Delete(doc);
  }
  free(line);
  fclose(f);
  fprintf(stderr,
          "golden: %zu texts, %zu mismatches, %zu bit-identical, "
          "%.0f texts/s\n",
          scored, mismatches, exact,
          seconds > 0 ? (double)scored / seconds : 0.0);
  CHECK(scored > 0);
  CHECK_INT(mismatches, 0);
  polarity_result_cleanup(&r);
  lexicon_free(lx);
}

int main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: test_golden FILE | test_golden --shared\n");
    return 2;
  }
  if (strcmp(argv[1], "--shared") == 0) {
    const char *dir = getenv("SHARED_DATA");
    if (dir && *dir)
      snprintf(golden_path, sizeof golden_path, "%s/textblob_golden.jsonl",
               dir);
    if (!dir || !*dir || access(golden_path, R_OK) != 0) {
      fprintf(stderr, "test_golden: SKIPPED: %s\n",
              dir && *dir ? "no textblob_golden.jsonl in $SHARED_DATA"
                          : "SHARED_DATA is unset");
      return HARNESS_SKIP;
    }
  } else {
    snprintf(golden_path, sizeof golden_path, "%s", argv[1]);
  }
  RUN(golden_file);
  HARNESS_EXIT();
}
