"""More task scenarios for test_driver.py, run after driver_cases' and before
its final streams_and_logs: filesystem = "host", group networking and DNS,
CreateNetwork/DestroyNetwork, cgroup limits, user, volume mounts and
devices, the pledge-driver knobs (importance, penalty, unveil_tcp, cap_add),
host pid mode, TaskEvents after a restart, InspectTask after exit.  Each
case asserts what the task process itself observes or what an RPC returns,
and cleans up what it made (tasks, netns files, plugin instances)."""
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import grpc

import nomadlib as nl
from driver_cases import LOOP, SH, bad_start, exit_of, need, stop_file

NETNS_DIR = Path("/var/run/netns")
CAP_NET_RAW = 13
MiB = 1 << 20


def ran(t, s, run, timeout=30):
    """Waits for a short-lived task whose output ends with DONE; returns (exit tuple, stdout lines)."""
    got = exit_of(s.wait(t, run, timeout))
    run.alloc.stdout.wait_for("DONE", 3)
    return got, run.alloc.stdout.text().splitlines()


def value(lines, key):
    """The text after 'KEY=' on the first line that starts with it, else None."""
    for ln in lines:
        if ln.startswith(key + "="):
            return ln[len(key) + 1:]
    return None


def task_pid(t, s, run):
    ins = t.rpc_ok(lambda: s.client.inspect_task(run.id), "InspectTask")
    pid = ins.driver.attributes.get("pid", "")
    t.require(pid.isdigit() and int(pid) > 0, f"InspectTask driver attributes {dict(ins.driver.attributes)} "
                                             "have no pid of the running task")
    return int(pid)


def host_cgroups(pid):
    """{controller: path} from /proc/<pid>/cgroup as the host sees it ('' = v2)."""
    out = {}
    for ln in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, ctrls, path = ln.split(":", 2)
        for c in (ctrls.split(",") if ctrls else [""]):
            out[c] = path
    return out


def mounted_fstype(path):
    path = os.path.realpath(path)  # /var/run is usually a symlink to /run
    for ln in Path("/proc/self/mountinfo").read_text().splitlines():
        left, right = ln.split(" - ", 1)
        if left.split()[4] == path:
            return right.split()[0]
    return None


def remove_netns(path):
    if mounted_fstype(path):
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def second_plugin(t, s, **over):
    """Another plugin instance (same state_dir and cgroup parent) with a wider config."""
    p, c = s.launch()
    t.rpc_ok(lambda: c.set_config(s.plugin_config(**over)), f"SetConfig {over}")
    return p, c


def finish_on(c, run):
    for fn in (lambda: c.stop_task(run.id, 1, "SIGKILL", rpc_timeout=20), lambda: c.destroy_task(run.id, True)):
        try:
            fn()
        except (grpc.RpcError, ValueError):
            pass
    run.id = None  # Suite.close must not address it through the main instance


# ---------------------------------------------------------------- filesystem = "host"

