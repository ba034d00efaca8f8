"""test_cli.py cases, part 5: pledge and unveil (sworn.pledge.* / sworn.unveil.*
annotations, `sworn pledge` on the host, `sworn exec` into a pledged container).

The reference is /work/shared/reference/pledge-unveil.md (cosmo's promise
tables, Landlock mapping, pledge.com's CLI).  A static C helper (PPROBE_SRC)
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

PPROBE_SRC = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static const char *step;
#define CK(name, expr) do { step = (name); if ((long)(expr) < 0) return errno; } while (0)

static int port_of(const char *s) { return atoi(s); }
static struct sockaddr_in lo(int port) {
    struct sockaddr_in a; memset(&a, 0, sizeof a);
    a.sin_family = AF_INET; a.sin_port = htons(port); a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}
static volatile sig_atomic_t got_sig;
static void on_sig(int s) { got_sig = s; }
static void *thr(void *p) { return p; }

static int op_open(char **a, int flags) { int fd; CK("open", fd = open(a[0], flags, 0644)); close(fd); return 0; }
static int op_open_rdonly(char **a) { return op_open(a, O_RDONLY); }
static int op_open_wronly(char **a) { return op_open(a, O_WRONLY); }
static int op_open_rdwr(char **a) { return op_open(a, O_RDWR); }
static int op_open_trunc(char **a) { return op_open(a, O_WRONLY | O_TRUNC); }
static int op_open_rdonly_trunc(char **a) { return op_open(a, O_RDONLY | O_TRUNC); }
static int op_open_creat(char **a) { return op_open(a, O_WRONLY | O_CREAT); }
static int op_open_creat_suid(char **a) { int fd; CK("open", fd = open(a[0], O_WRONLY | O_CREAT, 04755)); close(fd); return 0; }
static int op_readdir(char **a) {
    int fd; char buf[4096];
    CK("open", fd = open(a[0], O_RDONLY | O_DIRECTORY));
    CK("getdents64", syscall(SYS_getdents64, fd, buf, sizeof buf));
    close(fd); return 0;
}
static int op_unlink(char **a) { CK("unlink", unlink(a[0])); return 0; }
static int op_mkdir(char **a) { CK("mkdir", mkdir(a[0], 0755)); return 0; }
static int op_rmdir(char **a) { CK("rmdir", rmdir(a[0])); return 0; }
static int op_rename(char **a) { CK("rename", rename(a[0], a[1])); return 0; }
static int op_mkfifo(char **a) { CK("mknod", mknod(a[0], S_IFIFO | 0644, 0)); return 0; }
static int op_chmod(char **a) { CK("chmod", chmod(a[0], 0644)); return 0; }
static int op_chmod_setuid(char **a) { CK("chmod", chmod(a[0], 04755)); return 0; }
static int op_chown(char **a) { CK("chown", chown(a[0], (uid_t)-1, (gid_t)-1)); return 0; }
static int op_utime(char **a) { CK("utimensat", utimensat(AT_FDCWD, a[0], NULL, 0)); return 0; }
static int op_truncate(char **a) { CK("truncate", truncate(a[0], 0)); return 0; }
/* the raw syscall: glibc >= 2.33 lstat() is newfstatat, which tmppath does not list */
static int op_fstat(char **a) { (void)a; struct stat st; CK("fstat", fstat(1, &st)); return 0; }
static int op_lstat(char **a) { struct stat st; CK("lstat", syscall(SYS_lstat, a[0], &st)); return 0; }
static int op_fstatat(char **a) { struct stat st; CK("newfstatat", fstatat(AT_FDCWD, a[0], &st, AT_SYMLINK_NOFOLLOW)); return 0; }
static int op_flock(char **a) {
    int fd; CK("open", fd = open(a[0], O_RDONLY));
    CK("flock", flock(fd, LOCK_EX)); close(fd); return 0;
}
static int op_fcntl_setlk(char **a) {
    int fd; struct flock l = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
    CK("open", fd = open(a[0], O_RDONLY));
    CK("fcntl", fcntl(fd, F_SETLK, &l)); close(fd); return 0;
}
static int op_sock(int dom, int type, int proto) { int s; CK("socket", s = socket(dom, type, proto)); close(s); return 0; }
static int op_socket_inet(char **a) { (void)a; return op_sock(AF_INET, SOCK_STREAM, 0); }
static int op_socket_inet_dgram(char **a) { (void)a; return op_sock(AF_INET, SOCK_DGRAM, 0); }
static int op_socket_inet6(char **a) { (void)a; return op_sock(AF_INET6, SOCK_STREAM, 0); }
static int op_socket_unix(char **a) { (void)a; return op_sock(AF_UNIX, SOCK_STREAM, 0); }
static int op_socket_unix_seqpacket(char **a) { (void)a; return op_sock(AF_UNIX, SOCK_SEQPACKET, 0); }
static int op_bind_tcp(char **a) {
    int s, one = 1; struct sockaddr_in sa = lo(port_of(a[0]));
    CK("socket", s = socket(AF_INET, SOCK_STREAM, 0));
    CK("setsockopt", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
    CK("bind", bind(s, (struct sockaddr *)&sa, sizeof sa));
    CK("listen", listen(s, 1));
    close(s); return 0;
}
static int op_connect_tcp(char **a) {
    int s; struct sockaddr_in sa = lo(port_of(a[0]));
    CK("socket", s = socket(AF_INET, SOCK_STREAM, 0));
    CK("connect", connect(s, (struct sockaddr *)&sa, sizeof sa));
    close(s); return 0;
}
static int op_sendto_addr(char **a) {
    int s; struct sockaddr_in sa = lo(port_of(a[0]));
    CK("socket", s = socket(AF_INET, SOCK_DGRAM, 0));
    CK("sendto", sendto(s, "x", 1, 0, (struct sockaddr *)&sa, sizeof sa));
    close(s); return 0;
}
static int op_fork(char **a) {
    (void)a; pid_t p; int st;
    CK("fork", p = fork());
    if (p == 0) _exit(0);
    CK("wait4", wait4(p, &st, 0, NULL)); return 0;
}
static int op_clone_thread(char **a) {
    (void)a; pthread_t t; int rc;
    step = "pthread_create";
    if ((rc = pthread_create(&t, NULL, thr, NULL)) != 0) return rc;
    pthread_join(t, NULL); return 0;
}
static int op_clone3(char **a) { (void)a; CK("clone3", syscall(435, NULL, 0)); return 0; }
static int op_openat2(char **a) { (void)a; CK("openat2", syscall(437, AT_FDCWD, "/", NULL, 0)); return 0; }
static int op_memfd_create(char **a) { (void)a; CK("memfd_create", syscall(319, "x", 0)); return 0; }
static int op_mseal(char **a) { (void)a; CK("mseal", syscall(462, 0, 0, 0)); return 0; }
static int op_mmap_rw(char **a) {
    (void)a; void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    step = "mmap"; if (p == MAP_FAILED) return errno; munmap(p, 4096); return 0;
}
static int op_mmap_exec(char **a) {
    (void)a; void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    step = "mmap"; if (p == MAP_FAILED) return errno; munmap(p, 4096); return 0;
}
static int op_mprotect_exec(char **a) {
    (void)a; void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    step = "mmap"; if (p == MAP_FAILED) return errno;
    CK("mprotect", mprotect(p, 4096, PROT_READ | PROT_EXEC)); munmap(p, 4096); return 0;
}
static int op_kill_self(char **a) {
    struct sigaction sa; memset(&sa, 0, sizeof sa); sa.sa_handler = on_sig;
    int sig = atoi(a[0]); got_sig = 0;
    CK("sigaction", sigaction(sig, &sa, NULL));
    CK("kill", kill(getpid(), sig));
    step = "handler"; if (got_sig != sig) return EINTR;
    return 0;
}
static int op_raise_self(char **a) {
    struct sigaction sa; memset(&sa, 0, sizeof sa); sa.sa_handler = on_sig;
    int sig = atoi(a[0]); got_sig = 0;
    CK("sigaction", sigaction(sig, &sa, NULL));
    step = "raise"; if (raise(sig) != 0) return errno;
    step = "handler"; if (got_sig != sig) return EINTR;
    return 0;
}
static int op_kill0(char **a) { CK("kill", kill(atoi(a[0]), 0)); return 0; }
static int op_ioctl_tiocgwinsz(char **a) { (void)a; struct winsize w; CK("ioctl", ioctl(0, TIOCGWINSZ, &w)); return 0; }
static int op_ioctl_tcgets(char **a) { (void)a; struct termios t; CK("ioctl", ioctl(0, TCGETS, &t)); return 0; }
static int op_ioctl_fionbio(char **a) { (void)a; int off = 0; CK("ioctl", ioctl(1, FIONBIO, &off)); return 0; }
static int op_setuid(char **a) { CK("setuid", setuid(atoi(a[0]))); return 0; }
static int op_setgid(char **a) { CK("setgid", setgid(atoi(a[0]))); return 0; }
static int op_settimeofday_bad(char **a) {
    (void)a; struct timeval tv = {.tv_sec = 1, .tv_usec = -1};  /* EINVAL once past seccomp */
    CK("settimeofday", syscall(SYS_settimeofday, &tv, NULL)); return 0;
}
static int op_clock_settime_bad(char **a) {
    (void)a; struct timespec ts = {.tv_sec = 1, .tv_nsec = -1};
    CK("clock_settime", syscall(SYS_clock_settime, CLOCK_REALTIME, &ts)); return 0;
}
static int op_sendmsg(char **a) {
    (void)a; int sv[2]; char c = 'x'; struct iovec io = {&c, 1}; struct msghdr m = {0};
    m.msg_iov = &io; m.msg_iovlen = 1;
    CK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    CK("sendmsg", sendmsg(sv[0], &m, 0)); close(sv[0]); close(sv[1]); return 0;
}
static int op_recvmsg(char **a) {
    (void)a; int sv[2]; char c = 'x'; struct iovec io = {&c, 1}; struct msghdr m = {0};
    m.msg_iov = &io; m.msg_iovlen = 1;
    CK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    CK("write", write(sv[0], "y", 1));
    CK("recvmsg", recvmsg(sv[1], &m, 0)); close(sv[0]); close(sv[1]); return 0;
}
static int op_landlock_abi(char **a) { (void)a; CK("landlock_create_ruleset", syscall(444, NULL, 0, 1)); return 0; }
static int op_sched_yield(char **a) { (void)a; CK("sched_yield", sched_yield()); return 0; }
static int op_prctl_dumpable(char **a) { (void)a; CK("prctl", prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)); return 0; }
static int op_prctl_name(char **a) { (void)a; CK("prctl", prctl(PR_SET_NAME, "pprobe", 0, 0, 0)); return 0; }
static int op_getpid(char **a) { (void)a; CK("getpid", getpid()); return 0; }
static int op_getppid(char **a) { (void)a; CK("getppid", syscall(SYS_getppid)); return 0; }
static int op_write_stdout(char **a) { (void)a; CK("write", write(1, "w\n", 2)); return 0; }
static int op_sleep(char **a) { struct timespec ts = {atoi(a[0]), 0}; CK("nanosleep", nanosleep(&ts, NULL)); return 0; }
static int op_nop(char **a) { (void)a; return 0; }
static int op_reexeced(char **a) { (void)a; return 0; }
static int op_reexec(char **a) {
    (void)a; char *argv[] = {"pprobe", "reexeced", NULL};
    CK("execve", execv("/bin/pprobe", argv)); return 0;
}

struct op { const char *name; int nargs; int (*fn)(char **); };
static const struct op ops[] = {
#define OP(n, k) {#n, k, op_##n}
    OP(open_rdonly, 1), OP(open_wronly, 1), OP(open_rdwr, 1), OP(open_trunc, 1), OP(open_rdonly_trunc, 1),
    OP(open_creat, 1), OP(open_creat_suid, 1), OP(readdir, 1), OP(unlink, 1), OP(mkdir, 1), OP(rmdir, 1),
    OP(rename, 2), OP(mkfifo, 1), OP(chmod, 1), OP(chmod_setuid, 1), OP(chown, 1), OP(utime, 1),
    OP(truncate, 1), OP(fstat, 0), OP(lstat, 1), OP(fstatat, 1), OP(flock, 1), OP(fcntl_setlk, 1), OP(socket_inet, 0),
    OP(socket_inet_dgram, 0), OP(socket_inet6, 0), OP(socket_unix, 0), OP(socket_unix_seqpacket, 0),
    OP(bind_tcp, 1), OP(connect_tcp, 1), OP(sendto_addr, 1), OP(fork, 0), OP(clone_thread, 0), OP(clone3, 0),
    OP(openat2, 0), OP(memfd_create, 0), OP(mseal, 0), OP(mmap_rw, 0), OP(mmap_exec, 0), OP(mprotect_exec, 0),
    OP(kill_self, 1), OP(raise_self, 1), OP(kill0, 1), OP(ioctl_tiocgwinsz, 0), OP(ioctl_tcgets, 0),
    OP(ioctl_fionbio, 0), OP(setuid, 1), OP(setgid, 1), OP(settimeofday_bad, 0), OP(clock_settime_bad, 0),
    OP(sendmsg, 0), OP(recvmsg, 0), OP(landlock_abi, 0), OP(sched_yield, 0), OP(prctl_dumpable, 0),
    OP(prctl_name, 0), OP(getpid, 0), OP(getppid, 0), OP(write_stdout, 0), OP(sleep, 1), OP(nop, 0),
    OP(reexec, 0), OP(reexeced, 0),
#undef OP
};

/* stdout's buffer is ours: glibc would otherwise fstat(1) (newfstatat) on the first printf,
   which "stdio" does not cover; the fstat op checks that separately */
static char outbuf[1 << 16];

int main(int argc, char **argv) {
    int exit_errno = 0, last = 0;
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    int i = 1;
    if (i < argc && !strcmp(argv[i], "-x")) { exit_errno = 1; i++; }
    for (; i < argc; i++) {
        const char *name = argv[i];
        if (!strcmp(name, "execve")) {  /* execve PATH ARGV0 ARGS...: consumes the rest */
            if (i + 2 >= argc) { fprintf(stderr, "pprobe: execve PATH ARGV0...\n"); return 2; }
            execv(argv[i + 1], &argv[i + 2]);
            printf("execve %s %s@execve\n", argv[i + 1], strerrorname_np(errno));
            fflush(stdout);
            last = errno;
            break;
        }
        const struct op *o = NULL;
        for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
            if (!strcmp(ops[k].name, name)) o = &ops[k];
        if (!o) { fprintf(stderr, "pprobe: unknown op %s\n", name); return 2; }
        if (i + o->nargs >= argc + 0 && o->nargs > 0 && i + o->nargs > argc - 1) {
            fprintf(stderr, "pprobe: %s needs %d args\n", name, o->nargs); return 2;
        }
        char key[512]; int n = snprintf(key, sizeof key, "%s", name);
        for (int k = 1; k <= o->nargs; k++) n += snprintf(key + n, sizeof key - n, " %s", argv[i + k]);
        errno = 0; step = "?";
        int e = o->fn(&argv[i + 1]);
        if (e == 0) printf("%s ok\n", key);
        else printf("%s %s@%s\n", key, strerrorname_np(e) ? strerrorname_np(e) : "E?", step);
        fflush(stdout);
        last = e;
        i += o->nargs;
    }
    return exit_errno ? last : 0;
}
"""


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


