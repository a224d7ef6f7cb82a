"""Black-box tests of `frustration-alert eval` and of fa-train.

    test_eval.py            the repository's data (always runs)
    test_eval.py --shared   the optional labeled sets in $SHARED_DATA

Always, on the GoEmotions records in data/goemotions/ (Apache-2.0):
- the model beats the original rule and VADER and reaches its floor on the
  held-out split (GoEmotions orig dev/test: F1 >= 0.57), in reasonable time;
- eval's bookkeeping: null labels skipped, training sources left out,
  --model / FRUSTRATION_MODEL, the table and --json forms, bad input;
- the project's evaluation messages (data/eval/): a floor per file, the
  English chat turns included;
- fa-train is deterministic (two runs on a subset give the same bytes) and
  `make train` reproduces the committed model byte for byte.

With --shared: the airline tweets (never trained on: F1 >= 0.83) and
GermEval, whose non-commercial licenses keep them out of the repository.
When $SHARED_DATA is unset or lacks them the run is skipped (exit 77,
CTest's SKIP_RETURN_CODE), never passed.

Run by CTest with FA_BIN, SRC_DIR and BUILD_DIR in the environment. Set
SKIP_TRAIN_REPRO=1 to skip the full retraining (~30 s).
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("FA_BIN", "build/frustration-alert")
SRC = os.environ.get("SRC_DIR") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD_DIR", os.path.dirname(os.path.abspath(BIN)))
SHARED = os.environ.get("SHARED_DATA", "")
TRAIN = os.path.join(BUILD, "fa-train")
GOEMO = os.path.join(SRC, "data", "goemotions", "goemotions_dev.jsonl")
AIRLINE = os.path.join(SHARED, "airline_dev.jsonl")
GERMEVAL = os.path.join(SHARED, "germeval2017_de_dev.jsonl")
AUTHORED = os.path.join(SRC, "data", "train", "support_messages.jsonl")
MODEL = os.path.join(SRC, "data", "model", "frustration-model.bin")

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def run(args, stdin=b"", env=None, exe=BIN, timeout=600):
    e = dict(os.environ)
    e.pop("FRUSTRATION_MODEL", None)
    if env:
        e.update(env)
    return subprocess.run([exe] + args, input=stdin, capture_output=True,
                          env=e, timeout=timeout)


def eval_json(files, extra=(), env=None):
    p = run(["eval", "--json"] + list(extra) + files, env=env)
    check(p.returncode == 0, "eval exit %d: %s" % (p.returncode, p.stderr[:300]))
    return json.loads(p.stdout) if p.returncode == 0 else None


def by_name(report):
    return {os.path.basename(f["file"]): f for f in report["files"]}


def check_model_row(rep, f):
    """The model's row of one set: well above the rule and above VADER, at
    the one shipped operating point, with sane precision-at-recall rows."""
    name = os.path.basename(f["file"])
    check(f["model"]["f1"] > f["rule"]["f1"] + 0.15, "%s: model not well above the rule" % name)
    check(f["model"]["f1"] > f["vader"]["f1"], "%s: model not above VADER" % name)
    check(f["model"]["threshold"] == rep["model_threshold"], "%s: one operating point" % name)
    check(f["model_p_at_r80"]["recall"] >= 0.8, "%s: P@80%% row" % name)
    check(f["model_p_at_r50"]["precision"] >= f["model_p_at_r80"]["precision"],
          "%s: precision falls as recall rises" % name)
    check(f["polarity_oracle"]["f1"] >= f["rule"]["f1"], "%s: oracle below rule" % name)


def test_floor_on_goemotions():
    """The GoEmotions figures, measured the way the README reports them."""
    t0 = time.time()
    rep = eval_json([GOEMO])
    secs = time.time() - t0
    if rep is None:
        return
    check(secs < 60, "eval took %.1f s on GoEmotions" % secs)
    goe = rep["files"][0]
    check(abs(goe["vader"]["f1"] - 0.523) < 0.005, "goemotions VADER F1 %r" % goe["vader"])
    check(goe["model"]["f1"] >= 0.57, "goemotions model F1 %.3f < 0.57" % goe["model"]["f1"])
    check_model_row(rep, goe)
    # Only the held-out split (orig dev/test) is evaluated.
    check(goe["labeled"] == 4473 and goe["skipped_trained"] == 17569,
          "goemotions held-out split: %d labeled, %d skipped" % (goe["labeled"], goe["skipped_trained"]))
    check("goemotions" in rep["model_sources"] and "twitter" not in rep["model_sources"],
          "model sources %r" % rep["model_sources"])


def test_floor_on_shared_sets():
    """The airline floor (a set never trained on) and GermEval's row."""
    t0 = time.time()
    rep = eval_json([AIRLINE, GERMEVAL])
    secs = time.time() - t0
    if rep is None:
        return
    check(secs < 60, "eval took %.1f s on the shared sets" % secs)
    files = by_name(rep)
    air, ger = files["airline_dev.jsonl"], files["germeval2017_de_dev.jsonl"]
    # The baselines are the known ones: the rule finds 14% of the airline
    # complaints, VADER is VADER.
    check(abs(air["rule"]["f1"] - 0.249) < 0.005, "airline rule F1 %r" % air["rule"])
    check(abs(air["vader"]["f1"] - 0.635) < 0.005, "airline VADER F1 %r" % air["vader"])
    # 0.851 measured; 0.767 before the model knew a post to a company's
    # @handle from a comment among friends.
    check(air["model"]["f1"] >= 0.83, "airline model F1 %.3f < 0.83" % air["model"]["f1"])
    check_model_row(rep, air)
    check(air["skipped_trained"] == 0, "airline was never trained on")
    check(ger["labeled"] > 3000 and ger["skipped_trained"] == 0, "germeval read: %r" % ger)
    # German, identified from the text and scored with German signals:
    # well above English VADER (0.368); 0.505 measured.
    check(ger["lang_known"] == ger["labeled"] and
          ger["lang_right"] >= 0.95 * ger["lang_known"],
          "German identified: %d of %d" % (ger["lang_right"], ger["lang_known"]))
    check(air["lang_right"] >= 0.98 * air["lang_known"],
          "English identified: %d of %d" % (air["lang_right"], air["lang_known"]))
    check(ger["model"]["f1"] >= 0.49 and ger["model"]["f1"] > ger["vader"]["f1"] + 0.08,
          "germeval model F1 %.3f, VADER %.3f" % (ger["model"]["f1"], ger["vader"]["f1"]))


