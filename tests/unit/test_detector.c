/* Unit tests of detector/: cleaning, VADER's rules, support phrases,
 * features, the shipped model's verdicts and reasons, the model file and
 * the data split. */
#include "harness.h"

#include "base/utf8.h"
#include "detector/detector.h"
#include "detector/vader.h"
#include "sentiment/lexicon.h"
#include "sentiment/polarity.h"

static struct lexicon *lx;
static struct detector_model *model;
static struct detector *det;
static struct polarity_result pr;
static struct detector_result res;

/* Cleans s into a static buffer (tests are single-threaded). */
static const char *clean(const char *s)
{
  static char out[4096];
  size_t n = detector_clean(s, strlen(s), out);
  out[n] = '\0';
  return out;
}

/* The own words of s (detector_own_words) as a string, in a static
 * buffer. */
static const char *own(const char *s)
{
  static char out[4096];
  static struct buf scratch;
  if (!scratch.limit)
    buf_init(&scratch, 0);
  size_t n;
  const char *w = detector_own_words(s, strlen(s), &scratch, &n);
  memcpy(out, w, n);
  out[n] = '\0';
  return out;
}

/* Scores s as the service does: TextBlob polarity of the raw text, then
 * the detector. */
static const struct detector_result *score(const char *s)
{
  CHECK_INT(polarity_analyze(lx, s, strlen(s), &pr), ERR_OK);
  CHECK_INT(detector_score(det, s, strlen(s), LANG_EN, pr.polarity,
                           pr.subjectivity, &res),
            ERR_OK);
  return &res;
}

static bool has_reason(const struct detector_result *r, const char *part)
{
  for (size_t i = 0; i < r->n_reasons; i++)
    if (strstr(r->reasons[i].text, part))
      return true;
  return false;
}

static void clean_removes_noise(void)
{
  CHECK_STR(clean("see https://x.io/a?b=1 now"), "see  now");
  CHECK_STR(clean("link:http://a.b/c"), "link:");
  CHECK_STR(clean("www.example.com is down"), " is down");
  CHECK_STR(clean("mail me@example.com please"), "mail  please");
  CHECK_STR(clean("@united where is my bag"), "  where is my bag");
  CHECK_STR(clean("hi @a_b, thanks"), "hi  , thanks");
  CHECK_STR(clean("fish &amp; chips &lt;3 &#39;ok&#x27; &quot;"),
            "fish & chips <3 'ok' \"");
  CHECK_STR(clean("AT&T &bogus; &#0; &#xD800;"), "AT&T &bogus; &#0; &#xD800;");
  CHECK_STR(clean("[NAME] is rude to [RELIGION] folks"),
            "  is rude to   folks");
}

