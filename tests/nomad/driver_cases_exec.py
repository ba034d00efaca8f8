"""Exec session scenarios for test_driver.py (issue #10): an exec session's
processes live exactly as long as the session (cancel, client gone, deadline,
DestroyTask, plugin shutdown), output and input flow with backpressure,
ExecTask honours its timeout, RecoverTask is idempotent, and a soak.

Every session's processes carry a marker in their environment (EXEC_MARK=...),
so what is left of a session is found with /proc, whatever it daemonized."""
import json
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import grpc

import nomadlib as nl
from driver_cases import LOOP, SH, need, stop_file

# A command whose tree resists: a child that ignores SIGTERM/SIGHUP, one that
# daemonizes (double fork + setsid), and a foreground that writes forever.
STUBBORN = ('(trap "" TERM HUP INT; while :; do /bin/sleep 1; done) & '
            '(/usr/bin/setsid /bin/sh -c \'trap "" TERM HUP; while :; do /bin/sleep 1; done\' &) ; ')


def mark():
    return "m" + uuid.uuid4().hex[:12]


def marked(tag, body):
    return [SH, "-c", f"EXEC_MARK={tag}; export EXEC_MARK; {body}"]


def session_pids(tag):
    return nl.pids_matching(environ=f"EXEC_MARK={tag}\0")


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def tmp_leftovers():
    return sorted(p.name for p in Path("/tmp").glob("sworn-exec-*"))


def session_cgroups(s):
    """Session cgroups (sworn-exec-*) left under the suite's cgroup parent."""
    out = []
    for h in Path("/sys/fs/cgroup").iterdir():
        top = h / s.cgroup_parent.strip("/")
        if top.is_dir():
            out += [str(p) for p in top.rglob("sworn-exec-*") if p.is_dir()]
    return out


def task(t, s, name):
    need(t, s)
    run = s.started(t, name, SH, ["-c", f"echo ready; {LOOP}"])
    t.require(run.alloc.stdout.wait_for("ready"), "task did not start")
    return run


def gone_within(t, tag, bound, what, s=None):
    """The session's processes (and, given s, its cgroup) must be gone within
    bound (the issue's 1 s, with margin); prints the measured time."""
    start = time.monotonic()
    ok = nl.wait_until(lambda: not session_pids(tag) and not (s and session_cgroups(s)), bound + 2.0, 0.02)
    took = time.monotonic() - start
    t.note(f"{what}: session processes gone after {took:.2f} s")
    t.expect(ok and took <= bound + 1.5, f"{what}: processes {sorted(session_pids(tag))} or cgroups "
                                          f"{session_cgroups(s) if s else []} left {took:.1f} s later (bound {bound} s)")
    for pid in session_pids(tag):
        nl.kill(pid)


def started_stream(t, s, client, run, tag, body="/usr/bin/yes", timeout=60):
    e = client.exec_streaming(run.id, marked(tag, STUBBORN + body), timeout=timeout)
    t.require(nl.wait_until(lambda: len(session_pids(tag)) >= 3 or e.done, 10), f"exec did not start: {e.error}")
    return e


def case_exec_cancel_kills_tree(t, s):
    """Ctrl-C on `nomad alloc exec ... yes`: the call is cancelled; every process
    the session started (a SIGTERM-proof child, a daemonized one) dies within
    1 s, and the plugin's memory does not keep growing."""
    run = task(t, s, "xcancel")
    rss0 = rss_kb(s.plugin.pid)
    tag = mark()
    e = started_stream(t, s, s.client, run, tag)
    time.sleep(3)
    e.call.cancel()
    gone_within(t, tag, 1.0, "cancel", s)
    time.sleep(3)
    grew = (rss_kb(s.plugin.pid) - rss0) / 1024
    t.note(f"plugin RSS {rss0 / 1024:.1f} MB before, +{grew:.1f} MB 3 s after the cancel")
    t.expect(grew < 32, f"plugin RSS grew {grew:.0f} MB after a cancelled exec of yes")
    t.expect(not tmp_leftovers(), f"/tmp leftovers {tmp_leftovers()}")
    # The same with a tty (`nomad alloc exec -t`): the pty session's tree goes too.
    tag = mark()
    e = s.client.exec_streaming(run.id, marked(tag, STUBBORN + "/usr/bin/yes"), tty=True, timeout=60)
    t.require(nl.wait_until(lambda: len(session_pids(tag)) >= 3 or e.done, 10), f"tty exec did not start: {e.error}")
    time.sleep(1)
    e.call.cancel()
    gone_within(t, tag, 1.0, "cancel (tty)", s)
    t.expect(not tmp_leftovers(), f"/tmp leftovers after a tty session {tmp_leftovers()}")
    s.finish(run)


