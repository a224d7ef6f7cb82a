/* feedback: POST /api/feedback, the team's corrections of the detector.
 *
 * An agent says whether the verdict on a stored message was right, or
 * what the true label is:
 *
 *   {"message_id": "m-1", "frustrated": true}   the true label
 *   {"message_id": "m-1", "correct": false}     the verdict was wrong
 *   {"id": 42, "correct": false}                the same for the message
 *                                               stored as row 42
 *   optional "by": who says so (at most STORE_LABELLER_MAX bytes)
 *
 * The message is named by exactly one of message_id (the id it was sent
 * with) and id (the store's own number of it, a positive integer, which
 * the dashboard gives with every message: the only name of a message sent
 * without a message_id). An id names a committed message: on PostgreSQL
 * one whose batch is still being written is 404, as its message_id is.
 *
 * The label is stored with the message in one write (store_label_write;
 * the last one wins), and `frustration-alert train --from-store` learns from it. As
 * labels change the model, the endpoint works only with API_TOKEN set
 * (403 api_token_required otherwise) and the bearer token (401, by the
 * router). Answers 200 with the message's id and message_id (null when
 * it has none), the stored label, the verdict the message got and
 * whether they agree; 400 for a body that is not exactly that, both
 * names or neither included (nothing changes), 404 for an unknown
 * message, 413 over FEEDBACK_MAX_BODY bytes, 503 when the store fails.
 *
 * The endpoint writes through a store handle of its own, opened on first
 * use and shared by the HTTP threads under a mutex: labels are rare. */
#ifndef HTTP_API_FEEDBACK_H
#define HTTP_API_FEEDBACK_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

/* The body limit: a label is a few fields. */
#define FEEDBACK_MAX_BODY 4096

/* The largest "id" taken: 2^53 - 1, the last integer a JSON number
 * holds exactly as read here (a double). */
#define FEEDBACK_MAX_ROW_ID 9007199254740991LL

struct feedback; /* opaque */

/* Makes the endpoint's state for the store at url (copied); no I/O.
 * Release with feedback_free. */
struct feedback *feedback_new(const char *url);

/* Closes its store handle and frees f. NULL is fine. */
void feedback_free(struct feedback *f);

/* The handler itself is api_feedback_handle (routes_int.h), which the
 * router calls for POST /api/feedback once its token is checked. */

#endif