static void clean_drops_quotes_and_signatures(void)
{
  CHECK_STR(clean("Still broken.\n> You said it was fixed\n> yesterday"),
            "Still broken.\n");
  CHECK_STR(clean("No.\nOn Mon, 3 Jun 2024, Support wrote:\n> fixed"), "No.\n");
  CHECK_STR(clean("Where is it?\n\nSent from my iPhone"), "Where is it?\n\n");
  CHECK_STR(clean("Fix it.\n-- \nJane Doe\nACME Corp"), "Fix it.\n");
  CHECK_STR(clean("Fix it.\nGet Outlook for Android"), "Fix it.\n");
  /* A dash inside text is not a signature. */
  CHECK_STR(clean("a -- b"), "a -- b");
  /* The quoted part of a mail reply is not the writer's: the attribution
   * line (also wrapped, and in the other six languages), the Outlook rule
   * and header block end the text. */
  CHECK_STR(clean("Thanks, it works.\n\nOn Mon, 3 Mar 2025 at 10:12, Support "
                  "<s@acme.com>\nwrote:\n\nWe are sorry, this is awful."),
            "Thanks, it works.\n\n");
  CHECK_STR(clean("Thanks.\n-----Original Message-----\nFrom: Support\n"
                  "Terrible, unacceptable."),
            "Thanks.\n");
  CHECK_STR(clean("Thanks.\n________________________________\nFrom: Support "
                  "<s@acme.com>\nSent: Monday, March 3, 2025 10:12 AM\nTo: "
                  "Anna\nSubject: RE: Locked out again\n\nAwful."),
            "Thanks.\n________________________________\n");
  CHECK_STR(clean("Danke!\nVon: Support\nGesendet: Montag, 3. M\xc3\xa4rz "
                  "2025 10:12\nAn: Anna\nBetreff: Schon wieder"),
            "Danke!\n");
  CHECK_STR(clean("Merci.\nDe : Support\n\xc3\x80 : Anna\nObjet : "
                  "Encore"),
            "Merci.\n");
  CHECK_STR(clean("Merci.\nLe lun. 3 mars 2025 \xc3\xa0 10:12, Support "
                  "<s@acme.com> a \xc3\xa9"
                  "crit :\nC'est nul."),
            "Merci.\n");
  CHECK_STR(clean("Danke.\nAm Mo., 3. M\xc3\xa4rz 2025 um 10:12 Uhr schrieb "
                  "Support <s@acme.com>:\nMist."),
            "Danke.\n");
  CHECK_STR(clean("Gracias.\nEl lun, 3 mar 2025 a las 10:12, Support "
                  "(<s@acme.com>) escribi\xc3\xb3:\nFatal."),
            "Gracias.\n");
  CHECK_STR(clean("Grazie.\nIl giorno lun 3 mar 2025 alle ore 10:12 Support "
                  "ha scritto:\nPessimo."),
            "Grazie.\n");
  CHECK_STR(clean("Bedankt.\nOp ma 3 mrt. 2025 om 10:12 schreef Support:\n"
                  "Slecht."),
            "Bedankt.\n");
  CHECK_STR(clean("Obrigado.\nEm seg., 3 de mar. de 2025 \xc3\xa0s 10:12, "
                  "Support escreveu:\nP\xc3\xa9ssimo."),
            "Obrigado.\n");
  /* Redaction masks go as [NAME] does; words with X stay. */
  CHECK_STR(clean("XXXX XXXX says I owe on XX/XX/XXXX, ref XXXXXXXX."),
            "    says I owe on  , ref  .");
  CHECK_STR(clean("XXL X-ray XX-ray MAXXX XXXX's X"),
            "XXL X-ray XX-ray MAXXX  's X");
  /* The writer's own part is what comes before the quoted mail. */
  const char *reply = "Merci.\nLe lun. 3 mars 2025 \xc3\xa0 10:12, S a "
                      "\xc3\xa9"
                      "crit :\n> Terrible";
  CHECK_STR(own(reply), "Merci.\n");
  CHECK_STR(own("Fix it.\n-- \nJane"), "Fix it.\n");
  CHECK_STR(own("one line wrote:"), "one line wrote:");
  CHECK_STR(own("a\nb\nc"), "a\nb\nc");
  CHECK_STR(own("Fine.\n> You said\nThanks"), "Fine.\nThanks");
  /* A text that is all quote is read whole. */
  CHECK_STR(own("On 3 Mar 2025, S wrote:\n> x"),
            "On 3 Mar 2025, S wrote:\n> x");
  CHECK_STR(own("> a\n> b"), "> a\n> b");
  CHECK_STR(clean("Colis perdu.\nEnvoy\xc3\xa9 de mon iPhone"),
            "Colis perdu.\n");
  CHECK_STR(clean("Paket weg.\nVon meinem iPhone gesendet"), "Paket weg.\n");
  CHECK_STR(clean("Paket weg.\nGesendet von Outlook"), "Paket weg.\n");
  CHECK_STR(clean("Nada.\nEnviado desde mi Android\n"), "Nada.\n");
  CHECK_STR(clean("Niente.\nInviato da iPhone"), "Niente.\n");
  CHECK_STR(clean("Niks.\nVerstuurd vanaf mijn iPad"), "Niks.\n");
  CHECK_STR(clean("Nada.\nEnviado do meu iPhone"), "Nada.\n");
  CHECK_STR(clean("Envoy\xc3\xa9 de mon iPhone"),
            ""); /* as "Sent from my iPhone" */
  /* Markup goes, blocks ending lines; what only looks like it stays. */
  CHECK_STR(clean("<p>The service was terrible</p><p>Refund me</p><br/>"),
            "\nThe service was terrible\n\nRefund me\n\n");
  CHECK_STR(clean("I <3 you, a < b, x<-y, <verylongtagname>, <1>"),
            "I <3 you, a < b, x<-y, <verylongtagname>, <1>");
  /* A simple tag of an unknown name goes too, outside HTML. */
  CHECK_STR(clean("so <sarcasm>great</sarcasm>"), "so  great ");
  /* What only looks like it stays: a form's fields, a sentence. */
  CHECK_STR(clean("From: London\nTo: Paris\nDate: 3 March\nIt crashed again"),
            "From: London\nTo: Paris\nDate: 3 March\nIt crashed again");
  CHECK_STR(clean("On Monday I wrote:\nstill broken"),
            "On Monday I wrote:\nstill broken");
  CHECK_STR(clean("-- Original Message aside, it failed"),
            "-- Original Message aside, it failed");
  CHECK_STR(clean("Am I the only one?\nIl est tard."),
            "Am I the only one?\nIl est tard.");
}

