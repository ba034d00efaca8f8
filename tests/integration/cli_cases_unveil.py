"""test_cli.py cases: unveil in containers (sworn.unveil.* annotations through
Landlock: filesystem permissions, execute, the auto-unveiled entrypoint,
layering with pledge), TCP bind/connect rules and signal scoping. The probe
and its helpers are in cli_cases_pledge.py."""
import json
import socket

import itlib
from itlib import finish, spawn
from cli_cases_pledge import ann_config, check_ops, free_ports, matches, pbundle, prun, results


# ---------------------------------------------------------------- 2. unveil in containers


def run_unveil(t, rules, ops, extra=None, promises=None):
    ann = {"sworn.unveil": json.dumps(rules)}
    if promises is not None:
        ann["sworn.pledge.promises"] = promises
    ann.update(extra or {})
    argv = ["/bin/pprobe"]
    for op, _ in ops:
        argv += op.split()
    return prun(t, ann_config(t, argv, ann))


def case_unveil_permissions(t):
    """r/w/x/c on a directory, and EACCES (Landlock, not EPERM) everywhere else."""
    plans = [
        (["r:/data"], [("open_rdonly /data/f", "ok"), ("readdir /data", "ok"), ("open_rdonly /data/sub/f", "ok"),
                       ("open_wronly /data/f", "EACCES@open"), ("open_trunc /data/f", "EACCES@open"),
                       ("open_creat /data/new", "EACCES@open"), ("unlink /data/g", "EACCES@unlink"),
                       ("open_rdonly /other/f", "EACCES@open"), ("open_rdonly /etc/hostname", "EACCES@open"),
                       ("readdir /", "EACCES@open"), ("lstat /other/f", "ok")]),
        (["rw:/data"], [("open_wronly /data/f", "ok"), ("open_trunc /data/f", "ok"), ("truncate /data/g", "ok"),
                        ("open_creat /data/new", "EACCES@open"), ("unlink /data/g", "EACCES@unlink"),
                        ("mkdir /data/nd", "EACCES@mkdir"), ("rename /data/g /data/g2", "EACCES@rename"),
                        ("open_wronly /other/f", "EACCES@open")]),
        (["rwc:/data"], [("open_creat /data/new", "ok"), ("mkdir /data/nd", "ok"), ("rmdir /data/nd", "ok"),
                         ("rename /data/g /data/g2", "ok"), ("unlink /data/g2", "ok"), ("mkfifo /data/p", "ok"),
                         ("open_creat /other/new", "EACCES@open"), ("unlink /other/f", "EACCES@unlink")]),
        (["c:/data"], [("unlink /data/g", "ok"), ("open_rdonly /data/f", "EACCES@open")]),
        (["w:/data/f"], [("open_wronly /data/f", "ok"), ("open_trunc /data/f", "ok"),
                         ("open_rdonly /data/f", "EACCES@open"), ("open_wronly /data/g", "EACCES@open")]),
    ]
    for rules, ops in plans:
        _, _, res = run_unveil(t, rules, ops)
        if t.expect(res.rc == 0, f"unveil {rules}: {res.describe()} {res.out[-300:]!r}"):
            check_ops(t, f"unveil {rules}", res, ops)


def case_unveil_execute(t):
    """x: a copy of busybox under /data runs only with rx (r alone, or x alone, is EACCES).
    The most specific rule wins: under "r:/data", "x:/data/bb" leaves bb with x alone."""
    for rules, want in ((["r:/data"], "EACCES"), (["x:/data"], "EACCES"), (["rx:/data"], None),
                        (["rx:/data/bb"], None), (["r:/data", "x:/data/bb"], "EACCES"),
                        (["r:/data", "rx:/data/bb"], None)):
        ops = [("getpid", "ok"), ("execve /data/bb busybox echo exec-ok", None)]
        _, _, res = run_unveil(t, rules, ops)
        what = f"unveil {rules}: exec /data/bb"
        if want:
            t.expect(matches(results(res.out).get("execve /data/bb"), want) and "exec-ok" not in res.out,
                     f"{what}: {res.out!r} {res.describe()}, want {want}")
        else:
            t.expect(res.rc == 0 and "exec-ok" in res.out, f"{what}: {res.out!r} {res.describe()}")


