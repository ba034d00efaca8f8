"""The task scenarios of test_driver.py, in the fact sheet's order: StartTask
... DestroyTask, what a task observes, OOM, a pledge-driver job, plugin
restart and RecoverTask, bad input.  Each is case(t, s) with t a
test_driver.Case and s the Suite (plugin client, schemas, alloc builder)."""
import time
from pathlib import Path

import grpc

import nomadlib as nl

SH = "/bin/sh"
LOOP = "while [ ! -e /local/stop ]; do /bin/sleep 0.2; done"
EXEC_DEFAULT_CAPS = 0xA80405FB  # exec's default set: Docker's minus NET_RAW
CAP_CHOWN, CAP_NET_RAW, CAP_SYS_ADMIN = 0, 13, 21


def need(t, s):
    t.require(s.client and s.tfields, "no configured plugin instance / task schema")


def stop_file(run):
    (run.alloc.task_dir / "local/stop").write_text("")


def exit_of(resp):
    r = resp.result
    return (r.exit_code, r.signal, r.oom_killed, resp.err)


def case_StartTask(t, s):
    need(t, s)
    run = s.task(t, "main", SH, ["-c", f"echo started; echo to-stderr >&2; {LOOP}; exit 0"])
    resp = s.start(t, run)
    s.main = run
    h = resp.handle
    t.expect(h.version >= 1, f"handle.version {h.version}, want >= 1")
    t.expect(h.config.id == run.id, f"handle.config.id {h.config.id!r}, want {run.id!r}")
    t.expect(h.state == s.pb.drv.RUNNING, f"handle.state {h.state}, want RUNNING")
    t.expect(h.driver_state, "handle.driver_state is empty (RecoverTask has nothing else)")
    t.expect(run.alloc.stdout.wait_for("started"), f"stdout FIFO: {run.alloc.stdout.text()!r}, want 'started'")
    t.expect(run.alloc.stderr.wait_for("to-stderr"), f"stderr FIFO: {run.alloc.stderr.text()!r}")
    t.expect(nl.alloc_pids(run.alloc.id), "no process carries the task's NOMAD_ALLOC_ID")
    ins = t.rpc_ok(lambda: s.client.inspect_task(run.id), "InspectTask")
    t.expect(ins.task.id == run.id and ins.task.state == s.pb.drv.RUNNING,
             f"InspectTask: id {ins.task.id!r} state {ins.task.state}")
    t.expect(ins.task.HasField("started_at") and ins.task.HasField("completed_at") and ins.task.HasField("result"),
             "InspectTask: started_at/completed_at/result must be set (the client dereferences them)")


def case_shared_cpuset(t, s):
    """Nomad 1.6 on cgroup v1 gives every task without reserved cores the same
    cpuset_cgroup (<client cgroup_parent>/shared); one task's exit must not
    touch another task in it."""
    need(t, s)
    if not s.cpuset:
        raise nl.Skip("no shared v1 cpuset cgroup in use (--no-cpuset or no v1 cpuset hierarchy)")
    other = s.started(t, "neighbour", SH, ["-c", f"echo ready; {LOOP}"])
    t.require(other.alloc.stdout.wait_for("ready"), "task did not start")
    run = s.started(t, "shortlived", SH, ["-c", "exit 0"])
    s.wait(t, run)
    s.finish(run)
    time.sleep(0.3)
    t.expect(nl.alloc_pids(other.alloc.id), f"a task in the shared cpuset cgroup {s.cpuset} died when another "
             "task in it exited")
    t.expect(Path(s.cpuset).is_dir(), f"the driver removed Nomad's shared cpuset cgroup {s.cpuset}")
    s.finish(other)


