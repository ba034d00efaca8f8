"""What a Nomad 1.7 - 2.0.5 client does with cgroups around a task driver
(shared/reference/nomad-1.7-plus.md section 2), for test_driver.py's 1.7+
scenarios. Two layouts:

  V2: <cgroup2>/<parent>/nomad.slice/{share,reserve}.slice/<alloc>.<task>.scope
      (on this hybrid host the cgroup2 mount is /sys/fs/cgroup/unified, which
      has no cpuset controller: the task's cores then live in the v1 cpuset
      hierarchy at the same relative path, where the runtime writes them)
  V1: <ctrl>/<parent>/<alloc>.<task> for freezer, cpu, memory; cpuset
      <parent>/share (every shared task's cpuset_cgroup) and
      <parent>/reserve/<alloc>.<task> (reserved cores; left empty by the client)

Nomad fixes the parent (nomad.slice, /nomad); the harness puts it below its
own sworn-nomadtest-<pid> name so nl.remove_test_cgroups() finds leftovers.
Each method is one client step: agent start (cgroupslib.Init), the cpuparts
alloc hook, the wrangler prestart hook, the stop hook's teardown.
"""
import os
import signal
import time
from pathlib import Path

import nomadlib as nl

CG = Path("/sys/fs/cgroup")


def cpus_allowed(pid):
    """Cpus_allowed_list of a process, as the task sees it in /proc/self/status."""
    for ln in Path(f"/proc/{pid}/status").read_text().splitlines():
        if ln.startswith("Cpus_allowed_list:"):
            return ln.split(":", 1)[1].strip()
    return ""


def proc_cgroups(pid):
    """{controller: path} from /proc/<pid>/cgroup ('' = cgroup2)."""
    out = {}
    for ln in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, ctrls, path = ln.split(":", 2)
        for c in (ctrls.split(",") if ctrls else [""]):
            out[c] = path
    return out


def read(path):
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def write(path, value):
    try:
        Path(path).write_text(value)
        return True
    except OSError:
        return False


def v1_cpuset_file(pid):
    rel = proc_cgroups(pid).get("cpuset")
    return CG / "cpuset" / rel.lstrip("/") / "cpuset.cpus" if rel else None


def online_cpus():
    return read(CG / "cpuset/cpuset.cpus") or read("/sys/devices/system/cpu/online") or "0"


class V2:
    name = "v2"

    def __init__(self, parent):
        self.root = CG if (CG / "cgroup.controllers").exists() else CG / "unified"
        if not (self.root / "cgroup.controllers").exists():
            raise nl.Skip("no cgroup2 mount")
        self.pure = self.root == CG
        self.top = self.root / parent.strip("/")
        self.base = self.top / "nomad.slice"

    def agent_start(self):
        """cgroupslib.Init: nomad.slice with its two partitions."""
        for d in (self.top, self.base, self.base / "share.slice", self.base / "reserve.slice"):
            d.mkdir(exist_ok=True)
            # errors ignored, as Nomad: on hybrid only hugetlb is there
            for c in ("cpuset", "cpu", "io", "memory", "pids"):
                write(d.parent / "cgroup.subtree_control", f"+{c}")
        write(self.base / "cpuset.cpus", online_cpus())

    def partition(self, share, reserve):
        """The cpuparts hook: share = usable minus reserved, reserve = the union."""
        write(self.base / "share.slice/cpuset.cpus", share)
        write(self.base / "reserve.slice/cpuset.cpus", reserve)

    def partitions(self):
        return {p: read(self.base / f"{p}.slice/cpuset.cpus") for p in ("share", "reserve")}

    def scope(self, alloc, cores):
        return self.base / ("reserve.slice" if cores else "share.slice") / f"{alloc.id}.{alloc.task}.scope"

    def prestart(self, alloc, cores):
        """The wrangler hook, before every StartTask: mkdir -p; returns cpuset_cgroup."""
        s = self.scope(alloc, cores)
        s.mkdir(parents=True, exist_ok=True)
        return str(s)

    def teardown(self, alloc, cores):
        """The stop hook after the last DestroyTask: cgroup.kill, then RemoveAll.
        Returns what could not be removed (a populated child, say)."""
        s = self.scope(alloc, cores)
        if not s.exists():
            return []
        write(s / "cgroup.kill", "1")
        left = []
        for d in sorted((p for p in s.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)) + [s]:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                left.append(str(d))
        return left

    def in_scope(self, pid, alloc, cores):
        want = "/" + str(self.scope(alloc, cores).relative_to(self.root))
        got = proc_cgroups(pid).get("")
        return got == want, got, want

    def cpuset_file(self, pid):
        """The cpuset.cpus the task's cores are set in."""
        if self.pure:
            return self.root / proc_cgroups(pid)[""].lstrip("/") / "cpuset.cpus"
        return v1_cpuset_file(pid)


class V1:
    name = "v1"
    CTRLS = ("freezer", "cpu", "memory")

    def __init__(self, parent):
        if not (CG / "cpuset/cpuset.cpus").exists() or not (CG / "freezer").is_dir():
            raise nl.Skip("no v1 cpuset/freezer hierarchy")
        self.rel = parent.strip("/")
        self.cpuset = CG / "cpuset" / self.rel

    def agent_start(self):
        for c in self.CTRLS:
            (CG / c / self.rel).mkdir(exist_ok=True)
        root = CG / "cpuset"
        self.cpuset.mkdir(exist_ok=True)
        for d in (self.cpuset, self.cpuset / "share", self.cpuset / "reserve"):
            d.mkdir(exist_ok=True)
            write(d / "cgroup.clone_children", "0")
            for f in ("cpuset.mems", "cpuset.cpus"):
                write(d / f, read(root / f))

    def partition(self, share, reserve):
        # v1 refuses to shrink a parent below a child: reserve's children first
        write(self.cpuset / "reserve/cpuset.cpus", reserve)
        write(self.cpuset / "share/cpuset.cpus", share)

    def partitions(self):
        return {p: read(self.cpuset / p / "cpuset.cpus") for p in ("share", "reserve")}

    def dirs(self, alloc, cores):
        name = f"{alloc.id}.{alloc.task}"
        ds = [CG / c / self.rel / name for c in self.CTRLS]
        return ds + ([self.cpuset / "reserve" / name] if cores else [])

    def prestart(self, alloc, cores):
        for d in self.dirs(alloc, cores):
            d.mkdir(exist_ok=True)
        if cores:  # the client copies only mems; cpus stay empty for the driver
            d = self.dirs(alloc, cores)[-1]
            write(d / "cpuset.mems", read(self.cpuset / "reserve/cpuset.mems"))
            return str(d)
        return str(self.cpuset / "share")

    def teardown(self, alloc, cores):
        """Freeze, SIGKILL every pid, thaw, remove (with backoff)."""
        fz = self.dirs(alloc, cores)[0]
        if fz.exists():
            write(fz / "freezer.state", "FROZEN")
            for pid in (read(fz / "cgroup.procs") or "").split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
            write(fz / "freezer.state", "THAWED")
        left = []
        for d in self.dirs(alloc, cores):
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                left.append(str(d))
        return left

    def in_scope(self, pid, alloc, cores):
        return True, None, None  # v1 tasks run in the plugin's own cgroups

    def cpuset_file(self, pid):
        return v1_cpuset_file(pid)


LAYOUTS = {"v1": V1, "v2": V2}
