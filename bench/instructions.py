#!/usr/bin/env python3
"""Instructions per announcement and per prepare, counted with valgrind's callgrind: repeatable
for the same binary and input, whatever else the machine does.

- per announcement: bench_parse parses a camera announcement and upserts it into the registry
  N times;
- per prepare: the real node plugin runs under callgrind against the stand-in API server and
  serves N NodePrepareResources + NodeUnprepareResources cycles of a camera + GPU claim from the
  C client (bench_prepare, one stream); the count is the plugin's, every layer included (gRPC,
  HTTP/2, the claim GET, JSON, checkpoint, CDI spec).

Two runs with different N give the cost per item without the fixed start-up cost:
    (Ir(N2) - Ir(N1)) / (N2 - N1)
--check compares with bench/baseline.json and fails beyond its tolerance (the CI regression
check); --update rewrites the baseline; --only announce|prepare measures one of them."""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prepare_env  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--build", required=True)
ap.add_argument("--source", required=True)
ap.add_argument("--check", action="store_true")
ap.add_argument("--update", action="store_true")
ap.add_argument("--only", choices=("announce", "prepare"))
a = ap.parse_args()
B, S = a.build, a.source
CALLGRIND = ["valgrind", "--tool=callgrind"]


def callgrind_total(out):
    for line in open(out):
        m = re.match(r"^(summary|totals):\s+(\d+)", line)
        if m:
            return int(m.group(2))
    raise SystemExit(f"no totals in the callgrind output {out}")


def announce_ir(n):
    doc = os.path.join(S, "deploy", "examples", "announcements", "camera.json")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        subprocess.run(CALLGRIND + [f"--callgrind-out-file={out}", f"{B}/bench/bench_parse", doc, str(n)],
                       check=True, capture_output=True)
        return callgrind_total(out)


class PrepareRig:
    """A stand-in API server with the bench objects; plugins are started under callgrind."""

    def __init__(self, work):
        self.work = work
        ready, self.kc = os.path.join(work, "api.ready"), os.path.join(work, "api.kc")
        self.api = subprocess.Popen([prepare_env.PY, f"{S}/tests/apiserver/netdra_apiserver.py", "--kubeconfig",
                                     self.kc, "--ready-file", ready], stdout=open(os.path.join(work, "api.log"), "w"),
                                    stderr=subprocess.STDOUT)
        prepare_env.wait_for("the stand-in API server start", lambda: os.path.exists(ready), 30)
        prepare_env.load_objects(S, self.kc, work, 1)
        self.groot = prepare_env.gpu_root(S, work)
        self.uid = None

    def plugin_ir(self, n):
        pdir = tempfile.mkdtemp(dir=self.work)
        out = os.path.join(pdir, "cg.out")
        plug = subprocess.Popen(CALLGRIND + [f"--callgrind-out-file={out}"] +
                                prepare_env.plugin_command(B, self.kc, pdir, self.groot, 1),
                                stdout=open(os.path.join(pdir, "plugin.log"), "w"), stderr=subprocess.STDOUT)
        try:
            sock = f"{pdir}/plugins/dra.sock"
            prepare_env.wait_for("the plugin's DRA socket",
                                 lambda: os.path.exists(sock) or plug.poll() is not None, 120)
            if plug.poll() is not None:
                raise SystemExit(f"the node plugin exited: {open(os.path.join(pdir, 'plugin.log')).read()[-2000:]}")
            if self.uid is None:  # the first plugin publishes the GPU slice the claim is allocated from
                self.uid = prepare_env.allocate(S, self.kc, 1)[0]
                claim = json.loads(prepare_env.kubectl(
                    S, self.kc, "get", "/apis/resource.k8s.io/v1/namespaces/default/resourceclaims/bench-0").stdout)
                got = [r["request"] for r in claim["status"]["allocation"]["devices"]["results"]]
                if sorted(got) != ["cam", "gpu"]:
                    raise SystemExit(f"instructions.py: the claim was allocated {got}, not a camera and a GPU")
            if n == 0:
                return 0
            r = subprocess.run([f"{B}/bench/bench_prepare", sock, "default", "bench-0", self.uid, str(n), "1"],
                               capture_output=True, text=True, timeout=900)
            res = json.loads([l for l in r.stdout.splitlines() if l.startswith("{")][-1])
            if res["failures"]:
                raise SystemExit(f"{res['failures']} of {n} prepare cycles failed under callgrind")
        finally:
            plug.send_signal(signal.SIGTERM)
            plug.wait(timeout=120)
        return callgrind_total(out) if n else 0

    def close(self):
        self.api.terminate()
        self.api.wait(timeout=10)


def prepare_ir(n1, n2):
    with tempfile.TemporaryDirectory() as work:
        rig = PrepareRig(work)
        try:
            rig.plugin_ir(0)  # allocation, which waits for the GPU slice: not counted
            return (rig.plugin_ir(n2) - rig.plugin_ir(n1)) / (n2 - n1)
        finally:
            rig.close()


result = {}
if a.only in (None, "announce"):
    result["instructions_per_announcement"] = round((announce_ir(1200) - announce_ir(200)) / 1000)
if a.only in (None, "prepare"):
    result["instructions_per_prepare_cycle"] = round(prepare_ir(20, 120))
print(json.dumps(result))
path = os.path.join(S, "bench", "baseline.json")
if a.update:
    base = json.load(open(path)) if os.path.exists(path) else {"tolerance": 0.10}
    json.dump({**base, **result}, open(path, "w"), indent=2)
    print(f"baseline written to {path}")
if a.check:
    base = json.load(open(path))
    failed = 0
    for key, value in result.items():
        limit = base[key] * (1 + base["tolerance"])
        ok = value <= limit
        failed += not ok
        print(f"{'ok' if ok else 'REGRESSION'}: {value} {key.replace('_', ' ')}, baseline {base[key]} "
              f"(+{base['tolerance']:.0%} allowed = {limit:.0f})")
    print(f"{len(result) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
