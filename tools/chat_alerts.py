#!/usr/bin/env python3
"""How often a calm chat raises an alert, through the real service.

    tools/chat_alerts.py [--bin build/frustration-alert] [--turns 6]
                         [--conversations 1000] [--dissatisfied 0]
                         [--seed 1] FILE.jsonl...

Reads labelled turns (JSON Lines with "text" and "label": {"frustrated"}),
then for each setting of ESCALATION (off, on) starts `serve` on a fresh
SQLite store in a temporary folder (record-only: no DevRev token, alerts
are stored, nothing is sent), on a loopback port, and posts conversations
to POST /webhook: each one a batch of --turns turns drawn at random
(--dissatisfied of them labelled frustrated, the rest calm), one customer
and one conversation_id per conversation, all within the escalation
window. A conversation alerts when any of its turns answers with an
alert ("created" or "appended"). Prints the share of conversations that
alerted under each setting. Same seed, same conversations in both runs.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request


def start(binary, db, escalation):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DEVREV_", "ESCALAT", "ALERT_"))
           and k not in ("DATABASE_URL", "HOST", "PORT")}
    env.update({"HOST": "127.0.0.1", "PORT": "0", "LOG_LEVEL": "info",
                "DATABASE_URL": "sqlite:" + db, "ESCALATION": escalation})
    log = open(db + ".log", "w+")
    proc = subprocess.Popen([binary, "serve"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.time() + 30
    while time.time() < deadline and proc.poll() is None:
        log.seek(0)
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", log.read())
        if m:
            return proc, int(m.group(1))
        time.sleep(0.05)
    proc.kill()
    log.seek(0)
    sys.exit("serve did not start:\n" + log.read())


def post(port, body):
    req = urllib.request.Request(
        "http://127.0.0.1:%d/webhook" % port, data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/frustration-alert")
    ap.add_argument("--turns", type=int, default=6)
    ap.add_argument("--conversations", type=int, default=1000)
    ap.add_argument("--dissatisfied", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    calm, dis = [], []
    for path in a.files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                y = r.get("label", {}).get("frustrated")
                if y is True:
                    dis.append(r)
                elif y is False:
                    calm.append(r)
    n_calm = a.turns - a.dissatisfied
    if n_calm < 0 or n_calm > len(calm) or a.dissatisfied > len(dis):
        sys.exit("not enough turns of each kind for --turns/--dissatisfied")
    rng = random.Random(a.seed)
    convs = []
    for _ in range(a.conversations):
        turns = rng.sample(calm, n_calm) + rng.sample(dis, a.dissatisfied)
        rng.shuffle(turns)
        convs.append(turns)
    print("%d conversations of %d turns (%d dissatisfied), from %d calm and "
          "%d dissatisfied turns" % (a.conversations, a.turns, a.dissatisfied,
                                     len(calm), len(dis)))
    for escalation in ("off", "on"):
        with tempfile.TemporaryDirectory() as d:
            proc, port = start(a.bin, os.path.join(d, "chat.db"), escalation)
            try:
                alerted = 0
                for i, turns in enumerate(convs):
                    msgs = [{"customer_id": "cust-%d" % i,
                             "conversation_id": "conv-%d" % i,
                             "message_id": "m-%d-%d" % (i, j),
                             "message": t["text"], "channel": "chat",
                             **({"lang": t["lang"]} if t.get("lang") else {})}
                            for j, t in enumerate(turns)]
                    res = post(port, {"messages": msgs})["results"]
                    alerted += any(r.get("alert") in ("created", "appended")
                                   for r in res)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        print("ESCALATION=%-3s  %5.1f%% of conversations alerted" %
              (escalation, 100.0 * alerted / len(convs)))


if __name__ == "__main__":
    main()
