/* memo: remembers what the detector works out for short strings (a word,
 * a token), across messages, shared by threads.
 *
 * Most of what a message says was said before (a few thousand distinct
 * words make up nine tenths of what people write), and much of the
 * detector's work depends on one word or one token alone: its n-gram
 * hashes and weights, its lexicon entries, VADER's reading of it. So that
 * work is done once per distinct string and looked up afterwards. A memo
 * only ever holds what would be computed anyway, so no result depends on
 * what it holds.
 *
 * A memo maps keys of at most MEMO_KEY_MAX bytes to records of a size
 * fixed when it is made. It is fill-once and lock-free: a slot goes from
 * empty to claimed (by one thread, with a compare-and-swap) to ready
 * (published with a release store), and then never changes, so readers
 * need no lock and a record stays where it is for the memo's lifetime.
 * When the slots near a key's home are taken, the key is simply not
 * remembered: a memo never grows past the size it was made with. */
#ifndef DETECTOR_MEMO_H
#define DETECTOR_MEMO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Longest key. Keys are read as two 64-bit loads, so callers leave
 * MEMO_KEY_READ readable bytes at each key, whatever its length. */
#define MEMO_KEY_MAX 16
#define MEMO_KEY_READ 16
/* A key sits at most MEMO_PROBES - 1 slots past its home. With 4, a
 * memo filled to 0.8 (the token memo on the TextBlob golden set) turned
 * away one distinct token in ten, read the slow way at every use; with 8,
 * fewer than half as many. */
#define MEMO_PROBES 8

enum memo_state { MEMO_EMPTY, MEMO_CLAIMED, MEMO_READY };

/* A key as the memo compares it: its bytes, zero-padded, and its length. */
struct memo_key {
  uint64_t w[2];
  uint32_t len;
};

/* The head of a slot; the record follows, at MEMO_RECORD. 24 bytes, so
 * that a slot of one cache line has 40 for its record. No hash is kept:
 * comparing the key costs no more. */
struct memo_slot {
  _Atomic uint32_t state; /* enum memo_state */
  uint32_t len;           /* the key's, and its bytes: valid once ready */
  uint64_t w[2];
};

#define MEMO_RECORD sizeof(struct memo_slot)
_Static_assert(sizeof(struct memo_slot) == 24, "a slot's head is 24 bytes");
/* Every slot is one cache line (records of up to MEMO_SLOT - MEMO_RECORD
 * bytes): a constant, so that finding a slot is a shift. */
#define MEMO_SLOT 64

struct memo {
  unsigned char *slots; /* 2^bits slots of MEMO_SLOT bytes, cache-aligned */
  void *block;          /* the heap block they are in, or NULL: mapped */
  size_t bytes;         /* of the slots */
  size_t record_size, mask;
  unsigned shift; /* 32 - bits: a hash's top bits are its home */
  /* byte_mask[n]: keeps the first n bytes of a MEMO_KEY_READ-byte load. */
  uint64_t byte_mask[MEMO_KEY_MAX + 1][2];
};

/* An empty memo of 2^bits slots for records of record_size bytes, in huge
 * pages when huge and the system has them; release with memo_free. */
struct memo *memo_new(unsigned bits, size_t record_size, bool huge);
void memo_free(struct memo *m); /* NULL is fine */

/* Sets *k to the key bytes[0..len) (len <= MEMO_KEY_MAX, MEMO_KEY_READ
 * bytes readable at bytes). */
static inline void memo_key_of(const struct memo *m, const char *bytes,
                               size_t len, struct memo_key *k)
{
  memcpy(k->w, bytes, sizeof k->w);
  k->w[0] &= m->byte_mask[len][0];
  k->w[1] &= m->byte_mask[len][1];
  k->len = (uint32_t)len;
}

/* A hash of k whose top bits are well mixed (multiplicative hashing),
 * for keys that come without one. */
static inline uint32_t memo_hash(const struct memo_key *k)
{
  uint64_t h =
      k->w[0] * 0x9E3779B97F4A7C15u ^ (k->w[1] + k->len) * 0xC2B2AE3D27D4EB4Fu;
  return (uint32_t)(h >> 32);
}

static inline struct memo_slot *memo_slot_at(const struct memo *m, size_t i)
{
  return (struct memo_slot *)(m->slots + (i & m->mask) * MEMO_SLOT);
}

/* The home slot of a hash: its top bits (callers' hashes are mixed; the
 * low bits often index something else). */
static inline size_t memo_home(const struct memo *m, uint32_t hash)
{
  return hash >> m->shift;
}

/* The record of key k, whose hash is hash (any well-mixed hash of the
 * key, the same for every call on this memo), or NULL. Thread-safe. */
static inline const void *memo_find(const struct memo *m,
                                    const struct memo_key *k, uint32_t hash)
{
  /* In locals: the acquire loads below would make the compiler read the
   * memo's fields again at each probe. */
  const unsigned char *slots = m->slots;
  size_t mask = m->mask, size = MEMO_SLOT;
  size_t i = memo_home(m, hash);
  for (size_t p = 0; p < MEMO_PROBES; p++, i = (i + 1) & mask) {
    const struct memo_slot *s = (const struct memo_slot *)(slots + i * size);
    uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
    /* Slots never empty again, so a key added after this one's home
     * filled up sits before the first empty slot. */
    if (st == MEMO_EMPTY)
      return NULL;
    /* The rest of a slot is read only once it is ready: a claimed one is
     * being written. */
    if (st == MEMO_READY && s->w[0] == k->w[0] && s->w[1] == k->w[1] &&
        s->len == k->len)
      return (const unsigned char *)s + MEMO_RECORD;
  }
  return NULL;
}

/* The place of a record the memo holds (from memo_find or memo_add), and
 * back: 32 bits where a pointer would take 64. */
static inline uint32_t memo_index_of(const struct memo *m, const void *record)
{
  return (uint32_t)(((const unsigned char *)record - m->slots) / MEMO_SLOT);
}

static inline const void *memo_record_at(const struct memo *m, uint32_t i)
{
  return m->slots + (size_t)i * MEMO_SLOT + MEMO_RECORD;
}

/* The key of a record the memo holds (from memo_find or memo_add): its
 * bytes (MEMO_KEY_READ of them readable, zeros past the key), and its
 * length in *len. */
static inline const char *memo_key_of_record(const void *record, size_t *len)
{
  const struct memo_slot *s =
      (const struct memo_slot *)((const unsigned char *)record - MEMO_RECORD);
  *len = s->len;
  return (const char *)s->w;
}

/* Remembers record (record_size bytes) for key k of hash hash, when a slot
 * near its home is free; returns the memo's copy, or NULL when it had no
 * room. Thread-safe. */
const void *memo_add(struct memo *m, const struct memo_key *k, uint32_t hash,
                     const void *record);

#endif
