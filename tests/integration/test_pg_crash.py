#!/usr/bin/env python3
"""The crash test with three instances on one PostgreSQL: kill -9 some of
them during a webhook load and check that nothing acknowledged is lost and
that DevRev gets exactly one ticket per alert.

Three `serve` processes share a throwaway cluster (pg_cluster.py) and the
fake DevRev (tests/fake_devrev.py), with a short delivery lease
(OUTBOX_LEASE_MS 3 s, DEVREV_TIMEOUT_MS below it) so that the leases a
killed instance held run out, and are taken over, within the test. Client
threads send frustrated and calm messages (single and small batches,
unique message ids) from a few dozen customers, each request to any live
instance, so one customer's messages reach several instances at once; a
few messages come from new customers, which opens alerts (and
works.create calls) throughout. Meanwhile, CRASH_CYCLES times, one or two
instances are killed with SIGKILL at a random moment, stay down for a
random while (sometimes longer than a lease), start again, and what was
never acknowledged is resent to any instance (with a sample of
acknowledged messages, which must answer as duplicates with their first
answer, from whichever instance). One of the kills lands on the instance
that is waiting for DevRev's answer to a works.create that DevRev has
already carried out (the fake holds the answer): another instance must
look the ticket up and adopt it. DevRev also fails now and then as in
test_crash.py: a create carried out and then the connection reset, 500s,
503s, resets.

After the load every instance drains its outbox, then:
  - every acknowledged message is in the messages table, and so is every
    message sent;
  - an alert for every customer that sent a frustrated message, one open
    alert per customer at most, and episodes that make sense: per
    customer, only the newest alert open, each alert's messages
    consecutive in commit order and started by the message that created
    it, its message_count equal to its messages, and the next episode
    starting more than ALERT_COOLDOWN after the last activity of the one
    before;
  - exactly one ticket per alert at DevRev, none missing, every alert
    holding its ticket id; the ticket held during a kill is the one
    adopted; exactly one comment per comment entry finished, on its
    alert's ticket, none twice;
  - every lease a killed instance held was taken over and finished, and
    there are no dead letters;
  - SIGTERM stops each instance with status 0.

Knobs for longer local runs: CRASH_CYCLES (kill rounds, default 4),
CRASH_SEED (replays a run's choices of kills, customers and faults),
CRASH_PACE_MS, CRASH_FAULT_MS. Bounded time (about a minute by default);
every process is killed in finally blocks and the cluster removed.
Skipped (exit 77) where no PostgreSQL cluster can be made. The last line
reads "N passed, M failed".
"""
import http.client
import os
import random
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import (check, HOST, run_with_fake, Server,  # noqa: E402
                        wait_until)
from crash_load import (acked_all_stored, alert_key_of,  # noqa: E402
                        check_comments, check_tickets, client,
                        fault_summary, faulter,
                        FRUSTRATED, Ledger, load_groups, post, resend,
                        seeded_rng)
import pg_cluster  # noqa: E402

