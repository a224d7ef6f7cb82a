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
    line), none missing, none twice, and every alert holds its ticket id.

Meanwhile DevRev has intermittent faults (CRASH_FAULT_MS, default every
150 ms, one of): it carries out a works.create or timeline-entries.create
and then resets the connection without answering, as after a lost answer
(on a kept-alive connection this is where libcurl used to send the create
again: two tickets); answers 500 or 503; or resets before doing anything.
None of it may cost a ticket, add one, or make a dead letter.

A second test kills the server while DevRev hangs in the middle of a
works.create it has already carried out: after the restart the worker must
look the ticket up and adopt it rather than create a second one.

Loopback only, bounded time (well under a minute); processes are killed
in finally blocks. Exits non-zero on failure; the last line reads
"N passed, M failed".
"""
import http.client
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import (HOST, check, db_query, FakeDevRev, new_store_dir,  # noqa
                        run_tests, run_with_fake, Server, wait_until)

CYCLES = int(os.environ.get("CRASH_CYCLES", "4"))  # the last one: SIGTERM
THREADS = 4
CUSTOMERS = 30
# Pause between a client's requests: the load stays at a few hundred
# messages a second, so that the comments it queues for DevRev (one per
# frustrated message) drain within the test's time budget.
PACE_S = float(os.environ.get("CRASH_PACE_MS", "2")) / 1000
ENV = {"ALERT_COOLDOWN": "1"}
# DevRev's faults during the load: one rule every FAULT_S (0: none).
FAULT_S = float(os.environ.get("CRASH_FAULT_MS", "150")) / 1000
FAULTS = [  # (weight, rule for tests/fake_devrev.py)
    (3, {"path": "/works.create", "action": "create_drop"}),
    (2, {"path": "/timeline-entries.create", "action": "create_drop"}),
    (1, {"path": "/works.create", "action": "status", "status": 500}),
    (1, {"action": "status", "status": 503}),
    (1, {"action": "drop"}),
]
TMP, new_db = new_store_dir("fa-crash-")
FAKE = None

FRUSTRATED = ["This is terrible, awful service",
              "Still broken, this is awful",
              "The service was poor",
              "Your app is frustrating and the support is useless"]
CALM = ["Thanks, all good now", "Can you tell me how to export invoices?"]


class Ledger:
    """What the clients sent and what the server acknowledged."""

    def __init__(self):
        self.lock = threading.Lock()
        self.msgs = {}      # message_id -> message
        self.acked = {}     # message_id -> the answer (one result object)
        self.sent = set()   # sent at least once

    def unacked(self):
        with self.lock:
            return [self.msgs[m] for m in sorted(self.sent)
                    if m not in self.acked]


def make_msg(rng, mid):
    cust = f"cust-{rng.randrange(CUSTOMERS):02d}"
    text = rng.choice(FRUSTRATED if rng.random() < 0.7 else CALM)
    return {"customer_id": cust, "message_id": mid, "message": text}


def post(conn, body):
    conn.request("POST", "/webhook", body=json.dumps(body).encode(),
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def client(port, ledger, items, stop):
    """Sends items (lists of messages: one, or a batch) until stopped or
    the server goes away; records what was acknowledged."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        for group in items:
            if stop.is_set():
                return
            with ledger.lock:
                for m in group:
                    ledger.msgs[m["message_id"]] = m
                    ledger.sent.add(m["message_id"])
            body = group[0] if len(group) == 1 else {"messages": group}
            try:
                st, data = post(conn, body)
            except (OSError, http.client.HTTPException):
                return  # killed: whatever was in flight is unknown
            if st != 200:
                continue  # not acknowledged: resent later
            results = data["results"] if len(group) > 1 else [data]
            with ledger.lock:
                for m, r in zip(group, results):
                    ledger.acked.setdefault(m["message_id"], r)
            time.sleep(PACE_S)
    finally:
        conn.close()


def resend(srv, ledger, rng):
    """Resends every unacknowledged message and a sample of acknowledged
    ones; duplicates must answer their first result."""
    todo = ledger.unacked()
    with ledger.lock:
        acked = list(ledger.acked)
    sample = rng.sample(acked, min(len(acked), 25))
    conn = http.client.HTTPConnection(HOST, srv.port, timeout=10)
    dup_unacked = 0
    try:
        for m in todo:
            st, data = post(conn, m)
            check(st == 200, f"resend {m['message_id']}: {st} {data}")
            dup_unacked += bool(data.get("duplicate"))
            with ledger.lock:
                ledger.acked[m["message_id"]] = data
        for mid in sample:
            st, data = post(conn, ledger.msgs[mid])
            check(st == 200 and data.pop("duplicate", None) is True,
                  f"acknowledged {mid} not seen as a duplicate: {data}")
            first = dict(ledger.acked[mid])
            first.pop("duplicate", None)
            check(data == first, f"{mid}: {data} != first answer {first}")
    finally:
        conn.close()
    return len(todo), dup_unacked, len(sample)


def acked_all_stored(db, ledger):
    with ledger.lock:
        acked = set(ledger.acked)
    stored = {r[0] for r in db_query(db, "SELECT message_id FROM messages")}
    lost = acked - stored
    check(not lost, f"{len(lost)} acknowledged messages lost: "
          f"{sorted(lost)[:5]}")
    return len(acked), len(stored)


