"""How the container's processes join their cgroups: on cgroup v1 the init
and exec'd processes join themselves (cgroup/self_join.h). Whatever the
path, every process is in the container's cgroup in every hierarchy before
its first instruction, and the limits hold from then on."""
from cli_cases_hostile_state import cgroup_lines


def _in_every_hierarchy(t, what, out, path):
    lines = cgroup_lines(out)
    t.expect(len(lines) >= 2, f"{what}: /proc/self/cgroup has {len(lines)} lines: {out!r}")
    for h, p in lines.items():
        t.expect(p == path, f"{what}: {h or 'cgroup2'} cgroup is {p!r}, want {path!r}")


def case_cgroup_join_init_and_exec(t):
    """run's program and an exec'd one see the container's path in every
    hierarchy (v1 ones and the cgroup2 one)."""
    cid, res = t.run(t.config(["/bin/cat", "/proc/self/cgroup"]))
    t.expect(res.rc == 0, f"run: {res.describe()}")
    _in_every_hierarchy(t, "run", res.out, t.cgroup_path(cid))
    cid, _ = t.started(t.sleeper())
    res = t.rt("exec", cid, "/bin/cat", "/proc/self/cgroup")
    t.expect(res.rc == 0, f"exec: {res.describe()}")
    _in_every_hierarchy(t, "exec", res.out, t.cgroup_path(cid))


def case_cgroup_join_limits_from_the_start(t):
    """pids.max 1: the program itself is the one task, its first fork fails;
    an exec'd shell (joining is a migration, which pids.max does not refuse)
    cannot fork either."""
    cfg = t.config(["/bin/sh", "-c", "/bin/true && echo forked; exit 0"])
    cfg["linux"]["resources"] = {"pids": {"limit": 1}}
    _, res = t.run(cfg)
    t.expect("forked" not in res.out, f"a fork under pids.max 1 succeeded: {res.describe()}")
    cfg = t.config(["/bin/sleep", "100"])
    cfg["linux"]["resources"] = {"pids": {"limit": 1}}
    cid, _ = t.started(cfg)
    res = t.rt("exec", cid, "/bin/sh", "-c", "/bin/true && echo forked; exit 0")
    t.expect("forked" not in res.out, f"an exec'd process forked under pids.max 1: {res.describe()}")
