"""The host side of the Nomad harness (nomadlib.py): alloc and task dirs as
the client's allocdir builds them, log FIFOs read as logmon reads them, and
the views and cleanup of processes and cgroups a test leaves behind."""
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PREFIX = "sworn-nomadtest-"
__all__ = ["CGROUP_PREFIX", "NODE_ID", "Alloc", "LogReader", "alloc_pids", "cgroup_tree", "kill", "make_workdir",
           "pid_alive", "pids_matching", "shared_cpuset", "remove_test_cgroups", "remove_workdir", "wait_until"]


# ---------------------------------------------------------------- alloc dir, logs

class LogReader:
    """Reads a task's log FIFO continuously, like logmon: opened O_RDONLY|O_NONBLOCK
    (so the driver's blocking O_WRONLY open finds a reader), reopened on EOF."""

    def __init__(self, path):
        self.path, self.data, self.stop = path, b"", False
        self.cond = threading.Condition()
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if not r:
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:  # the last writer closed: reopen, as logmon does
                os.close(self.fd)
                self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
                time.sleep(0.05)
                continue
            with self.cond:
                self.data += chunk
                self.cond.notify_all()

    def text(self):
        return self.data.decode(errors="replace")

    def wait_for(self, needle, timeout=10):
        needle = needle.encode() if isinstance(needle, str) else needle
        with self.cond:
            return self.cond.wait_for(lambda: needle in self.data, timeout)

    def close(self):
        self.stop = True
        self.thread.join(1)
        os.close(self.fd)


class Alloc:
    """An allocation with one task, laid out as the client's allocdir does (§4.3)."""

    def __init__(self, data_dir, task, job="nomadtest", group="g"):
        self.id, self.task, self.job, self.group = str(uuid.uuid4()), task, job, group
        self.dir = Path(data_dir) / "alloc" / self.id
        self.task_dir = self.dir / task
        for sub in ("alloc/logs", "alloc/tmp", "alloc/data", f"{task}/local", f"{task}/secrets", f"{task}/private",
                    f"{task}/tmp"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        for p in [self.dir, self.dir / "alloc", self.task_dir, *self.dir.glob("*/*")]:
            os.chmod(p, 0o777)
        os.chmod(self.task_dir / "tmp", 0o1777)
        self.secrets_mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m,noexec,mode=0777", "tmpfs", str(self.task_dir / "secrets")],
            capture_output=True).returncode == 0
        self.stdout_path = self.dir / "alloc/logs" / f".{task}.stdout.fifo"
        self.stderr_path = self.dir / "alloc/logs" / f".{task}.stderr.fifo"
        for p in (self.stdout_path, self.stderr_path):
            os.mkfifo(p, 0o600)
        self.stdout, self.stderr = LogReader(self.stdout_path), LogReader(self.stderr_path)

    def env(self, memory_mb, cpu):
        return {"NOMAD_ALLOC_DIR": "/alloc", "NOMAD_TASK_DIR": "/local", "NOMAD_SECRETS_DIR": "/secrets",
                "NOMAD_MEMORY_LIMIT": str(memory_mb), "NOMAD_CPU_LIMIT": str(cpu), "NOMAD_ALLOC_ID": self.id,
                "NOMAD_SHORT_ALLOC_ID": self.id[:8], "NOMAD_ALLOC_NAME": f"{self.job}.{self.group}[0]",
                "NOMAD_ALLOC_INDEX": "0", "NOMAD_GROUP_NAME": self.group, "NOMAD_TASK_NAME": self.task,
                "NOMAD_JOB_ID": self.job, "NOMAD_JOB_NAME": self.job, "NOMAD_NAMESPACE": "default",
                "NOMAD_REGION": "global", "NOMAD_DC": "dc1"}

    def task_config(self, pb, driver_config, memory_mb=300, cpu=100, env=None, cpuset_cgroup=""):
        tc = pb.drv.TaskConfig(
            id=f"{self.id}/{self.task}/{secrets.token_hex(4)}", name=self.task, msgpack_driver_config=driver_config,
            alloc_dir=str(self.dir), stdout_path=str(self.stdout_path), stderr_path=str(self.stderr_path),
            task_group_name=self.group, job_name=self.job, job_id=self.job, alloc_id=self.id, namespace="default",
            node_name=socket.gethostname(), node_id=NODE_ID, user="")
        tc.env.update(self.env(memory_mb, cpu))
        tc.env.update(env or {})
        r = tc.resources
        r.allocated_resources.cpu.cpu_shares = cpu
        r.allocated_resources.memory.memory_mb = memory_mb
        r.linux_resources.cpu_shares = cpu
        r.linux_resources.memory_limit_bytes = memory_mb << 20
        r.linux_resources.cpuset_cgroup = cpuset_cgroup
        return tc

    def close(self):
        self.stdout.close()
        self.stderr.close()
        if self.secrets_mounted:
            subprocess.run(["umount", "-l", str(self.task_dir / "secrets")], capture_output=True)


