"""The dashboard on PostgreSQL: GET /api/stats of a server whose store is
PostgreSQL gives what the same messages give on SQLite (counts, series,
language mix, top customers and their messages), and keeps answering across a restart
of the PostgreSQL server.

Skipped (exit 77, CTest's SKIP_RETURN_CODE) where no PostgreSQL cluster
can be made here (tests/integration/pg_cluster.py).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import (check, db_query, new_store_dir, run_with_fake,  # noqa
                        Server, wait_until)
import pg_cluster  # noqa: E402

TMP, new_db = new_store_dir("fa-pg-dashboard-")
FAKE = None
CACHE_S = 1.1  # past DASHBOARD_CACHE_MS: the next answer is computed anew

ANGRY = "This is terrible, awful service"
ANGRY2 = "Still broken, this is awful"
FRUSTRATED = "The service was poor"
CALM = "Thanks, all good now"

# Customers with clearly different scores, so that the ranking does not
# depend on the few milliseconds between the two servers' clocks.
BATCHES = [
    [("ann", ANGRY, "m1"), ("bob", FRUSTRATED, "m2"), ("cat", CALM, "m3")],
    [("ann", ANGRY2, "m4"), ("dan", CALM, "m5"), ("ann", ANGRY, "m6")],
    [("bob", FRUSTRATED, "m7"), ("eve", 'He said "awful" \\ twice', "m8")],
    [("ann", ANGRY, "m1")],  # a duplicate: stored once
    [("q\"u\\o", ANGRY, "m9"), ("cat", CALM, "m10")],
]


# The language each message is sent with (none: detected, English here).
LANGS = {"m1": "en", "m2": "fr", "m4": "en", "m5": "de", "m6": "en",
         "m7": "fr", "m9": "pt", "m10": "fr", "m11": "en"}


def body(batch):
    return {"messages": [dict({"customer_id": c, "message": t,
                               "message_id": m},
                              **({"lang": LANGS[m]} if m in LANGS else {}))
                         for c, t, m in batch]}


def stats(srv):
    st, data = srv.request("GET", "/api/stats")
    check(st == 200, f"GET /api/stats: {st}: {data!r}")
    return data


def fresh_stats(srv):
    time.sleep(CACHE_S)
    return stats(srv)


def series_sums(s):
    """The series of an answer added up over their buckets: the servers
    stamp messages with their own clocks, so a message may fall in the
    next minute on one of them."""
    out = {"messages": sum(s["messages"])}
    for name, values in s["by_level"].items():
        out["level " + name] = sum(values)
    for name, values in s["alerts"].items():
        out["alerts " + name] = sum(values)
    out["polarity"] = round(sum(a * m for a, m in zip(s["avg_polarity"],
                                                      s["messages"]) if m), 9)
    return out


def customers(top):
    """The top customers without what depends on the moment (score, times)
    or on the backend (each numbers its rows: a message's id, checked
    here to be one)."""
    out = []
    for c in top:
        for m in c["recent"]:
            check(isinstance(m["id"], int) and m["id"] >= 1,
                  "a message's id: %r" % m)
        out.append({
            "customer_id": c["customer_id"], "messages": c["messages"],
            "max_level": c["max_level"], "last_level": c["last_level"],
            "avg_polarity": round(c["avg_polarity"], 9),
            "alert_open": c["alert_open"],
            "recent": [{k: v for k, v in m.items()
                        if k not in ("at_ms", "id")}
                       for m in c["recent"]]})
    return out


def pending_pg(pg):
    return int(pg.psql("SELECT count(*) FROM outbox WHERE state = 'pending'"))


def pending_sqlite(srv):
    return db_query(srv.db, "SELECT count(*) FROM outbox WHERE "
                    "state = 'pending'")[0][0]


def test_same_answer_as_sqlite_and_survives_restart():
    with pg_cluster.PgCluster() as pg:
        # The original rule: the counts below are its verdicts.
        env = {"FRUSTRATION_DETECTOR": "polarity"}
        on_pg = Server(pg.url, devrev=FAKE, env=env)
        on_sqlite = Server(new_db(), devrev=FAKE, env=env)
        try:
            for batch in BATCHES:
                for srv in (on_pg, on_sqlite):
                    st, data = srv.post(body(batch))
                    check(st == 200, f"POST /webhook: {st}: {data!r}")
            # The tickets delivered, so that "delivered" is compared too.
            wait_until(lambda: pending_pg(pg) == 0 and
                       pending_sqlite(on_sqlite) == 0, what="outboxes drained")
            a, b = fresh_stats(on_pg), fresh_stats(on_sqlite)
            check(a["store"]["ok"], f"PostgreSQL store read: {a['store']}")
            check(b["store"]["ok"], f"SQLite store read: {b['store']}")
            check(a["store"]["messages"] == 10,
                  f"10 messages stored: {a['store']}")
            check(a["store"] == b["store"],
                  f"totals: {a['store']} != {b['store']}")
            for part in ("hour", "day"):
                sa, sb = series_sums(a[part]), series_sums(b[part])
                check(sa == sb, f"{part} series: {sa} != {sb}")
                la = (a[part]["languages"], a[part]["languages_other"])
                lb = (b[part]["languages"], b[part]["languages_other"])
                check(la == lb, f"{part} languages: {la} != {lb}")
            # Equal counts rank by code: en before fr.
            check([(x["code"], x["messages"]) for x in
                   a["hour"]["languages"]] ==
                  [("en", 5), ("fr", 3), ("de", 1), ("pt", 1)],
                  f"the hour's languages: {a['hour']['languages']}")
            ha = series_sums(a["hour"])
            check(ha["messages"] == 10 and ha["alerts created"] == 4 and
                  ha["alerts delivered"] >= 4,
                  f"the hour series counts the traffic: {ha}")
            ca, cb = customers(a["top_customers"]), customers(
                b["top_customers"])
            check(ca == cb, f"top customers:\n{ca}\n!=\n{cb}")
            check([c["customer_id"] for c in ca] ==
                  ["ann", "bob", "q\"u\\o", "eve"],
                  f"ranking: {[c['customer_id'] for c in ca]}")
            check(ca and len(ca[0]["recent"]) == 3 and
                  ca[0]["recent"][0]["text"] == ANGRY and
                  ca[0]["recent"][0]["words"] and ca[0]["alert_open"],
                  f"ann's last messages: {ca[:1]}")

            # A PostgreSQL restart ends every session: the next answer
            # reads on a new connection.
            pg.restart()
            c = fresh_stats(on_pg)
            check(c["store"]["ok"] and c["store"]["messages"] == 10,
                  f"after the restart: {c['store']}")
            # The writer connects again too; the new message shows.
            wait_until(lambda: on_pg.post(body([("fay", ANGRY, "m11")]))[0]
                       == 200, what="a message accepted after the restart")
            d = fresh_stats(on_pg)
            check(d["store"]["ok"] and d["store"]["messages"] == 11,
                  f"a message after the restart: {d['store']}")
        finally:
            on_pg.stop()
            on_sqlite.stop()


if __name__ == "__main__":
    ok, why = pg_cluster.available()
    if not ok:
        print(f"test_pg_dashboard: SKIPPED: {why} (scripts/install-deps.sh "
              "test)")
        sys.exit(77)
    sys.exit(run_with_fake(globals(), [
        test_same_answer_as_sqlite_and_survives_restart]))
