#!/usr/bin/env bash
# Disk full: the node plugin's CDI directory and then its state directory are small tmpfs mounts
# filled to the brim. CDI directory full: prepare must fail with a clear "no space" error. State
# directory full: the checkpoint is preallocated (two slots written in place), so prepares go on
# succeeding until the claims outgrow a slot; the prepare that must grow the file fails with a
# clear "no space" error. Either way no temporary or half-written file is left behind, no CDI
# spec for the failed claim, the plugin stays up, and prepare succeeds once space is back; the
# checkpoint must stay readable across it (the plugin is restarted at the end and unprepares
# cleanly).
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
EOF
# claims c0..c(ncl-1), one camera each: enough of them to outgrow the checkpoint's first slots
ncl=16
for i in $(seq 0 $((ncl - 1))); do
  echo "    - {name: cam-$i, attributes: {type: {string: camera}, endpoint: {string: \"rtsp://127.0.0.1/$i\"}}}"
done >>"$work/objs.yaml"
for i in $(seq 0 $((ncl - 1))); do
  printf -- '---\napiVersion: resource.k8s.io/v1\nkind: ResourceClaim\nmetadata: {name: c%d, namespace: default}\n' "$i"
  printf 'spec:\n  devices:\n    requests: [{name: cam, exactly: {deviceClassName: camera.netdra.dev}}]\n'
done >>"$work/objs.yaml"
$py "$src/tests/apiserver/kubectl_lite.py" --kubeconfig "$work/kc" apply -f "$work/objs.yaml" \
  -f "$src/deploy/manifests/deviceclasses.yaml" >/dev/null
uids=()
for i in $(seq 0 $((ncl - 1))); do
  uids+=("$($py "$src/tests/tools/standin_allocator.py" --kubeconfig "$work/kc" --node n1 --claim "default/c$i" -q |
    $py -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])["uid"])')")
done
uid=${uids[0]}
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

prepare() { "$ctl" prepare --socket "$sock" --claim "default/c$1/${uids[$1]}" 2>&1; }
unprepare() { "$ctl" unprepare --socket "$sock" --claim "default/c$1/${uids[$1]}" >/dev/null 2>&1; }
# after a failed prepare of claim $2 with directory $1 full (output $3): error, plugin, files
check_failed() {
  local dir=$1 i=$2 out=$3
  grep -qi "no space" <<<"$out" && ok "$dir full: prepare fails with a clear error: $(grep -io '[^:]*no space[^"]*' <<<"$out" | head -1)" ||
    bad "$dir full: unclear error: $out"
  kill -0 "$plugin_pid" 2>/dev/null && ok "$dir full: the plugin stays up" || bad "$dir full: the plugin died"
  left=$(find "$work/$dir" -name '*.tmp*' -o -name '.*' -type f | grep -v filler || true)
  [ -z "$left" ] && ok "$dir full: no temporary file left behind" || bad "$dir full: left behind: $left"
  [ -z "$(ls "$work/cdi" | grep -- "${uids[$i]}")" ] && ok "$dir full: no CDI spec for the failed prepare" ||
    bad "$dir full: a CDI spec remains"
}

# CDI directory full: the first prepare fails
fill "$work/cdi"
out=$(prepare 0) && bad "prepare succeeded with cdi full" || check_failed cdi 0 "$out"
rm -f "$work/cdi/filler"
out=$(prepare 0) && ok "space back: prepare succeeds" || bad "space back: prepare still fails: $out"
unprepare 0 && ok "space back: unprepare succeeds" || bad "unprepare failed"

# state directory full: prepares go on in the preallocated checkpoint until one must grow it
size0=$(stat -c %s "$work/state/checkpoint.json")
fill "$work/state"
failed=
for i in $(seq 0 $((ncl - 1))); do
  out=$(prepare "$i") || { failed=$i; break; }
done
if [ -z "$failed" ]; then
  bad "state full: $ncl prepares succeeded, the checkpoint never had to grow"
else
  [ "$failed" -gt 0 ] && ok "state full: $failed prepares succeed in the preallocated checkpoint" ||
    bad "state full: the first prepare failed: $out"
  grep -q "growing" <<<"$out" && ok "state full: the write that fails is the growth of the checkpoint" ||
    bad "state full: the failure is not the growth: $out"
  [ "$(stat -c %s "$work/state/checkpoint.json")" = "$size0" ] && ok "state full: the checkpoint file kept its size" ||
    bad "state full: the checkpoint changed size"
  check_failed state "$failed" "$out"
  rm -f "$work/state/filler"
  out=$(prepare "$failed") && ok "space back: prepare succeeds (the checkpoint grew)" ||
    bad "space back: prepare still fails: $out"
  [ "$(stat -c %s "$work/state/checkpoint.json")" -gt "$size0" ] && ok "space back: the checkpoint is larger" ||
    bad "space back: the checkpoint did not grow"
  n=0
  for i in $(seq 0 "$failed"); do unprepare "$i" && n=$((n + 1)); done
  [ "$n" -eq $((failed + 1)) ] && ok "space back: all $n claims unprepared" || bad "space back: only $n unprepared"
fi
kill "$plugin_pid"
wait "$plugin_pid" 2>/dev/null || true
start_plugin
"$ctl" prepare --socket "$sock" --claim "default/c0/$uid" >/dev/null 2>&1 &&
  "$ctl" unprepare --socket "$sock" --claim "default/c0/$uid" >/dev/null 2>&1 &&
  ok "after a restart the checkpoint is readable and prepare/unprepare work" || bad "after the restart: $(tail -3 "$work/plugin.log")"
echo "disk full: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