def case_WaitTask(t, s):
    need(t, s)
    run = s.started(t, "exit7", SH, ["-c", "exit 7"])
    t.expect(exit_of(s.wait(t, run))[:3] == (7, 0, False), "exit 7 not reported as exit_code 7, signal 0")
    resp = s.wait(t, run, timeout=3)  # already exited: must answer at once
    t.expect(resp.result.exit_code == 7, f"second WaitTask after exit: {exit_of(resp)}")
    s.finish(run)
    run = s.started(t, "exit3", SH, ["-c", "/bin/sleep 1; exit 3"])
    futs = [s.client.wait_task(run.id, timeout=20, future=True) for _ in range(3)]
    for i, f in enumerate(futs):
        try:
            t.expect(exit_of(f.result())[:2] == (3, 0), f"concurrent WaitTask #{i}: {exit_of(f.result())}")
        except grpc.RpcError as e:
            t.fail(f"concurrent WaitTask #{i}: {e.code().name}: {e.details()}")
    s.finish(run)
    # A caller that gives up (deadline, cancel) gets its answer at once, and
    # a later WaitTask still gets the real result.
    run = s.started(t, "waitcancel", SH, ["-c", "/bin/sleep 1.5; exit 4"])
    start = time.monotonic()
    try:
        s.client.wait_task(run.id, timeout=0.3)
        t.fail("WaitTask with a 0.3 s deadline on a running task returned a result")
    except grpc.RpcError as e:
        took = time.monotonic() - start
        t.expect(e.code() == grpc.StatusCode.DEADLINE_EXCEEDED and took < 1.0,
                 f"WaitTask past its deadline: {e.code().name} after {took:.2f}s")
    fut = s.client.wait_task(run.id, timeout=20, future=True)
    fut.cancel()
    t.expect(exit_of(s.wait(t, run, timeout=10))[:2] == (4, 0), "WaitTask after cancelled ones: not exit 4")
    s.finish(run)
    run = s.started(t, "killed", "/bin/sleep", ["60"])
    time.sleep(0.3)
    t.rpc_ok(lambda: s.client.signal_task(run.id, "SIGKILL"), "SignalTask SIGKILL")
    got = exit_of(s.wait(t, run, timeout=10))
    t.expect(got[:2] == (137, 9), f"task killed by SIGKILL: exit_code/signal {got[:2]}, want (137, 9)")
    s.finish(run)


def case_TaskStats(t, s):
    need(t, s)
    t.require(getattr(s, "main", None), "no main task")
    start = time.monotonic()
    st = s.client.task_stats(s.main.id, 1.0)
    try:
        t.require(st.wait_count(1, 3), f"no first TaskStats sample within 3 s ({st.error})")
        t.expect(st.items[0][0] - start < 1.5, f"first sample after {st.items[0][0] - start:.1f}s, want at once")
        t.expect(st.wait_count(3, 5), f"{len(st.items)} samples in ~3 s at a 1 s interval ({st.error})")
        for _, r in st.items:
            x = r.stats
            t.expect(x.HasField("timestamp") and x.timestamp.seconds > 0, "sample without timestamp (dropped)")
            t.expect(x.HasField("agg_resource_usage"), "sample without agg_resource_usage (client crashes)")
            m = x.agg_resource_usage.memory
            t.expect(max(m.usage, m.rss) > 0, f"memory usage {m.usage} rss {m.rss} for a running task")
    finally:
        st.cancel()


def case_ExecTaskStreaming_stdin(t, s):
    need(t, s)
    t.require(getattr(s, "main", None), "no main task")
    e = s.client.exec_streaming(s.main.id, ["/bin/cat"])
    e.heartbeat()
    e.stdin(b"hello via stdin\n")
    e.heartbeat()
    t.expect(e.wait_output(b"hello via stdin\n"), f"cat echoed {e.out!r}")
    e.stdin(close=True)
    t.require(e.wait_done(), "stream not finished after stdin close")
    t.expect(e.error is None, f"stream ended with {e.error}")
    ex = e.exit_message()
    t.expect(ex and ex.result.exit_code == 0, f"exited message {ex}")
    t.expect(any(m.stdout.close for m in e.msgs) and any(m.stderr.close for m in e.msgs),
             "no stdout/stderr close markers before exit")
    t.expect(e.msgs and e.msgs[-1].exited, "last message is not {exited: true}")


