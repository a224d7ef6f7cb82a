/* Unit tests of the detector's reading of other languages than English:
 * the word split (elisions, case and diacritics), lexicon matching
 * (folded forms, German "ae", stems, phrases) over a table of the test's
 * own, then the shipped detector on French and German texts and on a
 * text of an unsupported language. Of data/lang/, only the words every
 * version of those files has are relied on: fr "nul", "déçu" (@valence),
 * "merci" (@thanks), "pas" (@negators); de "schlecht", "enttäuscht",
 * "danke", "nicht". */
#include "harness.h"

#include "detector/detector.h"
#include "detector/langlex.h"

static struct detector_model *model;
static struct detector *det;
static struct detector_result res;

/* ---- langlex: split, forms, matching ------------------------------------ */

/* The words of t in language l, each as its folded form, joined by '|'. */
static const char *split(enum lang l, const char *t)
{
  static char out[512];
  size_t i = 0, o = 0, len = strlen(t);
  struct langlex_span sp;
  while (langlex_next_word(l, t, len, &i, &sp)) {
    char low[128], fold[128];
    size_t ll, fl;
    langlex_norm(t + sp.off, sp.len, false, low, &ll, fold, &fl);
    if (o)
      out[o++] = '|';
    memcpy(out + o, fold, fl);
    o += fl;
  }
  out[o] = '\0';
  return out;
}

static void split_elisions_and_forms(void)
{
  CHECK_STR(split(LANG_FR, "J'attends l'appel d\xe2\x80\x99un agent"),
            "j'|attends|l'|appel|d'|un|agent");
  CHECK_STR(split(LANG_FR, "Qu'il vienne aujourd'hui"),
            "qu'|il|vienne|aujourd'hui");
  CHECK_STR(split(LANG_IT, "dell'ordine all'una nell'app"),
            "dell'|ordine|all'|una|nell'|app");
  /* Not elisions in German: the apostrophe stays in the word. */
  CHECK_STR(split(LANG_DE, "geht's l'ordre"), "geht's|l'ordre");
  /* Lower case beyond ASCII, diacritics dropped. */
  CHECK_STR(split(LANG_FR, "DÉÇU Été ŒUVRE"), "decu|ete|oeuvre");
  CHECK_STR(split(LANG_DE, "ENTTÄUSCHT Straße ẞ"), "enttauscht|strasse|ss");
  CHECK_STR(split(LANG_FR, "pas 😡 nul"), "pas|😡|nul");
  char low[64], fold[64];
  size_t ll, fl;
  langlex_norm("Über", 5, true, low, &ll, fold, &fl);
  CHECK_INT(ll, 5);
  CHECK(!memcmp(low, "über", 5));
  CHECK_INT(fl, 5);
  CHECK(!memcmp(fold, "ueber", 5));
  CHECK_INT(langlex_lower(0x416), 0x436); /* Cyrillic Zhe */
  CHECK_INT(langlex_lower(0x141), 0x142); /* Polish L with stroke */
  CHECK_INT(langlex_lower(0x179), 0x17A); /* Z with acute */
  CHECK_INT(langlex_lower(0x17A), 0x17A);
}

static const struct langlex_entry test_entries[] = {
    {"déçu", LANGLEX_VALENCE, -2.0},
    {"pêche", LANGLEX_VALENCE, 1.0},
    {"péché", LANGLEX_VALENCE, -1.0},
    {"enttäusch*", LANGLEX_VALENCE, -2.0},
    {"enttäuschung*", LANGLEX_VALENCE, -3.0},
    {"encore une fois", LANGLEX_REPEAT, 0},
    {"encore", LANGLEX_REPEAT, 0},
    {"attente", LANGLEX_WAIT, 0},
    {"rendez-vous", LANGLEX_BROKEN, 0},
    {"pas de rembours*", LANGLEX_MONEY, 0},
};
static const struct langlex_table test_table = {
    test_entries, sizeof test_entries / sizeof test_entries[0]};

/* The entry that text t starts with in group g of x (and *count, its
 * words), or -1. */
