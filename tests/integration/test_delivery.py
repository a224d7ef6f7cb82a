#!/usr/bin/env python3
"""Alerts reach DevRev, once: black-box tests of the real binary
with a temporary SQLite store and tests/fake_devrev.py.

Checks the exact requests DevRev receives (auth, works.create fields,
internal comments, severity raise), retries while DevRev answers 500, a
429's Retry-After, a permanent 400 ending as a dead letter in /health, the
cooldown, duplicate message_ids, record-only mode, persistence across a
restart, 503 while the store is locked, a store that cannot be opened, and
/metrics (promtool when installed). Python standard library only.

Exits non-zero on any failure; the last line reads "N passed, M failed".
"""
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import (FA_BIN, OWNER, PART, TAG, TOKEN, check, db_query,  # noqa
                        FakeDevRev, metric, new_store_dir, run_tests,
                        outbox_drained, run_with_fake, Server, wait_until)

TMP, new_db = new_store_dir("fa-delivery-")
FAKE = None

ANGRY = "This is terrible, awful service"          # -1.0, angry (blocker)
ANGRY2 = "Still broken, this is awful"             # -0.7, angry
FRUSTRATED = "The service was poor"                # -0.4, frustrated (high)
CALM = "Thanks, all good now"



def msg(customer, text, mid=None, **extra):
    m = {"customer_id": customer, "message": text, **extra}
    if mid:
        m["message_id"] = mid
    return m


def posted(srv, body, status=200):
    st, data = srv.post(body)
    check(st == status, f"POST /webhook: {st} != {status}: {data!r}")
    return data


def creates():
    return FAKE.requests("/works.create")


def health_when(srv, cond, what, timeout=10):
    """/health once cond(health) holds (its delivery numbers are refreshed
    by the worker, so they may lag the store by a moment)."""
    return wait_until(lambda: (lambda h: cond(h) and h)(srv.health()[1]),
                      timeout=timeout, what=what)


