#!/usr/bin/env bash
# Disk full: the node plugin's CDI directory and then its state directory are small tmpfs mounts
# filled to the brim. Prepare must fail with a clear "no space" error, leave no temporary or
# half-written file behind, keep the plugin up, and succeed once space is back; the checkpoint
# must stay readable across it (the plugin is restarted at the end and unprepares cleanly).
set -euo pipefail
build=${NETDRA_BUILD_DIR:?}
src=${NETDRA_SOURCE_DIR:?}
py=/usr/bin/python3
work=$(mktemp -d)
chmod 755 "$work"
pids=()
plugin_pid=
cleanup() {
  [ -n "$plugin_pid" ] && kill "$plugin_pid" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  umount "$work/cdi" 2>/dev/null || true
  umount "$work/state" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
mkdir -p "$work/cdi" "$work/state"
mount -t tmpfs -o size=64k,mode=0755 tmpfs "$work/cdi" || { echo "FAIL: cannot mount a tmpfs"; exit 1; }
mount -t tmpfs -o size=256k,mode=0755 tmpfs "$work/state"

$py "$src/tests/apiserver/netdra_apiserver.py" --kubeconfig "$work/kc" --ready-file "$work/ready" >"$work/api.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -f "$work/ready" ] && break; sleep 0.05; done
cat >"$work/objs.yaml" <<EOF
apiVersion: v1
kind: Node
metadata: {name: n1}
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
      attributes: {type: {string: camera}, endpoint: {string: "rtsp://127.0.0.1/x"}}
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: c0, namespace: default}
spec:
  devices:
    requests: [{name: cam, exactly: {deviceClassName: camera.netdra.dev}}]
EOF
$py "$src/tests/apiserver/kubectl_lite.py" --kubeconfig "$work/kc" apply -f "$work/objs.yaml" \
  -f "$src/deploy/manifests/deviceclasses.yaml" >/dev/null
uid=$($py "$src/tests/tools/standin_allocator.py" --kubeconfig "$work/kc" --node n1 --claim default/c0 -q |
  $py -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])["uid"])')
sock="$work/plugins/dra.sock"
start_plugin() {
  rm -f "$sock"
  "$build/node-plugin/netdra-node-plugin" --node-name n1 --kubeconfig "$work/kc" --plugin-dir "$work/plugins" \
    --registry-dir "$work/registry" --cdi-dir "$work/cdi" --state-dir "$work/state" --local-gpus=false \
    --metrics-address "" >>"$work/plugin.log" 2>&1 &
  plugin_pid=$!
  for _ in $(seq 300); do [ -S "$sock" ] && return 0; sleep 0.01; done
  echo "FAIL: the plugin did not start"; tail "$work/plugin.log"; exit 1
}
ctl="$build/controller/netdractl"
fill() { dd if=/dev/zero of="$1/filler" bs=1k count=1024 >/dev/null 2>&1 || true; } # until ENOSPC
start_plugin

for dir in cdi state; do
  fill "$work/$dir"
  out=$("$ctl" prepare --socket "$sock" --claim "default/c0/$uid" 2>&1) && bad "prepare succeeded with $dir full" ||
    { grep -qi "no space" <<<"$out" && ok "$dir full: prepare fails with a clear error: $(grep -io '[^:]*no space[^"]*' <<<"$out" | head -1)" ||
      bad "$dir full: unclear error: $out"; }
  kill -0 "$plugin_pid" 2>/dev/null && ok "$dir full: the plugin stays up" || bad "$dir full: the plugin died"
  left=$(find "$work/$dir" -name '*.tmp*' -o -name '.*' -type f | grep -v filler || true)
  [ -z "$left" ] && ok "$dir full: no temporary file left behind" || bad "$dir full: left behind: $left"
  [ -z "$(ls "$work/cdi" | grep -v filler)" ] && ok "$dir full: no CDI spec for a failed prepare" || bad "$dir full: a CDI spec remains"
  rm -f "$work/$dir/filler"
  out=$("$ctl" prepare --socket "$sock" --claim "default/c0/$uid" 2>&1) && ok "space back: prepare succeeds" ||
    bad "space back: prepare still fails: $out"
  "$ctl" unprepare --socket "$sock" --claim "default/c0/$uid" >/dev/null 2>&1 && ok "space back: unprepare succeeds" ||
    bad "unprepare failed"
done
kill "$plugin_pid"
wait "$plugin_pid" 2>/dev/null || true
start_plugin
"$ctl" prepare --socket "$sock" --claim "default/c0/$uid" >/dev/null 2>&1 &&
  "$ctl" unprepare --socket "$sock" --claim "default/c0/$uid" >/dev/null 2>&1 &&
  ok "after a restart the checkpoint is readable and prepare/unprepare work" || bad "after the restart: $(tail -3 "$work/plugin.log")"
echo "disk full: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
