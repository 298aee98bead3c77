#!/usr/bin/env bash
# MQTT discovery against a real mosquitto broker (TLS + password): the three worked examples
# reach the registry with their attributes and capacities; a device's last will takes it
# offline; a broker restart loses no device, duplicates none and flaps none; 500 malformed
# payloads are each rejected with a reason (also on the device's status topic) and leave the
# registry unchanged.
set -euo pipefail
build=${NETDRA_BUILD_DIR:?}
src=${NETDRA_SOURCE_DIR:?}
py=/usr/bin/python3
work=$(mktemp -d)
probe_pid= lwt_pid=
cleanup() {
  for p in $probe_pid $lwt_pid; do kill -9 "$p" 2>/dev/null || true; done
  broker_stop || true
  rm -rf "$work"
}
trap cleanup EXIT
. "$src/tests/tools/mqtt_broker.sh"
fail() {
  echo "FAIL: $*"
  tail -3 "$work/probe.out" | cut -c1-600
  grep -A30 "ERROR: AddressSanitizer\|runtime error" "$work/probe.err" | head -40 || true
  tail -20 "$work/probe.err"
  exit 1
}
broker_setup
broker_start

"$build/tests/discovery/discovery_probe" --mqtt-host 127.0.0.1 --mqtt-port "$MQTT_PORT" \
  --ca "$MQTT_CA" --username "$MQTT_USER" --password-file "$MQTT_PASSFILE" --publish-status \
  --timeout 200 >"$work/probe.out" 2>"$work/probe.err" &
probe_pid=$!

wait_for() { # description, python predicate over d (id -> device of the last registry line), timeout
  local what=$1 pred=$2 limit=$3 start=$SECONDS
  while ((SECONDS - start < limit)); do
    if "$py" - "$work/probe.out" "$pred" <<'PY'; then echo "ok   $what"; return 0; fi
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith('{"changes"')]
devs = json.loads(lines[-1])["devices"] if lines else []
d = {x["id"]: x for x in devs}
n = len(devs)
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
    sleep 0.1
  done
  fail "$what (waited $limit s)"
}

ex="$src/deploy/examples/announcements"
for f in camera cxl-memory accelerator; do
  id=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$ex/$f.json")
  mqtt_pub -r -t "netdra/v1/site-a/$id/config" -f "$ex/$f.json"
done
wait_for "three device types announced" \
  'n==3 and d["lobby-cam-1"]["type"]=="camera" and d["lobby-cam-1"]["attributes"]["fps"]=={"int":30} and d["lobby-cam-1"]["attributes"]["firmware"]=={"version":"10.12.0"} and d["fabric-a-region-7"]["capacities"]["memory"]=="128Gi" and d["rack4-accel-2"]["capacities"]["sessions"]=="4" and d["rack4-accel-2"]["allNodes"] and not d["lobby-cam-1"]["allNodes"] and d["lobby-cam-1"]["secretName"]=="lobby-cam-1-credentials"' 15
grep -q 'event=connected.*protocol=5' "$work/probe.err" || fail "not connected with MQTT 5"
echo "ok   connected over TLS with a password, MQTT 5"

# a device with a last will: killed -> offline
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" --cafile "$MQTT_CA" -u device -P device-pw -k 5 \
  --will-topic netdra/v1/site-a/rack4-accel-2/availability --will-payload offline --will-retain \
  --will-qos 1 -t 'netdra/v1/site-a/rack4-accel-2/status' >/dev/null 2>&1 &
lwt_pid=$!
sleep 0.5
mqtt_pub -r -t netdra/v1/site-a/rack4-accel-2/availability -m online
kill -9 "$lwt_pid"
lwt_pid=
wait_for "last will takes the device offline" 'd["rack4-accel-2"]["health"]==2' 10
mqtt_pub -r -t netdra/v1/site-a/rack4-accel-2/availability -m online
wait_for "availability online brings it back" 'd["rack4-accel-2"]["health"]==0' 10

