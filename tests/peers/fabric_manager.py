#!/usr/bin/python3
"""fabric_manager.py: a simulated CXL fabric manager (test equipment for the cxl-memory backend).

Regions (--region ID:NUMA:SIZE, repeatable, e.g. r0:2:64Gi) can be attached to one node for
one claim at a time. An attachment creates the DAX device node the host would see, as a
plain file <dev-root>/dev/dax<i>.0 (i = region index), and removes it on detach.
  GET    /v1/regions                                -> {"regions":[{id,numaNode,size,attachment}]}
  GET    /v1/attachments[?node=&region=&claim=]     -> {"attachments":[...]}
  POST   /v1/attachments {"region","node","claim"}  -> 201 new | 200 the same existing one |
                                                       404 unknown region | 409 region busy
  DELETE /v1/attachments/<id>                       -> 204 | 404
An attachment: {"id","region","node","claim","devicePath":"/dev/dax0.0","numaNode":2,"size"}.
Fault injection and the request log: see peer_common.py."""
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common  # noqa: E402


class FabricManager:
    def __init__(self, regions, dev_root, log):
        self.lock = threading.Lock()
        self.regions = regions  # list of {id, numaNode, size}
        self.dev_root = dev_root
        self.log = log
        self.attachments = {}
        self.next_id = 1

    def region(self, rid):
        for i, r in enumerate(self.regions):
            if r["id"] == rid:
                return i, r
        return None, None

    def handle(self, method, path, query, body):
        with self.lock:
            if path == "/v1/regions" and method == "GET":
                out = []
                for r in self.regions:
                    att = [a["id"] for a in self.attachments.values() if a["region"] == r["id"]]
                    out.append(dict(r, attachment=att[0] if att else None))
                return 200, {"regions": out}
            if path == "/v1/attachments" and method == "GET":
                items = [a for a in self.attachments.values()
                         if all(a.get(k) == query[k] for k in ("node", "region", "claim")
                                if k in query)]
                return 200, {"attachments": items}
            if path == "/v1/attachments" and method == "POST":
                return self.attach(body)
            if path.startswith("/v1/attachments/") and method == "DELETE":
                aid = path[len("/v1/attachments/"):]
                a = self.attachments.pop(aid, None)
                if a is None:
                    return 404, {"error": "attachment %s not found" % aid}
                try:
                    os.unlink(os.path.join(self.dev_root, a["devicePath"].lstrip("/")))
                except FileNotFoundError:
                    pass
                self.log.write(event="detached", **a)
                return 204, None
            return 404, {"error": "no route %s %s" % (method, path)}

    def attach(self, body):
        if not isinstance(body, dict):
            raise peer_common.BadRequest("body must be an object")
        for k in ("region", "node", "claim"):
            if not isinstance(body.get(k), str) or not body[k]:
                raise peer_common.BadRequest("field %s (string) is required" % k)
        idx, r = self.region(body["region"])
        if r is None:
            return 404, {"error": "region %s unknown" % body["region"]}
        for a in self.attachments.values():
            if a["region"] == r["id"]:
                if a["node"] == body["node"] and a["claim"] == body["claim"]:
                    return 200, a
                return 409, {"error": "region %s is attached to node %s" % (r["id"], a["node"])}
        dev = "/dev/dax%d.0" % idx
        host = os.path.join(self.dev_root, dev.lstrip("/"))
        os.makedirs(os.path.dirname(host), exist_ok=True)
        with open(host, "w") as f:
            f.write("simulated dax device of region %s\n" % r["id"])
        a = {"id": "att-%d" % self.next_id, "region": r["id"], "node": body["node"],
             "claim": body["claim"], "devicePath": dev, "numaNode": r["numaNode"],
             "size": r["size"]}
        self.next_id += 1
        self.attachments[a["id"]] = a
        self.log.write(event="attached", **a)
        return 201, a


def main():
    p = peer_common.base_args(__doc__.splitlines()[0])
    p.add_argument("--dev-root", required=True, help="fake root: device nodes go to <root>/dev")
    p.add_argument("--region", action="append", default=[], help="ID:NUMA:SIZE")
    args = p.parse_args()
    regions = []
    for spec in args.region:
        parts = spec.split(":")
        if len(parts) != 3 or not parts[1].lstrip("-").isdigit():
            sys.exit("--region %s: expected ID:NUMA:SIZE" % spec)
        regions.append({"id": parts[0], "numaNode": int(parts[1]), "size": parts[2]})
    app = FabricManager(regions, args.dev_root, peer_common.EventLog(args.log))
    peer_common.serve(args, app)


if __name__ == "__main__":
    main()
