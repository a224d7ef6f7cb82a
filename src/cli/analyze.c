/* analyze: the verdict on one message, for a person or (--json) a script.
 * The text is the arguments joined by spaces, or standard input when there
 * are none (up to ANALYZE_MAX_INPUT bytes). */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "analysis/analysis.h"
#include "base/buf.h"
#include "base/jsonw.h"
#include "detector/model_file.h"
#include "sentiment/lexicon.h"
#include "sentiment/polarity.h"

/* 16 MiB: far beyond a customer message, small enough to hold in memory. */
#define ANALYZE_MAX_INPUT ((size_t)16 << 20)

static void usage(FILE *f)
{
  fprintf(f,
          "usage: frustration-alert analyze [--json] [--lang CODE] [TEXT...]\n"
          "\n"
          "Scores one message (TEXT, or standard input when absent) and\n"
          "prints the verdict: its language, the model's score and reasons\n"
          "(FRUSTRATION_DETECTOR=model, the default), polarity and\n"
          "subjectivity of the language's lexicon (TextBlob's exactly for\n"
          "English), whether polarity is below FRUSTRATION_THRESHOLD\n"
          "(default -0.3), the level and the words that decided.\n"
          "\n"
          "  --json       print the full analysis as one JSON object\n"
          "  --lang CODE  the text's language (\"fr\", \"pt-BR\"...); default:\n"
          "               detected from the text\n");
}

static enum err read_all(FILE *in, struct buf *out)
{
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, in)) > 0) {
    enum err rc = buf_append(out, chunk, n);
    if (rc)
      return rc;
  }
  return ferror(in) ? ERR_IO : ERR_OK;
}

static void print_human(const struct config *cfg, const struct analysis *a,
                        struct buf *line)
{
  analysis_describe(cfg, a, line);
  printf("%s\n", buf_ptr(line));
  printf("  language      %s (%s%s)\n", a->language,
         a->language_given ? "given" : "detected",
         a->lang == LANG_OTHER ? ", not supported" : "");
  if (a->polarity_lang == LANG_OTHER)
    printf("  polarity      none (no lexicon for this language)\n");
  else
    printf("  polarity      %+.4f (%s lexicon)\n", a->polarity,
           lang_code(a->polarity_lang));
  printf("  subjectivity  %.4f\n", a->subjectivity);
  if (a->level_by >= ANALYSIS_LEVEL_SCORE) {
    char why[ANALYSIS_LEVEL_REASON_MAX];
    analysis_level_reason(cfg, a, why, sizeof why);
    printf("  level         %s (%s)\n", cfg->levels[a->level].name, why);
  } else {
    printf("  level         %s\n", cfg->levels[a->level].name);
  }
  if (a->model)
    printf("  model score   %.4f (threshold %.4f)\n", a->model->score,
           a->model->threshold);
  const struct polarity_result *r = a->scores;
  if (r->n_assessments == 0) {
    printf("  no sentiment-bearing words\n");
    return;
  }
  printf("  words (polarity, subjectivity):\n");
  for (size_t i = 0; i < r->n_assessments; i++)
    printf("    %+.3f  %.3f  %s\n", r->assessments[i].polarity,
           r->assessments[i].subjectivity, r->assessments[i].words);
}

int cli_analyze(int argc, char **argv)
{
  bool json = false;
  const char *lang = NULL;
  int first = 1;
  for (; first < argc; first++) {
    if (!strcmp(argv[first], "--json")) {
      json = true;
    } else if (!strcmp(argv[first], "--lang")) {
      if (first + 1 >= argc || !analysis_lang_valid(argv[first + 1])) {
        fprintf(stderr, "analyze: --lang needs a language code such as fr "
                        "or pt-BR\n");
        return 2;
      }
      lang = argv[++first];
    } else if (!strcmp(argv[first], "-h") || !strcmp(argv[first], "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[first], "--")) {
      first++;
      break;
    } else if (argv[first][0] == '-' && argv[first][1]) {
      fprintf(stderr, "analyze: unknown option '%s'\n", argv[first]);
      usage(stderr);
      return 2;
    } else {
      break;
    }
  }

  struct config cfg;
  if (cli_load_config(&cfg))
    return 1;

  int status = 1;
  struct buf text, out;
  buf_init(&text, ANALYZE_MAX_INPUT);
  buf_init(&out, 0);
  struct analysis_lexicons lxs = {0};
  struct detector *det = NULL;
  struct polarity_result r;
  struct detector_result dr;
  polarity_result_init(&r);
  detector_result_init(&dr);

  enum err rc = ERR_OK;
  if (first < argc) {
    for (int i = first; i < argc && !rc; i++) {
      if (i > first)
        rc = buf_putc(&text, ' ');
      if (!rc)
        rc = buf_puts(&text, argv[i]);
    }
  } else {
    rc = read_all(stdin, &text);
  }
  if (rc) {
    fprintf(stderr, "analyze: cannot read the text: %s\n", err_str(rc));
    goto out;
  }
  rc = analysis_lexicons_new(&lxs);
  if (rc) {
    fprintf(stderr, "analyze: lexicon: %s\n", err_str(rc));
    goto out;
  }
  rc = analysis_detector_new(&cfg, false, &det);
  if (rc) {
    fprintf(stderr, "analyze: detector: %s\n", detector_model_error(rc));
    goto out;
  }
  struct analysis a;
  rc = analysis_run(&cfg, &lxs, det, lang, text.data ? text.data : "",
                    text.len, &r, &dr, &a);
  if (rc) {
    fprintf(stderr, "analyze: %s\n", err_str(rc));
    goto out;
  }
  if (json) {
    struct jsonw w;
    jsonw_init(&w, &out);
    jsonw_object_begin(&w);
    analysis_write_fields(&cfg, &a, &w);
    jsonw_object_end(&w);
    printf("%s\n", buf_ptr(&out));
  } else {
    print_human(&cfg, &a, &out);
  }
  status = 0;
out:
  polarity_result_cleanup(&r);
  detector_result_cleanup(&dr);
  detector_free(det);
  analysis_lexicons_free(&lxs);
  buf_cleanup(&text);
  buf_cleanup(&out);
  return status;
}
