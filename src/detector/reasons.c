/* reasons: why a message scored as it did, in words a support agent
 * reads (see detector_int.h).
 *
 * Each reason is a group of signals (the tone, VADER's words, capitals,
 * marks, one support category, the words whose hashed features weighed
 * most) with the sum of what they added to the log-odds; the strongest
 * are shown, each quoting at most QUOTE_ITEMS words of the message, and
 * no word twice in one message. Written without printf on the hot path;
 * put_2f gives what "%.2f" would.
 *
 * An agent reads a quoted word as the one that carries the frustration,
 * so only such words are quoted (the score itself is never changed here):
 *
 *  - "negative words" quotes the words negative on their own (at most
 *    VADER_OWN_MAX in VADER's lexicon, below 0 in the language's
 *    @valence), and emoji or emoticons; a positive word turned negative
 *    by a negation ("not helpful", "no please") is left to the negation
 *    reason.
 *  - "frustrated wording" quotes words whose hashed features raised the
 *    score AND that carry frustration on their own (WORD_CARRIES): a
 *    support word, negative in VADER's lexicon as above, or one of the
 *    complaint words below. Numbers, function words and neutral nouns
 *    ("flight", "support") may weigh in the model but are never quoted;
 *    when only they weigh, and nothing else explains the score, the
 *    reason is "wording common in frustrated messages", quoting nothing.
 *  - "negations" quotes the negations as the text writes them in the
 *    other languages and, in English, the phrase each negates ("won't
 *    let", "never came"; negated_phrase): a negation before a thing ("not
 *    a big deal") or before nothing quotable is not quoted.
 *  - No reason quotes a word with a digit ('24', '9am'; a support phrase
 *    of a number and a word, '3 hours', is fine) or a politeness word
 *    ("please", "bitte", "por favor").
 *  - "shouting (ALL CAPS)" needs a word in capitals of at least five
 *    letters or three such words in a row; capitals that are only
 *    acronyms, codes or redaction masks ("SFO-PDX", "MIA", "A320",
 *    "XXXX") are not shouting (detector_shouts; the level's anger
 *    signal reads the same).
 *  - A reason left with no word to quote is not shown, but for a support
 *    category, which is then named alone ("repeated contact"). */
#include "detector/detector_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "detector/langlex.h"

/* Quoted items are of at most QUOTE_MAX bytes each. */
#define QUOTE_MAX 40
/* A reason must raise the log-odds by at least this much to be shown. */
#define REASON_MIN 0.05
/* Words considered for the "wording" reason (a bound on its work). */
#define REASON_WORDS_MAX 256
/* Words looked up in a lexicon are of at most this many bytes. */
#define LOOKUP_MAX 48
/* An English word is negative on its own at this valence in VADER's
 * lexicon or below: its weakest negative words are mostly neutral nouns
 * ("battleship" -0.1, "creditor" -0.1, "pay" -0.4, "sorry" -0.3). */
#define VADER_OWN_MAX (-0.5)
/* Capitals shout in a word of at least this many letters, or in this
 * many words in a row. */
#define SHOUT_LETTERS 5
#define SHOUT_RUN 3

/* English words that carry a complaint on their own but that neither
 * VADER's lexicon (as negative) nor the support lexicon has, in strcmp
 * order (bsearch). Written for this project. */
static const char *const complaint_words[] = {
    "abysmal",      "atrocious",     "bumped",      "declined",
    "disconnected", "disrespectful", "downgraded",  "endless",
    "excuses",      "froze",         "frozen",      "glitchy",
    "hassle",       "inexcusable",   "joke",        "laggy",
    "misconnect",   "mishandled",    "misled",      "nonexistent",
    "overbooked",   "overcharging",  "overdue",     "overpriced",
    "pointless",    "rubbish",       "scammed",     "shambles",
    "shambolic",    "shoddy",        "sloppy",      "stole",
    "unacceptably", "unhelpful",     "unreachable", "unreliable",
    "unresponsive", "unusable",
};

/* English words that say nothing of what a negation negates, skipped on
 * the way to the word that does ("didn't even reply", "can't get
 * through", "hasn't been fixed"), in strcmp order (bsearch). */
static const char *const filler_words[] = {
    "about", "all",    "any",  "anybody", "anymore", "anyone", "anything",
    "at",    "be",     "been", "being",   "even",    "ever",   "for",
    "fully", "get",    "got",  "had",     "has",     "have",   "i",
    "it",    "it's",   "its",  "me",      "my",      "of",     "our",
    "quite", "really", "so",   "someone", "that",    "them",   "this",
    "to",    "too",    "us",   "we",      "yet",     "you",    "your",
};

