#!/usr/bin/env python3
"""A paginated JSON API for tests/e2e/rest.sh, on the standard library only.

    python3 rest_server.py PORTFILE [N]
    python3 rest_server.py --bench std|raw PORTFILE PAGES PER_PAGE [late_key=K|late_str=K]

The second form is for bench/ingest_rest.sh (and tests that need many
megabytes of pages): /bench/items?page=K serves page K of PAGES pages of
PER_PAGE records (records numbered on from page 1, generated as below) as
{"data": [...], "has_more": bool}, from bytes made before the port is
written. "std" serves them with http.server like the test endpoints; "raw"
with a minimal keep-alive HTTP/1.1 loop on plain sockets, for when
http.server itself would be what is measured. late_key=K adds "late":
"l<i>" to the records of pages K and after; late_str=K adds "num": i to
every record, a string "s<i>" on pages K and after.

Listens on 127.0.0.1 on a free port, writes the port to PORTFILE and serves
until killed. The data is N records (default 45), generated the same way on
every start: record i (1..N) is

    {"id": i, "name": "item-<i>", "price": <i * 1.25, or "n/a" when 20 divides i>,
     "tags": ["t<i % 3>"], "updated_at": 2024-01-01T00:00:00Z + i minutes}

Endpoints (every list endpoint takes updated_since=<ISO time> and then
serves only records updated strictly after it; late_key=K adds "late":
"l<i>" to records i >= K, late_str=K adds "num": i, a string "s<i>" from
record K on, nonobj=K serves record K as the bare number K):

    /offset/items?offset=&limit=        {"data": {"items": [...]}, "meta": {"total": T}}
    /page/items?page=&per_page=         {"data": [...], "has_more": bool}     (page 1 first)
    /cursor/items?cursor=&limit=        {"items": [...], "meta": {"next_cursor": "c<k>" | null}}
    /next/items?after=&limit=           {"results": [...], "links": {"next": "/next/items?..." | null}}
    /link/items?page=&per_page=         [...] with a Link: <...>; rel="next" header
    /items/<i>/parts?page=&per_page=    the parts of record i: i % 7 of them, {"part": j, "sku": "p<i>-<j>",
                                        "qty": j} for j = 1.., as {"data": [...], "has_more": bool};
                                        404 when there is no record i
    /secure/...                         any of the above behind "Authorization: Bearer <token>"
    /oauth2/...                         any of the above behind a bearer token from /oauth/token
    POST /oauth/token                   OAuth 2.0 client credentials grant (RFC 6749 §4.4): the client
                                        authenticates with HTTP basic or client_id/client_secret in
                                        the form; answers {"access_token", "token_type": "Bearer",
                                        "expires_in"}, or 400/401 {"error", "error_description"}
    /keyed/...                          any of the above behind ?api_key=<key> or X-API-Key
    /basic/...                          any of the above behind basic auth user:<key>
    (POST works like GET; /stats lists each POST's path, body and Content-Type)
    /count?updated_since=               {"count": n}
    /stats                              {"total": n, "requests": {"/path?query": n, ...}, "status": {...}}
    /admin/grow?n=K                     add K records after the last one
    /admin/fault?kind=K&match=S&times=T next T requests whose path+query holds S get fault K:
                                        500, 429 (Retry-After: 1), slow (sleeps 3 s), drop (closes
                                        the connection without answering), cut (closes it halfway
                                        through the body), malformed (a page that is not JSON),
                                        dupcursor (cursor/next: the next cursor or link repeats
                                        the one asked for)
    /admin/auth?token=T&ttl=N&key=K     bearer token T accepted N times (0 = always), API key K
    /admin/oauth?client_id=I&client_secret=S&expires_in=E&max_uses=U
                                        the OAuth client; tokens issued say expires_in E and stop
                                        working after E seconds or U uses (0 = no limit), so a
                                        token can expire before the client expects; forgets tokens
    /admin/set?n=K                      serve K records
    /admin/reset                        forget stats and faults
    (fault kind 404 answers 404 Not Found; faults apply to /oauth/token too)
"""
import base64
import datetime
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BASE = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
LOCK = threading.RLock()
STATE = {
    "n": 45,
    "stats": {},
    "status": {},
    "total": 0,
    "faults": [],
    "token": "tok-0000",
    "ttl": 0,
    "token_uses": 0,
    "key": "key-0000",
    "posts": [],
    "oauth": {"client_id": "smelt-client", "client_secret": "secret-0000", "expires_in": 3600,
              "max_uses": 0},
    "tokens": {},        # access token -> {"issued": time, "uses": n}
    "token_requests": [],  # what each token request sent (never the secret)
}