def case_exec_disconnect_kills_tree(t, s):
    """The client's connection goes away (nomad alloc exec killed): the session ends."""
    run = task(t, s, "xdisc")
    ch = grpc.insecure_channel("unix:" + s.plugin.addr)
    c = nl.Client(s.plugin, s.pb)
    c.ch = ch  # a client on a connection of its own
    tag = mark()
    started_stream(t, s, c, run, tag, "while :; do /bin/sleep 1; done")
    ch.close()
    gone_within(t, tag, 1.0, "disconnect", s)
    s.finish(run)


def case_exec_deadline_kills_tree(t, s):
    """The call's deadline passes: the session ends with it."""
    run = task(t, s, "xdead")
    tag = mark()
    e = started_stream(t, s, s.client, run, tag, "while :; do /bin/sleep 1; done", timeout=3)
    t.require(e.wait_done(10), "stream did not end at its deadline")
    gone_within(t, tag, 1.0, "deadline", s)
    s.finish(run)


def case_exec_destroy_ends_sessions(t, s):
    """DestroyTask with a session open: the session's processes go, the stream ends."""
    run = task(t, s, "xdestroy")
    tag = mark()
    e = started_stream(t, s, s.client, run, tag, "while :; do /bin/sleep 1; done")
    start = time.monotonic()
    t.rpc_ok(lambda: s.client.stop_task(run.id, 1, "SIGKILL", rpc_timeout=20), "StopTask")
    t.rpc_ok(lambda: s.client.destroy_task(run.id, True), "DestroyTask")
    t.note(f"StopTask+DestroyTask took {time.monotonic() - start:.2f} s")
    gone_within(t, tag, 1.0, "destroy", s)
    t.expect(e.wait_done(5), "stream still open after DestroyTask")


def case_exec_task_exits_under_session(t, s):
    """The task exits while a session's client reads nothing: the task's exit is
    reported promptly and its cgroups are removed (the session's must not keep
    them), the session's processes are gone."""
    run = task(t, s, "xexit")
    tag = mark()
    d = s.pb.drv
    fn = s.client.ch.stream_stream(nl.DRIVER + "ExecTaskStreaming", request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=d.ExecTaskStreamingResponse.FromString)
    setup = d.ExecTaskStreamingRequest()
    setup.setup.task_id = run.id
    setup.setup.command.extend(marked(tag, STUBBORN + "/usr/bin/yes"))
    hold = threading.Event()

    def reqs():
        yield setup
        hold.wait(60)
    call = fn(reqs(), timeout=60)  # never read
    t.require(nl.wait_until(lambda: len(session_pids(tag)) >= 3, 10), "exec did not start")
    time.sleep(1)
    cid = json.loads(run.handle.driver_state)["container_id"]
    start = time.monotonic()
    stop_file(run)
    s.wait(t, run, 20)
    took = time.monotonic() - start
    t.note(f"task exit reported {took:.2f} s after its program was told to stop")
    t.expect(took < 3.0, f"WaitTask returned {took:.1f} s after the task was told to stop")
    left = [str(p) for p in Path("/sys/fs/cgroup").glob(f"*/{s.cgroup_parent.strip('/')}/**/{cid}*")]
    t.expect(not left, f"cgroups of the exited task left: {left}")
    gone_within(t, tag, 1.0, "task exit", s)
    call.cancel()
    hold.set()
    s.finish(run)


