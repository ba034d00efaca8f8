#!/usr/bin/python3
"""Drives nomad-driver-sworn exactly as a Nomad 1.6 client would
(shared/reference/nomad-driver-protocol.md) and checks what comes back.

    /usr/bin/python3 tests/nomad/test_driver.py --plugin PATH --sworn PATH \
        --proto-dir schemas/proto [-k SUBSTR] [--keep]

Needs root, Debian's python3 (grpcio, protobuf), protoc, busybox-static.
Scenarios run in the fact sheet's order against one long-lived plugin
instance (plus the short fingerprint/validation launches and, for recovery,
a second instance); one PASS/FAIL/SKIP line each; exit 1 on any failure.
Everything runs under a temp dir (driver state_dir, alloc dirs) and the
cgroup parent /sworn-nomadtest-<pid>, removed at the end.
"""
import argparse
import os
import re
import sys
import time
import traceback
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import cty  # noqa: E402
import verdicts  # noqa: E402
from verdicts import Abort  # noqa: E402
import nomadlib as nl  # noqa: E402
import driver_cases  # noqa: E402
import driver_cases_more  # noqa: E402
import driver_cases_recovery  # noqa: E402
import driver_cases_config  # noqa: E402
import driver_cases_exec  # noqa: E402
import driver_cases_v17  # noqa: E402
import driver_cases_init  # noqa: E402
import driver_cases_pledge  # noqa: E402




Skip = nl.Skip


class Case(verdicts.Verdicts):
    def rpc_ok(self, fn, what):
        """Calls fn(); a gRPC error fails the case and aborts it."""
        try:
            return fn()
        except grpc.RpcError as e:
            self.require(False, f"{what}: {e.code().name}: {e.details()}")

    def rpc_err(self, fn, what, names=()):
        """fn() must fail with a clear gRPC status (not UNAVAILABLE) whose message
        mentions every string in names; returns the error or None."""
        try:
            fn()
        except grpc.RpcError as e:
            self.expect(e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.OK),
                        f"{what}: status {e.code().name} (UNAVAILABLE means 'plugin gone' to Nomad)")
            for n in names:
                self.expect(n in (e.details() or ""), f"{what}: message {e.details()!r} does not name {n!r}")
            return e
        self.fail(f"{what}: succeeded, expected an error")
        return None


class Run:
    """A task as the client's task runner holds it."""

    def __init__(self, alloc, tc):
        self.alloc, self.tc, self.id, self.handle = alloc, tc, tc.id, None


