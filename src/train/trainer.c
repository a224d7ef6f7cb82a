/* trainer: the detector's trainer (trainer.h says what it does; the
 * reasons behind its choices are in tools/train.c's opening comment and
 * data/train/README.md). */
#include "train/trainer.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/analysis.h"
#include "base/buf.h"
#include "base/fnv.h"
#include "base/xalloc.h"
#include "detector/detector.h"
#include "sentiment/lexicon.h"
#include "sentiment/polarity.h"
#include "train/records.h"

#define LBFGS_M 10
/* Floor of a signal's spread in standardisation. */
#define SD_FLOOR 0.25

struct example {
  size_t first, n; /* hashed features: feat_idx/feat_val[first..first+n) */
  double dense[DETECTOR_N_DENSE];
  double weight;
  bool label;
  int fold;
  int source; /* index into dataset.sources: reports, operating point */
  bool copy;  /* a record's copy read as an unsupported language */
};

struct dataset {
  struct example *ex;
  size_t n, cap;
  uint32_t *idx;
  float *val;
  size_t nf, fcap;
  char sources[sizeof((struct detector_model *)0)->sources];
  struct records_counts counts; /* unlabeled, and every unusable line */
  size_t skipped_holdout;
};

struct trainer {
  struct trainer_options opt;
  struct analysis_lexicons lx;
  struct detector_model *m;
  struct detector *det; /* scores with m, for the features only */
  struct polarity_result pr;
  struct buf own; /* a record's own words, when copied */
  struct detector_result dr;
  struct dataset ds;
};

/* Records src among the sources; returns its index (in order of first
 * appearance), or -1 when it cannot be recorded. */
static int add_source(struct dataset *ds, const char *src, const char *prog)
{
  size_t n = strlen(src);
  const char *p = ds->sources;
  int i = 0;
  while (*p) {
    const char *c = strchr(p, ',');
    size_t l = c ? (size_t)(c - p) : strlen(p);
    if (l == n && !memcmp(p, src, n))
      return i;
    p = c ? c + 1 : p + l;
    i++;
  }
  size_t used = strlen(ds->sources);
  if (!n || used + n + 2 > sizeof ds->sources || strchr(src, ',')) {
    fprintf(stderr, "%s: cannot record source '%s'\n", prog, src);
    return -1;
  }
  if (used)
    ds->sources[used++] = ',';
  memcpy(ds->sources + used, src, n + 1);
  return i;
}

/* Sorts the comma-separated sources, so the model does not depend on the
 * order of the input files. */
static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sort_sources(struct dataset *ds)
{
  char copy[sizeof ds->sources];
  char *parts[64];
  size_t n = 0;
  memcpy(copy, ds->sources, sizeof copy);
  for (char *p = strtok(copy, ","); p && n < 64; p = strtok(NULL, ","))
    parts[n++] = p;
  qsort(parts, n, sizeof *parts, cmp_str);
  ds->sources[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    if (i)
      strcat(ds->sources, ",");
    strcat(ds->sources, parts[i]);
  }
}

static void add_example(struct dataset *ds, const struct detector_result *r,
                        bool label, double weight, int fold, int source,
                        bool copy)
{
  if (ds->n == ds->cap) {
    ds->cap = ds->cap ? ds->cap * 2 : 1024;
    ds->ex = xrealloc(ds->ex, ds->cap * sizeof *ds->ex);
  }
  size_t nf = r->features.n;
  if (ds->nf + nf > ds->fcap) {
    size_t cap = ds->fcap ? ds->fcap : 1 << 20;
    while (cap < ds->nf + nf)
      cap *= 2;
    ds->idx = xrealloc(ds->idx, cap * sizeof *ds->idx);
    ds->val = xrealloc(ds->val, cap * sizeof *ds->val);
    ds->fcap = cap;
  }
  struct example *e = &ds->ex[ds->n++];
  e->first = ds->nf;
  e->n = nf;
  memcpy(ds->idx + ds->nf, r->features.idx, nf * sizeof *ds->idx);
  memcpy(ds->val + ds->nf, r->features.val, nf * sizeof *ds->val);
  ds->nf += nf;
  memcpy(e->dense, r->features.dense, sizeof e->dense);
  e->label = label;
  e->weight = weight;
  e->fold = fold;
  e->source = source;
  e->copy = copy;
}

