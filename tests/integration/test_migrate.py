#!/usr/bin/env python3
"""`frustration-alert migrate --from sqlite:PATH --to postgres://...`: a
SQLite store made by the real service is copied into a throwaway
PostgreSQL cluster (pg_cluster.py), and `serve` goes on from there.

The SQLite store holds outbox entries in every state: done (tickets and a
comment DevRev got), dead (DevRev answered 400), skipped (a dead letter
dropped with `outbox drop`) and pending (DevRev refused the token, 401:
attempts and errors recorded). The migration refuses to run while the
server owns the store and writes nothing then; it copies every row of
every table as it was (ids, states, attempts, due times, unknown-outcome
marks, errors, scores to the last bit, texts with tabs, newlines and
backslashes) without leases; it refuses a target that holds data or that
an instance serves; a failure half-way (a text PostgreSQL cannot store, in
the last table copied) leaves the target empty. `serve` on the
PostgreSQL URL then answers a message_id seen before the migration as a
duplicate with the first answer, delivers each pending entry once (one
ticket per pending alert, none for the others again), and gives new rows
ids after the copied ones.

Skipped (exit 77) where no PostgreSQL cluster can be made. Python standard
library only. The last line reads "N passed, M failed".
"""
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import (FA_BIN, TOKEN, check, db_query,  # noqa: E402
                        new_store_dir, run_with_fake, Server, wait_until)
import pg_cluster  # noqa: E402

TMP, new_db = new_store_dir("fa-migrate-")
FAKE = None
PG = None
ANGRY = "This is terrible, awful service"
WORSE = "Still broken, this is the worst, I am furious"
CALM = "Thanks, all good now"
ESCAPES = "Thanks\tall good\nnow \\N \\ \"really\"\r\n\u00e9 \U0001f642"

# Every column both backends have, per table, in a stable order.
COLUMNS = {
    "alerts": "id, alert_key, customer_id, conversation_id, level,"
              " level_name, severity, state, ticket_id, ticket_display_id,"
              " created_at, last_activity_at, message_count, ticket_wanted",
    "messages": "id, message_id, customer_id, conversation_id, channel,"
                " timestamp, lang, text, polarity, subjectivity, level,"
                " level_name, frustrated, alert_outcome, alert_id,"
                " result_json, created_at, source_object,"
                " source_display_id, source_type, rev_org, label,"
                " labelled_at, labelled_by",
    "outbox": "id, alert_id, kind, payload, state, attempts,"
              " next_attempt_at, first_attempt_at, last_error,"
              " outcome_unknown, created_at, finished_at",
    "delivery_attempts": "id, outbox_id, at, duration_ms, http_status,"
                         " result, ok, error",
    "customer_state": "customer_id, recent, messages, updated_at",
}
ORDER = {"customer_state": "customer_id"}
# Columns that are booleans in PostgreSQL and 0/1 in SQLite, doubles and
# integers; the others are text.
BOOLS = {"ticket_wanted", "frustrated", "outcome_unknown", "ok", "label"}
FLOATS = {"polarity", "subjectivity"}
INTS = {"id", "level", "created_at", "last_activity_at", "message_count",
        "alert_id", "attempts", "next_attempt_at", "first_attempt_at",
        "finished_at", "outbox_id", "at", "duration_ms", "http_status",
        "messages", "updated_at", "labelled_at"}


