/* model_data: the shipped model's file, compiled into the binary.
 *
 * Generated at build time by tools/modelgen.py from the committed
 * data/model/frustration-model.bin (empty when the file is absent, as
 * before the first `make train`). Decode it with detector_model_builtin. */
#ifndef DETECTOR_MODEL_DATA_H
#define DETECTOR_MODEL_DATA_H

#include <stddef.h>

extern const unsigned char detector_model_blob[];
extern const size_t detector_model_blob_len;

#endif
