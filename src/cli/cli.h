/* cli: the subcommands of frustration-alert other than the dispatch in
 * main.c. Each takes the arguments after its own name (argv[0] is the
 * subcommand) and returns the process exit status. */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include "config/config.h"

/* analyze [--json] [TEXT...]: one verdict, from TEXT or standard input. */
int cli_analyze(int argc, char **argv);
/* score: JSON Lines in (a "text" field), the same objects out with scores. */
int cli_score(int argc, char **argv);
/* eval [--json] [--all] [--model FILE] FILE...: accuracy of the detectors
 * on labeled JSON Lines. */
int cli_eval(int argc, char **argv);
/* eval --from-store [--store URL] --model FILE [--json]: the current
 * model against FILE on the team's held-out labels (eval_store.c). */
int cli_eval_store(int argc, char **argv);
/* train [--from-store] [--store URL] --out FILE [DATA.jsonl...]: retrains
 * the detector, with the team's labels from the store. */
int cli_train(int argc, char **argv);
/* check-config: validate and print the effective configuration. */
int cli_check_config(int argc, char **argv);
/* serve: the HTTP service. */
int cli_serve(int argc, char **argv);
/* outbox list|retry|drop: the delivery outbox, through the store. */
int cli_outbox(int argc, char **argv);
/* migrate --from sqlite:PATH --to postgres://...: copies a stopped SQLite
 * store into an empty PostgreSQL database. */
int cli_migrate(int argc, char **argv);

/* Loads the configuration from the environment; on error prints it to
 * stderr and returns nonzero. */
int cli_load_config(struct config *cfg);

#endif
