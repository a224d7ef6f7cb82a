/* sse: the event hub and its libmicrohttpd streams (see sse.h).
 *
 * One mutex guards the ring, the subscriber list and every subscriber's
 * position. The content reader runs on the pool thread of its connection:
 * it copies whole records that fit the space libmicrohttpd offers and,
 * with nothing to send, suspends its connection (allowed from a content
 * reader when the response belongs to one connection, as each of ours
 * does) and returns 0. Suspending and resuming both happen under the
 * mutex, so a publish cannot slip between "nothing to send" and the
 * suspension: a record published after the check finds the subscriber
 * marked suspended and resumes it. Publishers only copy the record into
 * the ring and resume connections, both short, so a slow or stalled
 * subscriber never holds anyone up: it just falls behind and, once the
 * ring has moved past it, skips ahead with a resync record.
 *
 * A suspended connection is neither polled nor timed out by
 * libmicrohttpd, so a client that went away is noticed at the next record
 * or heartbeat, when the write fails; the response is then destroyed and
 * its free callback unlinks the subscriber. */
#include "http/sse.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/xalloc.h"

/* Bytes libmicrohttpd asks the reader for at most per call. */
#define SSE_BLOCK_BYTES 16384

/* Sent first: how long the browser waits before reconnecting (ms), and a
 * comment so that the stream's first bytes leave at once. */
static const char sse_hello[] = "retry: 2000\n: connected\n\n";
static const char sse_ping[] = ": ping\n\n";

struct record {
  uint64_t seq;
  size_t len;
  char *text; /* owned; the formatted record */
};

struct sub {
  struct sse_hub *hub;
  struct MHD_Connection *mc;
  struct sub *prev, *next;
  uint64_t next_seq;   /* the next record to send */
  uint64_t beats_sent; /* heartbeat generation last sent */
  bool suspended;
  bool hello_sent;
  uint64_t skipped; /* records lost by falling behind, not yet told */
};

struct sse_hub {
  pthread_mutex_t lock;
  pthread_cond_t wake; /* wakes the thread to stop */
  struct record *ring; /* ring_cap slots; seq % ring_cap */
  size_t ring_cap;
  uint64_t next_seq; /* of the next record published; starts at 1 */
  uint64_t oldest;   /* oldest record still in the ring */
  struct sub *subs;
  size_t n_subs, max_subs;
  uint64_t beats; /* heartbeat generation */
  bool closing;
  struct sse_stats stats;

  unsigned heartbeat_ms, tick_ms;
  void (*tick)(void *ctx);
  void *tick_ctx;
  pthread_t thread;
  bool thread_running;
};

/* Resumes every suspended subscriber. Called with the lock held. */
static void resume_all(struct sse_hub *h)
{
  for (struct sub *s = h->subs; s; s = s->next) {
    if (s->suspended) {
      s->suspended = false;
      MHD_resume_connection(s->mc);
    }
  }
}

static void *hub_main(void *arg)
{
  struct sse_hub *h = arg;
  uint64_t next_beat = (uint64_t)clock_mono_ms() + h->heartbeat_ms;
  pthread_mutex_lock(&h->lock);
  while (!h->closing) {
    struct timespec until =
        clock_deadline(CLOCK_REALTIME, (uint64_t)h->tick_ms * 1000000u);
    pthread_cond_timedwait(&h->wake, &h->lock, &until);
    if (h->closing)
      break;
    void (*tick)(void *) = h->tick;
    void *ctx = h->tick_ctx;
    if (tick) {
      /* The tick publishes, which takes the lock. */
      pthread_mutex_unlock(&h->lock);
      tick(ctx);
      pthread_mutex_lock(&h->lock);
    }
    uint64_t now = (uint64_t)clock_mono_ms();
    if (now >= next_beat) {
      next_beat = now + h->heartbeat_ms;
      h->beats++;
      resume_all(h);
    }
  }
  pthread_mutex_unlock(&h->lock);
  return NULL;
}

