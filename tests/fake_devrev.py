#!/usr/bin/env python3
"""A fake DevRev API for the tests (python3 standard library only).

Serves on 127.0.0.1 (port 0 = any free port, printed alone on the first
line of stdout) the endpoints the alert sink uses, checked the way
docs/devrev-api.md describes them:

  POST /works.create              201 {"work": {...}}
  POST /timeline-entries.create   201 {"timeline_entry": {...}}
  POST /works.update              200 {"work": {...}}
  POST /works.list                200 {"works": [...], "next_cursor"?}
  POST /works.get                 200 {"work": {...}} (404 when unknown)
  POST /timeline-entries.list     200 {"timeline_entries": [...],
                                  "next_cursor"?}: the object's entries,
                                  newest first (404 when unknown)

Every request needs `Authorization: Bearer <token>` (401 otherwise) and the
required fields (400 missing_required_field / invalid_enum_value / ...). An
`X-Devrev-Version` header, optional (DevRev then answers with its oldest
version), must name a version: a date YYYY-MM-DD or `beta` (400 otherwise).

Test hooks (not recorded as requests):

  GET  /_requests   every API request: method, path, headers (lower-case
                    names), body (parsed JSON or null), raw, t (time),
                    status answered (null if dropped), action applied,
                    conn (which TCP connection, numbered from 1) and
                    conn_nth (1: the connection's first request; more:
                    it came on a kept-alive connection); "count": how
                    many there are. ?since=N lists only those from the
                    N-th on (0-based), for a test that polls
  GET  /_state      {"works": [...], "comments": [...], "updates": [...],
                    "objects": [...]}: works created through the API,
                    comments (each with its "object"), works.update calls
                    ({"id": the work's DON, "display_id", "fields": what
                    was set}), and the seeded objects (current state)
  POST /_control    {"reset": true} forgets requests, rules, works,
                    comments, updates and objects;
                    {"objects": [{"id": DON, "display_id": "TKT-12",
                    "type": "ticket"|"issue"|"conversation"}, ...]} seeds
                    objects that exist in DevRev already (the ticket or
                    conversation a customer wrote on): comments and (for
                    tickets and issues) works.update reach them, works.list
                    does not list them;
                    {"token": T} makes T the only token accepted from now
                    on (a token revoked, then restored, answers 401 with
                    DevRev's "unauthenticated" body meanwhile);
                    {"comments": [{"object": DON, "body": "...",
                    "visibility": "internal"}, ...]} adds comments as
                    someone else (an agent) would;
                    {"page_max": N} makes list pages hold at most N items
                    whatever the limit asked (null: as asked);
                    {"rules": [RULE, ...]} appends failure rules. A rule
                    applies to the next `count` (default 1) API requests
                    whose path equals `path` (any path when absent):
                      {"action": "status", "status": 500}
                      {"action": "status", "status": 429,
                       "retry_after": 2}          Retry-After header
                       "retry_after_body": 2}     body retry_after field
                      {"action": "status", "status": 400,
                       "type": "invalid_field", "message": "..."}
                      {"action": "hang", "seconds": 3}   process the request,
                          then wait before answering (a slow DevRev: the
                          client may time out although the work exists)
                      {"action": "delay", "seconds": 2}  wait, then
                          process the request and answer (a DevRev that
                          is slow before it acts)
                      {"action": "drop"}          close the connection
                          without answering; nothing is done
                      {"action": "create_drop"}   process the request
                          (works.create, timeline-entries.create, ...), then
                          reset the connection without answering: the
                          unknown outcome. On a kept-alive connection this
                          is where an HTTP client may silently send the
                          request again on a new one.
                      {"action": "create_status", "status": 504}
                                                  process the request, then
                          answer the status instead of its result (a
                          gateway that timed out while DevRev acted)

Usage: fake_devrev.py [--port N] [--token T] [--verbose]
"""
import argparse
import datetime
import json
import re
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SEVERITIES = ["blocker", "high", "medium", "low"]
# Stock ticket sentiments (an org may redefine them).
SENTIMENTS = {1: "Delighted", 2: "Happy", 3: "Neutral", 4: "Unhappy",
              5: "Frustrated"}