def case_exec_backpressure(t, s):
    """A command writing as fast as it can to a client reading 100 messages/s:
    plugin RSS stays bounded; a client that reads gets every byte in order."""
    run = task(t, s, "xslow")
    tag = mark()
    rss0 = rss_kb(s.plugin.pid)
    d = s.pb.drv
    fn = s.client.ch.stream_stream(nl.DRIVER + "ExecTaskStreaming", request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=d.ExecTaskStreamingResponse.FromString)
    setup = d.ExecTaskStreamingRequest()
    setup.setup.task_id = run.id
    setup.setup.command.extend(marked(tag, "exec /bin/cat /dev/zero"))
    stop = threading.Event()

    def reqs():
        yield setup
        stop.wait(60)
    call = fn(reqs(), timeout=60)
    peak, got, end = rss0, 0, time.monotonic() + 8
    for m in call:
        got += len(m.stdout.data)
        time.sleep(0.01)
        peak = max(peak, rss_kb(s.plugin.pid))
        if time.monotonic() > end:
            break
    call.cancel()
    stop.set()
    grew = (peak - rss0) / 1024
    t.note(f"slow reader: {got / 1e6:.1f} MB read in 8 s; plugin RSS {rss0 / 1024:.1f} MB, peak +{grew:.1f} MB")
    t.expect(grew < 16, f"plugin RSS grew {grew:.0f} MB for one session with a slow reader")
    gone_within(t, tag, 1.0, "cancel of the slow session", s)
    # Order and completeness for a reader that keeps up (20 MB of numbered lines).
    e = s.client.exec_streaming(run.id, [SH, "-c", "i=0; while [ $i -lt 200000 ]; do echo line$i; i=$((i+1)); done"],
                                timeout=120)
    t.require(e.wait_done(110), "numbered output did not finish")
    want = b"".join(b"line%d\n" % i for i in range(200000))
    t.expect(e.out == want, f"output lost or reordered: got {len(e.out)} bytes, want {len(want)}")
    s.finish(run)


def case_exec_stdin_backpressure(t, s):
    """40 MB of stdin to a command that reads slowly: all of it arrives, the
    plugin does not buffer it."""
    run = task(t, s, "xstdin")
    rss0 = rss_kb(s.plugin.pid)
    e = s.client.exec_streaming(run.id, [SH, "-c", "/bin/sleep 2; /usr/bin/wc -c"], timeout=120)
    chunk = b"x" * 65536
    for _ in range(640):
        e.stdin(chunk)
        with e.cond:
            while len(e.q) > 8 and not e.done:
                e.cond.wait(0.05)
    e.stdin(close=True)
    peak = rss_kb(s.plugin.pid)
    t.require(e.wait_done(60), "wc did not finish")
    t.expect(e.out.strip() == str(640 * 65536).encode(), f"wc counted {e.out!r}, want {640 * 65536}")
    t.expect((peak - rss0) / 1024 < 16, f"plugin RSS grew {(peak - rss0) / 1024:.0f} MB while stdin was pending")
    s.finish(run)


def case_exec_ExecTask_timeout(t, s):
    """ExecTask (script checks) with a 2 s timeout: a command ignoring SIGTERM,
    and one whose background child keeps stdout open, return at the deadline
    plus a short grace, say they timed out, keep the output so far, and leave
    no process behind."""
    run = task(t, s, "xtimeout")
    for what, body in (("ignores SIGTERM", 'echo before; trap "" TERM; while :; do /bin/sleep 1; done'),
                       ("background child holds stdout", "echo before; /bin/sleep 60 & exit 0")):
        tag = mark()
        start = time.monotonic()
        try:
            r = s.client.exec_task(run.id, marked(tag, body), timeout_s=2, rpc_timeout=40)
        except grpc.RpcError as e:
            t.expect(False, f"{what}: ExecTask failed: {e.code().name} {e.details()}")
            continue
        took = time.monotonic() - start
        t.note(f"{what}: returned after {took:.2f} s, exit {r.result.exit_code} signal {r.result.signal}")
        t.expect(took < 5.0, f"{what}: ExecTask with a 2 s timeout returned after {took:.1f} s")
        t.expect(r.stdout.startswith(b"before"), f"{what}: output so far lost: {r.stdout!r}")
        t.expect(r.result.exit_code != 0 and b"timed out" in r.stderr,
                 f"{what}: result does not say it timed out: exit {r.result.exit_code}, stderr {r.stderr!r}")
        gone_within(t, tag, 1.0, f"ExecTask timeout ({what})", s)
    s.finish(run)