def record(i):
    ts = BASE + datetime.timedelta(minutes=i)
    return {
        "id": i,
        "name": "item-%d" % i,
        "price": "n/a" if i % 20 == 0 else i * 1.25,
        "tags": ["t%d" % (i % 3)],
        "updated_at": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def parse_ts(s):
    s = s.replace("Z", "+00:00")
    if " " in s and "T" not in s:
        s = s.replace(" ", "T")
    t = datetime.datetime.fromisoformat(s)
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return t


def records(q):
    with LOCK:
        n = STATE["n"]
    out = [record(i) for i in range(1, n + 1)]
    since = q.get("updated_since")
    if since:
        t = parse_ts(since)
        out = [r for r in out if parse_ts(r["updated_at"]) > t]
    # shapes that change late in a run (for bronze's sampled type inference)
    if "late_key" in q:
        for r in out:
            if r["id"] >= int(q["late_key"]):
                r["late"] = "l%d" % r["id"]
    if "late_str" in q:
        for r in out:
            r["num"] = r["id"] if r["id"] < int(q["late_str"]) else "s%d" % r["id"]
    if "nonobj" in q:
        out = [r["id"] if r["id"] == int(q["nonobj"]) else r for r in out]
    return out


def take_fault(target):
    with LOCK:
        for f in STATE["faults"]:
            if f["times"] > 0 and f["match"] in target:
                f["times"] -= 1
                return f["kind"]
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def log_message(self, fmt, *args):  # quiet
        pass

    def send_json(self, status, obj, headers=None, raw=None):
        body = raw if raw is not None else json.dumps(obj).encode()
        with LOCK:
            STATE["status"][str(status)] = STATE["status"].get(str(status), 0) + 1
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if urllib.parse.urlsplit(self.path).path == "/oauth/token":
            return self.token(body)
        with LOCK:
            STATE["posts"].append({"path": self.path, "body": body.decode(errors="replace"),
                                   "content_type": self.headers.get("Content-Type")})
        self.do_GET()

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        path = u.path
        if path.startswith("/admin/"):
            return self.admin(path, q)
        if path == "/stats":
            with LOCK:
                stats = json.dumps({"total": STATE["total"], "requests": STATE["stats"],
                                    "status": STATE["status"], "posts": STATE["posts"],
                                    "tokens": list(STATE["tokens"]),
                                    "token_requests": STATE["token_requests"]})
            return self.send_json(200, None, raw=stats.encode())
        if path == "/count":
            return self.send_json(200, {"count": len(records(q))})
        with LOCK:
            STATE["total"] += 1
            STATE["stats"][self.path] = STATE["stats"].get(self.path, 0) + 1

        if path.startswith("/secure/"):
            with LOCK:
                ok = self.headers.get("Authorization") == "Bearer " + STATE["token"]
                if ok:
                    STATE["token_uses"] += 1
                    if STATE["ttl"] and STATE["token_uses"] > STATE["ttl"]:
                        ok = False
            if not ok:
                return self.send_json(401, {"error": "invalid or expired token"})
            path = path[len("/secure"):]
        elif path.startswith("/oauth2/"):
            auth = self.headers.get("Authorization") or ""
            tok = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
            with LOCK:
                t = STATE["tokens"].get(tok)
                o = STATE["oauth"]
                ok = t is not None and time.time() - t["issued"] < o["expires_in"] and \
                    (not o["max_uses"] or t["uses"] < o["max_uses"])
                if ok:
                    t["uses"] += 1
            if not ok:
                return self.send_json(401, {"error": "invalid_token",
                                            "error_description": "the access token expired"},
                                      {"WWW-Authenticate": 'Bearer error="invalid_token"'})
            path = path[len("/oauth2"):]
        elif path.startswith("/basic/"):
            with LOCK:
                want = "Basic " + base64.b64encode(("user:" + STATE["key"]).encode()).decode()
            if self.headers.get("Authorization") != want:
                return self.send_json(401, {"error": "bad user or password"})
            path = path[len("/basic"):]
        elif path.startswith("/keyed/"):
            with LOCK:
                key = STATE["key"]
            if q.get("api_key") != key and self.headers.get("X-API-Key") != key:
                return self.send_json(401, {"error": "missing api key"})
            path = path[len("/keyed"):]
            q.pop("api_key", None)

        fault = take_fault(self.path)
        if fault == "500":
            return self.send_json(500, {"error": "injected"})
        if fault == "404":
            return self.send_json(404, {"error": "not found (injected)"})
        if fault == "429":
            return self.send_json(429, {"error": "slow down"}, {"Retry-After": "1"})
        if fault == "slow":
            time.sleep(3)
        if fault == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        recs = records(q)
        prefix = self.path[: len(self.path) - len(u.path)]  # "" (paths are origin-form)
        mount = u.path[: len(u.path) - len(path)]           # "", "/secure", "/keyed", ...

        if path == "/offset/items":
            off, lim = int(q.get("offset", 0)), int(q.get("limit", 10))
            obj = {"data": {"items": recs[off:off + lim]}, "meta": {"total": len(recs)}}
            hdrs = None
        elif path == "/page/items":
            page, per = int(q.get("page", 1)), int(q.get("per_page", 10))
            chunk = recs[(page - 1) * per: page * per]
            obj = {"data": chunk, "has_more": page * per < len(recs)}
            hdrs = None
        elif path == "/cursor/items":
            cur, lim = q.get("cursor"), int(q.get("limit", 10))
            start = int(cur[1:]) if cur else 0
            chunk = recs[start:start + lim]
            nxt = "c%d" % (start + lim) if start + lim < len(recs) else None
            if fault == "dupcursor":
                nxt = cur
            obj = {"items": chunk, "meta": {"next_cursor": nxt}}
            hdrs = None
        elif path == "/next/items":
            after, lim = int(q.get("after", 0)), int(q.get("limit", 10))
            chunk = [r for r in recs if r["id"] > after][:lim]
            more = chunk and chunk[-1]["id"] < recs[-1]["id"]
            nq = {"after": chunk[-1]["id"] if more else 0, "limit": lim}
            if "updated_since" in q:
                nq["updated_since"] = q["updated_since"]
            if fault == "dupcursor":
                nq["after"] = after
                more = True
            nxt = mount + "/next/items?" + urllib.parse.urlencode(nq) if more else None
            obj = {"results": chunk, "links": {"next": nxt}}
            hdrs = None
        elif path == "/link/items":
            page, per = int(q.get("page", 1)), int(q.get("per_page", 10))
            obj = recs[(page - 1) * per: page * per]
            hdrs = None
            if page * per < len(recs):
                nq = dict(q, page=page + 1, per_page=per)
                host = "http://127.0.0.1:%d" % self.server.server_address[1]
                hdrs = {"Link": '<%s%s/link/items?%s>; rel="next", <%s/x>; rel="first"'
                        % (host, mount, urllib.parse.urlencode(nq), host)}
        elif path.startswith("/items/") and path.endswith("/parts"):
            try:
                i = int(path[len("/items/"):-len("/parts")])
            except ValueError:
                i = 0
            with LOCK:
                n = STATE["n"]
            if not 1 <= i <= n:
                return self.send_json(404, {"error": "no such item", "id": i})
            page, per = int(q.get("page", 1)), int(q.get("per_page", 10))
            parts = [{"part": j, "sku": "p%d-%d" % (i, j), "qty": j} for j in range(1, i % 7 + 1)]
            obj = {"data": parts[(page - 1) * per: page * per], "has_more": page * per < len(parts)}
            hdrs = None
        else:
            return self.send_json(404, {"error": "no such endpoint", "path": prefix + path})

        if fault == "malformed":
            raw = json.dumps(obj).encode()
            return self.send_json(200, None, hdrs, raw=raw[: len(raw) // 2])
        if fault == "cut":
            body = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        return self.send_json(200, obj, hdrs)

    def token(self, body):
        """POST /oauth/token: the client credentials grant."""
        with LOCK:
            STATE["total"] += 1
            STATE["stats"][self.path] = STATE["stats"].get(self.path, 0) + 1
        fault = take_fault(self.path)
        if fault == "500":
            return self.send_json(500, {"error": "server_error"})
        if fault == "429":
            return self.send_json(429, {"error": "slow down"}, {"Retry-After": "1"})
        form = dict(urllib.parse.parse_qsl(body.decode(errors="replace"), keep_blank_values=True))
        auth = self.headers.get("Authorization") or ""
        how, cid, secret = None, None, None
        if auth.startswith("Basic "):
            try:
                u, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                how, cid, secret = "basic", urllib.parse.unquote_plus(u), urllib.parse.unquote_plus(pw)
            except Exception:
                pass
        elif "client_secret" in form:
            how, cid, secret = "body", form.get("client_id"), form.get("client_secret")
        extra = {k: v for k, v in form.items() if k not in ("client_secret",)}
        with LOCK:
            o = dict(STATE["oauth"])
            STATE["token_requests"].append({"auth": how, "form": extra,
                                            "content_type": self.headers.get("Content-Type")})
        if form.get("grant_type") != "client_credentials":
            return self.send_json(400, {"error": "unsupported_grant_type",
                                        "error_description": "only client_credentials"})
        if cid != o["client_id"] or secret != o["client_secret"]:
            return self.send_json(401, {"error": "invalid_client",
                                        "error_description": "client authentication failed"},
                                  {"WWW-Authenticate": 'Basic realm="oauth"'})
        tok = "at-%d-%s" % (len(STATE["tokens"]) + 1, base64.b32encode(os.urandom(10)).decode())
        with LOCK:
            STATE["tokens"][tok] = {"issued": time.time(), "uses": 0}
        return self.send_json(200, {"access_token": tok, "token_type": "Bearer",
                                    "expires_in": o["expires_in"], "scope": form.get("scope", "")})

    def admin(self, path, q):
        with LOCK:
            if path == "/admin/grow":
                STATE["n"] += int(q.get("n", 1))
            elif path == "/admin/fault":
                STATE["faults"].append({"kind": q["kind"], "match": q.get("match", ""),
                                        "times": int(q.get("times", 1))})
            elif path == "/admin/auth":
                STATE["token"] = q.get("token", STATE["token"])
                STATE["ttl"] = int(q.get("ttl", 0))
                STATE["token_uses"] = 0
                STATE["key"] = q.get("key", STATE["key"])
            elif path == "/admin/oauth":
                o = STATE["oauth"]
                o["client_id"] = q.get("client_id", o["client_id"])
                o["client_secret"] = q.get("client_secret", o["client_secret"])
                o["expires_in"] = int(q.get("expires_in", 3600))
                o["max_uses"] = int(q.get("max_uses", 0))
                STATE["tokens"], STATE["token_requests"] = {}, []
            elif path == "/admin/set":
                STATE["n"] = int(q.get("n", STATE["n"]))
            elif path == "/admin/reset":
                STATE["stats"], STATE["status"], STATE["total"] = {}, {}, 0
                STATE["faults"], STATE["posts"] = [], []
            else:
                return self.send_json(404, {"error": "no such admin endpoint"})
            n = STATE["n"]
        return self.send_json(200, {"ok": True, "n": n})


def bench_pages(pages, per, shape=None):
    """The body of each page, made once: the same bytes json.dumps gives
    for the records of record(), written directly (a million dicts and
    datetimes would take the server half a minute to start)."""
    base = int(BASE.timestamp())
    fmt = '{"id": %d, "name": "item-%d", "price": %s, "tags": ["t%d"], "updated_at": "%s"'
    kind, _, late = (shape or "").partition("=")
    late = int(late) if late else 0
    out = []
    for p in range(1, pages + 1):
        recs = []
        for i in range((p - 1) * per + 1, p * per + 1):
            price = '"n/a"' if i % 20 == 0 else repr(i * 1.25)
            ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + 60 * i))
            rec = fmt % (i, i, price, i % 3, ts)
            if kind == "late_key" and p >= late:
                rec += ', "late": "l%d"' % i
            elif kind == "late_str":
                rec += (', "num": "s%d"' if p >= late else ', "num": %d') % i
            recs.append(rec + "}")
        out.append(('{"data": [%s], "has_more": %s}'
                    % (", ".join(recs), "true" if p < pages else "false")).encode())
    return out


def bench_body(pages, target):
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(target).query))
    try:
        k = int(q.get("page", 1))
    except ValueError:
        k = 0
    return pages[k - 1] if 1 <= k <= len(pages) else b'{"data": [], "has_more": false}'


