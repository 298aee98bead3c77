#!/usr/bin/env bash
# Runs the REST client's integration tests against the stand-in API server (TLS + token).
set -euo pipefail
build=${NETDRA_BUILD_DIR:?}
src=${NETDRA_SOURCE_DIR:?}
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
token="tok-$RANDOM$RANDOM"
/usr/bin/python3 "$src/tests/apiserver/netdra_apiserver.py" --tls --token "$token" \
  --kubeconfig "$work/kubeconfig" --ready-file "$work/ready" --bookmark-interval 0.3 \
  --watch-window 1000 >"$work/apiserver.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -f "$work/ready" ] && break; sleep 0.05; done
[ -f "$work/ready" ] || { echo "stand-in API server did not start"; cat "$work/apiserver.log"; exit 1; }
/usr/bin/python3 -c 'import yaml,base64,sys; c=yaml.safe_load(open(sys.argv[1]))["clusters"][0]["cluster"]; open(sys.argv[2],"wb").write(base64.b64decode(c["certificate-authority-data"]))' \
  "$work/kubeconfig" "$work/ca.crt"
NETDRA_TEST_KUBECONFIG="$work/kubeconfig" NETDRA_TEST_APISERVER="$(cat "$work/ready")" \
  NETDRA_TEST_TOKEN="$token" NETDRA_TEST_CA="$work/ca.crt" \
  "$build/tests/k8s-client/test_k8s_client_it"
