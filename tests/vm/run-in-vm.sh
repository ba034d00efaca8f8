#!/bin/bash
# run-in-vm.sh [--kernel VMLINUZ] [--timeout S] [--keep] -- GUEST_SCRIPT [FILES...]
#
# Boots Debian's cloud kernel under qemu (TCG, no KVM needed) on an initramfs that
# holds busybox-static, sworn, sworn-probe, a minimal test rootfs, runc and crun (as
# controls, when the host has them), GUEST_SCRIPT and FILES; runs GUEST_SCRIPT there
# with cgroup2 as the only hierarchy, streams the serial console to stdout and exits
# with GUEST_SCRIPT's exit status (read from the guest's `SWORN-VM-EXIT=<n>` line).
# Exits 124 on timeout and 125 when the guest ended without the marker line.
#
# In the guest: GUEST_SCRIPT runs as /opt/sworn-test/guest.sh (busybox sh), FILES are
# in /opt/sworn-test/files, the test rootfs is /opt/sworn-test/rootfs, sworn, runc and
# crun are on PATH, the cgroup2 root has +cpu +memory +io +pids +cpuset +hugetlb in its
# cgroup.subtree_control. $SWORN_VM_* describe the layout.
#
# Environment: SWORN (default build/sworn), SWORN_PROBE (default build/sworn-probe),
# SWORN_VM_CACHE (default build/vm-cache: the kernel, see fetch-kernel.sh),
# SWORN_VM_CONTROLS=0 leaves runc and crun out, QEMU_EXTRA (extra qemu arguments).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

kernel=
timeout_s=600
keep=
usage() {
    echo "usage: $0 [--kernel VMLINUZ] [--timeout S] [--keep] -- GUEST_SCRIPT [FILES...]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
        --kernel) kernel=${2:?}; shift 2 ;;
        --kernel=*) kernel=${1#*=}; shift ;;
        --timeout) timeout_s=${2:?}; shift 2 ;;
        --timeout=*) timeout_s=${1#*=}; shift ;;
        --keep) keep=1; shift ;;
        --) shift; break ;;
        -h|--help) usage ;;
        -*) usage ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || usage
guest_script=$1; shift
[ -f "$guest_script" ] || { echo "$0: no guest script $guest_script" >&2; exit 2; }

sworn=${SWORN:-$repo/build/sworn}
probe=${SWORN_PROBE:-$repo/build/sworn-probe}
cache=${SWORN_VM_CACHE:-$repo/build/vm-cache}
[ -x "$sworn" ] || { echo "$0: sworn binary $sworn not found (ninja -C build sworn)" >&2; exit 2; }
[ -x "$probe" ] || { echo "$0: probe $probe not found (ninja -C build sworn-probe)" >&2; exit 2; }
if [ -z "$kernel" ]; then
    kernel=$("$here/fetch-kernel.sh" "$cache")
fi
[ -f "$kernel" ] || { echo "$0: kernel $kernel not found" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "$0: qemu-system-x86_64 missing (fetch-kernel.sh installs it)" >&2; exit 2; }
command -v cpio >/dev/null || { echo "$0: cpio missing (fetch-kernel.sh installs it)" >&2; exit 2; }
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "$0: $busybox missing (apt-get install busybox-static)" >&2; exit 2; }

mkdir -p "$cache"
work=$(mktemp -d "$cache/run.XXXXXX")
cleanup() { [ -n "$keep" ] && echo "run-in-vm: kept $work" >&2 || rm -rf "$work"; }
trap cleanup EXIT

t0=$(date +%s.%N)
img=$work/img
mkdir -p "$img"/{bin,dev,proc,sys,tmp,run,root,etc,usr/bin,lib64,lib/x86_64-linux-gnu,opt/sworn-test/files,newroot}
ln -s bin "$img/sbin"
ln -s ../bin "$img/usr/sbin"
chmod 1777 "$img/tmp"

