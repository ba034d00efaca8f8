#!/usr/bin/env python3
"""Benchmark `run` of a busybox `true` bundle under sworn, runc and crun,
interleaved round-robin in one process so that they share machine noise.

    bench/bench.py [--sworn PATH] [--floor PATH] [--iterations N] [--warmup N]
                   [--bundle-extra JSON-MERGE-PATCH] [--json]

With --sworn, sworn-floor (bench/floor.c, built next to sworn) is timed too:
a static program doing only the kernel work of `sworn run` for the default
bundle; sworn/floor is how much of sworn's time is its own.

Wall time is measured around the runtime process (spawn to reap).  Peak RSS
is the runtime process's ru_maxrss from wait4; for `run` the runtime is the
container's parent, so this also covers any reaped descendant that grew bigger
(busybox `true` does not).  A child's ru_maxrss is at least its parent's RSS
at fork (the kernel carries the pre-exec mm's high-water mark over exec), so
os.wait4 from Python would report Python's ~15 MB for everything; GNU time
(/usr/bin/time, Debian package `time`) does the wait4 from a ~1 MB process
instead and is used when present, adding ~1 ms to every subject's wall time
alike.  Without it the RSS column is os.wait4's and only an upper bound.
On a hybrid-cgroup host crun runs through
an `unshare -m ... umount /sys/fs/cgroup/unified` wrapper; that wrapper alone
is timed too and subtracted for crun's adjusted figure.

The runtimes' state roots (--root) sit on a tmpfs of the bench's own, as
/run is on real hosts.  On this VM /run is plain ext4 without a journal,
where every inode created within ~30 s of deletions first scans the deleted
ones (ext4's recently_deleted()): in a tight loop of runs each new state
file costs more than the one before, which measures the loop, not the
runtime.  --state-on-disk keeps the roots on the temp dir's filesystem.

sworn and sworn-floor are timed from copies in the bench's temp dir, as an
installed binary is (runc and crun come from dpkg): the file the linker wrote
sits in the page cache in a shape that makes every run ~0.1 ms slower to
fault in, which measures the build, not the runtime.

This is a tool, not a test: it is not run from ctest.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "conformance"))
from harness import (MAKE_ROOTFS, cgroup_hierarchies, crun_needs_wrapper,  # noqa: E402
                     kill_group, make_runtimes, remove_cgroup, runc_spec)

TIMEOUT = 20.0  # seconds per run; --timeout changes it
MAX_FAILURES = 3  # a subject failing this often is dropped from the rest of the bench
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
WRAPPER = ["unshare", "-m", "sh", "-c", "umount /sys/fs/cgroup/unified && exec true"]


def state_tmpfs(base, on_disk):
    """Makes base/state, the parent of every runtime's --root; a tmpfs
    unless on_disk.  Returns the unmount to call at the end."""
    state = base / "state"
    state.mkdir()
    if on_disk:
        return lambda: None
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "sworn-bench-state", str(state)], check=True)
    return lambda: subprocess.run(["umount", "-l", str(state)], check=False)


def installed_copy(path, base):
    """path copied into base/bin, as `install` would put it (see above)."""
    bindir = base / "bin"
    bindir.mkdir(exist_ok=True)
    return str(shutil.copy2(path, bindir / Path(path).name))


def summarize(times, rss, failures):
    """Runs, failures, median and p90 ms, peak RSS of one subject's recorded runs."""
    if not times:
        return {"runs": 0, "failures": failures}
    t = sorted(times)
    return {"runs": len(t), "failures": failures, "median_ms": round(statistics.median(t), 2),
            "p90_ms": round(t[min(len(t) - 1, int(0.9 * len(t)))], 2), "peak_rss_kib": max(rss)}


def remove_cgroup_prefix(prefix):
    """rmdir of a subject's (emptied) cgroup prefix in every hierarchy."""
    for h in cgroup_hierarchies():
        try:
            (h / prefix.lstrip("/")).rmdir()
        except FileNotFoundError:
            pass


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def timed_spawn(argv, log):
    """Spawn argv (stdin a closed pipe, output to log); return (seconds, exit code, maxrss KiB).

    Exit code is None if it ran past TIMEOUT (its process group is then killed)."""
    with tempfile.NamedTemporaryFile("r") as rss_file:
        if GNU_TIME:
            argv = [GNU_TIME, "-f", "%M", "-o", rss_file.name, *argv]
        rd, wr = os.pipe()
        start = time.perf_counter()
        pid = os.posix_spawnp(argv[0], argv, os.environ, setsid=True, file_actions=[
            (os.POSIX_SPAWN_DUP2, rd, 0), (os.POSIX_SPAWN_DUP2, log.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, log.fileno(), 2)])
        os.close(rd)
        os.close(wr)
        timer = threading.Timer(TIMEOUT, kill_group, (pid,))
        timer.start()
        _, status, usage = os.wait4(pid, 0)
        elapsed = time.perf_counter() - start
        timed_out = not timer.is_alive()
        timer.cancel()
        rss = usage.ru_maxrss
        if GNU_TIME:
            lines = rss_file.read().split()
            rss = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    return elapsed, None if timed_out else os.waitstatus_to_exitcode(status), rss


