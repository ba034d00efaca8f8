"""Runtime-spec 1.3.0 cases (issue #15): where the spec says MUST and the
peers (runc 1.1, crun 1.8) may not follow it, each case states who does what.

Collected by conformance.py; `-k` selects them like any other case.
"""
import json
import os
import subprocess
from pathlib import Path

from harness import Skip


def host_mounts_under(path):
    """Mount points in our (the runtime's) mount namespace at or under path."""
    prefix = str(path)
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f
                if line.split()[4] == prefix or line.split()[4].startswith(prefix + "/")]


def detach_all_under(path):
    for _ in range(64):
        mps = host_mounts_under(path)
        if not mps:
            return
        subprocess.run(["umount", "-l", max(mps, key=len)], check=False)


def no_mount_ns_config(t):
    config = t.ws.config()
    config["linux"]["namespaces"] = []
    config.pop("hostname", None)
    # runc refuses masks without a mount namespace of the container's own
    config["linux"].pop("maskedPaths", None)
    config["linux"].pop("readonlyPaths", None)
    config["process"]["args"] = ["/bin/sh", "-c", "ls /; readlink /proc/self/ns/mnt"]
    return config


def case_spec_no_mount_namespace(t):
    """config-linux.md: a namespace type not listed is inherited from the runtime.
    All three run it (chroot into the rootfs).  runc and crun leave the
    container's mounts in the runtime's mount namespace after delete; sworn
    detaches them."""
    config = no_mount_ns_config(t)
    outs = {}
    for rt in t.runtimes:
        cid, bundle = t.bundle(rt, config)
        res = rt("run", "--bundle", str(bundle), cid)
        t.expect(res.rc == 0, f"{rt.name}: run with \"namespaces\": []: {res.describe()}")
        lines = res.out.split()
        outs[rt.name] = lines[:-1]
        own = subprocess.run(["readlink", "/proc/self/ns/mnt"], capture_output=True, text=True).stdout.strip()
        # crun runs under `unshare -m` here (hybrid cgroups): its runtime namespace is that one
        t.expect(rt.name == "crun" or not lines or lines[-1] == own, f"{rt.name}: container is not in the runtime's mount namespace: {lines[-1:]}")
        left = host_mounts_under(bundle / "rootfs")
        if rt.name == "sworn":
            t.expect(not left, f"sworn: {len(left)} mounts left under the rootfs after delete: {left[:3]}")
        elif left:
            t.note(f"{rt.name} leaves {len(left)} mounts in the runtime's mount namespace after delete")
        detach_all_under(bundle / "rootfs")
    t.agree("ls / in a container without a mount namespace", outs)


def case_spec_no_mount_namespace_exec(t):
    """exec into a container without a mount namespace runs in its root, not the host's."""
    config = no_mount_ns_config(t)
    config["process"]["args"] = ["/bin/sleep", "30"]
    for rt in t.runtimes:
        cid, bundle = t.bundle(rt, config)
        res = rt("run", "-d", "--bundle", str(bundle), cid)
        if t.expect(res.rc == 0, f"{rt.name}: run -d: {res.describe()}"):
            ex = rt("exec", cid, "/bin/ls", "/")
            if rt.name == "sworn":
                t.expect(ex.rc == 0 and "bin" in ex.out.split()
                         and "usr" not in ex.out.split(), f"sworn: exec sees {ex.out.split()} ({ex.describe()})")
            else:
                t.note(f"{rt.name}: exec without any namespace: {ex.describe()}")
        rt("delete", "--force", cid)
        left = host_mounts_under(bundle / "rootfs")
        if rt.name == "sworn":
            t.expect(not left, f"sworn: {len(left)} mounts left under the rootfs after delete --force")
        detach_all_under(bundle / "rootfs")


def sleeper(t):
    config = t.ws.config()
    config["process"]["args"] = ["/bin/sworn-probe", "sleep", "100"]
    return config


def hostdir(t):
    d = Path(t.ws.base) / f"host-{t.name}"
    d.mkdir(exist_ok=True)
    return d


