#!/usr/bin/env python3
"""CLI integration tests for sworn: exec, console sockets, foreground run,
hooks, pid files/state/list/logs (here); namespaces, mount safety, fds,
robustness, devices (cli_cases_more.py); more exec/hook/lifecycle corners
(cli_cases_extra.py); pause/resume, update, events, ps, scheduling and
linux.resources (cli_cases_resources.py); seccomp (cli_cases_seccomp.py);
the others by concern (CASE_MODULES below).  Shared plumbing is in itlib.py, on top of
conformance/harness.py.

    tests/integration/test_cli.py --sworn PATH [-k SUBSTR] [-v] [--keep]

Needs root, gcc (the probe is built statically), busybox-static, runc (for
the default spec, via conformance/harness.py).  Every container gets a unique
id under a temp --root and a cgroup under /sworn-it-<pid>/; each case force-
deletes its containers and removes its cgroups.  Prints one line per case and
ends with "N passed, N failed".

The cases were validated with `--sworn runc` (runc 1.1.5).  runc fails these,
where sworn is held to the runtime-spec or to its own documented behaviour:
  hooks_all_phases, hooks_poststop_on_run_and_force_delete  runc 1.1 runs
      poststart hooks at create, not start
  time_namespace_offsets, exec_into_time_and_cgroup_ns  no time ns in runc 1.1
  kill9_during_create  runc leaves cgroups behind after a killed create
  delete_running_refused  runc deletes a *created* container without --force
  run_terminal_foreground, exec_tty_foreground  runc needs a real tty on stdin
(state owner: runc reports "" for root, sworn "root"; both are accepted.)
"""
import argparse
import json
import os
import re
import signal
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import itlib  # noqa: E402
import verdicts  # noqa: E402 (itlib puts tests/ on the path)
from itlib import (Abort, Case, ConsoleServer, Context, Skip, finish, ns_link, pid_alive,  # noqa: E402
                   pty_expect, spawn, v1_procs, wait_until, write_json)

# ---------------------------------------------------------------- 1. exec


def case_exec_output_and_exit_code(t):
    cid, _ = t.started(t.sleeper())
    res = t.rt("exec", cid, "/bin/sh", "-c", "echo out-$((6*7)); echo err >&2; exit 3")
    t.expect(res.rc == 3, f"exec exit code: {res.describe()}, want 3")
    t.expect(res.out == "out-42\n", f"exec stdout {res.out!r}, want 'out-42\\n'")
    t.expect("err" in res.err, f"exec stderr {res.err!r} lacks 'err'")
    res = t.rt("exec", cid, "/bin/true")
    t.expect(res.rc == 0, f"exec /bin/true: {res.describe()}")
    res = t.rt("exec", cid, "/no/such/binary")
    t.expect(res.rc not in (0, None), f"exec of a missing binary: {res.describe()}")


def case_exec_same_namespaces(t):
    cid, _ = t.started(t.sleeper())
    init = t.pid(cid)
    res = t.rt("exec", cid, "/bin/sworn-probe")
    view = res.json()
    t.require(res.rc == 0 and isinstance(view, dict), f"exec probe: {res.describe()}")
    for ns in ("pid", "mnt", "net", "uts", "ipc", "cgroup", "user"):
        t.expect(view["namespaces"].get(ns) == ns_link(init, ns),
                 f"exec'd process {ns} ns {view['namespaces'].get(ns)} != init's {ns_link(init, ns)}")
    t.expect(view["pid"] > 1, f"exec'd process has pid {view['pid']} in the container")
    t.expect(view["hostname"] == t.ws.config()["hostname"], f"exec sees hostname {view['hostname']!r}")


