/* Golden test of polarity for fr, it and nl: every line of
 * tests/data/pattern_golden_<lang>.jsonl ({"text", "polarity",
 * "subjectivity", "assessments"}, scored by pattern itself with
 * tools/patterngen.py) must score within 1e-9 on both values and give the
 * same assessments (words, polarity and subjectivity within 1e-9, label).
 * Prints the number of mismatches and the first few in detail, and the
 * scoring rate.
 *
 *   test_golden_pattern [DIR]   DIR defaults to $TEST_DATA; a missing file
 *                               is a failure */
#include "harness.h"

#include <cjson/cJSON.h>
#include <time.h>

#include "sentiment/lexicon.h"
#include "sentiment/polarity.h"

#define GOLDEN_EPS 1e-9
#define GOLDEN_SHOWN 10

static const char *data_dir;

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool near(double a, double b)
{
  return fabs(a - b) <= GOLDEN_EPS;
}

/* The assessments of r equal the golden list want. */
static bool same_assessments(const struct polarity_result *r, const cJSON *want)
{
  if (!cJSON_IsArray(want) || cJSON_GetArraySize(want) != (int)r->n_assessments)
    return false;
  for (size_t i = 0; i < r->n_assessments; i++) {
    const struct polarity_assessment *a = &r->assessments[i];
    const cJSON *w = cJSON_GetArrayItem(want, (int)i);
    const cJSON *words = cJSON_GetArrayItem(w, 0);
    const cJSON *p = cJSON_GetArrayItem(w, 1), *s = cJSON_GetArrayItem(w, 2);
    const cJSON *label = cJSON_GetArrayItem(w, 3);
    if (!cJSON_IsString(words) || strcmp(words->valuestring, a->words) != 0 ||
        !cJSON_IsNumber(p) || !near(p->valuedouble, a->polarity) ||
        !cJSON_IsNumber(s) || !near(s->valuedouble, a->subjectivity))
      return false;
    if (cJSON_IsString(label)
            ? !a->label || strcmp(label->valuestring, a->label) != 0
            : a->label != NULL)
      return false;
  }
  return true;
}

static void show(size_t line_no, const char *line,
                 const struct polarity_result *r)
{
  fprintf(stderr, "line %zu: %.400s  got %.17g %.17g\n", line_no, line,
          r->polarity, r->subjectivity);
  for (size_t i = 0; i < r->n_assessments; i++)
    fprintf(stderr, "    [%s] %.17g %.17g %s\n", r->assessments[i].words,
            r->assessments[i].polarity, r->assessments[i].subjectivity,
            r->assessments[i].label ? r->assessments[i].label : "-");
}

static void golden_lang(enum lexicon_lang lang, const char *code)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/pattern_golden_%s.jsonl", data_dir, code);
  FILE *f = fopen(path, "r");
  if (!f) {
    FAIL_AT("cannot open %s", path);
    return;
  }
  struct lexicon *lx = NULL;
  CHECK_INT(lexicon_new(lang, &lx), ERR_OK);
  struct polarity_result r;
  polarity_result_init(&r);
  char *line = NULL;
  size_t cap = 0, line_no = 0, mismatches = 0, scored = 0;
  double seconds = 0, max_diff = 0;
  ssize_t n;
  while (lx && (n = getline(&line, &cap, f)) > 0) {
    line_no++;
    cJSON *doc = cJSON_ParseWithLength(line, (size_t)n);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(doc, "text");
    const cJSON *pol = cJSON_GetObjectItemCaseSensitive(doc, "polarity");
    const cJSON *subj = cJSON_GetObjectItemCaseSensitive(doc, "subjectivity");
    if (!cJSON_IsString(text) || !cJSON_IsNumber(pol) ||
        !cJSON_IsNumber(subj)) {
      FAIL_AT("%s line %zu: not a golden record", code, line_no);
      cJSON_Delete(doc);
      continue;
    }
    /* cJSON strings stop at an escaped NUL; no golden text has one. */
    double t0 = now_s();
    enum err rc =
        polarity_analyze(lx, text->valuestring, strlen(text->valuestring), &r);
    seconds += now_s() - t0;
    scored++;
    double dp = fabs(r.polarity - pol->valuedouble);
    double ds = fabs(r.subjectivity - subj->valuedouble);
    max_diff = fmax(max_diff, fmax(dp, ds));
    bool ok = rc == ERR_OK && dp <= GOLDEN_EPS && ds <= GOLDEN_EPS &&
              same_assessments(
                  &r, cJSON_GetObjectItemCaseSensitive(doc, "assessments"));
    if (!ok && mismatches++ < GOLDEN_SHOWN)
      show(line_no, line, &r);
    cJSON_Delete(doc);
  }
  free(line);
  fclose(f);
  fprintf(stderr,
          "golden %s: %zu texts, %zu mismatches, max difference %.3g, "
          "%.0f texts/s\n",
          code, scored, mismatches, max_diff,
          seconds > 0 ? (double)scored / seconds : 0.0);
  CHECK(scored >= 400);
  CHECK_INT(mismatches, 0);
  polarity_result_cleanup(&r);
  lexicon_free(lx);
}

static void golden_fr(void)
{
  golden_lang(LEXICON_FR, "fr");
}

static void golden_it(void)
{
  golden_lang(LEXICON_IT, "it");
}

static void golden_nl(void)
{
  golden_lang(LEXICON_NL, "nl");
}

int main(int argc, char **argv)
{
  data_dir = argc > 1 ? argv[1] : getenv("TEST_DATA");
  if (!data_dir || !*data_dir) {
    fprintf(stderr, "usage: test_golden_pattern DIR (or set TEST_DATA)\n");
    return 2;
  }
  RUN(golden_fr);
  RUN(golden_it);
  RUN(golden_nl);
  HARNESS_EXIT();
}