def in_bounding_set(cap_number):
    with open("/proc/self/status") as f:
        bnd = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    return bool(bnd >> cap_number & 1)


def caps_case(t, extra, sworn_warns):
    """sworn runs without each of `extra` and warns naming it."""
    config = t.ws.config()
    config["process"]["args"] = ["/bin/sh", "-c", "grep CapEff /proc/self/status"]
    for k in ("bounding", "effective", "permitted"):
        config["process"]["capabilities"][k] += extra
    effs = {}
    for rt in t.runtimes:
        res = t.run(rt, config)
        if rt.name == "sworn":
            t.expect(res.rc == 0, f"sworn: run with {extra}: {res.describe()}")
            for name in sworn_warns:
                t.expect(name in res.err and "warning" in res.err, f"sworn: no warning naming {name}: {res.err[-300:]}")
        elif res.rc != 0:
            t.note(f"{rt.name} fails with {extra} (spec: SHOULD NOT fail): {res.describe()}")
            continue
        effs[rt.name] = res.out.strip()
    t.agree("CapEff", effs)


def case_spec_caps_unknown_name(t):
    """config.md (1.1+): a capability that can't be mapped MUST be logged as a
    warning; runtimes SHOULD NOT fail.  runc and crun warn and run too."""
    caps_case(t, ["CAP_NOT_A_CAP"], ["CAP_NOT_A_CAP"])


def case_spec_caps_not_in_bounding_set(t):
    """A capability the runtime itself lacks (CAP_SYS_RESOURCE is not in this
    host's bounding set) can't be granted: sworn warns and runs without it;
    runc 1.1/1.2 and crun fail the create ("unable to apply caps")."""
    if in_bounding_set(24):
        raise Skip("CAP_SYS_RESOURCE is in our bounding set here")
    caps_case(t, ["CAP_SYS_RESOURCE", "CAP_NOT_A_CAP"], ["CAP_SYS_RESOURCE", "CAP_NOT_A_CAP"])


def case_spec_poststart_hook_fails(t):
    """runtime.md 1.3.0 step 9: a failing poststart hook MUST produce an error,
    stop the container, and the lifecycle continues at delete."""
    config = sleeper(t)
    config["hooks"] = {"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]}
    for rt in t.runtimes:
        cid, bundle = t.bundle(rt, config)
        res = rt("create", "--bundle", str(bundle), cid)
        if res.rc != 0:
            t.expect(rt.name != "sworn", f"sworn: create: {res.describe()}")
            t.note(f"{rt.name} runs poststart hooks at create (runc 1.1): {res.describe()}")
            rt("delete", "--force", cid)
            continue
        res = rt("start", cid)
        status = rt.wait_status(cid, "stopped", 3)
        verdict = f"start exit {res.rc}, then {status}"
        if rt.name == "sworn":
            t.expect(res.rc == 1 and status == "stopped", f"sworn: {verdict} (want an error and stopped)")
        elif res.rc == 0 or status != "stopped":
            t.note(f"{rt.name} (spec 1.0.2 era): failing poststart hook: {verdict}")
        d = rt("delete", cid)
        if status == "stopped":
            t.expect(d.rc == 0, f"{rt.name}: delete after the failed poststart: {d.describe()}")


def case_spec_poststop_hook_fails(t):
    """runtime.md 1.3.0 step 13: a failing poststop hook is a warning; the
    remaining hooks still run and delete succeeds."""
    d = hostdir(t)
    for rt in t.runtimes:
        mark = d / f"{rt.name}.second"
        config = t.ws.config()
        config["process"]["args"] = ["/bin/true"]
        config["hooks"] = {"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]},
                                        {"path": "/bin/sh", "args": ["sh", "-c", f"touch {mark}"]}]}
        res = t.run(rt, config)
        ran = mark.exists()
        if rt.name == "sworn":
            t.expect(res.rc == 0 and ran, f"sworn: run exit {res.rc}, second poststop hook ran: {ran}")
        elif res.rc != 0 or not ran:
            t.note(f"{rt.name}: failing poststop hook: run {res.describe()}, second hook ran: {ran}")


