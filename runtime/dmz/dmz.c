/* sworn-dmz: the last program sworn runs inside a container, from a sealed
 * memfd. While the user's program is being exec'd, /proc/self/exe therefore
 * names this immutable file, never the sworn binary: a `#!/proc/self/exe`
 * entrypoint cannot reach the runtime's binary on the host (CVE-2019-5736).
 * No libc: the whole file is a few kilobytes, so copying it is free.
 *
 *   argv = { "-",   PROG, ARGS... }   execve(PROG, ARGS, envp)
 *   argv = { "pN",  PROG, ARGS... }   fd N holds a sealed pledge filter: load
 *                                     it, then make its one execve (below)
 *   argv = { "pN:S", PROG, ARGS... }  the same, loaded with a new seccomp
 *                                     listener, which is sent over socket S to
 *                                     the pledge reporter before the execve
 *
 * The pledge filter admits exactly one execve: the one whose args 3..5, which
 * the kernel ignores, hold three secret words. The runtime compiled the filter
 * with placeholder words; they are replaced here by words drawn from
 * getrandom after this process made itself non-dumpable, so the secret never
 * exists in any file, fd or dumpable memory, and it is gone with the execve.
 * Anything else in argv[0] (e.g. the kernel running this file as the
 * interpreter of a `#!/proc/self/exe` script) makes it exit. */
#include <asm/unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

static long sys6(long n, long a, long b, long c, long d, long e, long f) {
  long r;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(r)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return r;
}
#define sys3(n, a, b, c) sys6(n, a, b, c, 0, 0, 0)

static unsigned long len(const char* s) {
  unsigned long n = 0;
  while (s[n]) ++n;
  return n;
}

/* The placeholders of runtime/security/pledge_cache.h (kSecretPlaceholder)
 * and promises.h (kSelfPidPlaceholder); the unit test checks they agree. */
static const unsigned long long kPlaceholder[3] = {0xC5A1D0E19B3F2C01ULL, 0xC5A1D0E29B3F2C02ULL,
                                                   0xC5A1D0E39B3F2C03ULL};
#define SELF_PID_PLACEHOLDER 0x7FFFFFFEu

static struct sock_filter insns[4096];

/* No strerror without libc: the errnos an execve of a user's program
 * commonly ends in; the number follows in any case. */
static const char* errtext(long err) {
  switch (err) {
    case 1: return ": Operation not permitted";
    case 2: return ": No such file or directory";
    case 7: return ": Argument list too long";
    case 8: return ": Exec format error";
    case 12: return ": Cannot allocate memory";
    case 13: return ": Permission denied";
    case 20: return ": Not a directory";
    case 26: return ": Text file busy";
    case 40: return ": Too many levels of symbolic links";
    default: return "";
  }
}

__attribute__((noreturn)) static void fail(const char* what, const char* path, long err) {
  sys3(__NR_write, 2, (long)"sworn: ", 7);
  sys3(__NR_write, 2, (long)what, (long)len(what));
  if (path) sys3(__NR_write, 2, (long)path, (long)len(path));
  const char* text = errtext(err);
  sys3(__NR_write, 2, (long)text, (long)len(text));
  char num[24] = " (errno ";
  int n = 8;
  char digits[8];
  int d = 0;
  for (long v = err; v > 0 && d < 8; v /= 10) digits[d++] = (char)('0' + v % 10);
  while (d > 0) num[n++] = digits[--d];
  num[n++] = ')';
  num[n++] = '\n';
  sys3(__NR_write, 2, (long)num, n);
  /* exit, not exit_group: the empty promise set admits only exit. */
  sys3(__NR_exit, err == 2 ? 127 : 126, 0, 0);
  for (;;) {
  }
}

static long parse_fd(const char* s) {
  long fd = 0;
  if (!*s) return -1;
  for (; *s && *s != ':'; ++s) {
    if (*s < '0' || *s > '9' || fd > 1000000) return -1;
    fd = fd * 10 + (*s - '0');
  }
  return fd;
}

/* Sends the listener over the reporter's socket with the one sendmsg the
 * filter admits (args 3..5 = the secret, which the kernel ignores). The
 * listener is close-on-exec, as is the socket: the program inherits
 * neither. */