def case_exec_RecoverTask_twice_one_event(t, s):
    """RecoverTask repeated for a task this plugin already has: one "recovered"
    event, not two."""
    run = task(t, s, "xrecover")
    ev = s.client.task_events()
    h = s.pb.drv.TaskHandle()
    h.CopyFrom(run.handle)
    h.config.msgpack_driver_config = b""
    for _ in range(2):
        t.rpc_ok(lambda: s.client.recover_task(h), "RecoverTask of a running task")
    time.sleep(1)
    mine = [e for _, e in ev.items if e.alloc_id == run.alloc.id]
    ev.cancel()
    t.expect(len(mine) <= 1, f"{len(mine)} events for two RecoverTask calls of one task: "
                             f"{[e.message for e in mine]}")
    s.finish(run)


def shutdown_with_session(t, s, how):
    p, c = s.launch()
    t.rpc_ok(lambda: c.set_config(s.plugin_config()), "SetConfig")
    run = s.task(t, "xshut" + how, SH, ["-c", f"echo ready; {LOOP}"])
    resp = t.rpc_ok(lambda: c.start_task(run.tc), "StartTask")
    run.handle = resp.handle
    t.require(run.alloc.stdout.wait_for("ready"), "task did not start")
    tag = mark()
    e = started_stream(t, s, c, run, tag)
    time.sleep(1)
    start = time.monotonic()
    if how == "rpc":
        try:
            p.channel.unary_unary("/plugin.GRPCController/Shutdown")(b"", timeout=2)
        except grpc.RpcError:
            pass
    else:
        os.kill(p.pid, signal.SIGTERM)
    try:
        p.proc.wait(3)
    except Exception:  # noqa: BLE001
        pass
    took = time.monotonic() - start
    t.note(f"shutdown ({how}) with an exec session open: plugin exited after {took:.2f} s")
    t.expect(not p.alive() and took < 2.0, f"plugin still running {took:.1f} s after shutdown ({how})")
    p.kill()
    gone_within(t, tag, 1.0, f"shutdown ({how})", s)
    t.expect(nl.alloc_pids(run.alloc.id), "the task did not survive the plugin's shutdown")
    # The next plugin recovers the task; exec works there.
    h = s.pb.drv.TaskHandle()
    h.CopyFrom(run.handle)
    h.config.msgpack_driver_config = b""
    t.rpc_ok(lambda: s.client.recover_task(h), "RecoverTask after shutdown")
    r = t.rpc_ok(lambda: s.client.exec_task(run.id, [SH, "-c", "echo alive"]), "ExecTask after recovery")
    t.expect(r.stdout == b"alive\n", f"ExecTask after recovery: {r.stdout!r}")
    s.finish(run)


def case_exec_plugin_shutdown_rpc(t, s):
    """go-plugin's Shutdown with an exec session open: the plugin leaves within
    1 s, the session's processes end, the task keeps running and is recovered."""
    need(t, s)
    shutdown_with_session(t, s, "rpc")


def case_exec_plugin_sigterm(t, s):
    """The same with SIGTERM."""
    need(t, s)
    shutdown_with_session(t, s, "sigterm")


