#!/usr/bin/env python3
"""`frustration-alert outbox list|retry|drop` on a real store: black-box
tests of the real binary with tests/fake_devrev.py.

Dead letters made by DevRev answering 400 are listed (table and JSON),
re-driven while the server runs (DevRev then gets them: one ticket each)
and on a stopped service (the next start sends them), and dropped (kept as
skipped, never sent). The command does not count as a second server, and
usage errors and IDs that are not dead letters change nothing. Python
standard library only.

Exits non-zero on any failure; the last line reads "N passed, M failed".
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import (FA_BIN, check, db_query, FakeDevRev,  # noqa
                        new_store_dir, run_tests, run_with_fake, Server,
                        wait_until)

TMP, new_db = new_store_dir("fa-outbox-cli-")
FAKE = None
ANGRY = "This is terrible, awful service"



def outbox(db, *args):
    """Runs the command on db; returns (exit status, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DEVREV_") and k != "DATABASE_URL"}
    env["DATABASE_URL"] = db
    p = subprocess.run([FA_BIN, "outbox", *args], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def states(db):
    return dict(db_query(db, "SELECT state, COUNT(*) FROM outbox"
                         " GROUP BY state"))


def dead_letters(srv, n):
    """Posts n frustrated messages while DevRev refuses works.create with a
    400: n dead create_tickets. Returns their ids."""
    FAKE.control(rules=[{"path": "/works.create", "action": "status",
                         "status": 400, "type": "invalid_field",
                         "message": "bad part", "count": n}])
    store = os.path.basename(os.path.dirname(srv.db))  # unique per store
    for i in range(n):
        st, _ = srv.post({"customer_id": f"dl-{store}-{i}", "message": ANGRY,
                          "message_id": f"dl-{store}-m{i}"})
        check(st == 200, f"POST: {st}")
    wait_until(lambda: states(srv.db).get("dead", 0) == n,
               what=f"{n} dead letters")
    return [r[0] for r in db_query(srv.db, "SELECT id FROM outbox"
                                   " WHERE state = 'dead' ORDER BY id")]


def list_and_redrive_while_running():
    FAKE.reset()
    srv = Server(new_db(), devrev=FAKE)
    try:
        ids = dead_letters(srv, 3)
        rc, out, err = outbox(srv.db, "list")
        check(rc == 0, f"list: {rc} {err}")
        lines = out.strip().splitlines()
        check(lines[0].split()[:4] == ["ID", "ALERT", "KIND", "STATE"],
              f"table header: {lines[0]!r}")
        check(len(lines) == 4 and all("HTTP 400 invalid_field" in l
                                      for l in lines[1:]),
              f"three dead letters with DevRev's error:\n{out}")
        rc, out, err = outbox(srv.db, "list", "--json")
        check(rc == 0, f"list --json: {rc} {err}")
        doc = json.loads(out)
        check(doc["count"] == 3 and [e["id"] for e in doc["entries"]] == ids,
              f"JSON entries: {doc}")
        check(doc["server_pid"] == srv.proc.pid, "names the running server")
        check(all(e["state"] == "dead" and e["kind"] == "create_ticket"
                  for e in doc["entries"]), "dead create_tickets")
        # Re-drive one while the server runs: DevRev gets it now.
        rc, out, err = outbox(srv.db, "retry", str(ids[0]))
        check(rc == 0 and "retried 1 entry" in out, f"retry: {rc} {out} {err}")
        check(f"pid {srv.proc.pid}" in out, "says the server sends it")
        wait_until(lambda: len(FAKE.state()["works"]) == 1,
                   what="the re-driven ticket")
        # The rest, with --all.
        rc, out, err = outbox(srv.db, "retry", "--all")
        check(rc == 0 and "retried 2 entries" in out, f"retry --all: {out}")
        wait_until(lambda: states(srv.db) == {"done": 3},
                   what="every entry done")
        check(len(FAKE.state()["works"]) == 3, "one ticket per alert")
        st, health = srv.health()
        check(health["delivery"]["dead_letters"] == 0,
              f"/health: {health['delivery']}")
        rc, out, _ = outbox(srv.db, "list", "--state", "done", "--limit", "2")
        check(rc == 0 and len(out.strip().splitlines()) == 3,
              f"--state done --limit 2:\n{out}")
        check(srv.stop() == 0, "stops")
    finally:
        srv.kill()


def drop_and_retry_on_stopped_service():
    FAKE.reset()
    db = new_db()
    srv = Server(db, devrev=FAKE)
    try:
        ids = dead_letters(srv, 2)
        check(srv.stop() == 0, "stops")
        rc, out, err = outbox(db, "drop", str(ids[0]))
        check(rc == 0 and "dropped 1 entry" in out, f"drop: {rc} {out} {err}")
        rc, out, err = outbox(db, "retry", str(ids[1]))
        check(rc == 0 and "no server is running" in out, f"retry: {out}")
        row = db_query(db, "SELECT state, last_error FROM outbox WHERE id = ?",
                       (ids[0],))[0]
        check(row[0] == "skipped" and row[1].startswith(
            "dropped by an operator (HTTP 400"), f"dropped row: {row}")
        rc, out, _ = outbox(db, "list", "--state", "skipped", "--json")
        check([e["id"] for e in json.loads(out)["entries"]] == [ids[0]],
              f"skipped list: {out}")
        srv = Server(db, devrev=FAKE)
        wait_until(lambda: states(db) == {"done": 1, "skipped": 1},
                   what="the retried entry sent by the next start")
        check(len(FAKE.state()["works"]) == 1, "one ticket: the dropped one "
              "is never sent")
        check(srv.stop() == 0, "stops")
    finally:
        srv.kill()


def usage_and_refusals():
    FAKE.reset()
    db = new_db()
    srv = Server(db, devrev=FAKE)
    try:
        ids = dead_letters(srv, 1)
        done = db_query(db, "SELECT COUNT(*) FROM outbox")[0][0]
        for args in ([], ["frobnicate"], ["retry"], ["retry", "abc"],
                     ["retry", "0"], ["retry", "--all", str(ids[0])],
                     ["drop"], ["list", "--state", "gone"],
                     ["list", "--limit", "-1"], ["list", "7"]):
            rc, out, err = outbox(db, *args)
            check(rc == 2 and err.strip(), f"outbox {args}: {rc} {err!r}")
        # All or nothing: one id that is not a dead letter changes nothing.
        rc, out, err = outbox(db, "retry", str(ids[0]), "999999")
        check(rc == 1 and "999999 does not exist" in err, f"{rc} {err!r}")
        check(states(db) == {"dead": 1}, f"nothing changed: {states(db)}")
        rc, out, err = outbox(db, "drop", "999999")
        check(rc == 1, f"drop of a missing id: {rc}")
        rc, out, err = outbox(db, "retry", str(ids[0]))
        check(rc == 0, f"retry: {err}")
        wait_until(lambda: states(db) == {"done": 1}, what="sent")
        rc, out, err = outbox(db, "retry", str(ids[0]))
        check(rc == 1 and "is done, not a dead letter" in err, f"{err!r}")
        check(db_query(db, "SELECT COUNT(*) FROM outbox")[0][0] == done,
              "no entry added or removed")
        missing = os.path.join(TMP, "nowhere", "fa.db")
        rc, out, err = outbox(missing, "list")
        check(rc == 1 and "no store at" in err, f"missing store: {err!r}")
        check(not os.path.exists(os.path.dirname(missing)), "not created")
        rc, out, _ = outbox(db, "--help")
        check(rc == 0 and "retry" in out, "--help")
        check(srv.health()[0] == 200, "the server serves on")
        check(srv.stop() == 0, "stops")
    finally:
        srv.kill()


def main():
    return run_with_fake(globals(), [list_and_redrive_while_running,
                          drop_and_retry_on_stopped_service,
                          usage_and_refusals])


if __name__ == "__main__":
    sys.exit(main())
