/* memo: the detector's fill-once memo of short strings (see memo.h). */
#include "detector/memo.h"

#include <assert.h>
#include <stdlib.h>

#include "base/xalloc.h"

struct memo *memo_new(unsigned bits, size_t record_size)
{
  assert(bits >= 1 && bits <= 31); /* homes: top bits of 32-bit hashes */
  struct memo *m = xcalloc(1, sizeof *m);
  size_t n = (size_t)1 << bits;
  assert(MEMO_RECORD + record_size <= MEMO_SLOT);
  m->record_size = record_size;
  m->mask = n - 1;
  m->shift = 32 - bits;
  /* Zeroed memory, whose pages cost nothing until used: a zero state is
   * MEMO_EMPTY (a lock-free 32-bit atomic is its bytes). The slots start
   * at the first cache line in it. */
  m->block = xcalloc(1, n * MEMO_SLOT + 63);
  m->slots = (unsigned char *)(((uintptr_t)m->block + 63) & ~(uintptr_t)63);
  /* Masks built from bytes, so that they hold on any byte order. */
  for (size_t len = 0; len <= MEMO_KEY_MAX; len++) {
    unsigned char bytes[MEMO_KEY_READ] = {0};
    memset(bytes, 0xff, len);
    memcpy(m->byte_mask[len], bytes, sizeof bytes);
  }
  return m;
}

void memo_free(struct memo *m)
{
  if (!m)
    return;
  free(m->block);
  free(m);
}

const void *memo_add(struct memo *m, const struct memo_key *k, uint32_t hash,
                     const void *record)
{
  size_t home = memo_home(m, hash);
  for (size_t p = 0; p < MEMO_PROBES; p++) {
    struct memo_slot *s = memo_slot_at(m, home + p);
    /* A plain load first: once the memo is full, adding costs no locked
     * instruction. */
    uint32_t st = atomic_load_explicit(&s->state, memory_order_relaxed);
    if (st != MEMO_EMPTY)
      continue;
    /* Only the thread that moves a slot out of MEMO_EMPTY writes it; the
     * release store publishes what it wrote to memo_find's acquire load. */
    if (!atomic_compare_exchange_strong_explicit(&s->state, &st, MEMO_CLAIMED,
                                                 memory_order_relaxed,
                                                 memory_order_relaxed))
      continue;
    s->len = k->len;
    memcpy(s->w, k->w, sizeof s->w);
    unsigned char *copy = (unsigned char *)s + MEMO_RECORD;
    memcpy(copy, record, m->record_size);
    atomic_store_explicit(&s->state, MEMO_READY, memory_order_release);
    return copy;
  }
  return NULL;
}