def case_ExecTaskStreaming_exit_code(t, s):
    need(t, s)
    t.require(getattr(s, "main", None), "no main task")
    e = s.client.exec_streaming(s.main.id, [SH, "-c", "echo out; echo err >&2; exit 3"])
    t.require(e.wait_done(), "stream not finished")
    ex = e.exit_message()
    t.expect(ex and ex.result.exit_code == 3, f"exit code {ex and ex.result.exit_code}, want 3")
    t.expect(e.out == b"out\n" and e.err == b"err\n", f"stdout {e.out!r} stderr {e.err!r}")
    e = s.client.exec_streaming(s.main.id, ["/no/such/program"])
    t.require(e.wait_done(), "stream for a missing program not finished")
    ex = e.exit_message()
    t.expect(e.error is not None or (ex and ex.result.exit_code != 0), "a missing program reported success")


def case_ExecTaskStreaming_tty(t, s):
    need(t, s)
    t.require(getattr(s, "main", None), "no main task")
    e = s.client.exec_streaming(s.main.id, [SH], tty=True)
    e.resize(40, 123)
    e.stdin(b"/bin/stty size; echo tty=$(/bin/tty)\n")
    t.expect(e.wait_output(b"40 123"), f"stty size after tty_size 40x123: {e.out!r}")
    t.expect(e.wait_output(b"tty=/dev/pts/"), f"no pty on stdin: {e.out!r}")
    e.resize(50, 100)
    e.heartbeat()
    e.stdin(b"/bin/stty size\n")
    t.expect(e.wait_output(b"50 100"), f"stty size after resize to 50x100: {e.out!r}")
    e.stdin(b"exit 5\n")
    t.require(e.wait_done(), "tty stream not finished after exit")
    ex = e.exit_message()
    t.expect(ex and ex.result.exit_code == 5, f"tty exit code {ex and ex.result.exit_code}, want 5")
    t.expect(not e.err, f"with a tty all output must come as stdout, got stderr {e.err!r}")


def case_ExecTask(t, s):
    need(t, s)
    t.require(getattr(s, "main", None), "no main task")
    r = t.rpc_ok(lambda: s.client.exec_task(s.main.id, [SH, "-c", "echo out; echo err >&2; exit 4"]), "ExecTask")
    t.expect((r.stdout, r.stderr, r.result.exit_code) == (b"out\n", b"err\n", 4),
             f"ExecTask got {r.stdout!r} {r.stderr!r} exit {r.result.exit_code}")
    r = t.rpc_ok(lambda: s.client.exec_task(s.main.id, [SH, "-c", "echo $NOMAD_TASK_NAME"]), "ExecTask env")
    t.expect(r.stdout == b"main\n", f"exec'd process sees NOMAD_TASK_NAME {r.stdout!r}")
    start = time.monotonic()
    try:
        r = s.client.exec_task(s.main.id, ["/bin/sleep", "20"], timeout_s=1, rpc_timeout=15)
        t.expect(r.result.exit_code != 0, f"ExecTask past its 1 s timeout reported {r.result}")
    except grpc.RpcError as e:
        t.expect(e.code() != grpc.StatusCode.UNAVAILABLE, f"ExecTask timeout: {e.code().name}")
    t.expect(time.monotonic() - start < 5, f"ExecTask with timeout 1s took {time.monotonic() - start:.1f}s")


def case_SignalTask(t, s):
    need(t, s)
    run = s.started(t, "usr1", SH, ["-c", f"trap 'echo got-usr1' USR1; echo ready; {LOOP}"])
    t.require(run.alloc.stdout.wait_for("ready"), f"task did not start: {run.alloc.stdout.text()!r}")
    t.rpc_ok(lambda: s.client.signal_task(run.id, "SIGUSR1"), "SignalTask SIGUSR1")
    t.expect(run.alloc.stdout.wait_for("got-usr1", 5), f"no trap output: {run.alloc.stdout.text()!r}")
    t.rpc_err(lambda: s.client.signal_task("no/such/task", "SIGUSR1"), "SignalTask on an unknown id")
    s.finish(run)


