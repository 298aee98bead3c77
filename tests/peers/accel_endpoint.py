#!/usr/bin/python3
"""accel_endpoint.py: a simulated remote accelerator control endpoint (test equipment for the
accelerator backend).

Sessions are reserved per claim: reserving again for the same claim returns the same session
(and token). At most --max-sessions live at once.
  POST   /v1/sessions {"claim","node","timeoutSeconds"?} -> 201 new | 200 existing |
                                                           503 no free session
         reply {"id","token","claim","node","timeoutSeconds"}
  GET    /v1/sessions[?claim=]   -> {"sessions":[{"id","claim","node"}]} (never tokens)
  DELETE /v1/sessions/<id>       -> 204 | 404
Fault injection and the request log: see peer_common.py."""
import os
import secrets
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common  # noqa: E402


class AccelEndpoint:
    def __init__(self, max_sessions, log):
        self.lock = threading.Lock()
        self.max_sessions = max_sessions
        self.log = log
        self.sessions = {}
        self.next_id = 1

    @staticmethod
    def public(s):
        return {k: s[k] for k in ("id", "claim", "node")}

    def handle(self, method, path, query, body):
        with self.lock:
            if path == "/v1/sessions" and method == "GET":
                items = [self.public(s) for s in self.sessions.values()
                         if "claim" not in query or s["claim"] == query["claim"]]
                return 200, {"sessions": items}
            if path == "/v1/sessions" and method == "POST":
                return self.reserve(body)
            if path.startswith("/v1/sessions/") and method == "DELETE":
                sid = path[len("/v1/sessions/"):]
                s = self.sessions.pop(sid, None)
                if s is None:
                    return 404, {"error": "session %s not found" % sid}
                self.log.write(event="released", **self.public(s))
                return 204, None
            return 404, {"error": "no route %s %s" % (method, path)}

    def reserve(self, body):
        if not isinstance(body, dict):
            raise peer_common.BadRequest("body must be an object")
        for k in ("claim", "node"):
            if not isinstance(body.get(k), str) or not body[k]:
                raise peer_common.BadRequest("field %s (string) is required" % k)
        for s in self.sessions.values():
            if s["claim"] == body["claim"]:
                return 200, s
        if len(self.sessions) >= self.max_sessions:
            return 503, {"error": "no free session (%d in use)" % len(self.sessions)}
        s = {"id": "sess-%d" % self.next_id, "token": secrets.token_hex(16),
             "claim": body["claim"], "node": body["node"],
             "timeoutSeconds": int(body.get("timeoutSeconds") or 3600)}
        self.next_id += 1
        self.sessions[s["id"]] = s
        self.log.write(event="reserved", **self.public(s))
        return 201, s


def main():
    p = peer_common.base_args(__doc__.splitlines()[0])
    p.add_argument("--max-sessions", type=int, default=4)
    args = p.parse_args()
    peer_common.serve(args, AccelEndpoint(args.max_sessions, peer_common.EventLog(args.log)))


if __name__ == "__main__":
    main()
