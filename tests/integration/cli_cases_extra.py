"""test_cli.py cases, part 3: more exec/run/hook/lifecycle corners."""
import json
import os
import subprocess
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
    res = t.rt("exec", cid, "/bin/sh", "-c", "readlink /proc/self/ns/time; readlink /proc/self/ns/cgroup; "
                                             "cat /proc/uptime; cat /proc/self/cgroup")
    t.require(res.rc == 0, f"exec: {res.describe()}")
    lines = res.out.split("\n")
    for ns, got in zip(("time", "cgroup"), lines[:2]):
        t.expect(got == itlib.ns_link(init, ns), f"exec'd {ns} ns {got} != init's {itlib.ns_link(init, ns)}")
    lines = lines[2:]
    host_up = float(Path("/proc/uptime").read_text().split()[0])
    inside = float(lines[0].split()[0])
    t.expect(abs(inside - host_up - boot) < 10, f"exec'd process sees uptime {inside:.0f}, host {host_up:.0f}: "
                                                f"not in the container's time namespace")
    cg = [l for l in lines[1:] if l]
    t.expect(cg and all(l.split(":", 2)[2] == "/" for l in cg), f"exec'd /proc/self/cgroup: {cg}")


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
    # runtime-spec 1.3.0: a failing poststart hook is an error and stops the container
    t.expect(res.rc == 1 and "poststart" in res.err, f"start with a failing poststart hook: {res.describe()}")
    st = t.rt("state", cid)
    t.expect(st.rc == 0 and json.loads(st.out).get("status") == "stopped", f"state after it: {st.describe()} {st.out}")
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


def case_hooks_timeout_with_large_state(t):
    """The hook timeout holds even when the state JSON (large annotations) fills
    the pipe and the hook never reads its stdin."""
    cfg = t.sleeper()
    cfg["annotations"] = {"big": "x" * 300000}
    cfg["hooks"] = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "exec sleep 6"], "timeout": 1}]}
    cid, bundle = t.bundle(cfg)
    start = time.monotonic()
    res = t.rt("create", "--bundle", str(bundle), cid)
    took = time.monotonic() - start
    t.expect(res.rc not in (0, None), f"create with a prestart hook that outlives its 1s timeout: {res.describe()}")
    t.expect(took < 4.5, f"create took {took:.1f}s with a 1s hook timeout")
    t.expect(not (t.rt.root / cid).exists(), "state dir left behind")


def case_list_and_state_not_blocked_by_create(t):
    """While one container's create runs a slow hook, `list` and `state` answer at once."""
    cfg = t.sleeper()
    cfg["hooks"] = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "exec sleep 4"]}]}
    other, _ = t.create(t.sleeper())
    cid, bundle = t.bundle(cfg)
    proc = spawn(runtime_argv(t, "create", "--bundle", str(bundle), cid))
    t.on_cleanup(lambda: proc.poll() is None and (itlib.harness.kill_group(proc.pid), proc.wait()))
    wait_until(lambda: (t.rt.root / cid).exists(), 3)
    time.sleep(0.5)
    for args in (["list", "-q"], ["state", other], ["state", cid]):
        start = time.monotonic()
        res = t.rt(*args)
        took = time.monotonic() - start
        t.expect(took < 1.5, f"`{' '.join(args)}` took {took:.1f}s while {cid}'s create ran a hook ({res.describe()})")
    rc, out = finish(proc)
    t.expect(rc == 0, f"create with a 4s prestart hook: rc {rc} {out[-200:]!r}")


