/* lang: language identification of short texts (a chat line, a tweet, a
 * one-line support message; two words are often enough).
 *
 * Three kinds of evidence, cheapest first:
 *   1. the script: a text written mostly in a script other than Latin is
 *      LANG_OTHER, named by its script where the script names a language
 *      (Greek, Hebrew, Thai, kana, Hangul...);
 *   2. words and letters: each word is looked up (one hash probe) in the
 *      project's table of function words (data/langid/words.txt), and
 *      letters that few languages use (ß, ñ, ã, ł, ő...) add their weight;
 *      when this evidence is clear the text is decided here, which is the
 *      common case and keeps the identifier under a microsecond;
 *   3. character n-grams (one to five letters, '_' at word edges): the
 *      log-probability of the text's n-grams under libexttextcat's profile
 *      of each language, added to the word evidence, decides the rest.
 * Scores are in 1/16 nat, the unit of the n-gram costs. English is
 * preferred on a tie and a language the service does not support must win
 * clearly. URLs, @handles, #hashtags, HTML entities, digits and emoji are
 * skipped. No allocation, no state: two passes over the text at most. */
#include "lang/lang.h"

#include <stdint.h>
#include <string.h>
#include <uchar.h>

#include "base/bits.h"
#include "base/utf8.h"
#include "lang/lang_data.h"

/* Weights, in 1/16 nat. A function word's weight (1..4 in words.txt) is
 * worth WORD_UNIT each; a distinctive letter's point LETTER_UNIT. */
#ifndef WORD_UNIT
#define WORD_UNIT 32
#endif
#ifndef LETTER_UNIT
#define LETTER_UNIT 16
#endif
/* Word and letter evidence decides alone when the best language has at
 * least EARLY_MIN points and leads the next by EARLY_MARGIN. */
#ifndef EARLY_MIN
#define EARLY_MIN (5 * WORD_UNIT)
#endif
#ifndef EARLY_MARGIN
#define EARLY_MARGIN (3 * WORD_UNIT)
/* The lead over every other language at which English stops the reading
 * of an ASCII text early. */
#define EARLY_LEAD (EARLY_MARGIN + WORD_UNIT)
#endif
/* Priors: English wins ties; an unsupported language must beat the best
 * supported one by this much (its profile was learnt from one formal
 * text, and a false "other" hides a message from scoring). */
#ifndef PRIOR_EN
#define PRIOR_EN 8
#endif
#ifndef PRIOR_OTHER
#define PRIOR_OTHER (-48)
#endif
/* The n-grams of one letter (orders one to five) overlap and say much
 * the same thing: their summed log-probability is divided by this. */
#ifndef GRAM_DIV
#define GRAM_DIV 4
#endif
/* An unsupported language needs words or letters of its own worth this
 * much, unless the text is long enough for its n-grams to be trusted
 * (OTHER_LETTERS Latin letters). */
#ifndef OTHER_EV
#define OTHER_EV 48
#endif
#ifndef OTHER_LETTERS
#define OTHER_LETTERS 40
#endif
/* Longest word hashed and n-grammed, in code points; longer words are
 * read up to here. */
#define WORD_MAX 32

enum script {
  SC_NONE,
  SC_LATIN,
  SC_CYRILLIC,
  SC_GREEK,
  SC_ARMENIAN,
  SC_HEBREW,
  SC_ARABIC,
  SC_DEVANAGARI,
  SC_BENGALI,
  SC_GURMUKHI,
  SC_GUJARATI,
  SC_TAMIL,
  SC_TELUGU,
  SC_KANNADA,
  SC_MALAYALAM,
  SC_SINHALA,
  SC_THAI,
  SC_LAO,
  SC_TIBETAN,
  SC_MYANMAR,
  SC_GEORGIAN,
  SC_HANGUL,
  SC_ETHIOPIC,
  SC_KHMER,
  SC_KANA,
  SC_HAN,
  SC_N
};

/* The language a script names, "und" when it is written by several. */
static const char script_code[SC_N][4] = {
    [SC_NONE] = "und",    [SC_LATIN] = "und",      [SC_CYRILLIC] = "und",
    [SC_GREEK] = "el",    [SC_ARMENIAN] = "hy",    [SC_HEBREW] = "he",
    [SC_ARABIC] = "und",  [SC_DEVANAGARI] = "und", [SC_BENGALI] = "bn",
    [SC_GURMUKHI] = "pa", [SC_GUJARATI] = "gu",    [SC_TAMIL] = "ta",
    [SC_TELUGU] = "te",   [SC_KANNADA] = "kn",     [SC_MALAYALAM] = "ml",
    [SC_SINHALA] = "si",  [SC_THAI] = "th",        [SC_LAO] = "lo",
    [SC_TIBETAN] = "bo",  [SC_MYANMAR] = "my",     [SC_GEORGIAN] = "ka",
    [SC_HANGUL] = "ko",   [SC_ETHIOPIC] = "und",   [SC_KHMER] = "km",
    [SC_KANA] = "ja",     [SC_HAN] = "zh",
};

