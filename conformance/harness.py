"""Plumbing for conformance.py: runtimes, bundles, cgroups, checks.

Every subprocess runs with a timeout; a runtime that hangs is killed (its whole
process group, then whatever is left in the container's cgroup) and the
container is force-deleted, so the runtime under test may be incomplete.
"""
import copy
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAKE_ROOTFS = REPO / "tests" / "rootfs" / "make-rootfs.sh"
PROBE_SRC = REPO / "tests" / "probe" / "probe.c"
CGROUP_ROOT = Path("/sys/fs/cgroup")
TIMEOUT = 20.0  # seconds, for every subprocess; conformance.py --timeout changes it


@dataclass
class Result:
    argv: list
    rc: int | None  # None when the command timed out
    out: str
    err: str

    @property
    def timed_out(self):
        return self.rc is None

    def describe(self):
        rc = f"timed out after {TIMEOUT:.0f}s" if self.timed_out else f"exit {self.rc}"
        err = self.err.strip().splitlines()
        return f"{rc}" + (f" ({err[-1][:200]})" if err else "")

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError:
            return None


def run_cmd(argv, cwd=None, timeout=None, stdin=b"", verbose=False):
    """Run argv with stdin a pipe (written then closed), stdout/stderr to files.

    Files, not pipes, for output: a detached container inherits them, and
    waiting for EOF on a pipe would wait for the container.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=out,
                                stderr=err, start_new_session=True)
        try:
            proc.stdin.write(stdin)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            rc = proc.wait(timeout or TIMEOUT)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            proc.wait()
            rc = None
        out.seek(0)
        err.seek(0)
        res = Result(argv, rc, out.read().decode(errors="replace"), err.read().decode(errors="replace"))
    if verbose:
        print(f"    $ {' '.join(argv)}  -> {res.describe()}")
        if res.out.strip():
            print("      " + res.out.strip()[:400].replace("\n", "\n      "))
    return res


def kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def crun_needs_wrapper():
    """crun refuses hybrid cgroups: hide cgroup2 at /sys/fs/cgroup/unified from it."""
    return any(fstype == "cgroup2" and mp == str(CGROUP_ROOT / "unified") for mp, fstype in host_mounts())


def host_mounts():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            yield fields[4], fields[fields.index("-") + 1]


class Runtime:
    def __init__(self, name, prefix, root, verbose=False):
        self.name, self.prefix, self.root, self.verbose = name, prefix, Path(root), verbose
        self.root.mkdir(parents=True, exist_ok=True)

    def __call__(self, *args, stdin=b"", timeout=None):
        return run_cmd([*self.prefix, "--root", str(self.root), *args], stdin=stdin,
                       timeout=timeout, verbose=self.verbose)

    def spawn(self, *args):
        """Start a runtime command in the background (stdin a closed pipe)."""
        return Spawned([*self.prefix, "--root", str(self.root), *args])

    def state(self, cid):
        res = self("state", cid)
        return res, res.json() if res.rc == 0 else None

    def wait_status(self, cid, want, timeout=5.0):
        """Poll `state` until status == want; return the last status seen."""
        deadline, status = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            _, st = self.state(cid)
            status = st.get("status") if st else None
            if status == want:
                break
            time.sleep(0.05)
        return status


class Spawned:
    """A background command; wait() returns its exit code, or None after a timeout
    (then its process group is killed).  Use as a context manager."""

    def __init__(self, argv):
        # never /dev/null: crun chowns non-tty stdio to the container user
        self.out = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=self.out,
                                     stderr=self.out, start_new_session=True)
        self.proc.stdin.close()

    def wait(self):
        try:
            return self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            kill_group(self.proc.pid)
            self.proc.wait()
            return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            kill_group(self.proc.pid)
            self.proc.wait()
        self.out.close()


def make_runtimes(names, sworn, base, verbose):
    crun_prefix = ["crun"]
    if crun_needs_wrapper():
        crun_prefix = ["unshare", "-m", "sh", "-c", 'umount /sys/fs/cgroup/unified && exec crun "$@"', "sh"]
    prefixes = {"runc": ["runc"], "crun": crun_prefix, "sworn": [sworn] if sworn else None}
    return [Runtime(n, prefixes[n], base / "state" / n, verbose) for n in names]


# ---------------------------------------------------------------- cgroups

def cgroup_hierarchies():
    """Mountpoints of every cgroup hierarchy (v1 controllers, named, unified)."""
    return sorted(Path(mp) for mp, fstype in host_mounts()
                  if fstype in ("cgroup", "cgroup2") and mp.startswith(str(CGROUP_ROOT)))


def cgroup_dirs(path):
    return [h / path.lstrip("/") for h in cgroup_hierarchies() if (h / path.lstrip("/")).is_dir()]


def cgroup_pids(path):
    pids = set()
    for d in cgroup_dirs(path):
        try:
            pids.update(int(p) for p in (d / "cgroup.procs").read_text().split())
        except OSError:
            pass
    return pids


def remove_cgroup(path):
    """Kill what is left in the cgroup, then rmdir it in every hierarchy."""
    for _ in range(50):
        pids = cgroup_pids(path)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for d in cgroup_dirs(path):
            try:
                d.rmdir()
            except OSError:
                pass
        if not cgroup_dirs(path):
            return True
        time.sleep(0.1)
    return False


# ---------------------------------------------------------------- bundles

class Workspace:
    """Temp dir holding the master rootfs, the bundles and each runtime's state root."""

    def __init__(self, keep=False):
        self.base = Path(tempfile.mkdtemp(prefix="sworn-conf-"))
        self.keep = keep
        self.cgroup_prefix = f"/sworn-conf-{os.getpid()}"
        self.counter = 0
        self.rootfs = self.base / "rootfs"
        probe = self.base / "sworn-probe"
        compile_probe(probe)
        subprocess.run([str(MAKE_ROOTFS), str(self.rootfs), str(probe)], check=True, timeout=60)
        self.template = runc_spec(self.base)

    def config(self):
        """`runc spec` defaults, no terminal, the probe as the process."""
        cfg = copy.deepcopy(self.template)
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = ["/bin/sworn-probe"]
        return cfg

    def new_id(self, tag):
        self.counter += 1
        return f"{tag}-{self.counter}"

    def bundle(self, cid, config, rt_name):
        """A bundle with its own rootfs copy; config is written unchanged
        except for linux.cgroupsPath, which is unique per container."""
        path = self.base / "bundles" / f"{rt_name}-{safe_name(cid)}-{self.counter}"
        path.mkdir(parents=True)
        subprocess.run(["cp", "-a", str(self.rootfs), str(path / "rootfs")], check=True, timeout=60)
        if isinstance(config, dict):
            config = copy.deepcopy(config)
            config.setdefault("linux", {})["cgroupsPath"] = self.cgroup_path(rt_name, cid)
            config = json.dumps(config, indent=1)
        (path / "config.json").write_text(config)
        return path

    def cgroup_path(self, rt_name, cid):
        return f"{self.cgroup_prefix}/{rt_name}-{safe_name(cid)}"

    def close(self):
        for h in cgroup_hierarchies():
            try:
                (h / self.cgroup_prefix.lstrip("/")).rmdir()
            except FileNotFoundError:
                pass
            except OSError as e:
                print(f"warning: could not remove {h}{self.cgroup_prefix}: {e}")
        if self.keep:
            print(f"kept workspace {self.base}")
        else:
            shutil.rmtree(self.base, ignore_errors=True)


