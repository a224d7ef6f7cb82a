#!/usr/bin/env python3
"""A primary with a synchronous standby: the primary dies under load, the
standby is promoted, and the service finds the new primary by itself.

DATABASE_URL names both servers with target_session_attrs=read-write
(libpq tries the hosts in order and keeps the one that accepts writes).
While no primary is reachable /webhook answers 503 store_unavailable and
stores nothing; once the standby is promoted the next transactions go to
it. Every message acknowledged before, during and after the switch is on
the new primary: with synchronous replication a commit is acknowledged
only once the standby has it.

Skipped (exit 77) where PostgreSQL is not installed. Loopback only,
bounded waits."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import check, run_tests, Server, wait_until  # noqa: E402
import pg_cluster  # noqa: E402


def frustrated(i):
    return {"message_id": f"f-{i}", "customer_id": f"cust-{i % 7}",
            "message": "This is terrible, nothing works and I hate it!"}


def test_failover_to_promoted_standby():
    primary = pg_cluster.PgCluster(prefix="fa-pg-primary-").start()
    standby = None
    server = None
    try:
        standby = pg_cluster.PgCluster.standby_of(primary).start()
        # Synchronous: a commit returns once the standby has flushed it.
        primary.conf("synchronous_standby_names = '*'")
        primary.reload()
        wait_until(lambda: primary.psql(
            "SELECT sync_state FROM pg_stat_replication") == "sync",
            timeout=20, what="the standby is synchronous")
        url = (f"postgres://{pg_cluster.USER}@127.0.0.1:{primary.port},"
               f"127.0.0.1:{standby.port}/postgres"
               "?target_session_attrs=read-write&connect_timeout=2")
        server = Server(url, env={"OUTBOX_BACKOFF_BASE_MS": "50"})
        acked, answers = [], []
        stop = threading.Event()

        def sender():
            i = 0
            while not stop.is_set() and i < 5000:
                try:
                    st, body = server.post(frustrated(i), timeout=15)
                except OSError as e:
                    st, body = 0, str(e)
                answers.append((st, body))
                if st == 200:
                    acked.append(f"f-{i}")
                    i += 1
                else:
                    time.sleep(0.05)  # resend the same message

        t = threading.Thread(target=sender)
        t.start()
        wait_until(lambda: len(acked) >= 50, timeout=20,
                   what="50 messages acknowledged by the primary")
        primary.stop(mode="immediate")  # the crash
        down_at = len(answers)
        time.sleep(1.0)
        standby.promote()
        n = len(acked)
        wait_until(lambda: len(acked) >= n + 50, timeout=30,
                   what="messages acknowledged again after the promotion")
        stop.set()
        t.join(timeout=30)
        check(not t.is_alive(), "the sender stopped")
        failures = [a for a in answers[down_at:] if a[0] != 200]
        check(failures, "some requests were refused while no primary was up")
        for st, body in failures:
            check(st == 503 and isinstance(body, dict) and
                  body.get("error") == "store_unavailable",
                  f"refused as 503 store_unavailable, not {st} {body}")
        stored = set(standby.psql(
            "SELECT message_id FROM messages").split())
        lost = [m for m in acked if m not in stored]
        check(not lost, f"{len(lost)} acknowledged messages lost: {lost[:5]}")
        check(len(stored) == len(acked),
              f"{len(stored)} stored for {len(acked)} acknowledged: nothing "
              "half-stored or extra")
        alerts = int(standby.psql("SELECT count(*) FROM alerts WHERE state "
                                  "= 'open'"))
        check(alerts == 7, f"one open alert per customer, not {alerts}")
        st, h = server.health()
        check(st == 200 and h["store"]["ok"], f"healthy again: {h}")
        check(server.stop() == 0, "a clean stop")
        print(f"  {len(acked)} acknowledged, {len(failures)} refused with 503 "
              "during the switch, 0 lost")
        server = None
    finally:
        if server:
            server.kill()
        if standby:
            standby.close()
        primary.close()


if __name__ == "__main__":
    ok, why = pg_cluster.available()
    if not ok:
        print(f"SKIP: {why}")
        sys.exit(77)
    sys.exit(run_tests([test_failover_to_promoted_standby]))
