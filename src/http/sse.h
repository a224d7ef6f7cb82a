/* sse: server-sent events for the dashboard (GET /api/stream).
 *
 * A hub keeps a bounded ring of the most recent events, each already
 * formatted as an SSE record ("id: N\nevent: NAME\ndata: JSON\n\n").
 * Publishers (any thread) append to the ring and wake the subscribers;
 * publishing never waits for a subscriber. Each subscriber is one HTTP
 * response streamed by libmicrohttpd: its content reader copies the events
 * it has not sent yet and, when there are none, suspends the connection
 * until the next publish or heartbeat (so no pool thread is held by an
 * idle stream). A subscriber that falls more than the ring behind loses
 * the oldest events and is told so by an "event: resync" record (the page
 * then reloads /api/stats). The number of subscribers is bounded; one
 * more is refused with 503.
 *
 * A thread of the hub sends a heartbeat comment (": ping") to every
 * subscriber every heartbeat_ms, which also lets libmicrohttpd notice
 * clients that went away, and calls an optional tick callback every
 * tick_ms (the dashboard uses it to publish outbox changes).
 *
 * Lifetime: sse_hub_new before the server starts; sse_hub_shutdown when it
 * stops, before libmicrohttpd's daemon is stopped (it resumes every
 * suspended stream and makes each end: libmicrohttpd refuses to stop with
 * suspended connections); sse_hub_free after the daemon is gone. */
#ifndef HTTP_SSE_H
#define HTTP_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Largest record: longer data is not published (publishers send ids and
 * scores, never message text, so this is far above what they need). */
#define SSE_EVENT_MAX 4096

struct sse_hub; /* opaque */

struct sse_options {
  size_t ring_events;     /* events kept for slow subscribers; 0: 1024 */
  size_t max_subscribers; /* concurrent streams; 0: 64 */
  unsigned heartbeat_ms;  /* 0: 15000 */
  unsigned tick_ms;       /* 0: 1000 */
  /* Called on the hub's thread every tick_ms when not NULL; it may call
   * sse_publish. */
  void (*tick)(void *ctx);
  void *tick_ctx;
};

/* Starts a hub (and its heartbeat thread). ERR_INTERNAL if the thread
 * cannot start. Release with sse_hub_shutdown, then sse_hub_free. */
enum err sse_hub_new(const struct sse_options *o, struct sse_hub **out);

/* Sets the tick callback after creation (the dashboard exists after the
 * hub). Thread-safe. */
void sse_hub_set_tick(struct sse_hub *h, void (*tick)(void *ctx), void *ctx);

/* Ends every stream (their readers return end-of-stream once resumed),
 * refuses new ones and stops the thread. Idempotent; NULL is fine. */
void sse_hub_shutdown(struct sse_hub *h);

/* Frees the hub; every stream must be finished (the daemon stopped).
 * NULL is fine. */
void sse_hub_free(struct sse_hub *h);

/* Appends one event: name is the SSE event name ([a-z_]+), data one line
 * of JSON (no newline). Wakes the suspended subscribers. Thread-safe;
 * never blocks on a subscriber. Silently drops a record over
 * SSE_EVENT_MAX and everything after sse_hub_shutdown. */
void sse_publish(struct sse_hub *h, const char *name, const char *data,
                 size_t data_len);

struct sse_stats {
  size_t subscribers;
  uint64_t published; /* events ever published */
  uint64_t dropped;   /* events subscribers missed by falling behind */
  uint64_t refused;   /* streams refused for the subscriber bound */
};

void sse_hub_stats(struct sse_hub *h, struct sse_stats *out);

struct MHD_Connection;

/* For server.c: answers a GET /api/stream on mc with the event stream
 * (200, text/event-stream), starting after event last_event_id (the
 * Last-Event-ID header, NULL: from now on) when the ring still has it.
 * With the subscriber bound reached (or the hub shut down) it queues a
 * 503 JSON refusal instead and sets *refused. Returns libmicrohttpd's
 * MHD_Result of queueing the response. */
int sse_respond(struct sse_hub *h, struct MHD_Connection *mc,
                const char *last_event_id, bool *refused);

#endif
