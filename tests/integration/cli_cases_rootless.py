"""Rootless sworn (issue #15 item 6): the cases run as root and switch to an
ordinary user made for the case (useradd, with a subuid/subgid range; removed
after), the way a user runs `sworn spec --rootless` + `sworn run`.

runc is the control where it is cheap (`spec --rootless`, a plain run).
"""
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from itlib import CGROUP_ROOT, Skip, run_cmd

_SEQ = [0]


class User:
    """An ordinary user with a subordinate id range and a private work dir
    (bundles, $XDG_RUNTIME_DIR) it owns; run() runs a command as it."""

    def __init__(self, t):
        if not shutil.which("useradd") or not shutil.which("setpriv"):
            raise Skip("needs useradd and setpriv")
        _SEQ[0] += 1
        self.name = f"swrl{os.getpid() % 100000}x{_SEQ[0]}"
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", self.name], check=True, timeout=30)
        t.on_cleanup(self.remove)
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        # Our own subordinate range, far from useradd's automatic ones.
        self.sub = 3_000_000 + (os.getpid() % 500) * 131_072 + (_SEQ[0] % 2) * 65_536
        for f in ("/etc/subuid", "/etc/subgid"):
            with open(f, "a") as fh:
                fh.write(f"{self.name}:{self.sub}:65536\n")
        self.dir = Path(tempfile.mkdtemp(prefix="sworn-rl-"))
        os.chmod(self.dir, 0o755)
        self.xdg = self.dir / "xdg"
        self.xdg.mkdir(mode=0o700)
        os.chown(self.dir, self.uid, self.gid)
        os.chown(self.xdg, self.uid, self.gid)
        self.t = t

    def remove(self):
        subprocess.run(["userdel", self.name], timeout=30, capture_output=True)
        for f in ("/etc/subuid", "/etc/subgid"):
            lines = Path(f).read_text().splitlines(keepends=True)
            Path(f).write_text("".join(x for x in lines if not x.startswith(self.name + ":")))
        shutil.rmtree(self.dir, ignore_errors=True)

    def env(self):
        return ["env", "-i", f"HOME={self.dir}", f"USER={self.name}", f"XDG_RUNTIME_DIR={self.xdg}",
                "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"]

    def argv(self, *cmd, cgroup=None):
        base = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", *self.env(), *cmd]
        if cgroup is None:
            return base
        # Moved there by root first, then the user's command: a delegated subtree.
        return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(cgroup), *base]

    def run(self, *cmd, cgroup=None, timeout=None):
        return run_cmd(self.argv(*cmd, cgroup=cgroup), stdin=b"", timeout=timeout)

    def bundle(self, tag, cfg):
        """A bundle the user owns: the workspace rootfs (owned by the user) and cfg."""
        b = self.dir / tag
        b.mkdir()
        subprocess.run(["cp", "-a", str(self.t.ws.rootfs), str(b / "rootfs")], check=True, timeout=60)
        (b / "config.json").write_text(json.dumps(cfg, indent=1))
        subprocess.run(["chown", "-R", f"{self.uid}:{self.gid}", str(b)], check=True, timeout=60)
        return b


def _rootless_spec(t, u, rt="sworn"):
    """`RT spec --rootless` run as the user in a fresh dir; the parsed config."""
    d = u.dir / f"spec-{rt}"
    d.mkdir()
    os.chown(d, u.uid, u.gid)
    prog = [*t.rt.prefix] if rt == "sworn" else ["runc"]
    res = u.run(*prog, "spec", "--rootless", "--bundle", str(d))
    t.require(res.rc == 0, f"{rt} spec --rootless: {res.describe()}")
    return json.loads((d / "config.json").read_text())


def _leftover_cgroups(name):
    out = []
    for h in CGROUP_ROOT.iterdir():
        for p in (h / name, h / "sworn" / name):
            if p.exists():
                out.append(str(p))
    return out


