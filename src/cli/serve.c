/* serve: placeholder until the HTTP service lands (issue 3). */
#include "cli/cli.h"

#include <stdio.h>

int cli_serve(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "frustration-alert: serve is not built yet\n");
  return 1;
}
