/* libsworn-repledge.so: narrows a pledged dynamic program to exactly its
 * promises once ld.so has loaded it. A dynamic entrypoint starts under its
 * promises plus rpath and prot_exec (ld.so must open and map libraries);
 * this preload's constructor then stacks a second filter holding only the
 * promises, before the program's own constructors and main run.
 *
 * It uses no libc (it must load under any libc, glibc or musl). The filter is
 * part of this file: the runtime writes it into `sworn_repledge_prog` of its
 * own copy of the file, in a sealed memfd, so nothing the program can read or
 * write (environment, fds, files) chooses what is loaded. SWORN_REPLEDGE_FD
 * only names this file's fd, to close it.
 * If anything fails, the process exits: it must never run wider than it
 * promised. */
#include <asm/unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

static long sys3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}

__attribute__((noreturn)) static void die(const char* msg, long len) {
  sys3(__NR_write, 2, (long)msg, len);
  sys3(__NR_exit_group, 126, 0, 0);
  for (;;) {
  }
}

#define DIE(s) die(s, sizeof(s) - 1)

extern char** environ __attribute__((weak));

static int starts(const char* s, const char* prefix) {
  while (*prefix && *s == *prefix) ++s, ++prefix;
  return *prefix == 0;
}

/* Retires LD_PRELOAD and SWORN_REPLEDGE_FD=<this file's fd> by renaming
 * them in place (same length, no allocation), so the program and its
 * children see neither; returns the fd. */
static long take_so_fd(char** envp) {
  long fd = -1;
  for (; envp && *envp; ++envp) {
    char* e = *envp;
    if (starts(e, "LD_PRELOAD=")) {
      static const char gone[] = "SWORN_DONE";
      for (int i = 0; gone[i]; ++i) e[i] = gone[i];
    } else if (starts(e, "SWORN_REPLEDGE_FD=")) {
      static const char ok[] = "SWORN_REPLEDGE_OK";
      for (int i = 0; ok[i]; ++i) e[i] = ok[i];
      const char* p = e + 18;
      for (fd = 0; *p >= '0' && *p <= '9' && fd < 1000000; ++p) fd = fd * 10 + (*p - '0');
    }
  }
  return fd;
}

/* Filled in by the runtime (runtime/security/dmz.cc: SealedRepledge), found
 * by its magic. volatile: the compiler must not fold the zeros it sees here. */
static volatile struct {
  char magic[16];
  unsigned int count;
  unsigned int pad;
  struct sock_filter insns[4096];
} sworn_repledge_prog __attribute__((used)) = {"SWORN-REPLEDGE-1", 0, 0, {{0, 0, 0, 0}}};

/* glibc passes (argc, argv, envp) to initializers; musl passes nothing,
 * so environ is the fallback. */
__attribute__((constructor)) static void repledge(int argc, char** argv, char** envp) {
  (void)argc;
  (void)argv;
  long so_fd = take_so_fd(envp ? envp : (&environ ? environ : 0));
  if (so_fd >= 0) sys3(__NR_close, so_fd, 0, 0);  /* ld.so mapped us through its own open */
  unsigned int count = sworn_repledge_prog.count;
  if (count == 0xFFFFFFFFu) {
    /* Reporting (runtime/security/dmz.h: SealedRepledgeSignal): the pledge
     * reporter gave the loader rpath and prot_exec; tell it startup is over.
     * seccomp(2) is in no promise, so the call reaches the reporter, whose
     * answer is the acknowledgement; anything else (no reporter: ENOSYS)
     * ends the process rather than let it run wider than promised. */
    if (sys3(__NR_seccomp, 0x5357444E /* kStartupDoneOp */, 0, 0) != 0x5357414B /* kStartupDoneAck */)
      DIE("sworn: repledge: the pledge reporter did not acknowledge the end of startup\n");
    return;
  }
  if (count == 0 || count > 4096) DIE("sworn: repledge: no filter in this copy of the preload\n");
  struct sock_filter* insns = (struct sock_filter*)sworn_repledge_prog.insns;
  /* kill/tgkill "self" rules carry a placeholder pid (0x7FFFFFFE) when the
   * runtime could not know it; patch in ours, as BindSelfPid does. */
  long self = sys3(__NR_getpid, 0, 0, 0);
  for (unsigned int i = 0; i < count; ++i)
    if (insns[i].code == (BPF_JMP | BPF_JEQ | BPF_K) && insns[i].k == 0x7FFFFFFEu) insns[i].k = (unsigned)self;
  struct sock_fprog prog = {(unsigned short)count, insns};
  /* prctl, not seccomp(2): the stdio promise admits prctl(PR_SET_SECCOMP)
   * (re-pledging), while the seccomp syscall is outside every promise. */
  if (sys3(__NR_prctl, 22 /* PR_SET_SECCOMP */, SECCOMP_MODE_FILTER, (long)&prog) != 0)
    DIE("sworn: repledge: prctl(PR_SET_SECCOMP) failed\n");
}
