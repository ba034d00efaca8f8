"""test_cli.py cases: sworn.init, the minimal PID 1 (runtime/pid1).

In a pid namespace the kernel drops every signal PID 1 has no handler for:
`sworn kill ID TERM` does nothing to a plain `sleep`.  With sworn.init the
container's PID 1 is sworn-init, which forwards signals to the program
(PID 2), reaps orphans and exits with the program's status; it holds no
capabilities, runs from a sealed memfd and can only wait, signal and exit.
"""
import os
import time

import cli_cases_pledge as pl
import itlib
from itlib import wait_until


def output(run):
    run.out.seek(0)
    return run.out.read().decode(errors="replace")

INIT = {"sworn.init": "true"}


def init_config(t, args, ann=INIT, **process):
    cfg = t.config(args, **process)
    cfg["annotations"] = dict(ann)
    return cfg


def host_status(pid):
    fields = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        fields[k] = v.strip()
    return fields


def case_init_sigterm_ends_handlerless_program(t):
    """The program (a sleep with no handler) ends on TERM with 128+15; without sworn.init the
    kernel drops the signal (the control)."""
    cid, _ = t.started(init_config(t, ["/bin/sleep", "100"]))
    res = t.rt("kill", cid, "TERM")
    t.expect(res.rc == 0, f"kill TERM: {res.describe()}")
    t.expect(t.rt.wait_status(cid, "stopped", 3.0) == "stopped", "with sworn.init, TERM did not end the program")
    plain, _ = t.started(t.config(["/bin/sleep", "100"]))
    t.rt("kill", plain, "TERM")
    time.sleep(0.5)
    t.expect(t.rt.wait_status(plain, "running", 0.2) == "running",
             "control: without sworn.init a handler-less PID 1 should ignore TERM")
    cfg = init_config(t, ["/bin/sleep", "100"])
    cid, bundle = t.bundle(cfg)
    with t.rt.spawn("run", "--bundle", str(bundle), cid) as run:
        t.require(t.rt.wait_status(cid, "running", 5.0) == "running", "run did not start")
        t.rt("kill", cid, "TERM")
        rc = run.wait()
    t.expect(rc == 128 + 15, f"run with sworn.init, TERM: exit {rc}, want 143")


def case_init_exit_status_and_pids(t):
    _, res = t.run(init_config(t, ["/bin/sh", "-c", "echo pid=$$ ppid=$PPID; exit 7"]))
    t.expect(res.rc == 7, f"exit 7 under sworn.init: {res.describe()}")
    t.expect("pid=2 ppid=1" in res.out, f"the program should be pid 2 under pid 1: {res.out!r}")
    _, res = t.run(init_config(t, ["/bin/sh", "-c", "kill -KILL $$"]))
    t.expect(res.rc == 128 + 9, f"program killed by SIGKILL: {res.describe()}, want 137")


def case_init_holds_nothing(t):
    """sworn-init: no capabilities, no_new_privs, its seccomp filter, no fds, a sealed memfd as exe."""
    cid, _ = t.started(init_config(t, ["/bin/sleep", "100"]))
    pid = t.pid(cid)
    st = host_status(pid)
    for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        t.expect(int(st[k], 16) == 0, f"sworn-init {k} = {st[k]}, want none")
    t.expect(st["NoNewPrivs"] == "1", f"sworn-init NoNewPrivs = {st['NoNewPrivs']}")
    t.expect(st["Seccomp"] == "2", f"sworn-init Seccomp = {st['Seccomp']}, want 2 (filter)")
    t.expect(st["State"].startswith("S"), f"sworn-init state {st['State']}")
    exe = os.readlink(f"/proc/{pid}/exe")
    t.expect(exe.startswith("/memfd:sworn-init"), f"sworn-init's exe is {exe!r}, want the sealed memfd")
    t.expect(os.listdir(f"/proc/{pid}/fd") == [], f"sworn-init holds fds: {os.listdir(f'/proc/{pid}/fd')}")
    # the runtime's own binary is nowhere among the container's exes
    sworn = os.path.realpath(t.rt.prefix[0])
    procs = itlib.v1_procs("pids", t.cgroup_path(cid)) or set()
    t.expect(len(procs) == 2, f"the container's processes: {procs}, want sworn-init and the program")
    for p in procs:
        t.expect(os.path.realpath(f"/proc/{p}/exe") != sworn, f"pid {p} runs the sworn binary")


def case_init_reaps_orphans(t):
    # The subshell's sleep is orphaned at once and reparented to PID 1.
    cid, _ = t.started(init_config(t, ["/bin/sh", "-c", "(sleep 0.2 &); exec sleep 100"]))
    pid = t.pid(cid)
    time.sleep(0.8)
    zombies = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] == "Z" and int(fields[1]) == pid:
                zombies.append(d)
    t.expect(not zombies, f"zombies left under sworn-init: {zombies}")


def case_init_forwards_other_signals(t):
    """HUP reaches a program that handles it (the probe exits 0 on its handler), through PID 1."""
    script = "trap 'echo got-hup; exit 0' HUP; echo ready; while :; do sleep 0.1; done"
    cfg = init_config(t, ["/bin/sh", "-c", script])
    cid, bundle = t.bundle(cfg)
    with t.rt.spawn("run", "--bundle", str(bundle), cid) as run:
        t.require(wait_until(lambda: "ready" in output(run), 5.0), "the program did not start")
        t.rt("kill", cid, "HUP")
        rc = run.wait()
        out = output(run)
    t.expect(rc == 0 and "got-hup" in out, f"HUP through sworn-init: exit {rc}, output {out!r}")


def case_init_needs_own_pid_namespace(t):
    cfg = init_config(t, ["/bin/true"])
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "pid"]
    cid, bundle = t.bundle(cfg)
    res = t.rt("create", "--bundle", str(bundle), cid)
    t.expect(res.rc != 0 and "sworn.init" in res.err and "pid namespace" in res.err,
             f"sworn.init without a pid namespace: {res.describe()}")
    t.expect(not (t.rt.root / cid).exists(), "a refused create left its state behind")
    bad = init_config(t, ["/bin/true"], {"sworn.init": "yes"})
    cid, bundle = t.bundle(bad)
    res = t.rt("create", "--bundle", str(bundle), cid)
    t.expect(res.rc != 0 and "annotations.sworn.init" in res.err, f"sworn.init=yes: {res.describe()}")


def case_init_keeps_the_pledge(t):
    """A pledged program under sworn-init keeps exactly its promises: it still may not
    exec, and signalling itself (pid 2, not 1) works."""
    ops = [("getpid", "ok"), ("kill_self 10", "ok"), ("reexec", "EPERM@execve")]
    argv = ["/bin/pprobe"] + [w for op, _ in ops for w in op.split()]
    cfg = pl.ann_config(t, argv, {"sworn.pledge.promises": "stdio", **INIT})
    _, _, res = pl.prun(t, cfg)
    pl.check_ops(t, "pledged stdio under sworn.init", res, ops)
