"""Nomad 1.7 - 2.0.5 client scenarios for test_driver.py (issue #11,
shared/reference/nomad-1.7-plus.md): the wrangler-made task cgroups on both
layouts (nomad17.V1 / V2), reserved cores pinned by the driver, a shared task
left to the live partition, restarts, an agent restart, cgroups off, a
dynamic host volume, the 2.0.4 Init/Shutdown RPCs, read-only /alloc/logs,
the default user and nice, and cpuset_cgroup paths the plugin must refuse.
Each case asserts what the task sees (/proc/self/status, its uid, nice) or
what Nomad's own cgroup files hold."""
import os
import time
from pathlib import Path

import grpc

import nomadlib as nl
import nomad17 as n17
from driver_cases import LOOP, SH, bad_start, exit_of, need, stop_file
from driver_cases_more import ran, task_pid, value

DRIVER = "/hashicorp.nomad.plugins.drivers.proto.Driver/"
# What the task reports about itself.
SELF = ("grep -E '^(Cpus_allowed_list|Uid):' /proc/self/status | tr '\\t' ' ' | sed 's/: */=/'; "
        "echo NICE=$(cut -d' ' -f19 /proc/self/stat)")


def layout(t, s, name):
    """The 1.7+ client's cgroup tree for this suite (made once per layout)."""
    cache = s.__dict__.setdefault("n17", {})
    if name not in cache:
        lay = n17.LAYOUTS[name](f"{s.cgroup_parent}-n17{name}")
        lay.agent_start()
        cache[name] = lay
    return cache[name]


def two_cores(t):
    """(share, reserve partition, the task's reserved core, share grown by a
    core a finished reserved alloc gave back). With four or more CPUs the
    reserve partition holds two allocs' cores, so a task left to inherit
    reserve.slice sees more than its own."""
    n = len(os.sched_getaffinity(0))
    if n < 2:
        raise nl.Skip(f"needs two CPUs to reserve one (have {n})")
    if n >= 4:
        return "0-1", "2-3", "3", "0-2"
    return "0", "1", "1", "0-1"


def start17(t, s, lay, name, script, cores="", **kw):
    """StartTask as the 1.7+ task runner does: wrangler prestart, then
    cpuset_cgroup = the path it made, cpuset_cpus = the reserved cores."""
    run = s.task(t, name, SH, ["-c", script], **kw)
    r = run.tc.resources.linux_resources
    r.cpuset_cgroup = lay.prestart(run.alloc, bool(cores))
    r.cpuset_cpus = cores
    run.cores = cores
    s.start(t, run)
    return run


def destroy17(t, s, lay, run):
    """StopTask + DestroyTask, then the stop hook's teardown, which must
    succeed (nothing populated left under the scope)."""
    s.finish(run)
    left = lay.teardown(run.alloc, bool(run.cores))
    t.expect(not left, f"{lay.name}: the client's teardown could not remove {left} after DestroyTask")


def check_partitions(t, lay, before, what):
    now = lay.partitions()
    t.expect(now == before, f"{lay.name} {what}: Nomad's partitions changed {before} -> {now}")


def reserved_cores(t, s, name):
    need(t, s)
    lay = layout(t, s, name)
    share, part, reserve, _ = two_cores(t)
    lay.partition(share, part)
    before = lay.partitions()
    run = start17(t, s, lay, "pinned", f"{SELF}; echo ready; {LOOP}", cores=reserve)
    t.require(run.alloc.stdout.wait_for("ready"), f"task did not start: {run.alloc.stderr.text()!r}")
    lines = run.alloc.stdout.text().splitlines()
    t.expect(value(lines, "Cpus_allowed_list") == reserve,
             f"{name}: the task sees Cpus_allowed_list {value(lines, 'Cpus_allowed_list')}, want reserved {reserve}")
    pid = task_pid(t, s, run)
    ok, got, want = lay.in_scope(pid, run.alloc, True)
    t.expect(ok, f"{name}: task's cgroup2 path {got}, want Nomad's scope {want}")
    f = lay.cpuset_file(pid)
    t.expect(f and n17.read(f) == reserve, f"{name}: {f} holds {f and n17.read(f)!r}, want {reserve}")
    check_partitions(t, lay, before, "while a reserved task runs")
    destroy17(t, s, lay, run)
    check_partitions(t, lay, before, "after the task")


