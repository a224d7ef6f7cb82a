/* Unit tests of auth: where API_TOKEN applies under each configuration,
 * and the bearer-token comparison. */
#include "harness.h"

#include <string.h>

#include "config/config.h"
#include "http/auth.h"

static void no_token_guards_nothing(void)
{
  struct config cfg;
  config_defaults(&cfg);
  cfg.metrics_auth = true; /* meaningless without a token */
  CHECK(!auth_needs_token(&cfg, "/slash-analyze", false));
  CHECK(!auth_needs_token(&cfg, "/api/stats", false));
  CHECK(!auth_needs_token(&cfg, "/metrics", false));
}

static void token_guards_data_routes_only(void)
{
  struct config cfg;
  config_defaults(&cfg);
  strcpy(cfg.api_token, "s3cret");
  CHECK(auth_needs_token(&cfg, "/slash-analyze", false));
  CHECK(auth_needs_token(&cfg, "/api/stats", false));
  CHECK(auth_needs_token(&cfg, "/api/stream", false));
  /* The webhook takes the token among its credentials, later; the page
   * shell and health never need it; metrics only when asked. */
  CHECK(!auth_needs_token(&cfg, "/webhook", false));
  CHECK(!auth_needs_token(&cfg, "/health", false));
  CHECK(!auth_needs_token(&cfg, "/", false));
  CHECK(!auth_needs_token(&cfg, "/dashboard.js", false));
  CHECK(!auth_needs_token(&cfg, "/metrics", false));
  CHECK(!auth_needs_token(&cfg, "/apix", false));
  cfg.metrics_auth = true;
  CHECK(auth_needs_token(&cfg, "/metrics", false));
}

static void slack_forms_are_signed_instead(void)
{
  struct config cfg;
  config_defaults(&cfg);
  strcpy(cfg.api_token, "s3cret");
  /* Without a signing secret a form still needs the token. */
  CHECK(auth_needs_token(&cfg, "/slash-analyze", true));
  strcpy(cfg.slack_signing_secret, "slack-secret");
  CHECK(!auth_needs_token(&cfg, "/slash-analyze", true));
  CHECK(auth_needs_token(&cfg, "/slash-analyze", false)); /* JSON callers */
  CHECK(auth_needs_token(&cfg, "/api/stats", true));      /* only slash */
}

static void token_comparison(void)
{
  CHECK(auth_token_ok("", NULL, NULL));
  CHECK(auth_token_ok("abc", "Bearer abc", NULL));
  CHECK(auth_token_ok("abc", "bearer   abc", NULL));
  CHECK(!auth_token_ok("abc", "Bearer abd", NULL));
  CHECK(!auth_token_ok("abc", "Bearer abcd", NULL));
  CHECK(!auth_token_ok("abc", "Bearer ab", NULL));
  CHECK(!auth_token_ok("abc", "Basic abc", NULL));
  CHECK(!auth_token_ok("abc", NULL, NULL));
  CHECK(auth_token_ok("abc", NULL, "abc"));
  CHECK(auth_token_ok("abc", "Bearer nope", "abc"));
  CHECK(!auth_token_ok("abc", NULL, "abcabc"));
  CHECK(auth_equal("x", 1, "x", 1));
  CHECK(!auth_equal("x", 1, "", 0));
  CHECK(!auth_equal("", 0, "x", 1));
  CHECK(auth_equal("", 0, "", 0));
}

int main(void)
{
  RUN(no_token_guards_nothing);
  RUN(token_guards_data_routes_only);
  RUN(slack_forms_are_signed_instead);
  RUN(token_comparison);
  HARNESS_EXIT();
}
