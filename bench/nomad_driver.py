#!/usr/bin/python3
"""Benchmark nomad-driver-sworn: StartTask latency next to bare `sworn` on the
same bundle, and the plugin's and the supervisors' memory.

    /usr/bin/python3 bench/nomad_driver.py [--plugin PATH] [--sworn PATH]
        [--proto-dir DIR] [--iterations N] [--warmup N] [--tasks N] [--json]

Needs root, Debian's /usr/bin/python3 (grpcio, protobuf) and protoc, as the
Nomad harness in tests/nomad does; it drives the plugin through that harness
(nomadlib: launch, handshake, gRPC client; nomadhost: alloc dirs, log FIFOs).

Latency, interleaved round-robin so that every subject shares machine noise:

  driver StartTask          the gRPC StartTask call of a /bin/sleep task, each
                            in a fresh alloc, until it returns (the driver
                            returns once the task's process has started);
                            StopTask + DestroyTask after it, not timed
  sworn run (true)          bare `sworn --root R run --bundle B ID` of a copy
                            of the bundle the driver generated
                            (<alloc_dir>/<task>/sworn), process.args /bin/true,
                            spawn to reap
  sworn create+start        the same copy with /bin/sleep: `create`, then
                            `start` (until it returns: the process is running)
  supervisor argv           the exact command the driver spawns per task
                            (`run --log --exit-file --ready-fd 3`, /bin/sleep),
                            until the ready byte: StartTask minus the driver
  driver ExecTask (true)    ExecTask of /bin/true in one running task: a whole
                            exec session (its cgroup, `sworn exec`, cleanup)

Bare runs use unique ids and the driver's cgroupsPath prefix
(/sworn-bench-<pid>/<id>), stdin a closed pipe, output to a file.

Memory: VmRSS and VmHWM of the plugin process idle (after SetConfig, with
the Fingerprint and TaskEvents streams open as the client keeps them), with
--tasks /bin/sleep tasks running, then with the WaitTask call and TaskStats
stream per task that the Nomad client holds open, and after they are
destroyed; each task's supervisor (its `sworn run`, pid from the handle's
driver_state) by VmRSS and by PSS (smaps_rollup; shared pages divided).

Everything runs under a temp dir (plugin state_dir, alloc dirs, bare state
root) and the cgroup parent /sworn-bench-<pid>, removed at the end.  Run it on
a quiet machine: not while tests/nomad/test_driver.py or a build runs.
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "nomad"))
sys.path.insert(0, str(REPO / "conformance"))
import grpc  # noqa: E402

import nomadlib as nl  # noqa: E402
from harness import kill_group  # noqa: E402

TIMEOUT = 20.0  # seconds per bare sworn command; --timeout changes it
MAX_FAILURES = 3  # a subject failing this often is dropped from the rest of the bench
SLEEP = ["/bin/sleep", "1000"]


# ---------------------------------------------------------------- small helpers

def ms_summary(times, failures):
    if not times:
        return {"runs": 0, "failures": failures}
    ordered = sorted(times)
    return {"runs": len(ordered), "failures": failures,
            "median_ms": round(statistics.median(ordered), 2),
            "p90_ms": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 2),
            "times_ms": [round(t, 2) for t in times]}


def proc_status(pid):
    """{VmRSS, VmHWM, RssAnon, Threads} of a process, in KiB (Threads a count)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "Threads"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def proc_pss(pid):
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def busy():
    """What would disturb the numbers: the nomad suite or a build."""
    found = []
    for needle in ("test_driver.py", "ninja", "cc1plus"):
        if nl.pids_matching(cmdline=needle):
            found.append(needle)
    return found


def spawn(argv, log, extra_fds=()):
    """posix_spawn argv in its own session, stdin a closed pipe, output to log;
    extra_fds are (fd, target) dup2s.  Returns (pid, timer) -- the timer kills
    the process group after TIMEOUT."""
    rd, wr = os.pipe()
    actions = [(os.POSIX_SPAWN_DUP2, rd, 0), (os.POSIX_SPAWN_DUP2, log.fileno(), 1),
               (os.POSIX_SPAWN_DUP2, log.fileno(), 2)]
    actions += [(os.POSIX_SPAWN_DUP2, fd, target) for fd, target in extra_fds]
    pid = os.posix_spawn(argv[0], argv, os.environ, setsid=True, file_actions=actions)
    os.close(rd)
    os.close(wr)
    timer = threading.Timer(TIMEOUT, kill_group, (pid,))
    timer.start()
    return pid, timer