def case_v17_reserved_cores_v1(t, s):
    """1.7+ on cgroup v1: cores from cpuset_cpus pin the task (Nomad leaves
    reserve/<alloc>.<task> empty); share/reserve untouched."""
    reserved_cores(t, s, "v1")


def case_v17_reserved_cores_v2(t, s):
    """1.7+ on cgroup v2: the task runs in reserve.slice/<alloc>.<task>.scope
    pinned to its own cores, not every alloc's."""
    reserved_cores(t, s, "v2")


def case_v16_reserved_cores_v1(t, s):
    """Nomad 1.6 on cgroup v1, for comparison: its cpuset manager makes
    <parent>/reserved/<alloc>-<task> holding the reserved cores and passes
    it; the task is pinned to them in a cgroup of its own."""
    need(t, s)
    _, _, reserve, _ = two_cores(t)
    if not s.cpuset:
        raise nl.Skip("no v1 cpuset hierarchy (or --no-cpuset)")
    parent = Path(s.cpuset).parent
    reserved = parent / "reserved"
    run = s.task(t, "pinned16", SH, ["-c", f"{SELF}; echo DONE"])
    mine = reserved / f"{run.alloc.id}-{run.alloc.task}"
    for d, cpus in ((reserved, reserve), (mine, reserve)):
        d.mkdir(exist_ok=True)
        n17.write(d / "cpuset.mems", n17.read(parent / "cpuset.mems"))
        n17.write(d / "cpuset.cpus", cpus)
    run.tc.resources.linux_resources.cpuset_cgroup = str(mine)
    run.tc.resources.linux_resources.cpuset_cpus = reserve
    s.start(t, run)
    got, lines = ran(t, s, run)
    t.expect(got[0] == 0 and value(lines, "Cpus_allowed_list") == reserve,
             f"1.6 v1 reserved: exit {got}, cpus {value(lines, 'Cpus_allowed_list')}, want {reserve}")
    s.finish(run)
    t.expect(mine.is_dir() and n17.read(mine / "cpuset.cpus") == reserve,
             f"1.6's reserved cpuset {mine} was changed or removed by the driver")
    for d in (mine, reserved):
        d.rmdir()


def shared_task(t, s, name):
    need(t, s)
    lay = layout(t, s, name)
    share, part, _, grown = two_cores(t)
    lay.partition(share, part)
    run = start17(t, s, lay, "sharer", f"echo ready; {LOOP}")
    t.require(run.alloc.stdout.wait_for("ready"), f"task did not start: {run.alloc.stderr.text()!r}")
    pid = task_pid(t, s, run)
    ok, got, want = lay.in_scope(pid, run.alloc, False)
    t.expect(ok, f"{name}: task's cgroup2 path {got}, want Nomad's scope {want}")
    if name == "v1" or lay.pure:
        t.expect(n17.cpus_allowed(pid) == share, f"{name}: shared task on cpus {n17.cpus_allowed(pid)}, "
                                                 f"want the share partition {share}")
    if name == "v2" and lay.pure:
        # a reserved alloc ends: cpuparts gives its core back to share.slice
        lay.partition(grown, part)
        t.expect(nl.wait_until(lambda: n17.cpus_allowed(pid) == grown, 3),
                 f"v2: shared task stayed on {n17.cpus_allowed(pid)} after share.slice grew to {grown} (a snapshot)")
        lay.partition(share, part)
    elif name == "v2":
        t.note("hybrid host: no cpuset in cgroup2, the live re-partitioning is checked in the VM lane")
    destroy17(t, s, lay, run)
    if name == "v1":
        sh = lay.cpuset / "share"
        t.expect(sh.is_dir(), f"v1: the driver removed Nomad's shared cpuset {sh}")
        t.expect(not n17.read(sh / "cgroup.procs"), f"v1: processes left in the shared cpuset {sh}")


def case_v17_shared_task_v1(t, s):
    """1.7+ v1: every shared task gets cpuset/nomad/share; it must run (on the
    share cpus), and that cgroup is never joined, killed or removed."""
    shared_task(t, s, "v1")


def case_v17_shared_task_v2(t, s):
    """1.7+ v2: a shared task runs in its share.slice scope and inherits the
    partition live."""
    shared_task(t, s, "v2")