def case_hook_can_query_state(t):
    """A createRuntime hook that runs `sworn state <id>` (as CNI-style tools do) must not deadlock the create."""
    logf = Path(t.ws.base) / f"{t.name}.state"
    cid, bundle = t.bundle(t.sleeper())
    cfg = json.loads((bundle / "config.json").read_text())
    cmd = " ".join(runtime_argv(t, "state", cid))
    cfg["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", f"{cmd} > {logf}; true"],
                                       "timeout": 5}]}
    (bundle / "config.json").write_text(json.dumps(cfg))
    start = time.monotonic()
    res = t.rt("create", "--bundle", str(bundle), cid)
    took = time.monotonic() - start
    t.expect(res.rc == 0 and took < 3, f"create whose hook runs `state`: {res.describe()} after {took:.1f}s")
    # runc 1.1 answers "does not exist" at this point; a state that is printed must be right
    text = logf.read_text() if logf.exists() else ""
    if text.strip():
        try:
            st = json.loads(text)
            t.expect(st.get("status") == "creating" and st.get("id") == cid, f"state seen from the hook: {st}")
        except ValueError:
            t.fail(f"`state` from inside the hook printed {text[:200]!r}")


def case_exec_stdin_and_signal_exit(t):
    cid, _ = t.started(t.sleeper())
    res = t.rt("exec", cid, "/bin/cat", stdin=b"via exec stdin\n")
    t.expect(res.rc == 0 and res.out == "via exec stdin\n", f"exec cat: {res.describe()} {res.out!r}")
    res = t.rt("exec", cid, "/bin/sh", "-c", "kill -9 $$")
    t.expect(res.rc == 137, f"exec'd process killed by SIGKILL: {res.describe()}, want 137")


def case_exec_in_user_namespace(t):
    from cli_cases_more import chown_tree, in_user_namespace
    cfg = in_user_namespace(t.sleeper(), 100000, 65536)
    cid, bundle = t.bundle(cfg)
    chown_tree(bundle / "rootfs", 100000)
    for d in (t.ws.base, bundle.parent, bundle):
        os.chmod(d, 0o711)
    t.ok(t.rt("create", "--bundle", str(bundle), cid), "create")
    t.ok(t.rt("start", cid), "start")
    res = t.rt("exec", cid, "/bin/cat", "/proc/self/uid_map")
    t.expect(res.rc == 0 and res.out.split() == ["0", "100000", "65536"], f"exec uid_map: {res.describe()} {res.out!r}")
    pid_file = bundle / "u.pid"
    t.ok(t.rt("exec", "--detach", "--user", "1000:1000", "--pid-file", str(pid_file), cid,
              "/bin/sworn-probe", "sleep", "30"), "exec --user 1000:1000 -d")
    pid = int(pid_file.read_text())
    status = Path(f"/proc/{pid}/status").read_text()
    uid_line = next(l for l in status.splitlines() if l.startswith("Uid:"))
    t.expect(uid_line.split()[1:] == ["101000"] * 4, f"exec'd user 1000 is host {uid_line}, want 101000")
    t.expect(itlib.ns_link(pid, "user") == itlib.ns_link(t.pid(cid), "user"), "exec not in the container's userns")


def case_run_detach(t):
    cid, bundle = t.bundle(t.sleeper())
    start = time.monotonic()
    res = t.rt("run", "--detach", "--bundle", str(bundle), cid)
    took = time.monotonic() - start
    t.expect(res.rc == 0 and took < 5, f"run --detach: {res.describe()} after {took:.1f}s")
    st = t.state(cid)
    t.expect(st["status"] == "running" and pid_alive(st["pid"]), f"after run --detach: {st['status']}")
    fds = sorted(int(f) for f in os.listdir(f"/proc/{st['pid']}/fd"))
    t.expect(fds == [0, 1, 2], f"run --detach: init's fds {fds}")



def run_supervised(t, bundle, cid, exit_file):
    """`run --exit-file F --ready-fd 5`; returns (rc, output, bytes read from the ready fd)."""
    r, w = os.pipe()
    proc = spawn(["sh", "-c", 'exec "$@" 5>&%d' % w, "sh",
                  *runtime_argv(t, "run", "--exit-file", str(exit_file), "--ready-fd", "5", "--bundle", str(bundle), cid)],
                 pass_fds=(w,))
    os.close(w)
    ready = os.read(r, 16)
    os.close(r)
    rc, out = finish(proc)
    return rc, out, ready


