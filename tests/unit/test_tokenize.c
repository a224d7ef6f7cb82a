/* Unit tests of tokenize: each case is TextBlob's own output for the text,
 * `" ".join(find_tokens(text)).split()`, written here joined by '|'. */
#include "harness.h"

#include "sentiment/tokenize.h"

static struct tokenize tk;
static char joined[4096];

/* Tokenizes text (len bytes) and joins the tokens with '|'. */
static const char *tokens_n(const char *text, size_t len)
{
  joined[0] = '\0';
  if (tokenize_run(&tk, text, len) != ERR_OK)
    return "(error)";
  size_t o = 0;
  for (size_t i = 0; i < tk.n_tokens; i++) {
    if (o + tk.tokens[i].len + 2 >= sizeof joined)
      return "(too long)";
    if (i)
      joined[o++] = '|';
    memcpy(joined + o, tk.tokens[i].str, tk.tokens[i].len);
    o += tk.tokens[i].len;
  }
  joined[o] = '\0';
  return joined;
}

static const char *tokens(const char *text)
{
  return tokens_n(text, strlen(text));
}

static void words_and_punctuation(void)
{
  CHECK_STR(tokens("Hello, world!"), "Hello|,|world|!");
  CHECK_STR(tokens("!!!good"), "!|!|!|good");
  CHECK_STR(tokens("good!!!"), "good|!|!|!");
  CHECK_STR(tokens("((good))"), "(|(|good|)|)");
  CHECK_STR(tokens("\"good\""), "\"|good|\"");
  CHECK_STR(tokens("it(heavily"), "it(heavily");
  CHECK_STR(tokens(""), "");
  CHECK_STR(tokens(" \t "), "");
}

static void contractions_split_twice(void)
{
  /* "n't" gets a space before it, then every apostrophe is padded. */
  CHECK_STR(tokens("don't"), "do|n|'|t");
  CHECK_STR(tokens("I can't believe it"), "I|ca|n|'|t|believe|it");
  CHECK_STR(tokens("I'd say it's good"), "I|'|d|say|it|'|s|good");
  CHECK_STR(tokens("DON'T"), "DON|'|T");
  CHECK_STR(tokens("nn't"), "n|n|'|t");
}

static void unicode_quotes(void)
{
  CHECK_STR(tokens("\xe2\x80\x9chi\xe2\x80\x9d \xe2\x80\x98there\xe2\x80\x99"),
            "\xe2\x80\x9c|hi|\xe2\x80\x9d|\xe2\x80\x98|there|\xe2\x80\x99");
  CHECK_STR(tokens("it\xe2\x80\x99s good"), "it|\xe2\x80\x99|s|good");
  CHECK_STR(tokens("He said 'good' \"bad\""), "He|said|'|good|'|\"|bad|\"");
}

static void abbreviations_and_periods(void)
{
  CHECK_STR(tokens("Mr. Smith's U.S. trip e.g. fine etc."),
            "Mr.|Smith|'|s|U.S.|trip|e.g.|fine|etc.");
  CHECK_STR(tokens("Ok. good."), "Ok.|good|."); /* RE_ABBR3 */
  CHECK_STR(tokens("I."), "I.");                /* RE_ABBR1 */
  CHECK_STR(tokens("a.b.c. x"), "a.b.c.|x");    /* RE_ABBR2 */
  CHECK_STR(tokens("Mrs."), "Mrs.");
  CHECK_STR(tokens("NOSt|x."), "NOSt|x|.");
  CHECK_STR(tokens("U.S.!"), "U.S.|!");
  CHECK_STR(tokens("ab.."), "ab|.|.");
}

static void ellipsis(void)
{
  CHECK_STR(tokens("wait... what.... really?!"),
            "wait|...|what|...|really|?|!");
  CHECK_STR(tokens("...good..."), "...good|...");
  CHECK_STR(tokens("good...."), "good|...");
  CHECK_STR(tokens("...."), "...");
}

static void paragraph_breaks(void)
{
  CHECK_STR(tokens("one\n\ntwo\r\n\r\nthree\n \nfour"), "one|two|three|four");
  CHECK_STR(tokens("END-OF-SENTENCE good"), "good");
  CHECK_STR(tokens("(END-OF-SENTENCE)"), "(|)");
  /* A paragraph break ends the sentence, so ": D" across one stays apart,
   * but a ")" after it still closes the first sentence. */
  CHECK_STR(tokens(": \n\n D"), ":|D");
  CHECK_INT(tk.n_sentences, 2);
  CHECK_STR(tokens(": \n D"), ":D");
  CHECK_STR(tokens(":\n\n)"), ":)");
  CHECK_INT(tk.n_sentences, 1);
  CHECK_STR(tokens("a. b! c? d"), "a.|b|!|c|?|d");
  CHECK_INT(tk.n_sentences, 3);
  CHECK_INT(tk.tokens[5].sentence, 2);
}

static void unicode_whitespace(void)
{
  CHECK_STR(tokens("a\xc2\xa0"
                   "b\xe2\x80\xa8"
                   "c\x1c"
                   "d\xc2\x85"
                   "e"),
            "a|b|c|d|e");
  CHECK_STR(tokens("a\xe3\x80\x80"
                   "b\xe1\x9a\x80"
                   "c\xe2\x80\x8a"
                   "d"),
            "a|b|c|d");
  /* U+200B ZERO WIDTH SPACE is not whitespace to Python. */
  CHECK_STR(tokens("x\xe2\x80\x8by"), "x\xe2\x80\x8by");
}

static void sarcasm_and_emoticons(void)
{
  CHECK_STR(tokens("great (!) again ( ! ) and (! )"),
            "great|(!)|again|(!)|and|(!)");
  CHECK_STR(tokens("nice : ) and :( and : ' ( and 8 ) and > : )"),
            "nice|:)|and|:(|and|:'(|and|8)|and|>:)");
  CHECK_STR(tokens("word> : )"), "word>:)");
  CHECK_STR(tokens(":c ) and :c )x"), ":c)|and|:c)|x");
  CHECK_STR(tokens("hello:)"), "hello|:)");
  CHECK_STR(tokens("page 8)"), "page|8)");
  CHECK_STR(tokens("\xc2\xb0 O \xc2\xb0 \xe2\x99\xa5 <3"),
            "\xc2\xb0O\xc2\xb0|\xe2\x99\xa5|<3");
  /* Sarcasm runs first and takes the parenthesis from ": (". */
  CHECK_STR(tokens(": ( ! )"), ":|(!)");
}

static void nul_and_invalid_utf8(void)
{
  CHECK_STR(tokens_n("a\0b c", 5), "a\0b|c"); /* NUL is a character */
  CHECK_INT(tk.tokens[0].len, 3);
  CHECK_INT(tokenize_run(&tk, "bad \xff", 5), ERR_UTF8);
  CHECK_INT(tk.n_tokens, 0);
  CHECK_INT(tokenize_run(&tk, "\xed\xa0\x80", 3), ERR_UTF8); /* surrogate */
}

int main(void)
{
  tokenize_init(&tk);
  RUN(words_and_punctuation);
  RUN(contractions_split_twice);
  RUN(unicode_quotes);
  RUN(abbreviations_and_periods);
  RUN(ellipsis);
  RUN(paragraph_breaks);
  RUN(unicode_whitespace);
  RUN(sarcasm_and_emoticons);
  RUN(nul_and_invalid_utf8);
  tokenize_cleanup(&tk);
  HARNESS_EXIT();
}
