"""Shared pieces of the delivery and crash tests (python3 stdlib only).

FakeDevRev runs tests/fake_devrev.py on a free loopback port; Server runs
the real binary ($FA_BIN) with PORT=0 on a given database and reads the
bound port from its log; run_tests runs the registered tests and prints
"N passed, M failed". Every process started here is killed by the caller's
finally (Server.kill / FakeDevRev.close), and by atexit as a last resort.
"""
import atexit
import http.client
import json
import os
import re
import signal
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRC_DIR = os.environ.get("SRC_DIR") or os.path.dirname(os.path.dirname(HERE))
FA_BIN = os.environ.get("FA_BIN") or os.path.join(
    os.environ.get("BUILD_DIR", os.path.join(SRC_DIR, "build")),
    "frustration-alert")
FAKE = os.path.join(SRC_DIR, "tests", "fake_devrev.py")
HOST = "127.0.0.1"
TOKEN = "test-token-123"
PART = "don:core:dvrv-us-1:devo/fake:product/1"
OWNER = "don:identity:dvrv-us-1:devo/fake:devu/1"
TAG = "don:core:dvrv-us-1:devo/fake:tag/7"

_PROCS = []
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "WARNING: ThreadSanitizer")


def _kill_all():
    for p in _PROCS:
        if p.poll() is None:
            p.kill()
            p.wait()


atexit.register(_kill_all)


class FakeDevRev:
    def __init__(self, token=TOKEN):
        self.proc = subprocess.Popen(
            [sys.executable, FAKE, "--port", "0", "--token", token],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        _PROCS.append(self.proc)
        line = self.proc.stdout.readline().decode().strip()
        if not line.isdigit():
            self.close()
            raise RuntimeError("fake DevRev did not start")
        self.port = int(line)
        self.url = f"http://{HOST}:{self.port}"

    def _call(self, method, path, body=None):
        conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data,
                         headers={"Content-Type": "application/json"})
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def requests(self, path=None, since=0):
        """The API requests received (from the since-th on), of path."""
        reqs = self._call("GET", f"/_requests?since={since}")["requests"]
        return [r for r in reqs if path is None or r["path"] == path]

    def request_count(self):
        """How many API requests were received (lists none of them)."""
        return self._call("GET", f"/_requests?since={1 << 62}")["count"]

    def state(self):
        return self._call("GET", "/_state")

    def control(self, **ctl):
        return self._call("POST", "/_control", ctl)

    def reset(self):
        self.control(reset=True)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class Server:
    """The binary under test on database db; env adds settings."""

    def __init__(self, db, env=None, devrev=None, args=(), log_level="info"):
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("DEVREV_") or k in ("DATABASE_URL", "HOST",
                                                 "PORT", "LOG_MESSAGE_TEXT"):
                del e[k]
        e.update({"HOST": HOST, "PORT": "0", "LOG_LEVEL": log_level,
                  "DATABASE_URL": db, "OUTBOX_BACKOFF_BASE_MS": "50",
                  "OUTBOX_BACKOFF_MAX_MS": "400", "DEVREV_TIMEOUT_MS": "2000"})
        if devrev is not None:
            e.update({"DEVREV_API_URL": devrev.url, "DEVREV_API_TOKEN": TOKEN,
                      "DEVREV_PART_ID": PART, "DEVREV_OWNER_ID": OWNER,
                      "DEVREV_TAG_ID": TAG})
        e.update(env or {})
        # The SQLite file, for reading back what was committed.
        self.db = db.split("?")[0]
        if self.db.startswith("sqlite:"):
            self.db = self.db[len("sqlite:"):]
        self.proc = subprocess.Popen([FA_BIN, "serve", *args], env=e,
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        _PROCS.append(self.proc)
        self.lines = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.port = None
        deadline = time.time() + 30
        while time.time() < deadline and self.proc.poll() is None:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.log())
            if m:
                self.port = int(m.group(1))
                break
            time.sleep(0.02)
        if self.port is None:
            self.kill()
            raise RuntimeError("server did not start:\n" + self.log())

    def _read(self):
        for raw in self.proc.stderr:
            with self.lock:
                self.lines.append(raw.decode("utf-8", "replace"))

    def log(self):
        with self.lock:
            return "".join(self.lines)

    def stop(self, timeout=20):
        """SIGTERM and wait; returns the exit status (None if it hung).
        Raises when a sanitizer reported anything (sanitizer builds)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        self.kill()
        self.reader.join(timeout=5)
        self.check_sanitizers()
        return rc

    def check_sanitizers(self):
        log = self.log()
        for mark in SANITIZER_MARKS:
            if mark in log:
                raise AssertionError("sanitizer report:\n" + log[-6000:])

    def kill(self):
        """SIGKILL: the crash."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.reader.join(timeout=5)
        self.check_sanitizers()

    def request(self, method, path, body=None, timeout=10):
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            data = None
            headers = {}
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            ctype = resp.getheader("Content-Type", "")
            return resp.status, (json.loads(raw) if ctype.startswith(
                "application/json") and raw else raw)
        finally:
            conn.close()

    def post(self, body, timeout=10):
        return self.request("POST", "/webhook", body, timeout)

    def health(self):
        return self.request("GET", "/health")

    def metrics(self):
        st, raw = self.request("GET", "/metrics")
        return raw.decode()