/* TextBlob polarity and subjectivity of text in language l into pr: 0 and
 * 0 where l has no lexicon, or where polarity_analyze cannot read it
 * (ERR_UNSUPPORTED); the service does the same. Fails on any other
 * error. */
static enum err polarity_of(const struct analysis_lexicons *lx, enum lang l,
                            const char *t, size_t len,
                            struct polarity_result *pr)
{
  const struct lexicon *x = (unsigned)l < LANG_N ? lx->by_lang[l] : NULL;
  enum err rc = x ? polarity_analyze(x, t, len, pr) : ERR_UNSUPPORTED;
  if (rc == ERR_UNSUPPORTED) {
    pr->polarity = pr->subjectivity = 0.0;
    rc = ERR_OK;
  }
  return rc;
}

/* Scores one record and adds it (and its copy read as an unsupported
 * language) to t's data. ERR_INVALID, said on stderr with where, when it
 * cannot be used. */
static enum err add_record(struct trainer *t, const char *text, size_t len,
                           enum lang lang, bool label, double weight, int fold,
                           const char *source, const char *where)
{
  struct dataset *ds = &t->ds;
  /* The polarity of the writer's own words, as the service reads it for
   * the model (a labeled mail reply without the mail it quotes). */
  size_t own_len;
  const char *own = detector_own_words(text, len, &t->own, &own_len);
  if (!(weight > 0 && weight < 1e6) ||
      polarity_of(&t->lx, lang, own, own_len, &t->pr) != ERR_OK ||
      detector_score(t->det, text, len, lang, t->pr.polarity,
                     t->pr.subjectivity, &t->dr) != ERR_OK) {
    fprintf(stderr, "%s: cannot be used (weight or text)\n", where);
    ds->counts.bad++;
    return ERR_INVALID;
  }
  int si = add_source(ds, source, t->opt.prog);
  if (si < 0) {
    ds->counts.bad++;
    return ERR_INVALID;
  }
  add_example(ds, &t->dr, label, weight, fold, si, false);
  if (t->opt.other_weight > 0 && lang != LANG_OTHER) {
    detector_score(t->det, text, len, LANG_OTHER, 0.0, 0.0, &t->dr);
    add_example(ds, &t->dr, label, weight * t->opt.other_weight, fold, si,
                true);
  }
  return ERR_OK;
}

/* Adds a record read from a file, unless it is held out (see
 * detector_fold_of). */
static void add_item(void *arg, const struct records_item *r)
{
  struct trainer *t = arg;
  int fold = detector_fold_of(r->text, r->len, r->orig_split);
  if (fold < 0) {
    t->ds.skipped_holdout++;
    return;
  }
  char where[512];
  snprintf(where, sizeof where, "%s:%lu", r->path, r->line);
  /* A line that cannot be used is counted and reported, not fatal. */
  err_ignore(add_record(t, r->text, r->len, records_lang(r->lang),
                        r->frustrated, r->weight, fold, r->source, where));
}

enum err trainer_add_file(struct trainer *t, const char *path)
{
  return records_read(path, RECORDS_SAY_BAD, add_item, t, &t->ds.counts);
}

enum err trainer_add(struct trainer *t, const char *text, size_t len,
                     const char *lang_code, bool frustrated, double weight,
                     const char *source)
{
  char where[300];
  snprintf(where, sizeof where, "%s: a record of %s", t->opt.prog, source);
  return add_record(t, text, len, records_lang(lang_code), frustrated, weight,
                    detector_fold_of(text, len, NULL), source, where);
}

/* ---- Objective --------------------------------------------------------- */

struct problem {
  const struct dataset *ds;
  size_t n_hash;
  size_t dim; /* 1 + N_DENSE + n_hash: bias, signals, hashed */
  double mean[DETECTOR_N_DENSE], scale[DETECTOR_N_DENSE];
  double *cw; /* per example: its weight in the loss (0 off the train fold) */
  double total_w;
  double l2_hash, l2_dense;
  double *l2k; /* per hashed weight (class_prior > 0), or NULL: l2_hash */
};

