#!/usr/bin/env python3
"""Turns the per-language lexicons data/lang/<code>.txt into C source.

usage: langlexgen.py OUT.c CODE=PATH...

Each PATH is read in the format of data/lang/README.md. A PATH that does
not exist gives that language an empty lexicon (the detector then reads
its texts with no words of its own). A malformed line stops the build
with "PATH:LINE: why". The entries are emitted as written (UTF-8, NFC,
lower case), one table per language in file order; src/detector/langlex.c
folds and indexes them at start-up, with the same code that reads a
message, so that a text and the lexicon are read alike.
"""
import os
import sys
import unicodedata

# The sections, in the order of enum langlex_section (langlex_data.h); the
# support sections follow the order of enum support_cat (support.h).
SECTIONS = ["valence", "negators", "intensifiers", "contrast", "repeat",
            "wait", "broken", "money", "escalate", "strong", "thanks",
            "service"]
VALUED = {"valence": (-4.0, 4.0), "intensifiers": (-2.0, 2.0)}
SINGLE_WORD = {"valence"}
MAX_WORDS = 4
STEM_MIN = 4
CODES = ["fr", "de", "es", "it", "nl", "pt"]
# The elided articles and pronouns the tokenizer splits off (the same list
# as ELISIONS in src/detector/langlex.c): a phrase never contains them.
ELISIONS = {
    "fr": ["l", "d", "j", "n", "m", "t", "s", "c", "qu", "jusqu", "lorsqu",
           "puisqu", "quoiqu"],
    "it": ["l", "d", "un", "dell", "all", "dall", "nell", "sull", "coll",
           "quell", "quest", "c", "m", "t", "s", "v", "n"],
}
APOSTROPHES = ("'", "\u2019")


class Bad(Exception):
    pass


def cstr(s):
    out = ['"']
    for b in s.encode("utf-8"):
        c = chr(b)
        if c in '"\\':
            out.append("\\" + c)
        elif 0x20 <= b < 0x7F and c != "?":  # '?' avoids trigraphs
            out.append(c)
        else:
            out.append("\\%03o" % b)
    out.append('"')
    return "".join(out)


def check_word(code, word, section):
    if not word:
        raise Bad("empty word (two spaces in a row, or a space at an end)")
    stem = word.endswith("*")
    base = word[:-1] if stem else word
    if "*" in base:
        raise Bad("'*' may only end a word: %r" % word)
    if stem and len(base) < STEM_MIN:
        raise Bad("a stem has at least %d letters: %r" % (STEM_MIN, word))
    if any(c.isspace() for c in base):
        raise Bad("white space inside a word: %r" % word)
    if base != base.lower():
        raise Bad("entries are lower case: %r" % word)
    if not any(c.isalnum() for c in base):
        raise Bad("a word needs a letter or a digit: %r" % word)
    for a in APOSTROPHES:
        head, sep, tail = base.partition(a)
        if sep and tail and head in ELISIONS.get(code, ()):
            raise Bad("elided %r%s is split off by the tokenizer: write %r"
                      % (head, a, tail))


def parse(code, path):
    entries = []
    seen = {}
    section = None
    with open(path, "rb") as f:
        raw = f.read()
    for lineno, bline in enumerate(raw.split(b"\n"), 1):
        where = "%s:%d" % (path, lineno)
        try:
            try:
                line = bline.decode("utf-8")
            except UnicodeDecodeError as e:
                raise Bad("not UTF-8 (%s)" % e.reason)
            if line.endswith("\r"):
                line = line[:-1]
            if unicodedata.normalize("NFC", line) != line:
                raise Bad("not in Unicode NFC")
            line = line.split("#", 1)[0].strip(" ")
            if not line.strip():
                continue
            if line.startswith("@"):
                name = line[1:].strip()
                if name not in SECTIONS:
                    raise Bad("unknown section @%s (known: %s)"
                              % (name, ", ".join("@" + s for s in SECTIONS)))
                section = name
                continue
            if section is None:
                raise Bad("entry before any @section")
            fields = line.split("\t")
            if section in VALUED:
                if len(fields) != 2:
                    raise Bad("@%s entries are word<TAB>number" % section)
                text, num = fields[0].strip(" "), fields[1].strip()
                try:
                    value = float(num) if num.isascii() else None
                except ValueError:
                    value = None
                if value is None:
                    raise Bad("not a number: %r" % num)
                lo, hi = VALUED[section]
                if not (lo <= value <= hi) or value == 0:
                    raise Bad("@%s value %s outside [%g, %g] or 0"
                              % (section, num, lo, hi))
            else:
                if len(fields) != 1:
                    raise Bad("@%s entries have no TAB" % section)
                text, num = fields[0], "0"
            words = text.split(" ")
            if section in SINGLE_WORD and len(words) != 1:
                raise Bad("@%s entries are single words" % section)
            if len(words) > MAX_WORDS:
                raise Bad("at most %d words in a phrase" % MAX_WORDS)
            for w in words:
                check_word(code, w, section)
            if any(w.endswith("*") for w in words[:-1]):
                raise Bad("a stem may only end an entry: %r" % text)
            # One meaning per entry: the sentiment and function words
            # share one reading, the support phrases another.
            group = "support" if SECTIONS.index(section) >= 4 else "words"
            key = (group, text)
            if key in seen:
                raise Bad("%r is already in @%s at line %d"
                          % (text, seen[key][0], seen[key][1]))
            seen[key] = (section, lineno)
            entries.append((text, section, repr(float(num))))
        except Bad as e:
            sys.exit("%s: %s" % (where, e))
    return entries


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out_path = sys.argv[1]
    tables = {}
    for arg in sys.argv[2:]:
        code, sep, path = arg.partition("=")
        if not sep or code not in CODES:
            sys.exit("langlexgen: expected CODE=PATH with CODE one of %s: %r"
                     % (", ".join(CODES), arg))
        tables[code] = parse(code, path) if os.path.exists(path) else []
    lines = [
        "/* Generated by tools/langlexgen.py from data/lang/<code>.txt (the"
        " project's own lexicons). Do not edit. */",
        '#include "detector/langlex_data.h"',
        "",
    ]
    for code in CODES:
        ents = tables.get(code, [])
        if not ents:
            continue
        lines.append("static const struct langlex_entry %s_entries[] = {"
                     % code)
        for text, section, num in ents:
            lines.append("  {%s, LANGLEX_%s, %s}," %
                         (cstr(text), section.upper(), num))
        lines.append("};")
        lines.append("")
    lines.append("const struct langlex_table langlex_tables[LANG_N] = {")
    for code in CODES:
        n = len(tables.get(code, []))
        arr = "%s_entries" % code if n else "NULL"
        lines.append("  [LANG_%s] = {%s, %d}," % (code.upper(), arr, n))
    lines.append("};")
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
