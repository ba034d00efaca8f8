"""runc parity, second part (issue #15 item 5): the order of cgroup v1 CFS
writes under a parent quota, device rules kept across `update`, the key
order of `events`, `--debug` lines at level debug, linux.resources.unified
refused on a cgroup v1 host, the terminal of a non-root
user its own."""
import json
import os
import re
import stat
import subprocess
from pathlib import Path

import itlib

CG = Path("/sys/fs/cgroup")


def _cg(ctl, path, name):
    return (CG / ctl / path.lstrip("/") / name)


def case_parity2_update_cfs_under_parent_quota(t):
    """A smaller period with a quota, under a parent with a quota: runc writes the
    quota first when the period alone would be refused (EINVAL)."""
    cfg = t.sleeper()
    cid, bundle = t.bundle(cfg)
    parent = f"{t.ws.cgroup_prefix}/par-{cid}"
    conf = json.loads((bundle / "config.json").read_text())
    conf["linux"]["cgroupsPath"] = f"{parent}/c"
    conf["linux"].setdefault("resources", {})["cpu"] = {"quota": 50000, "period": 100000}
    (bundle / "config.json").write_text(json.dumps(conf))
    pdir = CG / "cpu" / parent.lstrip("/")
    pdir.mkdir(parents=True, exist_ok=True)
    try:
        (pdir / "cpu.cfs_quota_us").write_text("50000")
        t.ok(t.rt("create", "--bundle", str(bundle), cid), "create")
        t.ok(t.rt("start", cid), "start")
        res = t.rt("update", "--cpu-period", "10000", "--cpu-quota", "5000", cid)
        t.expect(res.rc == 0, f"update --cpu-period 10000 --cpu-quota 5000: {res.describe()}")
        got = (_cg("cpu", f"{parent}/c", "cpu.cfs_period_us").read_text().strip(),
               _cg("cpu", f"{parent}/c", "cpu.cfs_quota_us").read_text().strip())
        t.expect(got == ("10000", "5000"), f"period/quota after update: {got}")
        # a period alone that the parent's quota refuses still fails, naming the file
        res = t.rt("update", "--cpu-period", "1000", cid)
        t.expect(res.rc != 0 and "cfs_period_us" in res.err, f"update --cpu-period 1000: {res.describe()}")
    finally:
        t.rt("delete", "--force", cid)
        for h in CG.iterdir():
            for d in (h / parent.lstrip("/") / "c", h / parent.lstrip("/")):
                try:
                    d.rmdir()
                except OSError:
                    pass


def case_parity2_update_devices_keeps_linux_devices(t):
    """`update` with resources.devices keeps the nodes of linux.devices allowed,
    as create allowed them: the container can still open them."""
    cfg = t.config(["/bin/sworn-probe", "sleep", "100"])
    cfg["linux"]["devices"] = [{"path": "/dev/xkmsg", "type": "c", "major": 1, "minor": 11,
                                "fileMode": 0o600, "uid": 0, "gid": 0}]
    # no deny-all: sworn keeps linux.devices denied under one (issue #14 item 10)
    cfg["linux"].setdefault("resources", {})["devices"] = []
    cid, _ = t.started(cfg)
    opens = ["/bin/sh", "-c", ": > /dev/xkmsg && echo opened"]
    res = t.rt("exec", cid, *opens)
    t.require(res.rc == 0 and "opened" in res.out, f"open linux.devices node after create: {res.describe()}")
    rfile = Path(t.ws.base) / f"dev-{cid}.json"
    itlib.write_json(rfile, {"devices": [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]})
    t.ok(t.rt("update", "--resources", str(rfile), cid), "update -r devices")
    res = t.rt("exec", cid, *opens)
    t.expect(res.rc == 0 and "opened" in res.out, f"open linux.devices node after update: {res.describe()}")
    res = t.rt("exec", cid, "/bin/sh", "-c", ": > /dev/null && echo null")
    t.expect(res.rc == 0 and "null" in res.out, f"/dev/null after update: {res.describe()}")