def migrate(src, dst):
    p = subprocess.run([FA_BIN, "migrate", "--from", src, "--to", dst],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def outbox_cli(db, *args):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DEVREV_") and k != "DATABASE_URL"}
    env["DATABASE_URL"] = db
    p = subprocess.run([FA_BIN, "outbox", *args], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def pg_url(dbname):
    return PG.url.rsplit("/", 1)[0] + "/" + dbname


def psql(dbname, sql):
    """Rows of sql on database dbname, each a list of text (None: NULL)."""
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\x1f",
                        "-R", "\x1e", "-P", "null=\x1d", "-v",
                        "ON_ERROR_STOP=1", "-d", pg_url(dbname), "-c", sql],
                       capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise RuntimeError(f"psql: {p.stderr.decode().strip()}")
    out = p.stdout.decode()  # as bytes: text mode would turn \r\n into \n
    if out.endswith("\n"):
        out = out[:-1]
    if not out:
        return []
    return [[None if v == "\x1d" else v for v in row.split("\x1f")]
            for row in out.split("\x1e")]


def as_sqlite(table, rows):
    """PostgreSQL's text rows converted to what SQLite's rows hold."""
    names = [c.strip() for c in COLUMNS[table].split(",")]
    out = []
    for row in rows:
        conv = []
        for name, v in zip(names, row):
            if v is None:
                conv.append(None)
            elif name in BOOLS:
                conv.append(1 if v == "t" else 0)
            elif name in FLOATS:
                conv.append(float(v))  # shortest exact text: same double
            elif name in INTS:
                conv.append(int(v))
            else:
                conv.append(v)
        out.append(tuple(conv))
    return out


def table_rows_sqlite(db, table):
    return db_query(db, f"SELECT {COLUMNS[table]} FROM {table} ORDER BY "
                    f"{ORDER.get(table, 'id')}")


def table_rows_pg(dbname, table):
    return as_sqlite(table, psql(dbname, f"SELECT {COLUMNS[table]} FROM "
                                 f"{table} ORDER BY {ORDER.get(table, 'id')}"))


def count(dbname, table):
    return int(psql(dbname, f"SELECT count(*) FROM {table}")[0][0])


def new_database(name):
    PG.psql(f"CREATE DATABASE {name}")
    return pg_url(name)


def sqlite_states(db):
    return dict(db_query(db, "SELECT state, COUNT(*) FROM outbox"
                         " GROUP BY state"))


def post(srv, customer, text, mid):
    st, body = srv.post({"customer_id": customer, "message": text,
                         "message_id": mid})
    check(st == 200, f"POST {mid}: {st} {body}")
    return body


def build_sqlite_store():
    """Runs the service on a new SQLite store until its outbox holds done,
    dead, skipped and pending entries; returns (path, answers by
    message_id), the server stopped. While the server runs, migrate is
    refused and writes nothing."""
    db = new_db()
    answers = {}
    srv = Server(db, devrev=FAKE)
    try:
        # Done: three tickets, one comment, and calm messages (no alert).
        for i in range(3):
            answers[f"a{i}"] = post(srv, f"cust-a{i}", ANGRY, f"a{i}")
            answers[f"n{i}"] = post(srv, f"cust-n{i}", CALM, f"n{i}")
        answers["a0b"] = post(srv, "cust-a0", WORSE, "a0b")
        # What COPY's text format escapes, and more than ASCII.
        answers["esc"] = post(srv, "cust-esc\tb\\c", ESCAPES, "esc\n1")
        wait_until(lambda: sqlite_states(db).get("done", 0) >= 4 and
                   not sqlite_states(db).get("pending"),
                   what="the first deliveries")
        # Dead: DevRev refuses two tickets for good; one is then dropped.
        FAKE.control(rules=[{"path": "/works.create", "action": "status",
                             "status": 400, "type": "invalid_field",
                             "message": "bad part", "count": 2}])
        answers["d0"] = post(srv, "cust-d0", ANGRY, "d0")
        answers["d1"] = post(srv, "cust-d1", ANGRY, "d1")
        wait_until(lambda: sqlite_states(db).get("dead") == 2,
                   what="two dead letters")
        dead = [r[0] for r in db_query(db, "SELECT id FROM outbox WHERE"
                                       " state = 'dead' ORDER BY id")]
        rc, out, err = outbox_cli(db, "drop", str(dead[1]))
        check(rc == 0, f"outbox drop: {rc} {out} {err}")
        # Pending: the token is refused (401); delivery pauses, with the
        # attempts recorded.
        FAKE.control(token="revoked")
        for i in range(3):
            answers[f"p{i}"] = post(srv, f"cust-p{i}", ANGRY, f"p{i}")
        answers["p0b"] = post(srv, "cust-p0", WORSE, "p0b")
        wait_until(lambda: db_query(db, "SELECT COUNT(*) FROM"
                                    " delivery_attempts WHERE http_status"
                                    " = 401")[0][0] >= 1,
                   what="a refused attempt")

        # The server owns the store: migrate refuses, and writes nothing
        # (not even the target's schema).
        target = new_database("while_running")
        rc, out, err = migrate("sqlite:" + db, target)
        check(rc == 1, f"refused while a server runs: {rc} {out} {err}")
        check("stop it first" in err and f"pid {srv.proc.pid}" in err,
              f"tells the operator to stop the server: {err!r}")
        check(psql("while_running", "SELECT to_regclass('messages')")
              == [[None]], "nothing written to the target")
        rc = srv.stop()
        check(rc == 0, f"server stops: status {rc}; its log ends:\n"
              f"{srv.log()[-3000:]}")
    finally:
        srv.kill()
        FAKE.control(token=TOKEN)
    states = sqlite_states(db)
    check(set(states) == {"done", "dead", "skipped", "pending"},
          f"every state in the source: {states}")
    return db, answers


def migrate_copies_then_serve_continues():
    FAKE.reset()
    db, answers = build_sqlite_store()
    # Its own lease (a worker killed mid-request leaves one): not copied.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE outbox SET lease_until = 9999999999999 WHERE id ="
                     " (SELECT MIN(id) FROM outbox WHERE state = 'pending')")
        # The team's labels (POST /api/feedback) go along, both values.
        conn.execute("UPDATE messages SET label = 0, labelled_at ="
                     " 1700000000123, labelled_by = 'ann' WHERE message_id"
                     " = 'a0'")
        conn.execute("UPDATE messages SET label = 1, labelled_at ="
                     " 1700000000456 WHERE message_id = 'n1'")
    pending_before = sqlite_states(db)["pending"]
    url = new_database("target")
    rc, out, err = migrate("sqlite:" + db, url)
    check(rc == 0, f"migrate: {rc} {out} {err}")
    check("rows/s" in out and f"pending {pending_before}," in out,
          f"reports what it copied: {out}")

    # Every table, row for row and column for column.
    for table in COLUMNS:
        src = table_rows_sqlite(db, table)
        dst = table_rows_pg("target", table)
        check(len(src) > 0, f"{table}: the source has rows")
        check(src == dst, f"{table} differs:\n{src}\n!=\n{dst}")
    check(psql("target", "SELECT state, count(*) FROM outbox GROUP BY state"
               " ORDER BY state") ==
          [[k, str(v)] for k, v in sorted(sqlite_states(db).items())],
          "outbox states")
    check(psql("target", "SELECT count(*) FROM outbox WHERE lease_until <> 0"
               " OR lease_owner IS NOT NULL") == [["0"]], "no lease copied")
    check(int(psql("target", "SELECT count(*) FROM outbox WHERE state ="
                   " 'pending' AND attempts > 0 AND last_error IS NOT NULL")
              [0][0]) >= 1, "pending entries keep attempts and errors")
    max_msg = int(psql("target", "SELECT max(id) FROM messages")[0][0])
    max_alert = int(psql("target", "SELECT max(id) FROM alerts")[0][0])

    # A second run: the target holds data, refused, nothing changes.
    before = {t: count("target", t) for t in COLUMNS}
    rc, out, err = migrate("sqlite:" + db, url)
    check(rc == 1 and "not empty" in err and "nothing was written" in err,
          f"non-empty target refused: {rc} {out} {err}")
    check({t: count("target", t) for t in COLUMNS} == before,
          "the refused run wrote nothing")

    # Serving from PostgreSQL.
    works_before = len(FAKE.state()["works"])
    check(works_before == 3, f"three tickets before: {works_before}")
    srv = Server(url, devrev=FAKE)
    try:
        wait_until(lambda: psql("target", "SELECT count(*) FROM outbox"
                                " WHERE state = 'pending'") == [["0"]],
                   timeout=20, what="the pending entries delivered")
        works = FAKE.state()["works"]
        titles = [w["title"] for w in works]
        for c in ("cust-p0", "cust-p1", "cust-p2"):
            check(sum(c in t for t in titles) == 1,
                  f"one ticket for {c}: {titles}")
        check(len(works) == works_before + 3, f"no other ticket: {titles}")
        p0_ticket = [w["id"] for w in works if "cust-p0" in w["title"]][0]
        comments = [c for c in FAKE.state()["comments"]
                    if c["object"] == p0_ticket]
        check(len(comments) == 1, f"cust-p0's comment once: {comments}")
        # A message_id from before the migration: the first answer.
        st, again = srv.post({"customer_id": "cust-a1", "message": ANGRY,
                              "message_id": "a1"})
        check(st == 200 and again.pop("duplicate", None) is True,
              f"a duplicate: {st} {again}")
        check(again == answers["a1"], f"{again} != {answers['a1']}")
        st, again = srv.post({"customer_id": "cust-n0", "message": ANGRY,
                              "message_id": "n0"})
        check(again.get("duplicate") is True and again["alert"] == "none",
              f"the calm message's duplicate: {again}")
        # New rows take ids after the copied ones (not necessarily the next
        # ones: a batch takes its ids ahead, and duplicates leave gaps).
        post(srv, "cust-new", ANGRY, "new-1")
        row = psql("target", "SELECT id, alert_id FROM messages"
                   " WHERE message_id = 'new-1'")[0]
        check(int(row[0]) > max_msg and int(row[1]) > max_alert,
              f"new ids {row} after {max_msg}, {max_alert}")
        wait_until(lambda: sum("cust-new" in w["title"]
                               for w in FAKE.state()["works"]) == 1,
                   what="the new alert's ticket")
        rc = srv.stop()
        check(rc == 0, f"server stops: status {rc}; its log ends:\n"
              f"{srv.log()[-3000:]}")
    finally:
        srv.kill()
    check(len(FAKE.state()["works"]) == works_before + 4,
          "one ticket per alert, none twice")


