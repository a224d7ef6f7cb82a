#!/usr/bin/env python3
"""langgen: compiles the language identifier's tables into C.

    langgen.py OUT.c WORDS.txt CODE=PROFILE.lm...

WORDS.txt is the project's list of function words (data/langid/words.txt);
each PROFILE.lm is a libexttextcat character n-gram profile ("ngram<TAB>
count" lines, '_' marking a word boundary, most frequent first). The CODE
arguments give the languages in the order of the tables (src/lang/
lang_data.h): the supported ones first, in the order of lang.h.

Writes:
  - langid_word_check, langid_words: an open-addressing table of the
    function words, keyed by the FNV-1a hash of their UTF-8 bytes (slot
    from the low bits, the high 32 bits kept as the check, apart from the
    data so that a probe reads 4 bytes), each with up to LANGID_WORD_LANGS
    (language, weight) pairs;
  - langid_gram_*: an open-addressing table of every n-gram of the
    profiles, keyed by its code points packed 12 bits each, each with a row
    of costs, one per language: -ln(count / total) in 1/16 nat, where total
    is the profile's count of letters and word boundaries; an n-gram a
    profile does not list costs that profile's langid_gram_missing.
Python standard library only; the output is deterministic."""
import math
import sys

WORD_LANGS = 6
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = (1 << 64) - 1
COST_SCALE = 16.0
GRAM_MULT = 0x9E3779B97F4A7C15


def fold(cp):
    """Lower case as lang.c folds it (Latin letters only)."""
    if 0x41 <= cp <= 0x5A:
        return cp + 0x20
    if 0xC0 <= cp <= 0xDE and cp != 0xD7:
        return cp + 0x20
    if cp == 0x130:
        return 0x69
    if 0x100 <= cp <= 0x137 or 0x14A <= cp <= 0x177:
        return cp | 1
    if 0x139 <= cp <= 0x148 or 0x179 <= cp <= 0x17E:
        return cp + 1 if cp & 1 else cp
    if cp == 0x178:
        return 0xFF
    if 0x218 <= cp <= 0x21B:
        return cp | 1
    return cp


def fnv(data):
    h = FNV_OFFSET
    for b in data:
        h ^= b
        h = (h * FNV_PRIME) & MASK64
    return h


def pow2_at_least(n):
    size = 1
    while size < n:
        size *= 2
    return size


def read_words(path, codes):
    index = {c: i for i, c in enumerate(codes)}
    words = {}
    lang = weight = None
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("@"):
                parts = line[1:].split()
                if len(parts) != 2 or parts[0] not in index:
                    sys.exit(f"{path}:{lineno}: bad section {line!r}")
                lang, weight = index[parts[0]], int(parts[1])
                if not 1 <= weight <= 4:
                    sys.exit(f"{path}:{lineno}: weight out of 1..4")
                continue
            if lang is None:
                sys.exit(f"{path}:{lineno}: word before any section")
            for w in line.split():
                w = "".join(chr(fold(ord(c))) for c in w.replace("\u2019", "'"))
                langs = words.setdefault(w, {})
                langs[lang] = max(langs.get(lang, 0), weight)
    return words


def word_table(words):
    size = pow2_at_least(len(words) * 2)
    slots = [None] * size
    for w in sorted(words):
        h = fnv(w.encode("utf-8"))
        check = (h >> 32) or 1
        i = h & (size - 1)
        while slots[i] is not None:
            if slots[i][0] == check:
                sys.exit(f"langgen: hash collision on {w!r}")
            i = (i + 1) & (size - 1)
        pairs = sorted(words[w].items(), key=lambda p: (-p[1], p[0]))
        if len(pairs) > WORD_LANGS:
            sys.exit(f"langgen: {w!r} is listed under more than {WORD_LANGS} languages")
        slots[i] = (check, pairs, w)
    return slots


def read_profile(path):
    """The profile's n-grams, most frequent first, and their counts (None
    for a profile that lists ranks only)."""
    counts = {}
    order = []
    ranked_only = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            gram = parts[0]
            if not gram:
                continue
            if len(parts) == 2:
                count = int(parts[1].strip())
            else:
                ranked_only = True
                count = 0
            cps = [fold(ord(c)) for c in gram]
            if any(cp >= 0x1000 or cp == 0 for cp in cps) or not 1 <= len(cps) <= 5:
                continue
            key = tuple(cps)
            if key not in counts:
                order.append(key)
                counts[key] = 0
            counts[key] += count
    return order, None if ranked_only else counts