def case_unveil_auto_entrypoint(t):
    """sworn.unveil.auto (default true) unveils the entrypoint; false leaves it veiled."""
    rules = ["r:/data"]
    _, _, res = run_unveil(t, rules, [("open_rdonly /data/f", "ok")])
    t.expect(res.rc == 0 and matches(results(res.out).get("open_rdonly /data/f"), "ok"),
             f"auto (default): {res.describe()} {res.out!r}")
    _, _, res = run_unveil(t, rules, [("open_rdonly /data/f", "ok")], {"sworn.unveil.auto": "true"})
    t.expect(res.rc == 0, f"auto true: {res.describe()}")
    _, _, res = run_unveil(t, rules, [("open_rdonly /data/f", "ok")], {"sworn.unveil.auto": "false"})
    t.expect(res.rc not in (0, None) and res.out == "", f"auto false, entrypoint not unveiled: {res.describe()} "
                                                        f"{res.out!r}")
    # without a pledge the exec goes through sworn-dmz, which reports only "exec failed: PATH"
    t.expect("exec" in res.err and "/bin/pprobe" in res.err, f"auto false: the error should name the exec: "
                                                             f"{res.err.strip()[-300:]!r}")
    t.note(f"auto false, no pledge: {res.err.strip()[-200:]!r}")
    # the same with a pledge (eperm): the reason must survive the filter too
    _, _, res = run_unveil(t, rules, [("open_rdonly /data/f", "ok")], {"sworn.unveil.auto": "false"},
                           promises="stdio")
    t.expect(res.rc not in (0, None) and "Permission denied" in res.err,
             f"auto false + promises 'stdio': {res.describe()}; the error should say exec was denied")
    # the same, explicitly unveiling the entrypoint
    _, _, res = run_unveil(t, ["r:/data", "rx:/bin/pprobe"], [("open_rdonly /data/f", "ok")],
                           {"sworn.unveil.auto": "false"})
    t.expect(res.rc == 0 and matches(results(res.out).get("open_rdonly /data/f"), "ok"),
             f"auto false + rx:/bin/pprobe: {res.describe()} {res.out!r}")


def case_unveil_auto_false_kill_penalty_error(t):
    """A veiled entrypoint under penalty kill: create/run must still report the exec error, not die of SIGSYS."""
    ann = {"sworn.unveil": json.dumps(["r:/data"]), "sworn.unveil.auto": "false",
           "sworn.pledge.promises": "stdio", "sworn.pledge.penalty": "kill"}
    _, _, res = prun(t, ann_config(t, ["/bin/pprobe", "getpid"], ann))
    t.expect(res.rc not in (0, None), f"run: {res.describe()}")
    t.expect(res.rc != 128 + 31 and "Permission denied" in res.err,
             f"run with a veiled entrypoint under penalty kill: {res.describe()}; want sworn's exec error "
             f"(Permission denied), not a SIGSYS death of the init")


