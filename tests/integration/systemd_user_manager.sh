#!/bin/sh
# systemd_user_manager.sh DIR CGNAME CMD...  -- runs CMD next to a real systemd
# (a user manager, `systemd --user`) on a host that was not booted with
# systemd, for the --systemd-cgroup cases: in a private mount namespace
# (made by the caller: unshare -m) /run/systemd gets a tmpfs with
# /run/systemd/system in it (systemd and sworn then believe systemd runs),
# the manager is started in its own cgroup CGNAME (cgroup2 and name=systemd)
# with XDG_RUNTIME_DIR=DIR/run, and its private socket is linked to
# /run/systemd/private, where CMD's runtimes find a system manager's. The
# manager is stopped after CMD; CMD's status is the script's. The caller
# removes CGNAME's cgroups.
set -eu
dir=$1 cg=$2
shift 2
mount --make-rprivate /
mount -t tmpfs tmpfs /run/systemd
mkdir /run/systemd/system
mkdir -p "$dir/run"
chmod 700 "$dir/run"
for h in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd /sys/fs/cgroup; do
    [ -e "$h/cgroup.procs" ] && mkdir -p "$h/$cg"
done
export XDG_RUNTIME_DIR="$dir/run" HOME="$dir"
sh -c 'for h in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd /sys/fs/cgroup; do
           [ -d "$h/$1" ] && echo $$ > "$h/$1/cgroup.procs"; done
       exec /lib/systemd/systemd --user' sh "$cg" > "$dir/manager.log" 2>&1 &
mgr=$!
# Ready once it answers (its very first private connection may go unanswered).
i=0
until timeout 3 systemctl --user show -p Version >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 10 ] || { echo "systemd --user did not come up: $(tail -3 "$dir/manager.log")" >&2; kill $mgr 2>/dev/null; exit 125; }
    sleep 0.3
done
# Where a system manager's private socket is: sworn (as root) and runc
# connect there by default.
ln -s "$dir/run/systemd/private" /run/systemd/private
set +e
"$@"
rc=$?
kill $mgr 2>/dev/null
wait $mgr 2>/dev/null
exit $rc
