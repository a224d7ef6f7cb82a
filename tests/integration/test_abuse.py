#!/usr/bin/env python3
"""Abuse limits and secure defaults of `frustration-alert serve`.

Starts the real binary ($FA_BIN) on ephemeral loopback ports, each with a
temporary database, and checks: the per-source rate limit (429, Retry-After,
JSON body, served again after the wait, sources independent, loopback
exempt by default, the body never read); the header limit (our 431 below
libmicrohttpd's pool, its own 431 above, the server serving on); a client
sending one byte a second cut within REQUEST_TIMEOUT_MS while 20 other
requests are answered without waiting for it (within half the timeout); MAX_CONNECTIONS; and which addresses the
server agrees to listen on, with what it logs (names of secrets, never
their values). Loopback only: a server bound to 0.0.0.0 is only ever
reached at 127.0.0.1. Python standard library only.

Exits non-zero on any failure; the last line reads "N passed, M failed".
"""
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fa_harness as H  # noqa: E402
wait_closed = H.wait_closed

REQUEST_TIMEOUT_MS = 3000
TMP = tempfile.mkdtemp(prefix="fa-abuse-")
_N = [0]


def new_db():
    _N[0] += 1
    return os.path.join(TMP, f"fa{_N[0]}.db")


def launch(env=None, args=(), **kw):
    base = {"REQUEST_TIMEOUT_MS": str(REQUEST_TIMEOUT_MS), "IDLE_TIMEOUT": "30"}
    base.update(env or {})
    srv = H.Launch(new_db(), env=base, args=args, **kw)
    if srv.started:
        # The lines after "listening on" (authentication, rate limit) are
        # read a moment later; "rate limit:" is the last of them.
        H.wait_until(lambda: "rate limit: " in srv.log(), 5,
                     what="the startup log lines")
    return srv


def connect(port, src="127.0.0.1", timeout=5):
    return socket.create_connection((H.HOST, port), timeout=timeout,
                                    source_address=(src, 0))


