#!/usr/bin/env python3
"""One serving process per SQLite store: black-box tests of the real binary.

A second `serve` on the database file of a running one must refuse to start,
naming the holder's pid, and must change nothing in the store: the first
server's leased delivery stays leased (no second ticket), and its pending
entries are not marked skipped by a second instance without a DevRev token.
The lock goes with its process: after a SIGTERM or a kill -9 the next serve
starts. Python standard library only.

Exits non-zero on any failure; the last line reads "N passed, M failed".
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import (check, db_query, FakeDevRev, Launch,  # noqa
                        new_store_dir, outbox_drained, run_tests,
                        run_with_fake, Server, wait_until)

TMP, new_db = new_store_dir("fa-lock-")
FAKE = None
ANGRY = "This is terrible, awful service"



def refused_second(db, env=None):
    """Starts a second serve on db; checks that it exits non-zero without
    listening; returns its log."""
    second = Launch(db, env=env, timeout=20)
    try:
        check(not second.started,
              "a second serve on the same store started:\n" + second.log())
        check(second.returncode not in (None, 0),
              f"second serve exit status {second.returncode}")
        return second.log()
    finally:
        second.kill()


def second_serve_refused_with_pid():
    db = new_db()
    first = Server(db)
    try:
        log = refused_second(db)
        check(f"pid {first.proc.pid}" in log,
              f"the refusal names the holder (pid {first.proc.pid}):\n{log}")
        check("in use" in log, "the refusal says the store is in use:\n" + log)
        # The first one serves on, undisturbed.
        st, data = first.post({"customer_id": "c1", "message": ANGRY})
        check(st == 200 and data["alert"] == "created", f"{st} {data!r}")
        check(first.stop() == 0, "first server stops cleanly")
    finally:
        first.kill()


def second_serve_leaves_deliveries_alone():
    """The issue's two reproductions: a record-only second instance used to
    mark the first one's pending entries skipped, and a delivering one
    released the in-flight lease and created a second ticket."""
    FAKE.reset()
    db = new_db()
    # The first create hangs 3 s: it is leased, the others wait behind it.
    FAKE.control(rules=[{"path": "/works.create", "action": "hang",
                         "seconds": 3}])
    first = Server(db, devrev=FAKE)
    try:
        for i in range(10):
            st, _ = first.post({"customer_id": f"lock-{i}", "message": ANGRY,
                                "message_id": f"lock-m{i}"})
            check(st == 200, f"POST {i}: {st}")
        wait_until(lambda: len(FAKE.requests("/works.create")) >= 1,
                   what="the first works.create")
        refused_second(db)                                # record-only
        # Delivering, and with no hang rule left: it would create at once.
        refused_second(db, env={"DEVREV_API_URL": FAKE.url,
                                "DEVREV_API_TOKEN": "test-token-123",
                                "DEVREV_PART_ID": "don:core:p",
                                "DEVREV_OWNER_ID": "don:identity:o"})
        skipped = db_query(first.db, "SELECT COUNT(*) FROM outbox"
                           " WHERE state = 'skipped'")[0][0]
        check(skipped == 0, f"{skipped} entries marked skipped by the second")
        wait_until(lambda: outbox_drained(first.db), timeout=30,
                   what="the outbox to drain")
        works = FAKE.state()["works"]
        check(len(works) == 10, f"{len(works)} tickets for 10 alerts")
        done = db_query(first.db, "SELECT COUNT(*) FROM outbox"
                        " WHERE state = 'done'")[0][0]
        check(done == 10, f"{done} of 10 entries done")
        check(first.stop() == 0, "first server stops cleanly")
    finally:
        first.kill()


def lock_goes_with_the_process():
    db = new_db()
    first = Server(db)
    check(first.stop() == 0, "stops")
    again = Server(db)                     # after a clean stop
    pid = again.proc.pid
    again.kill()                           # kill -9: the kernel drops the lock
    third = Server(db)
    try:
        check(third.proc.pid != pid, "a new process")
        check(third.health()[0] == 200, "serves after a kill -9")
        check(third.stop() == 0, "stops")
    finally:
        third.kill()


def main():
    return run_with_fake(globals(), [second_serve_refused_with_pid,
                          second_serve_leaves_deliveries_alone,
                          lock_goes_with_the_process])


if __name__ == "__main__":
    sys.exit(main())