cp "$busybox" "$img/bin/busybox"
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$img/bin/$applet"
done
mknod -m 600 "$img/dev/console" c 5 1
mknod -m 666 "$img/dev/null" c 1 3

# Copies a dynamically linked binary (stripped) plus its loader and libraries.
add_binary() {
    local src=$1 dst=$2 lib
    strip -o "$img$dst" "$src" 2>/dev/null || cp "$src" "$img$dst"
    chmod 755 "$img$dst"
    for lib in $(ldd "$src" 2>/dev/null | grep -o '/[^ ]*'); do
        [ -e "$img$lib" ] && continue
        mkdir -p "$img$(dirname "$lib")"
        cp -L "$lib" "$img$lib"
    done
}
add_binary "$sworn" /usr/bin/sworn
strip -o "$img/usr/bin/sworn-probe" "$probe" 2>/dev/null || cp "$probe" "$img/usr/bin/sworn-probe"
controls=
if [ "${SWORN_VM_CONTROLS:-1}" != 0 ]; then
    for rt in runc crun; do
        p=$(command -v "$rt" 2>/dev/null) || continue
        add_binary "$p" "/usr/bin/$rt"
        controls="$controls $rt"
    done
fi

# SWORN_VM_SYSTEMD=1: systemd (this host's) boots as PID 1 and runs the
# guest script from a unit, for the --systemd-cgroup lane.
systemd_mode=${SWORN_VM_SYSTEMD:-0}
systemd_append=
if [ "$systemd_mode" = 1 ]; then
    systemd_append=" systemd.unit=sworn-test.service systemd.show_status=0"
    mkdir -p "$img/lib/systemd"
    add_binary /lib/systemd/systemd /lib/systemd/systemd
    for b in systemctl systemd-run; do add_binary "$(command -v $b)" "/usr/bin/$b"; done
    mkdir -p "$img/etc/systemd/system" "$img/lib/systemd/system"
    : > "$img/etc/machine-id"
    cp /etc/os-release "$img/etc/os-release" 2>/dev/null || true
    cat > "$img/etc/systemd/system/sworn-test.service" <<'UNIT'
[Unit]
Description=sworn VM lane
DefaultDependencies=no
[Service]
Type=oneshot
ExecStart=/bin/sh /init2
UNIT
fi

# SWORN_VM_ENGINES=1 (with SWORN_VM_SYSTEMD=1): podman, conmon and containerd
# with ctr and its runc shim, for guest-engines.sh.
if [ "${SWORN_VM_ENGINES:-0}" = 1 ]; then
    for b in podman conmon containerd ctr containerd-shim-runc-v2; do
        p=$(command -v $b) || { echo "$0: $b not installed" >&2; exit 2; }
        add_binary "$p" "/usr/bin/$b"
    done
    mkdir -p "$img/etc/containers" "$img/var/lib" "$img/var/tmp"
    cp /etc/containers/policy.json "$img/etc/containers/"
fi

BUSYBOX=$busybox sh "$repo/tests/rootfs/make-rootfs.sh" "$img/opt/sworn-test/rootfs" "$img/usr/bin/sworn-probe"
cp "$guest_script" "$img/opt/sworn-test/guest.sh"
chmod 755 "$img/opt/sworn-test/guest.sh"
for f in "$@"; do
    cp -a "$f" "$img/opt/sworn-test/files/"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$img/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$img/etc/group"