def restart(t, s, name):
    need(t, s)
    lay = layout(t, s, name)
    share, part, reserve, _ = two_cores(t)
    lay.partition(share, part)
    run = start17(t, s, lay, "restarter", f"{SELF}; echo DONE; exit 3", cores=reserve)
    got, lines = ran(t, s, run)
    t.expect(got[0] == 3, f"first run: exit {got}")
    # clearDriverHandle: DestroyTask, then the prestart hooks again (the
    # wrangler's mkdir -p), then StartTask with a new id on the same alloc
    s.client.destroy_task(run.id, True)
    tc = run.alloc.task_config(s.pb, run.tc.msgpack_driver_config, cpuset_cgroup=lay.prestart(run.alloc, True))
    tc.resources.linux_resources.cpuset_cpus = reserve
    run.tc, run.id = tc, tc.id  # same alloc, log FIFOs and Run
    again = run
    s.start(t, again)
    got, lines = ran(t, s, again)
    cpus = [ln for ln in lines if ln.startswith("Cpus_allowed_list=")]
    t.expect(got[0] == 3 and cpus[-1:] == [f"Cpus_allowed_list={reserve}"],
             f"{name}: after a restart exit {got}, cpus {cpus}, want {reserve}")
    destroy17(t, s, lay, again)


def case_v17_restart_v1(t, s):
    """1.7+ v1: a restarted task (new StartTask after DestroyTask and the
    wrangler's mkdir) is pinned again."""
    restart(t, s, "v1")


def case_v17_restart_v2(t, s):
    """1.7+ v2: the same, in the reserve scope sworn's delete removed and the
    wrangler recreated."""
    restart(t, s, "v2")


def new_plugin(t, s):
    """A new plugin instance (the agent restarted); RecoverTask of main too."""
    for st in s.streams.values():
        st.cancel()
    s.plugin.kill()
    p, c = s.launch()
    t.rpc_ok(lambda: c.set_config(s.plugin_config()), "SetConfig on the new instance")
    s.plugin, s.client = p, c
    s.streams = {"Fingerprint": c.fingerprint(), "TaskEvents": c.task_events()}
    if getattr(s, "main", None):
        m = s.pb.drv.TaskHandle()
        m.CopyFrom(s.main.handle)
        t.rpc_ok(lambda: c.recover_task(m), "RecoverTask main")
    return c


def agent_restart(t, s, name):
    need(t, s)
    lay = layout(t, s, name)
    share, part, reserve, _ = two_cores(t)
    lay.partition(share, part)
    run = start17(t, s, lay, "survivor17", f"echo ready; {LOOP}; exit 4", cores=reserve)
    t.require(run.alloc.stdout.wait_for("ready"), f"task did not start: {run.alloc.stderr.text()!r}")
    pid = task_pid(t, s, run)
    c = new_plugin(t, s)
    # alloc_runner.Restore re-registers the wrangler with Cores=false: it
    # makes an empty share scope, never touching the reserved one
    lay.prestart(run.alloc, False)
    h = s.pb.drv.TaskHandle()
    h.CopyFrom(run.handle)
    t.rpc_ok(lambda: c.recover_task(h), "RecoverTask after the agent restart")
    t.expect(nl.pid_alive(pid), f"{name}: task process {pid} died across the agent restart")
    t.expect(n17.cpus_allowed(pid) == reserve, f"{name}: recovered task on cpus {n17.cpus_allowed(pid)}, "
                                               f"want {reserve}")
    ok, got, want = lay.in_scope(pid, run.alloc, True)
    t.expect(ok, f"{name}: recovered task's cgroup2 path {got}, want {want}")
    stop_file(run)
    got = exit_of(s.wait(t, run))
    t.expect(got[:2] == (4, 0), f"{name}: WaitTask after recovery {got}, want exit 4")
    s.finish(run)
    # the client's stop hook looks up the Cores=false key (a client bug up
    # to 2.0.5): only the share scope goes; the harness removes the rest
    t.expect(not lay.teardown(run.alloc, False), f"{name}: teardown of the restored share scope failed")
    run.cores = reserve
    t.expect(not lay.teardown(run.alloc, True), f"{name}: the reserved cgroup is still populated")


def case_v17_agent_restart_v1(t, s):
    """1.7+ v1: a new agent and plugin between StartTask and DestroyTask; the
    pinned task keeps running and is recovered with its cores."""
    agent_restart(t, s, "v1")


