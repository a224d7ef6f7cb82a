/* Pathological inputs for tokenize and polarity, on a time budget (the
 * shape of cmark's pathological_tests.py): megabyte texts, one word
 * repeated 100,000 times, the patterns that would be quadratic in a naive
 * port (a growing group with negations inserted at its front, long runs of
 * trailing punctuation, emoticon prefixes everywhere), invalid UTF-8,
 * embedded NUL bytes and empty input. Each must finish well within
 * BUDGET_S (they take at most about 0.2 s each on an optimized build);
 * VERBOSE=1 prints the times. */
#include "harness.h"

#include <time.h>

#include "sentiment/lexicon.h"
#include "sentiment/polarity.h"

/* Seconds of CPU time per input. AddressSanitizer slows this code about
 * fivefold (mostly in allocation), so its build gets five times the
 * budget. ThreadSanitizer instruments every memory access and slows the
 * worst input here (pattern's "'n" repeated over 1 MiB) about seventyfold,
 * from 0.16 s to 10-12 s: its build gets 40 s, still far below what a
 * quadratic walk over a megabyte would take. */
#if defined(__SANITIZE_THREAD__)
#define SANITIZED_THREAD 1
#elif defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SANITIZED_THREAD 1
#elif __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#if defined(SANITIZED_THREAD)
#define BUDGET_S 40.0
#elif defined(SANITIZED)
#define BUDGET_S 10.0
#else
#define BUDGET_S 2.0
#endif
#define MIB ((size_t)1 << 20)

static struct lexicon *lx;
static struct polarity_result r;
static char *big;

/* CPU time, so that other jobs on the machine do not count. */
static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fills big with unit repeated up to size bytes; returns the length. */
static size_t repeat(const char *unit, size_t size)
{
  size_t n = strlen(unit), len = 0;
  while (len + n <= size) {
    memcpy(big + len, unit, n);
    len += n;
  }
  return len;
}

/* Scores text[0..len) and checks the time; returns the result code. */
static enum err timed(const char *name, const char *text, size_t len)
{
  double t0 = now_s();
  enum err rc = polarity_analyze(lx, text, len, &r);
  double dt = now_s() - t0;
  if (getenv("VERBOSE"))
    fprintf(stderr, "%-16s %8zu bytes %.4f s\n", name, len, dt);
  if (dt > BUDGET_S)
    FAIL_AT("%s: %.3f s for %zu bytes (budget %.1f s)", name, dt, len,
            BUDGET_S);
  return rc;
}

static void megabyte_of_mixed_text(void)
{
  size_t len = repeat("I'm not very happy :) ( ! ) e.g. U.S. ... \"it's\" "
                      "\xe2\x80\x9cgreat\xe2\x80\x9d!!\n\nReally not bad, "
                      "8 ) : - ( terribly good... ",
                      MIB);
  CHECK_INT(timed("mixed", big, len), ERR_OK);
  CHECK(r.n_assessments > 10000);
  CHECK(r.polarity >= -1.0 && r.polarity <= 1.0);
}

static void one_word_repeated(void)
{
  size_t len = repeat("good ", 100000 * 5);
  CHECK_INT(timed("good x 100000", big, len), ERR_OK);
  CHECK_INT(r.n_assessments, 100000);
  CHECK_NEAR(r.polarity, 0.7, 1e-9);
  len = repeat("happy", 100000 * 5); /* one 500 KB token */
  CHECK_INT(timed("one long token", big, len), ERR_OK);
  CHECK_INT(r.n_assessments, 0);
}

static void quadratic_traps(void)
{
  /* "very no very no ...": every "very" joins the group and inserts "no"
   * at its front, the growing list TextBlob would shift each time. */
  size_t len = repeat("very no ", MIB);
  CHECK_INT(timed("very no", big, len), ERR_OK);
  CHECK_INT(r.n_assessments, 1);
  /* One group boosted by a million exclamation marks. */
  memcpy(big, "good", 4);
  memset(big + 4, '!', MIB);
  CHECK_INT(timed("good!!!...", big, MIB + 4), ERR_OK);
  CHECK_INT(r.n_assessments, 1);
  CHECK_NEAR(r.polarity, 1.0, 0);
  len = repeat("n't", MIB);
  CHECK_INT(timed("n't", big, len), ERR_OK);
  len = repeat(": ", MIB);
  CHECK_INT(timed(": ", big, len), ERR_OK);
  len = repeat(">", MIB);
  CHECK_INT(timed(">", big, len), ERR_OK);
  len = repeat("( ", MIB);
  CHECK_INT(timed("( ", big, len), ERR_OK);
  len = repeat("\n", MIB);
  CHECK_INT(timed("newlines", big, len), ERR_OK);
  len = repeat("\n\n.", MIB);
  CHECK_INT(timed("paragraphs", big, len), ERR_OK);
  len = repeat("'\"", MIB);
  CHECK_INT(timed("quotes", big, len), ERR_OK);
  len = repeat("a.", MIB); /* one abbreviation-shaped token */
  CHECK_INT(timed("a.a.a.", big, len), ERR_OK);
  len = repeat("x.", MIB - 1);
  big[len++] = '!';
  CHECK_INT(timed("x.x.x.!", big, len), ERR_OK);
}

