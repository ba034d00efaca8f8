#!/usr/bin/env python3
"""podman_rootless_test.py -- rootless podman with `--runtime runc` (control)
and `--runtime sworn` (issue #15 item 6).

Run as root: makes an ordinary user with a subuid/subgid range (useradd; our
own range appended to /etc/subuid and /etc/subgid), a temp HOME it owns with
containers.conf, storage.conf (graphroot, runroot) and $XDG_RUNTIME_DIR, and
runs podman as that user (setpriv). Podman runs the runtime as root of its
rootless user namespace (euid 0, not the initial namespace). Everything is
removed after: `podman system reset` as the user, the user, its id ranges,
the temp dir. Never touches /etc/containers.

Prints `PASS runtime/scenario` or `FAIL runtime/scenario: detail`, then
`N passed, N failed`; exit 1 if anything failed, 77 if a tool is missing.

usage: podman_rootless_test.py [--sworn PATH] [--runtimes runc,sworn] [--keep]
"""

import argparse
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
IMAGE = "localhost/busybox"
LOOP = 'trap "exit 0" TERM; while :; do sleep 0.1; done'


class Fail(Exception):
    pass


class User:
    def __init__(self, keep):
        self.name = "swpod%d" % (os.getpid() % 100000)
        self.keep = keep
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", self.name], check=True,
                       capture_output=True, timeout=30)
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.sub = 4_000_000 + (os.getpid() % 500) * 65_536
        for f in ("/etc/subuid", "/etc/subgid"):
            with open(f, "a") as fh:
                fh.write("%s:%d:65536\n" % (self.name, self.sub))
        self.home = tempfile.mkdtemp(prefix="sworn-podman-rl-")
        os.chmod(self.home, 0o755)
        self.xdg = os.path.join(self.home, "run")
        os.makedirs(self.xdg, mode=0o700)
        for d in ("tmp", "bin"):
            os.makedirs(os.path.join(self.home, d))
        with open(os.path.join(self.home, "containers.conf"), "w") as f:
            f.write(CONTAINERS_CONF.format(dir=self.home))
        with open(os.path.join(self.home, "storage.conf"), "w") as f:
            f.write(STORAGE_CONF.format(dir=self.home))
        subprocess.run(["chown", "-R", "%d:%d" % (self.uid, self.gid), self.home], check=True, timeout=30)

    def argv(self, *cmd):
        env = ["HOME=" + self.home, "USER=" + self.name, "XDG_RUNTIME_DIR=" + self.xdg,
               "CONTAINERS_CONF=" + os.path.join(self.home, "containers.conf"),
               "CONTAINERS_STORAGE_CONF=" + os.path.join(self.home, "storage.conf"),
               "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"]
        return ["setpriv", "--reuid=%d" % self.uid, "--regid=%d" % self.gid, "--clear-groups",
                "env", "-i", *env, *cmd]

    def run(self, *cmd, timeout=90, input=None):
        try:
            return subprocess.run(self.argv(*cmd), capture_output=True, text=True, timeout=timeout, input=input)
        except subprocess.TimeoutExpired:
            raise Fail("timeout after %ss: %s" % (timeout, " ".join(cmd)))

    def remove(self):
        self.run("podman", "rm", "-af", "-t", "0", timeout=120)
        self.run("podman", "system", "reset", "-f", timeout=120)
        # podman's pause process, which holds the rootless user namespace
        try:
            with open(os.path.join(self.xdg, "libpod", "tmp", "pause.pid")) as f:
                os.kill(int(f.read().strip()), 9)
        except (OSError, ValueError):
            pass
        subprocess.run(["userdel", self.name], capture_output=True, timeout=30)
        for f in ("/etc/subuid", "/etc/subgid"):
            with open(f) as fh:
                lines = fh.readlines()
            with open(f, "w") as fh:
                fh.writelines(x for x in lines if not x.startswith(self.name + ":"))
        if self.keep:
            print("kept %s" % self.home)
        else:
            # storage files owned by sub-ids: rm as root
            shutil.rmtree(self.home, ignore_errors=True)


CONTAINERS_CONF = """\
[containers]
netns = "none"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{dir}/events.log"
tmp_dir = "{dir}/tmp"
"""

STORAGE_CONF = """\
[storage]
driver = "overlay"
graphroot = "{dir}/root"
runroot = "{dir}/run/storage"
"""