/* English words after which a negation negates a thing or a question
 * rather than an action or a quality ("not a fan", "nothing but", "not
 * what I asked"): its phrase would name no frustration, so it is not
 * quoted. In strcmp order. */
static const char *const phrase_stops[] = {
    "a",    "an",   "and",   "as",    "because", "but", "by",   "from", "how",
    "if",   "in",   "into",  "near",  "on",      "or",  "than", "the",  "then",
    "what", "when", "where", "which", "who",     "why", "with",
};

/* A negation's phrase ends at most this many VADER tokens after it. */
#define NEG_SPAN 3

/* Politeness words, never quoted as negative (a "please" in "no please
 * don't" is negated by VADER's rules, and weighs in the model): a word
 * that is one of these (in strcmp order: bsearch), or starts with "pleas"
 * ("pleaseee"). */
static const char *const polite_words[] = {
    "alsjeblieft",  "alstublieft", "aub",     "bedankt", "bitte",  "bitteschön",
    "cortesemente", "dank",        "danke",   "favor",   "favore", "gentileza",
    "gentilmente",  "graag",       "gracias", "grazie",  "kindly", "merci",
    "obrigada",     "obrigado",    "plait",   "plaît",   "pls",    "plz",
    "stp",          "svp",         "thank",   "thanks",  "thx",    "ty",
};

struct cand {
  double weight;
  int kind; /* enum reason_kind, or R_SUPPORT + category */
};

enum reason_kind {
  R_TONE,
  R_VADER,
  R_CAPS,
  R_EXCLAIM,
  R_QUESTION,
  R_NEGATION,
  R_LENGTH,
  R_WORDS,
  R_SUPPORT, /* + enum support_cat */
  R_COUNT = R_SUPPORT + SUPPORT_N_CATS
};

/* The high bit of each zero byte of t, and no other bit. */
static inline uint64_t zero_bytes(uint64_t t)
{
  const uint64_t low7 = 0x7f7f7f7f7f7f7f7fu;
  return ~(((t & low7) + low7) | t | low7); /* exactly: 0x80 where 0 */
}

/* Eight bytes as quote writes them: ASCII capitals in lower case, '\n',
 * '\r' and '\t' as spaces, any other byte as it is. Bytewise with no
 * carry from one byte into the next, so on any byte order. */
static inline uint64_t quote_8(uint64_t x)
{
  const uint64_t ones = 0x0101010101010101u, high = ones * 0x80,
                 low7 = ones * 0x7f;
  /* The high bit of each byte: its low seven bits >= 'A', > 'Z'. */
  uint64_t h = x & low7;
  uint64_t ge_a = h + ones * (0x80 - 'A'), gt_z = h + ones * (0x80 - 'Z' - 1);
  x ^= (ge_a & ~gt_z & ~x & high) >> 2;
  /* Control bytes are rare: the exact test for '\n', '\r' and '\t' only
   * when a byte may be below 0x20 (never missed; a false alarm costs the
   * test). */
  if ((x - ones * 0x20) & ~x & high) {
    uint64_t ctl = zero_bytes(x ^ ones * '\n') | zero_bytes(x ^ ones * '\r') |
                   zero_bytes(x ^ ones * '\t');
    uint64_t blank = (ctl >> 7) * 0xff;
    x = (x & ~blank) | (ones * ' ' & blank);
  }
  return x;
}

/* Appends "'word'" (lower case, shortened at a character boundary) to out
 * of capacity cap at *o; refuses when it would not fit with room for
 * more. Clears *plain when what it wrote may need escaping in JSON. w has
 * eight readable bytes past len (it is in the scratch text). */
