#!/usr/bin/env python3
"""Strict input: nothing reaches the store cut short, and every refusal is
a JSON error.

- NUL: "\\u0000" in any JSON string (and %00 in a Slack form) gets 400
  nul_in_string / invalid_form and stores nothing; before, cJSON's
  NUL-terminated strings cut ids and text at it.
- Framing (RFC 9112 section 6.3): Content-Length together with
  Transfer-Encoding, two Content-Length headers, or a transfer coding
  other than chunked get a JSON 400 (501) and the connection is closed;
  the bytes after the body are never read as a second request.
- Many short headers within MAX_HEADER_BYTES are served; header blocks
  past what the server can hold get a JSON 431, never libmicrohttpd's
  HTML.
- A request whose body stalls gets a JSON 408 before it is closed.
- SIGTERM: requests arriving on open keep-alive connections while the
  server drains get 503 shutting_down and Connection: close.

Real binary on a loopback port, real SQLite file; python3 stdlib only.
"""
import json
import os
import signal
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fa_harness as H  # noqa: E402

TMP = tempfile.mkdtemp(prefix="fa-strict-")
_N = [0]


def fresh_db():
    _N[0] += 1
    return os.path.join(TMP, f"s{_N[0]}.db")


def served(env=None):
    return H.Server(fresh_db(), env=env)


def connect(port, timeout=5):
    return socket.create_connection((H.HOST, port), timeout=timeout)


