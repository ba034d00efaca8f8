"""test_cli.py cases, part 2: namespaces, mount safety and fds, robustness, devices."""
import os
import random
import shutil
import signal
import stat
import time
from pathlib import Path

import itlib
from itlib import finish, ns_link, pid_alive, spawn, wait_until

# ---------------------------------------------------------------- 6. namespaces


def chown_tree(root, offset):
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
            st = os.lstat(name)
            os.lchown(name, st.st_uid + offset, st.st_gid + offset)

def in_user_namespace(cfg, host_id, size):
    """Puts a config in a user namespace mapping container 0 to host_id, as
    `runc spec --rootless` does: no cgroup mount, /sys a bind of the host's."""
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": host_id, "size": size}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": host_id, "size": size}]
    cfg["mounts"] = [m for m in cfg["mounts"] if m["type"] != "cgroup"]
    for m in cfg["mounts"]:
        if m["destination"] == "/sys":
            m.update(type="none", source="/sys", options=["rbind", "nosuid", "noexec", "nodev", "ro"])
    return cfg



def case_userns_mapping(t):
    cfg = t.config(["/bin/sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; "
                                     "touch /tmp/owned-by-root && stat -c '%u:%g' /tmp/owned-by-root"])
    cfg["root"]["readonly"] = False
    in_user_namespace(cfg, 100000, 65536)
    cid, bundle = t.bundle(cfg)
    chown_tree(bundle / "rootfs", 100000)
    for d in (t.ws.base, bundle.parent, bundle):  # mkdtemp's 0700 would stop uid 100000
        os.chmod(d, 0o711)
    res = t.rt("run", "--bundle", str(bundle), cid)
    t.require(res.rc == 0, f"run in a user namespace: {res.describe()}")
    lines = [" ".join(l.split()) for l in res.out.splitlines()]
    t.expect(lines[:2] == ["0 100000 65536"] * 2, f"uid_map/gid_map inside: {lines[:2]}")
    t.expect(lines[2:4] == ["0", "0"], f"id -u/-g inside: {lines[2:4]}")
    t.expect(lines[4:5] == ["0:0"], f"a file created by container root is owned by {lines[4:5]} inside")
    host = bundle / "rootfs" / "tmp" / "owned-by-root"
    if host.exists():
        st = host.stat()
        t.expect((st.st_uid, st.st_gid) == (100000, 100000),
                 f"container root's file is owned by {st.st_uid}:{st.st_gid} on the host, want 100000:100000")


def case_userns_rootless_style_identity_map(t):
    """`spec --rootless` maps container 0 to host 0, size 1."""
    cfg = t.config(["/bin/sh", "-c", "cat /proc/self/uid_map; id -u"])
    in_user_namespace(cfg, 0, 1)
    for m in cfg["mounts"]:  # gid 5 (tty) is unmapped with a size-1 map
        m["options"] = [o for o in m.get("options", []) if o != "gid=5"]
    cid, res = t.run(cfg)
    t.require(res.rc == 0, f"run: {res.describe()}")
    lines = [" ".join(l.split()) for l in res.out.splitlines()]
    t.expect(lines == ["0 0 1", "0"], f"uid_map / id -u inside: {lines}")


def case_join_network_namespace_by_path(t):
    a, _ = t.started(t.sleeper())
    apid = t.pid(a)
    cfg = t.config(["/bin/sworn-probe"])
    cfg["linux"]["namespaces"] = [
        {"type": "network", "path": f"/proc/{apid}/ns/net"} if n["type"] == "network" else n
        for n in cfg["linux"]["namespaces"]]
    _, res = t.run(cfg)
    view = res.json()
    t.require(res.rc == 0 and isinstance(view, dict), f"run B joining A's netns: {res.describe()}")
    t.expect(view["namespaces"]["net"] == ns_link(apid, "net"),
             f"B's net ns {view['namespaces']['net']} != A's {ns_link(apid, 'net')}")
    t.expect(view["namespaces"]["uts"] != ns_link(apid, "uts"), "B shares A's uts ns, which it did not ask for")
    t.expect(view["namespaces"]["net"] != ns_link(1, "net"), "B is in the host's net ns")