static bool quote(char *out, size_t cap, size_t *o, const char *w, size_t len,
                  bool first, bool *plain)
{
  len = utf8_cut_bytes(w, len, QUOTE_MAX);
  size_t need = (first ? 0 : 2) + len + 2;
  if (*o + need + 1 > cap)
    return false;
  if (!first) {
    out[(*o)++] = ',';
    out[(*o)++] = ' ';
  }
  out[(*o)++] = '\'';
  bool ascii = true;
  for (size_t i = 0; i < len && ascii; i++)
    ascii = (unsigned char)w[i] < 0x80;
  if (!ascii) {
    /* Letters beyond ASCII in lower case too ("ENTTÄUSCHT" is quoted
     * 'enttäuscht'): code point by code point; a lower-case letter is
     * never longer in UTF-8 than its capital among those langlex_lower
     * maps. */
    for (size_t i = 0; i < len;) {
      uint32_t cp;
      size_t n = utf8_decode(w + i, len - i, &cp);
      if (n == 0) { /* cannot be: the text is valid UTF-8 */
        out[(*o)++] = w[i++];
        continue;
      }
      char enc[4];
      uint32_t lc = langlex_lower(cp);
      size_t m = utf8_encode(lc, enc);
      if (m > n) { /* keep the capital rather than overrun */
        memcpy(enc, w + i, n);
        m = n;
      }
      if (m == 1)
        enc[0] = (char)quote_8((unsigned char)enc[0]);
      memcpy(out + *o, enc, m);
      *o += m;
      i += n;
    }
    *plain = false; /* not looked at: rare */
  } else if (*o + len + 8 <= cap) {
    /* Eight bytes at a time, the last store running past the word (what
     * follows overwrites it). */
    bool all = true; /* the bytes past the word may make this no */
    for (size_t i = 0; i < len; i += 8) {
      uint64_t x;
      memcpy(&x, w + i, sizeof x);
      x = quote_8(x);
      all &= jsonw_plain_8(x);
      memcpy(out + *o + i, &x, sizeof x);
    }
    *o += len;
    *plain = *plain && all;
  } else {
    for (size_t i = 0; i < len; i++) {
      uint64_t x = (unsigned char)w[i];
      out[(*o)++] = (char)quote_8(x);
    }
    *plain = false; /* not looked at: rare */
  }
  out[(*o)++] = '\'';
  out[*o] = '\0';
  return true;
}

static bool same_text(const char *a, size_t al, const char *b, size_t bl)
{
  if (al != bl)
    return false;
  for (size_t i = 0; i < al; i++) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z')
      x = (char)(x + 32);
    if (y >= 'A' && y <= 'Z')
      y = (char)(y + 32);
    if (x != y)
      return false;
  }
  return true;
}

/* Has the word at t[off..off+len) already been quoted among the first n
 * of offs/lens? */
static bool already(const char *t, const uint32_t *offs, const uint32_t *lens,
                    size_t n, uint32_t off, uint32_t len)
{
  for (size_t i = 0; i < n; i++)
    if (same_text(t + offs[i], lens[i], t + off, len))
      return true;
  return false;
}

/* Copies the static text lit into out (capacity cap, NUL included);
 * returns its length (cheaper than snprintf, on the hot path). Always
 * inline: the length of a literal is then known when compiling, and the
 * copy is a few moves rather than two calls into the C library. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline size_t
put(char *out, size_t cap, const char *lit)
{
  size_t n = strlen(lit);
  if (n >= cap)
    n = cap - 1;
  memcpy(out, lit, n);
  out[n] = '\0';
  return n;
}

/* Writes v as printf's "%.2f" does, exactly: the decimal
 * nearest to the double, halves to even, "-" for any negative number;
 * returns the length (cheaper than snprintf, on the hot path). The
 * comparisons are exact: fma rounds once, which keeps the sign. */
static size_t put_2f(char *out, size_t cap, double v)
{
  double a = fabs(v);
  /* Beyond this (or NaN), 100 a and the digits outgrow the shortcut. */
  if (!(a < 1e13)) {
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%.2f", v);
    return put(out, cap, tmp);
  }
  long k = (long)(a * 100.0); /* within one of floor(100 a) */
  while (k > 0 && fma(a, 100.0, (double)-k) < 0)
    k--;
  while (fma(a, 100.0, (double)-(k + 1)) >= 0)
    k++;
  /* 100 a is in [k, k + 1): round up past k + 1/2, and halves to even. */
  double half = fma(a, 200.0, (double)-(2 * k + 1));
  if (half > 0 || (half == 0 && k % 2))
    k++;
  char tmp[32];
  size_t n = 0;
  if (signbit(v))
    tmp[n++] = '-';
  char digits[24];
  size_t nd = 0;
  long units = k / 100;
  do {
    digits[nd++] = (char)('0' + units % 10);
    units /= 10;
  } while (units > 0);
  while (nd > 0)
    tmp[n++] = digits[--nd];
  tmp[n++] = '.';
  tmp[n++] = (char)('0' + k % 100 / 10);
  tmp[n++] = (char)('0' + k % 10);
  tmp[n] = '\0';
  return put(out, cap, tmp);
}

/* t[0..len) in lower case (ASCII, and the letters langlex_lower maps)
 * into buf (LOOKUP_MAX bytes); returns its length, 0 when it does not
 * fit. */
static size_t lower_word(const char *t, size_t len, char *buf)
{
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t n = utf8_decode(t + i, len - i, &cp);
    if (n == 0)
      return 0;
    char enc[4];
    size_t m = utf8_encode(langlex_lower(cp), enc);
    if (o + m > LOOKUP_MAX)
      return 0;
    memcpy(buf + o, enc, m);
    o += m;
    i += n;
  }
  return o;
}

