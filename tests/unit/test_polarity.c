/* Unit tests of lexicon and polarity. Expected values are TextBlob's own
 * (TextBlob(text).sentiment_assessments); the assessments are written as
 * their words (joined by spaces, as polarity gives them) joined by '/'. */
#include "harness.h"

#include "sentiment/lexicon.h"
#include "sentiment/polarity.h"

#define EPS 1e-12

static struct lexicon *lx;
static struct polarity_result r;
static char groups[4096];

/* Scores text and returns its assessments' words joined by '/'. */
static const char *score(const char *text)
{
  groups[0] = '\0';
  if (polarity_analyze(lx, text, strlen(text), &r) != ERR_OK)
    return "(error)";
  for (size_t i = 0; i < r.n_assessments; i++) {
    if (i)
      strncat(groups, "/", sizeof groups - strlen(groups) - 1);
    strncat(groups, r.assessments[i].words, sizeof groups - strlen(groups) - 1);
  }
  return groups;
}

#define CHECK_SCORE(text, words, pol, subj)                                    \
  do {                                                                         \
    CHECK_STR(score(text), words);                                             \
    CHECK_NEAR(r.polarity, pol, EPS);                                          \
    CHECK_NEAR(r.subjectivity, subj, EPS);                                     \
  } while (0)

static void lexicon_averages_and_adverbs(void)
{
  CHECK_INT(lexicon_size(lx), 2860);
  const struct lexicon_entry *e = lexicon_find(lx, "good", 4);
  CHECK(e != NULL);
  CHECK_NEAR(e->polarity, 0.7, EPS);
  CHECK_NEAR(e->subjectivity, 0.6000000000000001, 0);
  CHECK(!e->is_adverb);
  e = lexicon_find(lx, "very", 4);
  CHECK(e && e->is_adverb);
  CHECK_NEAR(e->intensity, 1.3, 0);
  /* Derived adverbs: -le -> -ly, -y -> -ily, and they replace the entry. */
  e = lexicon_find(lx, "terribly", 8);
  CHECK(e && e->is_adverb);
  CHECK_NEAR(e->polarity, -1.0, 0);
  CHECK(lexicon_find(lx, "happily", 7) != NULL);
  CHECK(lexicon_find(lx, "not", 3) == NULL);
  CHECK(lexicon_find(lx, "Good", 4) == NULL);
  e = lexicon_find(lx, "crap", 4);
  CHECK(e && e->label && strcmp(e->label, "profanity") == 0);
  CHECK_INT(lexicon_lang(lx), LEXICON_EN);
}

/* fr, it and nl follow pattern's own rules (values from pattern.fr, .it
 * and .nl's sentiment()); the golden files test_golden_pattern reads cover
 * them in depth. */
static void other_languages(void)
{
  struct lexicon *en = lx;
  static const enum lexicon_lang langs[] = {LEXICON_FR, LEXICON_IT, LEXICON_NL};
  struct lexicon *other[3] = {NULL, NULL, NULL};
  for (size_t k = 0; k < 3; k++) {
    CHECK_INT(lexicon_new(langs[k], &other[k]), ERR_OK);
    CHECK(other[k] && lexicon_size(other[k]) > 0);
  }
  lx = other[0];
  CHECK_SCORE("bien", "bien", 0.0, 0.2);
  /* "n'" is both a negation and a lexicon word; "pas" carries on. */
  CHECK_SCORE("Ce n'est pas bon", "n'/pas bon", -0.19999999999999998, 0.35);
  CHECK_SCORE("vraiment pas bon", "vraiment pas bon", -0.5, 1.0);
  /* Load: "précaire" is also "precaire"; U+2019 elisions split off. */
  CHECK_SCORE("precaire", "precaire", -0.12, -0.25);
  CHECK_SCORE("L\xe2\x80\x99"
              "avion est pr\xc3\xa9"
              "caire !",
              "pr\xc3\xa9"
              "caire !",
              -0.15, -0.25);
  lx = other[1];
  CHECK_SCORE("non \xc3\xa8 male", "non male", 0.2925, 0.375);
  CHECK_SCORE("veramente non bello", "veramente non bello", -0.5, 1.0);
  lx = other[2];
  CHECK_SCORE("niet goed", "niet goed", -0.275, 0.9);
  /* Load: JJ forms gain their attributive ("Amsterdams" -> lower-cased
   * "amsterdamse"); JJ words modify the next one. */
  CHECK_SCORE("amsterdamse", "amsterdamse", 0.0, 0.1);
  CHECK_SCORE("verschrikkelijk niet goed", "verschrikkelijk niet goed", -0.5,
              1.0);
  lx = en;
  for (size_t k = 0; k < 3; k++)
    lexicon_free(other[k]);
  struct lexicon *bad = NULL;
  CHECK_INT(lexicon_new((enum lexicon_lang)99, &bad), ERR_UNSUPPORTED);
  CHECK(bad == NULL);
  lexicon_free(NULL);
}