def bench_main(mode, portfile, npages, per, shape=None):
    pages = bench_pages(npages, per, shape)
    if mode == "std":
        class BenchHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, fmt, *args):
                pass

            def do_GET(self):
                body = bench_body(pages, self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        srv = ThreadingHTTPServer(("127.0.0.1", 0), BenchHandler)
    else:
        import socketserver
        resp = [b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % len(b) + b for b in pages]
        empty = bench_body([], "/")
        empty = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" \
            % len(empty) + empty

        class RawHandler(socketserver.BaseRequestHandler):
            def handle(self):
                sock = self.request
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buf = b""
                while True:
                    while b"\r\n\r\n" not in buf:
                        chunk = sock.recv(65536)
                        if not chunk:
                            return
                        buf += chunk
                    head, _, buf = buf.partition(b"\r\n\r\n")
                    target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode()
                    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(target).query))
                    k = int(q.get("page", 1)) if q.get("page", "1").isdigit() else 0
                    sock.sendall(resp[k - 1] if 1 <= k <= len(resp) else empty)

        class RawServer(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        srv = RawServer(("127.0.0.1", 0), RawHandler)
    srv.daemon_threads = True
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


def main():
    if sys.argv[1] == "--bench":
        return bench_main(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
                          sys.argv[6] if len(sys.argv) > 6 else None)
    portfile = sys.argv[1]
    if len(sys.argv) > 2:
        STATE["n"] = int(sys.argv[2])
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