/* A letter: ASCII, or beyond it as langlex reads words. */
static bool is_letter(uint32_t cp)
{
  return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
         langlex_is_letter(cp);
}

static bool has_digit(const char *t, size_t len)
{
  for (size_t i = 0; i < len; i++)
    if (t[i] >= '0' && t[i] <= '9')
      return true;
  return false;
}

/* Has t[0..len) a letter (so it is no emoji or emoticon such as ":(")? */
static bool has_letter(const char *t, size_t len)
{
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t n = utf8_decode(t + i, len - i, &cp);
    if (n == 0)
      return true;
    if (is_letter(cp))
      return true;
    i += n;
  }
  return false;
}

static int cmp_word(const void *key, const void *elem)
{
  return strcmp((const char *)key, *(const char *const *)elem);
}

/* Is w[0..len) one of the n words of list (in strcmp order)? */
static bool listed(const char *const *list, size_t n, const char *w, size_t len)
{
  char key[LOOKUP_MAX];
  if (len >= LOOKUP_MAX)
    return false;
  memcpy(key, w, len);
  key[len] = '\0';
  return bsearch(key, list, n, sizeof *list, cmp_word) != NULL;
}

/* Is the lower-case word w[0..len) a politeness word? */
static bool is_polite(const char *w, size_t len)
{
  return (len >= 5 && !memcmp(w, "pleas", 5)) ||
         listed(polite_words, sizeof polite_words / sizeof *polite_words, w,
                len);
}

/* Does t[off..off+len) overlap a service named (a neutral noun: "order",
 * "flight")? */
static bool in_service(const struct scratch *s, size_t nm, uint32_t off,
                       uint32_t len)
{
  for (size_t i = 0; i < nm; i++) {
    const struct match *m = &s->matches[i];
    if (m->cat != SUPPORT_SERVICE)
      continue;
    const struct word *a = &s->words[m->first];
    const struct word *b = &s->words[m->first + m->count - 1];
    if (off < b->off + b->len && a->off < off + len)
      return true;
  }
  return false;
}

/* Is w[0..len) a word of letters, with apostrophes or hyphens inside at
 * most ("didn't", "check-in"), so that it reads well in a phrase? */
static bool plain_word(const char *w, size_t len)
{
  bool letter = false;
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t n = utf8_decode(w + i, len - i, &cp);
    if (n == 0)
      return false;
    i += n;
    if (is_letter(cp))
      letter = true;
    else if (cp != '\'' && cp != 0x2019 && cp != '-')
      return false;
  }
  return letter;
}

/* Is the text between two words of a phrase one space, or one space, a
 * word of one letter that is not the article "a" ("I", "u") and one
 * space? Anything else (a mark, a line break, the gap a removed @handle
 * or URL left, "a") ends the phrase. */
static bool plain_gap(const char *g, size_t len)
{
  if (len == 1)
    return g[0] == ' ';
  return len == 3 && g[0] == ' ' && g[2] == ' ' &&
         ((g[1] >= 'A' && g[1] <= 'Z') || (g[1] >= 'b' && g[1] <= 'z')) &&
         g[1] != 'A';
}

/* The phrase that English negation s->kept[i] negates: from it to the
 * first word of the next NEG_SPAN tokens that says what is negated,
 * skipping filler words, in the same clause (one space between words, see
 * plain_gap):
 * "can't log", "never came", "does not accept", "didn't even reply". No
 * phrase when that word is another negation, a number, a politeness word,
 * a service named or a phrase stop, or when a mark or the span's end
 * comes first. */
static bool negated_phrase(const struct scratch *s, size_t nm, size_t i,
                           uint32_t *off, uint32_t *len)
{
  const struct vader_token *t = s->kept;
  uint32_t from = t[i].at, end = t[i].at + t[i].len;
  if (!plain_word(s->ct + from, t[i].len)) /* "didn't.", "(can't" */
    return false;
  for (size_t j = i + 1; j < s->n_kept && j <= i + NEG_SPAN; j++) {
    if (!plain_gap(s->ct + end, t[j].at - end))
      return false;
    const char *w = s->ct + t[j].at;
    char low[LOOKUP_MAX];
    size_t n = lower_word(w, t[j].len, low);
    if ((t[j].flags & VADER_NEG) || n == 0 || !plain_word(w, t[j].len))
      return false;
    if (listed(phrase_stops, sizeof phrase_stops / sizeof *phrase_stops, low,
               n))
      return false;
    end = t[j].at + t[j].len;
    if (listed(filler_words, sizeof filler_words / sizeof *filler_words, low,
               n))
      continue;
    if (is_polite(low, n) || in_service(s, nm, t[j].at, t[j].len) ||
        end - from > QUOTE_MAX)
      return false;
    *off = from;
    *len = end - from;
    return true;
  }
  return false;
}

