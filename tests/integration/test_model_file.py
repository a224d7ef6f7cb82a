"""FRUSTRATION_MODEL: weights trained with fa-train on one's own messages
are used by score, analyze and serve alike (not only by eval), and a bad
file stops them with a clear error."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import FA_BIN, SRC_DIR, Server, check, run_tests  # noqa: E402

TRAIN = os.path.join(os.path.dirname(FA_BIN), "fa-train")
TEXT = "Still waiting for my refund, third time asking."


def run(args, env, stdin=""):
    return subprocess.run([FA_BIN, *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def score(env):
    p = run(["score"], env, json.dumps({"text": TEXT}) + "\n")
    check(p.returncode == 0, "score: " + p.stderr)
    return json.loads(p.stdout)["frustration"]


def test_trained_model_is_used_everywhere():
    with tempfile.TemporaryDirectory() as d:
        # A deliberately small model: trained on 80 of our messages only,
        # so its scores differ from the shipped one's.
        data = os.path.join(d, "mine.jsonl")
        with open(os.path.join(SRC_DIR, "data", "train",
                               "support_messages.jsonl")) as f:
            lines = f.readlines()
        def label(line):
            return json.loads(line)["label"]["frustrated"]
        pick = ([x for x in lines if label(x) is True][:40]
                + [x for x in lines if label(x) is False][:40])
        with open(data, "w") as f:
            f.writelines(pick)
        model = os.path.join(d, "mine.bin")
        p = subprocess.run([TRAIN, "--out", model, "--bits", "12", "--iters",
                            "30", data], capture_output=True, text=True,
                           timeout=300)
        check(p.returncode == 0 and os.path.getsize(model) > 0,
              "fa-train: " + p.stderr)
        base = dict(os.environ, FRUSTRATION_DETECTOR="model")
        base.pop("FRUSTRATION_MODEL", None)
        mine = dict(base, FRUSTRATION_MODEL=model)
        builtin_score, my_score = score(base), score(mine)
        check(builtin_score != my_score,
              f"the file's weights are used by score ({builtin_score})")
        p = run(["analyze", "--json", TEXT], mine)
        check(p.returncode == 0, "analyze: " + p.stderr)
        check(json.loads(p.stdout)["frustration"]["score"] == my_score,
              "analyze uses the same weights")
        srv = Server(os.path.join(d, "m.db"),
                     env={"FRUSTRATION_DETECTOR": "model",
                          "FRUSTRATION_MODEL": model})
        try:
            st, body = srv.request("POST", "/slash-analyze", {"text": TEXT})
            check(st == 200 and body["frustration"]["score"] == my_score,
                  f"serve uses the same weights: {body!r}")
        finally:
            srv.stop()
        # The shipped model, loaded from its file, is the built-in one.
        shipped = dict(base, FRUSTRATION_MODEL=os.path.join(
            SRC_DIR, "data", "model", "frustration-model.bin"))
        check(score(shipped) == builtin_score, "shipped file == built in")


def test_bad_model_file_is_refused():
    with tempfile.TemporaryDirectory() as d:
        junk = os.path.join(d, "junk.bin")
        with open(junk, "wb") as f:
            f.write(b"not a model at all")
        env = dict(os.environ, FRUSTRATION_DETECTOR="model",
                   FRUSTRATION_MODEL=junk)
        p = run(["score"], env, json.dumps({"text": TEXT}) + "\n")
        check(p.returncode != 0 and "detector" in p.stderr,
              f"junk model refused: {p.returncode} {p.stderr!r}")
        check("not a model file" in p.stderr, "says why: " + p.stderr)
        # A model of another feature version (byte 8 of the header) says
        # so and what to do.
        with open(os.path.join(SRC_DIR, "data/model/frustration-model.bin"),
                  "rb") as f:
            old = bytearray(f.read())
        old[8] -= 1
        stale = os.path.join(d, "stale.bin")
        with open(stale, "wb") as f:
            f.write(old)
        env["FRUSTRATION_MODEL"] = stale
        for cmd in (["score"], ["analyze", TEXT]):
            p = run(cmd, env, json.dumps({"text": TEXT}) + "\n")
            check(p.returncode != 0 and "feature version" in p.stderr
                  and "make train" in p.stderr,
                  f"{cmd[0]}: stale model refused: {p.returncode} {p.stderr!r}")
        env["FRUSTRATION_MODEL"] = os.path.join(d, "missing.bin")
        p = run(["check-config"], env)
        check(p.returncode != 0 and "FRUSTRATION_MODEL" in p.stderr,
              "a missing file is a configuration error: " + p.stderr)


def test_class_prior():
    """fa-train --class-prior: a word that comes with one class only is
    penalised less, so a complaint made of such words scores higher than
    with one penalty for all (--class-prior 0); out of range is refused."""
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "mine.jsonl")
        with open(data, "w") as f:
            for i in range(30):
                f.write(json.dumps({"text": "still waiting for my refund %d" % i,
                                    "label": {"frustrated": True}}) + "\n")
                f.write(json.dumps({"text": "thanks, the parcel came %d" % i,
                                    "label": {"frustrated": False}}) + "\n")
                f.write(json.dumps({"text": "my order number is %d" % i,
                                    "label": {"frustrated": i % 3 == 0}}) + "\n")
        scores = {}
        for prior in ("0", "0.5", "2"):
            model = os.path.join(d, "m%s.bin" % prior)
            p = subprocess.run([TRAIN, "--quiet", "--out", model, "--bits", "12",
                                "--iters", "50", "--class-prior", prior, data],
                               capture_output=True, text=True, timeout=300)
            check(p.returncode == 0, "fa-train --class-prior %s: %s" % (prior, p.stderr))
            env = dict(os.environ, FRUSTRATION_DETECTOR="model",
                       FRUSTRATION_MODEL=model)
            out = run(["score"], env, json.dumps({"text": "still waiting for my refund"}) + "\n")
            check(out.returncode == 0, "score: " + out.stderr)
            scores[prior] = json.loads(out.stdout)["frustration"]
        check(scores["0"] < scores["0.5"] < scores["2"],
              "a stronger prior lets one-class words weigh more: %r" % scores)
        for bad in ("-1", "11"):
            p = subprocess.run([TRAIN, "--out", os.path.join(d, "bad.bin"),
                                "--class-prior", bad, data],
                               capture_output=True, text=True, timeout=60)
            check(p.returncode == 2 and "out of range" in p.stderr,
                  "--class-prior %s refused: %d %r" % (bad, p.returncode, p.stderr))


if __name__ == "__main__":
    sys.exit(run_tests([test_trained_model_is_used_everywhere,
                        test_bad_model_file_is_refused, test_class_prior]))
