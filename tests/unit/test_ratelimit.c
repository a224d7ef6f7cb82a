/* Unit tests of ratelimit: token buckets per address on a fake clock. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>

#include "http/ratelimit.h"

#define SEC ((uint64_t)1000000000u)
/* A clock that does not start at 0, as CLOCK_MONOTONIC does not. */
#define T0 ((uint64_t)12345 * SEC)

static struct sockaddr_in v4(const char *ip, unsigned short port)
{
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

static struct sockaddr_in6 v6(const char *ip, unsigned short port)
{
  struct sockaddr_in6 a = {0};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return a;
}

static bool take(struct ratelimit *rl, const void *sa, uint64_t now,
                 unsigned *retry)
{
  return ratelimit_take(rl, (const struct sockaddr *)sa, now, retry);
}

/* Takes until refused; returns how many were allowed (at most limit). */
static unsigned drain(struct ratelimit *rl, const void *sa, uint64_t now,
                      unsigned limit)
{
  unsigned n = 0;
  while (n < limit && take(rl, sa, now, NULL))
    n++;
  return n;
}

static void burst_then_refused(void)
{
  struct ratelimit *rl = ratelimit_new(5, 10, false, 0);
  struct sockaddr_in a = v4("192.0.2.1", 1000);
  unsigned retry = 99;
  for (int i = 0; i < 10; i++) {
    CHECK(take(rl, &a, T0, &retry));
    CHECK_INT(retry, 0);
  }
  CHECK(!take(rl, &a, T0, &retry));
  CHECK(!take(rl, &a, T0, NULL));
  ratelimit_free(rl);
}

static void refills_over_time(void)
{
  struct ratelimit *rl = ratelimit_new(5, 10, false, 0);
  struct sockaddr_in a = v4("192.0.2.1", 1000);
  CHECK_INT(drain(rl, &a, T0, 100), 10);
  /* 5 per second: one token every 200 ms, none before. */
  CHECK(!take(rl, &a, T0 + SEC / 5 - 1, NULL));
  CHECK(take(rl, &a, T0 + SEC / 5, NULL));
  CHECK(!take(rl, &a, T0 + SEC / 5, NULL));
  /* Fractions add up across calls: 100 ms + 100 ms make a token. */
  CHECK(!take(rl, &a, T0 + SEC / 5 + SEC / 10, NULL));
  CHECK(take(rl, &a, T0 + 2 * (SEC / 5), NULL));
  /* A second later: five more, not more. */
  CHECK_INT(drain(rl, &a, T0 + 2 * (SEC / 5) + SEC, 100), 5);
  /* A long wait refills to the burst, never beyond (no overflow either,
   * after a day). */
  CHECK_INT(drain(rl, &a, T0 + 86400 * SEC, 100), 10);
  /* A clock reading older than the last one refills nothing. */
  CHECK(!take(rl, &a, T0, NULL));
  ratelimit_free(rl);
}

static void uneven_rates_refill_exactly(void)
{
  /* 3 per second: a token every 333.33 ms; 3 seconds make 9 exactly. */
  struct ratelimit *rl = ratelimit_new(3, 100, false, 0);
  struct sockaddr_in a = v4("192.0.2.9", 1);
  CHECK_INT(drain(rl, &a, T0, 1000), 100);
  unsigned got = 0;
  for (uint64_t ms = 1; ms <= 3000; ms++)
    got += drain(rl, &a, T0 + ms * (SEC / 1000), 100);
  CHECK_INT(got, 9);
  ratelimit_free(rl);
}

static void retry_after_is_whole_seconds(void)
{
  struct sockaddr_in a = v4("192.0.2.1", 1000);
  unsigned retry = 0;
  /* 5/s: the next token is 200 ms away, rounded up to 1 s. */
  struct ratelimit *rl = ratelimit_new(5, 1, false, 0);
  CHECK(take(rl, &a, T0, &retry));
  CHECK(!take(rl, &a, T0, &retry));
  CHECK_INT(retry, 1);
  ratelimit_free(rl);
  /* 1/s: just refused after a take, a whole second away. */
  rl = ratelimit_new(1, 2, false, 0);
  CHECK_INT(drain(rl, &a, T0, 10), 2);
  CHECK(!take(rl, &a, T0, &retry));
  CHECK_INT(retry, 1);
  CHECK(!take(rl, &a, T0 + SEC / 2, &retry));
  CHECK_INT(retry, 1); /* 0.5 s rounds up */
  CHECK(take(rl, &a, T0 + SEC, &retry));
  CHECK_INT(retry, 0);
  ratelimit_free(rl);
  /* Fractional rates are not configurable, but a burst of 1 at 1/s
   * refused 1 ns after a take still says 1 s, never 0. */
  rl = ratelimit_new(1, 1, false, 0);
  CHECK(take(rl, &a, T0, &retry));
  CHECK(!take(rl, &a, T0 + SEC - 1, &retry));
  CHECK_INT(retry, 1);
  ratelimit_free(rl);
}

static void addresses_are_independent(void)
{
  struct ratelimit *rl = ratelimit_new(1, 3, false, 0);
  struct sockaddr_in a = v4("198.51.100.7", 1000);
  struct sockaddr_in a_other_port = v4("198.51.100.7", 2000);
  struct sockaddr_in b = v4("198.51.100.8", 1000);
  CHECK_INT(drain(rl, &a, T0, 10), 3);
  /* The port is not part of the source. */
  CHECK(!take(rl, &a_other_port, T0, NULL));
  /* Another address has its own bucket. */
  CHECK_INT(drain(rl, &b, T0, 10), 3);
  CHECK_INT(ratelimit_tracked(rl), 2);
  ratelimit_free(rl);
}

static void ipv6_and_mapped_ipv4(void)
{
  struct ratelimit *rl = ratelimit_new(1, 2, false, 0);
  struct sockaddr_in6 a = v6("2001:db8::1", 1);
  struct sockaddr_in6 b = v6("2001:db8::2", 1);
  CHECK_INT(drain(rl, &a, T0, 10), 2);
  CHECK(!take(rl, &a, T0, NULL));
  CHECK_INT(drain(rl, &b, T0, 10), 2);
  /* 203.0.113.5 and ::ffff:203.0.113.5 (a dual-stack socket) are one. */
  struct sockaddr_in p4 = v4("203.0.113.5", 1);
  struct sockaddr_in6 p6 = v6("::ffff:203.0.113.5", 2);
  CHECK(take(rl, &p4, T0, NULL));
  CHECK(take(rl, &p6, T0, NULL));
  CHECK(!take(rl, &p4, T0, NULL));
  CHECK(!take(rl, &p6, T0, NULL));
  ratelimit_free(rl);
}

static void loopback_exempt_unless_asked(void)
{
  struct sockaddr_in lo4 = v4("127.0.0.1", 1);
  struct sockaddr_in lo4b = v4("127.8.9.10", 1);
  struct sockaddr_in6 lo6 = v6("::1", 1);
  struct sockaddr_in6 lo_mapped = v6("::ffff:127.0.0.1", 1);
  struct sockaddr_in other = v4("10.0.0.1", 1);
  struct ratelimit *rl = ratelimit_new(1, 2, false, 0);
  CHECK_INT(drain(rl, &lo4, T0, 50), 50);
  CHECK_INT(drain(rl, &lo4b, T0, 50), 50);
  CHECK_INT(drain(rl, &lo6, T0, 50), 50);
  CHECK_INT(drain(rl, &lo_mapped, T0, 50), 50);
  CHECK_INT(drain(rl, &other, T0, 50), 2);
  CHECK_INT(ratelimit_tracked(rl), 1); /* exempt peers take no room */
  ratelimit_free(rl);

  rl = ratelimit_new(1, 2, true, 0);
  CHECK_INT(drain(rl, &lo4, T0, 50), 2);
  CHECK_INT(drain(rl, &lo6, T0, 50), 2);
  CHECK_INT(drain(rl, &lo_mapped, T0, 50), 0); /* the same as lo4 */
  CHECK_INT(drain(rl, &lo4b, T0, 50), 2);      /* another address */
  ratelimit_free(rl);
}

static void full_table_evicts_the_stalest(void)
{
  /* One set of 16 ways: every address competes for the same room. */
  struct ratelimit *rl = ratelimit_new(1, 2, false, 16);
  CHECK_INT(ratelimit_capacity(rl), 16);
  struct sockaddr_in victim = v4("192.0.2.200", 1);
  CHECK_INT(drain(rl, &victim, T0, 10), 2);
  char ip[32];
  for (int i = 0; i < 15; i++) {
    snprintf(ip, sizeof ip, "192.0.2.%d", i + 1);
    struct sockaddr_in a = v4(ip, 1);
    CHECK(take(rl, &a, T0 + (uint64_t)(i + 1) * 1000, NULL));
  }
  CHECK_INT(ratelimit_tracked(rl), 16);
  /* Full, and the victim is remembered: still refused. */
  CHECK(!take(rl, &victim, T0 + 100000, NULL));
  /* The victim was just touched; 192.0.2.1 is now the stalest. One more
   * address evicts it, and it comes back with a full bucket. */
  struct sockaddr_in newcomer = v4("192.0.2.100", 1);
  CHECK(take(rl, &newcomer, T0 + 200000, NULL));
  CHECK_INT(ratelimit_tracked(rl), 16);
  CHECK(!take(rl, &victim, T0 + 300000, NULL)); /* not evicted */
  struct sockaddr_in first = v4("192.0.2.1", 1);
  CHECK_INT(drain(rl, &first, T0 + 400000, 10), 2); /* fresh: 2 again */
  ratelimit_free(rl);
}

static void many_addresses_fixed_memory(void)
{
  struct ratelimit *rl = ratelimit_new(10, 20, false, 0);
  size_t cap = ratelimit_capacity(rl);
  CHECK(cap > 0 && cap <= RATELIMIT_DEFAULT_SLOTS);
  CHECK(cap >= RATELIMIT_DEFAULT_SLOTS / 2);
  /* 100,000 distinct sources, IPv4 and IPv6: the table never grows. */
  for (uint32_t i = 0; i < 50000; i++) {
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x0a000000u + i);
    take(rl, &a, T0 + i, NULL);
    struct sockaddr_in6 b = v6("2001:db8::", 1);
    b.sin6_addr.s6_addr[12] = (uint8_t)(i >> 24);
    b.sin6_addr.s6_addr[13] = (uint8_t)(i >> 16);
    b.sin6_addr.s6_addr[14] = (uint8_t)(i >> 8);
    b.sin6_addr.s6_addr[15] = (uint8_t)i;
    take(rl, &b, T0 + i, NULL);
  }
  CHECK_INT(ratelimit_tracked(rl), cap);
  /* A source active right now is still limited after the flood. */
  struct sockaddr_in hot = v4("192.0.2.50", 1);
  uint64_t now = T0 + 100000;
  CHECK_INT(drain(rl, &hot, now, 100), 20);
  for (uint32_t i = 0; i < 1000; i++) {
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x0b000000u + i);
    take(rl, &a, now, NULL);
  }
  /* About 4 of these land in its set, which evicts the 100,000 older
   * entries first: without any time passing it is refused, not
   * forgotten. */
  CHECK(!take(rl, &hot, now + 1, NULL));
  ratelimit_free(rl);
}

