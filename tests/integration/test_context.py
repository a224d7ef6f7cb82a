#!/usr/bin/env python3
"""Conversation context: black-box tests of the real
binary with a temporary SQLite store, in record-only mode.

Scripted conversations: mild messages from one customer escalate on the
third within ESCALATE_WINDOW (the answer says "escalated" with the level
and the reason, and an alert is opened at that level); a duplicate replays
the escalated answer; a batch escalates inside one request; ESCALATION=off
leaves every message at its own level; check-config shows the settings.
Python standard library only.

Exits non-zero on any failure; the last line reads "N passed, M failed".
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import FA_BIN, Server, check, db_query, run_tests  # noqa

TMP = tempfile.mkdtemp(prefix="fa-context-")
N_DB = 0

MILD = "The delivery was a bit late"  # -0.3: dissatisfied, not frustrated


def new_db():
    global N_DB
    N_DB += 1
    return os.path.join(TMP, f"db{N_DB}", "fa.db")


def posted(srv, body):
    st, data = srv.post(body)
    check(st == 200, f"POST /webhook: {st}: {data!r}")
    return data


# The escalation rules count the original rule's negative messages.
POLARITY = {"FRUSTRATION_DETECTOR": "polarity"}


def mild(customer, mid):
    return {"customer_id": customer, "message": MILD, "message_id": mid}


def test_three_mild_messages_escalate():
    srv = Server(new_db(), env=POLARITY)
    try:
        for mid in ("m1", "m2"):
            r = posted(srv, mild("cust-a", mid))
            check(r["level"] == "dissatisfied", r)
            check(r["alert"] == "none" and "escalated" not in r, r)
        third = posted(srv, mild("cust-a", "m3"))
        check(third["level"] == "dissatisfied", third)
        esc = third.get("escalated")
        check(esc and esc["level"] == "frustrated", third)
        check("3 negative messages within 600 s" in esc["reason"], third)
        check(third["alert"] == "created" and third.get("alert_id"), third)
        rows = db_query(srv.db, "SELECT level_name, severity FROM alerts")
        check(rows == [("frustrated", "high")], rows)
        # The duplicate is answered exactly as the first time.
        again = posted(srv, mild("cust-a", "m3"))
        check(again.pop("duplicate", None) is True, again)
        check(again == third, (again, third))
        # Another customer's mild message has no context.
        other = posted(srv, mild("cust-b", "o1"))
        check(other["alert"] == "none" and "escalated" not in other, other)
        # A batch: the third message of the request escalates.
        batch = posted(srv, {"messages": [mild("cust-c", f"b{i}")
                                          for i in range(3)]})
        res = batch["results"] if isinstance(batch, dict) else batch
        check([x["alert"] for x in res] == ["none", "none", "created"], res)
        check(res[2]["escalated"]["level"] == "frustrated", res)
    finally:
        srv.stop()


def test_escalation_off():
    srv = Server(new_db(), env=dict(POLARITY, ESCALATION="off"))
    try:
        for mid in ("m1", "m2", "m3", "m4"):
            r = posted(srv, mild("cust-a", mid))
            check(r["alert"] == "none" and "escalated" not in r, r)
        rows = db_query(srv.db, "SELECT count(*) FROM alerts")
        check(rows == [(0,)], rows)
    finally:
        srv.stop()


def test_check_config():
    env = dict(os.environ, ESCALATE_WINDOW="300", ESCALATE_NEGATIVE_COUNT="4")
    p = subprocess.run([FA_BIN, "check-config"], env=env, capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 0, p.stdout + p.stderr)
    for line in ("ESCALATION=on", "ESCALATE_WINDOW=300",
                 "ESCALATE_NEGATIVE_COUNT=4", "ESCALATE_REPEAT_COUNT=3",
                 "ESCALATE_DROP=0.5"):
        check(line in p.stdout.splitlines(), (line, p.stdout))
    env["ESCALATE_NEGATIVE_COUNT"] = "21"
    p = subprocess.run([FA_BIN, "check-config"], env=env, capture_output=True,
                       text=True, timeout=30)
    check(p.returncode != 0 and "ESCALATE_NEGATIVE_COUNT" in p.stderr,
          p.stdout + p.stderr)


def main():
    try:
        return run_tests([test_three_mild_messages_escalate,
                          test_escalation_off, test_check_config])
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
