#!/bin/bash
# The Nomad driver on pure cgroup v2: builds the harness image, then boots
# the cgroup-v2 guest (run-in-vm.sh) with it as a virtio disk and runs
# guest-nomad.sh there. Exit status: the guest's.
#
#   tests/vm/run-nomad-lane.sh [--timeout S] [--keep]
#   SWORN_NOMAD_SELECT="v17_reserved" tests/vm/run-nomad-lane.sh   # other -k selections
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${SWORN_VM_CACHE:-$repo/build/vm-cache}
kernel=$("$here/fetch-kernel.sh" "$cache")
moddir=$(dirname "$(dirname "$kernel")")/lib/modules
work=$(mktemp -d "${TMPDIR:-/tmp}/sworn-nomad-lane.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$here/make-nomad-image.sh" "$work/nomad.ext4" "${PLUGIN:-$repo/build/nomad-driver-sworn}" "${SWORN:-$repo/build/sworn}"
mods=()
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk; do
    f=$(find "$moddir" -name "$m.ko" | head -1)
    [ -n "$f" ] || { echo "$0: module $m.ko not in $moddir" >&2; exit 2; }
    mods+=("$f")
done
cat > "$work/select.env" <<EOF
export SWORN_NOMAD_SELECT='${SWORN_NOMAD_SELECT:-}' SWORN_NOMAD_BENCH='${SWORN_NOMAD_BENCH:-0}'
export SWORN_NOMAD_BENCH_N='${SWORN_NOMAD_BENCH_N:-10}' SWORN_NOMAD_BENCH_TASKS='${SWORN_NOMAD_BENCH_TASKS:-50}'
EOF
# The image is a private scratch copy: the guest mounts it read-write. Four
# vCPUs: the reserve partition then holds two allocs' cores (two_cores()).
QEMU_EXTRA="-smp 4 -drive file=$work/nomad.ext4,if=virtio,format=raw ${QEMU_EXTRA:-}" SWORN_VM_CONTROLS=0 \
    "$here/run-in-vm.sh" --kernel "$kernel" "$@" -- "$here/guest-nomad.sh" "${mods[@]}" "$work/select.env"
