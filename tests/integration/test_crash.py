#!/usr/bin/env python3
"""The crash test: kill -9 the server during a webhook load and
check that nothing acknowledged is lost and that DevRev gets exactly one
ticket per alert.

Each cycle starts the real binary on the same SQLite file (with
tests/fake_devrev.py as DevRev), first resends every message that was never
acknowledged plus a sample of acknowledged ones (which must come back as
duplicates with their original answer), then runs a load of frustrated and
calm messages from a few dozen customers on 4 client threads (single
messages and small batches, unique message_ids) and kills the server with
SIGKILL in the middle of it. The last cycle stops it with SIGTERM instead,
which must exit 0 with every commit in progress answered. After the last
cycle a final run resends what is left and lets the outbox drain. Then:

  - every acknowledged message is in the store (read with sqlite3, read-only),
    and so is every message eventually;
  - an alert for every customer that sent a frustrated message, never two
    open at once (ALERT_COOLDOWN=1 s, so customers start new episodes
    during the load and tickets are being created when the kills land);
  - DevRev received exactly one ticket per alert (matched by the marker
    line), none missing, none twice, and every alert holds its ticket id;
  - and exactly one comment per comment the outbox finished, on its
    alert's ticket (matched by its entry and marker lines), none twice.

Meanwhile DevRev has intermittent faults (CRASH_FAULT_MS, default every
150 ms, one of): it carries out a works.create or timeline-entries.create
and then resets the connection without answering, as after a lost answer
(on a kept-alive connection this is where libcurl used to send the create
again: two tickets); answers 500 or 503; or resets before doing anything.
None of it may cost a ticket or a comment, add one, or make a dead
letter.

A second test kills the server while DevRev hangs in the middle of a
works.create it has already carried out: after the restart the worker must
look the ticket up and adopt it rather than create a second one.

Loopback only, bounded time (well under a minute); processes are killed
in finally blocks. Exits non-zero on failure; the last line reads
"N passed, M failed".
"""
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import (check, db_query, new_store_dir,  # noqa: E402
                        outbox_drained, run_with_fake, Server, wait_until)
from crash_load import (acked_all_stored, check_comments,  # noqa
                        check_tickets, client, fault_summary, faulter,
                        FRUSTRATED, Ledger, load_groups, resend, seeded_rng)

CYCLES = int(os.environ.get("CRASH_CYCLES", "4"))  # the last one: SIGTERM
THREADS = 4
CUSTOMERS = 30
# Pause between a client's requests: the load stays at a few hundred
# messages a second, so that the comments it queues for DevRev (one per
# frustrated message) drain within the test's time budget.
PACE_S = float(os.environ.get("CRASH_PACE_MS", "2")) / 1000
ENV = {"ALERT_COOLDOWN": "1"}
# DevRev's faults during the load (crash_load.FAULTS): one rule every
# FAULT_S (0: none).
FAULT_S = float(os.environ.get("CRASH_FAULT_MS", "150")) / 1000
TMP, new_db = new_store_dir("fa-crash-")
FAKE = None