class Floor:
    """sworn-floor on the bundle's rootfs: only valid for the default bundle."""

    def __init__(self, path, rootfs):
        self.path, self.rootfs = path, str(rootfs)


class Subject:
    """One thing being timed: a runtime running the bundle, or the crun wrapper alone."""

    def __init__(self, name, runtime=None, bundle=None):
        self.name, self.runtime, self.own_bundle = name, runtime, bundle
        self.times, self.rss, self.failures = [], [], 0
        self.cgroup_prefix = f"/sworn-bench-{os.getpid()}-{name}"
        self.count = 0

    def argv(self, bundle):
        if self.runtime is None:
            return WRAPPER, None
        if self.runtime == "noop":
            return ["true"], None
        if isinstance(self.runtime, Floor):
            self.count += 1
            self.cgroup = f"{self.cgroup_prefix}/floor-{self.count}"
            return [self.runtime.path, self.runtime.rootfs, self.cgroup], None
        self.count += 1
        cid = f"bench-{self.name}-{self.count}"
        config = json.loads((bundle / "config.json").read_text())
        config["linux"]["cgroupsPath"] = f"{self.cgroup_prefix}/{cid}"
        (bundle / "config.json").write_text(json.dumps(config))
        return [*self.runtime.prefix, "--root", str(self.runtime.root), "run", "--bundle", str(bundle), cid], cid

    def once(self, bundle, log, record):
        if self.failures >= MAX_FAILURES:
            return
        bundle = self.own_bundle or bundle
        argv, cid = self.argv(bundle)
        log.seek(0)
        log.truncate()
        elapsed, rc, rss = timed_spawn(argv, log)
        if cid:
            self.cleanup(cid)
        elif isinstance(self.runtime, Floor) and rc != 0:
            remove_cgroup(self.cgroup)
        if rc != 0:
            self.failures += 1
            log.seek(0)
            tail = "".join(f": {line[:200]}" for line in log.read().decode(errors="replace").strip().splitlines()[-1:])
            print(f"{self.name}: run failed ({'timeout' if rc is None else f'exit {rc}'}){tail}"
                  + ("; giving up on it" if self.failures == MAX_FAILURES else ""), file=sys.stderr)
        elif record:
            self.times.append(elapsed * 1000)
            self.rss.append(rss)

    def cleanup(self, cid):
        if self.runtime == "noop":
            return
        if (self.runtime.root / cid).exists():
            self.runtime("delete", "--force", cid)
        remove_cgroup(f"{self.cgroup_prefix}/{cid}")

    def remove_prefix(self):
        remove_cgroup_prefix(self.cgroup_prefix)

    def summary(self):
        return summarize(self.times, self.rss, self.failures)


def make_bundle(base, extra):
    rootfs = base / "rootfs"
    subprocess.run([str(MAKE_ROOTFS), str(rootfs)], check=True, timeout=60)
    config = runc_spec(base)
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/true"]
    config["root"]["path"] = str(rootfs)
    config = merge_patch(config, extra)
    bundle = base / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(config, indent=1))
    return bundle


def report(results, as_json):
    def median(name):
        return results.get(name, {}).get("median_ms")

    if median("crun") and median("crun-wrapper"):
        results["crun"]["median_ms_minus_wrapper"] = round(median("crun") - median("crun-wrapper"), 2)
    crun_adj = results.get("crun", {}).get("median_ms_minus_wrapper", median("crun"))
    # The noop subject (the timing wrapper running `true`) is subtracted from
    # the others as the crun wrapper (which ends in `true`) is from crun.
    for name in ("floor", "sworn", "runc"):
        if median(name) and median("noop"):
            results[name]["median_ms_minus_noop"] = round(median(name) - median("noop"), 2)

    def adj(name):
        return results.get(name, {}).get("median_ms_minus_noop", median(name))

    ratios = {}
    if median("sworn") and median("floor"):
        ratios["sworn/floor"] = round(median("sworn") / median("floor"), 3)
        ratios["sworn/floor(adjusted)"] = round(adj("sworn") / adj("floor"), 3)
    if median("floor") and crun_adj:
        ratios["floor/crun(adjusted)"] = round(adj("floor") / crun_adj, 3)
    if median("sworn"):
        if crun_adj:
            ratios["sworn/crun(adjusted)"] = round(adj("sworn") / crun_adj, 3)
        if median("runc"):
            ratios["sworn/runc(adjusted)"] = round(adj("sworn") / adj("runc"), 3)
    rss_source = "GNU time" if GNU_TIME else "os.wait4 (upper bound: includes Python's RSS)"
    if as_json:
        print(json.dumps({"results": results, "ratios": ratios, "rss_source": rss_source}, indent=1))
        return
    print(f"peak RSS from {rss_source}")
    print(f"{'subject':<14}{'runs':>6}{'fail':>6}{'median ms':>11}{'p90 ms':>9}{'peak RSS KiB':>14}")
    for name, r in results.items():
        if r["runs"]:
            print(f"{name:<14}{r['runs']:>6}{r['failures']:>6}{r['median_ms']:>11.2f}{r['p90_ms']:>9.2f}"
                  f"{r['peak_rss_kib']:>14}")
        else:
            print(f"{name:<14}{0:>6}{r['failures']:>6}  (no successful runs)")
    if "median_ms_minus_wrapper" in results.get("crun", {}):
        print(f"crun median without the hybrid-cgroup wrapper: {results['crun']['median_ms_minus_wrapper']:.2f} ms")
    for name in ("floor", "sworn", "runc"):
        if "median_ms_minus_noop" in results.get(name, {}):
            print(f"{name} median without the timing wrapper (noop): {results[name]['median_ms_minus_noop']:.2f} ms")
    for name, ratio in ratios.items():
        print(f"{name}: {ratio:.3f}")


