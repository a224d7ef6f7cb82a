"""The detector's reasons name what carries the frustration: messages
written for this test (tests/data/reasons_cases.jsonl, in English, French,
German, Spanish, Italian, Dutch and Portuguese), each with the parts of
reasons it must give ("'third time'", "shouting (ALL CAPS)") and must not
give ("'please'", "'24'", "'flight'", "shouting" for acronyms), scored by
the real binary (`score`, the model). Every case also checks that no reason
quotes a number or a word with a digit, nor a politeness word.

Run by CTest with FA_BIN (the binary) and SRC_DIR (the repository) in the
environment.
"""
import json
import os
import subprocess
import sys

BIN = os.environ.get("FA_BIN", "build/frustration-alert")
SRC = os.environ.get("SRC_DIR") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
CASES = os.path.join(SRC, "tests", "data", "reasons_cases.jsonl")

POLITE = {"please", "pls", "plz", "kindly", "bitte", "svp", "stp", "plaît",
          "favor", "por favor", "favore", "per favore", "alsjeblieft",
          "alstublieft", "merci", "danke", "gracias", "grazie", "bedankt",
          "obrigado", "obrigada", "thanks", "thank"}

failed = 0
checked = 0


def fail(case, what, reasons):
    global failed
    failed += 1
    print("FAIL %s: %s\n  text: %s\n  reasons: %s" % (
        case["id"], what, case["text"], reasons), file=sys.stderr)


def quoted(reason):
    """The items a reason quotes: "label: 'a', 'b'" -> ["a", "b"]."""
    if ": '" not in reason or not reason.endswith("'"):
        return []
    return reason.split(": '", 1)[1][:-1].split("', '")


def bare_number(item):
    """A number or a token with a digit, alone ('24', '4x', 'a320'); a
    phrase of a number and a word ('3 hours') is not one."""
    words = item.split()
    has_digit = [any(c.isdigit() for c in w) for w in words]
    return any(has_digit) and (len(words) == 1 or all(
        d or not any(c.isalpha() for c in w)
        for w, d in zip(words, has_digit)))


def main():
    global checked
    with open(CASES, encoding="utf-8") as f:
        cases = [json.loads(line) for line in f if line.strip()]
    if len(cases) < 60:
        print("FAIL: only %d cases" % len(cases), file=sys.stderr)
        return 1
    inp = "".join(json.dumps({"text": c["text"]}, ensure_ascii=False) + "\n"
                  for c in cases)
    env = dict(os.environ, FRUSTRATION_DETECTOR="model")
    proc = subprocess.run([BIN, "score"], input=inp.encode(), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60)
    if proc.returncode != 0:
        print("FAIL: score exited %d: %s" % (
            proc.returncode, proc.stderr.decode()), file=sys.stderr)
        return 1
    rows = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    if len(rows) != len(cases):
        print("FAIL: %d answers for %d cases" % (len(rows), len(cases)),
              file=sys.stderr)
        return 1
    langs = set()
    for case, row in zip(cases, rows):
        reasons = [r["text"] for r in row.get("reasons", [])]
        checked += 1
        langs.add(case["lang"])
        # A case tests its language's reasons only when read in it.
        if row.get("language") != case["lang"]:
            fail(case, "read as %r, not %r" % (row.get("language"),
                                               case["lang"]), reasons)
            continue
        for part in case["must"]:
            if not any(part in r for r in reasons):
                fail(case, "no reason gives %r" % part, reasons)
        for part in case["must_not"]:
            if any(part in r for r in reasons):
                fail(case, "a reason gives %r" % part, reasons)
        for r in reasons:
            items = quoted(r)
            for item in items:
                if bare_number(item):
                    fail(case, "%r quotes a number %r" % (r, item), reasons)
                if item.lower() in POLITE and not r.startswith("thanks"):
                    fail(case, "%r quotes a politeness word" % r, reasons)
    # Every frustrated verdict says why, over all the project's evaluation
    # messages too (a verdict made of small parts no reason names gets the
    # note that no single sign stands out, never an empty list).
    evals = sorted(os.path.join(SRC, "data", "eval", n)
                   for n in os.listdir(os.path.join(SRC, "data", "eval"))
                   if n.endswith(".jsonl"))
    texts = []
    for path in evals:
        with open(path, encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f if line.strip()]
    inp = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n"
                  for t in texts)
    proc = subprocess.run([BIN, "score"], input=inp.encode(), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60)
    flagged = 0
    for t, line in zip(texts, proc.stdout.decode().splitlines()):
        row = json.loads(line)
        if row.get("frustrated"):
            flagged += 1
            if not row.get("reasons"):
                fail({"id": "eval", "text": t}, "frustrated without a reason",
                     [])
    if proc.returncode != 0 or flagged < 100:
        fail({"id": "eval", "text": ""}, "scored %d frustrated, exit %d" % (
            flagged, proc.returncode), [])
    missing = {"en", "fr", "de", "es", "it", "nl", "pt"} - langs
    if missing:
        print("FAIL: no case in %s" % sorted(missing), file=sys.stderr)
        failed_langs = 1
    else:
        failed_langs = 0
    print("%d cases, %d failures" % (checked, failed))
    return 1 if failed or failed_langs else 0


if __name__ == "__main__":
    sys.exit(main())