def reap(pid, timer):
    """Exit code, or None if the timer had to kill it."""
    _, status = os.waitpid(pid, 0)
    timed_out = not timer.is_alive()
    timer.cancel()
    return None if timed_out else os.waitstatus_to_exitcode(status)


def run_quiet(argv, log):
    pid, timer = spawn(argv, log)
    return reap(pid, timer)


def tail(log):
    log.seek(0)
    lines = log.read().decode(errors="replace").strip().splitlines()
    return f": {lines[-1][:200]}" if lines else ""


# ---------------------------------------------------------------- the driver side

class Driver:
    """One configured plugin instance, as the Nomad client holds it."""

    def __init__(self, args, base, cgroup_parent):
        self.args, self.base, self.cgroup_parent = args, base, cgroup_parent
        self.pb = nl.PB(args.proto_dir, base / "pb")
        self.state_dir = base / "state"
        self.allocs, self.live, self.streams = [], {}, []  # live: task id -> (alloc, handle)
        self.plugin = nl.Plugin(args.plugin)
        try:
            self.plugin.handshake()
            self.client = nl.Client(self.plugin, self.pb)
            pfields = nl.spec_fields(self.client.config_schema().spec)
            self.client.set_config(nl.encode_config(pfields, {
                "sworn_path": args.sworn, "state_dir": str(self.state_dir), "cgroup_parent": cgroup_parent}))
            self.tfields = nl.spec_fields(self.client.task_config_schema().spec)
        except Exception:
            self.plugin.kill()
            raise
        self.streams = [self.client.fingerprint(), self.client.task_events()]
        self.task_config = nl.encode_config(self.tfields, {"command": SLEEP[0], "args": SLEEP[1:]})

    def new_task(self):
        alloc = nl.Alloc(self.base / "data", "bench", job="bench")
        self.allocs.append(alloc)
        return alloc, alloc.task_config(self.pb, self.task_config)

    def start(self, alloc, tc):
        """Timed StartTask; returns (ms, handle)."""
        start = time.perf_counter()
        resp = self.client.start_task(tc)
        elapsed = (time.perf_counter() - start) * 1000
        self.live[tc.id] = (alloc, resp.handle)
        return elapsed, resp.handle

    def finish(self, task_id, close_alloc=True):
        alloc, _ = self.live.pop(task_id, (None, None))
        for fn in (lambda: self.client.stop_task(task_id, 1, "SIGKILL", rpc_timeout=20),
                   lambda: self.client.destroy_task(task_id, True)):
            try:
                fn()
            except (grpc.RpcError, ValueError):
                pass
        if alloc and close_alloc:
            alloc.close()
            self.allocs.remove(alloc)

    def rss(self):
        return proc_status(self.plugin.pid)

    def close(self):
        for task_id in list(self.live):
            self.finish(task_id, close_alloc=False)
        for s in self.streams:
            s.cancel()
        self.plugin.shutdown()
        if self.plugin.addr and Path(self.plugin.addr).exists():
            Path(self.plugin.addr).unlink()
        for alloc in self.allocs:
            alloc.close()


def supervisor_of(handle):
    return json.loads(handle.driver_state)["supervisor_pid"]


# ---------------------------------------------------------------- the bare sworn side

