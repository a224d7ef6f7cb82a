"""FRUSTRATION_DETECTOR=model end to end: a support message the original
rule misses (polarity 0.0) raises an alert, and the ticket DevRev receives
carries the level and the model's reasons."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import (FA_BIN, FakeDevRev, Server, check, run_tests,  # noqa: E402
                        wait_until)


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


OWN = "Thanks, that worked and my account is unlocked now.\n\nBest regards,\nAnna\n\n"
FR_REPLY = ("Merci, \u00e7a marche maintenant, mon compte est d\u00e9bloqu\u00e9.\n\n"
            "Le lun. 3 mars 2025 \u00e0 10:12, Support <support@acme.example> "
            "a \u00e9crit :\n\n" + MAIL_REPLY.split("Subject:")[1] * 3)
FR_OWN = "Merci, \u00e7a marche maintenant, mon compte est d\u00e9bloqu\u00e9.\n\n"


def post_each(texts, prefix, devrev=None):
    """Posts each (name, text) of texts to a new server (a customer each);
    returns the answers by name."""
    got = {}
    with tempfile.TemporaryDirectory() as d:
        srv = Server(os.path.join(d, "m.db"), devrev=devrev)
        try:
            for name, text in texts:
                st, body = srv.post({"customer_id": prefix + name,
                                     "message": text})
                check(st == 200, "status %d" % st)
                got[name] = body
        finally:
            srv.stop()
    return got


def score_each(texts, cjson_text):
    """`score`'s lines for texts (batched), then for cjson_text on the
    cJSON path (an escaped key takes it; a number as "text" would be
    refused)."""
    lines = [json.dumps({"text": t}) for t in texts]
    lines.append('{"te\\u0078t": %s}' % json.dumps(cjson_text))
    p = subprocess.run([FA_BIN, "score"], input="\n".join(lines) + "\n",
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, p.stderr)
    rows = [json.loads(l) for l in p.stdout.splitlines()]
    check(len(rows) == len(lines), "%d rows" % len(rows))
    return rows


def test_model_reads_the_writers_own_words():
    """The model's language and polarity come from the writer's own words,
    on every path (the service, `score` line by line and in batches, and
    its cJSON path), so a reply scores as the reply alone; `polarity`
    (the original rule's, TextBlob's) is still the whole message's."""
    got = post_each((("reply", MAIL_REPLY), ("own", OWN),
                     ("fr", FR_REPLY), ("fr_own", FR_OWN)), "o-")
    check(got["reply"]["frustration"]["score"] == got["own"]["frustration"]["score"],
          "reply %r, own words %r" % (got["reply"]["frustration"]["score"],
                                      got["own"]["frustration"]["score"]))
    check(got["reply"]["polarity"] != got["own"]["polarity"],
          "the rule's polarity reads the whole message")
    check(got["fr"]["language"] == "fr", "language of the reply: %r"
          % got["fr"]["language"])
    check(got["fr"]["frustration"]["score"] == got["fr_own"]["frustration"]["score"],
          "fr reply %r, own words %r" % (got["fr"]["frustration"]["score"],
                                         got["fr_own"]["frustration"]["score"]))
    rows = score_each((MAIL_REPLY, OWN, FR_REPLY, FR_OWN), MAIL_REPLY)
    check(rows[0]["frustration"] == rows[1]["frustration"] ==
          got["own"]["frustration"]["score"], "score: %r %r" %
          (rows[0]["frustration"], rows[1]["frustration"]))
    check(rows[2]["language"] == "fr" and
          rows[2]["frustration"] == rows[3]["frustration"], "score fr: %r" % rows[2])
    check(rows[4]["frustration"] == rows[0]["frustration"], "cJSON path: %r" % rows[4])


LOG_ASK = ("Here is the log:\n"
           "    Traceback (most recent call last):\n"
           "      File \"app.py\", line 3, in <module>\n"
           "    ValueError: invalid literal, broken pipe, crash\n"
           "Could you take a look when you have time?")
LOG_ASK_OWN = "Here is the log:\nCould you take a look when you have time?"
FR_LOG = ("Bonjour, depuis la mise \u00e0 jour j'ai cette erreur :\n```\n"
          "2024-05-01 12:00:03 ERROR sync failed: connection refused by remote "
          "host, please check the server configuration and try again later\n"
          "2024-05-01 12:00:04 FATAL giving up after 3 retries\n```\n"
          "C'est la troisi\u00e8me fois, c'est inadmissible !")
