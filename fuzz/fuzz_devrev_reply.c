/* Fuzz target: DevRev replies (fuzz/corpus/devrev_reply/). Input layout:
 * byte 0 picks the operation, bytes 1-2 the HTTP status (big-endian, taken
 * modulo 600), then the Retry-After header value up to the first newline,
 * then the reply body. Runs the classifier and the works.list and
 * timeline-entries.list marker searches, and builds every request body from fields cut out of the input,
 * so all the pure functions of devrev/client.h see outside bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devrev/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 3 || size > (1 << 20))
    return 0;
  enum devrev_op op = (enum devrev_op)(data[0] % 6);
  int status = ((data[1] << 8) | data[2]) % 600;
  const char *rest = (const char *)data + 3;
  size_t len = size - 3;
  const char *nl = memchr(rest, '\n', len);
  char *header = NULL;
  if (nl) {
    size_t hlen = (size_t)(nl - rest);
    header = malloc(hlen + 1);
    memcpy(header, rest, hlen);
    header[hlen] = '\0';
    len -= hlen + 1;
    rest = nl + 1;
  }
  struct devrev_reply r;
  devrev_classify(op, status, header, rest, len, &r);
  (void)devrev_class_name(r.cls);
  devrev_find_marker(rest, len, header ? header : "k", &r);
  devrev_find_entry_marker(rest, len, header ? header : "k", data[0] + 1, &r);

  /* The same bytes as text fields of a ticket (NUL-terminated copy). */
  char *text = malloc(len + 1);
  memcpy(text, rest, len);
  text[len] = '\0';
  struct devrev_config cfg = {
      .part_id = "PROD-1", .owner_id = "DEVU-1", .tag_id = header};
  struct devrev_alert a = {.alert_key = header ? header : "",
                           .customer_id = text,
                           .excerpt = text,
                           .words = text,
                           .level = header,
                           .severity = header,
                           .polarity = status / -600.0,
                           .has_scores = true,
                           .ticket = header,
                           .entry_id = status};
  char *s[7] = {devrev_create_request(&cfg, &a),
                devrev_comment_request(text, &a),
                devrev_update_request(text, header ? header : "high"),
                devrev_list_request(&cfg, (int64_t)status * 1000003, header),
                devrev_source_comment_request(text, &a),
                devrev_source_update_request(text, header, status - 300),
                devrev_timeline_list_request(text, header)};
  for (int i = 0; i < 7; i++)
    free(s[i]);
  free(text);
  free(header);
  return 0;
}
