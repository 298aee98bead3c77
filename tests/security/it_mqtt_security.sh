#!/usr/bin/env bash
# MQTT security with a real mosquitto: client certificates as identities (require_certificate,
# use_identity_as_username) with the topic ACL of deploy/mosquitto/acl.conf; a device may announce
# only itself; a client without a certificate, or with one from another CA, is refused; and the
# discovery source refuses a broker whose certificate does not name the host it dials.
set -euo pipefail
build=${NETDRA_BUILD_DIR:?}
src=${NETDRA_SOURCE_DIR:?}
py=/usr/bin/python3
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ssl() { openssl "$@" >/dev/null 2>&1; }
cd "$work"
cp "$src/deploy/mosquitto/acl.conf" acl.conf # mosquitto drops to its own user: the source tree may be closed to it (a mktemp -d clone is 0700)
chmod 644 acl.conf
ssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 -subj "/CN=netdra-test-ca"
ssl req -x509 -newkey rsa:2048 -nodes -keyout evil-ca.key -out evil-ca.crt -days 1 -subj "/CN=evil-ca"
cert() { # name, CN, CA, SAN (optional)
  ssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
  if [ -n "${4:-}" ]; then printf 'subjectAltName=%s\n' "$4" >"$1.ext"; else : >"$1.ext"; fi
  ssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial -out "$1.crt" -days 1 -extfile "$1.ext"
}
cert server 127.0.0.1 ca "IP:127.0.0.1,DNS:localhost"
cert wrongname wrong.example ca "DNS:wrong.example"
cert controller netdra-controller ca
cert lobby-cam lobby-cam ca
cert intruder lobby-cam evil-ca
chmod 644 ./*.key
P1=$(port) P2=$(port)
cat >broker.conf <<EOF
per_listener_settings false
listener $P1 127.0.0.1
cafile $work/ca.crt
certfile $work/server.crt
keyfile $work/server.key
require_certificate true
use_identity_as_username true
acl_file $work/acl.conf
EOF
sed -e "s/$P1/$P2/" -e "s/server\./wrongname./g" broker.conf >wrong.conf
mosquitto -c broker.conf >broker.log 2>&1 &
pids+=($!)
mosquitto -c wrong.conf >wrong.log 2>&1 &
pids+=($!)
sleep 0.5

"$build/tests/discovery/discovery_probe" --mqtt-host 127.0.0.1 --mqtt-port "$P1" --ca ca.crt \
  --cert controller.crt --key controller.key --timeout 60 >probe.out 2>probe.err &
pids+=($!)
for _ in $(seq 50); do grep -q 'event=connected' probe.err && break; sleep 0.1; done
grep -q 'event=connected' probe.err && ok "the controller connects with its client certificate" || bad "no connection: $(tail -2 probe.err)"

pubc() { # cert name, topic, payload
  mosquitto_pub -h 127.0.0.1 -p "$P1" --cafile ca.crt --cert "$1.crt" --key "$1.key" -q 1 -r -t "$2" -m "$3"
}
pubc lobby-cam netdra/v1/site-a/lobby-cam/config '{"type":"camera","vendor":"axis"}' &&
  ok "a device publishes its own announcement" || bad "the device could not publish"
pubc lobby-cam netdra/v1/site-a/front-door/config '{"type":"camera","vendor":"spoof"}' || true
for _ in $(seq 50); do grep -q '"id":"lobby-cam"' probe.out && break; sleep 0.1; done
grep -q '"id":"lobby-cam"' probe.out && ok "its announcement reaches discovery" || bad "its announcement did not arrive"
sleep 1
grep -q 'front-door' probe.out && bad "a device announced another device's topic" ||
  ok "the ACL keeps a device from announcing another device"
mosquitto_pub -h 127.0.0.1 -p "$P1" --cafile ca.crt -q 1 -t netdra/v1/site-a/x/config -m '{}' 2>/dev/null &&
  bad "a client without a certificate was accepted" || ok "a client without a certificate is refused"
pubc intruder netdra/v1/site-a/lobby-cam/config '{"type":"camera","vendor":"evil"}' 2>/dev/null &&
  bad "a certificate from another CA was accepted" || ok "a certificate from another CA is refused"
sleep 0.5
grep -q '"vendor":"evil"' probe.out && bad "the intruder's announcement arrived" || ok "the intruder's announcement never arrives"

"$build/tests/discovery/discovery_probe" --mqtt-host 127.0.0.1 --mqtt-port "$P2" --ca ca.crt \
  --cert controller.crt --key controller.key --timeout 4 >wrong.out 2>wrong.err || true
grep -q 'event=connected' wrong.err && bad "connected to a broker whose certificate names another host" ||
  ok "a broker whose certificate names another host is refused ($(grep -o 'reason="[^"]*"' wrong.err | head -1))"
echo "mqtt security: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