def case_v17_agent_restart_v2(t, s):
    """1.7+ v2: the same; the restored agent recreates a (share) scope."""
    agent_restart(t, s, "v2")


def memory_unlimited(t, s, name):
    need(t, s)
    lay = layout(t, s, name)
    run = s.task(t, "nomax", SH, ["-c", f"echo ready; {LOOP}"], memory_mb=64)
    run.tc.resources.allocated_resources.memory.memory_max_mb = -1
    run.tc.resources.linux_resources.cpuset_cgroup = lay.prestart(run.alloc, False)
    run.cores = ""
    s.start(t, run)
    t.require(run.alloc.stdout.wait_for("ready"), f"task did not start: {run.alloc.stderr.text()!r}")
    cg = n17.proc_cgroups(task_pid(t, s, run))
    if "memory" in cg:
        d = n17.CG / "memory" / cg["memory"].lstrip("/")
        hard, low = n17.read(d / "memory.limit_in_bytes"), n17.read(d / "memory.soft_limit_in_bytes")
        t.expect(hard is not None and int(hard) >= 1 << 62, f"v1 memory.limit_in_bytes {hard}, want unlimited")
    else:
        d = n17.CG / cg[""].lstrip("/")
        hard, low = n17.read(d / "memory.max"), n17.read(d / "memory.low")
        t.expect(hard == "max", f"memory.max {hard}, want max")
    t.expect(low == str(64 << 20), f"{d}: reservation {low}, want memory_mb 64 MiB")
    stop_file(run)
    s.wait(t, run)
    destroy17(t, s, lay, run)


def case_v17_memory_max_unlimited_v1(t, s):
    """Nomad 2.0's memory_max = -1: no hard limit, memory_mb reserved (v1:
    soft limit), as exec writes it."""
    memory_unlimited(t, s, "v1")


def case_v17_memory_max_unlimited_v2(t, s):
    """The same in a 1.7+ v2 share scope (memory.max = max, memory.low)."""
    memory_unlimited(t, s, "v2")


def case_v17_cgroups_off(t, s):
    """Cgroups off on a 1.7+ client: cpuset_cgroup is still filled with a
    v2 scope path nobody made. The task runs."""
    need(t, s)
    lay = layout(t, s, "v2")
    run = s.task(t, "nocg", SH, ["-c", "echo DONE"])
    scope = lay.base / f"{run.alloc.id}.{run.alloc.task}.scope"
    run.tc.resources.linux_resources.cpuset_cgroup = str(scope)
    s.start(t, run)
    got, lines = ran(t, s, run)
    t.expect(got[0] == 0 and "DONE" in lines, f"exit {got}, output {lines}")
    s.finish(run)
    for d in [scope] + list(n17.CG.glob(f"*/{scope.relative_to(lay.root)}")):
        if d.is_dir():
            try:
                d.rmdir()
            except OSError as e:
                t.fail(f"{d} left populated: {e}")


def case_v17_host_volume(t, s):
    """A 1.10+ dynamic host volume arrives as an ordinary mount (with 2.0's
    request_name and 1.8's selinux_label, which are tolerated)."""
    need(t, s)
    vol = s.base / "data/host_volumes" / "0b5e2c1a-dyn"
    vol.mkdir(parents=True)
    os.chmod(vol, 0o777)
    run = s.task(t, "dynvol", SH, ["-c", "echo hi > /srv/vol/f && cat /srv/vol/f && echo DONE"])
    m = run.tc.mounts.add(task_path="/srv/vol", host_path=str(vol), readonly=False)
    for k, v in (("request_name", "scratch"), ("selinux_label", "z")):
        if k in m.DESCRIPTOR.fields_by_name:
            setattr(m, k, v)
    s.start(t, run)
    got, lines = ran(t, s, run)
    t.expect(got[0] == 0 and "hi" in lines, f"exit {got}: {lines} {run.alloc.stderr.text()!r}")
    t.expect((vol / "f").read_text() == "hi\n", "the task's write did not reach the host volume")
    s.finish(run)


