/* ratelimit: a token bucket per source address, in fixed memory.
 *
 * Each peer address (IPv4 or IPv6; the port is ignored, and an IPv4
 * address seen as ::ffff:a.b.c.d is the same source as a.b.c.d) has a
 * bucket of `burst` tokens that refills at `rate_per_s` tokens a second;
 * every request takes one token, and a request that finds the bucket
 * empty is refused. The server applies it to every route alike, /health
 * and /metrics included, at the first call of the access handler, before
 * any body is read: simple and predictable, and a monitor polling a few
 * times a second stays far below any sensible rate. Loopback peers (a
 * local proxy or health check is one source for everyone behind it) are
 * exempt unless limit_loopback is set.
 *
 * Memory is fixed at creation: a set-associative table of about `slots`
 * buckets (RATELIMIT_WAYS per set; the set is a keyed hash of the address,
 * with a random key, so that sources cannot be picked to collide). A new
 * address takes a free way of its set or, when the set is full, the way
 * used least recently; the address evicted starts over with a full bucket
 * when it comes back. A bucket that has refilled completely is the same
 * as no bucket, so eviction only ever forgets sources that have been
 * quiet the longest. Sets are guarded by striped mutexes.
 *
 * Time comes from the caller (CLOCK_MONOTONIC nanoseconds), so tests
 * control the clock. Tokens are counted in billionths, so rates that do
 * not divide a second (3/s) refill exactly. */
#ifndef HTTP_RATELIMIT_H
#define HTTP_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Buckets when the caller does not say: about 160 KiB. */
#define RATELIMIT_DEFAULT_SLOTS 4096
/* Buckets per set: how many addresses can share one hash value before the
 * stalest is forgotten (and how many a lookup compares). */
#define RATELIMIT_WAYS 16

struct ratelimit; /* opaque */

/* Makes a limiter of rate_per_s tokens a second up to burst (at least 1)
 * per address, in about slots buckets (0: RATELIMIT_DEFAULT_SLOTS; fewer
 * than RATELIMIT_WAYS makes one set of that many). rate_per_s 0 makes a
 * limiter that allows everything and holds no table. Aborts on out of
 * memory; release with ratelimit_free. */
struct ratelimit *ratelimit_new(unsigned rate_per_s, unsigned burst,
                                bool limit_loopback, size_t slots);

void ratelimit_free(struct ratelimit *rl); /* NULL is fine */

/* Takes a token for the source of peer at now_ns (CLOCK_MONOTONIC). True:
 * allowed (also when rl is NULL or off, peer is NULL or not an IP address,
 * or a loopback peer is exempt). False: refused, and *retry_after_s (when
 * not NULL) says in whole seconds, at least 1, when a token will be
 * there. Thread-safe. */
bool ratelimit_take(struct ratelimit *rl, const struct sockaddr *peer,
                    uint64_t now_ns, unsigned *retry_after_s);

/* How many addresses hold a bucket now (at most the table's size). For
 * tests and diagnostics; takes every lock in turn. */
size_t ratelimit_tracked(struct ratelimit *rl);

/* The number of buckets the table has (0 when off). */
size_t ratelimit_capacity(const struct ratelimit *rl);

#endif