class Bare:
    """Bare sworn on copies of the driver's bundle."""

    def __init__(self, args, base, cgroup_parent, driver_bundle):
        self.sworn, self.cgroup_parent = args.sworn, cgroup_parent
        self.root = base / "bare-root"
        self.root.mkdir()
        self.dir = base / "bare"
        self.bundles = {}
        for name, argv in (("true", ["/bin/true"]), ("sleep", SLEEP)):
            b = self.dir / name
            shutil.copytree(driver_bundle, b, symlinks=True, ignore=shutil.ignore_patterns("exit.json", "sworn.log"))
            config = json.loads((b / "config.json").read_text())
            config["process"]["args"] = argv
            self.bundles[name] = (b, config)
        self.count = 0

    def prepare(self, name, tag):
        """A unique id and the bundle's config.json rewritten for its cgroupsPath."""
        self.count += 1
        cid = f"bench-{tag}-{self.count}"
        bundle, config = self.bundles[name]
        config["linux"]["cgroupsPath"] = f"{self.cgroup_parent}/{cid}"
        (bundle / "config.json").write_text(json.dumps(config, indent=2))
        return bundle, cid

    def cmd(self, *args):
        return [self.sworn, "--root", str(self.root), *args]

    def delete(self, cid, log):
        if (self.root / cid).exists():
            run_quiet(self.cmd("delete", "--force", cid), log)

    def run_true(self, log):
        bundle, cid = self.prepare("true", "run")
        start = time.perf_counter()
        rc = run_quiet(self.cmd("run", "--bundle", str(bundle), cid), log)
        elapsed = (time.perf_counter() - start) * 1000
        self.delete(cid, log)
        return elapsed, rc

    def create_start(self, log):
        bundle, cid = self.prepare("sleep", "cs")
        start = time.perf_counter()
        rc = run_quiet(self.cmd("create", "--bundle", str(bundle), cid), log)
        if rc == 0:
            rc = run_quiet(self.cmd("start", cid), log)
        elapsed = (time.perf_counter() - start) * 1000
        if rc == 0:  # not timed: is it running?
            st = subprocess.run(self.cmd("state", cid), capture_output=True, text=True, timeout=TIMEOUT)
            status = json.loads(st.stdout).get("status") if st.returncode == 0 else st.stderr.strip()
            if status != "running":
                rc = f"status {status!r} after start"
        self.delete(cid, log)
        return elapsed, rc

    def supervisor(self, log):
        """The driver's SpawnSupervisor argv, timed until its ready byte."""
        bundle, cid = self.prepare("sleep", "sup")
        exit_file, log_file = self.dir / f"{cid}.exit.json", self.dir / f"{cid}.log"
        argv = self.cmd("--log", str(log_file), "--log-format", "json", "run", "--bundle", str(bundle),
                        "--exit-file", str(exit_file), "--ready-fd", "3", cid)
        ready_r, ready_w = os.pipe()
        start = time.perf_counter()
        pid, timer = spawn(argv, log, [(ready_w, 3)])
        os.close(ready_w)
        got = os.read(ready_r, 1)
        elapsed = (time.perf_counter() - start) * 1000
        os.close(ready_r)
        rc = 0 if got == b"1" else "no ready byte"
        run_quiet(self.cmd("kill", cid, "SIGKILL"), log)
        code = reap(pid, timer)
        if got != b"1":
            rc = f"no ready byte (exit {code})"
        self.delete(cid, log)
        return elapsed, rc


# ---------------------------------------------------------------- the bench

class Subject:
    def __init__(self, name, fn):
        self.name, self.fn, self.times, self.failures = name, fn, [], 0

    def once(self, log, record):
        if self.failures >= MAX_FAILURES:
            return
        log.seek(0)
        log.truncate()
        try:
            elapsed, rc = self.fn(log)
        except (grpc.RpcError, OSError) as e:
            elapsed, rc = 0, f"{type(e).__name__}: {e}"
        if rc != 0:
            self.failures += 1
            print(f"{self.name}: failed ({rc}){tail(log)}"
                  + ("; giving up on it" if self.failures == MAX_FAILURES else ""), file=sys.stderr)
        elif record:
            self.times.append(elapsed)


def latency(args, driver, bare):
    def driver_start(_log):
        alloc, tc = driver.new_task()
        elapsed, handle = driver.start(alloc, tc)
        # StartTask returns once the init is released to exec (as `runc start`
        # does): the task's environment shows a moment later.
        rc = 0 if nl.pid_alive(supervisor_of(handle)) and nl.wait_until(lambda: nl.alloc_pids(alloc.id), 2) \
            else "no task process"
        driver.finish(tc.id)
        return elapsed, rc

    # ExecTask of /bin/true in one long-running task: a whole exec session
    # (session cgroup, sworn exec, reap, cgroup removed) per call.
    exec_alloc, exec_tc = driver.new_task()
    driver.start(exec_alloc, exec_tc)

    def driver_exec(_log):
        start = time.perf_counter()
        r = driver.client.exec_task(exec_tc.id, ["/bin/true"])
        return (time.perf_counter() - start) * 1000, r.result.exit_code

    subjects = [Subject("driver StartTask (sleep)", driver_start),
                Subject("sworn run (true)", bare.run_true),
                Subject("sworn create+start (sleep)", bare.create_start),
                Subject("supervisor argv until ready (sleep)", bare.supervisor),
                Subject("driver ExecTask (true)", driver_exec)]
    try:
        with tempfile.TemporaryFile() as log:
            for i in range(args.warmup + args.iterations):
                for s in subjects:
                    s.once(log, record=i >= args.warmup)
    finally:
        driver.finish(exec_tc.id)
    return {s.name: ms_summary(s.times, s.failures) for s in subjects}


