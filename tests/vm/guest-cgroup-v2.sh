#!/bin/sh
# guest-cgroup-v2.sh -- runs inside the cgroup-v2 VM (see run-in-vm.sh), under busybox sh.
#
# Asserts what a user sees from sworn on a pure cgroup-v2 host: placement of the
# container in its own cgroup (linux.cgroupsPath, runc-style absolute path), kill --all,
# delete --force, and linux.resources translated to v2 files (memory, pids, cpu, cpuset,
# unified). Runs the same cases under runc (and the basic ones under crun) as controls:
# a control failure means the expectation here is wrong, not sworn.
#
# Output: one `PASS <runtime>/<name>` or `FAIL <runtime>/<name>: <detail>` line per check,
# then `N passed, N failed`; exit status 1 if anything failed.
#
# Environment: SWORN_VM_RUNTIMES (default "sworn runc crun", those present),
# SWORN_VM_ROOTFS (default /opt/sworn-test/rootfs), SWORN_VM_VERBOSE=1 shows outputs.

ROOTFS=${SWORN_VM_ROOTFS:-/opt/sworn-test/rootfs}
CG=/sys/fs/cgroup
WORK=/tmp/cgv2
PREFIX=/sworn-vm
RUNTIMES=${SWORN_VM_RUNTIMES:-sworn runc crun}
mkdir -p "$WORK"

passed=0
failed=0
pass() { echo "PASS $RT/$1${2:+ ($2)}"; passed=$((passed + 1)); }
fail() { echo "FAIL $RT/$1: $2"; failed=$((failed + 1)); }
info() { echo "INFO $RT/$1"; }
verbose() { [ -n "${SWORN_VM_VERBOSE:-}" ] && sed "s/^/    | /" "$1"; return 0; }
# check NAME GOT WANT
check() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi
}
one_line() { tr '\n' ' ' < "$1" | sed 's/ *$//' | cut -c1-400; }

# rt ARGS... -- the runtime under test with its own state root.
rt() {
    case $RT in
        sworn) sworn --root /run/sworn "$@" ;;
        runc) runc --root /run/runc-vm "$@" ;;
        crun) crun --root /run/crun-vm "$@" ;;
    esac
}

# Polls `"$@"` every 0.1 s until it succeeds or $1 seconds (by /proc/uptime) pass.
# TCG is slow: give generous limits.
now() { cut -d. -f1 /proc/uptime; }
wait_for() {
    _end=$(($(now) + $1)); shift
    while ! "$@"; do
        [ "$(now)" -lt "$_end" ] || return 1
        sleep 0.1
    done
}
# cgroup files stat as size 0, so test their content, not `-s`.
has_procs() { grep -q . "$1/cgroup.procs" 2> /dev/null; }
no_procs() { ! grep -q . "$1/cgroup.procs" 2> /dev/null; }
nprocs() { grep -c . "$1/cgroup.procs" 2> /dev/null || echo 0; }
at_least() { [ "$(nprocs "$1")" -ge "$2" ]; }
gone() { [ ! -e "$1" ]; }
exists() { [ -e "$1" ]; }
readf() { if [ -r "$1" ]; then tr '\n' ' ' < "$1" | sed 's/ *$//'; else echo "<no ${1##*/}>"; fi; }

# bundle NAME ARGS_JSON [RESOURCES_JSON] [PIDNS=1]: writes $WORK/$RT-NAME/config.json,
# sets ID, B (bundle dir), CGP (cgroupsPath), CGD (its directory) and SYNC (a host
# directory bind-mounted at /x in the container).
bundle() {
    ID=$RT-$1
    B=$WORK/$ID
    CGP=$PREFIX/$ID
    CGD=$CG$CGP
    SYNC=$B/sync
    rm -rf "$B"
    mkdir -p "$SYNC"
    pidns='{"type": "pid"},'
    [ "${4:-1}" = 1 ] || pidns=
    res=${3:-}
    [ -n "$res" ] && res="\"resources\": $res,"
    cat > "$B/config.json" <<EOF
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": $2,
    "env": ["PATH=/bin:/sbin:/usr/bin", "HOME=/root"],
    "cwd": "/"
  },
  "root": {"path": "$ROOTFS", "readonly": false},
  "hostname": "cgv2",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/x", "type": "bind", "source": "$SYNC", "options": ["rbind", "rw"]}
  ],
  "linux": {
    $res
    "cgroupsPath": "$CGP",
    "namespaces": [$pidns {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]
  }
}
EOF
    mkdir -p "$ROOTFS/x"
}