def case_parity2_events_key_order(t):
    """`events --stats` prints runc's Event with its keys in runc's order: type, id, data."""
    cid, _ = t.started(t.sleeper())
    res = t.rt("events", "--stats", cid)
    t.require(res.rc == 0, f"events --stats: {res.describe()}")
    keys = list(json.loads(res.out.splitlines()[0]).keys())
    t.expect(keys == ["type", "id", "data"], f"events keys {keys}")


def case_parity2_debug_level(t):
    """--debug lines go out at level debug (runc's logrus level), not info."""
    cid, bundle = t.bundle(t.sleeper())
    log = Path(t.ws.base) / f"debug-{cid}.log"
    t.ok(t.rt("--debug", "--log", str(log), "--log-format", "json", "create", "--bundle", str(bundle), cid),
         "create --debug")
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    timed = [entry for entry in lines if entry.get("msg", "").startswith("[")]
    t.require(timed, f"no debug lines in {lines[:3]}")
    t.expect(all(entry["level"] == "debug" for entry in timed), f"debug lines at {[e['level'] for e in timed]}")


def case_parity2_unified_on_v1_refused(t):
    """linux.resources.unified on a cgroup v1 (or hybrid) host is an invalid
    configuration, as in runc: create fails naming the field, nothing is left."""
    if (CG / "cgroup.controllers").exists():
        raise itlib.Skip("a cgroup v2 host")
    cfg = t.sleeper()
    cfg["linux"].setdefault("resources", {})["unified"] = {"hugetlb.2MB.max": "1048576"}
    cid, bundle = t.bundle(cfg)
    res = t.rt("create", "--bundle", str(bundle), cid)
    t.expect(res.rc != 0 and "linux.resources.unified" in res.err and "invalid configuration" in res.err,
             f"create with unified on v1: {res.describe()}")
    t.expect(t.rt("state", cid).rc != 0, "container left behind")
    path = t.cgroup_path(cid).lstrip("/")
    left = [str(h) for h in CG.iterdir() if (h / path).exists()]
    t.expect(not left, f"cgroups left behind: {left}")


def case_parity2_exec_ignore_paused(t):
    """exec into a paused container is refused as runc refuses it; with
    --ignore-paused it proceeds without hanging, the process joins the freeze
    and runs on resume."""
    cid, _ = t.started(t.sleeper())
    t.ok(t.rt("pause", cid), "pause")
    res = t.rt("exec", cid, "/bin/sh", "-c", "echo no")
    t.expect(res.rc != 0 and "--ignore-paused" in res.err and "no" not in res.out,
             f"exec into a paused container: {res.describe()}")
    pidfile = Path(t.ws.base) / f"exec-{cid}.pid"
    res = t.rt("exec", "-d", "--ignore-paused", "--pid-file", str(pidfile), cid,
               "/bin/sh", "-c", "echo ran > /dev/shm/ignored-paused; exec /bin/sworn-probe sleep 100", timeout=30)
    t.require(res.rc == 0, f"exec -d --ignore-paused: {res.describe()}")
    pid = pidfile.read_text().strip()
    t.expect(pid in t.rt("ps", "--format", "json", cid).out, f"exec'd pid {pid} not among the container's")
    t.expect(t.state(cid).get("status") == "paused", "container no longer paused after exec --ignore-paused")
    t.ok(t.rt("resume", cid), "resume")
    res = t.rt("exec", cid, "/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do "
               "[ -s /dev/shm/ignored-paused ] && break; sleep 0.2; done; cat /dev/shm/ignored-paused")
    t.expect(res.rc == 0 and res.out.strip() == "ran", f"the exec'd process did not run: {res.describe()}")


def case_parity2_dev_readonly(t):
    """A tmpfs /dev with `ro` is filled first (devices, /dev/pts, /dev/shm,
    symlinks), then remounted read-only, as runc does."""
    cfg = t.config(["/bin/sh", "-c", "[ -c /dev/null ] && [ -d /dev/pts ] && [ -L /dev/fd ] && "
                    "echo x > /dev/null && echo filled; touch /dev/newfile 2>&1; "
                    "echo y > /dev/shm/f && echo shm-writable"])
    for m in cfg["mounts"]:
        if m["destination"] == "/dev":
            m["options"] = [o for o in m.get("options", []) if o != "ro"] + ["ro"]
    cid, bundle = t.bundle(cfg)
    res = t.rt("run", "--bundle", str(bundle), cid)
    t.expect(res.rc == 0 and "filled" in res.out, f"run with a ro /dev: {res.describe()} {res.out!r}")
    t.expect("Read-only file system" in res.out, f"/dev writable after the remount: {res.out!r}")
    t.expect("shm-writable" in res.out, f"/dev/shm (its own mount) not writable: {res.out!r}")


