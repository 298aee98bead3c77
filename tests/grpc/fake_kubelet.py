#!/usr/bin/env python3
"""fake_kubelet: plays the kubelet's part against a DRA kubelet plugin with the real gRPC stack
(python3-grpcio), using stubs generated at run time from the project's proto/ files.

  fake_kubelet.py register --socket REG.sock            GetInfo, checks it, NotifyRegistrationStatus(true)
  fake_kubelet.py prepare --socket DRA.sock --claim NS/NAME/UID... [--api v1|v1beta1]
  fake_kubelet.py unprepare --socket DRA.sock --claim NS/NAME/UID... [--api v1|v1beta1]
  fake_kubelet.py watch-health --socket DRA.sock --count N [--api v1alpha1|v1]
Results are JSON on stdout; exit 1 when the call failed at the gRPC level."""
import argparse
import importlib
import json
import os
import sys
import tempfile

import grpc
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "..", "proto")


def load_stubs():
    out = tempfile.mkdtemp(prefix="netdra-stubs-")
    files = ["pluginregistration.proto", "dra_v1.proto", "dra_v1beta1.proto",
             "dra_health_v1alpha1.proto", "dra_health_v1.proto"]
    rc = protoc.main(["protoc", f"-I{PROTO_DIR}", f"--python_out={out}", f"--grpc_python_out={out}"] + files)
    if rc != 0:
        raise SystemExit("generating stubs failed")
    sys.path.insert(0, out)
    mods = {}
    for f in files:
        base = f[:-len(".proto")]
        mods[base] = (importlib.import_module(base + "_pb2"), importlib.import_module(base + "_pb2_grpc"))
    return mods


def channel(sock):
    return grpc.insecure_channel(f"unix:{os.path.abspath(sock)}")


def claims_of(pb, specs):
    out = []
    for spec in specs:
        ns, name, uid = spec.split("/")
        out.append(pb.Claim(namespace=ns, name=name, uid=uid))
    return out


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("register")
    r.add_argument("--socket", required=True)
    r.add_argument("--driver", default="netdra.dev")
    for name in ("prepare", "unprepare"):
        p = sub.add_parser(name)
        p.add_argument("--socket", required=True)
        p.add_argument("--claim", action="append", required=True)
        p.add_argument("--api", default="v1", choices=["v1", "v1beta1"])
        p.add_argument("--timeout", type=float, default=45.0)
    h = sub.add_parser("watch-health")
    h.add_argument("--socket", required=True)
    h.add_argument("--count", type=int, default=1)
    h.add_argument("--api", default="v1alpha1", choices=["v1alpha1", "v1"])
    h.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()
    mods = load_stubs()
    try:
        if a.cmd == "register":
            pb, pbg = mods["pluginregistration"]
            stub = pbg.RegistrationStub(channel(a.socket))
            info = stub.GetInfo(pb.InfoRequest(), timeout=1)  # the kubelet's 1 s timeout
            problems = []
            if info.type != "DRAPlugin":
                problems.append(f"type {info.type!r}")
            if info.name != a.driver:
                problems.append(f"name {info.name!r}")
            if not info.endpoint.startswith("/"):
                problems.append(f"endpoint {info.endpoint!r} is not absolute")
            known = [v for v in info.supported_versions if v in ("v1.DRAPlugin", "v1beta1.DRAPlugin")]
            if not known or known[0] != "v1.DRAPlugin":
                problems.append(f"versions {list(info.supported_versions)}")
            stub.NotifyRegistrationStatus(pb.RegistrationStatus(plugin_registered=not problems,
                                                                error="; ".join(problems)), timeout=5)
            print(json.dumps({"type": info.type, "name": info.name, "endpoint": info.endpoint,
                              "supported_versions": list(info.supported_versions), "problems": problems}))
            return 1 if problems else 0
        if a.cmd in ("prepare", "unprepare"):
            pb, pbg = mods["dra_" + a.api]
            stub = pbg.DRAPluginStub(channel(a.socket))
            if a.cmd == "prepare":
                resp = stub.NodePrepareResources(pb.NodePrepareResourcesRequest(claims=claims_of(pb, a.claim)),
                                                 timeout=a.timeout)
                out = {uid: {"error": r.error, "devices": [
                    {"request_names": list(d.request_names), "pool": d.pool_name, "device": d.device_name,
                     "cdi_device_ids": list(d.cdi_device_ids)} for d in r.devices]}
                    for uid, r in resp.claims.items()}
            else:
                resp = stub.NodeUnprepareResources(pb.NodeUnprepareResourcesRequest(claims=claims_of(pb, a.claim)),
                                                   timeout=a.timeout)
                out = {uid: {"error": r.error} for uid, r in resp.claims.items()}
            print(json.dumps(out, sort_keys=True))
            return 0
        if a.cmd == "watch-health":
            pb, pbg = mods["dra_health_" + a.api]
            stub = pbg.DRAResourceHealthStub(channel(a.socket))
            stream = stub.NodeWatchResources(pb.NodeWatchResourcesRequest(), timeout=a.timeout)
            for i, msg in enumerate(stream):
                print(json.dumps({"devices": [
                    {"pool": d.device.pool_name, "device": d.device.device_name,
                     "health": pb.HealthStatus.Name(d.health), "last_updated_time": d.last_updated_time}
                    for d in msg.devices]}), flush=True)
                if i + 1 >= a.count:
                    stream.cancel()
                    break
            return 0
    except grpc.RpcError as e:
        print(json.dumps({"grpc_status": e.code().name, "message": e.details()}))
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
