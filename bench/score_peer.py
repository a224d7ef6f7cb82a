"""Python peer of `frustration-alert score`: JSON Lines in, scored lines out.

Reads the same input the C command reads and does the same work (parse each
line, score its text with `TextBlob(text).sentiment`, write it back with
polarity and subjectivity), so the two can be timed on the same corpus.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from textblob_peer import analyzer  # noqa: E402  (exits when TextBlob is missing)


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
