/* model: the detector's weights, their file form, and the data split.
 *
 * The file is little-endian whatever the host: magic "FADM", format
 * version, feature version, hash bits, number of signals, bias, threshold,
 * the sources trained on (length-prefixed, padded to 4 bytes), then the
 * signal weights, the signal means and the 2^bits hashed weights as IEEE
 * floats. Decoding checks every size and refuses non-finite numbers, so a
 * damaged file cannot reach the scorer. */
#include "detector/detector.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fnv.h"
#include "base/xalloc.h"
#include "detector/model_data.h"

#define MODEL_MAGIC "FADM"
#define MODEL_FORMAT 1
#define MODEL_HEADER 32 /* bytes before the sources */

struct detector_model *detector_model_new(uint32_t hash_bits)
{
  if (hash_bits < DETECTOR_MIN_HASH_BITS || hash_bits > DETECTOR_MAX_HASH_BITS)
    return NULL;
  struct detector_model *m = xcalloc(1, sizeof *m);
  m->feature_version = DETECTOR_FEATURE_VERSION;
  m->hash_bits = hash_bits;
  m->threshold = 0.5f;
  m->hash_w = xcalloc((size_t)1 << hash_bits, sizeof *m->hash_w);
  return m;
}

void detector_model_free(struct detector_model *m)
{
  if (!m)
    return;
  free(m->hash_w);
  free(m);
}

static uint32_t get_u32(const unsigned char *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static float get_f32(const unsigned char *p)
{
  uint32_t u = get_u32(p);
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static enum err put_u32(struct buf *b, uint32_t v)
{
  unsigned char p[4] = {(unsigned char)v, (unsigned char)(v >> 8),
                        (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
  return buf_append(b, p, 4);
}

static enum err put_f32(struct buf *b, float f)
{
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return put_u32(b, u);
}

/* Reads n floats at *p (within end), all finite. */
static bool get_floats(const unsigned char **p, const unsigned char *end,
                       float *out, size_t n)
{
  if ((size_t)(end - *p) / 4 < n)
    return false;
  for (size_t i = 0; i < n; i++) {
    out[i] = get_f32(*p + 4 * i);
    if (!isfinite(out[i]))
      return false;
  }
  *p += 4 * n;
  return true;
}

enum err detector_model_parse(const void *data, size_t len,
                              struct detector_model **out)
{
  *out = NULL;
  const unsigned char *p = data;
  const unsigned char *end = p + len;
  if (len < MODEL_HEADER || memcmp(p, MODEL_MAGIC, 4) ||
      get_u32(p + 4) != MODEL_FORMAT)
    return ERR_INVALID;
  uint32_t features = get_u32(p + 8);
  uint32_t bits = get_u32(p + 12);
  uint32_t n_dense = get_u32(p + 16);
  if (features != DETECTOR_FEATURE_VERSION || n_dense != DETECTOR_N_DENSE)
    return ERR_UNSUPPORTED;
  float bias = get_f32(p + 20);
  float threshold = get_f32(p + 24);
  uint32_t slen = get_u32(p + 28);
  if (!isfinite(bias) || !(threshold > 0.0f && threshold < 1.0f) ||
      slen >= sizeof((struct detector_model *)0)->sources)
    return ERR_INVALID;
  size_t padded = (slen + 3u) & ~3u;
  p += MODEL_HEADER;
  if ((size_t)(end - p) < padded)
    return ERR_INVALID;
  struct detector_model *m = detector_model_new(bits);
  if (!m)
    return ERR_INVALID;
  memcpy(m->sources, p, slen);
  m->sources[slen] = '\0';
  p += padded;
  m->bias = bias;
  m->threshold = threshold;
  size_t n_hash = (size_t)1 << bits;
  if (strlen(m->sources) != slen ||
      !get_floats(&p, end, m->dense_w, DETECTOR_N_DENSE) ||
      !get_floats(&p, end, m->dense_mean, DETECTOR_N_DENSE) ||
      !get_floats(&p, end, m->hash_w, n_hash) || p != end) {
    detector_model_free(m);
    return ERR_INVALID;
  }
  *out = m;
  return ERR_OK;
}

enum err detector_model_builtin(struct detector_model **out)
{
  *out = NULL;
  if (detector_model_blob_len == 0)
    return ERR_NOT_FOUND;
  return detector_model_parse(detector_model_blob, detector_model_blob_len,
                              out);
}

enum err detector_model_serialize(const struct detector_model *m,
                                  struct buf *out)
{
  size_t slen = strlen(m->sources);
  enum err rc = buf_append(out, MODEL_MAGIC, 4);
  if (!rc)
    rc = put_u32(out, MODEL_FORMAT);
  if (!rc)
    rc = put_u32(out, m->feature_version);
  if (!rc)
    rc = put_u32(out, m->hash_bits);
  if (!rc)
    rc = put_u32(out, DETECTOR_N_DENSE);
  if (!rc)
    rc = put_f32(out, m->bias);
  if (!rc)
    rc = put_f32(out, m->threshold);
  if (!rc)
    rc = put_u32(out, (uint32_t)slen);
  if (!rc)
    rc = buf_append(out, m->sources, slen);
  for (size_t i = slen; !rc && i % 4; i++)
    rc = buf_putc(out, '\0');
  for (size_t i = 0; !rc && i < DETECTOR_N_DENSE; i++)
    rc = put_f32(out, m->dense_w[i]);
  for (size_t i = 0; !rc && i < DETECTOR_N_DENSE; i++)
    rc = put_f32(out, m->dense_mean[i]);
  size_t n_hash = (size_t)1 << m->hash_bits;
  for (size_t i = 0; !rc && i < n_hash; i++)
    rc = put_f32(out, m->hash_w[i]);
  return rc;
}

bool detector_model_trained_on(const struct detector_model *m,
                               const char *source)
{
  size_t n = strlen(source);
  const char *p = m->sources;
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (len == n && !memcmp(p, source, n))
      return true;
    if (!comma)
      break;
    p = comma + 1;
  }
  return false;
}

int detector_fold_of(const char *text, size_t len, const char *orig_split)
{
  if (orig_split && (!strcmp(orig_split, "dev") || !strcmp(orig_split, "test")))
    return -1;
  return (int)(fnv1a64(FNV1A64_BASIS, text, len) % DETECTOR_FOLDS);
}
