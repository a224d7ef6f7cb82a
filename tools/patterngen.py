#!/usr/bin/python3
"""Scores texts with pattern itself, for the golden tests of the fr, it and
nl polarity.

usage: /usr/bin/python3 tools/patterngen.py LANG TEXTS.txt OUT.jsonl

Needs pattern (Debian's python3-pattern: /usr/bin/python3 imports
pattern.fr, pattern.it and pattern.nl without downloads). Each line of
TEXTS.txt is one text, taken as it is (only its line break removed); a line
that starts with "@json " holds a JSON string instead, for texts with line
breaks, control characters or surrounding whitespace. Writes one JSON object
per text:

  {"text": ..., "polarity": ..., "subjectivity": ...,
   "assessments": [[words, polarity, subjectivity, label], ...]}

where the numbers are pattern.<lang>.sentiment(text) and its assessments
(words joined by spaces; label null, "mood", "irony" or a lexicon label).
Floats are written with repr(), so they read back exactly.
"""
import importlib
import json
import sys


def read_texts(path):
    texts = []
    with open(path, encoding="utf-8", newline="\n") as f:
        for line in f:
            if line.endswith("\n"):
                line = line[:-1]
            if line.startswith("@json "):
                texts.append(json.loads(line[len("@json "):]))
            else:
                texts.append(line)
    return texts


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    lang, src, out = sys.argv[1:]
    module = importlib.import_module("pattern." + lang)
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        for text in read_texts(src):
            score = module.sentiment(text)
            record = {
                "text": text,
                "polarity": score[0],
                "subjectivity": score[1],
                "assessments": [
                    [" ".join(words), p, s, label]
                    for words, p, s, label in score.assessments
                ],
            }
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