/* Pasted code and logs are not the writer's words. */
static void clean_drops_pasted_code(void)
{
  /* Fenced blocks, with either fence, closed or running to the end. */
  CHECK_STR(clean("Hi, I see this:\n```\nERROR failed: denied\n```\nIdeas?"),
            "Hi, I see this:\nIdeas?");
  CHECK_STR(clean("Log:\n  ~~~~ text\nFATAL\n~~~~\nok"), "Log:\nok");
  CHECK_STR(clean("Log:\n```\nFATAL crash\nstill open"), "Log:\n");
  /* A fence closes only the block of its own character. */
  CHECK_STR(clean("a\n```\nx\n~~~\ny\n```\nb"), "a\nb");
  /* Indented code after a line ending in ':' or a blank line, with the
   * indented lines that follow; the line after it is the writer's. */
  CHECK_STR(clean("Here is the log:\n    Traceback (most recent call last):\n"
                  "      File \"a.py\"\nValueError: bad\nCan you look?"),
            "Here is the log:\nValueError: bad\nCan you look?");
  CHECK_STR(clean("Trace\n\n\tat a.B(C.java:1)\n\tat d.E(F.java:2)\nHelp"),
            "Trace\n\nHelp");
  /* Indented text after a sentence, or alone, stays. */
  CHECK_STR(clean("I tried twice\n    and it broke"),
            "I tried twice\n    and it broke");
  CHECK_STR(clean("    indented first line"), "    indented first line");
  /* Log records, bracketed or not; a date alone stays. */
  CHECK_STR(clean("Again:\n2024-05-01 12:00:03 ERROR timeout\n"
                  "[2024-05-01T12:00:04Z] FATAL abort\nWhy?"),
            "Again:\nWhy?");
  CHECK_STR(clean("2024-05-01 was the day it broke"),
            "2024-05-01 was the day it broke");
  CHECK_STR(clean("Again:\n2024-05-01 12:00 and still no refund"),
            "Again:\n2024-05-01 12:00 and still no refund");
  CHECK_STR(clean("3 days, ``` no fence here"), "3 days, ``` no fence here");
  CHECK(!detector_clean_keeps("```", 3));
  CHECK(!detector_clean_keeps("2024-05-01 12:00:03 ERROR x", 27));
  CHECK(detector_clean_keeps("2 days late", 11));
  /* A signature inside a fenced block does not end the text. */
  const char *fenced = "Look:\n```\n-- \nlog\n```\nThanks";
  CHECK_STR(own(fenced), "Look:\nThanks");
  CHECK_STR(clean(fenced), "Look:\nThanks");
  /* The own words are the kept lines as they are, not cleaned. */
  CHECK_STR(own("See https://x.io:\n```\nFATAL\n```\n@bob &amp; me"),
            "See https://x.io:\n@bob &amp; me");
  CHECK_STR(own("```\nonly a log\n```"), "```\nonly a log\n```");
}

/* HTML is read as the text a reader sees, down to the quoted part. */
static void clean_reads_html(void)
{
  CHECK_STR(clean("<div dir=\"ltr\">Thanks, it <b>works</b>.</div><div "
                  "class=\"gmail_quote\"><div class=\"gmail_attr\">On Mon, "
                  "Support wrote:<br></div><blockquote class=\"gmail_quote\">"
                  "Awful, unacceptable.</blockquote></div>"),
            "\nThanks, it  works .\n");
  CHECK_STR(clean("<p>Fine now.</p>\n<blockquote type=\"cite\">terrible"
                  "</blockquote><p>after</p>"),
            "\nFine now.\n\n");
  CHECK_STR(clean("<p>Merci</p><div id=\"divRplyFwdMsg\"><b>De :</b> "
                  "Support</div>Nul."),
            "\nMerci\n");
  CHECK_STR(clean("<html><head><title>x</title><style>p {color: red}"
                  "</style></head><body><p>Where is my <a href=\"https://"
                  "acme.example/o/1\">order</a>?</p><!-- a comment --></body>"
                  "</html>"),
            "\n  \n\nWhere is my  order ?\n \n\n");
  /* Word's namespaced tags, entities decoded after the markup goes. */
  CHECK_STR(clean("<p class=\"MsoNormal\">Still &nbsp;broken<o:p></o:p></p>"),
            "\nStill  broken  \n");
  /* Prose with angle brackets is not HTML. */
  CHECK_STR(clean("Are you <more specific type of related>?"),
            "Are you <more specific type of related>?");
  CHECK_STR(clean("<<creepy face.jpg>>"), "<<creepy face.jpg>>");
  /* A '<' at the very end (ASan reads past no byte). */
  CHECK_STR(clean("so <"), "so <");
  CHECK_STR(clean("<p>so <"), "\nso <");
  /* A line break the markup makes ends a line for the mail rules. */
  CHECK_STR(clean("Thanks!<br>On Mon, 3 Mar 2025, Support wrote:<br>Awful"),
            "Thanks!\n");
  /* The own words are the text's, without the markup. */
  CHECK_STR(own("<p>Merci, \xc3\xa7"
                "a marche.</p><blockquote>Awful"),
            "\nMerci, \xc3\xa7"
            "a marche.\n");
  CHECK_STR(own("<blockquote>all quoted</blockquote>"),
            "<blockquote>all quoted</blockquote>");
  CHECK(!detector_clean_keeps("<p>x</p>", 8));
}

