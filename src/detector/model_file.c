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
