"""API_TOKEN: /slash-analyze, /api/* and /webhook need "Authorization:
Bearer TOKEN" (or ?access_token= for the dashboard's event stream; /webhook
also takes a request signature, see test_signed_webhooks.py); the dashboard
page itself, /health and /metrics do not. A refused request changes
nothing. check-config masks the token."""
import http.client
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fa_harness import FA_BIN, HOST, Server, check, db_query, run_tests  # noqa: E402

TOKEN = "s3cret-token-for-tests"


def call(srv, method, path, body=None, headers=None, form=False):
    conn = http.client.HTTPConnection(HOST, srv.port, timeout=10)
    try:
        h = dict(headers or {})
        data = None
        if body is not None:
            if form:
                data = body.encode()
                h["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                data = json.dumps(body).encode()
                h["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        if path.startswith("/api/stream") and r.status == 200:
            return r.status, b""
        return r.status, r.read()
    finally:
        conn.close()


def test_token_required_where_it_should_be():
    with tempfile.TemporaryDirectory() as d:
        srv = Server(os.path.join(d, "a.db"), env={"API_TOKEN": TOKEN})
        try:
            good = {"Authorization": "Bearer " + TOKEN}
            st, body = call(srv, "POST", "/slash-analyze", {"text": "terrible"})
            check(st == 401 and json.loads(body)["error"] == "unauthorized",
                  "slash without token: %d %r" % (st, body))
            for bad in ("Bearer wrong", "Bearer " + TOKEN + "x", "Basic " + TOKEN,
                        TOKEN, "Bearer " + TOKEN[:-1]):
                st, _ = call(srv, "POST", "/slash-analyze", {"text": "bad"},
                             {"Authorization": bad})
                check(st == 401, "wrong token %r accepted" % bad)
            st, _ = call(srv, "POST", "/slash-analyze", "text=terrible", form=True)
            check(st == 401, "form without token refused")
            st, body = call(srv, "POST", "/slash-analyze", {"text": "terrible"}, good)
            check(st == 200 and json.loads(body)["frustrated"] is True, "with token")
            st, _ = call(srv, "GET", "/api/stats")
            check(st == 401, "/api/stats without token")
            st, _ = call(srv, "GET", "/api/stats", headers=good)
            check(st == 200, "/api/stats with token")
            st, _ = call(srv, "GET", "/api/stream")
            check(st == 401, "/api/stream without token")
            st, _ = call(srv, "GET", "/api/stream?access_token=nope")
            check(st == 401, "/api/stream with a wrong access_token")
            st, _ = call(srv, "GET", "/api/stream?access_token=" + TOKEN)
            check(st == 200, "/api/stream with access_token: %d" % st)
            st, _ = call(srv, "GET", "/dashboard")
            check(st == 200, "the page itself loads and asks for the token")
            st, _ = call(srv, "GET", "/health")
            check(st == 200, "/health open")
            st, _ = call(srv, "POST", "/webhook",
                         {"customer_id": "c1", "message": "awful, terrible"})
            check(st == 401, "/webhook without credentials refused: %d" % st)
            n = db_query(srv.db, "SELECT COUNT(*) FROM messages")[0][0]
            check(n == 0, "nothing stored by refused requests: %d" % n)
            st, _ = call(srv, "POST", "/webhook",
                         {"customer_id": "c1", "message": "awful, terrible"},
                         {"Authorization": "Bearer " + TOKEN})
            check(st == 200, "/webhook with the token: %d" % st)
            n = db_query(srv.db, "SELECT COUNT(*) FROM messages")[0][0]
            check(n == 1, "only the authenticated message stored: %d" % n)
            check(TOKEN not in srv.log(), "the token never appears in the log")
        finally:
            srv.stop()


def test_no_token_configured_means_open():
    with tempfile.TemporaryDirectory() as d:
        srv = Server(os.path.join(d, "b.db"))
        try:
            st, _ = call(srv, "POST", "/slash-analyze", {"text": "fine"})
            check(st == 200, "open without API_TOKEN")
        finally:
            srv.stop()


def test_check_config_masks_token():
    e = dict(os.environ, API_TOKEN=TOKEN)
    p = subprocess.run([FA_BIN, "check-config"], env=e, capture_output=True,
                       timeout=30)
    check(p.returncode == 0, "check-config status")
    check(TOKEN.encode() not in p.stdout and b"API_TOKEN=********" in p.stdout,
          "token masked")
    e["API_TOKEN"] = "has space"
    p = subprocess.run([FA_BIN, "check-config"], env=e, capture_output=True,
                       timeout=30)
    check(p.returncode == 1 and b"API_TOKEN" in p.stderr, "bad token refused")


if __name__ == "__main__":
    sys.exit(run_tests([test_token_required_where_it_should_be,
                        test_no_token_configured_means_open,
                        test_check_config_masks_token]))
