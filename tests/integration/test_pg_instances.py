#!/usr/bin/env python3
"""Several `serve` instances on one PostgreSQL database: the guarantees
that hold across processes, tested with the real binary, a throwaway
cluster (pg_cluster.py) and the fake DevRev.

- One message id sent to two instances at the same moment (plain
  messages and DevRev webhook events): one row, and both answers are
  the first result (the second one marked as a duplicate).
- One customer's frustrated messages landing on two instances at once:
  one alert and one ticket per customer; later messages append comments
  to that ticket.
- A DevRev 429 seen by one instance holds every instance back until its
  Retry-After has passed (no request from any of them meanwhile).

The outbox's leases and fencing under a crash, and PostgreSQL restarted
under load, are in test_pg_faults.py. Skipped (exit 77) where no
PostgreSQL cluster can be made.
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import HOST, check, wait_until  # noqa: E402
import pg_instances as pgi  # noqa: E402
from pg_instances import ANGRY, ANGRY2, at_once, sql, sql_int  # noqa: E402

import http.client  # noqa: E402

FAKE = None
FIXTURES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures", "devrev")
DEVREV_SECRET = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
ROUNDS = 50


def post_raw(srv, raw, headers):
    conn = http.client.HTTPConnection(HOST, srv.port, timeout=30)
    try:
        conn.request("POST", "/webhook", body=raw,
                     headers={"Content-Type": "application/json", **headers})
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def devrev_event(entry_id, customer, text):
    with open(os.path.join(FIXTURES, "timeline_comment_customer.json"),
              encoding="utf-8") as f:
        ev = json.load(f)
    ev["id"] = "don:integration:dvrv-us-1:devo/0:webhook/AbC:webhook_event/" \
        + entry_id.rsplit("/", 1)[-1]
    ev["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    entry = ev["timeline_entry_created"]["entry"]
    entry["id"] = entry_id
    entry["body"] = text
    entry["created_by"]["id"] = customer
    return json.dumps(ev).encode()


def devrev_sig(raw):
    return hmac.new(DEVREV_SECRET.encode(), raw, hashlib.sha256).hexdigest()


def same_answers(a, b, what):
    """Both answered 200 with the first result; exactly one is marked as
    the duplicate."""
    check(not isinstance(a, Exception) and not isinstance(b, Exception),
          f"{what}: {a!r} {b!r}")
    (sa, ba), (sb, bb) = a, b
    check(sa == 200 and sb == 200, f"{what}: statuses {sa} {sb}: {ba} {bb}")
    dups = [x for x in (ba, bb) if x.get("duplicate") is True]
    check(len(dups) == 1, f"{what}: one answer is the duplicate: {ba} {bb}")
    check(pgi.without_duplicate(ba) == pgi.without_duplicate(bb),
          f"{what}: different answers:\n{ba}\n{bb}")
    return pgi.without_duplicate(ba)


def test_same_message_id_on_two_instances():
    """ROUNDS message ids, each posted to two instances at the same moment:
    both answers are the first result, one messages row per id, one alert
    per customer; a later replay answers the same again."""
    url = pgi.fresh_db()
    a, b = pgi.instances(2, url)
    try:
        firsts = {}
        t0 = time.time()
        for i in range(ROUNDS):
            mid = f"same-{i}"
            body = {"message_id": mid, "customer_id": f"cust-{i % 10}",
                    "message": ANGRY if i % 2 else ANGRY2}
            ra, rb = at_once([lambda: a.post(body), lambda: b.post(body)])
            firsts[mid] = same_answers(ra, rb, mid)
        took = time.time() - t0
        rows = sql(url, "SELECT message_id, count(*) FROM messages"
                   " GROUP BY message_id HAVING count(*) <> 1")
        check(rows == [], f"ids stored more than once: {rows}")
        check(sql_int(url, "SELECT count(*) FROM messages") == ROUNDS,
              "one row per id")
        per = sql(url, "SELECT customer_id, count(*) FROM alerts"
                  " GROUP BY customer_id HAVING count(*) <> 1")
        check(per == [], f"customers with more than one alert: {per}")
        # The stored answer is the one both got; a replay gives it again.
        for mid in ("same-0", f"same-{ROUNDS - 1}"):
            st, again = a.post({"message_id": mid, "customer_id": "x",
                                "message": "other text"})
            check(st == 200 and again.get("duplicate") is True
                  and pgi.without_duplicate(again) == firsts[mid],
                  f"replay of {mid}: {again} != {firsts[mid]}")
        print(f"  {ROUNDS} ids x 2 instances in {took:.1f} s")
    finally:
        pgi.stop_all([a, b])


def test_same_devrev_event_on_two_instances():
    """A DevRev event delivered twice at once, to two instances (DevRev
    retries; a load balancer spreads them): one message, same answers."""
    url = pgi.fresh_db()
    env = {"DEVREV_WEBHOOK_SECRET": DEVREV_SECRET}
    a, b = pgi.instances(2, url, env=env)
    try:
        n = ROUNDS // 2
        for i in range(n):
            entry = f"don:core:dvrv-us-1:devo/0:conversation/{i}:comment/c{i}"
            raw = devrev_event(entry, f"don:identity:dvrv-us-1:devo/0:revo/1:"
                               f"revu/{i % 5}", ANGRY)
            h = {"X-DevRev-Signature": devrev_sig(raw)}
            ra, rb = at_once([lambda: post_raw(a, raw, h),
                              lambda: post_raw(b, raw, h)])
            first = same_answers(ra, rb, entry)
            check(first.get("message_id") == entry, f"keyed by entry: {first}")
        check(sql_int(url, "SELECT count(*) FROM messages") == n,
              "one row per event")
        check(sql(url, "SELECT message_id FROM messages GROUP BY message_id"
                  " HAVING count(*) > 1") == [], "no id twice")
        per = sql(url, "SELECT customer_id, count(*) FROM alerts"
                  " GROUP BY customer_id HAVING count(*) <> 1")
        check(per == [], f"customers with more than one alert: {per}")
    finally:
        pgi.stop_all([a, b])


def tickets_by_key():
    """The fake's works, by the alert key at the end of their body."""
    out = {}
    for w in FAKE.state()["works"]:
        for key in KEYS:
            if key in w["body"]:
                out.setdefault(key, []).append(w)
    return out


