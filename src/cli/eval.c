/* eval: accuracy of the detectors on labeled JSON Lines.
 *
 * For each file, over the records whose "label"."frustrated" is a boolean
 * (null and missing are skipped), prints precision, recall and F1 of:
 *   - the original rule, TextBlob polarity < FRUSTRATION_THRESHOLD;
 *   - the best polarity threshold for that file (an oracle: it is chosen on
 *     the very data it is measured on);
 *   - VADER's compound score at its usual cut-off (<= -0.05), lexicon only;
 *   - the model at its shipped operating point (one threshold for all
 *     files), its precision at 50% and 80% recall, and its best threshold
 *     on the file (oracle, for comparison).
 * Records of a source the model was trained on are left out unless they
 * belong to the held-out split (detector_fold_of), so a figure never
 * includes training data; --all keeps them.
 *
 * Each record is scored as the service scores a message sent without a
 * language: in the language lang_detect finds (a supported one outside
 * FRUSTRATION_LANGUAGES is scored as unsupported), with the polarity of
 * that language's lexicon where there is one (en, fr, it, nl; 0
 * elsewhere; English TextBlob on every text with
 * FRUSTRATION_DETECTOR=polarity): analysis_language and analysis_polarity,
 * the service's own steps. The record's own "lang" (ISO 639-1; absent: en) is
 * the truth the identification is measured against, and what a file of several
 * languages is split by for the figures of each language. With
 * --given-lang each record is scored in its "lang" instead, as when the
 * sender gives it. The sets of the other languages
 * (data/eval/support_<code>.jsonl) are files like any other: `make eval`
 * passes those present. */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "analysis/analysis.h"
#include "base/buf.h"
#include "base/jsonw.h"
#include "base/xalloc.h"
#include "detector/detector.h"
#include "detector/model_file.h"
#include "detector/vader.h"
#include "lang/lang.h"
#include "sentiment/lexicon.h"
#include "sentiment/polarity.h"
#include "train/records.h"

struct item {
  double polarity;
  double vader;
  double score;
  bool label;
  signed char lang; /* enum lang: the record's own */
};

struct row {
  const char *name;
  const char *rule; /* how the threshold applies, e.g. "score >= %.3f" */
  double threshold;
  double precision, recall, f1;
  bool has_threshold;
};

/* The figures of a set of records. */
struct figures {
  size_t n, positives;
  struct row rows[8];
  size_t n_rows;
};

struct report {
  const char *file;
  size_t skipped_unlabeled, skipped_trained, bad;
  /* Language identification: records whose "lang" names a language,
   * those guessed right, and the wrong guesses' codes, most frequent
   * first (at most 4 kept). */
  size_t lang_known, lang_right;
  struct {
    char code[4];
    size_t n;
  } wrong[16];
  size_t n_wrong;
  double seconds;
  struct figures all;
  /* Per language, in enum order, when the file has more than one. */
  struct figures by_lang[LANG_N + 1];
  int langs[LANG_N + 1];
  size_t n_langs;
};

static const char *const lang_codes[LANG_N + 1] = {
#define X(id, code, name) code,
    LANG_MAP(X)
#undef X
        "other",
};

/* Counts a wrong guess of code in rep->wrong. */
static void note_wrong(struct report *rep, const char *code)
{
  size_t i = 0;
  while (i < rep->n_wrong && strcmp(rep->wrong[i].code, code))
    i++;
  if (i == rep->n_wrong) {
    if (rep->n_wrong == sizeof rep->wrong / sizeof rep->wrong[0])
      return;
    snprintf(rep->wrong[i].code, sizeof rep->wrong[i].code, "%s", code);
    rep->wrong[i].n = 0;
    rep->n_wrong++;
  }
  rep->wrong[i].n++;
  while (i > 0 && rep->wrong[i].n > rep->wrong[i - 1].n) {
    char tmp[sizeof rep->wrong[0]];
    memcpy(tmp, &rep->wrong[i], sizeof tmp);
    memcpy(&rep->wrong[i], &rep->wrong[i - 1], sizeof tmp);
    memcpy(&rep->wrong[i - 1], tmp, sizeof tmp);
    i--;
  }
}