# Container command prefix: say it runs (so the runtime has applied the resources:
# runc's init joins the cgroup before they are set), then wait for the host's go.
WAIT_GO='touch /x/ready; while [ ! -e /x/go ]; do sleep 0.1; done; '

# start_bg: `run` the bundle in the background; OUT gets its output, RUNPID its pid.
start_bg() {
    OUT=$B/out
    rt run --bundle "$B" "$ID" > "$OUT" 2>&1 < /dev/null &
    RUNPID=$!
}
# finish_bg: wait for the background run; RC is its exit status.
finish_bg() {
    wait "$RUNPID"
    RC=$?
    verbose "$OUT"
}
cleanup() {
    rt delete --force "$ID" > /dev/null 2>&1
    [ -d "$CGD" ] && rmdir "$CGD" 2> /dev/null
    return 0
}

# ---------------------------------------------------------------- basic placement

t_placement() {
    bundle placement '["cat", "/proc/self/cgroup"]'
    out=$WORK/$ID.out
    rt run --bundle "$B" "$ID" > "$out" 2>&1 < /dev/null
    rc=$?
    verbose "$out"
    if [ $rc -ne 0 ]; then
        fail placement_run "run exited $rc: $(one_line "$out")"
        cleanup
        return
    fi
    # Pure v2: exactly one line, 0::<cgroupsPath>.
    check placement_proc_self_cgroup "$(one_line "$out")" "0::$CGP"
    if wait_for 10 gone "$CGD"; then pass run_removes_cgroup; else fail run_removes_cgroup "$CGD still exists after run returned"; fi
    cleanup
}

t_exit_code() {
    bundle exitcode '["sh", "-c", "exit 7"]'
    rt run --bundle "$B" "$ID" > "$WORK/$ID.out" 2>&1 < /dev/null
    check run_exit_code "$?" 7
    cleanup
}

