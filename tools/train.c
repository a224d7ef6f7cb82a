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
 * Features come from detector_score itself, so training sees exactly what
 * scoring computes. The fit is a logistic regression with L2, minimised by
 * L-BFGS for a fixed number of iterations from zero, single-threaded: the
 * same inputs give the same bytes.
 *
 * The operating point comes from cross-fitting: the records are cut into
 * DETECTOR_FOLDS folds by a hash of their text; a model fitted on the other
 * folds scores each fold, and the threshold is the one that maximises the
 * mean over sources of each source's F1 on those out-of-fold scores (every
 * record scored by a model that never saw it). The shipped weights are then
 * fitted on all folds. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/analysis.h"
#include "base/buf.h"
#include "base/xalloc.h"
#include "detector/detector.h"
#include "sentiment/lexicon.h"
#include "sentiment/polarity.h"

/* Defaults: chosen by out-of-fold F1 on the training data (GoEmotions and
 * the project's own messages). 2^16 weights do as well as 2^20 there, and
 * at 256 KiB they stay in a core's L2 cache while scoring. */
#define DEF_BITS 16
#define DEF_ITERS 200
#define DEF_L2_HASH 1e-4
#define DEF_L2_DENSE 1e-3
#define LBFGS_M 10
/* Weight of a record's copy read as an unsupported language: enough to
 * set that case's intercept and its few signals, little enough to leave
 * the shared signals to the real texts. */
#define DEF_OTHER_WEIGHT 0.2
/* Floor of a signal's spread in standardisation. */
#define SD_FLOOR 0.25

struct options {
  const char *out;
  unsigned bits;
  unsigned iters;
  double l2_hash;
  double l2_dense;
  double pos_weight;   /* 0: balanced (negatives' weight / positives') */
  double other_weight; /* of each record's LANG_OTHER copy (0: none) */
  const char *scores;  /* where to write the out-of-fold scores, or NULL */
  bool quiet;
};

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
  size_t skipped_null, skipped_holdout, bad;
};

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
          "  --pos-weight X    weight of frustrated examples (default:\n"
          "                    balanced classes)\n"
          "  --other-weight X  weight of each record's copy read as an\n"
          "                    unsupported language (default %g; 0: none)\n"
          "  --scores FILE     write the out-of-fold scores as TSV (label,\n"
          "                    source, fold, score)\n"
          "  --quiet           no progress on stderr\n",
          DEF_BITS, DEF_ITERS, DEF_L2_HASH, DEF_L2_DENSE, DEF_OTHER_WEIGHT);
}

/* Records src among the sources; returns its index (in order of first
 * appearance), or -1 when it cannot be recorded. */
static int add_source(struct dataset *ds, const char *src)
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
    fprintf(stderr, "fa-train: cannot record source '%s'\n", src);
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

/* The language of a record's "lang" (absent: English; a code of another
 * language: LANG_OTHER). */
