/* outbox: operators' view of the delivery outbox, and re-driving dead
 * letters, straight through the store.
 *
 *   outbox list  [--state STATE|all] [--limit N] [--json]
 *   outbox retry (ID... | --all)
 *   outbox drop  (ID... | --all)
 *
 * It works on a stopped or a running service alike: it does not own the
 * store (store_own; a running server keeps it), it only touches dead
 * letters, which no worker claims, and each command is one SQLite
 * transaction, which a running server waits for like any other writer
 * (busy timeout). A retried entry is pending and due at once: a running
 * worker takes it on its next claim (within its one-second tick).
 *
 * retry and drop are all-or-nothing: an ID that is not a dead letter
 * changes nothing and fails the command. Exit status: 0 done, 1 failed
 * (store, or an ID that is not a dead letter), 2 usage. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/jsonw.h"
#include "store/store.h"

/* Entries listed when no --limit is given. */
#define OUTBOX_LIST_DEFAULT 100
/* IDs one retry or drop takes. */
#define OUTBOX_MAX_IDS 1000
/* Characters of last_error in the table (all of it with --json). */
#define OUTBOX_ERROR_COLUMN 72

static void usage(FILE *f)
{
  fprintf(f,
          "usage: frustration-alert outbox list [--state STATE] [--limit N]"
          " [--json] [--db URL]\n"
          "       frustration-alert outbox retry (ID... | --all) [--db URL]\n"
          "       frustration-alert outbox drop (ID... | --all) [--db URL]\n"
          "\n"
          "The delivery outbox of the store (DATABASE_URL, or --db), on a\n"
          "stopped or a running service.\n"
          "\n"
          "  list   entries in STATE: dead (default), pending, done,\n"
          "         skipped or all; oldest first, at most N (default 100,\n"
          "         0: all); --json prints one JSON object\n"
          "  retry  makes dead letters pending again, due now, with their\n"
          "         attempt count reset (a create_ticket also brings back\n"
          "         the entries of its alert that died with it); a running\n"
          "         server sends them within a second\n"
          "  drop   gives dead letters up: they become skipped, never\n"
          "         sent, kept for the record\n"
          "\n"
          "retry and drop change nothing when an ID is not a dead letter.\n"
          "Exit status: 0 done, 1 failed, 2 usage.\n");
}

/* "2026-12-07T03:04:05Z" (UTC, to the second), or "-" for 0. */
static void format_time(int64_t ms, char *out, size_t cap)
{
  if (ms <= 0) {
    snprintf(out, cap, "-");
    return;
  }
  char full[32]; /* "...:SS.mmmZ": this table shows whole seconds */
  clock_format_rfc3339(ms, full);
  full[19] = 'Z';
  full[20] = '\0';
  snprintf(out, cap, "%s", full);
}

/* A positive decimal id; false for anything else. */
static bool parse_id(const char *s, int64_t *id)
{
  if (*s < '1' || *s > '9')
    return false;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (*end || v <= 0 || v >= INT64_MAX)
    return false;
  *id = (int64_t)v;
  return true;
}

static bool parse_state(const char *s, enum store_state *state, bool *all)
{
  static const enum store_state states[] = {STORE_PENDING, STORE_DONE,
                                            STORE_DEAD, STORE_SKIPPED};
  *all = !strcmp(s, "all");
  if (*all)
    return true;
  for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
    if (!strcmp(s, store_state_name(states[i]))) {
      *state = states[i];
      return true;
    }
  }
  return false;
}

/* One line of printable text: control characters become '?', and at most
 * max characters (bytes) are kept, "..." marking the cut. */
static void print_cell(const char *s, size_t max)
{
  size_t n = 0;
  for (; s[n] && n < max; n++)
    putchar((unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n]);
  if (s[n])
    fputs("...", stdout);
}

static void print_table(const struct store_outbox_row *rows, size_t n)
{
  printf("%-8s %-8s %-16s %-8s %8s %-20s %s\n", "ID", "ALERT", "KIND", "STATE",
         "ATTEMPTS", "CREATED", "LAST ERROR");
  for (size_t i = 0; i < n; i++) {
    const struct store_outbox_row *r = &rows[i];
    char created[32];
    format_time(r->created_at_ms, created, sizeof created);
    printf("%-8lld %-8lld %-16s %-8s %8lld %-20s ", (long long)r->id,
           (long long)r->alert_id, store_kind_name(r->kind),
           store_state_name(r->state), (long long)r->attempts, created);
    print_cell(r->last_error ? r->last_error : "-", OUTBOX_ERROR_COLUMN);
    putchar('\n');
  }
}

static int print_json(const struct store_outbox_row *rows, size_t n,
                      long server_pid)
{
  struct buf out;
  struct jsonw w;
  buf_init(&out, 0);
  jsonw_init(&w, &out);
  jsonw_object_begin(&w);
  jsonw_key(&w, "entries");
  jsonw_array_begin(&w);
  for (size_t i = 0; i < n; i++) {
    const struct store_outbox_row *r = &rows[i];
    char created[32], due[32];
    format_time(r->created_at_ms, created, sizeof created);
    format_time(r->next_attempt_ms, due, sizeof due);
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "id", r->id);
    jsonw_kv_int(&w, "alert_id", r->alert_id);
    jsonw_kv_string(&w, "kind", store_kind_name(r->kind));
    jsonw_kv_string(&w, "state", store_state_name(r->state));
    jsonw_kv_int(&w, "attempts", r->attempts);
    jsonw_kv_string(&w, "created_at", created);
    jsonw_kv_string(&w, "next_attempt_at",
                    r->state == STORE_PENDING ? due : NULL);
    jsonw_kv_bool(&w, "outcome_unknown", r->outcome_unknown);
    jsonw_kv_string(&w, "last_error", r->last_error);
    jsonw_object_end(&w);
  }
  jsonw_array_end(&w);
  jsonw_kv_int(&w, "count", (int64_t)n);
  jsonw_key(&w, "server_pid");
  if (server_pid > 0)
    jsonw_int(&w, server_pid);
  else
    jsonw_null(&w);
  jsonw_object_end(&w);
  int status = 0;
  if (jsonw_error(&w)) {
    fprintf(stderr, "outbox: the list is too large to print as JSON\n");
    status = 1;
  } else {
    printf("%s\n", buf_ptr(&out));
  }
  buf_cleanup(&out);
  return status;
}

