"""test_cli.py cases: pause/resume, update, events, ps, scheduling and
personality, linux.resources (validation and the v1 device cgroup); the
seccomp cases are in cli_cases_seccomp.py.

Host assumptions (checked where it matters): hybrid cgroups, v1 controllers
under /sys/fs/cgroup/<controller>.
"""
import json
import time
from pathlib import Path

import itlib
from itlib import finish, pid_alive, spawn, wait_until

CG = Path("/sys/fs/cgroup")

# ---------------------------------------------------------------- helpers

def with_tmp_tmpfs(cfg, extra_opts=()):
    cfg["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                          "options": ["mode=1777", "size=16m", *extra_opts]})
    return cfg


def v1file(controller, path, name):
    try:
        return (CG / controller / path.lstrip("/") / name).read_text().strip()
    except OSError as e:
        return f"<{e.strerror}>"


def assert_create_rejected(t, cfg, want_in_msg, what):
    """create must fail, name want_in_msg in its error, and leave nothing behind."""
    cid, bundle = t.bundle(cfg)
    res = t.rt("create", "--bundle", str(bundle), cid)
    t.expect(res.rc not in (0, None), f"{what}: create succeeded: {res.describe()}")
    t.expect(want_in_msg in res.err, f"{what}: error does not name {want_in_msg!r}: {res.err.strip()[-300:]!r}")
    t.expect(not (t.rt.root / cid).exists(), f"{what}: state dir {t.rt.root / cid} left behind")
    left = itlib.cgroup_dirs(t.cgroup_path(cid))
    t.expect(not left, f"{what}: cgroup dirs left behind: {[str(d) for d in left]}")
    return res


# ---------------------------------------------------------------- 2. pause / resume


def counter_config(t):
    return with_tmp_tmpfs(t.config(["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/c; "
                                                     "usleep 50000; done"]))


def read_counter(pid):
    try:
        return int(Path(f"/proc/{pid}/root/tmp/c").read_text().strip() or -1)
    except (OSError, ValueError):
        return None


def case_pause_resume(t):
    cid, _ = t.started(counter_config(t))
    pid = t.pid(cid)
    t.require(wait_until(lambda: (read_counter(pid) or 0) > 2, 5), f"counter does not move: {read_counter(pid)}")
    t.ok(t.rt("pause", cid), "pause")
    st = t.state(cid)
    t.expect(st.get("status") == "paused", f"state after pause: {st.get('status')!r}")
    v1 = v1file("freezer", t.cgroup_path(cid), "freezer.state")
    v2 = v1file("unified", t.cgroup_path(cid), "cgroup.events")
    t.expect(v1 == "FROZEN" or "frozen 1" in v2, f"neither v1 freezer.state ({v1}) nor cgroup.events ({v2!r}) frozen")
    t.note(f"paused via {'the v1 freezer' if v1 == 'FROZEN' else 'cgroup v2 cgroup.freeze (unified)'}")
    a = read_counter(pid)
    time.sleep(0.5)
    b = read_counter(pid)
    t.expect(a == b and a is not None, f"counter moved while paused: {a} -> {b}")
    res = t.rt("pause", cid)
    t.note(f"pause of a paused container: {res.describe()}")
    t.ok(t.rt("resume", cid), "resume")
    t.expect(t.state(cid).get("status") == "running", "state after resume is not running")
    t.expect(wait_until(lambda: (read_counter(pid) or 0) > (b or 0) + 2, 3),
             f"counter does not move after resume: {b} -> {read_counter(pid)}")
    res = t.rt("resume", cid)
    t.expect(res.rc not in (0, None), f"resume of a running container: {res.describe()}")
    t.expect(t.state(cid).get("status") == "running", "a refused resume changed the status")
    # a paused container can be killed and force-deleted
    t.ok(t.rt("pause", cid), "pause again")
    t.ok(t.rt("delete", "--force", cid), "delete --force of a paused container")
    t.expect(wait_until(lambda: not pid_alive(pid), 3), "init survives delete --force of a paused container")
    t.expect(not (t.rt.root / cid).exists(), "state dir left after delete --force of a paused container")


def case_resume_thaws_v1_freezer(t):
    """A container frozen through the v1 freezer (as runc does on a hybrid host)
    shows as paused; `resume` must then actually thaw it."""
    cid, _ = t.started(counter_config(t))
    pid = t.pid(cid)
    path = t.cgroup_path(cid)
    t.require(wait_until(lambda: (read_counter(pid) or 0) > 2, 5), "counter does not move")
    fz = CG / "freezer" / path.lstrip("/") / "freezer.state"
    if not fz.exists():
        raise itlib.Skip("no v1 freezer cgroup for the container")
    fz.write_text("FROZEN")
    t.on_cleanup(lambda: fz.exists() and fz.write_text("THAWED"))
    t.require(wait_until(lambda: fz.read_text().strip() == "FROZEN", 3), "v1 freezer did not freeze")
    t.expect(t.state(cid).get("status") == "paused", f"status with the v1 freezer FROZEN: {t.state(cid).get('status')}")
    res = t.rt("resume", cid)
    t.expect(res.rc == 0, f"resume: {res.describe()}")
    b = read_counter(pid)
    moved = wait_until(lambda: (read_counter(pid) or 0) > (b or 0) + 2, 2)
    t.expect(moved, f"after `resume` exit {res.rc} the counter is stuck at {read_counter(pid)} "
                    f"(v1 freezer.state {fz.read_text().strip()}, status {t.state(cid).get('status')})")


def case_short_options_take_values(t):
    """runc's short flags with a separate value: update -r FILE, ps -f json, exec -e/-u."""
    cid, bundle = t.started(t.sleeper())
    rfile = Path(t.ws.base) / f"res-{cid}.json"
    itlib.write_json(rfile, {"pids": {"limit": 33}})
    res = t.rt("update", "-r", str(rfile), cid)
    t.expect(res.rc == 0 and v1file("pids", t.cgroup_path(cid), "pids.max") == "33",
             f"update -r FILE: {res.describe()}, pids.max {v1file('pids', t.cgroup_path(cid), 'pids.max')}")
    res = t.rt("ps", "-f", "json", cid)
    t.expect(res.rc == 0 and res.json() == [t.pid(cid)], f"ps -f json: {res.describe()} {res.out!r}")
    res = t.rt("exec", "-e", "FOO=short", "-u", "1000", cid, "/bin/sh", "-c", "echo $FOO $(id -u)")
    t.expect(res.rc == 0 and res.out.strip() == "short 1000", f"exec -e FOO=short -u 1000: {res.describe()} {res.out!r}")


def case_pause_stopped_and_created(t):
    cid, _ = t.started(t.config(["/bin/true"]))
    t.require(t.rt.wait_status(cid, "stopped") == "stopped", "container did not stop")
    res = t.rt("pause", cid)
    t.expect(res.rc not in (0, None), f"pause of a stopped container: {res.describe()}")
    res = t.rt("resume", cid)
    t.expect(res.rc not in (0, None), f"resume of a stopped container: {res.describe()}")
    t.expect(t.state(cid).get("status") == "stopped", "status changed")
    res = t.rt("pause", "no-such-container-xyz")
    t.expect(res.rc not in (0, None), f"pause of an unknown container: {res.describe()}")


# ---------------------------------------------------------------- 3. update


def case_update_flags(t):
    cid, _ = t.started(t.sleeper())
    path = t.cgroup_path(cid)
    res = t.rt("update", "--memory", "64m", "--pids-limit", "20", "--cpu-quota", "50000", "--cpu-period",
               "100000", "--cpu-share", "512", cid)
    t.require(res.rc == 0, f"update: {res.describe()}")
    want = {("memory", "memory.limit_in_bytes"): "67108864", ("pids", "pids.max"): "20",
            ("cpu", "cpu.cfs_quota_us"): "50000", ("cpu", "cpu.cfs_period_us"): "100000",
            ("cpu", "cpu.shares"): "512"}
    for (ctl, f), v in want.items():
        got = v1file(ctl, path, f)
        t.expect(got == v, f"after update: {ctl}/{f} = {got}, want {v}")
    # -r with a linux.resources object
    rfile = Path(t.ws.base) / f"res-{cid}.json"
    itlib.write_json(rfile, {"memory": {"limit": 100663296}, "pids": {"limit": 30},
                             "cpu": {"shares": 256, "quota": 20000, "period": 50000}})
    res = t.rt("update", "--resources", str(rfile), cid)
    t.require(res.rc == 0, f"update --resources: {res.describe()}")
    want = {("memory", "memory.limit_in_bytes"): "100663296", ("pids", "pids.max"): "30",
            ("cpu", "cpu.shares"): "256", ("cpu", "cpu.cfs_quota_us"): "20000", ("cpu", "cpu.cfs_period_us"): "50000"}
    for (ctl, f), v in want.items():
        got = v1file(ctl, path, f)
        t.expect(got == v, f"after update --resources: {ctl}/{f} = {got}, want {v}")
    # the process is still fine
    t.expect(t.state(cid).get("status") == "running", "container not running after update")


def case_update_bad_values(t):
    cid, _ = t.started(t.sleeper())
    path = t.cgroup_path(cid)
    t.ok(t.rt("update", "--memory", "64m", "--pids-limit", "20", "--cpu-share", "512", cid), "baseline update")
    files = [("memory", "memory.limit_in_bytes"), ("pids", "pids.max"), ("cpu", "cpu.shares"),
             ("cpu", "cpu.cfs_quota_us")]
    before = {f: v1file(c, path, f) for c, f in files}
    rfile = Path(t.ws.base) / f"bad-{cid}.json"
    itlib.write_json(rfile, {"bogus": {"x": 1}, "pids": {"limit": 7}})
    badfile = Path(t.ws.base) / f"badjson-{cid}.json"
    badfile.write_text("{not json")
    cases = [
        (["--memory", "abc"], "--memory"),
        (["--memory", "12q"], "--memory"),
        (["--resources", str(badfile)], "JSON"),
        (["--cpu-share", "1", "--pids-limit", "9"], "shares"),
        (["--cpu-quota", "10", "--memory", "32m"], "quota"),
        (["--pids-limit", "many"], "pids-limit"),
    ]
    for args, word in cases:
        res = t.rt("update", *args, cid)
        t.expect(res.rc not in (0, None), f"update {' '.join(args)}: {res.describe()}")
        t.expect(word.lower() in res.err.lower(), f"update {' '.join(args)}: error lacks {word!r}: {res.err.strip()!r}")
        after = {f: v1file(c, path, f) for c, f in files}
        t.expect(after == before, f"update {' '.join(args)} changed the cgroup: {before} -> {after}")
    res = t.rt("update", "--memory", "64m", "no-such-container-xyz")
    t.expect(res.rc not in (0, None), f"update of an unknown container: {res.describe()}")
    # config.md Extensibility: an unknown property is ignored (a warning), the rest applies
    res = t.rt("update", "--resources", str(rfile), cid)
    t.expect(res.rc == 0 and "bogus" in res.err, f"update -r with an unknown key: {res.describe()}")
    t.expect(v1file("pids", path, "pids.max") == "7", f"pids.max {v1file('pids', path, 'pids.max')} after -r")


def case_update_pids_below_usage(t):
    cid, _ = t.started(t.sleeper())
    path = t.cgroup_path(cid)
    script = "/bin/true & wait $! && echo forked"
    res = t.rt("exec", cid, "/bin/sh", "-c", script)
    t.require(res.rc == 0 and "forked" in res.out, f"fork before lowering pids.max: {res.describe()}")
    t.ok(t.rt("update", "--pids-limit", "2", cid), "update --pids-limit 2")
    t.expect(v1file("pids", path, "pids.max") == "2", f"pids.max {v1file('pids', path, 'pids.max')}")
    # init + the exec'd sh = 2: the sh cannot fork
    res = t.rt("exec", cid, "/bin/sh", "-c", script)
    t.expect("forked" not in res.out, f"fork succeeded with pids.max 2 and 2 processes: {res.out!r}")
    t.expect("fork" in res.err.lower() or res.rc not in (0, None), f"no fork error seen: {res.describe()}")
    events = v1file("pids", path, "pids.events")
    t.expect(events.startswith("max ") and events != "max 0", f"pids.events {events!r}: no fork was refused")
    t.ok(t.rt("update", "--pids-limit", "20", cid), "raise pids limit")
    res = t.rt("exec", cid, "/bin/sh", "-c", script)
    t.expect(res.rc == 0 and "forked" in res.out, f"fork after raising pids.max: {res.describe()}")


# ---------------------------------------------------------------- 4. events


def case_events_stats(t):
    cid, _ = t.started(t.config(["/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 100"]))
    time.sleep(0.5)
    res = t.rt("events", "--stats", cid)
    t.require(res.rc == 0, f"events --stats: {res.describe()}")
    lines = [l for l in res.out.splitlines() if l.strip()]
    t.expect(len(lines) == 1, f"events --stats printed {len(lines)} lines")
    try:
        ev = json.loads(lines[0])
    except (ValueError, IndexError):
        ev = None
    t.require(isinstance(ev, dict), f"events --stats output is not JSON: {res.out[:300]!r}")
    t.expect(ev.get("type") == "stats" and ev.get("id") == cid, f"type/id {ev.get('type')}/{ev.get('id')}")
    d = ev.get("data") or {}

    def dig(*keys):
        v = d
        for k in keys:
            v = v.get(k) if isinstance(v, dict) else None
        return v
    t.expect(isinstance(dig("memory", "usage", "usage"), int) and dig("memory", "usage", "usage") > 0,
             f"data.memory.usage.usage = {dig('memory', 'usage', 'usage')!r}")
    t.expect(isinstance(dig("pids", "current"), int) and dig("pids", "current") >= 1,
             f"data.pids.current = {dig('pids', 'current')!r}")
    t.expect(isinstance(dig("cpu", "usage", "total"), int) and dig("cpu", "usage", "total") > 0,
             f"data.cpu.usage.total = {dig('cpu', 'usage', 'total')!r}")
    res = t.rt("events", "--stats", "no-such-container-xyz")
    t.expect(res.rc not in (0, None), f"events --stats of an unknown container: {res.describe()}")
    res = t.rt("events", "--interval", "0s", cid)
    t.expect(res.rc not in (0, None), f"events --interval 0s: {res.describe()}")


def oom_config(t, script):
    cfg = t.config(["/bin/sh", "-c", script])
    lim = 32 << 20
    cfg["linux"].setdefault("resources", {})["memory"] = {"limit": lim}
    if (CG / "memory" / "memory.memsw.limit_in_bytes").exists():
        cfg["linux"]["resources"]["memory"]["swap"] = lim
    return cfg


def oom_events(t, script, want_rc):
    cid, bundle = t.bundle(oom_config(t, script))
    run = spawn([*t.rt.prefix, "--root", str(t.rt.root), "run", "--bundle", str(bundle), cid])
    t.on_cleanup(lambda: finish(run, 1) if run.poll() is None else None)
    t.require(t.rt.wait_status(cid, "running") == "running", "run never reached running")
    ev = spawn([*t.rt.prefix, "--root", str(t.rt.root), "events", "--interval", "100ms", cid])
    rc, out = finish(run, 20)
    t.expect(rc == want_rc, f"run exit code {rc}, want {want_rc} ({out[-200:]!r})")
    erc, eout = finish(ev, 5)
    t.expect(erc is not None, "events did not exit after the container stopped")
    types = []
    for line in eout.splitlines():
        try:
            types.append(json.loads(line).get("type"))
        except (ValueError, AttributeError):
            t.fail(f"events printed a non-JSON line: {line!r}")
    t.expect("stats" in types, f"no stats line from events --interval 100ms: {eout[:300]!r}")
    t.expect("oom" in types, f"no oom event from events (types seen {types}) after an OOM kill "
                             f"(run exit {rc})")
    return cid


def case_events_oom_init_killed(t):
    """The OOM victim is the container's init: run exits 137, events reports the oom."""
    oom_events(t, "sleep 1; exec dd if=/dev/zero bs=64M count=1 of=/dev/null", 137)


def case_events_oom_child_killed(t):
    """The OOM victim is a child; init lives on a little."""
    oom_events(t, "sleep 1; dd if=/dev/zero bs=64M count=1 of=/dev/null; echo dd=$?; sleep 1; exit 3", 3)


# ---------------------------------------------------------------- 5. ps


def case_ps_table_and_json(t):
    cid, bundle = t.started(t.sleeper())
    init = t.pid(cid)
    pidf = bundle / "exec.pid"
    t.ok(t.rt("exec", "--detach", "--pid-file", str(pidf), cid, "/bin/sworn-probe", "sleep", "60"), "exec --detach")
    other = int(pidf.read_text())
    res = t.rt("ps", cid)
    t.require(res.rc == 0, f"ps: {res.describe()}")
    lines = res.out.splitlines()
    t.require(lines and "PID" in lines[0].split(), f"ps header: {lines[:1]}")
    col = lines[0].split().index("PID")
    shown = {int(l.split()[col]) for l in lines[1:] if len(l.split()) > col and l.split()[col].isdigit()}
    t.expect(shown == {init, other}, f"ps table pids {sorted(shown)}, want {sorted({init, other})}")
    res = t.rt("ps", "--format", "json", cid)
    t.require(res.rc == 0, f"ps --format json: {res.describe()}")
    pids = res.json()
    t.expect(isinstance(pids, list) and all(isinstance(p, int) for p in pids), f"ps json: {res.out!r}")
    procs = itlib.v1_procs("pids", t.cgroup_path(cid))
    t.expect(isinstance(pids, list) and set(pids) == procs == {init, other},
             f"ps json {pids} vs cgroup.procs {procs} vs {{init, exec}} {{{init}, {other}}}")
    res = t.rt("ps", cid, "-o", "pid,comm")
    t.expect(res.rc == 0 and "sworn-probe" in res.out and str(other) in res.out,
             f"ps ID -o pid,comm: {res.describe()} {res.out!r}")
    res = t.rt("ps", "--format", "yaml", cid)
    t.expect(res.rc not in (0, None), f"ps --format yaml: {res.describe()}")
    res = t.rt("ps", "no-such-container-xyz")
    t.expect(res.rc not in (0, None), f"ps of an unknown container: {res.describe()}")
    itlib.kill_pid(other)


# ---------------------------------------------------------------- 6. scheduler, ioPriority, personality


def case_scheduler_batch_nice(t):
    cfg = t.config(["/bin/sh", "-c", "grep '^policy' /proc/self/sched; cat /proc/self/stat"])
    cfg["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 5}
    _, res = t.run(cfg)
    t.require(res.rc == 0, f"run: {res.describe()} {res.out!r}")
    lines = res.out.splitlines()
    pol = [l for l in lines if l.startswith("policy")]
    t.expect(pol and pol[0].split()[-1] == "3", f"/proc/self/sched policy: {pol}, want 3 (SCHED_BATCH)")
    stat = [l for l in lines if ")" in l]
    nice = stat[0].rsplit(")", 1)[1].split()[16] if stat else None
    t.expect(nice == "5", f"nice (stat field 19) {nice!r}, want 5")
    # SCHED_FIFO: root here has CAP_SYS_NICE, but v1 RT group scheduling may refuse it
    cfg["process"]["scheduler"] = {"policy": "SCHED_FIFO", "priority": 10}
    _, res = t.run(cfg)
    t.note(f"SCHED_FIFO priority 10: {res.describe()} {res.out.splitlines()[:1]}")


def case_io_priority(t):
    cfg = t.config(["/bin/sh", "-c", "ionice -p $$"])
    cfg["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
    _, res = t.run(cfg)
    t.require(res.rc == 0, f"run: {res.describe()}")
    t.expect(res.out.strip() == "best-effort: prio 6", f"ionice -p $$: {res.out.strip()!r}, want 'best-effort: prio 6'")
    cfg["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_IDLE", "priority": 0}
    _, res = t.run(cfg)
    t.expect(res.rc == 0 and res.out.strip().startswith("idle"), f"IOPRIO_CLASS_IDLE: {res.out.strip()!r}")


def case_personality_linux32(t):
    cfg = t.config(["/bin/uname", "-m"])
    cfg["linux"]["personality"] = {"domain": "LINUX32"}
    _, res = t.run(cfg)
    t.expect(res.rc == 0 and res.out.strip() == "i686", f"uname -m with LINUX32: {res.out.strip()!r} {res.describe()}")
    cfg["linux"]["personality"] = {"domain": "LINUX"}
    _, res = t.run(cfg)
    t.expect(res.rc == 0 and res.out.strip() == "x86_64", f"uname -m with LINUX: {res.out.strip()!r}")


def case_sched_personality_bad_values(t):
    bad = [
        ("scheduler", {"policy": "SCHED_BOGUS"}, "process.scheduler.policy"),
        ("scheduler", {"policy": "SCHED_OTHER", "nice": 40}, "process.scheduler.nice"),
        ("scheduler", {"policy": "SCHED_FIFO", "priority": 0}, "process.scheduler.priority"),
        ("ioPriority", {"class": "IOPRIO_CLASS_BE", "priority": 8}, "process.ioPriority.priority"),
        ("ioPriority", {"class": "IOPRIO_CLASS_NOPE", "priority": 1}, "process.ioPriority.class"),
        ("personality", {"domain": "BOGUS"}, "linux.personality.domain"),
    ]
    for key, value, field in bad:
        cfg = t.sleeper()
        (cfg["linux"] if key == "personality" else cfg["process"])[key] = value
        assert_create_rejected(t, cfg, field, f"{key} {value}")


# ---------------------------------------------------------------- 7. resources: bad input


def case_resources_bad_input(t):
    bad = [
        ("unified memory.bogus", {"unified": {"memory.bogus": "1"}}, "linux.resources.unified.memory.bogus"),
        ("device type x", {"devices": [{"allow": True, "type": "x", "major": 1, "minor": 3, "access": "r"}]},
         "linux.resources.devices"),
        ("device major -5", {"devices": [{"allow": True, "type": "c", "major": -5, "minor": 3, "access": "r"}]},
         "linux.resources.devices"),
        ("device access q", {"devices": [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rq"}]},
         "linux.resources.devices"),
        ("cpu.shares 1", {"cpu": {"shares": 1}}, "linux.resources.cpu.shares"),
        ("memory limit a string", {"memory": {"limit": "lots"}}, "linux.resources.memory"),
        ("pids limit a string", {"pids": {"limit": "x"}}, "linux.resources.pids"),
    ]
    for what, res_patch, field in bad:
        cfg = t.sleeper()
        res = cfg["linux"].setdefault("resources", {})
        res.update({k: (res.get("devices", []) + v if k == "devices" else v) for k, v in res_patch.items()})
        out = assert_create_rejected(t, cfg, field, what)
        if what.startswith("device type"):
            t.expect("type" in out.err, f"{what}: error does not name 'type': {out.err.strip()!r}")


# ---------------------------------------------------------------- 8. device cgroup (v1)


def case_device_cgroup_mknod(t):
    if not (CG / "devices" / "devices.list").exists():
        raise itlib.Skip("no v1 devices controller")
    script = ("mknod /tmp/kmsg c 1 11; echo mknod-kmsg=$?; head -c1 /tmp/kmsg; echo head-kmsg=$?; "
              "mknod /tmp/n c 1 3 && echo x > /tmp/n; echo null=$?")
    cfg = with_tmp_tmpfs(t.config(["/bin/sh", "-c", script]))
    caps = cfg["process"]["capabilities"]
    for k in ("bounding", "effective", "permitted", "inheritable", "ambient"):
        caps[k] = sorted(set(caps.get(k, [])) | {"CAP_MKNOD"})
    cid, res = t.run(cfg)
    t.require(res.rc == 0, f"run: {res.describe()}")
    out = res.out
    t.expect("mknod-kmsg=0" in out, f"mknod c 1 11 (the default rules allow 'm' on every char device): {out!r} "
                                    f"{res.err.strip()!r}")
    t.expect("head-kmsg=1" in out and "Operation not permitted" in res.err,
             f"reading /dev/kmsg (1:11) made with mknod should be denied by the device cgroup: {out!r} "
             f"{res.err.strip()!r}")
    t.expect("null=0" in out, f"mknod c 1 3 && echo x > it should work: {out!r} {res.err.strip()!r}")