static double margin(const struct problem *p, const double *th,
                     const struct example *e)
{
  const double *wd = th + 1;
  const double *wh = th + 1 + DETECTOR_N_DENSE;
  double z = th[0];
  for (size_t j = 0; j < DETECTOR_N_DENSE; j++)
    z += wd[j] * (e->dense[j] - p->mean[j]) * p->scale[j];
  const uint32_t *idx = p->ds->idx + e->first;
  const float *val = p->ds->val + e->first;
  for (size_t k = 0; k < e->n; k++)
    z += wh[idx[k]] * (double)val[k];
  return z;
}

/* log(1 + exp(-m)), stable for large |m|. */
static double log1pexp_neg(double m)
{
  return m > 0 ? log1p(exp(-m)) : -m + log1p(exp(m));
}

/* f(th) and its gradient g. */
static double objective(const struct problem *p, const double *th, double *g)
{
  memset(g, 0, p->dim * sizeof *g);
  double f = 0.0;
  double *gd = g + 1;
  double *gh = g + 1 + DETECTOR_N_DENSE;
  for (size_t i = 0; i < p->ds->n; i++) {
    double c = p->cw[i];
    if (c == 0.0)
      continue;
    const struct example *e = &p->ds->ex[i];
    double z = margin(p, th, e);
    double y = e->label ? 1.0 : -1.0;
    f += c * log1pexp_neg(y * z);
    /* d/dz: c * (sigmoid(z) - [label]) */
    double s = 1.0 / (1.0 + exp(-z));
    double d = c * (s - (e->label ? 1.0 : 0.0));
    g[0] += d;
    for (size_t j = 0; j < DETECTOR_N_DENSE; j++)
      gd[j] += d * (e->dense[j] - p->mean[j]) * p->scale[j];
    const uint32_t *idx = p->ds->idx + e->first;
    const float *val = p->ds->val + e->first;
    for (size_t k = 0; k < e->n; k++)
      gh[idx[k]] += d * (double)val[k];
  }
  f /= p->total_w;
  for (size_t k = 0; k < p->dim; k++)
    g[k] /= p->total_w;
  const double *wd = th + 1;
  const double *wh = th + 1 + DETECTOR_N_DENSE;
  for (size_t j = 0; j < DETECTOR_N_DENSE; j++) {
    f += 0.5 * p->l2_dense * wd[j] * wd[j];
    gd[j] += p->l2_dense * wd[j];
  }
  for (size_t k = 0; k < p->n_hash; k++) {
    double l2 = p->l2k ? p->l2k[k] : p->l2_hash;
    f += 0.5 * l2 * wh[k] * wh[k];
    gh[k] += l2 * wh[k];
  }
  return f;
}

static double dot(const double *a, const double *b, size_t n)
{
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += a[i] * b[i];
  return s;
}

/* L-BFGS (Nocedal & Wright, algorithm 7.4) with a backtracking Armijo line
 * search; a fixed number of iterations from th = 0. */