FR_LOG_OWN = ("Bonjour, depuis la mise \u00e0 jour j'ai cette erreur :\n"
              "C'est la troisi\u00e8me fois, c'est inadmissible !")


def test_pasted_log_is_not_the_writers_words():
    """A stack trace or log pasted into a message is read around: its
    words ("invalid", "crash", "failed", "FATAL") are not the customer's.
    A calm question with a trace raised an alert (0.57) before; a French
    complaint with an English log was read as English. The model scores
    each as the message without the pasted lines, on every path; the
    original rule's polarity still reads the whole message."""
    fake = FakeDevRev()
    try:
        got = post_each((("ask", LOG_ASK), ("ask_own", LOG_ASK_OWN),
                         ("fr", FR_LOG), ("fr_own", FR_LOG_OWN)), "log-",
                        devrev=fake)
    finally:
        fake.close()
    ask = got["ask"]
    check(ask["frustrated"] is False and ask["alert"] == "none" and
          ask["level"] == "calm", "calm question with a trace: %r" % ask)
    check(ask["frustration"]["score"] ==
          got["ask_own"]["frustration"]["score"], "%r %r" % (
              ask["frustration"]["score"],
              got["ask_own"]["frustration"]["score"]))
    check(ask["polarity"] != got["ask_own"]["polarity"],
          "the rule's polarity reads the whole message")
    fr = got["fr"]
    check(fr["language"] == "fr" and fr["frustrated"] is True and
          fr["alert"] == "created", "French complaint with a log: %r" % fr)
    check(fr["frustration"]["score"] == got["fr_own"]["frustration"]["score"],
          "%r %r" % (fr["frustration"]["score"],
                     got["fr_own"]["frustration"]["score"]))
    check(not any(w in r["text"] for r in fr["frustration"]["reasons"]
                  for w in ("failed", "FATAL", "refused")),
          "no reason from the log: %r" % fr["frustration"]["reasons"])
    rows = score_each((LOG_ASK, LOG_ASK_OWN, FR_LOG, FR_LOG_OWN), FR_LOG)
    check(rows[0]["frustration"] == rows[1]["frustration"] ==
          ask["frustration"]["score"], "score: %r" % rows[:2])
    check(rows[2]["language"] == "fr" and rows[2]["frustration"] ==
          rows[3]["frustration"] == rows[4]["frustration"] ==
          fr["frustration"]["score"], "score fr: %r" % rows[2:])


HTML_REPLY = (
    '<div dir="ltr">Thanks, that worked and my account is unlocked now.'
    '</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
    'On Mon, 3 Mar 2025 at 10:12, Support &lt;support@acme.example&gt; '
    'wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px '
    '0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">We '
    'are sorry you are frustrated. It is unacceptable to be locked out '
    'three times this week and we apologize for the awful experience.'
    '</blockquote></div>')
HTML_OWN = "\nThanks, that worked and my account is unlocked now.\n\n"


def test_html_reply_is_read_as_its_text():
    """A mail reply sent as HTML (Gmail's markup) is read as the text a
    reader sees, down to the quoted part: calm (it alerted, angry, 0.95),
    scoring as its own text does, on every path."""
    fake = FakeDevRev()
    try:
        got = post_each((("html", HTML_REPLY), ("own", HTML_OWN)), "h-",
                        devrev=fake)
    finally:
        fake.close()
    html, own = got["html"], got["own"]
    check(html["frustrated"] is False and html["alert"] == "none" and
          html["level"] == "calm", "HTML reply: %r" % html)
    check(html["frustration"]["score"] == own["frustration"]["score"],
          "%r %r" % (html["frustration"]["score"], own["frustration"]["score"]))
    rows = score_each((HTML_REPLY, HTML_OWN), HTML_REPLY)
    check(rows[0]["frustration"] == rows[1]["frustration"]
          == rows[2]["frustration"] == own["frustration"]["score"],
          "score: %r" % [r["frustration"] for r in rows])


if __name__ == "__main__":
    sys.exit(run_tests([test_model_alert_carries_reasons,
                        test_mail_reply_is_read_without_the_quoted_mail,
                        test_model_reads_the_writers_own_words,
                        test_pasted_log_is_not_the_writers_words,
                        test_html_reply_is_read_as_its_text]))
