#!/usr/bin/env bash
# netdractl end to end: `validate` gives 20 distinct, precise messages for 20 broken files and
# passes the worked examples; `announce` publishes to a real mosquitto (TLS + password) and the
# controller sees it; `devices` shows what discovery sees (the controller's /debug/devices);
# `slices` lists what is published, as a table, JSON and YAML.
set -euo pipefail
build=${NETDRA_BUILD_DIR:?}
src=${NETDRA_SOURCE_DIR:?}
ctl="$build/controller/netdractl"
work=$(mktemp -d)
api_pid= ctl_pid=
cleanup() {
  for p in $ctl_pid $api_pid; do kill "$p" 2>/dev/null || true; done
  broker_stop || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
. "$src/tests/tools/mqtt_broker.sh"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# validate: 20 broken files, 20 distinct messages, each the expected one
: >"$work/messages"
while IFS= read -r line; do
  file=${line%%:*}
  want=${line#"$file"}
  if out=$("$ctl" validate "$src/tests/cli/broken/$file"); then
    bad "validate accepted $file"
    continue
  fi
  echo "$out" >>"$work/messages"
  case "$out" in
    *"$file$want"*) ok "validate $file: $out" ;;
    *) bad "validate $file: got \"$out\", want \"$file$want\"" ;;
  esac
done <"$src/tests/cli/expected-messages.txt"
distinct=$(sort -u "$work/messages" | wc -l)
[ "$distinct" -eq 20 ] && ok "20 broken files, 20 distinct messages" || bad "only $distinct distinct messages"
"$ctl" validate "$src"/deploy/examples/announcements/*.json >/dev/null && ok "validate passes the worked examples" ||
  bad "validate rejected a worked example"

# a stand-in API server, a broker and a controller
/usr/bin/python3 "$src/tests/apiserver/netdra_apiserver.py" --tls --token t-$$ --kubeconfig "$work/kc" \
  --ready-file "$work/ready" >"$work/api.log" 2>&1 &
api_pid=$!
broker_setup
broker_start
for _ in $(seq 100); do [ -f "$work/ready" ] && break; sleep 0.05; done
metrics_port=$(free_port)
printf '%s' "$MQTT_USER" >"$work/mqtt-user"
"$build/controller/netdra-controller" --kubeconfig "$work/kc" --leader-election=false \
  --metrics-address "127.0.0.1:$metrics_port" --startup-delay 100ms --mqtt-host 127.0.0.1 \
  --mqtt-port "$MQTT_PORT" --mqtt-tls --mqtt-ca-file "$MQTT_CA" --mqtt-username-file "$work/mqtt-user" \
  --mqtt-password-file "$MQTT_PASSFILE" >"$work/controller.log" 2>&1 &
ctl_pid=$!

# announce: from flags and from a file, with TLS and a password
if "$ctl" announce --broker "127.0.0.1:$MQTT_PORT" --cafile "$MQTT_CA" --username device \
  --password-file <(printf device-pw) --domain lab --id cam-9 --type camera --vendor axis \
  --attr fps=30 --attr ptz=false --cap streams=2 --endpoint rtsp://127.0.0.1:8554/live >/dev/null &&
  "$ctl" announce --broker "127.0.0.1:$MQTT_PORT" --cafile "$MQTT_CA" --username device \
    --password-file <(printf device-pw) --domain lab --file "$src/deploy/examples/announcements/accelerator.json" >/dev/null; then
  ok "announce from flags and from a file"
else
  bad "announce failed"
fi
"$ctl" announce --broker "127.0.0.1:$MQTT_PORT" --cafile "$MQTT_CA" --domain lab --id x --type toaster 2>"$work/err" &&
  bad "announce published an invalid device" || { grep -q 'not a known device type' "$work/err" && ok "announce refuses an invalid device before publishing"; }

export NETDRA_CONTROLLER="http://127.0.0.1:$metrics_port"
for _ in $(seq 100); do "$ctl" devices -o json 2>/dev/null | grep -q rack4-accel-2 && break; sleep 0.1; done
table=$("$ctl" devices || true)
if grep -q 'lab .*cam-9 .*camera .*axis .*online .*mqtt .*rtsp://127.0.0.1:8554/live' <<<"$table" &&
  grep -q 'rack4-accel-2' <<<"$table"; then ok "devices shows what discovery sees"; else bad "devices: $table"; fi
"$ctl" devices -o yaml | grep -q '^- pool: lab' && ok "devices -o yaml" || bad "devices -o yaml"
m=$(curl -s "$NETDRA_CONTROLLER/metrics")
grep -q '^netdra_' <<<"$m" && ! grep -q "$MQTT_PASSWORD" <<<"$m" && ! grep -q "$MQTT_PASSWORD" "$work/controller.log" &&
  ok "controller /metrics and log hold no MQTT password" || bad "controller metrics or log: credential or no metrics"

for _ in $(seq 100); do "$ctl" --kubeconfig "$work/kc" slices -o json 2>/dev/null | grep -q cam-9 && break; sleep 0.1; done
table=$("$ctl" --kubeconfig "$work/kc" slices || true)
grep -q 'lab .*2 .*0 .*all nodes' <<<"$table" && ok "slices table: $(tail -1 <<<"$table")" || bad "slices: $table"
"$ctl" --kubeconfig "$work/kc" slices -o yaml | grep -q 'driver: netdra.dev' && ok "slices -o yaml" || bad "slices -o yaml"
"$ctl" --kubeconfig "$work/kc" slices -o json | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); assert s[0]["spec"]["driver"]=="netdra.dev"' &&
  ok "slices -o json" || bad "slices -o json"
"$ctl" --kubeconfig /nonexistent slices 2>"$work/err" && bad "slices with a missing kubeconfig" ||
  { grep -q '/nonexistent' "$work/err" && ok "slices names a missing kubeconfig"; }
echo "netdractl: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
