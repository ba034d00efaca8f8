#!/bin/sh
# guest-systemd.sh: --systemd-cgroup where systemd is PID 1 (run-in-vm.sh
# with SWORN_VM_SYSTEMD=1), sworn and runc (the control) on the same bundle:
# the scope exists with the limits as unit properties and in cgroup2 files,
# the process is in it, delete stops it. One PASS/FAIL line per check.
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
expect() { if [ "$2" = "$3" ]; then ok "$1"; else ko "$1" "got '$2', want '$3'"; fi; }

bundle() {  # bundle DIR CGROUPSPATH ARGS-JSON
    mkdir -p "$1"
    cat > "$1/config.json" <<JSON
{"ociVersion": "1.0.2", "root": {"path": "$SWORN_VM_ROOTFS", "readonly": true}, "hostname": "t",
 "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "cwd": "/", "args": $3,
   "env": ["PATH=/bin:/usr/bin"]},
 "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}],
 "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}],
   "cgroupsPath": "$2",
   "resources": {"memory": {"limit": 67108864}, "pids": {"limit": 55}, "cpu": {"quota": 50000, "period": 100000}}}}
JSON
}

for rt in sworn $SWORN_VM_CONTROLS; do
    [ "$rt" = crun ] && continue
    id=c1 unit=$rt-test-c1.scope
    b=/tmp/b-$rt
    bundle $b "system.slice:$rt-test:c1" '["sh", "-c", "cat /proc/self/cgroup; sleep 100"]'
    # (not in $(...): the container holds the output until it exits)
    (cd $b && $rt --systemd-cgroup --root /run/st-$rt run -d $id >/tmp/run-$rt.log 2>&1 </dev/null)
    rc=$?
    [ $rc = 0 ] && ok "$rt/run-d" || { ko "$rt/run-d" "exit $rc: $(cat /tmp/run-$rt.log)"; continue; }
    expect "$rt/scope-active" "$(systemctl show -p ActiveState --value $unit)" active
    expect "$rt/unit-TasksMax" "$(systemctl show -p TasksMax --value $unit)" 55
    expect "$rt/unit-MemoryMax" "$(systemctl show -p MemoryMax --value $unit)" 67108864
    expect "$rt/unit-CPUQuota" "$(systemctl show -p CPUQuotaPerSecUSec --value $unit)" 500ms
    d=/sys/fs/cgroup/system.slice/$unit
    expect "$rt/memory.max" "$(cat $d/memory.max 2>&1)" 67108864
    expect "$rt/pids.max" "$(cat $d/pids.max 2>&1)" 55
    expect "$rt/cpu.max" "$(cat $d/cpu.max 2>&1)" "50000 100000"
    pid=$($rt --root /run/st-$rt state $id | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' | head -1)
    expect "$rt/init-in-scope" "$(cat /proc/$pid/cgroup 2>&1)" "0::/system.slice/$unit"
    # update: the unit properties change too (SetUnitProperties), not only the files
    $rt --systemd-cgroup --root /run/st-$rt update --pids-limit 33 --memory 100663296 --cpu-quota 20000 $id >/tmp/upd-$rt.log 2>&1
    expect "$rt/update" "$?" 0
    expect "$rt/update-TasksMax" "$(systemctl show -p TasksMax --value $unit)" 33
    expect "$rt/update-MemoryMax" "$(systemctl show -p MemoryMax --value $unit)" 100663296
    expect "$rt/update-CPUQuota" "$(systemctl show -p CPUQuotaPerSecUSec --value $unit)" 200ms
    expect "$rt/update-pids.max" "$(cat $d/pids.max 2>&1)" 33
    expect "$rt/update-memory.max" "$(cat $d/memory.max 2>&1)" 100663296
    expect "$rt/update-cpu.max" "$(cat $d/cpu.max 2>&1)" "20000 100000"
    out=$($rt --systemd-cgroup --root /run/st-$rt delete -f $id 2>&1)
    expect "$rt/delete" "$?" 0
    expect "$rt/scope-gone" "$(systemctl show -p LoadState --value $unit)" not-found
    [ -d $d ] && ko "$rt/cgroup-removed" "$d left" || ok "$rt/cgroup-removed"
done
echo "$pass passed, $fail failed"
[ $fail = 0 ]
