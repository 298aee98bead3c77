#!/usr/bin/env bash
# Hostile device ids and attributes, end to end: announced through a static inventory ("../",
# "=", quotes, newline escapes, 64-byte ids), published by the controller, allocated and prepared
# by the node plugin. Every slice must pass the stand-in's validation, and the CDI spec must hold
# only valid CDI device names, environment names that are plain identifiers, and no path that
# climbs out with "..". Ids with a NUL or a raw newline never get that far (the parser refuses
# control characters: tests/discovery/test_announcement.c and the corpus).
set -euo pipefail
build=${NETDRA_BUILD_DIR:?}
src=${NETDRA_SOURCE_DIR:?}
py=/usr/bin/python3
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
kctl() { $py "$src/tests/apiserver/kubectl_lite.py" --kubeconfig "$work/kc" "$@"; }
$py "$src/tests/apiserver/netdra_apiserver.py" --kubeconfig "$work/kc" --ready-file "$work/ready" >"$work/api.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -f "$work/ready" ] && break; sleep 0.05; done
$py - "$work/inv.yaml" <<'PY'
import json, sys
ids = ["../../etc/passwd", "cam=1;X=2", "CAM\"quote'", "a" * 64, "..", "x/../../y", "$(reboot)", "cam\\nname"]
devs = [{"id": i, "type": "camera", "vendor": "evil", "attributes": {"note": "=../../x"},
         "attach": {"endpoint": "rtsp://127.0.0.1:554/x"}} for i in ids]
json.dump({"pool": "evil-pool", "devices": devs}, open(sys.argv[1], "w"))
PY
"$build/controller/netdra-controller" --kubeconfig "$work/kc" --leader-election=false --metrics-address "" \
  --startup-delay 100ms --inventory "$work/inv.yaml" >"$work/controller.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do kctl get /apis/resource.k8s.io/v1/resourceslices | grep -q evil-pool && break; sleep 0.1; done
cat >"$work/objs.yaml" <<'EOF'
apiVersion: v1
kind: Node
metadata: {name: n1}
EOF
claims=""
for i in 0 1 2 3 4 5 6 7; do
  claims+=$'---\napiVersion: resource.k8s.io/v1\nkind: ResourceClaim\n'
  claims+="metadata: {name: evil-$i, namespace: default}"$'\n'
  claims+=$'spec:\n  devices:\n    requests: [{name: cam, exactly: {deviceClassName: camera.netdra.dev}}]\n'
done
printf '%s' "$claims" >>"$work/objs.yaml"
kctl apply -f "$work/objs.yaml" -f "$src/deploy/manifests/deviceclasses.yaml" >/dev/null
"$build/node-plugin/netdra-node-plugin" --node-name n1 --kubeconfig "$work/kc" --plugin-dir "$work/plugins" \
  --registry-dir "$work/registry" --cdi-dir "$work/cdi" --state-dir "$work/state" --local-gpus=false \
  --metrics-address "" >"$work/plugin.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$work/plugins/dra.sock" ] && break; sleep 0.05; done
args=()
for i in 0 1 2 3 4 5 6 7; do
  uid=$($py "$src/tests/tools/standin_allocator.py" --kubeconfig "$work/kc" --node n1 --claim "default/evil-$i" -q |
    $py -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])["uid"])')
  args+=(--claim "default/evil-$i/$uid")
done
"$build/controller/netdractl" prepare --socket "$work/plugins/dra.sock" "${args[@]}" >"$work/prepare.out" 2>&1 ||
  { echo "FAIL: prepare: $(cat "$work/prepare.out")"; tail -5 "$work/plugin.log"; exit 1; }
$py - "$work" <<'PY' # not exec: the EXIT trap must still stop the servers
import glob, json, re, sys
work = sys.argv[1]
sys.path.insert(0, __import__("os").environ["NETDRA_SOURCE_DIR"] + "/tests/apiserver")
import kubectl_lite
c = kubectl_lite.Client(f"{work}/kc")
_, slices = c.call("GET", "/apis/resource.k8s.io/v1/resourceslices")
names = [d["name"] for s in slices["items"] for d in s["spec"].get("devices", [])]
passed = failed = 0
def check(ok, what):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + what)
    passed, failed = passed + ok, failed + (not ok)
check(len(names) == 8 and len(set(names)) == 8, f"8 hostile ids -> 8 distinct device names {names}")
check(all(re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", n) and len(n) <= 63 for n in names),
      "every device name is a DNS label")
specs = glob.glob(f"{work}/cdi/*.json")
check(len(specs) == 8, f"{len(specs)} CDI specs for 8 claims")
for path in specs:
    spec = json.load(open(path))
    for dev in spec["devices"]:
        check(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]*[A-Za-z0-9]", dev["name"]) is not None,
              f"CDI device name {dev['name']}")
        edits = dev["containerEdits"]
        for env in edits.get("env", []):
            name = env.split("=", 1)[0]
            check(re.fullmatch(r"[A-Z_][A-Z0-9_]*", name) is not None, f"env name {name}")
        for m in edits.get("mounts", []) + edits.get("deviceNodes", []):
            for key in ("hostPath", "containerPath", "path"):
                if key in m:
                    check("/../" not in m[key] + "/" and not m[key].endswith("/.."), f"{key} {m[key]} stays where it is put")
print(f"injection: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
