/* support: the support-domain phrase lexicon (see support.h).
 *
 * Written by the project from what customers of any service write when a
 * problem drags on; not derived from any data set. Single words that are
 * often neutral ("problem", "late") are here on purpose: the model weighs
 * each category as a whole, and the reasons show the phrase itself. */
#include "detector/support.h"

#include <string.h>

static const char *const cat_labels[SUPPORT_N_CATS] = {
    [SUPPORT_REPEAT] = "repeated contact",
    [SUPPORT_WAIT] = "waiting, no answer",
    [SUPPORT_BROKEN] = "not working",
    [SUPPORT_MONEY] = "refund or cancellation",
    [SUPPORT_ESCALATE] = "escalation",
    [SUPPORT_STRONG] = "complaint",
    [SUPPORT_THANKS] = "thanks",
};

static const struct {
  const char *phrase;
  enum support_cat cat;
} phrases[] = {
    /* Repeated contact. */
    {"again", SUPPORT_REPEAT},
    {"yet again", SUPPORT_REPEAT},
    {"once again", SUPPORT_REPEAT},
    {"still", SUPPORT_REPEAT},
    {"still not", SUPPORT_REPEAT},
    {"still no", SUPPORT_REPEAT},
    {"still nothing", SUPPORT_REPEAT},
    {"second time", SUPPORT_REPEAT},
    {"third time", SUPPORT_REPEAT},
    {"fourth time", SUPPORT_REPEAT},
    {"fifth time", SUPPORT_REPEAT},
    {"0nd time", SUPPORT_REPEAT},
    {"0rd time", SUPPORT_REPEAT},
    {"0th time", SUPPORT_REPEAT},
    {"umpteenth time", SUPPORT_REPEAT},
    {"many times", SUPPORT_REPEAT},
    {"so many times", SUPPORT_REPEAT},
    {"how many times", SUPPORT_REPEAT},
    {"multiple times", SUPPORT_REPEAT},
    {"several times", SUPPORT_REPEAT},
    {"countless times", SUPPORT_REPEAT},
    {"0 times", SUPPORT_REPEAT},
    {"every time", SUPPORT_REPEAT},
    {"twice", SUPPORT_REPEAT},
    {"three times", SUPPORT_REPEAT},
    {"over and over", SUPPORT_REPEAT},
    {"repeatedly", SUPPORT_REPEAT},
    {"keep asking", SUPPORT_REPEAT},
    {"kept asking", SUPPORT_REPEAT},
    {"keep getting", SUPPORT_REPEAT},
    {"keeps happening", SUPPORT_REPEAT},
    {"keep happening", SUPPORT_REPEAT},
    {"already told", SUPPORT_REPEAT},
    {"already explained", SUPPORT_REPEAT},
    {"already asked", SUPPORT_REPEAT},
    {"already called", SUPPORT_REPEAT},
    {"already sent", SUPPORT_REPEAT},
    {"already contacted", SUPPORT_REPEAT},
    {"as i said", SUPPORT_REPEAT},
    {"like i said", SUPPORT_REPEAT},
    {"as i mentioned", SUPPORT_REPEAT},
    {"same issue", SUPPORT_REPEAT},
    {"same problem", SUPPORT_REPEAT},
    {"same thing", SUPPORT_REPEAT},
    {"same answer", SUPPORT_REPEAT},
    {"follow up", SUPPORT_REPEAT},
    {"following up", SUPPORT_REPEAT},
    {"another email", SUPPORT_REPEAT},
    {"another call", SUPPORT_REPEAT},
    {"reopen", SUPPORT_REPEAT},
    {"reopened", SUPPORT_REPEAT},

    /* Waiting, no answer, delays. */
    {"waiting", SUPPORT_WAIT},
    {"still waiting", SUPPORT_WAIT},
    {"been waiting", SUPPORT_WAIT},
    {"waited", SUPPORT_WAIT},
    {"wait time", SUPPORT_WAIT},
    {"on hold", SUPPORT_WAIT},
    {"hours on hold", SUPPORT_WAIT},
    {"no response", SUPPORT_WAIT},
    {"no reply", SUPPORT_WAIT},
    {"no answer", SUPPORT_WAIT},
    {"no one", SUPPORT_WAIT},
    {"nobody", SUPPORT_WAIT},
    {"no update", SUPPORT_WAIT},
    {"no updates", SUPPORT_WAIT},
    {"no word", SUPPORT_WAIT},
    {"no callback", SUPPORT_WAIT},
    {"no call back", SUPPORT_WAIT},
    {"not responding", SUPPORT_WAIT},
    {"never responded", SUPPORT_WAIT},
    {"never replied", SUPPORT_WAIT},
    {"never answered", SUPPORT_WAIT},
    {"never heard back", SUPPORT_WAIT},
    {"never called back", SUPPORT_WAIT},
    {"haven't heard", SUPPORT_WAIT},
    {"have not heard", SUPPORT_WAIT},
    {"hasn't arrived", SUPPORT_WAIT},
    {"has not arrived", SUPPORT_WAIT},
    {"never arrived", SUPPORT_WAIT},
    {"never received", SUPPORT_WAIT},
    {"never got", SUPPORT_WAIT},
    {"not received", SUPPORT_WAIT},
    {"didn't receive", SUPPORT_WAIT},
    {"haven't received", SUPPORT_WAIT},
    {"have not received", SUPPORT_WAIT},
    {"yet to", SUPPORT_WAIT},
    {"ignored", SUPPORT_WAIT},
    {"ignoring", SUPPORT_WAIT},
    {"unanswered", SUPPORT_WAIT},
    {"hung up", SUPPORT_WAIT},
    {"hung up on me", SUPPORT_WAIT},
    {"hang up", SUPPORT_WAIT},
    {"hangs up", SUPPORT_WAIT},
    {"no follow up", SUPPORT_WAIT},
    {"delayed", SUPPORT_WAIT},
    {"delay", SUPPORT_WAIT},
    {"delays", SUPPORT_WAIT},
    {"late", SUPPORT_WAIT},
    /* Durations, not "opening hours": with a number or "for". */
    {"0 hours", SUPPORT_WAIT},
    {"0 hrs", SUPPORT_WAIT},
    {"0 days", SUPPORT_WAIT},
    {"0 weeks", SUPPORT_WAIT},
    {"for hours", SUPPORT_WAIT},
    {"for days", SUPPORT_WAIT},
    {"for weeks", SUPPORT_WAIT},
    {"two hours", SUPPORT_WAIT},
    {"two days", SUPPORT_WAIT},
    {"two weeks", SUPPORT_WAIT},
    {"three days", SUPPORT_WAIT},
    {"three weeks", SUPPORT_WAIT},
    {"an hour", SUPPORT_WAIT},
    {"taking forever", SUPPORT_WAIT},
    {"takes forever", SUPPORT_WAIT},
    {"took forever", SUPPORT_WAIT},
    {"forever", SUPPORT_WAIT},
    {"too long", SUPPORT_WAIT},
    {"so long", SUPPORT_WAIT},
    {"how long", SUPPORT_WAIT},
    {"when will", SUPPORT_WAIT},
    {"stuck", SUPPORT_WAIT},
    {"stranded", SUPPORT_WAIT},

    /* Not working. */
    {"not working", SUPPORT_BROKEN},
    {"isn't working", SUPPORT_BROKEN},
    {"is not working", SUPPORT_BROKEN},
    {"doesn't work", SUPPORT_BROKEN},
    {"does not work", SUPPORT_BROKEN},
    {"didn't work", SUPPORT_BROKEN},
    {"did not work", SUPPORT_BROKEN},
    {"won't work", SUPPORT_BROKEN},
    {"stopped working", SUPPORT_BROKEN},
    {"can't log in", SUPPORT_BROKEN},
    {"can't login", SUPPORT_BROKEN},
    {"cannot log in", SUPPORT_BROKEN},
    {"cannot login", SUPPORT_BROKEN},
    {"can't access", SUPPORT_BROKEN},
    {"cannot access", SUPPORT_BROKEN},
    {"unable to", SUPPORT_BROKEN},
    {"won't load", SUPPORT_BROKEN},
    {"won't open", SUPPORT_BROKEN},
    {"doesn't load", SUPPORT_BROKEN},
    {"keeps crashing", SUPPORT_BROKEN},
    {"crash", SUPPORT_BROKEN},
    {"crashes", SUPPORT_BROKEN},
    {"crashed", SUPPORT_BROKEN},
    {"crashing", SUPPORT_BROKEN},
    {"broken", SUPPORT_BROKEN},
    {"broke", SUPPORT_BROKEN},
    {"bug", SUPPORT_BROKEN},
    {"buggy", SUPPORT_BROKEN},
    {"glitch", SUPPORT_BROKEN},
    {"error", SUPPORT_BROKEN},
    {"errors", SUPPORT_BROKEN},
    {"failed", SUPPORT_BROKEN},
    {"fails", SUPPORT_BROKEN},
    {"failing", SUPPORT_BROKEN},
    {"failure", SUPPORT_BROKEN},
    {"outage", SUPPORT_BROKEN},
    {"is down", SUPPORT_BROKEN},
    {"lost", SUPPORT_BROKEN},
    {"missing", SUPPORT_BROKEN},
    {"damaged", SUPPORT_BROKEN},
    {"wrong", SUPPORT_BROKEN},
    {"incorrect", SUPPORT_BROKEN},
    {"defective", SUPPORT_BROKEN},
    {"faulty", SUPPORT_BROKEN},
    {"messed up", SUPPORT_BROKEN},
    {"screwed up", SUPPORT_BROKEN},
    {"problem", SUPPORT_BROKEN},
    {"problems", SUPPORT_BROKEN},
    {"issue", SUPPORT_BROKEN},
    {"issues", SUPPORT_BROKEN},
    {"missed", SUPPORT_BROKEN},
    {"missed my", SUPPORT_BROKEN},
    {"doesn't help", SUPPORT_BROKEN},
    {"does not help", SUPPORT_BROKEN},
    {"didn't help", SUPPORT_BROKEN},
    {"did not help", SUPPORT_BROKEN},
    {"not what i asked", SUPPORT_BROKEN},
    {"not what i wanted", SUPPORT_BROKEN},
    {"makes no sense", SUPPORT_BROKEN},
    {"doesn't make sense", SUPPORT_BROKEN},
    {"does not make sense", SUPPORT_BROKEN},
    {"not listening", SUPPORT_BROKEN},
    {"you're not listening", SUPPORT_BROKEN},
    {"you don't understand", SUPPORT_BROKEN},
    {"you do not understand", SUPPORT_BROKEN},
    {"wrong answer", SUPPORT_BROKEN},
    {"not useful", SUPPORT_BROKEN},
    {"not my question", SUPPORT_BROKEN},
    {"answer my question", SUPPORT_BROKEN},
    {"canned response", SUPPORT_BROKEN},
    {"copy paste", SUPPORT_BROKEN},
    {"stupid bot", SUPPORT_BROKEN},
    {"useless bot", SUPPORT_BROKEN},

    /* Refunds, charges, cancellations. */
    {"refund", SUPPORT_MONEY},
    {"refunds", SUPPORT_MONEY},
    {"refunded", SUPPORT_MONEY},
    {"money back", SUPPORT_MONEY},
    {"my money", SUPPORT_MONEY},
    {"charged", SUPPORT_MONEY},
    {"overcharged", SUPPORT_MONEY},
    {"double charged", SUPPORT_MONEY},
    {"charged twice", SUPPORT_MONEY},
    {"fee", SUPPORT_MONEY},
    {"fees", SUPPORT_MONEY},
    {"cancel", SUPPORT_MONEY},
    {"cancelled", SUPPORT_MONEY},
    {"canceled", SUPPORT_MONEY},
    {"cancelling", SUPPORT_MONEY},
    {"canceling", SUPPORT_MONEY},
    {"cancellation", SUPPORT_MONEY},
    {"compensation", SUPPORT_MONEY},
    {"compensate", SUPPORT_MONEY},
    {"reimburse", SUPPORT_MONEY},
    {"reimbursement", SUPPORT_MONEY},
    {"voucher", SUPPORT_MONEY},
    {"chargeback", SUPPORT_MONEY},
    {"dispute", SUPPORT_MONEY},
    {"waste of money", SUPPORT_MONEY},
    {"waste of time", SUPPORT_MONEY},
    {"rip off", SUPPORT_MONEY},
    {"ripoff", SUPPORT_MONEY},
    {"scam", SUPPORT_MONEY},

    /* Escalation, leaving. */
    {"escalate", SUPPORT_ESCALATE},
    {"escalated", SUPPORT_ESCALATE},
    {"escalating", SUPPORT_ESCALATE},
    {"manager", SUPPORT_ESCALATE},
    {"supervisor", SUPPORT_ESCALATE},
    {"complaint", SUPPORT_ESCALATE},
    {"complain", SUPPORT_ESCALATE},
    {"complaining", SUPPORT_ESCALATE},
    {"lawyer", SUPPORT_ESCALATE},
    {"legal action", SUPPORT_ESCALATE},
    {"sue", SUPPORT_ESCALATE},
    {"report you", SUPPORT_ESCALATE},
    {"bbb", SUPPORT_ESCALATE},
    {"never again", SUPPORT_ESCALATE},
    {"never use", SUPPORT_ESCALATE},
    {"never buy", SUPPORT_ESCALATE},
    {"never fly", SUPPORT_ESCALATE},
    {"never order", SUPPORT_ESCALATE},
    {"last time", SUPPORT_ESCALATE},
    {"done with", SUPPORT_ESCALATE},
    {"fed up", SUPPORT_ESCALATE},
    {"sick of", SUPPORT_ESCALATE},
    {"tired of", SUPPORT_ESCALATE},
    {"sick and tired", SUPPORT_ESCALATE},
    {"had enough", SUPPORT_ESCALATE},
    {"switching to", SUPPORT_ESCALATE},
    {"take my business", SUPPORT_ESCALATE},
    {"close my account", SUPPORT_ESCALATE},
    {"cancel my account", SUPPORT_ESCALATE},
    {"cancel my subscription", SUPPORT_ESCALATE},
    {"unsubscribe", SUPPORT_ESCALATE},
    {"lost a customer", SUPPORT_ESCALATE},
    {"losing a customer", SUPPORT_ESCALATE},
    {"speak to a human", SUPPORT_ESCALATE},
    {"talk to a human", SUPPORT_ESCALATE},
    {"speak to a person", SUPPORT_ESCALATE},
    {"talk to a person", SUPPORT_ESCALATE},
    {"real person", SUPPORT_ESCALATE},
    {"real human", SUPPORT_ESCALATE},
    {"actual human", SUPPORT_ESCALATE},
    {"actual person", SUPPORT_ESCALATE},
    {"live agent", SUPPORT_ESCALATE},
    {"live person", SUPPORT_ESCALATE},
    {"human agent", SUPPORT_ESCALATE},
    {"speak to a real", SUPPORT_ESCALATE},
    {"talk to a real", SUPPORT_ESCALATE},

    /* Strong complaint words. */
    {"unacceptable", SUPPORT_STRONG},
    {"not acceptable", SUPPORT_STRONG},
    {"ridiculous", SUPPORT_STRONG},
    {"ridiculously", SUPPORT_STRONG},
    {"worst", SUPPORT_STRONG},
    {"terrible", SUPPORT_STRONG},
    {"horrible", SUPPORT_STRONG},
    {"awful", SUPPORT_STRONG},
    {"pathetic", SUPPORT_STRONG},
    {"a joke", SUPPORT_STRONG},
    {"useless", SUPPORT_STRONG},
    {"incompetent", SUPPORT_STRONG},
    {"incompetence", SUPPORT_STRONG},
    {"disgrace", SUPPORT_STRONG},
    {"disgraceful", SUPPORT_STRONG},
    {"disgusting", SUPPORT_STRONG},
    {"absurd", SUPPORT_STRONG},
    {"outrageous", SUPPORT_STRONG},
    {"frustrating", SUPPORT_STRONG},
    {"frustrated", SUPPORT_STRONG},
    {"frustration", SUPPORT_STRONG},
    {"annoyed", SUPPORT_STRONG},
    {"annoying", SUPPORT_STRONG},
    {"angry", SUPPORT_STRONG},
    {"furious", SUPPORT_STRONG},
    {"livid", SUPPORT_STRONG},
    {"upset", SUPPORT_STRONG},
    {"disappointed", SUPPORT_STRONG},
    {"disappointing", SUPPORT_STRONG},
    {"disappointment", SUPPORT_STRONG},
    {"appalling", SUPPORT_STRONG},
    {"appalled", SUPPORT_STRONG},
    {"shameful", SUPPORT_STRONG},
    {"lousy", SUPPORT_STRONG},
    {"poor", SUPPORT_STRONG},
    {"rude", SUPPORT_STRONG},
    {"unprofessional", SUPPORT_STRONG},
    {"nightmare", SUPPORT_STRONG},
    {"inconvenience", SUPPORT_STRONG},
    {"inconvenienced", SUPPORT_STRONG},
    {"unbelievable", SUPPORT_STRONG},
    {"seriously", SUPPORT_STRONG},
    {"are you kidding", SUPPORT_STRONG},
    {"kidding me", SUPPORT_STRONG},
    {"come on", SUPPORT_STRONG},
    {"wtf", SUPPORT_STRONG},
    {"ugh", SUPPORT_STRONG},
    {"sucks", SUPPORT_STRONG},
    {"fail", SUPPORT_STRONG},
    {"garbage", SUPPORT_STRONG},
    {"trash", SUPPORT_STRONG},
    {"not happy", SUPPORT_STRONG},
    {"not ok", SUPPORT_STRONG},
    {"not okay", SUPPORT_STRONG},
    {"not good enough", SUPPORT_STRONG},
    {"no excuse", SUPPORT_STRONG},
    {"hate", SUPPORT_STRONG},
    {"worse", SUPPORT_STRONG},
    {"thanks for nothing", SUPPORT_STRONG},
    {"thank you for nothing", SUPPORT_STRONG},
    {"shame on you", SUPPORT_STRONG},
    {"do better", SUPPORT_STRONG},
    {"so much for", SUPPORT_STRONG},
    {"not helpful", SUPPORT_STRONG},
    {"unhelpful", SUPPORT_STRONG},
    {"no help", SUPPORT_STRONG},
    {"zero help", SUPPORT_STRONG},
    {"smh", SUPPORT_STRONG},
    {"not impressed", SUPPORT_STRONG},
    {"last straw", SUPPORT_STRONG},
    {"what a joke", SUPPORT_STRONG},
    {"embarrassing", SUPPORT_STRONG},
    {"horrendous", SUPPORT_STRONG},
    {"atrocious", SUPPORT_STRONG},
    {"abysmal", SUPPORT_STRONG},
    {"dreadful", SUPPORT_STRONG},
    {"infuriating", SUPPORT_STRONG},
    {"irritating", SUPPORT_STRONG},
    {"pissed", SUPPORT_STRONG},
    {"pissed off", SUPPORT_STRONG},
    {"not cool", SUPPORT_STRONG},

    /* Thanks, resolved. */
    {"thanks", SUPPORT_THANKS},
    {"thank you", SUPPORT_THANKS},
    {"thx", SUPPORT_THANKS},
    {"appreciate", SUPPORT_THANKS},
    {"appreciate it", SUPPORT_THANKS},
    {"appreciated", SUPPORT_THANKS},
    {"resolved", SUPPORT_THANKS},
    {"solved", SUPPORT_THANKS},
    {"sorted", SUPPORT_THANKS},
    {"fixed", SUPPORT_THANKS},
    {"works now", SUPPORT_THANKS},
    {"working now", SUPPORT_THANKS},
    {"helpful", SUPPORT_THANKS},
    {"great job", SUPPORT_THANKS},
    {"good job", SUPPORT_THANKS},
    {"well done", SUPPORT_THANKS},
    {"kudos", SUPPORT_THANKS},
    {"love", SUPPORT_THANKS},
    {"awesome", SUPPORT_THANKS},
    {"great", SUPPORT_THANKS},
    {"excellent", SUPPORT_THANKS},
    {"amazing", SUPPORT_THANKS},
    {"perfect", SUPPORT_THANKS},
};