def memory(args, driver, idle):
    out = {"plugin idle": idle, "plugin after the latency loop": driver.rss()}
    started, times = [], []
    for _ in range(args.tasks):
        alloc, tc = driver.new_task()
        elapsed, handle = driver.start(alloc, tc)
        times.append(elapsed)
        started.append((tc.id, handle))
    time.sleep(1)
    out[f"plugin with {args.tasks} tasks"] = driver.rss()
    sups = {}
    for task_id, handle in started:
        pid = supervisor_of(handle)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes() if nl.pid_alive(pid) else b""
        if str(driver.state_dir).encode() not in cmdline:
            print(f"supervisor {pid} of {task_id} is gone or not a sworn run of this plugin", file=sys.stderr)
            continue
        sups[pid] = (proc_status(pid).get("VmRSS", 0), proc_pss(pid))
    waits = [driver.client.wait_task(task_id, timeout=600, future=True) for task_id, _ in started]
    stats = [driver.client.task_stats(task_id, 1.0) for task_id, _ in started]
    time.sleep(3)
    streams = f"plugin with {args.tasks} tasks + WaitTask and TaskStats each"
    out[streams] = driver.rss()
    out[streams]["stats_streams_delivering"] = sum(1 for s in stats if s.items)
    for task_id, _ in started:
        driver.finish(task_id)
    for s in stats:
        s.cancel()
    for w in waits:
        try:
            w.result(timeout=20)
        except grpc.RpcError:
            pass
    time.sleep(1)
    out[f"plugin after the {args.tasks} are destroyed"] = driver.rss()
    rss = sorted(v[0] for v in sups.values())
    pss = [v[1] for v in sups.values()]
    out["supervisors"] = {"count": len(sups), "rss_median_kib": statistics.median(rss) if rss else 0,
                          "rss_sum_kib": sum(rss), "pss_median_kib": statistics.median(pss) if pss else 0,
                          "pss_sum_kib": sum(pss)}
    k = min(10, len(times))
    out["starttask_while_filling"] = {f"first {k}": ms_summary(times[:k], 0), f"last {k}": ms_summary(times[-k:], 0)}
    return out