def case_join_namespace_bad_path(t):
    cfg = t.config(["/bin/true"])
    cfg["linux"]["namespaces"] = [
        {"type": "network", "path": "/proc/self/ns/uts"} if n["type"] == "network" else n
        for n in cfg["linux"]["namespaces"]]
    cid, res = t.run(cfg)
    t.expect(res.rc not in (0, None), f"joining a uts ns as network: {res.describe()}")
    t.expect(not (t.rt.root / cid).exists(), "state left behind")


def case_cgroup_namespace(t):
    cfg = t.config(["/bin/cat", "/proc/self/cgroup"])
    cfg["linux"]["namespaces"].append({"type": "cgroup"})
    cid, res = t.run(cfg)
    t.require(res.rc == 0, f"run: {res.describe()}")
    lines = res.out.split()
    t.expect(lines and all(l.split(":", 2)[2] == "/" for l in lines),
             f"/proc/self/cgroup in a cgroup namespace is not rooted at /: {lines}")
    cfg = t.config(["/bin/cat", "/proc/self/cgroup"])
    cid, res = t.run(cfg)
    t.expect(res.rc == 0 and t.cgroup_path(cid) in res.out,
             f"without a cgroup namespace the full path {t.cgroup_path(cid)} should show: {res.out!r}")


def case_time_namespace_offsets(t):
    boot, mono = 10 * 86400, 5 * 86400
    cfg = t.config(["/bin/sh", "-c", "cat /proc/uptime; cat /proc/self/timens_offsets"])
    cfg["linux"]["namespaces"].append({"type": "time"})
    cfg["linux"]["timeOffsets"] = {"boottime": {"secs": boot, "nanosecs": 0},
                                   "monotonic": {"secs": mono, "nanosecs": 0}}
    if not os.path.exists("/proc/self/ns/time"):
        raise itlib.Skip("no time namespaces on this kernel")
    cid, res = t.run(cfg)
    host_up = float(Path("/proc/uptime").read_text().split()[0])
    t.require(res.rc == 0, f"run with a time namespace: {res.describe()}")
    lines = res.out.splitlines()
    inside = float(lines[0].split()[0]) if lines else 0.0
    t.expect(abs(inside - host_up - boot) < 10, f"uptime inside {inside:.0f}s, host {host_up:.0f}s, "
                                                 f"want host + {boot}")
    offs = {l.split()[0]: l.split()[1:] for l in lines[1:] if l.split()}
    t.expect(offs.get("monotonic") == [str(mono), "0"] and offs.get("boottime") == [str(boot), "0"],
             f"timens_offsets inside: {lines[1:]}")


# ---------------------------------------------------------------- 7. mounts, fds, cwd