def case_host_filesystem(t, s):
    need(t, s)
    probe = ('echo "PID=$$"; echo "TASKDIR=$NOMAD_TASK_DIR"; echo "PWD=$(pwd)"; '
             'if read -r l < "$BUNDLE/config.json"; then echo BUNDLE-READ; fi; echo DONE')
    run = s.task(t, "hostfs", SH, ["-c", probe], filesystem="host")
    run.tc.env["BUNDLE"] = str(run.alloc.task_dir / "sworn")
    s.start(t, run)
    got, lines = ran(t, s, run)
    td = str(run.alloc.task_dir)
    t.expect(got[:2] == (0, 0), f"host-mode probe exit {got}: {run.alloc.stderr.text()!r}")
    t.expect("BUNDLE-READ" in lines, f"host mode: its own bundle {td}/sworn/config.json not readable: {lines}")
    t.expect(value(lines, "TASKDIR") == td + "/local", f"host mode: NOMAD_TASK_DIR {value(lines, 'TASKDIR')!r}, "
             f"want the host path {td}/local")
    t.expect(value(lines, "PID") == "2", f"host mode: echo $$ = {value(lines, 'PID')!r}, want 2 (own pid namespace, "
                                         f"under sworn-init)")
    t.expect(value(lines, "PWD") == td, f"host mode: cwd {value(lines, 'PWD')!r}, want the task dir {td}")
    s.finish(run)

    # unveil as Nomad interpolates "rw:${NOMAD_TASK_DIR}" for an IMAGE driver: "rw:/local".  unveil's
    # "w" writes existing files (creating one needs "c"), so both targets exist beforehand.
    write = ('if echo x >> "$NOMAD_TASK_DIR/w"; then echo LOCAL-WROTE; else echo LOCAL-DENIED; fi; '
             'if echo x >> "$PRIVATE/w" 2>/dev/null; then echo PRIVATE-WROTE; else echo PRIVATE-DENIED; fi; '
             'echo DONE')
    run = s.task(t, "hostunveil", SH, ["-c", write], filesystem="host", unveil=["rw:/local"])
    run.tc.env["PRIVATE"] = str(run.alloc.task_dir / "private")
    local, private = run.alloc.task_dir / "local/w", run.alloc.task_dir / "private/w"
    for f in (local, private):
        f.write_text("")
    s.start(t, run)
    got, lines = ran(t, s, run)
    t.expect(got[:2] == (0, 0), f"host mode + unveil rw:/local: exit {got}: {run.alloc.stderr.text()!r}")
    t.expect("LOCAL-WROTE" in lines and local.read_text() == "x\n",
             f"host mode, unveil rw:/local: writing $NOMAD_TASK_DIR/w failed: {lines} {run.alloc.stderr.text()!r}")
    t.expect("PRIVATE-DENIED" in lines and private.read_text() == "",
             f"host mode, unveil rw:/local: writing <task dir>/private/w was allowed: {lines}")
    s.finish(run)


def case_host_filesystem_binds(t, s):
    """Host mode binds volume mounts at <task dir>/<task_path> and the generated resolv.conf over
    /etc/resolv.conf.  Their sources here live under /tmp (as with `nomad agent -dev`, whose
    data_dir is a temp dir); one volume source outside /tmp shows whether /tmp is the difference."""
    need(t, s)
    outside = Path(tempfile.mkdtemp(prefix="sworn-nomadtest-", dir="/var/tmp"))
    try:
        vols = {"tmpvol": s.base / "vol-host", "vartmpvol": outside}
        for name, d in vols.items():
            d.mkdir(exist_ok=True)
            (d / "in.txt").write_text(name + "\n")
        for name, d in vols.items():
            run = s.task(t, f"host-{name}", SH, ["-c", 'if read -r l < "$PWD/data/in.txt"; then echo "VOLUME=$l"; '
                                                       'fi; echo DONE'], filesystem="host")
            run.tc.mounts.add(task_path="data", host_path=str(d), readonly=True)
            try:
                run.handle = s.client.start_task(run.tc).handle
            except grpc.RpcError as e:
                t.fail(f"host mode, volume {d} -> task_path data: StartTask {e.code().name}: {e.details()}")
                run.id = None
                continue
            got, lines = ran(t, s, run)
            t.expect(value(lines, "VOLUME") == name, f"host mode: volume {d} not at <task dir>/data: {lines} "
                     f"exit {got} {run.alloc.stderr.text()!r}")
            s.finish(run)
        run = s.task(t, "host-dns", SH, ["-c", 'while read -r l; do echo "RESOLV $l"; done < /etc/resolv.conf; '
                                               'echo DONE'], filesystem="host")
        run.tc.dns.servers.append("10.88.0.1")
        try:
            run.handle = s.client.start_task(run.tc).handle
            got, lines = ran(t, s, run)
            t.expect("RESOLV nameserver 10.88.0.1" in lines, f"host mode + dns: /etc/resolv.conf {lines} {got}")
            s.finish(run)
        except grpc.RpcError as e:
            t.fail(f"host mode + dns servers (resolv.conf bound from <task dir>/sworn): StartTask "
                   f"{e.code().name}: {e.details()}")
            run.id = None
    finally:
        shutil.rmtree(outside, ignore_errors=True)


# ---------------------------------------------------------------- group network, DNS, CreateNetwork

NET_PROBE = """echo "NETNS=$(readlink /proc/self/ns/net)"
echo "HOSTNAME=$(cat /proc/sys/kernel/hostname)"
while read -r l; do echo "HOSTS $l"; done < /etc/hosts
while read -r l; do echo "RESOLV $l"; done < /etc/resolv.conf
echo DONE"""