def case_exec_env_cwd_user(t):
    cid, _ = t.started(t.sleeper())
    res = t.rt("exec", "--env", "FOO=bar", "--env", "PATH=/bin:/custom", "--cwd", "/tmp",
               "--user", "1000:1000", cid, "/bin/sworn-probe")
    view = res.json()
    t.require(res.rc == 0 and isinstance(view, dict), f"exec probe: {res.describe()}")
    t.expect("FOO=bar" in view["env"], f"--env FOO=bar not in env {view['env']}")
    t.expect("PATH=/bin:/custom" in view["env"] and not any(
        e.startswith("PATH=") and e != "PATH=/bin:/custom" for e in view["env"]),
        f"--env PATH should replace the config's PATH: {view['env']}")
    t.expect(view["cwd"] == "/tmp", f"--cwd /tmp: cwd {view['cwd']!r}")
    t.expect((view["uid"], view["euid"], view["gid"], view["egid"]) == (1000, 1000, 1000, 1000),
             f"--user 1000:1000: uid/euid/gid/egid {view['uid']}/{view['euid']}/{view['gid']}/{view['egid']}")


def case_exec_process_file(t):
    cid, bundle = t.started(t.sleeper())
    proc = {"terminal": False, "user": {"uid": 1000, "gid": 1000}, "args": ["/bin/sworn-probe"],
            "env": ["PATH=/bin", "FROM_FILE=yes"], "cwd": "/etc"}
    pfile = bundle / "process.json"
    write_json(pfile, proc)
    res = t.rt("exec", "--process", str(pfile), cid)
    view = res.json()
    t.require(res.rc == 0 and isinstance(view, dict), f"exec --process: {res.describe()}")
    t.expect("FROM_FILE=yes" in view["env"], f"env from process.json missing: {view['env']}")
    t.expect(view["cwd"] == "/etc", f"cwd {view['cwd']!r}, want /etc")
    t.expect(view["uid"] == 1000 and view["gid"] == 1000, f"uid/gid {view['uid']}/{view['gid']}, want 1000/1000")
    write_json(pfile, dict(proc, args=["/bin/sh", "-c", "exit 5"]))
    res = t.rt("exec", "--process", str(pfile), cid)
    t.expect(res.rc == 5, f"exec --process with 'exit 5': {res.describe()}")


def case_exec_detach_pid_file(t):
    cid, bundle = t.started(t.sleeper())
    init = t.pid(cid)
    pid_file = bundle / "exec.pid"
    res = t.rt("exec", "--detach", "--pid-file", str(pid_file), cid, "/bin/sworn-probe", "sleep", "60")
    t.ok(res, "exec --detach --pid-file")
    t.require(pid_file.exists(), "exec --detach did not write the pid file")
    text = pid_file.read_text().strip()
    t.require(text.isdigit(), f"pid file holds {text!r}")
    pid = int(text)
    t.expect(pid_alive(pid), f"pid {pid} from the pid file is not alive")
    path = t.cgroup_path(cid)
    procs = v1_procs("pids", path)
    t.expect(procs is not None and pid in procs,
             f"exec'd pid {pid} not in /sys/fs/cgroup/pids{path}/cgroup.procs ({procs})")
    for ns in ("pid", "mnt", "net"):
        t.expect(ns_link(pid, ns) == ns_link(init, ns), f"detached exec not in the container's {ns} ns")
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        cmdline = []
    t.expect(cmdline[:3] == [b"/bin/sworn-probe", b"sleep", b"60"], f"pid {pid} runs {cmdline}")
    itlib.kill_pid(pid)


def case_exec_stopped_container(t):
    cid, _ = t.started(t.config(["/bin/sworn-probe", "exit", "0"]))
    t.require(t.rt.wait_status(cid, "stopped") == "stopped", "container did not stop")
    res = t.rt("exec", cid, "/bin/true")
    t.expect(res.rc not in (0, None), f"exec into a stopped container: {res.describe()}")
    res = t.rt("exec", "no-such-container-xyz", "/bin/true")
    t.expect(res.rc not in (0, None), f"exec into an unknown container: {res.describe()}")


# ---------------------------------------------------------------- 2. console


def console_roundtrip(t, master, hostname):
    os.write(master, b"echo hi-$((6*7))\n")
    got = pty_expect(master, b"hi-42")
    t.expect(b"hi-42" in got, f"shell did not answer 'echo hi-$((6*7))' on the pty: {got[-300:]!r}")
    os.write(master, b"hostname; tty\n")
    got = pty_expect(master, hostname.encode())
    t.expect(hostname.encode() in got, f"'hostname' on the pty gave {got[-300:]!r}, want {hostname}")
    got += pty_expect(master, b"/dev/pts/", 3)
    t.expect(b"/dev/pts/" in got, f"'tty' on the pty: {got[-300:]!r}")