def case_spec_hook_env_inherited(t):
    """A hook without "env" gets the runtime's environment (runc and crun; Go's
    exec.Cmd with a nil Env); "env": [] gives it none."""
    d = hostdir(t)
    os.environ["SWORN_CONF_HOOK_ENV"] = "inherited"
    try:
        envs = {}
        for rt in t.runtimes:
            config = t.ws.config()
            config["process"]["args"] = ["/bin/true"]
            out = d / f"{rt.name}.env"
            empty = d / f"{rt.name}.empty"
            config["hooks"] = {"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", f"env > {out}"]},
                                            {"path": "/bin/sh", "args": ["sh", "-c", f"env > {empty}"], "env": []}]}
            res = t.run(rt, config)
            t.expect(res.rc == 0, f"{rt.name}: run: {res.describe()}")
            text = out.read_text() if out.exists() else ""
            envs[rt.name] = "SWORN_CONF_HOOK_ENV=inherited" in text
            none = empty.read_text() if empty.exists() else "missing"
            t.expect("SWORN_CONF_HOOK_ENV" not in none, f"{rt.name}: a hook with \"env\": [] inherited the environment")
        t.expect(envs.get("sworn", True), "sworn: a hook without env did not inherit the runtime's environment")
        t.agree("hook without env inherits the runtime's environment", envs)
    finally:
        del os.environ["SWORN_CONF_HOOK_ENV"]


def case_spec_unknown_properties_ignored(t):
    """config.md Extensibility: unknown properties MUST be ignored, never an
    error (runc's own tests write linux.resources.CPU)."""
    config = t.ws.config()
    config["process"]["args"] = ["/bin/true"]
    config["linux"].setdefault("resources", {})["CPU"] = {"shares": 100}
    config["linux"]["resources"]["notAResource"] = 1
    config["xUnknownTopLevel"] = {"a": 1}
    config["process"]["xUnknown"] = True
    config["linux"]["xUnknown"] = []
    codes = {}
    for rt in t.runtimes:
        res = t.run(rt, config)
        codes[rt.name] = res.rc
        t.expect(res.rc == 0, f"{rt.name}: run with unknown properties: {res.describe()}")
    t.agree("exit code", codes)


def case_spec_version_reported(t):
    """sworn reports one runtime-spec version in state, features and spec."""
    sworn = next((rt for rt in t.runtimes if rt.name == "sworn"), None)
    if sworn is None:
        raise Skip("sworn only")
    feats = sworn("features").json() or {}
    cid, _b, ok = t.create(sworn, sleeper(t))
    st = sworn.state(cid)[1] or {} if ok else {}
    tmp = hostdir(t) / "spec"
    tmp.mkdir()
    sworn("spec", "--bundle", str(tmp))
    spec = json.loads((tmp / "config.json").read_text()) if (tmp / "config.json").exists() else {}
    versions = {"features.ociVersionMax": feats.get("ociVersionMax"), "state.ociVersion": st.get("ociVersion"),
                "spec.ociVersion": spec.get("ociVersion")}
    t.expect(len(set(versions.values())) == 1 and versions["state.ociVersion"] == "1.3.0", f"sworn: {versions}")


def case_spec_state_and_list_key_order(t):
    """`state` and `list -f json` print runc's keys in runc's order (tools that
    read them in order, or diff outputs)."""
    config = sleeper(t)
    config["annotations"] = {"org.example.k": "v"}
    orders = {}
    for rt in t.runtimes:
        if rt.name == "crun":
            continue  # crun's state has its own set of keys
        cid, _b, ok = t.create(rt, config)
        if not ok:
            continue
        st = json.loads(rt("state", cid).out, object_pairs_hook=lambda kv: [k for k, _ in kv])
        lst = json.loads(rt("list", "-f", "json").out or "[]", object_pairs_hook=lambda kv: [k for k, _ in kv])
        orders[rt.name] = {"state": st, "list": lst[0] if lst else None}
    t.agree("key order of state and list -f json", orders)


CASES = [(name[len("case_"):], fn) for name, fn in dict(globals()).items() if name.startswith("case_")]