def case_unveil_hidden_under_allowed(t):
    """':/data/secret' under 'r:/data' hides it, as on OpenBSD (issue #14 item 7: it used
    to warn and stay readable). /data itself keeps no rights (Landlock rights on a
    directory reach everything beneath): sworn says so in the state and on stderr."""
    rules = ["r:/data", ":/data/secret"]
    cfg = ann_config(t, ["/bin/pprobe", "open_rdonly", "/data/secret/key", "open_rdonly", "/data/f"],
                     {"sworn.unveil": json.dumps(rules)})
    cid, bundle = pbundle(t, cfg)
    res = t.rt("create", "--bundle", str(bundle), cid)
    t.require(res.rc == 0, f"create: {res.describe()}")
    warn = t.state(cid).get("annotations", {}).get("sworn.landlock.warnings", "")
    t.expect("/data itself keeps nothing" in warn, f"state annotations sworn.landlock.warnings {warn!r} do not "
                                                   f"say what /data keeps")
    t.expect("/data itself keeps nothing" in res.err, f"create's stderr does not say what /data keeps: "
                                                      f"{res.err.strip()!r}")
    t.note(f"warning: {warn}")
    ops = [("open_rdonly /data/secret/key", "EACCES"), ("open_rdonly /data/f", "ok"),
           ("open_rdonly /data/sub/f", "ok")]
    _, _, res = run_unveil(t, rules, ops)
    t.expect(res.rc == 0, f"run: {res.describe()}")
    check_ops(t, f"unveil {rules}", res, ops)
    # the README's example: rwc on /data, the secret hidden
    ops = [("open_rdonly /data/secret/key", "EACCES"), ("open_wronly /data/f", "ok"),
           ("open_rdonly /data/sub/f", "ok")]
    _, _, res = run_unveil(t, ["rwc:/data", ":/data/secret"], ops)
    check_ops(t, "unveil rwc:/data :/data/secret", res, ops)
    # a hidden path with nothing above it is simply not reachable
    _, _, res = run_unveil(t, ["r:/data", ":/other"], [("open_rdonly /other/f", "EACCES"),
                                                        ("open_rdonly /data/f", "ok")])
    t.expect(res.rc == 0, f"run: {res.describe()}")
    check_ops(t, "unveil r:/data :/other", res, [("open_rdonly /other/f", "EACCES"), ("open_rdonly /data/f", "ok")])


def case_unveil_with_pledge_layers(t):
    """Both layers: pledge decides first (EPERM), then Landlock (EACCES)."""
    ops = [("open_rdonly /data/f", "ok"), ("open_rdonly /etc/hostname", "EACCES"), ("open_wronly /data/f", "EPERM"),
           ("socket_inet", "EPERM")]
    _, _, res = run_unveil(t, ["r:/data"], ops, promises="stdio rpath")
    t.require(res.rc == 0, f"run: {res.describe()}")
    check_ops(t, "unveil r:/data + stdio rpath", res, ops)


def case_unveil_tcp_only_filesystem(t):
    """sworn.unveil.tcp alone: only TCP is restricted? (reported, not asserted: the contract is silent)."""
    p1, = free_ports(1)
    cfg = ann_config(t, ["/bin/pprobe", "open_rdonly", "/etc/hostname", "bind_tcp", str(p1)],
                     {"sworn.unveil.tcp": json.dumps([f"bind:{p1}"])}, netns=False)
    _, _, res = prun(t, cfg)
    t.note(f"sworn.unveil.tcp alone: {res.out.strip()!r} ({res.describe()})")


# ---------------------------------------------------------------- 3. TCP rules