def safe_name(cid):
    """cid made usable as one path component (ids under test may be "../x" or "")."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in cid) or "empty"


def compile_probe(dest):
    subprocess.run(["gcc", "-std=c11", "-static", "-O2", "-o", str(dest), str(PROBE_SRC)],
                   check=True, timeout=120)


def runc_spec(base):
    tmp = base / "spec"
    tmp.mkdir()
    subprocess.run(["runc", "spec", "--bundle", str(tmp)], check=True, timeout=60)
    return json.loads((tmp / "config.json").read_text())


# ---------------------------------------------------------------- checks

class Skip(Exception):
    pass


class Case:
    """One test case's bookkeeping: failures, notes, containers to clean up."""

    def __init__(self, name, ws, runtimes, quirks=()):
        self.name, self.ws, self.runtimes = name, ws, runtimes
        self.quirks = [(who, sub, why) for who, case, sub, why in quirks if case == name]
        self.failures, self.notes, self.containers = [], [], []

    def fail(self, msg):
        """Record a failure, unless it is a known quirk of a peer (then a note)."""
        who = msg.split(":", 1)[0]
        for rt, sub, why in self.quirks:
            if rt == who and sub in msg:
                self.note(f"known {rt} quirk ({why}): {msg}")
                return
        self.failures.append(msg)

    def note(self, msg):
        self.notes.append(msg)

    def expect(self, cond, msg):
        if not cond:
            self.fail(msg)
        return cond

    # -- containers

    def bundle(self, rt, config):
        cid = self.ws.new_id(self.name)
        self.containers.append((rt, cid))
        return cid, self.ws.bundle(cid, config, rt.name)

    def run(self, rt, config):
        cid, bundle = self.bundle(rt, config)
        return rt("run", "--bundle", str(bundle), cid)

    def views(self, config):
        """Run the probe under every runtime; {runtime: parsed JSON view}."""
        views = {}
        for rt in self.runtimes:
            res = self.run(rt, config)
            view = res.json()
            if res.rc != 0 or not isinstance(view, dict):
                self.fail(f"{rt.name}: run failed: {res.describe()}")
            else:
                views[rt.name] = view
        return views

    def create(self, rt, config):
        cid, bundle = self.bundle(rt, config)
        res = rt("create", "--bundle", str(bundle), cid)
        self.expect(res.rc == 0, f"{rt.name}: create {cid}: {res.describe()}")
        return cid, bundle, res.rc == 0

    def cleanup(self):
        for rt, cid in self.containers:
            if cid and (rt.root / cid).exists():
                rt("delete", "--force", cid, timeout=10)
            cgroup = self.ws.cgroup_path(rt.name, cid)
            if not remove_cgroup(cgroup):
                self.fail(f"{rt.name}: could not remove cgroup {cgroup}")

    # -- comparisons

    def agree(self, what, values):
        """All runtimes should see the same value.  If the peers (runc, crun)
        themselves differ, print a note and hold sworn to runc's value."""
        if len({canon(v) for v in values.values()}) <= 1:
            return True
        ref = "runc" if "runc" in values else next(iter(values))
        peers = {n: v for n, v in values.items() if n != "sworn"}
        if len({canon(v) for v in peers.values()}) > 1:
            self.note(f"peers differ on {what}: {difference(peers)}")
        if "sworn" in values and ref != "sworn" and canon(values["sworn"]) != canon(values[ref]):
            self.fail(f"{what}: sworn differs from {ref}: "
                      f"{difference({'sworn': values['sworn'], ref: values[ref]})}")
            return False
        return True

    def agree_on(self, views, fields):
        for field in fields:
            self.agree(field, {n: v.get(field) for n, v in views.items()})


def canon(value):
    return json.dumps(value, sort_keys=True)


def difference(values):
    """Readable difference between per-runtime values (set diff for lists)."""
    names = list(values)
    if all(isinstance(v, list) for v in values.values()):
        sets = {n: {canon(x) for x in v} for n, v in values.items()}
        parts = []
        for n in names:
            others = set().union(*(sets[m] for m in names if m != n))
            if sets[n] - others:
                parts.append(f"only in {n}: {', '.join(sorted(sets[n] - others))}")
        return "; ".join(parts) or "same elements, different order or count"
    if all(isinstance(v, dict) for v in values.values()):
        keys = sorted(set().union(*values.values()))
        diffs = [f"{k}: " + ", ".join(f"{n}={values[n].get(k)!r}" for n in names)
                 for k in keys if len({canon(values[n].get(k)) for n in names}) > 1]
        return "; ".join(diffs)
    return ", ".join(f"{n}={v!r}" for n, v in values.items())
