#!/usr/bin/env bash
# Writes docs/configuration.md from the daemons' own key tables (netdractl config-reference), so
# the reference can never drift from the code. `--check BUILD_DIR` fails when it is stale.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=write
if [ "${1:-}" = "--check" ]; then mode=check; shift; fi
build=${1:-$root/build/gcc}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
{
  cat <<'HDR'
# Configuration reference

Both daemons read the same kinds of sources, in this order of precedence: built-in defaults <
the YAML file given with `--config` < environment variables < command-line flags. Unknown keys
and wrong types are errors that name the file, line and key; check a file before deploying it
with `netdractl validate --kind controller|node-plugin FILE`. Durations are written like `500ms`,
`15s`, `2m`, `1h`; lists in YAML are sequences, in flags and variables comma-separated.
This page is generated from the key tables in the code (`scripts/gen-config-doc.sh`).

## netdra-controller

HDR
  "$build/controller/netdractl" config-reference controller
  printf '\n## netdra-node-plugin\n\n'
  "$build/controller/netdractl" config-reference node-plugin
  cat <<'FTR'

## Logging (both daemons)

`logFormat: text` (default) writes `ts=... level=... component=... event=... key=value` lines;
`logFormat: json` writes one JSON object per line with the same fields. Credentials never appear
in logs.
FTR
} >"$out"
if [ "$mode" = check ]; then
  diff -u "$root/docs/configuration.md" "$out" >/dev/null || { echo "docs/configuration.md is stale: run scripts/gen-config-doc.sh"; exit 1; }
  echo "docs/configuration.md is current"
else
  cp "$out" "$root/docs/configuration.md"
fi