def case_exec_plugin_killed_then_recovered(t, s):
    """The plugin is SIGKILLed with a session open (go-plugin's last resort):
    nothing can end the session then, but the next plugin's RecoverTask of the
    task does (the session's client went with the old plugin)."""
    need(t, s)
    p, c = s.launch()
    t.rpc_ok(lambda: c.set_config(s.plugin_config()), "SetConfig")
    run = s.task(t, "xkilled", SH, ["-c", f"echo ready; {LOOP}"])
    run.handle = t.rpc_ok(lambda: c.start_task(run.tc), "StartTask").handle
    t.require(run.alloc.stdout.wait_for("ready"), "task did not start")
    tag = mark()
    started_stream(t, s, c, run, tag)
    p.kill()
    h = s.pb.drv.TaskHandle()
    h.CopyFrom(run.handle)
    h.config.msgpack_driver_config = b""
    t.rpc_ok(lambda: s.client.recover_task(h), "RecoverTask after the plugin was killed")
    gone_within(t, tag, 1.0, "RecoverTask after a killed plugin", s)
    t.expect(nl.alloc_pids(run.alloc.id), "the task did not survive")
    s.finish(run)


def soak_one(s, run, i, tags):
    tag = mark()
    tags.append(tag)
    kind = i % 5
    try:
        if kind == 0:
            s.client.exec_task(run.id, marked(tag, "echo hi"), rpc_timeout=60)
        elif kind == 1:
            s.client.exec_task(run.id, marked(tag, STUBBORN + "/bin/sleep 30"), timeout_s=1, rpc_timeout=60)
        elif kind == 2:
            e = s.client.exec_streaming(run.id, marked(tag, "echo hi; exit 3"), timeout=60)
            e.wait_done(50)
        elif kind == 3:
            e = s.client.exec_streaming(run.id, marked(tag, STUBBORN + "/usr/bin/yes"), timeout=60)
            e.wait_output(b"y\n", 20)
            e.call.cancel()
        else:
            e = s.client.exec_streaming(run.id, marked(tag, STUBBORN + "/bin/sleep 30"), timeout=2)
            e.wait_done(30)
    except grpc.RpcError:
        pass


def run_many(s, runs, n, tags):
    sem = threading.Semaphore(8)

    def one(i):
        with sem:
            soak_one(s, runs[i % len(runs)], i, tags)
    workers = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)


def case_exec_soak(t, s):
    """200 exec sessions (ExecTask and streaming; normal end, timeout, cancel,
    deadline) against 10 tasks, 8 at a time: then no process of any session,
    the plugin's fds and memory back where they were."""
    need(t, s)
    runs = [task(t, s, f"soak{i}") for i in range(10)]
    pid = s.plugin.pid
    warm = []
    run_many(s, runs, 30, warm)  # warm-up: gRPC's thread pool and the allocator settle
    time.sleep(1)
    rss0, fd0, th0 = rss_kb(pid), fds(pid), threads(pid)
    tags, start = [], time.monotonic()
    run_many(s, runs, 200, tags)
    took = time.monotonic() - start
    t.expect(nl.wait_until(lambda: not any(session_pids(x) for x in tags + warm), 5),
             "processes of soak sessions left")
    time.sleep(2)
    rss1, fd1, th1 = rss_kb(pid), fds(pid), threads(pid)
    t.note(f"200 sessions in {took:.1f} s; plugin RSS {rss0 / 1024:.1f} -> {rss1 / 1024:.1f} MB, "
           f"fds {fd0} -> {fd1}, threads {th0} -> {th1}")
    t.expect(fd1 <= fd0, f"plugin fds {fd0} -> {fd1} after the soak")
    t.expect(rss1 - rss0 <= 2048, f"plugin RSS {rss0 / 1024:.1f} -> {rss1 / 1024:.1f} MB after the soak (bound +2 MB)")
    t.expect(not tmp_leftovers(), f"/tmp leftovers {tmp_leftovers()}")
    t.expect(not session_cgroups(s), f"session cgroups left: {session_cgroups(s)}")
    for run in runs:
        s.finish(run)


CASES = [(n[len("case_"):], f) for n, f in list(globals().items()) if n.startswith("case_")]
