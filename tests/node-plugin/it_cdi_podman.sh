#!/usr/bin/env bash
# it_cdi_podman.sh: a CDI spec from the node plugin's writer, in /var/run/cdi, is valid for our
# strict schema and is accepted by real podman (runc): the container sees the injected env and
# the device node. Controls: the checker rejects a bad spec, and podman refuses the device once
# the spec is removed. Fails (never skips) when podman cannot run.
set -euo pipefail
: "${NETDRA_BUILD_DIR:?}" "${NETDRA_SOURCE_DIR:?}"
PYTHON=${PYTHON:-/usr/bin/python3}
here="$NETDRA_SOURCE_DIR/tests/node-plugin"
tool="$NETDRA_BUILD_DIR/tests/node-plugin/cdi_spec_tool"
cdi_dir=/var/run/cdi
work=$(mktemp -d)
uid="it-cdi-podman-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
cleanup() {
  "$tool" remove "$cdi_dir" netdra.dev "$uid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v podman >/dev/null || fail "podman is not installed"
[ -x "$tool" ] || fail "missing $tool"

# busybox root file system
rootfs="$work/rootfs"
mkdir -p "$rootfs/bin" "$rootfs/dev" "$rootfs/proc" "$rootfs/sys" "$rootfs/etc" "$rootfs/tmp"
cp /usr/bin/busybox "$rootfs/bin/busybox"
for c in sh env ls cat; do ln -s busybox "$rootfs/bin/$c"; done

cat >"$work/devices.json" <<JSON
[{"request": "cam", "device": "cam-0",
  "edits": {"env": ["NETDRA_CAMERA_URL=rtsp://192.0.2.10/stream1", "NETDRA_DEVICE_CAM_CAM_0=pool-a/cam-0"],
            "deviceNodes": [{"path": "/dev/cam0", "hostPath": "/dev/null"}]}},
 {"request": "acc", "device": "acc-0", "edits": {"env": ["NETDRA_ACCEL_ENDPOINT=http://192.0.2.20:9000"]}}]
JSON
mapfile -t ids < <("$tool" write "$cdi_dir" netdra.dev "$uid" <"$work/devices.json")
[ "${#ids[@]}" -eq 2 ] || fail "expected 2 CDI ids, got ${ids[*]:-none}"
spec="$cdi_dir/netdra.dev-claim_$uid.json"
[ -f "$spec" ] || fail "spec $spec not written"
"$PYTHON" "$here/check_cdi.py" "$spec" || fail "spec does not validate"
grep -q '"cdiVersion": "0.5.0"' "$spec" || fail "hostPath needs cdiVersion 0.5.0: $(cat "$spec")"

# control: the checker finds faults
echo '{"cdiVersion":"0.6.0","kind":"netdra.dev/claim","devices":[{"name":"-x","containerEdits":{"env":["NOEQ"]}}]}' >"$work/bad.json"
chmod 0644 "$work/bad.json"
if "$PYTHON" "$here/check_cdi.py" "$work/bad.json" >"$work/bad.out"; then
  fail "checker accepted a bad spec"
fi
grep -q "name" "$work/bad.out" || fail "checker output lacks the name fault: $(cat "$work/bad.out")"

run_podman() {
  timeout 120 podman --cgroup-manager=cgroupfs --runtime runc run --rm --network=none \
    --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 "$@" --rootfs "$rootfs" \
    /bin/sh -c 'env; ls -l /dev/cam0 2>&1 || true'
}
out=$(run_podman --device "${ids[0]}" --device "${ids[1]}" 2>&1) || fail "podman failed: $out"
echo "$out" | grep -qx 'NETDRA_CAMERA_URL=rtsp://192.0.2.10/stream1' || fail "camera env missing: $out"
echo "$out" | grep -qx 'NETDRA_ACCEL_ENDPOINT=http://192.0.2.20:9000' || fail "accelerator env missing: $out"
echo "$out" | grep -q '^c.* /dev/cam0$' || fail "device node /dev/cam0 missing: $out"

# control: without the spec podman cannot resolve the device
"$tool" remove "$cdi_dir" netdra.dev "$uid"
[ ! -e "$spec" ] || fail "spec not removed"
if run_podman --device "${ids[0]}" >"$work/neg.out" 2>&1; then
  fail "podman resolved a CDI device whose spec is gone: $(cat "$work/neg.out")"
fi
echo "it_cdi_podman: ok"
