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