def symlink_escape(t, precreate):
    """Mount destinations that are symlinks to absolute and ../../.. host-looking
    paths must resolve inside the rootfs; the host paths stay untouched."""
    tag = f"sworn-it-{os.getpid()}-{time.monotonic_ns()}"
    host_abs = Path("/tmp") / f"{tag}-abs"
    host_rel = Path("/tmp") / f"{tag}-rel"
    host_abs.mkdir()
    (host_abs / "host-marker").write_text("host")
    t.on_cleanup(lambda: [shutil.rmtree(p, ignore_errors=True) for p in (host_abs, host_rel)
                          if not os.path.ismount(p)])
    src = Path(t.ws.base) / f"src-{tag}"
    src.mkdir()
    (src / "from-source").write_text("src")
    cfg = t.config(["/bin/sh", "-c", "ls /evil; echo --; ls /tmp/" + host_abs.name + "; echo --; "
                                     "grep -c ' /tmp/" + host_rel.name + " ' /proc/self/mountinfo"])
    cfg["mounts"] += [
        {"destination": "/evil", "type": "bind", "source": str(src), "options": ["rbind", "ro"]},
        {"destination": "/sub/evil2", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}]
    cid, bundle = t.bundle(cfg)
    rootfs = bundle / "rootfs"
    os.symlink(str(host_abs), rootfs / "evil")
    (rootfs / "sub").mkdir()
    os.symlink("../../../../../../.." + str(host_rel), rootfs / "sub" / "evil2")
    if precreate:
        (rootfs / "tmp" / host_abs.name).mkdir()
        (rootfs / "tmp" / host_rel.name).mkdir()
    res = t.rt("run", "--bundle", str(bundle), cid)
    t.expect(res.rc == 0, f"run: {res.describe()}")
    parts = res.out.split("--\n")
    t.expect(len(parts) == 3 and parts[0].split() == ["from-source"],
             f"/evil inside the container should show the bind source: {res.out!r}")
    t.expect(len(parts) == 3 and parts[1].split() == ["from-source"],
             f"the mount should land on <rootfs>/tmp/{host_abs.name}: {res.out!r}")
    t.expect(len(parts) == 3 and parts[2].strip() == "1",
             f"tmpfs through ../ symlink should be mounted at /tmp/{host_rel.name} inside: {res.out!r}")
    t.expect(sorted(os.listdir(host_abs)) == ["host-marker"], f"host {host_abs} changed: {os.listdir(host_abs)}")
    t.expect(not host_rel.exists(), f"host path {host_rel} was created")
    t.expect((rootfs / "tmp" / host_rel.name).is_dir(), "the ../ symlink target is not a dir inside the rootfs")
    mine = [l for l in Path("/proc/self/mountinfo").read_text().splitlines() if tag in l]
    t.expect(not mine, f"host mount table shows the container's mounts: {mine}")


def case_mount_destination_symlink_escape(t):
    symlink_escape(t, precreate=True)


def case_mount_destination_dangling_symlink(t):
    """As above, but the link targets do not exist yet: runc creates them inside the rootfs."""
    symlink_escape(t, precreate=False)


def case_no_pivot(t):
    cfg = t.config(["/bin/sworn-probe"])
    cid, res = t.run(cfg, "--no-pivot")
    view = res.json()
    t.require(res.rc == 0 and isinstance(view, dict), f"run --no-pivot: {res.describe()}")
    t.expect(view["cwd"] == "/", f"cwd {view['cwd']!r}")
    t.expect(view["fds"] == [0, 1, 2], f"fds with --no-pivot: {view['fds']}")
    mps = [m[0] for m in view["mounts"]]
    t.expect("/proc" in mps and "/dev" in mps, f"mounts with --no-pivot: {mps}")
    t.expect(not any(str(t.ws.base) in m for m in mps), f"host paths visible in the mount table: {mps}")
    cfg = t.config(["/bin/cat", "/etc/hostname"])
    cid, res = t.run(cfg, "--no-pivot")
    t.expect(res.rc == 0 and res.out == "sworn\n", f"--no-pivot reads the rootfs's /etc/hostname: {res.out!r}")


def runtime_argv(t, *args):
    return [*t.rt.prefix, "--root", str(t.rt.root), *args]


def run_with_fds(t, cfg, extra_redirects, *flags):
    """`sworn run` through sh so that fds (e.g. 3</file, 7</file) are inherited."""
    cid, bundle = t.bundle(cfg)
    argv = ["sh", "-c", 'exec "$@" ' + extra_redirects, "sh",
            *runtime_argv(t, "run", *flags, "--bundle", str(bundle), cid)]
    return cid, itlib.run_cmd(argv)


