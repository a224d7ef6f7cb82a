#!/usr/bin/env python3
"""Several `serve` instances on one PostgreSQL database, under faults:
the real binary, a throwaway cluster (pg_cluster.py) and the fake DevRev.

- An instance killed (-9) while DevRev holds its works.create: another
  instance takes the entry over once the lease has run out, looks the
  ticket up (the outcome is unknown) and adopts it: one ticket.
- Fencing: an instance whose lease ran out while its request hung (it
  was stopped meanwhile) gets its late result refused: the entry keeps
  what the new claim recorded, and the log says why.
- PostgreSQL stopped and started again under load: meanwhile /webhook
  answers 503 store_unavailable and /health says the store is
  unavailable, also on an instance that gets no messages; afterwards
  every instance stores and delivers again by itself, and every message
  that was acknowledged is in the database.

Skipped (exit 77) where no PostgreSQL cluster can be made.
"""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import check, wait_until  # noqa: E402
import pg_instances as pgi  # noqa: E402
from pg_instances import ANGRY, CALM, sql, sql_int  # noqa: E402

FAKE = None
LEASE_MS = 2000
# Below the lease, as check-config demands.
TIMEOUT_MS = 1500
LEASE_ENV = {"OUTBOX_LEASE_MS": str(LEASE_MS),
             "DEVREV_TIMEOUT_MS": str(TIMEOUT_MS)}


def held_entry(url):
    """The create_ticket entry under a lease: (lease_until, token, pid of
    the owner)."""
    rows = sql(url, "SELECT o.lease_until, o.lease_token, i.pid FROM outbox o"
               " JOIN instances i ON i.id = o.lease_owner"
               " WHERE o.kind = 'create_ticket' AND o.state = 'pending'"
               " AND o.lease_until > 0")
    return (int(rows[0][0]), int(rows[0][1]), int(rows[0][2])) if rows else None


def owner_and_other(servers, pid):
    owner = [s for s in servers if s.proc.pid == pid]
    check(len(owner) == 1, f"the lease names one of ours ({pid})")
    return owner[0], [s for s in servers if s is not owner[0]][0]


def test_killed_instance_lease_taken_over():
    """kill -9 of the instance whose works.create DevRev holds: the other
    one claims the entry only after the lease, looks the ticket up and
    adopts it; exactly one ticket, and the alert holds it."""
    FAKE.reset()
    url = pgi.fresh_db()
    servers = pgi.instances(2, url, env=LEASE_ENV, devrev=FAKE)
    try:
        # Processed at once, answered much later: the ticket exists, the
        # sender does not know it.
        FAKE.control(rules=[{"path": "/works.create", "action": "hang",
                             "seconds": 30}])
        st, body = servers[0].post({"message_id": "k-1", "customer_id": "k",
                                    "message": ANGRY})
        check(st == 200 and body["alert"] == "created", body)
        wait_until(lambda: FAKE.requests("/works.create"),
                   what="works.create held by the fake")
        until, token, pid = wait_until(lambda: held_entry(url),
                                       what="the lease in the store")
        owner, other = owner_and_other(servers, pid)
        killed_at = time.time()
        owner.kill()
        wait_until(lambda: sql_int(url, "SELECT count(*) FROM alerts"
                                   " WHERE ticket_id IS NOT NULL") == 1,
                   timeout=LEASE_MS / 1000 + 15, what="the ticket adopted")
        took = time.time() - killed_at
        works = FAKE.state()["works"]
        check(len(works) == 1, f"{len(works)} tickets")
        check(len(FAKE.requests("/works.create")) == 1, "created once")
        ticket = sql(url, "SELECT ticket_id FROM alerts")[0][0]
        check(ticket == works[0]["id"], f"the alert holds {ticket}")
        rows = sql(url, "SELECT state, lease_token FROM outbox"
                   " WHERE kind = 'create_ticket'")
        check(rows[0][0] == "done" and int(rows[0][1]) > token,
              f"done under a newer claim: {rows}")
        lookups = FAKE.requests("/works.list")
        check(lookups, "the survivor looked the ticket up")
        # Not before the dead instance's lease had run out.
        first = min(r["t"] for r in lookups) * 1000
        check(first >= until - 50,
              f"looked up {until - first:.0f} ms before the lease ended")
        check("adopting ticket" in other.log(), other.log()[-2000:])
        print(f"  taken over {took:.2f} s after the kill "
              f"(lease {LEASE_MS} ms)")
    finally:
        pgi.stop_all(servers)


