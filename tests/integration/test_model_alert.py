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


MAIL_REPLY = (
    "Thanks, that worked and my account is unlocked now.\n\n"
    "Best regards,\nAnna\n\n"
    "-----Original Message-----\n"
    "From: Support <support@acme.example>\n"
    "Sent: Monday, March 3, 2025 10:12 AM\n"
    "To: Anna <anna@example.com>\n"
    "Subject: RE: Locked out again - terrible service\n\n"
    "We are sorry you are frustrated. It is unacceptable to be locked out "
    "three times this week and we apologize for the awful experience.")


def test_mail_reply_is_read_without_the_quoted_mail():
    """A customer's calm reply above the support thread it quotes raises
    nothing: the quoted mail is not the customer's (it alerted, angry,
    when it was read). The original rule's polarity still reads the whole
    message, as TextBlob does."""
    fake = FakeDevRev()
    with tempfile.TemporaryDirectory() as d:
        srv = Server(os.path.join(d, "m.db"), devrev=fake)
        try:
            st, body = srv.post({"customer_id": "c3", "message": MAIL_REPLY})
            check(st == 200, "status %d" % st)
            check(body["frustrated"] is False and body["alert"] == "none",
                  "calm reply: %r" % body)
            check(body["level"] in ("calm", "dissatisfied"), body["level"])
            check(body["polarity"] < 0, "TextBlob reads the whole message")
            # The same thread, the customer still locked out: an alert.
            angry = MAIL_REPLY.replace(
                "Thanks, that worked and my account is unlocked now.",
                "It is STILL not working, this is the fourth time. Useless.")
            st, body = srv.post({"customer_id": "c4", "message": angry})
            check(body["frustrated"] is True and body["alert"] == "created",
                  "frustrated reply: %r" % body)
            check(not any("unacceptable" in r["text"] or "awful" in r["text"]
                          for r in body["frustration"]["reasons"]),
                  "no reason from the quoted mail: %r"
                  % body["frustration"]["reasons"])
        finally:
            srv.stop()
            fake.close()


if __name__ == "__main__":
    sys.exit(run_tests([test_model_alert_carries_reasons,
                        test_mail_reply_is_read_without_the_quoted_mail]))
