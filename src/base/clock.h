/* clock: the project's one clock.
 *
 * Monotonic time measures intervals and timeouts (it never jumps when the
 * system time is set); wall-clock time is what is stored and shown
 * (milliseconds since the Unix epoch, UTC). Code that decides by time
 * takes "now" as a parameter and its caller reads the clock here, so tests
 * can pass any time they like. */
#ifndef BASE_CLOCK_H
#define BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC; the origin is
 * arbitrary, so only differences mean anything). */
uint64_t clock_mono_ns(void);

/* Monotonic time in milliseconds. */
int64_t clock_mono_ms(void);

/* Wall-clock time in milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_wall_ms(void);

/* ms since the epoch (negative taken as 0) as RFC 3339 in UTC with
 * milliseconds, e.g. "2025-07-02T13:07:40.937Z", into out. */
void clock_format_rfc3339(int64_t ms, char out[32]);

/* The time ns nanoseconds from now on clock id (CLOCK_MONOTONIC or
 * CLOCK_REALTIME), as the absolute deadline pthread_cond_timedwait takes;
 * the clock must be the one the condition variable waits on. */
struct timespec clock_deadline(clockid_t id, uint64_t ns);

#endif
