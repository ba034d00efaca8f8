"""--systemd-cgroup (issue #15 item 7) against a real systemd: this host is
not booted with systemd, so each case runs in a private mount namespace next
to a systemd user manager (systemd_user_manager.sh), which serves the same
org.freedesktop.systemd1 API on its private socket (linked to
/run/systemd/private in that namespace). sworn makes the
container's cgroup a transient scope there (StartTransientUnit, limits as
unit properties) and stops it on delete. A user manager cannot delegate v1
controllers: sworn makes those directories itself, as runc does for the
controllers systemd leaves out."""
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from itlib import CGROUP_ROOT, REPO, Skip

HELPER = REPO / "tests" / "integration" / "systemd_user_manager.sh"


def _remove_tree(top):
    for h in CGROUP_ROOT.iterdir():
        root = h / top
        if not root.is_dir():
            continue
        for d, _, _ in sorted(os.walk(root), key=lambda x: -len(x[0])):
            try:
                os.rmdir(d)
            except OSError:
                pass


def _session(t, script):
    """Runs script (sh) next to a fresh systemd user manager; returns the
    CompletedProcess. $SW is sworn with --systemd-cgroup and its own root,
    $SC systemctl --user."""
    if not Path("/lib/systemd/systemd").exists() or not shutil.which("systemctl"):
        raise Skip("systemd is not installed")
    if Path("/run/systemd/system").exists():
        raise Skip("the host runs systemd: the VM lane or the host's own manager is the place for this")
    d = Path(tempfile.mkdtemp(prefix="sworn-sd-", dir=t.ws.base))
    cg = f"sworn-it-sd-{os.getpid()}"
    t.on_cleanup(lambda: _remove_tree(cg))
    env = dict(os.environ, SW=f"{t.rt.prefix[0]} --systemd-cgroup --root {d}/state",
               SC="systemctl --user", CG=cg)
    p = subprocess.run(["unshare", "-m", str(HELPER), str(d), cg, "sh", "-c", script], env=env,
                       capture_output=True, text=True, timeout=120)
    if p.returncode == 125:
        raise Skip(f"systemd --user did not start here: {p.stderr.strip()[-300:]}")
    return p, d, cg


def case_systemd_cgroup_scope_with_limits(t):
    """run -d with cgroupsPath "<slice>:sworn:<id>": the container is in
    <slice>/sworn-<id>.scope (systemd says where: the scope's ControlGroup),
    systemd knows the scope (active, Delegate=yes, TasksMax from
    pids.limit), the limits are in the cgroup files too; delete stops the
    scope and removes its cgroups."""
    cid = f"sd-{os.getpid()}"
    slice_ = f"swornit{os.getpid()}.slice"
    cfg = t.config(["sh", "-c", "cat /proc/self/cgroup; sleep 100"])
    cfg["linux"]["resources"] = {"pids": {"limit": 77}, "memory": {"limit": 100 * 1024 * 1024}}
    bundle_id, bundle = t.bundle(cfg)
    c = json.loads((bundle / "config.json").read_text())
    c["linux"]["cgroupsPath"] = f"{slice_}:sworn:{cid}"
    (bundle / "config.json").write_text(json.dumps(c))
    t.ids.remove(bundle_id)  # not in the harness's state root
    scope = f"sworn-{cid}.scope"
    script = f"""
$SW run -d --bundle {bundle} {cid} || exit 1
echo "STATE $($SW state {cid} | tr -d '\\n')"
$SC show {scope} -p ActiveState -p Delegate -p TasksMax -p ControlGroup | sed 's/^/UNIT /'
echo "PIDSMAX $(cat /sys/fs/cgroup/pids/$CG/{slice_}/{scope}/pids.max 2>&1)"
echo "MEMMAX $(cat /sys/fs/cgroup/memory/$CG/{slice_}/{scope}/memory.limit_in_bytes 2>&1)"
$SW delete -f {cid}; echo "DELETE $?"
$SC show {scope} -p LoadState -p ActiveState | sed 's/^/AFTER /'
for h in /sys/fs/cgroup/*; do [ -d $h/$CG/{slice_}/{scope} ] && echo "LEFT $h"; done
ls {t.ws.base}/*/state 2>/dev/null | sed 's/^/STATEDIR /'
true
"""
    p, d, cg = _session(t, script)
    out = p.stdout
    t.require(p.returncode == 0, f"session: exit {p.returncode}: {p.stderr.strip()[-800:]}")
    lines = out.splitlines()
    t.expect(f"UNIT ActiveState=active" in lines, f"scope not active: {out}")
    t.expect(f"UNIT Delegate=yes" in lines, f"scope not delegated: {out}")
    t.expect(f"UNIT TasksMax=77" in lines, f"TasksMax is not the pids limit: {out}")
    t.expect(f"UNIT ControlGroup=/{cg}/{slice_}/{scope}" in lines, f"ControlGroup: {out}")
    t.expect("PIDSMAX 77" in lines, f"pids.max in the scope's v1 cgroup: {out}")
    t.expect(f"MEMMAX {100 * 1024 * 1024}" in lines, f"memory limit in the scope's v1 cgroup: {out}")
    t.expect("DELETE 0" in lines, f"delete: {out} {p.stderr}")
    t.expect(any(l.startswith("AFTER LoadState=not-found") or l == "AFTER ActiveState=inactive" for l in lines),
             f"scope still known after delete: {out}")
    t.expect(not any(l.startswith("LEFT") for l in lines), f"cgroups left after delete: {out}")
    t.expect(not (d / "state" / cid).exists(), "state dir left after delete")


