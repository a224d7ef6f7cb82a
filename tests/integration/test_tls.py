#!/usr/bin/env python3
"""HTTPS in `frustration-alert serve --tls-cert FILE --tls-key FILE`.

Makes a throwaway self-signed certificate and key (openssl CLI, EC P-256,
valid one day, for localhost and 127.0.0.1) in a temporary folder, starts
the real binary ($FA_BIN) with them on an ephemeral loopback port, and
checks, with python's ssl module verifying the server against that
certificate: round trips of POST /slash-analyze, POST /webhook (its commit
suspends and resumes the connection) and GET /health, keep-alive over one
TLS connection, the request watchdog on TLS connections (a stalled
handshake and a trickled request are cut), a body over the limit (closed
without an answer under TLS), plain HTTP to the TLS port getting no HTTP
answer, a graceful stop; and clean startup errors for a missing key file,
a file that is not PEM, a key that does not match the certificate, and a
certificate without its key. Loopback only.

Exits non-zero on any failure; the last line reads "N passed, M failed".
"""
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fa_harness as H  # noqa: E402

REQUEST_TIMEOUT_MS = 2000
TMP = tempfile.mkdtemp(prefix="fa-tls-")
CERT = os.path.join(TMP, "cert.pem")
KEY = os.path.join(TMP, "key.pem")
OTHER_KEY = os.path.join(TMP, "other-key.pem")
SRV = None
_N = [0]


