#!/usr/bin/env python3
"""Levels from the model: black-box tests of the real binary on the written
examples of tests/data/levels_cases.jsonl (calm, dissatisfied, frustrated
and angry messages in English, French, German, Spanish and a few in
Italian, Portuguese and Dutch; each case names its level with the default
settings and, when the model finds it frustrated, the anger signals it
carries).

- Default settings: every case at its level; the level agrees with the
  model's score (FRUSTRATION_MODEL_LEVELS' bounds) and verdict (frustrated
  exactly at `frustrated` or above); `level_reason` says why.
- Without a score bound for `angry`, a frustrated message is angry exactly
  when it carries an anger signal, and `level_reason` names each; with one
  signal kind at a time (FRUSTRATION_ANGER_SIGNALS), only the cases with
  that signal; with none, no case below the angry bound is angry.
- FRUSTRATION_MODEL_LEVELS=polarity: levels from polarity, lifted to
  ALERT_MIN_LEVEL when frustrated (the behaviour before the model had
  levels); FRUSTRATION_DETECTOR=polarity: the original polarity bands,
  without `level_reason`.
- /webhook: a dissatisfied message raises nothing, an angry one opens an
  alert at severity blocker.

Python standard library only. Exits non-zero on any failure; the last line
reads "N passed, M failed".
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import FA_BIN, Server, check, db_query, run_tests  # noqa

SRC = os.environ.get("SRC_DIR") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
CASES = [json.loads(line) for line in open(
    os.path.join(SRC, "tests", "data", "levels_cases.jsonl"), encoding="utf-8")]
LEVELS = ["calm", "dissatisfied", "frustrated", "angry"]
SIGNALS = {"shouting": "shouting (ALL CAPS)", "exclamations": "'!!'",
           "escalation": "escalation or threat to leave",
           "insults": "insults or strongest words"}
# The defaults: FRUSTRATION_MODEL_LEVELS=dissatisfied:0.3,
# frustrated:threshold,angry:0.98.
DISSATISFIED_FROM, ANGRY_FROM = 0.3, 0.98
NO_ANGRY_BOUND = {"FRUSTRATION_MODEL_LEVELS":
                  "dissatisfied:0.3,frustrated:threshold"}


def analyze(case, env=None):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("FRUSTRATION_") and k != "ALERT_MIN_LEVEL"}
    e.update(env or {})
    p = subprocess.run([FA_BIN, "analyze", "--json", "--lang", case["lang"],
                        case["text"]], capture_output=True, env=e, timeout=60)
    check(p.returncode == 0, f"analyze {case['id']}: {p.stderr!r}")
    return json.loads(p.stdout)


def test_cases_cover_every_level_and_language():
    """The examples themselves: each level in English and at least two
    other languages, each anger signal at least once."""
    for level in LEVELS:
        langs = {c["lang"] for c in CASES if c["level"] == level}
        check("en" in langs and len(langs) >= 3, f"{level}: {sorted(langs)}")
    seen = {s for c in CASES for s in c.get("signals", [])}
    check(seen == set(SIGNALS), f"signals covered: {sorted(seen)}")


def test_default_levels():
    counts = dict.fromkeys(LEVELS, 0)
    for c in CASES:
        o = analyze(c)
        m = o["frustration"]
        score, t = m["score"], m["threshold"]
        check(o["level"] == c["level"],
              f"{c['id']}: {o['level']} (score {score:.3f}), want {c['level']}")
        counts[o["level"]] += 1
        # The verdict and the level agree: frustrated exactly from the
        # frustrated level up, which is where alerts start.
        check(o["frustrated"] == (LEVELS.index(o["level"]) >= 2),
              f"{c['id']}: frustrated {o['frustrated']} at {o['level']}")
        why = o.get("level_reason", "")
        if o["level"] == "calm":
            check(score < DISSATISFIED_FROM, f"{c['id']}: calm at {score}")
        elif o["level"] == "dissatisfied":
            check(DISSATISFIED_FROM <= score < t,
                  f"{c['id']}: dissatisfied at {score}")
            check(why.startswith("model score") and ">= 0.30" in why,
                  f"{c['id']}: {why!r}")
        elif o["level"] == "frustrated":
            check(t <= score < ANGRY_FROM and not c["signals"],
                  f"{c['id']}: frustrated at {score}")
            check("(the threshold)" in why, f"{c['id']}: {why!r}")
        else:
            check(score >= ANGRY_FROM or c["signals"],
                  f"{c['id']}: angry at {score} without a signal")
            if score < ANGRY_FROM:
                check("raised by: " in why, f"{c['id']}: {why!r}")
            else:
                check(why.endswith(">= 0.98"), f"{c['id']}: {why!r}")
    check(all(counts.values()), counts)


def test_signals_raise_frustrated_to_angry():
    for c in CASES:
        o = analyze(c, NO_ANGRY_BOUND)
        why = o.get("level_reason", "")
        if not o["frustrated"]:
            # Capitals and "!!" in thanks raise nothing.
            check(o["level"] == c["level"], f"{c['id']}: {o['level']}")
            continue
        want = "angry" if c["signals"] else "frustrated"
        check(o["level"] == want, f"{c['id']}: {o['level']}, want {want}")
        for s in c["signals"]:
            check(SIGNALS[s] in why, f"{c['id']}: {s} not in {why!r}")
        for s in set(SIGNALS) - set(c["signals"]):
            check(SIGNALS[s] not in why, f"{c['id']}: {s} in {why!r}")


def test_each_signal_alone():
    for s in SIGNALS:
        env = dict(NO_ANGRY_BOUND, FRUSTRATION_ANGER_SIGNALS=s)
        for c in CASES:
            if "signals" not in c:
                continue
            o = analyze(c, env)
            want = "angry" if s in c["signals"] else "frustrated"
            check(o["level"] == want,
                  f"{s} only: {c['id']}: {o['level']}, want {want}")


def test_signals_off():
    for c in CASES:
        o = analyze(c, {"FRUSTRATION_ANGER_SIGNALS": "none"})
        score = o["frustration"]["score"]
        if c["level"] == "angry" and score < ANGRY_FROM:
            check(o["level"] == "frustrated",
                  f"{c['id']}: {o['level']} with signals off")
        elif c["level"] != "angry":
            check(o["level"] == c["level"], f"{c['id']}: {o['level']}")


def test_verdict_holds_the_line():
    """Whatever the bounds, a message is at the verdict level or above
    exactly when the model finds it frustrated: a bound below the threshold
    does not make a calm verdict frustrated, and without a level at the
    threshold the verdict level is ALERT_MIN_LEVEL."""
    for c in CASES:
        # angry from 0.25: below the threshold, so held at dissatisfied.
        o = analyze(c, {"FRUSTRATION_MODEL_LEVELS":
                        "dissatisfied:0.2,frustrated:threshold,angry:0.25",
                        "FRUSTRATION_ANGER_SIGNALS": "none"})
        want = ("angry" if o["frustrated"] else
                "dissatisfied" if o["frustration"]["score"] >= 0.2 else "calm")
        check(o["level"] == want, f"{c['id']}: {o['level']}, want {want}")
        # No level at the threshold: frustrated from ALERT_MIN_LEVEL.
        o = analyze(c, {"FRUSTRATION_MODEL_LEVELS":
                        "dissatisfied:0.3,angry:0.98"})
        check(o["level"] == c["level"], f"{c['id']}: {o['level']}")
        # ALERT_MIN_LEVEL=angry: the levels stay; only angry ones alert.
        o = analyze(c, {"ALERT_MIN_LEVEL": "angry"})
        check(o["level"] == c["level"], f"{c['id']}: {o['level']}")


def polarity_band(p):
    """The default FRUSTRATION_LEVELS: strict lower bounds."""
    return ("angry" if p < -0.6 else "frustrated" if p < -0.3 else
            "dissatisfied" if p < -0.1 else "calm")


def test_polarity_levels_unchanged():
    for c in CASES:
        # The model decides, levels from polarity (lifted when frustrated).
        o = analyze(c, {"FRUSTRATION_MODEL_LEVELS": "polarity"})
        band = polarity_band(o["polarity"])
        want = band if not o["frustrated"] or band in ("frustrated", "angry") \
            else "frustrated"
        check(o["level"] == want, f"{c['id']}: {o['level']}, want {want}")
        check("level_reason" not in o, f"{c['id']}: {o.get('level_reason')}")
        # The original rule: English TextBlob bands on every text.
        o = analyze(c, {"FRUSTRATION_DETECTOR": "polarity"})
        check(o["level"] == polarity_band(o["polarity"]),
              f"{c['id']}: polarity {o['polarity']}: {o['level']}")
        check(o["frustrated"] == (o["polarity"] < -0.3), f"{c['id']}")
        check("level_reason" not in o and "frustration" not in o,
              f"{c['id']}: {sorted(o)}")


def test_alerts_follow_levels():
    by_id = {c["id"]: c for c in CASES}
    with tempfile.TemporaryDirectory() as d:
        srv = Server(os.path.join(d, "lv.db"))
        try:
            for cid, level, alert in (("de-dissatisfied-1", "dissatisfied",
                                       "none"),
                                      ("es-angry-2", "angry", "created"),
                                      ("en-frustrated-1", "frustrated",
                                       "created")):
                c = by_id[cid]
                st, body = srv.post({"customer_id": "cust-" + cid,
                                     "message": c["text"], "lang": c["lang"],
                                     "message_id": cid})
                check(st == 200, f"{cid}: {st} {body!r}")
                check(body["level"] == level and body["alert"] == alert,
                      f"{cid}: {body!r}")
            rows = db_query(srv.db, "SELECT customer_id, level_name, severity "
                            "FROM alerts ORDER BY customer_id")
            check(rows == [("cust-en-frustrated-1", "frustrated", "high"),
                           ("cust-es-angry-2", "angry", "blocker")], rows)
        finally:
            srv.stop()


def test_health_shows_the_model_levels():
    """/health says where the model's score puts each level and which
    signals raise one, not only the polarity bands the model no longer
    uses; with FRUSTRATION_MODEL_LEVELS=polarity, the bands alone."""
    with tempfile.TemporaryDirectory() as d:
        for env, by_score in (({}, True),
                              ({"FRUSTRATION_MODEL_LEVELS": "polarity"}, False),
                              ({"FRUSTRATION_ANGER_SIGNALS": "none"}, True)):
            srv = Server(os.path.join(d, "h%d.db" % len(env)), env=env)
            try:
                st, body = srv.request("GET", "/health")
                check(st == 200, f"health {st}")
                det = body["detector"]
                levels = {lv["name"]: lv for lv in det["levels"]}
                if by_score:
                    check(levels["calm"]["from_score"] is None
                          and levels["dissatisfied"]["from_score"] == 0.3
                          and levels["frustrated"]["from_score"]
                          == det["model_threshold"]
                          and levels["angry"]["from_score"] == 0.98,
                          f"model bounds: {levels}")
                    want = ([] if env else ["shouting", "exclamations",
                                            "escalation", "insults"])
                    check(det["anger_signals"] == want,
                          f"signals {det['anger_signals']} for {env}")
                else:
                    check(all("from_score" not in lv for lv in levels.values())
                          and "anger_signals" not in det,
                          f"polarity levels: {det}")
            finally:
                srv.stop()


if __name__ == "__main__":
    sys.exit(run_tests([test_cases_cover_every_level_and_language,
                        test_default_levels,
                        test_signals_raise_frustrated_to_angry,
                        test_each_signal_alone, test_signals_off,
                        test_verdict_holds_the_line,
                        test_polarity_levels_unchanged,
                        test_alerts_follow_levels,
                        test_health_shows_the_model_levels]))