static void usage(FILE *f)
{
  fprintf(f,
          "usage: frustration-alert eval [--json] [--all] [--given-lang] "
          "[--model FILE] FILE...\n"
          "\n"
          "Measures the detectors on labeled JSON Lines (\"text\" and\n"
          "\"label\": {\"frustrated\": true|false|null}; null is skipped):\n"
          "precision, recall and F1 of the original rule (TextBlob polarity\n"
          "< FRUSTRATION_THRESHOLD), of the best polarity threshold on each\n"
          "file (an oracle), of VADER at compound <= -0.05, and of the model\n"
          "at its operating point, with its precision at 50%% and 80%%\n"
          "recall. Each record is scored in the language detected in its\n"
          "text, as the service scores a message sent without one; its\n"
          "\"lang\" (default en) is what the identification is measured\n"
          "against, and a file of several languages also gets each\n"
          "language's figures.\n"
          "\n"
          "  --json        one JSON object instead of the table\n"
          "  --given-lang  score each record in its \"lang\" instead\n"
          "  --all         also count records of sources the model was\n"
          "                trained on (by default only their held-out split)\n"
          "  --model FILE  a model made by fa-train (default: "
          "FRUSTRATION_MODEL,\n"
          "                else the model built into the binary)\n"
          "\n"
          "       frustration-alert eval --from-store [--store URL] --model "
          "FILE [--json]\n"
          "\n"
          "compares the current model with FILE on the team's held-out "
          "labels\n"
          "(see eval --from-store --help).\n");
}

/* Loads the model: FILE, else $FRUSTRATION_MODEL, else the built-in one. */
static enum err load_model(const char *path, struct detector_model **out)
{
  if (!path || !*path)
    path = getenv("FRUSTRATION_MODEL");
  return detector_model_load(path, out);
}

static void prf(size_t tp, size_t fp, size_t pos, struct row *r)
{
  records_prf(tp, fp, pos, &r->precision, &r->recall, &r->f1);
}

static int by_polarity(const void *a, const void *b)
{
  double x = ((const struct item *)a)->polarity;
  double y = ((const struct item *)b)->polarity;
  return x < y ? -1 : x > y ? 1 : 0;
}

static int by_score_desc(const void *a, const void *b)
{
  double x = ((const struct item *)a)->score;
  double y = ((const struct item *)b)->score;
  return x > y ? -1 : x < y ? 1 : 0;
}

/* The best F1 of "polarity < t" over all t (items sorted by polarity). */
static void best_polarity(const struct item *it, size_t n, size_t pos,
                          struct row *r)
{
  size_t tp = 0;
  struct row best = *r;
  best.f1 = -1;
  for (size_t i = 0; i < n; i++) {
    tp += it[i].label;
    if (i + 1 < n && it[i + 1].polarity == it[i].polarity)
      continue;
    struct row cur = *r;
    prf(tp, i + 1 - tp, pos, &cur);
    cur.threshold = i + 1 < n ? (it[i].polarity + it[i + 1].polarity) / 2
                              : it[i].polarity + 1e-9;
    if (cur.f1 > best.f1)
      best = cur;
  }
  *r = best;
}

/* Over items sorted by score, descending: the first cut reaching recall
 * (precision at that recall), or the best F1 when recall is negative. */
static void model_cut(const struct item *it, size_t n, size_t pos,
                      double recall, struct row *r)
{
  size_t tp = 0;
  struct row best = *r;
  best.f1 = -1;
  for (size_t i = 0; i < n; i++) {
    tp += it[i].label;
    if (i + 1 < n && it[i + 1].score == it[i].score)
      continue;
    struct row cur = *r;
    prf(tp, i + 1 - tp, pos, &cur);
    cur.threshold = it[i].score;
    if (recall >= 0) {
      if (cur.recall >= recall) {
        *r = cur;
        return;
      }
    } else if (cur.f1 > best.f1) {
      best = cur;
    }
  }
  *r = recall >= 0 ? *r : best;
}

struct engines {
  const struct config *cfg;
  const struct analysis_lexicons *lxs; /* polarity, where there is one */
  const struct vader *vader;
  const struct detector *det;
  const struct detector_model *model;
  struct polarity_result pr;
  struct buf own; /* a text's own words, when copied */
  struct vader_result vr;
  struct detector_result dr;
  bool all;
  bool given_lang; /* score in the record's "lang", not the detected one */
};

static void figures_of(const struct engines *e, struct item *items, size_t n,
                       struct figures *rep);

/* What eval_file gathers while the records are read. */
struct reading {
  struct engines *e;
  struct report *rep;
  struct item *items;
  size_t n_items, cap;
};

/* Scores one record, unless it is of a source the model was trained on
 * and outside the held-out split (see the opening comment). */
