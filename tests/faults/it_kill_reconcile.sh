#!/usr/bin/env bash
# The controller SIGKILLed at random points of reconcile, 200 times (bounded by time too), while
# its inventory changes under it. Afterwards one controller runs to a settled state, and the
# published slices must hold every device exactly once, no pool twice, consistent generations
# and slice counts: no device lost, no duplicate slice. Loopback only.
set -euo pipefail
build=${NETDRA_BUILD_DIR:?}
src=${NETDRA_SOURCE_DIR:?}
py=/usr/bin/python3
iterations=${NETDRA_KILL_ITERATIONS:-200}
budget_s=${NETDRA_KILL_SECONDS:-240}
work=$(mktemp -d)
pids=()
ctl_pid=
cleanup() {
  [ -n "$ctl_pid" ] && kill -9 "$ctl_pid" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
$py "$src/tests/apiserver/netdra_apiserver.py" --kubeconfig "$work/kc" --ready-file "$work/ready" >"$work/api.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -f "$work/ready" ] && break; sleep 0.05; done
inventory() { # generation: the device set changes with it
  $py - "$1" "$work/inv.yaml" <<'PY'
import json, sys
g = int(sys.argv[1])
pools = {"site-a": 150 + g % 40, "site-b": 20 + g % 7}
with open(sys.argv[2] + ".tmp", "w") as f:
    for pool, n in pools.items():
        pass
    docs = [{"pool": p, "devices": [{"id": f"{p}-cam-{i}", "type": "camera", "attributes": {"gen": g % 3}}
                                      for i in range(n)]} for p, n in pools.items()]
    json.dump(docs[0], f)
import os
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
with open(sys.argv[2].replace("inv.yaml", "inv-b.yaml") + ".tmp", "w") as f:
    json.dump(docs[1], f)
os.rename(sys.argv[2].replace("inv.yaml", "inv-b.yaml") + ".tmp", sys.argv[2].replace("inv.yaml", "inv-b.yaml"))
PY
}
start_ctl() {
  "$build/controller/netdra-controller" --kubeconfig "$work/kc" --leader-election=false --metrics-address "" \
    --startup-delay 10ms --debounce 5ms --inventory "$work/inv.yaml,$work/inv-b.yaml" --log-level warn \
    >>"$work/controller.log" 2>&1 &
  ctl_pid=$!
}
inventory 0
done_n=0 start=$SECONDS
while [ "$done_n" -lt "$iterations" ] && [ $((SECONDS - start)) -lt "$budget_s" ]; do
  [ $((done_n % 10)) -eq 0 ] && inventory "$done_n"
  start_ctl
  sleep "$(printf '0.%03d' $((RANDOM % 200)))"
  kill -9 "$ctl_pid"
  wait "$ctl_pid" 2>/dev/null || true
  ctl_pid=
  done_n=$((done_n + 1))
done
echo "kills: $done_n iterations in $((SECONDS - start)) s"
[ "$done_n" -ge "$iterations" ] || { echo "FAIL: only $done_n of $iterations iterations within ${budget_s}s"; exit 1; }
final=$done_n
inventory "$final"
start_ctl
want_a=$((150 + final % 40)) want_b=$((20 + final % 7))
for _ in $(seq 150); do
  if $py - "$work/kc" "$want_a" "$want_b" "$src" <<'PY'; then break; fi
import json, sys
sys.path.insert(0, sys.argv[4] + "/tests/apiserver")
import kubectl_lite
c = kubectl_lite.Client(sys.argv[1])
_, lst = c.call("GET", "/apis/resource.k8s.io/v1/resourceslices")
devs = [d["name"] for s in lst["items"] for d in s["spec"].get("devices", [])]
sys.exit(0 if len(devs) == int(sys.argv[2]) + int(sys.argv[3]) else 1)
PY
  sleep 0.1
done
sleep 1
$py - "$work/kc" "$want_a" "$want_b" "$src" <<'PY'
import collections, json, sys
sys.path.insert(0, sys.argv[4] + "/tests/apiserver")
import kubectl_lite
c = kubectl_lite.Client(sys.argv[1])
_, lst = c.call("GET", "/apis/resource.k8s.io/v1/resourceslices")
want = {"site-a": int(sys.argv[2]), "site-b": int(sys.argv[3])}
fail = passed = 0
by_pool = collections.defaultdict(list)
for s in lst["items"]:
    by_pool[s["spec"]["pool"]["name"]].append(s)
for pool, n in want.items():
    slices = by_pool.get(pool, [])
    names = [d["name"] for s in slices for d in s["spec"].get("devices", [])]
    gens = {s["spec"]["pool"]["generation"] for s in slices}
    counts = {s["spec"]["pool"]["resourceSliceCount"] for s in slices}
    checks = [(len(names) == n, f"{pool}: {len(names)} devices published, want {n}"),
              (len(set(names)) == len(names), f"{pool}: every device published once"),
              (len(gens) == 1, f"{pool}: all slices at one generation {sorted(gens)}"),
              (counts == {len(slices)}, f"{pool}: resourceSliceCount {sorted(counts)} matches {len(slices)} slices"),
              (len({s['metadata']['name'] for s in slices}) == len(slices), f"{pool}: no duplicate slice")]
    for good, msg in checks:
        print(("ok   " if good else "FAIL ") + msg)
        fail += 0 if good else 1
        passed += 1 if good else 0
extra = set(by_pool) - set(want)
print(("ok   " if not extra else "FAIL ") + f"no stray pools {sorted(extra)}")
fail += 1 if extra else 0
passed += 0 if extra else 1
print(f"kill during reconcile: {passed} passed, {fail} failed")
sys.exit(1 if fail else 0)
PY
