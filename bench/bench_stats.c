/* bench_stats: fills a store with N messages spread over the last day and
 * times the dashboard's aggregate queries on it.
 *
 *   bench_stats DB_PATH|postgres://... [N=100000] [CUSTOMERS=2000]
 *
 * The messages go in through store_ingest (the alert policy applies, so
 * alerts and outbox entries exist too), 20 per transaction, with times
 * spread evenly over the 24 hours before now, in a mix of languages (one
 * in twelve with none stored). Then each query that
 * GET /api/stats runs is repeated and its median and worst time printed.
 * A PostgreSQL URL is used as it is (an empty database, or a schema named
 * by the URL's search_path). The filled database is left behind, so the
 * HTTP latency can be measured on it with the real binary
 * (tests/integration/test_stats_100k.py does both). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerting/policy.h"
#include "store/store.h"
#include "store/store_stats.h"

#define BATCH 20
#define RUNS 7

static const char *const texts[] = {
    "Thanks, that fixed it!",
    "The app works fine today.",
    "Still waiting for my refund, this is the third time I ask.",
    "This is unacceptable, cancel my subscription now!",
    "Not working again. Terrible support.",
    "Could you tell me how to export my data?",
    "I am very disappointed with the slow answers.",
    "Worst experience ever, I want to escalate this.",
};
/* Drawn in turn: English most, NULL for a message stored without one. */
static const char *const langs[] = {"en", "en", "en", "en", "fr", "de",
                                    "es", "it", "nl", "pt", "pl", NULL};

static const double pols[] = {0.25, 0.4, -0.15, -0.7, -0.45, 0.0, -0.35, -1.0};
static const char *const level_names[] = {"calm", "dissatisfied", "frustrated",
                                          "angry"};
static const char *const severities[] = {"blocker", "low", "medium", "high"};