static int match(const struct langlex *x, enum langlex_group g, const char *t,
                 size_t *count)
{
  static char low[512], fold[512];
  struct langlex_word w[LANGLEX_MAX_WORDS];
  size_t n = 0, i = 0, lo = 0, len = strlen(t);
  struct langlex_span sp;
  while (n < LANGLEX_MAX_WORDS && langlex_next_word(x->lang, t, len, &i, &sp)) {
    size_t ll, fl;
    langlex_norm(t + sp.off, sp.len, false, low + lo, &ll, fold + lo, &fl);
    w[n++] = (struct langlex_word){low + lo, fold + lo, (uint32_t)ll,
                                   (uint32_t)fl, false};
    lo += sp.len;
  }
  return langlex_match(x, g, w, n, count);
}

static void matching_folds_stems_and_phrases(void)
{
  struct langlex fr, de;
  langlex_init_table(&fr, LANG_FR, &test_table);
  langlex_init_table(&de, LANG_DE, &test_table);
  size_t k;
  /* With or without accents, or with others. */
  CHECK_INT(match(&fr, LANGLEX_GROUP_WORDS, "déçu", &k), 0);
  CHECK_INT(match(&fr, LANGLEX_GROUP_WORDS, "decu", &k), 0);
  CHECK_INT(match(&fr, LANGLEX_GROUP_WORDS, "dèçu", &k), 0);
  CHECK_INT(match(&fr, LANGLEX_GROUP_WORDS, "DÉÇU", &k), 0);
  CHECK_INT(match(&fr, LANGLEX_GROUP_WORDS, "déçus", &k), -1);
  /* Written with its accents, a word is the entry that has them; without,
   * the first that folds alike. */
  CHECK_INT(match(&fr, LANGLEX_GROUP_WORDS, "péché", &k), 2);
  CHECK_INT(match(&fr, LANGLEX_GROUP_WORDS, "pêche", &k), 1);
  CHECK_INT(match(&fr, LANGLEX_GROUP_WORDS, "peche", &k), 1);
  /* Stems: the longest that starts the word; "ae" for "ä" in German. */
  CHECK_INT(match(&de, LANGLEX_GROUP_WORDS, "enttäuschend", &k), 3);
  CHECK_INT(match(&de, LANGLEX_GROUP_WORDS, "Enttäuschungen", &k), 4);
  CHECK_INT(match(&de, LANGLEX_GROUP_WORDS, "enttaeuschungen", &k), 4);
  CHECK_INT(match(&de, LANGLEX_GROUP_WORDS, "enttauschend", &k), 3);
  CHECK_INT(match(&de, LANGLEX_GROUP_WORDS, "enttäusch", &k), 3);
  CHECK_INT(match(&de, LANGLEX_GROUP_WORDS, "enttäus", &k), -1);
  /* "ae" is German only. */
  CHECK_INT(match(&fr, LANGLEX_GROUP_WORDS, "enttaeuschend", &k), -1);
  /* Phrases: the longest match, stems at their end, hyphens split alike. */
  CHECK_INT(match(&fr, LANGLEX_GROUP_SUPPORT, "encore une fois merci", &k), 5);
  CHECK_INT(k, 3);
  CHECK_INT(match(&fr, LANGLEX_GROUP_SUPPORT, "encore une", &k), 6);
  CHECK_INT(k, 1);
  CHECK_INT(match(&fr, LANGLEX_GROUP_SUPPORT, "Pas de remboursement", &k), 9);
  CHECK_INT(k, 3);
  CHECK_INT(match(&fr, LANGLEX_GROUP_SUPPORT, "pas de", &k), -1);
  CHECK_INT(match(&fr, LANGLEX_GROUP_SUPPORT, "rendez-vous manqué", &k), 8);
  CHECK_INT(k, 2);
  /* An elided article never hides the word after it. */
  CHECK_INT(match(&fr, LANGLEX_GROUP_SUPPORT, "attente", &k), 7);
  CHECK_INT(match(&fr, LANGLEX_GROUP_SUPPORT, "l'attente", &k), -1);
  /* The groups are apart. */
  CHECK_INT(match(&fr, LANGLEX_GROUP_SUPPORT, "déçu", &k), -1);
  CHECK_INT(match(&fr, LANGLEX_GROUP_WORDS, "encore", &k), -1);
  langlex_cleanup(&fr);
  langlex_cleanup(&de);
}