def read_response(sock, timeout=5.0):
    """Reads one HTTP response (body by Content-Length) from sock; returns
    (status, headers with lower-case names, body bytes)."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before the headers: {buf[:80]!r}")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    length = int(hdrs.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(lines[0].split()[1]), hdrs, rest[:length]


def exchange(sock, payload, timeout=5.0):
    sock.sendall(payload)
    return read_response(sock, timeout)


def get(path, host_header="t", extra=b""):
    return (b"GET %s HTTP/1.1\r\nHost: %s\r\n" % (path.encode(),
                                                   host_header.encode())
            + extra + b"\r\n")


def post(path, body, extra=b""):
    return (b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json"
            b"\r\nContent-Length: %d\r\n" % (path.encode(), len(body)) + extra
            + b"\r\n" + body)


def json_error(body, code):
    data = json.loads(body)
    H.check(data.get("error") == code, f"error {data!r} != {code}")
    H.check(isinstance(data.get("message"), str) and data["message"],
            f"no message in {data!r}")
    return data


def health_ok(port, src="127.0.0.1"):
    s = connect(port, src)
    try:
        st, _, body = exchange(s, get("/health"))
        return st == 200 and json.loads(body)["status"] == "ok"
    finally:
        s.close()


def stop_ok(srv):
    rc = srv.stop()
    H.check(rc == 0, f"exit status {rc}\n{srv.log()[-3000:]}")


@contextlib.contextmanager
def served(env=None, args=(), **kw):
    """A server from launch, stopped (and its exit checked) at the end of
    the with block, whatever happens in it."""
    srv = launch(env, args, **kw)
    try:
        yield srv
    finally:
        stop_ok(srv)


# ---- rate limit ---------------------------------------------------------

def rate_limit_refuses_after_the_burst_then_serves_again():
    with served({"RATE_LIMIT": "5", "RATE_LIMIT_BURST": "5",
                 "RATE_LIMIT_LOOPBACK": "on"}) as srv:
        H.check("rate limit: 5 requests/s per source address, burst 5 "
                "(loopback included)" in srv.log(), srv.log())
        s = connect(srv.port, "127.0.0.2")
        try:
            # Five on one keep-alive connection, as fast as they go.
            for i in range(5):
                st, _, _ = exchange(s, get("/health"))
                H.check(st == 200, f"request {i + 1} of the burst: {st}")
            t_refused = time.time()
            st, hdrs, body = exchange(s, get("/health"))
            H.check(st == 429, f"after the burst: {st}")
            retry = int(hdrs.get("retry-after", "0"))
            H.check(retry >= 1, f"Retry-After {hdrs.get('retry-after')!r}")
            H.check(hdrs.get("content-type", "").startswith(
                "application/json"), hdrs)
            data = json_error(body, "rate_limited")
            H.check("RATE_LIMIT" in data["message"], data)
            # A refusal without a body keeps the connection alive.
            H.check(hdrs.get("connection", "").lower() != "close", hdrs)
            st, _, _ = exchange(s, get("/webhook"))
            H.check(st == 429, f"every route is limited: {st}")
        finally:
            s.close()
        # With a body: answered at once, before the body is sent (it never
        # is here), and the connection closed instead of reading it.
        s = connect(srv.port, "127.0.0.2")
        try:
            t0 = time.time()
            s.sendall(b"POST /webhook HTTP/1.1\r\nHost: t\r\nContent-Type: "
                      b"application/json\r\nContent-Length: 50000\r\n\r\n")
            st, hdrs, body = read_response(s, timeout=3)
            H.check(st == 429 and time.time() - t0 < 1.5, f"{st}")
            H.check(hdrs.get("connection", "").lower() == "close", hdrs)
            json_error(body, "rate_limited")
            dt, _ = wait_closed(s, 3)
            H.check(dt is not None, "connection kept after a 429 with a body")
        finally:
            s.close()
        # Other sources have their own buckets.
        for src in ("127.0.0.3", "127.0.0.4"):
            H.check(health_ok(srv.port, src), f"{src} refused")
        # After Retry-After seconds the source is served again.
        time.sleep(max(0.0, t_refused + retry + 0.05 - time.time()))
        H.check(health_ok(srv.port, "127.0.0.2"), "not served after the wait")
        time.sleep(0.2)
        log = srv.log()
        H.check(re.search(r"GET /health 429 \S+ rid=\S+ error=rate_limited",
                          log), "no log line for the 429")
        s = connect(srv.port, "127.0.0.9")
        try:
            st, _, text = exchange(s, get("/metrics"))
        finally:
            s.close()
        # Counted under the route; METRICS_STATUS_LIST has no 429 of its
        # own (yet), so under status="other" until it does.
        m = re.search(r'^fa_http_requests_total\{route="health",'
                      r'status="(429|other)"\} (\S+)$', text.decode(), re.M)
        H.check(m and float(m.group(2)) >= 1, "429s not counted in /metrics")


def loopback_is_exempt_by_default_and_zero_is_off():
    with served({"RATE_LIMIT": "1", "RATE_LIMIT_BURST": "1"}) as srv:
        H.check("(loopback exempt)" in srv.log(), srv.log())
        s = connect(srv.port, "127.0.0.2")
        try:
            for i in range(30):
                st, _, _ = exchange(s, get("/health"))
                H.check(st == 200, f"loopback limited at request {i}: {st}")
        finally:
            s.close()
    with served({"RATE_LIMIT": "0", "RATE_LIMIT_BURST": "1",
                 "RATE_LIMIT_LOOPBACK": "on"}) as srv:
        H.check("rate limit: off" in srv.log(), srv.log())
        s = connect(srv.port, "127.0.0.2")
        try:
            for i in range(30):
                st, _, _ = exchange(s, get("/health"))
                H.check(st == 200, f"RATE_LIMIT=0 limited at {i}: {st}")
        finally:
            s.close()


# ---- header limit --------------------------------------------------------

def oversized_headers_are_refused_and_the_server_serves_on():
    with served({"MAX_HEADER_BYTES": "4096"}) as srv:
        s = connect(srv.port)
        try:
            # Within the limit (the whole block, request line included).
            st, _, _ = exchange(s, get("/health", extra=b"X-Pad: " +
                                       b"a" * 3900 + b"\r\n"))
            H.check(st == 200, f"4 KiB of headers: {st}")
            # Over it: our JSON 431; the connection stays usable.
            st, hdrs, body = exchange(s, get("/health", extra=b"X-Pad: " +
                                             b"a" * 5000 + b"\r\n"))
            H.check(st == 431, f"5 KiB of headers: {st}")
            data = json_error(body, "header_too_large")
            H.check("MAX_HEADER_BYTES" in data["message"], data)
            H.check(hdrs.get("connection", "").lower() != "close", hdrs)
            # Many small headers count too.
            many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 40)
                            for i in range(120))
            st, _, body = exchange(s, get("/health", extra=many))
            H.check(st == 431, f"120 headers: {st}")
            st, _, _ = exchange(s, get("/health"))
            H.check(st == 200, f"after the 431s: {st}")
        finally:
            s.close()
        # With a body: refused before it is read, connection closed.
        s = connect(srv.port)
        try:
            s.sendall(b"POST /webhook HTTP/1.1\r\nHost: t\r\nContent-Type: "
                      b"application/json\r\nContent-Length: 30000\r\nX-Pad: "
                      + b"a" * 6000 + b"\r\n\r\n")
            st, hdrs, body = read_response(s, timeout=3)
            H.check(st == 431, f"POST with big headers: {st}")
            json_error(body, "header_too_large")
            H.check(hdrs.get("connection", "").lower() == "close", hdrs)
        finally:
            s.close()
        # Past libmicrohttpd's memory pool (16 KiB here): its own 431
        # (HTML), connection closed, and the server goes on.
        for size in (20000, 200000):
            s = connect(srv.port)
            try:
                try:
                    s.sendall(get("/health", extra=b"X-Pad: " + b"a" * size +
                                  b"\r\n"))
                except (BrokenPipeError, ConnectionResetError):
                    pass
                try:
                    st, hdrs, body = read_response(s, timeout=3)
                    H.check(st == 431, f"{size} bytes of headers: {st}")
                except (ConnectionError, ConnectionResetError):
                    pass  # closed before we could read it: refused too
                dt, _ = wait_closed(s, 3)
                H.check(dt is not None, "kept after oversized headers")
            finally:
                s.close()
        H.check(health_ok(srv.port), "server stopped serving")
        # A large body does not need to fit in that pool: it is streamed.
        text = "this is fine " * 4600  # ~60 KB, under MAX_BODY_BYTES
        body = json.dumps({"text": text}).encode()
        s = connect(srv.port)
        try:
            st, _, data = exchange(s, post("/slash-analyze", body,
                                           extra=b"X-Pad: " + b"b" * 3500 +
                                           b"\r\n"), timeout=10)
            H.check(st == 200, f"60 KB body with 3.5 KiB of headers: {st} "
                    f"{data[:200]!r}")
        finally:
            s.close()


# ---- slow clients --------------------------------------------------------

def slow_client_is_cut_while_others_are_served():
    srv = launch({"HTTP_THREADS": "2"})
    results = {}

    def drip(name, head, payload, interval=1.0):
        """Sends head at once, then payload one byte per interval."""
        s = connect(srv.port, timeout=5)
        t0 = time.time()
        got = b""
        closed_at = None
        try:
            if head:
                s.sendall(head)
            for ch in payload:
                try:
                    s.sendall(bytes([ch]))
                except (BrokenPipeError, ConnectionResetError):
                    closed_at = time.time() - t0
                    break
                dt, more = wait_closed(s, interval)
                got += more
                if dt is not None:
                    closed_at = time.time() - t0
                    break
                if time.time() - t0 > 15:
                    break
        finally:
            s.close()
        results[name] = (closed_at, got)

    body = json.dumps({"text": "slow " * 40}).encode()
    whole = post("/slash-analyze", body)
    split = whole.index(b"\r\n\r\n") + 4
    threads = [
        # One byte a second from the very first byte (request line too).
        threading.Thread(target=drip, args=("from-first-byte", b"", whole)),
        # Headers at once, the body a byte a second.
        threading.Thread(target=drip,
                         args=("body", whole[:split], whole[split:])),
    ]
    try:
        for t in threads:
            t.start()
        time.sleep(0.5)
        # Meanwhile: 20 normal requests, each on a new connection.
        latencies = []
        for i in range(20):
            t0 = time.time()
            if i % 2:
                ok = health_ok(srv.port)
            else:
                s = connect(srv.port)
                try:
                    st, _, _ = exchange(s, post("/slash-analyze",
                                                b'{"text": "all good"}'))
                    ok = st == 200
                finally:
                    s.close()
            latencies.append(time.time() - t0)
            H.check(ok, f"normal request {i} failed")
            time.sleep(0.05)
        for t in threads:
            t.join(20)
        limit = REQUEST_TIMEOUT_MS / 1000.0
        for name in ("from-first-byte", "body"):
            closed_at, got = results[name]
            H.check(closed_at is not None, f"{name}: never cut")
            H.check(limit - 0.3 <= closed_at <= limit + 1.2,
                    f"{name}: cut after {closed_at:.2f}s, want about "
                    f"{limit:.1f}s")
            if got:
                H.check(got.startswith(b"HTTP/1.1 408"), f"{name}: {got[:60]}")
        # Not held for the slow clients: a request that waited for them
        # would take about the timeout. Half of it leaves room for a
        # loaded machine (0.5 s failed once under a parallel ctest).
        worst = max(latencies)
        H.check(worst < limit / 2, f"slowest normal request {worst:.3f}s")
        print(f"      slow clients cut after "
              f"{results['from-first-byte'][0]:.2f}s (from the first byte) "
              f"and {results['body'][0]:.2f}s (body), REQUEST_TIMEOUT_MS="
              f"{REQUEST_TIMEOUT_MS}; 20 others: max {worst * 1000:.1f} ms, "
              f"median {sorted(latencies)[10] * 1000:.1f} ms", flush=True)
        # The watchdog logs just after it shuts the socket: wait for it.
        H.wait_until(lambda: "overran its deadline" in srv.log(), 3,
                     what="the log line of the cut")
    finally:
        stop_ok(srv)


def idle_connections_are_not_mistaken_for_slow_ones():
    with served({"IDLE_TIMEOUT": "30"}) as srv:
        wait = REQUEST_TIMEOUT_MS / 1000.0 + 1.0
        # Connected, silent for longer than a request may take: kept.
        fresh = connect(srv.port)
        # Kept alive after a request, silent as long: kept.
        used = connect(srv.port)
        try:
            st, _, _ = exchange(used, get("/health"))
            H.check(st == 200, st)
            time.sleep(wait)
            for s, name in ((fresh, "fresh"), (used, "kept-alive")):
                st, _, _ = exchange(s, get("/health"))
                H.check(st == 200, f"{name} connection: {st}")
        finally:
            fresh.close()
            used.close()


# ---- connection limit ----------------------------------------------------

def max_connections_bounds_and_recovers():
    limit = 4
    srv = launch({"MAX_CONNECTIONS": str(limit), "HTTP_THREADS": "2"})
    socks = []
    try:
        # Twice the limit at once: every client is answered at once, 200
        # (an answered connection, idle, makes room) or 503 with
        # Retry-After; none waits for IDLE_TIMEOUT.
        for i in range(2 * limit):
            s = connect(srv.port, f"127.0.1.{i + 1}")
            s.sendall(get("/health"))
            socks.append(s)
        statuses = []
        for s in socks:
            try:
                st, hdrs, _ = read_response(s, 1.5)
                statuses.append(st)
                if st == 503:
                    H.check(hdrs.get("retry-after") == "1",
                            f"503 without Retry-After: {hdrs}")
            except (socket.timeout, ConnectionError):
                statuses.append(None)
        H.check(all(st in (200, 503) for st in statuses),
                f"answers over the limit: {statuses}")
        H.check(statuses.count(200) >= limit,
                f"{statuses.count(200)} of {2 * limit} served, limit {limit}")
        for s in socks:
            s.close()
        socks = []
        time.sleep(0.2)
        H.check(health_ok(srv.port), "not serving after the flood")
    finally:
        for s in socks:
            s.close()
        stop_ok(srv)


# ---- who the server agrees to listen for ----------------------------------

SECRETS = {"API_TOKEN": "tok-Zq8v-secret-value",
           "WEBHOOK_SECRET": "whsec-Yp3k-secret-value",
           "SLACK_SIGNING_SECRET": "slack-Xr7m-secret-value",
           "DEVREV_WEBHOOK_SECRET": "devrev-Wt2n-secret-value"}


def no_secret_in(log):
    for name, value in SECRETS.items():
        H.check(value not in log, f"{name}'s value in the log")


def loopback_without_auth_says_so():
    with served() as srv:
        H.check("no authentication configured: listening on loopback only"
                in srv.log(), srv.log())


def public_address_refused_without_auth():
    srv = launch({"HOST": "0.0.0.0"})
    H.check(not srv.started, "listened on 0.0.0.0 without authentication")
    H.check(srv.returncode not in (0, None), f"exit {srv.returncode}")
    log = srv.log()
    H.check("refusing to listen on non-loopback HOST '0.0.0.0'" in log, log)
    H.check("API_TOKEN" in log and "--insecure" in log, log)
    # The same through --listen, and for IPv6's any-address.
    srv = launch(args=("--listen", "[::]:0"))
    H.check(not srv.started and srv.returncode not in (0, None),
            f"listened on [::] without authentication: {srv.log()}")


def public_address_allowed_with_auth():
    env = {"HOST": "0.0.0.0", "API_TOKEN": SECRETS["API_TOKEN"]}
    with served(env) as srv:
        H.check(srv.started and srv.host == "0.0.0.0", srv.log())
        H.check("authentication: API_TOKEN" in srv.log(), srv.log())
        H.check(health_ok(srv.port), "not serving on 127.0.0.1")
        no_secret_in(srv.log())
    env = {"HOST": "0.0.0.0"}
    env.update(SECRETS)
    with served(env, log_level="debug") as srv:
        H.check(srv.started, srv.log())
        H.check("authentication: API_TOKEN, WEBHOOK_SECRET, "
                "DEVREV_WEBHOOK_SECRET, SLACK_SIGNING_SECRET" in srv.log(),
                srv.log())
        H.check(health_ok(srv.port), "not serving")
    no_secret_in(srv.log())
    # A signature secret alone is authentication too.
    env = {"HOST": "0.0.0.0",
           "SLACK_SIGNING_SECRET": SECRETS["SLACK_SIGNING_SECRET"]}
    with served(env) as srv:
        H.check(srv.started and "authentication: SLACK_SIGNING_SECRET"
                in srv.log(), srv.log())
    no_secret_in(srv.log())


def public_address_with_insecure_warns():
    with served({"HOST": "0.0.0.0"}, args=("--insecure",)) as srv:
        H.check(srv.started, srv.log())
        H.check(re.search(r"WARN.*--insecure: no authentication configured",
                          srv.log()), srv.log())
        H.check(health_ok(srv.port), "not serving")


def flags_are_checked_together():
    # --tls-cert without a key: refused before anything starts.
    srv = launch(args=("--tls-cert", "/nonexistent/cert.pem"))
    H.check(not srv.started and srv.returncode == 2, srv.log())
    H.check("TLS_KEY" in srv.log(), srv.log())
    srv = launch({"METRICS_REQUIRE_TOKEN": "on"})
    H.check(not srv.started and srv.returncode not in (0, None), srv.log())


def help_mentions_the_new_flags():
    p = subprocess.run([H.FA_BIN, "serve", "--help"], capture_output=True,
                       timeout=30)
    out = p.stdout.decode()
    H.check(p.returncode == 0, p.returncode)
    for word in ("--tls-cert", "--tls-key", "--insecure", "RATE_LIMIT",
                 "MAX_HEADER_BYTES", "API_TOKEN"):
        H.check(word in out, f"{word} not in serve --help")


def main():
    if not os.path.exists(H.FA_BIN):
        print(f"FA_BIN {H.FA_BIN} not found\n0 passed, 1 failed")
        return 1
    try:
        return H.run_tests([
            rate_limit_refuses_after_the_burst_then_serves_again,
            loopback_is_exempt_by_default_and_zero_is_off,
            oversized_headers_are_refused_and_the_server_serves_on,
            slow_client_is_cut_while_others_are_served,
            idle_connections_are_not_mistaken_for_slow_ones,
            max_connections_bounds_and_recovers,
            loopback_without_auth_says_so,
            public_address_refused_without_auth,
            public_address_allowed_with_auth,
            public_address_with_insecure_warns,
            flags_are_checked_together,
            help_mentions_the_new_flags,
        ])
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