def import_image(u):
    rootfs = os.path.join(u.home, "rootfs")
    subprocess.run(["sh", os.path.join(REPO, "tests", "rootfs", "make-rootfs.sh"), rootfs], check=True,
                   capture_output=True, timeout=120)
    subprocess.run(["chown", "-R", "%d:%d" % (u.uid, u.gid), rootfs], check=True, timeout=60)
    tar = subprocess.run(["tar", "-C", rootfs, "-c", "."], capture_output=True, check=True, timeout=60).stdout
    p = subprocess.run(u.argv("podman", "import", "-", IMAGE), input=tar, capture_output=True, timeout=120)
    if p.returncode != 0:
        raise Fail("podman import: %s" % p.stderr.decode(errors="replace").strip())


class Podman:
    def __init__(self, u, name, path):
        self.u, self.name, self.path = u, name, path

    def p(self, *a, timeout=90):
        return self.u.run("podman", "--runtime", self.path, *a, timeout=timeout)

    def ok(self, *a, timeout=90):
        r = self.p(*a, timeout=timeout)
        if r.returncode != 0:
            raise Fail("podman %s -> rc %d: %s" % (" ".join(a), r.returncode, (r.stderr or r.stdout).strip()[-600:]))
        return r.stdout


def s_run_rm(pm):
    """root in podman's user namespace, which maps the user and its sub-ids."""
    out = pm.ok("run", "--rm", IMAGE, "sh", "-c", "id -u; cat /proc/self/uid_map")
    lines = [l.split() for l in out.splitlines()]
    if lines[0] != ["0"] or ["0", str(pm.u.uid), "1"] not in lines or not any(
            len(l) == 3 and l[1] == str(pm.u.sub) for l in lines):
        raise Fail("id/uid_map: %r" % out)


def s_exit_code(pm):
    r = pm.p("run", "--rm", IMAGE, "sh", "-c", "exit 3")
    if r.returncode != 3:
        raise Fail("exit code %d, want 3: %s" % (r.returncode, r.stderr.strip()[-300:]))


def s_detached_exec_stop(pm):
    cid = pm.ok("run", "-d", IMAGE, "sh", "-c", "echo started; " + LOOP).strip().splitlines()[-1]
    try:
        out = pm.ok("exec", cid, "sh", "-c", "echo exec-ok; id -u")
        if out.split() != ["exec-ok", "0"]:
            raise Fail("exec output %r" % out)
        pm.ok("stop", "-t", "10", cid, timeout=60)
        st = pm.ok("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", cid).strip()
        if st != "exited 0":
            raise Fail("after stop: %r (want 'exited 0': the TERM trap ran)" % st)
        if "started" not in pm.ok("logs", cid):
            raise Fail("logs lack 'started'")
    finally:
        pm.p("rm", "-f", "-t", "0", cid)
    if pm.ok("ps", "-aq").strip():
        raise Fail("containers left: %r" % pm.ok("ps", "-a"))


def s_user(pm):
    out = pm.ok("run", "--rm", "--user", "1000:1000", IMAGE, "id")
    if not out.startswith("uid=1000(app) gid=1000(app)"):
        raise Fail("--user 1000: %r" % out)


SCENARIOS = [("run_rm", s_run_rm), ("exit_code", s_exit_code), ("detached_exec_stop", s_detached_exec_stop),
             ("user", s_user)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sworn", default=os.environ.get("SWORN", os.path.join(REPO, "build", "sworn")))
    ap.add_argument("--runc", default=shutil.which("runc") or "/usr/sbin/runc")
    ap.add_argument("--runtimes", default="runc,sworn")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    for tool in ("podman", "useradd", "setpriv", "newuidmap"):
        if not shutil.which(tool):
            print("SKIP: %s not installed" % tool)
            return 77
    if os.geteuid() != 0:
        print("FAIL setup: must run as root (it makes the rootless user)")
        return 1
    paths = {"runc": args.runc, "sworn": os.path.abspath(args.sworn)}
    passed = failed = 0
    u = User(args.keep)
    try:
        import_image(u)
        for name in [r for r in args.runtimes.split(",") if r]:
            pm = Podman(u, name, paths.get(name, name))
            for sname, fn in SCENARIOS:
                try:
                    fn(pm)
                    print("PASS %s/%s" % (name, sname), flush=True)
                    passed += 1
                except Fail as e:
                    print("FAIL %s/%s: %s" % (name, sname, e), flush=True)
                    failed += 1
            pm.p("rm", "-af", "-t", "0")
    except Fail as e:
        print("FAIL setup: %s" % e)
        failed += 1
    finally:
        u.remove()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