/* ---- The detector ------------------------------------------------------- */

static const struct detector_result *score(const char *s, enum lang l)
{
  CHECK_INT(detector_score(det, s, strlen(s), l, 0.0, 0.0, &res), ERR_OK);
  return &res;
}

static bool has_reason(const struct detector_result *r, const char *part)
{
  for (size_t i = 0; i < r->n_reasons; i++)
    if (strstr(r->reasons[i].text, part))
      return true;
  return false;
}

static double dense(const char *s, enum lang l, enum detector_dense i)
{
  return score(s, l)->features.dense[i];
}

static void french_and_german_frustration(void)
{
  const char *fr_angry = "C'est nul. Je suis tellement déçu, toujours pas "
                         "de réponse !!";
  const char *fr_calm = "Merci pour votre réponse, bonne journée.";
  double angry = score(fr_angry, LANG_FR)->score;
  CHECK(has_reason(&res, "'nul'"));
  CHECK(has_reason(&res, "'déçu'"));
  double calm = score(fr_calm, LANG_FR)->score;
  CHECK(angry > calm + 0.2);
  const char *de_angry = "Das ist schlecht. Ich bin enttäuscht, immer noch "
                         "keine Antwort!!";
  const char *de_calm = "Danke für die schnelle Antwort, schönen Tag noch.";
  angry = score(de_angry, LANG_DE)->score;
  CHECK(has_reason(&res, "'schlecht'"));
  CHECK(has_reason(&res, "'enttäuscht'"));
  calm = score(de_calm, LANG_DE)->score;
  CHECK(angry > calm + 0.2);
  /* Thanks are the calm side in each language. */
  CHECK(dense("merci", LANG_FR, DETECTOR_DENSE_SUP_THANKS) > 0);
  CHECK(dense("Danke!", LANG_DE, DETECTOR_DENSE_SUP_THANKS) > 0);
  CHECK(dense("danke", LANG_FR, DETECTOR_DENSE_SUP_THANKS) == 0);
}

/* A service named tells the model who the message is written to, in every
 * language; it is never a reason, and a complaint phrase keeps its own
 * category. */