def limits_and_seccomp():
    import docker_seccomp
    with open("/usr/share/containers/seccomp.json") as f:
        seccomp = docker_seccomp.convert(json.load(f), docker_seccomp.PODMAN_CAPS)
    return {"linux": {"seccomp": seccomp,
                      "resources": {"memory": {"limit": 256 << 20},
                                    "cpu": {"shares": 512, "quota": 50000, "period": 100000},
                                    "pids": {"limit": 100}}}}


def variant(text):
    label, _, patch = text.partition("=")
    return label, json.loads(patch)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sworn", help="path to the sworn binary")
    p.add_argument("--floor", help="path to sworn-floor (default: next to --sworn; 'none' skips it)")
    p.add_argument("--iterations", type=int, default=30, help="timed runs per runtime (default 30)")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs per runtime first (default 3)")
    p.add_argument("--bundle-extra", type=json.loads, default={},
                   help="JSON merge patch applied to config.json, e.g. resource limits or seccomp")
    p.add_argument("--limits-and-seccomp", action="store_true",
                   help="add memory, cpu and pids limits and podman's default seccomp profile "
                        "(containers-common's seccomp.json, converted as podman does)")
    p.add_argument("--sworn-variant", action="append", default=[], type=variant, metavar="LABEL=PATCH",
                   help="also time sworn on the bundle with this JSON merge patch, e.g. "
                        "pledged='{\"annotations\": {\"sworn.pledge.promises\": \"stdio rpath\"}}'")
    p.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds allowed per run (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.add_argument("--gap", type=float, default=0.0,
                   help="seconds of idle before each run (default 0: back to back). A host starting a container "
                        "is rarely busy starting the previous one: with a gap, the kernel's deferred work (RCU "
                        "grace periods a cgroup.procs write waits for) is what a first start pays")
    p.add_argument("--state-on-disk", action="store_true",
                   help="keep the runtimes' state roots on the temp dir's filesystem, not a tmpfs")
    return p.parse_args()


def main():
    global TIMEOUT
    args = parse_args()
    TIMEOUT = args.timeout
    if os.geteuid() != 0:
        sys.exit("bench.py must run as root")
    names = [n for n in ("sworn", "runc", "crun") if (args.sworn if n == "sworn" else shutil.which(n))]
    base = Path(tempfile.mkdtemp(prefix="sworn-bench-"))
    subjects = []
    unmount = lambda: None  # noqa: E731
    try:
        unmount = state_tmpfs(base, args.state_on_disk)
        extra = args.bundle_extra
        if args.limits_and_seccomp:
            extra = merge_patch(limits_and_seccomp(), extra)
        bundle = make_bundle(base, extra)
        runtimes = make_runtimes(names, args.sworn and installed_copy(args.sworn, base), base, False)
        subjects = [Subject(rt.name, rt) for rt in runtimes]
        floor = args.floor or (args.sworn and str(Path(args.sworn).resolve().parent / "sworn-floor"))
        if floor and floor != "none" and not extra:
            if not os.access(floor, os.X_OK):
                sys.exit(f"{floor}: not found (build the sworn-floor target, or pass --floor none)")
            subjects.insert(0, Subject("floor", Floor(installed_copy(floor, base), bundle.parent / "rootfs")))
        for i, (label, patch) in enumerate(args.sworn_variant):
            sworn_rt = next(rt for rt in runtimes if rt.name == "sworn")
            (base / f"variant{i}").mkdir()
            subjects.append(Subject(f"sworn-{label}", sworn_rt, make_bundle(base / f"variant{i}", merge_patch(extra, patch))))
        if "crun" in names and crun_needs_wrapper():
            subjects.append(Subject("crun-wrapper"))
        subjects.append(Subject("noop", "noop"))
        with tempfile.TemporaryFile() as log:
            for i in range(args.warmup + args.iterations):
                for subject in subjects:
                    time.sleep(args.gap)
                    subject.once(bundle, log, record=i >= args.warmup)
        report({s.name: s.summary() for s in subjects}, args.json)
    finally:
        for subject in subjects:
            if subject.runtime and subject.runtime != "noop":
                subject.remove_prefix()
        unmount()
        shutil.rmtree(base, ignore_errors=True)
    return 1 if any(s.failures for s in subjects) else 0


if __name__ == "__main__":
    sys.exit(main())
