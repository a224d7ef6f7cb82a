#!/usr/bin/env python3
"""A non-idempotent DevRev call reaches DevRev at most once per attempt.

DevRev carries out works.create (or timeline-entries.create) and the
connection then dies before the answer. An HTTP client that had sent the
request on a kept-alive connection may take the silence for a stale
connection and send the request again on a new one: a second ticket for
one alert, with nothing in the store to say so. Each attempt must instead
be one request, so that a lost answer is an unknown outcome: the ticket is
looked up by its marker line before it is created again, and a comment by
its entry and marker lines among the ticket's internal timeline entries
before it is sent again (README, "One ticket per alert").

The first two tests deliver one alert, so that the worker holds a
kept-alive connection to the fake (tests/fake_devrev.py), then make the
fake carry out the next create and reset the connection ("create_drop").
The next two make it carry out a works.create, then a comment, and answer
500, 502 or 504 ("create_status"), as a gateway that timed out while
DevRev acted does. The last kills the server while DevRev holds a comment
it has made, and starts it again.

Loopback only; exits non-zero on failure; the last line reads
"N passed, M failed".
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import (FakeDevRev, Server, check, db_query,  # noqa: E402
                        new_store_dir, outbox_drained, run_with_fake,
                        wait_until)

TMP, new_db = new_store_dir("fa-once-")
FAKE = None
MARKER = "frustration-alert-id: "
ANGRY = "This is terrible, awful service"
ANGRY2 = "Still broken, this is awful"


def deliver(srv, customer, mid, text=ANGRY):
    st, a = srv.post({"customer_id": customer, "message_id": mid,
                      "message": text})
    check(st == 200, f"POST /webhook: {st} {a}")
    wait_until(lambda: outbox_drained(srv.db), timeout=15,
               what="outbox drained")
    return a


def for_key(items, key):
    return [x for x in items if (x.get("body") or "").rstrip().endswith(
        MARKER + key)]


def attempts(db, kind, key):
    """Requests the worker recorded for kind's entries of the alert key
    (marker lookups are recorded too, as found / not_found: left out)."""
    return db_query(db, "SELECT d.result FROM delivery_attempts d JOIN "
                    "outbox o ON o.id = d.outbox_id JOIN alerts a ON "
                    "a.id = o.alert_id WHERE o.kind = ? AND a.alert_key = ? "
                    "AND d.result NOT IN ('found', 'not_found') ORDER BY "
                    "d.id", (kind, key))


def test_create_dropped_on_kept_alive_connection():
    FAKE.reset()
    db = os.path.join(TMP, "create", "fa.db")
    srv = Server(db, devrev=FAKE)
    try:
        deliver(srv, "warm-1", "w-1")  # the worker now holds a connection
        FAKE.control(rules=[{"path": "/works.create",
                             "action": "create_drop"}])
        a = deliver(srv, "once-1", "o-1")
        key = a["alert_key"]
        sent = [r for r in FAKE.requests("/works.create")
                if r["body"] and r["body"]["body"].endswith(MARKER + key)]
        works = for_key(FAKE.state()["works"], key)
        check(len(works) == 1, f"{len(works)} tickets for one alert; "
              f"works.create requests (connection, nth on it): "
              f"{[(r['conn'], r['conn_nth'], r['action']) for r in sent]}")
        check(sent and sent[0]["action"] == "create_drop",
              "the fault was not applied")
        tried = attempts(db, "create_ticket", key)
        check(len(sent) == len(tried), f"{len(sent)} works.create requests "
              f"for {len(tried)} recorded attempts {tried}")
        check(FAKE.requests("/works.list"),
              "no marker lookup after the lost answer")
        ticket = db_query(db, "SELECT ticket_id FROM alerts WHERE "
                          "alert_key = ?", (key,))[0][0]
        check(ticket == works[0]["id"], (ticket, works[0]["id"]))
    finally:
        srv.stop()


def test_comment_dropped_on_kept_alive_connection():
    FAKE.reset()
    db = os.path.join(TMP, "comment", "fa.db")
    srv = Server(db, devrev=FAKE)
    try:
        a = deliver(srv, "once-2", "c-1")
        key = a["alert_key"]
        FAKE.control(rules=[{"path": "/timeline-entries.create",
                             "action": "create_drop"}])
        b = deliver(srv, "once-2", "c-2", ANGRY2)
        check(b["alert"] == "appended", b)
        sent = FAKE.requests("/timeline-entries.create")
        check(sent and sent[0]["action"] == "create_drop",
              "the fault was not applied")
        tried = attempts(db, "comment", key)
        # One request per recorded attempt, never two in one; the answer
        # lost, the worker finds the comment and does not send it again.
        check(len(sent) == len(tried), f"{len(sent)} timeline-entries.create"
              f" requests for {len(tried)} recorded attempts {tried}; "
              f"(connection, nth on it): "
              f"{[(r['conn'], r['conn_nth']) for r in sent]}")
        check(tried == [("unknown",)], f"attempts: {tried}")
        one_comment(db, key)
    finally:
        srv.stop()


def one_comment(db, key):
    """The alert's ticket has exactly one comment, found by a lookup of
    its internal timeline after the unknown outcome."""
    ticket = db_query(db, "SELECT ticket_id FROM alerts WHERE alert_key = ?",
                      (key,))[0][0]
    comments = [c for c in for_key(FAKE.state()["comments"], key)
                if c["object"] == ticket]
    check(len(comments) == 1, f"{len(comments)} comments for one message:"
          f" {[c['id'] for c in comments]}")
    lists = FAKE.requests("/timeline-entries.list")
    check(lists and all(r["body"]["object"] == ticket and
                        r["body"]["visibility"] == ["internal"]
                        for r in lists),
          f"a lookup of the ticket's internal entries: {lists}")
    looked = db_query(db, "SELECT d.result FROM delivery_attempts d JOIN "
                      "outbox o ON o.id = d.outbox_id WHERE o.kind = "
                      "'comment' AND d.result IN ('found', 'not_found')")
    check(looked[-1:] == [("found",)], f"lookups {looked}")
    check(outbox_drained(db), "the comment's entry is done")


def test_create_answered_5xx_after_acting():
    """DevRev (or a gateway before it) answers a works.create it has
    carried out with 500, 502 or 504: the attempt is a failure to retry,
    but its outcome is unknown, so the ticket is looked up by its marker
    and adopted, not created a second time. (A 503 is taken to say that
    nothing was done: README, "One ticket per alert".)"""
    for status in (500, 502, 504):
        FAKE.reset()
        srv = Server(new_db(), devrev=FAKE)
        try:
            FAKE.control(rules=[{"path": "/works.create",
                                 "action": "create_status",
                                 "status": status}])
            a = deliver(srv, f"gw-{status}", f"gw-{status}-1")
            works = [w for w in FAKE.state()["works"]
                     if (w.get("body") or "").rstrip().endswith(
                         MARKER + a["alert_key"])]
            creates = FAKE.requests("/works.create")
            check(len(works) == 1 and len(creates) == 1,
                  f"{status}: {len(works)} tickets, {len(creates)} creates")
            tried = attempts(srv.db, "create_ticket", a["alert_key"])
            check(tried == [("retry",)], f"{status}: attempts {tried}")
            looked = db_query(srv.db, "SELECT d.result FROM "
                              "delivery_attempts d JOIN outbox o ON o.id = "
                              "d.outbox_id WHERE d.result IN ('found', "
                              "'not_found')")
            check(looked == [("found",)], f"{status}: lookups {looked}")
            rows = db_query(srv.db, "SELECT ticket_display_id FROM alerts")
            check(rows == [(works[0]["display_id"],)],
                  f"{status}: the alert's ticket {rows}")
        finally:
            srv.stop()


def test_comment_answered_5xx_after_acting():
    """The same for a comment: made, then answered 500, 502 or 504. One
    comment on the ticket, found by the lookup."""
    for status in (500, 502, 504):
        FAKE.reset()
        srv = Server(new_db(), devrev=FAKE)
        try:
            a = deliver(srv, f"gwc-{status}", f"gwc-{status}-1")
            FAKE.control(rules=[{"path": "/timeline-entries.create",
                                 "action": "create_status",
                                 "status": status}])
            b = deliver(srv, f"gwc-{status}", f"gwc-{status}-2", ANGRY2)
            check(b["alert"] == "appended", b)
            check(len(FAKE.requests("/timeline-entries.create")) == 1,
                  f"{status}: timeline-entries.create sent again")
            tried = attempts(srv.db, "comment", a["alert_key"])
            check(tried == [("retry",)], f"{status}: attempts {tried}")
            one_comment(srv.db, a["alert_key"])
        finally:
            srv.stop()


def test_comment_crash_mid_request():
    """The server is killed (-9) while DevRev holds a comment it has made.
    Agents then add three internal comments to the ticket, and DevRev
    gives list pages of two. Started again, the worker looks the comment
    up (its first lookup answered 500: it sends nothing until a lookup
    answers; the next reads two pages, the comment being on the second)
    and does not send it again."""
    FAKE.reset()
    db = os.path.join(TMP, "crash-comment", "fa.db")
    srv = Server(db, devrev=FAKE)
    try:
        a = deliver(srv, "crash-c", "cc-1")
        key = a["alert_key"]
        FAKE.control(rules=[{"path": "/timeline-entries.create",
                             "action": "hang", "seconds": 30}])
        st, b = srv.post({"customer_id": "crash-c", "message_id": "cc-2",
                          "message": ANGRY2})
        check(st == 200 and b["alert"] == "appended", f"{st} {b}")
        wait_until(lambda: FAKE.requests("/timeline-entries.create"),
                   timeout=15, what="the comment at DevRev")
        wait_until(lambda: FAKE.state()["comments"], timeout=5,
                   what="the comment made")
    finally:
        srv.kill()
    ticket = db_query(db, "SELECT ticket_id FROM alerts WHERE alert_key = ?",
                      (key,))[0][0]
    FAKE.control(comments=[{"object": ticket, "visibility": "internal",
                            "body": f"Agent note {i}"} for i in range(3)],
                 page_max=2,
                 rules=[{"path": "/timeline-entries.list",
                         "action": "status", "status": 500}])
    srv = Server(db, devrev=FAKE)
    try:
        wait_until(lambda: outbox_drained(db), timeout=30,
                   what="outbox drained after the restart")
        check(len(FAKE.requests("/timeline-entries.create")) == 1,
              "the comment was sent again")
        lists = FAKE.requests("/timeline-entries.list")
        check([r["status"] for r in lists] == [500, 200, 200],
              f"lookups: {[(r['status'], r['body']) for r in lists]}")
        check(lists[2]["body"].get("cursor") == "2",
              f"the second page: {lists[2]['body']}")
        one_comment(db, key)
    finally:
        srv.stop()


def main():
    return run_with_fake(globals(), [test_create_dropped_on_kept_alive_connection,
                        test_comment_dropped_on_kept_alive_connection,
                        test_create_answered_5xx_after_acting,
                        test_comment_answered_5xx_after_acting,
                        test_comment_crash_mid_request])


if __name__ == "__main__":
    sys.exit(main())
