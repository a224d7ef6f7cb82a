/* ratelimit: token buckets per source address in a fixed, set-associative
 * table (see ratelimit.h for the policy).
 *
 * Invariants: a way is free when its family byte is 0; an address occurs
 * at most once in its set (it is looked for in every way before a way is
 * claimed); tokens never exceed the bucket's capacity; last_ns never goes
 * backwards, so a caller whose clock reading is a little older than
 * another thread's refills nothing rather than wrapping around. Everything
 * in a set is read and written under that set's stripe lock. */
#include "http/ratelimit.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/clock.h"
#include "base/xalloc.h"

/* Tokens are counted in billionths: one token, and the refill per
 * nanosecond is then exactly rate_per_s of these units. */
#define TOKEN ((uint64_t)1000000000u)
/* Lock stripes: a set maps to stripe set % RATELIMIT_STRIPES. Enough that
 * a handful of server threads rarely meet on one. */
#define RATELIMIT_STRIPES 64

struct way {
  uint8_t addr[16]; /* IPv6, or IPv4 as ::ffff:a.b.c.d */
  uint8_t used;
  uint64_t tokens; /* billionths of a token */
  uint64_t last_ns;
};

struct ratelimit {
  uint64_t rate;     /* tokens per second = billionths per nanosecond */
  uint64_t capacity; /* burst, in billionths */
  bool limit_loopback;
  size_t n_sets; /* a power of two */
  size_t n_ways;
  uint64_t seed[2];
  struct way *ways; /* n_sets * n_ways */
  pthread_mutex_t locks[RATELIMIT_STRIPES];
};

/* ---- addresses ------------------------------------------------------ */

/* The 16-byte key of an IP address; false for other families. */
static bool key_of(const struct sockaddr *sa, uint8_t key[16])
{
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    memset(key, 0, 10);
    key[10] = key[11] = 0xff;
    memcpy(key + 12, &in->sin_addr, 4);
    return true;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    memcpy(key, &in6->sin6_addr, 16);
    return true;
  }
  return false;
}

/* ::1, or 127.0.0.0/8 (also when seen as ::ffff:127.x.y.z). */
static bool key_is_loopback(const uint8_t key[16])
{
  static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0,    0,
                                        0, 0, 0, 0, 0xff, 0xff};
  static const uint8_t v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                          0, 0, 0, 0, 0, 0, 0, 1};
  if (!memcmp(key, v4_prefix, sizeof v4_prefix))
    return key[12] == 127;
  return !memcmp(key, v6_loopback, sizeof v6_loopback);
}

/* splitmix64's finalizer: every input bit reaches every output bit. */
static uint64_t mix(uint64_t x)
{
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9u;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebu;
  x ^= x >> 31;
  return x;
}

/* A keyed hash of the address: without the random seed, an attacker with
 * many addresses could pick ones that share a set and evict others. */
static uint64_t hash_key(const struct ratelimit *rl, const uint8_t key[16])
{
  uint64_t a, b;
  memcpy(&a, key, 8);
  memcpy(&b, key + 8, 8);
  return mix(mix(a ^ rl->seed[0]) ^ b ^ rl->seed[1]);
}

/* ---- buckets -------------------------------------------------------- */

/* Adds what the time since w->last_ns refilled, up to the capacity. */
static void refill(const struct ratelimit *rl, struct way *w, uint64_t now)
{
  if (now <= w->last_ns)
    return;
  uint64_t elapsed = now - w->last_ns;
  uint64_t missing = rl->capacity - w->tokens;
  /* Compared before multiplying: a long-idle bucket would overflow. */
  if (elapsed >= missing / rl->rate + 1)
    w->tokens = rl->capacity;
  else
    w->tokens += elapsed * rl->rate; /* at most missing */
  w->last_ns = now;
}

/* The way holding key in set, or the one to give it: a free way, else
 * the one least recently used, reset to a full bucket. */