def report(lat, mem, args, as_json):
    drv = lat["driver StartTask (sleep)"].get("median_ms")
    ratios = {}
    for name in ("sworn run (true)", "sworn create+start (sleep)", "supervisor argv until ready (sleep)"):
        m = lat[name].get("median_ms")
        if drv and m:
            ratios[f"StartTask / {name}"] = round(drv / m, 3)
    if as_json:
        print(json.dumps({"latency": lat, "ratios": ratios, "memory": mem}, indent=1))
        return
    print("| subject | runs | fail | median ms | p90 ms | StartTask ÷ subject |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in lat.items():
        ratio = ratios.get(f"StartTask / {name}")
        if r["runs"]:
            print(f"| {name} | {r['runs']} | {r['failures']} | {r['median_ms']:.2f} | {r['p90_ms']:.2f} | "
                  f"{f'{ratio:.2f}×' if ratio else ''} |")
        else:
            print(f"| {name} | 0 | {r['failures']} | – | – | |")
    for which, fill in mem["starttask_while_filling"].items():
        if fill["runs"]:
            print(f"| driver StartTask while filling to {args.tasks} tasks: the {which} | {fill['runs']} | 0 | "
                  f"{fill['median_ms']:.2f} | {fill['p90_ms']:.2f} | |")
    print()
    print("| process | VmRSS KiB | VmHWM KiB | RssAnon KiB | threads |")
    print("|---|---:|---:|---:|---:|")
    for name, st in mem.items():
        if name.startswith("plugin"):
            print(f"| {name} | {st.get('VmRSS', 0)} | {st.get('VmHWM', 0)} | {st.get('RssAnon', 0)} | "
                  f"{st.get('Threads', 0)} |")
    sup = mem["supervisors"]
    print(f"| supervisor (`sworn run`) per task, median of {sup['count']} | {sup['rss_median_kib']:.0f} | | | |")
    print(f"| supervisors, sum of {sup['count']} | {sup['rss_sum_kib']} | | | |")
    print(f"| supervisors by PSS: median / sum | {sup['pss_median_kib']:.0f} / {sup['pss_sum_kib']} | | | |")


def remove_cgroups(parent):
    """Kill what is left below /sys/fs/cgroup/*/<parent> and rmdir it, deepest first.
    Returns the dirs that survive."""
    for _ in range(30):
        dirs = sorted(nl.cgroup_tree(parent), key=lambda p: -p.count("/"))
        if not dirs:
            return []
        for d in dirs:
            try:
                for pid in Path(d, "cgroup.procs").read_text().split():
                    nl.kill(int(pid))
            except OSError:
                pass
        for d in dirs:
            try:
                os.rmdir(d)
            except OSError:
                pass
        time.sleep(0.1)
    return sorted(nl.cgroup_tree(parent))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--plugin", default=str(REPO / "build" / "nomad-driver-sworn"), help="the nomad-driver-sworn binary")
    p.add_argument("--sworn", default=str(REPO / "build" / "sworn"), help="the sworn binary (plugin sworn_path)")
    p.add_argument("--proto-dir", default=str(REPO / "schemas" / "proto"))
    p.add_argument("--iterations", type=int, default=30, help="timed runs per subject (default 30)")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs per subject first (default 3)")
    p.add_argument("--tasks", type=int, default=50, help="concurrent tasks for the memory figures (default 50)")
    p.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds allowed per bare sworn command")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    return p.parse_args()


def main():
    global TIMEOUT
    args = parse_args()
    TIMEOUT = args.timeout
    if os.geteuid() != 0:
        sys.exit("nomad_driver.py must run as root")
    args.plugin, args.sworn = os.path.abspath(args.plugin), os.path.abspath(args.sworn)
    for path in (args.plugin, args.sworn):
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} is not an executable (build it first)")
    if busy():
        print(f"warning: {', '.join(busy())} running; the numbers will be noisy", file=sys.stderr)
    base = Path(tempfile.mkdtemp(prefix="sworn-bench-nomad-"))
    cgroup_parent = f"/sworn-bench-{os.getpid()}"
    for sub in ("state", "data", "pb"):
        (base / sub).mkdir()
    driver = bare = None
    problems = []
    try:
        driver = Driver(args, base, cgroup_parent)
        time.sleep(1)
        idle = driver.rss()
        # One task first, for the bundle the bare runs copy; its alloc stays
        # open (the copies bind-mount its alloc/, local/ and secrets/).
        alloc, tc = driver.new_task()
        _, handle = driver.start(alloc, tc)
        bare = Bare(args, base, cgroup_parent, Path(json.loads(handle.driver_state)["bundle_dir"]))
        driver.finish(tc.id, close_alloc=False)
        lat = latency(args, driver, bare)
        mem = memory(args, driver, idle)
        report(lat, mem, args, args.json)
        if busy():
            print(f"warning: {', '.join(busy())} running at the end", file=sys.stderr)
        failed = any(r["failures"] for r in lat.values())
    finally:
        if driver:
            try:
                driver.close()
            except Exception as e:  # noqa: BLE001 -- cleanup must go on
                problems.append(f"closing the plugin: {e!r}")
        if bare:
            with tempfile.TemporaryFile() as log:
                for cid in os.listdir(bare.root):
                    bare.delete(cid, log)
        stray = nl.pids_matching(cmdline=str(base))
        for pid in stray:
            nl.kill(pid)
        if stray:
            problems.append(f"killed leftover processes naming {base}: {sorted(stray)}")
        left = remove_cgroups(cgroup_parent)
        if left:
            problems.append(f"cgroups left: {left}")
        nl.remove_workdir(base)
        mounts = [m.split()[1] for m in Path("/proc/self/mounts").read_text().splitlines()
                  if m.split()[1].startswith(str(base))]
        if mounts or base.exists():
            problems.append(f"left behind: {mounts or base}")
    for msg in problems:
        print(f"cleanup: {msg}", file=sys.stderr)
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
