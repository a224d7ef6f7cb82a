"""The team's corrections on PostgreSQL: labels given through POST
/api/feedback are stored in a PostgreSQL store, /api/stats shows them
with the customers' recent messages, and train --from-store and eval
--from-store read them from there (test_feedback.py runs the whole loop
on SQLite).

Skipped (exit 77, CTest's SKIP_RETURN_CODE) where no PostgreSQL cluster
can be made here (tests/integration/pg_cluster.py).
"""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import Server, check, run_tests  # noqa: E402
import pg_cluster  # noqa: E402
from test_feedback import (ANGRY, DRILL, SUPPORT, TOKEN, call,  # noqa: E402
                           held_out, run)


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
