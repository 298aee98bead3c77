#!/usr/bin/env bash
# The node plugin killed with SIGKILL at random points of NodePrepareResources, 200 times (bounded
# by time too), for a CXL memory claim whose attach goes to the simulated fabric manager. After
# every kill the plugin is restarted; then: prepare must succeed, the fabric manager must hold
# exactly one attachment for the claim (never a doubled one), unprepare must succeed and leave
# none (no leaked one). Loopback only.
iterations=${NETDRA_KILL_ITERATIONS:-200}
budget_s=${NETDRA_KILL_SECONDS:-360} # the ASan build on 2 busy cores needs ~1.3 s an iteration
source "$(dirname "$0")/plugin_rig.sh"
fabric_objects "$work/objs.yaml"
apply_objects "$work/objs.yaml"
uid=$(allocate mem)
# every attach takes 30 ms at the fabric manager, so kills land in the middle of attaches
curl -s -X POST "$fm/_test/faults" -d '{"method":"POST","path":"^/v1/attachments$","status":0,"count":-1,"delay_ms":30}' >/dev/null
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
  [ "$(attachments "$uid")" -le 1 ] || die "iteration $done_n: a doubled attachment after the kill"
  start_plugin
  out=$("$ctl" prepare --socket "$sock" --claim "default/mem/$uid" 2>&1) || die "iteration $done_n: prepare after restart: $out"
  [ "$(attachments "$uid")" -eq 1 ] || die "iteration $done_n: $(attachments "$uid") attachments after prepare (want 1)"
  "$ctl" unprepare --socket "$sock" --claim "default/mem/$uid" >/dev/null 2>&1 || die "iteration $done_n: unprepare"
  [ "$(attachments "$uid")" -eq 0 ] || die "iteration $done_n: an attachment leaked after unprepare"
  kill -9 "$plugin_pid"
  wait "$plugin_pid" 2>/dev/null || true
  plugin_pid=
  done_n=$((done_n + 1))
done
echo "kills: $done_n iterations in $((SECONDS - start)) s, $mid_prepare of them with a prepare in flight"
[ "$done_n" -ge "$iterations" ] || die "only $done_n of $iterations iterations within ${budget_s}s"
echo "kill during prepare: $done_n passed, 0 failed"
