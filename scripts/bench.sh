#!/usr/bin/env bash
# Runs every benchmark and prints one table (each figure beside a physical limit measured in
# the same run). Installs what is missing and builds a release tree in build/bench first.
# `scripts/bench.sh --quick` is a shorter run; `--markdown FILE` also writes the table.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh >/dev/null
cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNETDRA_TESTS=OFF >/dev/null
cmake --build build/bench -j"$(nproc)" >/dev/null
exec /usr/bin/python3 bench/run_all.py --build "$PWD/build/bench" --source "$PWD" "$@"