def case_systemd_cgroup_run_foreground(t):
    """`run` in the foreground: the process runs in the scope, its exit
    status is run's, and the scope is gone afterwards."""
    cid = f"sdf-{os.getpid()}"
    cfg = t.config(["sh", "-c", "grep -c 'sworn-" + cid + ".scope' /proc/self/cgroup; exit 3"])
    bundle_id, bundle = t.bundle(cfg)
    c = json.loads((bundle / "config.json").read_text())
    c["linux"]["cgroupsPath"] = f"swornit{os.getpid()}.slice:sworn:{cid}"
    (bundle / "config.json").write_text(json.dumps(c))
    t.ids.remove(bundle_id)
    script = f"""
$SW run --bundle {bundle} {cid}; echo "RC $?"
$SC show sworn-{cid}.scope -p LoadState | sed 's/^/AFTER /'
"""
    p, d, cg = _session(t, script)
    lines = p.stdout.splitlines()
    t.expect("RC 3" in lines, f"run's status: {p.stdout} {p.stderr.strip()[-500:]}")
    t.expect(lines and lines[0].isdigit() and int(lines[0]) >= 2,
             f"the process is not in the scope (in cgroup2 and name=systemd at least): {p.stdout}")
    t.expect("AFTER LoadState=not-found" in lines, f"scope left: {p.stdout}")


def case_systemd_cgroup_bad_path_refused(t):
    """A cgroupsPath that is not "slice:prefix:name" is refused with
    --systemd-cgroup, naming the field, before anything is made."""
    cfg = t.config(["true"])
    bundle_id, bundle = t.bundle(cfg)
    c = json.loads((bundle / "config.json").read_text())
    c["linux"]["cgroupsPath"] = "/not/a/slice/path"
    (bundle / "config.json").write_text(json.dumps(c))
    t.ids.remove(bundle_id)
    p, d, cg = _session(t, f"$SW run --bundle {bundle} bad-{os.getpid()}; echo \"RC $?\"")
    t.expect("RC 1" in p.stdout.splitlines() and "linux.cgroupsPath" in p.stderr and "slice:prefix:name" in p.stderr,
             f"{p.stdout} {p.stderr.strip()[-400:]}")


