#!/bin/sh
# guest-engines.sh: podman (cgroup_manager "systemd") and containerd (the
# runc shim with SystemdCgroup, ctr --runc-systemd-cgroup) where systemd is
# PID 1 (run-in-vm.sh with SWORN_VM_SYSTEMD=1 SWORN_VM_ENGINES=1), each
# driving sworn and runc (the control) through --runc-binary/--runtime:
# the container's scope with the limits as unit properties, the limits seen
# inside, exec in the scope, stop/delete removing the scope. Both engines run
# from the test rootfs directory (podman --rootfs, ctr run --rootfs): no image.
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
expect() { if [ "$2" = "$3" ]; then ok "$1"; else ko "$1" "got '$2', want '$3'"; fi; }
rootfs=$SWORN_VM_ROOTFS

pc=/tmp/podman
mkdir -p $pc
cat > $pc/containers.conf <<CONF
[containers]
netns = "none"
[engine]
cgroup_manager = "systemd"
events_logger = "file"
events_logfile_path = "$pc/events.log"
tmp_dir = "$pc/tmp"
CONF
printf '[storage]\ndriver = "vfs"\ngraphroot = "%s/root"\nrunroot = "/run/podman-rr"\n' $pc > $pc/storage.conf
export CONTAINERS_CONF=$pc/containers.conf CONTAINERS_STORAGE_CONF=$pc/storage.conf
for rt in sworn $SWORN_VM_CONTROLS; do
    [ "$rt" = crun ] && continue
    pod="podman --runtime /usr/bin/$rt --cgroup-manager systemd"
    out=$($pod run --rm --memory 64m --pids-limit 44 --rootfs $rootfs sh -c \
        'echo $(cat /sys/fs/cgroup/memory.max) $(cat /sys/fs/cgroup/pids.max); exit 7' 2>/tmp/pod-$rt.err)
    rc=$?
    expect "podman/$rt/run-rm-exit" "$rc" 7
    expect "podman/$rt/run-rm-limits-inside" "$out" "67108864 44"
    [ $rc = 7 ] || echo "podman/$rt: $(tail -5 /tmp/pod-$rt.err)"
    cid=$($pod run -d --memory 64m --pids-limit 44 --rootfs $rootfs sleep 100 2>/tmp/pod-$rt.err)
    expect "podman/$rt/run-d" "$?" 0
    [ -n "$cid" ] || { echo "podman/$rt: $(tail -5 /tmp/pod-$rt.err)"; continue; }
    unit=libpod-$cid.scope
    expect "podman/$rt/scope-active" "$(systemctl show -p ActiveState --value $unit)" active
    expect "podman/$rt/unit-MemoryMax" "$(systemctl show -p MemoryMax --value $unit)" 67108864
    expect "podman/$rt/unit-TasksMax" "$(systemctl show -p TasksMax --value $unit)" 44
    expect "podman/$rt/exec-in-scope" "$($pod exec $cid cat /proc/self/cgroup 2>&1)" "0::/"
    expect "podman/$rt/exec-sees-limit" "$($pod exec $cid cat /sys/fs/cgroup/pids.max 2>&1)" 44
    cg=$(systemctl show -p ControlGroup --value $unit)
    expect "podman/$rt/memory.max" "$(cat /sys/fs/cgroup$cg/memory.max 2>&1)" 67108864
    $pod stop -t 1 $cid >/tmp/pod-$rt.err 2>&1
    expect "podman/$rt/stop" "$?" 0
    $pod rm $cid >/tmp/pod-$rt.err 2>&1
    expect "podman/$rt/rm" "$?" 0
    expect "podman/$rt/scope-gone" "$(systemctl show -p LoadState --value $unit)" not-found
done

cd=/tmp/ctd
mkdir -p $cd /run/ctd
containerd --root $cd/root --state /run/ctd --address /run/ctd/sock >$cd/log 2>&1 &
ctd_pid=$!
for i in $(seq 100); do [ -S /run/ctd/sock ] && break; sleep 0.2; done
ctr="ctr --address /run/ctd/sock"
for rt in sworn $SWORN_VM_CONTROLS; do
    [ "$rt" = crun ] && continue
    id=ctr-$rt unit=ctr-$rt.scope
    $ctr run -d --rootfs --runc-binary /usr/bin/$rt --runc-systemd-cgroup --cgroup system.slice:ctr:$rt \
        --memory-limit 67108864 --env PATH=/bin $rootfs $id /bin/sleep 100 >/tmp/ctr-$rt.err 2>&1
    rc=$?
    expect "containerd/$rt/run-d" $rc 0
    [ $rc = 0 ] || { echo "containerd/$rt: $(tail -5 /tmp/ctr-$rt.err) $(tail -5 $cd/log)"; continue; }
    expect "containerd/$rt/scope-active" "$(systemctl show -p ActiveState --value $unit)" active
    expect "containerd/$rt/unit-MemoryMax" "$(systemctl show -p MemoryMax --value $unit)" 67108864
    expect "containerd/$rt/memory.max" "$(cat /sys/fs/cgroup/system.slice/$unit/memory.max 2>&1)" 67108864
    expect "containerd/$rt/exec-in-scope" \
        "$($ctr task exec --exec-id e1 $id /bin/cat /proc/self/cgroup 2>&1)" "0::/system.slice/$unit"
    $ctr task kill -s KILL $id >/dev/null 2>&1
    for i in $(seq 50); do $ctr task ls | grep -q "^$id .*STOPPED" && break; sleep 0.2; done
    $ctr task delete $id >/tmp/ctr-$rt.err 2>&1
    expect "containerd/$rt/task-delete" "$?" 0
    $ctr container delete $id >/dev/null 2>&1
    expect "containerd/$rt/scope-gone" "$(systemctl show -p LoadState --value $unit)" not-found
done
kill $ctd_pid 2>/dev/null
wait $ctd_pid 2>/dev/null
echo "$pass passed, $fail failed"
[ $fail = 0 ]
