#!/usr/bin/env python3
"""kubectl_lite: a tiny kubectl for tests and the demo (TEST EQUIPMENT). Talks to any API
server through a kubeconfig (token, CA data).

  kubectl_lite.py --kubeconfig K apply -f FILE...   create or update every object in the files
  kubectl_lite.py --kubeconfig K get PATH           print the JSON at an API path
  kubectl_lite.py --kubeconfig K delete -f FILE...  delete every object in the files
Objects of kinds the server does not know (e.g. Pod in a claim example) are reported, and
skipped with --skip-unknown. Exit 1 when any object fails, with the server's message."""
import argparse
import base64
import json
import ssl
import sys
import urllib.error
import urllib.request

import yaml

PATHS = {
    ("resource.k8s.io/v1", "ResourceSlice"): ("/apis/resource.k8s.io/v1", "resourceslices", False),
    ("resource.k8s.io/v1", "ResourceClaim"): ("/apis/resource.k8s.io/v1", "resourceclaims", True),
    ("resource.k8s.io/v1", "ResourceClaimTemplate"): ("/apis/resource.k8s.io/v1", "resourceclaimtemplates", True),
    ("resource.k8s.io/v1", "DeviceClass"): ("/apis/resource.k8s.io/v1", "deviceclasses", False),
    ("coordination.k8s.io/v1", "Lease"): ("/apis/coordination.k8s.io/v1", "leases", True),
    ("v1", "Secret"): ("/api/v1", "secrets", True),
    ("v1", "ConfigMap"): ("/api/v1", "configmaps", True),
    ("v1", "Node"): ("/api/v1", "nodes", False),
    ("v1", "Namespace"): ("/api/v1", "namespaces", False),
    ("v1", "Pod"): ("/api/v1", "pods", True),
}


class Client:
    def __init__(self, kubeconfig):
        cfg = yaml.safe_load(open(kubeconfig))
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == cfg["current-context"])
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next((u["user"] for u in cfg.get("users", []) if u["name"] == ctx.get("user")), {})
        self.server, self.token, self.ctx = cluster["server"].rstrip("/"), user.get("token"), None
        if self.server.startswith("https"):
            self.ctx = ssl.create_default_context()
            if cluster.get("certificate-authority-data"):
                self.ctx.load_verify_locations(
                    cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())

    def call(self, method, path, body=None):
        req = urllib.request.Request(self.server + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")


def object_path(obj):
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key not in PATHS:
        return None
    base, plural, namespaced = PATHS[key]
    ns = obj.get("metadata", {}).get("namespace", "default")
    return f"{base}/namespaces/{ns}/{plural}" if namespaced else f"{base}/{plural}"


def load(files):
    for f in files:
        with open(f) as fh:
            for doc in yaml.safe_load_all(fh):
                if doc:
                    yield f, doc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--skip-unknown", action="store_true")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("apply", "delete"):
        p = sub.add_parser(name)
        p.add_argument("-f", dest="files", action="append", required=True)
    g = sub.add_parser("get")
    g.add_argument("path")
    a = ap.parse_args()
    c = Client(a.kubeconfig)
    if a.cmd == "get":
        code, body = c.call("GET", a.path)
        print(json.dumps(body, indent=2))
        return 0 if code == 200 else 1
    failed = 0
    for f, obj in load(a.files):
        name = obj.get("metadata", {}).get("name")
        path = object_path(obj)
        label = f"{obj.get('kind')}/{name}"
        if path is None:
            print(f"{f}: {label}: kind {obj.get('apiVersion')}/{obj.get('kind')} is not served"
                  f"{' (skipped)' if a.skip_unknown else ''}")
            failed += 0 if a.skip_unknown else 1
            continue
        if a.cmd == "delete":
            code, body = c.call("DELETE", f"{path}/{name}")
            ok = code in (200, 404)
        else:
            code, body = c.call("POST", path, obj)
            if code == 409:
                _, cur = c.call("GET", f"{path}/{name}")
                obj.setdefault("metadata", {})["resourceVersion"] = cur.get("metadata", {}).get("resourceVersion")
                code, body = c.call("PUT", f"{path}/{name}", obj)
            ok = code in (200, 201)
        print(f"{f}: {label}: {'ok' if ok else 'FAILED'}" + ("" if ok else f" ({code}: {body.get('message')})"))
        failed += 0 if ok else 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