class Suite:
    def __init__(self, args):
        self.args = args
        self.base = nl.make_workdir()
        self.cgroup_parent = f"/{nl.CGROUP_PREFIX}{os.getpid()}"
        self.plugin_values = {"sworn_path": args.sworn, "state_dir": str(self.base / "state"),
                              "cgroup_parent": self.cgroup_parent}
        # the client's own cgroup_parent is a different one from the driver's
        self.cpuset = "" if args.no_cpuset else nl.shared_cpuset(self.cgroup_parent + "-nomad")
        self.pb = None
        self.plugins, self.runs = [], []
        self.plugin = self.client = None
        self.pfields = self.tfields = None
        self.streams = {}

    def launch(self):
        p = nl.Plugin(self.args.plugin)
        self.plugins.append(p)
        p.handshake()
        return p, nl.Client(p, self.pb)

    def plugin_config(self, **over):
        return nl.encode_config(self.pfields, dict(self.plugin_values, **over))

    def task(self, t, name, command, args=None, memory_mb=300, env=None, validate=True, raw=None, **cfg):
        """A new alloc + TaskConfig; cfg are task config keys (None = unset)."""
        t.require(self.tfields, "no task config schema")
        values = dict(cfg, **({"command": command} if command is not None else {}))
        if args is not None:
            values["args"] = args
        mp = raw if raw is not None else nl.encode_config(self.tfields, values, validate)
        alloc = nl.Alloc(self.base / "data", name)
        run = Run(alloc, alloc.task_config(self.pb, mp, memory_mb=memory_mb, env=env, cpuset_cgroup=self.cpuset))
        self.runs.append(run)
        return run

    def start(self, t, run):
        t.require(self.client, "no running plugin instance")
        resp = t.rpc_ok(lambda: self.client.start_task(run.tc), f"StartTask {run.alloc.task}")
        run.handle = resp.handle
        return resp

    def started(self, t, name, command, args=None, **kw):
        run = self.task(t, name, command, args, **kw)
        self.start(t, run)
        return run

    def wait(self, t, run, timeout=30):
        resp = t.rpc_ok(lambda: self.client.wait_task(run.id, timeout=timeout), f"WaitTask {run.alloc.task}")
        t.require(resp.HasField("result"), "WaitTaskResponse.result unset (the 1.6 client dereferences it)")
        return resp

    def finish(self, run):
        """StopTask + DestroyTask as the task runner does when it is done."""
        if self.client and run.id:
            for fn in (lambda: self.client.stop_task(run.id, 1, "SIGKILL", rpc_timeout=20),
                       lambda: self.client.destroy_task(run.id, True)):
                try:
                    fn()
                except (grpc.RpcError, ValueError):  # ValueError: channel already closed
                    pass

    def close(self):
        """Finish every task through the driver, then force away whatever is left;
        returns what had to be forced (the driver should have removed it)."""
        problems = []

        def step(fn):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 -- cleanup must go on
                problems.append(f"cleanup step failed: {e!r}")

        def reap(run):
            left = nl.alloc_pids(run.alloc.id)
            if left:
                problems.append(f"task processes of {run.alloc.task} survive Stop/DestroyTask: {sorted(left)}")
            for pid in left:
                nl.kill(pid)

        for run in self.runs:
            step(lambda: self.finish(run))
        for p in self.plugins:
            step(p.kill)
        for run in self.runs:
            step(lambda: reap(run))
            step(run.alloc.close)
        stray = nl.pids_matching(cmdline=str(self.base))
        if stray:
            problems.append(f"processes naming {self.base} survive the plugin: {sorted(stray)}")
        for pid in stray:
            nl.kill(pid)
        left = nl.remove_test_cgroups(self.cgroup_parent.strip("/"))
        if left:
            problems.append(f"cgroups could not be removed: {left}")
        if self.args.keep:
            print(f"kept {self.base}")
        else:
            step(lambda: nl.remove_workdir(self.base))
        return problems


# ---------------------------------------------------------------- launch and configuration (§5.0 order)

PLUGIN_KEYS = {"sworn_path", "state_dir", "chroot_env", "allow_caps", "default_pid_mode", "default_ipc_mode",
               "allow_host_pid", "allow_host_ipc", "cgroup_parent", "default_user"}
TASK_KEYS = {"command", "args", "promises", "unveil", "unveil_tcp", "importance", "penalty", "cap_add", "cap_drop",
             "pid_mode", "ipc_mode", "init", "work_dir", "filesystem"}
GO_VERSION = r"^v?\d+(\.\d+)*(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"


def launch(t, s, what):
    try:
        return s.launch()
    except (nl.HandshakeError, grpc.FutureTimeoutError) as e:
        t.require(False, f"{what} launch: {e}")


def shutdown(t, p, what):
    t.expect(p.shutdown(), f"{what}: plugin still running 2 s after GRPCController.Shutdown (Nomad SIGKILLs it)")
    t.expect(not Path(p.addr).exists(), f"{what}: socket {p.addr} left behind after exit")


def case_handshake(t, s):
    p = nl.Plugin(s.args.plugin, cookie=None)
    s.plugins.append(p)
    try:
        rc = p.proc.wait(10)
    except Exception:  # noqa: BLE001
        rc = None
    p._got_line.wait(2)
    t.expect(rc == 1, f"without the magic cookie the plugin exited {rc}, want 1")
    t.expect(not (p.first_line or b"").startswith(b"1|"), f"handshake printed without a cookie: {p.first_line!r}")
    t.expect(p.stderr_lines, "without the magic cookie: no message on stderr")
    p.kill()
    p, c = launch(t, s, "fingerprint")
    s.fp_launch = (p, c)
    fields = p.first_line.decode().rstrip("\n").split("|")
    if len(fields) < 6:
        t.note(f"handshake has no 6th (server cert) field: {p.first_line!r} (Go servers print a trailing '|')")
    t.expect(c.health() == 1, "grpc.health.v1.Health/Check('plugin') is not SERVING")


