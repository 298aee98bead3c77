#!/usr/bin/env bash
# Installs every Debian package that netdra's build, tests, demo and benchmarks need.
# Safe to run again: apt-get skips what is already there. Runs as root on Debian 12.
set -euo pipefail
PKGS=(
  # build
  build-essential cmake pkg-config clang llvm libclang-rt-14-dev git ca-certificates
  libcurl4-openssl-dev libjansson-dev libmosquitto-dev libprotobuf-c-dev protobuf-c-compiler
  libyaml-dev libcmocka-dev libnghttp2-dev libavahi-core-dev libssl-dev
  # real peers used by the tests
  mosquitto mosquitto-clients openssl
  python3 python3-grpcio python3-grpc-tools python3-jsonschema python3-yaml python3-zeroconf
  avahi-utils iproute2 procps psmisc curl
  podman crun runc busybox-static
  # checks
  valgrind yamllint unzip strace
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