def case_preserve_fds(t):
    secret = Path(t.ws.base) / f"{t.name}.txt"
    secret.write_text("preserved content\n")
    _, res = run_with_fds(t, t.config(["/bin/sh", "-c", "cat <&3"]), f"3<{secret}", "--preserve-fds", "1")
    t.expect(res.rc == 0 and res.out == "preserved content\n", f"reading fd 3: {res.describe()} {res.out!r}")
    _, res = run_with_fds(t, t.config(["/bin/sworn-probe"]), f"3<{secret}", "--preserve-fds", "1")
    view = res.json()
    t.require(res.rc == 0 and isinstance(view, dict), f"probe with --preserve-fds 1: {res.describe()}")
    t.expect(view["fds"] == [0, 1, 2, 3], f"fds with --preserve-fds 1: {view['fds']}, want [0,1,2,3]")


def case_no_fd_leak(t):
    """Only 0,1,2 reach the process, even when the caller leaks fds into sworn."""
    leak = Path(t.ws.base) / f"{t.name}.txt"
    leak.write_text("x")
    _, res = run_with_fds(t, t.config(["/bin/sworn-probe"]), f"3<{leak} 9<{leak}")
    view = res.json()
    t.expect(res.rc == 0 and isinstance(view, dict) and view["fds"] == [0, 1, 2],
             f"run: fds {view and view.get('fds')} ({res.describe()})")
    cid, _ = t.create(t.sleeper())
    t.ok(t.rt("start", cid), "start")
    pid = t.pid(cid)
    time.sleep(0.2)
    fds = sorted(int(f) for f in os.listdir(f"/proc/{pid}/fd"))
    t.expect(fds == [0, 1, 2], f"create+start: init's fds on the host {fds} "
                               f"({[os.readlink(f'/proc/{pid}/fd/{f}') for f in fds if f > 2]})")
    res = itlib.run_cmd(["sh", "-c", f'exec "$@" 5<{leak}', "sh", *runtime_argv(t, "exec", cid, "/bin/sworn-probe")])
    view = res.json()
    t.expect(res.rc == 0 and isinstance(view, dict) and view["fds"] == [0, 1, 2],
             f"exec: fds {view and view.get('fds')} ({res.describe()})")


def case_cwd_inside_rootfs(t):
    cfg = t.config(["/bin/sh", "-c", "readlink /proc/self/cwd; ls"], cwd="/cwdlink")
    cid, bundle = t.bundle(cfg)
    os.symlink("../../../../../etc", bundle / "rootfs" / "cwdlink")
    res = t.rt("run", "--bundle", str(bundle), cid)
    lines = res.out.split()
    t.expect(res.rc == 0 and lines[:1] == ["/etc"], f"cwd via a ../ symlink: {res.describe()} {lines[:1]}")
    t.expect("passwd" in lines and "hostname" in lines and "os-release" not in lines,
             f"cwd is not the rootfs's /etc: {lines}")
    cid, res = t.run(t.config(["/bin/readlink", "/proc/self/cwd"], cwd="/tmp"))
    t.expect(res.rc == 0 and res.out == "/tmp\n", f"cwd /tmp: {res.out!r}")
    c2, _ = t.started(t.sleeper())
    res = t.rt("exec", "--cwd", "/etc", c2, "/bin/readlink", "/proc/self/cwd")
    t.expect(res.rc == 0 and res.out == "/etc\n", f"exec --cwd /etc: {res.describe()} {res.out!r}")


# ---------------------------------------------------------------- 8. robustness


def case_kill9_during_create(t):
    kill9_during_create(t, t.sleeper, lambda bundle: None)


def case_kill9_during_create_userns(t):
    def config():
        cfg = t.sleeper()
        cfg["linux"]["namespaces"].append({"type": "user"})
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["mounts"] = [m for m in cfg["mounts"] if m["type"] != "cgroup"]
        for m in cfg["mounts"]:
            if m["destination"] == "/sys":
                m.update(type="none", source="/sys", options=["rbind", "nosuid", "noexec", "nodev", "ro"])
        return cfg

    def prepare(bundle):
        chown_tree(bundle / "rootfs", 100000)
        for d in (t.ws.base, bundle.parent, bundle):
            os.chmod(d, 0o711)
    kill9_during_create(t, config, prepare)