static void clean_never_grows_and_keeps_utf8(void)
{
  const char *s = "caf\xc3\xa9 &#x1F621; &#128545; \xe2\x80\x9cok\xe2\x80\x9d";
  char out[128];
  size_t n = detector_clean(s, strlen(s), out);
  CHECK(n <= strlen(s));
  CHECK(utf8_is_valid(out, n));
  out[n] = '\0';
  CHECK_STR(out, "caf\xc3\xa9 \xf0\x9f\x98\xa1 \xf0\x9f\x98\xa1 "
                 "\xe2\x80\x9cok\xe2\x80\x9d");
}

/* Expected compounds from the npm package vader-sentiment 1.1.3 (the
 * JavaScript reference these rules follow), including its quirks: "Not"
 * with a capital does not negate. */
static void vader_matches_reference(void)
{
  static const struct {
    const char *text;
    double compound;
  } cases[] = {
      {"VADER is smart, handsome, and funny.", 0.8316},
      {"VADER is smart, handsome, and funny!", 0.8439},
      {"VADER is very smart, handsome, and funny.", 0.8545},
      {"VADER is VERY SMART, handsome, and FUNNY.", 0.9227},
      {"VADER is VERY SMART, handsome, and FUNNY!!!", 0.9342},
      {"VADER is not smart, handsome, nor funny.", -0.7424},
      {"The book was good.", 0.4404},
      {"At least it isn't a horrible book.", 0.431},
      {"The book was only kind of good.", 0.3832},
      {"The plot was good, but the characters are uncompelling and the "
       "dialog is not great.",
       -0.7042},
      {"Today SUX!", -0.5461},
      {"Today only kinda sux! But I'll get by, lol", 0.2228},
      {"Make sure you :) or :D today!", 0.8633},
      {"Not bad at all", -0.5423},
      {"This is the worst service ever!!!", -0.7163},
      {"I have been waiting for an hour", 0.0},
      {"yeah right, great service", 0.743},
      {"least helpful agent", -0.3252},
      {"", 0.0},
  };
  struct vader *v = NULL;
  CHECK_INT(vader_new(&v), ERR_OK);
  CHECK(vader_size(v) > 7000);
  CHECK_NEAR(vader_valence(v, "horrible", 8), -2.5, 1e-12);
  CHECK_NEAR(vader_valence(v, "zzzz", 4), 0.0, 0);
  struct vader_result r;
  vader_result_init(&r);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    vader_score(v, cases[i].text, strlen(cases[i].text), &r);
    if (fabs(r.compound - cases[i].compound) > 1e-9)
      FAIL_AT("\"%s\": compound %.4f, VADER says %.4f", cases[i].text,
              r.compound, cases[i].compound);
    harness_checks++;
  }
  /* The hits point at the words in the text. */
  const char *t = "This is the worst service ever!!!";
  vader_score(v, t, strlen(t), &r);
  CHECK_INT(r.n_hits, 1);
  CHECK(r.n_hits == 1 && r.hits[0].len == 5 &&
        !memcmp(t + r.hits[0].off, "worst", 5));
  CHECK(r.n_hits == 1 && r.hits[0].valence < 0);
  vader_result_cleanup(&r);
  vader_free(v);
}

static void support_phrases_give_reasons(void)
{
  const struct detector_result *r =
      score("This is the third time I'm asking and I'm still waiting for my "
            "refund.");
  CHECK(r->frustrated);
  CHECK(has_reason(r, "repeated contact: 'third time'"));
  CHECK(has_reason(r, "'still waiting'"));
  CHECK(has_reason(r, "refund or cancellation: 'refund'"));
  r = score("The app doesnt work and I want to escalate this to a manager.");
  CHECK(has_reason(r, "not working: 'doesnt work'"));
  CHECK(has_reason(r, "escalation: 'escalate', 'manager'"));
}

