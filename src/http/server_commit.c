/* server_commit: a request that waits for the committer.
 *
 * Commits. A /webhook request with messages to store is not answered
 * until its transaction is durable, and a pool thread must not wait for
 * that (the pool is small; a group commit takes milliseconds). So the
 * connection is suspended, the messages go to the committer, and the
 * committer's callback, on its writer thread, records the outcome and
 * resumes the connection: libmicrohttpd then calls the access handler
 * again, which answers. The connection is suspended before the
 * submission because the callback may run before the submission returns.
 * A suspended connection is neither polled nor timed out nor closed by
 * libmicrohttpd, so its conn outlives the callback; the callback touches
 * nothing of the conn after resuming it. libmicrohttpd refuses to stop
 * with suspended connections, so server_stop waits for every outstanding
 * commit (the committer answers each one, committed or failed) before it
 * stops the daemon (server_start.c), and the committer is closed only
 * after that. */
#include <stdatomic.h>

#include "alerting/committer.h"
#include "http/server_int.h"

/* The committer's callback, on its writer thread (or on the handler's, for
 * a submission refused at once). */
static void on_committed(void *ctx, enum err rc)
{
  struct conn *c = ctx;
  struct server *srv = c->srv;
  c->commit_rc = rc;
  atomic_store_explicit(&c->commit_done, true, memory_order_release);
  MHD_resume_connection(c->mc);
  /* c may be answered, closed and freed from here on; srv lives until
   * server_stop has seen this count reach zero. */
  atomic_fetch_sub_explicit(&srv->suspended, 1, memory_order_release);
}

/* Hands the messages routes_begin left in c->scratch to the committer
 * and suspends the connection until it calls back. */
enum MHD_Result server_submit_commit(struct conn *c, struct MHD_Connection *mc)
{
  struct server *srv = c->srv;
  struct routes_scratch *s = &c->scratch;
  if (!server_claim_reply(c, REPLIER_HANDLER)) {
    routes_abandon(s); /* the watchdog answered 408: nothing is stored */
    return MHD_NO;
  }
  /* Counted before draining is read, and server_stop sets draining before
   * it reads the count (both sequentially consistent): either this
   * request sees draining and backs off, or server_stop sees it counted
   * and waits for its commit. Keep-alive connections go on sending
   * requests after the listening socket is closed, so this happens. */
  atomic_fetch_add(&srv->suspended, 1);
  if (atomic_load(&srv->draining)) {
    atomic_fetch_sub(&srv->suspended, 1);
    routes_abandon(s);
    http_response_error(&c->resp, 503, "shutting_down",
                 "the server is stopping; nothing was recorded, retry");
    return server_answer(c, mc, true);
  }
  c->req.stage = STAGE_COMMIT;
  c->mc = mc;
  atomic_store_explicit(&c->commit_done, false, memory_order_relaxed);
  MHD_suspend_connection(mc);
  enum err rc =
      committer_submit_async(srv->app->committer, s->ingest, s->n_pending,
                             s->results, on_committed, c);
  if (rc)
    on_committed(c, rc); /* refused: the committer will not call back */
  return MHD_YES;
}