static int cmd_list(struct store *st, enum store_state state, bool all,
                    size_t limit, bool json)
{
  struct store_outbox_row *rows = NULL;
  size_t n = 0;
  long pid = 0;
  if (store_outbox_select(st, state, all, limit, &rows, &n) ||
      store_owner(st, &pid)) {
    fprintf(stderr, "outbox: %s\n", store_errmsg(st));
    return 1;
  }
  int status = 0;
  if (json)
    status = print_json(rows, n, pid);
  else
    print_table(rows, n);
  store_outbox_rows_free(rows, n);
  return status;
}

/* retry or drop of ids[0..n) (n == 0: every dead letter), in one
 * transaction. */
static int cmd_change(struct store *st, bool retry, const int64_t *ids,
                      size_t n)
{
  enum err (*change)(struct store *, int64_t, int64_t, size_t *) =
      retry ? store_outbox_retry : store_outbox_drop;
  int64_t now = clock_wall_ms();
  size_t total = 0;
  enum err rc = store_begin(st);
  for (size_t i = 0; !rc && i < (n ? n : 1); i++) {
    size_t changed = 0;
    rc = change(st, n ? ids[i] : 0, now, &changed);
    total += changed;
  }
  if (rc) {
    fprintf(stderr, "outbox: %s%s\n", store_errmsg(st),
            rc == ERR_NOT_FOUND ? ": nothing changed" : "");
    store_rollback(st);
    return 1;
  }
  if (store_commit(st)) {
    fprintf(stderr, "outbox: %s\n", store_errmsg(st));
    return 1;
  }
  long pid = 0;
  store_owner(st, &pid);
  printf("%s %zu entr%s", retry ? "retried" : "dropped", total,
         total == 1 ? "y" : "ies");
  if (retry && total && pid > 0)
    printf(": the running server (pid %ld) sends %s now", pid,
           total == 1 ? "it" : "them");
  else if (retry && total)
    printf(": no server is running; the next one sends %s",
           total == 1 ? "it" : "them");
  printf("\n");
  return 0;
}

int cli_outbox(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
    usage(stdout);
    return 0;
  }
  bool list = !strcmp(cmd, "list");
  bool retry = !strcmp(cmd, "retry");
  if (!list && !retry && strcmp(cmd, "drop")) {
    fprintf(stderr, "outbox: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
  }
  const char *db = NULL;
  enum store_state state = STORE_DEAD;
  bool all_states = false, json = false, every = false;
  size_t limit = OUTBOX_LIST_DEFAULT;
  int64_t *ids = calloc(OUTBOX_MAX_IDS, sizeof *ids);
  size_t n_ids = 0;
  int status = 2;
  struct store *st = NULL;
  if (!ids) {
    fprintf(stderr, "outbox: out of memory\n");
    return 1;
  }
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int64_t id;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      status = 0;
      goto out;
    } else if (!strcmp(a, "--db") && v) {
      db = v;
      i++;
    } else if (!strncmp(a, "--db=", 5)) {
      db = a + 5;
    } else if (list && !strcmp(a, "--json")) {
      json = true;
    } else if (list && !strcmp(a, "--state") && v) {
      if (!parse_state(v, &state, &all_states)) {
        fprintf(stderr,
                "outbox: --state must be pending, done, dead, skipped or "
                "all, not '%s'\n",
                v);
        goto out;
      }
      i++;
    } else if (list && !strcmp(a, "--limit") && v) {
      char *end;
      long long n = strtoll(v, &end, 10);
      if (!*v || *end || n < 0 || n > 1000000) {
        fprintf(stderr, "outbox: --limit must be 0-1000000, not '%s'\n", v);
        goto out;
      }
      limit = (size_t)n;
      i++;
    } else if (!list && !strcmp(a, "--all")) {
      every = true;
    } else if (!list && parse_id(a, &id)) {
      if (n_ids == OUTBOX_MAX_IDS) {
        fprintf(stderr, "outbox: at most %d IDs at once\n", OUTBOX_MAX_IDS);
        goto out;
      }
      ids[n_ids++] = id;
    } else {
      fprintf(stderr, "outbox %s: unexpected argument '%s'\n", cmd, a);
      usage(stderr);
      goto out;
    }
  }
  if (!list && every == (n_ids > 0)) {
    fprintf(stderr, "outbox %s: give the IDs of dead letters, or --all\n", cmd);
    goto out;
  }
  struct config cfg;
  status = 1;
  if (cli_load_config(&cfg))
    goto out;
  char err[512];
  if (store_open_existing(db ? db : cfg.database_url, err, sizeof err, &st)) {
    fprintf(stderr, "outbox: %s\n", err);
    goto out;
  }
  status = list ? cmd_list(st, state, all_states, limit, json)
                : cmd_change(st, retry, ids, n_ids);
out:
  store_close(st);
  free(ids);
  return status;
}