static int64_t wall_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t level_of(double p)
{
  return p < -0.6 ? 3 : p < -0.3 ? 2 : p < -0.1 ? 1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void report(const char *what, double *t)
{
  qsort(t, RUNS, sizeof *t, cmp_double);
  printf("%-28s median %8.2f ms   max %8.2f ms\n", what, t[RUNS / 2] * 1e3,
         t[RUNS - 1] * 1e3);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: bench_stats DB_PATH|postgres://... [N] "
                    "[CUSTOMERS]\n");
    return 2;
  }
  long n = argc > 2 ? atol(argv[2]) : 100000;
  long customers = argc > 3 ? atol(argv[3]) : 2000;
  char url[1100], err[512];
  if (store_url_is_pg(argv[1]))
    snprintf(url, sizeof url, "%s", argv[1]);
  else
    snprintf(url, sizeof url, "sqlite:%s?synchronous=off", argv[1]);
  struct store *st = NULL;
  if (store_open(url, err, sizeof err, &st)) {
    fprintf(stderr, "bench_stats: %s\n", err);
    return 1;
  }
  struct alert_policy pol = {.cooldown_ms = 30 * 60 * 1000, .min_level = 2};
  struct ingest_msg msgs[BATCH];
  struct ingest_result res[BATCH];
  char cust[BATCH][32], json[BATCH][512];
  int64_t now = wall_ms(), day = 24 * 3600 * 1000;
  unsigned seed = 12345;
  double t0 = mono_s();
  for (long i = 0; i < n; i += BATCH) {
    size_t k = 0;
    for (; k < BATCH && i + (long)k < n; k++) {
      seed = seed * 1103515245u + 12345u;
      size_t t = (seed >> 16) % (sizeof texts / sizeof texts[0]);
      seed = seed * 1103515245u + 12345u;
      long c = (long)((seed >> 8) % (unsigned)customers);
      double p = pols[t];
      size_t lv = level_of(p);
      seed = seed * 1103515245u + 12345u;
      const char *lang = langs[(seed >> 16) % (sizeof langs / sizeof *langs)];
      snprintf(cust[k], sizeof cust[k], "cust-%05ld", c);
      snprintf(json[k], sizeof json[k],
               "{\"polarity\":%g,\"subjectivity\":0.5,\"frustrated\":%s,"
               "\"level\":\"%s\",\"assessments\":[{\"words\":\"word%zu\","
               "\"polarity\":%g}],\"frustration\":{\"score\":0.5,"
               "\"reasons\":[{\"text\":\"support words: 'refund'\","
               "\"weight\":1.5}]}}",
               p, lv >= 2 ? "true" : "false", level_names[lv], t, p);
      msgs[k] = (struct ingest_msg){
          .customer_id = cust[k],
          .channel = "email",
          .lang = lang,
          .text = texts[t],
          .polarity = p,
          .subjectivity = 0.5,
          .level = lv,
          .level_name = level_names[lv],
          .severity = severities[lv],
          .frustrated = lv >= 2,
          .words = "word",
          .result_json = json[k],
      };
    }
    int64_t at = now - day + (int64_t)((double)i / (double)n * (double)day);
    if (store_ingest(st, msgs, k, &pol, at, res)) {
      fprintf(stderr, "bench_stats: ingest: %s\n", store_errmsg(st));
      return 1;
    }
    for (size_t j = 0; j < k; j++)
      store_ingest_result_cleanup(&res[j]);
  }
  printf("filled %ld messages (%ld customers) in %.1f s\n", n, customers,
         mono_s() - t0);
  store_close(st);

  struct store_reader *r = NULL;
  if (store_reader_open(argv[1], err, sizeof err, &r)) {
    fprintf(stderr, "bench_stats: %s\n", err);
    return 1;
  }
  static struct store_stats_bucket hour[60], dayb[144];
  struct store_stats_customer top[10];
  struct store_stats_langs lh, ld;
  double th[RUNS], td[RUNS], tt[RUNS], tlh[RUNS], tld[RUNS];
  now = wall_ms();
  for (int run = 0; run < RUNS; run++) {
    double a = mono_s();
    if (store_stats_series(r, (now / 60000 - 59) * 60000, 60000, 60, hour))
      goto fail;
    double b = mono_s();
    if (store_stats_series(r, (now / 600000 - 143) * 600000, 600000, 144, dayb))
      goto fail;
    double c = mono_s();
    size_t nt = 0;
    if (store_stats_top_customers(r, now, now - 3600000, 10, 0, top, &nt))
      goto fail;
    double d = mono_s();
    for (size_t j = 0; j < nt; j++)
      store_stats_customer_cleanup(&top[j]);
    int64_t hs = (now / 60000 - 59) * 60000, ds = (now / 600000 - 143) * 600000;
    if (store_stats_langs(r, hs, hs + 60 * 60000, &lh))
      goto fail;
    double e = mono_s();
    if (store_stats_langs(r, ds, ds + 144 * 600000, &ld))
      goto fail;
    double f = mono_s();
    if (run < RUNS - 1) {
      store_stats_langs_cleanup(&lh);
      store_stats_langs_cleanup(&ld);
    }
    th[run] = b - a;
    td[run] = c - b;
    tt[run] = d - c;
    tlh[run] = e - d;
    tld[run] = f - e;
  }
  int64_t day_msgs = 0;
  for (int i = 0; i < 144; i++)
    day_msgs += dayb[i].messages;
  printf("messages in the day series: %lld\n", (long long)day_msgs);
  report("series, hour (60 x 1 min)", th);
  report("series, day (144 x 10 min)", td);
  report("top customers", tt);
  report("languages, hour", tlh);
  report("languages, day", tld);
  printf("languages of the day:");
  for (size_t j = 0; j < ld.n; j++)
    printf(" %s %lld", ld.langs[j].code, (long long)ld.langs[j].messages);
  printf("\n");
  store_stats_langs_cleanup(&lh);
  store_stats_langs_cleanup(&ld);
  store_reader_close(r);
  return 0;
fail:
  fprintf(stderr, "bench_stats: %s\n", store_reader_errmsg(r));
  return 1;
}
