/* Fuzz target: the configuration value parsers. The first byte picks the
 * variable, the rest is its value (as set in the environment). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

static const char *const names[] = {
    "FRUSTRATION_LEVELS",  "FRUSTRATION_THRESHOLD", "FRUSTRATION_DETECTOR",
    "PORT",                "MAX_BODY_BYTES",        "LOG_MESSAGE_TEXT",
    "HOST",                "MAX_JSON_DEPTH",        "FRUSTRATION_MODEL_LEVELS",
    "FRUSTRATION_ANGER_SIGNALS",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1 || size > 4096)
    return 0;
  const char *name = names[data[0] % (sizeof names / sizeof names[0])];
  char *value = malloc(size);
  memcpy(value, data + 1, size - 1);
  value[size - 1] = '\0';
  struct config cfg;
  char err[256];
  config_defaults(&cfg);
  if (!strcmp(name, "FRUSTRATION_LEVELS")) {
    if (config_parse_levels(&cfg, value, err, sizeof err) == ERR_OK)
      (void)config_level_for(&cfg, -0.5);
  } else {
    setenv(name, value, 1);
    if (config_from_env(&cfg, err, sizeof err) == ERR_OK) {
      (void)config_level_for(&cfg, cfg.threshold);
      (void)config_model_level_for(&cfg, 0.5, 0.48);
      (void)config_verdict_level(&cfg);
    }
    unsetenv(name);
  }
  free(value);
  return 0;
}
