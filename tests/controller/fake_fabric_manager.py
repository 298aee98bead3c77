"""fake_fabric_manager.py: a minimal simulated CXL fabric manager (test equipment) for the
controller's binding-condition tests.

POST /v1/regions/<region>/attach {"node": n, "claim": uid} -> 200 {"region", "node",
"device": "/dev/dax<k>.0"}; attaching the same region to the same node again is idempotent;
a region named "bad*" answers 500; a region attached to another node answers 409.
GET /_attaches -> {"attaches": [{"region", "node", "claim"}...]} (every POST, in order).
Listens on 127.0.0.1:0 and writes its port to --port-file once it accepts connections."""
import argparse
import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
attaches = []
bound = {}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_attaches":
            with lock:
                return self.reply(200, {"attaches": list(attaches)})
        self.reply(404, {"error": "not found"})

    def do_POST(self):
        m = re.fullmatch(r"/v1/regions/([A-Za-z0-9._-]+)/attach", self.path)
        n = int(self.headers.get("Content-Length") or 0)
        if not m or n > 65536:
            return self.reply(404, {"error": "not found"})
        try:
            req = json.loads(self.rfile.read(n) or b"{}")
            node = req["node"]
        except (ValueError, KeyError, TypeError):
            return self.reply(400, {"error": "body needs node"})
        region = m.group(1)
        with lock:
            attaches.append({"region": region, "node": node, "claim": req.get("claim")})
            if region.startswith("bad"):
                return self.reply(500, {"error": "fabric failure"})
            if bound.get(region, node) != node:
                return self.reply(409, {"error": f"region bound to {bound[region]}"})
            bound[region] = node
            dev = f"/dev/dax{len(bound) - 1}.0"
        self.reply(200, {"region": region, "node": node, "device": dev})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
