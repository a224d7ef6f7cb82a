"""check-config, byte for byte: for each environment of the cases below, the
exit status, stdout and stderr of `frustration-alert check-config` must equal
tests/data/check_config_expected.jsonl. The cases cover every setting: the
defaults, a rich environment that sets them all (secrets masked, a database
password masked, trailing slashes dropped), custom levels (the model's
levels fall back to polarity when FRUSTRATION_MODEL_LEVELS is unset and
does not fit them), and one bad value per setting with the message that
names it.

The binary runs with only PATH and the case's variables in its environment,
from the repository root (FRUSTRATION_MODEL is a path relative to it).
`--write` records the current binary's answers as the expected file.

Run by CTest with FA_BIN (the binary) and SRC_DIR (the repository).
"""
import json
import os
import subprocess
import sys

BIN = os.environ.get("FA_BIN", "build/frustration-alert")
SRC = os.environ.get("SRC_DIR") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
EXPECTED = os.path.join(SRC, "tests", "data", "check_config_expected.jsonl")

# HTTP_THREADS defaults to the number of cores: pinned so the output does not
# depend on the machine.
BASE = {"HTTP_THREADS": "4"}

RICH = {
    "FRUSTRATION_THRESHOLD": "-0.45",
    "FRUSTRATION_DETECTOR": "model",
    "FRUSTRATION_MODEL": "data/model/frustration-model.bin",
    "FRUSTRATION_LANGUAGES": "fr,en,nl",
    "FRUSTRATION_LEVELS": "ok::low:2,meh:0.05:medium:4,bad:-0.25:high:5,"
                          "awful:-0.7:blocker:5",
    "FRUSTRATION_MODEL_LEVELS": "meh:0.25,bad:threshold,awful:0.99",
    "FRUSTRATION_ANGER_SIGNALS": "insults,escalation",
    "HOST": "::1",
    "PORT": "0",
    "MAX_BODY_BYTES": "1048576",
    "MAX_JSON_DEPTH": "64",
    "MAX_BATCH": "250",
    "HTTP_THREADS": "7",
    "MAX_CONNECTIONS": "2000",
    "MAX_CONNECTIONS_PER_IP": "20",
    "IDLE_TIMEOUT": "45",
    "REQUEST_TIMEOUT_MS": "2500",
    "API_TOKEN": "tok-123",
    "METRICS_REQUIRE_TOKEN": "yes",
    "WEBHOOK_SECRET": "whsec",
    "DEVREV_WEBHOOK_SECRET": "drsec",
    "SLACK_SIGNING_SECRET": "slsec",
    "SIGNATURE_MAX_AGE": "120",
    "RATE_LIMIT": "0",
    "RATE_LIMIT_BURST": "7",
    "RATE_LIMIT_LOOPBACK": "TRUE",
    "MAX_HEADER_BYTES": "4096",
    "TLS_CERT": "/etc/fa/cert.pem",
    "TLS_KEY": "/etc/fa/key.pem",
    "DEVREV_SELF_ID": "don:identity:dvrv-us-1:devo/1:svcacc/7",
    "DEVREV_COMMENT_SOURCE": "off",
    "DEVREV_SOURCE_TICKET": "on",
    "DEVREV_UPDATE_SEVERITY": "1",
    "DEVREV_UPDATE_SENTIMENT": "Yes",
    "LOG_MESSAGE_TEXT": "on",
    "LOG_LEVEL": "debug",
    "DATABASE_URL": "postgres://fa:s3cret@db.internal:5432/fa",
    "ALERT_COOLDOWN": "0",
    "ALERT_MIN_LEVEL": "bad",
    "MESSAGE_TEXT_RETENTION_DAYS": "30",
    "ESCALATION": "false",
    "ESCALATE_WINDOW": "900",
    "ESCALATE_NEGATIVE_COUNT": "5",
    "ESCALATE_REPEAT_COUNT": "2",
    "ESCALATE_DROP": "0.75",
    "DEVREV_API_TOKEN": "eyJhbGciOi.secret",
    "DEVREV_API_URL": "http://127.0.0.1:9999///",
    "DEVREV_PART_ID": "PROD-1",
    "DEVREV_OWNER_ID": "DEVU-1",
    "DEVREV_TAG_ID": "TAG-9",
    "DEVREV_API_VERSION": "beta",
    "DEVREV_TIMEOUT_MS": "1500",
    "OUTBOX_BACKOFF_BASE_MS": "50",
    "OUTBOX_BACKOFF_MAX_MS": "5000",
    "OUTBOX_LEASE_MS": "60000",
    "DEVREV_RETRY_AFTER_MAX": "60",
}