def _tty_view(master):
    """(owner uid, chmod-ok?) as the probe below prints them on the pty."""
    got = itlib.pty_expect(master, b"=end")
    m = re.search(rb"owner=(\d+) chmod=(\w+)=end", got)
    return (int(m.group(1)), m.group(2) == b"ok") if m else (got[-200:], False)


def case_parity2_terminal_owned_by_user(t):
    """With terminal: true and user 1000 the pty the program (and an exec
    --tty --user 1000) gets belongs to uid 1000, as runc's fixStdioPermissions
    makes it: the program can chmod its own terminal."""
    probe = ("c=no; chmod 600 /proc/self/fd/0 2>/dev/null && c=ok; "
             "echo \"owner=$(stat -L -c %u /proc/self/fd/0) chmod=$c=end\"; ")
    cfg = t.config(["/bin/sh", "-c", probe + "exec /bin/sworn-probe sleep 100"], terminal=True,
                   user={"uid": 1000, "gid": 1000})
    cid, bundle = t.bundle(cfg)
    server = itlib.ConsoleServer(bundle / "console.sock")
    t.on_cleanup(server.close)
    t.ok(t.rt("create", "--console-socket", server.path, "--bundle", str(bundle), cid), "create --console-socket")
    master = server.wait_master()
    t.require(master is not None, f"no pty master received: {server.error}")
    t.ok(t.rt("start", cid), "start")
    owner, chmod = _tty_view(master)
    t.expect(owner == 1000, f"the container's terminal belongs to {owner!r}, want uid 1000")
    t.expect(chmod, "user 1000 cannot chmod its terminal")
    server2 = itlib.ConsoleServer(bundle / "exec.sock")
    t.on_cleanup(server2.close)
    res = t.rt("exec", "--tty", "--detach", "--user", "1000:1000", "--console-socket", server2.path, cid,
               "/bin/sh", "-c", probe + "sleep 1")
    t.ok(res, "exec --tty --user 1000")
    master = server2.wait_master()
    t.require(master is not None, f"exec: no pty master received: {server2.error}")
    owner, chmod = _tty_view(master)
    t.expect(owner == 1000 and chmod, f"exec --tty --user 1000: the terminal belongs to {owner!r}, want uid 1000")


def case_parity2_host_terminal_not_given_away(t):
    """Only the pty the runtime makes is handed to the user: a host terminal
    that a foreground `run` (terminal: false, user 1000) passes through as
    stdio keeps its owner (runc gives such a run pipes)."""
    master, slave = os.openpty()
    t.on_cleanup(lambda: (os.close(master), os.close(slave)))
    cid, bundle = t.bundle(t.config(["/bin/true"], user={"uid": 1000, "gid": 1000}))
    proc = subprocess.run([*t.rt.prefix, "--root", str(t.rt.root), "run", "--bundle", str(bundle), cid],
                          stdin=slave, stdout=slave, stderr=slave, timeout=30)
    t.expect(proc.returncode == 0, f"run with a host pty as stdio: exit {proc.returncode}")
    t.expect(os.fstat(slave).st_uid == 0, f"the host's terminal now belongs to uid {os.fstat(slave).st_uid}")


def case_parity2_missing_cwd_created(t):
    """A process.cwd that does not exist in the rootfs is created (runc's
    createCwd), owned by root, and the program starts in it."""
    cid, res = t.run(t.config(["/bin/sh", "-c", "pwd; stat -c %u:%a /new/deep/dir"], cwd="/new/deep/dir"))
    t.expect(res.rc == 0 and res.out.split() == ["/new/deep/dir", "0:755"],
             f"run with a missing cwd: {res.describe()} {res.out!r}")