/* Is VADER's hit h (negative) a word negative on its own, or an emoji or
 * emoticon, that may be quoted? A positive word negated is not, nor a
 * word with a digit or a politeness word. */
static bool hit_quotable(const struct detector *d, const struct scratch *s,
                         const struct vader_hit *h)
{
  const char *t = s->ct + h->off;
  if (has_digit(t, h->len))
    return false;
  if (!has_letter(t, h->len))
    return true;
  char low[LOOKUP_MAX];
  size_t n = lower_word(t, h->len, low);
  bool neg = false;
  if (s->lang == LANG_EN) {
    /* Negators, which VADER may also rate ("no" -1.2), are named by the
     * "negations" reason; as "negative words" they would read as the
     * frustration itself ("negative words: 'no'" on one frustrated
     * airline tweet in seven). VADER's negation list lacks "no". */
    neg = n && vader_valence(d->vader, low, n) <= VADER_OWN_MAX &&
          !vader_is_negation(d->vader, low, n) &&
          !(n == 2 && !memcmp(low, "no", 2));
  } else {
    /* The language's own reading of the word, found by its place. */
    for (size_t i = 0; i < s->n_vw; i++)
      if (s->vw[i].at == h->off) {
        neg = s->vw[i].valence < 0;
        break;
      }
  }
  return neg && !(n && is_polite(low, n));
}

bool detector_word_carries(const struct detector *d, const char *norm,
                           size_t len, int cat)
{
  if (len == 0 || len >= LOOKUP_MAX)
    return false;
  return support_cat_complains(cat) ||
         vader_valence(d->vader, norm, len) <= VADER_OWN_MAX ||
         listed(complaint_words,
                sizeof complaint_words / sizeof *complaint_words, norm, len);
}

/* Does word w (an English word of the wording reason) carry frustration
 * on its own (WORD_CARRIES, worked out once per word), and may it be
 * quoted: no digit, no politeness word? */
static bool word_carries(const struct scratch *s, const struct word *w)
{
  if (!(w->sup_flags & WORD_CARRIES) || has_digit(s->ct + w->off, w->len))
    return false;
  size_t n;
  const char *norm = word_norm(s, w, &n);
  return !is_polite(norm, n);
}

/* Is the capitals signal shouting rather than acronyms and codes? A word
 * in capitals is a token (between white space) whose core, the part from
 * its first letter or digit to its last, is only letters (two or more, all
 * capitals) and apostrophes: "ANGRY!!" is one, "SFO-PDX", "MLI->DEN",
 * "A320" are codes (the "XXXX" of redacted complaints never gets here:
 * cleaning removes it). Shouting is such a word of SHOUT_LETTERS letters
 * or more, or SHOUT_RUN of them in a row. t is NUL-terminated. */
bool detector_shouts(const char *t)
{
  size_t run = 0;
  while (*t) {
    while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
      t++;
    const char *e = t;
    while (*e && *e != ' ' && *e != '\t' && *e != '\n' && *e != '\r')
      e++;
    size_t letters = 0, lower = 0, code = 0;
    bool alnum = false, gap = false;
    for (const char *p = t; p < e;) {
      uint32_t cp;
      size_t n = utf8_decode(p, (size_t)(e - p), &cp);
      if (n == 0)
        n = 1, cp = 0;
      p += n;
      bool digit = cp >= '0' && cp <= '9';
      if (is_letter(cp) || digit) {
        code += digit || gap; /* a digit, or a mark inside the core */
        gap = false;
        alnum = true;
        letters += !digit;
        lower += !digit && langlex_lower(cp) == cp;
      } else if (alnum && cp != '\'' && cp != 0x2019) {
        gap = true; /* inside the core if a letter or digit follows */
      }
    }
    bool caps = letters >= 2 && lower == 0 && code == 0;
    if (caps && (letters >= SHOUT_LETTERS || ++run >= SHOUT_RUN))
      return true;
    if (!caps && e > t)
      run = 0;
    t = e;
  }
  return false;
}

/* Quotes t[off..off+len) into out unless an earlier reason of this
 * message quoted the same words; returns whether it did. */
