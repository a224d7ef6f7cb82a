/* Golden test of polarity: every line of $SHARED_DATA/textblob_golden.jsonl
 * ({"id", "text", "polarity", "subjectivity"}, scored by TextBlob itself)
 * must score within 1e-9 on both values. Prints the number of mismatches
 * and the first few in detail, and the scoring rate. A missing file is a
 * failure, not a skip. */
#include "harness.h"

#include <cjson/cJSON.h>
#include <time.h>

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

static void golden_file(void)
{
  const char *dir = getenv("SHARED_DATA");
  char path[4096];
  snprintf(path, sizeof path, "%s/textblob_golden.jsonl",
           dir ? dir : "../shared/data");
  FILE *f = fopen(path, "r");
  if (!f) {
    FAIL_AT("cannot open %s", path);
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

int main(void)
{
  RUN(golden_file);
  HARNESS_EXIT();
}