static enum script script_of(uint32_t cp)
{
  if (cp < 0x250)
    return SC_LATIN; /* the caller has kept only letters */
  if (cp >= 0x1E00 && cp <= 0x1EFF)
    return SC_LATIN;
  if (cp >= 0x370 && cp <= 0x3FF)
    return SC_GREEK;
  if (cp >= 0x1F00 && cp <= 0x1FFF)
    return SC_GREEK;
  if (cp >= 0x400 && cp <= 0x52F)
    return SC_CYRILLIC;
  if (cp >= 0x531 && cp <= 0x58F)
    return SC_ARMENIAN;
  if (cp >= 0x591 && cp <= 0x5FF)
    return SC_HEBREW;
  if ((cp >= 0x600 && cp <= 0x6FF) || (cp >= 0x750 && cp <= 0x77F) ||
      (cp >= 0xFB50 && cp <= 0xFDFF) || (cp >= 0xFE70 && cp <= 0xFEFF))
    return SC_ARABIC;
  if (cp >= 0x900 && cp <= 0x97F)
    return SC_DEVANAGARI;
  if (cp >= 0x980 && cp <= 0x9FF)
    return SC_BENGALI;
  if (cp >= 0xA00 && cp <= 0xA7F)
    return SC_GURMUKHI;
  if (cp >= 0xA80 && cp <= 0xAFF)
    return SC_GUJARATI;
  if (cp >= 0xB80 && cp <= 0xBFF)
    return SC_TAMIL;
  if (cp >= 0xC00 && cp <= 0xC7F)
    return SC_TELUGU;
  if (cp >= 0xC80 && cp <= 0xCFF)
    return SC_KANNADA;
  if (cp >= 0xD00 && cp <= 0xD7F)
    return SC_MALAYALAM;
  if (cp >= 0xD80 && cp <= 0xDFF)
    return SC_SINHALA;
  if (cp >= 0xE00 && cp <= 0xE7F)
    return SC_THAI;
  if (cp >= 0xE80 && cp <= 0xEFF)
    return SC_LAO;
  if (cp >= 0xF00 && cp <= 0xFFF)
    return SC_TIBETAN;
  if (cp >= 0x1000 && cp <= 0x109F)
    return SC_MYANMAR;
  if (cp >= 0x10A0 && cp <= 0x10FF)
    return SC_GEORGIAN;
  if ((cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0x3130 && cp <= 0x318F) ||
      (cp >= 0xAC00 && cp <= 0xD7AF))
    return SC_HANGUL;
  if (cp >= 0x1200 && cp <= 0x137F)
    return SC_ETHIOPIC;
  if (cp >= 0x1780 && cp <= 0x17FF)
    return SC_KHMER;
  if ((cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x31F0 && cp <= 0x31FF) ||
      (cp >= 0xFF66 && cp <= 0xFF9F))
    return SC_KANA;
  if ((cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
      (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x2FFFF))
    return SC_HAN;
  return SC_NONE;
}

static inline bool is_alpha(unsigned char c)
{
  return (unsigned)((c | 0x20) - 'a') < 26;
}

static inline bool is_digit(unsigned char c)
{
  return (unsigned)(c - '0') < 10;
}

/* True for the letters of the scripts above (Latin: the letters of
 * Latin-1, Extended-A/B and Extended Additional). Digits, punctuation,
 * symbols and emoji are not letters. */
static bool is_letter(uint32_t cp)
{
  if (cp < 0x80)
    return ((cp | 0x20) - 'a') < 26;
  if (cp < 0xC0)
    return cp == 0xAA || cp == 0xB5 || cp == 0xBA;
  if (cp < 0x250)
    return cp != 0xD7 && cp != 0xF7;
  if (cp >= 0x300 && cp <= 0x36F)
    return false; /* combining marks: read as part of the letter before */
  return script_of(cp) != SC_NONE;
}

/* Lower case of a Latin letter; the same folding as tools/langgen.py. */
static uint32_t fold(uint32_t cp)
{
  if (cp < 0x80)
    return (cp - 'A') < 26 ? cp + 0x20 : cp;
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
    return cp + 0x20;
  if (cp == 0x130)
    return 'i';
  if ((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177))
    return cp | 1;
  if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
    return (cp & 1) ? cp + 1 : cp;
  if (cp == 0x178)
    return 0xFF;
  if (cp >= 0x218 && cp <= 0x21B)
    return cp | 1;
  return cp;
}

/* Letters few languages use, each with its languages and points. The
 * indices are those of the tables: the order of the profiles given to
 * tools/langgen.py in CMakeLists.txt (test_lang checks it). */
enum {
  L_EN,
  L_FR,
  L_DE,
  L_ES,
  L_IT,
  L_NL,
  L_PT,
  L_PL,
  L_CS,
  L_SK,
  L_SV,
  L_DA,
  L_NO,
  L_FI,
  L_TR,
  L_RO,
  L_HU,
  L_ID,
  L_CA,
  L_HR,
  L_SL,
  L_ET,
  L_LV,
  L_LT,
  L_IS,
  L_AF,
  L_SQ
};

struct letter_ev {
  uint16_t cp;
  uint8_t n;
  uint8_t lang[4];
  uint8_t pts[4];
};

static const struct letter_ev letters[] = {
    {0xDF, 1, {L_DE}, {8}},                             /* ß */
    {0xE4, 4, {L_DE, L_SV, L_FI, L_ET}, {3, 2, 3, 2}},  /* ä */
    {0xF6, 4, {L_DE, L_SV, L_FI, L_HU}, {3, 2, 2, 2}},  /* ö */
    {0xFC, 4, {L_DE, L_TR, L_HU, L_ET}, {3, 2, 2, 1}},  /* ü */
    {0xF1, 1, {L_ES}, {7}},                             /* ñ */
    {0xE3, 1, {L_PT}, {7}},                             /* ã */
    {0xF5, 2, {L_PT, L_ET}, {7, 3}},                    /* õ */
    {0xE7, 4, {L_FR, L_PT, L_CA, L_TR}, {3, 3, 3, 2}},  /* ç */
    {0xEA, 2, {L_FR, L_PT}, {3, 3}},                    /* ê */
    {0xE2, 3, {L_FR, L_PT, L_RO}, {3, 2, 2}},           /* â */
    {0xF4, 3, {L_FR, L_PT, L_SK}, {3, 3, 1}},           /* ô */
    {0xEE, 2, {L_FR, L_RO}, {3, 3}},                    /* î */
    {0xFB, 1, {L_FR}, {4}},                             /* û */
    {0xEB, 3, {L_FR, L_NL, L_SQ}, {1, 2, 4}},           /* ë */
    {0xEF, 3, {L_FR, L_NL, L_CA}, {2, 2, 1}},           /* ï */
    {0x153, 1, {L_FR}, {7}},                            /* œ */
    {0xF9, 2, {L_FR, L_IT}, {4, 1}},                    /* ù */
    {0xE8, 3, {L_FR, L_IT, L_CA}, {3, 3, 2}},           /* è */
    {0xE0, 4, {L_FR, L_IT, L_PT, L_CA}, {3, 3, 2, 2}},  /* à */
    {0xEC, 1, {L_IT}, {6}},                             /* ì */
    {0xF2, 2, {L_IT, L_CA}, {6, 2}},                    /* ò */
    {0xE9, 4, {L_FR, L_ES, L_PT, L_IT}, {2, 1, 1, 1}},  /* é */
    {0xE1, 4, {L_ES, L_PT, L_HU, L_CS}, {2, 2, 2, 2}},  /* á */
    {0xED, 4, {L_ES, L_PT, L_CS, L_HU}, {2, 2, 2, 1}},  /* í */
    {0xF3, 4, {L_ES, L_PT, L_PL, L_HU}, {2, 2, 1, 1}},  /* ó */
    {0xFA, 3, {L_ES, L_PT, L_HU}, {3, 1, 2}},           /* ú */
    {0x133, 1, {L_NL}, {8}},                            /* ĳ */
    {0x105, 1, {L_PL}, {8}},                            /* ą */
    {0x119, 1, {L_PL}, {8}},                            /* ę */
    {0x142, 1, {L_PL}, {8}},                            /* ł */
    {0x15B, 1, {L_PL}, {8}},                            /* ś */
    {0x17A, 1, {L_PL}, {8}},                            /* ź */
    {0x17C, 1, {L_PL}, {8}},                            /* ż */
    {0x144, 1, {L_PL}, {8}},                            /* ń */
    {0x107, 2, {L_PL, L_HR}, {4, 4}},                   /* ć */
    {0x159, 1, {L_CS}, {8}},                            /* ř */
    {0x11B, 1, {L_CS}, {8}},                            /* ě */
    {0x16F, 1, {L_CS}, {8}},                            /* ů */
    {0x10D, 4, {L_CS, L_SK, L_HR, L_SL}, {3, 3, 3, 3}}, /* č */
    {0x161, 4, {L_CS, L_SK, L_HR, L_SL}, {3, 3, 3, 3}}, /* š */
    {0x17E, 4, {L_CS, L_SK, L_HR, L_SL}, {3, 3, 3, 3}}, /* ž */
    {0x165, 2, {L_CS, L_SK}, {5, 5}},                   /* ť */
    {0x10F, 2, {L_CS, L_SK}, {5, 5}},                   /* ď */
    {0x148, 2, {L_CS, L_SK}, {5, 5}},                   /* ň */
    {0x13E, 1, {L_SK}, {8}},                            /* ľ */
    {0x151, 1, {L_HU}, {8}},                            /* ő */
    {0x171, 1, {L_HU}, {8}},                            /* ű */
    {0x11F, 1, {L_TR}, {8}},                            /* ğ */
    {0x131, 1, {L_TR}, {8}},                            /* ı */
    {0x15F, 2, {L_TR, L_RO}, {7, 3}},                   /* ş */
    {0x163, 1, {L_RO}, {7}},                            /* ţ */
    {0x219, 1, {L_RO}, {8}},                            /* ș */
    {0x21B, 1, {L_RO}, {8}},                            /* ț */
    {0x103, 1, {L_RO}, {7}},                            /* ă */
    {0xE5, 3, {L_SV, L_DA, L_NO}, {4, 4, 4}},           /* å */
    {0xE6, 3, {L_DA, L_NO, L_IS}, {5, 5, 3}},           /* æ */
    {0xF8, 2, {L_DA, L_NO}, {6, 6}},                    /* ø */
    {0xF0, 1, {L_IS}, {8}},                             /* ð */
    {0xFE, 1, {L_IS}, {8}},                             /* þ */
    {0x101, 1, {L_LV}, {6}},                            /* ā */
    {0x113, 1, {L_LV}, {6}},                            /* ē */
    {0x12B, 1, {L_LV}, {6}},                            /* ī */
    {0x137, 1, {L_LV}, {6}},                            /* ķ */
    {0x13C, 1, {L_LV}, {6}},                            /* ļ */
    {0x146, 1, {L_LV}, {6}},                            /* ņ */
    {0x123, 1, {L_LV}, {6}},                            /* ģ */
    {0x16B, 2, {L_LV, L_LT}, {4, 4}},                   /* ū */
    {0x117, 1, {L_LT}, {8}},                            /* ė */
    {0x12F, 1, {L_LT}, {8}},                            /* į */
    {0x173, 1, {L_LT}, {8}},                            /* ų */
};

static const struct letter_ev *letter_evidence(uint32_t cp)
{
  for (size_t i = 0; i < sizeof letters / sizeof *letters; i++)
    if (letters[i].cp == cp)
      return &letters[i];
  return NULL;
}

/* Letters that tell the languages of the Cyrillic and Arabic scripts
 * apart: a bit each. */
enum {
  MK_RU = 1,  /* ы э ё: Russian (also Belarusian) */
  MK_UK = 2,  /* і ї є ґ: Ukrainian (і also Belarusian) */
  MK_BE = 4,  /* ў: Belarusian */
  MK_FA = 8,  /* پ چ ژ گ: Persian (also Urdu) */
  MK_UR = 16, /* ٹ ڈ ڑ ں ے: Urdu */
};

static unsigned script_mark(uint32_t cp)
{
  switch (cp) {
  case 0x44B:
  case 0x42B:
  case 0x44D:
  case 0x42D:
  case 0x451:
  case 0x401:
    return MK_RU;
  case 0x456:
  case 0x406:
  case 0x457:
  case 0x407:
  case 0x454:
  case 0x404:
  case 0x491:
  case 0x490:
    return MK_UK;
  case 0x45E:
  case 0x40E:
    return MK_BE;
  case 0x67E:
  case 0x686:
  case 0x698:
  case 0x6AF:
    return MK_FA;
  case 0x679:
  case 0x688:
  case 0x691:
  case 0x6BA:
  case 0x6D2:
    return MK_UR;
  default:
    return 0;
  }
}

/* The language of a Cyrillic or Arabic text from its marks; "und" when
 * they do not say. */
static const char *mark_code(enum script sc, unsigned marks)
{
  if (sc == SC_CYRILLIC) {
    if (marks & MK_BE)
      return "be";
    if ((marks & MK_UK) && !(marks & MK_RU))
      return "uk";
    if ((marks & MK_RU) && !(marks & MK_UK))
      return "ru";
    return "und";
  }
  if (marks & MK_UR)
    return "ur";
  return (marks & MK_FA) ? "fa" : "ar";
}

/* --- Words ---------------------------------------------------------- */

#define FNV_OFFSET 0xCBF29CE484222325ull
#define FNV_PRIME 0x100000001B3ull

struct word {
  uint32_t cps[WORD_MAX]; /* folded code points, for the n-grams */
  size_t n;               /* code points kept (<= WORD_MAX) */
  uint64_t hash;          /* FNV-1a of the folded UTF-8 of the whole word */
  uint64_t head, tail;    /* around the first apostrophe: "l'" and "ami" */
  bool apostrophe;
  bool hashable; /* no longer than WORD_MAX code points */
};

struct scan {
  const unsigned char *s;
  size_t len, i;
  uint32_t prev; /* the code point before i (0 at the start) */
};

static inline uint64_t fnv_byte(uint64_t h, unsigned char b)
{
  return (h ^ b) * FNV_PRIME;
}

static uint64_t fnv_cp(uint64_t h, uint32_t cp)
{
  if (cp < 0x80)
    return fnv_byte(h, (unsigned char)cp);
  char buf[4];
  size_t n = utf8_encode(cp, buf);
  for (size_t k = 0; k < n; k++)
    h = fnv_byte(h, (unsigned char)buf[k]);
  return h;
}

/* The code point at s->i and its length; invalid bytes read as U+FFFD, an
 * unknown letter, one byte at a time. */
static inline uint32_t peek(const struct scan *s, size_t *n)
{
  unsigned char c = s->s[s->i];
  if (c < 0x80) {
    *n = 1;
    return c;
  }
  uint32_t cp;
  *n = utf8_decode((const char *)s->s + s->i, s->len - s->i, &cp);
  if (*n == 0) {
    *n = 1;
    return 0xFFFD;
  }
  return cp;
}

static bool is_apostrophe(uint32_t cp)
{
  return cp == '\'' || cp == 0x2019 || cp == 0x2BC;
}

static bool starts_with_ci(const struct scan *s, const char *p)
{
  size_t n = strlen(p);
  if (s->len - s->i < n)
    return false;
  for (size_t k = 0; k < n; k++)
    if ((s->s[s->i + k] | 0x20) != (unsigned char)p[k])
      return false;
  return true;
}

/* Skips what is not language: URLs, @handles, #hashtags and what follows
 * the @ of an e-mail address, up to the next space; HTML entities (&amp;
 * &#39;). Returns true when it skipped something. */
static bool skip_noise(struct scan *s)
{
  unsigned char c = s->s[s->i];
  bool token = false;
  if (c == '@' || c == '#')
    token = s->i + 1 < s->len && s->s[s->i + 1] > ' ';
  else if ((c | 0x20) == 'h')
    token = starts_with_ci(s, "http://") || starts_with_ci(s, "https://");
  else if ((c | 0x20) == 'w')
    token = (s->prev == 0 || s->prev == ' ') && starts_with_ci(s, "www.");
  else if (c == '&') {
    size_t k = s->i + 1;
    while (k < s->len && k - s->i <= 8 &&
           (is_alpha(s->s[k]) || is_digit(s->s[k]) || s->s[k] == '#'))
      k++;
    if (k < s->len && k > s->i + 1 && s->s[k] == ';') {
      s->i = k + 1;
      s->prev = ';';
      return true;
    }
    return false;
  }
  if (!token)
    return false;
  while (s->i < s->len && s->s[s->i] > ' ')
    s->i++;
  s->prev = ' ';
  return true;
}

/* Per-text tallies of the first pass. Most texts have no letter of
 * another script: lang_detect zeroes ev, other_letters and the Latin
 * count, and the first letter of another script zeroes the rest (see
 * tally_first_other), which spares clearing the whole struct per text. */
struct tally {
  int32_t ev[LANGID_N];   /* word and letter evidence, 1/16 nat */
  unsigned script[SC_N];  /* other than SC_LATIN: set once other_letters > 0 */
  unsigned marks;         /* letters that name a Cyrillic or Arabic language */
  unsigned other_letters; /* letters of scripts other than Latin */
};

static void tally_first_other(struct tally *t)
{
  unsigned latin = t->script[SC_LATIN];
  memset(t->script, 0, sizeof t->script);
  t->script[SC_LATIN] = latin;
  t->marks = 0;
}

static bool is_latin_letter(uint32_t cp)
{
  return cp == 0xFFFD ||
         (is_letter(cp) && (cp < 0x250 || script_of(cp) == SC_LATIN));
}

/* The FNV-1a hash of the folded letters of s[from..to) (a word's tail
 * after its apostrophe). */
static uint64_t hash_span(const struct scan *s, size_t from, size_t to)
{
  struct scan r = *s;
  uint64_t h = FNV_OFFSET;
  for (r.i = from; r.i < to;) {
    size_t n;
    uint32_t cp = peek(&r, &n);
    r.i += n;
    if (cp >= 0x300 && cp <= 0x36F)
      continue;
    h = fnv_cp(h, fold(cp));
  }
  return h;
}

/* Reads the next Latin word of s. With t (the first pass) it hashes the
 * word into w and counts letters of other scripts and letter evidence
 * into t; without (the n-gram pass) it keeps the word's folded code
 * points in w. Returns false at the end of the text. A word glued to what
 * precedes it by '.' or '/' (a domain, a path) is skipped. Inlined into
 * each pass so that each does only its own work; ASCII letters take a
 * short path. */
static BITS_ALWAYS_INLINE bool next_word(struct scan *s, struct word *w,
                                         struct tally *t)
{
  const unsigned char *p = s->s;
  while (s->i < s->len) {
    unsigned char c = p[s->i];
    if (c < 0x80 && !is_alpha(c)) {
      if ((c == '@' || c == '#' || c == '&') && skip_noise(s))
        continue;
      s->prev = c;
      s->i++;
      continue;
    }
    if (((c | 0x20) == 'h' || (c | 0x20) == 'w') && skip_noise(s))
      continue;
    size_t n;
    uint32_t cp;
    /* An ASCII letter starts a word: only another byte needs decoding
     * and its script looked up. */
    if (c >= 0x80) {
      cp = peek(s, &n);
      if (!is_latin_letter(cp)) {
        if (t && is_letter(cp)) {
          if (t->other_letters == 0)
            tally_first_other(t);
          t->script[script_of(cp)]++;
          t->other_letters++;
          if (cp >= 0x400 && cp <= 0x6FF)
            t->marks |= script_mark(cp);
        }
        if (t && (cp == 0xBF || cp == 0xA1)) /* ¿ ¡ */
          t->ev[L_ES] += 6 * LETTER_UNIT;
        s->prev = cp;
        s->i += n;
        continue;
      }
    }
    /* A Latin word starts here. */
    bool glued = false;
    if ((s->prev == '.' || s->prev == '/') && s->i >= 2) {
      unsigned char b = p[s->i - 2];
      glued = is_alpha(b) || is_digit(b);
    }
    uint64_t h = FNV_OFFSET;
    size_t count = 0, wn = 0, tail_from = 0;
    uint32_t last = 0;
    w->apostrophe = false;
    while (s->i < s->len) {
      c = p[s->i];
      if (c < 0x80) {
        if (is_alpha(c)) {
          /* A run of ASCII letters (most words are one), read with the
           * position in a local: s is passed to skip_noise, so s->i
           * lives in memory and each letter would store it. */
          size_t i = s->i;
          do {
            uint32_t f = p[i] | 0x20u;
            if (t) {
              h = fnv_byte(h, (unsigned char)f);
              if (f == 'j' && last == 'i')
                t->ev[L_NL] += 2 * LETTER_UNIT;
            } else if (wn < WORD_MAX) {
              w->cps[wn++] = f;
            }
            last = f;
            i++;
          } while (i < s->len && is_alpha(p[i]));
          count += i - s->i;
          s->i = i;
          continue;
        }
        if (c != '\'')
          break;
      }
      cp = peek(s, &n);
      if (cp >= 0x300 && cp <= 0x36F) { /* combining mark */
        s->i += n;
        continue;
      }
      if (is_apostrophe(cp)) {
        size_t n2;
        struct scan ahead = *s;
        ahead.i += n;
        if (count == 0 || ahead.i >= s->len ||
            !is_latin_letter(peek(&ahead, &n2)))
          break;
        if (t && !w->apostrophe)
          w->head = fnv_byte(h, '\'');
        w->apostrophe = true;
        if (t)
          h = fnv_byte(h, '\'');
        else if (wn < WORD_MAX)
          w->cps[wn++] = '\'';
        s->i += n;
        tail_from = s->i;
        last = '\'';
        count++;
        continue;
      }
      if (!is_latin_letter(cp))
        break;
      uint32_t f = fold(cp);
      if (t) {
        h = fnv_cp(h, f);
        const struct letter_ev *e = f >= 0xC0 ? letter_evidence(f) : NULL;
        if (e)
          for (int k = 0; k < e->n; k++)
            t->ev[e->lang[k]] += e->pts[k] * LETTER_UNIT;
      } else if (wn < WORD_MAX) {
        w->cps[wn++] = f;
      }
      last = f;
      count++;
      s->i += n;
    }
    s->prev = last;
    if (glued)
      continue;
    w->n = wn;
    w->hash = h;
    w->hashable = count <= WORD_MAX;
    if (t) {
      if (w->apostrophe)
        w->tail = hash_span(s, tail_from, s->i);
      t->script[SC_LATIN] += (unsigned)count;
    }
    return true;
  }
  return false;
}

/* Adds the weights of the function word of hash h to ev; false if h is
 * not one. */
static bool add_word(uint64_t h, int32_t *ev)
{
  uint32_t check = (uint32_t)(h >> 32);
  if (!check)
    check = 1;
  uint32_t i = (uint32_t)h & langid_words_mask;
  for (;;) {
    uint32_t c = langid_word_check[i];
    if (c == check) {
      const struct langid_word *e = &langid_words[i];
      for (int k = 0; k < LANGID_WORD_LANGS && e->lang[k] != LANGID_NO_LANG;
           k++)
        ev[e->lang[k]] += e->weight[k] * WORD_UNIT;
      return true;
    }
    if (!c)
      return false;
    i = (i + 1) & langid_words_mask;
  }
}

/* --- N-grams -------------------------------------------------------- */

static int gram_row(uint64_t key)
{
  unsigned shift = 64 - langid_gram_bits;
  uint64_t mask = (1ull << langid_gram_bits) - 1;
  uint64_t i = (key * 0x9E3779B97F4A7C15ull) >> shift;
  for (;;) {
    uint64_t k = langid_gram_keys[i];
    if (k == key)
      return langid_gram_rows[i];
    if (!k)
      return -1;
    i = (i + 1) & mask;
  }
}

/* Adds the cost of the n-grams of one word ("_word_") to cost; n-grams
 * no profile lists are counted in *absent. A word's costs are summed in
 * 16 bits, added to cost once: a word has at most (WORD_MAX + 2) * 5
 * n-grams of at most 255 each, which 16 bits hold. */
static void word_grams(const struct word *w, uint32_t *cost, unsigned *absent)
{
  _Static_assert((WORD_MAX + 2) * 5 * 255 <= UINT16_MAX, "16-bit sums");
  uint16_t sum[LANGID_GRAM_ROW] = {0};
  uint32_t seq[WORD_MAX + 2];
  size_t n = 0;
  seq[n++] = '_';
  for (size_t k = 0; k < w->n; k++)
    seq[n++] = w->cps[k];
  seq[n++] = '_';
  for (size_t end = 1; end <= n; end++) {
    uint64_t key = 0;
    for (size_t len = 1; len <= 5 && len <= end; len++) {
      uint32_t cp = seq[end - len];
      if (cp >= 0x1000)
        break;
      key |= (uint64_t)cp << (12 * (len - 1));
      if (len == 1 && cp == '_')
        continue;
      int row = gram_row(key);
      if (row < 0) {
        (*absent)++;
        continue;
      }
      const uint8_t *c = langid_gram_cost[row];
      for (int l = 0; l < LANGID_GRAM_ROW; l++)
        sum[l] += c[l];
    }
  }
  for (int l = 0; l < LANGID_N; l++)
    cost[l] += sum[l];
}

/* Word endings that few languages have, for the texts the n-grams
 * decide: a short text often has one such word and no function word. */
struct suffix_ev {
  const uint32_t *cps; /* folded */
  uint8_t n;           /* code points in cps, counted at compile time */
  uint8_t lang, pts;
};

#define SUFFIX(s, l, p)                                                        \
  {                                                                            \
    (const uint32_t *)U##s, sizeof U##s / sizeof(char32_t) - 1, l, p           \
  }
static const struct suffix_ev suffixes[] = {
    SUFFIX("ável", L_PT, 4),   SUFFIX("ível", L_PT, 4),
    SUFFIX("cao", L_PT, 3),    SUFFIX("coes", L_PT, 3),
    SUFFIX("inho", L_PT, 3),   SUFFIX("inha", L_PT, 3),
    SUFFIX("agem", L_PT, 3),   SUFFIX("ción", L_ES, 4),
    SUFFIX("cion", L_ES, 3),   SUFFIX("ciones", L_ES, 3),
    SUFFIX("ísimo", L_ES, 4),  SUFFIX("ísima", L_ES, 4),
    SUFFIX("dad", L_ES, 2),    SUFFIX("dades", L_ES, 2),
    SUFFIX("zione", L_IT, 4),  SUFFIX("zioni", L_IT, 4),
    SUFFIX("issimo", L_IT, 3), SUFFIX("issima", L_IT, 3),
    SUFFIX("eux", L_FR, 2),    SUFFIX("euse", L_FR, 2),
    SUFFIX("ière", L_FR, 3),   SUFFIX("aient", L_FR, 3),
    SUFFIX("ung", L_DE, 3),    SUFFIX("ungen", L_DE, 3),
    SUFFIX("keit", L_DE, 3),   SUFFIX("heit", L_DE, 3),
    SUFFIX("lich", L_DE, 3),   SUFFIX("isch", L_DE, 2),
    SUFFIX("heid", L_NL, 3),   SUFFIX("lijk", L_NL, 3),
    SUFFIX("tje", L_NL, 3),    SUFFIX("tjes", L_NL, 3),
    SUFFIX("ing", L_EN, 2),    SUFFIX("ness", L_EN, 3),
    SUFFIX("ly", L_EN, 2),
};
#undef SUFFIX

/* Every word of the n-gram pass is tried against every suffix: the
 * lengths come from the table and the comparison starts at the last
 * letter, where most suffixes already fail, instead of counting each
 * suffix and calling memcmp per try. */
static void add_suffixes(const struct word *w, int32_t *ev)
{
  if (w->n >= WORD_MAX) /* a longer word was cut: its end is unknown */
    return;
  for (size_t k = 0; k < sizeof suffixes / sizeof *suffixes; k++) {
    const uint32_t *sfx = suffixes[k].cps;
    size_t n = suffixes[k].n, j = 1;
    if (w->n < n + 2)
      continue;
    while (j <= n && w->cps[w->n - j] == sfx[n - j])
      j++;
    if (j > n)
      ev[suffixes[k].lang] += suffixes[k].pts * LETTER_UNIT;
  }
}

/* --- Decision ------------------------------------------------------- */

static void set_guess(struct lang_guess *out, int idx, double confidence)
{
  out->lang = idx < LANG_N ? (enum lang)idx : LANG_OTHER;
  memcpy(out->code, langid_codes[idx], 4);
  out->confidence = confidence;
}

/* A margin of m (1/16 nat) as a confidence in 0..1: one nat is a fair
 * hint (0.33), five are near certainty (0.71), twenty leave no doubt. */
static double confidence_of(int32_t margin)
{
  if (margin <= 0)
    return 0.0;
  return (double)margin / (double)(margin + 2 * 16);
}

/* The best language (the first on a tie: English before the others) and
 * its lead over the next. */
static void best_two(const int32_t *score, int *best, int32_t *margin)
{
  int b = 0;
  int32_t first = score[0], second = INT32_MIN;
  for (int l = 1; l < LANGID_N; l++) {
    if (score[l] > first) {
      second = first;
      first = score[l];
      b = l;
    } else if (score[l] > second) {
      second = score[l];
    }
  }
  *best = b;
  *margin = first - second;
}

void lang_detect(const char *text, size_t len, struct lang_guess *out)
{
  struct tally t;
  memset(t.ev, 0, sizeof t.ev);
  t.script[SC_LATIN] = 0;
  t.other_letters = 0;
  struct scan s = {(const unsigned char *)(text ? text : ""), text ? len : 0, 0,
                   0};
  /* head and tail are set only for a word with an apostrophe, and read
   * only then; zeroed once so that the compiler sees them set. */
  struct word w;
  w.head = w.tail = 0;
  /* Most messages are English: in a text of ASCII only (no letter of
   * another script or alphabet left to find), stop reading once English
   * leads every other language by EARLY_LEAD. Evidence only grows, so
   * English's lead can grow only with a word that adds to English: the
   * lead is checked after those words alone, which stops at the same
   * word as a check after every word would. */
  bool ascii = utf8_is_ascii((const char *)s.s, s.len);
  while (next_word(&s, &w, &t)) {
    if (!w.hashable)
      continue;
    int32_t en_before = t.ev[LANG_EN];
    if (!add_word(w.hash, t.ev) && w.apostrophe) {
      add_word(w.head, t.ev);
      add_word(w.tail, t.ev);
    }
    if (ascii && t.ev[LANG_EN] > en_before && t.ev[LANG_EN] >= EARLY_LEAD) {
      int32_t lead = INT32_MAX;
      for (int l = 1; l < LANGID_N; l++) {
        int32_t d = t.ev[LANG_EN] + PRIOR_EN - t.ev[l] -
                    (l >= LANG_N ? PRIOR_OTHER : 0);
        if (d < lead)
          lead = d;
      }
      if (lead >= EARLY_LEAD) {
        set_guess(out, LANG_EN, confidence_of(lead));
        return;
      }
    }
  }

  /* The script: the one with the most letters, Latin on a tie. */
  if (t.other_letters == 0 && t.script[SC_LATIN] == 0) {
    set_guess(out, LANG_EN, 0.0);
    return;
  }
  if (t.other_letters > 0) {
    enum script sc = SC_LATIN;
    for (int k = 1; k < SC_N; k++)
      if (t.script[k] > t.script[sc])
        sc = (enum script)k;
    if (sc != SC_LATIN) {
      /* Kana among Han is Japanese: a Japanese sentence has both. */
      if (sc == SC_HAN && t.script[SC_KANA] > 0)
        sc = SC_KANA;
      out->lang = LANG_OTHER;
      if (sc == SC_CYRILLIC || sc == SC_ARABIC)
        strcpy(out->code, mark_code(sc, t.marks));
      else
        memcpy(out->code, script_code[sc], 4);
      out->confidence =
          (double)t.script[sc] / (t.other_letters + t.script[SC_LATIN]);
      return;
    }
  }

  int32_t ev[LANGID_N];
  for (int l = 0; l < LANGID_N; l++)
    ev[l] = t.ev[l] + (l == LANG_EN ? PRIOR_EN : l >= LANG_N ? PRIOR_OTHER : 0);
  int best;
  int32_t margin;
  best_two(ev, &best, &margin);
  if (t.ev[best] >= EARLY_MIN && margin >= EARLY_MARGIN) {
    set_guess(out, best, confidence_of(margin));
    return;
  }

  /* Unclear: add the n-gram log-likelihood of each language. */
  uint32_t cost[LANGID_N];
  memset(cost, 0, sizeof cost);
  unsigned absent = 0;
  s.i = 0;
  s.prev = 0;
  while (next_word(&s, &w, NULL)) {
    word_grams(&w, cost, &absent);
    add_suffixes(&w, ev);
  }
  for (int l = 0; l < LANGID_N; l++) {
    ev[l] -= (int32_t)(cost[l] + absent * langid_gram_missing[l]) / GRAM_DIV;
    if (l >= LANG_N && t.ev[l] < OTHER_EV && t.script[SC_LATIN] < OTHER_LETTERS)
      ev[l] = INT32_MIN / 2;
  }
  best_two(ev, &best, &margin);
  set_guess(out, best, confidence_of(margin));
}

/* --- Codes and names ------------------------------------------------ */

static const char *const codes[LANG_N + 1] = {
#define X(id, code, name) code,
    LANG_MAP(X)
#undef X
        "und"};

static const char *const names[LANG_N + 1] = {
#define X(id, code, name) name,
    LANG_MAP(X)
#undef X
        "another language"};

const char *lang_code(enum lang l)
{
  return (unsigned)l <= LANG_N ? codes[l] : codes[LANG_N];
}

const char *lang_name(enum lang l)
{
  return (unsigned)l <= LANG_N ? names[l] : names[LANG_N];
}

/* ISO 639-1 codes of languages other than the supported ones. */
static const char iso639_1[] =
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca "
    "ce ch co cr cs cu cv cy da dv dz ee el eo et eu fa ff fi fj fo fy ga "
    "gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is iu "
    "ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo "
    "lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nn no nr nv ny "
    "oc oj om or os pa pi pl ps qu rm rn ro ru rw sa sc sd se sg si sk sl "
    "sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw "
    "ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu";

int lang_from_code(const char *s, size_t len)
{
  if (!s)
    return -1;
  /* "pt", "pt-BR", "fr_CA": two letters, then nothing or a separator. */
  if (len < 2 || (len > 2 && s[2] != '-' && s[2] != '_'))
    return -1;
  char c[3] = {(char)(s[0] | 0x20), (char)(s[1] | 0x20), 0};
  if ((unsigned)(c[0] - 'a') >= 26 || (unsigned)(c[1] - 'a') >= 26)
    return -1;
  for (int l = 0; l < LANG_N; l++)
    if (!strcmp(codes[l], c))
      return l;
  for (size_t k = 0; k + 2 <= sizeof iso639_1 - 1; k += 3)
    if (iso639_1[k] == c[0] && iso639_1[k + 1] == c[1])
      return LANG_OTHER;
  return -1;
}
