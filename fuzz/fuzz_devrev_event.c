/* Fuzz target: DevRev webhook events (fuzz/corpus/devrev_event/).
 *
 * The input is the request body. It is parsed with cJSON as the server
 * would (bounded JSON depth is the server's job; the input size is capped
 * here at 64 KiB so that cJSON's own nesting limit keeps runs fast), then
 * recognised and read with and without a self id, so that the loop guard
 * and every other path of devrev/event.h see outside bytes. The first
 * byte of the input also picks the compose buffer's limit, so the
 * ERR_TOO_BIG path of composed work_created text is reached. Invariants
 * that must hold for any input abort on failure. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "devrev/event.h"

#define MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const cJSON *root, const char *self_id, size_t limit)
{
  struct buf compose;
  struct devrev_event ev;
  char err[128];
  buf_init(&compose, limit);
  enum err rc =
      devrev_event_read(root, self_id, &compose, &ev, err, sizeof err);
  if (rc) {
    if (rc != ERR_INVALID && rc != ERR_TOO_BIG)
      abort();
    if (!err[0] || ev.text || ev.id || ev.type)
      abort();
  } else {
    if (!ev.type)
      abort();
    switch (ev.kind) {
    case DEVREV_EVENT_VERIFY:
      if (!ev.challenge || !*ev.challenge ||
          strlen(ev.challenge) > DEVREV_EVENT_MAX_CHALLENGE)
        abort();
      break;
    case DEVREV_EVENT_MESSAGE:
      if (!ev.id || !ev.webhook_id || !ev.text || !ev.text_len ||
          strlen(ev.text) != ev.text_len || !ev.author_id || !ev.object_id ||
          !ev.entry_id || ev.ignored[0])
        abort();
      if (self_id &&
          (!strcmp(ev.author_id, self_id) ||
           (ev.author_display_id && !strcmp(ev.author_display_id, self_id))))
        abort();
      break;
    case DEVREV_EVENT_IGNORED:
      if (!ev.ignored[0] || ev.text)
        abort();
      break;
    default:
      abort();
    }
    if (ev.id && strlen(ev.id) > DEVREV_EVENT_MAX_ID)
      abort();
  }
  buf_cleanup(&compose);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > MAX_INPUT)
    return 0;
  cJSON *root = cJSON_ParseWithLength((const char *)data, size);
  (void)devrev_event_detect(root);
  size_t limit = size && (data[0] & 1) ? 32 : 0;
  check(root, NULL, limit);
  check(root, "", limit);
  /* Ids that the corpus's self comments and customers use. */
  check(root, "don:identity:dvrv-us-1:devo/0:devu/9", limit);
  check(root, "REVU-1", limit);
  cJSON_Delete(root);
  return 0;
}
