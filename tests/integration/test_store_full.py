#!/usr/bin/env python3
"""The store cannot write: 503, nothing half-kept, recovery by itself.

A full disk cannot be made on a shared machine without privileges, so
the tests give the running server a file-size limit (RLIMIT_FSIZE, what
`ulimit -f` sets) of one byte: every write to the store's files past that
fails, with EFBIG where a full disk gives ENOSPC, and SQLite answers both
with an error on the write or the commit. The server ignores SIGXFSZ,
which would otherwise kill it at the first such write. Lifting the limit
is the disk freed.

- While the store cannot write, /webhook answers 503 store_unavailable
  and keeps nothing; /health says 503, also on an idle server after its
  checks (a check that only opened and closed a transaction would find
  nothing wrong); the process keeps serving.
- Once writes work again, /health says so without a message arriving,
  and the refused message, sent again, is stored and alerts once.
- A delivery DevRev carried out while the store could not record it is
  recorded later, not sent again: one ticket.

Loopback only; exits non-zero on failure; the last line reads
"N passed, M failed".
"""
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import (Server, check, db_query, metric,  # noqa: E402
                        new_store_dir, outbox_drained, run_with_fake,
                        wait_until)

TMP, new_db = new_store_dir("fa-full-")
FAKE = None
ANGRY = "This is the third time my order is late, absolutely unacceptable!"
CALM = "Thanks, the parcel arrived this morning."


def limit_writes(srv, limit):
    """The server's soft file-size limit (None: none); the hard limit
    stays unlimited so that it can be lifted again."""
    soft = resource.RLIM_INFINITY if limit is None else limit
    resource.prlimit(srv.proc.pid, resource.RLIMIT_FSIZE,
                     (soft, resource.RLIM_INFINITY))


def msg(customer, text, mid):
    return {"customer_id": customer, "message": text, "message_id": mid}


def stored_ids(db):
    return {r[0] for r in db_query(db, "SELECT message_id FROM messages")}


def test_writes_fail_then_space_returns():
    FAKE.reset()
    srv = Server(new_db(), devrev=FAKE)
    try:
        for i in range(3):
            st, a = srv.post(msg("warm", CALM, f"warm-{i}"))
            check(st == 200, (st, a))
        limit_writes(srv, 1)
        st, err = srv.post(msg("full-1", ANGRY, "full-1"))
        check(st == 503 and err.get("error") == "store_unavailable",
              f"a message that cannot be written: {st} {err}")
        st, err = srv.post({"messages": [msg("full-2", ANGRY, "full-2"),
                                         msg("full-3", CALM, "full-3")]})
        check(st == 503 and err.get("error") == "store_unavailable",
              f"a batch that cannot be written: {st} {err}")
        # Idle for more than two of the server's checks (one a second).
        time.sleep(2.5)
        check(srv.proc.poll() is None,
              f"the server died: status {srv.proc.poll()}")
        st, h = srv.health()
        check(st == 503 and h["status"] == "store_unavailable" and
              h["store"]["ok"] is False and h["store"]["last_error"],
              f"/health while nothing can be written: {st} {h['store']}")
        check(stored_ids(srv.db) == {"warm-0", "warm-1", "warm-2"},
              f"stored: {sorted(stored_ids(srv.db))}")
        # Reads and scoring do not need the disk.
        st, v = srv.request("POST", "/slash-analyze", {"text": ANGRY})
        check(st == 200 and v["frustrated"] is True, (st, v))

        limit_writes(srv, None)
        wait_until(lambda: srv.health()[0] == 200, timeout=5,
                   what="/health 200 once writes work, with no message")
        st, a = srv.post(msg("full-1", ANGRY, "full-1"))
        check(st == 200 and a["alert"] == "created" and
              not a.get("duplicate"),
              f"the refused message sent again: {st} {a}")
        check(stored_ids(srv.db) == {"warm-0", "warm-1", "warm-2",
                                     "full-1"},
              f"stored: {sorted(stored_ids(srv.db))}")
        wait_until(lambda: outbox_drained(srv.db), timeout=15,
                   what="outbox drained")
        creates = FAKE.requests("/works.create")
        check(len(creates) == 1, f"{len(creates)} tickets created")
        check(metric(srv.metrics(),
                     "fa_webhook_store_unavailable_total") == 2, "metric")
        check(srv.stop() == 0, "exit status")
    finally:
        srv.kill()


def test_delivery_carried_out_while_store_cannot_record_it():
    FAKE.reset()
    # DevRev creates the ticket at once and answers a second later: the
    # store stops taking writes in between.
    FAKE.control(rules=[{"path": "/works.create", "action": "hang",
                         "seconds": 1}])
    srv = Server(new_db(), devrev=FAKE)
    try:
        st, a = srv.post(msg("late", ANGRY, "late-1"))
        check(st == 200 and a["alert"] == "created", (st, a))
        wait_until(lambda: FAKE.requests("/works.create"), timeout=10,
                   what="works.create sent")
        limit_writes(srv, 1)
        time.sleep(1.8)
        rows = db_query(srv.db, "SELECT state FROM outbox")
        check(rows == [("pending",)],
              f"recorded while the store could not write: {rows}")
        limit_writes(srv, None)
        wait_until(lambda: outbox_drained(srv.db), timeout=15,
                   what="outbox drained")
        creates = FAKE.requests("/works.create")
        works = FAKE.state()["works"]
        check(len(creates) == 1 and len(works) == 1,
              f"{len(creates)} works.create, {len(works)} works")
        rows = db_query(srv.db, "SELECT o.state, a.ticket_display_id FROM "
                        "outbox o JOIN alerts a ON a.id = o.alert_id")
        check(rows == [("done", works[0]["display_id"])],
              f"outbox and alert: {rows}, works: {works}")
        check(srv.stop() == 0, "exit status")
    finally:
        srv.kill()


def main():
    return run_with_fake(globals(), [
        test_writes_fail_then_space_returns,
        test_delivery_carried_out_while_store_cannot_record_it])


if __name__ == "__main__":
    sys.exit(main())
