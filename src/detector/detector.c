/* detector: the detector's lifetime (see detector.h): the model's
 * weights copied, the lexicons indexed, the memos made and the tables
 * the stages read built once; results and their scratch. Scoring is in
 * score.c, its stages in the files detector_int.h lists. */
#include "detector/detector.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "detector/detector_int.h"

/* The per-group seeds: one distinct first byte for each kind of feature. */
#define SEED(c) strmap_fnv(STRMAP_FNV_BASIS, c, 1)

static const char *const dense_names[DETECTOR_N_DENSE] = {
#define X(name, desc) desc,
    DETECTOR_DENSE_MAP(X)
#undef X
};

const char *detector_dense_name(size_t i)
{
  return i < DETECTOR_N_DENSE ? dense_names[i] : "?";
}

/* Builds the tables the stages read (see struct detector): the word
 * loop's entry of each byte, white space, the n-grams' first states,
 * log1p of small counts, the seeds. */
static void init_tables(struct detector *d)
{
  for (unsigned c = 0; c < 256; c++) {
    uint64_t e = 0;
    if (c >= 'a' && c <= 'z')
      e = c | W_WORD | W_LOWER;
    else if (c >= 'A' && c <= 'Z')
      e = (c + 32) | W_WORD | W_UPPER;
    else if (c >= '0' && c <= '9')
      e = '0' | W_WORD;
    d->word_byte[c] = e;
    /* White space in one byte is ASCII. */
    char b = (char)c;
    if (vader_space_at(&b, 1) == 1)
      d->space[c] = SPACE_ASCII;
    else if (vader_space_lead((unsigned char)c))
      d->space[c] = SPACE_LEAD;
  }
  uint32_t seed_c = SEED("c");
  d->seed_u = SEED("u");
  uint32_t seed_b = SEED("b");
  d->start_b = strmap_mix(strmap_fnv(seed_b, "<s>", 3));
  d->end_b = strmap_mix(strmap_fnv(seed_b, "</s>", 4));
  for (unsigned c = 0; c < 256; c++)
    d->gram_first[c] = (seed_c ^ c) * STRMAP_FNV_PRIME;
  for (size_t k = 0; k < LOG1P_TABLE; k++)
    d->log1p[k] = log1p((double)k);
}

/* ---- Lifetime ---------------------------------------------------------- */

static enum err create(const struct detector_model *m, bool batch,
                       struct detector **out)
{
  *out = NULL;
  if (m->feature_version != DETECTOR_FEATURE_VERSION)
    return ERR_UNSUPPORTED;
  if (m->hash_bits < DETECTOR_MIN_HASH_BITS ||
      m->hash_bits > DETECTOR_MAX_HASH_BITS)
    return ERR_INVALID;
  struct vader *v = NULL;
  enum err rc = vader_new(&v);
  if (rc)
    return rc;
  struct detector *d = xcalloc(1, sizeof *d);
  d->vader = v;
  support_index_init(&d->support);
  d->words = memo_new(WORD_MEMO_BITS, sizeof(struct word_record), batch);
  d->tokens = memo_new(TOKEN_MEMO_BITS, sizeof(struct token_record), batch);
  d->hash_bits = m->hash_bits;
  d->mask = (1u << m->hash_bits) - 1;
  d->bias = m->bias;
  d->threshold = round((double)m->threshold * 1e6) / 1e6;
  d->dense_base = 0.0;
  for (size_t j = 0; j < DETECTOR_N_DENSE; j++) {
    d->dense_w[j] = m->dense_w[j];
    d->dense_mean[j] = m->dense_mean[j];
    d->dense_base -= d->dense_w[j] * d->dense_mean[j];
  }
  size_t n = (size_t)1 << m->hash_bits;
  d->hash_w = xmalloc(n * sizeof *d->hash_w);
  memcpy(d->hash_w, m->hash_w, n * sizeof *d->hash_w);
  init_tables(d);
  for (int l = 0; l < LANG_N; l++)
    langlex_init(&d->lex[l], (enum lang)l);
  *out = d;
  return ERR_OK;
}

enum err detector_new(const struct detector_model *m, struct detector **out)
{
  return create(m, false, out);
}

enum err detector_new_batch(const struct detector_model *m,
                            struct detector **out)
{
  return create(m, true, out);
}

void detector_free(struct detector *d)
{
  if (!d)
    return;
  vader_free(d->vader);
  support_index_cleanup(&d->support);
  memo_free(d->words);
  memo_free(d->tokens);
  for (int l = 0; l < LANG_N; l++)
    langlex_cleanup(&d->lex[l]);
  free(d->hash_w);
  free(d);
}

double detector_threshold(const struct detector *d)
{
  return d->threshold;
}

void detector_result_init(struct detector_result *r)
{
  memset(r, 0, sizeof *r);
  struct scratch *s = xcalloc(1, sizeof *s);
  vader_result_init(&s->vr);
  r->priv = s;
}

void detector_result_cleanup(struct detector_result *r)
{
  struct scratch *s = r->priv;
  if (s) {
    free(s->clean);
    free(s->norm);
    free(s->words);
    free(s->contrib);
    free(s->starts);
    free(s->matches);
    free(s->idx);
    free(s->val);
    free(s->kept);
    free(s->tok_start);
    free(s->tok_end);
    free(s->tok_hash);
    free(s->low);
    free(s->lw);
    free(s->vw);
    free(s->emo);
    vader_result_cleanup(&s->vr);
    free(s);
  }
  memset(r, 0, sizeof *r);
}
