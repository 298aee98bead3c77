#!/usr/bin/env bash
# mDNS end to end against a real DNS-SD responder (python3-zeroconf) in network namespaces
# this test creates: a device host and a controller host joined by a veth pair. Nothing runs
# on the machine's own interfaces. Checks: resolve with TXT -> registry; goodbye -> removed;
# a broken TXT record is rejected while the others stay; SIGKILLed responder -> TTL expiry.
set -euo pipefail
build=${NETDRA_BUILD_DIR:?}
src=${NETDRA_SOURCE_DIR:?}
py=${PYTHON:-/usr/bin/python3}
probe="$build/tests/discovery/discovery_probe"
id=$$
nsa="nd-mdns-a-$id" nsb="nd-mdns-b-$id"
net="10.213.$((id % 250))"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$nsa" 2>/dev/null || true
  ip netns del "$nsb" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- probe output"; tail -5 "$work/probe.out" || true; echo "--- probe log"; tail -20 "$work/probe.err" || true; exit 1; }

ip netns add "$nsa"
ip netns add "$nsb"
ip link add "nda$id" netns "$nsa" type veth peer name "ndb$id" netns "$nsb"
ip -n "$nsa" addr add "$net.1/24" dev "nda$id"
ip -n "$nsb" addr add "$net.2/24" dev "ndb$id"
for ns in "$nsa" "$nsb"; do ip -n "$ns" link set lo up; done
ip -n "$nsa" link set "nda$id" up multicast on
ip -n "$nsb" link set "ndb$id" up multicast on
ip -n "$nsa" route add 224.0.0.0/4 dev "nda$id"
ip -n "$nsb" route add 224.0.0.0/4 dev "ndb$id"

ip netns exec "$nsb" "$probe" --interface "ndb$id" --timeout 90 >"$work/probe.out" 2>"$work/probe.err" &
pids+=($!)
mkfifo "$work/cmd"
ip netns exec "$nsa" "$py" "$src/tests/mdns/announce.py" "$net.1" <"$work/cmd" >"$work/announce.out" 2>&1 &
announcer=$!
pids+=($announcer)
exec 7>"$work/cmd"

wait_for() { # description, python predicate over the last registry line (variable d), timeout s
  local what=$1 pred=$2 limit=$3 start=$SECONDS
  while ((SECONDS - start < limit)); do
    if "$py" - "$work/probe.out" "$pred" <<'PY'; then echo "ok   $what ($((SECONDS - start)) s)"; return 0; fi
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith('{"changes"')]
d = {x["id"]: x for x in json.loads(lines[-1])["devices"]} if lines else {}
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
    sleep 0.2
  done
  fail "$what (waited $limit s)"
}

echo "register _netdra._tcp acc0 8443 120 type=accelerator vendor=acme model=X1 a.cores=64 c.memory=80Gi path=/ctl" >&7
echo "register _rtsp._tcp cam0 554 120 model=M3045" >&7
echo "register _netdra._tcp broken 9 120 vendor=nobody" >&7
wait_for "accelerator resolved with TXT" \
  'd.get("acc0",{}).get("type")=="accelerator" and d["acc0"]["attributes"]["cores"]=={"int":64} and d["acc0"]["capacities"]["memory"]=="80Gi" and d["acc0"]["endpoint"]=="http://'"$net"'.1:8443/ctl"' 20
wait_for "rtsp camera resolved" 'd.get("cam0",{}).get("type")=="camera" and d["cam0"]["endpoint"]=="rtsp://'"$net"'.1:554"' 20
for _ in $(seq 100); do grep -q 'service-rejected.*broken.*type is required' "$work/probe.err" && break; sleep 0.1; done
grep -q 'service-rejected.*broken.*type is required' "$work/probe.err" || fail "broken TXT not rejected with a reason"
echo "ok   broken TXT rejected with a reason, others kept"
[ "$("$py" -c 'import json,sys; l=[x for x in open(sys.argv[1]) if x.startswith("{\"changes\"")]; print(len(json.loads(l[-1])["devices"]))' "$work/probe.out")" = 2 ] || fail "expected exactly 2 devices"

echo "unregister cam0" >&7
wait_for "goodbye removes the camera" '"cam0" not in d and "acc0" in d' 15

echo "register _rtsp._tcp cam1 554 4 model=short-ttl" >&7
wait_for "short-TTL camera resolved" '"cam1" in d' 20
kill -9 "$announcer"
wait_for "TTL expiry removes devices of a dead responder" '"cam1" not in d' 30
echo "mdns netns: all checks passed"
