/* response: request and response types, the JSON refusal (response.h). */
#include "http/response.h"

#include <stdarg.h>
#include <stdio.h>

#include "base/jsonw.h"

/* The fields of an empty response, the buffers aside. */
static void clear(struct http_response *resp)
{
  resp->status = 0;
  resp->content_type = HTTP_CT_JSON;
  resp->allow = NULL;
  resp->error = NULL;
  resp->route = METRICS_ROUTE_OTHER;
}

void http_response_init(struct http_response *resp)
{
  clear(resp);
  buf_init(&resp->body, HTTP_MAX_RESPONSE);
  buf_init(&resp->note, 512);
}

void http_response_reset(struct http_response *resp)
{
  clear(resp);
  buf_reset(&resp->body);
  buf_reset(&resp->note);
}

void http_response_cleanup(struct http_response *resp)
{
  buf_cleanup(&resp->body);
  buf_cleanup(&resp->note);
}

void http_response_error_at(struct http_response *resp, int status,
                            const char *code, const char *message, long index)
{
  struct jsonw w;
  resp->status = status;
  resp->content_type = HTTP_CT_JSON;
  resp->error = code;
  buf_reset(&resp->body);
  jsonw_init(&w, &resp->body);
  jsonw_object_begin(&w);
  jsonw_kv_string(&w, "error", code);
  jsonw_kv_string(&w, "message", message);
  if (index >= 0) {
    jsonw_kv_int(&w, "index", index);
  }
  jsonw_object_end(&w);
}

void http_response_error(struct http_response *resp, int status,
                         const char *code, const char *fmt, ...)
{
  char message[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  http_response_error_at(resp, status, code, message, -1);
}

void http_response_finish_json(struct jsonw *w, struct http_response *resp)
{
  if (jsonw_error(w))
    http_response_error(resp, 500, "internal_error",
                        "the response exceeds its size limit");
}