const char *support_cat_label(enum support_cat c)
{
  return (unsigned)c < SUPPORT_N_CATS ? cat_labels[c] : "?";
}

/* Map values: the category + 1 (0: only a prefix), and a flag for "a
 * longer phrase starts with this". */
#define CAT_MASK 0xf
#define MORE 0x10
#define STOP 0x20

/* Function words: the reasons never quote them alone. */
static const char *const stopwords[] = {
    "the",  "a",     "an",    "to",    "of",    "and",     "or",     "i",
    "i'm",  "im",    "my",    "me",    "you",   "your",    "it",     "it's",
    "its",  "is",    "was",   "for",   "on",    "in",      "at",     "this",
    "that", "with",  "we",    "our",   "be",    "been",    "have",   "has",
    "had",  "do",    "did",   "are",   "were",  "so",      "just",   "get",
    "got",  "they",  "them",  "he",    "she",   "his",     "her",    "as",
    "by",   "from",  "up",    "out",   "if",    "can",     "will",   "would",
    "all",  "what",  "when",  "how",   "there", "here",    "now",    "then",
    "than", "one",   "but",   "about", "am",    "u",       "ur",     "0",
    "who",  "which", "their", "us",    "any",   "there's", "that's", "not",
    "no",
};

/* Adds phrase p[0..len) of category cat, and its word prefixes as such.
 * (strmap copies the keys.) */
