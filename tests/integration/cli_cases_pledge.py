"""test_cli.py cases: pledge promises (sworn.pledge.* annotations), bad sandbox
annotations, `sworn exec` into a pledged container; and the helpers the other
pledge/unveil modules share (cli_cases_unveil, cli_cases_pledge_cli,
cli_cases_pledge_report, cli_cases_pledge_learn): the probe, bundles,
`sworn pledge` on the host.

The reference is /work/shared/reference/pledge-unveil.md (cosmo's promise
tables, Landlock mapping, pledge.com's CLI).  A static C helper (tests/probe/pprobe.c)
is compiled once with gcc -static and copied into a bundle's rootfs as
/bin/pprobe; it takes operations on argv and prints one line per operation:

    <op> [args...] ok
    <op> [args...] <ERRNO-NAME>@<step>

so the seccomp layer (EPERM) and the Landlock layer (EACCES) can be told
apart.  With -x as the first argument it exits with the errno of the last
operation.  Being static, it needs no rpath/prot_exec/unveil to start.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import itlib
from itlib import finish, spawn, wait_until

# ---------------------------------------------------------------- the probe

PPROBE_SRC = (Path(__file__).resolve().parents[1] / "probe" / "pprobe.c").read_text()


def pprobe_binary(t):
    return itlib.static_helper(t, "pprobe", PPROBE_SRC, "-pthread")


def results(out):
    """'<key...> <result>' lines -> {key: result}."""
    got = {}
    for line in out.splitlines():
        if " " in line:
            key, res = line.rsplit(" ", 1)
            got[key] = res
    return got


def matches(got, want):
    """want 'EPERM' matches 'EPERM@open'; 'EPERM@listen' must match exactly."""
    return got is not None and (got == want or ("@" not in want and got.startswith(want + "@")))


def ann_config(t, args, ann=None, *, writable=True, pidns=True, netns=True):
    cfg = t.config(args)
    cfg["root"]["readonly"] = not writable
    if ann:
        cfg["annotations"] = dict(ann)
    drop = set() if pidns else {"pid"}
    if not netns:
        drop.add("network")
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] not in drop]
    return cfg


def prepare_rootfs(t, rootfs):
    """pprobe, and the files the operations act on."""
    dest = rootfs / "bin" / "pprobe"
    shutil.copyfile(pprobe_binary(t), dest)
    os.chmod(dest, 0o755)
    for d in ("data", "data/sub", "data/secret", "other", "tmp/dir", "tmp/dir2"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    for f in ("data/f", "data/g", "data/sub/f", "data/secret/key", "other/f", "tmp/f", "tmp/g", "tmp/h",
              "tmp/lock"):
        (rootfs / f).write_text("hello\n")
    shutil.copyfile(rootfs / "bin" / "busybox", rootfs / "data" / "bb")
    os.chmod(rootfs / "data" / "bb", 0o755)


def pbundle(t, cfg, tag=None):
    cid, bundle = t.bundle(cfg, tag)
    prepare_rootfs(t, bundle / "rootfs")
    return cid, bundle


def prun(t, cfg, timeout=None):
    """run a pprobe bundle in the foreground; returns (cid, bundle, Result)."""
    cid, bundle = pbundle(t, cfg)
    res = t.rt("run", "--bundle", str(bundle), cid, timeout=timeout)
    return cid, bundle, res


def check_ops(t, what, res, want):
    """want: [(key, expected)]; every key must have printed its expected result."""
    got = results(res.out)
    for key, exp in want:
        t.expect(matches(got.get(key), exp),
                 f"{what}: {key!r} -> {got.get(key)!r}, want {exp!r}")
    return got


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


# ---------------------------------------------------------------- 1. promises, EPERM penalty

# promise -> (base promises, [(op, expected with base+promise)], [(op, expected with base only)]).
# Extra ops in the first list show what the promise still does not allow.
PROMISE_TABLE = {
    # fstat: glibc >= 2.33 implements fstat(2) with newfstatat(fd, "", AT_EMPTY_PATH)
    "stdio": ("", [("fstat", "ok"), ("clone_thread", "ok"), ("mmap_rw", "ok"), ("kill_self 10", "ok"), ("raise_self 12", "ok"),
                   ("ioctl_fionbio", "ok"), ("prctl_name", "ok"), ("sched_yield", "ok"),
                   ("fork", "EPERM@fork"), ("mmap_exec", "EPERM"), ("mprotect_exec", "EPERM@mprotect"),
                   ("ioctl_tcgets", "EPERM"), ("prctl_dumpable", "EPERM"), ("kill0 2", "EPERM"),
                   ("socket_inet", "EPERM"), ("open_rdonly /etc/hostname", "EPERM"),
                   ("clone3", "ENOSYS"), ("openat2", "ENOSYS"), ("memfd_create", "ENOSYS"), ("mseal", "ENOSYS"),
                   ("clock_settime_bad", "EPERM")],
              None),  # without stdio nothing can even print: see case pledge_empty_promises
    "rpath": ("stdio", [("open_rdonly /etc/hostname", "ok"), ("readdir /data", "ok"), ("lstat /data/f", "ok"),
                        ("open_wronly /tmp/f", "EPERM"), ("open_rdonly_trunc /tmp/f", "EPERM"),
                        ("open_creat /tmp/new", "EPERM")],
              [("open_rdonly /etc/hostname", "EPERM"), ("readdir /data", "EPERM")]),
    "wpath": ("stdio", [("open_wronly /tmp/f", "ok"), ("open_rdwr /tmp/f", "ok"), ("open_trunc /tmp/g", "ok"),
                        ("truncate /tmp/g", "ok"), ("chmod /tmp/f", "ok"), ("chmod_setuid /tmp/f", "EPERM"),
                        ("open_creat /tmp/new", "EPERM"), ("open_rdonly_trunc /tmp/f", "EPERM")],
              [("open_wronly /tmp/f", "EPERM"), ("open_trunc /tmp/g", "EPERM"), ("truncate /tmp/g", "EPERM")]),
    "cpath": ("stdio", [("open_creat /tmp/new", "ok"), ("mkdir /tmp/newdir", "ok"), ("rmdir /tmp/dir", "ok"),
                        ("rename /tmp/g /tmp/g2", "ok"), ("unlink /tmp/f", "ok"),
                        ("open_creat_suid /tmp/new2", "EPERM"), ("mkfifo /tmp/fifo", "EPERM")],
              [("open_creat /tmp/new", "EPERM"), ("mkdir /tmp/newdir", "EPERM"), ("unlink /tmp/h", "EPERM"),
               ("rmdir /tmp/dir2", "EPERM")]),
    "dpath": ("stdio", [("mkfifo /tmp/fifo", "ok"), ("mkdir /tmp/nd", "EPERM")],
              [("mkfifo /tmp/fifo", "EPERM")]),
    "flock": ("stdio rpath", [("flock /tmp/lock", "ok"), ("fcntl_setlk /tmp/lock", "ok")],
              [("flock /tmp/lock", "EPERM@flock"), ("fcntl_setlk /tmp/lock", "EPERM@fcntl")]),
    "fattr": ("stdio", [("chmod /tmp/f", "ok"), ("utime /tmp/f", "ok"), ("chmod_setuid /tmp/f", "EPERM"),
                        ("chown /tmp/f", "EPERM")],
              [("chmod /tmp/f", "EPERM"), ("utime /tmp/f", "EPERM")]),
    "inet": ("stdio", [("socket_inet", "ok"), ("socket_inet_dgram", "ok"), ("socket_inet6", "ok"),
                       ("bind_tcp 18080", "ok"), ("socket_unix", "EPERM")],
             [("socket_inet", "EPERM"), ("socket_inet_dgram", "EPERM")]),
    "anet": ("stdio", [("socket_inet", "ok"), ("bind_tcp 18081", "ok"), ("socket_inet_dgram", "EPERM"),
                       ("connect_tcp 18082", "EPERM@connect")],
             [("socket_inet", "EPERM")]),
    "unix": ("stdio", [("socket_unix", "ok"), ("socket_unix_seqpacket", "EPERM"), ("socket_inet", "EPERM")],
             [("socket_unix", "EPERM")]),
    "dns": ("stdio", [("socket_inet_dgram", "ok"), ("open_rdonly /etc/hostname", "ok"), ("sendmsg", "ok"),
                      ("recvmsg", "ok"),
                      # past seccomp; lo is down in the container's network namespace
                      ("sendto_addr 53", "ENETUNREACH@sendto"), ("bind_tcp 18083", "EPERM@listen")],
            [("socket_inet_dgram", "EPERM"), ("sendmsg", "EPERM@sendmsg")]),
    # stdin is not a terminal here: ENOTTY means the ioctl got past seccomp
    "tty": ("stdio", [("ioctl_tiocgwinsz", "ENOTTY"), ("ioctl_tcgets", "ENOTTY")],
            [("ioctl_tiocgwinsz", "EPERM"), ("ioctl_tcgets", "EPERM")]),
    "recvfd": ("stdio", [("recvmsg", "ok"), ("sendmsg", "EPERM@sendmsg")], [("recvmsg", "EPERM@recvmsg")]),
    "sendfd": ("stdio", [("sendmsg", "ok"), ("recvmsg", "EPERM@recvmsg")], [("sendmsg", "EPERM@sendmsg")]),
    "proc": ("stdio", [("fork", "ok"), ("kill0 1", "ok"), ("clone3", "ENOSYS")], [("fork", "EPERM@fork")]),
    "exec": ("stdio", [("reexec", None), ("reexeced", "ok")], [("reexec", "EPERM@execve")]),
    "id": ("stdio", [("setuid 0", "ok"), ("setgid 0", "ok")], [("setuid 0", "EPERM"), ("setgid 0", "EPERM")]),
    "chown": ("stdio", [("chown /tmp/f", "ok")], [("chown /tmp/f", "EPERM")]),
    # settimeofday with tv_usec -1: EINVAL once past seccomp (before the CAP_SYS_TIME check);
    # clock_settime is allowed by no promise.
    "settime": ("stdio", [("settimeofday_bad", "EINVAL"), ("clock_settime_bad", "EPERM")],
                [("settimeofday_bad", "EPERM")]),
    "prot_exec": ("stdio", [("mmap_exec", "ok"), ("mprotect_exec", "ok")],
                  [("mmap_exec", "EPERM@mmap"), ("mprotect_exec", "EPERM@mprotect")]),
    "unveil": ("stdio", [("landlock_abi", "ok")], [("landlock_abi", "EPERM")]),
    # vminfo is a placeholder (sched_yield, already in stdio); its /proc unveils are checked with `sworn pledge`
    "vminfo": ("stdio", [("sched_yield", "ok"), ("open_rdonly /proc/meminfo", "EPERM")], []),
    "tmppath": ("stdio", [("unlink /tmp/f", "ok"), ("lstat /tmp/g", "ok"),
                          ("fstatat /tmp/g", "EPERM"), ("open_creat /tmp/new", "EPERM"),
                          ("mkdir /tmp/nd", "EPERM")],
                [("unlink /tmp/f", "EPERM")]),
}


def run_promises(t, promises, ops, penalty=None, extra_ann=None, **kw):
    argv = ["/bin/pprobe"]
    for op, _ in ops:
        argv += op.split()
    ann = {"sworn.pledge.promises": promises}
    if penalty:
        ann["sworn.pledge.penalty"] = penalty
    ann.update(extra_ann or {})
    _, _, res = prun(t, ann_config(t, argv, ann, **kw))
    return res


def case_pledge_promise_table(t):
    """Every one of the 23 promises: what it allows, and what is denied (EPERM) without it."""
    t.expect(len(PROMISE_TABLE) == 23, f"the table covers {len(PROMISE_TABLE)} promises, want 23")
    for promise, (base, allowed, denied) in PROMISE_TABLE.items():
        with_p = " ".join(p for p in (base, promise) if p)
        res = run_promises(t, with_p, allowed)
        what = f"promises {with_p!r}"
        if not t.expect(res.rc == 0, f"{what}: {res.describe()} {res.out[-300:]!r}"):
            continue
        check_ops(t, what, res, [(k, v) for k, v in allowed if v is not None])
        if denied:
            res = run_promises(t, base, denied)
            if t.expect(res.rc == 0, f"promises {base!r}: {res.describe()} {res.out[-300:]!r}"):
                check_ops(t, f"promises {base!r} (without {promise})", res, denied)


def case_pledge_promises_case_and_thread(t):
    """Promises are case-insensitive and deduplicated; 'thread' is accepted with a warning."""
    res = run_promises(t, "STDIO Rpath  rpath\tthread", [("open_rdonly /etc/hostname", "ok"),
                                                         ("clone_thread", "ok"), ("fork", "EPERM")])
    t.require(res.rc == 0, f"run: {res.describe()}")
    check_ops(t, "'STDIO Rpath rpath thread'", res, [("open_rdonly /etc/hostname", "ok"),
                                                     ("clone_thread", "ok"), ("fork", "EPERM")])
    t.expect("thread" in res.err and "deprecated" in res.err.lower(),
             f"no warning about 'thread' on stderr: {res.err.strip()[-300:]!r}")


def case_pledge_empty_promises(t):
    """'' = only exit: the program cannot even write; it still exits (exit_group -> EPERM -> exit)."""
    res = run_promises(t, "", [("write_stdout", None)])
    t.expect(res.out == "", f"output under promises '': {res.out!r}")
    t.note(f"promises '': pprobe write_stdout -> {res.describe()} (a static glibc program under '' "
           f"may not get past its own start-up)")
    t.expect(res.rc not in (None, 159), f"promises '' (eperm): {res.describe()}, want an exit, not SIGSYS")
    # and with -x: the exit status carries the errno; exit is always allowed
    cfg = ann_config(t, ["/bin/pprobe", "-x", "nop"], {"sworn.pledge.promises": "stdio"})
    _, _, res = prun(t, cfg)
    t.expect(res.rc == 0, f"promises 'stdio' pprobe -x nop: {res.describe()}")


def case_pledge_kill_penalty(t):
    """penalty kill: the first denied call is SIGSYS (run exits 159); allowed calls and ENOSYS stubs still pass."""
    # rpath in every set: static glibc's start-up readlink()s /proc/self/exe (see the note below)
    cases = [
        ("stdio rpath", [("getpid", "ok"), ("clone3", "ENOSYS"), ("clone_thread", "ok"), ("fork", None),
                         ("getppid", None)], "fork"),
        ("stdio rpath", [("open_rdonly /etc/hostname", "ok"), ("open_wronly /tmp/f", None)], "open_wronly"),
        ("stdio rpath inet", [("socket_inet", "ok"), ("socket_unix", None)], "socket_unix"),
        ("stdio rpath proc", [("fork", "ok"), ("reexec", None)], "reexec"),
        # what any glibc program does at its first buffered printf: fstat(1)
        ("stdio rpath", [("getpid", "ok"), ("fstat", "ok"), ("fork", None)], "fork"),
    ]
    for promises, ops, dies_at in cases:
        res = run_promises(t, promises, ops, penalty="kill")
        what = f"promises {promises!r} penalty kill"
        t.expect(res.rc == 128 + 31, f"{what}: {res.describe()}, want exit 159 (SIGSYS at {dies_at})")
        got = check_ops(t, what, res, [(k, v) for k, v in ops if v is not None])
        t.expect(not any(k.startswith(dies_at) for k in got), f"{what}: {dies_at} returned: {res.out!r}")
    # a static glibc program under plain "stdio": start-up's readlink("/proc/self/exe") is rpath
    res = run_promises(t, "stdio", [("getpid", "ok")], penalty="kill")
    t.note(f"static pprobe under 'stdio' penalty kill: {res.describe()} output {res.out!r}")
    # control: eperm penalty with the same ops keeps going
    res = run_promises(t, "stdio", [("fork", "EPERM"), ("getpid", "ok")], penalty="eperm")
    t.expect(res.rc == 0, f"penalty eperm: {res.describe()}")
    check_ops(t, "penalty eperm", res, [("fork", "EPERM"), ("getpid", "ok")])


def case_pledge_exec_denied_busybox(t):
    """No exec promise: after start nothing can execve, not even static busybox."""
    base = ["/bin/sh", "-c", "cat /etc/hostname"]
    cfg = ann_config(t, base, {"sworn.pledge.promises": "stdio rpath proc"})
    _, _, res = prun(t, cfg)
    t.expect(res.rc not in (0, None), f"sh -c cat without exec: {res.describe()}")
    t.expect("sworn" not in res.out, f"cat ran without exec: {res.out!r}")
    t.expect("Operation not permitted" in res.err, f"want 'Operation not permitted': {res.err.strip()[-300:]!r}")
    cfg = ann_config(t, base, {"sworn.pledge.promises": "stdio rpath proc exec"})
    _, _, res = prun(t, cfg)
    t.expect(res.rc == 0 and res.out.strip() == "sworn", f"sh -c cat with exec: {res.describe()} {res.out!r}")


def case_pledge_kill_self_host_pidns(t):
    """stdio's kill/tgkill are bound to the process's own pid, also without a pid namespace."""
    res = run_promises(t, "stdio", [("kill_self 10", "ok"), ("raise_self 12", "ok"), ("kill0 1", "EPERM")],
                       pidns=False)
    t.require(res.rc == 0, f"run: {res.describe()}")
    check_ops(t, "promises 'stdio', host pid namespace", res,
              [("kill_self 10", "ok"), ("raise_self 12", "ok"), ("kill0 1", "EPERM")])


# ---------------------------------------------------------------- 5. bad annotations


def case_sandbox_bad_annotations(t):
    bad = [
        ({"sworn.pledge.promises": "stdio bogus"}, "annotations.sworn.pledge.promises"),
        ({"sworn.pledge.promises": "stdio", "sworn.pledge.penalty": "abort"}, "annotations.sworn.pledge.penalty"),
        ({"sworn.unveil": "[\"r:/data\""}, "annotations.sworn.unveil"),
        ({"sworn.unveil": "{\"r\": \"/data\"}"}, "annotations.sworn.unveil"),
        ({"sworn.unveil": "[\"r:/data\", 7]"}, "annotations.sworn.unveil"),
        ({"sworn.unveil": "[\"rz:/data\"]"}, "annotations.sworn.unveil"),
        ({"sworn.unveil": "[\"r:data\"]"}, "annotations.sworn.unveil"),
        ({"sworn.unveil": "[\"r:\"]"}, "annotations.sworn.unveil"),
        ({"sworn.unveil": "[\"r:/no/such/path\"]"}, "/no/such/path"),
        ({"sworn.bogus": "1"}, "annotations.sworn.bogus"),
        ({"sworn.pledge": "stdio"}, "annotations.sworn.pledge"),
        ({"sworn.unveil": "[]", "sworn.unveil.tcp": "[\"listen:80\"]"}, "annotations.sworn.unveil.tcp"),
        ({"sworn.unveil": "[]", "sworn.unveil.tcp": "[\"bind:70000\"]"}, "annotations.sworn.unveil.tcp"),
        ({"sworn.unveil": "[]", "sworn.unveil.tcp": "[\"bind:\"]"}, "annotations.sworn.unveil.tcp"),
        ({"sworn.unveil": "[]", "sworn.unveil.tcp": "bind:80"}, "annotations.sworn.unveil.tcp"),
        ({"sworn.unveil": "[]", "sworn.landlock.compat": "strict"}, "annotations.sworn.landlock.compat"),
        ({"sworn.unveil": "[]", "sworn.unveil.scope": "all"}, "annotations.sworn.unveil.scope"),
        ({"sworn.unveil": "[]", "sworn.unveil.auto": "yes"}, "annotations.sworn.unveil.auto"),
    ]
    for ann, word in bad:
        cfg = ann_config(t, ["/bin/pprobe", "sleep", "10"], ann)
        cid, bundle = pbundle(t, cfg)
        res = t.rt("create", "--bundle", str(bundle), cid)
        what = f"annotations {ann}"
        t.expect(res.rc not in (0, None), f"{what}: create succeeded: {res.describe()}")
        t.expect(word in res.err, f"{what}: error does not name {word!r}: {res.err.strip()[-300:]!r}")
        t.expect(not (t.rt.root / cid).exists(), f"{what}: state dir left behind")
        left = itlib.cgroup_dirs(t.cgroup_path(cid))
        t.expect(not left, f"{what}: cgroup dirs left behind: {[str(d) for d in left]}")
    # the same checks through `run`
    cfg = ann_config(t, ["/bin/pprobe", "nop"], {"sworn.pledge.promises": "stdio nope"})
    cid, res = t.run(cfg)
    t.expect(res.rc not in (0, None) and "annotations.sworn.pledge.promises" in res.err,
             f"run with an unknown promise: {res.describe()}")
    t.expect(not (t.rt.root / cid).exists(), "run: state dir left behind")
    # non-sworn annotations and the sworn keys that are fine
    ok = ann_config(t, ["/bin/pprobe", "nop"], {"org.example.x": "1", "sworn.unveil": "[\"r:/data\"]",
                                               "sworn.landlock.compat": "hard", "sworn.unveil.scope": "none",
                                               "sworn.unveil.auto": "true", "sworn.unveil.tcp": "[]"})
    _, _, res = prun(t, ok)
    t.expect(res.rc == 0, f"valid sworn annotations (compat hard on ABI 7): {res.describe()}")


# ---------------------------------------------------------------- 6. sworn pledge on the host


def sworn_cmd(t):
    return list(t.rt.prefix)


def host_pledge(t, *args, timeout=20, stdin=subprocess.DEVNULL):
    """`sworn pledge ARGS` with stdin /dev/null (see case pledge_cli_stdio_pipes for a pipe)."""
    argv = [*sworn_cmd(t), "pledge", *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=err, start_new_session=True)
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            itlib.harness.kill_group(proc.pid)
            proc.wait()
            rc = None
        out.seek(0)
        err.seek(0)
        return itlib.harness.Result(argv, rc, out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def wait_port(port, timeout=10):
    def up():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False
    return wait_until(up, timeout, 0.1)




# ---------------------------------------------------------------- 7. exec into a pledged container


def case_pledge_exec_into_container(t):
    """sworn exec runs the new process under the container's promises (and unveils)."""
    ann = {"sworn.pledge.promises": "stdio rpath", "sworn.unveil": json.dumps(["r:/data"])}
    cid, bundle = pbundle(t, ann_config(t, ["/bin/pprobe", "sleep", "100"], ann))
    t.ok(t.rt("create", "--bundle", str(bundle), cid), "create")
    t.ok(t.rt("start", cid), "start")
    res = t.rt("exec", cid, "/bin/pprobe", "fork", "open_rdonly", "/data/f", "open_rdonly", "/etc/hostname",
               "open_wronly", "/data/f", "clone_thread")
    t.require(res.rc == 0, f"exec: {res.describe()}")
    check_ops(t, "exec into 'stdio rpath' + r:/data", res,
              [("fork", "EPERM@fork"), ("open_rdonly /data/f", "ok"), ("open_rdonly /etc/hostname", "EACCES"),
               ("open_wronly /data/f", "EPERM"), ("clone_thread", "ok")])
    res = t.rt("exec", cid, "/bin/pprobe", "kill_self", "10", "raise_self", "12")
    check_ops(t, "exec'd process signalling itself under stdio", res, [("kill_self 10", "ok"),
                                                                         ("raise_self 12", "ok")])
    res = t.rt("exec", cid, "/bin/sh", "-c", "cat /data/f")
    t.expect(res.rc not in (0, None) and "hello" not in res.out, f"exec sh -c cat (no exec/proc): {res.describe()}")
    t.expect(t.state(cid).get("status") == "running", "container not running after the execs")
