#!/usr/bin/env bash
# Least privilege, checked against what the code really does: the controller and the node
# plugin each run against their own stand-in API server (with an access log) through their
# main flows (publish, adopt, shrink a pool, leader election; register, publish the GPU slice,
# prepare a claim with a Secret, unprepare). Every API request becomes (resource, verb); each
# must be allowed by the chart's RBAC for that daemon, and every verb the RBAC grants must be
# used, or listed below with the code path that needs it.
set -euo pipefail
build=${NETDRA_BUILD_DIR:?}
src=${NETDRA_SOURCE_DIR:?}
py=/usr/bin/python3
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
api() { # name
  $py "$src/tests/apiserver/netdra_apiserver.py" --kubeconfig "$work/$1.kc" --ready-file "$work/$1.ready" \
    --log "$work/$1.access" >"$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -f "$work/$1.ready" ] && break; sleep 0.05; done
}
kctl() { $py "$src/tests/apiserver/kubectl_lite.py" --kubeconfig "$work/$1.kc" "${@:2}"; }
wait_for() { for _ in $(seq 100); do eval "$1" && return 0; sleep 0.1; done; echo "FAIL: timed out: $1"; exit 1; }
# the slices as listed now; a failed list fails the call, so that a negated match cannot pass on it
slices() { local out; out=$(kctl ctl get /apis/resource.k8s.io/v1/resourceslices) && printf '%s\n' "$out"; }

# ---- controller: publish two pools, then drop one (delete), with leader election ----------
api ctl
cat >"$work/inv.yaml" <<'Y'
pool: pool-a
devices: [{id: cam-1, type: camera}]
Y
cat >"$work/inv2.yaml" <<'Y'
pool: pool-b
devices: [{id: cam-2, type: camera}]
Y
controller() { # inventories...
  "$build/controller/netdra-controller" --kubeconfig "$work/ctl.kc" --lease-namespace default \
    --metrics-address "" --startup-delay 100ms --inventory "$1" \
    --retry-period 200ms --renew-deadline 1s --lease-duration 2s >>"$work/controller.log" 2>&1 &
  pids+=($!)
  ctl_pid=$!
}
controller "$work/inv.yaml,$work/inv2.yaml"
wait_for 'kctl ctl get /apis/resource.k8s.io/v1/resourceslices | grep -q cam-2'
rm "$work/inv2.yaml"
wait_for 'out=$(slices) && ! grep -q cam-2 <<<"$out"'
sleep 1 # a few lease renewals
kill "$ctl_pid"
wait "$ctl_pid" 2>/dev/null || true
controller "$work/inv.yaml" # restarted without pool-b: its stale slice is deleted
wait_for 'out=$(slices) && ! grep -q pool-b <<<"$out"'
kill "$ctl_pid"
wait "$ctl_pid" 2>/dev/null || true
sleep 1.5 # watch requests are logged when their stream ends
curl -s "$(cat "$work/ctl.ready")/_netdra/requests" >"$work/ctl.requests.json"

# ---- node plugin: register, GPU slice, prepare with a Secret, unprepare --------------------
api node
cp -a "$src/tests/node-plugin/fake-roots/nvidia" "$work/gpu-root"
rm -rf "$work/gpu-root/etc/cdi"
cat >"$work/objs.yaml" <<EOF
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
    - name: cam-1
      attributes:
        type: {string: camera}
        endpoint: {string: "rtsp://127.0.0.1:554/x"}
        secretRef: {string: default/creds}
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: c1, namespace: default}
spec:
  devices:
    requests: [{name: cam, exactly: {deviceClassName: camera.netdra.dev}}]
EOF
kctl node apply -f "$work/objs.yaml" -f "$src/deploy/manifests/deviceclasses.yaml" >/dev/null
"$build/node-plugin/netdra-node-plugin" --node-name n1 --kubeconfig "$work/node.kc" \
  --plugin-dir "$work/plugins" --registry-dir "$work/registry" --cdi-dir "$work/cdi" \
  --state-dir "$work/state" --dev-root "$work/gpu-root" --local-gpus --metrics-address "" >"$work/plugin.log" 2>&1 &
pids+=($!)
plugin_pid=$!
wait_for '[ -S "$work/plugins/dra.sock" ]'
wait_for 'kctl node get /apis/resource.k8s.io/v1/resourceslices | grep -q "\"nodeName\": \"n1\""'
uid=$($py "$src/tests/tools/standin_allocator.py" --kubeconfig "$work/node.kc" --node n1 --claim default/c1 -q |
  $py -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])["uid"])')
$py "$src/tests/grpc/fake_kubelet.py" prepare --socket "$work/plugins/dra.sock" --claim "default/c1/$uid" | grep -q cdi ||
  { echo "FAIL: prepare"; tail "$work/plugin.log"; exit 1; }
$py "$src/tests/grpc/fake_kubelet.py" unprepare --socket "$work/plugins/dra.sock" --claim "default/c1/$uid" >/dev/null
kill "$plugin_pid"
wait "$plugin_pid" 2>/dev/null || true
sleep 1.5
curl -s "$(cat "$work/node.ready")/_netdra/requests" >"$work/node.requests.json"

helm="$("$src/scripts/get-helm.sh")/helm/helm"
"$helm" template netdra "$src/deploy/helm/netdra" -n netdra --set controller.bindingConditions.enabled=true >"$work/rendered.yaml"
$py "$src/tests/security/rbac_check.py" "$work" # not exec: the EXIT trap must still run
