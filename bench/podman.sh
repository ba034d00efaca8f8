#!/bin/sh
# podman run --rm localhost/busybox true under sworn, runc and crun, side by
# side (crun behind the hybrid-cgroup wrapper the script generates), N runs
# each: medians and ratios. Uses the podman suite's isolated configuration.
set -eu
cd "$(dirname "$0")/.."
exec python3 tests/tools/podman_test.py --sworn "$(pwd)/build/sworn" --runtimes runc,sworn,crun --only true --bench "${1:-10}"