def case_group_network(t, s):
    need(t, s)
    name = f"sworn-nomadtest-{uuid.uuid4()}"
    path = NETNS_DIR / name
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if r.returncode != 0:
        raise nl.Skip(f"ip netns add failed: {r.stderr.strip()}")
    try:
        run = s.task(t, "groupnet", SH, ["-c", NET_PROBE])
        spec = run.tc.network_isolation_spec
        spec.mode, spec.path = s.pb.drv.NetworkIsolationSpec.GROUP, str(path)
        spec.hostsConfig.hostname, spec.hostsConfig.address = "web-1", "10.88.0.7"
        run.tc.dns.servers.extend(["10.88.0.1", "1.1.1.1"])
        run.tc.dns.searches.append("service.consul")
        run.tc.dns.options.append("ndots:2")
        s.start(t, run)
        got, lines = ran(t, s, run)
        t.expect(got[:2] == (0, 0), f"network probe exit {got}: {run.alloc.stderr.text()!r}")
        want = f"net:[{os.stat(path).st_ino}]"
        host = os.readlink("/proc/self/ns/net")
        t.expect(value(lines, "NETNS") == want, f"task netns {value(lines, 'NETNS')!r}, want {path}'s {want} "
                 f"(host's is {host})")
        t.expect(value(lines, "HOSTNAME") == "web-1", f"hostname {value(lines, 'HOSTNAME')!r}, want hostsConfig's web-1")
        hosts = [ln.split()[1:] for ln in lines if ln.startswith("HOSTS ")]
        t.expect(["10.88.0.7", "web-1"] in [h[:2] for h in hosts], f"/etc/hosts lacks '10.88.0.7 web-1': {hosts}")
        resolv = [ln[len("RESOLV "):].split() for ln in lines if ln.startswith("RESOLV ")]
        for want_line in (["nameserver", "10.88.0.1"], ["nameserver", "1.1.1.1"], ["search", "service.consul"],
                          ["options", "ndots:2"]):
            t.expect(want_line in resolv, f"/etc/resolv.conf lacks {' '.join(want_line)!r}: {resolv}")
        t.expect(os.uname().nodename != "web-1", "the task's hostname leaked to the host")
        s.finish(run)
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        remove_netns(path)


def case_CreateNetwork(t, s):
    need(t, s)
    alloc_id = str(uuid.uuid4())
    path = NETNS_DIR / alloc_id
    try:
        r = t.rpc_ok(lambda: s.client.create_network(alloc_id), "CreateNetwork")
        spec = r.isolation_spec
        t.expect(spec.mode == s.pb.drv.NetworkIsolationSpec.GROUP, f"CreateNetwork mode {spec.mode}, want GROUP")
        t.expect(spec.path == str(path), f"CreateNetwork path {spec.path!r}, want {path}")
        t.expect(r.created, "first CreateNetwork: created=false")
        t.expect(mounted_fstype(path) == "nsfs", f"{path} is not an nsfs mount ({mounted_fstype(path)})")
        lo = subprocess.run(["ip", "netns", "exec", alloc_id, "ip", "-o", "link", "show", "lo"],
                            capture_output=True, text=True)
        t.expect(",UP" in lo.stdout, f"lo in the new netns is not up: {lo.stdout.strip()!r} {lo.stderr.strip()!r}")
        t.expect(os.stat(path).st_ino != os.stat("/proc/self/ns/net").st_ino, "CreateNetwork bound the host's netns")
        r2 = t.rpc_ok(lambda: s.client.create_network(alloc_id), "second CreateNetwork")
        t.expect(not r2.created and r2.isolation_spec.path == str(path),
                 f"second CreateNetwork: created={r2.created} path {r2.isolation_spec.path!r}")
        t.rpc_ok(lambda: s.client.destroy_network(alloc_id, spec), "DestroyNetwork")
        t.expect(not path.exists() and not mounted_fstype(path), f"{path} still there after DestroyNetwork")
        t.rpc_ok(lambda: s.client.destroy_network(alloc_id, spec), "DestroyNetwork again")
        for bad in ("../x", "", ".."):
            e = t.rpc_err(lambda: s.client.create_network(bad), f"CreateNetwork({bad!r})", ["alloc_id"])
            t.expect(not e or e.code() == grpc.StatusCode.INVALID_ARGUMENT,
                     f"CreateNetwork({bad!r}): {e and e.code().name}, want INVALID_ARGUMENT")
        t.expect(not Path("/var/run/x").exists(), "CreateNetwork('../x') created /var/run/x")
    finally:
        remove_netns(path)


