#!/usr/bin/env bash
# Renders the Helm chart into deploy/manifests/ (plain manifests, kustomize-buildable).
# `--check` renders to a temp dir and fails when the committed manifests differ.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools=$("$root/scripts/get-helm.sh")
out="$root/deploy/manifests"
if [ "${1:-}" = "--check" ]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
mkdir -p "$out"
rm -f "$out"/*.yaml
"$tools/helm/helm" template netdra "$root/deploy/helm/netdra" --namespace netdra \
  --output-dir "$out/.render" >/dev/null
files=()
for f in "$out"/.render/netdra/templates/*.yaml; do
  name=$(basename "$f")
  { echo "# Rendered from deploy/helm/netdra by scripts/render-manifests.sh; do not edit."; cat "$f"; } >"$out/$name"
  files+=("$name")
done
rm -rf "$out/.render"
cat >"$out/namespace.yaml" <<'NS'
# Rendered from deploy/helm/netdra by scripts/render-manifests.sh; do not edit.
apiVersion: v1
kind: Namespace
metadata:
  name: netdra
NS
{
  echo "# Rendered by scripts/render-manifests.sh; build with: kubectl kustomize deploy/manifests"
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "resources:"
  echo "  - namespace.yaml"
  for f in "${files[@]}"; do echo "  - $f"; done
} >"$out/kustomization.yaml"
if [ "${1:-}" = "--check" ]; then
  diff -r "$out" "$root/deploy/manifests" || { echo "deploy/manifests is stale: run scripts/render-manifests.sh" >&2; exit 1; }
  echo "render-manifests: deploy/manifests is current"
fi
