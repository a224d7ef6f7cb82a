/* eval --from-store: the current model against a retrained one, on the
 * team's labels, before the new one is switched on.
 *
 *   frustration-alert eval --from-store [--store URL] --model NEW [--json]
 *
 * The labels are those agents gave through POST /api/feedback, held out
 * of `train --from-store` (one in TRAINER_LABEL_BUCKETS, by message id,
 * or row id for a message sent without one: trainer_label_held_out and
 * trainer_label_held_out_row), so neither model has seen them. Each message
 * is scored by both models as the service scored it: in the language it
 * was stored with (messages.lang), with that language's polarity. The
 * current model is FRUSTRATION_MODEL's, else the one built into the
 * binary. Prints, side by side, precision, recall and F1 of each model at
 * its own operating point, how many verdicts the new model changes and
 * whether the changed ones are now right. Exit status 1, with a message,
 * when there are no held-out labels to compare on. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"
#include "base/buf.h"
#include "base/jsonw.h"
#include "detector/detector.h"
#include "detector/model_file.h"
#include "sentiment/polarity.h"
#include "store/store.h"
#include "train/records.h"
#include "train/trainer.h"

/* One model's counts over the held-out labels. */
struct tally {
  size_t tp, fp, fn, tn;
};

struct compare {
  const struct config *cfg;
  const struct analysis_lexicons *lxs;
  const struct detector *det[2]; /* current, new */
  struct polarity_result pr;
  struct buf own; /* a text's own words, when copied */
  struct detector_result dr;
  struct tally t[2];
  size_t labels, held_out, no_text, bad;
  size_t changed, now_right, now_wrong;
};

static void count(struct tally *t, bool verdict, bool label)
{
  if (verdict && label)
    t->tp++;
  else if (verdict)
    t->fp++;
  else if (label)
    t->fn++;
  else
    t->tn++;
}

static bool compare_label(void *arg, const struct store_labelled *l)
{
  struct compare *c = arg;
  c->labels++;
  if (!(l->message_id ? trainer_label_held_out(l->message_id)
                      : trainer_label_held_out_row(l->row_id)))
    return true;
  if (!l->text || !*l->text) {
    c->no_text++;
    return true;
  }
  size_t len = strlen(l->text);
  size_t own_len; /* as the service reads it */
  const char *own = detector_own_words(l->text, len, &c->own, &own_len);
  struct analysis a;
  analysis_language(c->cfg, l->lang, own, own_len, &a);
  bool v[2];
  double pol, subj;
  if (analysis_polarity(c->cfg, c->lxs, &a, l->text, len, false, &c->pr) ||
      analysis_model_polarity(c->cfg, c->lxs, &a, l->text, len, own, own_len,
                              &c->pr, &pol, &subj)) {
    c->bad++;
    return true;
  }
  for (int k = 0; k < 2; k++) {
    if (detector_score(c->det[k], l->text, len, a.lang, pol, subj, &c->dr)) {
      c->bad++;
      return true;
    }
    v[k] = c->dr.frustrated;
  }
  c->held_out++;
  for (int k = 0; k < 2; k++)
    count(&c->t[k], v[k], l->label);
  if (v[0] != v[1]) {
    c->changed++;
    if (v[1] == l->label)
      c->now_right++;
    else
      c->now_wrong++;
  }
  return true;
}

static void write_model(struct jsonw *w, const char *key, const char *name,
                        const struct detector *d, const struct tally *t)
{
  double p, r, f1;
  records_prf(t->tp, t->fp, t->tp + t->fn, &p, &r, &f1);
  jsonw_key(w, key);
  jsonw_object_begin(w);
  jsonw_kv_string(w, "model", name);
  jsonw_kv_double(w, "threshold", detector_threshold(d));
  jsonw_kv_double(w, "precision", p);
  jsonw_kv_double(w, "recall", r);
  jsonw_kv_double(w, "f1", f1);
  jsonw_kv_int(w, "right", (int64_t)(t->tp + t->tn));
  jsonw_kv_int(w, "tp", (int64_t)t->tp);
  jsonw_kv_int(w, "fp", (int64_t)t->fp);
  jsonw_kv_int(w, "fn", (int64_t)t->fn);
  jsonw_kv_int(w, "tn", (int64_t)t->tn);
  jsonw_object_end(w);
}

static void print_model(const char *role, const char *name,
                        const struct detector *d, const struct tally *t,
                        size_t n)
{
  double p, r, f1;
  records_prf(t->tp, t->fp, t->tp + t->fn, &p, &r, &f1);
  printf("  %-8s P %.3f  R %.3f  F1 %.3f  right %zu/%zu  (score >= %.3f; "
         "%s)\n",
         role, p, r, f1, t->tp + t->tn, n, detector_threshold(d), name);
}

static void usage(FILE *f)
{
  fprintf(f,
          "usage: frustration-alert eval --from-store [--store URL] --model "
          "FILE [--json]\n"
          "\n"
          "Compares the current model (FRUSTRATION_MODEL, else the built-in\n"
          "one) with FILE (from `train --from-store`) on the labels agents\n"
          "gave through POST /api/feedback that training held out (one in\n"
          "%d, by message id): precision, recall and F1 of each, and the\n"
          "verdicts FILE changes.\n"
          "\n"
          "  --store URL  the store (default: DATABASE_URL)\n"
          "  --model FILE the new model\n"
          "  --json       one JSON object instead of the table\n",
          TRAINER_LABEL_BUCKETS);
}

