#!/bin/bash
# it_backend_gpu_slice.sh: the node-local GPU ResourceSlice built from each fake root (NVIDIA,
# AMD, Intel) is accepted by the stand-in API server (its ResourceSlice validation) and reads
# back with the same devices.
set -euo pipefail
: "${NETDRA_SOURCE_DIR:?}" "${NETDRA_BUILD_DIR:?}"
PYTHON=${PYTHON:-/usr/bin/python3}
TOOL="$NETDRA_BUILD_DIR/tests/node-plugin/gpu_slice_tool"
APISERVER="$NETDRA_SOURCE_DIR/tests/apiserver/netdra_apiserver.py"
work=$(mktemp -d)
api_pid=
cleanup() {
  if [ -n "$api_pid" ]; then kill "$api_pid" 2>/dev/null || true; wait "$api_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

[ -f "$APISERVER" ] || fail "stand-in API server $APISERVER missing (branch apiserver)"
"$PYTHON" "$APISERVER" --listen 127.0.0.1:0 --kubeconfig "$work/kubeconfig" \
  --ready-file "$work/ready" --log "$work/api.log" &
api_pid=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; kill -0 "$api_pid" 2>/dev/null || fail "API server exited"; sleep 0.1; done
[ -s "$work/ready" ] || fail "API server not ready within 10 s"
base=$(head -n1 "$work/ready")

for vendor in nvidia amd intel; do
  root="$NETDRA_SOURCE_DIR/tests/node-plugin/fake-roots/$vendor"
  "$TOOL" "$root" netdra.dev "node-$vendor" 1 > "$work/$vendor.json"
  code=$(curl -sS -o "$work/$vendor.out" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' --data-binary @"$work/$vendor.json" \
    "$base/apis/resource.k8s.io/v1/resourceslices")
  [ "$code" = 201 ] || fail "$vendor slice rejected: HTTP $code: $(cat "$work/$vendor.out")"
  name="node-$vendor-netdra.dev-gpus"
  code=$(curl -sS -o "$work/$vendor.get" -w '%{http_code}' "$base/apis/resource.k8s.io/v1/resourceslices/$name")
  [ "$code" = 200 ] || fail "$vendor slice not readable: HTTP $code"
  "$PYTHON" - "$work/$vendor.json" "$work/$vendor.get" "$vendor" <<'PY' || fail "$vendor slice differs"
import json, sys
sent = json.load(open(sys.argv[1]))
got = json.load(open(sys.argv[2]))
assert got["spec"]["devices"] == sent["spec"]["devices"], "devices changed by the server"
assert got["spec"]["nodeName"] == "node-" + sys.argv[3]
assert got["spec"]["pool"] == {"name": "node-" + sys.argv[3], "generation": 1, "resourceSliceCount": 1}
assert len(sent["spec"]["devices"]) == 2
PY
  echo "ok: $vendor slice accepted with $(grep -c '"name": "gpu-' "$work/$vendor.json") GPUs"
done

# a slice the server must reject proves its validation is on: device name not a DNS label
sed 's/"gpu-0"/"GPU_0"/' "$work/nvidia.json" | sed 's/node-nvidia-netdra.dev-gpus/bad-slice/' > "$work/bad.json"
code=$(curl -sS -o "$work/bad.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data-binary @"$work/bad.json" "$base/apis/resource.k8s.io/v1/resourceslices")
[ "$code" = 422 ] || fail "invalid device name accepted: HTTP $code"
echo "ok: invalid slice rejected (422)"