GOOD = [
    {},
    RICH,
    {"FRUSTRATION_LEVELS": "low::low:1,high:-0.5:high:5"},
    {"FRUSTRATION_LEVELS": "a::low:1,b:0:medium:4,frustrated:-0.2:high:5",
     "ALERT_MIN_LEVEL": "b"},
    {"DATABASE_URL": "sqlite:///tmp/x.db", "DEVREV_API_URL": "https://x/"},
    {"DATABASE_URL": "postgres://user@host/db?password=x"},
    {"DATABASE_URL": "postgres://u:p@h/d", "API_TOKEN": "",
     "WEBHOOK_SECRET": "", "DEVREV_API_URL": "https://api.devrev.ai/"},
    {"FRUSTRATION_THRESHOLD": "1e-3", "ESCALATE_DROP": "2",
     "LOG_MESSAGE_TEXT": "0", "ESCALATION": "ON", "PORT": "65535"},
    {"FRUSTRATION_LANGUAGES": "en, fr,DE"},
    {"FRUSTRATION_DETECTOR": "polarity", "FRUSTRATION_LANGUAGES": "pt-BR"},
    {"DEVREV_API_VERSION": "2025-06-30", "MAX_BODY_BYTES": "256",
     "MAX_HEADER_BYTES": "1048576", "HTTP_THREADS": "256"},
    # Model levels: the original polarity bands; two levels only; custom
    # levels named explicitly; anger signals off.
    {"FRUSTRATION_MODEL_LEVELS": "polarity"},
    {"FRUSTRATION_MODEL_LEVELS": "frustrated:threshold,angry:0.9",
     "FRUSTRATION_ANGER_SIGNALS": "shouting,exclamations"},
    {"FRUSTRATION_LEVELS": "ok::low:3,bad:-0.3:high:5,worse:-0.6:blocker:5",
     "FRUSTRATION_MODEL_LEVELS": "bad:threshold,worse:0.95",
     "ALERT_MIN_LEVEL": "bad"},
    {"FRUSTRATION_MODEL_LEVELS": "dissatisfied:0,angry:1",
     "FRUSTRATION_ANGER_SIGNALS": "none"},
]

