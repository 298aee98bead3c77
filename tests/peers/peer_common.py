"""peer_common.py: shared parts of the simulated network devices (test equipment).

A threaded JSON HTTP server on a loopback port, a ready file written atomically with the base
URL once the socket accepts connections, and a test-only admin API for fault injection:
  POST   /_test/faults  {"method":"POST","path":"regex","status":503,"count":1,"delay_ms":0}
         (status 0 = no error answer, only the delay: a hang when delay_ms is long;
          count -1 = every matching request)
  DELETE /_test/faults
  GET    /_test/requests -> {"requests":[{"method","path","status"}...]}
Python 3 standard library only (/usr/bin/python3)."""
import argparse
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []

    def add(self, rule):
        rule = {
            "method": rule.get("method", ""),
            "path": re.compile(rule.get("path", ".*")),
            "status": int(rule.get("status", 500)),
            "count": int(rule.get("count", 1)),
            "delay_ms": int(rule.get("delay_ms", 0)),
        }
        with self.lock:
            self.rules.append(rule)

    def clear(self):
        with self.lock:
            self.rules = []

    def take(self, method, path):
        with self.lock:
            for r in self.rules:
                if r["count"] == 0:
                    continue
                if r["method"] and r["method"] != method:
                    continue
                if not r["path"].search(path):
                    continue
                if r["count"] > 0:
                    r["count"] -= 1
                return dict(r)
        return None


class PeerServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, app):
        super().__init__(addr, handler)
        self.app = app
        self.faults = Faults()
        self.requests = []
        self.req_lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the app logs what it wants
        pass

    def send_json(self, status, obj=None):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
        u = urlsplit(self.path)
        with self.server.req_lock:
            self.server.requests.append(
                {"method": self.command, "path": u.path, "status": status, "ts": time.time()})

    def read_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n == 0:
            return None
        raw = self.rfile.read(n)
        try:
            return json.loads(raw)
        except ValueError:
            raise BadRequest("body is not JSON")

    def dispatch(self):
        u = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(u.query).items()}
        try:
            body = self.read_json()
            if u.path == "/_test/faults":
                if self.command == "POST":
                    self.server.faults.add(body or {})
                    return self.send_json(200, {})
                if self.command == "DELETE":
                    self.server.faults.clear()
                    return self.send_json(200, {})
            if u.path == "/_test/requests" and self.command == "GET":
                with self.server.req_lock:
                    reqs = list(self.server.requests)
                return self.send_json(200, {"requests": reqs})
            fault = self.server.faults.take(self.command, u.path)
            if fault:
                if fault["delay_ms"]:
                    time.sleep(fault["delay_ms"] / 1000.0)
                if fault["status"]:
                    return self.send_json(fault["status"], {"error": "injected fault"})
            status, obj = self.server.app.handle(self.command, u.path, query, body)
            return self.send_json(status, obj)
        except BadRequest as e:
            return self.send_json(400, {"error": str(e)})
        except (BrokenPipeError, ConnectionResetError):
            return None

    do_GET = do_POST = do_DELETE = do_PUT = dispatch


class BadRequest(Exception):
    pass


def base_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--listen", default="127.0.0.1:0", help="host:port (loopback only)")
    p.add_argument("--ready-file", help="gets the base URL once the server accepts connections")
    p.add_argument("--log", help="append one JSON line per state change here")
    return p


def serve(args, app):
    host, port = args.listen.rsplit(":", 1)
    if not host.startswith("127."):
        sys.exit("refusing to listen on %s: loopback only" % host)
    srv = PeerServer((host, int(port)), Handler, app)
    url = "http://%s:%d" % srv.server_address[:2]
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(url + "\n")
        os.rename(tmp, args.ready_file)
    print(url, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


class EventLog:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def write(self, **event):
        if not self.path:
            return
        with self.lock, open(self.path, "a") as f:
            f.write(json.dumps(event) + "\n")
