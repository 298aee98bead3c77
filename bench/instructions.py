#!/usr/bin/env python3
"""Instructions per announcement (parse + registry upsert), counted with valgrind's callgrind:
repeatable for the same binary and input, whatever else the machine does. Two runs with
different N give the per-announcement cost without the fixed start-up cost:
    (Ir(N2) - Ir(N1)) / (N2 - N1)
--check compares with bench/baseline.json and fails beyond its tolerance (the CI regression
check); --update rewrites the baseline."""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--build", required=True)
ap.add_argument("--source", required=True)
ap.add_argument("--check", action="store_true")
ap.add_argument("--update", action="store_true")
a = ap.parse_args()
binary = os.path.join(a.build, "bench", "bench_parse")
doc = os.path.join(a.source, "deploy", "examples", "announcements", "camera.json")


def total_ir(n):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary, doc, str(n)],
                       check=True, capture_output=True)
        for line in open(out):
            m = re.match(r"^(summary|totals):\s+(\d+)", line)
            if m:
                return int(m.group(2))
    raise SystemExit("no totals in the callgrind output")


n1, n2 = 200, 1200
per = (total_ir(n2) - total_ir(n1)) / (n2 - n1)
result = {"instructions_per_announcement": round(per)}
print(json.dumps(result))
path = os.path.join(a.source, "bench", "baseline.json")
if a.update:
    json.dump({**result, "tolerance": 0.10}, open(path, "w"), indent=2)
    print(f"baseline written to {path}")
if a.check:
    base = json.load(open(path))
    limit = base["instructions_per_announcement"] * (1 + base["tolerance"])
    ok = per <= limit
    print(f"{'ok' if ok else 'REGRESSION'}: {per:.0f} instructions per announcement, baseline "
          f"{base['instructions_per_announcement']} (+{base['tolerance']:.0%} allowed = {limit:.0f})")
    print(f"{1 if ok else 0} passed, {0 if ok else 1} failed")
    sys.exit(0 if ok else 1)
