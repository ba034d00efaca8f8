#!/bin/sh
# Guest side of the Nomad lane (run-nomad-lane.sh): loads virtio-blk from
# the modules passed as FILES, mounts the harness image (/dev/vda, built by
# make-nomad-image.sh) and runs tests/nomad/test_driver.py in a chroot on it,
# against the real plugin on pure cgroup v2: Nomad 1.6's task scope and the
# 1.7+ share/reserve layout (reserved cores checked from inside the task and
# from cpuset.cpus, a shared task following share.slice live).
# SWORN_NOMAD_SELECT: -k selections, space separated (default below).
files=${SWORN_VM_FILES:-/opt/sworn-test/files}
[ -f "$files/select.env" ] && . "$files/select.env"
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk; do
    [ -f "$files/$m.ko" ] && { insmod "$files/$m.ko" || echo "nomad: insmod $m failed"; }
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/vda ] || { echo "FAIL nomad/disk: no /dev/vda (virtio modules: $(ls "$files"))"; exit 1; }
u=/nomad
mkdir -p $u
mount -t ext4 /dev/vda $u || { echo "FAIL nomad/disk: cannot mount /dev/vda"; exit 1; }
mount -t proc proc $u/proc
mount --rbind /sys $u/sys
mount --rbind /dev $u/dev
mount -t tmpfs -o mode=1777 tmpfs $u/tmp
mount -t tmpfs -o mode=0755 tmpfs $u/run
echo "nomad: $(nproc) cpus, cgroup2 subtree $(cat /sys/fs/cgroup/cgroup.subtree_control)"
rc=0
for sel in ${SWORN_NOMAD_SELECT:-v1 nomad_scope}; do
    echo "nomad: test_driver.py -k $sel"
    chroot $u /usr/bin/python3 /work/tests/nomad/test_driver.py --plugin /work/build/nomad-driver-sworn \
        --sworn /work/build/sworn --proto-dir /work/schemas/proto -k "$sel" || rc=1
done
if [ "${SWORN_NOMAD_BENCH:-0}" = 1 ]; then
    echo "nomad: bench/nomad_driver.py"
    chroot $u /usr/bin/python3 /work/bench/nomad_driver.py --plugin /work/build/nomad-driver-sworn \
        --sworn /work/build/sworn --proto-dir /work/schemas/proto --iterations "${SWORN_NOMAD_BENCH_N:-10}" \
        --tasks "${SWORN_NOMAD_BENCH_TASKS:-50}" || rc=1
fi
left=$(find /sys/fs/cgroup -mindepth 1 -type d -name 'sworn-nomadtest-*' | head -5)
[ -z "$left" ] || { echo "FAIL nomad/cleanup: cgroups left: $left"; rc=1; }
exit $rc