static void invalid_utf8(void)
{
  size_t len = repeat("good ", MIB);
  big[len - 1] = '\xff';
  CHECK_INT(timed("invalid", big, len), ERR_UTF8);
  CHECK_INT(r.n_assessments, 0);
  CHECK_NEAR(r.polarity, 0.0, 0);
}

static void nul_bytes_and_empty(void)
{
  CHECK_INT(timed("nul", "good\0bad \0 great", 16), ERR_OK);
  CHECK_INT(r.n_assessments, 1); /* "good\0bad" is one unknown token */
  CHECK_STR(r.assessments[0].words, "great");
  memset(big, 0, MIB);
  CHECK_INT(timed("nuls", big, MIB), ERR_OK);
  CHECK_INT(r.n_assessments, 0);
  CHECK_INT(timed("empty", "", 0), ERR_OK);
  CHECK_INT(timed("empty NULL", NULL, 0), ERR_OK);
  CHECK_INT(r.n_assessments, 0);
}

/* The same traps and those of pattern's own tokenizer, for fr, it and nl:
 * elisions and curly apostrophes everywhere, emoji runs (each one padded
 * with spaces), the Italian and Dutch clean-ups, and a word that stays an
 * abbreviation candidate while a million periods are split off it. */
static void pattern_languages(void)
{
  static const enum lexicon_lang langs[] = {LEXICON_FR, LEXICON_IT, LEXICON_NL};
  static const char *const units[] = {
      "Ce n'est pas tr\xc3\xa8s bon :) ( ! ) c.-\xc3\xa0-d. ... "
      "\xe2\x80\x9cg\xc3\xa9nial\xe2\x80\x9d!!\n\nVraiment pas mal, "
      "8 ) : - ( l\xe2\x80\x99"
      "avion \xf0\x9f\x98\x80 ",
      "vraiment pas ",
      "l'",
      "l\xe2\x80\x99",
      "L\xe2\x80\x99",
      "\xe2\x80\x99",
      "\xf0\x9f\x98\x80",
      "\xf0\x9f\x98\x80 ",
      "o",
      "o ",
      ":",
      "' s ",
      "XXX -",
      "&rsquo ;",
      " &contraction ;",
      "'n",
      "a.",
      "@a",
  };
  struct lexicon *en = lx;
  for (size_t k = 0; k < sizeof langs / sizeof langs[0]; k++) {
    CHECK_INT(lexicon_new(langs[k], &lx), ERR_OK);
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
      size_t len = repeat(units[u], MIB);
      CHECK_INT(timed(units[u], big, len), ERR_OK);
      CHECK(r.polarity >= -1.0 && r.polarity <= 1.0);
    }
    /* A capital, half a million consonants, then "!." pairs: every period
     * split off is tested against RE_ABBR3 on the whole word. */
    big[0] = 'A';
    memset(big + 1, 'b', MIB / 2);
    size_t len = 1 + MIB / 2;
    while (len + 2 <= MIB)
      memcpy(big + len, "!.", 2), len += 2;
    CHECK_INT(timed("Abbb...!.!.", big, len), ERR_OK);
    memcpy(big, "bon", 3);
    memset(big + 3, '!', MIB);
    CHECK_INT(timed("bon!!!...", big, MIB + 3), ERR_OK);
    CHECK_INT(timed("nul", "bon\0mal \0 bien", 15), ERR_OK);
    lexicon_free(lx);
  }
  lx = en;
}

int main(void)
{
  if (lexicon_new(LEXICON_EN, &lx) != ERR_OK)
    return 1;
  big = malloc(2 * MIB);
  polarity_result_init(&r);
  RUN(megabyte_of_mixed_text);
  RUN(one_word_repeated);
  RUN(quadratic_traps);
  RUN(invalid_utf8);
  RUN(nul_bytes_and_empty);
  RUN(pattern_languages);
  polarity_result_cleanup(&r);
  free(big);
  lexicon_free(lx);
  HARNESS_EXIT();
}
