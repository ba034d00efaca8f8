"""test_cli.py cases: hostile mounts, device rules and pivot (issue #14 items
10-12, issue #13 item 4). Each case is what an attacker inside the container
or in the image would try; each asserts what the user sees."""
import os

import itlib

# ---------------------------------------------------------------- device rules


def try_open(path, mode):
    """A shell line that prints '<path> opened' or '<path> <error>'; opening
    never reads or writes the device."""
    redir = {"r": "<", "w": ">", "rw": "<>"}[mode]
    return (f"if msg=$( (exec 3{redir}{path}) 2>&1); then echo '{path} opened'; "
            f"else echo \"{path} ${{msg##*: }}\"; fi")


def case_device_rules_deny_linux_devices(t):
    """resources.devices deny-all (runc spec's default) and nodes listed in
    linux.devices: the nodes are created but stay denied (runc: EPERM).
    /dev/kmsg is only opened for writing, never written."""
    cfg = t.config(["/bin/sh", "-c", "; ".join([
        try_open("/dev/kmsg", "w"), try_open("/dev/fuse", "rw"), try_open("/dev/null", "w"),
        "stat -c '%n %t:%T' /dev/kmsg /dev/fuse"])])
    cfg["process"]["capabilities"] = {k: sorted(set(v) | {"CAP_SYSLOG"})
                                      for k, v in cfg["process"]["capabilities"].items()}
    cfg["linux"]["devices"] = [
        {"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o644},
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666}]
    t.require(cfg["linux"]["resources"]["devices"] == [{"allow": False, "access": "rwm"}],
              f"default spec's device rules changed: {cfg['linux']['resources']}")
    _, res = t.run(cfg)
    lines = res.out.splitlines()
    t.require(res.rc == 0, f"run: {res.describe()}")
    t.expect("/dev/kmsg 1:b" in lines and "/dev/fuse a:e5" in lines, f"linux.devices nodes not created: {lines}")
    t.expect("/dev/kmsg Operation not permitted" in lines,
             f"/dev/kmsg (linux.devices, denied by resources.devices) opened for writing: {lines}")
    t.expect("/dev/fuse Operation not permitted" in lines,
             f"/dev/fuse (linux.devices, denied by resources.devices) opened: {lines}")
    t.expect("/dev/null opened" in lines, f"/dev/null (default allow list) not usable: {lines}")

    # control: an explicit allow rule after the deny-all opens /dev/fuse again
    cfg["linux"]["resources"]["devices"].append(
        {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"})
    _, res = t.run(cfg)
    lines = res.out.splitlines()
    t.expect(res.rc == 0 and "/dev/fuse opened" in lines and "/dev/kmsg Operation not permitted" in lines,
             f"with an allow rule for c 10:229 only /dev/fuse opens: {lines} {res.describe()}")


def case_device_rules_linux_devices_allowed_without_rules(t):
    """Without linux.resources.devices, what linux.devices creates is usable."""
    cfg = t.config(["/bin/sh", "-c", try_open("/dev/fuse", "rw")])
    cfg["linux"]["resources"].pop("devices", None)
    cfg["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666}]
    _, res = t.run(cfg)
    t.expect(res.rc == 0 and res.out.strip() == "/dev/fuse opened",
             f"/dev/fuse without device rules: {res.out!r} {res.describe()}")


# ---------------------------------------------------------------- special filesystems over symlinks


def host_mounts_under(path):
    return [l for l in open("/proc/self/mountinfo").read().splitlines() if str(path) in l]


def refused_over_symlink(t, tag, plant, cfg=None, want_dest=None):
    """Plants a symlink in the image with plant(rootfs); create must fail with
    an error naming the mount destination, and nothing may be mounted."""
    cfg = cfg or t.config(["/bin/true"])
    cid, bundle = t.bundle(cfg, tag=tag)
    rootfs = bundle / "rootfs"
    dest, target = plant(rootfs)
    res = t.rt("create", "--bundle", str(bundle), cid)
    t.expect(res.rc not in (0, None), f"{tag}: create with {dest} a symlink to {target} succeeded")
    t.expect((want_dest or dest) in res.err and "ordinary directory" in res.err,
             f"{tag}: error should name {want_dest or dest} and say why: {res.err.strip()!r}")
    t.expect(not host_mounts_under(bundle), f"{tag}: mounts left behind: {host_mounts_under(bundle)}")
    if res.rc == 0:
        t.rt("delete", "--force", cid)


def swap_for_link(rootfs, dest, target):
    p = rootfs / dest.lstrip("/")
    if p.is_dir() and not p.is_symlink():
        os.rmdir(p) if not os.listdir(p) else None
    if p.exists() and not p.is_symlink():
        import shutil
        shutil.rmtree(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, p)
    return dest, target


def case_special_fs_refused_over_symlink(t):
    """CVE-2023-27561 class: an image's /proc (or /sys, or a parent of
    /sys/fs/cgroup, or /dev/mqueue) is a symlink; runc refuses ("must be
    mounted on ordinary directory"), and so must we, naming the destination."""
    def elsewhere(rootfs, name):
        (rootfs / "tmp" / name).mkdir(parents=True, exist_ok=True)
        return "/tmp/" + name

    refused_over_symlink(t, "proc-link", lambda r: swap_for_link(r, "/proc", elsewhere(r, "p")))
    refused_over_symlink(t, "proc-dangling", lambda r: swap_for_link(r, "/proc", "/tmp/missing"))
    refused_over_symlink(t, "sys-link", lambda r: swap_for_link(r, "/sys", elsewhere(r, "s")))
    # /sys/fs a symlink (sysfs not mounted, so the image's /sys is what the cgroup mount walks)
    cfg = t.config(["/bin/true"])
    cfg["mounts"] = [m for m in cfg["mounts"] if m["type"] != "sysfs"]
    refused_over_symlink(t, "cgroup-parent-link", lambda r: swap_for_link(r, "/sys/fs", elsewhere(r, "f")),
                         cfg=cfg, want_dest="/sys/fs/cgroup")
    # mqueue on a destination of the image's own (no /dev tmpfs over it)
    cfg = t.config(["/bin/true"])
    cfg["mounts"].append({"destination": "/mq", "type": "mqueue", "source": "mqueue", "options": []})
    refused_over_symlink(t, "mqueue-link", lambda r: swap_for_link(r, "/mq", elsewhere(r, "m")), cfg=cfg)

    # control: a tmpfs may still go through an in-root symlink (runc follows it)
    cfg = t.config(["/bin/sh", "-c", "grep -c ' /tmp/t ' /proc/self/mountinfo"])
    cfg["mounts"].append({"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": []})
    cid, bundle = t.bundle(cfg, tag="tmpfs-link")
    swap_for_link(bundle / "rootfs", "/t", elsewhere(bundle / "rootfs", "t"))
    res = t.rt("run", "--bundle", str(bundle), cid)
    t.expect(res.rc == 0 and res.out.strip() == "1", f"tmpfs through an in-root symlink: {res.out!r} {res.describe()}")


# ---------------------------------------------------------------- read-only cgroup mount


def case_cgroup_mount_readonly(t):
    """A cgroup mount asked "ro" is read-only everywhere under /sys/fs/cgroup:
    the tmpfs holding the hierarchies as well as the hierarchies (crun)."""
    script = ("for p in /sys/fs/cgroup/new-dir /sys/fs/cgroup/memory/new-dir; do "
              "  if msg=$(mkdir $p 2>&1); then echo \"$p created\"; else echo \"$p ${msg##*: }\"; fi; done; "
              "if msg=$( (exec 3>/sys/fs/cgroup/new-file) 2>&1); then echo 'new-file created'; "
              "else echo \"new-file ${msg##*: }\"; fi; "
              "ls /sys/fs/cgroup | grep -c memory")
    for tag, cgroupns in (("no-cgroupns", False), ("cgroupns", True)):
        cfg = t.config(["/bin/sh", "-c", script])
        if cgroupns:
            cfg["linux"]["namespaces"].append({"type": "cgroup"})
        _, res = t.run(cfg)
        lines = res.out.splitlines()
        t.expect(res.rc == 0 and lines[-1:] == ["1"], f"{tag}: memory hierarchy missing: {res.describe()} {lines}")
        for want in ("/sys/fs/cgroup/new-dir Read-only file system",
                     "/sys/fs/cgroup/memory/new-dir Read-only file system",
                     "new-file Read-only file system"):
            t.expect(want in lines, f"{tag}: want {want!r}, got {lines}")
        t.expect(not any("created" in l for l in lines), f"{tag}: wrote into a read-only cgroup mount: {lines}")


# ---------------------------------------------------------------- --no-pivot


def case_no_pivot_nested_userns_cannot_mount_proc(t):
    """--no-pivot: chroot leaves the host's /proc in the mount namespace; a
    nested user namespace must still not mount a fresh procfs (runc hides
    the host's proc and sysfs before MS_MOVE)."""
    # As uid 1000: the nested namespace maps it to its root without any
    # capability (mapping the host's uid 0 would need CAP_SETFCAP).
    script = ("mkdir -p /dev/shm/np /dev/shm/ns; "
              "unshare -Urmpf sh -c 'mount -t proc proc /dev/shm/np && echo MOUNTED-FRESH-PROC; "
              "mount -t sysfs sysfs /dev/shm/ns && echo MOUNTED-FRESH-SYSFS; echo nested-ran' 2>&1")
    cfg = t.config(["/bin/sh", "-c", script], user={"uid": 1000, "gid": 1000})
    _, res = t.run(cfg, "--no-pivot")
    t.expect(res.rc == 0 and "nested-ran" in res.out, f"nested userns did not run: {res.out!r} {res.describe()}")
    t.expect("MOUNTED-FRESH-PROC" not in res.out, f"--no-pivot: nested userns mounted procfs: {res.out!r}")
    t.expect("MOUNTED-FRESH-SYSFS" not in res.out, f"--no-pivot: nested userns mounted sysfs: {res.out!r}")
    # control: the container still sees its own /proc and /sys
    _, res = t.run(t.config(["/bin/sh", "-c", "cat /proc/self/comm; ls /sys/kernel >/dev/null && echo sys-ok"]),
                   "--no-pivot")
    t.expect(res.rc == 0 and res.out.split() == ["cat", "sys-ok"], f"--no-pivot /proc, /sys: {res.out!r}")


def case_proc_mount_destinations(t):
    """runc's checkProcMount: over /proc only a procfs, inside /proc only the
    files lxcfs emulates; the error names the destination."""
    fake = t.ws.base / f"fakeproc-{t.name}"
    fake.mkdir()
    (fake / "meminfo").write_text("MemTotal: 42 kB\n")
    t.on_cleanup(lambda: __import__("shutil").rmtree(fake, ignore_errors=True))
    bad = [("bind-over-proc", "/proc", {"destination": "/proc", "type": "bind", "source": str(fake),
                                          "options": ["rbind"]}, "only a procfs"),
           ("tmpfs-in-proc", "/proc/sys", {"destination": "/proc/sys", "type": "tmpfs", "source": "tmpfs",
                                           "options": []}, "inside /proc"),
           ("bind-proc-self", "/proc/self/attr", {"destination": "/proc/self/attr", "type": "bind",
                                                  "source": str(fake), "options": ["bind"]}, "inside /proc"),
           ("via-symlink", "/p/sys", {"destination": "/p/sys", "type": "tmpfs", "source": "tmpfs", "options": []},
            "inside /proc")]
    for tag, dest, mount, why in bad:
        cfg = t.config(["/bin/true"])
        cfg["mounts"].append(mount)
        cid, bundle = t.bundle(cfg, tag=tag)
        if tag == "via-symlink":
            os.symlink("/proc", bundle / "rootfs" / "p")
        res = t.rt("create", "--bundle", str(bundle), cid)
        t.expect(res.rc not in (0, None), f"{tag}: create with a mount on {dest} succeeded")
        t.expect(dest in res.err and why in res.err, f"{tag}: error should name {dest} and say {why!r}: "
                                                     f"{res.err.strip()!r}")
    # allowed: an lxcfs-style bind of one file, and a bind of the host's procfs root
    cfg = t.config(["/bin/sh", "-c", "head -1 /proc/meminfo; test -d /proc/1 && echo proc-ok"])
    cfg["mounts"].append({"destination": "/proc/meminfo", "type": "bind", "source": str(fake / "meminfo"),
                          "options": ["bind", "ro"]})
    _, res = t.run(cfg)
    t.expect(res.rc == 0 and res.out.split("\n")[:2] == ["MemTotal: 42 kB", "proc-ok"],
             f"bind over /proc/meminfo (lxcfs): {res.out!r} {res.describe()}")
    cfg = t.config(["/bin/sh", "-c", "test -d /proc/1 && echo proc-ok"])
    cfg["mounts"][0] = {"destination": "/proc", "type": "bind", "source": "/proc", "options": ["rbind"]}
    _, res = t.run(cfg)
    t.expect(res.rc == 0 and res.out == "proc-ok\n", f"bind of a procfs root over /proc: {res.out!r} {res.describe()}")


def case_no_pivot_root_path_via_symlink(t):
    """--no-pivot with root.path reached through a symlink: hiding the host's
    proc and sysfs must not take the container's own."""
    cfg = t.config(["/bin/sh", "-c", "cat /proc/self/comm; ls /sys/kernel >/dev/null && echo sys-ok"])
    cfg["root"]["path"] = "rootlink"
    cid, bundle = t.bundle(cfg)
    os.symlink("rootfs", bundle / "rootlink")
    res = t.rt("run", "--no-pivot", "--bundle", str(bundle), cid)
    t.expect(res.rc == 0 and res.out.split() == ["cat", "sys-ok"],
             f"--no-pivot, root.path a symlink: {res.out!r} {res.describe()}")