static void textblob_edge_cases(void)
{
  CHECK_SCORE("not bad", "not bad", 0.3499999999999999, 0.6666666666666666);
  CHECK_SCORE("I'm not very happy with the product.", "not very happy",
              -0.3076923076923077, 0.7692307692307692);
  CHECK_SCORE("It isn't bad, it's actually really good",
              "bad/actually really good", 5.551115123125783e-17,
              0.6333333333333333);
  CHECK_SCORE("This is NOT acceptable.", "", 0.0, 0.0);
  CHECK_SCORE("Great service, thanks :)", "great/thanks/:)", 0.5, 0.65);
  CHECK_SCORE("xD lol", "lol", 0.8, 0.7); /* "xd" is alphabetic */
  CHECK_SCORE("This is great (!)", "great/(!)", 0.4, 0.875);
  CHECK_SCORE("Mr. Smith was very helpful.", "very", 0.2, 0.3);
  CHECK_SCORE("", "", 0.0, 0.0);
  CHECK_SCORE("(!)", "(!)", 0.0, 1.0);
}

static void contractions_lose_negation(void)
{
  /* "isn't" becomes is / n / ' / t, so "n't" never negates. */
  CHECK_SCORE("isn't bad", "bad", -0.6999999999999998, 0.6666666666666666);
  CHECK_SCORE("I can't believe it", "", 0.0, 0.0);
}

static void negations(void)
{
  CHECK_SCORE("not a good", "not good", -0.35, 0.6000000000000001);
  CHECK_SCORE("not I good", "not good", -0.35, 0.6000000000000001);
  CHECK_SCORE("not ' good", "not good", -0.35, 0.6000000000000001);
  CHECK_SCORE("not at all good", "good", 0.7, 0.6000000000000001);
  CHECK_SCORE("no good", "no good", -0.35, 0.6000000000000001);
  CHECK_SCORE("not", "", 0.0, 0.0);
  /* U+0130 lower-cases to two characters, so it ends the negation. */
  CHECK_SCORE("\xc4\xb0 not \xc4\xb0 good", "good", 0.7, 0.6000000000000001);
}

static void modifiers(void)
{
  CHECK_SCORE("not very good", "not very good", -0.26923076923076916,
              0.46153846153846156);
  CHECK_SCORE("never really good", "never really good", -0.35,
              0.6000000000000001);
  CHECK_SCORE("very not good", "very/not good", -0.07499999999999998,
              0.45000000000000007);
  CHECK_SCORE("really not good", "really not good", -0.35, 0.6000000000000001);
  CHECK_SCORE("very is a good", "very good", 0.9099999999999999,
              0.7800000000000001);
  CHECK_SCORE("very is the good", "very/good", 0.44999999999999996,
              0.45000000000000007);
  CHECK_SCORE("very very very bad", "very very very bad", -0.9099999999999998,
              0.8666666666666667);
  /* A modifier survives a short emoticon and joins its group. */
  CHECK_SCORE("very :) good", "very/:) good", 0.44999999999999996,
              0.45000000000000007);
}