NODE_ID = str(uuid.uuid4())


# ---------------------------------------------------------------- host views and cleanup

def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def pids_matching(environ=None, cmdline=None):
    """Live pids whose environment or command line contains the given bytes."""
    found = set()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        for what, needle in (("environ", environ), ("cmdline", cmdline)):
            if needle is None:
                continue
            try:
                if needle.encode() in Path(f"/proc/{d}/{what}").read_bytes() and pid_alive(int(d)):
                    found.add(int(d))
            except OSError:
                pass
    return found


def alloc_pids(alloc_id):
    return pids_matching(environ=f"NOMAD_ALLOC_ID={alloc_id}\0")


def hierarchies():
    """Mount points of the cgroup hierarchies: /sys/fs/cgroup itself when it
    is cgroup2 (pure v2), else its subdirectories (v1, hybrid)."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return [CGROUP_ROOT]
    return [h for h in CGROUP_ROOT.iterdir() if h.is_dir()]


def cgroup_tree(parent):
    """Every cgroup directory at or below parent, in every hierarchy."""
    out = set()
    for h in hierarchies():
        top = h / parent.strip("/")
        if top.is_dir():
            out.update(str(p) for p in [top, *top.rglob("*")] if p.is_dir())
    return out


def remove_test_cgroups(tag=None):
    """Kill what is in /sys/fs/cgroup/*/sworn-nomadtest-* and remove the dirs,
    deepest first.  Returns the dirs that survive.  With tag (one suite's
    parent name), only <tag> and <tag>-*: suites running at the same time
    must not kill each other's tasks."""
    left = []
    for top in (t for h in hierarchies() for t in h.glob(f"{CGROUP_PREFIX}*")):
        if "process_api" in str(top) or not top.is_dir():
            continue
        if tag and top.name != tag and not top.name.startswith(tag + "-"):
            continue
        dirs = sorted([top, *[p for p in top.rglob("*") if p.is_dir()]], key=lambda p: -len(p.parts))
        for _ in range(30):
            for d in dirs:
                try:
                    for pid in (d / "cgroup.procs").read_text().split():
                        kill(int(pid))
                except OSError:
                    pass
            for d in dirs:
                try:
                    d.rmdir()
                except OSError:
                    pass
            if not top.exists():
                break
            time.sleep(0.1)
        else:
            left.append(str(top))
    return left


def kill(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def wait_until(pred, timeout=5.0, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def shared_cpuset(parent):
    """On cgroup v1, Nomad 1.6's cpuset manager creates <parent>/shared in the
    cpuset hierarchy (cpus/mems of the root) and passes it as
    linux_resources.cpuset_cgroup for every task without reserved cores.
    Returns that absolute path, or "" where there is no v1 cpuset hierarchy."""
    root = CGROUP_ROOT / "cpuset"
    if not (root / "cpuset.cpus").exists():
        return ""
    path = root / parent.strip("/")
    for d in (path, path / "shared"):
        d.mkdir(exist_ok=True)
        for f in ("cpuset.cpus", "cpuset.mems"):
            (d / f).write_text((root / f).read_text())
    return str(path / "shared")


def make_workdir():
    base = Path(tempfile.mkdtemp(prefix="sworn-nomadtest-"))
    for sub in ("state", "data", "pb"):
        (base / sub).mkdir()
    return base


def remove_workdir(base):
    subprocess.run(["umount", "-R", "-l", str(base)], capture_output=True)
    for m in Path("/proc/self/mounts").read_text().splitlines():
        mp = m.split()[1]
        if mp.startswith(str(base) + "/"):
            subprocess.run(["umount", "-l", mp], capture_output=True)
    shutil.rmtree(base, ignore_errors=True)