def test_new_instance_recovers_only_dead_leases():
    """Two instances each hold a works.create at DevRev; one is killed
    (-9). An instance started then releases the dead one's lease at once
    (its instance lock is gone), not the live one's, and forgets the dead
    instance; the dead one's entry is looked up and adopted long before
    its lease (the default, 5 minutes) would have run out."""
    FAKE.reset()
    url = pgi.fresh_db()
    env = {"DEVREV_TIMEOUT_MS": "20000"}
    servers = pgi.instances(2, url, env=env, devrev=FAKE)
    late = None
    try:
        FAKE.control(rules=[{"path": "/works.create", "action": "hang",
                             "seconds": 15, "count": 2}])
        for i, s in enumerate(servers):
            st, body = s.post({"message_id": f"r-{i}", "customer_id":
                               f"r-{i}", "message": ANGRY})
            check(st == 200, body)
        wait_until(lambda: len(FAKE.requests("/works.create")) == 2,
                   what="both works.create held")
        held = {}
        for row in sql(url, "SELECT o.id, i.pid, o.lease_token FROM outbox o"
                       " JOIN instances i ON i.id = o.lease_owner"
                       " WHERE o.lease_until > 0"):
            held[int(row[1])] = (row[0], row[2])
        check(sorted(held) == sorted(s.proc.pid for s in servers),
              f"each instance holds one: {held}")
        dead, alive = servers
        dead_entry, alive_entry = held[dead.proc.pid], held[alive.proc.pid]
        dead.kill()
        t0 = time.time()
        late = pgi.instances(1, url, env=env, devrev=FAKE)[0]
        # The live instance's lease is untouched.
        row = sql(url, "SELECT i.pid, o.lease_token FROM outbox o JOIN"
                  f" instances i ON i.id = o.lease_owner WHERE o.id ="
                  f" {alive_entry[0]}")
        check(row == [[str(alive.proc.pid), alive_entry[1]]],
              f"the live instance keeps its lease: {row}")
        pids = {int(r[0]) for r in sql(url, "SELECT pid FROM instances")}
        check(dead.proc.pid not in pids and alive.proc.pid in pids and
              late.proc.pid in pids, f"instances: {pids}")
        wait_until(lambda: sql(url, "SELECT state FROM outbox WHERE id ="
                               f" {dead_entry[0]}") == [["done"]],
                   timeout=10, what="the dead instance's entry adopted")
        took = time.time() - t0
        check(len(FAKE.requests("/works.create")) == 2 and
              len(FAKE.state()["works"]) == 2, "two alerts, two tickets")
        print(f"  the dead instance's entry done {took:.2f} s after the kill")
    finally:
        pgi.stop_all(servers + ([late] if late else []))


STATE_SQL = ("SELECT o.state, o.lease_token, o.lease_owner, o.lease_until,"
             " o.outcome_unknown, o.last_error, a.ticket_id,"
             " (SELECT count(*) FROM delivery_attempts d"
             "  WHERE d.outbox_id = o.id)"
             " FROM outbox o JOIN alerts a ON a.id = o.alert_id"
             " WHERE o.kind = 'create_ticket'")


