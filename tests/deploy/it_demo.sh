#!/usr/bin/env bash
# The README's first command, end to end: the demo must finish with exit 0 in under a minute of
# its own time, show discovery from MQTT, mDNS and the inventory, prepare the claim into a CDI
# spec, run the container that sees the camera and the GPU, and clean up after itself.
set -euo pipefail
src=${NETDRA_SOURCE_DIR:?}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$src/scripts/demo.sh" >"$out" 2>&1 || { cat "$out"; echo "FAIL: the demo exited non-zero"; exit 1; }
pass=0 fail=0
expect() { if grep -q -- "$2" "$out"; then pass=$((pass + 1)); echo "ok   $1"; else fail=$((fail + 1)); echo "FAIL $1 (no \"$2\")"; fi; }
expect "MQTT devices discovered" "site-a    lobby-cam-1"
expect "mDNS device discovered" "lan-mdns  parking-cam"
expect "inventory device discovered" "fabric-b  region-9"
expect "node-local GPU slice" "node demo-node"
expect "claim prepared into a CDI spec" '"kind": "netdra.dev/claim"'
expect "container sees the camera" "NETDRA_CAMERA_URL=rtsp://"
expect "container sees the GPU" "nvidia0"
expect "CDI spec removed at unprepare" "CDI spec removed"
secs=$(sed -n 's/.*Done in \([0-9]*\) s.*/\1/p' "$out")
[ -n "$secs" ] && [ "$secs" -lt 60 ] && { pass=$((pass + 1)); echo "ok   demo took $secs s"; } || { fail=$((fail + 1)); echo "FAIL demo time: $secs"; }
ip netns list | grep -q netdra-demo && { fail=$((fail + 1)); echo "FAIL namespaces left behind"; } || pass=$((pass + 1))
echo "demo: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
