"""The team's corrections on PostgreSQL: labels given through POST
/api/feedback are stored in a PostgreSQL store, /api/stats shows them
with the customers' recent messages, and train --from-store and eval
--from-store read them from there (test_feedback.py runs the whole loop
on SQLite). Messages sent without a message_id are labelled by their id
in the store; an id (or a message_id) whose row another session has not
committed yet is 404 at once, and found once committed.

Skipped (exit 77, CTest's SKIP_RETURN_CODE) where no PostgreSQL cluster
can be made here (tests/integration/pg_cluster.py).
"""
import json
import os
import select
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import Server, check, run_tests  # noqa: E402
import pg_cluster  # noqa: E402
from test_feedback import (ANGRY, DRILL, SUPPORT, TOKEN,  # noqa: E402
                           anon_messages, call, held_out, id_refusals, run)


class PsqlSession:
    """One psql session fed line by line, to hold a transaction open while
    the server is asked about its rows."""

    def __init__(self, url):
        self.p = subprocess.Popen(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d",
             url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, bufsize=1)

    def send(self, sql):
        self.p.stdin.write(sql + "\n")
        self.p.stdin.flush()

    def line(self, timeout=10):
        ready, _, _ = select.select([self.p.stdout], [], [], timeout)
        check(ready, "psql answered within %s s" % timeout)
        return self.p.stdout.readline().strip()

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(timeout=10)
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait()


def labelled(pg):
    return int(pg.psql("SELECT count(*) FROM messages"
                       " WHERE label IS NOT NULL"))


def check_pending_rows(pg, port):
    """A message another session has inserted and not committed: neither
    its id nor its message_id is found (404 at once, not a wait), and
    nothing is written; once committed, both are."""
    sess = PsqlSession(pg.url)
    try:
        cols = ("customer_id, message_id, text, polarity, subjectivity,"
                " level, level_name, frustrated, alert_outcome, created_at")
        # One line of output (the reader below reads whole lines).
        sess.send("BEGIN; WITH i AS (INSERT INTO messages (%s) VALUES"
                  " ('pend-1', NULL, 'late one', -0.5, 0.5, 2, 'frustrated',"
                  " true, 'none', 1), ('pend-2', 'pend-mid', 'late two', 0.2,"
                  " 0.5, 0, 'calm', false, 'none', 1) RETURNING id)"
                  " SELECT string_agg(id::text, ',' ORDER BY id) FROM i;"
                  % cols)
        ids = [int(x) for x in sess.line().split(",")]
        for body in ({"id": ids[0], "frustrated": False},
                     {"message_id": "pend-mid", "frustrated": True}):
            t0 = time.monotonic()
            st, r = call(port, "POST", "/api/feedback", body)
            took = time.monotonic() - t0
            check(st == 404 and r["error"] == "unknown_message"
                  and took < 3, ("uncommitted", body, st, r, took))
        sess.send("COMMIT; SELECT 'committed';")
        check(sess.line() == "committed", "psql committed")
    finally:
        sess.close()
    check(int(pg.psql("SELECT count(*) FROM messages WHERE label IS NOT NULL"
                      " AND customer_id LIKE 'pend-%'")) == 0,
          "nothing written for the uncommitted rows")
    st, r = call(port, "POST", "/api/feedback",
                 {"id": ids[0], "frustrated": False, "by": "ann"})
    check(st == 200 and r["id"] == ids[0] and r["message_id"] is None
          and r["verdict"] is True and r["label"] is False, (st, r))
    st, r = call(port, "POST", "/api/feedback",
                 {"message_id": "pend-mid", "frustrated": True})
    check(st == 200 and r["id"] == ids[1], (st, r))
    # Leave the store as the rest of the test expects: no labels.
    pg.psql("DELETE FROM messages WHERE customer_id LIKE 'pend-%'")


def check_batch_ids(pg, port):
    """A batch on PostgreSQL: each entry carries its row's id, a message_id
    stored before (or twice in the batch) the id of its first row, and a
    replay the same ids."""
    st, first = call(port, "POST", "/webhook",
                     {"customer_id": "ids-0", "message_id": "ids-0",
                      "message": "fine, thanks"})
    check(st == 200 and type(first.get("id")) is int, first)
    body = {"messages": [
        {"customer_id": "ids-0", "message_id": "ids-0", "message": "ok"},
        {"customer_id": "ids-1", "message_id": "ids-1", "message": "ok"},
        {"customer_id": "ids-2", "message": "ok"},
        {"customer_id": "ids-1", "message_id": "ids-1", "message": "ok"}]}
    st, b = call(port, "POST", "/webhook", body)
    check(st == 200 and b["count"] == 4, b)
    ids = [r.get("id") for r in b["results"]]
    stored = dict(line.split("|") for line in pg.psql(
        "SELECT coalesce(message_id, customer_id), id FROM messages"
        " WHERE customer_id LIKE 'ids-%'").splitlines())
    want = [int(stored[k]) for k in ("ids-0", "ids-1", "ids-2", "ids-1")]
    check(ids == want and ids[0] == first["id"]
          and len(set(ids)) == 3, (ids, stored))
    st, again = call(port, "POST", "/webhook", body)
    check(st == 200 and [r.get("id") for r in again["results"]][:2] == ids[:2]
          and all(r.get("duplicate") for r in again["results"][:2]), again)
    # Leave the store as the rest of the test expects.
    pg.psql("DELETE FROM messages WHERE customer_id LIKE 'ids-%'")