# broker restart: retained configs come back; nothing is removed, duplicated or flapped
batches_before=$(grep -c '^{"changes"' "$work/probe.out")
broker_stop
sleep 1
broker_start
for _ in $(seq 150); do [ "$(grep -c 'event=connected' "$work/probe.err")" -ge 2 ] && break; sleep 0.1; done
[ "$(grep -c 'event=connected' "$work/probe.err")" -ge 2 ] || fail "did not reconnect after the broker restart"
sleep 1.5
batches_after=$(grep -c '^{"changes"' "$work/probe.out")
[ "$batches_after" -eq "$batches_before" ] || fail "registry changed across the broker restart ($batches_before -> $batches_after batches)"
grep -q 'device-removed' "$work/probe.err" && fail "a device was removed across the restart"
wait_for "broker restart: no device lost, none duplicated, no flapping" 'n==3' 5

# 500 malformed payloads on one device's topic: all rejected, registry unchanged
mqtt_pub -t netdra/v1/corpus/dev/config -m '{"type":"camera","model":"keep"}'
wait_for "corpus target device present" '"dev" in d and d["dev"]["model"]=="keep"' 10
before=$(grep -c 'announcement-rejected' "$work/probe.err" || true)
ls "$src/tests/discovery/corpus/"*.json | xargs -P 4 -I{} sh -c \
  'mosquitto_pub -h 127.0.0.1 -p '"$MQTT_PORT"' --cafile '"$MQTT_CA"' -u device -P device-pw -q 1 -t netdra/v1/corpus/dev/config -f {} 2>/dev/null || mosquitto_pub -h 127.0.0.1 -p '"$MQTT_PORT"' --cafile '"$MQTT_CA"' -u device -P device-pw -q 1 -t netdra/v1/corpus/dev/config -n'
# the empty payload (removal) is not malformed: it is in the corpus only as 0-byte JSON; count the rest
expected=$(for f in "$src/tests/discovery/corpus/"*.json; do [ -s "$f" ] && echo; done | wc -l)
for _ in $(seq 200); do
  now=$(grep -c 'announcement-rejected' "$work/probe.err" || true)
  [ $((now - before)) -ge "$expected" ] && break
  sleep 0.1
done
now=$(grep -c 'announcement-rejected' "$work/probe.err" || true)
[ $((now - before)) -ge "$expected" ] || fail "only $((now - before)) of $expected malformed payloads were rejected"
echo "ok   $expected malformed payloads rejected, each with a reason"
# the registry is as before, apart from the empty payload which is a removal by protocol
mqtt_pub -t netdra/v1/corpus/dev/config -m '{"type":"camera","model":"keep"}'
wait_for "registry unchanged for the other devices" 'n==4 and d["lobby-cam-1"]["attributes"]["fps"]=={"int":30} and d["dev"]["model"]=="keep"' 10
status=$(mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" --cafile "$MQTT_CA" -u device -P device-pw \
  -t netdra/v1/site-a/lobby-cam-1/status -C 1 -W 3)
"$py" -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["accepted"] else 1)' "$status" ||
  fail "status topic of an accepted device: $status"
mqtt_pub -t netdra/v1/site-a/bad-one/config -m '{"type":"camera","password":"x"}'
sleep 0.5
status=$(mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" --cafile "$MQTT_CA" -u device -P device-pw \
  -t netdra/v1/site-a/bad-one/status -C 1 -W 3)
"$py" -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if not d["accepted"] and "credentials" in d["reason"] else 1)' "$status" ||
  fail "status topic of a rejected device: $status"
echo "ok   rejection reason published to the device's status topic"
grep -q "hunter2\|device-pw\|$MQTT_PASSWORD" "$work/probe.err" && fail "a credential appeared in the log"
echo "ok   no credential in the log"
echo "mqtt discovery: all checks passed"