VISIBILITIES = ["private", "internal", "external", "public"]
BODY_TYPES = ["text", "data", "snap_kit", "snap_widget"]
ORG = "don:core:dvrv-us-1:devo/fake"


class ApiError(Exception):
    def __init__(self, status, type_, message, **extra):
        super().__init__(message)
        self.status = status
        self.body = {"type": type_, "message": message, **extra}


class State:
    def __init__(self, token):
        self.token = token
        self.lock = threading.Lock()
        self.next_conn = 1  # not reset: connections outlive a reset
        self.reset()

    def reset(self):
        self.requests = []
        self.rules = []
        self.works = []
        self.comments = []
        self.updates = []
        self.objects = []
        self.page_max = None
        self.next_id = 1

    def take_rule(self, path):
        with self.lock:
            for rule in self.rules:
                if rule.get("path") in (None, path) and rule["count"] > 0:
                    rule["count"] -= 1
                    if rule["count"] == 0:
                        self.rules.remove(rule)
                    return rule
        return None


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def parse_time(s, field):
    try:
        t = datetime.datetime.fromisoformat(s)
    except (TypeError, ValueError):
        raise ApiError(400, "invalid_field", f"{field} is not a date-time",
                       field_name=field)
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return t


def need(body, field, kind=str):
    v = body.get(field)
    if v is None:
        raise ApiError(400, "missing_required_field", f"{field} is required",
                       field_name=field)
    if not isinstance(v, kind) or (kind is str and not v):
        raise ApiError(400, "invalid_field", f"{field} has a wrong type",
                       field_name=field)
    return v


def check_enum(body, field, allowed):
    v = body.get(field)
    if v is not None and v not in allowed:
        raise ApiError(400, "invalid_enum_value", f"{field} is not valid",
                       field_name=field, value=v, allowed_values=allowed)


def id_list(body, field, required=False):
    v = body.get(field)
    if v is None:
        if required:
            raise ApiError(400, "missing_required_field",
                           f"{field} is required", field_name=field)
        return None
    if (not isinstance(v, list) or not v
            or not all(isinstance(x, str) and x for x in v)):
        raise ApiError(400, "invalid_field",
                       f"{field} must be a non-empty array of ids",
                       field_name=field)
    return v


def find_work(state, wid, seeded_types=("ticket", "issue")):
    """A created work, or a seeded object of one of seeded_types."""
    for w in state.works:
        if wid in (w["id"], w["display_id"]):
            return w
    for o in state.objects:
        if wid in (o["id"], o["display_id"]) and o["type"] in seeded_types:
            return o
    raise ApiError(404, "not_found", f"no object {wid}")


def seed_object(state, obj):
    """An object that exists in DevRev before the test (under state.lock)."""
    type_ = obj.get("type", "ticket")
    o = {
        "type": type_,
        "id": obj["id"],
        "display_id": obj.get("display_id", obj["id"]),
        "created_date": now_rfc3339(),
    }
    if type_ == "ticket":
        o["severity"] = obj.get("severity", "medium")
    state.objects.append(o)