def metric(text, name):
    """The value of an unlabeled series (or the first one of name{...})."""
    m = re.search(r"^" + re.escape(name) + r"(\{[^}]*\})? (\S+)$", text, re.M)
    return float(m.group(2)) if m else None


def db_query(path, sql, args=()):
    """Reads the store's SQLite file read-only (WAL: the reader sees what
    was committed, also after a kill -9)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def outbox_drained(path):
    """True once the SQLite store at path has no pending outbox entry (the
    entries of an acknowledged message are committed before the answer)."""
    return db_query(path, "SELECT count(*) FROM outbox WHERE "
                    "state = 'pending'")[0][0] == 0


def wait_until(fn, timeout=10.0, step=0.05, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def wait_closed(sock, limit_s, closed_by=()):
    """Reads until the peer closes sock; returns (seconds it took, bytes
    received), or (None, bytes) when it is still open after limit_s.
    closed_by: more exceptions that mean the peer closed (ssl.SSLError
    for a TLS socket)."""
    t0 = time.time()
    got = b""
    sock.settimeout(0.1)
    while time.time() - t0 < limit_s:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError) + tuple(closed_by):
            return time.time() - t0, got
        if not chunk:
            return time.time() - t0, got
        got += chunk
    return None, got


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def run_tests(tests):
    """Runs each (name, fn); prints failures and the closing line; returns
    the process exit status (a failure when no test passed)."""
    passed = failed = 0
    for fn in tests:
        t0 = time.time()
        try:
            fn()
            passed += 1
            print(f"ok    {fn.__name__} ({time.time() - t0:.1f} s)", flush=True)
        except Exception:  # noqa: BLE001 - report every failure
            failed += 1
            print(f"FAIL  {fn.__name__} ({time.time() - t0:.1f} s)", flush=True)
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 and passed > 0 else 1


def new_store_dir(prefix):
    """A temporary folder for a test file's stores, removed at exit, and
    a function that names a new store in it each call."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, tmp, True)
    count = [0]

    def new_db():
        count[0] += 1
        return os.path.join(tmp, f"db{count[0]}", "fa.db")

    return tmp, new_db


def run_with_fake(module_globals, tests):
    """run_tests with a fake DevRev set as the calling module's FAKE for
    the run, closed afterwards; returns the exit status."""
    fake = FakeDevRev()
    module_globals["FAKE"] = fake
    try:
        return run_tests(tests)
    finally:
        fake.close()


# ---- Startup under any settings (test_abuse.py, test_tls.py) -----------

LISTEN_RE = re.compile(
    r"listening on (https?)://(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(\d+)")
# Settings that change who may connect: cleared unless a test sets them.
ACCESS_VARS = ("API_TOKEN", "WEBHOOK_SECRET", "DEVREV_WEBHOOK_SECRET",
               "SLACK_SIGNING_SECRET", "METRICS_REQUIRE_TOKEN", "TLS_CERT",
               "TLS_KEY", "RATE_LIMIT", "RATE_LIMIT_BURST",
               "RATE_LIMIT_LOOPBACK", "MAX_HEADER_BYTES")


class Launch(Server):
    """`serve` for tests of startup itself: any HOST, http or https, and
    a process that may refuse to start. Waits until the log says where it
    listens (scheme, host and port in .scheme, .host, .port) or until the
    process exits (then .port is None and .returncode is its status).
    Runs with the same defaults as Server, minus every authentication,
    TLS and abuse-limit setting of the caller's environment."""

    def __init__(self, db, env=None, args=(), log_level="info", timeout=30):
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("DEVREV_") or k in ACCESS_VARS or k in (
                    "DATABASE_URL", "HOST", "PORT", "LOG_MESSAGE_TEXT"):
                del e[k]
        e.update({"HOST": HOST, "PORT": "0", "LOG_LEVEL": log_level,
                  "DATABASE_URL": db})
        e.update(env or {})
        self.db = db
        self.proc = subprocess.Popen([FA_BIN, "serve", *args], env=e,
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        _PROCS.append(self.proc)
        self.lines = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.scheme = self.host = self.port = self.returncode = None
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = LISTEN_RE.search(self.log())
            if m:
                self.scheme, self.host = m.group(1), m.group(2)
                self.port = int(m.group(3))
                return
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                self.reader.join(timeout=5)
                self.check_sanitizers()
                return
            time.sleep(0.02)
        self.kill()
        raise RuntimeError("serve neither listened nor exited:\n" + self.log())

    @property
    def started(self):
        return self.port is not None