static void obvious_cases(void)
{
  static const char *const angry[] = {
      "This is ridiculous. I've been on hold for two hours and nobody "
      "answers!",
      "WORST SERVICE EVER. I WANT MY MONEY BACK NOW!!!",
      "Third time I'm writing about this. Still broken. Unacceptable.",
      "Your app keeps crashing and support never replies. Cancel my "
      "account.",
      "My order is two weeks late and the tracking hasn't changed in days.",
  };
  static const char *const calm[] = {
      "Thanks so much, that fixed it!",
      "Hi, could you tell me how to update my billing address?",
      "Great service, the package arrived early. Thank you!",
      "What are your opening hours on Saturday?",
      "Perfect, have a nice day.",
  };
  for (size_t i = 0; i < sizeof angry / sizeof angry[0]; i++) {
    const struct detector_result *r = score(angry[i]);
    if (!r->frustrated || r->n_reasons == 0)
      FAIL_AT("not flagged: \"%s\" (score %.3f)", angry[i], r->score);
    harness_checks++;
  }
  for (size_t i = 0; i < sizeof calm / sizeof calm[0]; i++) {
    const struct detector_result *r = score(calm[i]);
    if (r->frustrated || r->score > 0.4)
      FAIL_AT("flagged: \"%s\" (score %.3f)", calm[i], r->score);
    harness_checks++;
  }
}

static void reasons_are_readable(void)
{
  const struct detector_result *r =
      score("WHY IS NOBODY ANSWERING?? I am so angry, this is the worst!!!");
  CHECK(r->n_reasons >= 2);
  CHECK(r->n_reasons <= DETECTOR_MAX_REASONS);
  CHECK(has_reason(r, "negative words: 'angry', 'worst'"));
  /* Capitals are a signal; whether they make a reason is up to the
   * model's weight for them. */
  CHECK(r->features.dense[DETECTOR_DENSE_SHOUTING] == 1.0);
  for (size_t i = 0; i < r->n_reasons; i++) {
    const char *t = r->reasons[i].text;
    CHECK(strlen(t) > 5 && strlen(t) < DETECTOR_REASON_MAX);
    CHECK(utf8_is_valid(t, strlen(t)));
    CHECK(r->reasons[i].weight > 0);
    if (i > 0)
      CHECK(r->reasons[i].weight <= r->reasons[i - 1].weight);
    /* Words, not bucket numbers. */
    bool digits_only = true;
    for (const char *p = t; *p; p++)
      digits_only = digits_only && (*p >= '0' && *p <= '9');
    CHECK(!digits_only);
  }
  CHECK(r->shouting);
  /* A calm reply above a quoted support thread is calm: the quoted mail
   * is not read (it scored 0.98 when it was). */
  r = score("Thanks, that worked and my account is unlocked now.\n\n"
            "________________________________\nFrom: Support "
            "<support@acme.com>\nSent: Monday, March 3, 2025 10:12 AM\nTo: "
            "Anna\nSubject: RE: Locked out again - terrible service\n\nWe "
            "are sorry you are frustrated. It is unacceptable to be locked "
            "out three times this week and we apologize for the awful "
            "experience.");
  CHECK(!r->frustrated);
  CHECK(r->score < 0.4);
  /* One acronym is not shouting. */
  r = score("Where is my order, USPS says delivered");
  CHECK(r->features.dense[DETECTOR_DENSE_SHOUTING] == 0.0);
  CHECK(!r->shouting);
  /* Acronyms, codes and redaction masks turn the model's capitals signal
   * on, but they do not shout (the reasons and the level's anger signal
   * read r->shouting); a run of three capitals words or one of five
   * letters does, when there are enough capitals for the signal. */
  static const struct {
    const char *text;
    bool shouts;
  } caps[] = {
      {"Flew NYC to SFO via LAX, the TSA line took an hour", false},
      {"XXXX XXXX XXXX reported a debt I never owed", false},
      {"On XX/XX/XXXX the bank closed my account, ref XXXXXXXX", false},
      {"SFO-PDX schedule is still MIA", false},
      {"WHERE IS MY REFUND", true},
      {"this is a JOKE", false},
      {"I AM SO DONE WITH THIS", true},
      {"XXXX said the REFUND was SENT", true},
  };
  for (size_t i = 0; i < sizeof caps / sizeof *caps; i++) {
    r = score(caps[i].text);
    if (r->shouting != caps[i].shouts)
      FAIL_AT("\"%s\": shouting %d, want %d", caps[i].text, r->shouting,
              caps[i].shouts);
    harness_checks++;
  }
  /* A calm message has no reasons to show. */
  r = score("Thank you, the refund arrived this morning.");
  CHECK_INT(r->n_reasons, 0);
  /* Long words are quoted shortened, and stay valid UTF-8. */
  char big[600];
  strcpy(big, "terrible ");
  for (int i = 0; i < 100; i++)
    strcat(big, "\xc3\xa9");
  strcat(big, " worst awful");
  r = score(big);
  for (size_t i = 0; i < r->n_reasons; i++)
    CHECK(utf8_is_valid(r->reasons[i].text, strlen(r->reasons[i].text)));
}