def load_groups(rng, cycle, t, n):
    groups = []
    for i in range(n):
        size = 3 if i % 5 == 4 else 1
        groups.append([make_msg(rng, f"c{cycle}-t{t}-{i}-{k}")
                       for k in range(size)])
    return groups


def faulter(rng, stop):
    """Adds one of FAULTS to the fake every FAULT_S until stopped. Each
    rule applies to the next matching request (or to none, when the load
    ends first; the few left over apply during the final drain)."""
    weights = [w for w, _ in FAULTS]
    while FAULT_S > 0 and not stop.wait(FAULT_S):
        rule = rng.choices([r for _, r in FAULTS], weights)[0]
        try:
            FAKE.control(rules=[dict(rule)])
        except OSError:
            return


def fault_summary():
    """What the fake did to the requests it received."""
    reqs = FAKE.requests()
    applied = [r for r in reqs if r["action"]]

    def count(path, action, reused=None):
        return sum(1 for r in applied if r["action"] == action and
                   (path is None or r["path"] == path) and
                   (reused is None or (r["conn_nth"] > 1) == reused))
    return (f"{count('/works.create', 'create_drop')} works.create carried "
            f"out then reset ({count('/works.create', 'create_drop', True)}"
            f" of them on a kept-alive connection), "
            f"{count('/timeline-entries.create', 'create_drop')} "
            f"timeline-entries.create carried out then reset, "
            f"{count(None, 'status')} 5xx, {count(None, 'drop')} reset "
            f"unanswered; {len(reqs)} requests")


def check_tickets(db, ledger):
    """Alerts for the frustrated customers, one ticket per alert."""
    with ledger.lock:
        frustrated = {m["customer_id"] for m in ledger.msgs.values()
                      if m["message"] in FRUSTRATED}
    alerts = db_query(db, "SELECT alert_key, customer_id, ticket_id "
                      "FROM alerts")
    per_customer = {}
    for key, cust, _ in alerts:
        per_customer[cust] = per_customer.get(cust, 0) + 1
    check(set(per_customer) == frustrated,
          f"alerts for {sorted(per_customer)} != {sorted(frustrated)}")
    open_per_customer = db_query(db, "SELECT customer_id, count(*) FROM "
                                 "alerts WHERE state = 'open' GROUP BY "
                                 "customer_id HAVING count(*) > 1")
    check(not open_per_customer, f"two open alerts: {open_per_customer}")
    works = FAKE.state()["works"]
    marker = "frustration-alert-id: "
    by_key = {}
    for w in works:
        key = w["body"].rsplit(marker, 1)[-1].strip()
        by_key.setdefault(key, []).append(w["id"])
    keys = {a[0] for a in alerts}
    missing = keys - set(by_key)
    twice = {k: v for k, v in by_key.items() if len(v) > 1}
    stray = set(by_key) - keys
    check(not missing, f"{len(missing)} alerts without a ticket")
    check(not twice, f"{len(twice)} alerts with more than one ticket: "
          f"{dict(list(twice.items())[:3])}")
    check(not stray, f"tickets for unknown alerts: {stray}")
    for key, _, ticket in alerts:
        check(ticket == by_key[key][0], f"alert {key}: ticket {ticket} "
              f"!= {by_key[key][0]}")
    return len(alerts), len(works)


def test_kill_during_load():
    FAKE.reset()
    db = os.path.join(TMP, "load", "fa.db")
    ledger = Ledger()
    rng = random.Random(int(os.environ.get("CRASH_SEED", "0")) or None)
    stats = []
    for cycle in range(CYCLES):
        graceful = cycle == CYCLES - 1
        srv = Server(db, devrev=FAKE, env=ENV)
        try:
            resent, dups, sampled = resend(srv, ledger, rng)
            stop = threading.Event()
            threads = [threading.Thread(
                target=client, args=(srv.port, ledger,
                                     load_groups(rng, cycle, t, 100000),
                                     stop), daemon=True)
                for t in range(THREADS)]
            before = len(ledger.acked)
            faults = threading.Thread(
                target=faulter, args=(random.Random(rng.random()), stop),
                daemon=True)
            faults.start()
            for th in threads:
                th.start()
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
            acked, stored = acked_all_stored(db, ledger)
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
        resend(srv, ledger, rng)
        t0 = time.time()
        wait_until(lambda: db_query(db, "SELECT count(*) FROM outbox WHERE "
                                    "state = 'pending'")[0][0] == 0,
                   timeout=30, what="outbox drained")
        print(f"  outbox drained {time.time() - t0:.1f} s after the last "
              f"restart", flush=True)
        acked, stored = acked_all_stored(db, ledger)
        check(acked == len(ledger.msgs) == stored,
              f"sent {len(ledger.msgs)}, acknowledged {acked}, "
              f"stored {stored}")
        dead = db_query(db, "SELECT count(*) FROM outbox WHERE state = "
                        "'dead'")[0][0]
        check(dead == 0, f"{dead} dead letters")
        print(f"  DevRev's faults: {fault_summary()}", flush=True)
        alerts, works = check_tickets(db, ledger)
        lookups = len(FAKE.requests("/works.list"))
        print(f"  total: {len(ledger.msgs)} messages all stored, {alerts} "
              f"alerts, {works} tickets ({lookups} lookups after unknown "
              f"outcomes); 0 lost, 0 missing, 0 duplicate tickets",
              flush=True)
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