def case_parity2_bind_under_root_only_dir_userns(t):
    """A bind mount whose source sits under a root-only (0700) host directory
    works in a container with a user namespace (runc resolves the source as
    the runtime, before the container's root could not reach it)."""
    from cli_cases_more import chown_tree, in_user_namespace
    host = Path(t.ws.base) / f"root-only-{t.name}"
    (host / "src").mkdir(parents=True)
    (host / "src" / "f").write_text("through-root-only\n")
    os.chmod(host, 0o700)
    cfg = t.config(["/bin/cat", "/mnt/f"])
    in_user_namespace(cfg, 100000, 65536)
    cfg["mounts"].append({"destination": "/mnt", "type": "bind", "source": str(host / "src"),
                          "options": ["rbind", "ro"]})
    cid, bundle = t.bundle(cfg)
    chown_tree(bundle / "rootfs", 100000)
    for d in (t.ws.base, bundle.parent, bundle):  # mkdtemp's 0700 would stop uid 100000
        os.chmod(d, 0o711)
    res = t.rt("run", "--bundle", str(bundle), cid)
    t.expect(res.rc == 0 and res.out == "through-root-only\n", f"run: {res.describe()} {res.out!r}")
    # A read-only host mount as the source stays read-only for the
    # container's root, which has CAP_SYS_ADMIN in its user namespace.
    open_dir = Path(t.ws.base) / f"ro-src-{t.name}"
    open_dir.mkdir(mode=0o777)
    os.chmod(open_dir, 0o777)
    cfg["mounts"][-1] = {"destination": "/mnt", "type": "bind", "source": str(open_dir), "options": ["rbind"]}
    cfg["process"]["args"] = ["/bin/sh", "-c", "mount -o remount,bind,rw /mnt 2>/dev/null; touch /mnt/new 2>&1; "
                              "grep -c ' /mnt ro,' /proc/self/mountinfo"]
    for k in ("bounding", "effective", "permitted"):
        cfg["process"]["capabilities"][k] = cfg["process"]["capabilities"][k] + ["CAP_SYS_ADMIN"]
    cfg["linux"].pop("seccomp", None)
    cid, bundle = t.bundle(cfg)
    chown_tree(bundle / "rootfs", 100000)
    os.chmod(bundle.parent, 0o711)
    os.chmod(bundle, 0o711)
    script = (f"mount --bind {open_dir} {open_dir} && mount -o remount,bind,ro {open_dir} && "
              f"exec {' '.join(t.rt.prefix)} --root {t.rt.root} run --bundle {bundle} {cid}")
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=30)
    t.expect(proc.returncode == 0 and not (open_dir / "new").exists() and "Read-only" in proc.stdout,
             f"the container's root made a read-only host mount writable: exit {proc.returncode} "
             f"{proc.stdout!r} {proc.stderr[-300:]!r}")


