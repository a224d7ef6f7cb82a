#!/usr/bin/python3
"""Writes the generated part of tests/data/pattern_texts_<lang>.txt.

usage: /usr/bin/python3 tools/patterntexts.py LANG SEED COUNT > texts.txt

Mixes the lexicon's own words (read from pattern's <lang>-sentiment.xml,
PDDL) with the language's negations, modifiers, elisions, punctuation,
emoticons, emoji, numbers, URLs and mentions, in random order, case and
spacing, so that every rule of pattern's tokenizer and scorer meets its
neighbours. Texts with line breaks or surrounding whitespace are written as
"@json " lines (see tools/patterngen.py). Deterministic for a given seed.
"""
import importlib
import json
import os
import random
import sys
import xml.etree.ElementTree as ET

EXTRA = {
    "fr": dict(
        negations=["n'", "ne", "ni", "non", "pas", "rien", "sans", "aucun",
                   "jamais", "N'", "Pas"],
        small=["a", "à", "de", "le", "la", "l'", "d'", "c'", "qu'", "j'",
               "s'", "t'", "m'", "jusqu'", "lorsqu'", "puisqu'", "est", "un",
               "y", "L'", "QU'", "l’", "d’", "n’", "qu’", "L’", "N’", "QU’",
               "aujourd'hui", "aujourd’hui", "c.-à-d.", "M.", "fig.", "ex.",
               "&rsquo;", "&rsquo ;", "U.S.", "Mr."],
        modifiers=["très", "tres", "vraiment", "trop", "assez", "plutôt",
                   "extrêmement", "extremement", "absolument", "bien",
                   "totalement", "complètement", "peu"],
    ),
    "it": dict(
        negations=["mai", "no", "non", "Non", "NON"],
        small=["a", "è", "e'", "il", "la", "l'", "un'", "dell'", "nell'",
               "all'", "quell'", "po'", "c'", "anch'", "L'", "Un'", "Dell'",
               "l’", "un’", "XXX", "XXX -", "-", "&contraction", ";",
               "Prof.", "art.", "ecc.", "sig.", "U.S.", "Mr."],
        modifiers=["molto", "davvero", "veramente", "troppo", "abbastanza",
                   "piuttosto", "estremamente", "assolutamente", "poco",
                   "decisamente", "totalmente"],
    ),
    "nl": dict(
        negations=["geen", "gene", "ni", "niet", "nooit", "Niet", "NIET"],
        small=["a", "de", "het", "een", "'n", "zo'n", "'s", "' s", "s",
               "ochtends", "avonds", "middags", "morgens", "auto's", "is",
               "dhr.", "blz.", "bijv.", "enz.", "U.S.", "Mr."],
        modifiers=["heel", "erg", "echt", "zeer", "vreselijk",
                   "verschrikkelijk", "enorm", "best", "nogal", "vrij",
                   "ontzettend", "hartstikke"],
    ),
}

MOODS = [":)", ":-)", ": )", ":(", ": (", ":D", ":d", "XD", "xD", "x-D",
         ";)", "; )", ":'(", ":/", ": /", ":\\", ":|", ":-|", "<3", "♥", "❤",
         "❤️", "o_O", "O_o", "°O°", "°o°", ">:(", ">:)", ":P", ":p", ":-P",
         "8)", "8 )", "8-)", ":c", ":c)", ":o)", ":O", "=)", "=(", "=/",
         "(!)", "( ! )", "(!", "😀", "😂", "😍", "👍", "👿", "😡", "😢",
         "😭", "😉", "😐", "☺", "💜", "🙂", "🤬", "😀😀"]
PUNCT = ["!", "!!", "!!!", "?", "?!", ".", "...", "....", ",", ";", ":",
         "-", "--", "(", ")", "\"", "'", "“", "”", "‘", "’", "«", "»", "*",
         "#", "@", "&", "_", "|", "~", "`", "^", "$", "+", "="]
OTHER = ["https://example.com/a?b=1", "www.example.org", "info@example.com",
         "@support", "@Help_Desk,", "@x.", "#fail", "#top", "12345",
         "49,99", "3.5", "2024-01-02", "10h30", "100%", "€", "END-OF-SENTENCE",
         "great", "terrible", "not", "good", "very", "bad", "the", "I",
         "İyi", "KELVIN", "\u212a", "ÉTÉ", "Über", "ÇA", "naïve", "façon"]
# Single characters for the "chaos" texts: every rule's trigger, glued.
CHAOS = list("abeéèêàïÉÈ'’‘“”\"!?.,;:()[]{}-_@#&*+=|~^$`<>/\\38xXDdPpoO°♥❤") + [
    "\ufe0f", "😀", "😡", "☺", "👍", " ", " ", " ", "\n", "\r", "\t",
    "\u00a0", "\u2028", "\u0130", "\u212a", "...", "(!)", ": )",
    "&rsquo;", "&RSQUO;", "END-OF-SENTENCE"]
SEPS = [" "] * 12 + [""] * 3 + ["  ", "\n", "\n\n", "\r\n\r\n", "\t",
                                  "\u00a0", " \n \n ", "\u2028"]


def variants(rng, w):
    r = rng.random()
    if r < 0.15:
        return w.upper()
    if r < 0.3:
        return w[:1].upper() + w[1:]
    if r < 0.45:
        for a, b in (("à", "a"), ("é", "e"), ("è", "e"), ("ê", "e"),
                     ("ï", "i"), ("ë", "e"), ("ö", "o"), ("ü", "u")):
            w = w.replace(a, b)
    return w


def main():
    lang, seed, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    module = importlib.import_module("pattern." + lang)
    xml = os.path.join(os.path.dirname(module.__file__),
                       "%s-sentiment.xml" % lang)
    words, adverbs = [], []
    for w in ET.parse(xml).getroot().findall("word"):
        form = w.get("form")
        if form:
            words.append(form)
            if w.get("pos") in ("RB",) or (lang == "nl" and rng.random() < 0.1):
                adverbs.append(form)
    if lang == "nl":  # attributive forms, by a rough rule: the exact ones
        words += [w + "e" for w in rng.sample(words, 200)]  # come by chance
        words += [w + w[-1] + "e" for w in rng.sample(words, 100)]
    extra = EXTRA[lang]
    pools = [(words, 30), (adverbs or words, 8), (extra["negations"], 10),
             (extra["modifiers"], 8), (extra["small"], 14), (MOODS, 6),
             (PUNCT, 12), (OTHER, 5)]
    flat = [p for p, n in pools for _ in range(n)]
    glue = [words, extra["negations"], extra["modifiers"], extra["small"]]
    for k in range(count):
        n = rng.choice([1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 30])
        if k % 97 == 0:
            n = 1500  # long texts
        parts = []
        if k % 8 == 1:  # chaos: words and single characters, glued
            for _ in range(rng.randint(1, 40)):
                if rng.random() < 0.4:
                    parts.append(rng.choice(rng.choice(glue)))
                else:
                    parts.append(rng.choice(CHAOS))
            parts.append("")
        for _ in range(0 if parts else n):
            w = rng.choice(rng.choice(flat))
            parts.append(variants(rng, w))
            parts.append(rng.choice(SEPS))
        text = "".join(parts[:-1])
        if rng.random() < 0.05:
            text = rng.choice([" ", "\n", "  "]) + text + rng.choice(["", " ", "\n"])
        if ("\n" in text or "\r" in text or text != text.strip()
                or text.startswith("@json ") or "\u2028" in text):
            print("@json " + json.dumps(text, ensure_ascii=False))
        else:
            print(text)


if __name__ == "__main__":
    main()