def test_late_answer_after_lease_is_fenced():
    """An instance stopped while DevRev answers its works.create: its
    lease runs out and the other instance claims the entry (its lookup
    is slow). Resumed, the stopped one's result is refused: the entry
    stays as the new claim holds it (no state, lease or attempt written)
    and the log names both leases; the new claim then adopts the ticket."""
    FAKE.reset()
    url = pgi.fresh_db()
    servers = pgi.instances(2, url, env=LEASE_ENV, devrev=FAKE)
    stopped = None
    try:
        FAKE.control(rules=[{"path": "/works.create", "action": "hang",
                             "seconds": 0.5},
                            {"path": "/works.list", "action": "hang",
                             "seconds": 1.2}])
        st, body = servers[1].post({"message_id": "f-1", "customer_id": "f",
                                    "message": ANGRY})
        check(st == 200, body)
        wait_until(lambda: FAKE.requests("/works.create"),
                   what="works.create at the fake")
        until, token, pid = wait_until(lambda: held_entry(url),
                                       what="the lease in the store")
        slow, other = owner_and_other(servers, pid)
        os.kill(pid, signal.SIGSTOP)
        stopped = pid
        # The other instance claims it after the lease, and looks up.
        wait_until(lambda: FAKE.requests("/works.list"),
                   timeout=LEASE_MS / 1000 + 10, what="the new claim's lookup")
        before = sql(url, STATE_SQL)
        check(before[0][0] == "pending" and int(before[0][1]) != token,
              f"claimed again: {before}")
        os.kill(pid, signal.SIGCONT)
        stopped = None
        refused = wait_until(
            lambda: [line for line in slow.log().splitlines()
                     if "this result is not recorded" in line],
            timeout=TIMEOUT_MS / 1000 + 10, what="the refusal in the log")
        new_token = before[0][1]
        check(f"is pending under lease {new_token}, not lease {token}"
              in refused[0], refused[0])
        print("  " + refused[0].split(None, 2)[2])
        now = sql(url, STATE_SQL)
        if now[0][0] == "pending":
            check(now == before, f"the late result changed the entry:\n"
                  f"{before}\n{now}")
        wait_until(lambda: sql(url, STATE_SQL)[0][0] == "done",
                   timeout=10, what="the new claim finishes")
        final = sql(url, STATE_SQL)[0]
        works = FAKE.state()["works"]
        check(len(works) == 1, f"{len(works)} tickets")
        check(final[1] == new_token and final[6] == works[0]["id"],
              f"finished by the new claim with the ticket: {final}")
        # Only the new claim's lookup is recorded, not the late result.
        check(final[7] == "1", f"{final[7]} attempts recorded")
        check("adopting ticket" in other.log(), other.log()[-2000:])
    finally:
        if stopped:
            os.kill(stopped, signal.SIGCONT)
        pgi.stop_all(servers)


def test_lookup_then_create_within_the_lease():
    """A create_ticket whose outcome is unknown is looked up, then
    created: two requests, each within DEVREV_TIMEOUT_MS, together
    longer than the lease. The create must not go out under a lease
    that ends before it does: another instance would claim the entry,
    find no ticket yet (DevRev acts late) and create a second one."""
    FAKE.reset()
    url = pgi.fresh_db()
    servers = pgi.instances(2, url, env=LEASE_ENV, devrev=FAKE)
    try:
        FAKE.control(rules=[
            # First attempt: the connection breaks, nothing is done.
            {"path": "/works.create", "action": "drop"},
            # The lookup is slow and finds nothing...
            {"path": "/works.list", "action": "hang", "seconds": 1.0},
            # ...and the create is slow before DevRev acts on it.
            {"path": "/works.create", "action": "delay", "seconds": 1.2}])
        st, body = servers[0].post({"message_id": "lc-1", "customer_id":
                                    "lc", "message": ANGRY})
        check(st == 200, body)
        wait_until(lambda: sql_int(url, "SELECT count(*) FROM alerts"
                                   " WHERE ticket_id IS NOT NULL") == 1,
                   timeout=20, what="the ticket")
        time.sleep(LEASE_MS / 1000 + 1)
        works = FAKE.state()["works"]
        check(len(works) == 1, f"{len(works)} tickets: "
              f"{[(round(r['t'] % 100, 2), r['path']) for r in FAKE.requests()]}")
        ticket = sql(url, "SELECT ticket_id FROM alerts")[0][0]
        check(ticket == works[0]["id"], "the alert holds it")
    finally:
        pgi.stop_all(servers)