static void eval_item(void *arg, const struct records_item *r)
{
  struct reading *rd = arg;
  struct engines *e = rd->e;
  struct report *rep = rd->rep;
  const char *t = r->text;
  size_t len = r->len;
  if (!e->all && detector_model_trained_on(e->model, r->source) &&
      detector_fold_of(t, len, r->orig_split) >= 0) {
    rep->skipped_trained++;
    return;
  }
  enum lang lang = records_lang(r->lang);
  /* As the service scores a message sent without a language, or (with
   * --given-lang) with the record's (none: English). */
  struct analysis a;
  /* As the service: the language and the model's polarity of the
   * writer's own words (detector_own_words), the rule's of the whole. */
  size_t own_len;
  const char *own = detector_own_words(t, len, &e->own, &own_len);
  analysis_language(e->cfg,
                    !e->given_lang ? NULL
                    : r->lang      ? r->lang
                                   : "en",
                    own, own_len, &a);
  if (!e->given_lang && r->lang) {
    rep->lang_known++;
    size_t k = strcspn(r->lang, "-_");
    if (k == strlen(a.language) && !strncasecmp(r->lang, a.language, k))
      rep->lang_right++;
    else
      note_wrong(rep, a.language);
  }
  enum err rc = analysis_polarity(e->cfg, e->lxs, &a, t, len, false, &e->pr);
  double pol, subj;
  if (!rc)
    rc = analysis_model_polarity(e->cfg, e->lxs, &a, t, len, own, own_len,
                                 &e->pr, &pol, &subj);
  if (rc || detector_score(e->det, t, len, a.lang, pol, subj, &e->dr)) {
    rep->bad++;
    return;
  }
  vader_score(e->vader, t, len, &e->vr);
  if (rd->n_items == rd->cap) {
    rd->cap = rd->cap ? rd->cap * 2 : 1024;
    rd->items = xrealloc(rd->items, rd->cap * sizeof *rd->items);
  }
  rd->items[rd->n_items++] =
      (struct item){e->pr.polarity, e->vr.compound, e->dr.score, r->frustrated,
                    (signed char)lang};
}

static int eval_file(struct engines *e, const char *path, struct report *rep)
{
  memset(rep, 0, sizeof *rep);
  rep->file = path;
  clock_t t0 = clock();
  struct reading rd = {.e = e, .rep = rep};
  struct records_counts counts = {0};
  enum err rc = records_read(path, RECORDS_STDIN | RECORDS_CHECK_BYTES,
                             eval_item, &rd, &counts);
  rep->bad += counts.bad;
  rep->skipped_unlabeled = counts.unlabeled;
  int status = rc ? 1 : 0;
  struct item *items = rd.items;
  size_t n_items = rd.n_items;
  figures_of(e, items, n_items, &rep->all);
  /* Each language apart, when there are several. */
  size_t count[LANG_N + 1] = {0};
  for (size_t i = 0; i < n_items; i++)
    count[items[i].lang]++;
  for (int l = 0; l <= LANG_N; l++)
    if (count[l] && count[l] < n_items)
      rep->langs[rep->n_langs++] = l;
  struct item *sub = rep->n_langs ? xmalloc(n_items * sizeof *sub) : NULL;
  for (size_t k = 0; k < rep->n_langs; k++) {
    size_t m = 0;
    for (size_t i = 0; i < n_items; i++)
      if (items[i].lang == rep->langs[k])
        sub[m++] = items[i];
    figures_of(e, sub, m, &rep->by_lang[k]);
  }
  free(sub);
  rep->seconds = (double)(clock() - t0) / CLOCKS_PER_SEC;
  free(items);
  return status;
}