def case_console_socket_create(t):
    cfg = t.config(["/bin/sh"], terminal=True)
    cid, bundle = t.bundle(cfg)
    server = ConsoleServer(bundle / "console.sock")
    t.on_cleanup(server.close)
    t.ok(t.rt("create", "--console-socket", server.path, "--bundle", str(bundle), cid), "create --console-socket")
    master = server.wait_master()
    t.require(master is not None, f"no pty master received: {server.error}")
    t.ok(t.rt("start", cid), "start")
    console_roundtrip(t, master, cfg["hostname"])
    os.write(master, b"exit 4\n")
    t.expect(t.rt.wait_status(cid, "stopped") == "stopped", "container did not stop after 'exit' on the pty")


def case_console_socket_exec_tty(t):
    """runc insists on --detach with --console-socket, so the exit is seen via the pid file."""
    cid, bundle = t.started(t.sleeper())
    server = ConsoleServer(bundle / "exec-console.sock")
    t.on_cleanup(server.close)
    pid_file = bundle / "exec-tty.pid"
    res = t.rt("exec", "--tty", "--detach", "--pid-file", str(pid_file), "--console-socket", server.path,
               cid, "/bin/sh")
    t.ok(res, "exec --tty --detach --console-socket")
    master = server.wait_master()
    t.require(master is not None, f"exec --tty: no pty master received ({server.error})")
    pid = int(pid_file.read_text())
    t.expect(ns_link(pid, "mnt") == ns_link(t.pid(cid), "mnt"), "exec'd shell not in the container's mount ns")
    console_roundtrip(t, master, t.ws.config()["hostname"])
    os.write(master, b"exit 3\n")
    t.expect(wait_until(lambda: not pid_alive(pid), 5), "exec'd shell did not exit after 'exit' on the pty")
    t.expect(t.rt.wait_status(cid, "running", 1) == "running", "container not running after the exec'd shell left")


def case_console_required_for_terminal(t):
    """terminal: true without --console-socket: create fails (runc too) and leaves no state."""
    cid, bundle = t.bundle(t.config(["/bin/sh"], terminal=True))
    res = t.rt("create", "--bundle", str(bundle), cid)
    t.expect(res.rc not in (0, None), f"create of a terminal container without --console-socket: {res.describe()}")
    t.expect(not (t.rt.root / cid).exists(), "state dir left behind")
    t.expect(not itlib.cgroup_dirs(t.cgroup_path(cid)), "cgroup left behind")


# ---------------------------------------------------------------- 3. foreground run


def case_run_stdin_passthrough(t):
    text = b"line one\nline two through stdin\n"
    cid, res = t.run(t.config(["/bin/cat"]), stdin=text)
    t.expect(res.rc == 0, f"run cat: {res.describe()}")
    t.expect(res.out.encode() == text, f"cat echoed {res.out!r}, want {text!r}")
    t.expect(not (t.rt.root / cid).exists(), "run (without --keep) left the container's state behind")


def run_and_term(t, args, want):
    cid, bundle = t.bundle(t.config(args))
    proc = spawn([*t.rt.prefix, "--root", str(t.rt.root), "run", "--bundle", str(bundle), cid])
    status = t.rt.wait_status(cid, "running")
    if status != "running":
        rc, out = finish(proc, 5)
        t.require(False, f"run never reached running (status {status}, rc {rc}, {out[-200:]!r})")
    time.sleep(0.3)  # let the process install its handlers
    os.kill(proc.pid, signal.SIGTERM)
    rc, out = finish(proc)
    t.expect(rc == want, f"{args}: SIGTERM to `sworn run` gave exit {rc}, want {want} ({out[-200:]!r})")
    t.expect(wait_until(lambda: not (t.rt.root / cid).exists(), 3), "run left its state after the container exited")


def case_run_forwards_sigterm_probe(t):
    run_and_term(t, ["/bin/sworn-probe", "sleep", "100"], 128 + 15)


