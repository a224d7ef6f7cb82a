/* Unit tests of detector/memo: keys of every length, the record and key a
 * slot keeps, a full memo turning keys away, and both ways of getting the
 * slots (the heap, and the huge-page mapping batch scoring uses). */
#include "harness.h"

#include <stdint.h>

#include "detector/memo.h"

struct rec {
  uint64_t a, b;
  uint32_t c;
};

/* The key text[0..len), read as memo_key_of reads it (MEMO_KEY_READ bytes
 * from text, which has them). */
static uint32_t key_of(const struct memo *m, const char *text, size_t len,
                       struct memo_key *k)
{
  memo_key_of(m, text, len, k);
  return memo_hash(k);
}

static void keys_of_every_length(bool huge)
{
  struct memo *m = memo_new(10, sizeof(struct rec), huge);
  char text[MEMO_KEY_MAX + MEMO_KEY_READ];
  memset(text, 'x', sizeof text);
  memcpy(text, "abcdefghijklmnop", MEMO_KEY_MAX);
  const void *at[MEMO_KEY_MAX + 1];
  for (size_t len = 0; len <= MEMO_KEY_MAX; len++) {
    struct memo_key k;
    uint32_t h = key_of(m, text, len, &k);
    CHECK(memo_find(m, &k, h) == NULL);
    struct rec r = {len, ~(uint64_t)len, (uint32_t)len * 7};
    at[len] = memo_add(m, &k, h, &r);
    CHECK(at[len] != NULL);
  }
  for (size_t len = 0; len <= MEMO_KEY_MAX; len++) {
    /* The bytes past the key do not count: other garbage, same key. */
    char other[sizeof text];
    memset(other, 'y', sizeof other);
    memcpy(other, text, len);
    struct memo_key k;
    uint32_t h = key_of(m, other, len, &k);
    const struct rec *r = memo_find(m, &k, h);
    CHECK(r == at[len]);
    if (!r)
      continue;
    CHECK(r->a == len && r->b == ~(uint64_t)len && r->c == len * 7);
    size_t kl = 99;
    const char *kb = memo_key_of_record(r, &kl);
    CHECK_INT(kl, len);
    CHECK(!memcmp(kb, text, len));
    for (size_t i = len; i < MEMO_KEY_READ; i++) /* zeros past the key */
      CHECK(kb[i] == 0);
    CHECK(memo_record_at(m, memo_index_of(m, r)) == (const void *)r);
  }
  memo_free(m);
}

static void keys_of_every_length_heap(void)
{
  keys_of_every_length(false);
}

static void keys_of_every_length_mapped(void)
{
  keys_of_every_length(true);
}

/* A memo of 16 slots takes at most 16 keys; the ones it turns away are not
 * found, the ones it took still are. */
static void full_memo_turns_keys_away(void)
{
  struct memo *m = memo_new(4, sizeof(struct rec), true);
  size_t taken = 0, refused = 0;
  char names[64][MEMO_KEY_READ + 8];
  bool in[64];
  for (size_t i = 0; i < 64; i++) {
    memset(names[i], 0, sizeof names[i]);
    snprintf(names[i], sizeof names[i], "key%zu", i);
    struct memo_key k;
    uint32_t h = key_of(m, names[i], strlen(names[i]), &k);
    struct rec r = {i, i, (uint32_t)i};
    in[i] = memo_add(m, &k, h, &r) != NULL;
    taken += in[i];
    refused += !in[i];
  }
  CHECK(taken <= 16 && taken > 0);
  CHECK(refused >= 48);
  for (size_t i = 0; i < 64; i++) {
    struct memo_key k;
    uint32_t h = key_of(m, names[i], strlen(names[i]), &k);
    const struct rec *r = memo_find(m, &k, h);
    CHECK(in[i] ? r != NULL && r->a == i : r == NULL);
  }
  memo_free(m);
}

int main(void)
{
  RUN(keys_of_every_length_heap);
  RUN(keys_of_every_length_mapped);
  RUN(full_memo_turns_keys_away);
  HARNESS_EXIT();
}
