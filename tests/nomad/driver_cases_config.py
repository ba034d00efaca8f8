"""Config corners for test_driver.py: work_dir, a numeric uid:gid user, ipc
mode host (refused, then allowed), and the plugin's default_ipc_mode."""
import os

from driver_cases import SH, bad_start, exit_of, need
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


CASES = [(n[len("case_"):], f) for n, f in list(globals().items()) if n.startswith("case_")]
