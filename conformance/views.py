"""What the probe's JSON view should look like for a config, and how views
from different runtimes are compared."""
import os

CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]
NS_NAMES = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
            "user": "user", "cgroup": "cgroup", "time": "time"}
VIEW_FIELDS = ["uid", "euid", "gid", "egid", "groups", "cwd", "env", "hostname",
               "umask", "status", "rlimits", "oom_score_adj", "tty", "fds", "pid", "ppid"]
HOST_NS = {ns: os.readlink(f"/proc/self/ns/{ns}") for ns in NS_NAMES.values()}


def cap_mask(names):
    return f"{sum(1 << CAPS.index(n) for n in names):016x}"


def expected_caps(proc):
    """Capability sets after execve of a file without file caps: the kernel
    keeps only ambient caps for non-root; root gets the whole bounding set."""
    caps = {k: set(v) for k, v in proc["capabilities"].items()}
    get = lambda k: caps.get(k, set())  # noqa: E731
    ambient = get("ambient") & get("inheritable") & get("permitted") & get("bounding")
    effective = ambient | (get("bounding") if proc["user"]["uid"] == 0 else set())
    return {"CapInh": cap_mask(get("inheritable")), "CapBnd": cap_mask(get("bounding")),
            "CapAmb": cap_mask(ambient), "CapPrm": cap_mask(effective), "CapEff": cap_mask(effective)}


def mount_set(view):
    """Sorted [mountpoint, fstype, ro|rw] triples; the last mount at a path wins."""
    top = {mp: [mp, fstype, "ro" if "ro" in opts else "rw"] for mp, fstype, opts in view["mounts"]}
    return sorted(top.values())


def runc_cgroup_tmpfs_as_crun(name, mounts, config):
    """runc leaves the tmpfs of a read-only v1 "cgroup" mount writable; crun,
    and sworn after it (issue #13), make it read-only. Compare runc as crun."""
    ro_cgroup = {m["destination"] for m in config["mounts"]
                 if m["type"] == "cgroup" and "ro" in m.get("options", [])}
    if name != "runc":
        return mounts
    return [[mp, fs, "ro" if fs == "tmpfs" and mp in ro_cgroup else flag] for mp, fs, flag in mounts]


def mount_flags(view, path):
    found = [opts for mp, _, opts in view["mounts"] if mp == path]
    return set(found[-1]) if found else None


def ns_distinct(view):
    return {ns: view["namespaces"][ns] != HOST_NS[ns] for ns in NS_NAMES.values()}


def expected_ns(config):
    created = {NS_NAMES[n["type"]] for n in config["linux"]["namespaces"] if "path" not in n}
    return {ns: ns in created for ns in NS_NAMES.values()}


def check_views(t, views, config):
    """Compare views across runtimes and against what config asks for."""
    t.agree_on(views, VIEW_FIELDS)
    # runc 1.1 ignores domainname (a known quirk): compare the others, and
    # config_mismatches() holds everyone to the config
    t.agree("domainname", {n: v["domainname"] for n, v in views.items() if n != "runc"})
    t.agree("mounts (mountpoint, fstype, ro)", {n: runc_cgroup_tmpfs_as_crun(n, mount_set(v), config)
                                                for n, v in views.items()})
    t.agree("namespaces distinct from host", {n: ns_distinct(v) for n, v in views.items()})
    for name, view in views.items():
        for msg in config_mismatches(view, config):
            t.fail(f"{name}: {msg}")


def config_mismatches(view, config):
    proc, user = config["process"], config["process"]["user"]
    want = {
        "uid": user["uid"], "gid": user["gid"], "groups": sorted(user.get("additionalGids", [])),
        "cwd": proc["cwd"], "tty": {"stdin": False, "stdout": False, "stderr": False},
        "fds": [0, 1, 2], "pid": 1, "ppid": 0,
        "oom_score_adj": proc.get("oomScoreAdj", view["oom_score_adj"]),
        "hostname": config.get("hostname", view["hostname"]),
        "domainname": config.get("domainname", view["domainname"]),
    }
    for key, value in want.items():
        if view[key] != value:
            yield f"{key} is {view[key]!r}, config wants {value!r}"
    missing = set(proc["env"]) - set(view["env"])
    if missing:
        yield f"env lacks {sorted(missing)}"
    if view["status"]["NoNewPrivs"] != ("1" if proc.get("noNewPrivileges") else "0"):
        yield f"NoNewPrivs is {view['status']['NoNewPrivs']}, config wants {proc.get('noNewPrivileges')}"
    for field, mask in expected_caps(proc).items():
        if view["status"][field] != mask:
            yield f"{field} is {view['status'][field]}, config wants {mask}"
    for rl in proc.get("rlimits", []):
        if view["rlimits"][rl["type"]] != [rl["soft"], rl["hard"]]:
            yield f"{rl['type']} is {view['rlimits'][rl['type']]}, config wants {[rl['soft'], rl['hard']]}"
    if mount_flags(view, "/") is None or ("ro" in mount_flags(view, "/")) != config["root"].get("readonly", False):
        yield f"/ mount flags {mount_flags(view, '/')}, config readonly={config['root'].get('readonly')}"
    for m in config["mounts"]:
        flags = mount_flags(view, m["destination"])
        wanted = {"ro", "nosuid", "nodev", "noexec"} & set(m.get("options", []))
        if m["type"] != "cgroup" and (flags is None or not wanted <= flags):
            yield f"mount {m['destination']} has flags {flags}, config wants {sorted(wanted)}"
    if ns_distinct(view) != expected_ns(config):
        yield f"namespaces distinct from host {ns_distinct(view)}, config wants {expected_ns(config)}"


def check_paths(t, config, expected):
    """Run `sworn-probe check` on expected's paths; compare across runtimes and to expected."""
    config["process"]["args"] = ["/bin/sworn-probe", "check", *expected]
    seen = {}
    for rt in t.runtimes:
        res = t.run(rt, config)
        seen[rt.name] = res.json()
        if not t.expect(res.rc == 0 and isinstance(seen[rt.name], dict),
                        f"{rt.name}: probe check failed: {res.describe()}"):
            continue
        for path, want in expected.items():
            got = seen[rt.name][path]
            bad = {k: got.get(k) for k, v in want.items() if got.get(k) != v}
            t.expect(not bad, f"{rt.name}: {path}: got {bad}, want {want}")
    t.agree("path checks", {n: v for n, v in seen.items() if v is not None})