static void lbfgs(const struct problem *p, double *th, unsigned iters,
                  bool quiet, const char *prog)
{
  size_t n = p->dim;
  double *g = xcalloc(n, sizeof *g);
  double *gn = xcalloc(n, sizeof *gn);
  double *d = xcalloc(n, sizeof *d);
  double *tn = xcalloc(n, sizeof *tn);
  double *s[LBFGS_M], *y[LBFGS_M];
  double rho[LBFGS_M], alpha[LBFGS_M];
  for (int k = 0; k < LBFGS_M; k++) {
    s[k] = xcalloc(n, sizeof *s[k]);
    y[k] = xcalloc(n, sizeof *y[k]);
  }
  size_t stored = 0, head = 0; /* ring buffer of (s, y) pairs */
  double f = objective(p, th, g);
  for (unsigned it = 0; it < iters; it++) {
    /* Two-loop recursion: d = -H g. */
    for (size_t i = 0; i < n; i++)
      d[i] = -g[i];
    for (size_t k = 0; k < stored; k++) {
      size_t j = (head + LBFGS_M - 1 - k) % LBFGS_M;
      alpha[j] = rho[j] * dot(s[j], d, n);
      for (size_t i = 0; i < n; i++)
        d[i] -= alpha[j] * y[j][i];
    }
    if (stored) {
      size_t j = (head + LBFGS_M - 1) % LBFGS_M;
      double gamma = dot(s[j], y[j], n) / dot(y[j], y[j], n);
      for (size_t i = 0; i < n; i++)
        d[i] *= gamma;
    }
    for (size_t k = stored; k-- > 0;) {
      size_t j = (head + LBFGS_M - 1 - k) % LBFGS_M;
      double beta = rho[j] * dot(y[j], d, n);
      for (size_t i = 0; i < n; i++)
        d[i] += (alpha[j] - beta) * s[j][i];
    }
    double gd = dot(g, d, n);
    if (gd >= 0) { /* not a descent direction: restart from -g */
      for (size_t i = 0; i < n; i++)
        d[i] = -g[i];
      gd = dot(g, d, n);
      stored = 0;
    }
    double step = stored ? 1.0 : 1.0 / sqrt(dot(g, g, n) + 1e-300);
    double fn = f;
    int tries = 0;
    for (; tries < 40; tries++) {
      for (size_t i = 0; i < n; i++)
        tn[i] = th[i] + step * d[i];
      fn = objective(p, tn, gn);
      if (fn <= f + 1e-4 * step * gd)
        break;
      step *= 0.5;
    }
    if (tries == 40)
      break; /* no progress possible: converged to precision */
    double *sk = s[head], *yk = y[head];
    for (size_t i = 0; i < n; i++) {
      sk[i] = tn[i] - th[i];
      yk[i] = gn[i] - g[i];
    }
    double sy = dot(sk, yk, n);
    if (sy > 1e-12) {
      rho[head] = 1.0 / sy;
      head = (head + 1) % LBFGS_M;
      if (stored < LBFGS_M)
        stored++;
    }
    memcpy(th, tn, n * sizeof *th);
    memcpy(g, gn, n * sizeof *g);
    f = fn;
    if (!quiet && (it % 25 == 0 || it + 1 == iters))
      fprintf(stderr, "%s: iteration %u, objective %.6f\n", prog, it, f);
  }
  for (int k = 0; k < LBFGS_M; k++) {
    free(s[k]);
    free(y[k]);
  }
  free(g);
  free(gn);
  free(d);
  free(tn);
}

/* Each hashed weight's penalty for the fit whose examples are p->cw > 0:
 * p->l2_hash * exp(-prior * |r|), r = log((pos + 1) / P) - log((neg + 1)
 * / N), pos and neg the bucket's summed |value| over the frustrated and
 * calm records, weighted as in the loss, P and N their totals (add-one
 * smoothing per bucket). The copies read as an unsupported language are
 * left out: they are the records again. */
static void class_prior_penalties(struct problem *p, double prior)
{
  const struct dataset *ds = p->ds;
  double *pos = xcalloc(p->n_hash, sizeof *pos);
  double *neg = xcalloc(p->n_hash, sizeof *neg);
  for (size_t i = 0; i < ds->n; i++) {
    const struct example *e = &ds->ex[i];
    if (p->cw[i] == 0.0 || e->copy)
      continue;
    double *to = e->label ? pos : neg;
    for (size_t k = 0; k < e->n; k++)
      to[ds->idx[e->first + k]] += p->cw[i] * fabs((double)ds->val[e->first + k]);
  }
  double tp = 0.0, tn = 0.0;
  for (size_t k = 0; k < p->n_hash; k++) {
    tp += pos[k] + 1.0;
    tn += neg[k] + 1.0;
  }
  for (size_t k = 0; k < p->n_hash; k++) {
    double r = log((pos[k] + 1.0) / tp) - log((neg[k] + 1.0) / tn);
    p->l2k[k] = p->l2_hash * exp(-prior * fabs(r));
  }
  free(pos);
  free(neg);
}

/* ---- Operating point --------------------------------------------------- */

struct scored {
  double score;
  bool label;
  int source;
};

