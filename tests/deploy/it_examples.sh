#!/usr/bin/env bash
# Every example in deploy/examples is exercised: the announcements become devices (through the
# controller, via a static inventory of the same documents), the claim and pod YAML applies to
# the stand-in API server (validated against the upstream schema), and each claim is allocated
# by the stand-in allocator to the devices it asks for: a camera; a camera + a local GPU; CXL
# memory of at least 64Gi (CEL on capacity); an accelerator with opaque configuration.
set -euo pipefail
build=${NETDRA_BUILD_DIR:?}
src=${NETDRA_SOURCE_DIR:?}
py=/usr/bin/python3
work=$(mktemp -d)
api_pid= ctl_pid=
trap 'for p in $ctl_pid $api_pid; do kill $p 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
$py "$src/tests/apiserver/netdra_apiserver.py" --kubeconfig "$work/kc" --ready-file "$work/ready" >"$work/api.log" 2>&1 &
api_pid=$!
for _ in $(seq 100); do [ -f "$work/ready" ] && break; sleep 0.05; done
kctl() { $py "$src/tests/apiserver/kubectl_lite.py" --kubeconfig "$work/kc" "$@"; }

# the announcement examples as a static inventory (YAML is a superset of JSON)
$py - "$src/deploy/examples/announcements" >"$work/inventory.yaml" <<'PY'
import glob, json, sys, yaml
docs = [json.load(open(f)) for f in sorted(glob.glob(sys.argv[1] + "/*.json"))]
print(yaml.safe_dump({"pool": "site-a", "devices": docs}))
PY
"$build/controller/netdra-controller" --kubeconfig "$work/kc" --leader-election=false --metrics-address "" \
  --startup-delay 100ms --inventory "$work/inventory.yaml" >"$work/controller.log" 2>&1 &
ctl_pid=$!
cat >"$work/node.yaml" <<'EOF2'
apiVersion: v1
kind: Node
metadata:
  name: worker-1
  labels: {topology.kubernetes.io/zone: eu-west-1a, netdra.dev/cxl-fabric: fabric-a}
---
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata: {name: worker-1-netdra.dev-local}
spec:
  driver: netdra.dev
  nodeName: worker-1
  pool: {name: worker-1, generation: 0, resourceSliceCount: 1}
  devices:
    - name: gpu-0
      attributes:
        type: {string: gpu}
        vendor: {string: nvidia}
        resource.kubernetes.io/pcieRoot: {string: pci0000:00}
      capacity:
        memory: {value: 80Gi}
EOF2
kctl apply -f "$work/node.yaml" -f "$src/deploy/manifests/deviceclasses.yaml" >/dev/null && ok "node, GPU slice, DeviceClasses" ||
  bad "applying node and device classes"
for _ in $(seq 100); do kctl get /apis/resource.k8s.io/v1/resourceslices | grep -q rack4-accel-2 && break; sleep 0.1; done
for f in "$src"/deploy/examples/claims/*.yaml; do
  if out=$(kctl apply -f "$f"); then ok "apply $(basename "$f"): $(tr '\n' ' ' <<<"$out" | sed "s|$src/||g")"; else bad "apply $(basename "$f"): $out"; fi
done
alloc() { $py "$src/tests/tools/standin_allocator.py" --kubeconfig "$work/kc" --node worker-1 \
  --node-labels topology.kubernetes.io/zone=eu-west-1a,netdra.dev/cxl-fabric=fabric-a --claim "$1" -q; }
check() { # claim, python predicate over the allocation results r (request -> device)
  local out
  if ! out=$(alloc "$1" 2>&1); then bad "allocate $1: $out"; return; fi
  if $py -c 'import json,sys; a=json.loads(sys.argv[1]); r={x["request"]:x["device"] for x in a["allocation"]["devices"]["results"]}; sys.exit(0 if eval(sys.argv[2]) else 1)' "$out" "$2"; then
    ok "allocate $1: $($py -c 'import json,sys; print([(x["request"],x["pool"],x["device"]) for x in json.loads(sys.argv[1])["allocation"]["devices"]["results"]])' "$out")"
  else bad "allocate $1: $out"; fi
}
check default/camera 'r=={"cam":"lobby-cam-1"}'
alloc default/camera-and-gpu >/dev/null 2>&1 && bad "the camera was allocated twice" ||
  ok "while the camera is allocated, no second claim gets it"
kctl delete -f "$src/deploy/examples/claims/camera.yaml" >/dev/null # free the camera for the next claim
check default/camera-and-gpu 'r=={"cam":"lobby-cam-1","gpu":"gpu-0"}'
check default/cxl-memory 'r=={"mem":"fabric-a-region-7"}'
check default/accelerator 'r=={"accel":"rack4-accel-2"}'
cfg=$(kctl get /apis/resource.k8s.io/v1/namespaces/default/resourceclaims/accelerator)
grep -q '"kind": "AcceleratorConfig"' <<<"$cfg" && ok "the accelerator's opaque config is in the allocation" || bad "opaque config missing"
# the CEL capacity selector really selects: 256Gi is more than any region has
sed -e 's/quantity("64Gi")/quantity("256Gi")/' -e 's/name: cxl-memory$/name: cxl-memory-big/' \
  "$src/deploy/examples/claims/cxl-memory-64gi.yaml" >"$work/big.yaml"
kctl apply -f "$work/big.yaml" >/dev/null
alloc default/cxl-memory-big >/dev/null 2>&1 && bad "256Gi of CXL memory was allocated" || ok "a claim for 256Gi of CXL memory finds no device"
echo "examples: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
