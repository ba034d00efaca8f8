"""test_cli.py cases: cgroups and state under attack (issue #14 items 5, 6,
13, 14 and state.json for 15).  Each case is what a hostile config, a
damaged state file or a hostile `exec --cgroup` would do; each asserts what
the user sees (exit code, error text, what `list` and `state` show) and what
is left on the host.

Safety: the cases that hand sworn a cgroupsPath naming a hierarchy root
(cgroupsPath_root_refused) must never run against a sworn without the fix:
its `delete --force` would SIGKILL every process of the host's root cgroup.
That one was checked by reading the code before the fix (and runs on pure
cgroup v2 in the VM lane, tests/vm/guest-cgroup-v2.sh).  Every other case
only points sworn at cgroups under the suite's own prefix and at its own
processes, so it is safe against an unfixed sworn; cgroupsPath_reused_*,
cgroupsPath_populated_*, state_garbled_*, state_deep_*, state_cgroup_dirs_*,
frozen_cgroup_refused (pre-existing cgroups), exec_cgroup_refused and
exec_cgroup_places_process were run against the code before the fix and
failed there.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import itlib
from itlib import pid_alive, wait_until

CG = Path("/sys/fs/cgroup")


# ---------------------------------------------------------------- helpers

def hierarchies():
    return itlib.harness.cgroup_hierarchies()


def make_cgroup(t, path, controllers=None):
    """mkdir path in every hierarchy (or those named); removed at cleanup."""
    made = []
    for h in hierarchies():
        if controllers and h.name not in controllers:
            continue
        d = h
        for part in path.strip("/").split("/"):
            d = d / part
            d.mkdir(exist_ok=True)
            if (d / "cpuset.cpus").exists():  # v1 cpuset starts empty and takes no tasks
                for f in ("cpuset.cpus", "cpuset.mems"):
                    if not (d / f).read_text().strip():
                        (d / f).write_text((d.parent / f).read_text().strip())
        made.append(d)
    t.on_cleanup(lambda: itlib.remove_cgroup(path))
    return made


_seq = iter(range(1, 1 << 30))


def own_path(t, tag):
    return f"{t.ws.cgroup_prefix}/{tag}-{next(_seq)}"


def config_text(t, cfg, cgroups_path):
    """The config as text, so bundle() keeps this cgroupsPath."""
    cfg.setdefault("linux", {})["cgroupsPath"] = cgroups_path
    return json.dumps(cfg, indent=1)


def sleeper_in(t, cgroup_dir):
    """A host `sleep` placed in one cgroup dir; killed at cleanup."""
    p = subprocess.Popen(["sleep", "300"], stdin=subprocess.DEVNULL)
    t.on_cleanup(lambda: (itlib.kill_pid(p.pid), p.wait()))
    (Path(cgroup_dir) / "cgroup.procs").write_text(str(p.pid))
    return p


def state_file(t, cid):
    return t.rt.root / cid / "state.json"


def listed(t):
    """{id: status} from `list --format json`, and the result."""
    res = t.rt("list", "--format", "json", timeout=10)
    arr = res.json() if res.rc == 0 else None
    return ({c["id"]: c["status"] for c in arr} if isinstance(arr, list) else None), res


# ---------------------------------------------------------------- 5. cgroupsPath


def case_cgroupsPath_root_refused(t):
    """cgroupsPath values that name a hierarchy root (or, relative, the
    runtime's own cgroup) or climb with "..": create fails naming the field
    and the value, and leaves no state behind.  NEVER run against an unfixed
    sworn (see the module docstring)."""
    for bad, shown in [("/", "/"), ("/.", "/."), ("//", "//"), ("/a/..", "/a/.."), ("/././/", "/././/"),
                       (".", "."), ("./", "./"), ("\u0000/x", "\\0/x"), ("/\u0000", "/\\0"),
                       (f"{t.ws.cgroup_prefix}/../..", f"{t.ws.cgroup_prefix}/../..")]:
        cfg = t.config(["/bin/true"])
        cid, bundle = t.bundle(config_text(t, cfg, bad))
        res = t.rt("create", "--bundle", str(bundle), cid, timeout=15)
        t.expect(res.rc not in (0, None), f"cgroupsPath {bad!r}: create {res.describe()}, want refused")
        # NUL bytes: the spec parser refuses them first, naming the offset
        named = f'"{shown}"' in res.err or ("\0" in bad and "NUL" in res.err)
        t.expect("linux.cgroupsPath" in res.err and named,
                 f"cgroupsPath {bad!r}: error {res.err.strip()!r} should name linux.cgroupsPath and the value")
        t.expect(not (t.rt.root / cid).exists(), f"cgroupsPath {bad!r}: state dir left behind")
        if res.rc == 0:
            break  # an unfixed runtime: stop before more damage


def case_cgroupsPath_reused_cgroup_kept(t):
    """A cgroup that existed before create (empty) is the container's while
    it runs, but delete leaves the directory to whoever made it."""
    path = own_path(t, "reused")
    dirs = make_cgroup(t, path)
    cfg = t.sleeper()
    cid, bundle = t.bundle(config_text(t, cfg, path))
    t.ok(t.rt("create", "--bundle", str(bundle), cid), "create in an existing cgroup")
    t.ok(t.rt("start", cid), "start")
    init = t.pid(cid)
    t.expect(init in (itlib.v1_procs("pids", path) or set()), "init is not in the reused pids cgroup")
    t.ok(t.rt("delete", "--force", cid), "delete --force")
    t.expect(wait_until(lambda: not pid_alive(init)), "init survives delete --force")
    gone = [str(d) for d in dirs if not d.is_dir()]
    t.expect(not gone, f"delete removed cgroups it did not create: {gone}")


def case_cgroupsPath_populated_cgroup_refused(t):
    """An existing cgroup with a process in it (runc: "container's cgroup is
    not empty"): refused, and the process is untouched."""
    path = own_path(t, "busy")
    make_cgroup(t, path)
    victim = sleeper_in(t, CG / "pids" / path.lstrip("/"))
    cfg = t.sleeper()
    cid, bundle = t.bundle(config_text(t, cfg, path))
    res = t.rt("create", "--bundle", str(bundle), cid)
    t.expect(res.rc not in (0, None), f"create in a populated cgroup: {res.describe()}, want refused")
    t.expect("linux.cgroupsPath" in res.err and "already has processes" in res.err,
             f"error {res.err.strip()!r} should say the cgroup has processes")
    if res.rc == 0:
        t.rt("delete", "--force", cid)
    t.expect(pid_alive(victim.pid), "the process already in the cgroup was killed")
    t.expect(not (t.rt.root / cid).exists(), "state dir left behind")


# ---------------------------------------------------------------- 6. state.json


def damaged_container(t, tag):
    """A running sleeper whose state.json the case will damage; the original
    is restored at cleanup so the container can be torn down."""
    path = own_path(t, tag)
    cfg = t.sleeper()
    cid, bundle = t.bundle(config_text(t, cfg, path))
    t.ok(t.rt("create", "--bundle", str(bundle), cid), "create")
    t.ok(t.rt("start", cid), "start")
    init = t.pid(cid)
    f = state_file(t, cid)
    original = f.read_bytes()

    def restore():
        if f.parent.is_dir():
            if f.is_symlink() or f.exists():
                f.unlink()
            f.write_bytes(original)
            t.rt("delete", "--force", cid, timeout=15)
        itlib.kill_pid(init)
        itlib.remove_cgroup(path)
    t.on_cleanup(restore)
    return cid, init, f, path


def expect_damage_handled(t, cid, init, what):
    """Every verb answers quickly; delete fails loudly and keeps everything;
    list still shows the container."""
    ids, res = listed(t)
    t.expect(res.rc == 0, f"{what}: list {res.describe()}")
    t.expect(ids is not None and ids.get(cid) == "unknown",
             f"{what}: list shows {ids!r}, want {cid} with status unknown")
    res = t.rt("state", cid, timeout=10)
    t.expect(res.rc not in (0, None) and "state.json" in res.err, f"{what}: state {res.describe()}")
    for args in (["delete", "--force", cid], ["delete", cid]):
        res = t.rt(*args, timeout=10)
        t.expect(res.rc not in (0, None), f"{what}: {' '.join(args[:-1])} {res.describe()}, want a failure")
        t.expect("state.json" in res.err, f"{what}: delete error {res.err.strip()!r} should name state.json")
    t.expect((t.rt.root / cid).is_dir(), f"{what}: delete removed the state dir")
    t.expect(pid_alive(init), f"{what}: the init was killed although the state is damaged")
    for verb in (["kill", cid, "KILL"], ["ps", cid], ["pause", cid]):
        res = t.rt(*verb, timeout=10)
        t.expect(res.rc is not None and res.rc >= 0, f"{what}: {verb[0]} {res.describe()}")


def case_state_garbled_kept(t):
    """Empty, truncated and garbled state.json (runc: delete exits 1 and
    keeps the state)."""
    cid, init, f, _ = damaged_container(t, "garbled")
    original = f.read_bytes()
    for what, data in [("empty", b""), ("truncated", original[:len(original) // 2]),
                       ("garbled", b"\x00\xff{]not json"), ("wrong type", b'{"id": 5}')]:
        f.write_bytes(data)
        expect_damage_handled(t, cid, init, f"{what} state.json")


def case_state_fifo_and_symlink_do_not_hang(t):
    """A fifo as state.json, or a symlink to /dev/zero: no verb hangs."""
    cid, init, f, _ = damaged_container(t, "fifo")
    f.unlink()
    os.mkfifo(f)
    expect_damage_handled(t, cid, init, "fifo state.json")
    f.unlink()
    f.symlink_to("/dev/zero")
    expect_damage_handled(t, cid, init, "state.json -> /dev/zero")


def case_state_deep_config_no_crash(t):
    """JSON nested 100,000 levels deep inside state.json's config: an error,
    not a segfault."""
    cid, init, f, _ = damaged_container(t, "deep")
    st = json.loads(f.read_text())
    text = json.dumps(st)
    deep = "[" * 100000 + "]" * 100000
    f.write_text(text.replace('"config": {', '"config": {"x": ' + deep + ",", 1))
    expect_damage_handled(t, cid, init, "deep state.json")


def case_state_cgroup_dirs_foreign_refused(t):
    """cgroup_dirs naming a directory outside cgroupfs, or another cgroup
    (here one with a process of its own): delete removes and kills
    nothing."""
    cid, init, f, path = damaged_container(t, "foreign")
    st = json.loads(f.read_text())
    outside = Path(tempfile.mkdtemp(prefix="sworn-victim-"))
    t.on_cleanup(lambda: shutil.rmtree(outside, ignore_errors=True))
    other = own_path(t, "other")
    make_cgroup(t, other, controllers=["pids"])
    victim = sleeper_in(t, CG / "pids" / other.lstrip("/"))
    for what, entry in [("a dir outside cgroupfs", str(outside)),
                        ("another cgroup", str(CG / "pids" / other.lstrip("/"))),
                        ("a path climbing out", str(CG / "pids" / path.lstrip("/")) + "/../" + other.split("/")[-1])]:
        bad = dict(st, cgroup_dirs=st["cgroup_dirs"] + [entry])
        f.write_text(json.dumps(bad))
        expect_damage_handled(t, cid, init, f"cgroup_dirs with {what}")
        t.expect(outside.is_dir(), f"cgroup_dirs with {what}: delete removed {outside}")
        t.expect(pid_alive(victim.pid), f"cgroup_dirs with {what}: delete killed a process of another cgroup")
        t.expect((CG / "pids" / other.lstrip("/")).is_dir(), f"cgroup_dirs with {what}: other cgroup removed")


# ---------------------------------------------------------------- 14. frozen cgroup


def case_frozen_cgroup_refused(t):
    """A pre-existing frozen cgroup (v1 freezer FROZEN, or cgroup2
    cgroup.freeze 1), or a new one below a frozen parent: run fails at once
    with an error naming it, never hangs."""
    for kind, child in (("v1", ""), ("v2", ""), ("v1", "/new"), ("v2", "/new")):
        path = own_path(t, f"frozen-{kind}")
        make_cgroup(t, path)
        t.on_cleanup(lambda p=path + child: itlib.remove_cgroup(p))
        if kind == "v1":
            ctl = CG / "freezer" / path.lstrip("/") / "freezer.state"
            ctl.write_text("FROZEN")
            thaw = "THAWED"
        else:
            ctl = CG / "unified" / path.lstrip("/") / "cgroup.freeze"
            ctl.write_text("1")
            thaw = "0"
        t.on_cleanup(lambda ctl=ctl, thaw=thaw: ctl.exists() and ctl.write_text(thaw))
        cfg = t.config(["/bin/true"])
        # a frozen parent freezes a cgroup made below it just the same
        cid, bundle = t.bundle(config_text(t, cfg, path + child))
        kind += child
        started = time.monotonic()
        res = t.rt("run", "--bundle", str(bundle), cid, timeout=15)
        took = time.monotonic() - started
        if res.rc is None:
            ctl.write_text(thaw)
        t.expect(res.rc not in (0, None), f"{kind}: run in a frozen cgroup: {res.describe()}, want refused")
        t.expect("frozen" in res.err and path.split("/")[-1] in res.err,
                 f"{kind}: error {res.err.strip()!r} should name the frozen cgroup")
        t.expect(took < 10, f"{kind}: run took {took:.1f}s")
        t.expect(not (t.rt.root / cid).exists(), f"{kind}: state dir left behind")


# ---------------------------------------------------------------- 13. exec --cgroup


def exec_container(t, tag):
    path = own_path(t, tag)
    cfg = t.sleeper()
    cid, bundle = t.bundle(config_text(t, cfg, path))
    t.ok(t.rt("create", "--bundle", str(bundle), cid), "create")
    t.ok(t.rt("start", cid), "start")
    t.on_cleanup(lambda: itlib.remove_cgroup(path))
    return cid, path


def cgroup_lines(out):
    """{hierarchy: path} from /proc/self/cgroup text ('' for cgroup2)."""
    lines = {}
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            lines[parts[1]] = parts[2]
    return lines


def case_exec_cgroup_refused(t):
    """exec --cgroup that climbs out, names nothing, or does not exist
    (runc refuses all): non-zero, an error naming --cgroup and the value,
    and no process runs."""
    cid, path = exec_container(t, "exec-bad")
    marker = "/dev/shm/exec-cgroup-ran"
    for bad, want in [("..", '"..'), ("../..", '".."'), ("a/../..", '".."'), ("/", "names no sub-cgroup"),
                      (".", "names no sub-cgroup"), ("memory:nonexistent", "does not exist"),
                      ("nonexistent", "does not exist"), ("nosuchctl:x", "nosuchctl"), (":x", "empty controller")]:
        res = t.rt("exec", "--cgroup", bad, cid, "/bin/sh", "-c", f"touch {marker}", timeout=15)
        t.expect(res.rc not in (0, None), f"exec --cgroup {bad!r}: {res.describe()}, want refused")
        t.expect("--cgroup" in res.err and want in res.err,
                 f"exec --cgroup {bad!r}: error {res.err.strip()!r} should name --cgroup and say {want!r}")
    res = t.rt("exec", cid, "/bin/sh", "-c", f"test -e {marker} && echo RAN || echo CLEAN")
    t.expect(res.out.strip() == "CLEAN", f"a refused exec ran anyway: {res.out.strip()!r}")


def case_exec_cgroup_places_process(t):
    """exec --cgroup SUB runs the process in SUB in every hierarchy (v1 and
    the cgroup2 one); --cgroup memory:SUB2 only in memory's."""
    cid, path = exec_container(t, "exec-sub")
    make_cgroup(t, path + "/sub")
    make_cgroup(t, path + "/sub2", controllers=["memory"])
    res = t.rt("exec", "--cgroup", "sub", cid, "/bin/cat", "/proc/self/cgroup")
    t.require(res.rc == 0, f"exec --cgroup sub: {res.describe()}")
    lines = cgroup_lines(res.out)
    for h in ("pids", "memory", "freezer", ""):
        t.expect(lines.get(h, "").endswith("/sub"), f"exec --cgroup sub: {h or 'cgroup2'} cgroup is {lines.get(h)!r}")
    res = t.rt("exec", "--cgroup", "memory:sub2", cid, "/bin/cat", "/proc/self/cgroup")
    t.require(res.rc == 0, f"exec --cgroup memory:sub2: {res.describe()}")
    lines = cgroup_lines(res.out)
    t.expect(lines.get("memory", "").endswith("/sub2"), f"memory cgroup is {lines.get('memory')!r}, want .../sub2")
    t.expect(not lines.get("pids", "").endswith("/sub2") and not lines.get("pids", "").endswith("/sub"),
             f"pids cgroup is {lines.get('pids')!r}, want the container's own")


def case_state_exec_fifo_replaced(t):
    """exec.fifo replaced by a symlink to a host file, or by a regular file:
    start fails and writes nothing into it."""
    for kind in ("symlink", "file"):
        cid, _ = t.create(t.sleeper())
        fifo = t.rt.root / cid / "exec.fifo"
        target = Path(tempfile.mkdtemp(prefix="sworn-fifo-")) / "host-file"
        t.on_cleanup(lambda d=target.parent: shutil.rmtree(d, ignore_errors=True))
        target.write_text("precious\n")
        fifo.unlink()
        if kind == "symlink":
            fifo.symlink_to(target)
        else:
            fifo.write_text("precious\n")
            target = fifo
        res = t.rt("start", cid, timeout=10)
        t.expect(res.rc not in (0, None), f"{kind}: start {res.describe()}, want a failure")
        t.expect(target.read_text() == "precious\n", f"{kind}: start wrote {target.read_text()!r} into {target}")
        t.rt("delete", "--force", cid)


def start_time(pid):
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


def case_state_pid_foreign_untouched(t):
    """state.json's pid (and start time) rewritten to a process outside the
    container's cgroup: kill, exec and delete --force never signal or enter
    it; delete still tears the container down by its cgroup."""
    cid, init, f, path = damaged_container(t, "pid")
    other = own_path(t, "pid-victim")
    make_cgroup(t, other, controllers=["pids"])
    victim = sleeper_in(t, CG / "pids" / other.lstrip("/"))
    st = json.loads(f.read_text())
    f.write_text(json.dumps(dict(st, pid=victim.pid, pid_start=start_time(victim.pid))))
    res = t.rt("kill", cid, "KILL")
    t.expect(res.rc not in (0, None), f"kill: {res.describe()}, want 'stopped'")
    res = t.rt("exec", cid, "/bin/true")
    t.expect(res.rc not in (0, None), f"exec into a foreign pid: {res.describe()}, want refused")
    res = t.rt("delete", "--force", cid)
    t.expect(res.rc == 0, f"delete --force: {res.describe()}")
    t.expect(pid_alive(victim.pid), "kill/delete --force killed a process outside the container's cgroup")
    t.expect(wait_until(lambda: not pid_alive(init)), "delete --force left the real init running")
    t.expect(not (t.rt.root / cid).exists(), "delete --force kept the state dir")


def case_start_frozen_meanwhile_fails(t):
    """The container's cgroup is frozen after `start` (or foreground `run`)
    sent its go but before the process exec'd (here: during a
    startContainer hook): the verb fails naming the freeze instead of
    waiting for a thaw."""
    for verb in ("start", "run"):
        path = own_path(t, f"{verb}-frozen")
        cfg = t.sleeper()
        cfg["hooks"] = {"startContainer": [{"path": "/bin/sleep", "args": ["sleep", "3"]}]}
        cid, bundle = t.bundle(config_text(t, cfg, path))
        if verb == "start":
            t.ok(t.rt("create", "--bundle", str(bundle), cid), "create")
            argv = ("start", cid)
        else:
            argv = ("run", "--bundle", str(bundle), cid)
        ctl = CG / "freezer" / path.lstrip("/") / "freezer.state"
        t.on_cleanup(lambda ctl=ctl: ctl.exists() and ctl.write_text("THAWED"))
        t.on_cleanup(lambda path=path: itlib.remove_cgroup(path))
        with t.rt.spawn(*argv) as bg:
            t.require(wait_until(ctl.exists, timeout=10), f"{verb}: no freezer cgroup {ctl.parent}")
            time.sleep(0.7)
            ctl.write_text("FROZEN")
            started = time.monotonic()
            rc = bg.wait()
            took = time.monotonic() - started
            bg.out.seek(0)
            out = bg.out.read().decode(errors="replace")
        if ctl.exists():  # run deletes the container (and thaws) itself
            ctl.write_text("THAWED")
        t.expect(rc not in (0, None), f"{verb} while frozen: exit {rc}, want a failure")
        t.expect(took < 10, f"{verb} took {took:.1f}s after the freeze")
        t.expect("frozen" in out, f"{verb}'s error {out.strip()!r} should say the container was frozen")


def case_exec_cgroup_frozen_refused(t):
    """exec --cgroup into a frozen sub-cgroup: refused at once, naming it."""
    cid, path = exec_container(t, "exec-frozen")
    make_cgroup(t, path + "/cold", controllers=["freezer"])
    ctl = CG / "freezer" / path.lstrip("/") / "cold" / "freezer.state"
    ctl.write_text("FROZEN")
    t.on_cleanup(lambda: ctl.exists() and ctl.write_text("THAWED"))
    res = t.rt("exec", "--cgroup", "freezer:cold", cid, "/bin/true", timeout=10)
    ctl.write_text("THAWED")
    t.expect(res.rc not in (0, None), f"exec into a frozen sub-cgroup: {res.describe()}, want refused")
    t.expect("--cgroup" in res.err and "frozen" in res.err and "cold" in res.err,
             f"error {res.err.strip()!r} should name --cgroup and the frozen cgroup")


def case_exec_cgroup_sub_torn_down(t):
    """Processes exec'd into sub-cgroups are the container's: ps lists them,
    and delete --force kills them and removes the sub-cgroups with the
    container's own (runc removes the whole tree)."""
    cid, path = exec_container(t, "exec-tree")
    make_cgroup(t, path + "/sub")
    make_cgroup(t, path + "/deep/er")
    t.ok(t.rt("exec", "-d", "--cgroup", "sub", cid, "/bin/sworn-probe", "sleep", "100"), "exec -d --cgroup sub")
    t.ok(t.rt("exec", "-d", "--cgroup", "deep/er", cid, "/bin/sworn-probe", "sleep", "100"), "exec -d --cgroup deep/er")
    in_tree = wait_until(lambda: len(itlib.procs_in_cgroup_tree(path)) >= 3)
    t.require(in_tree, f"exec'd processes not in {path}: {itlib.procs_in_cgroup_tree(path)}")
    res = t.rt("ps", "--format", "json", cid)
    pids = res.json() if res.rc == 0 else None
    t.expect(isinstance(pids, list) and len(pids) >= 3, f"ps lists {pids!r}, want the init and both exec'd processes")
    started = time.monotonic()
    res = t.rt("delete", "--force", cid, timeout=15)
    t.expect(res.rc == 0, f"delete --force: {res.describe()}")
    t.expect(time.monotonic() - started < 5, f"delete --force took {time.monotonic() - started:.1f}s")
    left = wait_until(lambda: not itlib.procs_in_cgroup_tree(path), timeout=3)
    t.expect(left, f"processes left in the container's cgroups: {itlib.procs_in_cgroup_tree(path)}")
    t.expect(not itlib.cgroup_dirs(path), f"cgroups left after delete --force: {itlib.cgroup_dirs(path)}")
