#!/usr/bin/env python3
"""Conformance harness: run the same OCI bundle under runc, crun and sworn and
check that a user sees the same thing (identity, env, mounts, limits, exit
codes, lifecycle, error handling).

    conformance/conformance.py [--sworn PATH] [--only runc,crun,sworn] [-k SUBSTR] [-v]

Needs root, runc, gcc (the probe is built statically), busybox-static.
Each runtime gets its own --root; cgroups live under /sworn-conf-<pid>/.

Peer behaviour observed on this host (Debian 12, kernel 6.18, hybrid cgroups),
runc 1.1.5 vs crun 1.8.1.  Where they disagree the harness prints a note and
holds sworn to runc, except domainname, where it holds everyone to the config.
  Disagreements:
  - masked *files* (/proc/keys, /proc/timer_list): runc bind-mounts the
    container's /dev/null (mountinfo: tmpfs, rw,nosuid); crun binds the host's
    /dev/null read-only (devtmpfs, ro).  Both read as empty.
  - domainname: runc 1.1 ignores it (uname shows "(none)"); crun sets it.
  - relative process.cwd ("tmp"): runc refuses ("Cwd must be an absolute
    path", exit 1); crun runs the container (exit 0).
  - `kill ID SIGFOO` / `kill ID FOO`: runc fails ("unknown signal"); crun
    exits 0 and the container keeps running.  Both fail on 99999 and -1.
  Agreements worth knowing (sworn must match):
  - `delete --force` of an unknown id exits 0 in both; plain `delete`, `state`,
    `start`, `kill` of an unknown id exit 1.
  - every failing command exits 1; `run` exits with the container's status,
    128+N when it dies of signal N (self-kill, SIGSEGV as pid 1, or an
    external `kill KILL`); a missing executable gives 1.
  - pid 1 ignores signals it has no handler for, even SIGKILL from inside, so
    self-kill cases drop the pid namespace and `sleep` installs handlers.
  - non-existent masked paths (no /proc/kcore on this kernel) are skipped.
  - for a non-root user, CapPrm/CapEff after execve hold only ambient caps;
    for root they are the whole bounding set (kernel rules, both agree).
  - invalid ids ("../x", "a/b", ""): runc validates the id; crun fails later
    (keyring creation, state dir, "container `` already exists"); neither
    leaves anything behind.  Empty process.args: runc validates, crun fails
    at exec; both exit 1.
"""
import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import Case, Skip, Workspace, cgroup_dirs, make_runtimes  # noqa: E402
from views import check_paths, check_views  # noqa: E402

# Peer behaviour that differs from the spec or from the other peer; a failure
# message "<runtime>: ...<substring>..." in <case> becomes a note.
# (runtime, case, substring, why)
KNOWN_QUIRKS = [
    ("runc", "hostname_domainname", "domainname",
     "runc 1.1 ignores the runtime-spec 1.1 domainname; crun sets it"),
    ("crun", "bad_relative_cwd", "should fail", "crun accepts a relative process.cwd"),
    ("crun", "bad_signal", "SIGFOO", "crun accepts unknown signal names"),
    ("crun", "bad_signal", "kill FOO", "crun accepts unknown signal names"),
]


def view_case(t, mutate=None):
    config = t.ws.config()
    if mutate:
        mutate(config)
    check_views(t, t.views(config), config)


# ---------------------------------------------------------------- view cases

def case_run_default(t):
    view_case(t)