def case_run_forwards_sigterm_shell_trap(t):
    run_and_term(t, ["/bin/sh", "-c", 'trap "exit 7" TERM; sleep 100 & wait'], 7)


def case_run_keep(t):
    cid, res = t.run(t.config(["/bin/sworn-probe", "exit", "9"]), "--keep")
    t.expect(res.rc == 9, f"run --keep exit code: {res.describe()}")
    res, st = t.rt.state(cid)
    t.expect(st is not None and st.get("status") == "stopped", f"run --keep: state {res.describe()} {st}")


# ---------------------------------------------------------------- 4. hooks


def hook(cmd, **extra):
    return dict({"path": "/bin/sh", "args": ["sh", "-c", cmd], "env": ["PATH=/bin:/usr/bin"]}, **extra)


def case_hooks_all_phases(t):
    hostdir = Path(t.ws.base) / f"hooks-{t.name}-{time.monotonic_ns()}"
    hostdir.mkdir()

    def host_hook(name):  # runs in the runtime's namespaces (or before pivot_root)
        return hook(f"echo {name} >> {hostdir}/order; cat > {hostdir}/{name}.json")

    cfg = t.config(["/bin/sworn-probe", "sleep", "100"])
    cfg["mounts"].append({"destination": "/hooklog", "type": "bind", "source": str(hostdir),
                          "options": ["rbind", "rw"]})
    cfg["hooks"] = {n: [host_hook(n)] for n in ("prestart", "createRuntime", "createContainer",
                                                 "poststart", "poststop")}
    # startContainer's path resolves, and runs, in the container.
    cfg["hooks"]["startContainer"] = [hook("echo startContainer >> /hooklog/order; "
                                           "cat > /hooklog/startContainer.json")]
    cid, bundle = t.create(cfg)
    pid = t.pid(cid)

    def order():
        try:
            return (hostdir / "order").read_text().split()
        except FileNotFoundError:
            return []
    t.expect(order() == ["prestart", "createRuntime", "createContainer"], f"hooks after create: {order()}")
    t.ok(t.rt("start", cid), "start")
    wait_until(lambda: len(order()) >= 5, 3)
    t.expect(order()[3:] == ["startContainer", "poststart"], f"hooks after start: {order()}")
    t.ok(t.rt("kill", cid, "KILL"), "kill")
    t.rt.wait_status(cid, "stopped")
    t.ok(t.rt("delete", cid), "delete")
    t.expect(order()[5:] == ["poststop"], f"hooks after delete: {order()}")
    want_status = {"prestart": "creating", "createRuntime": "creating", "createContainer": "creating",
                   "startContainer": "created", "poststart": "running", "poststop": "stopped"}
    for name, status in want_status.items():
        try:
            st = json.loads((hostdir / f"{name}.json").read_text())
        except (OSError, ValueError) as e:
            t.fail(f"{name} hook: no state JSON on stdin ({e})")
            continue
        t.expect(st.get("id") == cid, f"{name} hook: id {st.get('id')!r}")
        t.expect(st.get("bundle") == str(bundle), f"{name} hook: bundle {st.get('bundle')!r}")
        t.expect(st.get("status") == status, f"{name} hook: status {st.get('status')!r}, want {status}")
        t.expect("ociVersion" in st, f"{name} hook: no ociVersion")
        if name in ("prestart", "createRuntime", "poststart"):
            t.expect(st.get("pid") == pid, f"{name} hook: pid {st.get('pid')!r}, want the init's {pid}")
        elif name in ("createContainer", "startContainer"):
            # runc passes the pid as seen by the hook (1 in a new pid ns); any real pid will do
            t.expect(isinstance(st.get("pid"), int) and st["pid"] > 0,
                     f"{name} hook: pid {st.get('pid')!r}, want the container process's pid")


def assert_nothing_left(t, cid):
    t.expect(not (t.rt.root / cid).exists(), f"state dir {t.rt.root / cid} left behind")
    t.expect(t.rt("state", cid).rc != 0, "state still reports the container")
    left = itlib.cgroup_dirs(t.cgroup_path(cid))
    t.expect(not left, f"cgroup dirs left behind: {[str(d) for d in left]}")
    procs = itlib.procs_in_cgroup_tree(t.cgroup_path(cid))
    t.expect(not procs, f"processes left in the container's cgroup: {sorted(procs)}")


