"""test_cli.py cases, part 4: seccomp, pause/resume, update, events, ps,
scheduling/personality and linux.resources (validation and the v1 device cgroup).

Host assumptions (checked where it matters): hybrid cgroups, v1 controllers
under /sys/fs/cgroup/<controller>.  A tiny static C helper (SCTEST_SRC) is
compiled once and copied into a bundle's rootfs as /bin/sctest where a case
needs exact errno values.
"""
import fcntl
import json
import os
import select
import socket
import struct
import threading
import time
from pathlib import Path

import itlib
from itlib import finish, pid_alive, spawn, wait_until

CG = Path("/sys/fs/cgroup")

# ---------------------------------------------------------------- helpers

SCTEST_SRC = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *what, long rc) {
    printf("%s %ld %d\n", what, rc, rc < 0 ? errno : 0);
    fflush(stdout);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *c = argv[i];
        errno = 0;
        if (!strcmp(c, "mkdir")) report(c, syscall(SYS_mkdir, argv[++i], 0755));
        else if (!strcmp(c, "mkdirat")) report(c, syscall(SYS_mkdirat, AT_FDCWD, argv[++i], 0755));
        else if (!strcmp(c, "clone3")) report(c, syscall(435, NULL, 0));
        else if (!strcmp(c, "faccessat2")) report(c, syscall(439, AT_FDCWD, "/", F_OK, 0));
        else if (!strcmp(c, "unshare")) report(c, syscall(SYS_unshare, 0));
        else if (!strcmp(c, "personality")) {
            unsigned long v = strtoul(argv[++i], NULL, 0);
            long rc = syscall(SYS_personality, v);
            char buf[64];
            snprintf(buf, sizeof buf, "personality(%#lx)", v);
            report(buf, rc < 0 ? rc : 0);
        }
        else if (!strcmp(c, "getppid")) { printf("calling getppid\n"); fflush(stdout); report(c, syscall(SYS_getppid)); }
        else if (!strcmp(c, "getpid")) report(c, syscall(SYS_getpid) > 0 ? 0 : -1);
        else { fprintf(stderr, "sctest: unknown command %s\n", c); return 2; }
    }
    return 0;
}
"""


def sctest_binary(t):
    return itlib.static_helper(t, "sctest", SCTEST_SRC)


def bundle_with_sctest(t, cfg):
    binary = sctest_binary(t)
    cid, bundle = t.bundle(cfg)
    dest = bundle / "rootfs" / "bin" / "sctest"
    dest.write_bytes(binary.read_bytes())
    os.chmod(dest, 0o755)
    return cid, bundle


def run_sctest(t, cfg, *flags):
    cid, bundle = bundle_with_sctest(t, cfg)
    return cid, t.rt("run", *flags, "--bundle", str(bundle), cid)


def sc_results(out):
    """'name rc errno' lines -> {name: (rc, errno)}."""
    got = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].lstrip("-").isdigit():
            got[parts[0]] = (int(parts[1]), int(parts[2]))
    return got


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


# Old syscalls only (all numbered below clone3 = 435 on x86-64), enough for
# busybox sh/echo/cat/grep and sworn's exec trampoline; unshare, mount, setns,
# personality (added per case) and other namespace/privileged calls are absent.
ALLOW_OLD = """
read write open close stat fstat lstat poll lseek mmap mprotect munmap brk rt_sigaction rt_sigprocmask
rt_sigreturn ioctl pread64 pwrite64 readv writev access pipe select sched_yield mremap msync mincore madvise
dup dup2 pause nanosleep getitimer alarm setitimer getpid sendfile socket connect accept sendto recvfrom
sendmsg recvmsg shutdown bind listen getsockname getpeername socketpair setsockopt getsockopt clone fork vfork
execve exit wait4 kill uname fcntl flock fsync fdatasync truncate ftruncate getdents getcwd chdir fchdir
rename mkdir rmdir creat link unlink symlink readlink chmod fchmod chown fchown lchown umask gettimeofday
getrlimit getrusage sysinfo times getuid getgid setuid setgid geteuid getegid setpgid getppid getpgrp setsid
setreuid setregid getgroups setgroups setresuid getresuid setresgid getresgid getpgid setfsuid setfsgid getsid
capget capset rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_sigsuspend sigaltstack utime statfs fstatfs
getpriority setpriority sched_getparam sched_getscheduler sched_get_priority_max sched_get_priority_min
prctl arch_prctl setrlimit sync gettid readahead tkill time futex sched_setaffinity sched_getaffinity
getdents64 set_tid_address restart_syscall fadvise64 clock_gettime clock_getres clock_nanosleep exit_group
epoll_wait epoll_ctl tgkill utimes waitid openat mkdirat fchownat futimesat newfstatat unlinkat renameat
linkat symlinkat readlinkat fchmodat faccessat pselect6 ppoll set_robust_list get_robust_list splice tee
utimensat epoll_pwait eventfd fallocate eventfd2 epoll_create1 dup3 pipe2 prlimit64 getrandom execveat
statx rseq epoll_create accept4 sysinfo
""".split()


def seccomp_allowlist(extra_rules=()):
    return {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ALLOW_OLD, "action": "SCMP_ACT_ALLOW"}, *extra_rules]}


# ---------------------------------------------------------------- 1. seccomp


def case_seccomp_errno_rule(t):
    cfg = with_tmp_tmpfs(t.config(["/bin/sh", "-c", "grep Seccomp: /proc/self/status; mkdir /tmp/x; "
                                                     "echo mkdir-rc=$?; sctest mkdir /tmp/y mkdirat /tmp/z"]))
    cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                                             "errnoRet": 13}]}
    _, res = run_sctest(t, cfg)
    t.require(res.rc == 0, f"run: {res.describe()} {res.out!r}")
    t.expect("Seccomp:\t2" in res.out, f"the process is not in seccomp filter mode: {res.out!r}")
    t.expect("mkdir-rc=1" in res.out and "Permission denied" in res.err,
             f"busybox mkdir /tmp/x should fail with EACCES: out {res.out!r} err {res.err.strip()!r}")
    got = sc_results(res.out)
    t.expect(got.get("mkdir") == (-1, 13) and got.get("mkdirat") == (-1, 13),
             f"mkdir/mkdirat under an ERRNO(13) rule: {got}, want (-1, 13) each")
    # control: the same program without the filter creates the directory
    cfg.setdefault("linux", {}).pop("seccomp")
    _, res = run_sctest(t, cfg)
    t.expect(res.rc == 0 and "mkdir-rc=0" in res.out, f"without seccomp mkdir should work: {res.out!r}")


def case_seccomp_default_errno_allowlist(t):
    cfg = t.config(["/bin/sh", "-c", "echo hi; sctest unshare getpid; unshare -n true; echo unshare-rc=$?; "
                                     "mount -t tmpfs none /mnt; echo mount-rc=$?"])
    cfg["linux"]["seccomp"] = seccomp_allowlist()
    cfg["process"]["capabilities"] = {k: sorted(set(v) | {"CAP_SYS_ADMIN"})
                                      for k, v in cfg["process"]["capabilities"].items()}
    _, res = run_sctest(t, cfg)
    t.require(res.rc == 0, f"run with an allow-list profile: {res.describe()} {res.out!r}")
    lines = res.out.splitlines()
    t.expect(lines[:1] == ["hi"], f"echo hi under the allow-list: {lines[:1]}")
    got = sc_results(res.out)
    t.expect(got.get("unshare") == (-1, 1), f"unshare(0) not in the allow-list: {got.get('unshare')}, want EPERM")
    t.expect(got.get("getpid") == (0, 0), f"getpid is allowed: {got.get('getpid')}")
    t.expect("unshare-rc=0" not in res.out, f"busybox unshare -n succeeded: {res.out!r}")
    t.expect("mount-rc=0" not in res.out, f"mount succeeded though not in the allow-list: {res.out!r}")


def case_seccomp_args_rule(t):
    rule = {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}
    cfg = t.config(["/bin/sctest", "personality", "0", "personality", "8", "personality", "0xffffffff"])
    cfg["linux"]["seccomp"] = seccomp_allowlist([rule])
    _, res = run_sctest(t, cfg)
    t.require(res.rc == 0, f"run: {res.describe()} {res.out!r}")
    got = sc_results(res.out)
    t.expect(got.get("personality(0)") == (0, 0), f"personality(0) (arg0 == 0 allowed): {got}")
    t.expect(got.get("personality(0x8)") == (-1, 1), f"personality(8) (arg0 != 0, default ERRNO): {got}")
    t.expect(got.get("personality(0xffffffff)") == (-1, 1), f"personality(0xffffffff): {got}")
    # the same with a default-allow profile and an NE rule returning EACCES
    cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
         "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NE"}]}]}
    _, res = run_sctest(t, cfg)
    got = sc_results(res.out)
    t.expect(res.rc == 0 and got.get("personality(0)") == (0, 0) and got.get("personality(0x8)") == (-1, 13),
             f"NE rule: {got} ({res.describe()})")


def case_seccomp_kill_process(t):
    cfg = t.config(["/bin/sctest", "getpid", "getppid", "getpid"])
    cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                               "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]}
    _, res = run_sctest(t, cfg)
    t.expect(res.rc == 128 + 31, f"getppid under SCMP_ACT_KILL_PROCESS: {res.describe()}, want exit 159 (SIGSYS)")
    t.expect("calling getppid" in res.out and "getppid 0" not in res.out and res.out.count("getpid") == 1,
             f"output {res.out!r}: the process should die at getppid")


def case_seccomp_enosys_for_newer_syscalls(t):
    cfg = t.config(["/bin/sh", "-c", "grep Seccomp: /proc/self/status; sctest clone3 faccessat2 unshare; "
                                     "ls / >/dev/null && echo ls-ok"])
    cfg["linux"]["seccomp"] = seccomp_allowlist()
    _, res = run_sctest(t, cfg)
    t.require(res.rc == 0, f"run: {res.describe()} {res.out!r}")
    t.expect("Seccomp:\t2" in res.out, f"not filtered: {res.out!r}")
    got = sc_results(res.out)
    t.expect(got.get("clone3") == (-1, 38), f"clone3 (newer than every named syscall): {got.get('clone3')}, "
                                            "want ENOSYS (38) so that libc falls back")
    t.expect(got.get("faccessat2") == (-1, 38), f"faccessat2: {got.get('faccessat2')}, want ENOSYS (38)")
    t.expect(got.get("unshare") == (-1, 1), f"unshare (old, unnamed): {got.get('unshare')}, want EPERM")
    t.expect("ls-ok" in res.out, f"busybox ls under the profile: {res.out!r} {res.err[-200:]!r}")


SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100
SECCOMP_IOCTL_NOTIF_SEND = 0xC0182101


class NotifyListener:
    """Accepts one connection on a unix socket, receives the seccomp notify
    fd and the state JSON, then answers every notification with -EROFS."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.sock.settimeout(itlib.harness.TIMEOUT)
        self.fd, self.payload, self.error, self.answered = None, None, None, []
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(itlib.harness.TIMEOUT)
                msg, fds, _, _ = socket.recv_fds(conn, 65536, 4)
                self.payload = msg.decode(errors="replace")
                if not fds:
                    self.error = "no fd received"
                    return
                self.fd = fds[0]
                for extra in fds[1:]:
                    os.close(extra)
            while not self.stop:
                r, _, _ = select.select([self.fd], [], [], 0.2)
                if not r:
                    continue
                buf = bytearray(80)
                try:
                    fcntl.ioctl(self.fd, SECCOMP_IOCTL_NOTIF_RECV, buf, True)
                except OSError:
                    if self.stop:
                        return
                    time.sleep(0.05)
                    continue
                nid, pid, _flags, nr = struct.unpack_from("=QIIi", buf)
                self.answered.append((pid, nr))
                resp = bytearray(struct.pack("=QqiI", nid, 0, -30, 0))  # -EROFS
                try:
                    fcntl.ioctl(self.fd, SECCOMP_IOCTL_NOTIF_SEND, resp, True)
                except OSError:
                    pass
        except OSError as e:
            self.error = repr(e)

    def close(self):
        self.stop = True
        self.thread.join(3)
        self.sock.close()
        if self.fd is not None:
            os.close(self.fd)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def case_seccomp_notify_listener(t):
    cfg = with_tmp_tmpfs(t.config(["/bin/sh", "-c", "sctest mkdir /tmp/n; test -d /tmp/n && echo exists; true"]))
    cid, bundle = bundle_with_sctest(t, cfg)
    listener = NotifyListener(Path(t.ws.base) / f"seccomp-{cid}.sock")
    t.on_cleanup(listener.close)
    cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": listener.path,
                               "listenerMetadata": "meta-" + cid,
                               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}
    cfg["linux"]["cgroupsPath"] = t.cgroup_path(cid)
    itlib.write_json(bundle / "config.json", cfg)
    t.ok(t.rt("create", "--bundle", str(bundle), cid), "create with a seccomp listener")
    pid = t.pid(cid)
    t.require(wait_until(lambda: listener.payload is not None or listener.error, 5),
              f"listener got nothing during create ({listener.error})")
    t.expect(listener.fd is not None, f"no seccomp fd over SCM_RIGHTS: {listener.error}")
    try:
        msg = json.loads(listener.payload)
    except (TypeError, ValueError):
        msg = None
    t.require(isinstance(msg, dict), f"listener payload is not JSON: {listener.payload!r}")
    t.expect(msg.get("fds") == ["seccompFd"], f"payload fds {msg.get('fds')!r}")
    t.expect(msg.get("pid") == pid, f"payload pid {msg.get('pid')!r}, want {pid}")
    t.expect(msg.get("metadata") == "meta-" + cid, f"payload metadata {msg.get('metadata')!r}")
    st = msg.get("state") or {}
    t.expect(st.get("id") == cid and st.get("pid") == pid and st.get("bundle") == str(bundle),
             f"payload state {st}")
    t.expect("ociVersion" in msg, "payload lacks ociVersion")
    t.ok(t.rt("start", cid), "start")
    t.expect(t.rt.wait_status(cid, "stopped") == "stopped", "container did not finish")
    mkdir_nr = 83  # x86-64
    t.expect(listener.answered and all(nr == mkdir_nr for _, nr in listener.answered),
             f"notifications answered (pid, nr): {listener.answered}, want mkdir ({mkdir_nr}) ones")