enum err sse_hub_new(const struct sse_options *o, struct sse_hub **out)
{
  struct sse_hub *h = xcalloc(1, sizeof *h);
  h->ring_cap = o && o->ring_events ? o->ring_events : 1024;
  h->max_subs = o && o->max_subscribers ? o->max_subscribers : 64;
  h->heartbeat_ms = o && o->heartbeat_ms ? o->heartbeat_ms : 15000;
  h->tick_ms = o && o->tick_ms ? o->tick_ms : 1000;
  h->tick = o ? o->tick : NULL;
  h->tick_ctx = o ? o->tick_ctx : NULL;
  h->ring = xcalloc(h->ring_cap, sizeof *h->ring);
  h->next_seq = 1;
  h->oldest = 1;
  pthread_mutex_init(&h->lock, NULL);
  pthread_cond_init(&h->wake, NULL);
  if (pthread_create(&h->thread, NULL, hub_main, h) != 0) {
    sse_hub_free(h);
    return ERR_INTERNAL;
  }
  h->thread_running = true;
  *out = h;
  return ERR_OK;
}

void sse_hub_set_tick(struct sse_hub *h, void (*tick)(void *ctx), void *ctx)
{
  pthread_mutex_lock(&h->lock);
  h->tick = tick;
  h->tick_ctx = ctx;
  pthread_mutex_unlock(&h->lock);
}

void sse_hub_shutdown(struct sse_hub *h)
{
  if (!h)
    return;
  pthread_mutex_lock(&h->lock);
  h->closing = true;
  resume_all(h);
  pthread_cond_broadcast(&h->wake);
  pthread_mutex_unlock(&h->lock);
  if (h->thread_running) {
    pthread_join(h->thread, NULL);
    h->thread_running = false;
  }
}

void sse_hub_free(struct sse_hub *h)
{
  if (!h)
    return;
  sse_hub_shutdown(h);
  for (size_t i = 0; i < h->ring_cap; i++)
    free(h->ring[i].text);
  free(h->ring);
  pthread_cond_destroy(&h->wake);
  pthread_mutex_destroy(&h->lock);
  free(h);
}

void sse_publish(struct sse_hub *h, const char *name, const char *data,
                 size_t data_len)
{
  if (!h)
    return;
  char head[96];
  pthread_mutex_lock(&h->lock);
  if (h->closing) {
    pthread_mutex_unlock(&h->lock);
    return;
  }
  uint64_t seq = h->next_seq;
  int hl = snprintf(head, sizeof head,
                    "id: %" PRIu64 "\nevent: %s\ndata: ", seq, name);
  if (hl < 0 || (size_t)hl >= sizeof head ||
      data_len > SSE_EVENT_MAX - (size_t)hl - 2 ||
      memchr(data, '\n', data_len)) {
    pthread_mutex_unlock(&h->lock);
    return;
  }
  struct record *r = &h->ring[seq % h->ring_cap];
  size_t len = (size_t)hl + data_len + 2;
  /* Each slot gets one SSE_EVENT_MAX buffer, reused by every record
   * that lands there: the ring stops allocating once warm. */
  if (!r->text)
    r->text = xmalloc(SSE_EVENT_MAX);
  memcpy(r->text, head, (size_t)hl);
  memcpy(r->text + hl, data, data_len);
  memcpy(r->text + hl + data_len, "\n\n", 2);
  r->len = len;
  r->seq = seq;
  h->next_seq = seq + 1;
  if (h->next_seq - h->oldest > h->ring_cap)
    h->oldest = h->next_seq - h->ring_cap;
  h->stats.published++;
  resume_all(h);
  pthread_mutex_unlock(&h->lock);
}

void sse_hub_stats(struct sse_hub *h, struct sse_stats *out)
{
  pthread_mutex_lock(&h->lock);
  *out = h->stats;
  out->subscribers = h->n_subs;
  pthread_mutex_unlock(&h->lock);
}

/* ---- streams ---------------------------------------------------------- */

