/* Unit tests of config: defaults, environment parsing, levels. */
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
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

/* FRUSTRATION_MODEL_LEVELS: each level from its score bound, inclusive;
 * "threshold" follows the model's operating point. */
static void model_levels_from_the_score(void)
{
  struct config cfg;
  char err[256];
  config_defaults(&cfg);
  CHECK(!cfg.model_levels_polarity);
  CHECK_INT(cfg.anger_signals, CONFIG_ANGER_ALL);
  CHECK_INT(config_verdict_level(&cfg), 2);
  const double t = 0.48;
  CHECK_STR(cfg.levels[config_model_level_for(&cfg, 0.0, t)].name, "calm");
  CHECK_STR(cfg.levels[config_model_level_for(&cfg, 0.299, t)].name, "calm");
  CHECK_STR(cfg.levels[config_model_level_for(&cfg, 0.3, t)].name,
            "dissatisfied");
  CHECK_STR(cfg.levels[config_model_level_for(&cfg, 0.479, t)].name,
            "dissatisfied");
  CHECK_STR(cfg.levels[config_model_level_for(&cfg, 0.48, t)].name,
            "frustrated");
  CHECK_STR(cfg.levels[config_model_level_for(&cfg, 0.979, t)].name,
            "frustrated");
  CHECK_STR(cfg.levels[config_model_level_for(&cfg, 0.98, t)].name, "angry");
  /* Another model's threshold moves the frustrated level with it. */
  CHECK_STR(cfg.levels[config_model_level_for(&cfg, 0.6, 0.7)].name,
            "dissatisfied");
  /* A level left out is reached by no score. */
  CHECK_INT(config_parse_model_levels(&cfg, "frustrated:threshold,angry:0.9",
                                      err, sizeof err),
            ERR_OK);
  CHECK_STR(cfg.levels[config_model_level_for(&cfg, 0.45, t)].name, "calm");
  CHECK_STR(cfg.levels[config_model_level_for(&cfg, 0.95, t)].name, "angry");
  /* Without a level at the threshold, the verdict level is ALERT_MIN_LEVEL. */
  CHECK_INT(config_parse_model_levels(&cfg, "dissatisfied:0.2,angry:0.9", err,
                                      sizeof err),
            ERR_OK);
  CHECK_INT(config_verdict_level(&cfg), cfg.alert_min_level);
  CHECK_INT(config_parse_model_levels(&cfg, "polarity", err, sizeof err),
            ERR_OK);
  CHECK(cfg.model_levels_polarity);
  /* Refused values leave the setting as it was. */
  CHECK_INT(config_parse_model_levels(&cfg, "angry:0.9,frustrated:0.5", err,
                                      sizeof err),
            ERR_INVALID);
  CHECK(cfg.model_levels_polarity);
  CHECK_INT(config_parse_model_levels(&cfg, "dissatisfied:-0.1", err,
                                      sizeof err),
            ERR_INVALID);
  CHECK_STR(err, "FRUSTRATION_MODEL_LEVELS bound of 'dissatisfied': '-0.1' "
                 "is not a number in [0, 1]");
}

/* The default FRUSTRATION_MODEL_LEVELS names the default levels: with
 * custom FRUSTRATION_LEVELS it does not fit, and levels come from polarity
 * as before; a value given with them is checked against them. */
static void model_levels_follow_custom_levels(void)
{
  struct config cfg;
  char err[256];
  config_defaults(&cfg);
  setenv("FRUSTRATION_LEVELS", "ok::low:3,bad:-0.4:high:5", 1);
  CHECK_INT(config_from_env(&cfg, err, sizeof err), ERR_OK);
  CHECK(cfg.model_levels_polarity);
  CHECK_STR(cfg.model_levels_spec, "polarity");
  config_defaults(&cfg);
  setenv("FRUSTRATION_MODEL_LEVELS", "bad:0.7", 1);
  setenv("FRUSTRATION_ANGER_SIGNALS", "insults,shouting", 1);
  CHECK_INT(config_from_env(&cfg, err, sizeof err), ERR_OK);
  CHECK(!cfg.model_levels_polarity);
  CHECK_INT(cfg.anger_signals, CONFIG_ANGER_SHOUTING | CONFIG_ANGER_INSULTS);
  CHECK_STR(cfg.levels[config_model_level_for(&cfg, 0.7, 0.5)].name, "bad");
  CHECK_STR(cfg.levels[config_model_level_for(&cfg, 0.6, 0.5)].name, "ok");
  setenv("FRUSTRATION_MODEL_LEVELS", "frustrated:threshold", 1);
  config_defaults(&cfg);
  CHECK_INT(config_from_env(&cfg, err, sizeof err), ERR_INVALID);
  CHECK_STR(err,
            "FRUSTRATION_MODEL_LEVELS: 'frustrated' is not one of the levels");
  unsetenv("FRUSTRATION_LEVELS");
  unsetenv("FRUSTRATION_MODEL_LEVELS");
  unsetenv("FRUSTRATION_ANGER_SIGNALS");
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

/* config_print (or config_describe) into a string; the caller frees. */
static char *capture(const struct config *cfg, bool describe)
{
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f)
    return NULL;
  if (describe)
    config_describe(f);
  else
    config_print(cfg, f);
  fclose(f);
  return text;
}