def tests():
    out = []

    def t(fn):
        out.append(fn)
        return fn

    @t
    def api_version_setting():
        """DEVREV_API_VERSION pins another version; a malformed one stops
        the server at startup instead of every request failing."""
        FAKE.reset()
        srv = Server(new_db(), devrev=FAKE, env={"DEVREV_API_VERSION": "beta"})
        try:
            posted(srv, msg("v-1", ANGRY, "v-1"))
            wait_until(lambda: len(creates()) == 1, what="works.create")
            check(creates()[0]["headers"].get("x-devrev-version") == "beta",
                  creates()[0]["headers"])
        finally:
            srv.stop()
        p = subprocess.run([FA_BIN, "check-config"], capture_output=True,
                           env=dict(os.environ, DEVREV_API_VERSION="2024-1-24"))
        check(p.returncode != 0 and b"DEVREV_API_VERSION" in p.stderr,
              p.stderr)

    @t
    def happy_path_exact_requests():
        FAKE.reset()
        srv = Server(new_db(), devrev=FAKE)
        try:
            a = posted(srv, msg("acme-42", ANGRY, "hp-1",
                                conversation_id="conv-9", channel="email"))
            check(a["alert"] == "created", f"first alert: {a}")
            check(len(a["alert_key"]) == 32 and a["alert_id"] > 0, a)
            wait_until(lambda: len(creates()) == 1, what="works.create")
            r = creates()[0]
            check(r["headers"].get("authorization") == f"Bearer {TOKEN}",
                  r["headers"])
            check(r["headers"].get("content-type", "").startswith(
                "application/json"), r["headers"])
            # Pinned to the API version whose schemas the bodies follow.
            check(r["headers"].get("x-devrev-version") == "2024-01-24",
                  r["headers"])
            b = r["body"]
            check(b["type"] == "ticket", b)
            check(b["applies_to_part"] == PART, b)
            check(b["owned_by"] == [OWNER], b)
            check(b["severity"] == "blocker", b)  # angry -> blocker
            check(b["tags"] == [{"id": TAG}], b)
            check(b["title"] == "Frustrated customer: acme-42 (angry)",
                  b["title"])
            body = b["body"]
            for want in ("Customer: `acme-42`\n", "Conversation: `conv-9`\n",
                         "Channel: `email`\n",
                         "Level: angry (severity blocker)\n",
                         "Polarity: -1.0 (subjectivity 1.0)\n",
                         "Language: `en`\n",
                         "Deciding words: `negative words: 'terrible', 'awful'",
                         "Message id: `hp-1`\n",
                         "\nMessage:\n```\n" + ANGRY + "\n```\n",
                         "\nfrustration-alert-id: " + a["alert_key"]):
                check(want in body, f"{want!r} not in ticket body {body!r}")
            check(body.endswith("frustration-alert-id: " + a["alert_key"]),
                  body)
            check(r["status"] == 201, r)
            ticket = FAKE.state()["works"][0]

            # Same customer within the cooldown: an internal comment on
            # that ticket; the level rises from frustrated? No: it stays
            # angry, so no severity update.
            a2 = posted(srv, msg("acme-42", ANGRY2, "hp-2"))
            check(a2["alert"] == "appended", a2)
            check(a2["alert_id"] == a["alert_id"], (a, a2))
            wait_until(lambda: FAKE.requests("/timeline-entries.create"),
                       what="comment")
            c = FAKE.requests("/timeline-entries.create")[0]
            check(c["headers"].get("authorization") == f"Bearer {TOKEN}", c)
            cb = c["body"]
            check(cb["object"] == ticket["id"], (cb, ticket))
            check(cb["type"] == "timeline_comment", cb)
            check(cb["visibility"] == "internal", cb)
            check(ANGRY2 in cb["body"] and "Message id: `hp-2`" in cb["body"],
                  cb)
            check(cb["body"].endswith(a["alert_key"]), cb)

            # A calm message raises nothing and sends nothing.
            a3 = posted(srv, msg("acme-42", CALM, "hp-3"))
            check(a3["alert"] == "none" and "alert_id" not in a3, a3)

            wait_until(lambda: outbox_drained(srv.db), what="outbox drained")
            h = health_when(srv, lambda h: h["delivery"]["pending"] == 0 and
                            h["delivery"]["attempts"] >= 2, "health")
            d = h["delivery"]
            check(d["mode"] == "deliver" and d["configured"] is True, d)
            check(d["last_success"] is not None and d["attempts"] >= 2, d)
            check(d["dead_letters"] == 0 and d["failures"] == 0, d)
            check(h["store"]["ok"] is True, h)
            check(len(creates()) == 1, "one ticket only")
            rows = db_query(srv.db, "SELECT ticket_id FROM alerts")
            check(rows == [(ticket["id"],)], rows)
        finally:
            srv.stop()

    @t
    def severity_rises_with_level():
        FAKE.reset()
        srv = Server(new_db(), devrev=FAKE)
        try:
            a = posted(srv, msg("rise-1", FRUSTRATED, "sr-1"))
            check(a["alert"] == "created" and a["level"] == "frustrated", a)
            wait_until(lambda: len(creates()) == 1, what="works.create")
            check(creates()[0]["body"]["severity"] == "high", creates())
            a2 = posted(srv, msg("rise-1", ANGRY, "sr-2"))
            check(a2["alert"] == "appended", a2)
            wait_until(lambda: FAKE.requests("/works.update"),
                       what="works.update")
            u = FAKE.requests("/works.update")[0]["body"]
            ticket = FAKE.state()["works"][0]
            check(u["id"] == ticket["id"] and u["severity"] == "blocker", u)
            wait_until(lambda: outbox_drained(srv.db), what="drained")
            check(FAKE.state()["works"][0]["severity"] == "blocker", "raised")
        finally:
            srv.stop()

    @t
    def devrev_down_then_back_delivers_each_once():
        FAKE.reset()
        # Every request fails for a while (creates and lookups alike).
        FAKE.control(rules=[{"action": "status", "status": 500,
                             "count": 8}])
        srv = Server(new_db(), devrev=FAKE)
        try:
            keys = []
            for i in range(3):
                a = posted(srv, msg(f"down-{i}", ANGRY, f"down-{i}"))
                check(a["alert"] == "created", a)
                keys.append(a["alert_key"])
            wait_until(lambda: outbox_drained(srv.db), timeout=20,
                       what="drained")
            h = health_when(srv, lambda h: h["delivery"]["failures"] >= 8,
                            "failures in /health")
            works = FAKE.state()["works"]
            for k in keys:
                n = sum(w["body"].endswith(k) for w in works)
                check(n == 1, f"alert {k}: {n} tickets")
            check(len(works) == 3, f"{len(works)} tickets")
            failed = [r for r in FAKE.requests() if r["status"] == 500]
            check(len(failed) == 8, f"{len(failed)} injected 500s answered")
            check(h["delivery"]["failures"] >= 8, h["delivery"])
            check(h["delivery"]["dead_letters"] == 0, h["delivery"])
        finally:
            srv.stop()

    @t
    def rate_limit_waits_retry_after():
        FAKE.reset()
        FAKE.control(rules=[{"path": "/works.create", "action": "status",
                             "status": 429, "retry_after": 2}])
        srv = Server(new_db(), devrev=FAKE)
        try:
            posted(srv, msg("rl-1", ANGRY, "rl-1"))
            wait_until(lambda: FAKE.state()["works"], timeout=15,
                       what="ticket after 429")
            reqs = creates()
            check(len(reqs) == 2, f"{len(reqs)} creates")
            check(reqs[0]["status"] == 429 and reqs[1]["status"] == 201, reqs)
            gap = reqs[1]["t"] - reqs[0]["t"]
            check(gap >= 1.9, f"retried after {gap:.2f} s, not Retry-After 2")
            check(len(FAKE.state()["works"]) == 1, "one ticket")
        finally:
            srv.stop()

    @t
    def permanent_400_is_a_dead_letter():
        FAKE.reset()
        FAKE.control(rules=[{"path": "/works.create", "action": "status",
                             "status": 400, "type": "invalid_field",
                             "message": "part does not exist"}])
        srv = Server(new_db(), devrev=FAKE)
        try:
            posted(srv, msg("dead-1", ANGRY, "dead-1"))
            h = health_when(srv, lambda h: h["delivery"]["dead_letters"] == 1,
                            "dead letter in /health")
            d = h["delivery"]
            check(d["pending"] == 0, d)
            check(d["last_error"] and "400" in d["last_error"], d)
            check(not FAKE.state()["works"], "no ticket")
            time.sleep(0.5)
            check(len(creates()) == 1, "a dead letter is not retried")
            rows = db_query(srv.db, "SELECT kind, state, last_error "
                            "FROM outbox")
            check(len(rows) == 1 and rows[0][:2] == ("create_ticket", "dead")
                  and "part does not exist" in rows[0][2], rows)
            wait_until(lambda: metric(srv.metrics(),
                                      "fa_outbox_dead_letters") == 1,
                       what="fa_outbox_dead_letters")
        finally:
            srv.stop()

    @t
    def cooldown_appends_then_reopens():
        FAKE.reset()
        srv = Server(new_db(), devrev=FAKE, env={"ALERT_COOLDOWN": "1"})
        try:
            a1 = posted(srv, msg("cool-1", ANGRY, "cool-1"))
            a2 = posted(srv, msg("cool-1", ANGRY2, "cool-2"))
            check(a1["alert"] == "created" and a2["alert"] == "appended",
                  (a1, a2))
            check(a1["alert_key"] == a2["alert_key"], (a1, a2))
            time.sleep(1.3)  # past ALERT_COOLDOWN=1
            a3 = posted(srv, msg("cool-1", ANGRY, "cool-3"))
            check(a3["alert"] == "created", a3)
            check(a3["alert_id"] != a1["alert_id"], (a1, a3))
            wait_until(lambda: outbox_drained(srv.db), what="drained")
            check(len(creates()) == 2, f"{len(creates())} creates")
            check(len(FAKE.requests("/timeline-entries.create")) == 1,
                  "one comment")
        finally:
            srv.stop()

    @t
    def duplicate_message_id_same_answer_no_second_alert():
        FAKE.reset()
        srv = Server(new_db(), devrev=FAKE)
        try:
            body = msg("dup-1", ANGRY, "dup-1", conversation_id="c-1")
            st1, first = srv.post(body)
            st2, again = srv.post(body)
            check(st1 == 200 and st2 == 200, (st1, st2))
            check(again.pop("duplicate") is True, again)
            check(again == first, f"{again} != {first}")
            # Its "id" is the number of the row stored the first time.
            rows = db_query(srv.db, "SELECT id FROM messages WHERE"
                            " message_id = 'dup-1'")
            check(type(first.get("id")) is int and first["id"] >= 1
                  and rows == [(first["id"],)], (first, rows))
            # Even with different content: the first answer stands.
            st3, other = srv.post(msg("dup-1", CALM, "dup-1"))
            check(other["polarity"] == first["polarity"] and
                  other["alert"] == "created" and other["duplicate"] and
                  other["id"] == first["id"], other)
            # In a batch, next to a new message (and twice in one batch).
            st4, b = srv.post({"messages": [
                body, msg("dup-2", CALM, "dup-2"), msg("dup-2", CALM,
                                                        "dup-2")]})
            check(st4 == 200 and b["count"] == 3, b)
            r0, r1, r2 = b["results"]
            check(r0.get("duplicate") is True and r0["alert"] == "created",
                  r0)
            check("duplicate" not in r1 and r1["alert"] == "none", r1)
            check(r2.get("duplicate") is True, r2)
            dup2 = db_query(srv.db, "SELECT id FROM messages WHERE"
                            " message_id = 'dup-2'")
            check(r0["id"] == first["id"] and dup2 == [(r1["id"],)]
                  and r2["id"] == r1["id"] and r1["id"] != first["id"],
                  (first["id"], r0, r1, r2, dup2))
            wait_until(lambda: outbox_drained(srv.db), what="drained")
            time.sleep(0.3)
            check(len(creates()) == 1, f"{len(creates())} creates")
            check(not FAKE.requests("/timeline-entries.create"), "comments")
            n = db_query(srv.db, "SELECT count(*) FROM messages")[0][0]
            check(n == 2, f"{n} messages stored")
            text = srv.metrics()
            check('fa_alerts_total{outcome="duplicate"} 4' in text, text)
        finally:
            srv.stop()

    @t
    def record_only_without_token():
        FAKE.reset()
        db = new_db()
        srv = Server(db)  # no DEVREV_* at all
        try:
            check("record-only" in srv.log(), srv.log())
            a = posted(srv, msg("ro-1", ANGRY, "ro-1"))
            check(a["alert"] == "created", a)
            st, h = srv.health()
            check(st == 200, h)
            d = h["delivery"]
            check(d["mode"] == "record-only" and d["configured"] is False, d)
            wait_until(lambda: db_query(db, "SELECT state FROM outbox") ==
                       [("skipped",)], what="entry skipped")
            check(FAKE.requests() == [], "nothing sent")
            check(db_query(db, "SELECT count(*) FROM alerts")[0][0] == 1,
                  "alert stored")
            check(metric(srv.metrics(), "fa_delivery_enabled") == 0, "metric")
        finally:
            srv.stop()

    @t
    def data_persists_across_restart():
        FAKE.reset()
        db = new_db()
        srv = Server(db, devrev=FAKE)
        try:
            first = posted(srv, msg("keep-1", ANGRY, "keep-1"))
            wait_until(lambda: outbox_drained(srv.db), what="drained")
            check(srv.stop() == 0, "SIGTERM exit status")
            check("stopped" in srv.log(), srv.log())
            srv = Server(db, devrev=FAKE)
            again = posted(srv, msg("keep-1", ANGRY, "keep-1"))
            check(again.pop("duplicate") is True and again == first,
                  (again, first))
            a = posted(srv, msg("keep-1", ANGRY2, "keep-2"))
            check(a["alert"] == "appended" and
                  a["alert_key"] == first["alert_key"], a)
            wait_until(lambda: outbox_drained(srv.db), what="drained")
            check(len(creates()) == 1, "one ticket across the restart")
            wait_until(lambda: FAKE.requests("/timeline-entries.create"),
                       what="comment after restart")
        finally:
            srv.stop()

    @t
    def store_locked_answers_503_then_recovers():
        FAKE.reset()
        path = new_db()
        srv = Server("sqlite:" + path + "?busy_timeout_ms=200", devrev=FAKE)
        lock = None
        try:
            posted(srv, msg("lock-0", CALM, "lock-0"))
            lock = sqlite3.connect(path, timeout=5, isolation_level=None)
            lock.execute("BEGIN EXCLUSIVE")
            st, err = srv.post(msg("lock-1", ANGRY, "lock-1"))
            check(st == 503 and err["error"] == "store_unavailable", err)
            st, h = srv.health()
            check(st == 503 and h["store"]["ok"] is False, (st, h))
            check(h["store"]["failed_commits"] >= 1 and
                  h["store"]["last_error"], h["store"])
            st, err = srv.post({"messages": [msg("lock-2", CALM, "lock-2"),
                                             msg("lock-3", CALM, "lock-3")]})
            check(st == 503, err)
            lock.execute("ROLLBACK")
            lock.close()
            lock = None
            a = posted(srv, msg("lock-1", ANGRY, "lock-1"))
            check(a["alert"] == "created" and "duplicate" not in a,
                  f"nothing of the refused request was kept: {a}")
            st, h = srv.health()
            check(st == 200 and h["store"]["ok"] is True, h)
            n = db_query(path, "SELECT count(*) FROM messages")[0][0]
            check(n == 2, f"{n} messages")
            check(metric(srv.metrics(),
                         "fa_webhook_store_unavailable_total") == 2, "metric")
        finally:
            if lock:
                lock.close()
            srv.stop()

    @t
    def unusable_store_stops_startup():
        blocker = os.path.join(TMP, "a-file")
        with open(blocker, "w") as f:
            f.write("x")
        try:
            Server(os.path.join(blocker, "sub", "fa.db"))
        except RuntimeError as e:
            check("cannot start" in str(e) and "a-file" in str(e), str(e))
        else:
            raise AssertionError("started on an unusable store")

    @t
    def db_flag_and_metrics_format():
        FAKE.reset()
        path = new_db()
        srv = Server("/nonexistent/ignored.db", devrev=FAKE,
                     args=("--db", path))
        srv.db = path
        try:
            posted(srv, msg("m-1", ANGRY, "m-1"))
            wait_until(lambda: outbox_drained(srv.db), what="drained")
            check(os.path.exists(path), "--db used")
            st, h = srv.health()
            check(h["store"]["url"] == path, h["store"])
            wait_until(lambda: metric(srv.metrics(),
                                      "fa_delivery_attempts_total") >= 1,
                       what="attempts in /metrics")
            text = srv.metrics()
            for name in ("fa_outbox_pending", "fa_outbox_dead_letters",
                         "fa_outbox_oldest_pending_age_seconds",
                         "fa_delivery_attempts_total",
                         "fa_delivery_failures_total",
                         "fa_store_commits_total",
                         "fa_store_commit_batch_messages"):
                check(metric(text, name) is not None, f"{name} missing")
            check('fa_alerts_total{outcome="created"} 1' in text, text)
            check(metric(text, "fa_delivery_attempts_total") >= 1, text)
            # Timestamps beside the "time since" gauges (Prometheus'
            # instrumentation guide): the start, and the oldest pending
            # entry's creation (0 while nothing is pending).
            start = metric(text, "fa_start_time_seconds")
            check(start is not None and time.time() - 120 < start <= time.time(),
                  f"start time {start}")
            check(metric(text, "fa_outbox_oldest_pending_timestamp_seconds") == 0,
                  "nothing pending")
            FAKE.control(rules=[{"path": "/works.create", "action": "status",
                                 "status": 500, "count": 1000}])
            t0 = time.time()
            posted(srv, msg("m-2", ANGRY, "m-2b"))
            wait_until(lambda: metric(srv.metrics(), "fa_outbox_pending") >= 1,
                       what="an entry pending")
            oldest = metric(srv.metrics(),
                            "fa_outbox_oldest_pending_timestamp_seconds")
            check(t0 - 2 < oldest < time.time() + 1,
                  f"oldest pending at {oldest}, posted at {t0:.3f}")
            FAKE.reset()
            # Prometheus' format check of these: test_promtool.py.
        finally:
            srv.stop()

    return out


def main():
    return run_with_fake(globals(), tests())


if __name__ == "__main__":
    sys.exit(main())