/* Appends src to dst (room left in *room) if it fits whole. */
static bool put(char *dst, size_t *off, size_t max, const char *src, size_t len)
{
  if (len > max - *off)
    return false;
  memcpy(dst + *off, src, len);
  *off += len;
  return true;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
  struct sub *s = cls;
  struct sse_hub *h = s->hub;
  (void)pos;
  size_t off = 0;
  pthread_mutex_lock(&h->lock);
  if (h->closing) {
    pthread_mutex_unlock(&h->lock);
    return MHD_CONTENT_READER_END_OF_STREAM;
  }
  if (!s->hello_sent && put(buf, &off, max, sse_hello, sizeof sse_hello - 1))
    s->hello_sent = true;
  if (s->next_seq < h->oldest) {
    uint64_t lost = h->oldest - s->next_seq;
    s->skipped += lost;
    h->stats.dropped += lost;
    s->next_seq = h->oldest;
  }
  if (s->skipped) {
    char note[96];
    int n = snprintf(note, sizeof note,
                     "event: resync\ndata: {\"dropped\":%" PRIu64 "}\n\n",
                     s->skipped);
    if (n > 0 && put(buf, &off, max, note, (size_t)n))
      s->skipped = 0;
  }
  while (s->next_seq < h->next_seq) {
    const struct record *r = &h->ring[s->next_seq % h->ring_cap];
    if (!put(buf, &off, max, r->text, r->len)) {
      if (off == 0) {
        s->next_seq++; /* cannot ever fit: skip it rather than stall */
        continue;
      }
      break;
    }
    s->next_seq++;
  }
  if (s->beats_sent != h->beats &&
      put(buf, &off, max, sse_ping, sizeof sse_ping - 1))
    s->beats_sent = h->beats;
  if (off == 0) {
    s->suspended = true;
    MHD_suspend_connection(s->mc);
  }
  pthread_mutex_unlock(&h->lock);
  return (ssize_t)off;
}

static void stream_free(void *cls)
{
  struct sub *s = cls;
  struct sse_hub *h = s->hub;
  pthread_mutex_lock(&h->lock);
  if (s->prev)
    s->prev->next = s->next;
  else
    h->subs = s->next;
  if (s->next)
    s->next->prev = s->prev;
  h->n_subs--;
  pthread_mutex_unlock(&h->lock);
  free(s);
}

static int refuse(struct MHD_Connection *mc, const char *code,
                  const char *message)
{
  char body[256];
  int n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"message\":\"%s\"}",
                   code, message);
  struct MHD_Response *mr =
      MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
  if (!mr)
    return MHD_NO;
  MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, "5");
  int ret = MHD_queue_response(mc, MHD_HTTP_SERVICE_UNAVAILABLE, mr);
  MHD_destroy_response(mr);
  return ret;
}

int sse_respond(struct sse_hub *h, struct MHD_Connection *mc,
                const char *last_event_id, bool *refused)
{
  *refused = true;
  if (!h)
    return refuse(mc, "unavailable", "the event stream is not running");
  pthread_mutex_lock(&h->lock);
  if (h->closing || h->n_subs >= h->max_subs) {
    bool closing = h->closing;
    h->stats.refused++;
    pthread_mutex_unlock(&h->lock);
    return refuse(mc, closing ? "unavailable" : "too_many_streams",
                  closing ? "the server is stopping"
                          : "too many dashboard streams are open");
  }
  struct sub *s = xcalloc(1, sizeof *s);
  s->hub = h;
  s->mc = mc;
  s->next_seq = h->next_seq;
  s->beats_sent = h->beats;
  if (last_event_id && *last_event_id) {
    char *end;
    unsigned long long id = strtoull(last_event_id, &end, 10);
    /* Resume after the last record the browser saw, if the ring has it;
     * otherwise it hears of the gap as a resync. */
    if (*end == '\0' && id < h->next_seq)
      s->next_seq = id + 1 < h->oldest ? h->oldest : id + 1;
    if (*end == '\0' && id + 1 < h->oldest)
      s->skipped = h->oldest - (id + 1);
  }
  s->next = h->subs;
  if (h->subs)
    h->subs->prev = s;
  h->subs = s;
  h->n_subs++;
  pthread_mutex_unlock(&h->lock);

  struct MHD_Response *mr = MHD_create_response_from_callback(
      MHD_SIZE_UNKNOWN, SSE_BLOCK_BYTES, stream_read, s, stream_free);
  if (!mr) {
    stream_free(s);
    return MHD_NO;
  }
  MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                          "text/event-stream; charset=utf-8");
  MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  /* Reverse proxies (nginx) must not buffer the stream. */
  MHD_add_response_header(mr, "X-Accel-Buffering", "no");
  int ret = MHD_queue_response(mc, MHD_HTTP_OK, mr);
  MHD_destroy_response(mr);
  *refused = false;
  return ret;
}
