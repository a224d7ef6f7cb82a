/* test_lang: the language identifier (src/lang/): short texts in each
 * supported language, texts without accents, noise (URLs, handles,
 * emoji, entities), other languages and scripts, empty and invalid input,
 * language codes, and an accuracy floor over tests/data/lang/. */
#include <stdint.h>

#include "harness.h"
#include "lang/lang.h"
#include "lang/lang_data.h"

static struct lang_guess guess(const char *text)
{
  struct lang_guess g;
  lang_detect(text, strlen(text), &g);
  return g;
}

#define CHECK_LANG(text, want)                                                 \
  do {                                                                         \
    struct lang_guess g_ = guess(text);                                        \
    harness_checks++;                                                          \
    if (strcmp(g_.code, want) != 0)                                            \
      FAIL_AT("\"%s\": got %s (%.2f), want %s", text, g_.code, g_.confidence,  \
              want);                                                           \
  } while (0)

static void test_supported_sentences(void)
{
  CHECK_LANG("I have been waiting for my refund for two weeks", "en");
  CHECK_LANG("je n'ai toujours pas reçu ma commande", "fr");
  CHECK_LANG("meine Bestellung ist immer noch nicht angekommen", "de");
  CHECK_LANG("mi pedido todavía no ha llegado", "es");
  CHECK_LANG("il mio ordine non è ancora arrivato", "it");
  CHECK_LANG("mijn bestelling is nog steeds niet binnen", "nl");
  CHECK_LANG("meu pedido ainda não chegou", "pt");
  struct lang_guess g = guess("meine Bestellung ist immer noch nicht da");
  CHECK_INT(g.lang, LANG_DE);
  CHECK(g.confidence > 0.5 && g.confidence <= 1.0);
}

static void test_few_words(void)
{
  CHECK_LANG("merci beaucoup", "fr");
  CHECK_LANG("danke", "de");
  CHECK_LANG("vielen Dank", "de");
  CHECK_LANG("no funciona", "es");
  CHECK_LANG("muchas gracias", "es");
  CHECK_LANG("grazie mille", "it");
  CHECK_LANG("dank je wel", "nl");
  CHECK_LANG("muito obrigado", "pt");
  CHECK_LANG("thanks so much", "en");
  CHECK_LANG("where is my order", "en");
}

static void test_without_accents(void)
{
  CHECK_LANG("ca fait 3 jours que j'attends, c'est tres long", "fr");
  CHECK_LANG("nao recebi nada ate agora", "pt");
  CHECK_LANG("voce pode me ajudar", "pt");
  CHECK_LANG("todavia no se nada de mi pedido", "es");
  CHECK_LANG("perche non funziona piu", "it");
  CHECK_LANG("ich mochte mein Geld zuruck", "de");
}

static void test_noise_is_ignored(void)
{
  CHECK_LANG("@acme_help https://example.com/fr/le/la/les #commande "
             "where is my order?? 😡😡 &amp; nobody answers",
             "en");
  CHECK_LANG("@SNCF_help the train is late again https://t.co/xyz", "en");
  CHECK_LANG("😡 #fail @deutschebahn schon wieder Verspätung!!! 😤 "
             "http://bahn.de",
             "de");
  /* Nothing to go by: English with confidence 0. */
  struct lang_guess g = guess("12345 !!! 😀😀 @someone #tag https://x.y/z");
  CHECK_STR(g.code, "en");
  CHECK_INT(g.lang, LANG_EN);
  CHECK(g.confidence == 0.0);
}

static void test_empty_and_invalid(void)
{
  struct lang_guess g;
  lang_detect("", 0, &g);
  CHECK_INT(g.lang, LANG_EN);
  CHECK(g.confidence == 0.0);
  lang_detect(NULL, 0, &g);
  CHECK_INT(g.lang, LANG_EN);
  CHECK(g.confidence == 0.0);
  const char bad[] = "\xff\xfe\xc3\x28 \xe2\x82 \xf0\x9f\x98";
  lang_detect(bad, sizeof bad - 1, &g);
  CHECK(g.lang <= LANG_OTHER);
  CHECK(strlen(g.code) >= 2 && strlen(g.code) <= 3);
  CHECK(g.confidence >= 0.0 && g.confidence <= 1.0);
  /* Invalid bytes inside words do not hide the words around them. */
  const char mixed[] = "the order \xff is still not here and nobody answers";
  lang_detect(mixed, sizeof mixed - 1, &g);
  CHECK_STR(g.code, "en");
  /* A NUL byte is a separator, not the end of the text. */
  const char nul[] = "xx\0meine Bestellung ist immer noch nicht da";
  lang_detect(nul, sizeof nul - 1, &g);
  CHECK_STR(g.code, "de");
}

