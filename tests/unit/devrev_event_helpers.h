/* Shared by the unit tests of devrev/event (test_devrev_event*.c): the
 * fixture loader, the helpers that edit a parsed fixture, the expectations
 * and the ids the fixtures carry. Each test program includes it once, so
 * its static state is that program's own; the functions are static inline
 * so that a program which does not call one gets no unused-function
 * warning.
 *
 * The fixtures in tests/fixtures/devrev/ are the same files the integration
 * tests post to a running server. Cases are built by editing a parsed
 * fixture (set/del) or inline JSON. The fixture folder is DEVREV_FIXTURES if
 * set, else found next to TEST_DATA (tests/data, set by CMake), else next to
 * this file. */
#ifndef TESTS_DEVREV_EVENT_HELPERS_H
#define TESTS_DEVREV_EVENT_HELPERS_H

#include "harness.h"

#include <cjson/cJSON.h>
#include <stdint.h>

#include "base/buf.h"
#include "devrev/event.h"

#define HOOK "don:integration:dvrv-us-1:devo/0:webhook/AbC"
#define EVT HOOK ":webhook_event/"
#define JANE "don:identity:dvrv-us-1:devo/0:revo/3kUz7:revu/1"
#define ACME "don:identity:dvrv-us-1:devo/0:revo/3kUz7"
#define OMAR "don:identity:dvrv-us-1:devo/0:revo/8QmP2:revu/14"
#define GLOBEX "don:identity:dvrv-us-1:devo/0:revo/8QmP2"
#define BOT "don:identity:dvrv-us-1:devo/0:devu/9"

static struct buf compose;
static struct devrev_event ev;
static char err[256];

/* ---- helpers -------------------------------------------------------- */

static char fixture_dir[1024];

static inline void find_fixtures(void)
{
  const char *env = getenv("DEVREV_FIXTURES");
  const char *data = getenv("TEST_DATA");
  if (env && *env) {
    snprintf(fixture_dir, sizeof fixture_dir, "%s", env);
  } else if (data && *data) {
    /* TEST_DATA is <src>/tests/data; the folder may not exist (git keeps
     * no empty folders), so its parent is found textually. */
    snprintf(fixture_dir, sizeof fixture_dir, "%s", data);
    char *slash = strrchr(fixture_dir, '/');
    if (slash)
      *slash = '\0';
    strncat(fixture_dir, "/fixtures/devrev",
            sizeof fixture_dir - strlen(fixture_dir) - 1);
  } else {
    snprintf(fixture_dir, sizeof fixture_dir, "%s", __FILE__);
    char *slash = strrchr(fixture_dir, '/');
    if (slash)
      *slash = '\0';
    strncat(fixture_dir, "/../fixtures/devrev",
            sizeof fixture_dir - strlen(fixture_dir) - 1);
  }
}

/* Parses tests/fixtures/devrev/<name>; aborts the run when it is missing,
 * since every later check would fail for the same reason. */
static inline cJSON *fixture(const char *name)
{
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", fixture_dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(1);
  }
  struct buf b;
  buf_init(&b, 0);
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    CHECK_INT(buf_append(&b, chunk, n), ERR_OK);
  fclose(f);
  cJSON *root = cJSON_ParseWithLength(buf_ptr(&b), b.len);
  buf_cleanup(&b);
  if (!root) {
    fprintf(stderr, "%s: not JSON\n", path);
    exit(1);
  }
  return root;
}

static inline cJSON *parse(const char *json)
{
  cJSON *root = cJSON_Parse(json);
  if (!root) {
    fprintf(stderr, "bad test JSON: %s\n", json);
    exit(1);
  }
  return root;
}

/* The member at a dotted path ("a.b.c"; a number picks an array item),
 * or NULL. */