def case_run_exit_file_and_ready_fd(t):
    """`run --exit-file --ready-fd` (the Nomad driver's supervisor): a byte on the
    ready fd once started, and exit code, signal and OOM as JSON once it ends."""
    exit_file = Path(t.ws.base) / f"{t.name}.exit.json"
    for tag, script, code, sig in (("code", "exit 7", 7, 0), ("signal", "kill -KILL $$", 137, 9)):
        exit_file.unlink(missing_ok=True)
        cfg = t.config(["/bin/sh", "-c", script])
        # Outside a pid namespace: as pid 1 the shell would be immune to its own SIGKILL.
        cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "pid"]
        cid, bundle = t.bundle(cfg, tag=tag)
        rc, out, ready = run_supervised(t, bundle, cid, exit_file)
        t.expect(rc == code, f"run ({tag}): exit {rc}, want {code}: {out}")
        t.expect(ready == b"1", f"run ({tag}): ready fd got {ready!r}")
        got = json.loads(exit_file.read_text()) if exit_file.exists() else None
        t.expect(got and got["exit_code"] == code and got["signal"] == sig and got["oom_killed"] is False,
                 f"run ({tag}): exit file {got}")
    # A create that fails writes neither the byte nor an exit file.
    exit_file.unlink(missing_ok=True)
    cid, bundle = t.bundle(t.config(["/no/such/program"]), tag="bad")
    rc, out, ready = run_supervised(t, bundle, cid, exit_file)
    t.expect(rc != 0 and ready == b"" and not exit_file.exists(),
             f"run of a missing program: rc {rc}, ready {ready!r}, exit file {exit_file.exists()}: {out}")
    res = t.rt("run", "--detach", "--exit-file", str(exit_file), "--bundle", str(bundle), cid + "-d")
    t.expect(res.rc != 0 and "--exit-file" in res.err, f"run --detach --exit-file: {res.describe()}")


def case_delete_stopped_kills_leftovers(t):
    """Without a pid namespace the init can exit and leave children behind;
    deleting the stopped container must not leave them (or the cgroup) around."""
    cfg = t.config(["/bin/sh", "-c", "sleep 100 >/dev/null 2>&1 & exit 0"])
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "pid"]
    cid, _ = t.started(cfg)
    t.require(t.rt.wait_status(cid, "stopped") == "stopped", "init did not exit")
    left = itlib.procs_in_cgroup_tree(t.cgroup_path(cid))
    t.require(left, "setup: the background sleep is not in the cgroup")
    res = t.rt("delete", cid)
    t.expect(res.rc == 0, f"delete of the stopped container: {res.describe()}")
    t.expect(wait_until(lambda: not any(pid_alive(p) for p in left), 3), f"leftover processes {sorted(left)} survive")
    t.expect(not itlib.cgroup_dirs(t.cgroup_path(cid)), "cgroup left after delete")



def case_masked_paths_refuse_fake_dev_null(t):
    """A mask is a bind of /dev/null. When the image supplies /dev (a bind
    mount) and its `null` is a symlink to a file, binding it would put that
    file over the masked path; sworn refuses to start instead."""
    cfg = t.config(["/bin/true"])
    cid, bundle = t.bundle(cfg)
    dev = bundle / "fake-dev"
    dev.mkdir()
    (bundle / "rootfs" / "secret").write_text("not a null device\n")
    os.symlink("/secret", dev / "null")
    cfg["mounts"] = [m for m in cfg["mounts"] if not m["destination"].startswith("/dev")]
    cfg["mounts"].append({"destination": "/dev", "type": "bind", "source": str(dev), "options": ["rbind"]})
    cfg["linux"]["maskedPaths"] = ["/proc/timer_list"]
    itlib.write_json(bundle / "config.json", cfg)
    res = t.rt("run", "--bundle", str(bundle), cid)
    t.expect(res.rc not in (0, None), f"run with a symlinked /dev/null: {res.describe()}, want a failure")
    t.expect("not the null device" in res.err, f"the error should say why: {res.err!r}")
    t.expect(not (t.rt.root / cid).exists(), "state dir left behind")


