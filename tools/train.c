/* fa-train: fits the support-tuned detector's weights on labeled messages.
 *
 *   fa-train [--out FILE] [options] DATA.jsonl...
 *
 * Each input line is a JSON object with "text" and "label": {"frustrated":
 * true|false|null}; null or missing labels are skipped, as are records of
 * the held-out split (see detector_split_of: meta.orig_split "dev"/"test").
 * Optional fields: "weight" (a positive number, default 1), "source"
 * (default "file:<name of the file>"), which the model records so that
 * `frustration-alert eval` leaves out records of the sources it saw, and
 * "lang" (ISO 639-1, default "en"): the language the record is read in,
 * its TextBlob polarity from that language's lexicon where there is one
 * (en, fr, it, nl; 0 elsewhere, as the service scores them), an
 * unsupported language's record read for emoji, marks and capitals only.
 *
 * Every record is also learned a second time as if its language were not
 * supported (LANG_OTHER: no words, no polarity), at --other-weight times
 * its weight, so that the model knows what those signals alone are worth
 * (the signal "language without lexicons" is 1 there, 0 elsewhere). These
 * copies share their record's fold, keep the classes unbalanced (a text
 * the detector cannot read is frustrated only on strong signs: angry
 * emoji, "!!!", capitals) and never count for the operating point or the
 * reported figures.
 *
 * The trainer itself is src/train/trainer.c, shared with `frustration-alert
 * train` (which adds the team's labels from the store); this file is its
 * command line. Features come from detector_score itself, so training
 * sees exactly what scoring computes. The fit is a logistic regression with L2,
 * minimised by L-BFGS for a fixed number of iterations from zero,
 * single-threaded: the same inputs give the same bytes.
 *
 * The operating point comes from cross-fitting: the records are cut into
 * DETECTOR_FOLDS folds by a hash of their text; a model fitted on the other
 * folds scores each fold, and the threshold is the one that maximises the
 * mean over sources of each source's F1 on those out-of-fold scores (every
 * record scored by a model that never saw it). The shipped weights are then
 * fitted on all folds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/trainer.h"

static void usage(FILE *f)
{
  fprintf(f,
          "usage: fa-train [--out FILE] [options] DATA.jsonl...\n"
          "\n"
          "Trains the frustration detector on JSON Lines with \"text\" and\n"
          "\"label\": {\"frustrated\": true|false|null} and writes the model\n"
          "(default data/model/frustration-model.bin). Load it at run time\n"
          "with FRUSTRATION_MODEL=FILE, or rebuild to compile it in.\n"
          "\n"
          "  --out FILE        where to write the model\n"
          "  --bits N          2^N hashed weights (default %d)\n"
          "  --iters N         L-BFGS iterations (default %d)\n"
          "  --l2 X            L2 penalty of hashed weights (default %g)\n"
          "  --l2-dense X      L2 penalty of the signals (default %g)\n"
          "  --class-prior X   divide a hashed weight's L2 penalty by\n"
          "                    exp(X |r|), r the log ratio of its bucket's\n"
          "                    frequency in frustrated and calm records\n"
          "                    (default %g; 0: one penalty for all)\n"
          "  --pos-weight X    weight of frustrated examples (default:\n"
          "                    balanced classes)\n"
          "  --other-weight X  weight of each record's copy read as an\n"
          "                    unsupported language (default %g; 0: none)\n"
          "  --scores FILE     write the out-of-fold scores as TSV (label,\n"
          "                    source, fold, score)\n"
          "  --quiet           no progress on stderr\n",
          TRAINER_DEF_BITS, TRAINER_DEF_ITERS, TRAINER_DEF_L2_HASH,
          TRAINER_DEF_L2_DENSE, TRAINER_DEF_CLASS_PRIOR,
          TRAINER_DEF_OTHER_WEIGHT);
}

int main(int argc, char **argv)
{
  const char *out = "data/model/frustration-model.bin";
  struct trainer_options opt;
  trainer_options_default(&opt);
  int first = 1;
  for (; first < argc && argv[first][0] == '-'; first++) {
    const char *a = argv[first];
    const char *v = first + 1 < argc ? argv[first + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--quiet")) {
      opt.quiet = true;
    } else if (!strcmp(a, "--")) {
      first++;
      break;
    } else if (v && !strcmp(a, "--out")) {
      out = v;
      first++;
    } else if (v && !strcmp(a, "--bits")) {
      opt.bits = (unsigned)strtoul(v, NULL, 10);
      first++;
    } else if (v && !strcmp(a, "--iters")) {
      opt.iters = (unsigned)strtoul(v, NULL, 10);
      first++;
    } else if (v && !strcmp(a, "--l2")) {
      opt.l2_hash = strtod(v, NULL);
      first++;
    } else if (v && !strcmp(a, "--l2-dense")) {
      opt.l2_dense = strtod(v, NULL);
      first++;
    } else if (v && !strcmp(a, "--class-prior")) {
      opt.class_prior = strtod(v, NULL);
      first++;
    } else if (v && !strcmp(a, "--scores")) {
      opt.scores = v;
      first++;
    } else if (v && !strcmp(a, "--pos-weight")) {
      opt.pos_weight = strtod(v, NULL);
      first++;
    } else if (v && !strcmp(a, "--other-weight")) {
      opt.other_weight = strtod(v, NULL);
      first++;
    } else {
      fprintf(stderr, "fa-train: unknown option or missing value: %s\n", a);
      usage(stderr);
      return 2;
    }
  }
  if (first >= argc) {
    usage(stderr);
    return 2;
  }
  if (trainer_options_check(&opt)) {
    fprintf(stderr, "fa-train: option out of range\n");
    return 2;
  }
  struct trainer *t = NULL;
  if (trainer_new(&opt, &t)) {
    fprintf(stderr, "fa-train: cannot set up the lexicons\n");
    return 1;
  }
  int status = 0;
  for (int i = first; i < argc; i++)
    status |= trainer_add_file(t, argv[i]) != ERR_OK;
  if (status)
    fprintf(stderr, "fa-train: could not read every input\n");
  else
    status = trainer_fit_write(t, out) != ERR_OK;
  trainer_free(t);
  return status;
}