def case_rootless_spec_matches_runc(t):
    """`sworn spec --rootless` as an ordinary user: runc's rootless spec (a
    user namespace mapping the user to root, no network namespace, /sys
    bind, no resources), apart from hostname, version and runc's ambient set."""
    if not shutil.which("runc"):
        raise Skip("runc not installed")
    u = User(t)
    ours, theirs = _rootless_spec(t, u), _rootless_spec(t, u, "runc")
    for cfg in (ours, theirs):
        cfg.pop("hostname", None)
        cfg.pop("ociVersion", None)
        cfg["process"]["capabilities"].pop("ambient", None)
    t.expect(ours == theirs, f"spec --rootless differs from runc's:\nsworn {json.dumps(ours, sort_keys=True)}\n"
                             f"runc  {json.dumps(theirs, sort_keys=True)}")
    t.expect(ours["linux"]["uidMappings"] == [{"containerID": 0, "hostID": u.uid, "size": 1}],
             f"uidMappings: {ours['linux'].get('uidMappings')}")


def case_rootless_run_without_cgroups(t):
    """As runc: an ordinary user's `run` of the rootless spec works without
    any cgroup (it may write none and asks for no limits), with the state
    under $XDG_RUNTIME_DIR/sworn; the process is root in its user namespace."""
    u = User(t)
    cfg = _rootless_spec(t, u)
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sh", "-c", "id -u; cat /proc/self/uid_map; ls /run/state-probe 2>/dev/null; true"]
    cid = f"rl-run-{os.getpid()}"
    b = u.bundle("run", cfg)
    res = u.run(*t.rt.prefix, "run", "--bundle", str(b), cid, timeout=30)
    t.require(res.rc == 0, f"rootless run: {res.describe()}")
    lines = res.out.split()
    t.expect(lines[:4] == ["0", "0", str(u.uid), "1"], f"id -u and uid_map inside: {res.out!r}")
    t.expect(not (u.xdg / "sworn" / cid).exists(), "state dir left after run")
    t.expect((u.xdg / "sworn").is_dir(), f"no state root at {u.xdg}/sworn ($XDG_RUNTIME_DIR/sworn)")
    t.expect(not _leftover_cgroups(cid), f"cgroups made or left: {_leftover_cgroups(cid)}")
    if shutil.which("runc"):
        c = u.run("runc", "run", "--bundle", str(b), cid + "-runc", timeout=30)
        t.note(f"runc: exit {c.rc}, state in {'$XDG_RUNTIME_DIR/runc' if (u.xdg / 'runc').is_dir() else '?'}")


def case_rootless_lifecycle_with_subids(t):
    """create/start/exec/ps/kill/delete as an ordinary user, with a map of
    its own id plus its /etc/subuid range (written by newuidmap/newgidmap,
    as runc does): exec joins the user and pid namespaces."""
    if not shutil.which("newuidmap"):
        raise Skip("newuidmap (package uidmap) not installed")
    u = User(t)
    cfg = _rootless_spec(t, u)
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sleep", "100"]
    for key, own in (("uidMappings", u.uid), ("gidMappings", u.gid)):
        cfg["linux"][key] = [{"containerID": 0, "hostID": own, "size": 1},
                             {"containerID": 1, "hostID": u.sub, "size": 65536}]
    cid = f"rl-life-{os.getpid()}"
    b = u.bundle("life", cfg)
    sw = t.rt.prefix
    t.on_cleanup(lambda: u.run(*sw, "delete", "--force", cid, timeout=15))
    t.require(u.run(*sw, "create", "--bundle", str(b), cid, timeout=30).rc == 0,
              f"create: {u.run(*sw, 'state', cid).describe()}")
    t.expect((u.xdg / "sworn" / cid).is_dir(), "state not under $XDG_RUNTIME_DIR/sworn")
    t.require(u.run(*sw, "start", cid).rc == 0, "start")
    ex = u.run(*sw, "exec", cid, "sh", "-c", "cat /proc/self/uid_map; echo pid=$$; id -u", timeout=30)
    t.expect(ex.rc == 0, f"exec: {ex.describe()}")
    maps = [x.split() for x in ex.out.splitlines() if x.strip() and x.split()[0].isdigit()]
    t.expect(maps[:2] == [["0", str(u.uid), "1"], ["1", str(u.sub), "65536"]], f"exec's uid_map: {ex.out!r}")
    t.expect("pid=" in ex.out and int(ex.out.split("pid=")[1].split()[0]) < 100,
             f"exec not in the container's pid namespace: {ex.out!r}")
    st = u.run(*sw, "state", cid)
    t.expect(st.rc == 0 and json.loads(st.out)["status"] == "running", f"state: {st.describe()}")
    t.expect(u.run(*sw, "kill", cid, "KILL").rc == 0, "kill")
    d = u.run(*sw, "delete", "--force", cid, timeout=15)
    t.expect(d.rc == 0 and not (u.xdg / "sworn" / cid).exists(), f"delete: {d.describe()}")


