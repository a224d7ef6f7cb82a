/* auth: the API_TOKEN check (Authorization: Bearer).
 *
 * When API_TOKEN is set, the routes that read data or analyse on demand
 * (/slash-analyze and everything under /api/) need it; the dashboard's static files do not
 * (they hold no data, and the page asks for the token). /webhook, /health
 * and /metrics are not guarded by it. Comparisons take the same time
 * whatever the first differing byte. */
#ifndef HTTP_AUTH_H
#define HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/* True when path is guarded by API_TOKEN. */
bool auth_path_guarded(const char *path);

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
