/* trainer: fits the support-tuned detector's weights on labeled messages.
 *
 * The one trainer of the project: `fa-train` (tools/train.c, what `make
 * train` runs) and `frustration-alert train` (src/cli/train.c, which adds
 * the team's labels from the store) are thin layers over it, so the same
 * records give the same model bytes whichever runs it.
 *
 * Records come from JSON Lines files (trainer_add_file: "text", "label":
 * {"frustrated": true|false|null}, optional "weight", "source", "lang",
 * "meta": {"orig_split"}) or one by one (trainer_add). Features come from
 * detector_score itself, so training sees exactly what scoring computes.
 * The fit is a logistic regression with L2, minimised by L-BFGS for a
 * fixed number of iterations from zero, single-threaded: the same inputs
 * give the same bytes. The operating point comes from cross-fitting over
 * DETECTOR_FOLDS folds (a hash of each record's text): the threshold that
 * maximises F1 over the English records' out-of-fold scores. Every record
 * is also learned a second time as if its language were not supported
 * (LANG_OTHER), at other_weight times its weight; tools/train.c says why.
 *
 * Progress and the figures of the fit go to stderr unless quiet. */
#ifndef TRAIN_TRAINER_H
#define TRAIN_TRAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Defaults: chosen by out-of-fold F1 on the training data (GoEmotions and
 * the project's own messages), then checked on the evaluation sets
 * (data/train/README.md, "Regularisation"). 2^17 weights (512 KiB) stay
 * in a core's L2 cache while scoring; 2^16 collided enough to cost the
 * evaluation sets about 0.005 of F1. */
#define TRAINER_DEF_BITS 17
#define TRAINER_DEF_ITERS 200
#define TRAINER_DEF_L2_HASH 1.5e-4
#define TRAINER_DEF_L2_DENSE 1e-3
/* The L2 penalty of a hashed weight is l2_hash * exp(-class_prior * |r|),
 * r the bucket's smoothed log ratio of frequency among frustrated and
 * calm training records (the Naive Bayes log-count ratio of Wang and
 * Manning's NBSVM, 2012, used here as a prior rather than a scaling):
 * a word that mostly comes with one class is let go further from zero
 * than one that comes with both. 0: one penalty for every weight. */
#define TRAINER_DEF_CLASS_PRIOR 0.5
/* Weight of a record's copy read as an unsupported language: enough to
 * set that case's intercept and its few signals, little enough to leave
 * the shared signals to the real texts. */
#define TRAINER_DEF_OTHER_WEIGHT 0.2

/* The team's labels (POST /api/feedback, read from the store by
 * `frustration-alert train --from-store`): each counts as much as one of
 * the project's English support messages (data/train/README.md), being
 * support traffic too, and is recorded under this source. */
#define TRAINER_LABEL_WEIGHT 6.0
#define TRAINER_LABEL_SOURCE "team-labels"
/* One label in TRAINER_LABEL_BUCKETS is held out of training, so that
 * `eval --from-store` compares the models on labels neither saw. */
#define TRAINER_LABEL_BUCKETS 5

/* True for a team label held out of training: the FNV-1a 64 hash of its
 * message id is 0 modulo TRAINER_LABEL_BUCKETS. Deterministic, and fixed
 * per message whatever else the store holds or how often it is
 * relabelled. */
bool trainer_label_held_out(const char *message_id);

/* trainer_label_held_out for a message stored without a message id
 * (labelled by its row id, POST /api/feedback's "id"): the same hash of
 * the row id's decimal digits. Row ids stay with their messages, across
 * `migrate` too. */
bool trainer_label_held_out_row(int64_t row_id);

struct trainer_options {
  unsigned bits;
  unsigned iters;
  double l2_hash;
  double l2_dense;
  double class_prior;  /* see TRAINER_DEF_CLASS_PRIOR */
  double pos_weight;   /* 0: balanced (negatives' weight / positives') */
  double other_weight; /* of each record's LANG_OTHER copy (0: none) */
  const char *scores;  /* where to write the out-of-fold scores, or NULL */
  bool quiet;
  const char *prog; /* the name that prefixes messages ("fa-train") */
};

/* Fills o with the defaults above (prog "fa-train"). */
void trainer_options_default(struct trainer_options *o);

/* ERR_INVALID when an option is out of its range. */
enum err trainer_options_check(const struct trainer_options *o);

struct trainer; /* opaque: the records read so far */

/* Builds the lexicons and a detector to compute features with, under
 * options o (copied; o->scores and o->prog are borrowed for t's life).
 * ERR_INVALID for options out of range, another code when the lexicons
 * cannot be built. Release with trainer_free. */
enum err trainer_new(const struct trainer_options *o, struct trainer **out);
void trainer_free(struct trainer *t); /* NULL is fine */

/* Reads the labeled JSON Lines at path (the format above): records
 * without a label are skipped, as are the held-out ones (meta.orig_split
 * "dev"/"test", see detector_fold_of). A line that cannot be used is
 * reported on stderr as "PATH:LINE: why" and counted. ERR_IO when the
 * file cannot be read; ERR_INVALID when a line could not be used. */
enum err trainer_add_file(struct trainer *t, const char *path);

/* Adds one record: text (len bytes), read in language lang_code (ISO
 * 639-1; NULL is English, as in the files; another code is read as an
 * unsupported language), its label, weight (> 0) and source (the name
 * the model records; at most a few dozen sources fit). ERR_INVALID (on
 * stderr too) when it cannot be used. */
enum err trainer_add(struct trainer *t, const char *text, size_t len,
                     const char *lang_code, bool frustrated, double weight,
                     const char *source);

/* Fits the model on every record added and writes it to out_path
 * (through a temporary file renamed into place). ERR_INVALID when the
 * records cannot make a model (a fold without both classes), ERR_IO when
 * the file cannot be written. */
enum err trainer_fit_write(struct trainer *t, const char *out_path);

#endif