def works_create(state, body):
    type_ = need(body, "type")
    if type_ not in ("ticket", "issue"):
        raise ApiError(400, "invalid_enum_value", "type is not valid",
                       field_name="type", value=type_,
                       allowed_values=["issue", "ticket"])
    title = need(body, "title")
    if len(title) > 256:
        raise ApiError(400, "invalid_field", "title is longer than 256",
                       field_name="title")
    part = need(body, "applies_to_part")
    owners = id_list(body, "owned_by", required=True)
    text = body.get("body")
    if text is not None and (not isinstance(text, str) or len(text) > 65536):
        raise ApiError(400, "invalid_field", "body is too long or not text",
                       field_name="body")
    check_enum(body, "severity", SEVERITIES)
    if type_ == "issue" and "severity" in body:
        raise ApiError(400, "invalid_field", "severity is for tickets",
                       field_name="severity")
    tags = body.get("tags", [])
    if (not isinstance(tags, list)
            or not all(isinstance(t, dict) and isinstance(t.get("id"), str)
                       and t["id"] for t in tags)):
        raise ApiError(400, "invalid_field", "tags need an id each",
                       field_name="tags")
    with state.lock:
        n = state.next_id
        state.next_id += 1
        work = {
            "type": type_,
            "id": f"{ORG}:{type_}/{n}",
            "display_id": f"{'TKT' if type_ == 'ticket' else 'ISS'}-{n}",
            "title": title,
            "body": text or "",
            "applies_to_part": {"id": part},
            "owned_by": [{"type": "dev_user", "id": o} for o in owners],
            "tags": [{"tag": {"id": t["id"]}} for t in tags],
            "stage": {"name": "queued"},
            "state": "open",
            "created_date": now_rfc3339(),
        }
        if type_ == "ticket":
            work["severity"] = body.get("severity", "medium")
        state.works.append(work)
    return 201, {"work": work}


def timeline_create(state, body):
    obj = need(body, "object")
    type_ = need(body, "type")
    if type_ != "timeline_comment":
        raise ApiError(400, "invalid_enum_value", "type is not valid",
                       field_name="type", value=type_,
                       allowed_values=["timeline_comment"])
    check_enum(body, "body_type", BODY_TYPES)
    check_enum(body, "visibility", VISIBILITIES)
    with state.lock:
        work = find_work(state, obj, ("ticket", "issue", "conversation"))
        n = state.next_id
        state.next_id += 1
        entry = {
            "type": "timeline_comment",
            "id": f"{work['id']}:comment/{n}",
            "object": work["id"],
            "object_type": work["type"],
            "object_display_id": work["display_id"],
            "body": body.get("body", ""),
            "body_type": body.get("body_type", "text"),
            "visibility": body.get("visibility", "external"),
            "created_date": now_rfc3339(),
        }
        state.comments.append(entry)
    return 201, {"timeline_entry": entry}


def paging(state, body):
    """A list request's cursor (as next_cursor gave it) and limit (1..100,
    default 50; a page holds at most state.page_max when set, as a server
    may give fewer than asked): (start, limit)."""
    limit = body.get("limit", 50)
    if (isinstance(limit, bool) or not isinstance(limit, int)
            or not 1 <= limit <= 100):
        raise ApiError(400, "invalid_field", "limit must be 1..100",
                       field_name="limit")
    cursor = body.get("cursor")
    try:
        start = int(cursor) if cursor else 0
    except ValueError:
        raise ApiError(400, "invalid_field", "bad cursor", field_name="cursor")
    return start, min(limit, state.page_max or limit)


def page_of(name, matched, start, limit):
    """The reply holding one page of matched, with next_cursor when more
    follow."""
    reply = {name: matched[start:start + limit]}
    if start + limit < len(matched):
        reply["next_cursor"] = str(start + limit)
    return reply


def timeline_list(state, body):
    """timeline-entries.list: object required (404 when unknown);
    visibility, when given, a non-empty array of VISIBILITIES (exact-match
    filter); limit 1..100 (default 50); cursor as next_cursor gave it."""
    obj = need(body, "object")
    vis = body.get("visibility")
    if vis is not None:
        if not isinstance(vis, list) or not vis:
            raise ApiError(400, "invalid_field",
                           "visibility must be a non-empty array",
                           field_name="visibility")
        for v in vis:
            if v not in VISIBILITIES:
                raise ApiError(400, "invalid_enum_value",
                               "visibility is not valid",
                               field_name="visibility", value=v,
                               allowed_values=VISIBILITIES)
    start, limit = paging(state, body)
    with state.lock:
        work = find_work(state, obj, ("ticket", "issue", "conversation"))
        matched = [c for c in reversed(state.comments)
                   if c["object"] == work["id"]
                   and (vis is None or c["visibility"] in vis)]
    return 200, page_of("timeline_entries", matched, start, limit)


