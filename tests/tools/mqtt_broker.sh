# mqtt_broker.sh: sourced by tests: starts a real mosquitto broker on a free loopback port in
# $work (the caller's temp dir), with TLS (a CA and server certificate for 127.0.0.1/localhost
# made with openssl) and password authentication, plus persistence so retained messages
# survive a restart. Sets MQTT_PORT, MQTT_CA, MQTT_USER, MQTT_PASSFILE, MQTT_PID; defines
# broker_start, broker_stop, mqtt_pub (mosquitto_pub with the TLS and auth flags).
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

broker_setup() {
  local d="$work/broker"
  chmod 755 "$work" # mosquitto drops to its own user and must reach its files
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 \
    -subj "/CN=netdra-test-ca" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -keyout "$d/server.key" -out "$d/server.csr" \
    -subj "/CN=127.0.0.1" >/dev/null 2>&1
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/san.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -out "$d/server.crt" -days 2 -extfile "$d/san.ext" >/dev/null 2>&1
  MQTT_USER=netdra
  MQTT_PASSWORD="pw-$RANDOM$RANDOM"
  printf '%s' "$MQTT_PASSWORD" >"$d/password"
  chmod 600 "$d/password"
  mosquitto_passwd -c -b "$d/passwd" "$MQTT_USER" "$MQTT_PASSWORD" >/dev/null 2>&1
  mosquitto_passwd -b "$d/passwd" device "device-pw" >/dev/null 2>&1
  chmod 644 "$d/server.key" "$d/passwd"
  MQTT_PORT=$(free_port)
  cat >"$d/mosquitto.conf" <<CONF
per_listener_settings false
listener $MQTT_PORT 127.0.0.1
cafile $d/ca.crt
certfile $d/server.crt
keyfile $d/server.key
allow_anonymous false
password_file $d/passwd
persistence true
persistence_location $d/
autosave_interval 1
log_dest file $d/mosquitto.log
CONF
  chmod 777 "$d"
  MQTT_CA="$d/ca.crt"
  MQTT_PASSFILE="$d/password"
}

broker_start() {
  mosquitto -c "$work/broker/mosquitto.conf" >/dev/null 2>&1 &
  MQTT_PID=$!
  for _ in $(seq 100); do
    if mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" --cafile "$MQTT_CA" -u "$MQTT_USER" \
      -P "$MQTT_PASSWORD" -t '$SYS/broker/uptime' -C 1 -W 1 >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "mosquitto did not start"; cat "$work/broker/mosquitto.log"; return 1
}

broker_stop() { # graceful: persistence is written on SIGTERM
  [ -n "${MQTT_PID:-}" ] && kill "$MQTT_PID" 2>/dev/null && wait "$MQTT_PID" 2>/dev/null
  MQTT_PID=
  return 0
}

mqtt_pub() { mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" --cafile "$MQTT_CA" -u device -P device-pw -q 1 "$@"; }