def case_v17_init_shutdown(t, s):
    """Nomad 2.0.4's Driver.Init and Driver.Shutdown are answered, and
    Shutdown leaves running tasks alone; the fingerprint says driver.sworn."""
    need(t, s)
    d = s.pb.drv
    t.require(hasattr(d, "InitRequest"), "schemas/proto driver.proto has no InitRequest")
    run = s.started(t, "keeper", SH, ["-c", f"echo ready; {LOOP}"])
    t.require(run.alloc.stdout.wait_for("ready"), "task did not start")
    t.rpc_ok(lambda: s.client._unary(DRIVER + "Init", d.InitRequest(), d.InitResponse), "Driver.Init")
    t.rpc_ok(lambda: s.client._unary(DRIVER + "Shutdown", d.ShutdownRequest(), d.ShutdownResponse, timeout=2),
             "Driver.Shutdown")
    time.sleep(0.5)
    t.expect(nl.alloc_pids(run.alloc.id), "Driver.Shutdown stopped a task")
    t.expect(s.plugin.alive(), "the plugin exited on Driver.Shutdown (go-plugin's Kill does that)")
    ins = t.rpc_ok(lambda: s.client.inspect_task(run.id), "InspectTask after Shutdown")
    t.expect(ins.task.state == d.RUNNING, f"task state {ins.task.state} after Driver.Shutdown")
    fp = s.streams["Fingerprint"].items[-1][1]
    a = fp.attributes.get("driver.sworn")
    t.expect(a is not None and a.WhichOneof("value") == "bool_val" and a.bool_val,
             f"fingerprint attribute driver.sworn = {a}, want bool true")
    stop_file(run)
    s.wait(t, run)
    s.finish(run)


# Writing into a FIFO is the task's own logging (Nomad's reader gets it);
# replacing, moving or deleting log files, or rewriting a regular one, is not.
LOGS = ("(echo x >> /alloc/logs/other.stdout.0) 2>/dev/null && echo CHANGED other; "
        "for f in /alloc/logs/.*.fifo /alloc/logs/other.stdout.0; do "
        " rm -f \"$f\" 2>/dev/null && echo CHANGED rm $f; mv \"$f\" \"$f.x\" 2>/dev/null && echo CHANGED mv $f; done; "
        "mkfifo /alloc/logs/.logro.stdout.fifo.new 2>/dev/null && echo CHANGED mkfifo; "
        "touch /alloc/logs/new 2>/dev/null && echo CHANGED touch; touch /alloc/data/ok && echo DATA; echo DONE")


def case_v17_alloc_logs_readonly(t, s):
    """Nomad 2.0.1: /alloc/logs is read-only in the task, even for root: its
    own FIFOs and another task's logs can't be rewritten or deleted, while
    the rest of /alloc stays writable and its output still arrives."""
    need(t, s)
    run = s.task(t, "logro", SH, ["-c", LOGS])
    run.tc.user = "root"
    other = run.alloc.dir / "alloc/logs/other.stdout.0"
    other.write_text("other task\n")
    s.start(t, run)
    got, lines = ran(t, s, run)
    t.expect(got[0] == 0, f"exit {got}: {run.alloc.stderr.text()!r}")
    bad = [ln for ln in lines if ln.startswith("CHANGED")]
    t.expect(not bad, f"the task changed /alloc/logs: {bad}")
    t.expect(other.read_text() == "other task\n", "another task's log file was changed")
    t.expect(run.alloc.stdout_path.exists(), "the task removed its own stdout FIFO")
    t.expect("DATA" in lines, "/alloc/data is not writable")
    s.finish(run)


