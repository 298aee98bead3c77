# plugin_rig.sh: sourced by the node plugin's kill tests (it_kill_prepare.sh, it_kill_at_write.sh).
# A work directory removed at exit with every process started here; the stand-in API server
# (kubeconfig $work/kc) and a simulated fabric manager holding one 64 GiB region, r0, at $fm, with
# fabric_objects writing a slice of it and a claim for it; objects applied with the device classes, claims allocated to node n1; the node plugin (node
# n1, local GPUs off) started and waited for, optionally under a prefix command (strace); the
# attachments the fabric manager holds for a claim. Loopback only.
set -euo pipefail
build=${NETDRA_BUILD_DIR:?}
src=${NETDRA_SOURCE_DIR:?}
py=/usr/bin/python3
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
ctl="$build/controller/netdractl"
sock="$work/plugins/dra.sock"
plugin_start_checks=300 # 10 ms apart

$py "$src/tests/apiserver/netdra_apiserver.py" --kubeconfig "$work/kc" --ready-file "$work/api.ready" >"$work/api.log" 2>&1 &
pids+=($!)
mkdir -p "$work/root/dev"
$py "$src/tests/peers/fabric_manager.py" --dev-root "$work/root" --region r0:0:64Gi \
  --ready-file "$work/fm.ready" >"$work/fm.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -f "$work/api.ready" ] && [ -f "$work/fm.ready" ] && break; sleep 0.05; done
[ -f "$work/api.ready" ] && [ -f "$work/fm.ready" ] || die "the stand-in or the fabric manager did not start"
fm=$(cat "$work/fm.ready")

fabric_objects() { # YAML file: node n1, pool "fabric" with region-0 (r0 at $fm), claim default/mem
  cat >"$1" <<EOF
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
}
apply_objects() { # YAML file
  $py "$src/tests/apiserver/kubectl_lite.py" --kubeconfig "$work/kc" apply -f "$1" \
    -f "$src/deploy/manifests/deviceclasses.yaml" >/dev/null || die "applying objects"
}
allocate() { # claim name in namespace default -> its UID
  $py "$src/tests/tools/standin_allocator.py" --kubeconfig "$work/kc" --node n1 --claim "default/$1" -q |
    $py -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])["uid"])'
}
start_plugin() { # [prefix command and its arguments]
  rm -f "$sock" # a killed plugin's stale socket; the new one appears when it listens
  "$@" "$build/node-plugin/netdra-node-plugin" --node-name n1 --kubeconfig "$work/kc" \
    --plugin-dir "$work/plugins" --registry-dir "$work/registry" --cdi-dir "$work/cdi" --state-dir "$work/state" \
    --dev-root "$work/root" --local-gpus=false --metrics-address "" --log-level warn >>"$work/plugin.log" 2>&1 &
  plugin_pid=$!
  for _ in $(seq "$plugin_start_checks"); do [ -S "$sock" ] && return 0; sleep 0.01; done
  die "the plugin did not come up"
}
attachments() { # claim UID: one "region" key per attachment (no interpreter start per check)
  local body
  body=$(curl -sf "$fm/v1/attachments?claim=$1") || die "the fabric manager did not answer"
  grep -o '"region"' <<<"$body" | wc -l
}