def case_parity2_device_over_other_file_refused(t):
    """config-linux.md: a file at a linux.devices path that is not the
    requested device MUST be an error; the rootfs's file stays (runc 1.1
    replaces /etc/passwd with the device node, in the bundle). The same
    device already there is fine."""
    cfg = t.config(["/bin/true"])
    cfg["linux"]["devices"] = [{"path": "/etc/passwd", "type": "c", "major": 1, "minor": 3}]
    cid, bundle = t.bundle(cfg)
    before = (bundle / "rootfs" / "etc" / "passwd").read_text()
    res = t.rt("run", "--bundle", str(bundle), cid)
    t.expect(res.rc not in (0, None) and "linux.devices" in res.err and "/etc/passwd" in res.err,
             f"device over /etc/passwd: {res.describe()}")
    passwd = bundle / "rootfs" / "etc" / "passwd"
    t.expect(passwd.is_file() and passwd.read_text() == before, "the rootfs's /etc/passwd was replaced")
    t.expect(t.rt("state", cid).rc != 0, "container left behind")
    dev = bundle / "rootfs" / "dev"
    os.mknod(dev / "h15-null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    cfg = t.config(["/bin/sh", "-c", "ls -l /dev/h15-null"])
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/dev"]  # the rootfs's own /dev
    cfg["linux"]["devices"] = [{"path": "/dev/h15-null", "type": "c", "major": 1, "minor": 3}]
    cid2 = t.ws.new_id("dev-same")
    t.ids.append(cid2)
    (bundle / "config.json").write_text(json.dumps(dict(cfg, linux=dict(cfg["linux"], cgroupsPath=t.cgroup_path(cid2)))))
    res = t.rt("run", "--bundle", str(bundle), cid2)
    t.expect(res.rc == 0 and "1,   3" in res.out, f"the same device already there: {res.describe()} {res.out!r}")


def case_parity2_unimplemented_properties_refused(t):
    """runtime.md (Create): a property the runtime cannot apply MUST be an
    error. sworn does not implement these spec properties, so it refuses
    them naming the field (it ran without them); ones that ask for nothing
    are fine."""
    from cli_cases_resources import assert_create_rejected
    for field, patch in [("linux.intelRdt", {"linux": {"intelRdt": {"closID": "c"}}}),
                         ("linux.netDevices", {"linux": {"netDevices": {"h15dummy0": {}}}}),
                         ("linux.memoryPolicy", {"linux": {"memoryPolicy": {"mode": "MPOL_INTERLEAVE", "nodes": "0"}}}),
                         ("process.execCPUAffinity", {"process": {"execCPUAffinity": {"final": "0"}}})]:
        cfg = t.sleeper()
        for k, v in patch.items():
            cfg[k].update(v)
        assert_create_rejected(t, cfg, field, field)
    cfg = t.config(["/bin/true"])
    cfg["linux"].update(netDevices={}, memoryPolicy={"mode": "MPOL_DEFAULT"})
    cid, res = t.run(cfg)
    t.expect(res.rc == 0, f"empty netDevices, MPOL_DEFAULT: {res.describe()}")


def case_parity2_failed_create_hook_runs_poststop(t):
    """runtime.md lifecycle: a failing prestart, createRuntime or
    createContainer hook fails create, stops the container and continues
    at its destruction, which runs the poststop hooks (runc too)."""
    for phase in ("prestart", "createRuntime", "createContainer"):
        marks = Path(t.ws.base) / f"poststop-{t.name}-{phase}"
        marks.mkdir()
        cfg = t.sleeper()
        cfg["hooks"] = {phase: [{"path": "/bin/false"}],
                        "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", f"cat > {marks}/first"]},
                                     {"path": "/bin/sh", "args": ["sh", "-c", f"touch {marks}/second"]}]}
        cid, bundle = t.bundle(cfg)
        res = t.rt("create", "--bundle", str(bundle), cid)
        t.expect(res.rc not in (0, None) and f"hooks.{phase}[0]" in res.err, f"{phase}: create {res.describe()}")
        first = marks / "first"
        st = json.loads(first.read_text()) if first.exists() and first.read_text() else {}
        t.expect(st.get("id") == cid and st.get("status") == "stopped",
                 f"{phase}: poststop hook did not run with the stopped state: {st or 'not run'}")
        t.expect((marks / "second").exists(), f"{phase}: the second poststop hook did not run")
        t.expect(t.rt("state", cid).rc != 0, f"{phase}: container left behind")



def case_parity2_config_changes_after_create_ignored(t):
    """runtime.md lifecycle step 2: updates to config.json after create MUST
    NOT affect the container (start runs what create was given)."""
    run = "echo {} > /dev/shm/which; exec /bin/sworn-probe sleep 100"
    cfg = t.config(["/bin/sh", "-c", run.format("created-with")])
    cid, bundle = t.create(cfg)
    cfg["process"]["args"] = ["/bin/sh", "-c", run.format("changed-after")]
    cfg["linux"]["cgroupsPath"] = t.cgroup_path(cid)
    (bundle / "config.json").write_text(json.dumps(cfg))
    t.ok(t.rt("start", cid), "start")
    res = t.rt("exec", cid, "/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do [ -s /dev/shm/which ] && break; "
               "sleep 0.2; done; cat /dev/shm/which")
    t.expect(res.rc == 0 and res.out.strip() == "created-with", f"start ran {res.out.strip()!r}: {res.describe()}")