/* The figures of the n items (reordered). */
static void figures_of(const struct engines *e, struct item *items, size_t n,
                       struct figures *rep)
{
  size_t pos = 0;
  rep->n = n;
  size_t tp[3] = {0}, fp[3] = {0};
  double mthr = detector_threshold(e->det);
  for (size_t i = 0; i < n; i++) {
    const struct item *it = &items[i];
    pos += it->label;
    bool pred[3] = {it->polarity < e->cfg->threshold,
                    it->vader <= VADER_NEGATIVE_CUTOFF, it->score >= mthr};
    for (int k = 0; k < 3; k++) {
      tp[k] += pred[k] && it->label;
      fp[k] += pred[k] && !it->label;
    }
  }
  rep->positives = pos;
  struct row *r = rep->rows;
  r[0] = (struct row){"original rule: TextBlob polarity",
                      "polarity < %.2f",
                      e->cfg->threshold,
                      0,
                      0,
                      0,
                      true};
  prf(tp[0], fp[0], pos, &r[0]);
  r[1] = (struct row){
      "best polarity threshold (oracle)", "polarity < %.2f", 0, 0, 0, 0, true};
  if (n > 0) /* qsort must not be given NULL, even for zero items */
    qsort(items, n, sizeof *items, by_polarity);
  best_polarity(items, n, pos, &r[1]);
  r[2] = (struct row){"VADER, lexicon only",
                      "compound <= %.2f",
                      VADER_NEGATIVE_CUTOFF,
                      0,
                      0,
                      0,
                      true};
  prf(tp[1], fp[1], pos, &r[2]);
  r[3] = (struct row){
      "model at its operating point", "score >= %.3f", mthr, 0, 0, 0, true};
  prf(tp[2], fp[2], pos, &r[3]);
  if (n > 0)
    qsort(items, n, sizeof *items, by_score_desc);
  r[4] = (struct row){
      "model, precision at 50% recall", "score >= %.3f", 0, 0, 0, 0, true};
  model_cut(items, n, pos, 0.5, &r[4]);
  r[5] = (struct row){
      "model, precision at 80% recall", "score >= %.3f", 0, 0, 0, 0, true};
  model_cut(items, n, pos, 0.8, &r[5]);
  r[6] = (struct row){
      "model, best threshold (oracle)", "score >= %.3f", 0, 0, 0, 0, true};
  model_cut(items, n, pos, -1, &r[6]);
  rep->n_rows = 7;
}

static void print_rows(const struct figures *fg)
{
  printf("  %-34s %-20s %9s %7s %6s\n", "detector", "setting", "precision",
         "recall", "F1");
  for (size_t i = 0; i < fg->n_rows; i++) {
    const struct row *r = &fg->rows[i];
    char setting[64];
    snprintf(setting, sizeof setting, r->rule, r->threshold);
    printf("  %-34s %-20s %9.3f %7.3f %6.3f\n", r->name, setting, r->precision,
           r->recall, r->f1);
  }
}

static double share(const struct figures *fg)
{
  return fg->n ? 100.0 * (double)fg->positives / (double)fg->n : 0.0;
}

static void print_table(const struct report *rep)
{
  printf("%s: %zu labeled (%zu frustrated, %.1f%%)", rep->file, rep->all.n,
         rep->all.positives, share(&rep->all));
  printf("; skipped %zu unlabeled", rep->skipped_unlabeled);
  if (rep->skipped_trained)
    printf(", %zu of the model's training sources", rep->skipped_trained);
  if (rep->bad)
    printf(", %zu unreadable", rep->bad);
  printf(" (%.1f s)\n", rep->seconds);
  if (rep->lang_known) {
    printf("  language detected right: %zu of %zu (%.1f%%)", rep->lang_right,
           rep->lang_known,
           100.0 * (double)rep->lang_right / (double)rep->lang_known);
    for (size_t i = 0; i < rep->n_wrong && i < 4; i++)
      printf("%s%s %zu", i ? ", " : "; wrong: ", rep->wrong[i].code,
             rep->wrong[i].n);
    printf("\n");
  }
  if (rep->all.n == 0) /* no figure means anything without a label */
    printf("  nothing to measure: no record has a true or false label\n");
  else
    print_rows(&rep->all);
  for (size_t k = 0; k < rep->n_langs; k++) {
    const struct figures *fg = &rep->by_lang[k];
    printf("  language %s: %zu labeled (%zu frustrated, %.1f%%)\n",
           lang_codes[rep->langs[k]], fg->n, fg->positives, share(fg));
    print_rows(fg);
  }
  printf("\n");
}

static void write_rows(struct jsonw *w, const struct figures *fg)
{
  static const char *const keys[] = {
      "rule",           "polarity_oracle", "vader",        "model",
      "model_p_at_r50", "model_p_at_r80",  "model_oracle",
  };
  for (size_t i = 0; i < fg->n_rows; i++) {
    const struct row *r = &fg->rows[i];
    jsonw_key(w, keys[i]);
    jsonw_object_begin(w);
    jsonw_kv_string(w, "name", r->name);
    jsonw_kv_double(w, "threshold", r->threshold);
    jsonw_kv_double(w, "precision", r->precision);
    jsonw_kv_double(w, "recall", r->recall);
    jsonw_kv_double(w, "f1", r->f1);
    jsonw_object_end(w);
  }
}

