"""Config corners for test_driver.py: work_dir, a numeric uid:gid user, ipc
mode host (refused, then allowed), the plugin's default_ipc_mode, a command
relative to the task dir, and StopTask killing every process of a task that
shares the host's pid namespace."""
import os
import time

import grpc

import nomadlib as nl
from driver_cases import LOOP, SH, bad_start, exit_of, need
from driver_cases_more import finish_on, ran, second_plugin, value

PROBE = ('echo "PWD=$(pwd)"; echo "ID=$(id -u):$(id -g)"; echo "IPC=$(readlink /proc/self/ns/ipc)"; echo DONE')


def host_ipc():
    return os.readlink("/proc/self/ns/ipc")


def case_work_dir_and_numeric_user(t, s):
    need(t, s)
    run = s.task(t, "workdir", SH, ["-c", PROBE], work_dir="/local")
    run.tc.user = "4321:4322"
    s.start(t, run)
    got, lines = ran(t, s, run)
    t.expect(got[:2] == (0, 0), f"work_dir/user task: exit {got}: {run.alloc.stderr.text()!r}")
    t.expect(value(lines, "PWD") == "/local", f"work_dir /local: pwd {value(lines, 'PWD')!r}")
    t.expect(value(lines, "ID") == "4321:4322", f"user 4321:4322: id {value(lines, 'ID')!r}")
    t.expect(value(lines, "IPC") not in (None, host_ipc()), "default ipc mode: the task shares the host's")
    s.finish(run)


def case_ipc_mode_host(t, s):
    need(t, s)
    run = s.task(t, "hostipc-denied", SH, ["-c", "true"], ipc_mode="host")
    bad_start(t, s, "ipc_mode host with allow_host_ipc = false", run, ["ipc_mode", "allow_host_ipc"])
    # The plugin's default_ipc_mode = "host" applies to tasks that say nothing.
    p, c = second_plugin(t, s, allow_host_ipc=True, default_ipc_mode="host")
    try:
        run = s.task(t, "hostipc", SH, ["-c", PROBE])
        run.handle = t.rpc_ok(lambda: c.start_task(run.tc), "StartTask with default_ipc_mode host").handle
        got = exit_of(t.rpc_ok(lambda: c.wait_task(run.id, timeout=30), "WaitTask"))
        run.alloc.stdout.wait_for("DONE", 3)
        lines = run.alloc.stdout.text().splitlines()
        t.expect(got[:2] == (0, 0), f"host ipc task exit {got}: {run.alloc.stderr.text()!r}")
        t.expect(value(lines, "IPC") == host_ipc(), f"default_ipc_mode host: ipc ns {value(lines, 'IPC')!r}, "
                 f"host {host_ipc()!r}")
        finish_on(c, run)
        run = s.task(t, "privipc", SH, ["-c", PROBE], ipc_mode="private")
        run.handle = t.rpc_ok(lambda: c.start_task(run.tc), "StartTask ipc_mode private").handle
        t.rpc_ok(lambda: c.wait_task(run.id, timeout=30), "WaitTask")
        run.alloc.stdout.wait_for("DONE", 3)
        ipc = value(run.alloc.stdout.text().splitlines(), "IPC")
        t.expect(ipc not in (None, host_ipc()), f"ipc_mode private overrides the plugin default: {ipc!r}")
        finish_on(c, run)
    finally:
        t.expect(p.shutdown(), "second plugin instance did not exit on Shutdown")


def case_relative_command(t, s):
    """`command = "local/hello.sh"` runs the file from the task dir, as with exec."""
    need(t, s)
    run = s.task(t, "relcmd", "local/hello.sh", [])
    script = run.alloc.task_dir / "local" / "hello.sh"
    script.write_text("#!/bin/sh\necho \"hello from $0\"\necho DONE\n")
    script.chmod(0o755)
    s.start(t, run)
    got, lines = ran(t, s, run)
    t.expect(got[:2] == (0, 0) and "hello from /local/hello.sh" in lines,
             f"relative command: exit {got}, output {lines} {run.alloc.stderr.text()!r}")
    s.finish(run)


def case_stop_kills_every_process(t, s):
    """With the host's pid namespace, killing the task's first process would not
    take its children along: StopTask must kill every process of the task."""
    need(t, s)
    p, c = second_plugin(t, s, allow_host_pid=True)
    try:
        run = s.task(t, "family", SH, ["-c", f"trap '' INT; (trap '' INT TERM; exec /bin/sleep 1000) & "
                                             f"echo ready; {LOOP}"], pid_mode="host")
        run.handle = t.rpc_ok(lambda: c.start_task(run.tc), "StartTask pid_mode host").handle
        t.require(run.alloc.stdout.wait_for("ready"), "task did not start")
        # /proc/<pid>/environ is unreadable for a moment while a process execs: poll.
        t.expect(nl.wait_until(lambda: len(nl.alloc_pids(run.alloc.id)) >= 2, 3),
                 f"task processes: {nl.alloc_pids(run.alloc.id)}, want the shell and its child")
        start = time.monotonic()
        t.rpc_ok(lambda: c.stop_task(run.id, 1, "SIGINT"), "StopTask (SIGINT ignored by all)")
        took = time.monotonic() - start
        t.expect(0.8 < took < 10, f"StopTask took {took:.1f}s with a 1 s timeout")
        t.expect(nl.wait_until(lambda: not nl.alloc_pids(run.alloc.id), 5),
                 f"processes left after StopTask: {nl.alloc_pids(run.alloc.id)}")
        try:
            got = exit_of(c.wait_task(run.id, timeout=10))
            t.expect(got[:2] == (137, 9), f"WaitTask after StopTask: {got}, want 137/9")
        except grpc.RpcError as e:
            t.fail(f"WaitTask after StopTask: {e.code().name}: {e.details()}")
        finish_on(c, run)
    finally:
        t.expect(p.shutdown(), "second plugin instance did not exit on Shutdown")


CASES = [(n[len("case_"):], f) for n, f in list(globals().items()) if n.startswith("case_")]
