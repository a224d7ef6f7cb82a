"""Holds a throwaway PostgreSQL cluster for a benchmark (python3 stdlib).

    python3 bench/pg_hold.py URL_FILE DB...

Starts a cluster with tests/integration/pg_cluster.py (initdb in a
temporary folder, loopback only, PostgreSQL's defaults: synchronous_commit
on, fsync on), creates the databases named, writes the cluster's URL
(postgres://fa@127.0.0.1:PORT/) to URL_FILE, then waits until it is sent
SIGTERM or SIGINT, stops the cluster and removes its folder. Exits 77 when
no cluster can be made here, saying why."""
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "integration"))
import pg_cluster  # noqa: E402


def stop(signum, frame):
    raise SystemExit(0)


def main():
    if len(sys.argv) < 2:
        print("usage: pg_hold.py URL_FILE DB...", file=sys.stderr)
        return 2
    ok, why = pg_cluster.available()
    if not ok:
        print(f"pg_hold: no PostgreSQL cluster can be made here: {why}",
              file=sys.stderr)
        return 77
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    pg = pg_cluster.PgCluster(prefix="fa-bench-pg-")
    try:
        pg.start()
        for db in sys.argv[2:]:
            pg.psql(f'CREATE DATABASE "{db}"')
        base = pg.url.rsplit("/", 1)[0] + "/"
        tmp = sys.argv[1] + ".part"
        with open(tmp, "w") as f:
            f.write(base + "\n")
        os.rename(tmp, sys.argv[1])
        while True:
            signal.pause()
    finally:
        pg.close()


if __name__ == "__main__":
    sys.exit(main())
