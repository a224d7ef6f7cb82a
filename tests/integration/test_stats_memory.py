"""/api/stats in bounded memory, whatever the number of customers.

The store is filled straight through SQLite (the schema made by a first
start of the real binary): STATS_CUSTOMERS (default 200,000) distinct
customers active in the last hour, each with a window of scores and a
message, plus twelve "hot" customers with known, distinct windows. The
server is started on it and /api/stats computed several times (spaced
past its 1 s cache). Checks that the server's peak resident memory
(VmHWM) stays under 32 MiB (release builds: sanitizers multiply memory),
and that the answer is right: the top customers and their scores are
those computed here from the same rows with the documented formula, the
open alert and the last messages are found, and the series count every
message. Prints "N passed, M failed".
"""
import json
import os
import sqlite3
import sys
import tempfile
import time

from fa_harness import FA_BIN, Server, check, run_tests

N = int(os.environ.get("STATS_CUSTOMERS", "200000"))
RSS_LIMIT_KIB = 32 * 1024
HALF_LIFE_MS = 900000
TOP = 10
HOT = 12
LEVELS = ["calm", "dissatisfied", "frustrated", "angry"]


def sanitized():
    """Whether FA_BIN is a sanitizer build (its memory is not comparable)."""
    with open(FA_BIN, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


def windows(now):
    """(customer_id, window) for every customer: [[at, polarity, level]]
    oldest first. Bulk customers have three entries over the last hour
    (some older than the hour, some calm only); hot ones twenty recent
    entries at level 3, a different spacing each."""
    for i in range(N):
        base = now - 3550000 + (i * 3500000) // N
        lv = i % 4
        pol = [0.3, -0.2, -0.4, -0.8][lv]
        win = [[base - 7200000, pol, lv], [base - 60000, pol, lv % 2],
               [base, pol, lv]]
        yield "cust-%07d" % i, win
    for h in range(HOT):
        win = [[now - 100000 - (19 - k) * (1000 + h * 977), -0.9, 3]
               for k in range(20)]
        yield "hot-%02d" % h, win


def expected_rank(rows, now, since):
    ranked = []
    for cid, win in rows:
        inside = [e for e in win if e[0] >= since]
        if not inside or max(e[2] for e in inside) <= 0:
            continue
        score = 0.0
        for at, _pol, lv in inside:
            score += lv / (1.0 + (now - at) / HALF_LIFE_MS)
        ranked.append((-score, -max(e[0] for e in inside), cid, score,
                       len(inside)))
    ranked.sort()
    return ranked[:TOP]


def fill(db, now):
    rows = list(windows(now))
    con = sqlite3.connect(db)
    con.executemany(
        "INSERT INTO customer_state (customer_id, recent, messages,"
        " updated_at) VALUES (?, ?, ?, ?)",
        ((cid, json.dumps(win), len(win), win[-1][0]) for cid, win in rows))
    msgs = [(cid, "message of %s" % cid, win[-1][1], win[-1][2],
             LEVELS[win[-1][2]], int(win[-1][2] >= 2), win[-1][0])
            for cid, win in rows if not cid.startswith("hot-")]
    # The hot customers' messages are the newest rows: six each, of which
    # the dashboard shows the last five.
    for k in range(6):
        for h in range(HOT):
            msgs.append(("hot-%02d" % h, "hot %d message %d" % (h, k), -0.9, 3,
                         "angry", 1, now - 50000 + k * 1000 + h))
    con.executemany(
        "INSERT INTO messages (customer_id, text, polarity, subjectivity,"
        " level, level_name, frustrated, alert_outcome, created_at)"
        " VALUES (?, ?, ?, 0.5, ?, ?, ?, 'none', ?)", msgs)
    con.execute(
        "INSERT INTO alerts (alert_key, customer_id, level, level_name,"
        " severity, created_at, last_activity_at) VALUES"
        " ('k-hot-03', 'hot-03', 3, 'angry', 'blocker', ?, ?)", (now, now))
    con.commit()
    con.close()
    return rows, len(msgs)


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def test_stats_bounded_and_right():
    with tempfile.TemporaryDirectory(prefix="fa-statsmem-") as tmp:
        db = os.path.join(tmp, "fa.db")
        first = Server(db)  # makes the schema
        first.stop()
        now = int(time.time() * 1000)
        t0 = time.time()
        rows, n_msgs = fill(db, now)
        print("     filled %d customers, %d messages in %.1f s"
              % (len(rows), n_msgs, time.time() - t0))
        srv = Server(db, env={"DEVREV_API_TOKEN": ""})
        try:
            answers = []
            for _ in range(3):
                st, body = srv.request("GET", "/api/stats", timeout=60)
                check(st == 200, "status %s" % st)
                answers.append(body)
                time.sleep(1.05)
            hwm = vm_hwm_kib(srv.proc.pid)
        finally:
            srv.stop()
        print("     VmHWM %.1f MiB, build_ms %s" %
              (hwm / 1024.0, [a["build_ms"] for a in answers]))
        if not sanitized():
            check(hwm < RSS_LIMIT_KIB, "peak RSS %d KiB" % hwm)
        stats = answers[-1]
        check(stats["store"]["ok"], "store error %r" % stats["store"])
        want = expected_rank(rows, stats["now_ms"], stats["now_ms"] - 3600000)
        got = stats["top_customers"]
        check([c["customer_id"] for c in got] == [w[2] for w in want],
              "top %r, expected %r" % ([c["customer_id"] for c in got],
                                       [w[2] for w in want]))
        for c, w in zip(got, want):
            check(abs(c["score"] - w[3]) <= 1e-9 * w[3],
                  "%s score %r, expected %r" % (c["customer_id"], c["score"],
                                                w[3]))
            check(c["messages"] == w[4], "%s messages" % c["customer_id"])
            check(c["max_level"] == 3 and c["last_level"] == 3,
                  "%s levels" % c["customer_id"])
        by_id = {c["customer_id"]: c for c in got}
        check(by_id["hot-03"]["alert_open"], "hot-03 has an open alert")
        check(not by_id["hot-00"]["alert_open"], "hot-00 has none")
        recent = by_id["hot-05"]["recent"]
        check([m["text"] for m in recent] ==
              ["hot 5 message %d" % k for k in (5, 4, 3, 2, 1)],
              "hot-05 recent %r" % [m.get("text") for m in recent])
        check(sum(stats["day"]["messages"]) == n_msgs,
              "day series %d of %d" % (sum(stats["day"]["messages"]), n_msgs))


if __name__ == "__main__":
    sys.exit(run_tests([test_stats_bounded_and_right]))
