/* cli common: configuration loading shared by the subcommands, and
 * check-config. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int cli_load_config(struct config *cfg)
{
  char err[256];
  config_defaults(cfg);
  if (config_from_env(cfg, err, sizeof err)) {
    fprintf(stderr, "frustration-alert: invalid configuration: %s\n", err);
    return 1;
  }
  return 0;
}

int cli_check_config(int argc, char **argv)
{
  if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
    printf("usage: frustration-alert check-config\n\n"
           "Reads the configuration from the environment, validates it and\n"
           "prints the effective values (secrets masked). Exits 1 with a\n"
           "message naming the variable when a value is invalid.\n\n"
           "Settings (environment variables):\n");
    config_describe(stdout);
    return 0;
  }
  struct config cfg;
  if (cli_load_config(&cfg))
    return 1;
  config_print(&cfg, stdout);
  printf("# configuration OK\n");
  return 0;
}