# The init's pid seen from the host (the VM) is in the cgroup directory named by cgroupsPath.
t_host_view() {
    bundle hostview '["sh", "-c", "sleep 1000 & sleep 1000 & exec sleep 1000"]'
    if ! rt create --bundle "$B" "$ID" > "$WORK/$ID.create" 2>&1 < /dev/null; then
        fail create "$(one_line "$WORK/$ID.create")"
        cleanup
        return
    fi
    pid=$(rt state "$ID" 2> /dev/null | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' | head -n 1)
    if [ -z "$pid" ]; then
        fail state_pid "no pid in state: $(rt state "$ID" 2>&1 | one_line /dev/stdin)"
        cleanup
        return
    fi
    check created_proc_cgroup "$(one_line "/proc/$pid/cgroup")" "0::$CGP"
    if grep -qx "$pid" "$CGD/cgroup.procs" 2> /dev/null; then pass created_in_cgroup_procs; else
        fail created_in_cgroup_procs "pid $pid not in $CGD/cgroup.procs: $(readf "$CGD/cgroup.procs")"; fi
    if ! rt start "$ID" > "$WORK/$ID.start" 2>&1; then
        fail start "$(one_line "$WORK/$ID.start")"
        cleanup
        return
    fi
    wait_for 30 at_least "$CGD" 3
    check started_children_in_cgroup "$(nprocs "$CGD")" 3
    # delete --force removes every process and the cgroup directory.
    rt delete --force "$ID" > "$WORK/$ID.delete" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then fail delete_force "exit $rc: $(one_line "$WORK/$ID.delete")"; fi
    if wait_for 10 gone "$CGD"; then pass delete_force_removes_cgroup; else
        fail delete_force_removes_cgroup "$CGD still exists, procs: $(readf "$CGD/cgroup.procs")"; fi
    if [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2> /dev/null; then
        fail delete_force_kills "init $pid still alive"
    else
        pass delete_force_kills
    fi
    cleanup
}

# kill --all reaches every process. No pid namespace here, so the children do not die
# with the init: a plain kill of the init would leave the two sleeps in the cgroup.
t_kill_all() {
    bundle killall '["sh", "-c", "sleep 1001 & sleep 1002 & wait"]' '' 0
    if ! rt create --bundle "$B" "$ID" > "$WORK/$ID.create" 2>&1 < /dev/null ||
        ! rt start "$ID" > "$WORK/$ID.start" 2>&1; then
        fail kill_all_setup "$(cat "$WORK/$ID.create" "$WORK/$ID.start" 2> /dev/null | one_line /dev/stdin)"
        cleanup
        return
    fi
    wait_for 30 at_least "$CGD" 3
    before=$(nprocs "$CGD")
    if [ "$before" -lt 3 ]; then
        fail kill_all "setup: want 3 processes in $CGD, found $before"
    elif ! rt kill --all "$ID" TERM > "$WORK/$ID.kill" 2>&1; then
        fail kill_all "kill --all exited non-zero: $(one_line "$WORK/$ID.kill")"
    elif wait_for 15 no_procs "$CGD"; then
        pass kill_all "$before processes gone"
    else
        fail kill_all "$before processes before, left after kill --all TERM: $(readf "$CGD/cgroup.procs")"
    fi
    rt delete "$ID" > "$WORK/$ID.delete" 2>&1 || rt delete --force "$ID" > /dev/null 2>&1
    if wait_for 10 gone "$CGD"; then pass delete_removes_cgroup; else fail delete_removes_cgroup "$CGD still exists"; fi
    cleanup
}

# ---------------------------------------------------------------- linux.resources on v2

# memory.limit 64M, swap (memory+swap) 64M: memory.max 67108864, memory.swap.max 0,
# and a 100 MB allocation (busybox dd with a 100 MB buffer: anonymous memory) is
# OOM-killed. memory.events is read in the parent cgroup, where the counts are
# hierarchical, because `run` removes the container's own cgroup when it returns.
t_memory() {
    bundle memory "[\"sh\", \"-c\", \"${WAIT_GO}exec dd if=/dev/zero of=/dev/null bs=100M count=1\"]" \
        '{"memory": {"limit": 67108864, "swap": 67108864}}'
    parent=${CGD%/*}
    ev0=$(sed -n 's/^oom_kill //p' "$parent/memory.events" 2> /dev/null)
    start_bg
    if ! wait_for 60 exists "$SYNC/ready"; then
        touch "$SYNC/go"
        finish_bg
        fail memory_setup "container did not start (run exit $RC): $(one_line "$OUT")"
        cleanup
        return
    fi
    check memory_max "$(readf "$CGD/memory.max")" 67108864
    check memory_swap_max "$(readf "$CGD/memory.swap.max")" 0
    touch "$SYNC/go"
    finish_bg
    ev1=$(sed -n 's/^oom_kill //p' "$parent/memory.events" 2> /dev/null)
    check memory_oom_exit "$RC" 137
    check memory_events_oom_kill "$((${ev1:-0} - ${ev0:-0}))" 1
    cleanup
}

# pids.limit 10: pids.max 10 and a fork loop of 30 stops at 10 tasks.
t_pids() {
    # busybox sh exits when a fork fails, hence the loop in a subshell; the init then
    # stays as `sleep` with the loop's surviving children reparented to it.
    bundle pids "[\"sh\", \"-c\", \"${WAIT_GO}(i=0; while [ \$i -lt 30 ]; do sleep 1000 & i=\$((i+1)); done); echo forked; exec sleep 1000\"]" \
        '{"pids": {"limit": 10}}'
    start_bg
    if ! wait_for 60 exists "$SYNC/ready"; then
        touch "$SYNC/go"; rt kill "$ID" KILL > /dev/null 2>&1; finish_bg
        fail pids_setup "container did not start (run exit $RC): $(one_line "$OUT")"
        cleanup
        return
    fi
    check pids_max "$(readf "$CGD/pids.max")" 10
    touch "$SYNC/go"
    wait_for 60 grep -q forked "$OUT" || fail pids_fork_loop "no 'forked' line: $(one_line "$OUT")"
    n=$(nprocs "$CGD")
    if [ "$n" -le 10 ] && grep -q "can't fork\|Resource temporarily unavailable" "$OUT"; then
        pass pids_fork_limited "$n tasks, fork failed"
    else
        fail pids_fork_limited "$n tasks in the cgroup (limit 10), pids.events: $(readf "$CGD/pids.events")"
    fi
    rt kill "$ID" KILL > /dev/null 2>&1
    finish_bg
    cleanup
}

# create (no start) a container with RESOURCES and leave ID/CGD set; 0 on success.
created_with() {
    bundle "$1" '["sleep", "1000"]' "$2"
    if rt create --bundle "$B" "$ID" > "$WORK/$ID.create" 2>&1 < /dev/null; then return 0; fi
    fail "$1" "create failed: $(one_line "$WORK/$ID.create")"
    cleanup
    return 1
}

# cpu.shares -> cpu.weight. runc's libcontainer (cgroups/utils.go,
# ConvertCPUSharesToCgroupV2Value, up to runc PR #4785) converts with
#     weight = 1 + ((shares - 2) * 9999) / 262142
# so 1024 -> 39 and 2048 -> 79; crun 1.8 uses the same formula, and Debian 12's runc
# 1.1.5 and crun 1.8.1 (the controls here) both write 39 for 1024. Newer runc and crun
# (runc PR #4785, crun issue #1721) use a quadratic fit in log2 space,
#     weight = ceil(10^((l*l + 125*l) / 612 - 7/34)), l = log2(shares),
# which maps 1024 -> 100 -- the v2 default, so with 1024 that formula cannot be told
# from ignoring the shares. Hence: 1024 must give 39 (runc's formula, strict), and a
# second container with 2048 accepts either formula (79 or 174) but not the default.
t_cpu() {
    created_with cpu '{"cpu": {"shares": 1024, "quota": 50000, "period": 100000}}' || return
    w=$(readf "$CGD/cpu.weight")
    if [ "$w" = 39 ]; then pass cpu_weight_1024 "39"; else
        fail cpu_weight_1024 "got '$w', want 39 (runc: 1 + ((1024-2)*9999)/262142)"; fi
    check cpu_max "$(readf "$CGD/cpu.max")" "50000 100000"
    cleanup
}

t_cpuset() {
    created_with cpuset '{"cpu": {"shares": 2048, "cpus": "0", "mems": "0"}}' || return
    check cpuset_cpus "$(readf "$CGD/cpuset.cpus")" 0
    check cpuset_mems "$(readf "$CGD/cpuset.mems")" 0
    w=$(readf "$CGD/cpu.weight")
    case $w in
        79) pass cpu_weight_2048 "79: runc's linear formula" ;;
        174) pass cpu_weight_2048 "174: newer log-quadratic formula" ;;
        *) fail cpu_weight_2048 "got '$w', want 79 (runc linear) or 174 (newer quadratic)" ;;
    esac
    cleanup
}

t_unified() {
    created_with unified '{"unified": {"pids.max": "7"}}' || return
    check unified_pids_max "$(readf "$CGD/pids.max")" 7
    cleanup
}

# memory.checkBeforeUpdate (config-linux.md): with 40 MiB in use (a tmpfs
# file, charged to the container), update --memory 16M is refused and
# memory.max stays; without the check v2 reclaims, then OOM-kills. sworn only
# (Debian 12's runc 1.1 predates the field).
t_check_before_update() {
    bundle checkupd '["sh", "-c", "dd if=/dev/zero of=/dev/big bs=1M count=40 2>/dev/null; touch /x/ready; exec sleep 1000"]' \
        '{"memory": {"limit": 268435456, "checkBeforeUpdate": true}}'
    start_bg
    if ! wait_for 60 exists "$SYNC/ready"; then
        rt kill "$ID" KILL > /dev/null 2>&1; finish_bg
        fail check_before_update_setup "container did not start (run exit $RC): $(one_line "$OUT")"
        cleanup
        return
    fi
    if rt update --memory 16777216 "$ID" > "$B/update" 2>&1; then
        fail check_before_update_refused "update below the usage succeeded: $(one_line "$B/update")"
    elif grep -q checkBeforeUpdate "$B/update"; then
        pass check_before_update_refused
    else
        fail check_before_update_refused "error does not name checkBeforeUpdate: $(one_line "$B/update")"
    fi
    check check_before_update_memory_max "$(readf "$CGD/memory.max")" 268435456
    check check_before_update_still_running "$(rt state "$ID" | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p')" running
    rt kill "$ID" KILL > /dev/null 2>&1
    finish_bg
    cleanup
}

# cgroup2 has no devices files: access rules are an eBPF program attached to
# the container's cgroup. mknod is allowed for any node (runc's default list),
# but opening /dev/kmsg (c 1:11, not in the list) must fail; /dev/null works.
t_devices() {
    bundle devices '["sh", "-c", "mknod /tmp/km c 1 11; if head -c1 /tmp/km > /dev/null 2>&1; then echo kmsg-open; else echo kmsg-denied; fi; mknod /tmp/nl c 1 3; echo x > /tmp/nl && echo null-ok"]' \
        '{"devices": [{"allow": false, "access": "rwm"}]}'
    caps='"CAP_MKNOD", "CAP_DAC_OVERRIDE"'
    sed -i "s|\"cwd\": \"/\"|\"cwd\": \"/\", \"capabilities\": {\"bounding\": [$caps], \"effective\": [$caps], \"permitted\": [$caps]}|" "$B/config.json"
    OUT=$B/out
    rt run --bundle "$B" "$ID" > "$OUT" 2>&1 < /dev/null
    verbose "$OUT"
    if grep -q kmsg-denied "$OUT" && grep -q null-ok "$OUT"; then
        pass device_filter "kmsg denied, null allowed"
    else
        fail device_filter "$(one_line "$OUT")"
    fi
    rm -f "$ROOTFS/tmp/km" "$ROOTFS/tmp/nl"
    cleanup
}

# Landlock ABI 2 (6.1): sworn.unveil with TCP rules asks for truncate (ABI
# 3), TCP (4) and scoping (6). best-effort runs and says what it dropped;
# hard refuses to start. sworn only (the annotations are sworn's own).
t_landlock_abi2() {
    [ "$RT" = sworn ] || return 0
    for compat in best-effort hard; do
        bundle "landlock-$compat" '["sh", "-c", "cat /etc/hostname > /dev/null && echo read-ok; cat /etc/passwd > /dev/null 2>&1 || echo passwd-denied"]'
        cat > "$B/ann" <<EOF
  "annotations": {"sworn.unveil": "[\"r:/etc/hostname\", \"rw:/dev/null\"]",
                  "sworn.unveil.tcp": "[\"bind:8080\"]", "sworn.landlock.compat": "$compat"},
EOF
        awk -v f="$B/ann" '{print} /"hostname": "cgv2",/ {while ((getline l < f) > 0) print l}' "$B/config.json" > "$B/c" && mv "$B/c" "$B/config.json"
        OUT=$B/out
        rt run --bundle "$B" "$ID" > "$OUT" 2>&1 < /dev/null
        RC=$?
        verbose "$OUT"
        if [ "$compat" = best-effort ]; then
            if [ $RC = 0 ] && grep -q read-ok "$OUT" && grep -q passwd-denied "$OUT" && grep -qi "warning" "$OUT"; then
                pass landlock_abi2_best_effort "runs, warns: $(grep -i warning "$OUT" | head -1 | cut -c1-120)"
            else
                fail landlock_abi2_best_effort "rc=$RC: $(one_line "$OUT")"
            fi
        else
            if [ $RC != 0 ] && ! grep -q read-ok "$OUT"; then
                pass landlock_abi2_hard "refused: $(head -1 "$OUT" | cut -c1-120)"
            else
                fail landlock_abi2_hard "rc=$RC: $(one_line "$OUT")"
            fi
        fi
        cleanup
    done
}

# What nomad-driver-sworn's bundle asks for under Nomad 1.6 on cgroup v2: the
# container's cgroup is the scope Nomad made and partitioned (cpuset.cpus)
# before StartTask; the bundle sets memory and cpu shares, never cpus.
t_nomad_scope() {
    slice=$CG$PREFIX/nomad.slice
    scope=$slice/$RT-task.scope
    mkdir -p "$slice"
    echo "+cpuset +cpu +memory" > "$CG$PREFIX/cgroup.subtree_control"
    echo "+cpuset +cpu +memory" > "$slice/cgroup.subtree_control"
    mkdir -p "$scope"
    echo 0 > "$scope/cpuset.cpus"
    bundle nomad '["sleep", "1000"]' '{"memory": {"limit": 67108864, "reservation": 33554432}, "cpu": {"shares": 500}}'
    sed -i "s|\"cgroupsPath\": \"$CGP\"|\"cgroupsPath\": \"$PREFIX/nomad.slice/$RT-task.scope\"|" "$B/config.json"
    CGD=$scope
    if rt create --bundle "$B" "$ID" > "$WORK/$ID.create" 2>&1 < /dev/null; then
        if has_procs "$scope"; then pass nomad_scope_placement; else fail nomad_scope_placement "no process in $scope"; fi
        check nomad_scope_memory_max "$(readf "$scope/memory.max")" 67108864
        check nomad_scope_memory_low "$(readf "$scope/memory.low")" 33554432
        check nomad_scope_cpu_weight "$(readf "$scope/cpu.weight")" 19
        check nomad_scope_cpuset_kept "$(readf "$scope/cpuset.cpus")" 0
    else
        fail nomad_scope "create failed: $(one_line "$WORK/$ID.create")"
    fi
    cleanup
    rmdir "$scope" "$slice" 2> /dev/null
    return 0
}

# ---------------------------------------------------------------- hostile cgroupsPath (issue #14)

# set_cgp PATH: point the current bundle at another cgroupsPath.
set_cgp() {
    sed -i "s|\"cgroupsPath\": \"[^\"]*\"|\"cgroupsPath\": \"$1\"|" "$B/config.json"
}

# sworn only: a cgroupsPath that names the hierarchy root is refused before
# anything is touched (on pure v2 an unfixed `delete --force` SIGKILLs every
# process of the root cgroup, this script included); an existing cgroup with
# processes, or a frozen one, is refused; a reused empty cgroup is emptied
# but not removed by delete; exec --cgroup SUB runs in SUB.
t_hostile_cgroup() {
    sleep 1000 < /dev/null > /dev/null 2>&1 &
    victim=$!
    for p in / /. // /x/.. .; do
        bundle "root" '["true"]'
        set_cgp "$p"
        if rt create --bundle "$B" "$ID" > "$WORK/$ID.create" 2>&1 < /dev/null; then
            fail "root_refused[$p]" "create succeeded"
            rt delete "$ID" > /dev/null 2>&1
        elif grep -q "linux.cgroupsPath" "$WORK/$ID.create"; then
            pass "root_refused[$p]"
        else
            fail "root_refused[$p]" "error lacks linux.cgroupsPath: $(one_line "$WORK/$ID.create")"
        fi
        rm -rf "/run/sworn/$ID"
    done
    if kill -0 "$victim" 2> /dev/null; then pass root_victim_alive; else fail root_victim_alive "a root-cgroup process died"; fi

    bundle busy '["sleep", "1000"]'
    mkdir -p "$CGD"
    echo "$victim" > "$CGD/cgroup.procs"
    if rt create --bundle "$B" "$ID" > "$WORK/$ID.create" 2>&1 < /dev/null; then
        fail populated_refused "create succeeded"
    else
        check populated_refused "$(grep -c 'already has processes' "$WORK/$ID.create")" 1
    fi
    if kill -0 "$victim" 2> /dev/null; then pass populated_victim_alive; else fail populated_victim_alive "killed"; fi
    echo "$victim" > "$CG/cgroup.procs"
    cleanup

    bundle frozen '["true"]'
    mkdir -p "$CGD"
    echo 1 > "$CGD/cgroup.freeze"
    timeout 60 sworn --root /run/sworn run --bundle "$B" "$ID" > "$WORK/$ID.out" 2>&1 < /dev/null
    rc=$?
    echo 0 > "$CGD/cgroup.freeze"
    if [ $rc -eq 0 ] || [ $rc -eq 124 ] || [ $rc -eq 143 ]; then
        fail frozen_refused "run exited $rc: $(one_line "$WORK/$ID.out")"
    else
        check frozen_refused "$(grep -c 'frozen' "$WORK/$ID.out")" 1
    fi
    cleanup

    bundle reused '["sleep", "1000"]'
    mkdir -p "$CGD/sub"
    if rt create --bundle "$B" "$ID" > "$WORK/$ID.create" 2>&1 < /dev/null && rt start "$ID" > /dev/null 2>&1; then
        rt exec --cgroup sub "$ID" cat /proc/self/cgroup > "$WORK/$ID.exec" 2>&1 < /dev/null
        check exec_cgroup_sub "$(one_line "$WORK/$ID.exec")" "0::$CGP/sub"
        rt exec --cgroup .. "$ID" true > "$WORK/$ID.exec" 2>&1 < /dev/null
        check exec_cgroup_dotdot_refused "$? $(grep -c -- '--cgroup' "$WORK/$ID.exec")" "1 1"
        rmdir "$CGD/sub"
        rt delete --force "$ID" > /dev/null 2>&1
        if [ -d "$CGD" ] && no_procs "$CGD"; then pass reused_kept_and_emptied; else fail reused_kept_and_emptied "dir gone or not empty"; fi
    else
        fail reused "create/start failed: $(one_line "$WORK/$ID.create")"
    fi
    cleanup
    kill "$victim" 2> /dev/null
    return 0
}

# ---------------------------------------------------------------- main

echo "guest: $(uname -r), controllers: $(cat $CG/cgroup.subtree_control)"
[ "$(cat /proc/self/cgroup)" = "0::/" ] || echo "guest: warning: not in the root cgroup: $(cat /proc/self/cgroup)"
if [ -r /sys/kernel/security/lsm ]; then echo "guest: lsm $(cat /sys/kernel/security/lsm)"; fi

for RT in $RUNTIMES; do
    command -v "$RT" > /dev/null 2>&1 || { echo "SKIP $RT: not in the image"; continue; }
    t0=$(cut -d' ' -f1 /proc/uptime)
    t_placement
    t_exit_code
    t_host_view
    t_kill_all
    if [ "$RT" != crun ]; then
        t_memory
        t_pids
        t_cpu
        t_cpuset
        t_nomad_scope
        t_unified
        t_devices
        t_landlock_abi2
    fi
    [ "$RT" = sworn ] && t_hostile_cgroup
    [ "$RT" = sworn ] && t_check_before_update
    t1=$(cut -d' ' -f1 /proc/uptime)
    echo "TIME $RT $(echo "$t0 $t1" | awk '{printf "%.1f", $2-$1}')s"
done
rmdir "$CG$PREFIX" 2> /dev/null

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