static void write_json(struct jsonw *w, const struct report *rep)
{
  jsonw_object_begin(w);
  jsonw_kv_string(w, "file", rep->file);
  jsonw_kv_int(w, "labeled", (int64_t)rep->all.n);
  jsonw_kv_int(w, "frustrated", (int64_t)rep->all.positives);
  jsonw_kv_int(w, "skipped_unlabeled", (int64_t)rep->skipped_unlabeled);
  jsonw_kv_int(w, "skipped_trained", (int64_t)rep->skipped_trained);
  jsonw_kv_int(w, "unreadable", (int64_t)rep->bad);
  jsonw_kv_milli(w, "seconds", rep->seconds);
  jsonw_kv_int(w, "lang_known", (int64_t)rep->lang_known);
  jsonw_kv_int(w, "lang_right", (int64_t)rep->lang_right);
  if (rep->all.n > 0) /* without labels, no figures */
    write_rows(w, &rep->all);
  /* "languages": {"fr": {"labeled", "frustrated", rows...}}, when the
   * file has several. */
  jsonw_key(w, "languages");
  jsonw_object_begin(w);
  for (size_t k = 0; k < rep->n_langs; k++) {
    const struct figures *fg = &rep->by_lang[k];
    jsonw_key(w, lang_codes[rep->langs[k]]);
    jsonw_object_begin(w);
    jsonw_kv_int(w, "labeled", (int64_t)fg->n);
    jsonw_kv_int(w, "frustrated", (int64_t)fg->positives);
    write_rows(w, fg);
    jsonw_object_end(w);
  }
  jsonw_object_end(w);
  jsonw_object_end(w);
}

int cli_eval(int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--from-store"))
      return cli_eval_store(argc, argv);
  bool json = false, all = false, given_lang = false;
  const char *model_path = NULL;
  int nfiles = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--json")) {
      json = true;
    } else if (!strcmp(a, "--all")) {
      all = true;
    } else if (!strcmp(a, "--given-lang")) {
      given_lang = true;
    } else if (!strcmp(a, "--model") && i + 1 < argc) {
      model_path = argv[++i];
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "eval: unknown option '%s'\n", a);
      usage(stderr);
      return 2;
    } else {
      nfiles++;
    }
  }
  if (!nfiles) {
    usage(stderr);
    return 2;
  }
  struct config cfg;
  if (cli_load_config(&cfg))
    return 1;
  struct detector_model *m = NULL;
  enum err rc = load_model(model_path, &m);
  if (rc) {
    fprintf(stderr, "eval: cannot load the model%s%s: %s\n",
            model_path ? " " : "", model_path ? model_path : "",
            detector_model_error(rc));
    return 1;
  }
  struct analysis_lexicons lxs;
  struct vader *vader = NULL;
  struct detector *det = NULL;
  if ((rc = analysis_lexicons_new(&lxs)) || (rc = vader_new(&vader)) ||
      (rc = detector_new_batch(m, &det))) {
    fprintf(stderr, "eval: %s\n", err_str(rc));
    analysis_lexicons_free(&lxs);
    vader_free(vader);
    detector_model_free(m);
    return 1;
  }
  struct engines e = {.cfg = &cfg,
                      .vader = vader,
                      .det = det,
                      .model = m,
                      .all = all,
                      .given_lang = given_lang,
                      .lxs = &lxs};
  polarity_result_init(&e.pr);
  buf_init(&e.own, 0);
  vader_result_init(&e.vr);
  detector_result_init(&e.dr);
  struct buf out;
  struct jsonw w;
  buf_init(&out, 0);
  jsonw_init(&w, &out);
  if (json) {
    jsonw_object_begin(&w);
    jsonw_kv_double(&w, "model_threshold", detector_threshold(det));
    jsonw_kv_string(&w, "model_sources", m->sources);
    jsonw_key(&w, "files");
    jsonw_array_begin(&w);
  } else {
    printf("model: operating point score >= %.3f, trained on: %s\n\n",
           detector_threshold(det), m->sources[0] ? m->sources : "(none)");
  }
  int status = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--model")) {
      i++;
      continue;
    }
    if (a[0] == '-' && a[1])
      continue;
    struct report rep;
    status |= eval_file(&e, a, &rep);
    if (json)
      write_json(&w, &rep);
    else
      print_table(&rep);
  }
  if (json) {
    jsonw_array_end(&w);
    jsonw_object_end(&w);
    if (jsonw_error(&w) || buf_putc(&out, '\n')) {
      fprintf(stderr, "eval: the report exceeds its size limit\n");
      status = 1;
    }
    fwrite(out.data, 1, out.len, stdout);
  }
  if (fflush(stdout) != 0)
    status = 1;
  buf_cleanup(&out);
  detector_result_cleanup(&e.dr);
  vader_result_cleanup(&e.vr);
  polarity_result_cleanup(&e.pr);
  buf_cleanup(&e.own);
  detector_free(det);
  vader_free(vader);
  analysis_lexicons_free(&lxs);
  detector_model_free(m);
  return status;
}
