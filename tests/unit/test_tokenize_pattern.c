/* Unit tests of tokenize_pattern. Expected tokens are pattern's own
 * (`" ".join(pattern.<lang>.sentiment.tokenizer(text)).split()`), written
 * joined by '|'. Most of these rules show in scores too (see
 * test_golden_pattern); some, such as pattern.nl's "' s ochtends", change
 * tokens but never a score, and are checked only here. */
#include "harness.h"

#include "sentiment/tokenize_pattern.h"

static struct tokenize_pattern tk;
static char joined[4096];

static const char *tokens(enum lexicon_lang lang, const char *text)
{
  joined[0] = '\0';
  if (tokenize_pattern_run(&tk, pattern_rules_get(lang), text, strlen(text),
                           false) != ERR_OK)
    return "(error)";
  for (size_t i = 0; i < tk.n_tokens; i++) {
    if (i)
      strncat(joined, "|", sizeof joined - strlen(joined) - 1);
    strncat(joined, tk.tokens[i].str,
            tk.tokens[i].len < sizeof joined - strlen(joined) - 1
                ? tk.tokens[i].len
                : sizeof joined - strlen(joined) - 1);
  }
  return joined;
}

static void french_elisions(void)
{
  CHECK_STR(tokens(LEXICON_FR, "l\xe2\x80\x99"
                               "avion"),
            "l\xe2\x80\x99|avion");
  /* The capital form is never turned back. */
  CHECK_STR(tokens(LEXICON_FR, "L\xe2\x80\x99"
                               "AVION"),
            "L&RSQUO|;|AVION");
  CHECK_STR(tokens(LEXICON_FR, "aujourd'hui qu'il"), "aujourd|'|hui|qu'|il");
}

static void italian_fixups(void)
{
  CHECK_STR(tokens(LEXICON_IT, "fooXXX - bello"), "foo-|bello");
  CHECK_STR(tokens(LEXICON_IT, "un'ottima"), "un'|ottima");
}

static void dutch_fixups(void)
{
  CHECK_STR(tokens(LEXICON_NL, "' s ochtends zo'n"), "'s|ochtends|zo|'n");
  CHECK_STR(tokens(LEXICON_NL, "min. goed @bob, ok"), "min.|goed|@bob|,|ok");
  CHECK_STR(tokens(LEXICON_NL, "Dit is goed.\n\nEND-OF-SENTENCE ... dus"),
            "Dit|is|goed|.|.|.|.|dus");
}

static void moods(void)
{
  /* "!" ends a sentence, so "(!)" is never joined; emoji are split off. */
  CHECK_STR(tokens(LEXICON_FR, "Bon (!) : ) super\xf0\x9f\x98\x80!"),
            "Bon|(|!|)|:)|super|\xf0\x9f\x98\x80|!");
}

static void invalid_utf8(void)
{
  CHECK_INT(tokenize_pattern_run(&tk, pattern_rules_get(LEXICON_FR), "bon \xff",
                                 5, false),
            ERR_UTF8);
  CHECK_INT(tk.n_tokens, 0);
  CHECK(pattern_rules_get(LEXICON_EN) == NULL);
}

int main(void)
{
  tokenize_pattern_init(&tk);
  RUN(french_elisions);
  RUN(italian_fixups);
  RUN(dutch_fixups);
  RUN(moods);
  RUN(invalid_utf8);
  tokenize_pattern_cleanup(&tk);
  HARNESS_EXIT();
}