static void scores_are_bounded_and_deterministic(void)
{
  static const char *const texts[] = {
      "",
      " ",
      "!!!!",
      "???",
      "a",
      "\xf0\x9f\x98\xa1\xf0\x9f\x98\xa1",
      "not not not not",
      "ok",
      "&amp;&amp;",
      "> only a quote",
  };
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    double s1 = score(texts[i])->score;
    double s2 = score(texts[i])->score;
    CHECK(s1 >= 0.0 && s1 <= 1.0);
    CHECK(s1 == s2);
  }
  /* Extreme signal values stay in range, NaN is ignored. */
  CHECK_INT(detector_score(det, "x", 1, LANG_EN, -1e300, 1e300, &res), ERR_OK);
  CHECK(res.score >= 0 && res.score <= 1);
  CHECK_INT(detector_score(det, "x", 1, LANG_EN, NAN, NAN, &res), ERR_OK);
  CHECK(res.score >= 0 && res.score <= 1);
  CHECK_INT(detector_score(det, "bad \xff utf8", 10, LANG_EN, 0, 0, &res),
            ERR_UTF8);
  CHECK(res.score == 0.0 && res.n_reasons == 0);
  /* Texts past DETECTOR_MAX_TEXT are scored on their head. */
  size_t n = DETECTOR_MAX_TEXT + 1000;
  char *huge = malloc(n);
  for (size_t i = 0; i < n; i++)
    huge[i] = "awful delay "[i % 12];
  CHECK_INT(detector_score(det, huge, n, LANG_EN, -0.5, 0.9, &res), ERR_OK);
  CHECK(res.score >= 0 && res.score <= 1);
  free(huge);
}

static void features_are_deterministic(void)
{
  const char *t = "I've asked 3 times: where's my REFUND?! @shop #fail";
  struct detector_result a, b;
  detector_result_init(&a);
  detector_result_init(&b);
  a.keep_features = b.keep_features = true;
  CHECK_INT(detector_score(det, t, strlen(t), LANG_EN, -0.2, 0.4, &a), ERR_OK);
  /* Score something else in between: no state may leak. */
  CHECK_INT(detector_score(det, "hello there", 11, LANG_EN, 0, 0, &b), ERR_OK);
  CHECK_INT(detector_score(det, t, strlen(t), LANG_EN, -0.2, 0.4, &b), ERR_OK);
  CHECK(a.features.n > 20);
  CHECK_INT(a.features.n, b.features.n);
  CHECK(!memcmp(a.features.idx, b.features.idx,
                a.features.n * sizeof *a.features.idx));
  CHECK(!memcmp(a.features.val, b.features.val,
                a.features.n * sizeof *a.features.val));
  CHECK(!memcmp(a.features.dense, b.features.dense, sizeof a.features.dense));
  CHECK(a.score == b.score);
  for (size_t i = 0; i < a.features.n; i++)
    CHECK(a.features.idx[i] < (1u << model->hash_bits));
  /* The signals carry what they say. */
  CHECK(a.features.dense[DETECTOR_DENSE_SUP_MONEY] > 0);
  CHECK(a.features.dense[DETECTOR_DENSE_QUESTION_MULTI] == 1.0);
  CHECK(a.features.dense[DETECTOR_DENSE_POLARITY] == -0.2);
  /* Without keep_features, no hashed features are stored. */
  CHECK_INT(detector_score(det, t, strlen(t), LANG_EN, -0.2, 0.4, &res),
            ERR_OK);
  CHECK_INT(res.features.n, 0);
  CHECK(res.score == a.score);
  detector_result_cleanup(&a);
  detector_result_cleanup(&b);
}

/* A post that starts with an @handle is written to someone in public;
 * the handle itself is cleaned away, so this signal is all that is left
 * of it. */