static bool quote_new(struct scratch *s, char *out, size_t cap, size_t *o,
                      uint32_t off, uint32_t len, size_t *nq)
{
  if (already(s->ct, s->q_off, s->q_len, s->n_q, off, len) ||
      s->n_q == QUOTES_MAX ||
      !quote(out, cap, o, s->ct + off, len, !*nq, &s->plain))
    return false;
  s->q_off[s->n_q] = off;
  s->q_len[s->n_q++] = len;
  (*nq)++;
  return true;
}

/* Writes the text of reason kind into out; returns false when it has
 * nothing left to say (every word it would quote was quoted already). */
static bool render(const struct detector *d, struct scratch *s, size_t nm,
                   double polarity, int kind, char *out, size_t cap)
{
  size_t o = 0, nq = 0;
  out[0] = '\0';
  switch (kind) {
  case R_TONE:
    /* English is TextBlob's; French, Italian and Dutch pattern's. */
    o = put(out, cap,
            s->lang == LANG_EN ? "negative tone (TextBlob polarity "
                               : "negative tone (pattern polarity ");
    o += put_2f(out + o, cap - o, polarity);
    put(out + o, cap - o, ")");
    return true;
  case R_VADER:
    /* A language without lexicons has no words of its own to rate. */
    o = s->lang == LANG_OTHER ? put(out, cap, "negative emoji: ")
                              : put(out, cap, "negative words: ");
    for (size_t i = 0; i < s->vr.n_hits && nq < QUOTE_ITEMS; i++) {
      const struct vader_hit *h = &s->vr.hits[i];
      if (h->valence < 0 && hit_quotable(d, s, h))
        quote_new(s, out, cap, &o, (uint32_t)h->off, (uint32_t)h->len, &nq);
    }
    return nq > 0;
  case R_CAPS:
    put(out, cap, "shouting (ALL CAPS)");
    return true;
  case R_EXCLAIM:
    put(out, cap, "exclamation marks");
    return true;
  case R_QUESTION:
    put(out, cap, "insistent question marks (?? or ?!)");
    return true;
  case R_NEGATION:
    if (s->lang == LANG_OTHER) {
      put(out, cap, "negations");
      return true;
    }
    if (s->lang == LANG_EN) {
      /* What each negation negates; the negations alone when none says. */
      o = put(out, cap, "negations: ");
      for (size_t i = 0; i < s->n_kept && nq < QUOTE_ITEMS; i++) {
        uint32_t off, len;
        if ((s->kept[i].flags & VADER_NEG) &&
            negated_phrase(s, nm, i, &off, &len))
          quote_new(s, out, cap, &o, off, len, &nq);
      }
      if (nq == 0)
        put(out, cap, "negations (not, never, no...)");
      return true;
    }
    /* The language's own negators, as the text writes them. */
    o = put(out, cap, "negations: ");
    for (size_t i = 0; i < s->n_vw && nq < QUOTE_ITEMS; i++)
      if (s->vw[i].flags & VADER_NEG)
        quote_new(s, out, cap, &o, s->vw[i].at, s->vw[i].len, &nq);
    if (nq == 0)
      put(out, cap, "negations");
    return true;
  case R_LENGTH:
    put(out, cap, "long message");
    return true;
  case R_WORDS:
    if (s->n_picked == 0) {
      put(out, cap, "wording common in frustrated messages");
      return true;
    }
    o = put(out, cap, "frustrated wording: ");
    for (size_t i = 0; i < s->n_picked; i++) {
      const struct word *w = &s->words[s->picked[i]];
      quote_new(s, out, cap, &o, w->off, w->len, &nq);
    }
    return nq > 0;
  default: {
    int cat = kind - R_SUPPORT;
    o = put(out, cap, support_cat_label(cat));
    o += put(out + o, cap - o, ": ");
    bool skipped = false;
    for (size_t i = 0; i < nm && nq < QUOTE_ITEMS; i++) {
      const struct match *m = &s->matches[i];
      if (m->cat != cat)
        continue;
      const struct word *a = &s->words[m->first];
      const struct word *b = &s->words[m->first + m->count - 1];
      /* A phrase of one word with a digit ('2x', '4x') reads as a bare
       * number. */
      if (m->count == 1 && has_digit(s->ct + a->off, a->len)) {
        skipped = true;
        continue;
      }
      quote_new(s, out, cap, &o, a->off, b->off + b->len - a->off, &nq);
    }
    if (nq == 0 && skipped) /* the category alone: it names no word */
      put(out, cap, support_cat_label(cat));
    return nq > 0 || skipped;
  }
  }
}

/* Do words a and b have the same normalised form? */
static bool same_norm(const struct scratch *s, const struct word *a,
                      const struct word *b)
{
  size_t al, bl;
  const char *an = word_norm(s, a, &al), *bn = word_norm(s, b, &bl);
  return al == bl && !memcmp(an, bn, al);
}

