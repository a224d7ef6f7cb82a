"""What the crash tests share (test_crash.py on SQLite, test_pg_crash.py
on PostgreSQL with several instances): the messages, the ledger of what
was sent and acknowledged, the client threads, the resends, DevRev's
faults, and the final checks (nothing acknowledged lost, one ticket per
alert). Python 3 standard library only.

The checks read the store through query(sql) -> rows, a function the test
gives (sqlite3 on a file, psql on a server), so that they hold the same
for both backends. Values may come back as text (psql): the checks
compare text columns only and count with int().
"""
import http.client
import json
import random
import threading
import time

from fa_harness import HOST, check

FRUSTRATED = ["This is terrible, awful service",
              "Still broken, this is awful",
              "The service was poor",
              "Your app is frustrating and the support is useless"]
CALM = ["Thanks, all good now", "Can you tell me how to export invoices?"]

# DevRev's faults during a load: (weight, rule for tests/fake_devrev.py).
FAULTS = [
    (3, {"path": "/works.create", "action": "create_drop"}),
    (2, {"path": "/timeline-entries.create", "action": "create_drop"}),
    (1, {"path": "/works.create", "action": "status", "status": 500}),
    (1, {"action": "status", "status": 503}),
    (1, {"action": "drop"}),
]
MARKER = "frustration-alert-id: "


class Ledger:
    """What the clients sent and what the server acknowledged."""

    def __init__(self):
        self.lock = threading.Lock()
        self.msgs = {}      # message_id -> message
        self.acked = {}     # message_id -> the answer (one result object)
        self.sent = set()   # sent at least once
        self.refused = 0    # answers other than 200 (resent later)

    def unacked(self):
        with self.lock:
            return [self.msgs[m] for m in sorted(self.sent)
                    if m not in self.acked]


def make_msg(rng, mid, customers):
    cust = f"cust-{rng.randrange(customers):02d}"
    text = rng.choice(FRUSTRATED if rng.random() < 0.7 else CALM)
    return {"customer_id": cust, "message_id": mid, "message": text}


def load_groups(rng, prefix, n, customers):
    """n requests: single messages, every fifth a batch of three."""
    groups = []
    for i in range(n):
        size = 3 if i % 5 == 4 else 1
        groups.append([make_msg(rng, f"{prefix}-{i}-{k}", customers)
                       for k in range(size)])
    return groups


def post(conn, body):
    conn.request("POST", "/webhook", body=json.dumps(body).encode(),
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def client(ledger, items, stop, pick, pace_s, keep_going=False):
    """Sends items (lists of messages: one, or a batch) until stopped,
    each to the port pick() names (None: no server up, wait); records what
    was acknowledged. When a server goes away in the middle of a request
    its outcome is unknown (the message is resent later): without
    keep_going the client ends there, with it it goes on with the next
    item to whatever pick() names then."""
    conns = {}
    try:
        for group in items:
            port = pick()
            while port is None and not stop.wait(0.05):
                port = pick()
            if stop.is_set():
                return
            with ledger.lock:
                for m in group:
                    ledger.msgs[m["message_id"]] = m
                    ledger.sent.add(m["message_id"])
            body = group[0] if len(group) == 1 else {"messages": group}
            conn = conns.get(port)
            if conn is None:
                conn = conns[port] = http.client.HTTPConnection(
                    HOST, port, timeout=10)
            try:
                st, data = post(conn, body)
            except (OSError, http.client.HTTPException):
                conns.pop(port).close()
                if not keep_going:
                    return  # killed: whatever was in flight is unknown
                continue
            if st != 200:
                with ledger.lock:
                    ledger.refused += 1
                continue  # not acknowledged: resent later
            results = data["results"] if len(group) > 1 else [data]
            with ledger.lock:
                for m, r in zip(group, results):
                    ledger.acked.setdefault(m["message_id"], r)
            time.sleep(pace_s)
    finally:
        for conn in conns.values():
            conn.close()


def resend(port, ledger, rng, sample_size=25):
    """Resends every unacknowledged message to port, and a sample of
    acknowledged ones, which must come back as duplicates with their first
    answer. Returns (resent, of which duplicates, sampled)."""
    todo = ledger.unacked()
    with ledger.lock:
        acked = list(ledger.acked)
    sample = rng.sample(acked, min(len(acked), sample_size))
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
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


def acked_all_stored(query, ledger):
    """Every acknowledged message is in the store; returns (acknowledged,
    stored)."""
    with ledger.lock:
        acked = set(ledger.acked)
    stored = {r[0] for r in query("SELECT message_id FROM messages")}
    lost = acked - stored
    check(not lost, f"{len(lost)} acknowledged messages lost: "
          f"{sorted(lost)[:5]}")
    return len(acked), len(stored)


def faulter(fake, rng, stop, every_s):
    """Adds one of FAULTS to the fake every every_s until stopped. Each
    rule applies to the next matching request (or to none, when the load
    ends first; the few left over apply during the final drain)."""
    weights = [w for w, _ in FAULTS]
    while every_s > 0 and not stop.wait(every_s):
        rule = rng.choices([r for _, r in FAULTS], weights)[0]
        try:
            fake.control(rules=[dict(rule)])
        except OSError:
            return


def fault_summary(fake):
    """What the fake did to the requests it received."""
    reqs = fake.requests()
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
            f"unanswered, {count(None, 'hang')} answered late; "
            f"{len(reqs)} requests")


