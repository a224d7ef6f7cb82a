"""Shared pieces of the tests of several `serve` instances on one
PostgreSQL database (test_pg_instances.py, test_pg_faults.py).

One throwaway cluster per test file (pg_cluster.PgCluster); each test
gets a database of its own in it (fresh_db), so that tests do not see
each other's rows. The instances are the real binary (fa_harness.Server)
with DATABASE_URL pointing at that database.
"""
import concurrent.futures
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import Server, check, run_with_fake  # noqa: E402
import pg_cluster  # noqa: E402

ANGRY = "This is terrible, awful service"        # -1.0
ANGRY2 = "Still broken, this is awful"           # -0.7
CALM = "Thanks, all good now"

PG = None
_count = [0]


def start_cluster():
    global PG
    PG = pg_cluster.PgCluster(prefix="fa-pginst-")
    PG.start()
    return PG


def fresh_db():
    """A new, empty database in the cluster; returns its URL."""
    _count[0] += 1
    name = f"t{_count[0]}"
    PG.psql(f"CREATE DATABASE {name}")
    return PG.url.rsplit("/", 1)[0] + "/" + name


def sql(url, query):
    """Rows of query (psql's unaligned output, "|" between columns)."""
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "-d", url, "-c", query], capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise RuntimeError(f"psql: {p.stderr.strip()}")
    return [line.split("|") for line in p.stdout.splitlines() if line]


def sql_int(url, query):
    rows = sql(url, query)
    return int(rows[0][0]) if rows and rows[0][0] != "" else 0


def instances(n, url, env=None, devrev=None):
    """n servers on url, started one after the other."""
    out = []
    try:
        for _ in range(n):
            out.append(Server(url, env=env, devrev=devrev))
    except Exception:
        for s in out:
            s.kill()
        raise
    return out


def stop_all(servers):
    for s in servers:
        s.stop()


def at_once(calls):
    """Runs the functions of calls in threads released together by a
    barrier; returns their results in order (an exception is returned,
    not raised)."""
    barrier = threading.Barrier(len(calls))

    def run(fn):
        barrier.wait(timeout=30)
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - reported by the caller
            return e

    with concurrent.futures.ThreadPoolExecutor(len(calls)) as ex:
        return list(ex.map(run, calls))


def without_duplicate(answer):
    """A duplicate's answer is the first answer plus "duplicate": true."""
    check(isinstance(answer, dict), f"a JSON answer: {answer!r}")
    a = dict(answer)
    a.pop("duplicate", None)
    return a


def main(name, module_globals, tests, skip=None):
    """A test file's main: exit status 77 (skipped) where no cluster can
    be made, or when skip() gives a reason; else the tests on a new
    cluster, a fake DevRev as the module's FAKE (run_with_fake)."""
    ok, why = pg_cluster.available()
    if ok and skip:
        why = skip()
        ok = why is None
    if not ok:
        print(f"{name}: SKIPPED: {why}")
        return 77
    start_cluster()
    try:
        return run_with_fake(module_globals, tests)
    finally:
        PG.close()
