#!/usr/bin/env bash
# The node plugin end to end, with real peers: the stand-in API server (TLS + token), the
# controller publishing a camera from a static inventory, the node plugin on a fake NVIDIA node
# root publishing its GPUs, python3-grpcio as kubelet (registration, v1 and v1beta1 prepare,
# health stream), the stand-in allocator, and podman running a container with the CDI devices.
# Checks: registration fields; camera + local GPU in one claim prepared into one CDI spec;
# credentials only in a 0600 file (never in the spec, slices or logs); idempotent prepare; a
# claim with a wrong uid fails alone; unprepare removes the spec; unknown claims unprepare fine.
set -euo pipefail
build=${NETDRA_BUILD_DIR:?}
src=${NETDRA_SOURCE_DIR:?}
py=/usr/bin/python3
kubelet="$py $src/tests/grpc/fake_kubelet.py"
kctl="$py $src/tests/apiserver/kubectl_lite.py"
work=$(mktemp -d)
chmod 755 "$work"
node=node-e2e-$$
api_pid= ctl_pid= plugin_pid= uid=
cdi_dir=/var/run/cdi
cleanup() {
  for p in $plugin_pid $ctl_pid $api_pid; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$uid" ] && rm -f "$cdi_dir"/netdra.dev-claim_"$uid"*.json
  rm -rf "$work"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
die() { bad "$*"; echo "--- plugin log"; tail -30 "$work/plugin.log"; echo "--- controller log"; tail -10 "$work/controller.log"; exit 1; }
command -v podman >/dev/null || die "podman is not installed"

secret_value="s3cr3t-$RANDOM$RANDOM"
$py "$src/tests/apiserver/netdra_apiserver.py" --tls --token "tok-$$" --kubeconfig "$work/kc" \
  --ready-file "$work/ready" --log "$work/api-access.log" >"$work/api.log" 2>&1 &
api_pid=$!
for _ in $(seq 100); do [ -f "$work/ready" ] && break; sleep 0.05; done
[ -f "$work/ready" ] || die "stand-in API server did not start"

cat >"$work/objects.yaml" <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $node
  labels: {topology.kubernetes.io/zone: zone-a}
---
apiVersion: v1
kind: Secret
metadata: {name: cam-creds, namespace: default}
data:
  username: $(printf admin | base64)
  password: $(printf '%s' "$secret_value" | base64)
EOF
$kctl --kubeconfig "$work/kc" apply -f "$work/objects.yaml" -f "$src/deploy/manifests/deviceclasses.yaml" >/dev/null ||
  die "applying objects"

cat >"$work/inventory.yaml" <<'EOF'
pool: site-a
devices:
  - id: lobby-cam
    type: camera
    vendor: axis
    model: M3045
    attributes: {fps: 30}
    reachability:
      nodeSelector: [{key: topology.kubernetes.io/zone, operator: In, values: [zone-a]}]
    attach:
      endpoint: rtsp://127.0.0.1:8554/lobby
      secretRef: {namespace: default, name: cam-creds}
EOF
"$build/controller/netdra-controller" --kubeconfig "$work/kc" --leader-election=false \
  --metrics-address "" --startup-delay 100ms --inventory "$work/inventory.yaml" >"$work/controller.log" 2>&1 &
ctl_pid=$!

# the fake NVIDIA node: its /dev entries become real character devices (the null device's
# numbers, so the container gets harmless nodes), and without the vendor CDI spec so that our
# own device nodes are injected (the vendor-id path has its own test)
cp -a "$src/tests/node-plugin/fake-roots/nvidia" "$work/gpu-root"
rm -rf "$work/gpu-root/etc/cdi"
for f in "$work"/gpu-root/dev/nvidia*; do rm -f "$f" && mknod "$f" c 1 3; done
mkdir -p "$work/plugins" "$work/registry" "$work/state"
metrics_port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/node-plugin/netdra-node-plugin" --node-name "$node" --kubeconfig "$work/kc" \
  --plugin-dir "$work/plugins/netdra.dev" --registry-dir "$work/registry" --cdi-dir "$cdi_dir" \
  --state-dir "$work/state" --dev-root "$work/gpu-root" --local-gpus \
  --metrics-address "127.0.0.1:$metrics_port" >"$work/plugin.log" 2>&1 &
plugin_pid=$!
reg_sock= dra_sock="$work/plugins/netdra.dev/dra.sock"
for _ in $(seq 100); do
  reg_sock=$(ls "$work"/registry/*.sock 2>/dev/null | head -1 || true)
  [ -n "$reg_sock" ] && [ -S "$dra_sock" ] && break
  sleep 0.1
done
[ -n "$reg_sock" ] || die "no registration socket"
ok "sockets: $(basename "$reg_sock"), dra.sock (mode $(stat -c %a "$dra_sock"))"
[ "$(stat -c %a "$reg_sock")" = 600 ] && [ "$(stat -c %a "$dra_sock")" = 660 ] && ok "socket modes are tight" ||
  bad "socket modes $(stat -c %a "$reg_sock") $(stat -c %a "$dra_sock")"

out=$($kubelet register --socket "$reg_sock") && ok "registration: $out" || bad "registration: $out"
grep -q '"endpoint": "'"$dra_sock"'"' <<<"$out" || bad "registration endpoint is not the DRA socket"

# wait for both slices: the network camera (controller) and the node's GPUs (node plugin)
for _ in $(seq 100); do
  slices=$($kctl --kubeconfig "$work/kc" get /apis/resource.k8s.io/v1/resourceslices)
  grep -q lobby-cam <<<"$slices" && grep -q '"nodeName": "'"$node"'"' <<<"$slices" && break
  sleep 0.1
done
grep -q lobby-cam <<<"$slices" && ok "camera published by the controller" || die "no camera slice"
grep -q '"nodeName": "'"$node"'"' <<<"$slices" && ok "local GPUs published by the node plugin" || die "no GPU slice"
grep -q "$secret_value" <<<"$slices" && bad "the secret appears in a slice" || ok "no credential in any slice"

# a claim for a camera and a local GPU, allocated by the stand-in allocator for this node
sed -e 's/name: camera-and-gpu$/name: e2e/' "$src/deploy/examples/claims/camera-and-gpu.yaml" |
  $py -c 'import sys,yaml; docs=[d for d in yaml.safe_load_all(sys.stdin) if d and d["kind"]=="ResourceClaim"]; print(yaml.safe_dump(docs[0]))' >"$work/claim.yaml"
$kctl --kubeconfig "$work/kc" apply -f "$work/claim.yaml" >/dev/null || die "applying the claim"
alloc=$($py "$src/tests/tools/standin_allocator.py" --kubeconfig "$work/kc" --node "$node" \
  --node-labels topology.kubernetes.io/zone=zone-a --claim default/e2e -q) || die "allocation failed: $alloc"
uid=$($py -c 'import json,sys; print(json.loads(sys.argv[1])["uid"])' "$alloc")
ok "allocated claim default/e2e ($uid)"

prep=$($kubelet prepare --socket "$dra_sock" --claim "default/e2e/$uid" --claim "default/ghost/e2e-$$-ghost") ||
  die "prepare failed: $prep"
mapfile -t ids < <($py -c 'import json,sys; [print(i) for d in json.loads(sys.argv[1])[sys.argv[2]]["devices"] for i in d["cdi_device_ids"]]' "$prep" "$uid")
[ "${#ids[@]}" -eq 2 ] && ok "prepare: camera + GPU -> ${ids[*]}" || bad "prepare: $prep"
$py -c 'import json,sys; r=json.loads(sys.argv[1]); assert r[sys.argv[2]]["error"], r' "$prep" "e2e-$$-ghost" &&
  ok "a claim that does not exist fails alone, with: $($py -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]]["error"])' "$prep" "e2e-$$-ghost")" ||
  bad "the missing claim did not fail on its own"
spec=$(ls "$cdi_dir"/netdra.dev-claim_*"$uid"*.json 2>/dev/null | head -1)
[ -n "$spec" ] && ok "CDI spec $(basename "$spec")" || die "no CDI spec for $uid in $cdi_dir"
$py "$src/tests/node-plugin/check_cdi.py" "$spec" >/dev/null && ok "CDI spec is valid" || bad "CDI spec invalid"
grep -q "$secret_value" "$spec" && bad "the secret is in the CDI spec" || ok "no credential in the CDI spec"
cred=$(find "$work/state" -type f -name '*cred*' | head -1)
[ -n "$cred" ] && [ "$(stat -c %a "$cred")" = 600 ] && grep -q "$secret_value" "$cred" &&
  ok "credentials in a 0600 file ($(basename "$cred"))" || bad "credentials file missing or too open: $cred"

again=$($kubelet prepare --socket "$dra_sock" --claim "default/e2e/$uid")
[ "$($py -c 'import json,sys; print(sorted(i for d in json.loads(sys.argv[1])[sys.argv[2]]["devices"] for i in d["cdi_device_ids"]))' "$again" "$uid")" = \
  "$($py -c 'import sys; print(sorted(sys.argv[1:]))' "${ids[@]}")" ] && ok "prepare again is idempotent" || bad "second prepare differs: $again"
beta=$($kubelet prepare --api v1beta1 --socket "$dra_sock" --claim "default/e2e/$uid")
grep -q "${ids[0]}" <<<"$beta" && ok "v1beta1 prepare answers the same" || bad "v1beta1: $beta"
ctlout=$("$build/controller/netdractl" prepare --socket "$dra_sock" --claim "default/e2e/$uid" --api v1beta1 2>&1) &&
  grep -q "${ids[0]}" <<<"$ctlout" && ok "netdractl prepare shows the devices: $(tail -1 <<<"$ctlout")" || bad "netdractl prepare: $ctlout"
wrong=$($kubelet prepare --socket "$dra_sock" --claim "default/e2e/00000000-dead-beef-0000-000000000000")
grep -q -i 'uid' <<<"$wrong" && ok "uid mismatch is a per-claim error" || bad "uid mismatch: $wrong"

root=$(mktemp -d "$work/rootfs.XXXX")
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/etc"
cp /bin/busybox "$root/bin/" && ln -s busybox "$root/bin/sh" && ln -s busybox "$root/bin/env"
ctr=$(timeout 120 podman --cgroup-manager=cgroupfs --runtime runc run --rm --network=none \
  --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 --device "${ids[0]}" --device "${ids[1]}" \
  --rootfs "$root" /bin/sh -c 'env; ls /dev; cat /var/run/netdra/camera/credentials 2>&1 | head -c 200' 2>&1) ||
  die "podman: $ctr"
grep -q 'NETDRA_CAMERA_URL=rtsp://127.0.0.1:8554/lobby' <<<"$ctr" && ok "container sees the camera URL" || bad "container env: $ctr"
grep -q "$secret_value" <<<"$ctr" && ok "container reads the mounted credentials" || bad "credentials not mounted: $ctr"
grep -q 'nvidia0\|nvidiactl' <<<"$ctr" && ok "container has the GPU device nodes" || bad "no GPU node in the container: $ctr"

metrics=$(curl -s "http://127.0.0.1:$metrics_port/metrics")
grep -q '^netdra_node_prepares_total [1-9]' <<<"$metrics" && ok "/metrics counts prepares" || bad "/metrics: ${metrics:0:300}"
[ "$(curl -s "http://127.0.0.1:$metrics_port/healthz")" = ok ] && ok "/healthz answers (the DaemonSet's liveness probe)" || bad "/healthz"
grep -q "$secret_value" <<<"$metrics" && bad "the secret appears in /metrics" || ok "no credential in /metrics"
health=$($kubelet watch-health --socket "$dra_sock" --count 1 --api v1alpha1) && ok "health stream: ${health:0:120}" || bad "health: $health"

un=$($kubelet unprepare --socket "$dra_sock" --claim "default/e2e/$uid" --claim "default/never/e2e-$$-never")
$py -c 'import json,sys; r=json.loads(sys.argv[1]); assert all(not v["error"] for v in r.values()), r' "$un" &&
  ok "unprepare (and of a never-prepared claim) succeeds" || bad "unprepare: $un"
[ ! -e "$spec" ] && ok "unprepare removed the CDI spec" || bad "CDI spec still there"
# where the calls' time went: every stage of the prepare (claim GET, devices, CDI spec,
# checkpoint) and of the unprepare counted (per claim: the claims of one call run in parallel,
# so their stages may add up to more than the call's own seconds; test_plugin_driver checks the
# sum for one-claim calls)
metrics=$(curl -s "http://127.0.0.1:$metrics_port/metrics")
$py - "$metrics" <<'PY' && ok "/metrics: stage seconds of prepare and unprepare" || bad "/metrics stages: ${metrics:0:600}"
import re, sys
text = sys.argv[1]
stage = {(m[0], m[1]): float(m[2]) for m in
         re.findall(r'^netdra_node_stage_seconds_total\{operation="(\w+)",stage="(\w+)"\} (\S+)$', text, re.M)}
for s in ("claim_get", "devices", "cdi_spec", "checkpoint"):
    assert stage[("prepare", s)] > 0, (s, stage)
for s in ("devices", "checkpoint"):
    assert stage[("unprepare", s)] > 0, (s, stage)
assert ("unprepare", "claim_get") not in stage, stage
PY
[ -z "$(find "$work/state" -type f -name '*cred*')" ] && ok "unprepare removed the credentials file" || bad "credentials left behind"
grep -q "$secret_value" "$work/plugin.log" "$work/controller.log" "$work/api.log" && bad "the secret appears in a log" ||
  ok "no credential in the logs"
kill "$plugin_pid"
wait "$plugin_pid" 2>/dev/null || true
plugin_pid=
[ ! -e "$reg_sock" ] && ok "SIGTERM removes the registration socket" || bad "registration socket left behind"
echo "node plugin e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
