#!/usr/bin/env bash
# The local all-in-one demo (the README's first command). Installs what is missing, builds, and
# runs the whole path once, step by step, inside two network namespaces it creates and removes:
#
#   demo "cluster" namespace: mosquitto (TLS + password), the stand-in API server (test
#     equipment), netdra-controller (MQTT + mDNS + static inventory), netdra-node-plugin on a
#     fake NVIDIA node, python3-grpcio playing the kubelet, podman running the container;
#   demo "LAN" namespace: simulated devices announcing over MQTT and mDNS (python3-zeroconf).
#
# A claim for a network camera plus a local GPU is allocated by the stand-in allocator (it plays
# kube-scheduler's part and says so), prepared through gRPC as the kubelet would, and the
# resulting CDI spec is shown and used by a real container. Everything is cleaned up after.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates network namespaces and runs podman)"; exit 1; }
./scripts/install-deps.sh >/dev/null
echo "==> building netdra (release) in build/demo"
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNETDRA_TESTS=OFF >/dev/null
cmake --build build/demo -j"$(nproc)" --target netdra-controller netdra-node-plugin netdractl >/dev/null
bin="$root/build/demo"
py=/usr/bin/python3

id=$$
hostns="netdra-demo-cluster-$id"
lanns="netdra-demo-lan-$id"
net="10.231.$((id % 200 + 20))"
work=$(mktemp -d /tmp/netdra-demo.XXXXXX)
chmod 755 "$work"
node=demo-node
pids=()
step=0
say() { step=$((step + 1)); printf '\n\033[1m[%d] %s\033[0m\n' "$step" "$*"; }
info() { printf '    %s\n' "$*"; }
show() { sed 's/^/    | /'; }
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  [ -n "${uid:-}" ] && rm -f /var/run/cdi/netdra.dev-claim_"$uid"*.json
  ip netns del "$hostns" 2>/dev/null
  ip netns del "$lanns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
in_host() { ip netns exec "$hostns" "$@"; }
in_lan() { ip netns exec "$lanns" "$@"; }
# background processes: `ip netns exec` execs the command, so $! is the process to stop later
# (a backgrounded shell function would leave its child running)
bg_host() { local log=$1; shift; ip netns exec "$hostns" "$@" >"$log" 2>&1 & pids+=($!); }
bg_lan() { local log=$1; shift; ip netns exec "$lanns" "$@" >"$log" 2>&1 & pids+=($!); }
wait_file() { for _ in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.05; done; echo "demo: $1 did not appear"; exit 1; }
start=$SECONDS

say "Network: a 'cluster' namespace and a 'LAN' namespace joined by a veth pair"
ip netns add "$hostns"
ip netns add "$lanns"
ip link add "ndh$id" netns "$hostns" type veth peer name "ndl$id" netns "$lanns"
ip -n "$hostns" addr add "$net.1/24" dev "ndh$id"
ip -n "$lanns" addr add "$net.2/24" dev "ndl$id"
for ns in "$hostns" "$lanns"; do ip -n "$ns" link set lo up; done
ip -n "$hostns" link set "ndh$id" up multicast on
ip -n "$lanns" link set "ndl$id" up multicast on
ip -n "$hostns" route add 224.0.0.0/4 dev "ndh$id"
ip -n "$lanns" route add 224.0.0.0/4 dev "ndl$id"
info "cluster $net.1 <-> LAN $net.2 (nothing touches the machine's own interfaces)"

say "MQTT broker: mosquitto with TLS and a password, on the cluster side ($net.1:8883)"
mkdir -p "$work/broker"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/broker/ca.key" -out "$work/broker/ca.crt" \
  -days 1 -subj "/CN=netdra-demo-ca" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout "$work/broker/server.key" -out "$work/broker/server.csr" \
  -subj "/CN=$net.1" >/dev/null 2>&1
printf 'subjectAltName=IP:%s.1,IP:127.0.0.1\n' "$net" >"$work/broker/san.ext"
openssl x509 -req -in "$work/broker/server.csr" -CA "$work/broker/ca.crt" -CAkey "$work/broker/ca.key" \
  -CAcreateserial -out "$work/broker/server.crt" -days 1 -extfile "$work/broker/san.ext" >/dev/null 2>&1
