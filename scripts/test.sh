#!/bin/sh
# One command: install the dependencies, build, and run every test (ctest).
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh
cd build
ctest --output-on-failure --timeout 1200 "$@"
