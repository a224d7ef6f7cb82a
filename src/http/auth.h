/* auth: where API_TOKEN applies, and the bearer-token check.
 *
 * With API_TOKEN set, a request needs it before anything else is read when
 * it goes to /slash-analyze (except a Slack form while SLACK_SIGNING_SECRET
 * is set: its signature authenticates it, in api/slash.c), to anything under
 * /api/ (the dashboard's data), or to /metrics with METRICS_REQUIRE_TOKEN.
 * The dashboard's static files never do (they hold no data; the page asks
 * for the token), nor does /health. /webhook is not refused here: it takes
 * the token as one of its credentials, checked with the signatures once
 * its body is in (api/webhook.c, webhook_auth). Comparisons take the same time
 * whatever the first differing byte. */
#ifndef HTTP_AUTH_H
#define HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct config;

/* True when path is one of the data routes API_TOKEN guards (/slash-analyze
 * and /api/...), whatever the configuration. */
bool auth_path_guarded(const char *path);

/* True when a request to path must carry API_TOKEN before anything else
 * is looked at, under cfg (see above). slack_form: the request is a
 * form (application/x-www-form-urlencoded), as Slack sends. */
bool auth_needs_token(const struct config *cfg, const char *path,
                      bool slack_form);

/* True when the request carries the token: "Authorization: Bearer TOKEN"
 * (authorization may be NULL), or, for the EventSource of the dashboard
 * which cannot set headers, access_token (the ?access_token= query value,
 * may be NULL). An empty expected token accepts everything. */
bool auth_token_ok(const char *expected, const char *authorization,
                   const char *access_token);

/* Compares a[0..alen) and b[0..blen) in time that depends only on the
 * lengths. */
bool auth_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
