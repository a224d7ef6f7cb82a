/* memo: the detector's fill-once memo of short strings (see memo.h). */
#include "detector/memo.h"

#include <assert.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "base/xalloc.h"

/* The slots are aligned to this (a huge page on x86-64 Linux). */
#define MEMO_ALIGN ((size_t)2 << 20)

/* bytes of zeroed memory that cost nothing until touched (an anonymous
 * mapping), aligned to MEMO_ALIGN and marked for transparent huge pages,
 * where the system has them: a message's tokens land anywhere in a memo
 * of megabytes, and with 4 KiB pages most lookups also missed the TLB
 * (with huge pages, CPU-time A/Bs of score with the model ran 2% to 7%
 * faster). The price: a huge page is resident as soon as one of its
 * slots is used. NULL when the mapping fails. */
static void *map_slots(size_t bytes)
{
  size_t len = bytes + MEMO_ALIGN;
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  uintptr_t start = (uintptr_t)p,
            at = (start + MEMO_ALIGN - 1) & ~(MEMO_ALIGN - 1);
  /* Give back the slack before and after the aligned part. */
  if (at > start)
    munmap(p, at - start);
  if (start + len > at + bytes)
    munmap((void *)(at + bytes), start + len - (at + bytes));
#ifdef MADV_HUGEPAGE
  madvise((void *)at, bytes, MADV_HUGEPAGE); /* a hint: failing is fine */
#endif
  return (void *)at;
}

struct memo *memo_new(unsigned bits, size_t record_size, bool huge)
{
  assert(bits >= 1 && bits <= 31); /* homes: top bits of 32-bit hashes */
  struct memo *m = xcalloc(1, sizeof *m);
  size_t n = (size_t)1 << bits;
  assert(MEMO_RECORD + record_size <= MEMO_SLOT);
  m->record_size = record_size;
  m->mask = n - 1;
  m->shift = 32 - bits;
  /* Zeroed memory, whose pages cost nothing until used: a zero state is
   * MEMO_EMPTY (a lock-free 32-bit atomic is its bytes). Mapped in huge
   * pages (see map_slots), else from the heap, the slots at its first
   * cache line. */
  m->bytes = n * MEMO_SLOT;
  m->slots = huge ? map_slots(m->bytes) : NULL;
  if (!m->slots) {
    m->block = xcalloc(1, m->bytes + 63);
    m->slots = (unsigned char *)(((uintptr_t)m->block + 63) & ~(uintptr_t)63);
  }
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
  if (m->block)
    free(m->block);
  else
    munmap(m->slots, m->bytes);
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
