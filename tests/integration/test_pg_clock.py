#!/usr/bin/env python3
"""Instances whose clocks disagree, on one PostgreSQL database.

Instances on several machines read leases, cooldowns, retries and pauses
in times they store: with its own clock ten minutes ahead, an instance
took the lease of a ticket another instance was creating (a second
ticket for one alert), and opened a new alert where the customer's
episode was still open. Each instance now reads the database server's
clock (its offset measured, README "Scaling out").

Instance B runs with its clock ten minutes ahead through libfaketime
(Debian's package `libfaketime`, preloaded: the binary is the same, the
time the system gives it is not); instance A and the database server
keep the machine's.

- B's /health shows the offset (about -600,000 ms); its dashboard reads
  stored times on the server's clock too.
- A works.create that A has sent, and DevRev holds for 3 s, is not taken
  over by B: one request, one ticket.
- With a 5-minute ALERT_COOLDOWN, a frustrated message on B joins the
  alert a message on A opened a moment before: one ticket, one comment.

Skipped (exit 77) where no PostgreSQL cluster can be made or libfaketime
is not installed, and in a ThreadSanitizer build (libfaketime's pthread
wrappers hide lock operations from it: false reports).
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import FA_BIN, Server, check  # noqa: E402
import pg_instances as pgi  # noqa: E402
from pg_instances import ANGRY, ANGRY2, sql, sql_int  # noqa: E402

FAKE = None
FAKETIME_LIBS = ("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
                 "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1")
AHEAD_MS = 10 * 60 * 1000
# A DevRev answer may take 3 s here; the lease stays the default 5 min.
ENV = {"DEVREV_TIMEOUT_MS": "8000", "ALERT_COOLDOWN": "300"}


def faketime_lib():
    return next((p for p in FAKETIME_LIBS if os.path.exists(p)), None)


def thread_sanitized():
    """Is FA_BIN built with ThreadSanitizer? libfaketime wraps the
    pthread calls it sees, and the sanitizer then misses lock operations
    and reports races and double locks that are not there."""
    try:
        p = subprocess.run(["ldd", FA_BIN], capture_output=True, text=True,
                           timeout=30)
    except OSError:
        return False
    return "libtsan" in p.stdout


def ahead_env():
    # A sanitizer build wants its runtime first among the libraries;
    # libfaketime, preloaded, comes first: told to let it be.
    asan = os.environ.get("ASAN_OPTIONS", "")
    asan = (asan + ":" if asan else "") + "verify_asan_link_order=0"
    return dict(ENV, LD_PRELOAD=faketime_lib(), FAKETIME="+10m",
                DONT_FAKE_MONOTONIC="1", ASAN_OPTIONS=asan)


def wait_for(fn, what, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_offset_is_measured():
    url = pgi.fresh_db()
    b = Server(url, env=ahead_env())
    try:
        # The idle writer measures at its first check, a second in.
        off = wait_for(lambda: b.health()[1]["store"]["clock_offset_ms"],
                       "a measured offset")
        check(abs(off + AHEAD_MS) < 5000, f"offset {off} ms")
        # The dashboard buckets stored times by the same clock.
        st, stats = b.request("GET", "/api/stats")
        check(st == 200 and abs(stats["now_ms"] - time.time() * 1000) < 5000,
              f"the dashboard's now: {st} {stats.get('now_ms')}")
        a = Server(url, env=ENV)
        try:
            time.sleep(1.5)
            off = a.health()[1]["store"]["clock_offset_ms"]
            check(abs(off) < 2000, f"offset of the instance on time: {off}")
        finally:
            a.stop()
    finally:
        b.stop()


def test_lease_is_not_taken_by_an_instance_ahead():
    FAKE.reset()
    url = pgi.fresh_db()
    a = Server(url, env=ENV, devrev=FAKE)
    b = None
    try:
        FAKE.control(rules=[{"path": "/works.create", "action": "delay",
                             "seconds": 3}])
        st, ans = a.post({"customer_id": "lease", "message": ANGRY,
                          "message_id": "lease-1"})
        check(st == 200 and ans["alert"] == "created", (st, ans))
        wait_for(lambda: FAKE.requests("/works.create"), "A's works.create")
        b = Server(url, env=ahead_env(), devrev=FAKE)
        wait_for(lambda: sql_int(url, "SELECT count(*) FROM outbox WHERE "
                                 "state = 'pending'") == 0, "delivery")
        time.sleep(1.0)  # room for a second create, if one were coming
        creates = FAKE.requests("/works.create")
        works = FAKE.state()["works"]
        check(len(creates) == 1 and len(works) == 1,
              f"{len(creates)} works.create, {len(works)} tickets")
        check("creating it" not in b.log(), "B created:\n" + b.log()[-2000:])
    finally:
        pgi.stop_all([s for s in (a, b) if s])


def test_cooldown_is_read_on_one_clock():
    FAKE.reset()
    url = pgi.fresh_db()
    a = Server(url, env=ENV, devrev=FAKE)
    b = Server(url, env=ahead_env(), devrev=FAKE)
    try:
        st, first = a.post({"customer_id": "cool", "message": ANGRY,
                            "message_id": "cool-1"})
        check(st == 200 and first["alert"] == "created", (st, first))
        st, second = b.post({"customer_id": "cool", "message": ANGRY2,
                             "message_id": "cool-2"})
        check(st == 200 and second["alert"] == "appended" and
              second["alert_id"] == first["alert_id"],
              f"B, within A's cooldown: {second}")
        wait_for(lambda: sql_int(url, "SELECT count(*) FROM outbox WHERE "
                                 "state = 'pending'") == 0, "delivery")
        check(len(FAKE.state()["works"]) == 1, FAKE.state()["works"])
        check(len(FAKE.requests("/timeline-entries.create")) == 1,
              "one comment")
        rows = sql(url, "SELECT count(*) FROM alerts")
        check(rows == [["1"]], f"alerts: {rows}")
    finally:
        pgi.stop_all([a, b])


def why_skip():
    if not faketime_lib():
        return ("libfaketime is not installed (scripts/install-deps.sh "
                "test installs it)")
    if thread_sanitized():
        return ("a ThreadSanitizer build under libfaketime reports races "
                "that are not there (make test and make asan run this test)")
    return None


if __name__ == "__main__":
    sys.exit(pgi.main("test_pg_clock", globals(), [
        test_offset_is_measured,
        test_lease_is_not_taken_by_an_instance_ahead,
        test_cooldown_is_read_on_one_clock], skip=why_skip))
