#!/usr/bin/env python3
"""DevRev refusing the token is a configuration fault, not the end of the
alerts: black-box tests of the real binary with tests/fake_devrev.py.

A token revoked for a few seconds (401, then accepted again) and a run of
403s lose no alert: delivery pauses and retries with backoff, /health says
"degraded" with the reason and /metrics fa_delivery_auth_failing is 1 while
it lasts, and every alert gets its one ticket afterwards. A 429 whose
Retry-After is above DEVREV_RETRY_AFTER_MAX waits only that long. Python
standard library only.

Exits non-zero on any failure; the last line reads "N passed, M failed".
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import (TOKEN, check, db_query, FakeDevRev, metric,  # noqa
                        new_store_dir, run_tests, run_with_fake, Server,
                        wait_until)

TMP, new_db = new_store_dir("fa-auth-")
FAKE = None
ANGRY = "This is terrible, awful service"
N_ALERTS = 10



def post_alerts(srv, prefix, n):
    for i in range(n):
        st, data = srv.post({"customer_id": f"{prefix}-{i}", "message": ANGRY,
                             "message_id": f"{prefix}-m{i}"})
        check(st == 200 and data["alert"] == "created", f"{st} {data!r}")


def outbox_states(srv):
    return dict(db_query(srv.db, "SELECT state, COUNT(*) FROM outbox"
                         " GROUP BY state"))


def all_delivered(srv, n):
    works = FAKE.state()["works"]
    states = outbox_states(srv)
    return len(works) >= n and states.get("pending", 0) == 0 and states


def token_revoked_then_restored():
    FAKE.reset()
    FAKE.control(token="revoked")
    srv = Server(new_db(), devrev=FAKE)
    try:
        post_alerts(srv, "rev", N_ALERTS)
        wait_until(lambda: sum(1 for r in FAKE.requests()
                               if r["status"] == 401) >= 2,
                   what="DevRev refusing the token twice")
        st, health = srv.health()
        check(st == 200, f"/health {st} while the token is refused")
        check(health["status"] == "degraded", f"status: {health['status']}")
        check("DEVREV_API_TOKEN" in health.get("reason", ""),
              f"reason: {health.get('reason')!r}")
        check(health["delivery"]["auth_failing"], "delivery.auth_failing")
        check(health["delivery"]["dead_letters"] == 0, "no dead letter")
        text = srv.metrics()
        check(metric(text, "fa_delivery_auth_failing") == 1, "gauge is 1")
        check(metric(text, "fa_delivery_auth_failures_total") >= 2,
              "refusals counted")
        check(metric(text, "fa_outbox_dead_letters") == 0, "no dead letter")
        check("DevRev refuses the token" in srv.log(),
              "the log says so:\n" + srv.log()[-2000:])
        time.sleep(3)                    # revoked for about three seconds
        states = outbox_states(srv)
        check(states.get("dead", 0) == 0 and states.get("skipped", 0) == 0,
              f"nothing dropped while refused: {states}")
        FAKE.control(token=TOKEN)
        states = wait_until(lambda: all_delivered(srv, N_ALERTS), timeout=30,
                            what="every alert delivered")
        check(states == {"done": N_ALERTS}, f"outbox: {states}")
        works = FAKE.state()["works"]
        check(len(works) == N_ALERTS,
              f"{len(works)} tickets for {N_ALERTS} alerts (lost or doubled)")
        st, health = srv.health()
        check(health["status"] == "ok", f"status after: {health['status']}")
        check(not health["delivery"]["auth_failing"], "auth_failing cleared")
        check(metric(srv.metrics(), "fa_delivery_auth_failing") == 0,
              "gauge back to 0")
        check("accepts the token again" in srv.log(), "the log says so")
        check(srv.stop() == 0, "stops")
    finally:
        FAKE.control(token=TOKEN)
        srv.kill()


def forbidden_is_retried():
    FAKE.reset()
    FAKE.control(rules=[{"path": "/works.create", "action": "status",
                         "status": 403, "count": 4}])
    srv = Server(new_db(), devrev=FAKE)
    try:
        post_alerts(srv, "forb", 3)
        states = wait_until(lambda: all_delivered(srv, 3), timeout=30,
                            what="every alert delivered")
        check(states == {"done": 3}, f"outbox: {states}")
        refused = [r for r in FAKE.requests("/works.create")
                   if r["status"] == 403]
        check(len(refused) == 4, f"{len(refused)} refusals")
        check(len(FAKE.state()["works"]) == 3, "one ticket each")
        check(srv.stop() == 0, "stops")
    finally:
        srv.kill()


def retry_after_capped():
    FAKE.reset()
    FAKE.control(rules=[{"path": "/works.create", "action": "status",
                         "status": 429, "retry_after": 3600}])
    srv = Server(new_db(), devrev=FAKE,
                 env={"DEVREV_RETRY_AFTER_MAX": "2"})
    try:
        t0 = time.time()
        post_alerts(srv, "cap", 1)
        wait_until(lambda: len(FAKE.state()["works"]) == 1, timeout=15,
                   what="the ticket, after at most the cap")
        took = time.time() - t0
        check(1.5 <= took <= 8, f"waited {took:.1f} s (cap 2 s)")
        check("DEVREV_RETRY_AFTER_MAX" in srv.log(), "the log names the cap")
        check(srv.stop() == 0, "stops")
    finally:
        srv.kill()


def main():
    return run_with_fake(globals(), [token_revoked_then_restored, forbidden_is_retried,
                          retry_after_capped])


if __name__ == "__main__":
    sys.exit(main())