def case_pledge_cli_stdio_pipes(t):
    """stdio unveils /dev/stdin etc.: a pipe or socket on fd 0/1/2 must not make `sworn pledge` fail."""
    probe = str(pprobe_binary(t))
    res = host_pledge(t, "-p", "stdio", "--", probe, "getpid")
    t.expect(res.rc == 0 and "getpid ok" in res.out, f"stdin /dev/null: {res.describe()}")
    r, w = os.pipe()
    try:
        res = host_pledge(t, "-p", "stdio", "--", probe, "getpid", stdin=r)
    finally:
        os.close(r)
        os.close(w)
    t.expect(res.rc == 0 and "getpid ok" in res.out, f"stdin a pipe: {res.describe()}")
    a, b = socket.socketpair()
    try:
        res = host_pledge(t, "-p", "stdio", "--", probe, "getpid", stdin=a.fileno())
    finally:
        a.close()
        b.close()
    t.expect(res.rc == 0 and "getpid ok" in res.out, f"stdin a socket: {res.describe()}")


def case_pledge_cli_basics(t):
    probe = str(pprobe_binary(t))
    res = host_pledge(t, "-T", "pledge")
    t.expect(res.rc == 0, f"-T pledge: {res.describe()}")
    res = host_pledge(t, "-T", "unveil")
    t.expect(res.rc == 0, f"-T unveil (Landlock ABI 7 here): {res.describe()}")
    res = host_pledge(t, "-p", "stdio bogus", "--", "/bin/true")
    t.expect(res.rc == 21, f"unknown promise: {res.describe()}, want 21")
    res = host_pledge(t, "-p", "stdio thread", "--", "/bin/true")
    t.expect(res.rc == 0 and "thread" in res.err, f"'thread' (warning, accepted): {res.describe()}")
    res = host_pledge(t, "--", "/no/such/program")
    t.expect(res.rc == 10, f"missing program: {res.describe()}, want 10")
    res = host_pledge(t, "--", "no-such-program-xyz")
    t.expect(res.rc == 10, f"program not on PATH: {res.describe()}, want 10")
    res = host_pledge(t, "-v", "rq:/tmp", "--", "/bin/true")
    t.expect(res.rc == 20, f"bad unveil perm: {res.describe()}, want 20")
    # default promises "stdio rpath"; dynamic /bin/sh starts (rpath prot_exec added), but ls cannot be exec'd
    # dash forks first ("Cannot fork"); busybox sh execs the last command itself (EPERM from execve)
    res = host_pledge(t, "-p", "stdio rpath", "--", "/bin/sh", "-c", "ls /")
    t.expect(res.rc not in (0, None) and "bin" not in res.out, f"sh -c ls without exec: {res.describe()}")
    t.expect("Cannot fork" in res.err or "Operation not permitted" in res.err,
             f"sh -c ls: want a fork/exec refusal: {res.err.strip()[-300:]!r}")
    res = host_pledge(t, "-p", "stdio rpath", "--", "/bin/sh", "-c", "exec ls /")
    t.expect(res.rc not in (0, None) and "Operation not permitted" in res.err,
             f"sh -c 'exec ls /' without exec: {res.describe()}")
    # ls is dynamic: after start-up sh keeps only its promises, so exec-ing ls needs prot_exec
    res = host_pledge(t, "-p", "stdio rpath proc exec prot_exec", "-v", "rx:/usr", "-v", "r:/etc", "--",
                      "/bin/sh", "-c", "ls /usr && echo ls-ok")
    t.expect(res.rc == 0 and "ls-ok" in res.out, f"sh -c ls with proc exec: {res.describe()}")
    # default promises, static probe
    res = host_pledge(t, "--", probe, "open_rdonly", "/etc/hostname", "fork", "open_wronly", "/dev/null")
    t.expect(res.rc == 0, f"default promises: {res.describe()}")
    got = results(res.out)
    t.expect(got.get("fork") == "EPERM@fork" and got.get("open_wronly /dev/null", "").startswith("EPERM"),
             f"default promises are 'stdio rpath': {got}")
    t.expect(got.get("open_rdonly /etc/hostname", "").startswith("EACCES"),
             f"no -v: /etc/hostname is veiled: {got}")
    res = host_pledge(t, "-v", "/etc/hostname", "-v", "r:/no/such/dir", "--", probe, "open_rdonly", "/etc/hostname")
    t.expect(res.rc == 0 and results(res.out).get("open_rdonly /etc/hostname") == "ok",
             f"-v PATH (default r; missing -v paths skipped): {res.describe()}")
    res = host_pledge(t, "-V", "--", probe, "open_rdonly", "/etc/hostname")
    t.expect(res.rc == 0 and results(res.out).get("open_rdonly /etc/hostname") == "ok", f"-V: {res.describe()}")
    res = host_pledge(t, "-k", "--", probe, "getpid", "fork", "getpid")
    t.expect(res.rc == -31 or res.rc == 128 + 31, f"-k: {res.describe()}, want SIGSYS")
    # kill/raise on itself under stdio
    res = host_pledge(t, "-p", "stdio", "--", probe, "kill_self", "10", "raise_self", "12")
    check_ops(t, "sworn pledge -p stdio", res, [("kill_self 10", "ok"), ("raise_self 12", "ok")])


