#!/bin/sh
# ctest `goplugin`: builds main.go (offline, GOPATH mode, against Debian's
# packaged Go sources) and runs it against the plugin binary given as $1.
# Usage: run.sh /path/to/nomad-driver-sworn /path/to/work-dir
set -eu
plugin=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
gocode=/usr/share/gocode
src=$gocode/src

if ! command -v go >/dev/null 2>&1; then
  echo "FAIL: goplugin: 'go' not found; install golang-go (scripts/deps.sh does)"
  exit 1
fi
# Debian packages holding the Go sources the test client builds from.
for need in \
  github.com/hashicorp/go-plugin:golang-github-hashicorp-go-plugin-dev \
  google.golang.org/grpc:golang-google-grpc-dev \
  golang.org/x/net/context:golang-golang-x-net-dev \
  github.com/golang/protobuf/proto:golang-github-golang-protobuf-1-5-dev \
  google.golang.org/protobuf/encoding/protowire:golang-google-protobuf-dev; do
  dir=${need%%:*}
  pkg=${need#*:}
  if [ ! -d "$src/$dir" ]; then
    echo "FAIL: goplugin: Go sources $src/$dir missing; install $pkg (scripts/deps.sh does)"
    exit 1
  fi
done
if [ ! -x "$plugin" ]; then
  echo "FAIL: goplugin: plugin binary $plugin missing or not executable (build nomad-driver-sworn first)"
  exit 1
fi

mkdir -p "$work/gopath" "$work/gocache"
echo "goplugin: building the go-plugin test client ($(go version))"
# No network, no modules: everything comes from $src.
env GO111MODULE=off GOPATH="$gocode:$work/gopath" GOCACHE="$work/gocache" \
  GOFLAGS= GOPROXY=off GOENV=off CGO_ENABLED=0 \
  nice go build -o "$work/goplugin-client" "$here/main.go"
exec "$work/goplugin-client" "$plugin"
