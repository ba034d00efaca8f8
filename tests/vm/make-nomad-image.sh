#!/bin/bash
# Builds an ext4 image (mke2fs -d, no mount, no root needed) holding what
# the Nomad-client harness (tests/nomad) needs inside the cgroup-v2 guest:
# the host's python3 with grpc and protobuf, protoc and the well-known
# .proto files, nomad-driver-sworn and sworn with their libraries, busybox
# for the tasks' /bin/sh, the harness and schemas/proto. Debian's cloud
# kernel has no 9p (and Debian 12 no virtiofsd), so the guest gets this as
# a virtio disk; guest-nomad.sh chroots into it.
#
#   tests/vm/make-nomad-image.sh OUT.ext4 [PLUGIN] [SWORN]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:?usage: $0 OUT.ext4 [PLUGIN] [SWORN]}
plugin=${2:-$repo/build/nomad-driver-sworn}
sworn=${3:-$repo/build/sworn}
python=$(readlink -f /usr/bin/python3)
pyver=$(basename "$python")   # python3.11
for f in "$plugin" "$sworn" "$python" /usr/bin/protoc /bin/busybox; do
    [ -x "$f" ] || { echo "$0: $f missing" >&2; exit 2; }
done
command -v mke2fs >/dev/null || { echo "$0: mke2fs missing (e2fsprogs)" >&2; exit 2; }

stage=$(mktemp -d "${TMPDIR:-/tmp}/sworn-nomad-image.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib/x86_64-linux-gnu,usr/lib64,usr/include,etc,tmp,proc,sys,dev,run,root,work/build}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$stage/$d"; done
mkdir -p "$stage/var" && ln -s ../run "$stage/var/run"
chmod 1777 "$stage/tmp"

# A file and, for ELF files, the libraries ldd names (at their /usr path:
# merged /usr, so /lib/x86_64-linux-gnu is usr/lib/x86_64-linux-gnu).
add() {
    local src=$1 dst=${2:-$1} lib
    dst=${dst#/}; dst=usr/${dst#usr/}
    mkdir -p "$stage/$(dirname "$dst")"
    [ -e "$stage/$dst" ] || cp -L "$src" "$stage/$dst"
    for lib in $(ldd "$src" 2>/dev/null | grep -o '/[^ ]*' || true); do
        local l=${lib#/}; l=usr/${l#usr/}
        [ -e "$stage/$l" ] && continue
        mkdir -p "$stage/$(dirname "$l")"
        cp -L "$lib" "$stage/$l"
    done
}

cp /bin/busybox "$stage/usr/bin/busybox"
for applet in $(/bin/busybox --list); do
    [ -e "$stage/usr/bin/$applet" ] || ln -s busybox "$stage/usr/bin/$applet"
done
add "$python" "/usr/bin/$pyver"
ln -sf "$pyver" "$stage/usr/bin/python3"
add /usr/bin/protoc
cp -a /usr/include/google "$stage/usr/include/"
cp -a "/usr/lib/$pyver" "$stage/usr/lib/"
rm -rf "$stage/usr/lib/$pyver"/{test,idlelib,tkinter,turtledemo,ensurepip}
mkdir -p "$stage/usr/lib/python3/dist-packages"
for p in grpc google grpcio* protobuf*; do
    for m in /usr/lib/python3/dist-packages/$p; do
        [ -e "$m" ] && cp -a "$m" "$stage/usr/lib/python3/dist-packages/"
    done
done
find "$stage/usr/lib/$pyver/lib-dynload" "$stage/usr/lib/python3/dist-packages" -name '*.so' | while read -r so; do
    for lib in $(ldd "$so" 2>/dev/null | grep -o '/[^ ]*' || true); do
        l=${lib#/}; l=usr/${l#usr/}
        [ -e "$stage/$l" ] || { mkdir -p "$stage/$(dirname "$l")"; cp -L "$lib" "$stage/$l"; }
    done
done
add "$plugin" /work/build/nomad-driver-sworn
add "$sworn" /work/build/sworn
# the image's own paths: /work/build/... is not below /usr
mv "$stage/usr/work/build/"* "$stage/work/build/" && rm -rf "$stage/usr/work"
mkdir -p "$stage/work/tests" "$stage/work/schemas"
cp -a "$repo/tests/nomad" "$repo/tests/verdicts.py" "$stage/work/tests/"
cp -a "$repo/schemas/proto" "$stage/work/schemas/"
mkdir -p "$stage/work/bench" "$stage/work/conformance"   # bench/nomad_driver.py (SWORN_NOMAD_BENCH=1)
cp "$repo/bench/nomad_driver.py" "$stage/work/bench/"
cp "$repo/conformance/harness.py" "$repo/conformance/views.py" "$stage/work/conformance/" 2>/dev/null || true
find "$stage/work" -name __pycache__ -prune -exec rm -rf {} +
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$stage/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$stage/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files\n' > "$stage/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n' > "$stage/etc/hosts"
: > "$stage/etc/resolv.conf"

size=$(du -sm "$stage" | cut -f1)
rm -f "$out"
mke2fs -q -t ext4 -L sworn-nomad -d "$stage" "$out" "$((size + size / 2 + 64))M"
echo "make-nomad-image: $out (${size} MB of files)" >&2