BAD = [
    {"FRUSTRATION_THRESHOLD": "-0.5x"},
    {"FRUSTRATION_THRESHOLD": "nan"},
    {"FRUSTRATION_THRESHOLD": "1.5"},
    {"FRUSTRATION_DETECTOR": "vader"},
    {"FRUSTRATION_MODEL": "no/such/model.bin"},
    {"FRUSTRATION_LANGUAGES": "en,pl"},
    {"FRUSTRATION_LANGUAGES": ""},
    {"FRUSTRATION_LANGUAGES": "en,,fr"},
    {"FRUSTRATION_LANGUAGES": "english"},
    {"FRUSTRATION_LEVELS": "calm::low:3,x:-0.2:high:5,y:0.1:low:1"},
    {"FRUSTRATION_LEVELS": "calm:0.1:low:3"},
    {"FRUSTRATION_LEVELS": "calm::urgent:3"},
    {"FRUSTRATION_LEVELS": ""},
    {"FRUSTRATION_LEVELS": "a b::low:3"},
    {"FRUSTRATION_LEVELS": "calm::low:0"},
    {"FRUSTRATION_LEVELS": "calm::low"},
    {"FRUSTRATION_MODEL_LEVELS": "dissatisfied:0.3,frustrated:threshold,"
                                 "angry:1.5"},
    {"FRUSTRATION_MODEL_LEVELS": "calm:0.1,frustrated:threshold"},
    {"FRUSTRATION_MODEL_LEVELS": "furious:0.9"},
    {"FRUSTRATION_MODEL_LEVELS": "angry:0.9,frustrated:threshold"},
    {"FRUSTRATION_MODEL_LEVELS": "frustrated:threshold,frustrated:0.9"},
    {"FRUSTRATION_MODEL_LEVELS": "dissatisfied:0.5,frustrated:threshold,"
                                 "angry:0.4"},
    {"FRUSTRATION_MODEL_LEVELS": "dissatisfied:threshold,"
                                 "frustrated:threshold"},
    {"FRUSTRATION_MODEL_LEVELS": "dissatisfied"},
    {"FRUSTRATION_MODEL_LEVELS": "dissatisfied:high"},
    {"FRUSTRATION_MODEL_LEVELS": "dissatisfied:0.3,"},
    {"FRUSTRATION_MODEL_LEVELS": ""},
    {"FRUSTRATION_MODEL_LEVELS": "x" * 600},
    {"FRUSTRATION_LEVELS": "low::low:1,high:-0.5:high:5",
     "FRUSTRATION_MODEL_LEVELS": "frustrated:threshold"},
    {"FRUSTRATION_ANGER_SIGNALS": "caps"},
    {"FRUSTRATION_ANGER_SIGNALS": ""},
    {"FRUSTRATION_ANGER_SIGNALS": "shouting,,insults"},
    {"FRUSTRATION_ANGER_SIGNALS": "none,shouting"},
    {"HOST": ""},
    {"HOST": "h" * 300},
    {"PORT": "65536"},
    {"PORT": "-1"},
    {"PORT": " 80"},
    {"PORT": "+80"},
    {"PORT": "80a"},
    {"MAX_BODY_BYTES": "255"},
    {"MAX_JSON_DEPTH": "1"},
    {"MAX_BATCH": "0"},
    {"HTTP_THREADS": "257"},
    {"MAX_CONNECTIONS": "0"},
    {"MAX_CONNECTIONS_PER_IP": "100001"},
    {"IDLE_TIMEOUT": "3601"},
    {"REQUEST_TIMEOUT_MS": "99"},
    {"API_TOKEN": "a b"},
    {"API_TOKEN": "t" * 256},
    {"METRICS_REQUIRE_TOKEN": "maybe"},
    {"METRICS_REQUIRE_TOKEN": "on"},
    {"WEBHOOK_SECRET": "s" * 512},
    {"DEVREV_WEBHOOK_SECRET": "s" * 600},
    {"SLACK_SIGNING_SECRET": "s" * 512},
    {"SIGNATURE_MAX_AGE": "0"},
    {"RATE_LIMIT": "1000001"},
    {"RATE_LIMIT_BURST": "0"},
    {"RATE_LIMIT_LOOPBACK": "2"},
    {"MAX_HEADER_BYTES": "1023"},
    {"TLS_CERT": "/etc/cert.pem"},
    {"TLS_KEY": "/etc/key.pem"},
    {"TLS_CERT": "c" * 1024, "TLS_KEY": "k"},
    {"DEVREV_SELF_ID": "d" * 256},
    {"DEVREV_COMMENT_SOURCE": "nope"},
    {"DEVREV_SOURCE_TICKET": ""},
    {"DEVREV_UPDATE_SEVERITY": "y"},
    {"DEVREV_UPDATE_SENTIMENT": "10"},
    {"LOG_MESSAGE_TEXT": "verbose"},
    {"LOG_LEVEL": "trace"},
    {"LOG_LEVEL": "x" * 40},
    {"DATABASE_URL": ""},
    {"DATABASE_URL": "d" * 1024},
    {"ALERT_COOLDOWN": "2592001"},
    {"ALERT_MIN_LEVEL": "furious"},
    {"ALERT_MIN_LEVEL": ""},
    {"FRUSTRATION_LEVELS": "a::low:1,b:-0.5:high:5", "ALERT_MIN_LEVEL":
     "frustrated"},
    {"MESSAGE_TEXT_RETENTION_DAYS": "36501"},
    {"ESCALATION": "enabled"},
    {"ESCALATE_WINDOW": "0"},
    {"ESCALATE_NEGATIVE_COUNT": "21"},
    {"ESCALATE_REPEAT_COUNT": "0"},
    {"ESCALATE_DROP": "2.5"},
    {"ESCALATE_DROP": "-0"},
    {"DEVREV_API_TOKEN": "t"},
    {"DEVREV_API_TOKEN": "t", "DEVREV_PART_ID": "PROD-1"},
    {"DEVREV_API_TOKEN": "t", "DEVREV_OWNER_ID": "DEVU-1"},
    {"DEVREV_API_TOKEN": "t" * 2048},
    {"DEVREV_API_URL": "ftp://x"},
    {"DEVREV_API_URL": ""},
    {"DEVREV_PART_ID": "p" * 256},
    {"DEVREV_OWNER_ID": "o" * 256},
    {"DEVREV_TAG_ID": "t" * 256},
    {"DEVREV_API_VERSION": "2024-1-24"},
    {"DEVREV_API_VERSION": ""},
    {"DEVREV_API_VERSION": "v" * 40},
    {"DEVREV_TIMEOUT_MS": "600001"},
    {"OUTBOX_BACKOFF_BASE_MS": "0"},
    {"OUTBOX_BACKOFF_MAX_MS": "86400001"},
    {"OUTBOX_BACKOFF_BASE_MS": "2000", "OUTBOX_BACKOFF_MAX_MS": "1000"},
    {"OUTBOX_LEASE_MS": "999"},
    {"OUTBOX_LEASE_MS": "10000"},
    {"OUTBOX_LEASE_MS": "20000", "DEVREV_TIMEOUT_MS": "20000"},
    {"DEVREV_RETRY_AFTER_MAX": "86401"},
]

