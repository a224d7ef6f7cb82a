/* migrate: moves a deployment's SQLite store into an empty PostgreSQL
 * database (store_copy), for the switch from one server to several.
 *
 *   migrate --from sqlite:PATH --to postgres://...
 *
 * Runs with the service stopped: the copy owns the SQLite store while it
 * runs, and refuses to start while a server does. One PostgreSQL
 * transaction, so a failure leaves the target as it was. Exit status: 0
 * done, 1 failed (nothing written), 2 usage. */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store/store.h"

static void usage(FILE *f)
{
  fprintf(f,
          "usage: frustration-alert migrate --from sqlite:PATH"
          " --to postgres://...\n"
          "\n"
          "Copies a SQLite store into an empty PostgreSQL database, in one\n"
          "transaction: messages (a repeated message_id stays a duplicate),\n"
          "alerts with their tickets, the outbox with each entry's state,\n"
          "attempts and errors, delivery attempts, and customers' windows.\n"
          "Ids are kept. Pending entries are delivered by the first server\n"
          "started on the new database.\n"
          "\n"
          "  --from URL  the SQLite store (PATH or sqlite:PATH): it must\n"
          "              exist, and no server may run on it (stop it first)\n"
          "  --to URL    the PostgreSQL database (postgres://...): the\n"
          "              schema is created; it must hold no data and no\n"
          "              server may run on it\n"
          "\n"
          "Nothing is written when it fails (the schema may stay).\n"
          "Exit status: 0 done, 1 failed, 2 usage.\n");
}

static void print_stats(const struct store_copy_stats *s)
{
  int64_t rows =
      s->alerts + s->messages + s->outbox + s->attempts + s->customers;
  printf("  %-18s %10" PRId64 "\n", "alerts", s->alerts);
  printf("  %-18s %10" PRId64 "\n", "messages", s->messages);
  printf("  %-18s %10" PRId64 "  (pending %" PRId64 ", done %" PRId64
         ", dead %" PRId64 ", skipped %" PRId64 ")\n",
         "outbox", s->outbox, s->outbox_states[STORE_PENDING],
         s->outbox_states[STORE_DONE], s->outbox_states[STORE_DEAD],
         s->outbox_states[STORE_SKIPPED]);
  printf("  %-18s %10" PRId64 "\n", "delivery_attempts", s->attempts);
  printf("  %-18s %10" PRId64 "\n", "customer_state", s->customers);
  double secs = (double)s->elapsed_ms / 1000.0;
  printf("%" PRId64 " rows in %.2f s", rows, secs);
  if (s->elapsed_ms > 0)
    printf(" (%.0f rows/s)", (double)rows / secs);
  printf("\n");
  printf("Next: start the service with DATABASE_URL set to the PostgreSQL"
         " URL.\n");
  if (s->outbox_states[STORE_PENDING])
    printf("It delivers the %" PRId64 " pending outbox entr%s.\n",
           s->outbox_states[STORE_PENDING],
           s->outbox_states[STORE_PENDING] == 1 ? "y" : "ies");
}

int cli_migrate(int argc, char **argv)
{
  const char *from = NULL, *to = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--from") && v) {
      from = v;
      i++;
    } else if (!strncmp(a, "--from=", 7)) {
      from = a + 7;
    } else if (!strcmp(a, "--to") && v) {
      to = v;
      i++;
    } else if (!strncmp(a, "--to=", 5)) {
      to = a + 5;
    } else {
      fprintf(stderr, "migrate: unexpected argument '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }
  if (!from || !*from || !to || !*to) {
    fprintf(stderr, "migrate: give both --from and --to\n");
    usage(stderr);
    return 2;
  }
  if (store_url_is_pg(from) || !store_url_is_pg(to)) {
    fprintf(stderr, "migrate: --from must be a SQLite store (PATH or "
                    "sqlite:PATH) and --to a PostgreSQL URL (postgres://...)"
                    "\n");
    return 2;
  }
  struct store_copy_stats stats;
  char err[768];
  enum err rc = store_copy(from, to, &stats, err, sizeof err);
  if (rc) {
    fprintf(stderr, "migrate: %s\n", err);
    return 1;
  }
  printf("migrated the SQLite store into PostgreSQL:\n");
  print_stats(&stats);
  return 0;
}