static void test_other_languages(void)
{
  CHECK_LANG("dziękuję bardzo, moje zamówienie jeszcze nie dotarło", "pl");
  CHECK_LANG("jag kan inte logga in på mitt konto", "sv");
  CHECK_LANG("siparişim hâlâ gelmedi, çok kötü", "tr");
  CHECK_LANG("köszönöm szépen, nem tudok bejelentkezni", "hu");
  CHECK_LANG("мой заказ до сих пор не пришёл", "ru");
  CHECK_LANG("дуже дякую, все працює", "uk");
  CHECK_LANG("η παραγγελία μου δεν έχει φτάσει ακόμα", "el");
  CHECK_LANG("注文した商品がまだ届きません", "ja");
  CHECK_LANG("감사합니다", "ko");
  CHECK_LANG("תודה רבה", "he");
  CHECK_LANG("ขอบคุณมาก", "th");
  CHECK_LANG("我的订单还没有到", "zh");
  CHECK_LANG("شكرا جزيلا", "ar");
  struct lang_guess g = guess("мой заказ до сих пор не пришёл");
  CHECK_INT(g.lang, LANG_OTHER);
  /* An English word in a Russian text does not make it English. */
  CHECK_LANG("мой заказ до сих пор не пришёл, refund", "ru");
}

/* The script's share counts the Latin letters wherever they stand: those
 * read before the first letter of another script as well as those after
 * (11 Cyrillic letters of 17). */
static void test_script_share(void)
{
  struct lang_guess g = guess("refund заказ пришёл");
  CHECK_STR(g.code, "ru");
  CHECK(g.confidence == 11.0 / 17.0);
  g = guess("заказ пришёл refund");
  CHECK_STR(g.code, "ru");
  CHECK(g.confidence == 11.0 / 17.0);
}

static void test_codes(void)
{
  CHECK_STR(lang_code(LANG_EN), "en");
  CHECK_STR(lang_code(LANG_PT), "pt");
  CHECK_STR(lang_code(LANG_OTHER), "und");
  CHECK_STR(lang_name(LANG_DE), "German");
  CHECK_STR(lang_name(LANG_OTHER), "another language");
  CHECK_INT(lang_from_code("pt-BR", 5), LANG_PT);
  CHECK_INT(lang_from_code("FR", 2), LANG_FR);
  CHECK_INT(lang_from_code("fr_CA", 5), LANG_FR);
  CHECK_INT(lang_from_code("nl", 2), LANG_NL);
  CHECK_INT(lang_from_code("pl", 2), LANG_OTHER);
  CHECK_INT(lang_from_code("RU", 2), LANG_OTHER);
  CHECK_INT(lang_from_code("xx", 2), -1);
  CHECK_INT(lang_from_code("e", 1), -1);
  CHECK_INT(lang_from_code("english", 7), -1);
  CHECK_INT(lang_from_code("", 0), -1);
  CHECK_INT(lang_from_code("1a", 2), -1);
  /* The codes of the tables start with the supported languages, in the
   * order of enum lang, and the letter table of lang.c relies on the
   * order of the rest. */
  for (int l = 0; l < LANG_N; l++)
    CHECK_STR(langid_codes[l], lang_code((enum lang)l));
  CHECK_STR(langid_codes[7], "pl");
  CHECK_STR(langid_codes[12], "no");
  CHECK_STR(langid_codes[15], "ro");
  CHECK_STR(langid_codes[26], "sq");
}

/* Accuracy floor over the short texts of tests/data/lang: at least 90% of
 * each language's texts (all lines) must be recognised. */
static void test_accuracy_floor(void)
{
  const char *dir = getenv("TEST_DATA");
  if (!dir)
    dir = "tests/data";
  const char *files[] = {"en", "fr", "de", "es", "it", "nl", "pt", "other"};
  for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/lang/short_%s.txt", dir, files[k]);
    FILE *f = fopen(path, "rb");
    if (!f) {
      FAIL_AT("cannot open %s", path);
      continue;
    }
    char line[1024];
    int total = 0, right = 0;
    while (fgets(line, sizeof line, f)) {
      line[strcspn(line, "\r\n")] = 0;
      const char *want = files[k], *text = line;
      char code[8];
      if (!strcmp(files[k], "other")) {
        char *tab = strchr(line, '\t');
        if (!tab || tab - line >= (long)sizeof code)
          continue;
        memcpy(code, line, (size_t)(tab - line));
        code[tab - line] = 0;
        want = code;
        text = tab + 1;
      }
      if (!*text)
        continue;
      total++;
      right += !strcmp(guess(text).code, want);
    }
    fclose(f);
    harness_checks++;
    if (total < 50 || right * 100 < total * 90)
      FAIL_AT("%s: %d of %d right (floor 90%%)", path, right, total);
  }
}

int main(void)
{
  RUN(test_supported_sentences);
  RUN(test_few_words);
  RUN(test_without_accents);
  RUN(test_noise_is_ignored);
  RUN(test_empty_and_invalid);
  RUN(test_other_languages);
  RUN(test_script_share);
  RUN(test_codes);
  RUN(test_accuracy_floor);
  HARNESS_EXIT();
}