def case_StopTask(t, s):
    need(t, s)
    run = s.started(t, "trapint", SH, ["-c", f"trap 'echo got-int; exit 3' INT; echo ready; {LOOP}"])
    t.require(run.alloc.stdout.wait_for("ready"), "task did not start")
    start = time.monotonic()
    t.rpc_ok(lambda: s.client.stop_task(run.id, 5, "SIGINT"), "StopTask SIGINT")
    t.expect(time.monotonic() - start < 4.5, f"StopTask took {time.monotonic() - start:.1f}s for a task exiting at once")
    got = exit_of(s.wait(t, run, timeout=5))
    t.expect(got[:2] == (3, 0), f"trap INT -> exit 3: got {got}")
    t.expect(run.alloc.stdout.wait_for("got-int", 2), "trap output missing")
    t.rpc_ok(lambda: s.client.stop_task(run.id, 1, "SIGINT"), "StopTask again (idempotent)")
    s.finish(run)
    run = s.started(t, "ignint", SH, ["-c", f"trap '' INT; echo ready; {LOOP}"])
    t.require(run.alloc.stdout.wait_for("ready"), "task did not start")
    start = time.monotonic()
    t.rpc_ok(lambda: s.client.stop_task(run.id, 1.5, "SIGINT"), "StopTask on a task ignoring SIGINT")
    took = time.monotonic() - start
    got = exit_of(s.wait(t, run, timeout=10))
    t.expect(got[:2] == (137, 9), f"SIGINT ignored, SIGKILL after 1.5s: got {got}, want 137/9")
    t.expect(1.3 < took < 10, f"StopTask returned after {took:.1f}s (timeout 1.5s)")
    s.finish(run)


def case_DestroyTask(t, s):
    need(t, s)
    run = s.started(t, "destroy", SH, ["-c", f"echo ready; {LOOP}"])
    t.require(run.alloc.stdout.wait_for("ready"), "task did not start")
    t.rpc_err(lambda: s.client.destroy_task(run.id, False), "DestroyTask(force=false) on a running task")
    t.rpc_ok(lambda: s.client.destroy_task(run.id, True), "DestroyTask(force=true)")
    t.expect(nl.wait_until(lambda: not nl.alloc_pids(run.alloc.id), 5), "task processes survive DestroyTask")
    t.rpc_err(lambda: s.client.wait_task(run.id, timeout=5), "WaitTask after DestroyTask")
    t.rpc_ok(lambda: s.client.stop_task(run.id, 1, "SIGINT"), "StopTask on a destroyed id")
    t.rpc_ok(lambda: s.client.destroy_task(run.id, True), "DestroyTask again")
    t.rpc_ok(lambda: s.client.destroy_task("nope/none/00000000", True), "DestroyTask on an unknown id")


OBSERVE = """echo "HOST=$(cat /proc/sys/kernel/hostname)"
while read -r k v; do case $k in NoNewPrivs:|Cap*) echo "STATUS $k $v";; esac; done < /proc/self/status
echo "TASKDIR=$NOMAD_TASK_DIR ALLOCDIR=$NOMAD_ALLOC_DIR"
for d in /local /alloc/data /secrets /tmp /usr; do
  if echo hi > $d/w 2>/dev/null; then echo "RW $d"; else echo "RO $d"; fi
done
while read -r dev mp rest; do echo "MOUNT $mp $rest"; done < /proc/self/mounts
echo DONE"""


def observe(t, s, name, **cfg):
    run = s.started(t, name, SH, ["-c", OBSERVE], **cfg)
    got = exit_of(s.wait(t, run))
    t.expect(got[0] == 0, f"{name}: observer script exit {got}: {run.alloc.stderr.text()!r}")
    t.require(run.alloc.stdout.wait_for("DONE", 5), f"{name}: output {run.alloc.stdout.text()!r}")
    lines = run.alloc.stdout.text().splitlines()
    status = {ln.split()[1]: ln.split()[2] for ln in lines if ln.startswith("STATUS ")}
    s.finish(run)
    return run, lines, status