def works_update(state, body):
    wid = need(body, "id")
    check_enum(body, "severity", SEVERITIES)
    sentiment = body.get("sentiment")
    if sentiment is not None and (
            isinstance(sentiment, bool) or not isinstance(sentiment, int)
            or sentiment not in SENTIMENTS):
        raise ApiError(400, "invalid_enum_value", "sentiment is not valid",
                       field_name="sentiment", value=sentiment,
                       allowed_values=sorted(SENTIMENTS))
    with state.lock:
        work = find_work(state, wid)
        if body.get("type", work["type"]) != work["type"]:
            raise ApiError(400, "invalid_field", "type does not match",
                           field_name="type")
        for field in ("severity", "sentiment"):
            if field in body and work["type"] != "ticket":
                raise ApiError(400, "invalid_field", f"{field} is for tickets",
                               field_name=field)
        fields = {}
        if "severity" in body:
            work["severity"] = fields["severity"] = body["severity"]
        if sentiment is not None:
            fields["sentiment"] = sentiment
            work["sentiment"] = {"id": sentiment,
                                 "label": SENTIMENTS[sentiment],
                                 "ordinal": sentiment}
        if "title" in body:
            work["title"] = fields["title"] = body["title"]
        work["modified_date"] = now_rfc3339()
        state.updates.append({"id": work["id"],
                              "display_id": work["display_id"],
                              "fields": fields})
    return 200, {"work": work}


def works_get(state, body):
    """works.get: the work as it is now (404 not_found when unknown)."""
    wid = need(body, "id")
    with state.lock:
        work = dict(find_work(state, wid))
    return 200, {"work": work}


def works_list(state, body):
    types = body.get("type")
    owners = body.get("owned_by")
    tags = body.get("tags")
    created = body.get("created_date")
    after = before = None
    if created is not None:
        if not isinstance(created, dict) or created.get("type") != "range":
            raise ApiError(400, "invalid_field",
                           "created_date must be a range filter",
                           field_name="created_date")
        if "after" in created:
            after = parse_time(created["after"], "created_date.after")
        if "before" in created:
            before = parse_time(created["before"], "created_date.before")
    start, limit = paging(state, body)
    with state.lock:
        matched = []
        for w in state.works:
            if types and w["type"] not in types:
                continue
            if owners and not any(o["id"] in owners for o in w["owned_by"]):
                continue
            if tags and not any(t["tag"]["id"] in tags for t in w["tags"]):
                continue
            t = parse_time(w["created_date"], "created_date")
            if (after and t <= after) or (before and t >= before):
                continue
            matched.append(w)
    return 200, page_of("works", matched, start, limit)