/* Picks for the wording reason the (at most QUOTE_ITEMS) distinct words
 * whose n-grams raised the score most among those that carry frustration
 * on their own (word_carries), leaving out function words and the words
 * VADER read (a word inside a VADER hit: the negative ones are the VADER
 * reason's, the others are negated) or inside a support match; returns
 * what they add together. Only the words that could be picked are looked
 * at, in order, so that ties go to the first. Sets *unnamed to what the
 * other candidates (words that raised the score but carry nothing on
 * their own) add together. */
static double pick_words(struct scratch *s, size_t nw, size_t nm,
                         double *unnamed)
{
  size_t lim = nw < REASON_WORDS_MAX ? nw : REASON_WORDS_MAX;
  const struct vader_hit *hits = s->vr.hits;
  size_t nh = s->vr.n_hits, h = 0, m = 0;
  uint16_t cand[REASON_WORDS_MAX];
  bool taken[REASON_WORDS_MAX];
  /* The words that raised the score and are no function words, listed
   * with no branch a word to mispredict, */
  size_t nr = 0;
  for (size_t i = 0; i < lim; i++) {
    cand[nr] = (uint16_t)i;
    nr +=
        (s->contrib[i] > REASON_MIN) & !(s->words[i].sup_flags & SUPPORT_STOP);
  }
  /* then those other reasons do not quote. */
  size_t nc = 0;
  for (size_t r = 0; r < nr; r++) {
    size_t i = cand[r];
    const struct word *w = &s->words[i];
    /* Hits and matches come in text order, as the words do. */
    while (h < nh && hits[h].off + hits[h].len <= w->off)
      h++;
    if (h < nh && hits[h].off <= w->off)
      continue;
    while (m < nm && s->matches[m].first + s->matches[m].count <= i)
      m++;
    if (m < nm && s->matches[m].first <= i)
      continue;
    if (!word_carries(s, w)) {
      *unnamed += s->contrib[i];
      continue;
    }
    taken[nc] = false;
    cand[nc++] = (uint16_t)i;
  }
  double total = 0.0;
  s->n_picked = 0;
  while (s->n_picked < QUOTE_ITEMS) {
    /* The strongest word not taken, the first of equals (every candidate
     * adds more than REASON_MIN > 0), chosen with conditional moves. */
    size_t best = nc;
    double top = 0.0;
    for (size_t c = 0; c < nc; c++) {
      double v = s->contrib[cand[c]];
      size_t better = (size_t)(!taken[c] & (v > top));
      size_t keep = better - 1; /* all ones when not better */
      best = (best & keep) | (c & ~keep);
      top = better ? v : top; /* maxsd-like: a conditional move */
    }
    if (best == nc)
      break;
    /* Each word once: its repetitions go with it. Words of one form have
     * one unigram hash, so the forms (in memo records that may have left
     * the cache) are compared only when the hashes are equal. */
    const struct word *b = &s->words[cand[best]];
    for (size_t c = 0; c < nc; c++) {
      const struct word *w = &s->words[cand[c]];
      if (w->m_uni == b->m_uni)
        taken[c] = taken[c] || c == best || same_norm(s, w, b);
    }
    total += s->contrib[cand[best]];
    s->picked[s->n_picked++] = cand[best];
  }
  return total;
}