def case_PluginInfo(t, s):
    t.require(getattr(s, "fp_launch", None), "no fingerprint launch")
    r = t.rpc_ok(lambda: s.fp_launch[1].plugin_info(), "PluginInfo")
    t.expect(r.type == 2, f"type {r.type}, want DRIVER (2)")
    t.expect(r.name == "sworn", f"name {r.name!r}, want 'sworn'")
    t.expect("v0.1.0" in r.plugin_api_versions, f"plugin_api_versions {list(r.plugin_api_versions)} lacks v0.1.0")
    t.expect(re.match(GO_VERSION, r.plugin_version), f"plugin_version {r.plugin_version!r} is not a go-version")


def case_ConfigSchema(t, s):
    t.require(getattr(s, "fp_launch", None), "no fingerprint launch")
    p, c = s.fp_launch
    r = t.rpc_ok(c.config_schema, "ConfigSchema")
    t.require(r.HasField("spec"), "ConfigSchema returned no spec")
    s.pfields = nl.spec_fields(r.spec)
    keys = set(s.pfields)
    t.expect(PLUGIN_KEYS <= keys, f"plugin config keys {sorted(keys)} lack {sorted(PLUGIN_KEYS - keys)}")
    if keys - PLUGIN_KEYS:
        t.note(f"extra plugin config keys {sorted(keys - PLUGIN_KEYS)}")
    for k, (kind, _ty, required, default) in s.pfields.items():
        t.expect(not required, f"plugin config key {k} is required (all are optional)")
        if default is not None:
            try:
                nl.hcl_literal(default)
            except ValueError:
                t.fail(f"default of {k} is not an HCL literal: {default!r} (strings must be quoted)")
    shutdown(t, p, "fingerprint launch")


def case_SetConfig(t, s):
    t.require(s.pfields, "no plugin config schema")
    p, c = launch(t, s, "validation")
    cfg = s.plugin_config()
    for i in (1, 2):
        t.rpc_ok(lambda: c.set_config(cfg, nomad=False), f"validation SetConfig #{i}")
    t.rpc_ok(lambda: c.set_config(b"", nomad=False), "SetConfig with empty msgpack_config")
    t.rpc_err(lambda: c.set_config(b"\xc1\x00", nomad=False), "SetConfig with malformed msgpack")
    shutdown(t, p, "validation launch")
    p, c = launch(t, s, "real instance")
    t.rpc_ok(lambda: c.set_config(cfg), "SetConfig with nomad_config")
    s.plugin, s.client = p, c


def case_Fingerprint(t, s):
    t.require(s.client, "no configured plugin instance")
    start = time.monotonic()
    fp, ev = s.client.fingerprint(), s.client.task_events()
    s.streams = {"Fingerprint": fp, "TaskEvents": ev}
    t.require(fp.wait_count(1, 5), f"no first FingerprintResponse within 5 s (error {fp.error})")
    took, r = fp.items[0][0] - start, fp.items[0][1]
    t.expect(took < 2, f"first fingerprint took {took:.1f}s (should be immediate)")
    t.expect(r.health == 2, f"health {r.health} ({r.health_description!r}), want HEALTHY")
    t.expect("driver.sworn.version" in r.attributes, f"attributes {sorted(r.attributes)} lack driver.sworn.version")
    for k, a in r.attributes.items():
        t.expect(a.WhichOneof("value"), f"attribute {k} has no value (Nomad deletes it)")
    time.sleep(1)
    for name, st in s.streams.items():
        t.expect(not st.done, f"{name} stream ended on its own ({st.error}); Nomad re-opens it in a hot loop")


def case_Capabilities(t, s):
    t.require(s.client, "no configured plugin instance")
    cap = t.rpc_ok(s.client.capabilities, "Capabilities").capabilities
    d = s.pb.drv
    t.expect(cap.send_signals and cap.exec, f"send_signals={cap.send_signals} exec={cap.exec}, want both")
    t.expect(cap.fs_isolation == d.DriverCapabilities.IMAGE, f"fs_isolation {cap.fs_isolation}, want IMAGE")
    modes = set(cap.network_isolation_modes)
    t.expect(modes == {d.NetworkIsolationSpec.HOST, d.NetworkIsolationSpec.GROUP},
             f"network modes {sorted(modes)}, want HOST and GROUP")
    t.expect(cap.mount_configs == d.DriverCapabilities.ANY_MOUNTS, f"mount_configs {cap.mount_configs}, want ANY")
    t.expect(not cap.must_create_network and not cap.remote_tasks, "must_create_network/remote_tasks set")


