#!/usr/bin/env bash
# The Helm chart lints, rejects bad values through its schema, renders to the committed plain
# manifests, builds with kustomize, and the YAML in the repository passes yamllint.
set -euo pipefail
src=${NETDRA_SOURCE_DIR:?}
tools=$("$src/scripts/get-helm.sh")
helm="$tools/helm/helm"
kubectl="$tools/kubectl/kubectl"
pass=0 fail=0
check() { # name, command...
  local name=$1; shift
  if "$@" >/tmp/netdra-deploy-$$.log 2>&1; then pass=$((pass + 1)); echo "ok   $name"
  else fail=$((fail + 1)); echo "FAIL $name"; sed 's/^/     /' /tmp/netdra-deploy-$$.log; fi
}
must_fail() { ! "$@"; }
trap 'rm -f /tmp/netdra-deploy-$$.log' EXIT

check "yamllint" bash -c "cd \"$src\" && yamllint -s -c .yamllint deploy .yamllint"
check "helm lint" "$helm" lint --strict "$src/deploy/helm/netdra"
check "schema rejects logFormat=xml" must_fail "$helm" lint "$src/deploy/helm/netdra" --set logFormat=xml
check "schema rejects unknown key" must_fail "$helm" template x "$src/deploy/helm/netdra" --set controller.bogus=1
check "schema rejects bad driver name" must_fail "$helm" template x "$src/deploy/helm/netdra" --set driverName=Bad_Name
check "manifests current" "$src/scripts/render-manifests.sh" --check
check "kustomize build" "$kubectl" kustomize "$src/deploy/manifests"
rendered=$("$helm" template netdra "$src/deploy/helm/netdra" -n netdra)
check "controller has 2 replicas" grep -q "replicas: 2" <<<"$rendered"
check "four DeviceClasses" test "$(grep -c '^kind: DeviceClass' <<<"$rendered")" -eq 4
check "daemonset rolling update" grep -q "type: RollingUpdate" <<<"$rendered"
check "controller runs as non-root" grep -q "runAsNonRoot: true" <<<"$rendered"
# the daemons' own key tables accept the rendered configuration files (every key known, types right)
cfgdir=$(mktemp -d)
trap 'rm -f /tmp/netdra-deploy-$$.log; rm -rf "$cfgdir"' EXIT
for values in "" "--set controller.mdns.enabled=true --set controller.staticInventory.enabled=true --set controller.bindingConditions.enabled=true"; do
  # shellcheck disable=SC2086
  "$helm" template netdra "$src/deploy/helm/netdra" -n netdra $values --show-only templates/configmap.yaml |
    /usr/bin/python3 -c 'import sys,yaml; d=yaml.safe_load(sys.stdin)["data"]; [open(sys.argv[1]+"/"+k,"w").write(v) for k,v in d.items()]' "$cfgdir"
  check "controller config valid ${values:-(defaults)}" "$NETDRA_BUILD_DIR/controller/netdractl" validate --kind controller "$cfgdir/controller.yaml"
  check "node-plugin config valid ${values:-(defaults)}" "$NETDRA_BUILD_DIR/controller/netdractl" validate --kind node-plugin "$cfgdir/node-plugin.yaml"
done
printf 'leaderElection:\n  leaseDuration: soon\n' >"$cfgdir/bad.yaml"
check "a broken controller config is refused" must_fail "$NETDRA_BUILD_DIR/controller/netdractl" validate --kind controller "$cfgdir/bad.yaml"
echo "deploy chart: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
