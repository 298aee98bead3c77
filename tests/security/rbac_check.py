#!/usr/bin/env python3
"""Compares the API requests the daemons made (the stand-in API servers' access logs, one per
daemon, told apart from test equipment by the User-Agent) with the chart's RBAC for each daemon: every request must be granted, and every grant
must be used or be listed in RARE with the code path that needs it. Used by it_rbac_usage.sh."""
import json
import sys

import yaml

work = sys.argv[1]
# verbs the RBAC grants that a short run does not exercise, with the code path that needs them
RARE = {
    ("controller", "resourceclaims", "get"): "binding conditions re-read a claim (controller/binding_conditions.c)",
    ("controller", "resourceclaims", "list"): "binding conditions watch allocated claims (list + watch)",
    ("controller", "resourceclaims", "watch"): "binding conditions watch allocated claims",
    ("controller", "resourceclaims/status", "update"): "binding conditions write status.devices",
    ("controller", "resourceclaims/status", "patch"): "binding conditions write status.devices (patch form)",
    ("controller", "resourceclaims/driver", "arbitrary-node:update"): "granular status authorization (1.36+) of the same writes",
    ("controller", "resourceclaims/driver", "arbitrary-node:patch"): "granular status authorization (1.36+) of the same writes",
    ("controller", "resourceslices", "get"): "re-read of one slice after a 409 conflict (controller/slice_reconciler.c refetch)",
    ("node-plugin", "resourceslices", "update"): "the GPU slice changes when GPUs change (node-plugin/local_slice.c)",
    ("node-plugin", "resourceslices", "delete"): "the GPU slice goes when the node has no GPU left (node-plugin/local_slice.c)",
}


def used(requests_json, agent):
    out = set()
    for req in json.load(open(requests_json))["requests"]:
        if not req.get("userAgent", "").startswith(agent):
            continue  # test equipment (kubectl_lite, the stand-in allocator), not the daemon
        method, url = req["method"], req["path"]
        path, _, query = url.partition("?")
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["api"]:
            rest = parts[2:]
        elif parts[:1] == ["apis"] and len(parts) > 3:
            rest = parts[3:]
        else:
            continue  # discovery documents need no RBAC
        if len(rest) > 2 and rest[0] == "namespaces":
            rest = rest[2:]
        if not rest:
            continue
        res = rest[0] + ("/" + rest[2] if len(rest) > 2 else "")
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method)
        if verb is None:
            verb = "get" if len(rest) > 1 else ("watch" if "watch=" in query else "list")
        out.add((res, verb))
    return out


rbac = {"controller": set(), "node-plugin": set()}
for doc in yaml.safe_load_all(open(f"{work}/rendered.yaml")):
    if not doc or doc["kind"] not in ("ClusterRole", "Role"):
        continue
    who = "controller" if "controller" in doc["metadata"]["name"] else "node-plugin"
    for rule in doc["rules"]:
        for r in rule["resources"]:
            for v in rule["verbs"]:
                rbac[who].add((r, v))
fail = passed = 0
for who in ("controller", "node-plugin"):
    seen = used(f"{work}/{'ctl' if who == 'controller' else 'node'}.requests.json", "netdra-" + who)
    for res, verb in sorted(seen):
        if (res, verb) in rbac[who]:
            passed += 1
            print(f"ok   {who}: {verb} {res} is used and granted")
        else:
            fail += 1
            print(f"FAIL {who}: {verb} {res} is used but not granted by the chart")
    for res, verb in sorted(rbac[who] - seen):
        why = RARE.get((who, res, verb))
        if why:
            passed += 1
            print(f"ok   {who}: {verb} {res} is granted for: {why}")
        else:
            fail += 1
            print(f"FAIL {who}: {verb} {res} is granted but never used")
print(f"rbac: {passed} passed, {fail} failed")
sys.exit(1 if fail else 0)