def failing_create(t, hooks, max_seconds):
    cfg = t.sleeper()
    cfg["hooks"] = hooks
    cid, bundle = t.bundle(cfg)
    start = time.monotonic()
    res = t.rt("create", "--bundle", str(bundle), cid)
    took = time.monotonic() - start
    t.expect(res.rc not in (0, None), f"create with a failing hook: {res.describe()}")
    t.expect(took < max_seconds, f"create took {took:.1f}s, want < {max_seconds}s")
    assert_nothing_left(t, cid)
    return res


def case_hooks_failing_prestart(t):
    res = failing_create(t, {"prestart": [hook("exit 3")]}, 10)
    t.expect("prestart" in res.err or "hook" in res.err, f"error does not name the hook: {res.err.strip()!r}")


def case_hooks_timeout(t):
    failing_create(t, {"prestart": [hook("exec sleep 5", timeout=1)]}, 4.5)


def case_hooks_failing_create_runtime(t):
    failing_create(t, {"createRuntime": [hook("exit 1")]}, 10)


# ---------------------------------------------------------------- 5. pid file, state, list, log


def case_state_pid_file(t):
    cid, bundle = t.bundle(t.sleeper())
    pid_file = bundle / "init.pid"
    t.ok(t.rt("create", "--pid-file", str(pid_file), "--bundle", str(bundle), cid), "create --pid-file")
    st = t.state(cid)
    t.expect(pid_file.read_text().strip() == str(st["pid"]),
             f"pid file {pid_file.read_text()!r} != state pid {st['pid']}")
    want = {"ociVersion", "id", "status", "pid", "bundle", "rootfs", "created", "owner"}
    t.expect(want <= set(st), f"state lacks {sorted(want - set(st))}")
    t.expect(st.get("id") == cid and st.get("status") == "created", f"state id/status {st.get('id')}/{st.get('status')}")
    t.expect(st.get("bundle") == str(bundle), f"state bundle {st.get('bundle')!r}, want {bundle}")
    t.expect(st.get("rootfs") == str(bundle / "rootfs"), f"state rootfs {st.get('rootfs')!r}, want {bundle}/rootfs")
    # runc reports "" for root-owned containers, sworn the user name
    t.expect(st.get("owner") in ("", "root"), f"state owner {st.get('owner')!r}")
    t.expect(pid_alive(st["pid"]), f"state pid {st['pid']} not alive")
    try:
        created = datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", st["created"]).replace("Z", "+00:00"))
        age = time.time() - created.timestamp()
        t.expect(-5 < age < 120, f"state created {st['created']} is {age:.0f}s ago")
    except (ValueError, KeyError) as e:
        t.fail(f"state created {st.get('created')!r} is not RFC 3339 ({e})")
    t.ok(t.rt("start", cid), "start")
    st2 = t.state(cid)
    t.expect(st2["status"] == "running" and st2["pid"] == st["pid"], f"after start: {st2['status']} pid {st2['pid']}")


def case_list_formats(t):
    a, _ = t.create(t.sleeper())
    b, _ = t.started(t.sleeper())
    res = t.rt("list", "--format", "json")
    t.ok(res, "list --format json")
    entries = res.json()
    t.require(isinstance(entries, list), f"list --format json is not a JSON array: {res.out[:200]!r}")
    by_id = {e.get("id"): e for e in entries if isinstance(e, dict)}
    t.expect(set(by_id) == {a, b}, f"list json ids {sorted(by_id)}, want {sorted([a, b])}")
    if a in by_id and b in by_id:
        t.expect(by_id[a].get("status") == "created" and by_id[b].get("status") == "running",
                 f"list statuses {by_id[a].get('status')}/{by_id[b].get('status')}")
        t.expect(by_id[b].get("pid") == t.pid(b), "list json pid differs from state")
    res = t.rt("list", "-q")
    t.ok(res, "list -q")
    t.expect(res.out.split() == sorted([a, b]), f"list -q printed {res.out!r}")
    res = t.rt("list")
    t.expect(res.rc == 0 and res.out.startswith("ID") and a in res.out and b in res.out,
             f"list (table): {res.describe()} {res.out[:200]!r}")
    empty = itlib.Runtime("sworn", t.rt.prefix, Path(t.ws.base) / f"empty-root-{t.name}")
    res = empty("list", "--format", "json")
    t.expect(res.rc == 0 and res.json() in ([], None) and res.out.strip() in ("[]", "null"),
             f"list json with no containers: {res.describe()} {res.out!r}")