void detector_reasons(const struct detector *d, struct scratch *s, size_t nw,
                      size_t nm, const double *x, const double *c,
                      double polarity, const struct surface *f,
                      struct detector_result *r)
{
  double w[R_COUNT] = {0};
  bool on[R_COUNT] = {0};
  on[R_TONE] = polarity < 0;
  w[R_TONE] = c[DETECTOR_DENSE_POLARITY] + c[DETECTOR_DENSE_POLARITY_NEG] +
              c[DETECTOR_DENSE_POL_VNEG] + c[DETECTOR_DENSE_POL_NEG] +
              c[DETECTOR_DENSE_POL_NEU] + c[DETECTOR_DENSE_POL_POS] +
              c[DETECTOR_DENSE_SUBJECTIVITY];
  for (size_t i = 0; i < s->vr.n_hits; i++)
    on[R_VADER] = on[R_VADER] || s->vr.hits[i].valence < 0;
  w[R_VADER] = 0.0;
  for (int j = DETECTOR_DENSE_VADER_COMPOUND;
       j <= DETECTOR_DENSE_VADER_POS_WORDS; j++)
    w[R_VADER] += c[j];
  on[R_CAPS] = r->shouting; /* not acronyms, codes or masks */
  w[R_CAPS] = c[DETECTOR_DENSE_CAPS_RATIO] + c[DETECTOR_DENSE_SHOUTING];
  on[R_EXCLAIM] = f->exclaim > 0;
  w[R_EXCLAIM] = c[DETECTOR_DENSE_EXCLAIM] + c[DETECTOR_DENSE_EXCLAIM_MULTI];
  on[R_QUESTION] = f->question_multi;
  w[R_QUESTION] = c[DETECTOR_DENSE_QUESTION] + c[DETECTOR_DENSE_QUESTION_MULTI];
  on[R_NEGATION] = s->vr.n_negations > 0;
  w[R_NEGATION] = c[DETECTOR_DENSE_NEGATIONS];
  on[R_LENGTH] =
      x[DETECTOR_DENSE_LEN_LONG] > 0 || x[DETECTOR_DENSE_LEN_HUGE] > 0;
  w[R_LENGTH] = c[DETECTOR_DENSE_LEN_LONG] + c[DETECTOR_DENSE_LEN_HUGE];
  size_t present = 0;
  for (size_t i = 0; i < nm; i++) {
    int k = R_SUPPORT + s->matches[i].cat;
    if (!on[k] && support_cat_complains(s->matches[i].cat))
      present++;
    /* A service named ("order", "flight") is what the message is about,
     * never why it is frustrated. */
    on[k] = s->matches[i].cat != SUPPORT_SERVICE;
  }
  for (int cat = 0; cat < SUPPORT_N_CATS; cat++) {
    w[R_SUPPORT + cat] = c[DETECTOR_DENSE_SUP_REPEAT + cat];
    if (support_cat_complains(cat) && on[R_SUPPORT + cat])
      w[R_SUPPORT + cat] += c[DETECTOR_DENSE_SUP_ANY] / (double)present;
  }
  double unnamed = 0.0;
  w[R_WORDS] = pick_words(s, nw, nm, &unnamed);
  on[R_WORDS] = s->n_picked > 0;
  /* Words that weigh but name nothing an agent would call frustrated
   * ("bag", "why") make a reason without quotes, only when nothing else
   * explains the score (it would add nothing to the others). */
  if (s->n_picked == 0) {
    bool other = false;
    for (int k = 0; k < R_COUNT; k++)
      other = other || (k != R_WORDS && on[k] && w[k] > REASON_MIN);
    w[R_WORDS] = unnamed;
    on[R_WORDS] = !other;
  }

  /* The candidates, strongest first (the first kind of equal ones first,
   * as a search for the strongest left would take them). */
  int kinds[R_COUNT], order[R_COUNT];
  size_t nk = 0, n = 0;
  for (int k = 0; k < R_COUNT; k++) { /* no branch a kind */
    kinds[nk] = k;
    nk += on[k] & (w[k] > REASON_MIN);
  }
  for (size_t j = 0; j < nk; j++) {
    int k = kinds[j];
    size_t at = n++;
    while (at > 0 && w[k] > w[order[at - 1]]) {
      order[at] = order[at - 1];
      at--;
    }
    order[at] = k;
  }
  r->n_reasons = 0;
  s->n_q = 0;
  for (size_t i = 0; i < n && r->n_reasons < DETECTOR_MAX_REASONS; i++) {
    int kind = order[i];
    char *text = s->text[r->n_reasons];
    s->plain = true; /* the reasons' own words are */
    if (!render(d, s, nm, polarity, kind, text, DETECTOR_REASON_MAX))
      continue;
    r->reasons[r->n_reasons].text = text;
    r->reasons[r->n_reasons].plain = s->plain;
    r->reasons[r->n_reasons].weight = w[kind];
    r->n_reasons++;
  }
}

void detector_note_no_sign(struct scratch *s, struct detector_result *r)
{
  put(s->text[0], DETECTOR_REASON_MAX,
      "no single word or sign stands out: the reading of the whole message");
  r->reasons[0].text = s->text[0];
  r->reasons[0].plain = true;
  r->reasons[0].weight = 0.0;
  r->n_reasons = 1;
}

void detector_note_unsupported(struct scratch *s, struct detector_result *r)
{
  size_t i = r->n_reasons < DETECTOR_MAX_REASONS ? r->n_reasons++
                                                 : DETECTOR_MAX_REASONS - 1;
  put(s->text[i], DETECTOR_REASON_MAX,
      "language not supported: scored on emoji, punctuation and capitals "
      "only");
  r->reasons[i].text = s->text[i];
  r->reasons[i].plain = true;
  r->reasons[i].weight = 0.0;
}