def case_unveil_tcp_bind_connect(t):
    """sworn.unveil.tcp: listed binds/connects pass, others are EACCES; host network, no lo setup needed."""
    p_bind, p_other, p_conn, p_noconn = free_ports(4)
    servers = []
    for p in (p_conn, p_noconn):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", p))
        s.listen(8)
        servers.append(s)
    t.on_cleanup(lambda: [s.close() for s in servers])
    ops = [("bind_tcp " + str(p_bind), "ok"), ("bind_tcp " + str(p_other), "EACCES@bind"),
           ("connect_tcp " + str(p_conn), "ok"), ("connect_tcp " + str(p_noconn), "EACCES@connect"),
           ("socket_inet_dgram", "ok"), ("open_rdonly /data/f", "ok")]
    ann = {"sworn.unveil": json.dumps(["r:/data"]),
           "sworn.unveil.tcp": json.dumps([f"bind:{p_bind}", f"connect:{p_conn}"])}
    argv = ["/bin/pprobe"] + [w for op, _ in ops for w in op.split()]
    _, _, res = prun(t, ann_config(t, argv, ann, netns=False))
    t.require(res.rc == 0, f"run: {res.describe()}")
    check_ops(t, "tcp bind+connect rules", res, ops)
    # bind only: connect anywhere is denied
    ops = [("bind_tcp " + str(p_bind), "ok"), ("bind_tcp " + str(p_other), "EACCES@bind"),
           ("connect_tcp " + str(p_conn), "EACCES@connect")]
    ann["sworn.unveil.tcp"] = json.dumps([f"bind:{p_bind}"])
    argv = ["/bin/pprobe"] + [w for op, _ in ops for w in op.split()]
    _, _, res = prun(t, ann_config(t, argv, ann, netns=False))
    t.require(res.rc == 0, f"run: {res.describe()}")
    check_ops(t, "tcp ['bind:P']", res, ops)
    # with inet promised too, the same Landlock answers (EACCES, not EPERM)
    ann["sworn.pledge.promises"] = "stdio inet"
    _, _, res = prun(t, ann_config(t, argv, ann, netns=False))
    t.require(res.rc == 0, f"run: {res.describe()}")
    check_ops(t, "tcp ['bind:P'] + stdio inet", res, ops)
    # no sworn.unveil.tcp: TCP is not Landlock's business
    ann = {"sworn.unveil": json.dumps(["r:/data"])}
    ops = [("bind_tcp " + str(p_other), "ok"), ("connect_tcp " + str(p_noconn), "ok")]
    argv = ["/bin/pprobe"] + [w for op, _ in ops for w in op.split()]
    _, _, res = prun(t, ann_config(t, argv, ann, netns=False))
    t.require(res.rc == 0, f"run: {res.describe()}")
    check_ops(t, "unveil without tcp rules", res, ops)


# ---------------------------------------------------------------- 4. signal scoping


def case_unveil_signal_scope(t):
    """With any unveil, signals to processes outside the container's Landlock domain are EPERM; scope none allows."""
    sleeper = spawn(["sleep", "60"])
    t.on_cleanup(lambda: (itlib.kill_pid(sleeper.pid), finish(sleeper, 5)))
    hp = str(sleeper.pid)
    base = {"sworn.unveil": json.dumps(["r:/data"])}
    for extra, want in (({}, "EPERM@kill"), ({"sworn.unveil.scope": "container"}, "EPERM@kill"),
                        ({"sworn.unveil.scope": "none"}, "ok")):
        ann = dict(base, **extra)
        _, _, res = prun(t, ann_config(t, ["/bin/pprobe", "kill0", hp, "kill_self", "10"], ann, pidns=False))
        t.require(res.rc == 0, f"run {extra}: {res.describe()}")
        check_ops(t, f"kill -0 host pid {hp} with {extra or 'default scope'}", res,
                  [(f"kill0 {hp}", want), ("kill_self 10", "ok")])
    # no unveil at all: no scoping
    _, _, res = prun(t, ann_config(t, ["/bin/pprobe", "kill0", hp], {}, pidns=False))
    check_ops(t, "no sandbox", res, [(f"kill0 {hp}", "ok")])
    t.expect(sleeper.poll() is None, "the host sleeper died")


def case_unveil_exec_signals_init(t):
    """An exec'd process signalling the container's own init (same container, scope on): reported."""
    ann = {"sworn.unveil": json.dumps(["r:/data"])}
    cid, bundle = pbundle(t, ann_config(t, ["/bin/pprobe", "sleep", "100"], ann))
    t.ok(t.rt("create", "--bundle", str(bundle), cid), "create")
    t.ok(t.rt("start", cid), "start")
    res = t.rt("exec", cid, "/bin/pprobe", "kill0", "1")
    t.note(f"exec'd process kill -0 1 (the init) with scoping on: {res.out.strip()!r} ({res.describe()})")