static void rate_zero_is_off(void)
{
  struct ratelimit *rl = ratelimit_new(0, 1, true, 0);
  struct sockaddr_in a = v4("192.0.2.1", 1);
  unsigned retry = 7;
  CHECK_INT(drain(rl, &a, T0, 1000), 1000);
  CHECK(take(rl, &a, T0, &retry));
  CHECK_INT(retry, 0);
  CHECK_INT(ratelimit_capacity(rl), 0);
  CHECK_INT(ratelimit_tracked(rl), 0);
  ratelimit_free(rl);
  /* NULL limiter, NULL peer and non-IP peers are let through. */
  CHECK(ratelimit_take(NULL, (struct sockaddr *)&a, T0, &retry));
  rl = ratelimit_new(1, 1, true, 0);
  CHECK(ratelimit_take(rl, NULL, T0, &retry));
  struct sockaddr unix_peer = {0};
  unix_peer.sa_family = AF_UNIX;
  CHECK(ratelimit_take(rl, &unix_peer, T0, &retry));
  CHECK(ratelimit_take(rl, &unix_peer, T0, &retry));
  ratelimit_free(rl);
  ratelimit_free(NULL);
}

int main(void)
{
  RUN(burst_then_refused);
  RUN(refills_over_time);
  RUN(uneven_rates_refill_exactly);
  RUN(retry_after_is_whole_seconds);
  RUN(addresses_are_independent);
  RUN(ipv6_and_mapped_ipv4);
  RUN(loopback_exempt_unless_asked);
  RUN(full_table_evicts_the_stalest);
  RUN(many_addresses_fixed_memory);
  RUN(rate_zero_is_off);
  HARNESS_EXIT();
}