static void add_phrase(struct strmap *m, const char *p, size_t len,
                       enum support_cat cat)
{
  int32_t v = 0;
  strmap_get(m, p, len, &v);
  strmap_put(m, p, len, (v & (MORE | STOP)) | ((int32_t)cat + 1));
  for (size_t i = 0; i < len; i++) {
    if (p[i] != ' ')
      continue;
    v = 0;
    strmap_get(m, p, i, &v);
    strmap_put(m, p, i, v | MORE);
  }
}

void support_index_init(struct support_index *s)
{
  size_t n = sizeof phrases / sizeof phrases[0];
  strmap_init(&s->map, n * 3);
  for (size_t i = 0; i < sizeof stopwords / sizeof stopwords[0]; i++)
    strmap_put(&s->map, stopwords[i], strlen(stopwords[i]), STOP);
  for (size_t i = 0; i < n; i++) {
    const char *p = phrases[i].phrase;
    add_phrase(&s->map, p, strlen(p), phrases[i].cat);
    if (!strchr(p, '\''))
      continue;
    char plain[STRMAP_KEY_MAX];
    size_t len = 0;
    for (const char *q = p; *q && len < sizeof plain; q++)
      if (*q != '\'')
        plain[len++] = *q;
    add_phrase(&s->map, plain, len, phrases[i].cat);
  }
}

void support_index_cleanup(struct support_index *s)
{
  strmap_cleanup(&s->map);
}

int support_lookup(const struct support_index *s, const char *phrase,
                   size_t len, unsigned *flags)
{
  int32_t v = 0;
  strmap_get(&s->map, phrase, len, &v);
  *flags = ((v & MORE) ? SUPPORT_MORE : 0) | ((v & STOP) ? SUPPORT_STOP : 0);
  return (v & CAT_MASK) - 1;
}

int support_lookup_fnv(const struct support_index *s, const char *phrase,
                       size_t len, uint32_t fnv, unsigned *flags)
{
  int32_t v = 0;
  strmap_get_hashed(&s->map, phrase, len, strmap_hash_of(fnv), &v);
  *flags = ((v & MORE) ? SUPPORT_MORE : 0) | ((v & STOP) ? SUPPORT_STOP : 0);
  return (v & CAT_MASK) - 1;
}
