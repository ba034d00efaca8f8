"""Id-mapped mounts (issue #15 item 9): uidMappings/gidMappings on a bind
mount, or the "idmap"/"ridmap" options, as runc 1.2 and crun do them
(open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_IDMAP) + move_mount).
crun 1.8 shows the same owners for these bundles; Debian's runc 1.1.5
ignores the mount's maps."""
import os
import subprocess
import tempfile
from pathlib import Path

from itlib import Skip

STAT = "stat -c '%u %g' /m/f"


def _source(t, fstype):
    """A directory holding f, owned by 1000:1000: on a fresh tmpfs, or on
    the filesystem the workspace is on ("disk")."""
    d = Path(tempfile.mkdtemp(prefix="sworn-idmap-", dir=t.ws.base))
    os.chmod(d, 0o755)
    if fstype == "tmpfs":
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(d)], check=True, timeout=30)
        t.on_cleanup(lambda: subprocess.run(["umount", "-l", str(d)], check=False, timeout=30))
    (d / "f").write_text("x")
    os.chown(d / "f", 1000, 1000)
    return d


def _config(t, src, uid=None, gid=None, options=("bind",), cmd=STAT):
    cfg = t.config(["sh", "-c", cmd])
    m = {"destination": "/m", "type": "bind", "source": str(src), "options": list(options)}
    if uid is not None:
        m["uidMappings"], m["gidMappings"] = uid, gid
    cfg["mounts"].append(m)
    return cfg


def _userns(cfg):
    # The rootfs belongs to host root, unmapped here: mount inside /tmp (1777).
    cfg["mounts"][-1]["destination"] = "/tmp/m"
    cfg["process"]["args"][-1] = cfg["process"]["args"][-1].replace("/m/", "/tmp/m/")
    cfg["linux"]["namespaces"].append({"type": "user"})
    for k in ("uidMappings", "gidMappings"):
        cfg["linux"][k] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    return cfg


def _owner_seen(t, cfg, what):
    cid, bundle = t.bundle(cfg)
    for d in (t.ws.base, bundle.parent, bundle):  # mkdtemp's 0700 would stop uid 100000
        os.chmod(d, 0o711)
    res = t.rt("run", "--bundle", str(bundle), cid)
    t.require(res.rc == 0, f"{what}: run: {res.describe()}")
    return res.out.strip()


def case_idmap_mount_maps_owner_tmpfs_and_disk(t):
    """A file owned by host 1000:1000 appears as the mapped 4242:4343 (no
    user namespace in the container), on tmpfs and on the workspace's disk
    filesystem; the host still sees 1000:1000."""
    for fstype in ("tmpfs", "disk"):
        src = _source(t, fstype)
        cfg = _config(t, src, [{"containerID": 1000, "hostID": 4242, "size": 1}],
                      [{"containerID": 1000, "hostID": 4343, "size": 1}])
        _, res = t.run(cfg)
        if fstype == "disk" and res.rc != 0 and "does not support id-mapped" in res.err:
            t.note(f"the workspace filesystem cannot be id-mapped: {res.err.strip()}")
            continue
        t.require(res.rc == 0, f"{fstype}: run: {res.describe()}")
        t.expect(res.out.strip() == "4242 4343", f"{fstype}: owner inside {res.out.strip()!r}, want '4242 4343'")
        st = os.stat(src / "f")
        t.expect((st.st_uid, st.st_gid) == (1000, 1000), f"{fstype}: host owner changed to {st.st_uid}:{st.st_gid}")


def case_idmap_mount_in_user_namespace(t):
    """With the container's own user namespace (0 -> 100000): the mount maps
    host 1000 to 100007, which the container sees as 7; without the
    mount's maps the file is unmapped there (nobody)."""
    src = _source(t, "tmpfs")
    cfg = _userns(_config(t, src, [{"containerID": 1000, "hostID": 100007, "size": 1}],
                          [{"containerID": 1000, "hostID": 100008, "size": 1}]))
    t.expect(_owner_seen(t, cfg, "mapped") == "7 8", "owner inside is not 7 8")
    plain = _userns(_config(t, src))
    t.expect(_owner_seen(t, plain, "control") == "65534 65534", "control: an unmapped owner is not nobody")