mosquitto_passwd -c -b "$work/broker/passwd" netdra-controller "ctl-$id" >/dev/null 2>&1
mosquitto_passwd -b "$work/broker/passwd" device "dev-$id" >/dev/null 2>&1
printf 'netdra-controller' >"$work/broker/username"
printf 'ctl-%s' "$id" >"$work/broker/password"
chmod 644 "$work/broker/server.key" "$work/broker/passwd"
cat >"$work/broker/mosquitto.conf" <<EOF
listener 8883
cafile $work/broker/ca.crt
certfile $work/broker/server.crt
keyfile $work/broker/server.key
allow_anonymous false
password_file $work/broker/passwd
set_tcp_nodelay true
EOF
bg_host "$work/broker.log" mosquitto -c "$work/broker/mosquitto.conf"
sleep 0.3

say "Stand-in Kubernetes API server (test equipment: there is no kube-apiserver here)"
bg_host "$work/apiserver.log" "$py" tests/apiserver/netdra_apiserver.py --tls --token "demo-$id" \
  --kubeconfig "$work/kubeconfig" --ready-file "$work/api.ready"
wait_file "$work/api.ready"
info "serving $(cat "$work/api.ready") with TLS and a bearer token; validates against the upstream OpenAPI"
kctl() { in_host "$py" tests/apiserver/kubectl_lite.py --kubeconfig "$work/kubeconfig" "$@"; }
cat >"$work/cluster.yaml" <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $node
  labels: {topology.kubernetes.io/zone: eu-west-1a}
---
apiVersion: v1
kind: Secret
metadata: {name: lobby-cam-1-credentials, namespace: default}
data:
  username: $(printf viewer | base64)
  password: $(printf 'demo-password' | base64)
EOF
kctl apply -f "$work/cluster.yaml" -f deploy/manifests/deviceclasses.yaml | show

say "Simulated devices announce themselves from the LAN"
info "MQTT: the worked examples (a camera, CXL memory, a remote accelerator), retained, with availability"
for f in camera cxl-memory accelerator; do
  devid=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "deploy/examples/announcements/$f.json")
  in_lan mosquitto_pub -h "$net.1" -p 8883 --cafile "$work/broker/ca.crt" -u device -P "dev-$id" -q 1 -r \
    -t "netdra/v1/site-a/$devid/config" -f "deploy/examples/announcements/$f.json"
  in_lan mosquitto_pub -h "$net.1" -p 8883 --cafile "$work/broker/ca.crt" -u device -P "dev-$id" -q 1 -r \
    -t "netdra/v1/site-a/$devid/availability" -m online
  info "  netdra/v1/site-a/$devid/config  <- deploy/examples/announcements/$f.json"
done
info "mDNS: a parking-lot camera announces _rtsp._tcp with python3-zeroconf"
mkfifo "$work/mdns.cmd"
ip netns exec "$lanns" "$py" tests/mdns/announce.py "$net.2" <"$work/mdns.cmd" >"$work/mdns.log" 2>&1 &
pids+=($!)
exec 7>"$work/mdns.cmd"
echo "register _rtsp._tcp parking-cam 554 120 vendor=hikvision model=DS-2CD path=/Streaming/101" >&7
cat >"$work/inventory.yaml" <<'EOF'
pool: fabric-b
devices:
  - id: region-9
    type: cxl-memory
    vendor: micron
    capacities: {memory: 256Gi}
    attach: {endpoint: "http://127.0.0.1:9/fm", fabricRegion: region-9}
EOF
info "static inventory: a CXL region known only to the fabric manager ($work/inventory.yaml)"

say "netdra-controller: discovers devices and publishes node-less ResourceSlices"
bg_host "$work/controller.log" "$bin/controller/netdra-controller" --kubeconfig "$work/kubeconfig" \
  --leader-election=false --metrics-address 127.0.0.1:18080 --startup-delay 1s --mqtt-host "$net.1" \
  --mqtt-port 8883 --mqtt-tls --mqtt-ca-file "$work/broker/ca.crt" \
  --mqtt-username-file "$work/broker/username" --mqtt-password-file "$work/broker/password" \
  --mdns --mdns-interfaces "ndh$id" --mdns-pool lan-mdns --inventory "$work/inventory.yaml"
for _ in $(seq 100); do
  in_host "$bin/controller/netdractl" devices --controller http://127.0.0.1:18080 -o json 2>/dev/null |
    grep -q parking-cam && break
  sleep 0.1
done
info "what discovery sees (netdractl devices):"
in_host "$bin/controller/netdractl" devices --controller http://127.0.0.1:18080 | show