def case_seccomp_notify_output(t):
    """The answer of the listener (-EROFS) is what the process sees."""
    cfg = with_tmp_tmpfs(t.config(["/bin/sh", "-c", "sctest mkdir /tmp/n; test -d /tmp/n && echo exists; true"]))
    cid, bundle = bundle_with_sctest(t, cfg)
    listener = NotifyListener(Path(t.ws.base) / f"seccomp-{cid}.sock")
    t.on_cleanup(listener.close)
    cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": listener.path,
                               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}
    cfg["linux"]["cgroupsPath"] = t.cgroup_path(cid)
    itlib.write_json(bundle / "config.json", cfg)
    res = t.rt("run", "--bundle", str(bundle), cid)
    t.require(res.rc == 0, f"run: {res.describe()} {res.out!r}")
    got = sc_results(res.out)
    t.expect(got.get("mkdir") == (-1, 30), f"mkdir answered -EROFS by the listener: {got} {res.out!r}")
    t.expect("exists" not in res.out, "the directory was created")


def case_seccomp_bad_input(t):
    base = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}
    bad = [
        ("unknown action", {"syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}]},
         "linux.seccomp.syscalls"),
        ("unknown default action", {"defaultAction": "SCMP_ACT_NOPE"}, "linux.seccomp"),
        ("unknown operator", {"syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                                            "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]},
         "linux.seccomp.syscalls"),
        ("unknown arch", {"architectures": ["SCMP_ARCH_PDP11"]}, "linux.seccomp.architectures"),
        ("args not an array", {"syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                                             "args": {"index": 0}}]}, "linux.seccomp.syscalls"),
        ("arg index 9", {"syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                                       "args": [{"index": 9, "value": 0, "op": "SCMP_CMP_EQ"}]}]},
         "linux.seccomp.syscalls"),
        ("arg value a string", {"syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                                              "args": [{"index": 0, "value": "x", "op": "SCMP_CMP_EQ"}]}]},
         "linux.seccomp.syscalls"),
        ("notify without listenerPath", {"syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]},
         "linux.seccomp.listenerPath"),
        ("unknown flag", {"flags": ["SECCOMP_FILTER_FLAG_BOGUS"]}, "linux.seccomp.flags"),
    ]
    for what, patch, field in bad:
        cfg = t.sleeper()
        cfg["linux"]["seccomp"] = dict(base, **patch)
        assert_create_rejected(t, cfg, field, f"seccomp {what}")


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