def case_pledge_cli_vminfo_tmppath(t):
    """vminfo and tmppath: pledge.com's automatic unveils."""
    probe = str(pprobe_binary(t))
    res = host_pledge(t, "-p", "stdio rpath", "--", probe, "open_rdonly", "/proc/meminfo")
    check_ops(t, "stdio rpath: /proc/meminfo", res, [("open_rdonly /proc/meminfo", "EACCES")])
    res = host_pledge(t, "-p", "stdio rpath vminfo", "--", probe, "open_rdonly", "/proc/meminfo")
    check_ops(t, "stdio rpath vminfo: /proc/meminfo", res, [("open_rdonly /proc/meminfo", "ok")])
    tmp = Path(f"/tmp/sworn-pledge-tmppath-{os.getpid()}")
    tmp.write_text("x")
    t.on_cleanup(lambda: tmp.unlink(missing_ok=True))
    res = host_pledge(t, "-p", "stdio rpath", "--", probe, "unlink", str(tmp))
    check_ops(t, "stdio rpath: unlink in /tmp", res, [(f"unlink {tmp}", "EPERM")])
    res = host_pledge(t, "-p", "stdio rpath tmppath", "--", probe, "unlink", str(tmp), "open_creat", str(tmp))
    check_ops(t, "stdio rpath tmppath", res, [(f"unlink {tmp}", "ok"), (f"open_creat {tmp}", "EPERM")])
    t.expect(not tmp.exists(), "tmppath unlink did not remove the file")