def case_user(t):
    def mutate(c):
        c["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [1001]}
    view_case(t, mutate)


def case_cwd(t):
    view_case(t, lambda c: c["process"].update(cwd="/tmp"))


def case_env(t):
    env = ["PATH=/bin", "FOO=bar", "SPACES=a b  c", "EMPTY=", "EQ=x=y"]
    view_case(t, lambda c: c["process"].update(env=env))


def case_env_home(t):
    """HOME comes from /etc/passwd when the config does not set it."""
    def mutate(c):
        c["process"]["env"] = ["PATH=/bin"]
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
    view_case(t, mutate)


def case_rlimits(t):
    limits = [{"type": "RLIMIT_NOFILE", "soft": 256, "hard": 512},
              {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
    view_case(t, lambda c: c["process"].update(rlimits=limits))


def case_root_readwrite(t):
    view_case(t, lambda c: c["root"].update(readonly=False))


def case_hostname_domainname(t):
    view_case(t, lambda c: c.update(hostname="box.sworn", domainname="sworn.example"))


def case_no_new_privileges_off(t):
    view_case(t, lambda c: c["process"].update(noNewPrivileges=False))


def case_oom_score_adj(t):
    view_case(t, lambda c: c["process"].update(oomScoreAdj=500))


def case_capabilities(t):
    caps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN"]
    view_case(t, lambda c: c["process"].update(
        capabilities={"bounding": caps, "effective": caps[:2], "permitted": caps}))


def case_ambient_caps_non_root(t):
    caps = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
    def mutate(c):
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
        c["process"]["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted",
                                                          "inheritable", "ambient")}
    view_case(t, mutate)


def case_extra_mounts(t):
    host_dir = Path(t.ws.base) / f"hostdir-{t.name}"
    host_dir.mkdir()
    (host_dir / "hello").write_text("hello")
    mounts = [{"destination": "/mnt/tmpfs", "type": "tmpfs", "source": "tmpfs",
               "options": ["ro", "noexec", "nosuid", "size=1m"]},
              {"destination": "/mnt/host", "type": "bind", "source": str(host_dir),
               "options": ["rbind", "ro"]}]
    config = t.ws.config()
    config["mounts"] += mounts
    check_views(t, t.views(config), config)
    check_paths(t, config, {"/mnt/host/hello": {"read": 5, "write": "EROFS"},
                            "/mnt/host": {"entries": 1, "write": "EROFS"},
                            "/mnt/tmpfs": {"entries": 0, "write": "EROFS"}})


def case_masked_readonly_paths(t):
    masked_files = [p for p in ("/proc/keys", "/proc/timer_list") if os.path.isfile(p)]
    if not masked_files:
        raise Skip("host has neither /proc/keys nor /proc/timer_list to mask")
    config = t.ws.config()
    config["root"]["readonly"] = False
    config["linux"]["maskedPaths"] += ["/etc/hostname", "/root"]
    config["linux"]["readonlyPaths"] += ["/tmp"]
    check_paths(t, config, {
        **{p: {"read": 0} for p in masked_files},
        "/proc/acpi": {"entries": 0, "write": "EROFS"}, "/sys/firmware": {"entries": 0},
        "/proc/kcore": {"read": "ENOENT"} if not os.path.exists("/proc/kcore") else {"read": 0},
        "/proc/sys/kernel/hostname": {"write": "EROFS"},
        "/etc/hostname": {"read": 0}, "/root": {"entries": 0},
        "/tmp": {"write": "EROFS"}, "/etc": {"write": "ok"}})


# ---------------------------------------------------------------- exit codes

def exit_case(t, args, runc_wants, mutate=None):
    """`run` exit code: runc must give runc_wants; the others must agree with runc."""
    config = t.ws.config()
    config["process"]["args"] = ["/bin/sworn-probe", *args]
    if mutate:
        mutate(config)
    codes = {}
    for rt in t.runtimes:
        res = t.run(rt, config)
        t.expect(not res.timed_out, f"{rt.name}: {res.describe()}")
        codes[rt.name] = res.rc
    if "runc" in codes:
        t.expect(codes["runc"] == runc_wants, f"runc: exit {codes['runc']}, want {runc_wants}")
    t.agree("exit code", codes)


def no_pid_ns(config):
    """pid 1 is immune to its own signals, so self-kill needs a non-init process."""
    config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"] if n["type"] != "pid"]


def case_exit_0(t):
    exit_case(t, ["exit", "0"], 0)


def case_exit_3(t):
    exit_case(t, ["exit", "3"], 3)


def case_exit_255(t):
    exit_case(t, ["exit", "255"], 255)


def case_exit_self_sigterm(t):
    exit_case(t, ["signal", "TERM"], 128 + 15, no_pid_ns)


def case_exit_self_sigkill(t):
    exit_case(t, ["signal", "KILL"], 128 + 9, no_pid_ns)


def case_exit_segv_pid1(t):
    exit_case(t, ["segv"], 128 + 11)


def case_exit_enoent_binary(t):
    exit_case(t, ["/no/such/binary"], 1, lambda c: c["process"].update(args=["/no/such/binary"]))


def case_exit_killed_externally(t):
    """`run` in the foreground, `kill KILL` from outside: run reports 137."""
    config = t.ws.config()
    config["process"]["args"] = ["/bin/sworn-probe", "sleep", "60"]
    codes = {}
    for rt in t.runtimes:
        cid, bundle = t.bundle(rt, config)
        with rt.spawn("run", "--bundle", str(bundle), cid) as run:
            if t.expect(rt.wait_status(cid, "running") == "running", f"{rt.name}: never running"):
                rt("kill", cid, "KILL")
            codes[rt.name] = run.wait()
    if "runc" in codes:
        t.expect(codes["runc"] == 137, f"runc: exit {codes['runc']}, want 137")
    t.agree("exit code", codes)


# ---------------------------------------------------------------- lifecycle

def sleeper(t):
    config = t.ws.config()
    config["process"]["args"] = ["/bin/sworn-probe", "sleep", "100"]
    return config


def case_lifecycle(t):
    config, steps = sleeper(t), {}
    for rt in t.runtimes:
        steps[rt.name] = lifecycle(t, rt, config)
    t.agree("lifecycle steps", steps)


def lifecycle(t, rt, config):
    """create, state, start, list, delete (refused), kill, delete; returns the observed steps."""
    cid, bundle, ok = t.create(rt, config)
    if not ok:
        return []
    seen = []
    res, st = rt.state(cid)
    seen.append(("created", st and st.get("status")))
    if t.expect(st is not None, f"{rt.name}: state after create: {res.describe()}"):
        check_state_json(t, rt, st, cid, bundle, "created")
    seen.append(("start", rt("start", cid).rc))
    res, st = rt.state(cid)
    seen.append(("started", st and st.get("status")))
    t.expect(st and st["status"] == "running", f"{rt.name}: status after start: {st and st['status']}")
    listing = rt("list")
    t.expect(cid in listing.out.split(), f"{rt.name}: list does not show {cid}: {listing.out!r}")
    refused = rt("delete", cid)
    seen.append(("delete running", refused.rc == 0))
    t.expect(refused.rc not in (0, None), f"{rt.name}: delete of a running container: {refused.describe()}")
    t.expect(rt.wait_status(cid, "running", 1) == "running", f"{rt.name}: not running after refused delete")
    seen.append(("kill", rt("kill", cid, "TERM").rc))
    status = rt.wait_status(cid, "stopped")
    seen.append(("after kill", status))
    t.expect(status == "stopped", f"{rt.name}: status after kill TERM: {status}")
    seen.append(("delete", rt("delete", cid).rc))
    res, _ = rt.state(cid)
    seen.append(("state after delete fails", res.rc != 0))
    t.expect(res.rc not in (0, None), f"{rt.name}: state after delete: {res.describe()}")
    t.expect(not (rt.root / cid).exists(), f"{rt.name}: state dir left after delete")
    return seen


def check_state_json(t, rt, st, cid, bundle, status):
    missing = {"ociVersion", "id", "status", "pid", "bundle"} - set(st)
    t.expect(not missing, f"{rt.name}: state JSON lacks {sorted(missing)}")
    t.expect(st.get("id") == cid, f"{rt.name}: state id {st.get('id')!r}")
    t.expect(st.get("status") == status, f"{rt.name}: state status {st.get('status')!r}, want {status}")
    t.expect(st.get("bundle") == str(bundle), f"{rt.name}: state bundle {st.get('bundle')!r}")
    pid = st.get("pid", 0)
    t.expect(pid > 0 and os.path.exists(f"/proc/{pid}"), f"{rt.name}: state pid {pid} is not alive")


def started(t, rt, config):
    cid, bundle, ok = t.create(rt, config)
    ok = ok and t.expect(rt("start", cid).rc == 0, f"{rt.name}: start {cid} failed")
    return cid, ok


def case_kill_signal_forms(t):
    config = sleeper(t)
    for rt in t.runtimes:
        for form in ["TERM", "SIGTERM", "15", None]:
            cid, ok = started(t, rt, config)
            if not ok:
                continue
            res = rt("kill", cid, *([form] if form else []))
            t.expect(res.rc == 0, f"{rt.name}: kill {form or '(default)'}: {res.describe()}")
            status = rt.wait_status(cid, "stopped")
            t.expect(status == "stopped", f"{rt.name}: kill {form or '(default)'}: status {status}")
            rt("delete", cid)


def case_delete_force(t):
    config = sleeper(t)
    for rt in t.runtimes:
        cid, ok = started(t, rt, config)
        if not ok:
            continue
        _, st = rt.state(cid)
        res = rt("delete", "--force", cid)
        t.expect(res.rc == 0, f"{rt.name}: delete --force: {res.describe()}")
        t.expect(rt.state(cid)[0].rc != 0, f"{rt.name}: state succeeds after delete --force")
        pid = st["pid"] if st else 0
        t.expect(not pid or wait_dead(pid), f"{rt.name}: pid {pid} alive after delete --force")


def wait_dead(pid, timeout=2.0):
    """True once pid is gone or a zombie (its reaper is the host's init)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def case_delete_force_created(t):
    config = sleeper(t)
    for rt in t.runtimes:
        cid, _, ok = t.create(rt, config)
        if ok:
            res = rt("delete", "--force", cid)
            t.expect(res.rc == 0, f"{rt.name}: delete --force of a created container: {res.describe()}")
            t.expect(rt.state(cid)[0].rc != 0, f"{rt.name}: state succeeds after delete --force")


# ---------------------------------------------------------------- bad input

def assert_clean(t, rt, cid, before):
    """Nothing new under --root (or beside it) and no cgroup for cid."""
    after = snapshot(rt)
    t.expect(after == before, f"{rt.name}: state left behind: {sorted(after - before)}")
    left = cgroup_dirs(t.ws.cgroup_path(rt.name, cid))
    t.expect(not left, f"{rt.name}: cgroup left behind: {[str(d) for d in left]}")


def snapshot(rt):
    return {str(p) for p in rt.root.parent.rglob("*")}


def bad_run(t, config_text_or_dict, cid=None, verb="run"):
    """`verb` must fail for every runtime and leave nothing behind; exit codes are compared."""
    codes = {}
    for rt in t.runtimes:
        before = snapshot(rt)
        the_id = t.ws.new_id(t.name) if cid is None else cid
        t.containers.append((rt, the_id))
        bundle = t.ws.bundle(the_id, config_text_or_dict, rt.name)
        res = rt(verb, "--bundle", str(bundle), the_id)
        t.expect(res.rc not in (0, None), f"{rt.name}: {verb} should fail: {res.describe()}")
        codes[rt.name] = res.rc
        assert_clean(t, rt, the_id, before)
    t.agree("failing exit code", codes)


def case_bad_malformed_config(t):
    bad_run(t, '{"ociVersion": "1.0.2", "process": ')


def case_bad_missing_rootfs(t):
    config = t.ws.config()
    config["root"]["path"] = "/nonexistent/rootfs"
    bad_run(t, config)


def case_bad_relative_cwd(t):
    config = t.ws.config()
    config["process"]["cwd"] = "tmp"
    bad_run(t, config)


def case_bad_empty_args(t):
    config = t.ws.config()
    config["process"]["args"] = []
    bad_run(t, config)


def case_bad_id_dotdot(t):
    bad_run(t, t.ws.config(), cid="../x")


def case_bad_id_slash(t):
    bad_run(t, t.ws.config(), cid="a/b")


def case_bad_id_empty(t):
    bad_run(t, t.ws.config(), cid="")


def case_bad_duplicate_id(t):
    config = sleeper(t)
    for rt in t.runtimes:
        cid, bundle, ok = t.create(rt, config)
        if not ok:
            continue
        res = rt("create", "--bundle", str(bundle), cid)
        t.expect(res.rc not in (0, None), f"{rt.name}: duplicate create should fail: {res.describe()}")
        t.expect(rt.wait_status(cid, "created", 1) == "created", f"{rt.name}: first container disturbed")


def case_bad_unknown_id(t):
    """Commands on an unknown id fail, except `delete --force`, which is idempotent in runc."""
    unknown = "no-such-container"
    commands = {"state": (["state", unknown], False), "start": (["start", unknown], False),
                "kill": (["kill", unknown, "TERM"], False), "delete": (["delete", unknown], False),
                "delete --force": (["delete", "--force", unknown], True)}
    for what, (args, should_pass) in commands.items():
        codes = {}
        for rt in t.runtimes:
            before = snapshot(rt)
            res = rt(*args)
            codes[rt.name] = res.rc
            t.expect((res.rc == 0) == should_pass and not res.timed_out,
                     f"{rt.name}: {what} {unknown}: {res.describe()}")
            t.expect(snapshot(rt) == before, f"{rt.name}: {what} {unknown} changed the state dir")
        t.agree(f"exit code of {what} on an unknown id", codes)


def case_bad_signal(t):
    config = sleeper(t)
    for rt in t.runtimes:
        cid, ok = started(t, rt, config)
        if not ok:
            continue
        for sig in ["SIGFOO", "FOO", "99999", "-1"]:
            res = rt("kill", cid, sig)
            t.expect(res.rc not in (0, None), f"{rt.name}: kill {sig}: {res.describe()}")
        t.expect(rt.wait_status(cid, "running", 1) == "running", f"{rt.name}: not running after bad kills")


def case_bad_start_twice(t):
    config = sleeper(t)
    for rt in t.runtimes:
        cid, ok = started(t, rt, config)
        if ok:
            res = rt("start", cid)
            t.expect(res.rc not in (0, None), f"{rt.name}: second start should fail: {res.describe()}")


# ---------------------------------------------------------------- driver

CASES = [(name[len("case_"):], fn) for name, fn in globals().items() if name.startswith("case_")]
CASES += __import__("cases_spec").CASES


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sworn", help="path to the sworn binary under test")
    p.add_argument("--only", help="comma-separated runtimes (runc,crun,sworn)")
    p.add_argument("-k", dest="select", help="run only cases whose name contains this")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--timeout", type=float, default=harness.TIMEOUT,
                   help="seconds allowed for each runtime command (default %(default)s)")
    p.add_argument("--keep", action="store_true", help="keep the temp workspace")
    return p.parse_args()


def choose_runtimes(args):
    names = args.only.split(",") if args.only else ["runc", "crun"] + (["sworn"] if args.sworn else [])
    unknown = set(names) - {"runc", "crun", "sworn"}
    if unknown:
        sys.exit(f"unknown runtime(s): {', '.join(sorted(unknown))}")
    if "sworn" in names and not args.sworn:
        sys.exit("--only sworn needs --sworn PATH")
    if "runc" not in names or shutil.which("runc") is None:
        sys.exit("runc is required: it makes the default spec and is the reference")
    if "crun" in names and shutil.which("crun") is None:
        print("SKIP crun: not found on PATH")
        names.remove("crun")
    return names


def run_case(name, fn, ws, runtimes, seen_notes, verbose):
    """Run one case and print its outcome; a note already printed is repeated only with -v."""
    t = Case(name, ws, runtimes, KNOWN_QUIRKS)
    try:
        fn(t)
    except Skip as e:
        t.notes.append(f"skipped: {e}")
    finally:
        t.cleanup()
    outcome = "FAIL" if t.failures else "SKIP" if any(n.startswith("skipped") for n in t.notes) else "PASS"
    print(f"{outcome} {name}")
    for msg in t.failures:
        print(f"    - {msg}")
    for msg in t.notes:
        if verbose or msg not in seen_notes:
            print(f"    note: {msg}")
        seen_notes.add(msg)
    return outcome


def main():
    args = parse_args()
    if os.geteuid() != 0:
        sys.exit("conformance.py must run as root")
    names = choose_runtimes(args)
    harness.TIMEOUT = args.timeout
    ws = Workspace(keep=args.keep)
    outcomes = []
    try:
        runtimes = make_runtimes(names, args.sworn and os.path.abspath(args.sworn), ws.base, args.verbose)
        print(f"runtimes: {', '.join(names)}; workspace {ws.base}")
        seen_notes = set()
        for name, fn in CASES:
            if not args.select or args.select in name:
                outcomes.append(run_case(name, fn, ws, runtimes, seen_notes, args.verbose))
    finally:
        ws.close()
    passed, failed, skipped = (outcomes.count(o) for o in ("PASS", "FAIL", "SKIP"))
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