def case_task_view(t, s):
    need(t, s)
    run, lines, status = observe(t, s, "view")
    host = [ln[5:] for ln in lines if ln.startswith("HOST=")]
    t.expect(host and host[0], "empty hostname")
    t.note(f"hostname {host}, NoNewPrivs {status.get('NoNewPrivs:')}, CapEff {status.get('CapEff:')}")
    eff = int(status.get("CapEff:", "0"), 16)
    t.expect(not eff >> CAP_SYS_ADMIN & 1 and not eff >> CAP_NET_RAW & 1, f"CapEff {eff:#x} has SYS_ADMIN/NET_RAW")
    t.expect(eff >> CAP_CHOWN & 1, f"CapEff {eff:#x} lacks CHOWN (in exec's default set)")
    if eff != EXEC_DEFAULT_CAPS:
        t.note(f"CapEff {eff:#x} differs from exec's default set {EXEC_DEFAULT_CAPS:#x}")
    t.expect("TASKDIR=/local ALLOCDIR=/alloc" in lines, "NOMAD_TASK_DIR/NOMAD_ALLOC_DIR not /local, /alloc")
    for d in ("/local", "/alloc/data", "/secrets", "/tmp"):
        t.expect(f"RW {d}" in lines, f"{d} is not writable")
    t.expect("RO /usr" in lines, "/usr is writable")
    if Path("/usr/w").exists():
        Path("/usr/w").unlink()
        t.fail("the task wrote /usr/w on the HOST")
    t.expect((run.alloc.task_dir / "local/w").exists(), "/local/w not in the host task dir's local/")
    t.expect((run.alloc.dir / "alloc/data/w").exists(), "/alloc/data/w not in the host alloc dir")
    usr = [ln for ln in lines if ln.startswith("MOUNT /usr ")]
    t.expect(usr and "ro" in usr[-1].split()[3].split(","), f"/usr mount {usr}")
    _, _, status = observe(t, s, "capdrop", cap_drop=["chown"])
    eff = int(status.get("CapEff:", "0"), 16)
    t.expect(status and not eff >> CAP_CHOWN & 1, f"cap_drop [chown]: CapEff {eff:#x} still has CHOWN")


def case_promises_deny_write(t, s):
    need(t, s)
    script = "if echo x > /local/f; then echo WROTE; else echo DENIED; fi"
    run = s.started(t, "pledged", SH, ["-c", script], promises="stdio rpath")
    got = exit_of(s.wait(t, run))
    out = run.alloc.stdout.text()
    t.expect("DENIED" in out and not (run.alloc.task_dir / "local/f").exists(),
             f"promises 'stdio rpath' but the write worked: stdout {out!r}, exit {got}, "
             f"stderr {run.alloc.stderr.text()!r}")
    s.finish(run)


def case_unveil_etc_only(t, s):
    need(t, s)
    script = ("if read l < /etc/passwd; then echo ETC-OK; fi; "
              "if read l < /usr/lib/os-release; then echo USR-READ; else echo USR-DENIED; fi")
    run = s.started(t, "unveiled", SH, ["-c", script], unveil=["r:/etc"])
    got = exit_of(s.wait(t, run))
    out = run.alloc.stdout.text()
    t.expect("ETC-OK" in out, f"unveil r:/etc: /etc/passwd unreadable: {out!r} {got} {run.alloc.stderr.text()!r}")
    t.expect("USR-DENIED" in out, f"unveil r:/etc: /usr/lib/os-release readable: {out!r}")
    s.finish(run)


