#!/bin/sh
# Configures and builds into build/ (Ninja, MinSizeRel: -Os, dead sections dropped).
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=MinSizeRel >/dev/null
ninja -C build