static void secrets_are_masked_in_print(void)
{
  static const char *const secrets[] = {
      "API_TOKEN", "WEBHOOK_SECRET", "DEVREV_WEBHOOK_SECRET",
      "SLACK_SIGNING_SECRET", "DEVREV_API_TOKEN"};
  struct config cfg;
  char err[256];
  config_defaults(&cfg);
  for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
    setenv(secrets[i], "hush-hush", 1);
  setenv("DEVREV_PART_ID", "PROD-1", 1);
  setenv("DEVREV_OWNER_ID", "DEVU-1", 1);
  setenv("DATABASE_URL", "postgres://fa:hush-hush@db/fa", 1);
  CHECK_INT(config_from_env(&cfg, err, sizeof err), ERR_OK);
  CHECK_STR(cfg.devrev_token, "hush-hush");
  char *text = capture(&cfg, false);
  CHECK(text && !strstr(text, "hush-hush"));
  CHECK(text && strstr(text, "\nDEVREV_API_TOKEN=********\n"));
  CHECK(text && strstr(text, "\nDATABASE_URL=postgres://fa:****@db/fa\n"));
  free(text);
  for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
    unsetenv(secrets[i]);
  unsetenv("DEVREV_PART_ID");
  unsetenv("DEVREV_OWNER_ID");
  unsetenv("DATABASE_URL");
}

/* Every printed variable is described, in the same order: both come from
 * the one table. */
static void describe_lists_every_printed_setting(void)
{
  struct config cfg;
  config_defaults(&cfg);
  char *printed = capture(&cfg, false);
  char *described = capture(NULL, true);
  CHECK(printed && described);
  if (!printed || !described)
    goto out;
  size_t lines = 0;
  const char *d = described;
  for (const char *p = printed; *p; lines++) {
    size_t name_len = strcspn(p, "=");
    while (*d == ' ')
      d++;
    CHECK(!strncmp(p, d, name_len) && d[name_len] == ' ');
    p += strcspn(p, "\n");
    p += *p == '\n';
    d += strcspn(d, "\n");
    d += *d == '\n';
  }
  CHECK(*d == '\0');
  CHECK(lines >= 50);
out:
  free(printed);
  free(described);
}

/* The defaults pass their own rows' checks (an empty environment read over
 * them changes nothing); DEVREV_API_URL loses its trailing slashes; a bad
 * value is refused with the message naming its variable and bounds. */
static void defaults_read_back_unchanged(void)
{
  struct config a, b;
  char err[256];
  config_defaults(&a);
  config_defaults(&b);
  CHECK_INT(config_from_env(&b, err, sizeof err), ERR_OK);
  char *ta = capture(&a, false), *tb = capture(&b, false);
  CHECK(ta && tb && !strcmp(ta, tb));
  CHECK_INT(a.alert_min_level, 2);
  CHECK_STR(a.alert_min_level_name, "frustrated");
  CHECK_STR(a.devrev_url, "https://api.devrev.ai");
  CHECK(a.devrev_comment_source && a.escalation && !a.log_text);
  free(ta);
  free(tb);
  setenv("DEVREV_API_URL", "https://example.test//", 1);
  CHECK_INT(config_from_env(&b, err, sizeof err), ERR_OK);
  CHECK_STR(b.devrev_url, "https://example.test");
  setenv("DEVREV_TIMEOUT_MS", "99", 1);
  CHECK_INT(config_from_env(&b, err, sizeof err), ERR_INVALID);
  CHECK_STR(err, "DEVREV_TIMEOUT_MS: '99' is not a whole number in [100, "
                 "600000]");
  unsetenv("DEVREV_TIMEOUT_MS");
  unsetenv("DEVREV_API_URL");
}

int main(void)
{
  RUN(defaults_match_the_design);
  RUN(levels_are_strict_lower_bounds);
  RUN(bad_levels_are_refused);
  RUN(model_levels_from_the_score);
  RUN(model_levels_follow_custom_levels);
  RUN(env_values_are_validated);
  RUN(secrets_are_masked_in_print);
  RUN(describe_lists_every_printed_setting);
  RUN(defaults_read_back_unchanged);
  HARNESS_EXIT();
}