def read_response(s, timeout=5.0):
    """Reads one response (Content-Length framed); returns (status,
    headers with lower-case names, body)."""
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {data!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    while len(rest) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, hdrs, rest[:n]


def json_error(hdrs, body, code):
    H.check(hdrs.get("content-type", "").startswith("application/json"),
            f"not JSON: {hdrs} {body[:200]!r}")
    data = json.loads(body)
    H.check(data.get("error") == code and data.get("message"),
            f"expected error {code}: {data}")
    return data


def post_raw(port, path, body, ctype=b"application/json"):
    s = connect(port)
    try:
        s.sendall(b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: %s\r\n"
                  b"Content-Length: %d\r\n\r\n%s"
                  % (path.encode(), ctype, len(body), body))
        return read_response(s)
    finally:
        s.close()


def count(db, sql, args=()):
    return H.db_query(db, sql, args)[0][0]


# ---- NUL in JSON strings ---------------------------------------------------

def nul_in_json_strings_is_refused_and_stores_nothing():
    srv = served()
    try:
        port = srv.port
        st, _, _ = post_raw(port, "/webhook", json.dumps(
            {"customer_id": "victim", "message_id": "m-1",
             "message": "This is terrible, awful service"}).encode())
        H.check(st == 200, f"first message: {st}")
        before = count(srv.db, "SELECT count(*) FROM messages")
        alerts = count(srv.db, "SELECT count(*) FROM alerts")
        cases = [
            # A different id that only differs after the NUL: not a
            # duplicate of m-1, and not storable either.
            ("message_id", b'{"customer_id": "victim", "message_id": '
                           b'"m-1\\u0000other", "message": "also terrible"}'),
            # Would join customer victim's alert.
            ("customer_id", b'{"customer_id": "victim\\u0000attacker", '
                            b'"message": "This is terrible, awful service"}'),
            # A calm prefix hiding a frustrated message.
            ("message", b'{"customer_id": "c2", "message": "Thanks, all '
                        b'good\\u0000 This is terrible, I hate it, awful"}'),
            ("batch", b'{"messages": [{"customer_id": "c3", "message": '
                      b'"fine"}, {"customer_id": "c3", "message": "ok", '
                      b'"channel": "e\\u0000mail"}]}'),
            ("key", b'{"customer_id": "c4", "message": "terrible", '
                    b'"x\\u0000": 1}'),
            ("nested", b'{"customer_id": "c4", "message": "terrible", '
                       b'"extra": {"a": ["\\u0000"]}}'),
        ]
        for name, body in cases:
            st, hdrs, data = post_raw(port, "/webhook", body)
            H.check(st == 400, f"{name}: {st} {data!r}")
            json_error(hdrs, data, "nul_in_string")
        # A DevRev event whose comment carries a NUL.
        ev = (b'{"type": "timeline_entry_created", "id": "e1", '
              b'"timeline_entry_created": {"entry": {"id": "don:x\\u0000y", '
              b'"type": "timeline_comment", "body": "terrible"}}}')
        st, hdrs, data = post_raw(port, "/webhook", ev)
        H.check(st == 400, f"devrev event: {st} {data!r}")
        json_error(hdrs, data, "nul_in_string")
        # /slash-analyze, JSON and Slack form.
        st, hdrs, data = post_raw(port, "/slash-analyze",
                                  b'{"text": "fine\\u0000 terrible"}')
        H.check(st == 400, f"slash json: {st}")
        json_error(hdrs, data, "nul_in_string")
        st, hdrs, data = post_raw(port, "/slash-analyze",
                                  b"text=fine%00+terrible",
                                  b"application/x-www-form-urlencoded")
        H.check(st == 400, f"slash form: {st} {data!r}")
        json_error(hdrs, data, "invalid_form")
        # Nothing stored, nothing joined; "\\u0000" written as text (an
        # escaped backslash) and other escapes still pass.
        H.check(count(srv.db, "SELECT count(*) FROM messages") == before,
                "a message was stored")
        H.check(count(srv.db, "SELECT count(*) FROM alerts") == alerts,
                "an alert was opened")
        st, _, data = post_raw(port, "/webhook", json.dumps(
            {"customer_id": "c5", "message_id": "m-\\u0000",
             "message": "tab\there \u0001 is fine"}).encode())
        H.check(st == 200, f"escaped backslash: {st} {data!r}")
        H.check(count(srv.db, "SELECT count(*) FROM messages WHERE "
                      "message_id = ?", ("m-\\u0000",)) == 1,
                "the id with a literal backslash-u was not stored whole")
        H.check(srv.health()[0] == 200, "server stopped serving")
    finally:
        H.check(srv.stop() == 0, "exit status")


# ---- framing ----------------------------------------------------------------

def smuggled():
    return json.dumps({"customer_id": "smuggled", "message_id": "smug-1",
                       "message": "This is terrible, awful service"}).encode()


def smuggle_request(method=b"POST"):
    """Content-Length covering a chunked body plus a whole second request:
    a proxy that frames by the length forwards it as one request."""
    inner = (b"POST /webhook HTTP/1.1\r\nHost: t\r\nContent-Type: "
             b"application/json\r\nContent-Length: %d\r\n\r\n%s"
             % (len(smuggled()), smuggled()))
    body = b"0\r\n\r\n" + inner
    return (method + b" /webhook HTTP/1.1\r\nHost: t\r\nContent-Type: "
            b"application/json\r\nContent-Length: %d\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n%s" % (len(body), body))


def refused_and_closed(port, raw, status, code, what):
    s = connect(port)
    try:
        s.sendall(raw)
        st, hdrs, body = read_response(s)
        H.check(st == status, f"{what}: {st} {body[:200]!r}")
        json_error(hdrs, body, code)
        H.check(hdrs.get("connection", "").lower() == "close",
                f"{what}: no Connection: close {hdrs}")
        dt, rest = H.wait_closed(s, 3)
        H.check(dt is not None, f"{what}: connection left open")
        H.check(b"HTTP/" not in rest, f"{what}: a second answer {rest!r}")
    finally:
        s.close()


def ambiguous_framing_is_refused_and_closed():
    srv = served()
    try:
        port = srv.port
        refused_and_closed(port, smuggle_request(), 400, "bad_framing",
                           "CL + TE POST")
        refused_and_closed(port, smuggle_request(b"GET"), 400, "bad_framing",
                           "CL + TE GET")
        # Transfer-Encoding first, then Content-Length: the same.
        body = b"0\r\n\r\n"
        refused_and_closed(
            port, b"POST /webhook HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: "
            b"chunked\r\nContent-Type: application/json\r\n"
            b"Content-Length: 5\r\n\r\n" + body, 400, "bad_framing",
            "TE + CL")
        one = b'{"customer_id": "x", "message": "fine"}'
        refused_and_closed(
            port, b"POST /webhook HTTP/1.1\r\nHost: t\r\nContent-Type: "
            b"application/json\r\nContent-Length: %d\r\nContent-Length: "
            b"%d\r\n\r\n%s" % (len(one), len(one), one), 400, "bad_framing",
            "two Content-Length")
        for te, status, code in ((b"gzip", 400, "bad_framing"),
                                 (b"chunked, gzip", 400, "bad_framing"),
                                 (b"gzip, chunked", 501,
                                  "unsupported_transfer_coding")):
            refused_and_closed(
                port, b"POST /webhook HTTP/1.1\r\nHost: t\r\nContent-Type: "
                b"application/json\r\nTransfer-Encoding: %s\r\n\r\n0\r\n"
                b"\r\n" % te, status, code, te.decode())
        refused_and_closed(
            port, b"POST /webhook HTTP/1.0\r\nContent-Type: application/json"
            b"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
            "bad_framing", "HTTP/1.0 chunked")
        time.sleep(0.3)
        H.check(count(srv.db, "SELECT count(*) FROM messages") == 0,
                "a smuggled request was stored")
        # Plain chunked and plain Content-Length still work, kept alive.
        s = connect(port)
        try:
            chunked = (b"POST /webhook HTTP/1.1\r\nHost: t\r\nContent-Type: "
                       b"application/json\r\nTransfer-Encoding: Chunked\r\n"
                       b"\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(one), one))
            s.sendall(chunked)
            st, hdrs, _ = read_response(s)
            H.check(st == 200, f"chunked: {st}")
            s.sendall(b"POST /webhook HTTP/1.1\r\nHost: t\r\nContent-Type: "
                      b"application/json\r\nContent-Length: %d\r\n\r\n%s"
                      % (len(one), one))
            st, _, _ = read_response(s)
            H.check(st == 200, f"after chunked, on the same connection: {st}")
        finally:
            s.close()
    finally:
        H.check(srv.stop() == 0, "exit status")


# ---- header limits ----------------------------------------------------------

def header_get(lines):
    return b"GET /health HTTP/1.1\r\nHost: t\r\n" + b"".join(lines) + \
        b"\r\n"


def many_short_headers_get_json_or_are_served():
    srv = served()  # MAX_HEADER_BYTES 8192: at most 256 lines
    try:
        port = srv.port
        s = connect(port)
        try:
            # Within both limits, with the shortest lines and with lines
            # that use the whole MAX_HEADER_BYTES: served.
            for lines in ([b"X-%d: v\r\n" % i for i in range(250)],
                          [b"X-%03d: %s\r\n" % (i, b"v" * 22)
                           for i in range(250)]):
                req = header_get(lines)
                H.check(len(req) <= 8192, len(req))
                s.sendall(req)
                st, hdrs, body = read_response(s)
                H.check(st == 200, f"{len(lines)} lines, {len(req)} bytes: "
                        f"{st} {body[:100]!r}")
            # 300 short headers, well under MAX_HEADER_BYTES: a JSON 431
            # (libmicrohttpd's HTML one before), connection kept.
            s.sendall(header_get([b"X-%d: v\r\n" % i for i in range(300)]))
            st, hdrs, body = read_response(s)
            H.check(st == 431, f"300 headers: {st} {body[:100]!r}")
            data = json_error(hdrs, body, "too_many_headers")
            H.check("301 header lines" in data["message"], data)  # + Host
            # Cookies count as lines.
            s.sendall(header_get([b"Cookie: " + b"; ".join(
                b"a%d=1" % i for i in range(300)) + b"\r\n"]))
            st, hdrs, body = read_response(s)
            H.check(st == 431, f"300 cookies: {st} {body[:100]!r}")
            json_error(hdrs, body, "too_many_headers")
            s.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            st, _, _ = read_response(s)
            H.check(st == 200, f"after the 431s: {st}")
        finally:
            s.close()
        # Far past what a connection can hold: libmicrohttpd's own 431
        # (documented), the connection closed, the server serving on.
        s = connect(port)
        try:
            try:
                s.sendall(header_get([b"X-%d: v\r\n" % i
                                      for i in range(3000)]))
                st, _, _ = read_response(s)
                H.check(st == 431, f"3000 headers: {st}")
            except (ConnectionError, OSError):
                pass
        finally:
            s.close()
        H.check(srv.health()[0] == 200, "server stopped serving")
    finally:
        H.check(srv.stop() == 0, "exit status")


# ---- stalled requests: JSON 408 -------------------------------------------

def stalled_requests_get_a_json_408():
    srv = served({"REQUEST_TIMEOUT_MS": "1000", "IDLE_TIMEOUT": "3"})
    try:
        port = srv.port
        one = b'{"customer_id": "stall", "message": "terrible"}'
        cases = {
            "body": b"POST /webhook HTTP/1.1\r\nHost: t\r\nContent-Type: "
                    b"application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(one), one[:10]),
            "chunked body": b"POST /webhook HTTP/1.1\r\nHost: t\r\n"
                            b"Content-Type: application/json\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\n5\r\nab",
            "headers": b"GET /health HTTP/1.1\r\nHost: t\r\nX-A: b",
            "request line": b"GET /hea",
        }
        socks = {}
        for name, raw in cases.items():
            socks[name] = connect(port)
            socks[name].sendall(raw)
        t0 = time.time()
        for name, s in socks.items():
            try:
                st, hdrs, body = read_response(s, timeout=5)
                H.check(st == 408, f"{name}: {st}")
                json_error(hdrs, body, "request_timeout")
                H.check(hdrs.get("connection") == "close", hdrs)
                dt, _ = H.wait_closed(s, 3)
                H.check(dt is not None, f"{name}: left open")
            finally:
                s.close()
        H.check(time.time() - t0 < 4, f"took {time.time() - t0:.1f} s")
        # An idle connection is closed without an answer.
        s = connect(port)
        try:
            dt, got = H.wait_closed(s, 8)
            H.check(dt is not None and got == b"", f"idle: {dt} {got!r}")
        finally:
            s.close()
        H.check(count(srv.db, "SELECT count(*) FROM messages") == 0,
                "a stalled message was stored")
        H.check(srv.health()[0] == 200, "server stopped serving")
    finally:
        H.check(srv.stop() == 0, "exit status")


# ---- SIGTERM: 503 on open connections ------------------------------------

def webhook_request(cid, mid):
    one = json.dumps({"customer_id": cid, "message_id": mid,
                      "message": "This is terrible, awful service"}).encode()
    return (b"POST /webhook HTTP/1.1\r\nHost: t\r\nContent-Type: "
            b"application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (len(one), one))


def sigterm_answers_503_on_open_connections():
    srv = served()
    idle = busy = None
    try:
        port = srv.port
        idle = connect(port)
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        st, hdrs, _ = read_response(idle)
        H.check(st == 200 and hdrs.get("connection", "") != "close",
                f"keep-alive GET: {st} {hdrs}")
        # A request in flight: half of its body sent.
        busy = connect(port)
        req = webhook_request("inflight", "in-1")
        busy.sendall(req[:-10])
        time.sleep(0.2)
        t0 = time.time()
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        H.check(srv.proc.poll() is None, "exited with a request in flight")
        # A new request on the idle keep-alive connection: 503, closed.
        idle.sendall(webhook_request("late", "late-1"))
        st, hdrs, body = read_response(idle)
        H.check(st == 503, f"request during the drain: {st} {body!r}")
        json_error(hdrs, body, "shutting_down")
        H.check(hdrs.get("connection", "").lower() == "close", hdrs)
        dt, _ = H.wait_closed(idle, 3)
        H.check(dt is not None, "connection kept after the 503")
        # New connections are not accepted.
        try:
            c = connect(port, timeout=1)
            c.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            c.settimeout(1)
            got = c.recv(100)
            c.close()
            H.check(not got, f"a new connection was served: {got!r}")
        except OSError:
            pass
        # The request in flight finishes, stored, told to close.
        busy.sendall(req[-10:])
        st, hdrs, body = read_response(busy)
        H.check(st == 200, f"in-flight request: {st} {body!r}")
        H.check(hdrs.get("connection", "").lower() == "close", hdrs)
        rc = srv.proc.wait(timeout=15)
        H.check(rc == 0, f"exit {rc}")
        H.check(time.time() - t0 < 5, f"drain took {time.time() - t0:.1f} s")
        rows = H.db_query(srv.db, "SELECT customer_id FROM messages")
        H.check(rows == [("inflight",)], f"stored: {rows}")
    finally:
        for s in (idle, busy):
            if s:
                s.close()
        srv.stop()
    # Nothing in flight: an idle connection still gets its 503 when it
    # sends right after the signal, and the stop takes about SERVER_DRAIN_MS.
    srv = served()
    idle = None
    try:
        idle = connect(srv.port)
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        st, _, _ = read_response(idle)
        H.check(st == 200, st)
        t0 = time.time()
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        st, hdrs, body = read_response(idle)
        H.check(st == 503, f"idle connection after SIGTERM: {st}")
        json_error(hdrs, body, "shutting_down")
        rc = srv.proc.wait(timeout=15)
        H.check(rc == 0 and time.time() - t0 < 3,
                f"exit {rc} after {time.time() - t0:.1f} s")
    finally:
        if idle:
            idle.close()
        srv.stop()


TESTS = [
    nul_in_json_strings_is_refused_and_stores_nothing,
    ambiguous_framing_is_refused_and_closed,
    many_short_headers_get_json_or_are_served,
    stalled_requests_get_a_json_408,
    sigterm_answers_503_on_open_connections,
]

if __name__ == "__main__":
    if not os.path.exists(H.FA_BIN):
        print(f"FA_BIN {H.FA_BIN} not found\n0 passed, 1 failed")
        sys.exit(1)
    sys.exit(H.run_tests(TESTS))
