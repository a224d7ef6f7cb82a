"""/metrics passes Prometheus' own format check (`promtool check metrics`)
after traffic of every kind: messages at each level, an alert delivered to
(fake) DevRev so that the outbox and delivery families are present, refusals.

Skipped (exit 77, CTest's SKIP_RETURN_CODE) when promtool is not installed:
scripts/install-deps.sh test installs it (Debian's prometheus package).
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import (FakeDevRev, Server, check, metric, run_tests,  # noqa: E402
                        wait_until)

PROMTOOL = shutil.which("promtool")


def test_metrics_pass_promtool():
    fake = FakeDevRev()
    with tempfile.TemporaryDirectory() as d:
        srv = Server(os.path.join(d, "p.db"), devrev=fake)
        try:
            for i, text in enumerate(["Thanks, all sorted now!",
                                      "not good at all",
                                      "This is terrible, still not working!"]):
                st, _ = srv.post({"customer_id": "c%d" % i, "message": text})
                check(st == 200, "status %d" % st)
            st, _ = srv.post({"customer_id": "c9"})
            check(st == 400, "refusal counted: %d" % st)
            wait_until(lambda: fake.requests("/works.create"), what="ticket")
            wait_until(lambda: (metric(srv.metrics(), "fa_delivery_attempts_total")
                                or 0) >= 1, what="delivery counted")
            text = srv.metrics()
            for needle in ('fa_http_requests_total{route="webhook",status="400"}',
                           "fa_outbox_pending", "fa_delivery_attempts_total"):
                check(needle in text, "%s in the metrics" % needle)
            p = subprocess.run([PROMTOOL, "check", "metrics"],
                               input=text.encode(), capture_output=True,
                               timeout=30)
            check(p.returncode == 0, "promtool: %s %s"
                  % (p.stdout.decode(), p.stderr.decode()))
        finally:
            srv.stop()
            fake.close()


if __name__ == "__main__":
    if not PROMTOOL:
        print("test_promtool: SKIPPED: promtool not installed "
              "(scripts/install-deps.sh test)")
        sys.exit(77)
    sys.exit(run_tests([test_metrics_pass_promtool]))
