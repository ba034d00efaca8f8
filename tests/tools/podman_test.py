#!/usr/bin/env python3
"""podman_test.py -- drive podman with `--runtime runc` (control) and `--runtime sworn`.

Everyday podman use, as root, offline: run/exit codes, run -d + logs + exec
(plain and -it), stop (timeout and --stop-signal), rm, pause/unpause, top/ps,
stats, cgroup limits, the sworn.pledge.promises annotation, capabilities,
--read-only, --user, and a few more (stdin, --init, volumes, restart, pods...).

Prints `PASS runtime/scenario` or `FAIL runtime/scenario: detail` and ends with
`N passed, N failed`.  Exit status is 1 if anything failed.  Installs nothing:
needs podman, conmon, runc, catatonit, containernetworking-plugins,
golang-github-containers-common, busybox-static (see tests/tools/README.md).

Never touches /etc/containers: containers.conf, storage.conf, graphroot,
runroot, network config dir and tmp dir all live in one temp dir, which is
removed (after `podman system reset` pointed at it) even on failure.

usage: podman_test.py [--sworn PATH] [--runc PATH] [--runtimes runc,sworn]
                      [--only SCENARIO,...] [--debug] [--keep] [--bench N]
"""

import argparse
import glob
import json
import os
import pty
import re
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
IMAGE = "localhost/busybox"
TIMEOUT = 90  # default per-subprocess timeout, seconds


class Fail(Exception):
    pass