def test_kill_during_load():
    FAKE.reset()
    db = os.path.join(TMP, "load", "fa.db")
    ledger = Ledger()
    rng, seed = seeded_rng(os.environ.get("CRASH_SEED"))
    print(f"  CRASH_SEED={seed}", flush=True)

    def query(sql):
        return db_query(db, sql)
    stats = []
    for cycle in range(CYCLES):
        graceful = cycle == CYCLES - 1
        srv = Server(db, devrev=FAKE, env=ENV)
        try:
            resent, dups, sampled = resend(srv.port, ledger, rng)
            stop = threading.Event()
            threads = [threading.Thread(
                target=client, args=(ledger, load_groups(
                    rng, f"c{cycle}-t{t}", 100000, CUSTOMERS), stop,
                    lambda p=srv.port: p, PACE_S), daemon=True)
                for t in range(THREADS)]
            before = len(ledger.acked)
            faults = threading.Thread(
                target=faulter, args=(FAKE, random.Random(rng.random()),
                                      stop, FAULT_S),
                daemon=True)
            faults.start()
            for th in threads:
                th.start()
            # The kill comes a random while after the load is under way:
            # after its first acknowledgement (a loaded machine can take
            # longer than the random while to commit one), bounded.
            deadline = time.time() + 20
            while len(ledger.acked) == before and time.time() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.6, 1.2))
            if graceful:
                rc = srv.stop()
                check(rc == 0, f"SIGTERM under load: exit {rc}\n{srv.log()}")
            else:
                srv.kill()
            stop.set()
            for th in threads + [faults]:
                th.join(timeout=15)
                check(not th.is_alive(), "a client thread hung")
            acked, stored = acked_all_stored(query, ledger)
            unacked = len(ledger.unacked())
            stats.append((cycle, len(ledger.acked) - before, unacked,
                          resent, dups, sampled))
            print(f"  cycle {cycle} ({'SIGTERM' if graceful else 'kill -9'}):"
                  f" resent {resent} (of which {dups} were committed before "
                  f"the crash), {sampled} acknowledged resent as duplicates,"
                  f" {len(ledger.acked) - before} acknowledged under load, "
                  f"{unacked} unacknowledged; store holds {stored}, "
                  f"acknowledged {acked}, lost 0", flush=True)
            check(len(ledger.acked) > before, "no load acknowledged")
        finally:
            srv.kill()
    # The final run: resend what is left, let the outbox drain.
    srv = Server(db, devrev=FAKE, env=ENV)
    try:
        resend(srv.port, ledger, rng)
        t0 = time.time()
        wait_until(lambda: outbox_drained(db), timeout=30,
                   what="outbox drained")
        print(f"  outbox drained {time.time() - t0:.1f} s after the last "
              f"restart", flush=True)
        acked, stored = acked_all_stored(query, ledger)
        check(acked == len(ledger.msgs) == stored,
              f"sent {len(ledger.msgs)}, acknowledged {acked}, "
              f"stored {stored}")
        dead = db_query(db, "SELECT count(*) FROM outbox WHERE state = "
                        "'dead'")[0][0]
        check(dead == 0, f"{dead} dead letters")
        print(f"  DevRev's faults: {fault_summary(FAKE)}", flush=True)
        alerts, works = check_tickets(query, FAKE, ledger)
        comments = check_comments(query, FAKE)
        lookups = len(FAKE.requests("/works.list"))
        found = len(FAKE.requests("/timeline-entries.list"))
        print(f"  total: {len(ledger.msgs)} messages all stored, {alerts} "
              f"alerts, {works} tickets ({lookups} lookups after unknown "
              f"outcomes), {comments} comments ({found} lookups); 0 lost, "
              f"0 missing, 0 duplicate tickets or comments", flush=True)
    finally:
        srv.stop()


def test_kill_while_devrev_hangs_mid_create():
    FAKE.reset()
    db = os.path.join(TMP, "hang", "fa.db")
    # DevRev creates the ticket, then sits on the answer.
    FAKE.control(rules=[{"path": "/works.create", "action": "hang",
                         "seconds": 8}])
    srv = Server(db, devrev=FAKE, env={"DEVREV_TIMEOUT_MS": "20000"})
    try:
        st, a = srv.post({"customer_id": "hang-1", "message_id": "hang-1",
                          "message": FRUSTRATED[0]})
        check(st == 200 and a["alert"] == "created", a)
        wait_until(lambda: FAKE.state()["works"], what="the create to land")
        time.sleep(0.2)
        srv.kill()  # the answer never came: the outcome is unknown
        rows = db_query(db, "SELECT outcome_unknown, state FROM outbox")
        check(rows == [(1, "pending")], f"after the crash: {rows}")
        srv = Server(db, devrev=FAKE)
        wait_until(lambda: db_query(db, "SELECT ticket_id FROM alerts")[0][0],
                   timeout=15, what="ticket adopted")
        works = FAKE.state()["works"]
        check(len(works) == 1, f"{len(works)} tickets")
        check(len(FAKE.requests("/works.create")) == 1, "created again")
        check(FAKE.requests("/works.list"), "no lookup before re-creating")
        ticket = db_query(db, "SELECT ticket_id FROM alerts")[0][0]
        check(ticket == works[0]["id"], (ticket, works[0]["id"]))
        st, again = srv.post({"customer_id": "hang-1",
                              "message_id": "hang-1",
                              "message": FRUSTRATED[0]})
        check(again.get("duplicate") is True and
              again["alert_key"] == a["alert_key"], again)
    finally:
        srv.kill()


def main():
    return run_with_fake(globals(), [test_kill_during_load,
                        test_kill_while_devrev_hangs_mid_create])


if __name__ == "__main__":
    sys.exit(main())
