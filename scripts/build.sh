#!/bin/sh
# Configures and builds into build/ (Ninja, RelWithDebInfo).
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build