def case_oom_killed(t, s):
    need(t, s)
    v2 = Path("/sys/fs/cgroup/cgroup.controllers")
    if not Path("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() and \
            not (v2.exists() and "memory" in v2.read_text().split()):
        raise nl.Skip("no memory cgroup controller on this host")
    run = s.started(t, "oom", "/bin/busybox", ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
                    memory_mb=16)
    got = exit_of(s.wait(t, run))
    t.expect(got[2], f"64 MiB buffer under a 16 MiB limit: result {got}, want oom_killed")
    t.expect(got[0] != 0, f"OOM-killed task reported exit 0: {got}")
    s.finish(run)


def case_pledge_driver_job(t, s):
    need(t, s)
    run = s.task(t, "pledgejob", SH, ["-c", 'echo pledged; read l < /local/in.txt; echo "got $l"; '
                                           'echo appended >> /local/in.txt'],
                 promises="stdio rpath wpath cpath proc exec", unveil=["rw:/local"])
    (run.alloc.task_dir / "local/in.txt").write_text("hello\n")  # as a template/artifact would
    s.start(t, run)
    got = exit_of(s.wait(t, run))
    out = run.alloc.stdout.text()
    t.expect(got[:3] == (0, 0, False), f"pledge job exit {got}, stderr {run.alloc.stderr.text()!r}")
    t.expect("pledged" in out and "got hello" in out, f"pledge job stdout {out!r}")
    t.expect("appended" in (run.alloc.task_dir / "local/in.txt").read_text(), "append to rw:/local failed")
    s.finish(run)


def case_restart_recover(t, s):
    need(t, s)
    run = s.started(t, "survivor", SH, ["-c", "i=0; while [ ! -e /local/stop ]; do echo tick $i; "
                                               "i=$((i+1)); /bin/sleep 0.2; done; exit 6"])
    t.require(run.alloc.stdout.wait_for("tick 1"), "task did not start")
    wait = s.client.wait_task(run.id, timeout=60, future=True)
    old = s.plugin
    for st in s.streams.values():
        st.cancel()
    old.kill()  # SIGKILL
    try:
        wait.result(timeout=10)
        t.fail("WaitTask returned normally although the plugin was SIGKILLed")
    except grpc.RpcError as e:
        t.expect(e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED), f"WaitTask: {e.code()}")
    t.expect(nl.alloc_pids(run.alloc.id), "task process died with the plugin")
    n = len(run.alloc.stdout.data)
    t.expect(nl.wait_until(lambda: len(run.alloc.stdout.data) > n + 20, 3), "task stopped writing to its FIFO")
    p, c = s.launch()
    t.rpc_ok(lambda: c.set_config(s.plugin_config()), "SetConfig on the new instance")
    s.plugin, s.client = p, c
    s.streams = {"Fingerprint": c.fingerprint(), "TaskEvents": c.task_events()}
    t.rpc_ok(c.task_config_schema, "TaskConfigSchema")
    t.rpc_ok(c.capabilities, "Capabilities")
    for r in [run] + ([s.main] if getattr(s, "main", None) else []):
        h = s.pb.drv.TaskHandle()
        h.CopyFrom(r.handle)
        h.config.msgpack_driver_config = b""  # not persisted by Nomad
        t.rpc_ok(lambda: c.recover_task(h), f"RecoverTask {r.alloc.task}")
        t.rpc_ok(lambda: c.recover_task(h), f"RecoverTask {r.alloc.task} again (idempotent)")
    r = t.rpc_ok(lambda: c.exec_task(run.id, [SH, "-c", "echo alive"]), "ExecTask after recovery")
    t.expect(r.stdout == b"alive\n", f"ExecTask after recovery: {r.stdout!r} {r.stderr!r}")
    st = c.task_stats(run.id, 1.0)
    t.expect(st.wait_count(1, 3), f"TaskStats after recovery: {st.error}")
    st.cancel()
    e = c.exec_streaming(run.id, ["/bin/cat"])
    e.stdin(b"again\n")
    e.stdin(close=True)
    t.expect(e.wait_done() and e.out == b"again\n", f"ExecTaskStreaming after recovery: {e.out!r} {e.error}")
    wait = c.wait_task(run.id, timeout=30, future=True)
    stop_file(run)
    try:
        got = exit_of(wait.result())
        t.expect(got[:2] == (6, 0), f"WaitTask after recovery: {got}, want exit 6")
    except grpc.RpcError as e:
        t.fail(f"WaitTask after recovery: {e.code().name}: {e.details()}")
    s.finish(run)