def run(cmd, timeout=TIMEOUT, input=None, env=None, check=False):
    """Run cmd (list); return CompletedProcess with text stdout/stderr."""
    try:
        p = subprocess.run(cmd, input=input, capture_output=True, text=True,
                           timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise Fail("timeout after %ss: %s" % (timeout, " ".join(cmd)))
    if check and p.returncode != 0:
        raise Fail("%s -> rc %d: %s" % (" ".join(cmd), p.returncode,
                                         (p.stderr or p.stdout).strip()[-800:]))
    return p


def run_pty(cmd, timeout=30, env=None):
    """Run cmd with stdin/stdout/stderr on a fresh pty; return (rc, output)."""
    master, slave = pty.openpty()

    def child_setup():
        os.setsid()
        import fcntl
        import termios
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    try:
        p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave,
                             preexec_fn=child_setup, env=env, close_fds=True)
    finally:
        os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                p.kill()
                p.wait()
                raise Fail("timeout after %ss (pty): %s; output %r"
                           % (timeout, " ".join(cmd), out[-400:]))
            r, _, _ = select.select([master], [], [], min(left, 0.5))
            if r:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: all slave ends closed
                    chunk = b""
                if not chunk:
                    break
                out += chunk
            elif p.poll() is not None:
                # drain whatever is left
                while select.select([master], [], [], 0.2)[0]:
                    try:
                        chunk = os.read(master, 4096)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        break
                    out += chunk
                break
        rc = p.wait(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise Fail("timeout after %ss (pty): %s" % (timeout, " ".join(cmd)))
    finally:
        os.close(master)
    return rc, out.decode(errors="replace")


class Env:
    """The test-owned podman configuration in a temp dir."""

    def __init__(self, args):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="sworn-podman-")
        self.root = os.path.join(self.dir, "root")
        self.runroot = os.path.join(self.dir, "runroot")
        for d in ("root", "runroot", "net", "tmp", "bin", "vol"):
            os.makedirs(os.path.join(self.dir, d))
        nofile = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 1048576)
        # podman/conmon run the runtime with RLIMIT_NPROC lowered to 32768 (pid_max
        # here); asking for more than that needs CAP_SYS_RESOURCE, which root lacks.
        nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
        try:
            with open("/proc/sys/kernel/pid_max") as f:
                pid_max = int(f.read())
        except OSError:
            pid_max = 32768
        nproc = min(x for x in (nproc, pid_max, 32768) if x >= 0)
        self.conf = os.path.join(self.dir, "containers.conf")
        with open(self.conf, "w") as f:
            f.write(CONTAINERS_CONF.format(dir=self.dir, nofile=nofile, nproc=nproc))
        self.storage_conf = os.path.join(self.dir, "storage.conf")
        with open(self.storage_conf, "w") as f:
            f.write(STORAGE_CONF.format(dir=self.dir))
        self.env = dict(os.environ)
        self.env["CONTAINERS_CONF"] = self.conf
        self.env["CONTAINERS_STORAGE_CONF"] = self.storage_conf
        self.env.pop("CONTAINER_HOST", None)
        self.podman = shutil.which("podman")
        self.had_bridge = os.path.exists("/sys/class/net/cni-podman0")

    def base(self):
        return [self.podman, "--root", self.root, "--runroot", self.runroot]

    def wrapper(self, name, path):
        """A runtime wrapper that logs every invocation (and for sworn, its log)."""
        safe = "rt-" + re.sub(r"[^A-Za-z0-9_.-]", "_", name)  # never a path outside self.dir
        calls = os.path.join(self.dir, safe + ".calls")
        w = os.path.join(self.dir, "bin", safe)
        extra = ""
        if name == "sworn" and self.args.debug:
            extra = "--log %s --debug " % os.path.join(self.dir, "sworn.log")
        with open(w, "w") as f:
            f.write("#!/bin/sh\necho \"$*\" >> %s\nexec %s %s\"$@\"\n" % (calls, path, extra))
        os.chmod(w, 0o755)
        return w, calls

    def cleanup(self):
        if not self.podman:
            shutil.rmtree(self.dir, ignore_errors=True)
            return
        b = self.base()
        for cmd in (b + ["pod", "rm", "-af", "-t", "0"],
                    b + ["rm", "-af", "-t", "0"],
                    b + ["rmi", "-af"],
                    b + ["system", "reset", "-f"]):
            try:
                run(cmd, timeout=120, env=self.env)
            except Fail as e:
                print("cleanup: %s" % e, file=sys.stderr)
        # unmount anything left under the temp dir, deepest first
        mounts = []
        try:
            with open("/proc/self/mountinfo") as f:
                for line in f:
                    mp = line.split()[4].replace("\\040", " ")
                    if mp == self.dir or mp.startswith(self.dir + "/"):
                        mounts.append(mp)
        except OSError:
            pass
        for mp in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], capture_output=True, timeout=30)
        # podman's cgroupfs manager parks conmon in libpod_parent/conmon in
        # every hierarchy; remove what is left once nothing runs there.
        for top in glob.glob("/sys/fs/cgroup/*/libpod_parent"):
            for sub in sorted(glob.glob(top + "/**/", recursive=True), key=len, reverse=True):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass
        if not self.had_bridge and os.path.exists("/sys/class/net/cni-podman0"):
            subprocess.run(["ip", "link", "del", "cni-podman0"], capture_output=True,
                           timeout=30)
        if self.args.keep:
            print("kept %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


CONTAINERS_CONF = """\
[containers]
# root here lacks CAP_SYS_RESOURCE: rlimits no higher than the current hard limits
default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]
# scenarios use no network unless they ask (--network bridge)
netns = "none"

[network]
network_config_dir = "{dir}/net"

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
runroot = "{dir}/runroot"
"""


class Runtime:
    def __init__(self, env, name, path):
        self.env = env
        self.name = name
        self.path = path
        self.wrapped, self.calls = env.wrapper(name, path)

    def pod(self, *a):
        return self.env.base() + ["--runtime", self.wrapped] + list(a)

    def p(self, *a, timeout=TIMEOUT, input=None, check=False):
        return run(self.pod(*a), timeout=timeout, input=input, env=self.env.env, check=check)

    def ok(self, *a, timeout=TIMEOUT, input=None):
        return self.p(*a, timeout=timeout, input=input, check=True).stdout

    def last_calls(self, n=6):
        try:
            with open(self.calls) as f:
                lines = f.read().splitlines()
        except OSError:
            return ""
        return " | ".join(l[:300] for l in lines[-n:])

    def detached(self, *a):
        cid = self.ok("run", "-d", *a).strip().splitlines()[-1]
        return cid

    def inspect(self, cid, fmt):
        return self.ok("inspect", "--format", fmt, cid).strip()

    def rm(self, cid):
        self.p("rm", "-f", "-t", "0", cid, timeout=60)


def expect(cond, msg):
    if not cond:
        raise Fail(msg)


def contains(out, want, what="output"):
    expect(want in out, "%s %r lacks %r" % (what, out[-600:], want))


LOOP = 'while true; do sleep 0.2; done'


# ---------------------------------------------------------------- scenarios

def s_true(rt):
    p = rt.p("run", "--rm", IMAGE, "true")
    expect(p.returncode == 0, "rc %d: %s" % (p.returncode, p.stderr.strip()))


def s_exit_code(rt):
    p = rt.p("run", "--rm", IMAGE, "sh", "-c", "exit 3")
    expect(p.returncode == 3, "rc %d (want 3): %s" % (p.returncode, p.stderr.strip()))


def s_run_timeout(rt):
    """--timeout makes conmon kill the container's process group; the init
    must lead its own (runc's init calls setsid), or conmon kills itself and
    podman never learns the exit code."""
    start = time.monotonic()
    p = rt.p("run", "--rm", "--timeout", "2", IMAGE, "sleep", "30")
    took = time.monotonic() - start
    expect(p.returncode != 0 and took < 15, "rc %d after %.1fs: %s" % (p.returncode, took, p.stderr.strip()[-300:]))
    expect("no such exit code" not in p.stderr, "podman lost the exit code: %s" % p.stderr.strip()[-300:])


def s_detach_logs_exec(rt):
    cid = rt.detached(IMAGE, "sh", "-c", "echo hello; " + LOOP)
    try:
        deadline = time.monotonic() + 10
        while "hello" not in rt.ok("logs", cid) and time.monotonic() < deadline:
            time.sleep(0.2)
        contains(rt.ok("logs", cid), "hello", "logs")
        p = rt.p("exec", cid, "sh", "-c", "echo exec-ok; exit 4")
        contains(p.stdout, "exec-ok", "exec stdout")
        expect(p.returncode == 4, "exec rc %d (want 4): %s" % (p.returncode, p.stderr.strip()))
        expect(rt.inspect(cid, "{{.State.Status}}") == "running", "not running after exec")
    finally:
        rt.rm(cid)


def s_exec_it(rt):
    cid = rt.detached(IMAGE, "sh", "-c", LOOP)
    try:
        rc, out = run_pty(rt.pod("exec", "-it", cid, "sh", "-c", "tty; echo it-ok; exit 5"),
                          env=rt.env.env)
        contains(out, "/dev/pts/", "exec -it")
        contains(out, "it-ok", "exec -it")
        expect(rc == 5, "exec -it rc %d (want 5): %r" % (rc, out[-300:]))
    finally:
        rt.rm(cid)


def s_run_it(rt):
    rc, out = run_pty(rt.pod("run", "--rm", "-it", IMAGE, "sh", "-c", "tty; echo it-ok"),
                      env=rt.env.env)
    contains(out, "/dev/pts/", "run -it")
    contains(out, "it-ok", "run -it")
    expect(rc == 0, "run -it rc %d: %r" % (rc, out[-300:]))


def s_exec_detach_user(rt):
    cid = rt.detached(IMAGE, "sh", "-c", LOOP)
    try:
        rt.ok("exec", "-d", cid, "sh", "-c", "echo det > /tmp/det")
        time.sleep(0.5)
        out = rt.ok("exec", "--user", "1000", "-w", "/tmp", "-e", "X=xv", cid,
                    "sh", "-c", 'id -u; pwd; echo $X; cat /tmp/det')
        expect(out.split() == ["1000", "/tmp", "xv", "det"], "exec output %r" % out)
        out = rt.ok("exec", "-i", cid, "cat", input="via-stdin\n")
        contains(out, "via-stdin", "exec -i")
    finally:
        rt.rm(cid)


def s_stop_term(rt):
    cid = rt.detached(IMAGE, "sh", "-c", 'trap "echo got-term; exit 0" TERM; ' + LOOP)
    try:
        time.sleep(0.5)
        t = time.monotonic()
        rt.ok("stop", "-t", "10", cid)
        dt = time.monotonic() - t
        expect(dt < 8, "stop took %.1fs: SIGTERM not delivered?" % dt)
        contains(rt.ok("logs", cid), "got-term", "logs")
        code = rt.inspect(cid, "{{.State.ExitCode}}")
        expect(code == "0", "exit code %s (want 0)" % code)
        rt.ok("rm", cid)
        out = rt.ok("ps", "-a", "--format", "{{.ID}}", "--no-trunc")
        expect(cid not in out, "container still listed after rm")
    finally:
        rt.rm(cid)


def s_stop_timeout(rt):
    cid = rt.detached(IMAGE, "sh", "-c", 'trap "" TERM; ' + LOOP)
    try:
        time.sleep(0.5)
        t = time.monotonic()
        rt.ok("stop", "-t", "2", cid)
        dt = time.monotonic() - t
        expect(1.8 <= dt < 10, "stop -t 2 took %.1fs" % dt)
        code = rt.inspect(cid, "{{.State.ExitCode}}")
        expect(code == "137", "exit code %s (want 137)" % code)
    finally:
        rt.rm(cid)


def s_stop_signal(rt):
    cid = rt.detached("--stop-signal", "USR1", IMAGE, "sh", "-c",
                      'trap "echo got-usr1; exit 7" USR1; ' + LOOP)
    try:
        time.sleep(0.5)
        t = time.monotonic()
        rt.ok("stop", "-t", "10", cid)
        expect(time.monotonic() - t < 8, "stop took too long: USR1 not delivered?")
        contains(rt.ok("logs", cid), "got-usr1", "logs")
        code = rt.inspect(cid, "{{.State.ExitCode}}")
        expect(code == "7", "exit code %s (want 7)" % code)
    finally:
        rt.rm(cid)


def s_kill_wait(rt):
    cid = rt.detached(IMAGE, "sleep", "100")
    try:
        rt.ok("kill", "-s", "KILL", cid)
        out = rt.ok("wait", cid, timeout=30).strip()
        expect(out == "137", "wait printed %r (want 137)" % out)
    finally:
        rt.rm(cid)


def s_restart(rt):
    cid = rt.detached(IMAGE, "sh", "-c", "echo started; " + LOOP)
    try:
        pid1 = rt.inspect(cid, "{{.State.Pid}}")
        rt.ok("restart", "-t", "1", cid)
        expect(rt.inspect(cid, "{{.State.Status}}") == "running", "not running after restart")
        pid2 = rt.inspect(cid, "{{.State.Pid}}")
        expect(pid1 != pid2, "same pid after restart")
        expect(rt.ok("logs", cid).count("started") == 2, "logs don't show two starts")
    finally:
        rt.rm(cid)


def _cgroup_file(pid, controller, name):
    with open("/proc/%s/cgroup" % pid) as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if controller in ctrls.split(","):
                return "/sys/fs/cgroup/%s%s/%s" % (controller, path, name)
    return None


def s_pause_unpause(rt):
    cid = rt.detached(IMAGE, "sh", "-c", LOOP)
    try:
        rt.ok("pause", cid)
        expect(rt.inspect(cid, "{{.State.Status}}") == "paused", "status not paused")
        pid = rt.inspect(cid, "{{.State.Pid}}")
        fz = _cgroup_file(pid, "freezer", "freezer.state")
        if fz and os.path.exists(fz):
            with open(fz) as f:
                st = f.read().strip()
            expect(st == "FROZEN", "%s is %s" % (fz, st))
        rt.ok("unpause", cid)
        expect(rt.inspect(cid, "{{.State.Status}}") == "running", "status not running")
        contains(rt.ok("exec", cid, "echo", "alive"), "alive", "exec after unpause")
    finally:
        rt.rm(cid)


def s_top_ps(rt):
    cid = rt.detached(IMAGE, "sh", "-c", "sleep 123")
    try:
        contains(rt.ok("top", cid), "sleep 123", "top")
        out = rt.ok("ps", "--no-trunc", "--filter", "id=" + cid, "--format", "{{.Status}}")
        contains(out, "Up", "ps")
    finally:
        rt.rm(cid)


def s_stats(rt):
    cid = rt.detached(IMAGE, "sh", "-c", LOOP)
    try:
        out = rt.ok("stats", "--no-stream", "--format", "{{.ID}} {{.MemUsage}} {{.PIDs}}", cid)
        contains(out, cid[:12], "stats")
    finally:
        rt.rm(cid)


LIMITS_SH = r'''
if [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
  echo mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)
  echo pids=$(cat /sys/fs/cgroup/pids/pids.max)
  echo cpu=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)/$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)
else
  echo mem=$(cat /sys/fs/cgroup/memory.max)
  echo pids=$(cat /sys/fs/cgroup/pids.max)
  set -- $(cat /sys/fs/cgroup/cpu.max); echo cpu=$1/$2
fi
'''


def s_limits(rt):
    out = rt.ok("run", "--rm", "--memory", "64m", "--pids-limit", "20", "--cpus", "0.5",
                IMAGE, "sh", "-c", LIMITS_SH)
    got = dict(l.split("=", 1) for l in out.split() if "=" in l)
    expect(got.get("mem") == "67108864", "memory limit %r" % got.get("mem"))
    expect(got.get("pids") == "20", "pids limit %r" % got.get("pids"))
    expect(got.get("cpu") == "50000/100000", "cpu quota %r" % got.get("cpu"))


def s_pledge(rt):
    # busybox's standalone shell runs applets without execve, so `sh -c ls` is no
    # test of exec: exec the busybox binary by path instead.
    ann = "sworn.pledge.promises=stdio rpath"
    p = rt.p("run", "--rm", "--annotation", ann, IMAGE, "sh", "-c",
             "exec /bin/busybox echo exec-worked")
    allowed = rt.p("run", "--rm", "--annotation", "sworn.pledge.promises=stdio rpath proc exec",
                   IMAGE, "sh", "-c", "/bin/busybox echo exec-worked")
    contains(allowed.stdout, "exec-worked", "with exec promise")
    if rt.name == "sworn":
        expect(p.returncode != 0 and "exec-worked" not in p.stdout,
               "exec not denied: rc %d out %r" % (p.returncode, p.stdout))
        p = rt.p("run", "--rm", "--annotation", "sworn.pledge.promises=stdio",
                 IMAGE, "cat", "/etc/hostname")
        expect(p.returncode != 0, "open without rpath not denied: %r" % p.stdout)
    else:  # other runtimes ignore the annotation
        expect(p.returncode == 0, "rc %d: %s" % (p.returncode, p.stderr.strip()))


def _cap(out, field):
    m = re.search(r"^%s:\s*([0-9a-f]+)" % field, out, re.M)
    expect(m, "no %s in %r" % (field, out))
    return int(m.group(1), 16)


def s_cap_drop(rt):
    out = rt.ok("run", "--rm", "--cap-drop", "ALL", IMAGE, "cat", "/proc/self/status")
    for f in ("CapEff", "CapPrm", "CapBnd"):
        expect(_cap(out, f) == 0, "--cap-drop ALL: %s=%x" % (f, _cap(out, f)))
    NET_RAW = 1 << 13
    dflt = _cap(rt.ok("run", "--rm", IMAGE, "cat", "/proc/self/status"), "CapEff")
    expect(dflt & NET_RAW, "default CapEff %x lacks NET_RAW" % dflt)
    eff = _cap(rt.ok("run", "--rm", "--cap-drop", "NET_RAW", IMAGE, "cat",
                     "/proc/self/status"), "CapEff")
    expect(eff == dflt & ~NET_RAW, "--cap-drop NET_RAW: CapEff %x (default %x)" % (eff, dflt))


def s_read_only(rt):
    out = rt.ok("run", "--rm", "--read-only", IMAGE, "sh", "-c",
                "touch /x 2>/dev/null; echo root=$?; touch /tmp/y; echo tmp=$?")
    expect(out.split() == ["root=1", "tmp=0"], "output %r" % out)


def s_user(rt):
    out = rt.ok("run", "--rm", "--user", "1000:1000", IMAGE, "sh", "-c", "id -u; id -g; touch /root/x 2>/dev/null; echo $?")
    expect(out.split() == ["1000", "1000", "1"], "output %r" % out)


def s_stdin(rt):
    out = rt.ok("run", "--rm", "-i", IMAGE, "cat", input="piped-in\n")
    contains(out, "piped-in", "run -i")


def s_init(rt):
    out = rt.ok("run", "--rm", "--init", IMAGE, "cat", "/proc/1/cmdline")
    contains(out.replace("\0", " "), "init", "pid 1 cmdline")


def s_mounts_env(rt):
    vol = os.path.join(rt.env.dir, "vol")
    with open(os.path.join(vol, "f"), "w") as f:
        f.write("from-host\n")
    out = rt.ok("run", "--rm", "-v", vol + ":/mnt:ro", "--tmpfs", "/scratch", "-e", "FOO=bar",
                "-w", "/etc", "--hostname", "hh", IMAGE, "sh", "-c",
                "cat /mnt/f; touch /mnt/g 2>/dev/null || echo ro-ok; grep -c ' /scratch tmpfs' /proc/mounts; echo $FOO; pwd; hostname")
    expect(out.split() == ["from-host", "ro-ok", "1", "bar", "/etc", "hh"], "output %r" % out)


def s_network_bridge(rt):
    out = rt.ok("run", "--rm", "--network", "bridge", IMAGE, "ip", "-4", "addr", "show", "eth0")
    expect(re.search(r"inet \d+\.\d+\.\d+\.\d+", out), "no IPv4 on eth0: %r" % out)


def s_pod(rt):
    name = "sworn-test-pod-" + rt.name
    rt.ok("pod", "create", "--name", name)
    try:
        rt.ok("run", "-d", "--pod", name, IMAGE, "sh", "-c", "echo shared > /dev/shm/x; " + LOOP)
        time.sleep(0.5)
        out = rt.ok("run", "--rm", "--pod", name, IMAGE, "cat", "/dev/shm/x")
        contains(out, "shared", "ipc shared in pod")
        out = rt.ok("pod", "ps", "--filter", "name=" + name, "--format", "{{.Status}}")
        contains(out, "Running", "pod ps")
    finally:
        rt.p("pod", "rm", "-f", "-t", "0", name, timeout=60)


SCENARIOS = [
    ("true", s_true), ("exit_code", s_exit_code), ("run_timeout", s_run_timeout),
    ("detach_logs_exec", s_detach_logs_exec),
    ("exec_it", s_exec_it), ("run_it", s_run_it), ("exec_detach_user", s_exec_detach_user),
    ("stop_term_rm", s_stop_term), ("stop_timeout", s_stop_timeout),
    ("stop_signal", s_stop_signal), ("kill_wait", s_kill_wait), ("restart", s_restart),
    ("pause_unpause", s_pause_unpause), ("top_ps", s_top_ps), ("stats", s_stats),
    ("limits", s_limits), ("pledge", s_pledge), ("cap_drop", s_cap_drop),
    ("read_only", s_read_only), ("user", s_user), ("stdin", s_stdin), ("init", s_init),
    ("mounts_env", s_mounts_env), ("network_bridge", s_network_bridge), ("pod", s_pod),
]


def import_image(env):
    rootfs = os.path.join(env.dir, "rootfs")
    run(["sh", os.path.join(REPO, "tests", "rootfs", "make-rootfs.sh"), rootfs],
        timeout=120, check=True)
    tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
    try:
        p = subprocess.run(env.base() + ["import", "-", IMAGE], stdin=tar.stdout,
                           capture_output=True, text=True, timeout=120, env=env.env)
    finally:
        tar.stdout.close()
        tar.wait(timeout=60)
    if p.returncode != 0:
        raise Fail("podman import: %s" % p.stderr.strip())


def crun_path(env, crun):
    """crun refuses hybrid cgroups ("drop all controllers from cgroupv2"): on a
    hybrid host run it in a mount namespace without /sys/fs/cgroup/unified."""
    if not os.path.ismount("/sys/fs/cgroup/unified"):
        return crun
    w = os.path.join(env.dir, "bin", "crun-hybrid")
    with open(w, "w") as f:
        f.write("#!/bin/sh\nexec unshare -m sh -c 'umount /sys/fs/cgroup/unified && "
                "exec %s \"$@\"' sh \"$@\"\n" % crun)
    os.chmod(w, 0o755)
    return w


def bench(env, runtimes, n):
    print("bench: podman run --rm %s true, median of %d" % (IMAGE, n))
    for rt in runtimes:
        times = []
        err = ""
        for _ in range(n):
            t = time.monotonic()
            p = run(env.base() + ["--runtime", rt.path, "run", "--rm", IMAGE, "true"],
                    env=env.env, timeout=120)
            if p.returncode != 0:
                err = p.stderr.strip()[-300:]
                break
            times.append(time.monotonic() - t)
        if err:
            print("bench %s: failed: %s" % (rt.name, err))
        else:
            print("bench %s: median %.3fs (min %.3fs, max %.3fs)"
                  % (rt.name, statistics.median(times), min(times), max(times)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sworn", default=os.environ.get("SWORN", os.path.join(REPO, "build", "sworn")))
    ap.add_argument("--runc", default=shutil.which("runc") or "/usr/sbin/runc")
    ap.add_argument("--runtimes", default="runc,sworn",
                    help="comma-separated: runc, sworn, NAME=PATH or PATH")
    ap.add_argument("--only", default="", help="comma-separated scenario names")
    ap.add_argument("--debug", action="store_true", help="run sworn with --log DIR/sworn.log --debug")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--bench", type=int, default=0, metavar="N",
                    help="also time `podman run --rm true` N times per runtime")
    ap.add_argument("--crun", default=shutil.which("crun") or "",
                    help="crun binary, used by `--runtimes crun` and --bench "
                         "(wrapped to hide /sys/fs/cgroup/unified on hybrid hosts)")
    args = ap.parse_args()

    if not shutil.which("podman"):
        print("SKIP: podman not installed (apt-get install podman)")
        return 0
    if os.geteuid() != 0:
        print("FAIL setup: must run as root")
        print("0 passed, 1 failed")
        return 1

    env = Env(args)
    passed = failed = 0
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        try:
            import_image(env)
        except Fail as e:
            print("FAIL setup/import: %s" % e)
            print("0 passed, 1 failed")
            return 1
        paths = {"runc": args.runc, "sworn": args.sworn}
        if args.crun:
            paths["crun"] = crun_path(env, args.crun)
        runtimes = []
        for spec in [r for r in args.runtimes.split(",") if r]:
            # NAME (runc, sworn), NAME=PATH, or a PATH (named by its basename)
            if "=" in spec:
                name, path = spec.split("=", 1)
            else:
                name, path = os.path.basename(spec), paths.get(spec, spec)
            if not os.access(path, os.X_OK):
                print("FAIL %s/setup: runtime %s not executable" % (name, path))
                failed += 1
                continue
            runtimes.append(Runtime(env, name, path))
        only = set(s for s in args.only.split(",") if s)
        for rt in runtimes:
            for sname, fn in SCENARIOS:
                if only and sname not in only:
                    continue
                try:
                    fn(rt)
                    print("PASS %s/%s" % (rt.name, sname), flush=True)
                    passed += 1
                except Fail as e:
                    print("FAIL %s/%s: %s  [last runtime calls: %s]"
                          % (rt.name, sname, e, rt.last_calls()), flush=True)
                    failed += 1
                except Exception as e:  # a bug in a scenario still counts as a failure
                    print("FAIL %s/%s: %s: %s" % (rt.name, sname, type(e).__name__, e), flush=True)
                    failed += 1
            # leave nothing behind from this runtime before the next one
            run(env.base() + ["--runtime", rt.wrapped, "rm", "-af", "-t", "0"],
                env=env.env, timeout=120)
        if args.bench:
            brt = list(runtimes)
            if "crun" in paths and not any(r.name == "crun" for r in brt):
                class C:
                    name, path = "crun", paths["crun"]
                brt.append(C())
            bench(env, brt, args.bench)
    except KeyboardInterrupt:
        print("interrupted")
        failed += 1
    finally:
        env.cleanup()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