def failure_half_way_writes_nothing():
    FAKE.reset()
    srv = Server(new_db(), devrev=FAKE)
    try:
        for i in range(3):
            post(srv, f"half-{i}", ANGRY, f"half-{i}")
        rc = srv.stop()
        check(rc == 0, f"server stops: status {rc}; its log ends:\n"
              f"{srv.log()[-3000:]}")
    finally:
        srv.kill()
    # A copy of the store whose last table copied (customer windows)
    # holds a text PostgreSQL refuses (a NUL byte): messages, alerts and
    # the outbox are sent before it fails.
    db = os.path.join(TMP, "half.db")
    with sqlite3.connect(srv.db) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE customer_state SET recent = CAST(x'5b005d' AS"
                     " TEXT) WHERE customer_id = 'half-2'")
    url = new_database("half")
    rc, out, err = migrate(db, url)
    check(rc == 1 and "customer_state" in err and "NUL" in err,
          f"fails on the NUL byte: {rc} {out} {err}")
    for table in COLUMNS:
        check(count("half", table) == 0, f"{table}: nothing written")
    # Repaired, the same target takes the copy.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE customer_state SET recent = '[]'"
                     " WHERE customer_id = 'half-2'")
    rc, out, err = migrate(db, url)
    check(rc == 0, f"then migrates: {rc} {out} {err}")
    check(count("half", "messages") == 3, "three messages")


