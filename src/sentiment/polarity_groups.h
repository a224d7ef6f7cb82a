/* polarity_groups: the assessments of one text while assessments() builds
 * them, private to sentiment/. polarity.c (TextBlob, English) and
 * polarity_pattern.c (pattern's languages) find the groups differently but
 * open, finish and average them the same way: that part lives here, once.
 * Where a token's lower-cased word lies differs between the two, so the
 * caller passes a function that writes it. The functions are static inline,
 * as in lexicon_int.h: the walk opens a group per lexicon word, and inlined
 * the word writer is a direct copy rather than a call. */
#ifndef SENTIMENT_POLARITY_GROUPS_H
#define SENTIMENT_POLARITY_GROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "base/xalloc.h"
#include "sentiment/lexicon.h"
#include "sentiment/polarity.h"

/* One assessment while it is built (a dict of assessments()). */
struct polarity_group {
  double p, s, i;
  bool negated; /* n == -1 */
  const char *label;
  size_t text_off; /* its words, once finished */
};

struct polarity_groups {
  struct polarity_group *groups;
  size_t cap_groups, n_groups;
  size_t *front, *back;   /* word lists of the last group: front holds the */
  size_t n_front, n_back; /* negations inserted at 0, in insertion order */
  size_t cap_front, cap_back;
  char *text; /* the groups' words, NUL-terminated strings */
  size_t cap_text, n_text;
};

/* Writes the lower-cased word of token t at dst and returns its length in
 * bytes; words is the caller's state. */
typedef size_t polarity_put_word(const void *words, size_t t, char *dst);

/* max(-1.0, min(x, +1.0)), as assessments() bounds a modified score. */
static inline double polarity_groups_clamp(double x)
{
  double y = 1.0 < x ? 1.0 : x;
  return y > -1.0 ? y : -1.0;
}

/* Empties g and sizes it for n tokens whose groups' words, with their
 * spaces and NULs, need at most text_cap bytes, so that the walk itself
 * never allocates. */
static inline void polarity_groups_start(struct polarity_groups *g, size_t n,
                                         size_t text_cap)
{
  g->groups = xgrow(g->groups, &g->cap_groups, n + 1, sizeof *g->groups);
  /* A token joins groups at most twice: as itself, and as a negation that
   * a later word takes in. */
  g->front = xgrow(g->front, &g->cap_front, 2 * n + 1, sizeof *g->front);
  g->back = xgrow(g->back, &g->cap_back, 2 * n + 1, sizeof *g->back);
  g->text = xgrow(g->text, &g->cap_text, text_cap, 1);
  g->n_groups = g->n_front = g->n_back = g->n_text = 0;
}

static inline void polarity_groups_put(struct polarity_groups *g,
                                       polarity_put_word *put,
                                       const void *words, size_t t, bool space)
{
  if (space)
    g->text[g->n_text++] = ' ';
  g->n_text += put(words, t, g->text + g->n_text);
}

/* Writes the words of the last group (negations inserted at 0 come first,
 * the last inserted first) as one string. */
static inline void polarity_groups_finish(struct polarity_groups *g,
                                          polarity_put_word *put,
                                          const void *words)
{
  if (g->n_groups == 0)
    return;
  g->groups[g->n_groups - 1].text_off = g->n_text;
  bool space = false;
  for (size_t k = g->n_front; k > 0; k--, space = true)
    polarity_groups_put(g, put, words, g->front[k - 1], space);
  for (size_t k = 0; k < g->n_back; k++, space = true)
    polarity_groups_put(g, put, words, g->back[k], space);
  g->text[g->n_text++] = '\0';
  g->n_front = g->n_back = 0;
}

/* Finishes the last group and opens one for token t, with the scores of
 * its lexicon entry (or of a mood or irony). Returns the new group. */
static inline struct polarity_group *
polarity_groups_open(struct polarity_groups *g, polarity_put_word *put,
                     const void *words, size_t t, double p, double subj,
                     double i, const char *label)
{
  polarity_groups_finish(g, put, words);
  struct polarity_group *grp = &g->groups[g->n_groups++];
  *grp = (struct polarity_group){.p = p, .s = subj, .i = i, .label = label};
  g->back[g->n_back++] = t;
  return grp;
}

/* Token t, the lexicon word e after a modifier, joins the modifier's group
 * last: its scores times the modifier's intensity, clamped, and its own
 * intensity and label. */
static inline void polarity_groups_join(struct polarity_groups *g,
                                        struct polarity_group *last, size_t t,
                                        const struct lexicon_entry *e)
{
  g->back[g->n_back++] = t;
  last->p = polarity_groups_clamp(e->polarity * last->i);
  last->s = polarity_groups_clamp(e->subjectivity * last->i);
  last->i = e->intensity;
  last->label = e->label;
}

/* __call__'s avg() over the finished groups: s += w * score from 0, then
 * s / float(n or 1), which makes the scores bit-identical to Python's. A
 * negated group's polarity is multiplied by -0.5. r->assessments point
 * into g->text; *cap_assessments is the capacity of r->assessments. */
static inline void polarity_groups_result(const struct polarity_groups *g,
                                          struct polarity_result *r,
                                          size_t *cap_assessments)
{
  r->assessments = xgrow(r->assessments, cap_assessments, g->n_groups + 1,
                         sizeof *r->assessments);
  double sum_p = 0.0, sum_s = 0.0;
  for (size_t k = 0; k < g->n_groups; k++) {
    const struct polarity_group *grp = &g->groups[k];
    double p = grp->negated ? grp->p * -0.5 : grp->p;
    sum_p += p;
    sum_s += grp->s;
    r->assessments[k] = (struct polarity_assessment){g->text + grp->text_off, p,
                                                     grp->s, grp->label};
  }
  r->n_assessments = g->n_groups;
  double count = g->n_groups ? (double)g->n_groups : 1.0;
  r->polarity = sum_p / count;
  r->subjectivity = sum_s / count;
}

static inline void polarity_groups_cleanup(struct polarity_groups *g)
{
  free(g->groups);
  free(g->front);
  free(g->back);
  free(g->text);
}

#endif