# Stage 1: the initramfs rootfs cannot be pivot_root'ed (an OCI runtime needs that),
# so copy everything into a tmpfs and switch_root into it.
cat > "$img/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t tmpfs -o mode=0755 tmpfs /newroot || { echo "init: mount tmpfs failed"; exec /bin/busybox poweroff -f; }
for f in /*; do
    case $f in /newroot|/proc|/sys|/dev) /bin/busybox mkdir -p "/newroot$f" ;; *) /bin/busybox cp -a "$f" /newroot/ ;; esac
done
[ -x /lib/systemd/systemd ] && exec /bin/busybox switch_root /newroot /lib/systemd/systemd
exec /bin/busybox switch_root /newroot /init2
echo "init: switch_root failed"
exec /bin/busybox poweroff -f
INIT

# Stage 2: pid 1 on the tmpfs root.
cat > "$img/init2" <<'INIT2'
#!/bin/sh
export PATH=/usr/bin:/bin:/sbin:/usr/sbin HOME=/root
if [ "$$" != 1 ]; then
    # Run by systemd (SWORN_VM_SYSTEMD=1), which mounted everything.
    exec </dev/console >/dev/console 2>&1
    export SWORN_VM=1 SWORN_VM_DIR=/opt/sworn-test SWORN_VM_FILES=/opt/sworn-test/files SWORN_VM_ROOTFS=/opt/sworn-test/rootfs
    . /opt/sworn-test/env
    grep -q " /tmp " /proc/mounts || mount -t tmpfs -o mode=1777 tmpfs /tmp
    echo "vm: kernel $(uname -r), systemd $(systemctl --version | head -1), up $(cut -d' ' -f1 /proc/uptime)s"
    cd /opt/sworn-test
    sh /opt/sworn-test/guest.sh
    rc=$?
    echo "SWORN-VM-EXIT=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
    sync
    poweroff -f
fi
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
exec </dev/console >/dev/console 2>&1
if ! echo "+cpu +memory +io +pids +cpuset +hugetlb" > /sys/fs/cgroup/cgroup.subtree_control; then
    for c in cpu memory io pids cpuset hugetlb; do
        echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || echo "vm: cannot enable $c"
    done
fi
hostname sworn-vm
ip link set lo up 2>/dev/null
export SWORN_VM=1 SWORN_VM_DIR=/opt/sworn-test SWORN_VM_FILES=/opt/sworn-test/files SWORN_VM_ROOTFS=/opt/sworn-test/rootfs
. /opt/sworn-test/env
echo "vm: kernel $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control), up $(cut -d' ' -f1 /proc/uptime)s"
cd /opt/sworn-test
sh /opt/sworn-test/guest.sh
rc=$?
echo "SWORN-VM-EXIT=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
sync
poweroff -f
INIT2
chmod 755 "$img/init" "$img/init2"
echo "export SWORN_VM_CONTROLS='${controls# }'" > "$img/opt/sworn-test/env"

initrd=$work/initrd.cpio
(cd "$img" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 > "$initrd")
t1=$(date +%s.%N)
echo "run-in-vm: initramfs $(du -h "$initrd" | cut -f1) built in $(echo "$t1 $t0" | awk '{printf "%.1f", $1-$2}')s; kernel $(basename "$kernel"); controls:${controls:- none}" >&2

log=$work/console.log
set +e
# stdin from /dev/null: -nographic would otherwise put a terminal into raw mode.
timeout -k 10 "$timeout_s" qemu-system-x86_64 -accel tcg -smp 2 -m 1G -nographic -no-reboot \
    -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 quiet panic=-1 lsm=landlock,lockdown,yama,apparmor,bpf$systemd_append" \
    ${QEMU_EXTRA:-} </dev/null 2>&1 | tr -d '\r' | tee "$log"
qrc=${PIPESTATUS[0]}
set -e
t2=$(date +%s.%N)
secs=$(echo "$t2 $t1" | awk '{printf "%.1f", $1-$2}')

marker=$(sed -n 's/.*SWORN-VM-EXIT=\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    echo "run-in-vm: TIMEOUT after ${timeout_s}s (qemu killed)${marker:+, guest exit $marker}" >&2
    exit 124
fi
if [ -z "$marker" ]; then
    echo "run-in-vm: guest ended without a SWORN-VM-EXIT line (qemu exit $qrc) after ${secs}s" >&2
    exit 125
fi
echo "run-in-vm: guest script exit $marker; qemu start to exit ${secs}s" >&2
exit "$marker"