static enum lang lang_of(const cJSON *l)
{
  if (!cJSON_IsString(l))
    return LANG_EN;
  int v = lang_from_code(l->valuestring, strlen(l->valuestring));
  return v < 0 ? LANG_OTHER : (enum lang)v;
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

static int load_file(const char *path, const struct analysis_lexicons *lx,
                     const struct detector *det, double other_weight,
                     struct polarity_result *pr, struct detector_result *dr,
                     struct dataset *ds)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return 1;
  }
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  char file_source[256];
  snprintf(file_source, sizeof file_source, "file:%s", base);
  char *line = NULL;
  size_t cap = 0;
  ssize_t got;
  unsigned long lineno = 0;
  while ((got = getline(&line, &cap, f)) > 0) {
    lineno++;
    cJSON *o = cJSON_ParseWithLength(line, (size_t)got);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "text");
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(o, "label");
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(label, "frustrated");
    if (!cJSON_IsString(text)) {
      if (o || strspn(line, " \t\r\n") != (size_t)got) {
        fprintf(stderr, "%s:%lu: no \"text\"\n", path, lineno);
        ds->bad++;
      }
      cJSON_Delete(o);
      continue;
    }
    if (!cJSON_IsBool(fr)) {
      ds->skipped_null++;
      cJSON_Delete(o);
      continue;
    }
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(o, "meta");
    const cJSON *os = cJSON_GetObjectItemCaseSensitive(meta, "orig_split");
    const char *t = text->valuestring;
    size_t len = strlen(t);
    int fold =
        detector_fold_of(t, len, cJSON_IsString(os) ? os->valuestring : NULL);
    if (fold < 0) {
      ds->skipped_holdout++;
      cJSON_Delete(o);
      continue;
    }
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "weight");
    double weight = cJSON_IsNumber(w) ? w->valuedouble : 1.0;
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(o, "source");
    enum lang lang = lang_of(cJSON_GetObjectItemCaseSensitive(o, "lang"));
    if (!(weight > 0 && weight < 1e6) ||
        polarity_of(lx, lang, t, len, pr) != ERR_OK ||
        detector_score(det, t, len, lang, pr->polarity, pr->subjectivity, dr) !=
            ERR_OK) {
      fprintf(stderr, "%s:%lu: cannot be used (weight or text)\n", path,
              lineno);
      ds->bad++;
      cJSON_Delete(o);
      continue;
    }
    int si =
        add_source(ds, cJSON_IsString(src) ? src->valuestring : file_source);
    if (si < 0) {
      ds->bad++;
      cJSON_Delete(o);
      continue;
    }
    add_example(ds, dr, cJSON_IsTrue(fr), weight, fold, si, false);
    if (other_weight > 0 && lang != LANG_OTHER) {
      detector_score(det, t, len, LANG_OTHER, 0.0, 0.0, dr);
      add_example(ds, dr, cJSON_IsTrue(fr), weight * other_weight, fold, si,
                  true);
    }
    cJSON_Delete(o);
  }
  free(line);
  int status = ferror(f) ? 1 : 0;
  fclose(f);
  return status;
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
    f += 0.5 * p->l2_hash * wh[k] * wh[k];
    gh[k] += p->l2_hash * wh[k];
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
                  bool quiet)
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
      fprintf(stderr, "fa-train: iteration %u, objective %.6f\n", it, f);
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

/* The threshold maximising the mean over sources of each source's F1
 * (sc sorted by score, descending), midway between the last score taken
 * and the next. *f1 is that mean; *prec and *rec are those of all the
 * records together at the threshold. */
static double best_mean_threshold(const struct scored *sc, size_t n,
                                  double *f1, double *prec, double *rec)
{
  int n_src = 0;
  for (size_t i = 0; i < n; i++)
    if (sc[i].source >= n_src)
      n_src = sc[i].source + 1;
  /* Per source: records, frustrated ones, and those taken so far. */
  size_t *count = xcalloc((size_t)n_src * 4 + 1, sizeof *count);
  size_t *pos = count + n_src, *tp = pos + n_src, *taken = tp + n_src;
  size_t all_pos = 0, all_tp = 0;
  for (size_t i = 0; i < n; i++) {
    count[sc[i].source]++;
    pos[sc[i].source] += sc[i].label;
    all_pos += sc[i].label;
  }
  int present = 0;
  for (int s = 0; s < n_src; s++)
    present += count[s] > 0;
  double best = -1.0, thr = 0.5;
  *f1 = *prec = *rec = 0.0;
  for (size_t i = 0; i < n; i++) {
    tp[sc[i].source] += sc[i].label;
    taken[sc[i].source]++;
    all_tp += sc[i].label;
    if (i + 1 < n && sc[i + 1].score == sc[i].score)
      continue;
    double sum = 0.0; /* F1 = 2 tp / (frustrated + taken) */
    for (int s = 0; s < n_src; s++)
      if (pos[s] + taken[s] > 0)
        sum += 2.0 * (double)tp[s] / (double)(pos[s] + taken[s]);
    double mean = present ? sum / present : 0.0;
    if (mean > best) {
      best = mean;
      thr = i + 1 < n ? (sc[i].score + sc[i + 1].score) / 2 : sc[i].score;
      *f1 = mean;
      *prec = (double)all_tp / (double)(i + 1);
      *rec = all_pos ? (double)all_tp / (double)all_pos : 0.0;
    }
  }
  free(count);
  return thr;
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
                          const char *name)
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
    fprintf(stderr, "fa-train: out of fold, %s (%zu): best F1 %.3f at %.4f\n",
            name, m, f1, t);
  }
  free(sc);
}

