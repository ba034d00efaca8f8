"""Shared plumbing for test_cli.py and cli_cases_more.py.

Reuses conformance/harness.py (rootfs, probe, bundles, cgroup cleanup,
subprocess helpers with timeouts); adds per-case bookkeeping, host-side
observations (namespaces, cgroups, leftover processes) and a pty reader.
"""
import ctypes
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "conformance"))
sys.path.insert(0, str(REPO / "tests"))
import harness  # noqa: E402
from verdicts import Abort, Verdicts  # noqa: E402,F401 (Abort re-exported)
from harness import Runtime, Workspace, cgroup_dirs, remove_cgroup, run_cmd  # noqa: E402,F401 (re-exported)

CGROUP_ROOT = Path("/sys/fs/cgroup")
PR_SET_CHILD_SUBREAPER = 36


class Skip(Exception):
    pass


class Context:
    """The workspace (rootfs, probe, spec template) and the runtime under test."""

    def __init__(self, sworn, verbose=False, keep=False):
        self.ws = Workspace(keep=keep)
        # our own cgroup prefix, not the conformance harness's
        self.ws.cgroup_prefix = f"/sworn-it-{os.getpid()}"
        self.rt = Runtime("sworn", [sworn], self.ws.base / "state", verbose)
        self.verbose = verbose

    def close(self):
        self.ws.close()


class Case(Verdicts):
    def __init__(self, name, ctx):
        super().__init__(name)
        self.ctx, self.ws, self.rt = ctx, ctx.ws, ctx.rt
        self.ids, self.finalizers = [], []

    def ok(self, res, what):
        """res (a harness.Result) must have exited 0, else the case aborts."""
        return self.require(res.rc == 0, f"{what}: {res.describe()}")

    # -- containers
    def config(self, args=None, **process):
        cfg = self.ws.config()
        if args is not None:
            cfg["process"]["args"] = args
        cfg["process"].update(process)
        return cfg

    def sleeper(self):
        return self.config(["/bin/sworn-probe", "sleep", "100"])

    def bundle(self, config, tag=None):
        cid = self.ws.new_id(tag or self.name.replace("_", "-"))
        self.ids.append(cid)
        return cid, self.ws.bundle(cid, config, "sworn")

    def cgroup_path(self, cid):
        return self.ws.cgroup_path("sworn", cid)

    def create(self, config, *flags, tag=None):
        cid, bundle = self.bundle(config, tag)
        self.ok(self.rt("create", *flags, "--bundle", str(bundle), cid), f"create {cid}")
        return cid, bundle

    def started(self, config, *flags):
        cid, bundle = self.create(config, *flags)
        self.ok(self.rt("start", cid), f"start {cid}")
        return cid, bundle

    def run(self, config, *flags, stdin=b"", timeout=None):
        cid, bundle = self.bundle(config)
        return cid, self.rt("run", *flags, "--bundle", str(bundle), cid, stdin=stdin, timeout=timeout)

    def state(self, cid):
        res, st = self.rt.state(cid)
        self.require(st is not None, f"state {cid}: {res.describe()}")
        return st

    def pid(self, cid):
        return self.state(cid)["pid"]

    def on_cleanup(self, fn):
        self.finalizers.append(fn)

    def cleanup(self):
        for fn in reversed(self.finalizers):
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                self.fail(f"cleanup: {e!r}")
        for cid in self.ids:
            if (self.rt.root / cid).exists():
                self.rt("delete", "--force", cid, timeout=15)
            if (self.rt.root / cid).exists():
                self.fail(f"cleanup: state dir {self.rt.root / cid} survives delete --force")
            if not remove_cgroup(self.cgroup_path(cid)):
                self.fail(f"cleanup: could not remove cgroup {self.cgroup_path(cid)}")


# ---------------------------------------------------------------- host-side views

def ns_link(pid, ns):
    try:
        return os.readlink(f"/proc/{pid}/ns/{ns}")
    except OSError:
        return None


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def wait_until(pred, timeout=5.0, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def v1_procs(controller, path):
    try:
        text = (CGROUP_ROOT / controller / path.lstrip("/") / "cgroup.procs").read_text()
    except OSError:
        return None
    return {int(x) for x in text.split()}


def procs_in_cgroup_tree(path):
    """Host pids whose /proc/<pid>/cgroup mentions path (in any hierarchy)."""
    found = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            text = Path(f"/proc/{d}/cgroup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            p = line.split(":", 2)[-1]
            if p == path or p.startswith(path + "/"):
                if pid_alive(int(d)):
                    found.add(int(d))
                break
    return found


def children_of(ppid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) == ppid:
            out.append((int(d), stat[0]))
    return out


def set_subreaper(on):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def kill_pid(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def write_json(path, obj):
    Path(path).write_text(json.dumps(obj, indent=1))


# ---------------------------------------------------------------- console socket

class ConsoleServer:
    """A unix socket that accepts one connection and receives a pty master fd
    over SCM_RIGHTS, as a --console-socket consumer does."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.sock.settimeout(harness.TIMEOUT)
        self.master = None
        self.error = None
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(harness.TIMEOUT)
                _, fds, _, _ = socket.recv_fds(conn, 4096, 4)
                if not fds:
                    self.error = "connection carried no fd"
                    return
                self.master = fds[0]
                for extra in fds[1:]:
                    os.close(extra)
        except OSError as e:
            self.error = repr(e)

    def wait_master(self, timeout=None):
        self.thread.join(timeout or harness.TIMEOUT)
        return self.master

    def close(self):
        self.sock.close()
        if self.master is not None:
            os.close(self.master)
            self.master = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def pty_expect(fd, needle, timeout=10.0):
    """Read from a pty master until needle (bytes) shows up; returns all read."""
    buf = b""
    deadline = time.monotonic() + timeout
    while needle not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the slave side is closed
            break
        if not chunk:
            break
        buf += chunk
    return buf


def spawn(argv, pass_fds=(), stdin=subprocess.DEVNULL):
    """Popen with output to a temp file, own session (for timeout kills)."""
    out = tempfile.TemporaryFile()
    proc = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=out, start_new_session=True,
                            pass_fds=pass_fds)
    proc.outfile = out
    return proc


def finish(proc, timeout=None):
    """Wait for a spawn()ed process; returns (rc or None on timeout, output)."""
    try:
        rc = proc.wait(timeout or harness.TIMEOUT)
    except subprocess.TimeoutExpired:
        harness.kill_group(proc.pid)
        proc.wait()
        rc = None
    proc.outfile.seek(0)
    out = proc.outfile.read().decode(errors="replace")
    proc.outfile.close()
    return rc, out


def static_helper(t, name, source, *cflags):
    """A static C helper compiled once per run (cached on the context) from
    source, for cases that need exact errnos inside a container."""
    cached = getattr(t.ctx, name + "_path", None)
    if cached and cached.exists():
        return cached
    src = Path(t.ws.base) / (name + ".c")
    src.write_text(source)
    path = Path(t.ws.base) / name
    res = run_cmd(["gcc", "-static", "-O1", *cflags, "-o", str(path), str(src)], timeout=120)
    t.require(res.rc == 0, f"compiling {name}: {res.describe()}")
    setattr(t.ctx, name + "_path", path)
    return path

