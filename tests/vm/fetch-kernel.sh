#!/bin/sh
# fetch-kernel.sh [CACHE_DIR] -- make Debian's cloud kernel (linux-image-cloud-amd64,
# 6.1 on Debian 12) available for the cgroup-v2 VM lane, and print the path of its vmlinuz.
#
# Idempotent. Installs qemu-system-x86 and cpio if missing (no recommends), downloads the
# kernel package with `apt-get download` into CACHE_DIR and unpacks it there with
# `dpkg-deb -x`. Never touches /boot and never runs initramfs-tools.
# Everything but the final vmlinuz path goes to stderr.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${1:-$here/../../build/vm-cache}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

log() { echo "fetch-kernel: $*" >&2; }

need_pkgs=
command -v qemu-system-x86_64 >/dev/null 2>&1 || need_pkgs="$need_pkgs qemu-system-x86"
command -v cpio >/dev/null 2>&1 || need_pkgs="$need_pkgs cpio"
# The initramfs and the test rootfs are built from the static busybox.
dpkg -s busybox-static >/dev/null 2>&1 || need_pkgs="$need_pkgs busybox-static"

apt_updated=
apt_update() {
    [ -n "$apt_updated" ] && return 0
    log "apt-get update"
    apt-get update -qq >&2
    apt_updated=1
}

if [ -n "$need_pkgs" ]; then
    log "installing$need_pkgs"
    apt_update
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need_pkgs >&2
fi

# A previous run left a complete unpack: reuse it without asking apt anything.
find_vmlinuz() {
    ls -1 "$cache"/root/boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -n 1
}
stamp=$cache/root/.unpacked
if [ -f "$stamp" ] && [ -z "${SWORN_VM_REFRESH:-}" ]; then
    v=$(find_vmlinuz)
    if [ -n "$v" ] && [ -f "$v" ]; then
        echo "$v"
        exit 0
    fi
fi

# The metapackage's Depends names the versioned image, e.g. linux-image-6.1.0-56-cloud-amd64.
resolve() {
    apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n 1
}
pkg=$(resolve)
if [ -z "$pkg" ]; then
    apt_update
    pkg=$(resolve)
fi
[ -n "$pkg" ] || { log "cannot resolve linux-image-cloud-amd64's kernel package"; exit 1; }
case $pkg in
    linux-image-6.1.*-cloud-amd64) ;;
    *) log "warning: expected a 6.1 cloud kernel, the metapackage depends on $pkg" ;;
esac

deb=$(ls -1 "$cache"/"${pkg}"_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$deb" ]; then
    log "downloading $pkg"
    (cd "$cache" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >&2) || {
        apt_update
        (cd "$cache" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >&2)
    }
    deb=$(ls -1 "$cache"/"${pkg}"_*.deb | sort -V | tail -n 1)
fi

log "unpacking $(basename "$deb")"
rm -rf "$cache/root.tmp"
mkdir -p "$cache/root.tmp"
dpkg-deb -x "$deb" "$cache/root.tmp"
rm -rf "$cache/root"
mv "$cache/root.tmp" "$cache/root"
basename "$deb" > "$stamp"

v=$(find_vmlinuz)
[ -n "$v" ] || { log "no boot/vmlinuz-* in $deb"; exit 1; }
echo "$v"
