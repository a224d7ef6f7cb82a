/* model_file: the detector's weights from a file (FRUSTRATION_MODEL), as
 * `make train` / fa-train write them, for serve, score, analyze and eval
 * alike; without a path, the weights compiled into the binary. */
#ifndef DETECTOR_MODEL_FILE_H
#define DETECTOR_MODEL_FILE_H

#include "base/err.h"

struct detector_model;

/* Largest model file read, in bytes. */
#define MODEL_FILE_MAX ((size_t)256 << 20)

/* Loads the model at path (NULL or "": the built-in one) into *out; free
 * it with detector_model_free. ERR_IO when the file cannot be read,
 * ERR_TOO_BIG past MODEL_FILE_MAX, the parser's error (ERR_INVALID) when
 * it is not a model. */
enum err detector_model_load(const char *path, struct detector_model **out);

/* What a failure of detector_model_load or detector_new means to the
 * person who set FRUSTRATION_MODEL (static text): e.g. that the file was
 * trained for another feature version and wants `make train` again. */
const char *detector_model_error(enum err rc);

#endif