int main(int argc, char **argv)
{
  struct options opt = {"data/model/frustration-model.bin",
                        DEF_BITS,
                        DEF_ITERS,
                        DEF_L2_HASH,
                        DEF_L2_DENSE,
                        0.0,
                        DEF_OTHER_WEIGHT,
                        NULL,
                        false};
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
      opt.out = v;
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
  if (opt.bits < DETECTOR_MIN_HASH_BITS || opt.bits > DETECTOR_MAX_HASH_BITS ||
      !(opt.l2_hash >= 0) || !(opt.l2_dense >= 0) || !(opt.pos_weight >= 0) ||
      !(opt.other_weight >= 0 && opt.other_weight < 1e6)) {
    fprintf(stderr, "fa-train: option out of range\n");
    return 2;
  }
  clock_t t0 = clock();

  struct analysis_lexicons lx;
  struct detector_model *m = detector_model_new(opt.bits);
  struct detector *det = NULL;
  if (analysis_lexicons_new(&lx) || detector_new(m, &det)) {
    fprintf(stderr, "fa-train: cannot set up the lexicons\n");
    return 1;
  }
  struct polarity_result pr;
  struct detector_result dr;
  polarity_result_init(&pr);
  detector_result_init(&dr);
  dr.keep_features = true;
  struct dataset ds = {0};
  int status = 0;
  for (int i = first; i < argc; i++)
    status |= load_file(argv[i], &lx, det, opt.other_weight, &pr, &dr, &ds);
  polarity_result_cleanup(&pr);
  detector_result_cleanup(&dr);
  detector_free(det);
  analysis_lexicons_free(&lx);
  if (status) {
    fprintf(stderr, "fa-train: could not read every input\n");
    return 1;
  }

  /* The signals are standardised over every record (no labels used). A
   * signal that barely varies keeps a floor on its spread, so that a rare
   * one cannot take a huge weight cheaply. */
  struct problem p = {0};
  p.ds = &ds;
  p.n_hash = (size_t)1 << opt.bits;
  p.dim = 1 + DETECTOR_N_DENSE + p.n_hash;
  p.l2_hash = opt.l2_hash;
  p.l2_dense = opt.l2_dense;
  p.cw = xcalloc(ds.n ? ds.n : 1, sizeof *p.cw);
  double wpos = 0, wneg = 0;
  size_t npos = 0;
  size_t fold_pos[DETECTOR_FOLDS] = {0}, fold_n[DETECTOR_FOLDS] = {0};
  for (size_t i = 0; i < ds.n; i++) {
    const struct example *e = &ds.ex[i];
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
      fprintf(stderr, "fa-train: need frustrated and calm examples in every "
                      "fold (more data)\n");
      return 1;
    }
  double pos_weight = opt.pos_weight > 0 ? opt.pos_weight : wneg / wpos;
  for (size_t j = 0; j < DETECTOR_N_DENSE; j++)
    p.mean[j] /= (double)ds.n;
  double var[DETECTOR_N_DENSE] = {0};
  for (size_t i = 0; i < ds.n; i++)
    for (size_t j = 0; j < DETECTOR_N_DENSE; j++)
      var[j] +=
          (ds.ex[i].dense[j] - p.mean[j]) * (ds.ex[i].dense[j] - p.mean[j]);
  for (size_t j = 0; j < DETECTOR_N_DENSE; j++) {
    double sd = sqrt(var[j] / (double)ds.n);
    p.scale[j] = 1.0 / (sd > SD_FLOOR ? sd : SD_FLOOR);
  }
  if (!opt.quiet)
    fprintf(stderr,
            "fa-train: %zu examples (%zu frustrated) from %s; skipped %zu "
            "unlabeled, %zu held out; frustrated weight %.3f\n",
            ds.n, npos, ds.sources, ds.skipped_null, ds.skipped_holdout,
            pos_weight);

  /* Cross-fitting: out-of-fold scores for the operating point. */
  double *th = xcalloc(p.dim, sizeof *th);
  struct scored *sc = xcalloc(ds.n, sizeof *sc);
  for (int k = 0; k <= DETECTOR_FOLDS; k++) {
    /* k == DETECTOR_FOLDS: the final fit, on everything. */
    p.total_w = 0;
    for (size_t i = 0; i < ds.n; i++) {
      const struct example *e = &ds.ex[i];
      /* The copies keep the classes as they come: a text whose language
       * the detector cannot read is frustrated only on strong signs. */
      double pw = e->label && !e->copy ? pos_weight : 1.0;
      p.cw[i] = e->fold == k ? 0.0 : e->weight * pw;
      p.total_w += p.cw[i];
    }
    memset(th, 0, p.dim * sizeof *th);
    if (!opt.quiet)
      fprintf(stderr, "fa-train: fit %d of %d%s\n", k + 1, DETECTOR_FOLDS + 1,
              k == DETECTOR_FOLDS ? " (all folds)" : "");
    lbfgs(&p, th, opt.iters, opt.quiet);
    to_model(&p, th, m);
    if (k == DETECTOR_FOLDS)
      break;
    for (size_t i = 0; i < ds.n; i++)
      if (ds.ex[i].fold == k) {
        sc[i].score = model_score(m, &ds, &ds.ex[i]);
        sc[i].label = ds.ex[i].label;
        sc[i].source = ds.ex[i].source;
      }
  }
  if (opt.scores) {
    FILE *sf = fopen(opt.scores, "w");
    for (size_t i = 0; sf && i < ds.n; i++)
      if (!ds.ex[i].copy)
        fprintf(sf, "%d\t%d\t%d\t%.6f\n", sc[i].label, sc[i].source,
                ds.ex[i].fold, sc[i].score);
    if (!sf || fclose(sf) != 0)
      perror(opt.scores);
  }
  /* The records themselves, not their copies, are reported and set the
   * operating point (below). */
  size_t n_sc = 0;
  for (size_t i = 0; i < ds.n; i++)
    if (!ds.ex[i].copy)
      sc[n_sc++] = sc[i];
  char order[sizeof ds.sources];
  memcpy(order, ds.sources, sizeof order);
  int si = 0;
  for (char *nm = strtok(order, ","); nm && !opt.quiet;
       nm = strtok(NULL, ","), si++)
    report_source(sc, n_sc, si, nm);
  sort_sources(&ds);
  memcpy(m->sources, ds.sources, sizeof m->sources);
  qsort(sc, n_sc, sizeof *sc, by_score_desc);
  /* One operating point for every source and language: the threshold
   * with the best mean of the sources' out-of-fold F1, each source one
   * vote. Pooling the records instead lets the largest source (GoEmotions,
   * a fifth frustrated) set the point for all, and a deployment's share
   * of frustration is not GoEmotions'. */
  double f1, prec, rec;
  double thr = best_mean_threshold(sc, n_sc, &f1, &prec, &rec);
  if (thr < 0.01)
    thr = 0.01;
  if (thr > 0.99)
    thr = 0.99;
  m->threshold = (float)thr;

  struct buf out;
  buf_init(&out, 0);
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", opt.out);
  FILE *f = NULL;
  if (detector_model_serialize(m, &out) || !(f = fopen(tmp, "wb")) ||
      fwrite(out.data, 1, out.len, f) != out.len || fclose(f) != 0 ||
      rename(tmp, opt.out) != 0) {
    perror(opt.out);
    status = 1;
  }
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  if (!opt.quiet) {
    fprintf(stderr,
            "fa-train: out of fold, all %zu records: threshold %.4f, "
            "precision %.3f, recall %.3f; mean F1 of the sources %.3f\n",
            n_sc, thr, prec, rec, f1);
    for (size_t j = 0; j < DETECTOR_N_DENSE; j++)
      fprintf(stderr, "fa-train:   %-40s %+.4f (x standardised: %+.4f)\n",
              detector_dense_name(j), m->dense_w[j], th[1 + j]);
    fprintf(stderr, "fa-train: wrote %s (%zu bytes, sources %s) in %.1f s\n",
            opt.out, out.len, m->sources, secs);
  }
  buf_cleanup(&out);
  free(sc);
  free(th);
  free(p.cw);
  free(ds.ex);
  free(ds.idx);
  free(ds.val);
  detector_model_free(m);
  return status;
}
