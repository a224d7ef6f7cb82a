#!/usr/bin/env python3
"""Measures how far the detector's reasons name words that carry frustration.

usage: tools/reasoncheck.py [--bin BIN] [--lex DIR] [--examples N]
                            [--dump OUT.tsv] FILE.jsonl...

Runs `BIN score` (FRUSTRATION_DETECTOR=model) on each JSON Lines file (only
the "text" field is given to it; a GoEmotions record whose meta.orig_split
is "train" is left out) and reports, among the FRUSTRATED verdicts (the
detector's own, not a label), the share whose reasons:

 (a) digits  quote a bare number or a one-word item with a digit ('24',
             'a320'); a phrase of a number and a word ('24 hours') is not one;
 (b) neutral quote a neutral word (below);
 (c) caps    say "shouting (ALL CAPS)" for a text whose capitals are only
             acronyms or codes: no all-capitals word of 5 letters or more
             without digits or inner hyphens, and no run of 3 or more
             all-capitals words in a row ("SFO-PDX schedule is still MIA",
             "LAX to JFK on AA" are codes; "WHY IS MY BAG NOT HERE" is not);
 (d) polite  quote a politeness word (please, bitte, por favor...) in any
             reason other than "thanks".
 (any)       any of the above.
Also shown, not faults but what an agent is left with: (none) no reason at
all; (noword) no reason that quotes a word.

A quoted item is NEUTRAL when none of its words carries frustration by any
lexicon the detector has, read from the files themselves (no label of any
evaluation set is used):
  - VADER's lexicon (vader_lexicon.txt): valence < 0;
  - TextBlob's / pattern's en, fr, it, nl sentiment lexicons
    (<lang>-sentiment.xml): mean polarity of the word's senses < 0;
  - the per-language lexicons data/lang/<code>.txt: @valence < 0, the
    @negators, and every entry of the support sections but @thanks and
    @service (stems with '*' match by prefix; phrases match the whole
    item);
  - the English support phrases of src/detector/support.c but "thanks"
    and the services named (the whole item or a one-word phrase);
  - VADER's negation words (not, never, didn't...);
  - COMPLAINT below: complaint terms and insults the lexicons miss (it
    includes the complaint words of src/detector/reasons.c);
  - an item with no letter or digit (an emoji or emoticon) carries.
The item is lower-cased; "'s" and trailing apostrophes are ignored.

--examples N prints N flagged examples per file and check; --dump writes
id, frustrated, level, frustration, polarity, subjectivity (everything of
the verdict but the reasons) for a before/after comparison.

The evaluation files (airline, GermEval, GoEmotions) may be used to
measure reasons only, never to choose words for the detector.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

POLITE = {
    "please", "pls", "plz", "plse", "pleas", "pleeease", "pleeeease",
    "pleaseee", "kindly", "thanks", "thank", "thx", "ty", "bitte", "danke",
    "bitteschön", "bitteschon", "svp", "stp", "merci", "plaît", "plait",
    "s'il vous plaît", "s'il te plaît", "favor", "por favor", "gracias",
    "favore", "per favore", "cortesemente", "gentilmente", "grazie",
    "alsjeblieft", "alstublieft", "aub", "ajb", "graag", "bedankt", "dank",
    "obrigado", "obrigada", "gentileza", "por gentileza",
}

# Complaint terms and insults that carry frustration but are in none of the
# lexicons above (English first, then the other languages' common ones).
COMPLAINT = {
    "cancelled", "canceled", "cancelling", "canceling", "cancellation",
    "stranded", "stuck", "overbooked", "misconnect", "missed", "rebooked",
    "overcharged", "refused", "denied", "crashed", "crashing", "incompetent",
    "clueless", "ripoff", "rip-off", "scam", "scammed", "excuses", "excuse",
    "lied", "lying", "smh", "ugh", "wtf", "hassle", "nightmare", "joke",
    "worst", "ridiculous", "unacceptable", "disgrace", "disgraceful",
    # the complaint words of src/detector/reasons.c
    "abysmal", "atrocious", "bumped", "declined", "disconnected",
    "disrespectful", "downgraded", "endless", "froze", "frozen", "glitchy",
    "inexcusable", "laggy", "mishandled", "misled", "nonexistent",
    "overcharging", "overdue", "overpriced", "pointless", "rubbish",
    "shambles", "shambolic", "shoddy", "sloppy", "stole", "unacceptably",
    "unhelpful", "unreachable", "unreliable", "unresponsive", "unusable",
}

# VADER's negation words, as its rules read them.
NEGATE = {
    "aint", "arent", "cannot", "cant", "couldnt", "darent", "didnt", "doesnt",
    "ain't", "aren't", "can't", "couldn't", "daren't", "didn't", "doesn't",
    "dont", "hadnt", "hasnt", "havent", "isnt", "mightnt", "mustnt", "neither",
    "don't", "hadn't", "hasn't", "haven't", "isn't", "mightn't", "mustn't",
    "neednt", "needn't", "never", "none", "nope", "nor", "not", "nothing",
    "nowhere", "oughtnt", "shant", "shouldnt", "uhuh", "wasnt", "werent",
    "oughtn't", "shan't", "shouldn't", "uh-uh", "wasn't", "weren't",
    "without", "wont", "wouldnt", "won't", "wouldn't", "rarely", "seldom",
    "despite", "no", "n't",
}

SUPPORT_SECTIONS = {"repeat", "wait", "broken", "money", "escalate", "strong"}


def fold(s):
    s = unicodedata.normalize("NFD", s)
    return "".join(c for c in s if not unicodedata.combining(c))


class Lexicons:
    def __init__(self, lexdir, vader_path):
        self.words = set()   # words that carry frustration
        self.phrases = set()  # phrases (several words) that do
        self.stems = []       # prefixes (data/lang stems)
        self.load_vader(vader_path)
        for lang in ("en", "fr", "it", "nl"):
            p = os.path.join(lexdir, lang + "-sentiment.xml")
            if os.path.exists(p):
                self.load_pattern(p)
        for p in sorted(glob.glob(os.path.join(ROOT, "data/lang/*.txt"))):
            self.load_lang(p)
        self.load_support(os.path.join(ROOT, "src/detector/support.c"))
        self.words |= NEGATE | COMPLAINT
        self.words |= {fold(w) for w in self.words}
        self.stems = tuple(self.stems + [fold(s) for s in self.stems])

    def load_vader(self, path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 2 and float(parts[1]) < 0:
                    self.words.add(parts[0].lower())

    def load_pattern(self, path):
        pol = {}
        for w in ET.parse(path).getroot():
            form = w.get("form")
            if form and w.get("polarity") is not None:
                pol.setdefault(form.lower(), []).append(float(w.get("polarity")))
        for form, ps in pol.items():
            if sum(ps) / len(ps) < 0:
                self.add(form)

    def add(self, entry):
        entry = entry.strip().lower()
        if not entry:
            return
        # German also writes ae, oe, ue, ss (the detector reads them alike).
        alt = entry.translate(str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue",
                                             "ß": "ss"}))
        if alt != entry:
            self.add(alt)
        if entry.endswith("*"):
            self.stems.append(entry[:-1])
        elif " " in entry:
            self.phrases.add(entry)
            self.phrases.add(fold(entry))
        else:
            self.words.add(entry)

    def load_lang(self, path):
        section = None
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.split("#", 1)[0].rstrip("\n")
                if not line.strip():
                    continue
                if line.startswith("@"):
                    section = line[1:].strip()
                    continue
                if section == "valence":
                    word, val = line.split("\t")
                    if float(val) < 0:
                        self.add(word)
                elif section == "negators" or section in SUPPORT_SECTIONS:
                    self.add(line.split("\t")[0])

    def load_support(self, path):
        with open(path, encoding="utf-8") as f:
            src = f.read()
        for phrase, cat in re.findall(r'\{"([^"]+)",\s*SUPPORT_([A-Z]+)\}', src):
            if cat not in ("THANKS", "SERVICE"):
                self.add(phrase)
                if "'" in phrase:
                    self.add(phrase.replace("'", ""))

    def word_carries(self, w):
        w = w.strip("'’").lower()
        if w.endswith("'s"):
            w = w[:-2]
        if not w:
            return False
        for form in (w, fold(w)):
            if form in self.words or form.startswith(self.stems):
                return True
        return False

    def item_carries(self, item):
        if not any(c.isalpha() or c.isdigit() for c in item):
            return True  # an emoji or emoticon (VADER's emoji and emoticons)
        low = item.lower()
        low = low.replace("\u2019", "'")
        flat = re.sub(r"\s+", " ", re.sub(r"[^\w\s']", " ", low)).strip()
        for form in (low, flat, fold(flat)):
            norm = re.sub(r"[0-9]+", "0", form)
            if any(x in self.phrases or x in self.words for x in (form, norm)):
                return True
        return any(self.word_carries(w) for w in re.split(r"[\s\-]+", low))


def quoted(reason):
    """The items a reason quotes: "label: 'a', 'b'" -> ["a", "b"]."""
    if ": '" not in reason or not reason.endswith("'"):
        return []
    rest = reason.split(": '", 1)[1][:-1]
    return rest.split("', '")


def has_digit_item(items):
    for it in items:
        words = it.split()
        if any(ch.isdigit() for ch in it) and (
                len(words) == 1 or all(any(c.isdigit() for c in w) or
                                       not any(c.isalpha() for c in w)
                                       for w in words)):
            return True
    return False


CAPS_TOKEN = re.compile(r"[^\W\d_]")


def caps_only_codes(text):
    """Are the text's all-capitals words only acronyms or codes? A word in
    capitals is a token whose core (first letter or digit to the last) is
    only letters (two or more, all capitals) and apostrophes."""
    run = 0
    for tok in text.split():
        m = re.search(r"[^\W_].*[^\W_]|[^\W_]", tok)
        core = m.group(0) if m else ""
        letters = [c for c in core if c.isalpha()]
        caps = len(letters) >= 2 and all(c.isupper() for c in letters) and \
            all(c.isalpha() or c in "'\u2019" for c in core)
        if not caps:
            run = 0
            continue
        if len(letters) >= 5:
            return False
        run += 1
        if run >= 3:
            return False
    return True


def run_file(args, path, lex):
    keep = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            split = (rec.get("meta") or {}).get("orig_split")
            if split == "train":
                continue
            keep.append(rec)
    inp = "".join(json.dumps({"id": r.get("id"), "text": r["text"]},
                             ensure_ascii=False) + "\n" for r in keep)
    env = dict(os.environ, FRUSTRATION_DETECTOR="model")
    out = subprocess.run([args.bin, "score"], input=inp.encode(), env=env,
                         stdout=subprocess.PIPE, check=True).stdout
    rows = [json.loads(l) for l in out.decode().splitlines()]
    counts = {k: 0 for k in ("digits", "neutral", "caps", "polite", "any",
                             "none", "noword")}
    examples = {k: [] for k in counts}
    n_frus = 0
    dump = []
    for r in rows:
        dump.append("\t".join(str(r.get(k)) for k in (
            "id", "frustrated", "level", "frustration", "polarity",
            "subjectivity")))
        if not r.get("frustrated"):
            continue
        n_frus += 1
        texts = [x["text"] for x in r.get("reasons", [])]
        flags = set()
        for t in texts:
            items = quoted(t)
            if has_digit_item(items):
                flags.add("digits")
            if any(not lex.item_carries(i) for i in items):
                flags.add("neutral")
            if t.startswith("shouting") and caps_only_codes(r["text"]):
                flags.add("caps")
            if not t.startswith("thanks") and any(
                    i.lower() in POLITE for i in items):
                flags.add("polite")
        if flags:
            flags.add("any")
        if not texts:
            flags.add("none")
        if not any(quoted(t) for t in texts):
            flags.add("noword")
        for k in flags:
            counts[k] += 1
            if len(examples[k]) < args.examples:
                examples[k].append((r["text"][:90], texts))
    return len(rows), n_frus, counts, examples, dump


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/frustration-alert"))
    ap.add_argument("--lex", default=os.path.join(ROOT, "build/lexicons"),
                    help="directory of <lang>-sentiment.xml")
    ap.add_argument("--vader", default=os.path.join(ROOT, "build/vader/vader_lexicon.txt"))
    ap.add_argument("--examples", type=int, default=0)
    ap.add_argument("--dump")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    lex = Lexicons(args.lex, args.vader)
    dumps = []
    print("%-28s %6s %6s %7s %7s %7s %7s %7s %7s %7s" % (
        "file", "texts", "frus", "digits", "neutral", "caps", "polite", "any",
        "none", "noword"))
    for path in args.files:
        n, nf, c, ex, dump = run_file(args, path, lex)
        dumps += dump
        share = lambda k: "%6.1f%%" % (100.0 * c[k] / nf if nf else 0.0)
        print("%-28s %6d %6d %s %s %s %s %s %s %s" % (
            os.path.basename(path)[:28], n, nf, share("digits"),
            share("neutral"), share("caps"), share("polite"), share("any"),
            share("none"), share("noword")))
        for k, lst in ex.items():
            if k in ("any", "none", "noword"):
                continue
            for text, reasons in lst:
                print("   [%s] %s -> %s" % (k, text.replace("\n", " "), reasons))
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as f:
            f.write("\n".join(dumps) + "\n")


if __name__ == "__main__":
    sys.exit(main())