def test_table_and_bookkeeping():
    rows = [
        {"text": "Third time asking, still no refund. Unacceptable!", "label": {"frustrated": True}},
        {"text": "Thanks, all sorted now.", "label": {"frustrated": False}},
        {"text": "Not sure.", "label": {"frustrated": None}},
        {"text": "no label at all"},
        {"label": {"frustrated": True}},
    ]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "mine.jsonl")
        with open(path, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
            f.write("{not json\n\n")
        p = run(["eval", path])
        out = p.stdout.decode()
        check(p.returncode == 0, "eval table exit %d %s" % (p.returncode, p.stderr[:200]))
        for row in ("original rule: TextBlob polarity", "best polarity threshold (oracle)",
                    "VADER, lexicon only", "model at its operating point",
                    "model, precision at 50% recall", "model, precision at 80% recall",
                    "precision", "recall", "F1"):
            check(row in out, "table lacks %r" % row)
        rep = eval_json([path])
        if rep:
            f = rep["files"][0]
            check(f["labeled"] == 2 and f["frustrated"] == 1, "labeled counts %r" % f)
            check(f["skipped_unlabeled"] == 2, "null and missing labels skipped: %r" % f)
            check(f["unreadable"] == 2, "bad lines counted: %r" % f)
            check(f["model"]["f1"] == 1.0, "obvious pair: %r" % f["model"])
            check(f["languages"] == {}, "one language, no split: %r" % f["languages"])
        p = run(["eval", "--model", os.path.join(d, "nope.bin"), path])
        check(p.returncode == 1 and b"cannot load the model" in p.stderr, "missing model refused")
        # A file without a single true/false label has no figures, not
        # rows of zeros and an oracle's F1 of -1.
        bare = os.path.join(d, "bare.jsonl")
        with open(bare, "w") as f:
            f.write(json.dumps({"text": "hello", "label": {"frustrated": None}}) + "\n")
        p = run(["eval", bare])
        out = p.stdout.decode()
        check(p.returncode == 0 and "nothing to measure" in out and "-1.000" not in out
              and "VADER" not in out, "no labels, no table: %r" % out[-300:])
        rep = eval_json([bare])
        if rep:
            f = rep["files"][0]
            check(f["labeled"] == 0 and "model" not in f and "model_oracle" not in f,
                  "no labels, no figures in --json: %r" % f)


def test_figures_per_language():
    """Each record is scored in its "lang"; a file of several languages gets
    each one's figures."""
    rows = [
        ("C'est nul, je suis déçu, toujours pas de réponse !!", True, "fr"),
        ("Merci beaucoup, bonne journée.", False, "fr"),
        ("Das ist schlecht, ich bin enttäuscht!!", True, "de"),
        ("Danke, schönen Tag.", False, "de"),
        ("Third time asking, still no refund. Unacceptable!", True, None),
        ("Thanks, all sorted now.", False, "en"),
        ("To jest skandal!!! \U0001F621", True, "pl"),
    ]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "mixed.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for text, label, lang in rows:
                r = {"text": text, "label": {"frustrated": label}}
                if lang:
                    r["lang"] = lang
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        rep = eval_json([path])
        if not rep:
            return
        f = rep["files"][0]
        langs = f["languages"]
        check(sorted(langs) == ["de", "en", "fr", "other"], "languages %r" % sorted(langs))
        check(f["labeled"] == 7, "all records counted: %r" % f["labeled"])
        for code, n in (("en", 2), ("fr", 2), ("de", 2), ("other", 1)):
            check(langs.get(code, {}).get("labeled") == n, "%s labeled %r" % (code, langs.get(code)))
        for code in ("en", "fr", "de"):
            check(langs.get(code, {}).get("model", {}).get("f1") == 1.0,
                  "%s: the obvious pair is separated: %r" % (code, langs.get(code)))
        p = run(["eval", path])
        check(b"language fr: 2 labeled" in p.stdout, "table per language")
        with open(os.path.join(d, "junk.bin"), "wb") as f:
            f.write(b"FADM junk")
        p = run(["eval", path], env={"FRUSTRATION_MODEL": os.path.join(d, "junk.bin")})
        check(p.returncode == 1 and b"not a model file" in p.stderr, "junk model refused: %r" % p.stderr)
        check(run(["eval"]).returncode == 2, "eval without files is a usage error")
        check(run(["eval", "--bogus", path]).returncode == 2, "unknown option")
        check(run(["eval", "--help"]).returncode == 0, "eval --help")


def test_floor_on_project_messages():
    """The project's own evaluation messages (data/eval/, never trained
    on): a floor a little under what the shipped model measures, per file,
    so that a retraining that loses a language or a kind of text shows."""
    floors = {"de": 0.80, "en": 0.80, "en_blind_mail": 0.88,
              "en_blind_turns": 0.70, "en_chat": 0.80, "en_dialogue": 0.76,
              "es": 0.87, "fr": 0.76,
              "it": 0.86, "nl": 0.81, "pt": 0.75}
    paths = [os.path.join(SRC, "data", "eval", "support_%s.jsonl" % k) for k in sorted(floors)]
    rep = eval_json(paths)
    if not rep:
        return
    for k, f in zip(sorted(floors), rep["files"]):
        check(f["skipped_trained"] == 0 and f["labeled"] >= 100, "%s read: %r" % (k, f["labeled"]))
        check(f["model"]["f1"] >= floors[k], "%s model F1 %.3f < %.2f" % (k, f["model"]["f1"], floors[k]))
        check(f["model"]["f1"] > f["vader"]["f1"], "%s: the model beats VADER" % k)


def test_training_is_deterministic():
    """Two runs of fa-train on a subset give the same bytes, and the model
    loads through --model and FRUSTRATION_MODEL."""
    if not os.path.exists(TRAIN):
        check(False, "no fa-train at %s" % TRAIN)
        return
    with tempfile.TemporaryDirectory() as d:
        sub = os.path.join(d, "subset.jsonl")
        with open(GOEMO) as src, open(sub, "w") as dst:
            for i, line in enumerate(src):
                if i >= 3000:
                    break
                dst.write(line)
        outs = []
        for k in range(2):
            out = os.path.join(d, "m%d.bin" % k)
            p = run(["--quiet", "--iters", "40", "--out", out, sub, AUTHORED],
                    exe=TRAIN)
            check(p.returncode == 0, "fa-train exit %d: %s" % (p.returncode, p.stderr[:300]))
            outs.append(open(out, "rb").read() if p.returncode == 0 else b"")
        check(outs[0] and outs[0] == outs[1], "fa-train is not deterministic")
        rep = eval_json([AUTHORED], extra=["--model", os.path.join(d, "m0.bin")])
        if rep:
            f = rep["files"][0]
            # Trained on those very records: eval leaves them out.
            check(f["labeled"] == 0 and f["skipped_trained"] > 600, "trained records skipped: %r" % f)
            rep2 = eval_json([AUTHORED], extra=["--all"],
                             env={"FRUSTRATION_MODEL": os.path.join(d, "m0.bin")})
            check(rep2 and rep2["model_sources"] == "goemotions,project-authored",
                  "FRUSTRATION_MODEL used: %r" % (rep2 and rep2["model_sources"]))
            check(rep2 and rep2["files"][0]["model"]["f1"] > 0.8, "fits its own data")
        p = run(["--out", os.path.join(d, "x.bin"), os.path.join(d, "none.jsonl")], exe=TRAIN)
        check(p.returncode != 0, "fa-train on a missing file fails")


def test_make_train_reproduces_committed_model():
    if os.environ.get("SKIP_TRAIN_REPRO"):
        print("make train reproduction: not checked here (SKIP_TRAIN_REPRO)")
        return
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "model.bin")
        t0 = time.time()
        # As make train: GoEmotions and every support_*.jsonl, sorted.
        support = sorted(glob.glob(os.path.join(os.path.dirname(AUTHORED),
                                                "support_*.jsonl")))
        p = run(["--quiet", "--out", out, GOEMO] + support, exe=TRAIN)
        check(p.returncode == 0, "fa-train exit %d: %s" % (p.returncode, p.stderr[:300]))
        check(time.time() - t0 < 400, "training took %.0f s" % (time.time() - t0))
        if p.returncode == 0:
            same = open(out, "rb").read() == open(MODEL, "rb").read()
            check(same, "retraining does not reproduce %s: run `make train` and "
                        "commit the model" % MODEL)


if "--shared" in sys.argv[1:]:
    missing = [p for p in (AIRLINE, GERMEVAL) if not SHARED or not os.path.isfile(p)]
    if missing:
        print("test_eval --shared: SKIPPED: SHARED_DATA %s (needs %s)"
              % ("is unset" if not SHARED else "lacks " + ", ".join(missing),
                 "airline_dev.jsonl and germeval2017_de_dev.jsonl"))
        sys.exit(77)
    tests = (test_floor_on_shared_sets,)
else:
    tests = (test_floor_on_goemotions, test_table_and_bookkeeping,
             test_figures_per_language, test_floor_on_project_messages,
             test_training_is_deterministic,
             test_make_train_reproduces_committed_model)
for t in tests:
    t()
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed or not passed else 0)