CASES = [dict(BASE, **env) for env in GOOD + BAD] + [
    # The one environment without HTTP_THREADS: only its line may differ.
    {},
]


def run(env):
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    e.update(env)
    p = subprocess.run([BIN, "check-config"], capture_output=True, env=e,
                       cwd=SRC, timeout=60)
    return {"env": env, "rc": p.returncode,
            "stdout": p.stdout.decode("utf-8", "replace"),
            "stderr": p.stderr.decode("utf-8", "replace")}


def threads_free(text):
    return "\n".join(line for line in text.split("\n")
                     if not line.startswith("HTTP_THREADS="))


def main():
    got = [run(env) for env in CASES]
    if sys.argv[1:] == ["--write"]:
        with open(EXPECTED, "w", encoding="utf-8") as f:
            for g in got:
                f.write(json.dumps(g, sort_keys=True) + "\n")
        print("wrote %d cases to %s" % (len(got), EXPECTED))
        return 0
    want = [json.loads(line) for line in open(EXPECTED, encoding="utf-8")]
    passed = failed = 0
    if len(want) != len(got):
        print("FAIL: %d expected cases, %d run" % (len(want), len(got)),
              file=sys.stderr)
        failed += 1
    for w, g in zip(want, got):
        same_env = w["env"] == g["env"]
        if "HTTP_THREADS" not in g["env"]:
            ok = (same_env and w["rc"] == g["rc"] and w["stderr"] == g["stderr"]
                  and threads_free(w["stdout"]) == threads_free(g["stdout"]))
        else:
            ok = same_env and w == g
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL: env %s\n  want rc=%d %r %r\n  got  rc=%d %r %r" % (
                g["env"], w["rc"], w["stdout"], w["stderr"], g["rc"],
                g["stdout"], g["stderr"]), file=sys.stderr)
    # The rich environment sets every printed variable.
    rich = got[1]["stdout"].split("\n")
    printed = {line.split("=", 1)[0] for line in rich if "=" in line}
    missing = printed - set(RICH)
    if missing:
        failed += 1
        print("FAIL: the rich environment leaves out %s" % sorted(missing),
              file=sys.stderr)
    else:
        passed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
