#!/bin/sh
# make-rootfs.sh DIR [PROBE] -- build a minimal busybox rootfs in DIR.
# Idempotent, offline. With PROBE (a static binary), copy it to DIR/bin/sworn-probe.
set -eu

usage() { echo "usage: $0 DIR [PROBE-BINARY]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage

dir=$1
probe=${2:-}
busybox=${BUSYBOX:-/bin/busybox}

[ -x "$busybox" ] || { echo "$0: $busybox not found (install busybox-static)" >&2; exit 1; }
if [ -n "$probe" ] && [ ! -f "$probe" ]; then
    echo "$0: probe binary $probe not found" >&2; exit 1
fi

mkdir -p "$dir/bin" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/tmp" "$dir/etc" "$dir/root"
chmod 1777 "$dir/tmp"
chmod 700 "$dir/root"

cp -f "$busybox" "$dir/bin/busybox"
chmod 755 "$dir/bin/busybox"
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] && continue
    ln -sfn busybox "$dir/bin/$applet"
done

cat > "$dir/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/tmp:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD

cat > "$dir/etc/group" <<'GROUP'
root:x:0:
app:x:1000:
extra:x:1001:app
nogroup:x:65534:
GROUP

echo sworn > "$dir/etc/hostname"

if [ -n "$probe" ]; then
    cp -f "$probe" "$dir/bin/sworn-probe"
    chmod 755 "$dir/bin/sworn-probe"
fi
