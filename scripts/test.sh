#!/usr/bin/env bash
# The test command: installs what is missing, builds netdra twice (gcc, and clang with
# ASan+UBSan) and runs every test in both builds with ctest. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
jobs=$(nproc)
status=0
run_suite() { # name, build dir, cmake args...
  local name=$1 dir=$2
  shift 2
  echo "=== $name: configure and build in $dir"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug "$@" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j"$jobs"
  echo "=== $name: ctest"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" ${NETDRA_CTEST_ARGS:-})
}
mkdir -p build
run_suite "gcc" build/gcc || status=1
run_suite "asan+ubsan" build/asan -DCMAKE_C_COMPILER=clang -DNETDRA_SANITIZE=ON -DNETDRA_FUZZ=ON || status=1
if [ $status -ne 0 ]; then echo "test.sh: FAILED"; else echo "test.sh: all suites passed"; fi
exit $status
