"""Recovery scenarios for test_driver.py: the task's supervisor killed from
outside, a task that ends while no plugin is running, and handles that can
no longer be recovered."""
import json
import os
from pathlib import Path

import nomadlib as nl
from driver_cases import LOOP, SH, exit_of, need, stop_file
from driver_cases_more import task_pid


def case_supervisor_killed(t, s):
    """A supervisor killed from outside: WaitTask reports it with err set, and the
    task's processes are killed rather than left running unwatched."""
    need(t, s)
    run = s.started(t, "orphan", SH, ["-c", f"echo ready; {LOOP}"])
    t.require(run.alloc.stdout.wait_for("ready"), "task did not start")
    init = task_pid(t, s, run)
    sup = json.loads(run.handle.driver_state)["supervisor_pid"]
    os.kill(sup, 9)
    code, sig, oom, err = exit_of(s.wait(t, run, 20))
    t.expect(code != 0 and err, f"WaitTask after the supervisor died: exit {code}, err {err!r}: want an error")
    t.expect(nl.wait_until(lambda: not nl.pid_alive(init), 5), f"task process {init} still alive after its "
                                                              "supervisor died")
    t.expect(not nl.alloc_pids(run.alloc.id), f"processes of the alloc left: {nl.alloc_pids(run.alloc.id)}")
    s.finish(run)



def case_exit_while_plugin_down(t, s):
    """The task ends while no plugin runs: the next plugin's RecoverTask adopts
    the result its supervisor wrote, and WaitTask reports the real exit code."""
    need(t, s)
    run = s.started(t, "lonely", SH, ["-c", f"echo ready; {LOOP}; exit 9"])
    t.require(run.alloc.stdout.wait_for("ready"), "task did not start")
    old = s.plugin
    for st in s.streams.values():
        st.cancel()
    old.kill()
    stop_file(run)
    sup = json.loads(run.handle.driver_state)["supervisor_pid"]
    t.require(nl.wait_until(lambda: not nl.pid_alive(sup), 10), "the task's supervisor did not finish")
    p, c = s.launch()
    t.rpc_ok(lambda: c.set_config(s.plugin_config()), "SetConfig on the new instance")
    s.plugin, s.client = p, c
    s.streams = {"Fingerprint": c.fingerprint(), "TaskEvents": c.task_events()}
    h = s.pb.drv.TaskHandle()
    h.CopyFrom(run.handle)
    h.config.msgpack_driver_config = b""
    t.rpc_ok(lambda: c.recover_task(h), "RecoverTask of a task that ended meanwhile")
    if getattr(s, "main", None):  # the suite's long-running task moves to the new plugin too
        m = s.pb.drv.TaskHandle()
        m.CopyFrom(s.main.handle)
        m.config.msgpack_driver_config = b""
        t.rpc_ok(lambda: c.recover_task(m), "RecoverTask main")
    got = exit_of(s.wait(t, run, 5))
    t.expect(got[:2] == (9, 0) and not got[3], f"WaitTask after recovery: {got}, want exit 9 and no err")
    s.finish(run)


def case_unrecoverable_handles(t, s):
    """Handles that name nothing recoverable: an error, never a hang or a crash."""
    need(t, s)
    d = s.pb.drv
    bad = d.TaskHandle(version=1, driver_state=b"not json")
    bad.config.id = "x/y/00000001"
    t.rpc_err(lambda: s.client.recover_task(bad), "RecoverTask with garbage driver_state", ["driver_state"])
    old = d.TaskHandle(version=0)
    old.config.id = "x/y/00000002"
    t.rpc_err(lambda: s.client.recover_task(old), "RecoverTask of a pre-0.9 handle", ["version"])
    # A supervisor pid that now names another process (pid reuse): not adopted.
    state = {"id": "x/y/00000003", "container_id": "x.y.00000003", "bundle_dir": "/nonexistent",
             "state_root": str(s.base / "state" / "containers"), "sworn": s.args.sworn,
             "exit_file": "/nonexistent/exit.json", "supervisor_pid": os.getpid(), "supervisor_start": 1}
    reused = d.TaskHandle(version=1, driver_state=json.dumps(state).encode())
    reused.config.id = state["id"]
    t.rpc_err(lambda: s.client.recover_task(reused), "RecoverTask naming a reused pid", ["supervisor"])
    t.rpc_err(lambda: s.client.wait_task(state["id"], timeout=3), "WaitTask of an unrecovered task")


def case_nomad_scope_recreated(t, s):
    """A cgroup-v2 task scope made by Nomad (1.6 reuses it when the task
    restarts): the task runs in it, and after the task is gone the scope is
    there again although sworn's delete removed it."""
    need(t, s)
    cg = Path("/sys/fs/cgroup")
    root = cg if (cg / "cgroup.controllers").exists() else cg / "unified"
    if not (root / "cgroup.controllers").exists():
        t.note("no cgroup2 mount: skipped")
        return
    scope = root / s.cgroup_parent.strip("/") / "nomad.slice" / "a1.web.scope"
    scope.mkdir(parents=True, exist_ok=True)
    rel = "/" + str(scope.relative_to(root))
    run = s.task(t, "scoped", SH, ["-c", f"echo ready; {LOOP}"])
    run.tc.resources.linux_resources.cpuset_cgroup = str(scope)
    s.start(t, run)
    t.require(run.alloc.stdout.wait_for("ready"), "task did not start")
    pid = task_pid(t, s, run)
    v2 = [ln.split(":", 2)[2] for ln in open(f"/proc/{pid}/cgroup").read().splitlines() if ln.startswith("0::")]
    t.expect(v2 == [rel], f"task's cgroup2 path {v2}, want Nomad's scope {rel}")
    stop_file(run)
    s.wait(t, run)
    s.finish(run)
    t.expect(nl.wait_until(scope.is_dir, 3), f"Nomad's scope {scope} was not recreated after the task")


CASES = [(n[len("case_"):], f) for n, f in list(globals().items()) if n.startswith("case_")]
