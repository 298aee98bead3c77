#!/usr/bin/env bash
# run_fuzzer.sh FUZZER CORPUS SECONDS: fuzz a temporary copy of the seed corpus for a bounded
# time (the seed corpus in the source tree is never written). Fails on any crash, leak,
# timeout or memory blow-up the fuzzer reports; the reproducer is kept in the artifact dir
# printed on failure.
set -euo pipefail
fuzzer=$1 corpus=$2 seconds=$3
[ -x "$fuzzer" ] || { echo "run_fuzzer.sh: $fuzzer is not executable" >&2; exit 1; }
[ -d "$corpus" ] && [ -n "$(ls -A "$corpus")" ] || { echo "run_fuzzer.sh: empty corpus $corpus" >&2; exit 1; }
work=$(mktemp -d)
artifacts=$(mktemp -d)
cleanup() { rm -rf "$work"; if [ "${keep:-0}" = 0 ]; then rm -rf "$artifacts"; fi; }
trap cleanup EXIT
cp -r "$corpus"/. "$work"/
keep=1
"$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$artifacts"/ "$work" || { echo "run_fuzzer.sh: failure, reproducer in $artifacts" >&2; exit 1; }
keep=0