def case_rootless_limits_without_cgroup_refused(t):
    """As runc ("rootless + limits + no permission fails"): limits asked for
    where the user may not make a cgroup fail at create, naming the limit and
    why; nothing is left behind."""
    u = User(t)
    cfg = _rootless_spec(t, u)
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["true"]
    cfg["linux"]["resources"] = {"pids": {"limit": 50}}
    cid = f"rl-lim-{os.getpid()}"
    b = u.bundle("lim", cfg)
    res = u.run(*t.rt.prefix, "run", "--bundle", str(b), cid, timeout=30)
    t.expect(res.rc != 0 and "pids" in res.err and "rootless" in res.err,
             f"expected a refusal naming pids and rootless: {res.describe()}")
    t.expect(not (u.xdg / "sworn" / cid).exists(), "state dir left behind")
    t.expect(not _leftover_cgroups(cid), f"cgroups left: {_leftover_cgroups(cid)}")


def _cgroup2():
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        pre, post = line.split(" - ")
        if post.split()[0] == "cgroup2":
            return Path(pre.split()[4])
    return None


def case_rootless_delegated_cgroup2(t):
    """A cgroup2 subtree delegated to the user (chowned, as systemd's
    Delegate=yes does): the container gets <own cgroup>/<id> in it, as runc
    does for a relative path, and delete removes it."""
    root2 = _cgroup2()
    if root2 is None:
        raise Skip("no cgroup2 mount")
    u = User(t)
    deleg = root2 / f"sworn-rl-deleg-{os.getpid()}"
    deleg.mkdir()
    t.on_cleanup(lambda: deleg.exists() and deleg.rmdir())
    for p in (deleg, deleg / "cgroup.procs", deleg / "cgroup.subtree_control", deleg / "cgroup.threads"):
        os.chown(p, u.uid, u.gid)
    cfg = _rootless_spec(t, u)
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sleep", "100"]
    cid = f"rl-deleg-{os.getpid()}"
    b = u.bundle("deleg", cfg)
    sw = t.rt.prefix
    t.on_cleanup(lambda: u.run(*sw, "delete", "--force", cid, timeout=15))
    res = u.run(*sw, "run", "-d", "--bundle", str(b), cid, cgroup=deleg, timeout=30)
    t.require(res.rc == 0, f"run -d in a delegated cgroup: {res.describe()}")
    rel = "/" + str(deleg.relative_to(root2))
    # The user's every process lives in its subtree (moving a process in
    # needs write access to the common ancestor's cgroup.procs).
    ex = u.run(*sw, "exec", cid, "cat", "/proc/self/cgroup", cgroup=deleg, timeout=30)
    t.expect(f"0::{rel}/{cid}" in ex.out, f"exec'd process not in {rel}/{cid}: {ex.describe()} {ex.out!r}")
    t.expect((deleg / cid).is_dir(), f"{deleg}/{cid} not made")
    d = u.run(*sw, "delete", "--force", cid, cgroup=deleg, timeout=15)
    t.expect(d.rc == 0, f"delete --force: {d.describe()}")
    t.expect(not (deleg / cid).exists(), f"{deleg}/{cid} left after delete")