static void addressed_posts_and_services(void)
{
  static const char *const addressed[] = {
      "@acme where is my parcel",
      ".@acme where is my parcel",
      "  @acme_help where is my parcel",
      "\n@Acme2 hi",
  };
  for (size_t i = 0; i < sizeof addressed / sizeof *addressed; i++)
    if (score(addressed[i])->features.dense[DETECTOR_DENSE_ADDRESSED] != 1.0)
      FAIL_AT("not addressed: \"%s\"", addressed[i]);
  static const char *const not_addressed[] = {
      "where is my parcel @acme",
      "mail me at jo@example.com",
      "@ home now",
      "@",
      "hi .@acme",
      "@@acme",
  };
  for (size_t i = 0; i < sizeof not_addressed / sizeof *not_addressed; i++)
    if (score(not_addressed[i])->features.dense[DETECTOR_DENSE_ADDRESSED] !=
        0.0)
      FAIL_AT("addressed: \"%s\"", not_addressed[i]);
  harness_checks++;
  /* Services named: a yes or no for the model, never a reason, and not a
   * complaint phrase. */
  const struct detector_result *r =
      score("My order and my delivery are late again, useless service!!");
  CHECK(r->features.dense[DETECTOR_DENSE_SUP_SERVICE] == 1.0);
  CHECK(r->frustrated);
  CHECK(!has_reason(r, "'order'"));
  CHECK(!has_reason(r, "'delivery'"));
  CHECK(!has_reason(r, "service named"));
  CHECK(has_reason(r, "'useless'"));
  r = score("I love this song");
  CHECK(r->features.dense[DETECTOR_DENSE_SUP_SERVICE] == 0.0);
  /* "customer service" is one service, and it does not hide the
   * complaint after it. */
  r = score("customer service never replied");
  CHECK(r->features.dense[DETECTOR_DENSE_SUP_SERVICE] == 1.0);
  CHECK(r->features.dense[DETECTOR_DENSE_SUP_WAIT] > 0);
}

/* What a score says, kept for comparing. */
struct said {
  double score;
  size_t n;
  char text[DETECTOR_MAX_REASONS][DETECTOR_REASON_MAX];
  double weight[DETECTOR_MAX_REASONS];
  bool plain[DETECTOR_MAX_REASONS];
};

static void say(struct detector *d, const char *t, struct said *out)
{
  CHECK_INT(polarity_analyze(lx, t, strlen(t), &pr), ERR_OK);
  CHECK_INT(detector_score(d, t, strlen(t), LANG_EN, pr.polarity,
                           pr.subjectivity, &res),
            ERR_OK);
  out->score = res.score;
  out->n = res.n_reasons;
  for (size_t i = 0; i < res.n_reasons; i++) {
    snprintf(out->text[i], sizeof out->text[i], "%s", res.reasons[i].text);
    out->weight[i] = res.reasons[i].weight;
    out->plain[i] = res.reasons[i].plain;
    /* A reason said to be plain has nothing JSON escapes. */
    for (const char *c = res.reasons[i].text; res.reasons[i].plain && *c; c++)
      CHECK(*c != '"' && *c != '\\' && (unsigned char)*c >= 0x20);
  }
}

static bool same_said(const struct said *a, const struct said *b)
{
  if (a->score != b->score || a->n != b->n)
    return false;
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->text[i], b->text[i]) || a->weight[i] != b->weight[i] ||
        a->plain[i] != b->plain[i])
      return false;
  return true;
}

/* A token is read the slow way the first time (its words split, VADER's
 * reading, the memos filled) and from the memos afterwards, where a token
 * of one word carries its word's parts and one of two points at theirs;
 * a token too long for the memo is read the slow way every time. Each
 * way must say the same, with the memos on the heap or in huge pages. */
static void memo_paths_agree(void)
{
  static const char *const texts[] = {
      "Still waiting for my refund, third time asking!!!",
      "THIS IS UNACCEPTABLE. Cancel my subscription now.",
      "the app is not working again... well-known bug/issue, e-mail me",
      "I am still \"waiting\" for a reply \xf0\x9f\x98\xa1\xf0\x9f\x98\xa1",
      "caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9 is terrible, "
      "it\xe2\x80\x99s awful",
      "unbelievablyfrustratingexperience!!! worst.service.ever.seriously",
      "still\twaiting, still\\waiting, still\x01waiting for the refund",
      "@support https://example.com/x why is my order late?? escalate",
      "a\xe1\x9a\x80"
      "b: the ogham space makes VADER read it whole",
      "not bad, not bad at all, thanks for fixing it so fast",
      "x/y/z a-b-c 1,2,3 don't won't can't NEVER again",
      "",
  };
  enum { N = sizeof texts / sizeof texts[0] };
  static struct said cold[N], warm[N], batch[N];
  struct detector *fresh = NULL, *huge = NULL;
  CHECK_INT(detector_new(model, &fresh), ERR_OK);
  CHECK_INT(detector_new_batch(model, &huge), ERR_OK);
  if (!fresh || !huge)
    return;
  for (size_t i = 0; i < N; i++)
    say(fresh, texts[i], &cold[i]);
  for (size_t i = 0; i < N; i++)
    say(fresh, texts[i], &warm[i]);
  for (size_t i = N; i-- > 0;) /* the other order: other memo contents */
    say(huge, texts[i], &batch[i]);
  size_t with_reasons = 0;
  for (size_t i = 0; i < N; i++) {
    if (!same_said(&cold[i], &warm[i]) || !same_said(&cold[i], &batch[i]))
      FAIL_AT("'%s': the memo paths disagree", texts[i]);
    with_reasons += cold[i].n > 0;
  }
  CHECK(with_reasons >= 6); /* the reasons were compared too */
  detector_free(fresh);
  detector_free(huge);
}

