"""Python peer of `frustration-alert score`: JSON Lines in, scored lines out.

Reads the same input the C command reads and does the same work (parse each
line, score its text, write it back with polarity and subjectivity), so the
two can be timed on the same corpus.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import textblob_peer  # noqa: E402

# BENCH_PEER=textblob-call adds TextBlob's own per-call work (see
# textblob_peer).
if os.environ.get("BENCH_PEER") == "textblob-call":
    analyzer = textblob_peer.call_analyzer
else:
    analyzer = textblob_peer.analyzer


def main():
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        obj = json.loads(line)
        obj["polarity"], obj["subjectivity"] = analyzer(obj["text"])
        out.write(json.dumps(obj) + "\n")


if __name__ == "__main__":
    main()