def target_served_refused():
    """An instance serving the (still empty) target: refused, nothing
    written."""
    src = new_db()
    srv = Server(src)
    try:
        post(srv, "served-0", ANGRY, "served-0")
        rc = srv.stop()
        check(rc == 0, f"server stops: status {rc}; its log ends:\n"
              f"{srv.log()[-3000:]}")
    finally:
        srv.kill()
    url = new_database("served")
    pg_srv = Server(url)
    try:
        rc, out, err = migrate(src, url)
        check(rc == 1 and f"pid {pg_srv.proc.pid}" in err and
              "stop every instance" in err,
              f"refused while the target is served: {rc} {out} {err}")
        check(count("served", "messages") == 0, "nothing written")
        check(pg_srv.stop() == 0, "server stops")
    finally:
        pg_srv.kill()
    rc, out, err = migrate(src, url)
    check(rc == 0 and count("served", "messages") == 1,
          f"then migrates: {rc} {out} {err}")


def usage_and_wrong_sources():
    rc, out, err = migrate("sqlite:" + os.path.join(TMP, "none", "fa.db"),
                           pg_url("postgres"))
    check(rc == 1 and "no SQLite store at" in err, f"missing source: {rc} {err}")
    check(not os.path.exists(os.path.join(TMP, "none")),
          "a missing source is not created")
    rc, _, err = migrate(pg_url("postgres"), pg_url("postgres"))
    check(rc == 2 and "--from must be a SQLite store" in err,
          f"PostgreSQL as source: {rc} {err}")
    rc, _, err = migrate("sqlite:x.db", "sqlite:y.db")
    check(rc == 2, f"SQLite as target: {rc} {err}")
    p = subprocess.run([FA_BIN, "migrate", "--from", "x.db"],
                       capture_output=True, timeout=30)
    check(p.returncode == 2 and b"--to" in p.stderr, "--to missing")
    p = subprocess.run([FA_BIN, "migrate", "--help"], capture_output=True,
                       timeout=30)
    check(p.returncode == 0 and b"--from" in p.stdout, "--help")


if __name__ == "__main__":
    ok, why = pg_cluster.available()
    if not ok:
        print(f"test_migrate: SKIPPED: {why} (scripts/install-deps.sh test)")
        sys.exit(77)
    PG = pg_cluster.PgCluster()
    try:
        PG.start()
        status = run_with_fake(globals(), [
            migrate_copies_then_serve_continues,
            failure_half_way_writes_nothing,
            target_served_refused,
            usage_and_wrong_sources,
        ])
    finally:
        PG.close()
    sys.exit(status)