def profile_costs(order, counts, rank_costs):
    """Costs of the n-grams of a profile, and of one it does not list. A
    profile without counts borrows, rank by rank, the mean cost of the
    profiles with counts."""
    if counts is None:
        costs = {k: rank_costs[min(i, len(rank_costs) - 1)] for i, k in enumerate(order)}
        missing = min(255, rank_costs[-1] + int(round(math.log(2) * COST_SCALE)))
    else:
        total = sum(c for k, c in counts.items() if len(k) == 1)
        costs = {k: cost(c, total) for k, c in counts.items()}
        missing = cost(min(counts.values()) / 2.0, total)
    costs.pop((0x5F,), None)
    return costs, missing


def cost(count, total):
    return min(255, max(0, int(round(-math.log(count / total) * COST_SCALE))))


def pack(cps):
    k = 0
    for cp in cps:
        k = (k << 12) | cp
    return k


def gram_table(profiles):
    grams = sorted(set().union(*(p[0].keys() for p in profiles)))
    bits = 1
    while (1 << bits) < len(grams) * 2:
        bits += 1
    size = 1 << bits
    keys = [0] * size
    rows = [0] * size
    for row, g in enumerate(grams):
        k = pack(g)
        i = ((k * GRAM_MULT) & MASK64) >> (64 - bits)
        while keys[i]:
            i = (i + 1) & (size - 1)
        keys[i] = k
        rows[i] = row
    costs = [[p[0].get(g, p[1]) for p in profiles] for g in grams]
    return bits, keys, rows, costs


def c_string(s):
    out = []
    for b in s.encode("utf-8"):
        out.append(chr(b) if 0x20 <= b < 0x7F and chr(b) not in '"\\?' else f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    out, words_path, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
    codes, raw = [], []
    for spec in specs:
        code, _, path = spec.partition("=")
        codes.append(code)
        raw.append(read_profile(path))
    by_rank = []
    for order, counts in raw:
        if counts is not None:
            total = sum(c for k, c in counts.items() if len(k) == 1)
            by_rank.append(sorted(cost(c, total) for c in counts.values()))
    depth = min(len(r) for r in by_rank)
    rank_costs = [int(round(sum(r[i] for r in by_rank) / len(by_rank))) for i in range(depth)]
    profiles = [profile_costs(o, c, rank_costs) for o, c in raw]
    words = read_words(words_path, codes)
    wslots = word_table(words)
    bits, keys, rows, costs = gram_table(profiles)

    o = []
    o.append("/* Generated by tools/langgen.py from data/langid/words.txt and")
    o.append(" * libexttextcat's profiles (BSD 3-clause, WiseGuys Internet B.V.).")
    o.append(" * Do not edit. */")
    o.append('#include "lang/lang_data.h"\n')
    o.append(f"_Static_assert(LANGID_N == {len(codes)}, \"languages of the tables\");\n")
    o.append("const char langid_codes[LANGID_N][4] = {")
    o.append("  " + ", ".join(c_string(c) for c in codes) + "};\n")
    o.append(f"const uint32_t langid_words_mask = {len(wslots) - 1};")
    o.append("const uint32_t langid_word_check[] = {")
    for i in range(0, len(wslots), 8):
        o.append("  " + ", ".join(f"{s[0] if s else 0}u" for s in wslots[i:i + 8]) + ",")
    o.append("};")
    o.append("const struct langid_word langid_words[] = {")
    for s in wslots:
        if s is None:
            o.append("  {{0}, {0}},")
            continue
        check, pairs, w = s
        langs = [p[0] for p in pairs] + [0xFF] * (WORD_LANGS - len(pairs))
        wts = [p[1] for p in pairs] + [0] * (WORD_LANGS - len(pairs))
        o.append(f"  {{{{{', '.join(map(str, langs))}}}, "
                 f"{{{', '.join(map(str, wts))}}}}}, /* {w.encode('ascii', 'backslashreplace').decode()} */")
    o.append("};\n")
    o.append(f"const unsigned langid_gram_bits = {bits};")
    o.append("const uint64_t langid_gram_keys[] = {")
    for i in range(0, len(keys), 4):
        o.append("  " + ", ".join(f"0x{k:x}u" for k in keys[i:i + 4]) + ",")
    o.append("};")
    o.append("const uint16_t langid_gram_rows[] = {")
    for i in range(0, len(rows), 12):
        o.append("  " + ", ".join(map(str, rows[i:i + 12])) + ",")
    o.append("};")
    o.append("_Alignas(64) const uint8_t langid_gram_cost[][LANGID_GRAM_ROW] = {")
    for r in costs:
        o.append("  {" + ", ".join(map(str, r)) + "},")
    o.append("};")
    o.append("const uint8_t langid_gram_missing[LANGID_N] = {")
    o.append("  " + ", ".join(str(p[1]) for p in profiles) + "};")
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(o) + "\n")


if __name__ == "__main__":
    main()
