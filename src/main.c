/* frustration-alert: one executable, several subcommands.
 *
 *   serve         the HTTP service
 *   analyze       one verdict, human-readable or --json
 *   score         JSON Lines in, JSON Lines out
 *   eval          accuracy of the detectors on labeled JSON Lines
 *   check-config  validate and print the effective configuration
 *   outbox        list, retry or drop outbox entries (dead letters)
 *   migrate       copy a SQLite store into an empty PostgreSQL database
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
  fprintf(f,
          "usage: frustration-alert COMMAND [ARGS]\n"
          "\n"
          "Catches frustrated customers as they write and alerts support.\n"
          "\n"
          "commands:\n"
          "  serve          run the HTTP service (POST /webhook, "
          "/slash-analyze, GET /health, /metrics)\n"
          "  analyze TEXT   print the verdict on one message (--json for "
          "JSON)\n"
          "  score          read JSON Lines with a \"text\" field, write "
          "them back scored\n"
          "  eval FILE...   precision, recall and F1 of the detectors on "
          "labeled JSON Lines\n"
          "  train --out FILE [--from-store] DATA.jsonl...\n"
          "                 retrain the detector, with the team's labels "
          "from the store\n"
          "  check-config   validate and print the effective configuration\n"
          "  outbox list|retry|drop\n"
          "                 the delivery outbox: list entries, re-drive or "
          "drop dead letters\n"
          "  migrate --from sqlite:PATH --to postgres://...\n"
          "                 copy a stopped SQLite store into an empty "
          "PostgreSQL database\n"
          "\n"
          "options:\n"
          "  -h, --help     this help (COMMAND --help for a command's)\n"
          "  -V, --version  print the version\n");
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
    printf("frustration-alert %s\n", FA_VERSION);
    return 0;
  }
  if (!strcmp(cmd, "serve"))
    return cli_serve(argc - 1, argv + 1);
  if (!strcmp(cmd, "analyze"))
    return cli_analyze(argc - 1, argv + 1);
  if (!strcmp(cmd, "score"))
    return cli_score(argc - 1, argv + 1);
  if (!strcmp(cmd, "eval"))
    return cli_eval(argc - 1, argv + 1);
  if (!strcmp(cmd, "train"))
    return cli_train(argc - 1, argv + 1);
  if (!strcmp(cmd, "check-config"))
    return cli_check_config(argc - 1, argv + 1);
  if (!strcmp(cmd, "outbox"))
    return cli_outbox(argc - 1, argv + 1);
  if (!strcmp(cmd, "migrate"))
    return cli_migrate(argc - 1, argv + 1);
  fprintf(stderr, "frustration-alert: unknown command '%s'\n\n", cmd);
  usage(stderr);
  return 2;
}
