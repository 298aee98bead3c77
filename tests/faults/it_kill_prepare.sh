#!/usr/bin/env bash
# The node plugin killed with SIGKILL at random points of NodePrepareResources, 200 times (bounded
# by time too), for a CXL memory claim whose attach goes to the simulated fabric manager. After
# every kill the plugin is restarted; then: prepare must succeed, the fabric manager must hold
# exactly one attachment for the claim (never a doubled one), unprepare must succeed and leave
# none (no leaked one). Loopback only.
set -euo pipefail
build=${NETDRA_BUILD_DIR:?}
src=${NETDRA_SOURCE_DIR:?}
py=/usr/bin/python3
iterations=${NETDRA_KILL_ITERATIONS:-200}
budget_s=${NETDRA_KILL_SECONDS:-360} # the ASan build on 2 busy cores needs ~1.3 s an iteration
work=$(mktemp -d)
chmod 755 "$work"
pids=()
plugin_pid=
cleanup() {
  [ -n "$plugin_pid" ] && kill -9 "$plugin_pid" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
die() { echo "FAIL: $*"; tail -15 "$work/plugin.log" 2>/dev/null; exit 1; }

$py "$src/tests/apiserver/netdra_apiserver.py" --kubeconfig "$work/kc" --ready-file "$work/api.ready" >"$work/api.log" 2>&1 &
pids+=($!)
mkdir -p "$work/root/dev"
$py "$src/tests/peers/fabric_manager.py" --dev-root "$work/root" --region r0:0:64Gi \
  --ready-file "$work/fm.ready" >"$work/fm.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -f "$work/api.ready" ] && [ -f "$work/fm.ready" ] && break; sleep 0.05; done
fm=$(cat "$work/fm.ready")
cat >"$work/objs.yaml" <<EOF
apiVersion: v1
kind: Node
metadata: {name: n1}
---
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata: {name: fabric}
spec:
  driver: netdra.dev
  pool: {name: fabric, generation: 0, resourceSliceCount: 1}
  allNodes: true
  devices:
    - name: region-0
      attributes:
        type: {string: cxl-memory}
        endpoint: {string: "$fm"}
        fabricRegion: {string: r0}
      capacity:
        memory: {value: 64Gi}
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: mem, namespace: default}
spec:
  devices:
    requests: [{name: mem, exactly: {deviceClassName: cxl-memory.netdra.dev}}]
EOF
$py "$src/tests/apiserver/kubectl_lite.py" --kubeconfig "$work/kc" apply -f "$work/objs.yaml" \
  -f "$src/deploy/manifests/deviceclasses.yaml" >/dev/null || die "applying objects"
uid=$($py "$src/tests/tools/standin_allocator.py" --kubeconfig "$work/kc" --node n1 --claim default/mem -q |
  $py -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])["uid"])')
# every attach takes 30 ms at the fabric manager, so kills land in the middle of attaches
curl -s -X POST "$fm/_test/faults" -d '{"method":"POST","path":"^/v1/attachments$","status":0,"count":-1,"delay_ms":30}' >/dev/null
ctl="$build/controller/netdractl"
sock="$work/plugins/dra.sock"

start_plugin() {
  rm -f "$sock" # the killed plugin's stale socket; the new one appears when it listens
  "$build/node-plugin/netdra-node-plugin" --node-name n1 --kubeconfig "$work/kc" --plugin-dir "$work/plugins" \
    --registry-dir "$work/registry" --cdi-dir "$work/cdi" --state-dir "$work/state" --dev-root "$work/root" \
    --local-gpus=false --metrics-address "" --log-level warn >>"$work/plugin.log" 2>&1 &
  plugin_pid=$!
  for _ in $(seq 300); do [ -S "$sock" ] && return 0; sleep 0.01; done
  die "the plugin did not come up"
}
attachments() { # one "region" key per attachment (no interpreter start per check: 4 per iteration)
  local body
  body=$(curl -sf "$fm/v1/attachments?claim=$uid") || die "the fabric manager did not answer"
  grep -o '"region"' <<<"$body" | wc -l
}

done_n=0 mid_prepare=0 start=$SECONDS
while [ "$done_n" -lt "$iterations" ] && [ $((SECONDS - start)) -lt "$budget_s" ]; do
  start_plugin
  "$ctl" prepare --socket "$sock" --claim "default/mem/$uid" >/dev/null 2>&1 &
  client=$!
  sleep "$(printf '0.%03d' $((RANDOM % 60)))" # 0 to 59 ms into the prepare
  kill -0 "$client" 2>/dev/null && mid_prepare=$((mid_prepare + 1))
  kill -9 "$plugin_pid"
  wait "$plugin_pid" 2>/dev/null || true
  wait "$client" 2>/dev/null || true
  [ "$(attachments)" -le 1 ] || die "iteration $done_n: a doubled attachment after the kill"
  start_plugin
  out=$("$ctl" prepare --socket "$sock" --claim "default/mem/$uid" 2>&1) || die "iteration $done_n: prepare after restart: $out"
  [ "$(attachments)" -eq 1 ] || die "iteration $done_n: $(attachments) attachments after prepare (want 1)"
  "$ctl" unprepare --socket "$sock" --claim "default/mem/$uid" >/dev/null 2>&1 || die "iteration $done_n: unprepare"
  [ "$(attachments)" -eq 0 ] || die "iteration $done_n: an attachment leaked after unprepare"
  kill -9 "$plugin_pid"
  wait "$plugin_pid" 2>/dev/null || true
  plugin_pid=
  done_n=$((done_n + 1))
done
echo "kills: $done_n iterations in $((SECONDS - start)) s, $mid_prepare of them with a prepare in flight"
[ "$done_n" -ge "$iterations" ] || die "only $done_n of $iterations iterations within ${budget_s}s"
echo "kill during prepare: $done_n passed, 0 failed"