def case_sysctl_mount_attrs_propagation(t):
    """linux.sysctl is written in the container's namespaces; rro makes a
    bind read-only recursively; tmpcopyup copies what was below a tmpfs;
    rootfsPropagation is applied to / (runc 1.1 leaves it private)."""
    host = t.ws.base / "rro-src"
    (host / "sub").mkdir(parents=True, exist_ok=True)
    cfg = t.config(["/bin/sh", "-c",
                    "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni; "
                    "touch /rro/x 2>/dev/null && echo rro-writable || echo rro-ro; "
                    "cat /etc/copied; awk '$5 == \"/\"' /proc/self/mountinfo | grep -o 'shared:[0-9]*' | head -1 | sed 's/:.*//'"])
    cfg["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}
    cfg["linux"]["rootfsPropagation"] = "shared"
    cfg["mounts"].append({"destination": "/rro", "type": "bind", "source": str(host), "options": ["rbind", "rro"]})
    cfg["mounts"].append({"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]})
    cid, bundle = t.bundle(cfg)
    (bundle / "rootfs" / "etc" / "copied").write_text("copied-up\n")
    res = t.rt("run", "--bundle", str(bundle), cid)
    t.require(res.rc == 0, f"run: {res.describe()}")
    lines = res.out.split()
    t.expect(lines[:2] == ["1", "1234"], f"sysctls inside: {lines[:2]}, want ['1', '1234']")
    t.expect("rro-ro" in lines, f"rro bind mount is writable: {res.out!r}")
    t.expect("copied-up" in lines, f"tmpcopyup did not copy /etc: {res.out!r}")
    t.expect("shared" in lines, f"rootfsPropagation shared not applied to /: {res.out!r}")
    t.expect(not (host / "x").exists(), "the write reached the host directory")
    with open("/proc/sys/kernel/shmmni") as f:
        t.expect(f.read().strip() != "1234", "kernel.shmmni leaked to the host")


def case_sigkill_reaches_paused_container(t):
    """A frozen task takes SIGKILL only once thawed: kill (and kill --all)
    with KILL on a paused container must leave it stopped, as with runc
    (containerd's `task delete -f` relies on it)."""
    for flags in ([], ["--all"]):
        cid, _ = t.started(t.sleeper())
        t.ok(t.rt("pause", cid), "pause")
        t.ok(t.rt("kill", *flags, cid, "KILL"), f"kill {' '.join(flags)} KILL")
        stopped = wait_until(lambda: json.loads(t.rt("state", cid).out or "{}").get("status") == "stopped", timeout=5)
        t.expect(stopped, f"kill {' '.join(flags)} KILL of a paused container: still {t.rt('state', cid).out!r}")
        t.ok(t.rt("delete", cid), "delete")


def _under_ignored_signals(t, *args):
    """sworn ARGS started by a shell that ignores INT, USR1, PIPE and TERM
    (exec keeps SIG_IGN): what a caller such as nohup or a daemon hands on."""
    cmd = " ".join(["exec", *(f"'{a}'" for a in [*t.rt.prefix, "--root", str(t.rt.root), *args])])
    return finish(spawn(["/bin/sh", "-c", "trap '' INT USR1 PIPE TERM; " + cmd], stdin=subprocess.PIPE))


def case_ignored_signals_reset_for_the_program(t):
    """Signals the caller ignored are default again in the container's
    program, for run and exec, as with runc (SigIgn 0 in /proc/self/status)."""
    probe = ["/bin/grep", "SigIgn", "/proc/self/status"]
    cid, bundle = t.bundle(t.config(probe))
    rc, out = _under_ignored_signals(t, "run", "--bundle", str(bundle), cid)
    t.expect(rc == 0 and "SigIgn:\t0000000000000000" in out, f"run: SigIgn should be empty: rc={rc} {out!r}")
    cid, _ = t.started(t.sleeper())
    rc, out = _under_ignored_signals(t, "exec", cid, *probe)
    t.expect(rc == 0 and "SigIgn:\t0000000000000000" in out, f"exec: SigIgn should be empty: rc={rc} {out!r}")