def kill9_during_create(t, make_config, prepare):
    itlib.set_subreaper(True)  # orphans of the killed create become our children
    t.on_cleanup(lambda: itlib.set_subreaper(False))
    delays = [0.0, 0.002, 0.005, 0.008, 0.012, 0.02, 0.03, 0.05, 0.08] * 2
    random.Random(1).shuffle(delays)
    outcomes = []
    for delay in delays:
        cid, bundle = t.bundle(make_config())
        prepare(bundle)
        proc = spawn(runtime_argv(t, "create", "--bundle", str(bundle), cid))
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        rc, _ = finish(proc, 10)
        outcomes.append("finished" if rc == 0 else "killed")
        res = t.rt("delete", "--force", cid)
        what = f"create killed after {delay * 1000:.0f}ms"
        t.expect(res.rc == 0, f"{what}: delete --force: {res.describe()}")
        t.expect(not (t.rt.root / cid).exists(), f"{what}: state dir left after delete --force")
        left = itlib.cgroup_dirs(t.cgroup_path(cid))
        t.expect(not left, f"{what}: cgroup dirs left: {[str(d) for d in left]}")
        procs = itlib.procs_in_cgroup_tree(t.cgroup_path(cid))
        t.expect(not procs, f"{what}: processes left in the cgroup: {sorted(procs)}")
        # anything the killed create started and left running is now our child
        time.sleep(0.1)
        live = [(p, s) for p, s in itlib.children_of(os.getpid()) if s != "Z"]
        t.expect(not live, f"{what}: processes left running: "
                           f"{[(p, Path(f'/proc/{p}/cmdline').read_bytes()[:60]) for p, _ in live]}")
        for p, _ in itlib.children_of(os.getpid()):
            if p not in live:
                itlib.reap(p)
        for p, _ in live:
            itlib.kill_pid(p)
            wait_until(lambda: not pid_alive(p), 2)
            itlib.reap(p)
    t.note(f"create outcomes: {outcomes.count('killed')} killed mid-way, {outcomes.count('finished')} finished")


def case_concurrent_start(t):
    for round_ in range(4):
        cid, _ = t.create(t.sleeper())
        procs = [spawn(runtime_argv(t, "start", cid)) for _ in range(2)]
        results = [finish(p) for p in procs]
        codes = [rc for rc, _ in results]
        t.expect(codes.count(0) == 1 and None not in codes,
                 f"round {round_}: two concurrent starts gave {codes} {[o[-120:] for _, o in results]}, want one 0")
        t.expect(t.rt.wait_status(cid, "running", 2) == "running", f"round {round_}: not running afterwards")
        t.rt("delete", "--force", cid)


def case_delete_running_refused(t):
    cid, _ = t.started(t.sleeper())
    pid = t.pid(cid)
    res = t.rt("delete", cid)
    t.expect(res.rc not in (0, None), f"delete of a running container without --force: {res.describe()}")
    time.sleep(0.2)
    t.expect(pid_alive(pid), "the container's init died after a refused delete")
    t.expect(t.rt.wait_status(cid, "running", 1) == "running", "container not running after a refused delete")
    t.expect(itlib.cgroup_dirs(t.cgroup_path(cid)), "refused delete removed the cgroup")
    created, _ = t.create(t.sleeper())
    res = t.rt("delete", created)
    t.expect(res.rc not in (0, None), f"delete of a created container without --force: {res.describe()}")
    t.expect(t.rt.wait_status(created, "created", 1) == "created", "created container disturbed by refused delete")
    res = t.rt("delete", "--force", cid)
    t.expect(res.rc == 0 and wait_until(lambda: not pid_alive(pid), 3), f"delete --force: {res.describe()}")