static void exclamations_and_irony(void)
{
  CHECK_SCORE("bad!", "bad !", -0.8749999999999998, 0.6666666666666666);
  CHECK_SCORE("bad!!", "bad ! !", -1.0, 0.6666666666666666); /* clamped */
  CHECK_SCORE("good!!!", "good ! ! !", 1.0, 0.6000000000000001);
  CHECK_SCORE("not good at all!", "not good !", -0.4375, 0.6000000000000001);
  CHECK_SCORE("good (!) !", "good/(!) !", 0.35, 0.8);
  CHECK_SCORE("great (!) again ( ! ) and (! )", "great/(!)/(!)/(!)", 0.2,
              0.9375);
  CHECK_STR(score("(!)"), "(!)");
  CHECK_STR(r.assessments[0].label, "irony");
}

static void emoticons(void)
{
  CHECK_SCORE("nice : ) and :( and : ' ( and 8 ) and > : )",
              "nice/:)/:(/:'(/8)/>:)", 0.05833333333333335, 1.0);
  CHECK_STR(r.assessments[1].label, "mood");
  CHECK_SCORE("xD XD :D", ":d", 1.0, 1.0);
  CHECK_SCORE("\xc2\xb0O\xc2\xb0 \xe2\x99\xa5 <3",
              "\xc2\xb0o\xc2\xb0/\xe2\x99\xa5/<3", 0.6833333333333332, 1.0);
  CHECK_SCORE("word> : )", "", 0.0, 0.0); /* joined into "word>:)" */
  CHECK_SCORE(":c ) and :c )x", ":c)/:c)", 0.75, 1.0);
  CHECK_SCORE("The worst support I have ever had :(", "worst/:(", -0.875, 1.0);
}

static void paragraphs_quotes_and_case(void)
{
  CHECK_SCORE("Line one is fine.\n\nLine two is terrible.", "fine/terrible",
              -0.29166666666666663, 0.75);
  CHECK_SCORE("\xe2\x80\x9c"
              "Curly quotes are bad\xe2\x80\x9d she said",
              "bad", -0.6999999999999998, 0.6666666666666666);
  CHECK_SCORE("ALL CAPS THIS IS SO BAD", "bad", -0.6999999999999998,
              0.6666666666666666);
  CHECK_SCORE("\xe2\x84\xaaind", "kind", 0.6, 0.9); /* KELVIN SIGN */
  CHECK_SCORE("Ok. good.", "good", 0.7, 0.6000000000000001);
}

static void labels(void)
{
  CHECK_STR(score("this is crap"), "crap");
  CHECK_STR(r.assessments[0].label, "profanity");
  CHECK_STR(score("good"), "good");
  CHECK(r.assessments[0].label == NULL);
}

static void invalid_utf8_zeroes(void)
{
  score("good");
  CHECK_INT(polarity_analyze(lx, "good \xc3", 6, &r), ERR_UTF8);
  CHECK_INT(r.n_assessments, 0);
  CHECK_NEAR(r.polarity, 0.0, 0);
  CHECK_NEAR(r.subjectivity, 0.0, 0);
  CHECK_INT(polarity_analyze(lx, "good \xc0\xaf", 7, &r), ERR_UTF8);
  /* Reuse after an error works. */
  CHECK_SCORE("good", "good", 0.7, 0.6000000000000001);
}

int main(void)
{
  if (lexicon_new(LEXICON_EN, &lx) != ERR_OK) {
    fprintf(stderr, "cannot build the English lexicon\n");
    return 1;
  }
  polarity_result_init(&r);
  RUN(lexicon_averages_and_adverbs);
  RUN(other_languages);
  RUN(textblob_edge_cases);
  RUN(contractions_lose_negation);
  RUN(negations);
  RUN(modifiers);
  RUN(exclamations_and_irony);
  RUN(emoticons);
  RUN(paragraphs_quotes_and_case);
  RUN(labels);
  RUN(invalid_utf8_zeroes);
  polarity_result_cleanup(&r);
  lexicon_free(lx);
  HARNESS_EXIT();
}
