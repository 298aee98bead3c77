#!/usr/bin/env bash
# The node plugin killed at exact points of a prepare, with strace's syscall fault injection
# (SIGKILL on entry to the Nth call: the call never runs), for a claim whose attaches leave
# nothing behind (a camera without credentials), which the plugin records only once, complete:
#   1. at its checkpoint write (the first pwrite64 of a run): the CDI spec is in place, no record
#      of the claim is on disk;
#   2. at the rename that puts the CDI spec in place: a temporary spec file is left.
# After each kill the plugin is restarted and must leave no spec and no temporary file for the
# claim it does not hold; then prepare and unprepare must succeed. A claim with a device that can
# leave something behind (CXL memory at a fabric manager) is recorded before its attach: killed at
# that first write, nothing is attached and nothing is left (3.). Loopback only.
source "$(dirname "$0")/plugin_rig.sh"
plugin_start_checks=500 # strace slows the start
pass=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
fabric_objects "$work/objs.yaml"
cat >>"$work/objs.yaml" <<EOF
---
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata: {name: lab}
spec:
  driver: netdra.dev
  pool: {name: lab, generation: 0, resourceSliceCount: 1}
  allNodes: true
  devices:
    - name: cam-0
      attributes:
        type: {string: camera}
        endpoint: {string: "rtsp://127.0.0.1:8554/cam-0"}
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: cam, namespace: default}
spec:
  devices:
    requests: [{name: cam, exactly: {deviceClassName: camera.netdra.dev}}]
EOF
apply_objects "$work/objs.yaml"
cam_uid=$(allocate cam)
mem_uid=$(allocate mem)
cdi="$work/cdi"

stop_plugin() {
  kill "$plugin_pid" 2>/dev/null || true
  wait "$plugin_pid" 2>/dev/null || true
  plugin_pid=
}
start_plugin_killing_at() { # system call: the plugin, SIGKILLed on entry to its first such call
  start_plugin strace -f -o /dev/null -e trace="$1" -e inject="$1":signal=SIGKILL:when=1
}
prepare_killed() { # claim/uid: a prepare the injected SIGKILL ends; the plugin must be gone
  if "$ctl" prepare --socket "$sock" --claim "$1" >"$work/out" 2>&1; then die "prepare of $1 survived the kill"; fi
  wait "$plugin_pid" 2>/dev/null || true
  plugin_pid=
}
spec() { echo "$cdi/netdra.dev-claim_$1.json"; }
temps() { find "$cdi" -maxdepth 1 -name '.netdra.dev-claim_*' 2>/dev/null | wc -l; }
prepare_unprepare() { # claim/uid, uid
  "$ctl" prepare --socket "$sock" --claim "$1" >"$work/out" 2>&1 || die "prepare of $1: $(cat "$work/out")"
  [ -f "$(spec "$2")" ] || die "prepare of $1 wrote no CDI spec"
  "$ctl" unprepare --socket "$sock" --claim "$1" >"$work/out" 2>&1 || die "unprepare of $1: $(cat "$work/out")"
  [ ! -e "$(spec "$2")" ] || die "unprepare of $1 left its CDI spec"
}

# a first start makes the checkpoint file, so that the first pwrite64 of a later run is a
# claim's record
start_plugin
stop_plugin

# 1. killed at the camera claim's only checkpoint write: its spec is in place, unrecorded
start_plugin_killing_at pwrite64
prepare_killed "default/cam/$cam_uid"
[ -f "$(spec "$cam_uid")" ] || die "the kill did not land between the CDI spec and the checkpoint write"
ok "killed at the checkpoint write: the CDI spec is there, unrecorded"
start_plugin
[ ! -e "$(spec "$cam_uid")" ] || die "the restarted plugin kept the CDI spec of a claim it does not hold"
grep -q cdi-stale-specs-removed "$work/plugin.log" || die "no log line for the removed spec"
ok "restart: the unrecorded CDI spec is removed (and logged)"
prepare_unprepare "default/cam/$cam_uid" "$cam_uid"
ok "restart: prepare and unprepare of the claim succeed"
stop_plugin

# 2. killed at the rename of the camera claim's CDI spec: a temporary file is left
start_plugin_killing_at rename
prepare_killed "default/cam/$cam_uid"
[ "$(temps)" -ge 1 ] || die "the kill at the rename left no temporary spec file"
[ ! -e "$(spec "$cam_uid")" ] || die "a CDI spec in place although its rename never ran"
ok "killed at the spec's rename: a temporary file is left"
start_plugin
[ "$(temps)" -eq 0 ] || die "the restarted plugin kept $(temps) temporary spec files"
ok "restart: the temporary spec file is removed"
prepare_unprepare "default/cam/$cam_uid" "$cam_uid"
ok "restart: prepare and unprepare of the claim succeed"
stop_plugin

# 3. a CXL claim is recorded before its attach: killed at that write, nothing was attached
start_plugin_killing_at pwrite64
prepare_killed "default/mem/$mem_uid"
[ "$(attachments "$mem_uid")" -eq 0 ] || die "an attachment although the kill came before the first attach"
[ ! -e "$(spec "$mem_uid")" ] || die "a CDI spec before any attach"
ok "killed at the CXL claim's first write: nothing attached, no spec"
start_plugin
prepare_unprepare "default/mem/$mem_uid" "$mem_uid"
[ "$(attachments "$mem_uid")" -eq 0 ] || die "an attachment left after unprepare"
ok "restart: prepare and unprepare of the CXL claim succeed, no attachment left"
stop_plugin
echo "kill at write: $pass passed, 0 failed"
