"""test_cli.py cases, part 3: more exec/run/hook/lifecycle corners."""
import json
import os
import time
from pathlib import Path

import itlib
from itlib import finish, pid_alive, spawn, wait_until


def runtime_argv(t, *args):
    return [*t.rt.prefix, "--root", str(t.rt.root), *args]


def case_exec_caps_and_no_new_privs(t):
    cid, _ = t.started(t.sleeper())
    res = t.rt("exec", "--cap", "CAP_SYS_ADMIN", "--no-new-privs", cid, "/bin/sworn-probe")
    view = res.json()
    t.require(res.rc == 0 and isinstance(view, dict), f"exec --cap --no-new-privs: {res.describe()}")
    eff = int(view["status"].get("CapEff", "0"), 16)
    t.expect(eff & (1 << 21), f"--cap CAP_SYS_ADMIN: CapEff {view['status'].get('CapEff')} lacks bit 21")
    t.expect(view["status"].get("NoNewPrivs") == "1", f"--no-new-privs: NoNewPrivs {view['status'].get('NoNewPrivs')}")
    res = t.rt("exec", "--cap", "CAP_NOT_A_CAP", cid, "/bin/true")
    t.expect(res.rc not in (0, None), f"exec --cap CAP_NOT_A_CAP: {res.describe()}")


def case_exec_preserve_fds(t):
    cid, _ = t.started(t.sleeper())
    data = Path(t.ws.base) / f"{t.name}.txt"
    data.write_text("exec fd three\n")
    res = itlib.run_cmd(["sh", "-c", f'exec "$@" 3<{data}', "sh",
                         *runtime_argv(t, "exec", "--preserve-fds", "1", cid, "/bin/sh", "-c", "cat <&3")])
    t.expect(res.rc == 0 and res.out == "exec fd three\n", f"exec --preserve-fds 1: {res.describe()} {res.out!r}")


def case_exec_into_time_and_cgroup_ns(t):
    """exec joins every namespace of the init, time and cgroup included."""
    if not os.path.exists("/proc/self/ns/time"):
        raise itlib.Skip("no time namespaces")
    boot = 20 * 86400
    cfg = t.sleeper()
    cfg["linux"]["namespaces"] += [{"type": "time"}, {"type": "cgroup"}]
    cfg["linux"]["timeOffsets"] = {"boottime": {"secs": boot, "nanosecs": 0}}
    cid, _ = t.started(cfg)
    init = t.pid(cid)
    res = t.rt("exec", cid, "/bin/sh", "-c", "cat /proc/uptime; cat /proc/self/cgroup")
    t.require(res.rc == 0, f"exec: {res.describe()}")
    lines = res.out.split("\n")
    host_up = float(Path("/proc/uptime").read_text().split()[0])
    inside = float(lines[0].split()[0])
    t.expect(abs(inside - host_up - boot) < 10, f"exec'd process sees uptime {inside:.0f}, host {host_up:.0f}: "
                                                f"not in the container's time namespace")
    cg = [l for l in lines[1:] if l]
    t.expect(cg and all(l.split(":", 2)[2] == "/" for l in cg), f"exec'd /proc/self/cgroup: {cg}")
    for ns in ("time", "cgroup"):
        got = res and itlib.ns_link(init, ns)
        t.expect(got, f"init has no {ns} ns link")


def case_run_terminal_foreground(t):
    """`run` of a terminal container without --console-socket proxies the pty to stdio."""
    cfg = t.config(["/bin/sh"], terminal=True)
    cid, res = t.run(cfg, stdin=b"echo hi-$((6*7)); tty; exit 5\n")
    t.expect(res.rc == 5, f"run terminal: {res.describe()}, want exit 5")
    t.expect("hi-42" in res.out and "/dev/pts/" in res.out, f"run terminal output: {res.out[-300:]!r}")


def case_exec_tty_foreground(t):
    cid, _ = t.started(t.sleeper())
    res = t.rt("exec", "--tty", cid, "/bin/sh", stdin=b"echo hi-$((6*7)); tty; exit 6\n")
    t.expect(res.rc == 6, f"exec --tty: {res.describe()}, want exit 6")
    t.expect("hi-42" in res.out and "/dev/pts/" in res.out, f"exec --tty output: {res.out[-300:]!r}")


def case_concurrent_create_same_id(t):
    for round_ in range(3):
        cid, bundle = t.bundle(t.sleeper())
        procs = [spawn(runtime_argv(t, "create", "--bundle", str(bundle), cid)) for _ in range(2)]
        results = [finish(p) for p in procs]
        codes = [rc for rc, _ in results]
        t.expect(codes.count(0) == 1 and None not in codes,
                 f"round {round_}: two concurrent creates of one id gave {codes} "
                 f"{[o.strip()[-120:] for _, o in results]}")
        res, st = t.rt.state(cid)
        t.expect(st is not None and st.get("status") == "created",
                 f"round {round_}: the winner's container is damaged: {res.describe()}")
        if st:
            procs = itlib.v1_procs("pids", t.cgroup_path(cid))
            t.expect(procs == {st["pid"]}, f"round {round_}: cgroup holds {procs}, want just {st['pid']}")
            t.expect(t.rt("start", cid).rc == 0, f"round {round_}: start of the winner failed")


