#!/bin/sh
# One command: install the dependencies, build sworn, and run a demo container
# whose rootfs is made here from Debian's busybox-static.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh
demo=$(mktemp -d /tmp/sworn-demo.XXXXXX)
trap 'rm -rf "$demo"' EXIT
sh tests/rootfs/make-rootfs.sh "$demo/rootfs" >/dev/null
./build/sworn spec --bundle "$demo"
python3 - "$demo/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c", "echo \"hello from $(hostname): pid $$, uid $(id -u), $(wc -l < /proc/self/mountinfo) mounts\""]
c["linux"]["cgroupsPath"] = "/sworn-demo/demo"
json.dump(c, open(p, "w"), indent=2)
PY
echo "--- sworn run demo ---"
./build/sworn --root "$demo/state" run --bundle "$demo" demo < /dev/null
for d in /sys/fs/cgroup/*/sworn-demo; do rmdir "$d" 2>/dev/null || true; done
echo "--- nomad-driver-sworn demo (a Nomad 1.6 client harness drives the plugin) ---"
/usr/bin/python3 tests/nomad/demo.py build/nomad-driver-sworn build/sworn