def case_systemd_cgroup_runc_control(t):
    """The same bundle under runc --systemd-cgroup (the control): the process
    is in <slice>/runc-<id>.scope. Reported as a note: Debian's runc 1.1
    sets properties a user manager may refuse."""
    if not shutil.which("runc"):
        raise Skip("runc not installed")
    cid = f"sdr-{os.getpid()}"
    # runc puts the controllers systemd leaves out at /<slice>/<scope> of
    # each hierarchy, and leaves the slice directory behind.
    t.on_cleanup(lambda: _remove_tree(f"swornit{os.getpid()}.slice"))
    cfg = t.config(["sh", "-c", "grep -c 'runc-" + cid + ".scope' /proc/self/cgroup"])
    bundle_id, bundle = t.bundle(cfg)
    c = json.loads((bundle / "config.json").read_text())
    c["linux"]["cgroupsPath"] = f"swornit{os.getpid()}.slice:runc:{cid}"
    (bundle / "config.json").write_text(json.dumps(c))
    t.ids.remove(bundle_id)
    script = f"""
cd {bundle}
timeout 30 runc --systemd-cgroup --root $PWD/runc-state run {cid}; echo "RC $?"
timeout 30 runc --systemd-cgroup --root $PWD/runc-state delete -f {cid} 2>/dev/null
$SC show runc-{cid}.scope -p LoadState | sed 's/^/AFTER /'
"""
    p, d, cg = _session(t, script)
    lines = p.stdout.splitlines()
    t.note(f"runc --systemd-cgroup: {' | '.join(lines)} {p.stderr.strip()[-300:]}")
    t.expect("RC 0" in lines, f"runc (control) failed: {p.stdout} {p.stderr.strip()[-500:]}")


def case_systemd_cgroup_update_sets_unit_properties(t):
    """`update` of a container in a scope tells systemd too
    (SetUnitProperties, as runc): systemctl show gives the new TasksMax,
    memory limit and CPU quota, and the cgroup files have them."""
    cid = f"sdu-{os.getpid()}"
    slice_ = f"swornit{os.getpid()}.slice"
    cfg = t.config(["sleep", "100"])
    cfg["linux"]["resources"] = {"pids": {"limit": 77}, "memory": {"limit": 100 * 1024 * 1024}}
    bundle_id, bundle = t.bundle(cfg)
    c = json.loads((bundle / "config.json").read_text())
    c["linux"]["cgroupsPath"] = f"{slice_}:sworn:{cid}"
    (bundle / "config.json").write_text(json.dumps(c))
    t.ids.remove(bundle_id)
    scope = f"sworn-{cid}.scope"
    script = f"""
$SW run -d --bundle {bundle} {cid} || exit 1
$SW update --pids-limit 55 --memory 209715200 --cpu-period 100000 --cpu-quota 50000 {cid}; echo "UPDATE $?"
$SC show {scope} -p TasksMax -p MemoryLimit -p MemoryMax -p CPUQuotaPerSecUSec | sed 's/^/UNIT /'
echo "PIDSMAX $(cat /sys/fs/cgroup/pids/$CG/{slice_}/{scope}/pids.max 2>&1)"
echo "MEMMAX $(cat /sys/fs/cgroup/memory/$CG/{slice_}/{scope}/memory.limit_in_bytes 2>&1)"
$SW update --pids-limit -1 {cid}; echo "UPDATE2 $?"
$SC show {scope} -p TasksMax | sed 's/^/UNIT2 /'
$SW delete -f {cid}; echo "DELETE $?"
true
"""
    p, d, cg = _session(t, script)
    out = p.stdout
    t.require(p.returncode == 0, f"session: exit {p.returncode}: {p.stderr.strip()[-800:]}")
    lines = out.splitlines()
    t.expect("UPDATE 0" in lines, f"update: {out} {p.stderr.strip()[-500:]}")
    t.expect("UNIT TasksMax=55" in lines, f"TasksMax not updated: {out}")
    t.expect("UNIT MemoryLimit=209715200" in lines or "UNIT MemoryMax=209715200" in lines,
             f"memory limit property not updated: {out}")
    t.expect("UNIT CPUQuotaPerSecUSec=500ms" in lines, f"CPU quota property not updated: {out}")
    t.expect("PIDSMAX 55" in lines, f"pids.max: {out}")
    t.expect("MEMMAX 209715200" in lines, f"memory.limit_in_bytes: {out}")
    t.expect("UPDATE2 0" in lines and "UNIT2 TasksMax=infinity" in lines, f"pids limit -1: {out} {p.stderr[-300:]}")
    t.expect("DELETE 0" in lines, f"delete: {out}")