def wait_port(port, timeout=10):
    def up():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False
    return wait_until(up, timeout, 0.1)


def case_pledge_cli_http_server_and_fetch(t):
    """nomad-pledge-driver README, made local: python3 http.server under 'stdio rpath inet', fetched by
    busybox wget under 'stdio rpath inet dns sendfd' (and refused under 'stdio rpath')."""
    py = "/usr/bin/python3.11"
    if not os.path.exists(py):
        raise itlib.Skip("no /usr/bin/python3.11")
    served = Path(t.ws.base) / "served"
    served.mkdir(exist_ok=True)
    (served / "hello.txt").write_text("hello from pledge\n")
    port, = free_ports(1)
    argv = [*sworn_cmd(t), "pledge", "-p", "stdio rpath inet", "-v", "r:/etc/mime.types", "-v", f"r:{served}",
            "-v", "r:/usr/lib/python3.11",  # the stdlib is all python3.11 needs (ld.so + libs: auto)
            "--", py, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(served)]
    server = spawn(argv)

    def stop():
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        rc, out = finish(server, 5)
        t.note(f"server exit {rc}; log tail: {out.strip()[-400:]!r}")
    t.on_cleanup(stop)
    if not t.expect(wait_port(port, 15), f"http.server under sworn pledge never listened on {port} "
                                         f"(exit {server.poll()})"):
        return
    url = f"http://127.0.0.1:{port}/hello.txt"
    res = host_pledge(t, "-p", "stdio rpath inet dns sendfd", "--", "/bin/busybox", "wget", "-q", "-O-", url)
    t.expect(res.rc == 0 and res.out == "hello from pledge\n",
             f"wget under 'stdio rpath inet dns sendfd': {res.describe()} {res.out!r}")
    res = host_pledge(t, "-p", "stdio rpath", "--", "/bin/busybox", "wget", "-q", "-O-", url)
    t.expect(res.rc not in (0, None) and "hello" not in res.out,
             f"wget under 'stdio rpath' fetched: {res.describe()} {res.out!r}")
    # python urllib too (dynamic client)
    code = f"import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('{url}', timeout=5).read().decode())"
    res = host_pledge(t, "-p", "stdio rpath inet dns sendfd", "-v", "r:/usr/lib/python3.11", "-v", "r:/usr/lib/python3",
                      "-v", "r:/etc", "--", py, "-c", code)
    t.expect(res.rc == 0 and res.out == "hello from pledge\n", f"urllib client: {res.describe()}")
    # the server itself is still confined: a file next to the served dir is not served
    t.expect(server.poll() is None, f"server died (exit {server.poll()})")


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