def case_idmap_option_takes_container_maps(t):
    """"idmap" without maps on the mount takes linux.uidMappings (runc 1.2):
    host 1000 becomes 101000, the container's 1000."""
    src = _source(t, "tmpfs")
    cfg = _userns(_config(t, src, options=("bind", "idmap")))
    t.expect(_owner_seen(t, cfg, "idmap option") == "1000 1000", "idmap option: owner inside is not 1000 1000")
    bad = _config(t, src, options=("bind", "idmap"))
    _, res = t.run(bad)
    t.expect(res.rc != 0 and "user namespace" in res.err,
             f"idmap without maps or a user namespace: {res.describe()}")


def case_idmap_unsupported_fs_names_the_mount(t):
    """sysfs cannot be id-mapped: create fails before anything runs, naming
    the mount, its destination and source, and why (crun: `mount_setattr
    /sys/kernel: Invalid argument`)."""
    if not Path("/sys/kernel").is_dir():
        raise Skip("no /sys/kernel")
    cfg = _config(t, "/sys/kernel", [{"containerID": 0, "hostID": 4242, "size": 1}],
                  [{"containerID": 0, "hostID": 4242, "size": 1}])
    cfg["mounts"][-1]["destination"] = "/sysk"
    idx = len(cfg["mounts"]) - 1
    _, res = t.run(cfg)
    t.expect(res.rc != 0, "an id-mapped sysfs mount was accepted")
    for part in (f"mounts[{idx}]", "/sysk", "/sys/kernel", "does not support id-mapped"):
        t.expect(part in res.err, f"error lacks {part!r}: {res.err.strip()}")


def case_idmap_non_bind_refused(t):
    """As runc: maps on a mount that is not a bind are refused, by field."""
    cfg = t.config(["true"])
    cfg["mounts"].append({"destination": "/m", "type": "tmpfs", "source": "tmpfs",
                          "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}],
                          "gidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]})
    _, res = t.run(cfg)
    t.expect(res.rc != 0 and "only supported for bind mounts" in res.err, f"tmpfs with maps: {res.describe()}")


def case_idmap_readonly_host_source_in_userns_refused(t):
    """A source on a read-only host mount, id-mapped into a container with a
    user namespace, is refused naming the mount: on the detached copy the
    kernel does not lock the flag, and the container's root (CAP_SYS_ADMIN
    in its namespace) could remount it read-write (seen: remount,rw then a
    write reached the host directory)."""
    src = _source(t, "disk")
    os.chmod(src, 0o777)
    maps = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg = _userns(_config(t, src, maps, maps, cmd="mount -o remount,bind,rw /m/; touch /m/new"))
    for k in ("bounding", "effective", "permitted"):
        cfg["process"]["capabilities"][k] = cfg["process"]["capabilities"][k] + ["CAP_SYS_ADMIN"]
    cfg["linux"].pop("seccomp", None)
    cid, bundle = t.bundle(cfg)
    for d in (t.ws.base, bundle.parent, bundle):
        os.chmod(d, 0o711)
    script = (f"mount --bind {src} {src} && mount -o remount,bind,ro {src} && "
              f"exec {' '.join(t.rt.prefix)} --root {t.rt.root} run --bundle {bundle} {cid}")
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=30)
    t.expect(proc.returncode not in (0, None) and "mounts[" in proc.stderr and "read-only" in proc.stderr,
             f"id-mapped read-only host source in a user namespace: exit {proc.returncode} {proc.stderr[-300:]!r}")
    t.expect(not (src / "new").exists(), "the container wrote through a read-only host mount")
    t.expect(t.rt("state", cid).rc != 0, "container left behind")
