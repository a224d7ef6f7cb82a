/* Fuzz target: route dispatch and request validation, no socket.
 *
 * The first three bytes pick the path, the method and the Content-Type
 * (from small tables, so the fuzzer reaches every endpoint at once); the
 * rest is the body. Each input is answered by routes_handle with fresh
 * scratch and response, which are freed again: leaks show up per input.
 * The app (configuration and lexicon) is built once and kept, as a
 * server keeps it; the body limit is lowered so large bodies reach the
 * 413 path too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/app.h"
#include "http/routes.h"

static const char *const paths[] = {
    "/webhook", "/slash-analyze", "/health", "/metrics", "/", "/webhook/"};
static const char *const methods[] = {"POST", "GET", "HEAD", "PUT", "DELETE"};
static const char *const types[] = {
    "application/json",
    "application/x-www-form-urlencoded",
    "application/json; charset=utf-8",
    "text/plain",
    NULL,
    "application/json; charset=\"UTF-8\" ;",
    "application/json; charset=latin-1",
};

#define PICK(table, byte) table[(byte) % (sizeof table / sizeof table[0])]

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct config cfg;
  static struct app app;
  static int ready; /* 1: built, -1: failed */
  if (!ready) {
    config_defaults(&cfg);
    cfg.max_body_bytes = 16 * 1024;
    cfg.max_batch = 50;
    ready = app_init(&app, &cfg) ? -1 : 1;
  }
  if (ready < 0 || size < 3)
    return 0;

  struct http_request req;
  memset(&req, 0, sizeof req);
  req.path = PICK(paths, data[0]);
  req.method = PICK(methods, data[1]);
  req.content_type = PICK(types, data[2]);
  size_t len = size - 3;
  char *body = malloc(len + 1); /* routes want a NUL after the body */
  if (!body)
    return 0;
  memcpy(body, data + 3, len);
  body[len] = '\0';
  req.body = body;
  req.body_len = len;

  struct routes_scratch s;
  struct http_response resp;
  routes_scratch_init(&s);
  http_response_init(&resp);
  routes_handle(&app, &s, &req, &resp);
  /* Every answer has a status and, except HEAD-less metrics, a body. */
  if (resp.status < 200 || resp.status > 599 || resp.body.len == 0)
    abort();
  http_response_cleanup(&resp);
  routes_scratch_cleanup(&s);
  free(body);
  return 0;
}
