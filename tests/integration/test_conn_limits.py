"""Connections at MAX_CONNECTIONS and MAX_CONNECTIONS_PER_IP.

The real binary with small limits (MAX_CONNECTIONS=8, per address 4 where
tested) and raw sockets on loopback. At a limit, a new client is served
at once by closing the connection idle the longest (of its own address
for the per-address limit), and answered 503 with Retry-After and a JSON
error when every connection is busy (in the middle of a request); the
server keeps serving once room is back. IDLE_TIMEOUT is 30 s, so a client
left waiting for an idle connection to time out fails these checks.
Prints "N passed, M failed".
"""
import json
import os
import socket
import sys
import tempfile
import time

from fa_harness import HOST, Server, check, metric, run_tests, wait_closed

MAX = 8
ANSWER_S = 3.0  # far below IDLE_TIMEOUT (30 s)


def connect(port, source=None):
    s = socket.create_connection((HOST, port), timeout=5,
                                 source_address=(source, 0) if source else None)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_response(s, limit_s=ANSWER_S):
    """One whole response (Content-Length framed): (status, headers dict,
    body bytes); None when nothing complete came within limit_s."""
    s.settimeout(0.1)
    got = b""
    t0 = time.time()
    while time.time() - t0 < limit_s:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        got += chunk
        head, sep, body = got.partition(b"\r\n\r\n")
        if not sep:
            continue
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        if len(body) >= n:
            return int(lines[0].split()[1]), headers, body[:n]
    return None


def get(s, path="/health", close=False):
    s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n" %
               (path, "Connection: close\r\n" if close else "")).encode())
    return read_response(s)


def is_closed(s, limit_s=1.0):
    took, _ = wait_closed(s, limit_s)
    return took is not None


def busy(port, source=None, partial_line=False):
    """A connection in the middle of a request: the request line and part
    of the headers sent, the rest held back; or, partial_line, only part
    of the request line (the server has read bytes of a request it cannot
    parse yet)."""
    s = connect(port, source)
    s.sendall(b"POST /web" if partial_line else
              b"POST /webhook HTTP/1.1\r\nHost: t\r\n")
    return s


def server(tmp, **env):
    e = {"MAX_CONNECTIONS": str(MAX), "IDLE_TIMEOUT": "30",
         "REQUEST_TIMEOUT_MS": "20000", "HTTP_THREADS": "2"}
    e.update(env)
    return Server(os.path.join(tmp, "fa.db"), env=e)


def test_idle_connections_make_room_oldest_first():
    with tempfile.TemporaryDirectory(prefix="fa-conn-") as tmp:
        srv = server(tmp)
        socks = []
        try:
            # The oldest: a kept-alive connection after one request.
            first = connect(srv.port)
            check(get(first)[0] == 200, "first request")
            socks.append(first)
            for _ in range(MAX - 1):
                time.sleep(0.05)
                socks.append(connect(srv.port))
            time.sleep(0.2)
            t0 = time.time()
            new = connect(srv.port)
            r = get(new)
            took = time.time() - t0
            check(r is not None and r[0] == 200,
                  "a new client at the limit got %r (after %.1f s)" % (r, took))
            print("     served at the limit in %.0f ms" % (took * 1000))
            check(is_closed(socks[0]), "the oldest idle connection is closed")
            for s in socks[1:]:
                check(not is_closed(s, 0.05), "a younger idle one stays open")
            # Again: the next oldest goes.
            r = get(connect(srv.port), close=True)
            check(r is not None and r[0] == 200, "second new client: %r" % (r,))
            check(is_closed(socks[1]), "the next oldest is closed")
            new.close()
            time.sleep(0.2)  # room for the metrics request
            text = srv.metrics()
            check(metric(text, "fa_http_connections_evicted_total") == 2,
                  "evictions counted: %r" % metric(
                      text, "fa_http_connections_evicted_total"))
        finally:
            for s in socks:
                s.close()
            srv.stop()


def test_all_busy_gets_503_then_served():
    with tempfile.TemporaryDirectory(prefix="fa-conn-") as tmp:
        srv = server(tmp)
        held = []
        try:
            for i in range(MAX):
                held.append(busy(srv.port, partial_line=i % 2 == 1))
            time.sleep(0.6)
            for i in range(3):
                s = connect(srv.port)
                r = get(s)
                check(r is not None, "no answer at the limit (try %d)" % i)
                status, headers, body = r
                check(status == 503, "status %d" % status)
                check(headers.get("retry-after") == "1",
                      "Retry-After %r" % headers.get("retry-after"))
                check(headers.get("content-type", "").startswith(
                    "application/json"), "JSON answer")
                err = json.loads(body)
                check(err["error"] == "too_many_connections" and
                      "MAX_CONNECTIONS" in err["message"], "error %r" % err)
                check(is_closed(s), "the refused connection is closed")
                s.close()
            # A busy connection finishing its request is answered as usual.
            body = b'{"customer_id": "c1", "message": "all good, thanks"}'
            held[0].sendall(b"Content-Type: application/json\r\n"
                            b"Content-Length: %d\r\n\r\n" % len(body) + body)
            r = read_response(held[0])
            check(r is not None and r[0] == 200, "busy request: %r" % (r,))
            # Now idle (once the server has finished with the request,
            # just after the answer is sent), it makes room for the next
            # client.
            time.sleep(0.2)
            r = get(connect(srv.port), close=True)
            check(r is not None and r[0] == 200, "after room: %r" % (r,))
            time.sleep(0.2)  # its close seen: room for the metrics request
            text = srv.metrics()
            check(metric(text, "fa_http_connections_busy_total") == 3,
                  "503s counted")
        finally:
            for s in held:
                s.close()
            srv.stop()


def test_per_address_limit():
    with tempfile.TemporaryDirectory(prefix="fa-conn-") as tmp:
        srv = server(tmp, MAX_CONNECTIONS_PER_IP="4")
        held = []
        try:
            idle = [connect(srv.port)]
            for _ in range(3):
                time.sleep(0.05)
                idle.append(connect(srv.port))
            held += idle
            time.sleep(0.2)
            # The same address: its own oldest idle connection goes.
            r = get(connect(srv.port), close=True)
            check(r is not None and r[0] == 200, "same address: %r" % (r,))
            check(is_closed(idle[0]), "its oldest idle connection closed")
            # Four busy from 127.0.0.1: it gets 503, another address does
            # not, and no connection of 127.0.0.1 is touched for it.
            for s in idle[1:]:
                s.close()
            time.sleep(0.2)
            for _ in range(4):
                held.append(busy(srv.port))
            other_idle = connect(srv.port, "127.0.0.2")
            held.append(other_idle)
            time.sleep(0.3)
            r = get(connect(srv.port))
            check(r is not None and r[0] == 503, "address at its limit: %r"
                  % (r,))
            check(not is_closed(other_idle, 0.1),
                  "another address's idle connection is left alone")
            r = get(connect(srv.port, "127.0.0.2"), close=True)
            check(r is not None and r[0] == 200, "another address: %r" % (r,))
        finally:
            for s in held:
                s.close()
            srv.stop()


if __name__ == "__main__":
    sys.exit(run_tests([test_idle_connections_make_room_oldest_first,
                        test_all_busy_gets_503_then_served,
                        test_per_address_limit]))