def case_DestroyNetwork_bad_path(t, s):
    """DestroyNetwork unlinks the path it is given (or /var/run/netns/<alloc_id>): a '..' must not lead
    it out of /var/run/netns."""
    need(t, s)
    up = "../" * 6
    for what, victim in (("isolation_spec.path", s.base / "victim-path"), ("alloc_id", s.base / "victim-id")):
        victim.write_text("keep me\n")
        rel = up + str(victim).lstrip("/")
        if what == "alloc_id":
            args = (rel, None)
        else:
            args = ("x", s.pb.drv.NetworkIsolationSpec(mode=s.pb.drv.NetworkIsolationSpec.GROUP,
                                                       path=f"{NETNS_DIR}/{rel}"))
        t.rpc_err(lambda: s.client.destroy_network(*args), f"DestroyNetwork with {what} {NETNS_DIR}/{up}...")
        t.expect(victim.exists(), f"DestroyNetwork with {what} {NETNS_DIR}/{rel} deleted {victim} "
                 "(path traversal out of /var/run/netns)")


# ---------------------------------------------------------------- resources, user, mounts, devices

def cg_file(ctrl_root, rel, name):
    p = Path("/sys/fs/cgroup") / ctrl_root / rel.lstrip("/") / name
    return p.read_text().strip() if p.exists() else None


def case_resources(t, s):
    need(t, s)
    run = s.task(t, "limits", SH, ["-c", f"echo ready; {LOOP}"], memory_mb=64)
    r = run.tc.resources
    r.allocated_resources.memory.memory_max_mb = 128
    r.allocated_resources.cpu.cpu_shares = r.linux_resources.cpu_shares = 500
    r.linux_resources.cpuset_cgroup, r.linux_resources.cpuset_cpus = "", "0"
    s.start(t, run)
    t.require(run.alloc.stdout.wait_for("ready"), f"task did not start: {run.alloc.stderr.text()!r}")
    cg = host_cgroups(task_pid(t, s, run))
    if "" in cg and "memory" not in cg:  # cgroup v2
        rel = cg[""]
        got = {f: cg_file("", rel, f) for f in ("memory.max", "memory.low", "cpu.weight", "cpuset.cpus")}
        t.expect(got["memory.max"] == str(128 * MiB), f"v2 memory.max {got['memory.max']}, want 128 MiB")
        t.expect(got["memory.low"] == str(64 * MiB), f"v2 memory.low {got['memory.low']}, want 64 MiB")
        t.expect(got["cpu.weight"] not in (None, "100"), f"v2 cpu.weight {got['cpu.weight']} for cpu_shares 500")
        t.expect(got["cpuset.cpus"] == "0", f"v2 cpuset.cpus {got['cpuset.cpus']!r}, want '0'")
    else:
        t.expect(s.cgroup_parent in cg.get("memory", ""), f"memory cgroup {cg.get('memory')} not under "
                 f"{s.cgroup_parent}")
        lim = cg_file("memory", cg.get("memory", ""), "memory.limit_in_bytes")
        soft = cg_file("memory", cg.get("memory", ""), "memory.soft_limit_in_bytes")
        shares = cg_file("cpu", cg.get("cpu", cg.get("cpuacct", "")), "cpu.shares")
        cpus = cg_file("cpuset", cg.get("cpuset", ""), "cpuset.cpus")
        t.expect(lim == str(128 * MiB), f"memory.limit_in_bytes {lim}, want {128 * MiB} (memory_max_mb 128)")
        t.expect(soft == str(64 * MiB), f"memory.soft_limit_in_bytes {soft}, want {64 * MiB} (memory_mb 64)")
        t.expect(shares == "500", f"cpu.shares {shares}, want 500")
        t.expect(cpus == "0", f"cpuset.cpus {cpus!r} in {cg.get('cpuset')}, want '0' (cpuset_cpus without "
                 "cpuset_cgroup)")
    stop_file(run)
    t.expect(exit_of(s.wait(t, run))[:2] == (0, 0), "limits task did not exit cleanly")
    s.finish(run)