def case_TaskConfigSchema(t, s):
    t.require(s.client, "no configured plugin instance")
    r = t.rpc_ok(s.client.task_config_schema, "TaskConfigSchema")
    t.require(r.HasField("spec"), "TaskConfigSchema returned no spec")
    s.tfields = nl.spec_fields(r.spec)
    keys = set(s.tfields)
    t.expect(TASK_KEYS <= keys, f"task config keys {sorted(keys)} lack {sorted(TASK_KEYS - keys)}")
    if keys - TASK_KEYS:
        t.note(f"extra task config keys {sorted(keys - TASK_KEYS)}")
    t.expect(s.tfields.get("command", (0, 0, False))[2], "command is not required")
    req = sorted(k for k, f in s.tfields.items() if f[2] and k != "command")
    t.expect(not req, f"keys other than command are required: {req}")
    fs = s.tfields.get("filesystem")
    t.expect(fs and fs[3] and nl.hcl_literal(fs[3]) == "image", f"filesystem default {fs and fs[3]!r}, want \"image\"")


SETUP = [("handshake", case_handshake), ("PluginInfo", case_PluginInfo), ("ConfigSchema", case_ConfigSchema),
         ("SetConfig", case_SetConfig), ("Fingerprint", case_Fingerprint), ("Capabilities", case_Capabilities),
         ("TaskConfigSchema", case_TaskConfigSchema)]


def run_case(name, fn, suite):
    t = Case(name)
    skipped, start = None, time.monotonic()
    try:
        fn(t, suite)
    except Abort:
        pass
    except Skip as e:
        skipped = str(e)
    except Exception:  # noqa: BLE001 -- a harness bug is a failure, not a crash
        t.fail("exception:\n" + traceback.format_exc())
    return verdicts.report(t, time.monotonic() - start, skipped)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--plugin", required=True, help="the nomad-driver-sworn binary")
    p.add_argument("--sworn", required=True, help="the sworn binary (plugin config sworn_path)")
    p.add_argument("--proto-dir", default=str(Path(__file__).resolve().parents[2] / "schemas/proto"))
    p.add_argument("-k", dest="select", help="run only scenarios whose name contains this (setup always runs)")
    p.add_argument("--no-cpuset", action="store_true",
                   help="leave linux_resources.cpuset_cgroup empty (Nomad 1.6 on cgroup v1 sets <parent>/shared)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("test_driver.py must run as root")
    args.plugin, args.sworn = os.path.abspath(args.plugin), os.path.abspath(args.sworn)
    problems = cty.selftest()
    print(("FAIL" if problems else "PASS") + " cty_encoder", flush=True)
    for msg in problems:
        print("    - " + msg)
    suite = Suite(args)
    outcomes = ["FAIL" if problems else "PASS"]
    try:
        suite.pb = nl.PB(args.proto_dir, suite.base / "pb")
        *body, last = driver_cases.CASES
        assert last[0] == "streams_and_logs"  # it shuts the plugin down: the more cases go before it
        cases = [(n, f, True) for n, f in SETUP] + [(n, f, False) for n, f in body + driver_cases_more.CASES + driver_cases_config.CASES + driver_cases_recovery.CASES + driver_cases_v17.CASES + driver_cases_exec.CASES + driver_cases_init.CASES + driver_cases_pledge.CASES + [last]]
        for name, fn, essential in cases:
            if essential or not args.select or args.select in name:
                outcomes.append(run_case(name, fn, suite))
    finally:
        left = suite.close()
    print(("FAIL" if left else "PASS") + " cleanup", flush=True)
    for msg in left:
        print("    - " + msg)
    outcomes.append("FAIL" if left else "PASS")
    passed, failed, skipped = (outcomes.count(o) for o in ("PASS", "FAIL", "SKIP"))
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
