#!/usr/bin/env python3
"""Measure what pledge denial reporting costs (issue #12 item 4): nothing, on
allowed system calls, is the claim.

    bench/pledge_report.py --sworn PATH [--iterations N] [--warmup N]
                           [--calls N] [--json]

Each program runs under three settings, interleaved round-robin in one
process so that they share machine noise:

  on    pledged ("stdio rpath"), denial reporting on (the default)
  off   pledged, reporting off: sworn.pledge.report=false / `pledge --no-report`
  none  not pledged

Programs and paths:

  run true     `sworn run` of the busybox `true` bundle
  run loop     `sworn run` of a static C loop, built here with `cc -static`,
               making N getppid() and N read(/dev/zero, 1) calls (all allowed
               by stdio rpath; N = --calls, default 200000)
  pledge loop  the same loop on the host, through `sworn pledge -p ...`
               (on: default; off: --no-report; none: the loop run directly)
  pledge true  the host's dynamic /bin/true through `sworn pledge`: with
               reporting on, its loader's rpath/prot_exec calls make a round
               trip to the reporter each (the startup window)

The loop also times itself (CLOCK_MONOTONIC around the loop, vDSO) and
prints ns per call, so its figure is the filter's cost per allowed call
without sworn's start-up. Wall time and peak RSS (GNU time, as bench.py;
it adds about a millisecond to every subject alike) are per process.
Ratios: on/off is what reporting costs, off/none what the pledge filter costs.

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
from pathlib import Path

import bench
from harness import make_runtimes  # bench.py put conformance/ on the path

PROMISES = "stdio rpath"
SETTINGS = ("on", "off", "none")
MARK = "sworn-bench-loop ns/call "

LOOP_SRC = r"""
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    int fd = open("/dev/zero", O_RDONLY);
    if (fd < 0) { perror("open /dev/zero"); return 1; }
    char c;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++)
        if (getppid() < 0 || read(fd, &c, 1) != 1) { perror("loop"); return 1; }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("sworn-bench-loop ns/call %.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (2.0 * n));
    return 0;
}
"""


def annotations(setting):
    if setting == "none":
        return {}
    ann = {"sworn.pledge.promises": PROMISES}
    if setting == "off":
        ann["sworn.pledge.report"] = "false"
    return ann


class Subject:
    """One (path, program, setting): `sworn run` of a bundle, or a host command."""

    def __init__(self, path, prog, setting, rt=None, bundle=None, argv=None):
        self.path, self.prog, self.setting = path, prog, setting
        self.name = f"{path} {prog} {setting}"
        self.rt, self.bundle, self.argv = rt, bundle, argv
        self.prefix = f"/sworn-bench-{os.getpid()}-{path}-{prog}-{setting}"
        self.times, self.rss, self.ns, self.failures, self.count = [], [], [], 0, 0

    def _argv(self):
        if self.rt is None:
            return self.argv, None
        self.count += 1
        cid = f"bench-{self.prog}-{self.setting}-{self.count}"
        config = json.loads((self.bundle / "config.json").read_text())
        config["linux"]["cgroupsPath"] = f"{self.prefix}/{cid}"
        (self.bundle / "config.json").write_text(json.dumps(config))
        return [*self.rt.prefix, "--root", str(self.rt.root), "run", "--bundle", str(self.bundle), cid], cid

    def once(self, log, record):
        if self.failures >= bench.MAX_FAILURES:
            return
        argv, cid = self._argv()
        log.seek(0)
        log.truncate()
        elapsed, rc, rss = bench.timed_spawn(argv, log)
        if cid:
            if (self.rt.root / cid).exists():
                self.rt("delete", "--force", cid)
            bench.remove_cgroup(f"{self.prefix}/{cid}")
        log.seek(0)
        out = log.read().decode(errors="replace")
        ns = [float(l.split(MARK, 1)[1]) for l in out.splitlines() if MARK in l]
        if rc != 0 or (self.prog == "loop" and not ns) or "pledge: denied" in out:
            self.failures += 1
            print(f"{self.name}: failed (exit {rc}): {out.strip()[-300:]!r}", file=sys.stderr)
            return
        if record:
            self.times.append(elapsed * 1000)
            self.rss.append(rss)
            self.ns.extend(ns)

    def remove_prefix(self):
        bench.remove_cgroup_prefix(self.prefix)

    def summary(self):
        s = bench.summarize(self.times, self.rss, self.failures)
        if self.times and self.ns:
            s["median_ns_per_call"] = round(statistics.median(self.ns), 1)
        return s


def build_loop(base):
    src = base / "loop.c"
    src.write_text(LOOP_SRC)
    out = base / "sworn-bench-loop"
    subprocess.run(["cc", "-O2", "-static", "-o", str(out), str(src)], check=True, timeout=120)
    return out


def make_subjects(base, sworn, calls):
    loop = build_loop(base)
    shared = base / "shared"
    shared.mkdir()
    bench.make_bundle(shared, {})  # the rootfs, shared by every bundle
    rootfs = shared / "rootfs"
    shutil.copy(loop, rootfs / "bin" / "sworn-bench-loop")
    rt = make_runtimes(["sworn"], sworn, base, False)[0]
    subjects = []
    for prog, args in (("true", ["/bin/true"]), ("loop", ["/bin/sworn-bench-loop", str(calls)])):
        for setting in SETTINGS:
            d = base / f"run-{prog}-{setting}"
            d.mkdir()
            config = json.loads((shared / "bundle" / "config.json").read_text())
            config["root"]["path"] = str(rootfs)
            config["process"]["args"] = args
            config["annotations"] = annotations(setting)
            (d / "config.json").write_text(json.dumps(config, indent=1))
            subjects.append(Subject("run", prog, setting, rt=rt, bundle=d))
    for prog, cmd in (("loop", [str(loop), str(calls)]), ("true", ["/bin/true"])):
        # --no-report first: the verb rewrites long options only ahead of the first operand-like word
        pledge = [sworn, "pledge", "-p", PROMISES]
        for setting, argv in (("on", [*pledge, "--", *cmd]),
                              ("off", [sworn, "pledge", "--no-report", "-p", PROMISES, "--", *cmd]),
                              ("none", cmd)):
            subjects.append(Subject("pledge", prog, setting, argv=argv))
    return subjects


def ratios_of(results):
    ratios = {}
    for key, by_setting in results.items():
        for metric in ("median_ms", "median_ns_per_call"):
            on, off, none = (by_setting.get(s, {}).get(metric) for s in SETTINGS)
            unit = "wall" if metric == "median_ms" else "ns/call"
            if on and off:
                ratios[f"{key} {unit} on/off"] = round(on / off, 3)
            if off and none:
                ratios[f"{key} {unit} off/none"] = round(off / none, 3)
    return ratios


def report(subjects, as_json):
    results = {}
    for s in subjects:
        results.setdefault(f"{s.path} {s.prog}", {})[s.setting] = s.summary()
    ratios = ratios_of(results)
    if as_json:
        print(json.dumps({"promises": PROMISES, "results": results, "ratios": ratios}, indent=1))
        return
    print(f"pledged: \"{PROMISES}\"; peak RSS from {'GNU time' if bench.GNU_TIME else 'os.wait4 (upper bound)'}")
    print(f"{'subject':<20}{'runs':>6}{'fail':>6}{'median ms':>11}{'p90 ms':>9}{'RSS KiB':>9}{'ns/call':>9}")
    for key, by_setting in results.items():
        for setting, r in by_setting.items():
            name = f"{key} {setting}"
            if not r["runs"]:
                print(f"{name:<20}{0:>6}{r['failures']:>6}  (no successful runs)")
                continue
            ns = f"{r['median_ns_per_call']:>9.1f}" if "median_ns_per_call" in r else ""
            print(f"{name:<20}{r['runs']:>6}{r['failures']:>6}{r['median_ms']:>11.2f}{r['p90_ms']:>9.2f}"
                  f"{r['peak_rss_kib']:>9}{ns}")
    for name, ratio in ratios.items():
        print(f"{name}: {ratio:.3f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sworn", required=True, help="path to the sworn binary")
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--calls", type=int, default=200000, help="getppid and read calls each in the loop")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("pledge_report.py must run as root")
    if not shutil.which("cc"):
        sys.exit("pledge_report.py needs cc (and static glibc, libc6-dev) for the loop")
    base = Path(tempfile.mkdtemp(prefix="sworn-bench-pr-"))
    subjects = []
    try:
        subjects = make_subjects(base, bench.installed_copy(args.sworn, base), args.calls)
        with tempfile.TemporaryFile() as log:
            for i in range(args.warmup + args.iterations):
                for s in subjects:
                    s.once(log, record=i >= args.warmup)
        report(subjects, args.json)
    finally:
        for s in subjects:
            if s.rt:
                s.remove_prefix()
        shutil.rmtree(base, ignore_errors=True)
    return 1 if any(s.failures for s in subjects) else 0


if __name__ == "__main__":
    sys.exit(main())
