/* support: the support-domain phrase lexicon of the detector, written for
 * this project.
 *
 * Phrases customers use when a problem drags on ("still waiting", "third
 * time", "not working", "refund", "escalate", "unacceptable") and when it is
 * solved ("thank you", "resolved"), in categories the model weighs
 * separately and the reasons name. Phrases are written in the detector's
 * normalised form: lower case, digits as '0' ("0rd time" is "3rd time"),
 * ASCII apostrophes; each phrase with an apostrophe also matches without
 * it ("doesnt work"). */
#ifndef DETECTOR_SUPPORT_H
#define DETECTOR_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detector/strmap.h"

enum support_cat {
  SUPPORT_REPEAT,   /* repeated contact */
  SUPPORT_WAIT,     /* waiting, no answer, delays */
  SUPPORT_BROKEN,   /* not working, errors, lost */
  SUPPORT_MONEY,    /* refunds, charges, cancellations */
  SUPPORT_ESCALATE, /* escalation, threats to leave */
  SUPPORT_STRONG,   /* strong complaint words */
  SUPPORT_THANKS,   /* thanks, resolved: the calm side */
  SUPPORT_SERVICE,  /* what customers write to a company about: an order,
                       an account, a booking (neither calm nor a complaint) */
  SUPPORT_N_CATS
};

/* Is category cat a complaint (REPEAT to STRONG), rather than thanks or
 * a service named? */
static inline bool support_cat_complains(int cat)
{
  return cat >= 0 && cat < SUPPORT_THANKS;
}

/* Longest phrase, in words. */
#define SUPPORT_MAX_WORDS 4

/* What the reasons call a category, e.g. "repeated contact". */
const char *support_cat_label(enum support_cat c);

/* The phrase index: phrase -> category. Built by support_index_init, then
 * read-only. */
struct support_index {
  struct strmap map;
};

void support_index_init(struct support_index *s);
void support_index_cleanup(struct support_index *s);

/* Flags of support_lookup. */
#define SUPPORT_MORE 1 /* a longer phrase starts with this one */
#define SUPPORT_STOP                                                           \
  2 /* a function word ("the", "my"), never quoted as a                        \
       reason on its own */

/* Looks up one phrase (normalised words joined by single spaces): returns
 * its category or -1, and sets *flags (SUPPORT_MORE lets matching stop at
 * the first word of most text). */
int support_lookup(const struct support_index *s, const char *phrase,
                   size_t len, unsigned *flags);

/* support_lookup with the phrase's FNV-1a state (strmap_fnv from
 * STRMAP_FNV_BASIS over the phrase) given: the detector hashes each word
 * once and extends the state word by word. */
int support_lookup_fnv(const struct support_index *s, const char *phrase,
                       size_t len, uint32_t fnv, unsigned *flags);

#endif