def case_log_json_on_error(t):
    log = Path(t.ws.base) / f"{t.name}.log"
    res = t.rt("--log", str(log), "--log-format", "json", "state", "no-such-container-xyz")
    t.expect(res.rc not in (0, None), f"state of an unknown id: {res.describe()}")
    t.require(log.exists(), "--log file was not written")
    lines = [l for l in log.read_text().splitlines() if l.strip()]
    t.require(lines, "--log file is empty")
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            t.fail(f"log line is not JSON: {line!r}")
            continue
        t.expect({"level", "msg", "time"} <= set(entry), f"log line lacks level/msg/time: {line!r}")
    errors = [json.loads(l) for l in lines if l.strip().startswith("{") and '"error"' in l]
    t.expect(any(e.get("level") == "error" and e.get("msg") for e in errors), f"no error entry: {lines}")
    for e in errors:
        try:
            datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", e["time"]).replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError):
            t.fail(f"log time {e.get('time')!r} is not RFC 3339")


# ---------------------------------------------------------------- driver

# Case modules beside this file, by concern; each defines case_* functions.
CASE_MODULES = ("cli_cases_more", "cli_cases_extra", "cli_cases_resources", "cli_cases_pledge",
                "cli_cases_hostile_input", "cli_cases_hostile_state", "cli_cases_hostile_mounts",
                "cli_cases_escape", "cli_cases_pid1", "cli_cases_pledge_report",
                "cli_cases_pledge_learn", "cli_cases_rootless", "cli_cases_idmap", "cli_cases_systemd", "cli_cases_parity",
                "cli_cases_cgroup_join", "cli_cases_unveil", "cli_cases_pledge_cli",
                "cli_cases_seccomp", "cli_cases_parity2", "cli_cases_unveil_report")


def all_cases():
    import importlib
    cases = []
    mods = [sys.modules[__name__]]
    for name in CASE_MODULES:
        if (Path(__file__).resolve().parent / f"{name}.py").exists():
            mods.append(importlib.import_module(name))
    for mod in mods:
        cases += [(n[len("case_"):], f) for n, f in vars(mod).items() if n.startswith("case_") and callable(f)]
    return cases


def run_case(name, fn, ctx):
    t = Case(name, ctx)
    skipped = None
    start = time.monotonic()
    try:
        fn(t)
    except Abort:
        pass
    except Skip as e:
        skipped = str(e)
    except Exception:  # noqa: BLE001 -- a test bug is a failure, not a crash
        t.fail("exception:\n" + traceback.format_exc())
    finally:
        t.cleanup()
    return verdicts.report(t, time.monotonic() - start, skipped)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sworn", required=True, help="path to the sworn binary (or 'runc' to check the tests)")
    p.add_argument("-k", dest="select", help="run only cases whose name contains this")
    p.add_argument("-v", "--verbose", action="store_true", help="print every runtime command")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per runtime command")
    p.add_argument("--keep", action="store_true", help="keep the temp workspace")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("test_cli.py must run as root")
    itlib.harness.TIMEOUT = args.timeout
    sworn = args.sworn if "/" not in args.sworn else os.path.abspath(args.sworn)
    cases = [(n, f) for n, f in all_cases() if not args.select or args.select in n]
    ctx = Context(sworn, args.verbose, args.keep)
    outcomes = []
    try:
        for name, fn in cases:
            outcomes.append(run_case(name, fn, ctx))
    finally:
        ctx.close()
    passed, failed, skipped = (outcomes.count(o) for o in ("PASS", "FAIL", "SKIP"))
    if skipped:
        print(f"({skipped} skipped)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not outcomes else 0


if __name__ == "__main__":
    sys.exit(main())