def case_user(t, s):
    need(t, s)
    probe = ('echo "ID=$(id -u):$(id -g)"; if echo x > /local/w; then echo LOCAL-RW; fi; '
             'while read -r k v; do case $k in CapEff:) echo "CAPEFF=$v";; esac; done < /proc/self/status; echo DONE')
    run = s.task(t, "nobody", SH, ["-c", probe])
    run.tc.user = "nobody"
    s.start(t, run)
    got, lines = ran(t, s, run)
    t.expect(got[:2] == (0, 0), f"user nobody: exit {got}: {run.alloc.stderr.text()!r}")
    t.expect(value(lines, "ID") == "65534:65534", f"user nobody: id -u:-g {value(lines, 'ID')!r}, want 65534:65534")
    t.expect("LOCAL-RW" in lines, f"user nobody cannot write /local (0777): {lines} {run.alloc.stderr.text()!r}")
    t.note(f"user nobody: CapEff {value(lines, 'CAPEFF')}")
    s.finish(run)
    run = s.task(t, "baduser", SH, ["-c", "true"])
    run.tc.user = "no-such-user-x9"
    bad_start(t, s, "StartTask with an unknown user", run, ["user", "no-such-user-x9"])


def case_mounts_and_devices(t, s):
    need(t, s)
    ro, rw = s.base / "vol-ro", s.base / "vol-rw"
    for d in (ro, rw):
        d.mkdir(exist_ok=True)
        os.chmod(d, 0o777)
    (ro / "in.txt").write_text("volume-data\n")
    probe = """if read -r l < /data/in.txt; then echo "READ=$l"; fi
if echo x > /data/w 2>/dev/null; then echo DATA-WROTE; else echo DATA-RO; fi
if echo y > /rwdata/w; then echo RWDATA-WROTE; fi
echo "DEV=$(stat -c '%F %t:%T' /dev/xnull)"
if echo z > /dev/xnull; then echo XNULL-W; fi
if cat /dev/xnull; then echo XNULL-R; fi
echo DONE"""
    run = s.task(t, "volumes", SH, ["-c", probe])
    run.tc.mounts.add(task_path="data", host_path=str(ro), readonly=True)
    run.tc.mounts.add(task_path="rwdata", host_path=str(rw), readonly=False)
    run.tc.devices.add(task_path="/dev/xnull", host_path="/dev/null", cgroup_permissions="rw")
    s.start(t, run)
    got, lines = ran(t, s, run)
    err = run.alloc.stderr.text()
    t.expect(got[:2] == (0, 0), f"volume probe exit {got}: {err!r}")
    t.expect(value(lines, "READ") == "volume-data", f"read-only mount /data: {lines} {err!r}")
    t.expect("DATA-RO" in lines and not (ro / "w").exists(), f"readonly mount /data was writable: {lines}")
    t.expect("RWDATA-WROTE" in lines and (rw / "w").read_text() == "y\n", f"rw mount /rwdata: {lines} {err!r}")
    t.expect(value(lines, "DEV") == "character special file 1:3", f"/dev/xnull: {value(lines, 'DEV')!r}, want "
             "the host's /dev/null (char 1:3)")
    t.expect("XNULL-W" in lines and "XNULL-R" in lines, f"/dev/xnull with permissions rw not usable: {lines} {err!r}")
    s.finish(run)


# ---------------------------------------------------------------- pledge-driver knobs, capabilities, pid mode

def case_importance_penalty(t, s):
    need(t, s)
    run = s.started(t, "lowest", "/bin/cut", ["-d", " ", "-f19", "/proc/self/stat"], importance="lowest")
    got = exit_of(s.wait(t, run))
    t.expect(run.alloc.stdout.wait_for("\n", 3) and run.alloc.stdout.text().strip() == "19",
             f"importance lowest: nice {run.alloc.stdout.text()!r} (exit {got}), want 19")
    s.finish(run)
    run = s.started(t, "penalty", "/bin/touch", ["/local/x"], promises="stdio rpath", penalty="kill")
    got = exit_of(s.wait(t, run))
    t.expect(got[:2] == (159, 31), f"promises 'stdio rpath', penalty kill, touch /local/x: exit_code/signal "
             f"{got[:2]}, want (159, 31) SIGSYS; stderr {run.alloc.stderr.text()!r}")
    t.expect(not (run.alloc.task_dir / "local/x").exists(), "penalty kill: touch /local/x created the file")
    s.finish(run)


