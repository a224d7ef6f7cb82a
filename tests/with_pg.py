"""Runs a command with a throwaway PostgreSQL cluster (python3 stdlib).

    python3 tests/with_pg.py PROGRAM [ARGS...]

Starts a cluster of its own (tests/integration/pg_cluster.py: initdb and
pg_ctl in a temporary folder, a free loopback port), runs PROGRAM with
STORE_TEST_PG set to the cluster's URL, stops and removes the cluster, and
exits with PROGRAM's status. Exits 77 (CTest's skip code) when no cluster
can be made here, saying why. The store's contract tests (test_store*.c)
run this way on PostgreSQL; tests/unit/store_fixture.h gives each test a
schema of its own in that cluster."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "integration"))
import pg_cluster  # noqa: E402


def main():
    if len(sys.argv) < 2:
        print("usage: with_pg.py PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    ok, why = pg_cluster.available()
    if not ok:
        print(f"SKIP: no PostgreSQL cluster can be made here: {why}")
        return 77
    with pg_cluster.PgCluster() as pg:
        env = dict(os.environ, STORE_TEST_PG=pg.url)
        return subprocess.run(sys.argv[1:], env=env, timeout=900).returncode


if __name__ == "__main__":
    sys.exit(main())
