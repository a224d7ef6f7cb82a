/* test_db: a fresh database for each test, on the backend of the run.
 *
 * SQLite by default (a new file in the test's temporary folder); when
 * STORE_TEST_PG names a PostgreSQL server (tests/with_pg.py sets it), a
 * new schema on that server, named first in the connection's search_path
 * through libpq's options parameter, so every test starts empty. */
#ifndef TESTS_TEST_DB_H
#define TESTS_TEST_DB_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The PostgreSQL server of this run, or NULL for SQLite. */
static inline const char *test_pg(void)
{
  const char *pg = getenv("STORE_TEST_PG");
  return pg && *pg ? pg : NULL;
}

/* A new database URL: dir/<prefix><seq>/store.db, or a new schema. */
static inline void test_db_url(char *url, size_t cap, const char *dir,
                               const char *prefix, int seq)
{
  const char *pg = test_pg();
  if (!pg) {
    snprintf(url, cap, "%s/%s%d/store.db", dir, prefix, seq);
    return;
  }
  char schema[64], sql[128];
  snprintf(schema, sizeof schema, "%s%ld_%d", prefix, (long)getpid(), seq);
  snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
  PGconn *c = PQconnectdb(pg);
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    fprintf(stderr, "test_db: %s: %s", sql, PQerrorMessage(c));
    exit(1);
  }
  PQclear(r);
  PQfinish(c);
  snprintf(url, cap, "%s%soptions=-csearch_path%%3D%s", pg,
           strchr(pg, '?') ? "&" : "?", schema);
}

#endif