ROUTES = {
    "/works.create": works_create,
    "/timeline-entries.create": timeline_create,
    "/timeline-entries.list": timeline_list,
    "/works.update": works_update,
    "/works.get": works_get,
    "/works.list": works_list,
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-devrev/1"
    # Headers and body go out in two writes; with Nagle on, the body waits
    # for the client's delayed ACK (40 ms a request on Linux).
    disable_nagle_algorithm = True

    def setup(self):
        # One handler per TCP connection: number it, and count its requests.
        super().setup()
        state = self.server.state
        with state.lock:
            self.conn_id = state.next_conn
            state.next_conn += 1
        self.conn_nth = 0

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake_devrev: " + (fmt % args) + "\n")

    def send_json(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def drop(self):
        # Reset rather than close: the client sees the connection die with
        # no status line at all.
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True

    def do_GET(self):
        state = self.server.state
        path, _, query = self.path.partition("?")
        if path == "/_requests":
            since = query[len("since="):] if query.startswith("since=") else ""
            start = int(since) if since.isdigit() else 0
            with state.lock:
                self.send_json(200, {"requests": state.requests[start:],
                                     "count": len(state.requests)})
        elif self.path == "/_state":
            with state.lock:
                self.send_json(200, {"works": list(state.works),
                                     "comments": list(state.comments),
                                     "updates": list(state.updates),
                                     "objects": list(state.objects)})
        else:
            self.send_json(404, {"message": "route not found"})

    def do_POST(self):
        state = self.server.state
        raw = self.read_body()
        if self.path == "/_control":
            ctl = json.loads(raw or b"{}")
            with state.lock:
                if ctl.get("reset"):
                    state.reset()
                for rule in ctl.get("rules", []):
                    rule.setdefault("count", 1)
                    state.rules.append(rule)
                if "token" in ctl:
                    state.token = ctl["token"]
                for obj in ctl.get("objects", []):
                    seed_object(state, obj)
                if "page_max" in ctl:
                    state.page_max = ctl["page_max"]
            for c in ctl.get("comments", []):
                timeline_create(state, {"type": "timeline_comment", **c})
            self.send_json(200, {"ok": True})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        rec = {
            "t": time.time(),
            "method": "POST",
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
            "raw": raw.decode("utf-8", "replace"),
            "status": None,
            "action": None,
            "conn": self.conn_id,
            "conn_nth": self.conn_nth + 1,
        }
        self.conn_nth += 1
        with state.lock:
            state.requests.append(rec)
        rule = state.take_rule(self.path)
        action = rule.get("action", "status") if rule else None
        rec["action"] = action
        if action == "drop":
            self.drop()
            return
        if action == "status":
            status = int(rule.get("status", 500))
            headers = {}
            err = {"type": rule.get("type", {
                400: "bad_request", 401: "unauthenticated", 403: "forbidden",
                429: "too_many_requests",
                500: "internal_error", 503: "service_unavailable",
            }.get(status, "error")), "message": rule.get(
                "message", f"injected {status}")}
            if "retry_after" in rule:
                headers["Retry-After"] = str(rule["retry_after"])
            if "retry_after_body" in rule:
                err["retry_after"] = rule["retry_after_body"]
            rec["status"] = status
            self.send_json(status, err, headers)
            return
        if action == "delay":
            time.sleep(float(rule.get("seconds", 5)))
        status, reply = self.process(body)
        if action == "create_drop":
            self.drop()
            return
        if action == "create_status":
            status = int(rule.get("status", 504))
            reply = {"type": "gateway_timeout" if status == 504 else "error",
                     "message": f"injected {status} after acting"}
        if action == "hang":
            time.sleep(float(rule.get("seconds", 5)))
        rec["status"] = status
        try:
            self.send_json(status, reply)
        except OSError:
            self.close_connection = True

    def process(self, body):
        state = self.server.state
        if self.headers.get("Authorization") != f"Bearer {state.token}":
            return 401, {"type": "unauthenticated",
                         "message": "missing or invalid token"}
        version = self.headers.get("X-Devrev-Version")
        if version is not None and version != "beta" and not re.fullmatch(
                r"\d{4}-\d{2}-\d{2}", version):
            return 400, {"type": "bad_request",
                         "message": f"invalid API version {version!r}"}
        route = ROUTES.get(self.path)
        if route is None:
            return 404, {"message": "route not found"}
        if not isinstance(body, dict):
            return 400, {"type": "parse_error",
                         "message": "body is not a JSON object"}
        try:
            return route(state, body)
        except ApiError as e:
            return e.status, e.body


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients that reset or drop their connection (a worker shutting
        # down, a timed-out request) are part of the tests, not errors.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--token", default="test-token")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.state = State(args.token)
    srv.verbose = args.verbose
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