int cli_eval_store(int argc, char **argv)
{
  const char *url = NULL, *new_path = NULL;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--from-store")) {
      continue;
    } else if (!strcmp(a, "--json")) {
      json = true;
    } else if (!strcmp(a, "--store") && i + 1 < argc) {
      url = argv[++i];
    } else if (!strcmp(a, "--model") && i + 1 < argc) {
      new_path = argv[++i];
    } else {
      fprintf(stderr,
              "eval: --from-store takes --store, --model and --json, "
              "not '%s'\n",
              a);
      usage(stderr);
      return 2;
    }
  }
  if (!new_path) {
    fprintf(stderr, "eval: --from-store needs --model FILE, the new model\n");
    return 2;
  }
  struct config cfg;
  if (cli_load_config(&cfg))
    return 1;
  if (!url)
    url = cfg.database_url;
  const char *cur_path = getenv("FRUSTRATION_MODEL");
  const char *cur_name = cur_path && *cur_path ? cur_path : "built-in";
  int status = 1;
  struct detector_model *m[2] = {NULL, NULL};
  struct detector *det[2] = {NULL, NULL};
  struct analysis_lexicons lxs = {0};
  bool have_lxs = false;
  struct store *st = NULL;
  struct compare c = {.cfg = &cfg, .lxs = &lxs};
  polarity_result_init(&c.pr);
  buf_init(&c.own, 0);
  detector_result_init(&c.dr);
  const char *paths[2] = {cur_path && *cur_path ? cur_path : NULL, new_path};
  for (int k = 0; k < 2; k++) {
    enum err rc = detector_model_load(paths[k], &m[k]);
    if (!rc)
      rc = detector_new(m[k], &det[k]);
    if (rc) {
      fprintf(stderr, "eval: cannot load the %s model %s: %s\n",
              k ? "new" : "current", k ? new_path : cur_name,
              detector_model_error(rc));
      goto out;
    }
    c.det[k] = det[k];
  }
  if (analysis_lexicons_new(&lxs)) {
    fprintf(stderr, "eval: cannot build the lexicons\n");
    goto out;
  }
  have_lxs = true;
  char err[512];
  if (store_open_existing(url, err, sizeof err, &st)) {
    fprintf(stderr, "eval: cannot open the store: %s\n", err);
    goto out;
  }
  if (store_labels_each(st, compare_label, &c)) {
    fprintf(stderr, "eval: cannot read the labels: %s\n", store_errmsg(st));
    goto out;
  }
  if (!c.held_out) {
    fprintf(stderr,
            "eval: no held-out team labels to compare on (%zu labels in the "
            "store; one in %d, by message id, is held out of training): "
            "label more messages with POST /api/feedback\n",
            c.labels, TRAINER_LABEL_BUCKETS);
    goto out;
  }
  status = 0;
  if (json) {
    struct buf b;
    struct jsonw w;
    buf_init(&b, 0);
    jsonw_init(&w, &b);
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "labels", (int64_t)c.labels);
    jsonw_kv_int(&w, "held_out", (int64_t)c.held_out);
    jsonw_kv_int(&w, "held_out_without_text", (int64_t)c.no_text);
    jsonw_kv_int(&w, "unusable", (int64_t)c.bad);
    write_model(&w, "current", cur_name, det[0], &c.t[0]);
    write_model(&w, "new", new_path, det[1], &c.t[1]);
    jsonw_kv_int(&w, "changed", (int64_t)c.changed);
    jsonw_kv_int(&w, "now_right", (int64_t)c.now_right);
    jsonw_kv_int(&w, "now_wrong", (int64_t)c.now_wrong);
    jsonw_object_end(&w);
    if (jsonw_error(&w) || buf_putc(&b, '\n'))
      status = 1;
    else
      fwrite(b.data, 1, b.len, stdout);
    buf_cleanup(&b);
  } else {
    size_t pos = c.t[0].tp + c.t[0].fn;
    printf("team labels: %zu in the store, %zu held out of training and "
           "compared on (%zu frustrated)",
           c.labels, c.held_out, pos);
    if (c.no_text || c.bad)
      printf("; %zu held out without text, %zu unusable", c.no_text, c.bad);
    printf("\n");
    print_model("current", cur_name, det[0], &c.t[0], c.held_out);
    print_model("new", new_path, det[1], &c.t[1], c.held_out);
    printf("verdicts changed by the new model: %zu (%zu now right, %zu now "
           "wrong)\n",
           c.changed, c.now_right, c.now_wrong);
  }
  if (fflush(stdout) != 0)
    status = 1;
out:
  store_close(st);
  if (have_lxs)
    analysis_lexicons_free(&lxs);
  polarity_result_cleanup(&c.pr);
  buf_cleanup(&c.own);
  detector_result_cleanup(&c.dr);
  for (int k = 0; k < 2; k++) {
    detector_free(det[k]);
    detector_model_free(m[k]);
  }
  return status;
}