def alert_key_of(work_body):
    """The alert key a ticket's body ends with."""
    return work_body.rsplit(MARKER, 1)[-1].strip()


def check_tickets(query, fake, ledger):
    """Alerts for the frustrated customers, never two open for one
    customer, one ticket per alert at DevRev (matched by the marker line),
    none missing, none twice, and every alert holding its ticket id.
    Returns (alerts, tickets)."""
    with ledger.lock:
        frustrated = {m["customer_id"] for m in ledger.msgs.values()
                      if m["message"] in FRUSTRATED}
    alerts = query("SELECT alert_key, customer_id, ticket_id FROM alerts")
    per_customer = {}
    for key, cust, _ in alerts:
        per_customer[cust] = per_customer.get(cust, 0) + 1
    check(set(per_customer) == frustrated,
          f"alerts for {sorted(per_customer)} != {sorted(frustrated)}")
    open_per_customer = query("SELECT customer_id, count(*) FROM alerts "
                              "WHERE state = 'open' GROUP BY customer_id "
                              "HAVING count(*) > 1")
    check(not open_per_customer, f"two open alerts: {open_per_customer}")
    works = fake.state()["works"]
    by_key = {}
    for w in works:
        by_key.setdefault(alert_key_of(w["body"]), []).append(w["id"])
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


ENTRY = "frustration-alert-entry: "


def check_comments(query, fake):
    """One comment at DevRev per comment entry the outbox finished, on its
    alert's ticket (matched by the entry and marker lines), none twice and
    none for an entry that is not done. Returns the number of comments."""
    done = {(key, int(entry)): ticket for entry, key, ticket in query(
        "SELECT o.id, a.alert_key, a.ticket_id FROM outbox o JOIN alerts a"
        " ON a.id = o.alert_id WHERE o.kind = 'comment'"
        " AND o.state = 'done'")}
    seen = {}
    for c in fake.state()["comments"]:
        body = c["body"].rstrip()
        lines = body.split("\n")
        check(len(lines) >= 2 and lines[-2].startswith(ENTRY) and
              lines[-1].startswith(MARKER),
              f"a comment without its entry and marker lines: {body[-200:]}")
        entry = int(lines[-2][len(ENTRY):])
        seen.setdefault((alert_key_of(body), entry), []).append(c)
    twice = {k: len(v) for k, v in seen.items() if len(v) > 1}
    missing = set(done) - set(seen)
    stray = set(seen) - set(done)
    check(not twice, f"{len(twice)} comments made more than once: "
          f"{dict(list(twice.items())[:3])}")
    check(not missing, f"{len(missing)} comments missing")
    check(not stray, f"comments for entries not done: {sorted(stray)[:3]}")
    for k, ticket in done.items():
        check(seen[k][0]["object"] == ticket,
              f"comment {k} on {seen[k][0]['object']}, not {ticket}")
    return len(seen)


def seeded_rng(env_value):
    """A Random seeded by env_value (a number; "0" or empty: any seed),
    and the seed, to print so that a failing run can be replayed."""
    seed = int(env_value or "0") or random.randrange(1, 1 << 31)
    return random.Random(seed), seed
