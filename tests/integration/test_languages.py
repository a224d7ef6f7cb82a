"""Every language the customers write, end to end with default settings:
the service detects the language of each message (or takes the one the
sender gives), scores it with that language's signals, says which language
it saw and whether it is supported, keeps it with the message and puts it
in the DevRev ticket. A language it does not support is scored on emoji,
punctuation and capitals only, and says so; FRUSTRATION_LANGUAGES narrows
the languages scored with their own signals."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import (FakeDevRev, Server, check, db_query, run_tests,  # noqa: E402
                        wait_until)

FRENCH = ("C'est la troisième fois que je vous écris, toujours aucune "
          "réponse et mon colis n'est pas arrivé. Service nul !")
GERMAN = ("Ich warte seit zwei Wochen auf meine Erstattung, keine Antwort, "
          "das ist eine Frechheit!")
SPANISH_CALM = "Muchas gracias, el pedido llegó perfecto y muy rápido."
ITALIAN = "Servizio pessimo, il modem non funziona da una settimana."
DUTCH_CALM = "Bedankt voor de snelle hulp, alles werkt weer."
PORTUGUESE = ("Péssimo atendimento, já liguei três vezes e ninguém resolve "
              "o meu problema.")
POLISH = "To jest skandal!!! Nikt mi nie odpowiada 😡😡"


def reasons(body):
    return [r["text"] for r in body["frustration"]["reasons"]]


def test_default_detector_is_the_model_in_every_language():
    fake = FakeDevRev()
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "l.db")
        srv = Server(db, devrev=fake)
        try:
            st, h = srv.health()
            check(st == 200, "health %d" % st)
            check(h["detector"]["detector"] == "model", h["detector"])
            check(h["detector"]["languages"] ==
                  ["en", "fr", "de", "es", "it", "nl", "pt"], h["detector"])

            st, fr = srv.post({"customer_id": "c-fr", "message_id": "fr-1",
                               "message": FRENCH})
            check(st == 200, "status %d" % st)
            check(fr["language"] == "fr" and fr["language_source"] == "detected"
                  and fr["language_supported"] is True, fr)
            check(fr["polarity_lexicon"] == "fr", fr)
            check(fr["frustrated"] is True and fr["alert"] == "created", fr)
            check(isinstance(fr["rule_frustrated"], bool), fr)
            check(not any("TextBlob" in r for r in reasons(fr)),
                  "no English TextBlob in French reasons: %r" % reasons(fr))

            st, de = srv.post({"customer_id": "c-de", "message": GERMAN})
            check(de["language"] == "de" and de["language_supported"] is True, de)
            check(de["polarity_lexicon"] is None and de["rule_frustrated"] is None
                  and de["polarity"] == 0, de)
            check(de["frustrated"] is True, de)

            for text, lang, frustrated in ((SPANISH_CALM, "es", False),
                                           (ITALIAN, "it", True),
                                           (DUTCH_CALM, "nl", False),
                                           (PORTUGUESE, "pt", True)):
                st, b = srv.post({"customer_id": "c-" + lang, "message": text})
                check(st == 200 and b["language"] == lang, (lang, b))
                check(b["frustrated"] is frustrated,
                      "%s verdict: %r" % (lang, b["frustration"]))

            st, pl = srv.post({"customer_id": "c-pl", "message": POLISH})
            check(pl["language_supported"] is False, pl)
            check(pl["language"] in ("pl", "und"), pl)
            rs = reasons(pl)
            check(any("not supported" in r for r in rs), rs)
            check(not any(w in r.lower() for r in rs
                          for w in ("skandal", "nikt", "odpowiada")),
                  "no word of an unsupported language is quoted: %r" % rs)

            # The sender's language wins, even over a clear guess.
            st, given = srv.post({"customer_id": "c-g", "message": FRENCH,
                                  "lang": "it-IT"})
            check(given["language"] == "it" and given["language_source"] == "given",
                  given)
            st, bad = srv.post({"customer_id": "c-g", "message": FRENCH,
                                "lang": "fr; DROP"})
            check(st == 400 and bad["error"] == "invalid_lang", bad)

            rows = dict(db_query(db, "SELECT message_id, lang FROM messages "
                                     "WHERE message_id IS NOT NULL"))
            check(rows.get("fr-1") == "fr", rows)

            wait_until(lambda: fake.requests("/works.create"), what="ticket")
            bodies = [r["body"]["body"] for r in fake.requests("/works.create")]
            check(any("Language: `fr`" in b for b in bodies),
                  "language in the ticket: %r" % bodies[:1])
        finally:
            srv.stop()
            fake.close()


def test_languages_setting_narrows_what_is_scored():
    with tempfile.TemporaryDirectory() as d:
        srv = Server(os.path.join(d, "n.db"),
                     env={"FRUSTRATION_LANGUAGES": "en,fr"})
        try:
            st, de = srv.post({"customer_id": "c", "message": GERMAN})
            check(st == 200 and de["language"] == "de", de)
            check(de["language_supported"] is False, de)
            check(any("not supported" in r for r in reasons(de)), reasons(de))
            st, fr = srv.post({"customer_id": "c", "message": FRENCH})
            check(fr["language_supported"] is True, fr)
        finally:
            srv.stop()


def test_polarity_detector_is_the_original_rule():
    """FRUSTRATION_DETECTOR=polarity: English TextBlob on every text, as the
    original service did; the language is still reported."""
    with tempfile.TemporaryDirectory() as d:
        srv = Server(os.path.join(d, "p.db"),
                     env={"FRUSTRATION_DETECTOR": "polarity"})
        try:
            st, b = srv.post({"customer_id": "c", "message": FRENCH})
            check(b["language"] == "fr" and b["polarity_lexicon"] == "en", b)
            check("frustration" not in b, b)
            check(b["frustrated"] == (b["polarity"] < b["threshold"]), b)
        finally:
            srv.stop()


if __name__ == "__main__":
    sys.exit(run_tests([test_default_detector_is_the_model_in_every_language,
                        test_languages_setting_narrows_what_is_scored,
                        test_polarity_detector_is_the_original_rule]))