def case_unveil_tcp(t, s):
    need(t, s)
    fp = s.streams.get("Fingerprint")
    abi = fp.items[-1][1].attributes["driver.sworn.landlock_abi"].int_val if fp and fp.items else 0
    if abi < 4:
        raise nl.Skip(f"Landlock ABI {abi} < 4: no TCP rules")
    probe = """for p in 1 9; do
  /bin/busybox nc -w 2 127.0.0.1 $p </dev/null 2>&1 | while read -r l; do echo "PORT$p $l"; done
done; echo DONE"""
    busy = [p for p in (1, 9) if subprocess.run(["ss", "-Hltn", f"sport = :{p}"], capture_output=True,
                                                 text=True).stdout.strip()]
    if busy:
        raise nl.Skip(f"something listens on port(s) {busy} of the host")
    run = s.started(t, "tcp", SH, ["-c", probe], unveil_tcp=["connect:1"])
    got, lines = ran(t, s, run)
    p1 = [ln for ln in lines if ln.startswith("PORT1")]
    t.expect(p1 and "refused" in p1[0], f"unveil_tcp connect:1: port 1 should be reachable (refused): {lines} "
             f"exit {got} {run.alloc.stderr.text()!r}")
    p9 = [ln for ln in lines if ln.startswith("PORT9")]
    t.expect(p9 and "Permission denied" in p9[0], f"unveil_tcp connect:1: port 9 not denied (EACCES): {p9}")
    s.finish(run)


def case_cap_add(t, s):
    need(t, s)
    run = s.task(t, "capdenied", SH, ["-c", "true"], cap_add=["NET_RAW"])
    e = bad_start(t, s, "cap_add NET_RAW outside allow_caps", run, ["cap_add"])
    t.expect(not e or e.code() == grpc.StatusCode.INVALID_ARGUMENT,
             f"cap_add outside allow_caps: {e and e.code().name}, want INVALID_ARGUMENT")
    allow = nl.hcl_literal(s.pfields["allow_caps"][3]) + ["NET_RAW"]
    p, c = second_plugin(t, s, allow_caps=allow)
    try:
        run = s.task(t, "capadd", SH, ["-c", 'while read -r k v; do case $k in CapEff:) echo "CAPEFF=$v";; esac; '
                                             'done < /proc/self/status; echo DONE'], cap_add=["NET_RAW"])
        run.handle = t.rpc_ok(lambda: c.start_task(run.tc), "StartTask cap_add NET_RAW (allowed)").handle
        t.rpc_ok(lambda: c.wait_task(run.id, timeout=30), "WaitTask")
        run.alloc.stdout.wait_for("DONE", 3)
        eff = int(value(run.alloc.stdout.text().splitlines(), "CAPEFF") or "0", 16)
        t.expect(eff >> CAP_NET_RAW & 1, f"cap_add NET_RAW in allow_caps: CapEff {eff:#x} lacks bit 13")
        finish_on(c, run)
    finally:
        t.expect(p.shutdown(), "second plugin instance did not exit on Shutdown")


def case_pid_mode_host(t, s):
    need(t, s)
    run = s.task(t, "hostpid-denied", SH, ["-c", "true"], pid_mode="host")
    bad_start(t, s, "pid_mode host with allow_host_pid = false", run, ["pid_mode", "allow_host_pid"])
    p, c = second_plugin(t, s, allow_host_pid=True)
    try:
        run = s.task(t, "hostpid", SH, ["-c", 'echo "PID=$$"; echo "COMM1=$(cat /proc/1/comm)"; echo DONE'],
                     pid_mode="host")
        run.handle = t.rpc_ok(lambda: c.start_task(run.tc), "StartTask pid_mode host (allowed)").handle
        got = exit_of(t.rpc_ok(lambda: c.wait_task(run.id, timeout=30), "WaitTask"))
        run.alloc.stdout.wait_for("DONE", 3)
        lines = run.alloc.stdout.text().splitlines()
        host1 = Path("/proc/1/comm").read_text().strip()
        t.expect(got[:2] == (0, 0), f"pid_mode host task exit {got}: {run.alloc.stderr.text()!r}")
        t.expect(value(lines, "COMM1") == host1, f"pid_mode host: /proc/1/comm {value(lines, 'COMM1')!r}, want "
                 f"the host's {host1!r}")
        t.expect(value(lines, "PID") not in (None, "1"), f"pid_mode host: echo $$ = {value(lines, 'PID')!r}")
        finish_on(c, run)
    finally:
        t.expect(p.shutdown(), "second plugin instance did not exit on Shutdown")