static void send_listener(long sock, long listener, const unsigned long long secret[3]) {
  struct {
    unsigned long len;
    int level, type;
    int fd;
    int pad;
  } cmsg = {20 /* CMSG_LEN(sizeof(int)) */, 1 /* SOL_SOCKET */, 1 /* SCM_RIGHTS */, (int)listener, 0};
  char byte = 'L';
  struct {
    void* base;
    unsigned long len;
  } iov = {&byte, 1};
  struct {
    void* name;
    int namelen, pad;
    void* iov;
    unsigned long iovlen;
    void* control;
    unsigned long controllen;
    unsigned flags, pad2;
  } msg = {0, 0, 0, &iov, 1, &cmsg, 24 /* CMSG_SPACE(sizeof(int)) */, 0, 0};
  long r = sys6(__NR_sendmsg, sock, (long)&msg, 0x4000 /* MSG_NOSIGNAL */, (long)secret[0], (long)secret[1],
                (long)secret[2]);
  if (r != 1) fail("dmz: handing the pledge listener to the reporter failed", 0, -r);
}

/* Loads the filter on fd and fills `secret` with the words its execve rule
 * now expects; with a reporter socket, sends the filter's listener there. */
static void load_pledge(long fd, long report, unsigned long long secret[3]) {
  /* First: nothing of this process may be read by another one of the same
   * user from here on (the secret is about to exist in its memory). */
  sys3(__NR_prctl, 4 /* PR_SET_DUMPABLE */, 0, 0);
  unsigned long got = 0, want = sizeof(insns);
  long n;
  while (got < want && (n = sys3(__NR_read, fd, (long)insns + got, want - got)) > 0) got += n;
  sys3(__NR_close, fd, 0, 0);
  if (got == 0 || got % sizeof(struct sock_filter) != 0) fail("dmz: bad pledge filter", 0, 22);
  if (sys3(__NR_getrandom, (long)secret, 3 * sizeof(secret[0]), 0) != 3 * sizeof(secret[0]))
    fail("dmz: getrandom", 0, 5);
  long self = sys3(__NR_getpid, 0, 0, 0);
  for (unsigned long i = 0; i < got / sizeof(struct sock_filter); ++i) {
    struct sock_filter* f = &insns[i];
    if (f->code != (BPF_JMP | BPF_JEQ | BPF_K)) continue;
    if (f->k == SELF_PID_PLACEHOLDER) f->k = (unsigned)self;
    for (int w = 0; w < 3; ++w) {
      if (f->k == (unsigned)(kPlaceholder[w] >> 32)) f->k = (unsigned)(secret[w] >> 32);
      else if (f->k == (unsigned)kPlaceholder[w]) f->k = (unsigned)secret[w];
    }
  }
  struct sock_fprog prog = {(unsigned short)(got / sizeof(struct sock_filter)), insns};
  /* The runtime set no_new_privs already, so no capability is needed. */
  if (report >= 0) {
    sys3(__NR_fcntl, report, 2 /* F_SETFD */, 1 /* FD_CLOEXEC */);
    long listener = sys3(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, (long)&prog);
    if (listener >= 0) {
      send_listener(report, listener, secret);
      return;
    }
    /* linux.seccomp denies seccomp(2): no listener, so denied calls fail
     * with ENOSYS and are not reported. Say so once, while write works. */
    static const char msg[] = "sworn: pledge reports are off: linux.seccomp denies seccomp(2); denied calls fail with ENOSYS\n";
    sys3(__NR_write, 2, (long)msg, sizeof(msg) - 1);
  }
  if (sys3(__NR_prctl, 22 /* PR_SET_SECCOMP */, SECCOMP_MODE_FILTER, (long)&prog) != 0)
    fail("dmz: loading the pledge filter failed", 0, 1);
}

__attribute__((noreturn, used)) void dmz_main(long* sp) {
  long argc = sp[0];
  char** argv = (char**)(sp + 1);
  char** envp = argv + argc + 1;
  if (argc < 2 || !argv[0]) fail("dmz: called without a program", 0, 22);
  unsigned long long secret[3] = {0, 0, 0};
  if (argv[0][0] == 'p') {
    long fd = parse_fd(argv[0] + 1), report = -1;
    for (const char* c = argv[0]; *c; ++c)
      if (*c == ':') report = parse_fd(c + 1);
    if (fd < 0) fail("dmz: bad filter fd", 0, 22);
    load_pledge(fd, report, secret);
  } else if (argv[0][0] != '-' || argv[0][1] != 0) {
    fail("dmz: not a runtime call: ", argv[0], 22);
  }
  long err = -sys6(__NR_execve, (long)argv[1], (long)(argv + 2), (long)envp, (long)secret[0], (long)secret[1],
                   (long)secret[2]);
  fail("exec failed: ", argv[1], err);
}

__asm__(".globl _start\n_start:\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call dmz_main\n  hlt\n");
