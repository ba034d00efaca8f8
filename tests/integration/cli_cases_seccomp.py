"""test_cli.py cases: the OCI linux.seccomp profile (errno and argument
rules, default errno with an allowlist, kill, ENOSYS for syscalls newer than
the profile, SCMP_ACT_NOTIFY with a listener, bad input). A tiny static C
helper (SCTEST_SRC) is compiled once and copied into a bundle's rootfs as
/bin/sctest where a case needs exact errno values."""
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
from itlib import wait_until
from cli_cases_resources import assert_create_rejected, with_tmp_tmpfs

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
        # config-linux.md: an errno for an action that takes none MUST fail
        ("errnoRet on SCMP_ACT_KILL", {"syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]},
         "errnoRet"),
        # issue #15: known before start, so refused at create (it started, then stopped silently)
        ("no exec call allowed", {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}, "execve"),
        ("defaultErrnoRet on SCMP_ACT_KILL_PROCESS", {"defaultAction": "SCMP_ACT_KILL_PROCESS", "defaultErrnoRet": 1},
         "linux.seccomp.defaultErrnoRet"),
    ]
    for what, patch, field in bad:
        cfg = t.sleeper()
        cfg["linux"]["seccomp"] = dict(base, **patch)
        assert_create_rejected(t, cfg, field, f"seccomp {what}")