CYCLES = int(os.environ.get("CRASH_CYCLES", "4"))
INSTANCES = 3
THREADS = 4
CUSTOMERS = 30
# A request in this many comes from a customer never seen before.
NEW_CUSTOMER_EVERY = 25
PACE_S = float(os.environ.get("CRASH_PACE_MS", "10")) / 1000
FAULT_S = float(os.environ.get("CRASH_FAULT_MS", "150")) / 1000
LEASE_MS = 3000
TIMEOUT_MS = 2000
COOLDOWN_MS = 1000
ENV = {"ALERT_COOLDOWN": str(COOLDOWN_MS // 1000),
       "OUTBOX_LEASE_MS": str(LEASE_MS),
       "DEVREV_TIMEOUT_MS": str(TIMEOUT_MS)}
# How long the fake holds the answer of the works.create a kill lands on.
HANG_S = 4
DRAIN_S = 60
FAKE = None
PG = None  # the cluster, for every test here


def new_database(name):
    """The URL of a new database on the cluster, for one test."""
    PG.psql(f"CREATE DATABASE {name}")
    return PG.url.rsplit("/", 1)[0] + "/" + name


def rows(url, sql):
    """sql's rows on the database at url, as tuples of text (psql's
    unaligned output: the columns read here hold no '|' and no newline;
    NULL reads as '')."""
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v",
                        "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                       capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    check(p.returncode == 0, f"psql: {p.stderr.strip()}")
    out = p.stdout.strip()
    return [tuple(line.split("|")) for line in out.splitlines()] if out \
        else []


def count(url, sql):
    r = rows(url, sql)
    return int(r[0][0]) if r else 0


class Fleet:
    """The instances, by slot; pick() names a live one's port."""

    def __init__(self, url, env=ENV, n=INSTANCES):
        self.url = url
        self.env = env
        self.lock = threading.Lock()
        self.srv = [None] * n
        self.retired = []  # killed servers, for their logs
        for i in range(n):
            self.start(i)

    def start(self, i):
        srv = Server(self.url, devrev=FAKE, env=self.env)
        with self.lock:
            self.srv[i] = srv

    def kill(self, i):
        """SIGKILL slot i; returns the outbox entries whose lease it held
        (they must be taken over)."""
        with self.lock:
            srv, self.srv[i] = self.srv[i], None
        srv.kill()
        self.retired.append(srv)
        now_ms = int(time.time() * 1000)
        return {int(r[0]) for r in rows(self.url, (
            "SELECT o.id FROM outbox o JOIN instances i"
            " ON i.id = o.lease_owner"
            f" WHERE i.pid = {srv.proc.pid} AND o.state = 'pending'"
            f" AND o.lease_until > {now_ms}"))}

    def slot_of_pid(self, pid):
        with self.lock:
            for i, srv in enumerate(self.srv):
                if srv and srv.proc.pid == pid:
                    return i
        return None

    def live(self):
        with self.lock:
            return [i for i, s in enumerate(self.srv) if s]

    def pick(self):
        with self.lock:
            ports = [s.port for s in self.srv if s]
        return random.choice(ports) if ports else None

    def port(self, i):
        with self.lock:
            return self.srv[i].port

    def logs(self):
        with self.lock:
            srvs = self.retired + [s for s in self.srv if s]
        return "".join(s.log() for s in srvs)

    def close(self):
        with self.lock:
            srvs = [s for s in self.srv if s]
            self.srv = [None] * len(self.srv)
        for s in srvs:
            s.kill()


def groups_for(rng, t):
    """A client's requests; every NEW_CUSTOMER_EVERY-th message comes
    from a new customer (a new alert when it is frustrated)."""
    groups = load_groups(rng, f"t{t}", 100000, CUSTOMERS)
    for n, g in enumerate(groups):
        if n % NEW_CUSTOMER_EVERY == NEW_CUSTOMER_EVERY - 1:
            g[0]["customer_id"] = f"new-t{t}-{n}"
    return groups


def kill_mid_create(fleet, ledger, tag):
    """Makes DevRev hold the answer of the next works.create (carried
    out), opens an alert for a new customer, and kills the instance
    waiting for that answer before its request times out. Returns
    (alert key, ticket id, slot, leases it held), or None when no create
    was caught in time."""
    n0 = FAKE.request_count()
    FAKE.control(rules=[{"path": "/works.create", "action": "hang",
                         "seconds": HANG_S}])
    m = {"customer_id": f"hang-{tag}", "message_id": f"hang-{tag}",
         "message": FRUSTRATED[0]}
    with ledger.lock:
        ledger.msgs[m["message_id"]] = m
        ledger.sent.add(m["message_id"])
    conn = http.client.HTTPConnection(HOST, fleet.pick(), timeout=10)
    try:
        st, data = post(conn, m)
    finally:
        conn.close()
    if st == 200:
        with ledger.lock:
            ledger.acked.setdefault(m["message_id"], data)
    deadline = time.time() + 5
    hung = None
    while hung is None and time.time() < deadline:
        hung = next((r for r in FAKE.requests("/works.create", since=n0)
                     if r["action"] == "hang"), None)
        if hung is None:
            time.sleep(0.02)
    if hung is None or time.time() - hung["t"] > TIMEOUT_MS / 1000 - 0.3:
        return None
    key = alert_key_of(hung["body"]["body"])
    pid = rows(fleet.url, "SELECT i.pid FROM outbox o JOIN alerts a"
               " ON a.id = o.alert_id JOIN instances i ON i.id = o.lease_owner"
               f" WHERE a.alert_key = '{key}' AND o.kind = 'create_ticket'"
               " AND o.state = 'pending'")
    slot = fleet.slot_of_pid(int(pid[0][0])) if pid else None
    if slot is None or time.time() - hung["t"] > TIMEOUT_MS / 1000 - 0.1:
        return None
    orphaned = fleet.kill(slot)
    # The request was sent and carried out; no answer ever came.
    work = next(w for w in FAKE.state()["works"]
                if alert_key_of(w["body"]) == key)
    return key, work["id"], slot, orphaned


def check_episodes(url):
    """Per customer: only the newest alert open; each alert's messages
    consecutive in commit order (message ids are taken under the
    customer's lock), the first one the message that created it, the rest
    appended; message_count right; episodes COOLDOWN_MS apart."""
    alerts = {}
    per_customer = {}
    for aid, cust, state, created, last, n in rows(
            url, "SELECT id, customer_id, state, created_at,"
            " last_activity_at, message_count FROM alerts ORDER BY id"):
        alerts[aid] = (cust, state, int(created), int(last), int(n))
        per_customer.setdefault(cust, []).append(aid)
    for cust, ids in per_customer.items():
        states = [alerts[a][1] for a in ids]
        check(states == ["closed"] * (len(ids) - 1) + ["open"],
              f"{cust}: alerts {ids} are {states}")
        for prev, nxt in zip(ids, ids[1:]):
            gap = alerts[nxt][2] - alerts[prev][3]
            check(gap > COOLDOWN_MS, f"{cust}: alert {nxt} opened {gap} ms "
                  f"after the last activity of alert {prev}")
    seen = {}
    last_alert = {}
    for mid, cust, aid, outcome in rows(
            url, "SELECT message_id, customer_id, alert_id, alert_outcome"
            " FROM messages WHERE alert_id IS NOT NULL ORDER BY id"):
        check(alerts[aid][0] == cust, f"{mid} of {cust} in alert {aid} of "
              f"{alerts[aid][0]}")
        order = per_customer[cust]
        prev = last_alert.get(cust)
        if prev != aid:
            check(prev is None or order.index(aid) == order.index(prev) + 1,
                  f"{cust}: {mid} goes to alert {aid} after alert {prev}")
            check(outcome == "created", f"{mid} starts alert {aid} but "
                  f"was {outcome}")
        else:
            check(outcome == "appended", f"{mid} in alert {aid}: {outcome}")
        last_alert[cust] = aid
        seen[aid] = seen.get(aid, 0) + 1
    for aid, (cust, _, _, _, n) in alerts.items():
        check(seen.get(aid, 0) == n, f"alert {aid} of {cust}: "
              f"message_count {n}, {seen.get(aid, 0)} messages")
    return len(per_customer)


def test_three_instances_kill_during_load():
    FAKE.reset()
    rng, seed = seeded_rng(os.environ.get("CRASH_SEED"))
    print(f"  CRASH_SEED={seed}", flush=True)
    random.seed(rng.random())  # Fleet.pick
    ledger = Ledger()
    url = new_database("load")
    fleet = None
    t_start = time.time()
    try:
        fleet = Fleet(url)
        stop = threading.Event()
        threads = [threading.Thread(
            target=client, args=(ledger, groups_for(rng, t), stop,
                                 fleet.pick, PACE_S, True), daemon=True)
            for t in range(THREADS)]
        threads.append(threading.Thread(
            target=faulter, args=(FAKE, random.Random(rng.random()), stop,
                                  FAULT_S), daemon=True))
        for th in threads:
            th.start()
        kills = 0
        orphaned = set()
        held = []  # (alert key, ticket id) of creates held during a kill
        hang_at = rng.randrange(CYCLES)
        try:
            for cycle in range(CYCLES):
                time.sleep(rng.uniform(0.4, 1.2))
                victims = []
                mid_create = False
                if cycle >= hang_at and not held:
                    for attempt in range(3):
                        got = kill_mid_create(fleet, ledger,
                                              f"{cycle}-{attempt}")
                        if got:
                            key, work, slot, leases = got
                            held.append((key, work))
                            victims.append(slot)
                            orphaned |= leases
                            mid_create = True
                            break
                if not victims:
                    victims = rng.sample(fleet.live(), rng.choice((1, 2)))
                    for i in victims:
                        orphaned |= fleet.kill(i)
                kills += len(victims)
                down = rng.uniform(0.1, LEASE_MS / 1000 * 1.3)
                time.sleep(down)
                for i in victims:
                    fleet.start(i)
                port = fleet.port(rng.choice(fleet.live()))
                resent, dups, sampled = resend(port, ledger, rng, 10)
                print(f"  cycle {cycle}: killed {len(victims)} "
                      f"{'(mid works.create) ' if mid_create else ''}"
                      f"down {down:.1f} s; resent {resent} (of which {dups}"
                      f" were committed), {sampled} acknowledged resent as "
                      f"duplicates; {len(ledger.acked)} acknowledged so "
                      f"far", flush=True)
        finally:
            stop.set()
            for th in threads:
                th.join(timeout=15)
        check(all(not th.is_alive() for th in threads),
              "a client thread hung")
        check(held, "no kill landed while DevRev held a works.create")
        load_s = time.time() - t_start
        resend(fleet.pick(), ledger, rng, 25)
        t0 = time.time()
        wait_until(lambda: count(url, "SELECT count(*) FROM outbox"
                                 " WHERE state = 'pending'") == 0,
                   timeout=DRAIN_S, step=0.2, what="outboxes drained")
        drain_s = time.time() - t0

        def query(sql):
            return rows(url, sql)
        acked, stored = acked_all_stored(query, ledger)
        check(acked == len(ledger.msgs) == stored,
              f"sent {len(ledger.msgs)}, acknowledged {acked}, "
              f"stored {stored}")
        dead = count(url, "SELECT count(*) FROM outbox WHERE state = 'dead'")
        check(dead == 0, f"{dead} dead letters")
        alerts, works = check_tickets(query, FAKE, ledger)
        comments = check_comments(query, FAKE)
        customers = check_episodes(url)
        for key, work in held:
            t = rows(url, f"SELECT ticket_id FROM alerts"
                     f" WHERE alert_key = '{key}'")
            check(t == [(work,)], f"held create of {key}: ticket {t}, "
                  f"DevRev made {work}")
        if orphaned:
            ids = ",".join(str(i) for i in sorted(orphaned))
            left = rows(url, "SELECT id, state FROM outbox"
                        f" WHERE id IN ({ids}) AND state <> 'done'")
            check(not left, f"leases of killed instances not finished: "
                  f"{left}")
        lookups = len(FAKE.requests("/works.list"))
        adopted = count(url, "SELECT count(*) FROM delivery_attempts"
                        " WHERE result = 'found'")
        logs = fleet.logs()
        fenced = logs.count("another claim owns it now")
        print(f"  DevRev's faults: {fault_summary(FAKE)}", flush=True)
        print(f"  total: {len(ledger.msgs)} messages all stored "
              f"({ledger.refused} answers not 200, resent), {alerts} alerts "
              f"for {customers} customers, {works} tickets, {comments} "
              f"comments; {kills} kills "
              f"({len(held)} mid works.create), {len(orphaned)} leases "
              f"taken over, {lookups} lookups, {adopted} tickets adopted, "
              f"{fenced} late finishes fenced; load {load_s:.1f} s, "
              f"drained in {drain_s:.1f} s; 0 lost, 0 missing, 0 duplicate "
              f"tickets or comments", flush=True)
        for i in fleet.live():
            with fleet.lock:
                srv = fleet.srv[i]
            rc = srv.stop()
            check(rc == 0, f"instance {i}: SIGTERM: exit {rc}\n"
                  f"{srv.log()[-3000:]}")
    finally:
        if fleet:
            fleet.close()


def test_lookup_and_create_in_one_lease():
    """After a lookup that found nothing, the create goes out only with a
    request timeout of lease left: a lease that runs out while DevRev is
    still carrying out the create lets the other instance claim the
    entry, look up, miss the ticket being made, and make a second one."""
    FAKE.reset()
    url = new_database("lease")
    env = dict(ENV, OUTBOX_LEASE_MS="2000", DEVREV_TIMEOUT_MS="1500")
    FAKE.control(rules=[
        # The first create fails after DevRev may have made the ticket
        # (500): the next claim looks it up first...
        {"path": "/works.create", "action": "status", "status": 500},
        # ...and the lookup is slow (1.2 s of the 2 s lease),
        {"path": "/works.list", "action": "hang", "seconds": 1.2},
        # and so is the create that follows (DevRev makes the ticket
        # 1.2 s after the request: after the lease would have run out).
        {"path": "/works.create", "action": "delay", "seconds": 1.2}])
    fleet = Fleet(url, env, 2)
    try:
        st, a = fleet.srv[0].post({"customer_id": "lease-1",
                                   "message_id": "lease-1",
                                   "message": FRUSTRATED[0]})
        check(st == 200 and a["alert"] == "created", a)
        wait_until(lambda: count(url, "SELECT count(*) FROM outbox"
                                 " WHERE state = 'pending'") == 0,
                   timeout=20, what="the outbox drained")
        time.sleep(1.5)  # a second create in flight would land by now
        creates = FAKE.requests("/works.create")
        check([r["action"] for r in creates][:2] == ["status", "delay"],
              f"the faults did not apply: {creates}")
        works = [w["id"] for w in FAKE.state()["works"]]
        check(len(works) == 1, f"{len(works)} tickets: {works}")
        ticket = rows(url, "SELECT ticket_id FROM alerts")
        check(ticket == [(works[0],)], f"alert holds {ticket}, not "
              f"{works[0]}")
        print(f"  {len(creates)} works.create, "
              f"{len(FAKE.requests('/works.list'))} lookups, 1 ticket",
              flush=True)
    finally:
        fleet.close()


def main():
    ok, why = pg_cluster.available()
    if not ok:
        print(f"test_pg_crash: SKIPPED: {why} (scripts/install-deps.sh test)")
        return 77
    global PG
    PG = pg_cluster.PgCluster().start()
    try:
        return run_with_fake(globals(), [test_three_instances_kill_during_load,
                                         test_lookup_and_create_in_one_lease])
    finally:
        PG.close()


if __name__ == "__main__":
    sys.exit(main())
