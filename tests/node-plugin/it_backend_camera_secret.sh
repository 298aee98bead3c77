#!/bin/bash
# it_backend_camera_secret.sh: the camera backend reads its Secret through the real REST client
# from the stand-in API server (token auth): the credentials file holds the decoded data (0600),
# no credential appears in any log or output, a missing Secret is named, detach removes the file.
set -euo pipefail
: "${NETDRA_SOURCE_DIR:?}" "${NETDRA_BUILD_DIR:?}"
PYTHON=${PYTHON:-/usr/bin/python3}
TOOL="$NETDRA_BUILD_DIR/tests/node-plugin/netdra_backend_tool"
APISERVER="$NETDRA_SOURCE_DIR/tests/apiserver/netdra_apiserver.py"
work=$(mktemp -d)
api_pid=
cleanup() {
  if [ -n "$api_pid" ]; then kill "$api_pid" 2>/dev/null || true; wait "$api_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

PASSWORD="pw-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
USERNAME="viewer"
API_TOKEN="tok-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
[ -f "$APISERVER" ] || fail "stand-in API server $APISERVER missing (branch apiserver)"
"$PYTHON" "$APISERVER" --listen 127.0.0.1:0 --token "$API_TOKEN" --kubeconfig "$work/kubeconfig" \
  --ready-file "$work/ready" --log "$work/api.log" &
api_pid=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; kill -0 "$api_pid" 2>/dev/null || fail "API server exited"; sleep 0.1; done
[ -s "$work/ready" ] || fail "API server not ready within 10 s"
base=$(head -n1 "$work/ready")
auth=(-H "Authorization: Bearer $API_TOKEN")

b64() { printf '%s' "$1" | base64 -w0; }
curl -sS -o /dev/null -w '%{http_code}' "${auth[@]}" -X POST -H 'Content-Type: application/json' \
  "$base/api/v1/namespaces" --data "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"video\"}}" > /dev/null || true
code=$(curl -sS -o "$work/secret.out" -w '%{http_code}' "${auth[@]}" -X POST \
  -H 'Content-Type: application/json' "$base/api/v1/namespaces/video/secrets" \
  --data "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"cam-creds\",\"namespace\":\"video\"},\"data\":{\"username\":\"$(b64 $USERNAME)\",\"password\":\"$(b64 "$PASSWORD")\"}}")
[ "$code" = 201 ] || fail "creating the Secret: HTTP $code: $(cat "$work/secret.out")"

mkdir -m 0700 "$work/claim"
request() { # secretRef
  cat <<JSON
{"type":"camera","claimUid":"uid-cam-1","claimNamespace":"video","claimName":"c1","request":"cam",
 "pool":"net-pool","device":"cam-0","claimDir":"$work/claim","nodeName":"node-a","devRoot":"/",
 "kubeconfig":"$work/kubeconfig","config":null,
 "sliceDevice":{"name":"cam-0","attributes":{"type":{"string":"camera"},
   "endpoint":{"string":"rtsp://10.0.0.5/stream1"},"id":{"string":"lobby"},"secretRef":{"string":"$1"}}}}
JSON
}
request video/cam-creds > "$work/req.json"
"$TOOL" attach "$work/req.json" > "$work/attach.out" 2> "$work/attach.err" || fail "attach: $(cat "$work/attach.err")"
file="$work/claim/cam-cam-0.camera-credentials"
[ "$(stat -c %a "$file")" = 600 ] || fail "credentials file mode $(stat -c %a "$file")"
grep -qx "username=$USERNAME" "$file" || fail "username missing in the credentials file"
grep -qx "password=$PASSWORD" "$file" || fail "password missing in the credentials file"
"$PYTHON" - "$work/attach.out" "$file" <<'PY' || fail "attach result"
import json, sys
out = json.load(open(sys.argv[1]))
env = out["edits"]["env"]
assert "NETDRA_CAMERA_URL=rtsp://10.0.0.5/stream1" in env, env
assert "NETDRA_CAMERA_CREDENTIALS=/var/run/netdra/camera/credentials" in env, env
m = out["edits"]["mounts"][0]
assert m["hostPath"] == sys.argv[2] and m["containerPath"] == "/var/run/netdra/camera/credentials"
assert "ro" in m["options"]
PY
grep -q 'GET.*/api/v1/namespaces/video/secrets/cam-creds' <(curl -sS "$base/_netdra/requests") \
  || fail "the API server saw no Secret GET"
echo "ok: credentials file written from the Secret"

# missing Secret -> clear error naming it
request video/nope > "$work/req2.json"
if "$TOOL" attach "$work/req2.json" > "$work/attach2.out" 2> "$work/attach2.err"; then
  fail "attach with a missing Secret succeeded"
fi
grep -q 'Secret video/nope (secretRef of camera net-pool/cam-0) not found' "$work/attach2.err" \
  || fail "missing Secret not named: $(cat "$work/attach2.err")"
echo "ok: missing Secret named"

# detach removes the file
"$PYTHON" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["state"]))' \
  "$work/attach.out" > "$work/state.json"
"$TOOL" detach "$work/req.json" "$work/state.json" > /dev/null 2> "$work/detach.err" || fail "detach: $(cat "$work/detach.err")"
[ ! -e "$file" ] || fail "credentials file left after detach"
echo "ok: detach removed the credentials file"

# no credential in any output or log (ours and the API server's)
for f in "$work"/attach.out "$work"/attach.err "$work"/attach2.err "$work"/detach.err "$work"/api.log; do
  [ -f "$f" ] || continue
  if grep -qF -- "$PASSWORD" "$f" || grep -qF -- "$(b64 "$PASSWORD")" "$f"; then fail "credential in $f"; fi
done
echo "ok: no credential in logs"