def test_result_recorded_after_outage():
    """PostgreSQL stops while DevRev holds a works.create; the answer
    comes while the store is down. Once PostgreSQL is back, the worker
    records that answer (the ticket), without waiting for its lease to
    run out and without asking DevRev again."""
    FAKE.reset()
    url = pgi.fresh_db()
    srv = pgi.instances(1, url, devrev=FAKE)[0]
    try:
        FAKE.control(rules=[{"path": "/works.create", "action": "hang",
                             "seconds": 1.5}])
        st, body = srv.post({"message_id": "o-1", "customer_id": "o",
                             "message": ANGRY})
        check(st == 200, body)
        wait_until(lambda: FAKE.requests("/works.create"),
                   what="works.create at the fake")
        pgi.PG.stop()
        wait_until(lambda: FAKE.requests("/works.create")[0]["status"],
                   timeout=10, what="the fake's answer")
        # Longer than the worker's first tries to record it.
        time.sleep(2.0)
        pgi.PG.start()
        up = time.time()
        wait_until(lambda: sql_int(url, "SELECT count(*) FROM alerts"
                                   " WHERE ticket_id IS NOT NULL") == 1,
                   timeout=15, what="the ticket recorded after the outage")
        took = time.time() - up
        check(len(FAKE.state()["works"]) == 1, "one ticket")
        check(FAKE.requests("/works.list") == [] and
              len(FAKE.requests("/works.create")) == 1,
              "recorded, not asked again")
        rows = sql(url, "SELECT state, attempts FROM outbox")
        check(rows == [["done", "1"]], rows)
        print(f"  recorded {took:.2f} s after PostgreSQL was back")
    finally:
        if not pgi.PG.running:
            pgi.PG.start()
        srv.stop()


def test_lost_claim_taken_again_by_its_instance():
    """A claim committed whose answer the instance never got (the
    connection broke): the entry is leased to a live instance that does
    not work on it. Its worker claims it again at once (its one worker
    holds nothing when it claims), not after the lease."""
    FAKE.reset()
    url = pgi.fresh_db()
    srv = pgi.instances(1, url, devrev=FAKE)[0]
    try:
        FAKE.control(rules=[{"path": "/works.create", "action": "status",
                             "status": 429, "retry_after": 2}])
        st, body = srv.post({"message_id": "l-1", "customer_id": "l",
                             "message": ANGRY})
        check(st == 200, body)
        wait_until(lambda: FAKE.requests("/works.create"), what="the 429")
        # During the pause: what the lost claim left behind.
        sql(url, "UPDATE outbox SET attempts = attempts + 1,"
            " lease_until = (extract(epoch from now()) * 1000)::bigint"
            " + 300000, lease_owner = (SELECT max(id) FROM instances),"
            " lease_token = nextval('lease_tokens'), outcome_unknown = true"
            " WHERE state = 'pending'")
        wait_until(lambda: sql_int(url, "SELECT count(*) FROM alerts"
                                   " WHERE ticket_id IS NOT NULL") == 1,
                   timeout=10, what="the entry delivered after the pause")
        check(len(FAKE.state()["works"]) == 1, "one ticket")
        check(FAKE.requests("/works.list"), "looked up first (unknown)")
    finally:
        srv.stop()


class Load:
    """Threads posting new messages to the servers in turn; records every
    answer (message id, status, error code)."""

    def __init__(self, servers, threads=4):
        self.servers = servers
        self.answers = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,))
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, n):
        i = 0
        while not self.stop.is_set():
            mid = f"load-{n}-{i}"
            srv = self.servers[i % len(self.servers)]
            text = ANGRY if i % 7 == 0 else CALM
            try:
                st, body = srv.post({"message_id": mid, "customer_id":
                                     f"lc-{n}-{i // 20}", "message": text},
                                    timeout=20)
                err = body.get("error") if isinstance(body, dict) else None
            except Exception as e:  # noqa: BLE001 - recorded
                st, err = None, repr(e)
            with self.lock:
                self.answers.append((time.time(), mid, st, err))
            i += 1
            time.sleep(0.005)

    def since(self, t):
        with self.lock:
            return [a for a in self.answers if a[0] >= t]

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)
        return self.answers