KEYS = []


def test_one_customer_on_two_instances():
    """Two frustrated messages of one customer land on two instances at
    the same moment, for many customers in parallel: one alert and one
    ticket per customer, and the other message is appended to it. Later
    messages (after the ticket exists) become comments on that ticket."""
    FAKE.reset()
    url = pgi.fresh_db()
    a, b = pgi.instances(2, url, devrev=FAKE)
    customers = [f"pair-{i}" for i in range(20)]
    try:
        calls = []
        for i, c in enumerate(customers):
            calls.append(lambda c=c: a.post({"message_id": f"{c}-a",
                                             "customer_id": c,
                                             "message": ANGRY}))
            calls.append(lambda c=c: b.post({"message_id": f"{c}-b",
                                             "customer_id": c,
                                             "message": ANGRY2}))
        res = at_once(calls)
        for c, ra, rb in zip(customers, res[0::2], res[1::2]):
            check(not isinstance(ra, Exception) and
                  not isinstance(rb, Exception), f"{c}: {ra!r} {rb!r}")
            check(ra[0] == 200 and rb[0] == 200, f"{c}: {ra} {rb}")
            outcomes = sorted([ra[1]["alert"], rb[1]["alert"]])
            check(outcomes == ["appended", "created"],
                  f"{c}: one creates, one appends: {outcomes}")
            check(ra[1]["alert_key"] == rb[1]["alert_key"],
                  f"{c}: one alert: {ra[1]} {rb[1]}")
        per = sql(url, "SELECT customer_id, count(*) FROM alerts"
                  " GROUP BY customer_id")
        check(sorted(per) == sorted([c, "1"] for c in customers),
              f"one alert per customer: {per}")
        keys = dict(sql(url, "SELECT customer_id, alert_key FROM alerts"))
        KEYS[:] = keys.values()
        wait_until(lambda: sql_int(url, "SELECT count(*) FROM alerts"
                                   " WHERE ticket_id IS NULL") == 0,
                   timeout=30, what="every alert has its ticket")
        wait_until(lambda: sql_int(url, "SELECT count(*) FROM outbox"
                                   " WHERE state = 'pending'") == 0,
                   timeout=30, what="outbox drained")
        works = tickets_by_key()
        check(len(FAKE.state()["works"]) == len(customers),
              f"{len(FAKE.state()['works'])} tickets for "
              f"{len(customers)} customers")
        check(all(len(works.get(k, [])) == 1 for k in keys.values()),
              "one ticket per alert")
        ticket_of = dict(sql(url, "SELECT customer_id, ticket_id FROM alerts"))
        for c in customers:
            check(ticket_of[c] == works[keys[c]][0]["id"],
                  f"{c}: the alert holds its ticket")
        # The appended message of each pair: a comment on that ticket.
        comments = FAKE.state()["comments"]
        for c in customers:
            on = [x for x in comments if x["object"] == ticket_of[c]]
            check(len(on) == 1, f"{c}: {len(on)} comments from the pair")

        # Later messages, spread over both instances: comments on the
        # existing ticket, no new ticket.
        calls = []
        for i, c in enumerate(customers):
            srv = (a, b)[i % 2]
            calls.append(lambda c=c, srv=srv: srv.post(
                {"message_id": f"{c}-later", "customer_id": c,
                 "message": ANGRY2}))
        for c, r in zip(customers, at_once(calls)):
            check(not isinstance(r, Exception) and r[0] == 200 and
                  r[1]["alert"] == "appended" and
                  r[1]["alert_key"] == keys[c], f"{c} later: {r!r}")
        wait_until(lambda: len(FAKE.state()["comments"]) >= 2 * len(customers),
                   timeout=30, what="the later comments")
        st = FAKE.state()
        check(len(st["works"]) == len(customers), "no new ticket")
        for c in customers:
            on = [x for x in st["comments"] if x["object"] == ticket_of[c]]
            check(len(on) == 2, f"{c}: {len(on)} comments in all")
        # Every comment was sent after its ticket existed.
        created = {r["body"]["title"]: r["t"]
                   for r in FAKE.requests("/works.create")}
        first_create = min(created.values())
        for r in FAKE.requests("/timeline-entries.create"):
            check(r["t"] >= first_create, "a comment before any ticket")
    finally:
        pgi.stop_all([a, b])