static inline cJSON *at(cJSON *root, const char *path)
{
  char copy[256];
  snprintf(copy, sizeof copy, "%s", path);
  cJSON *node = root;
  for (char *tok = strtok(copy, "."); tok && node; tok = strtok(NULL, ".")) {
    if (cJSON_IsArray(node))
      node = cJSON_GetArrayItem(node, atoi(tok));
    else
      node = cJSON_GetObjectItemCaseSensitive(node, tok);
  }
  return node;
}

/* Splits path into its parent node and last name. */
static inline cJSON *parent_of(cJSON *root, const char *path, const char **last)
{
  static char parent[256];
  const char *dot = strrchr(path, '.');
  if (!dot) {
    *last = path;
    return root;
  }
  snprintf(parent, sizeof parent, "%.*s", (int)(dot - path), path);
  *last = dot + 1;
  return at(root, parent);
}

/* Sets the member at path to value (taking it), adding it if absent. */
static inline void set(cJSON *root, const char *path, cJSON *value)
{
  const char *name;
  cJSON *parent = parent_of(root, path, &name);
  if (!parent) {
    fprintf(stderr, "no parent for %s\n", path);
    exit(1);
  }
  if (cJSON_GetObjectItemCaseSensitive(parent, name))
    cJSON_ReplaceItemInObjectCaseSensitive(parent, name, value);
  else
    cJSON_AddItemToObject(parent, name, value);
}

static inline void del(cJSON *root, const char *path)
{
  const char *name;
  cJSON *parent = parent_of(root, path, &name);
  if (parent)
    cJSON_DeleteItemFromObjectCaseSensitive(parent, name);
}

static inline enum err read_ev(const cJSON *root, const char *self_id)
{
  return devrev_event_read(root, self_id, &compose, &ev, err, sizeof err);
}

/* Reads root, expects ERR_INVALID with exactly msg, and frees root. */
#define EXPECT_INVALID(root, msg)                                              \
  do {                                                                         \
    cJSON *r_ = (root);                                                        \
    CHECK_INT(read_ev(r_, NULL), ERR_INVALID);                                 \
    CHECK_STR(err, msg);                                                       \
    CHECK_INT(ev.kind, DEVREV_EVENT_IGNORED);                                  \
    CHECK(ev.id == NULL && ev.type == NULL && ev.text == NULL);                \
    cJSON_Delete(r_);                                                          \
  } while (0)

/* Reads root, expects IGNORED with exactly reason, and frees root. */
#define EXPECT_IGNORED(root, self, reason)                                     \
  do {                                                                         \
    cJSON *r_ = (root);                                                        \
    CHECK_INT(read_ev(r_, self), ERR_OK);                                      \
    CHECK_INT(ev.kind, DEVREV_EVENT_IGNORED);                                  \
    CHECK_STR(ev.ignored, reason);                                             \
    CHECK(ev.text == NULL && ev.author_id == NULL && ev.object_id == NULL);    \
    CHECK(ev.entry_id == NULL && ev.rev_org_id == NULL);                       \
    cJSON_Delete(r_);                                                          \
  } while (0)

/* Reads root, expects a MESSAGE with exactly text, and frees root. */
#define EXPECT_TEXT(root, want)                                                \
  do {                                                                         \
    cJSON *r_ = (root);                                                        \
    CHECK_INT(read_ev(r_, NULL), ERR_OK);                                      \
    CHECK_INT(ev.kind, DEVREV_EVENT_MESSAGE);                                  \
    CHECK_STR(ev.text, want);                                                  \
    CHECK_INT(ev.text_len, strlen(want));                                      \
    cJSON_Delete(r_);                                                          \
  } while (0)

static inline cJSON *str(const char *s)
{
  return cJSON_CreateString(s);
}

/* Sets a program up before its first RUN and cleans up after its last. */
static inline void event_tests_begin(void)
{
  find_fixtures();
  buf_init(&compose, 1 << 20);
}

static inline void event_tests_end(void)
{
  buf_cleanup(&compose);
}

#endif
