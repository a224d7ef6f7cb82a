/* train: retrains the detector, with the team's labels from the store.
 *
 *   frustration-alert train [--from-store] [--store URL] --out FILE
 *                           [--label-weight W] [--quiet] [DATA.jsonl...]
 *
 * The trainer is src/train/trainer.c, the one `make train` (fa-train)
 * runs, so the shipped data alone gives the shipped model. With
 * --from-store it also learns the labels agents gave through POST
 * /api/feedback (the store at --store, default DATABASE_URL), each at
 * TRAINER_LABEL_WEIGHT, in the language the message was scored in, but
 * not the labels held out for `eval --from-store` (one in
 * TRAINER_LABEL_BUCKETS, by message id, or row id for a message sent
 * without one) nor messages whose text
 * retention has purged.
 *
 * The shipped data files are arguments (an installed binary cannot know
 * where the source tree is: `make train` passes them); without any, the
 * whitespace-separated list in $TRAIN_DATA. Training on the team's labels
 * alone is refused: a handful of messages cannot make a model. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "store/store.h"
#include "train/trainer.h"

/* Room for $TRAIN_DATA's file names. */
#define TRAIN_MAX_FILES 64

static void usage(FILE *f)
{
  fprintf(f,
          "usage: frustration-alert train [--from-store] [--store URL] "
          "--out FILE\n"
          "                               [--label-weight W] [--quiet] "
          "[DATA.jsonl...]\n"
          "\n"
          "Trains the frustration detector as `make train` does, on the\n"
          "labeled JSON Lines given (default: the files listed in\n"
          "$TRAIN_DATA) and, with --from-store, on the labels agents gave\n"
          "through POST /api/feedback, but the one in %d held out for\n"
          "`eval --from-store`. Serve the result with FRUSTRATION_MODEL=FILE.\n"
          "\n"
          "  --from-store      also learn the store's labels\n"
          "  --store URL       the store (default: DATABASE_URL)\n"
          "  --out FILE        where to write the model (required)\n"
          "  --label-weight W  weight of each label (default %g, as the\n"
          "                    project's English support messages)\n"
          "  --quiet           no progress on stderr\n",
          TRAINER_LABEL_BUCKETS, TRAINER_LABEL_WEIGHT);
}

struct from_store {
  struct trainer *t;
  double weight;
  size_t used, held_out, no_text, bad;
};

static bool add_label(void *arg, const struct store_labelled *l)
{
  struct from_store *fs = arg;
  if (!l->text || !*l->text) {
    fs->no_text++;
    return true;
  }
  if (l->message_id ? trainer_label_held_out(l->message_id)
                    : trainer_label_held_out_row(l->row_id)) {
    fs->held_out++;
    return true;
  }
  if (trainer_add(fs->t, l->text, strlen(l->text), l->lang, l->label,
                  fs->weight, TRAINER_LABEL_SOURCE))
    fs->bad++;
  else
    fs->used++;
  return true;
}

/* Adds the store's labels to t; 0 or an exit status. */
static int read_store(const char *url, double weight, bool quiet,
                      struct trainer *t)
{
  char err[512];
  struct store *st = NULL;
  enum err rc = store_open_existing(url, err, sizeof err, &st);
  if (rc) {
    fprintf(stderr, "train: cannot open the store: %s\n", err);
    return 1;
  }
  struct from_store fs = {.t = t, .weight = weight};
  rc = store_labels_each(st, add_label, &fs);
  if (rc) {
    fprintf(stderr, "train: cannot read the labels: %s\n", store_errmsg(st));
    store_close(st);
    return 1;
  }
  store_close(st);
  if (!quiet || !fs.used)
    fprintf(stderr,
            "train: team labels in the store: %zu used for training (weight "
            "%g), %zu held out for eval, %zu without text, %zu unusable\n",
            fs.used, weight, fs.held_out, fs.no_text, fs.bad);
  return 0;
}

int cli_train(int argc, char **argv)
{
  bool from_store = false;
  const char *url = NULL, *out = NULL;
  double weight = TRAINER_LABEL_WEIGHT;
  struct trainer_options opt;
  trainer_options_default(&opt);
  opt.prog = "train";
  const char *files[TRAIN_MAX_FILES];
  size_t nfiles = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--from-store")) {
      from_store = true;
    } else if (!strcmp(a, "--quiet")) {
      opt.quiet = true;
    } else if (v && !strcmp(a, "--store")) {
      url = argv[++i];
    } else if (v && !strcmp(a, "--out")) {
      out = argv[++i];
    } else if (v && !strcmp(a, "--label-weight")) {
      char *end;
      weight = strtod(argv[++i], &end);
      if (*end || !(weight > 0 && weight < 1e6)) {
        fprintf(stderr, "train: --label-weight takes a number above 0\n");
        return 2;
      }
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "train: unknown option or missing value: %s\n", a);
      usage(stderr);
      return 2;
    } else if (nfiles < TRAIN_MAX_FILES) {
      files[nfiles++] = a;
    } else {
      fprintf(stderr, "train: more than %d data files\n", TRAIN_MAX_FILES);
      return 2;
    }
  }
  if (!out) {
    fprintf(stderr, "train: --out FILE is required\n");
    usage(stderr);
    return 2;
  }
  /* strtok cuts this copy of $TRAIN_DATA into the names. */
  char *env_files = NULL;
  if (!nfiles && getenv("TRAIN_DATA")) {
    env_files = xstrdup(getenv("TRAIN_DATA"));
    for (char *p = strtok(env_files, " \t\n"); p && nfiles < TRAIN_MAX_FILES;
         p = strtok(NULL, " \t\n"))
      files[nfiles++] = p;
  }
  int status = 0;
  struct trainer *t = NULL;
  if (!nfiles) {
    fprintf(stderr,
            "train: no data files: give the shipped data (make train passes "
            "them) as arguments or in TRAIN_DATA\n");
    status = 2;
    goto out;
  }
  struct config cfg;
  if (from_store && !url) {
    if (cli_load_config(&cfg)) {
      status = 1;
      goto out;
    }
    url = cfg.database_url;
  }
  if (trainer_new(&opt, &t)) {
    fprintf(stderr, "train: cannot set up the lexicons\n");
    status = 1;
    goto out;
  }
  for (size_t i = 0; i < nfiles; i++)
    if (trainer_add_file(t, files[i]))
      status = 1;
  if (status) {
    fprintf(stderr, "train: could not read every input\n");
    goto out;
  }
  if (from_store) {
    status = read_store(url, weight, opt.quiet, t);
    if (status)
      goto out;
  }
  if (trainer_fit_write(t, out))
    status = 1;
out:
  trainer_free(t);
  free(env_files);
  return status;
}
