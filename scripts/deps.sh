#!/bin/sh
# Installs the Debian 12 packages sworn builds, tests and benchmarks with.
set -eu
PKGS="build-essential cmake ninja-build pkg-config python3 time
  nlohmann-json3-dev libseccomp-dev libcap-dev libboost-program-options-dev catch2
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev
  busybox-static runc crun strace golang-github-opencontainers-specs-dev
  containerd qemu-system-x86 cpio
  podman conmon fuse-overlayfs slirp4netns uidmap golang-github-containers-common
  containernetworking-plugins catatonit iproute2
  python3-jsonschema python3-grpcio golang-go golang-github-hashicorp-go-plugin-dev
  golang-google-grpc-dev golang-golang-x-net-dev golang-github-golang-protobuf-1-5-dev
  golang-google-protobuf-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