def case_kill_all_and_signals(t):
    """kill --all reaches exec'd processes too; kill of a stopped container fails."""
    cfg = t.sleeper()
    cid, bundle = t.started(cfg)
    pid_file = bundle / "x.pid"
    t.ok(t.rt("exec", "--detach", "--pid-file", str(pid_file), cid, "/bin/sworn-probe", "sleep", "60"), "exec -d")
    extra = int(pid_file.read_text())
    t.ok(t.rt("kill", "--all", cid, "USR1"), "kill --all USR1")
    t.expect(wait_until(lambda: not pid_alive(extra), 3), "kill --all did not reach the exec'd process")
    t.expect(t.rt.wait_status(cid, "stopped") == "stopped", "kill --all did not stop the init")
    res = t.rt("kill", cid, "TERM")
    t.expect(res.rc not in (0, None), f"kill of a stopped container: {res.describe()}")


def case_hooks_poststop_on_run_and_force_delete(t):
    hostdir = Path(t.ws.base) / f"hooks-{t.name}"
    hostdir.mkdir()
    hook = {"path": "/bin/sh", "args": ["sh", "-c", f"cat > {hostdir}/$0.json", "X"], "env": ["PATH=/bin"]}
    cfg = t.config(["/bin/sworn-probe", "exit", "0"])
    cfg["hooks"] = {"poststop": [dict(hook, args=["sh", "-c", f"cat > {hostdir}/run.json"])]}
    cid, res = t.run(cfg)
    t.expect(res.rc == 0, f"run: {res.describe()}")
    t.expect((hostdir / "run.json").exists(), "poststop hook did not run when `run` removed the container")
    cfg = t.sleeper()
    cfg["hooks"] = {"poststop": [dict(hook, args=["sh", "-c", f"cat > {hostdir}/force.json"])],
                    "poststart": [dict(hook, args=["sh", "-c", "exit 1"])]}
    cid, bundle = t.create(cfg)
    res = t.rt("start", cid)
    t.expect(res.rc == 0, f"start with a failing poststart hook (only a warning per spec): {res.describe()}")
    t.ok(t.rt("delete", "--force", cid), "delete --force")
    try:
        st = json.loads((hostdir / "force.json").read_text())
        t.expect(st.get("id") == cid and st.get("status") == "stopped", f"poststop state on delete --force: {st}")
    except (OSError, ValueError) as e:
        t.fail(f"poststop hook on delete --force: {e}")


def case_failing_create_container_hook(t):
    cfg = t.sleeper()
    cfg["hooks"] = {"createContainer": [{"path": "/bin/false"}]}
    cid, bundle = t.bundle(cfg)
    res = t.rt("create", "--bundle", str(bundle), cid)
    t.expect(res.rc not in (0, None), f"create with a failing createContainer hook: {res.describe()}")
    t.expect(not (t.rt.root / cid).exists(), "state dir left behind")
    t.expect(not itlib.cgroup_dirs(t.cgroup_path(cid)), "cgroup left behind")


def case_spec_verb_bundles_run(t):
    for flags in ([], ["--rootless"]):
        cid, bundle = t.bundle(t.config())
        (bundle / "config.json").unlink()
        t.ok(t.rt("spec", "--bundle", str(bundle), *flags), f"spec {flags}")
        cfg = json.loads((bundle / "config.json").read_text())
        cfg["process"].update(terminal=False, args=["/bin/sh", "-c", "id -u; cat /proc/self/uid_map"])
        cfg.setdefault("linux", {})["cgroupsPath"] = t.cgroup_path(cid)
        (bundle / "config.json").write_text(json.dumps(cfg))
        res = t.rt("run", "--bundle", str(bundle), cid)
        t.expect(res.rc == 0 and res.out.split()[:1] == ["0"], f"run of `spec {' '.join(flags)}`: "
                                                               f"{res.describe()} {res.out!r}")
        res = t.rt("spec", "--bundle", str(bundle), *flags)
        t.expect(res.rc not in (0, None), f"spec over an existing config.json: {res.describe()}")


def case_start_after_init_died(t):
    """A created container whose init was killed: start fails, status stopped, delete works."""
    cid, _ = t.create(t.sleeper())
    pid = t.pid(cid)
    itlib.kill_pid(pid)
    wait_until(lambda: not pid_alive(pid), 3)
    res = t.rt("start", cid)
    t.expect(res.rc not in (0, None), f"start after the init was killed: {res.describe()}")
    t.expect(t.rt.wait_status(cid, "stopped", 2) == "stopped", "status after the init died")
    t.ok(t.rt("delete", cid), "delete of the stopped container")
    t.expect(not itlib.cgroup_dirs(t.cgroup_path(cid)), "cgroup left after delete")
