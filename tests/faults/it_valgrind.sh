#!/usr/bin/env bash
# The daemons' main flows under valgrind memcheck (the gcc build; the other suite runs ASan):
# the controller publishes a static inventory and a change to it, then stops on SIGTERM; the node
# plugin registers, publishes its GPU slice, prepares and unprepares a camera + GPU claim (with a
# Secret), then stops on SIGTERM. Zero memcheck errors and zero definite leaks, or the test fails.
set -euo pipefail
build=${NETDRA_BUILD_DIR:?}
src=${NETDRA_SOURCE_DIR:?}
py=/usr/bin/python3
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
command -v valgrind >/dev/null || { echo "FAIL: valgrind is not installed"; exit 1; }
vg=(valgrind --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite --track-fds=no -q)
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
kctl() { $py "$src/tests/apiserver/kubectl_lite.py" --kubeconfig "$work/kc" "$@"; }
$py "$src/tests/apiserver/netdra_apiserver.py" --kubeconfig "$work/kc" --ready-file "$work/ready" >"$work/api.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -f "$work/ready" ] && break; sleep 0.05; done
wait_for() { for _ in $(seq 300); do eval "$1" && return 0; sleep 0.1; done; return 1; }

# ---- controller ---------------------------------------------------------------------------
printf '{"pool":"vg","devices":[{"id":"cam-1","type":"camera"},{"id":"cam-2","type":"camera"}]}' >"$work/inv.yaml"
"${vg[@]}" "$build/controller/netdra-controller" --kubeconfig "$work/kc" --leader-election=false \
  --metrics-address 127.0.0.1:0 --startup-delay 100ms --inventory "$work/inv.yaml" >"$work/controller.log" 2>&1 &
ctl=$!
wait_for 'kctl get /apis/resource.k8s.io/v1/resourceslices | grep -q cam-2' || bad "controller did not publish"
printf '{"pool":"vg","devices":[{"id":"cam-1","type":"camera"},{"id":"cam-3","type":"camera"}]}' >"$work/inv.yaml.new"
mv "$work/inv.yaml.new" "$work/inv.yaml"
wait_for 'kctl get /apis/resource.k8s.io/v1/resourceslices | grep -q cam-3' || bad "controller did not publish the change"
kill "$ctl"
rc=0
wait "$ctl" || rc=$?
[ "$rc" -eq 0 ] && ok "controller under memcheck: no error, no definite leak" ||
  { bad "controller under memcheck (exit $rc)"; grep -A12 '==[0-9]*== [A-Z]' "$work/controller.log" | head -40; }

# ---- node plugin --------------------------------------------------------------------------
cp -a "$src/tests/node-plugin/fake-roots/nvidia" "$work/gpu-root"
rm -rf "$work/gpu-root/etc/cdi"
cat >"$work/objs.yaml" <<EOF
apiVersion: v1
kind: Node
metadata: {name: n1}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: default}
data: {password: $(printf x | base64)}
---
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata: {name: cams}
spec:
  driver: netdra.dev
  pool: {name: cams, generation: 0, resourceSliceCount: 1}
  allNodes: true
  devices:
    - name: cam-0
      attributes:
        type: {string: camera}
        endpoint: {string: "rtsp://127.0.0.1/x"}
        secretRef: {string: default/creds}
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: c0, namespace: default}
spec:
  devices:
    requests:
      - {name: cam, exactly: {deviceClassName: camera.netdra.dev}}
      - {name: gpu, exactly: {deviceClassName: gpu.netdra.dev}}
EOF
kctl apply -f "$work/objs.yaml" -f "$src/deploy/manifests/deviceclasses.yaml" >/dev/null
"${vg[@]}" "$build/node-plugin/netdra-node-plugin" --node-name n1 --kubeconfig "$work/kc" --plugin-dir "$work/plugins" \
  --registry-dir "$work/registry" --cdi-dir "$work/cdi" --state-dir "$work/state" --dev-root "$work/gpu-root" \
  --local-gpus --metrics-address "" >"$work/plugin.log" 2>&1 &
plug=$!
wait_for '[ -S "$work/plugins/dra.sock" ] && ls "$work"/registry/*.sock >/dev/null 2>&1' || bad "plugin did not start"
wait_for 'kctl get /apis/resource.k8s.io/v1/resourceslices | grep -q "\"nodeName\": \"n1\""' || bad "no GPU slice"
$py "$src/tests/grpc/fake_kubelet.py" register --socket "$(ls "$work"/registry/*.sock)" >/dev/null || bad "registration"
uid=$($py "$src/tests/tools/standin_allocator.py" --kubeconfig "$work/kc" --node n1 --claim default/c0 -q |
  $py -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])["uid"])')
"$build/controller/netdractl" prepare --socket "$work/plugins/dra.sock" --claim "default/c0/$uid" --timeout 60 >/dev/null ||
  bad "prepare under memcheck"
"$build/controller/netdractl" unprepare --socket "$work/plugins/dra.sock" --claim "default/c0/$uid" --timeout 60 >/dev/null ||
  bad "unprepare under memcheck"
$py "$src/tests/grpc/fake_kubelet.py" watch-health --socket "$work/plugins/dra.sock" --count 1 >/dev/null || bad "health stream"
kill "$plug"
rc=0
wait "$plug" || rc=$?
[ "$rc" -eq 0 ] && ok "node plugin under memcheck: no error, no definite leak" ||
  { bad "node plugin under memcheck (exit $rc)"; grep -A12 '==[0-9]*== [A-Z]' "$work/plugin.log" | head -40; }
echo "valgrind: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