static int by_score_desc(const void *a, const void *b)
{
  double x = ((const struct scored *)a)->score;
  double y = ((const struct scored *)b)->score;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* The threshold maximising F1 over sc (sorted by score, descending):
 * midway between the last score taken and the next. */
static double best_threshold(const struct scored *sc, size_t n, double *f1,
                             double *prec, double *rec)
{
  size_t pos = 0;
  for (size_t i = 0; i < n; i++)
    pos += sc[i].label;
  double best = 0.0, thr = 0.5;
  size_t tp = 0;
  *f1 = *prec = *rec = 0.0;
  for (size_t i = 0; i < n; i++) {
    tp += sc[i].label;
    if (i + 1 < n && sc[i + 1].score == sc[i].score)
      continue;
    double p = (double)tp / (double)(i + 1);
    double r = pos ? (double)tp / (double)pos : 0.0;
    double f = p + r > 0 ? 2 * p * r / (p + r) : 0.0;
    if (f > best) {
      best = f;
      thr = i + 1 < n ? (sc[i].score + sc[i + 1].score) / 2 : sc[i].score;
      *f1 = f;
      *prec = p;
      *rec = r;
    }
  }
  return thr;
}

/* Thresholds are tried on a grid of OP_STEP from OP_STEP to 1 - OP_STEP,
 * and each is judged by the mean F1 over the grid points within OP_WINDOW
 * of it: the sources' mean F1 is flat near its best (within 0.005 over
 * 0.44..0.56 for the shipped model), so its exact peak moves by several
 * hundredths from one retraining to the next; the middle of the plateau
 * does not. */
#define OP_STEP 0.005
#define OP_WINDOW 8 /* grid points on each side: +-0.04 */
#define OP_POINTS 199

/* The threshold with the best mean over sources of each source's F1
 * (sc sorted by score, descending), smoothed as above. *f1 is that mean
 * at the threshold itself; *prec and *rec are those of all the records
 * together there. */
static double best_mean_threshold(const struct scored *sc, size_t n, double *f1,
                                  double *prec, double *rec)
{
  int n_src = 0;
  for (size_t i = 0; i < n; i++)
    if (sc[i].source >= n_src)
      n_src = sc[i].source + 1;
  /* Per source: records, frustrated ones, and those taken so far. */
  size_t *count = xcalloc((size_t)n_src * 4 + 1, sizeof *count);
  size_t *pos = count + n_src, *tp = pos + n_src, *taken = tp + n_src;
  size_t all_pos = 0;
  for (size_t i = 0; i < n; i++) {
    count[sc[i].source]++;
    pos[sc[i].source] += sc[i].label;
    all_pos += sc[i].label;
  }
  int present = 0;
  for (int s = 0; s < n_src; s++)
    present += count[s] > 0;
  /* From the highest threshold down, taking the records that reach it. */
  double mean[OP_POINTS], p_all[OP_POINTS], r_all[OP_POINTS];
  size_t next = 0, all_tp = 0;
  for (int k = OP_POINTS - 1; k >= 0; k--) {
    double t = OP_STEP * (k + 1);
    for (; next < n && sc[next].score >= t; next++) {
      tp[sc[next].source] += sc[next].label;
      taken[sc[next].source]++;
      all_tp += sc[next].label;
    }
    double sum = 0.0; /* F1 = 2 tp / (frustrated + taken) */
    for (int s = 0; s < n_src; s++)
      if (pos[s] + taken[s] > 0)
        sum += 2.0 * (double)tp[s] / (double)(pos[s] + taken[s]);
    mean[k] = present ? sum / present : 0.0;
    p_all[k] = next ? (double)all_tp / (double)next : 0.0;
    r_all[k] = all_pos ? (double)all_tp / (double)all_pos : 0.0;
  }
  int best_k = OP_POINTS / 2;
  double best = -1.0;
  for (int k = 0; k < OP_POINTS; k++) {
    double sum = 0.0;
    int m = 0;
    for (int j = k - OP_WINDOW; j <= k + OP_WINDOW; j++)
      if (j >= 0 && j < OP_POINTS) {
        sum += mean[j];
        m++;
      }
    if (sum / m > best) {
      best = sum / m;
      best_k = k;
    }
  }
  free(count);
  *f1 = mean[best_k];
  *prec = p_all[best_k];
  *rec = r_all[best_k];
  return OP_STEP * (best_k + 1);
}

/* The fitted parameters in the model's form: signal weights on the raw
 * scale, floats. */
static void to_model(const struct problem *p, const double *th,
                     struct detector_model *m)
{
  m->bias = (float)th[0];
  for (size_t j = 0; j < DETECTOR_N_DENSE; j++) {
    m->dense_w[j] = (float)(th[1 + j] * p->scale[j]);
    m->dense_mean[j] = (float)p->mean[j];
  }
  for (size_t k = 0; k < p->n_hash; k++)
    m->hash_w[k] = (float)th[1 + DETECTOR_N_DENSE + k];
}

/* The score detector_score gives e with model m (same arithmetic). */
static double model_score(const struct detector_model *m,
                          const struct dataset *ds, const struct example *e)
{
  double hashed = 0.0;
  for (size_t k = 0; k < e->n; k++)
    hashed += (double)m->hash_w[ds->idx[e->first + k]] *
              (double)ds->val[e->first + k];
  double z = m->bias + hashed;
  for (size_t j = 0; j < DETECTOR_N_DENSE; j++)
    z += m->dense_w[j] * (e->dense[j] - m->dense_mean[j]);
  return 1.0 / (1.0 + exp(-z));
}

/* Prints the out-of-fold best F1 of the records of source si. */
static void report_source(const struct scored *all, size_t n, int si,
                          const char *name, const char *prog)
{
  struct scored *sc = xcalloc(n ? n : 1, sizeof *sc);
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (all[i].source == si)
      sc[m++] = all[i];
  if (m) {
    qsort(sc, m, sizeof *sc, by_score_desc);
    double f1, p, r;
    double t = best_threshold(sc, m, &f1, &p, &r);
    fprintf(stderr, "%s: out of fold, %s (%zu): best F1 %.3f at %.4f\n", prog,
            name, m, f1, t);
  }
  free(sc);
}

/* ---- The team's labels ------------------------------------------------ */

bool trainer_label_held_out(const char *message_id)
{
  return fnv1a64_str(FNV1A64_BASIS, message_id) % TRAINER_LABEL_BUCKETS == 0;
}

bool trainer_label_held_out_row(int64_t row_id)
{
  char digits[24];
  snprintf(digits, sizeof digits, "%" PRId64, row_id);
  return trainer_label_held_out(digits);
}

/* ---- Setting up ------------------------------------------------------- */

void trainer_options_default(struct trainer_options *o)
{
  *o = (struct trainer_options){TRAINER_DEF_BITS,
                                TRAINER_DEF_ITERS,
                                TRAINER_DEF_L2_HASH,
                                TRAINER_DEF_L2_DENSE,
                                TRAINER_DEF_CLASS_PRIOR,
                                0.0,
                                TRAINER_DEF_OTHER_WEIGHT,
                                NULL,
                                false,
                                "fa-train"};
}

enum err trainer_options_check(const struct trainer_options *o)
{
  if (o->bits < DETECTOR_MIN_HASH_BITS || o->bits > DETECTOR_MAX_HASH_BITS ||
      !(o->l2_hash >= 0) || !(o->l2_dense >= 0) || !(o->pos_weight >= 0) ||
      !(o->class_prior >= 0 && o->class_prior <= 10) ||
      !(o->other_weight >= 0 && o->other_weight < 1e6))
    return ERR_INVALID;
  return ERR_OK;
}

enum err trainer_new(const struct trainer_options *o, struct trainer **out)
{
  if (trainer_options_check(o))
    return ERR_INVALID;
  struct trainer *t = xcalloc(1, sizeof *t);
  t->opt = *o;
  if (!t->opt.prog)
    t->opt.prog = "fa-train";
  t->m = detector_model_new(o->bits);
  enum err rc = analysis_lexicons_new(&t->lx);
  if (rc) {
    detector_model_free(t->m);
    free(t);
    return rc;
  }
  rc = detector_new(t->m, &t->det);
  if (rc) {
    analysis_lexicons_free(&t->lx);
    detector_model_free(t->m);
    free(t);
    return rc;
  }
  polarity_result_init(&t->pr);
  buf_init(&t->own, 0);
  detector_result_init(&t->dr);
  t->dr.keep_features = true;
  *out = t;
  return ERR_OK;
}

/* What only reading records needs: freed before the fit, which needs the
 * memory. */
static void drop_reader(struct trainer *t)
{
  if (!t->det)
    return;
  polarity_result_cleanup(&t->pr);
  buf_cleanup(&t->own);
  detector_result_cleanup(&t->dr);
  detector_free(t->det);
  analysis_lexicons_free(&t->lx);
  t->det = NULL;
}

void trainer_free(struct trainer *t)
{
  if (!t)
    return;
  drop_reader(t);
  free(t->ds.ex);
  free(t->ds.idx);
  free(t->ds.val);
  detector_model_free(t->m);
  free(t);
}

/* ---- The fit ------------------------------------------------------------ */

enum err trainer_fit_write(struct trainer *t, const char *out_path)
{
  clock_t t0 = clock();
  drop_reader(t);
  /* The signals are standardised over every record (no labels used). A
   * signal that barely varies keeps a floor on its spread, so that a rare
   * one cannot take a huge weight cheaply. */
  struct problem p = {0};
  p.ds = &t->ds;
  p.n_hash = (size_t)1 << t->opt.bits;
  p.dim = 1 + DETECTOR_N_DENSE + p.n_hash;
  p.l2_hash = t->opt.l2_hash;
  p.l2_dense = t->opt.l2_dense;
  p.cw = xcalloc(t->ds.n ? t->ds.n : 1, sizeof *p.cw);
  if (t->opt.class_prior > 0)
    p.l2k = xcalloc(p.n_hash, sizeof *p.l2k);
  double wpos = 0, wneg = 0;
  size_t npos = 0;
  size_t fold_pos[DETECTOR_FOLDS] = {0}, fold_n[DETECTOR_FOLDS] = {0};
  for (size_t i = 0; i < t->ds.n; i++) {
    const struct example *e = &t->ds.ex[i];
    npos += e->label;
    fold_n[e->fold]++;
    fold_pos[e->fold] += e->label;
    if (e->label)
      wpos += e->weight;
    else
      wneg += e->weight;
    for (size_t j = 0; j < DETECTOR_N_DENSE; j++)
      p.mean[j] += e->dense[j];
  }
  for (int k = 0; k < DETECTOR_FOLDS; k++)
    if (!fold_pos[k] || fold_pos[k] == fold_n[k]) {
      fprintf(stderr,
              "%s: need frustrated and calm examples in every fold (more "
              "data)\n",
              t->opt.prog);
      free(p.cw);
      free(p.l2k);
      return ERR_INVALID;
    }
  double pos_weight = t->opt.pos_weight > 0 ? t->opt.pos_weight : wneg / wpos;
  for (size_t j = 0; j < DETECTOR_N_DENSE; j++)
    p.mean[j] /= (double)t->ds.n;
  double var[DETECTOR_N_DENSE] = {0};
  for (size_t i = 0; i < t->ds.n; i++)
    for (size_t j = 0; j < DETECTOR_N_DENSE; j++)
      var[j] += (t->ds.ex[i].dense[j] - p.mean[j]) *
                (t->ds.ex[i].dense[j] - p.mean[j]);
  for (size_t j = 0; j < DETECTOR_N_DENSE; j++) {
    double sd = sqrt(var[j] / (double)t->ds.n);
    p.scale[j] = 1.0 / (sd > SD_FLOOR ? sd : SD_FLOOR);
  }
  if (!t->opt.quiet)
    fprintf(stderr,
            "%s: %zu examples (%zu frustrated) from %s; skipped %zu "
            "unlabeled, %zu held out; frustrated weight %.3f\n",
            t->opt.prog, t->ds.n, npos, t->ds.sources, t->ds.counts.unlabeled,
            t->ds.skipped_holdout, pos_weight);

  /* Cross-fitting: out-of-fold scores for the operating point. */
  double *th = xcalloc(p.dim, sizeof *th);
  struct scored *sc = xcalloc(t->ds.n, sizeof *sc);
  for (int k = 0; k <= DETECTOR_FOLDS; k++) {
    /* k == DETECTOR_FOLDS: the final fit, on everything. */
    p.total_w = 0;
    for (size_t i = 0; i < t->ds.n; i++) {
      const struct example *e = &t->ds.ex[i];
      /* The copies keep the classes as they come: a text whose language
       * the detector cannot read is frustrated only on strong signs. */
      double pw = e->label && !e->copy ? pos_weight : 1.0;
      p.cw[i] = e->fold == k ? 0.0 : e->weight * pw;
      p.total_w += p.cw[i];
    }
    if (p.l2k)
      class_prior_penalties(&p, t->opt.class_prior);
    memset(th, 0, p.dim * sizeof *th);
    if (!t->opt.quiet)
      fprintf(stderr, "%s: fit %d of %d%s\n", t->opt.prog, k + 1,
              DETECTOR_FOLDS + 1, k == DETECTOR_FOLDS ? " (all folds)" : "");
    lbfgs(&p, th, t->opt.iters, t->opt.quiet, t->opt.prog);
    to_model(&p, th, t->m);
    if (k == DETECTOR_FOLDS)
      break;
    for (size_t i = 0; i < t->ds.n; i++)
      if (t->ds.ex[i].fold == k) {
        sc[i].score = model_score(t->m, &t->ds, &t->ds.ex[i]);
        sc[i].label = t->ds.ex[i].label;
        sc[i].source = t->ds.ex[i].source;
      }
  }
  if (t->opt.scores) {
    FILE *sf = fopen(t->opt.scores, "w");
    for (size_t i = 0; sf && i < t->ds.n; i++)
      if (!t->ds.ex[i].copy)
        fprintf(sf, "%d\t%d\t%d\t%.6f\n", sc[i].label, sc[i].source,
                t->ds.ex[i].fold, sc[i].score);
    if (!sf || fclose(sf) != 0)
      perror(t->opt.scores);
  }
  /* The records themselves, not their copies, are reported and set the
   * operating point (below). */
  size_t n_sc = 0;
  for (size_t i = 0; i < t->ds.n; i++)
    if (!t->ds.ex[i].copy)
      sc[n_sc++] = sc[i];
  char order[sizeof t->ds.sources];
  memcpy(order, t->ds.sources, sizeof order);
  int si = 0;
  for (char *nm = strtok(order, ","); nm && !t->opt.quiet;
       nm = strtok(NULL, ","), si++)
    report_source(sc, n_sc, si, nm, t->opt.prog);
  sort_sources(&t->ds);
  memcpy(t->m->sources, t->ds.sources, sizeof t->m->sources);
  qsort(sc, n_sc, sizeof *sc, by_score_desc);
  /* One operating point for every source and language: the threshold
   * with the best mean of the sources' out-of-fold F1 (smoothed, see
   * best_mean_threshold), each source one vote. Pooling the records instead
   * lets the largest source (GoEmotions, a fifth frustrated) set the point for
   * all, and a deployment's share of frustration is not GoEmotions'. */
  double f1, prec, rec;
  double thr = best_mean_threshold(sc, n_sc, &f1, &prec, &rec);
  if (thr < 0.01)
    thr = 0.01;
  if (thr > 0.99)
    thr = 0.99;
  t->m->threshold = (float)thr;

  enum err rc = ERR_OK;
  struct buf out;
  buf_init(&out, 0);
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", out_path);
  FILE *f = NULL;
  if (detector_model_serialize(t->m, &out) || !(f = fopen(tmp, "wb")) ||
      fwrite(out.data, 1, out.len, f) != out.len || fclose(f) != 0 ||
      rename(tmp, out_path) != 0) {
    perror(out_path);
    rc = ERR_IO;
  }
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  if (!t->opt.quiet) {
    fprintf(stderr,
            "%s: out of fold, all %zu records: threshold %.4f, precision "
            "%.3f, recall %.3f; mean F1 of the sources %.3f\n",
            t->opt.prog, n_sc, thr, prec, rec, f1);
    for (size_t j = 0; j < DETECTOR_N_DENSE; j++)
      fprintf(stderr, "%s:   %-40s %+.4f (x standardised: %+.4f)\n",
              t->opt.prog, detector_dense_name(j), t->m->dense_w[j], th[1 + j]);
    fprintf(stderr, "%s: wrote %s (%zu bytes, sources %s) in %.1f s\n",
            t->opt.prog, out_path, out.len, t->m->sources, secs);
  }
  buf_cleanup(&out);
  free(sc);
  free(th);
  free(p.cw);
  free(p.l2k);
  return rc;
}