def make_cert(cert, key):
    """A self-signed EC certificate for localhost and 127.0.0.1."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "1",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=30)


def launch(args=None, env=None):
    _N[0] += 1
    e = {"REQUEST_TIMEOUT_MS": str(REQUEST_TIMEOUT_MS), "IDLE_TIMEOUT": "30",
         "HTTP_THREADS": "2"}
    e.update(env or {})
    if args is None:
        args = ("--tls-cert", CERT, "--tls-key", KEY)
    return H.Launch(os.path.join(TMP, f"fa{_N[0]}.db"), env=e, args=args)


def context():
    ctx = ssl.create_default_context(cafile=CERT)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def https(port, host="127.0.0.1", ctx=None):
    return http.client.HTTPSConnection(host, port, timeout=10,
                                       context=ctx or context())


def call(conn, method, path, body=None):
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    raw = resp.read()
    ctype = resp.getheader("Content-Type", "")
    return resp.status, (json.loads(raw) if ctype.startswith(
        "application/json") and raw else raw)


def wait_closed(sock, limit_s):
    """H.wait_closed for TLS (an SSLError is the peer closing too): the
    seconds until it closed, or None."""
    return H.wait_closed(sock, limit_s, (ssl.SSLError,))[0]


# ---- round trips ---------------------------------------------------------

def listens_with_https():
    H.check(SRV.scheme == "https", f"scheme {SRV.scheme}: {SRV.log()}")
    H.check(SRV.host == "127.0.0.1", SRV.host)


def round_trip_verified_against_the_certificate():
    ctx = context()
    t0 = time.time()
    conn = https(SRV.port, ctx=ctx)
    try:
        st, data = call(conn, "POST", "/slash-analyze",
                        {"text": "this is terrible, I am so angry"})
        first = time.time() - t0
        H.check(st == 200, f"POST /slash-analyze {st}: {data!r}")
        H.check(isinstance(data, dict) and data.get("polarity", 0) < 0, data)
        sock = conn.sock
        H.check(sock.version() in ("TLSv1.2", "TLSv1.3"), sock.version())
        t1 = time.time()
        st, data = call(conn, "GET", "/health")
        again = time.time() - t1
        H.check(st == 200 and data["status"] == "ok", f"{st} {data!r}")
        st, data = call(conn, "POST", "/webhook",
                        {"customer_id": "tls-1", "message": "awful service",
                         "message_id": "tls-m1"})
        H.check(st == 200 and data.get("customer_id") == "tls-1",
                f"POST /webhook {st}: {data!r}")
        H.check(conn.sock is sock, "keep-alive lost over TLS")
        # Many more on the same connection, and on new ones (each its own
        # handshake, across both pool threads).
        for i in range(20):
            st, _ = call(conn, "POST", "/webhook",
                         {"customer_id": "tls-2", "message": f"bad {i}",
                          "message_id": f"tls-k{i}"})
            H.check(st == 200, f"keep-alive request {i}: {st}")
        t2 = time.time()
        for i in range(10):
            c = https(SRV.port, "localhost" if i % 2 else "127.0.0.1", ctx)
            try:
                st, _ = call(c, "GET", "/health")
                H.check(st == 200, f"new connection {i}: {st}")
            finally:
                c.close()
        fresh = (time.time() - t2) / 10
        print(f"      TLS: first request with handshake {first * 1000:.1f} "
              f"ms, then {again * 1000:.2f} ms on the same connection; "
              f"new connection + request {fresh * 1000:.1f} ms",
              flush=True)
    finally:
        conn.close()
    rows = H.db_query(SRV.db, "SELECT COUNT(*) FROM messages "
                      "WHERE customer_id LIKE 'tls-%'")
    H.check(rows[0][0] == 21, f"{rows[0][0]} messages stored")


def plain_http_to_the_tls_port_gets_no_http_answer():
    s = socket.create_connection((H.HOST, SRV.port), timeout=5)
    try:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        s.settimeout(3)
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        H.check(not got.startswith(b"HTTP/"), f"answered plain HTTP: {got!r}")
    finally:
        s.close()
    # And http.client without TLS fails rather than getting a response.
    conn = http.client.HTTPConnection(H.HOST, SRV.port, timeout=3)
    try:
        try:
            conn.request("GET", "/health")
            resp = conn.getresponse()
            raise AssertionError(f"plain HTTP answered: {resp.status}")
        except (http.client.HTTPException, OSError):
            pass
    finally:
        conn.close()
    # An unverified certificate is refused by a verifying client.
    conn = http.client.HTTPSConnection(
        H.HOST, SRV.port, timeout=5, context=ssl.create_default_context())
    try:
        try:
            conn.request("GET", "/health")
            raise AssertionError("a default context accepted the cert")
        except ssl.SSLCertVerificationError:
            pass
    finally:
        conn.close()


def stalled_handshake_and_trickled_request_are_cut():
    limit = REQUEST_TIMEOUT_MS / 1000.0
    # A handshake that never completes: the ClientHello's first bytes.
    raw = socket.create_connection((H.HOST, SRV.port), timeout=5)
    try:
        t0 = time.time()
        took = None
        raw.sendall(b"\x16\x03\x01\x02\x00\x01")
        for b in b"\x00\x01\xfc\x03\x03\x00\x00\x00\x00\x00":
            try:
                raw.sendall(bytes([b]))
            except OSError:
                took = time.time() - t0
                break
            if wait_closed(raw, 0.5) is not None:
                took = time.time() - t0
                break
        H.check(took is not None and limit - 0.3 <= took <= limit + 1.2,
                f"stalled handshake cut after {took}")
        print(f"      TLS: stalled handshake cut after {took:.2f}s",
              flush=True)
    finally:
        raw.close()
    # A TLS client trickling its request.
    ctx = context()
    s = ctx.wrap_socket(socket.create_connection((H.HOST, SRV.port),
                                                 timeout=5),
                        server_hostname="localhost")
    try:
        t0 = time.time()
        cut = None
        for ch in b"GET /health HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaa\r\n\r\n":
            try:
                s.sendall(bytes([ch]))
            except (OSError, ssl.SSLError):
                cut = time.time() - t0
                break
            if wait_closed(s, 0.5) is not None:
                cut = time.time() - t0
                break
        H.check(cut is not None and limit - 0.3 <= cut <= limit + 1.2,
                f"trickling TLS client cut after {cut}")
        print(f"      TLS: trickling client cut after {cut:.2f}s "
              f"(REQUEST_TIMEOUT_MS={REQUEST_TIMEOUT_MS})", flush=True)
    finally:
        s.close()
    conn = https(SRV.port)
    try:
        st, _ = call(conn, "GET", "/health")
        H.check(st == 200, f"after the cuts: {st}")
    finally:
        conn.close()


def body_over_the_limit_closes_under_tls():
    ctx = context()
    s = ctx.wrap_socket(socket.create_connection((H.HOST, SRV.port),
                                                 timeout=5),
                        server_hostname="localhost")
    try:
        # Declared: refused before the body, with an answer.
        s.sendall(b"POST /webhook HTTP/1.1\r\nHost: t\r\nContent-Type: "
                  b"application/json\r\nContent-Length: 10000000\r\n\r\n")
        s.settimeout(5)
        got = s.recv(4096)
        H.check(got.startswith(b"HTTP/1.1 413"), got[:80])
    finally:
        s.close()
    s = ctx.wrap_socket(socket.create_connection((H.HOST, SRV.port),
                                                 timeout=5),
                        server_hostname="localhost")
    try:
        # Chunked past the limit: the connection is closed mid-body.
        s.sendall(b"POST /webhook HTTP/1.1\r\nHost: t\r\nContent-Type: "
                  b"application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"a" * 8192
        sent = 0
        closed = False
        # Offer up to 4 MiB (loopback buffers hold a lot); the server must
        # close long before.
        while sent < (4 << 20):
            try:
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            except (OSError, ssl.SSLError):
                closed = True
                break
            sent += len(chunk)
            if wait_closed(s, 0.005) is not None:
                closed = True
                break
        if not closed:
            closed = wait_closed(s, 3) is not None
        H.check(closed and sent < (4 << 20),
                f"kept reading an oversized body ({sent} bytes)")
        print(f"      TLS: chunked body closed after {sent} bytes sent "
              f"(MAX_BODY_BYTES 65536)", flush=True)
    finally:
        s.close()
    conn = https(SRV.port)
    try:
        st, _ = call(conn, "GET", "/health")
        H.check(st == 200, f"after the oversized body: {st}")
    finally:
        conn.close()


# ---- startup errors --------------------------------------------------------

def missing_key_file_is_a_clean_startup_error():
    missing = os.path.join(TMP, "no-such-key.pem")
    srv = launch(("--tls-cert", CERT, "--tls-key", missing))
    H.check(not srv.started and srv.returncode == 1,
            f"exit {srv.returncode}: {srv.log()}")
    H.check(f"cannot read TLS_KEY file '{missing}'" in srv.log(), srv.log())
    H.check("No such file" in srv.log(), srv.log())


def not_pem_and_mismatched_key_are_refused():
    junk = os.path.join(TMP, "junk.pem")
    with open(junk, "w") as f:
        f.write("not a key\n")
    srv = launch(("--tls-cert", CERT, "--tls-key", junk))
    H.check(not srv.started and srv.returncode == 1, srv.log())
    H.check("is not PEM" in srv.log(), srv.log())
    # A real key, but not the certificate's: GnuTLS refuses the pair.
    srv = launch(("--tls-cert", CERT, "--tls-key", OTHER_KEY))
    H.check(not srv.started and srv.returncode == 1, srv.log())
    H.check("cannot listen with TLS" in srv.log(), srv.log())
    H.check("BEGIN" not in srv.log(), "PEM text in the log")


def certificate_without_key_is_refused():
    srv = launch(("--tls-cert", CERT))
    H.check(not srv.started and srv.returncode == 2, srv.log())
    H.check("TLS_KEY" in srv.log(), srv.log())
    # The environment works as the flags do, and the flags win.
    srv = launch(args=(), env={"TLS_CERT": CERT, "TLS_KEY": KEY})
    try:
        H.check(srv.started and srv.scheme == "https", srv.log())
    finally:
        H.check(srv.stop() == 0, "exit status")
    srv = launch(args=("--tls-key", KEY),
                 env={"TLS_CERT": CERT, "TLS_KEY": OTHER_KEY})
    try:
        H.check(srv.started and srv.scheme == "https",
                f"--tls-key did not override TLS_KEY: {srv.log()}")
    finally:
        H.check(srv.stop() == 0, "exit status")


def tls_server_stops_cleanly():
    code = SRV.stop()
    H.check(code == 0, f"exit {code} on SIGTERM\n{SRV.log()[-3000:]}")
    H.check("stopped" in SRV.log(), "no 'stopped' line")


def main():
    global SRV
    if not os.path.exists(H.FA_BIN):
        print(f"FA_BIN {H.FA_BIN} not found\n0 passed, 1 failed")
        return 1
    if not shutil.which("openssl"):
        print("FAIL the openssl command is needed to make a test "
              "certificate (Debian package openssl)\n0 passed, 1 failed")
        return 1
    try:
        make_cert(CERT, KEY)
        make_cert(os.path.join(TMP, "other-cert.pem"), OTHER_KEY)
        SRV = launch()
        if not SRV.started:
            print("FAIL the TLS server did not start:\n" + SRV.log())
            print("0 passed, 1 failed")
            return 1
        rc = H.run_tests([
            listens_with_https,
            round_trip_verified_against_the_certificate,
            plain_http_to_the_tls_port_gets_no_http_answer,
            stalled_handshake_and_trickled_request_are_cut,
            body_over_the_limit_closes_under_tls,
            missing_key_file_is_a_clean_startup_error,
            not_pem_and_mismatched_key_are_refused,
            certificate_without_key_is_refused,
            tls_server_stops_cleanly,
        ])
        return rc
    finally:
        if SRV is not None and SRV.proc.poll() is None:
            SRV.kill()
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