# ---------------------------------------------------------------- 9. devices


def case_devices(t):
    cfg = t.config(["/bin/sh", "-c", "stat -c '%n %F %t %T %a %u %g' /dev/mynull /dev/fuse /dev/null /dev/zero "
                                     "/dev/full /dev/random /dev/urandom /dev/tty; "
                                     "echo data > /dev/mynull && echo write-ok; readlink /dev/ptmx; readlink /dev/fd"])
    cfg["linux"]["devices"] = [
        {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600, "uid": 0, "gid": 0},
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666, "uid": 1000, "gid": 1001}]
    cid, res = t.run(cfg)
    t.require(res.rc == 0, f"run: {res.describe()} {res.out!r}")
    lines = res.out.splitlines()
    want = ["/dev/mynull character special file 1 3 600 0 0",
            "/dev/fuse character special file a e5 666 1000 1001",
            "/dev/null character special file 1 3 666 0 0",
            "/dev/zero character special file 1 5 666 0 0",
            "/dev/full character special file 1 7 666 0 0",
            "/dev/random character special file 1 8 666 0 0",
            "/dev/urandom character special file 1 9 666 0 0",
            "/dev/tty character special file 5 0 666 0 0"]
    for w in want:
        t.expect(w in lines, f"want {w!r} in the container, stat gave {[l for l in lines if l.split()[:1] == w.split()[:1]]}")
    t.expect("write-ok" in lines, "writing to /dev/mynull failed")
    t.expect("pts/ptmx" in lines and "/proc/self/fd" in lines, f"/dev/ptmx or /dev/fd links: {lines[-2:]}")

    _, res = t.run(t.config(["/bin/sworn-probe"]))
    view = res.json()
    t.require(res.rc == 0 and isinstance(view, dict), f"probe: {res.describe()}")
    mounts = {m[0]: m[1] for m in view["mounts"]}
    for mp, fs in (("/dev", "tmpfs"), ("/dev/pts", "devpts"), ("/dev/shm", "tmpfs"), ("/dev/mqueue", "mqueue")):
        t.expect(mounts.get(mp) == fs, f"{mp} is {mounts.get(mp)!r}, want {fs}")


def case_devices_cgroup_denies_unlisted(t):
    """linux.resources.devices deny-all (runc spec's default): a host block device
    bind-mounted in, but not in linux.devices, cannot be opened."""
    host_dev = next((p for p in ("/dev/loop7", "/dev/loop0") if os.path.exists(p)
                     and stat.S_ISBLK(os.stat(p).st_mode)), None)
    if not host_dev:
        raise itlib.Skip("no /dev/loopN on the host")
    cfg = t.config(["/bin/sh", "-c", "if (exec 3</dev/hostblk) 2>/dev/null; then echo opened; else echo denied; fi"])
    cfg["mounts"].append({"destination": "/dev/hostblk", "type": "bind", "source": host_dev, "options": ["bind"]})
    t.require(cfg["linux"].get("resources", {}).get("devices", [{}])[0] == {"allow": False, "access": "rwm"},
              f"default spec's device rules changed: {cfg['linux'].get('resources')}")
    _, res = t.run(cfg)
    t.expect(res.rc == 0 and res.out.strip() == "denied",
             f"opening {host_dev} (bind-mounted, device cgroup deny-all): {res.out.strip()!r} {res.describe()}")
    # control: once the device is allowed, the same open works
    major, minor = os.major(os.stat(host_dev).st_rdev), os.minor(os.stat(host_dev).st_rdev)
    cfg["linux"]["resources"]["devices"].append({"allow": True, "type": "b", "major": major, "minor": minor,
                                                 "access": "r"})
    _, res = t.run(cfg)
    t.expect(res.rc == 0 and res.out.strip() == "opened",
             f"opening {host_dev} with an allow rule b {major}:{minor} r: {res.out.strip()!r} {res.describe()}")