def test_rate_limit_pauses_every_instance():
    """A 429 with Retry-After answered to one instance: no instance sends
    anything to DevRev until it has passed; then everything is sent."""
    FAKE.reset()
    url = pgi.fresh_db()
    wait_s = 3
    a, b = pgi.instances(2, url, devrev=FAKE)
    try:
        FAKE.control(rules=[{"path": "/works.create", "action": "status",
                             "status": 429, "retry_after": wait_s}])
        customers = [f"rl-{i}" for i in range(12)]
        res = at_once([lambda c=c, i=i: (a, b)[i % 2].post(
            {"message_id": c, "customer_id": c, "message": ANGRY})
            for i, c in enumerate(customers)])
        check(all(not isinstance(r, Exception) and r[0] == 200 for r in res),
              f"stored: {res}")
        limited = wait_until(lambda: [r for r in FAKE.requests()
                                      if r["status"] == 429],
                             what="the 429")[0]
        # More alerts during the pause, on both instances: they wait too.
        time.sleep(0.5)
        more = [f"rl-late-{i}" for i in range(6)]
        res = at_once([lambda c=c, i=i: (a, b)[i % 2].post(
            {"message_id": c, "customer_id": c, "message": ANGRY})
            for i, c in enumerate(more)])
        check(all(not isinstance(r, Exception) and r[0] == 200 for r in res),
              f"stored: {res}")
        customers += more
        # Both instances know of the pause (the one that got the 429 wrote
        # it; the other read it back).
        for s in (a, b):
            h = wait_until(lambda s=s: (lambda h: h["delivery"][
                "rate_limited_until"] and h)(s.health()[1]),
                timeout=2, what="rate_limited_until in /health")
            check(h["delivery"]["rate_limited_until"] is not None, h)
        wait_until(lambda: sql_int(url, "SELECT count(*) FROM outbox"
                                   " WHERE state = 'pending'") == 0,
                   timeout=30, what="outbox drained after the pause")
        t429 = limited["t"]
        # A request one instance had claimed before the pause was written
        # may still go out right after the 429; none later.
        grace = 0.3
        during = [r for r in FAKE.requests()
                  if t429 + grace < r["t"] < t429 + wait_s - 0.05]
        check(during == [], f"{len(during)} requests during the pause: "
              f"{[(round(r['t'] - t429, 3), r['path']) for r in during]}")
        after = [r for r in FAKE.requests() if r["t"] >= t429 + wait_s - 0.05]
        check(after, "delivery resumed after the pause")
        check(len(FAKE.state()["works"]) == len(customers),
              f"{len(FAKE.state()['works'])} tickets")
        print(f"  first request after the 429: "
              f"{min(r['t'] for r in after) - t429:.2f} s later")
    finally:
        pgi.stop_all([a, b])


if __name__ == "__main__":
    sys.exit(pgi.main("test_pg_instances", globals(), [
        test_same_message_id_on_two_instances,
        test_same_devrev_event_on_two_instances,
        test_one_customer_on_two_instances,
        test_rate_limit_pauses_every_instance]))