# ---------------------------------------------------------------- TaskEvents after restart, InspectTask after exit

def case_TaskEvents_after_restart(t, s):
    need(t, s)
    run = s.started(t, "evented", SH, ["-c", f"echo ready; {LOOP}; exit 0"])
    t.require(run.alloc.stdout.wait_for("ready"), "task did not start")
    for st in s.streams.values():
        st.cancel()
    s.plugin.kill()
    p, c = s.launch()
    t.rpc_ok(lambda: c.set_config(s.plugin_config()), "SetConfig on the new instance")
    s.plugin, s.client = p, c
    s.streams = {"Fingerprint": c.fingerprint(), "TaskEvents": c.task_events()}
    ev = s.streams["TaskEvents"]
    t.expect(s.streams["Fingerprint"].wait_count(1, 5), "no fingerprint from the new instance")
    started = time.time()
    alive = [r for r in (getattr(s, "main", None),) if r and r.id and nl.alloc_pids(r.alloc.id)]
    for r in [run] + alive:
        h = s.pb.drv.TaskHandle()
        h.CopyFrom(r.handle)
        h.config.msgpack_driver_config = b""  # not persisted by Nomad
        t.rpc_ok(lambda: c.recover_task(h), f"RecoverTask {r.alloc.task}")

    def mine():
        return [e for _, e in ev.items if e.alloc_id == run.alloc.id]
    t.expect(nl.wait_until(mine, 5), f"no TaskEvents event for the recovered task within 5 s: "
             f"{[e for _, e in ev.items]} ({ev.error})")
    for e in mine():
        t.expect(e.task_name == run.alloc.task, f"event task_name {e.task_name!r}, want {run.alloc.task!r}")
        t.expect(e.task_id == run.id, f"event task_id {e.task_id!r}, want {run.id!r}")
        t.expect(e.HasField("timestamp") and abs(e.timestamp.seconds - started) < 60,
                 f"event timestamp {e.timestamp} is not about now ({started:.0f})")
        t.note(f"event message {e.message!r}")
    stop_file(run)
    got = exit_of(s.wait(t, run))
    t.expect(got[:2] == (0, 0), f"recovered task exit {got}")
    s.finish(run)


def case_InspectTask_exited(t, s):
    need(t, s)
    before = time.time()
    run = s.started(t, "inspect", SH, ["-c", f"echo ready; {LOOP}; exit 5"])
    t.require(run.alloc.stdout.wait_for("ready"), "task did not start")
    ins = t.rpc_ok(lambda: s.client.inspect_task(run.id), "InspectTask while running")
    t.expect(ins.task.state == s.pb.drv.RUNNING, f"InspectTask while running: state {ins.task.state}")
    # Let it exit ~0.3 s into a second, so a completed_at rounded to whole seconds shows.
    time.sleep(1.3 - time.time() % 1.0)
    stopped = time.time()
    stop_file(run)
    s.wait(t, run)
    after = time.time()
    ins = t.rpc_ok(lambda: s.client.inspect_task(run.id), "InspectTask after exit")
    st = ins.task
    t.expect(st.id == run.id and st.name == run.alloc.task, f"InspectTask id/name {st.id!r} {st.name!r}")
    t.expect(st.state == s.pb.drv.EXITED, f"InspectTask after exit: state {st.state}, want EXITED")
    t.expect(st.result.exit_code == 5 and st.result.signal == 0, f"InspectTask result {st.result}, want exit 5")
    sa, ca = st.started_at.ToNanoseconds() / 1e9, st.completed_at.ToNanoseconds() / 1e9
    t.expect(before - 1 <= sa <= stopped, f"started_at {sa:.3f} outside [{before:.3f}, {stopped:.3f}]")
    t.expect(stopped - 0.05 <= ca <= after + 0.05, f"completed_at {ca:.3f}: the task exited between {stopped:.3f} "
             f"(stop file written) and {after:.3f} (WaitTask returned)")
    s.finish(run)
    t.rpc_err(lambda: s.client.inspect_task(run.id), "InspectTask after DestroyTask")


CASES = [(n[len("case_"):], f) for n, f in list(globals().items()) if n.startswith("case_")]