def leftovers(s, alloc_id, before):
    cg, state = before
    now_cg = nl.cgroup_tree(s.cgroup_parent) - cg
    now_state = set(map(str, (s.base / "state").rglob("*"))) - state
    return now_cg, now_state, nl.alloc_pids(alloc_id)


def bad_start(t, s, what, run, names):
    before = (nl.cgroup_tree(s.cgroup_parent), set(map(str, (s.base / "state").rglob("*"))))
    e = t.rpc_err(lambda: s.client.start_task(run.tc), what, names)
    cg, state, pids = leftovers(s, run.alloc.id, before)
    t.expect(not (cg or state or pids), f"{what}: left behind cgroups {sorted(cg)} state {sorted(state)} pids {pids}")
    run.id = None
    return e


def case_bad_input(t, s):
    need(t, s)
    bad_start(t, s, "malformed msgpack_driver_config", s.task(t, "badmp", SH, raw=b"\x81\xa7command\xc1"), [])
    bad_start(t, s, "unknown promise", s.task(t, "badpromise", SH, ["-c", "true"], promises="stdio bogus"),
              ["bogus"])
    bad_start(t, s, "missing command", s.task(t, "nocmd", None, ["x"], validate=False), ["command"])
    bad_start(t, s, "unveil of a missing path", s.task(t, "badunveil", SH, ["-c", "true"],
                                                       unveil=["r:/no/such/dir"]), ["/no/such/dir"])
    run = s.started(t, "dup", SH, ["-c", LOOP])
    t.rpc_err(lambda: s.client.start_task(run.tc), "StartTask with a duplicate id")
    t.expect(nl.alloc_pids(run.alloc.id), "the duplicate StartTask killed the running task")
    s.finish(run)
    t.rpc_err(lambda: s.client.wait_task("no/such/task", timeout=5), "WaitTask on an unknown id")
    e = s.client.exec_streaming(s.main.id if getattr(s, "main", None) else "x", [], setup=False)
    e.stdin(b"no setup first\n")
    e.wait_done(5)
    t.expect(e.error is not None and e.error.code() != grpc.StatusCode.UNAVAILABLE,
             f"ExecTaskStreaming without setup: {e.error and e.error.code()}")


def case_streams_and_logs(t, s):
    for name, st in s.streams.items():
        t.expect(not st.done, f"{name} stream ended on its own ({st.error})")
    ev = s.streams.get("TaskEvents")
    for _, e in (ev.items if ev else []):
        t.expect(e.alloc_id and e.task_name and e.HasField("timestamp"), f"task event lacks alloc/task/time: {e}")
    for p in s.plugins[1:]:
        bad = p.bad_log_lines()
        t.expect(not bad, f"plugin pid {p.pid}: stderr lines that are not hclog JSON: {bad[:3]}")
        t.expect(not p.stdout_rest, f"plugin pid {p.pid} wrote to stdout after the handshake: {p.stdout_rest[:200]!r}")
    if getattr(s, "main", None):
        stop_file(s.main)
        got = exit_of(s.wait(t, s.main))
        t.expect(got[:2] == (0, 0), f"main task: {got}")
        s.finish(s.main)
    if s.cpuset:
        t.expect(Path(s.cpuset).is_dir(), f"the driver removed Nomad's shared cpuset cgroup {s.cpuset}")
    for st in s.streams.values():
        st.cancel()
    if s.plugin:
        t.expect(s.plugin.shutdown(), "plugin did not exit within 2 s of GRPCController.Shutdown")
        s.plugin = s.client = None


CASES = [(n[len("case_"):], f) for n, f in list(globals().items()) if n.startswith("case_")]