def case_v17_default_user_and_nice(t, s):
    """No user: nobody, as Nomad's exec; user = "root" stays possible; no
    importance: nice 0; importance = "normal": the pledge driver's -5; a
    plugin default_user = "root" makes root the default."""
    need(t, s)

    def observed(name, user="", plugin=None, **cfg):
        run = s.task(t, name, SH, ["-c", f"{SELF}; echo DONE"], **cfg)
        run.tc.user = user
        client = plugin or s.client
        t.rpc_ok(lambda: client.start_task(run.tc), f"StartTask {name}")
        got = exit_of(t.rpc_ok(lambda: client.wait_task(run.id, timeout=20), f"WaitTask {name}"))
        run.alloc.stdout.wait_for("DONE", 3)
        lines = run.alloc.stdout.text().splitlines()
        client.destroy_task(run.id, True)
        run.id = None
        uid = (value(lines, "Uid") or "").split()
        return got, (uid[0] if uid else None), value(lines, "NICE")

    got, uid, nice = observed("nouser")
    t.expect(got[0] == 0 and uid == "65534", f"no user: exit {got}, uid {uid}, want nobody (65534)")
    t.expect(nice == "0", f"no importance: nice {nice}, want 0")
    _, uid, nice = observed("rootuser", user="root", importance="normal")
    t.expect(uid == "0", f"user = root: uid {uid}")
    t.expect(nice == "-5", f"importance = normal: nice {nice}, want the pledge driver's -5")
    p, c = s.launch()
    t.rpc_ok(lambda: c.set_config(s.plugin_config(default_user="root")), "SetConfig default_user = root")
    _, uid, _ = observed("rootdefault", plugin=c)
    t.expect(uid == "0", f"default_user = root: uid {uid}")
    p.kill()


BAD_CGROUPS = ["/etc/nomad", "/sys/fs/cgroup/../../etc", "nomad.slice/x.scope", "/sys/fs/cgroup/cpuset",
               "/sys/fs/cgroup/nomad.slice", "/sys/fs/cgroup/nomad.slice/share.slice",
               "/sys/fs/cgroup/nomad.slice/reserve.slice", "/sys/fs/cgroup/unified/nomad.slice/share.slice"]


def case_v17_bad_cpuset_cgroup(t, s):
    """cpuset_cgroup outside /sys/fs/cgroup, with "..", or naming a cgroup
    shared by many tasks: INVALID_ARGUMENT naming the field, nothing made."""
    need(t, s)
    for i, path in enumerate(BAD_CGROUPS):
        run = s.task(t, f"badcg{i}", SH, ["-c", "true"])
        run.tc.resources.linux_resources.cpuset_cgroup = path
        before = {p for p in ("/etc/nomad",) if Path(p).exists()}
        e = bad_start(t, s, f"cpuset_cgroup {path}", run, ["cpuset_cgroup"])
        t.expect(e is None or e.code() == grpc.StatusCode.INVALID_ARGUMENT,
                 f"cpuset_cgroup {path}: status {e and e.code().name}, want INVALID_ARGUMENT")
        t.expect({p for p in ("/etc/nomad",) if Path(p).exists()} == before, f"{path}: made /etc/nomad")


def case_v17_topology_ticks(t, s):
    """Nomad 1.7+ sends its CPU topology in SetConfig: total_ticks in
    TaskStats use its per-core MHz, not /proc/cpuinfo's."""
    need(t, s)
    b = s.pb.base
    t.require(hasattr(b, "ClientTopology"), "schemas/proto base.proto has no ClientTopology")
    p, c = s.launch()
    req = b.SetConfigRequest(msgpack_config=s.plugin_config(), plugin_api_version="v0.1.0")
    req.nomad_config.driver.ClientMaxPort, req.nomad_config.driver.ClientMinPort = 14512, 14000
    mhz = 1234
    for i in range(2):
        req.nomad_config.driver.Topology.cores.add(core_id=i, base_speed=mhz, max_speed=9999)
    t.rpc_ok(lambda: c._unary("/hashicorp.nomad.plugins.base.proto.BasePlugin/SetConfig", req,
                              b.SetConfigResponse), "SetConfig with a topology")
    run = s.task(t, "busy", SH, ["-c", "while :; do :; done"])
    t.rpc_ok(lambda: c.start_task(run.tc), "StartTask busy")
    try:
        st = c.task_stats(run.id, interval=0.5)
        t.require(st.wait_count(3, 10), f"no TaskStats samples ({st.error})")
        cpu = st.items[-1][1].stats.agg_resource_usage.cpu
        st.cancel()
        want = cpu.percent / 100 * mhz
        t.expect(cpu.percent > 20, f"busy task at {cpu.percent:.0f}% cpu")
        t.expect(abs(cpu.total_ticks - want) <= max(1.0, want * 0.02),
                 f"total_ticks {cpu.total_ticks:.1f} at {cpu.percent:.1f}%: want {want:.1f} (topology {mhz} MHz)")
    finally:
        c.destroy_task(run.id, True)
        run.id = None
        p.kill()


CASES = [(n[len("case_"):], f) for n, f in list(globals().items()) if n.startswith("case_")]
