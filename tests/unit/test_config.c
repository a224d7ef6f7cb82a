/* Unit tests of config: defaults, environment parsing, levels. */
#include "harness.h"

#include <stdlib.h>

#include "config/config.h"

static void defaults_match_the_design(void)
{
  struct config cfg;
  config_defaults(&cfg);
  CHECK_NEAR(cfg.threshold, -0.3, 0);
  CHECK_INT(cfg.n_levels, 4);
  CHECK_STR(cfg.levels[0].name, "calm");
  CHECK_STR(cfg.levels[3].name, "angry");
  CHECK_STR(cfg.host, "127.0.0.1");
  CHECK_INT(cfg.port, 8080);
  CHECK_INT(cfg.max_body_bytes, 65536);
}

static void levels_are_strict_lower_bounds(void)
{
  struct config cfg;
  config_defaults(&cfg);
  CHECK_STR(cfg.levels[config_level_for(&cfg, 0.5)].name, "calm");
  CHECK_STR(cfg.levels[config_level_for(&cfg, -0.1)].name, "calm");
  CHECK_STR(cfg.levels[config_level_for(&cfg, -0.11)].name, "dissatisfied");
  CHECK_STR(cfg.levels[config_level_for(&cfg, -0.3)].name, "dissatisfied");
  CHECK_STR(cfg.levels[config_level_for(&cfg, -0.35)].name, "frustrated");
  CHECK_STR(cfg.levels[config_level_for(&cfg, -0.6)].name, "frustrated");
  CHECK_STR(cfg.levels[config_level_for(&cfg, -1.0)].name, "angry");
}

static void bad_levels_are_refused(void)
{
  struct config cfg;
  char err[256];
  config_defaults(&cfg);
  CHECK_INT(config_parse_levels(&cfg, "calm:0.1:low:3", err, sizeof err),
            ERR_INVALID);
  CHECK_INT(config_parse_levels(&cfg, "calm::low:3,a:-0.5:high:5,b:-0.2:high:5",
                                err, sizeof err),
            ERR_INVALID);
  CHECK_INT(config_parse_levels(&cfg, "calm::urgent:3", err, sizeof err),
            ERR_INVALID);
  CHECK_INT(config_parse_levels(&cfg, "", err, sizeof err), ERR_INVALID);
  CHECK_INT(cfg.n_levels, 4); /* unchanged after failures */
  CHECK_INT(config_parse_levels(&cfg, "ok::low:3,bad:-0.5:high:5", err,
                                sizeof err),
            ERR_OK);
  CHECK_INT(cfg.n_levels, 2);
}

static void env_values_are_validated(void)
{
  struct config cfg;
  char err[256];
  config_defaults(&cfg);
  setenv("FRUSTRATION_THRESHOLD", "-0.5", 1);
  setenv("PORT", "9090", 1);
  CHECK_INT(config_from_env(&cfg, err, sizeof err), ERR_OK);
  CHECK_NEAR(cfg.threshold, -0.5, 0);
  CHECK_INT(cfg.port, 9090);
  setenv("FRUSTRATION_THRESHOLD", "-0.5x", 1);
  CHECK_INT(config_from_env(&cfg, err, sizeof err), ERR_INVALID);
  CHECK(strstr(err, "FRUSTRATION_THRESHOLD") != NULL);
  unsetenv("FRUSTRATION_THRESHOLD");
  setenv("PORT", "70000", 1);
  CHECK_INT(config_from_env(&cfg, err, sizeof err), ERR_INVALID);
  CHECK(strstr(err, "PORT") != NULL);
  unsetenv("PORT");
  setenv("LOG_MESSAGE_TEXT", "maybe", 1);
  CHECK_INT(config_from_env(&cfg, err, sizeof err), ERR_INVALID);
  unsetenv("LOG_MESSAGE_TEXT");
}

int main(void)
{
  RUN(defaults_match_the_design);
  RUN(levels_are_strict_lower_bounds);
  RUN(bad_levels_are_refused);
  RUN(env_values_are_validated);
  HARNESS_EXIT();
}