def test_labels_on_postgresql():
    with pg_cluster.PgCluster() as pg, tempfile.TemporaryDirectory() as d:
        srv = Server(pg.url, env={"API_TOKEN": TOKEN,
                                  "FRUSTRATION_DETECTOR": "model"})
        labels = {}
        try:
            msgs = [("drill-%d" % n, "Blorptastic drill %d: %s"
                     % (n, DRILL[n % len(DRILL)]), False) for n in range(50)]
            msgs += [("angry-%d" % n, ANGRY.format(n + 3), True)
                     for n in range(20)]
            for mid, text, _ in msgs:
                st, r = call(srv.port, "POST", "/webhook",
                             {"customer_id": "c-" + mid, "message_id": mid,
                              "message": text})
                check(st == 200 and r["frustrated"] is True, (mid, r))
            # Messages without a message_id, named by their id in the
            # store.
            anon = anon_messages(12)
            answered = {}
            for cust, text, _ in anon:
                st, r = call(srv.port, "POST", "/webhook",
                             {"customer_id": cust, "message": text})
                check(st == 200 and r["frustrated"] is True
                      and type(r.get("id")) is int, (cust, r))
                answered[cust] = r["id"]
            rows = dict(line.split("|") for line in pg.psql(
                "SELECT customer_id, id FROM messages"
                " WHERE message_id IS NULL").splitlines())
            # The /webhook answer told each sender its message's number
            # (from the sequence, taken at batch time): the labels below
            # name the messages by it.
            check({c: int(i) for c, i in rows.items()} == answered,
                  "answered ids %r, stored %r" % (answered, rows))
            anon_ids = [answered[cust] for cust, _, _ in anon]
            check_batch_ids(pg, srv.port)
            check(any(not held_out(i) for i in anon_ids),
                  "some are used for training: %r" % anon_ids)
            # An id the sequence gave out and no row has (as a batch that
            # rolled back leaves), and one past them all.
            gap = int(pg.psql("SELECT nextval(pg_get_serial_sequence("
                              "'messages', 'id'))"))
            id_refusals(srv.port, anon_ids[0], gap + 1000, "drill-0")
            st, r = call(srv.port, "POST", "/api/feedback",
                         {"id": gap, "correct": True})
            check(st == 404 and r["error"] == "unknown_message", (st, r))
            check(labelled(pg) == 0, "refusals wrote nothing")
            check_pending_rows(pg, srv.port)
            check(labelled(pg) == 0, "no label left behind")
            for mid, _, truth in msgs:
                st, r = call(srv.port, "POST", "/api/feedback",
                             {"message_id": mid, "frustrated": truth,
                              "by": "ann"})
                check(st == 200 and r["label"] is truth
                      and r["verdict"] is True, (mid, st, r))
                labels[mid] = truth
            st, r = call(srv.port, "POST", "/api/feedback",
                         {"message_id": "nope", "correct": True})
            check(st == 404 and r["error"] == "unknown_message", (st, r))
            for (cust, _, kind), row_id in zip(anon, anon_ids):
                body = ({"id": row_id, "correct": False, "by": "cy"}
                        if kind == "drill" else
                        {"id": row_id, "frustrated": True, "by": "cy"})
                st, r = call(srv.port, "POST", "/api/feedback", body)
                want = kind == "angry"
                check(st == 200 and r["id"] == row_id
                      and r["message_id"] is None and r["label"] is want
                      and r["verdict"] is True, (cust, st, r))
                labels[row_id] = want
            row = pg.psql("SELECT label, labelled_by FROM messages"
                          " WHERE id = %d" % anon_ids[0])
            check(row == "f|cy", "stored by id in PostgreSQL: %r" % row)
            check(labelled(pg) == len(labels), "one label per message")
            row = pg.psql("SELECT label, labelled_by FROM messages"
                          " WHERE message_id = 'drill-3'")
            check(row == "f|ann", "stored in PostgreSQL: %r" % row)
            # The dashboard's reader gives the label with the message.
            time.sleep(1.1)
            st, stats = call(srv.port, "GET", "/api/stats")
            recent = [m for c in stats["top_customers"] for m in c["recent"]]
            mine = [m for m in recent if m["message_id"] == "angry-19"]
            check(st == 200 and mine and mine[0]["label"] is True,
                  "stats show the label: %r" % recent[:3])
            nameless = [m for m in recent if m["message_id"] is None
                        and m["id"] in anon_ids]
            check(nameless and all(m["label"] is labels[m["id"]]
                                   for m in nameless),
                  "stats give the id and label of messages without"
                  " message_id: %r" % nameless[:3])
            check(srv.stop() == 0, "stopped")
        finally:
            srv.kill()

        new = os.path.join(d, "new.bin")
        p = run(["train", "--from-store", "--store", pg.url, "--out", new,
                 SUPPORT])
        n_held = sum(1 for m in labels if held_out(m))
        check(p.returncode == 0 and ("%d used for training"
                                     % (len(labels) - n_held)) in p.stderr,
              "train: " + p.stderr[-2000:])
        p = run(["eval", "--from-store", "--store", pg.url, "--model", new,
                 "--json"])
        check(p.returncode == 0, "eval: " + p.stderr)
        ev = json.loads(p.stdout)
        check(ev["labels"] == len(labels) and ev["held_out"] == n_held
              and ev["new"]["right"] > ev["current"]["right"], ev)


if __name__ == "__main__":
    ok, why = pg_cluster.available()
    if not ok:
        print(f"test_pg_feedback: SKIPPED: {why} (scripts/install-deps.sh "
              "test)")
        sys.exit(77)
    sys.exit(run_tests([test_labels_on_postgresql]))