def test_postgres_restart_under_load():
    """PostgreSQL stopped for a while under load, then started again."""
    FAKE.reset()
    url = pgi.fresh_db()
    a, b, idle = pgi.instances(3, url, devrev=FAKE)
    load = None
    try:
        load = Load([a, b])
        time.sleep(1.0)
        down_at = time.time()
        pgi.PG.stop()
        # Answers that began after the stop.
        wait_until(lambda: len([x for x in load.since(down_at + 0.5)
                                if x[2] == 503]) >= 10,
                   timeout=20, what="503s while PostgreSQL is down")
        outage = load.since(down_at + 0.5)
        bad = [x for x in outage if x[2] != 503 or x[3] != "store_unavailable"]
        check(bad == [], f"not 503 store_unavailable while down: {bad[:5]}")
        for s, what in ((a, "a loaded instance"), (idle, "an idle instance")):
            h = wait_until(lambda s=s: (lambda r: r[0] == 503 and r)(
                s.health()), timeout=5, what=f"/health of {what}")
            check(h[1]["status"] == "store_unavailable" and
                  h[1]["store"]["ok"] is False, f"{what}: {h}")
        up_at = time.time()
        pgi.PG.start()
        # Every instance stores again by itself, and /health says so.
        for s in (a, b, idle):
            wait_until(lambda s=s: s.post({"message_id": f"probe-{s.port}",
                                           "customer_id": "probe",
                                           "message": CALM})[0] == 200,
                       timeout=20, what="a message stored after the restart")
            wait_until(lambda s=s: s.health()[0] == 200, timeout=10,
                       what="/health ok after the restart")
        back = time.time() - up_at
        time.sleep(1.0)
        answers = load.finish()
        load = None
        acked = {x[1] for x in answers if x[2] == 200}
        other = [x for x in answers if x[2] not in (200, 503)]
        check(other == [], f"answers other than 200/503: {other[:5]}")
        stored = {r[0] for r in sql(url, "SELECT message_id FROM messages")}
        lost = acked - stored
        check(not lost, f"{len(lost)} acknowledged messages lost: "
              f"{sorted(lost)[:5]}")
        check(len([x for x in answers if x[2] == 200 and x[0] > up_at]) > 0,
              "acknowledged after the restart")
        # Nothing half-stored: every alert has its messages and its
        # create_ticket entry.
        check(sql_int(url, "SELECT count(*) FROM alerts a WHERE NOT EXISTS"
                      " (SELECT 1 FROM outbox o WHERE o.alert_id = a.id AND"
                      " o.kind = 'create_ticket')") == 0, "alert without entry")
        check(sql_int(url, "SELECT count(*) FROM alerts a WHERE NOT EXISTS"
                      " (SELECT 1 FROM messages m WHERE m.alert_id = a.id)")
              == 0, "alert without message")
        # The outbox workers reconnected too: every alert reaches DevRev.
        try:
            wait_until(lambda: sql_int(url, "SELECT count(*) FROM outbox"
                                       " WHERE state = 'pending'") == 0,
                       timeout=30, what="outbox drained after the restart")
        except AssertionError:
            print(sql(url, "SELECT id, kind, attempts, lease_until - "
                      "(extract(epoch from now()) * 1000)::bigint,"
                      " lease_owner, last_error FROM outbox"
                      " WHERE state = 'pending'"))
            for s in (a, b, idle):
                print("\n".join(s.log().splitlines()[-15:]))
            raise
        n_alerts = sql_int(url, "SELECT count(*) FROM alerts")
        check(len(FAKE.state()["works"]) == n_alerts,
              f"{len(FAKE.state()['works'])} tickets for {n_alerts} alerts")
        n503 = len([x for x in answers if x[2] == 503])
        print(f"  {len(acked)} acknowledged, {n503} refused with 503; "
              f"all instances back {back:.2f} s after the start")
    finally:
        if load:
            load.finish()
        if not pgi.PG.running:
            pgi.PG.start()
        pgi.stop_all([a, b, idle])


if __name__ == "__main__":
    sys.exit(pgi.main("test_pg_faults", globals(), [
        test_killed_instance_lease_taken_over,
        test_new_instance_recovers_only_dead_leases,
        test_late_answer_after_lease_is_fenced,
        test_lookup_then_create_within_the_lease,
        test_result_recorded_after_outage,
        test_lost_claim_taken_again_by_its_instance,
        test_postgres_restart_under_load]))