say "netdra-node-plugin: the kubelet plugin on $node, with a fake NVIDIA GPU root"
cp -a tests/node-plugin/fake-roots/nvidia "$work/gpu-root"
rm -rf "$work/gpu-root/etc/cdi"
for f in "$work"/gpu-root/dev/nvidia*; do rm -f "$f" && mknod "$f" c 1 3; done # harmless stand-ins
mkdir -p "$work/kubelet/plugins/netdra.dev" "$work/kubelet/plugins_registry" "$work/state"
bg_host "$work/node-plugin.log" "$bin/node-plugin/netdra-node-plugin" --node-name "$node" \
  --kubeconfig "$work/kubeconfig" --plugin-dir "$work/kubelet/plugins/netdra.dev" \
  --registry-dir "$work/kubelet/plugins_registry" --state-dir "$work/state" --dev-root "$work/gpu-root" \
  --local-gpus --metrics-address ""
wait_file "$work/kubelet/plugins_registry/netdra.dev-reg.sock"
info "the kubelet (python3-grpcio) registers the plugin:"
in_host "$py" tests/grpc/fake_kubelet.py register --socket "$work/kubelet/plugins_registry/netdra.dev-reg.sock" | show
for _ in $(seq 100); do
  n=$(in_host "$bin/controller/netdractl" --kubeconfig "$work/kubeconfig" slices -o json | "$py" -c 'import json,sys; print(len(json.load(sys.stdin)))')
  [ "$n" -ge 3 ] && break
  sleep 0.1
done
info "what is published (netdractl slices):"
in_host "$bin/controller/netdractl" --kubeconfig "$work/kubeconfig" slices | show

say "A ResourceClaim: an Axis camera from the network and a local GPU, in one claim"
"$py" -c 'import sys,yaml; d=[x for x in yaml.safe_load_all(open(sys.argv[1])) if x and x["kind"]=="ResourceClaim"][0]; print(yaml.safe_dump(d, sort_keys=False))' \
  deploy/examples/claims/camera-and-gpu.yaml >"$work/claim.yaml"
show <"$work/claim.yaml"
kctl apply -f "$work/claim.yaml" | show

say "Stand-in allocator (test equipment playing kube-scheduler): picks devices for $node"
alloc=$(in_host "$py" tests/tools/standin_allocator.py --kubeconfig "$work/kubeconfig" --node "$node" \
  --node-labels topology.kubernetes.io/zone=eu-west-1a --claim default/camera-and-gpu)
grep -v '^{' <<<"$alloc" | show
uid=$("$py" -c 'import json,sys; print([json.loads(l) for l in sys.argv[1].splitlines() if l.startswith("{")][0]["uid"])' "$alloc")

say "NodePrepareResources over gRPC, as the kubelet calls it"
dra="$work/kubelet/plugins/netdra.dev/dra.sock"
prep=$(in_host "$py" tests/grpc/fake_kubelet.py prepare --socket "$dra" --claim "default/camera-and-gpu/$uid")
"$py" -m json.tool <<<"$prep" | show
mapfile -t cdi_ids < <("$py" -c 'import json,sys; [print(i) for d in json.loads(sys.argv[1])[sys.argv[2]]["devices"] for i in d["cdi_device_ids"]]' "$prep" "$uid")
spec=$(ls /var/run/cdi/netdra.dev-claim_*"$uid"*.json)
info "the CDI spec the node plugin wrote ($spec):"
"$py" -m json.tool "$spec" | show

say "A container (podman + runc, no network) gets the devices through CDI"
rootfs="$work/rootfs"
mkdir -p "$rootfs/bin" "$rootfs/dev" "$rootfs/proc" "$rootfs/sys" "$rootfs/etc"
cp /bin/busybox "$rootfs/bin/" && ln -s busybox "$rootfs/bin/sh"
args=()
for i in "${cdi_ids[@]}"; do args+=(--device "$i"); done
if out=$(timeout 120 podman --cgroup-manager=cgroupfs --runtime runc run --rm --network=none \
  --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 "${args[@]}" --rootfs "$rootfs" \
  /bin/sh -c 'env | grep ^NETDRA_ | sort; ls /dev | grep nvidia; echo "credentials file: $(wc -c < $NETDRA_CAMERA_CREDENTIALS) bytes"' 2>&1); then
  show <<<"$out"
else
  info "podman could not run a container here:"
  show <<<"$out"
fi

say "NodeUnprepareResources: devices released, CDI spec removed"
in_host "$py" tests/grpc/fake_kubelet.py unprepare --socket "$dra" --claim "default/camera-and-gpu/$uid" | show
[ -e "$spec" ] && info "CDI spec still present!" || info "CDI spec removed"

say "Done in $((SECONDS - start)) s; cleaning up namespaces, processes and files"
