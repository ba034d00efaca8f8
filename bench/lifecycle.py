#!/usr/bin/env python3
"""Benchmark the detached lifecycle and exec under sworn, runc and crun,
interleaved round-robin in one process (as bench.py does for `run`).

    bench/lifecycle.py --sworn PATH [--iterations N] [--warmup N] [--json]

  create+start+delete  `create`, `start` and `delete` of the busybox `true`
                       bundle, timed together (three runtime processes)
  exec                 `exec ID /bin/true` into a running container (one
                       container per runtime, made before timing)

Every process is started through GNU time (for its peak RSS), which adds
about a millisecond to each. On a hybrid-cgroup host crun also runs through
the `unshare -m` wrapper of bench.py; the wrapper alone (ending in `true`) is
timed in the same rounds and subtracted from crun, which so loses GNU time's
share too. To compare like with like, `noop` (GNU time running `true`) is
timed as well and subtracted from sworn and runc: "adjusted" figures. Peak
RSS is GNU time's, the largest of the three processes for the lifecycle.

This is a tool, not a test: it is not run from ctest.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import bench
from harness import crun_needs_wrapper, make_runtimes  # bench.py put conformance/ on the path


class Subject:
    def __init__(self, rt, bundle, base, noop=False):
        self.rt, self.bundle, self.noop = rt, bundle, noop
        self.name = rt.name if rt else "noop" if noop else "crun-wrapper"
        self.prefix = f"/sworn-bench-{os.getpid()}-{self.name}"
        self.times = {"create+start+delete": [], "exec": []}
        self.rss = {"create+start+delete": [], "exec": []}
        self.failures, self.count, self.sleeper = 0, 0, None
        self.base = base

    def _config(self, cid, args):
        config = json.loads((self.bundle / "config.json").read_text())
        config["linux"]["cgroupsPath"] = f"{self.prefix}/{cid}"
        config["process"]["args"] = args
        bundle = self.base / f"{self.name}-{cid}"
        bundle.mkdir()
        (bundle / "config.json").write_text(json.dumps(config))
        return bundle

    def _spawn(self, argv, log):
        if self.rt is None:
            return bench.timed_spawn(["true"] if self.noop else bench.WRAPPER, log)
        return bench.timed_spawn([*self.rt.prefix, "--root", str(self.rt.root), *argv], log)

    def start_sleeper(self, log):
        if self.rt is None:
            return
        self.sleeper = "bench-sleeper"
        bundle = self._config(self.sleeper, ["/bin/sleep", "100000"])
        for verb in (["create", "--bundle", str(bundle), self.sleeper], ["start", self.sleeper]):
            _, rc, _ = self._spawn(verb, log)
            if rc != 0:
                log.seek(0)
                sys.exit(f"{self.name}: {verb[0]} of the exec target failed: {log.read()[-300:]!r}")

    def once(self, log, record):
        if self.failures >= bench.MAX_FAILURES:
            return
        self.count += 1
        cid = f"bench-{self.count}"
        total, peak, ok = 0.0, 0, True
        if self.rt is None:
            steps = [[]] * 3
        else:
            bundle = self._config(cid, ["/bin/true"])
            steps = [["create", "--bundle", str(bundle), cid], ["start", cid], ["delete", cid]]
        for argv in steps:
            log.seek(0)
            log.truncate()
            elapsed, rc, rss = self._spawn(argv, log)
            total, peak, ok = total + elapsed, max(peak, rss), ok and rc == 0
            if argv and argv[0] == "start" and rc == 0:
                self._wait_stopped(cid)
        if self.rt is not None:
            if (self.rt.root / cid).exists():
                self.rt("delete", "--force", cid)
            bench.remove_cgroup(f"{self.prefix}/{cid}")
        log.seek(0)
        log.truncate()
        exec_t, exec_rc, exec_rss = self._spawn(["exec", self.sleeper, "/bin/true"] if self.rt else [], log)
        if not ok or exec_rc != 0:
            self.failures += 1
            log.seek(0)
            print(f"{self.name}: failed: {log.read()[-200:]!r}", file=sys.stderr)
            return
        if record:
            self.times["create+start+delete"].append(total * 1000)
            self.rss["create+start+delete"].append(peak)
            self.times["exec"].append(exec_t * 1000)
            self.rss["exec"].append(exec_rss)

    def _wait_stopped(self, cid):
        # `true` exits at once; delete (without --force) needs it stopped.
        for _ in range(200):
            _, st = self.rt.state(cid)
            if st is None or st.get("status") == "stopped":
                return
            bench.time.sleep(0.001)

    def cleanup(self):
        if self.rt is None:
            return
        if self.sleeper:
            self.rt("delete", "--force", self.sleeper)
        for h in bench.cgroup_hierarchies():
            d = h / self.prefix.lstrip("/")
            if d.exists():
                for sub in d.iterdir():
                    if sub.is_dir():
                        bench.remove_cgroup(f"{self.prefix}/{sub.name}")
                try:
                    d.rmdir()
                except OSError:
                    pass

    def summary(self, mode):
        return bench.summarize(self.times[mode], self.rss[mode], self.failures)


def report(results, as_json):
    ratios = {}
    for mode, res in results.items():
        wrap = res.get("crun-wrapper", {}).get("median_ms")
        noop = res.get("noop", {}).get("median_ms")
        crun = res.get("crun", {}).get("median_ms")
        if crun and wrap:
            res["crun"]["adjusted_ms"] = round(crun - wrap, 2)
        for name in ("sworn", "runc"):
            if noop and res.get(name, {}).get("median_ms"):
                res[name]["adjusted_ms"] = round(res[name]["median_ms"] - noop, 2)
        adj = {n: res.get(n, {}).get("adjusted_ms") for n in ("sworn", "runc", "crun")}
        if adj["sworn"] and adj["crun"]:
            ratios[f"{mode} sworn/crun (adjusted)"] = round(adj["sworn"] / adj["crun"], 3)
        if adj["sworn"] and adj["runc"]:
            ratios[f"{mode} sworn/runc (adjusted)"] = round(adj["sworn"] / adj["runc"], 3)
    if as_json:
        print(json.dumps({"results": results, "ratios": ratios}, indent=1))
        return
    for mode, res in results.items():
        print(f"== {mode}")
        print(f"{'subject':<14}{'runs':>6}{'fail':>6}{'median ms':>11}{'p90 ms':>9}{'peak RSS KiB':>14}")
        for name, r in res.items():
            if r["runs"]:
                print(f"{name:<14}{r['runs']:>6}{r['failures']:>6}{r['median_ms']:>11.2f}{r['p90_ms']:>9.2f}"
                      f"{r['peak_rss_kib']:>14}")
        for name in ("sworn", "runc", "crun"):
            if "adjusted_ms" in res.get(name, {}):
                print(f"{name} adjusted: {res[name]['adjusted_ms']:.2f} ms")
    for name, ratio in ratios.items():
        print(f"{name}: {ratio:.3f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sworn", required=True, help="path to the sworn binary")
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--json", action="store_true")
    p.add_argument("--gap", type=float, default=0.0, help="seconds of idle before each subject's turn (see bench.py)")
    p.add_argument("--state-on-disk", action="store_true",
                   help="keep the runtimes' state roots on the temp dir's filesystem, not a tmpfs (see bench.py)")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("lifecycle.py must run as root")
    names = [n for n in ("sworn", "runc", "crun") if n == "sworn" or shutil.which(n)]
    base = Path(tempfile.mkdtemp(prefix="sworn-bench-lc-"))
    subjects = []
    unmount = lambda: None  # noqa: E731
    try:
        unmount = bench.state_tmpfs(base, args.state_on_disk)
        bundle = bench.make_bundle(base, {})
        runtimes = make_runtimes(names, bench.installed_copy(args.sworn, base), base, False)
        subjects = [Subject(rt, bundle, base) for rt in runtimes]
        if "crun" in names and crun_needs_wrapper():
            subjects.append(Subject(None, bundle, base))
        subjects.append(Subject(None, bundle, base, noop=True))
        with tempfile.TemporaryFile() as log:
            for s in subjects:
                s.start_sleeper(log)
            for i in range(args.warmup + args.iterations):
                for s in subjects:
                    bench.time.sleep(args.gap)
                    s.once(log, record=i >= args.warmup)
        modes = ("create+start+delete", "exec")
        report({m: {s.name: s.summary(m) for s in subjects} for m in modes}, args.json)
    finally:
        for s in subjects:
            s.cleanup()
        unmount()
        shutil.rmtree(base, ignore_errors=True)
    return 1 if any(s.failures for s in subjects) else 0


if __name__ == "__main__":
    sys.exit(main())