static void services_named_never_give_a_reason(void)
{
  static const struct {
    const char *text;
    enum lang lang;
    const char *word;
  } cases[] = {
      {"Ma commande n'est toujours pas livrée, c'est nul !!", LANG_FR,
       "'commande'"},
      {"Meine Bestellung ist seit 3 Wochen nicht da, unglaublich!!", LANG_DE,
       "'bestellung'"},
      {"Mi pedido sigue sin llegar, qué vergüenza!!", LANG_ES, "'pedido'"},
      {"Il mio ordine non è ancora arrivato, che schifo!!", LANG_IT,
       "'ordine'"},
      {"Mijn bestelling is nog steeds niet geleverd, belachelijk!!", LANG_NL,
       "'bestelling'"},
      {"Meu pedido ainda não chegou, que vergonha!!", LANG_PT, "'pedido'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const struct detector_result *r = score(cases[i].text, cases[i].lang);
    CHECK(r->features.dense[DETECTOR_DENSE_SUP_SERVICE] == 1.0);
    CHECK(!has_reason(r, cases[i].word));
    CHECK(!has_reason(r, "service named"));
  }
  CHECK(dense("Bonne journée à tous", LANG_FR, DETECTOR_DENSE_SUP_SERVICE) ==
        0.0);
  /* Counted for the model whether named once or twice. */
  CHECK(dense("commande et livraison", LANG_FR, DETECTOR_DENSE_SUP_SERVICE) ==
        1.0);
  /* "seit 3 Wochen" is waiting, counted in words or digits. */
  CHECK(dense("seit 3 Wochen", LANG_DE, DETECTOR_DENSE_SUP_WAIT) > 0);
  CHECK(dense("seit drei Wochen", LANG_DE, DETECTOR_DENSE_SUP_WAIT) > 0);
}

static void accents_case_and_negation(void)
{
  double v = dense("je suis déçu", LANG_FR, DETECTOR_DENSE_VADER_MIN);
  CHECK(v < 0);
  CHECK(dense("je suis decu", LANG_FR, DETECTOR_DENSE_VADER_MIN) == v);
  CHECK(dense("je suis dèçu", LANG_FR, DETECTOR_DENSE_VADER_MIN) == v);
  CHECK(dense("d’abord déçu", LANG_FR, DETECTOR_DENSE_VADER_MIN) < 0);
  v = dense("enttäuscht", LANG_DE, DETECTOR_DENSE_VADER_MIN);
  CHECK(v < 0);
  CHECK(dense("enttauscht", LANG_DE, DETECTOR_DENSE_VADER_MIN) == v);
  CHECK(dense("enttaeuscht", LANG_DE, DETECTOR_DENSE_VADER_MIN) == v);
  CHECK(dense("ENTTÄUSCHT", LANG_DE, DETECTOR_DENSE_VADER_MIN) == v);
  /* The quoted word is the text's. */
  score("Ich bin so enttaeuscht und es ist schlecht!!!", LANG_DE);
  CHECK(!res.frustrated || has_reason(&res, "'enttaeuscht'"));
  /* The negation reason names the language's negators in the text. */
  score("Das funktioniert nicht, keine Antwort, nie wieder", LANG_DE);
  CHECK(res.frustrated && has_reason(&res, "negations: 'nicht'"));
  /* Quoted in lower case beyond ASCII too. */
  score("ICH BIN SO ENTTÄUSCHT UND ES IST SCHLECHT!!!", LANG_DE);
  CHECK(res.frustrated && has_reason(&res, "'enttäuscht'"));
  CHECK(!has_reason(&res, "Ä"));
  score("C'EST NUL, TRÈS DÉÇU !!!", LANG_FR);
  CHECK(res.frustrated && has_reason(&res, "'déçu'"));
  /* A negation turns a negative word's valence around (VADER's rules). */
  CHECK(dense("c'est nul", LANG_FR, DETECTOR_DENSE_VADER_COMPOUND) < 0);
  CHECK(dense("c'est pas nul", LANG_FR, DETECTOR_DENSE_VADER_COMPOUND) > 0);
  CHECK(dense("pas nul", LANG_FR, DETECTOR_DENSE_NEGATIONS) > 0);
  CHECK(dense("nicht schlecht", LANG_DE, DETECTOR_DENSE_VADER_COMPOUND) > 0);
  /* Each language its own words. */
  CHECK(dense("schlecht", LANG_FR, DETECTOR_DENSE_VADER_MIN) == 0);
  CHECK(dense("nul", LANG_DE, DETECTOR_DENSE_VADER_MIN) == 0);
}

static void unsupported_language_uses_independent_signals(void)
{
  const char *pl = "To jest skandal!!! Nikt nie odpowiada 😡";
  res.keep_features = true;
  CHECK_INT(detector_score(det, pl, strlen(pl), LANG_OTHER, -0.9, 0.9, &res),
            ERR_OK);
  res.keep_features = false;
  /* No hashed feature: neither words nor emoji. */
  CHECK_INT(res.features.n, 0);
  const double *x = res.features.dense;
  CHECK(x[DETECTOR_DENSE_POLARITY] == 0 && x[DETECTOR_DENSE_SUBJECTIVITY] == 0);
  CHECK(x[DETECTOR_DENSE_VADER_MIN] < 0); /* the emoji */
  CHECK(x[DETECTOR_DENSE_EXCLAIM] > 0 && x[DETECTOR_DENSE_EXCLAIM_MULTI] == 1);
  CHECK(x[DETECTOR_DENSE_LEN_SHORT] == 1); /* six words, the emoji one */
  for (int i = DETECTOR_DENSE_SUP_REPEAT; i <= DETECTOR_DENSE_SUP_ANY; i++)
    CHECK(x[i] == 0);
  CHECK(has_reason(&res, "language not supported"));
  CHECK(has_reason(&res, "emoji") || has_reason(&res, "exclamation"));
  CHECK(!has_reason(&res, "words:") && !has_reason(&res, "wording"));
  for (size_t i = 0; i < res.n_reasons; i++)
    CHECK(!strstr(res.reasons[i].text, "'skandal'") &&
          !strstr(res.reasons[i].text, "'nie'"));
  double angry = res.score;
  CHECK(res.frustrated);
  score("To jest w porządku, dziękuję.", LANG_OTHER);
  CHECK(has_reason(&res, "language not supported"));
  CHECK(angry > res.score + 0.2 && !res.frustrated);
  /* Never English's lexicons. */
  const char *en = "this is terrible, still waiting, worst service";
  CHECK(dense(en, LANG_OTHER, DETECTOR_DENSE_VADER_MIN) == 0);
  CHECK(dense(en, LANG_OTHER, DETECTOR_DENSE_SUP_ANY) == 0);
  CHECK(dense(en, LANG_OTHER, DETECTOR_DENSE_NEGATIONS) == 0);
  CHECK(dense(en, LANG_EN, DETECTOR_DENSE_VADER_MIN) < 0);
  /* Emoticons keep VADER's valence in every language. */
  CHECK(dense("ok :(", LANG_OTHER, DETECTOR_DENSE_VADER_MIN) < 0);
  CHECK(dense("ok :(", LANG_FR, DETECTOR_DENSE_VADER_MIN) ==
        dense("ok :(", LANG_EN, DETECTOR_DENSE_VADER_MIN));
  CHECK(dense("super :D", LANG_OTHER, DETECTOR_DENSE_VADER_POS_WORDS) > 0);
  /* Not an English word with a mark on it. */
  CHECK(dense("ok! fine. bad!", LANG_OTHER, DETECTOR_DENSE_VADER_NEG_WORDS) ==
        0);
  CHECK(dense("bad!", LANG_EN, DETECTOR_DENSE_VADER_NEG_WORDS) > 0);
}

static void english_is_unchanged_between_languages(void)
{
  const char *t = "This is the THIRD time I ask, still no refund!!! :(";
  struct detector_result a;
  detector_result_init(&a);
  CHECK_INT(detector_score(det, t, strlen(t), LANG_EN, -0.3, 0.6, &a), ERR_OK);
  double first = a.score;
  /* The same result, after the scratch read other languages. */
  const char *fr = "C'est nul, encore une fois, déçu 😡 :(";
  CHECK_INT(detector_score(det, fr, strlen(fr), LANG_FR, 0, 0, &a), ERR_OK);
  CHECK_INT(detector_score(det, fr, strlen(fr), LANG_OTHER, 0, 0, &a), ERR_OK);
  CHECK_INT(detector_score(det, t, strlen(t), LANG_EN, -0.3, 0.6, &a), ERR_OK);
  CHECK(a.score == first);
  CHECK(!has_reason(&a, "language not supported"));
  /* A language out of range reads as unsupported. */
  CHECK_INT(detector_score(det, t, strlen(t), (enum lang)99, 0, 0, &a), ERR_OK);
  CHECK(has_reason(&a, "language not supported") || a.n_reasons == 0);
  detector_result_cleanup(&a);
}

static void every_language_is_bounded(void)
{
  /* Pathological inputs: elisions, emoji, marks, long words. */
  static const char piece[] = "l'd'😡!?É";
  char big[20000];
  size_t n = 0;
  while (n + sizeof piece < sizeof big) {
    memcpy(big + n, piece, sizeof piece - 1);
    n += sizeof piece - 1;
  }
  for (int l = 0; l <= LANG_OTHER; l++) {
    CHECK_INT(detector_score(det, big, n, (enum lang)l, 0, 0, &res), ERR_OK);
    CHECK(res.score >= 0 && res.score <= 1);
  }
}

int main(void)
{
  CHECK_INT(detector_model_builtin(&model), ERR_OK);
  if (!model)
    HARNESS_EXIT();
  CHECK_INT(detector_new(model, &det), ERR_OK);
  detector_result_init(&res);
  RUN(split_elisions_and_forms);
  RUN(matching_folds_stems_and_phrases);
  RUN(french_and_german_frustration);
  RUN(services_named_never_give_a_reason);
  RUN(accents_case_and_negation);
  RUN(unsupported_language_uses_independent_signals);
  RUN(english_is_unchanged_between_languages);
  RUN(every_language_is_bounded);
  detector_result_cleanup(&res);
  detector_free(det);
  detector_model_free(model);
  HARNESS_EXIT();
}
