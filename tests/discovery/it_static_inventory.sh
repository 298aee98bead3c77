#!/usr/bin/env bash
# Static inventory: files in a directory become devices; edits are picked up (inotify); a
# broken file is rejected with file:line and its last good devices stay; a deleted file's
# devices go.
set -euo pipefail
build=${NETDRA_BUILD_DIR:?}
py=/usr/bin/python3
work=$(mktemp -d)
probe_pid=
trap '[ -n "$probe_pid" ] && kill -9 $probe_pid 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; tail -3 "$work/probe.out" | cut -c1-400; tail -10 "$work/probe.err"; exit 1; }
inv="$work/inventory"
mkdir -p "$inv"
cat >"$inv/fabric-a.yaml" <<'YAML'
pool: fabric-a
devices:
  - id: region-1
    type: cxl-memory
    capacities: {memory: 64Gi}
    attach: {endpoint: "http://127.0.0.1:9/fm", fabricRegion: region-1}
  - id: region-2
    type: cxl-memory
    capacities: {memory: 128Gi}
YAML
cat >"$inv/cams.yaml" <<'YAML'
pool: lab
devices:
  - id: cam-1
    type: camera
    attributes: {fps: 25}
YAML
echo "not yaml: [" >"$inv/ignored.txt"
"$build/tests/discovery/discovery_probe" --inventory "$inv" --timeout 60 >"$work/probe.out" 2>"$work/probe.err" &
probe_pid=$!
wait_for() {
  local what=$1 pred=$2 start=$SECONDS
  while ((SECONDS - start < 10)); do
    if "$py" - "$work/probe.out" "$pred" <<'PY'; then echo "ok   $what"; return 0; fi
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith('{"changes"')]
devs = json.loads(lines[-1])["devices"] if lines else []
d = {(x["pool"], x["id"]): x for x in devs}
n = len(devs)
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
    sleep 0.1
  done
  fail "$what"
}
wait_for "two files, three devices" 'n==3 and d[("fabric-a","region-2")]["capacities"]["memory"]=="128Gi" and d[("lab","cam-1")]["attributes"]["fps"]=={"int":25} and d[("fabric-a","region-1")]["source"]=="static"'
cat >>"$inv/cams.yaml" <<'YAML'
  - id: cam-2
    type: camera
YAML
wait_for "an added entry appears" 'n==4 and ("lab","cam-2") in d'
cat >"$inv/cams.yaml.tmp" <<'YAML'
pool: lab
devices:
  - id: cam-1
    type: camera
  - id: cam-3
    type: toaster
YAML
mv "$inv/cams.yaml.tmp" "$inv/cams.yaml"
for _ in $(seq 50); do grep -q 'inventory-rejected.*cams.yaml:5:.*toaster' "$work/probe.err" && break; sleep 0.1; done
grep -q 'inventory-rejected.*cams.yaml:5:.*toaster' "$work/probe.err" || fail "broken file not rejected with file:line"
echo "ok   broken file rejected with file:line and the reason"
wait_for "the broken file's last good devices stay" 'n==4 and ("lab","cam-2") in d and d[("lab","cam-1")]["attributes"]["fps"]=={"int":25}'
rm "$inv/fabric-a.yaml"
wait_for "a deleted file's devices go" 'n==2 and ("fabric-a","region-1") not in d'
echo "static inventory: all checks passed"
