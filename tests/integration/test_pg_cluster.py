"""The PostgreSQL test cluster (pg_cluster.py) that the PostgreSQL store's
tests stand on: a real server made in a temporary folder, on a free
loopback port, that keeps what was committed across a restart and leaves
nothing behind.

Skipped (exit 77, CTest's SKIP_RETURN_CODE) where PostgreSQL is not
installed: scripts/install-deps.sh test installs it (Debian's postgresql).
"""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import check, run_tests  # noqa: E402
import pg_cluster  # noqa: E402


def test_cluster_serves_keeps_and_cleans_up():
    pg = pg_cluster.PgCluster()
    root = pg.root
    try:
        pg.start()
        check(pg.psql("SELECT 1") == "1", "a query answers")
        check(pg.psql("SHOW listen_addresses") == "127.0.0.1",
              "listens on loopback only")
        pg.psql("CREATE TABLE t (id int PRIMARY KEY, v text)")
        pg.psql("INSERT INTO t VALUES (1, 'kept')")
        pg.restart()
        check(pg.psql("SELECT v FROM t WHERE id = 1") == "kept",
              "a commit survives a restart")
        pg.stop()
        with socket.socket() as s:
            s.settimeout(2)
            refused = s.connect_ex(("127.0.0.1", pg.port)) != 0
        check(refused, "stopped: nothing listens on its port")
    finally:
        pg.close()
    check(not os.path.exists(root), "its folder is removed")


if __name__ == "__main__":
    ok, why = pg_cluster.available()
    if not ok:
        print(f"test_pg_cluster: SKIPPED: {why} (scripts/install-deps.sh test)")
        sys.exit(77)
    sys.exit(run_tests([test_cluster_serves_keeps_and_cleans_up]))
