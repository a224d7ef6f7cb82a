/* server_raw: answers written beside libmicrohttpd, on the plain socket,
 * and who gives the answer of a request: the connection's thread or the
 * watchdog, never both. */
#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "http/server_int.h"

/* Claims the answer of c's current request for who; true when it is
 * who's to give (claimed now or before by the same one). */
bool server_claim_reply(struct conn *c, enum replier who)
{
  int expected = REPLIER_NONE;
  return atomic_compare_exchange_strong(&c->replier, &expected, (int)who) ||
         expected == (int)who;
}

/* Writes a whole response on the plain socket fd, beside libmicrohttpd,
 * and ends the sending side; false when it could not be written whole at
 * once (then the caller just closes). Only for a request that is still
 * being received, when nothing else is being sent on the socket. */
bool server_write_raw(int fd, int status, const char *content_type,
                      const char *body, size_t body_len, const char *rid)
{
  char head[256];
  const char *reason = MHD_get_reason_phrase_for((unsigned)status);
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
                   "%zu\r\n%s%s%sConnection: close\r\n\r\n",
                   status, reason, content_type, body_len,
                   *rid ? "X-Request-Id: " : "", rid, *rid ? "\r\n" : "");
  if (n <= 0 || (size_t)n >= sizeof head || fd < 0)
    return false;
  struct iovec iov[2] = {{head, (size_t)n}, {(void *)body, body_len}};
  struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
  ssize_t sent = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent != (ssize_t)((size_t)n + body_len))
    return false;
  shutdown(fd, SHUT_WR);
  return true;
}
