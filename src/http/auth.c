/* auth: where API_TOKEN applies, and bearer-token checks in constant
 * time. */
#include "http/auth.h"

#include <string.h>
#include <strings.h>

#include "config/config.h"

bool auth_path_guarded(const char *path)
{
  return !strcmp(path, "/slash-analyze") || !strncmp(path, "/api/", 5);
}

bool auth_needs_token(const struct config *cfg, const char *path,
                      bool slack_form)
{
  if (!*cfg->api_token)
    return false;
  if (!strcmp(path, "/metrics"))
    return cfg->metrics_auth;
  if (!strcmp(path, "/slash-analyze") && slack_form &&
      *cfg->slack_signing_secret)
    return false;
  return auth_path_guarded(path);
}

bool auth_equal(const char *a, size_t alen, const char *b, size_t blen)
{
  /* Walk the expected length whatever the candidate's, so the time says
   * nothing about how many leading bytes matched. */
  unsigned char diff = alen != blen;
  for (size_t i = 0; i < alen; i++) {
    unsigned char cb = i < blen ? (unsigned char)b[i] : 0;
    diff |= (unsigned char)a[i] ^ cb;
  }
  return diff == 0;
}

bool auth_token_ok(const char *expected, const char *authorization,
                   const char *access_token)
{
  size_t elen = strlen(expected);
  if (elen == 0)
    return true;
  if (authorization && !strncasecmp(authorization, "Bearer ", 7)) {
    const char *t = authorization + 7;
    while (*t == ' ')
      t++;
    if (auth_equal(expected, elen, t, strlen(t)))
      return true;
  }
  return access_token && auth_equal(expected, elen, access_token,
                                    strlen(access_token));
}