static struct way *find_way(struct ratelimit *rl, size_t set,
                            const uint8_t key[16], uint64_t now)
{
  struct way *ways = rl->ways + set * rl->n_ways;
  struct way *free_way = NULL, *stalest = NULL;
  for (size_t i = 0; i < rl->n_ways; i++) {
    struct way *w = &ways[i];
    if (!w->used) {
      if (!free_way)
        free_way = w;
      continue;
    }
    if (!memcmp(w->addr, key, 16))
      return w;
    if (!stalest || w->last_ns < stalest->last_ns)
      stalest = w;
  }
  struct way *w = free_way ? free_way : stalest;
  memcpy(w->addr, key, 16);
  w->used = 1;
  w->tokens = rl->capacity;
  w->last_ns = now;
  return w;
}

/* ---- public --------------------------------------------------------- */

struct ratelimit *ratelimit_new(unsigned rate_per_s, unsigned burst,
                                bool limit_loopback, size_t slots)
{
  struct ratelimit *rl = xcalloc(1, sizeof *rl);
  rl->rate = rate_per_s;
  rl->capacity = (uint64_t)(burst ? burst : 1) * TOKEN;
  rl->limit_loopback = limit_loopback;
  if (!rate_per_s)
    return rl;
  if (!slots)
    slots = RATELIMIT_DEFAULT_SLOTS;
  rl->n_ways = slots < RATELIMIT_WAYS ? slots : RATELIMIT_WAYS;
  rl->n_sets = 1;
  while (rl->n_sets * 2 * rl->n_ways <= slots)
    rl->n_sets *= 2;
  rl->ways = xcalloc(rl->n_sets * rl->n_ways, sizeof *rl->ways);
  for (size_t i = 0; i < RATELIMIT_STRIPES; i++)
    pthread_mutex_init(&rl->locks[i], NULL);
  /* The seed need only be unknown to clients; the clock will do when the
   * kernel has no randomness to give yet. */
  if (getrandom(rl->seed, sizeof rl->seed, GRND_NONBLOCK) !=
      (ssize_t)sizeof rl->seed) {
    rl->seed[0] = mix(clock_mono_ns() ^ (uint64_t)(uintptr_t)rl);
    rl->seed[1] = mix((uint64_t)clock_wall_ms() ^ rl->seed[0]);
  }
  return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
  if (!rl)
    return;
  if (rl->ways) {
    for (size_t i = 0; i < RATELIMIT_STRIPES; i++)
      pthread_mutex_destroy(&rl->locks[i]);
    free(rl->ways);
  }
  free(rl);
}

bool ratelimit_take(struct ratelimit *rl, const struct sockaddr *peer,
                    uint64_t now_ns, unsigned *retry_after_s)
{
  if (retry_after_s)
    *retry_after_s = 0;
  uint8_t key[16];
  if (!rl || !rl->rate || !peer || !key_of(peer, key))
    return true;
  if (!rl->limit_loopback && key_is_loopback(key))
    return true;
  size_t set = (size_t)(hash_key(rl, key) & (rl->n_sets - 1));
  pthread_mutex_t *lock = &rl->locks[set % RATELIMIT_STRIPES];
  pthread_mutex_lock(lock);
  struct way *w = find_way(rl, set, key, now_ns);
  refill(rl, w, now_ns);
  bool allowed = w->tokens >= TOKEN;
  uint64_t wait_ns = 0;
  if (allowed)
    w->tokens -= TOKEN;
  else
    wait_ns = (TOKEN - w->tokens + rl->rate - 1) / rl->rate;
  pthread_mutex_unlock(lock);
  if (!allowed && retry_after_s) {
    uint64_t s = (wait_ns + TOKEN - 1) / TOKEN;
    *retry_after_s = s < 1 ? 1 : (unsigned)s;
  }
  return allowed;
}

size_t ratelimit_tracked(struct ratelimit *rl)
{
  size_t n = 0;
  if (!rl || !rl->ways)
    return 0;
  for (size_t set = 0; set < rl->n_sets; set++) {
    pthread_mutex_t *lock = &rl->locks[set % RATELIMIT_STRIPES];
    pthread_mutex_lock(lock);
    for (size_t i = 0; i < rl->n_ways; i++)
      n += rl->ways[set * rl->n_ways + i].used;
    pthread_mutex_unlock(lock);
  }
  return n;
}

size_t ratelimit_capacity(const struct ratelimit *rl)
{
  return rl && rl->ways ? rl->n_sets * rl->n_ways : 0;
}
