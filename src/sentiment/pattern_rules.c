/* pattern_rules: the tables of pattern.fr, pattern.it and pattern.nl (BSD,
 * see tests/data/README.md), written out as C data. */
#include "sentiment/pattern_rules.h"

/* pattern.fr: elisions are required in French, so each is split from the
 * next word; the same in capitals. */
static const char *const fr_contractions[] = {
    "l'",     "c'",      "d'",      "j'",      "m'",      "n'", "qu'",
    "s'",     "t'",      "jusqu'",  "lorsqu'", "puisqu'", "L'", "C'",
    "D'",     "J'",      "M'",      "N'",      "QU'",     "S'", "T'",
    "JUSQU'", "LORSQU'", "PUISQU'", NULL,
};

static const char *const fr_abbreviations[] = {
    "av.",
    "boul.",
    "C.-B.",
    "c.-\xc3\xa0-d.",
    "ex.",
    "\xc3\xa9"
    "d.",
    "fig.",
    "I.-P.-E.",
    "J.-C.",
    "Ltee.",
    "Lt\xc3\xa9"
    "e.",
    "M.",
    "Me.",
    "Mlle.",
    "Mlles.",
    "MM.",
    "N.-B.",
    "N.-\xc3\x89.",
    "p.",
    "S.B.E.",
    "Ste.",
    "T.-N.",
    "t.a.b.",
    NULL,
};

static const char *const fr_negations[] = {
    "n'", "ne", "ni", "non", "pas", "rien", "sans", "aucun", "jamais", NULL,
};

static const char *const fr_endings[] = {"ment", NULL};

/* pattern.it: each elided word, and the same capitalized. */
static const char *const it_contractions[] = {
    "a'",    "co'",   "all'",  "anch'",  "nient'",    "cinquant'",
    "b'",    "de'",   "dev'",  "bell'",  "quell'",    "diciott'",
    "c'",    "gl'",   "don'",  "cent'",  "quest'",    "occupo'",
    "d'",    "po'",   "dov'",  "dall'",  "trent'",    "sessant'",
    "l'",    "un'",   "nel'",  "dell'",  "tropp'",    "m'",
    "king'", "n'",    "nell'", "r'",     "sant'",     "s'",
    "sott'", "sull'", "tant'", "tutt'",  "vent'",     "A'",
    "Co'",   "All'",  "Anch'", "Nient'", "Cinquant'", "B'",
    "De'",   "Dev'",  "Bell'", "Quell'", "Diciott'",  "C'",
    "Gl'",   "Don'",  "Cent'", "Quest'", "Occupo'",   "D'",
    "Po'",   "Dov'",  "Dall'", "Trent'", "Sessant'",  "L'",
    "Un'",   "Nel'",  "Dell'", "Tropp'", "M'",        "King'",
    "N'",    "Nell'", "R'",    "Sant'",  "S'",        "Sott'",
    "Sull'", "Tant'", "Tutt'", "Vent'",  NULL,
};

static const char *const it_abbreviations[] = {
    "a.C.", "all.",   "apr.",   "art.",   "artt.",    "b.c.",   "c.a.",
    "cfr.", "c.d.",   "c.m.",   "C.V.",   "d.C.",     "Dott.",  "ecc.",
    "egr.", "e.v.",   "fam.",   "giu.",   "Ing.",     "L.",     "n.",
    "op.",  "orch.",  "p.es.",  "Prof.",  "prof.",    "ql.co.", "secc.",
    "sig.", "s.l.m.", "s.r.l.", "Spett.", "S.P.Q.C.", "v.c.",   NULL,
};

static const char *const it_negations[] = {"mai", "no", "non", NULL};

static const char *const it_endings[] = {"mente", NULL};

/* pattern.nl: "'s" after a vowel marks a plural ("auto's"), so only "'n"
 * is split off. */
static const char *const nl_contractions[] = {"'n", NULL};

static const char *const nl_abbreviations[] = {
    "a.d.h.v.", "afb.",   "a.u.b.", "bv.",    "b.v.",   "bijv.",  "blz.",
    "ca.",      "cfr.",   "dhr.",   "dr.",    "d.m.v.", "d.w.z.", "e.a.",
    "e.d.",     "e.g.",   "enz.",   "etc.",   "e.v.",   "evt.",   "fig.",
    "i.e.",     "i.h.b.", "ir.",    "i.p.v.", "i.s.m.", "m.a.w.", "max.",
    "m.b.t.",   "m.b.v.", "mevr.",  "min.",   "n.a.v.", "nl.",    "n.o.t.k.",
    "n.t.b.",   "n.v.t.", "o.a.",   "ong.",   "pag.",   "ref.",   "t.a.v.",
    "tel.",     "zgn.",   NULL,
};

static const char *const nl_negations[] = {
    "geen", "gene", "ni", "niet", "nooit", NULL,
};

static const char *const nl_endings[] = {"ig", "isch", "lijk", NULL};

static const char *const tags_rb[] = {"RB", NULL};
static const char *const tags_jj_rb[] = {"JJ", "RB", NULL};

static const struct pattern_rules rules[] = {
    [LEXICON_FR] = {fr_contractions, fr_abbreviations, true,
                    PATTERN_FIXUP_RSQUO, fr_negations, fr_endings, tags_rb,
                    PATTERN_LOAD_PLAIN},
    [LEXICON_IT] = {it_contractions, it_abbreviations, false,
                    PATTERN_FIXUP_CONTRACTION, it_negations, it_endings,
                    tags_rb, PATTERN_LOAD_NONE},
    [LEXICON_NL] = {nl_contractions, nl_abbreviations, false,
                    PATTERN_FIXUP_S_TIME, nl_negations, nl_endings, tags_jj_rb,
                    PATTERN_LOAD_ATTRIBUTIVE},
};

const struct pattern_rules *pattern_rules_get(enum lexicon_lang lang)
{
  if (lang == LEXICON_EN || (unsigned)lang >= sizeof rules / sizeof rules[0])
    return NULL;
  return &rules[lang];
}
