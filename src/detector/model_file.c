/* model_file: reading the detector's weights from a file. */
#include "detector/model_file.h"

#include <stdio.h>

#include "base/buf.h"
#include "detector/detector.h"

enum err detector_model_load(const char *path, struct detector_model **out)
{
  *out = NULL;
  if (!path || !*path)
    return detector_model_builtin(out);
  FILE *f = fopen(path, "rb");
  if (!f)
    return ERR_IO;
  struct buf b;
  buf_init(&b, MODEL_FILE_MAX);
  char chunk[65536];
  size_t n;
  enum err rc = ERR_OK;
  while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
    rc = buf_append(&b, chunk, n);
  if (!rc && ferror(f))
    rc = ERR_IO;
  fclose(f);
  if (!rc)
    rc = detector_model_parse(b.data ? b.data : "", b.len, out);
  buf_cleanup(&b);
  return rc;
}

#define STR_(x) #x
#define STR(x) STR_(x)

const char *detector_model_error(enum err rc)
{
  switch (rc) {
  case ERR_IO:
    return "cannot read the model file";
  case ERR_TOO_BIG:
    return "the model file is too large";
  case ERR_INVALID:
    return "not a model file, or a damaged one";
  case ERR_NOT_FOUND:
    return "this binary has no model built in";
  case ERR_UNSUPPORTED:
    return "the model was trained for another feature version (this build "
           "reads version " STR(DETECTOR_FEATURE_VERSION) "): train it again "
           "with make train";
  default:
    return err_str(rc);
  }
}