static void model_file_round_trips(void)
{
  struct buf b;
  buf_init(&b, 0);
  CHECK_INT(detector_model_serialize(model, &b), ERR_OK);
  struct detector_model *m2 = NULL;
  CHECK_INT(detector_model_parse(b.data, b.len, &m2), ERR_OK);
  CHECK(m2 && m2->hash_bits == model->hash_bits);
  CHECK(m2 && m2->threshold == model->threshold);
  CHECK(m2 && !memcmp(m2->hash_w, model->hash_w,
                      ((size_t)1 << model->hash_bits) * sizeof(float)));
  CHECK(detector_model_trained_on(model, "goemotions"));
  CHECK(detector_model_trained_on(model, "project-authored"));
  CHECK(!detector_model_trained_on(model, "twitter_us_airline_sentiment"));
  CHECK(!detector_model_trained_on(model, "goemotion"));
  detector_model_free(m2);
  /* Damage is refused: truncation, magic, version, a NaN weight. */
  struct detector_model *bad = NULL;
  CHECK_INT(detector_model_parse(b.data, b.len - 1, &bad), ERR_INVALID);
  CHECK_INT(detector_model_parse(b.data, 10, &bad), ERR_INVALID);
  b.data[0] = 'X';
  CHECK_INT(detector_model_parse(b.data, b.len, &bad), ERR_INVALID);
  b.data[0] = 'F';
  b.data[8]++; /* feature version */
  CHECK_INT(detector_model_parse(b.data, b.len, &bad), ERR_UNSUPPORTED);
  b.data[8]--;
  memset(b.data + b.len - 4, 0xff, 4); /* a NaN */
  CHECK_INT(detector_model_parse(b.data, b.len, &bad), ERR_INVALID);
  CHECK(bad == NULL);
  buf_cleanup(&b);
  CHECK(detector_model_new(3) == NULL);
}

static void split_is_documented_rule(void)
{
  CHECK_INT(detector_fold_of("abc", 3, "dev"), -1);
  CHECK_INT(detector_fold_of("abc", 3, "test"), -1);
  int f = detector_fold_of("abc", 3, "train");
  CHECK(f >= 0 && f < DETECTOR_FOLDS);
  CHECK_INT(detector_fold_of("abc", 3, NULL), f);
  /* FNV-1a 64 of "" is its offset basis, 14695981039346656037 % 5 == 2. */
  CHECK_INT(detector_fold_of("", 0, NULL), 2);
}

int main(void)
{
  CHECK_INT(lexicon_new(LEXICON_EN, &lx), ERR_OK);
  CHECK_INT(detector_model_builtin(&model), ERR_OK);
  if (!lx || !model)
    HARNESS_EXIT();
  CHECK_INT(detector_new(model, &det), ERR_OK);
  polarity_result_init(&pr);
  detector_result_init(&res);
  RUN(clean_removes_noise);
  RUN(clean_drops_quotes_and_signatures);
  RUN(clean_drops_pasted_code);
  RUN(clean_reads_html);
  RUN(clean_never_grows_and_keeps_utf8);
  RUN(vader_matches_reference);
  RUN(support_phrases_give_reasons);
  RUN(obvious_cases);
  RUN(reasons_are_readable);
  RUN(addressed_posts_and_services);
  RUN(scores_are_bounded_and_deterministic);
  RUN(features_are_deterministic);
  RUN(memo_paths_agree);
  RUN(model_file_round_trips);
  RUN(split_is_documented_rule);
  detector_result_cleanup(&res);
  polarity_result_cleanup(&pr);
  detector_free(det);
  detector_model_free(model);
  lexicon_free(lx);
  HARNESS_EXIT();
}
