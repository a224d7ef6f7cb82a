"""FRUSTRATION_DETECTOR=model end to end: a support message the original
rule misses (polarity 0.0) raises an alert, and the ticket DevRev receives
carries the level and the model's reasons."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import FakeDevRev, Server, check, run_tests, wait_until  # noqa: E402


def test_model_alert_carries_reasons():
    fake = FakeDevRev()
    with tempfile.TemporaryDirectory() as d:
        srv = Server(os.path.join(d, "m.db"), env={"FRUSTRATION_DETECTOR": "model"},
                     devrev=fake)
        try:
            st, body = srv.post({"customer_id": "c1",
                                 "message": "Still waiting for my refund, third time asking."})
            check(st == 200, "status %d" % st)
            check(body["polarity"] == 0.0, "the original rule would miss it")
            check(body["frustrated"] is True and body["alert"] == "created",
                  "model alert: %r" % body)
            check(body["level"] == "frustrated", "alert level reached")
            check(body["frustration"]["reasons"], "reasons in the answer")
            wait_until(lambda: fake.requests("/works.create"), what="ticket")
            ticket = fake.requests("/works.create")[0]["body"]
            check("Level: frustrated" in ticket["body"], "level in the ticket")
            check("refund or cancellation: 'refund'" in ticket["body"],
                  "model reasons in the ticket: " + ticket["body"])
            check(ticket["severity"] == "high", "severity from the level")
            st, body = srv.post({"customer_id": "c2", "message": "Thanks, all sorted now!"})
            check(body["frustrated"] is False and body["alert"] == "none", "calm message")
        finally:
            srv.stop()
            fake.close()


if __name__ == "__main__":
    sys.exit(run_tests([test_model_alert_carries_reasons]))
