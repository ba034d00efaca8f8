/* sworn-init: the minimal PID 1 of a container that asked for one
 * (annotation sworn.init), in the role tini or catatonit play for
 * `docker --init`. In a pid namespace the kernel drops every signal its PID 1
 * has no handler for, so a program that installs none would ignore SIGTERM
 * from `sworn kill` or Nomad's StopTask; this init forwards every catchable
 * signal to the program, reaps orphans, and exits with the program's status
 * (128+N when it died of signal N).
 *
 *   argv = { "sworn-init", PID }   PID: the program, forked by the runtime
 *
 * It runs from a sealed memfd, so /proc/1/exe never names the runtime's
 * binary; the runtime has already dropped every capability, set
 * no_new_privs, closed every fd and blocked every signal. Its first acts:
 * become non-dumpable, then lock itself into a seccomp filter that allows
 * waiting, signalling and exiting, nothing else (no exec, no fork, no file),
 * so it can never be a way around the program's own sandbox. No libc. */
#include <asm/unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#define SIGCHLD 17
#define WNOHANG 1

static long sys4(long n, long a, long b, long c, long d) {
  long r;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
  return r;
}

__attribute__((noreturn)) static void quit(int code) {
  sys4(__NR_exit_group, code, 0, 0, 0);
  for (;;) {
  }
}

#define ALLOW(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static struct sock_filter filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4 /* offsetof(struct seccomp_data, arch) */),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0 /* nr */),
    ALLOW(__NR_rt_sigtimedwait),
    ALLOW(__NR_wait4),
    ALLOW(__NR_kill),
    ALLOW(__NR_rt_sigprocmask),
    ALLOW(__NR_rt_sigreturn),
    ALLOW(__NR_restart_syscall),
    ALLOW(__NR_exit_group),
    ALLOW(__NR_exit),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
};

/* Reaps every child that has ended; returns the program's exit code once it
 * is among them, else -1. */
static int reap(long program) {
  int code = -1;
  for (;;) {
    int status = 0;
    long pid = sys4(__NR_wait4, -1, (long)&status, WNOHANG, 0);
    if (pid <= 0) return code;
    if (pid != program) continue;
    int sig = status & 0x7f;
    code = sig ? 128 + sig : (status >> 8) & 0xff;
  }
}

__attribute__((noreturn, used)) void init_main(long* sp) {
  long argc = sp[0];
  char** argv = (char**)(sp + 1);
  sys4(__NR_prctl, 4 /* PR_SET_DUMPABLE */, 0, 0, 0);
  long program = 0;
  if (argc != 2) quit(126);
  for (const char* p = argv[1]; *p; ++p) {
    if (*p < '0' || *p > '9' || program > 4194304) quit(126);
    program = program * 10 + (*p - '0');
  }
  if (program <= 1) quit(126);
  struct sock_fprog prog = {sizeof(filter) / sizeof(filter[0]), filter};
  if (sys4(__NR_prctl, 22 /* PR_SET_SECCOMP */, SECCOMP_MODE_FILTER, (long)&prog, 0) != 0) quit(126);
  unsigned long all = ~0UL;
  /* Every signal is blocked (the runtime blocked them before it forked the
   * program, so none was lost): take them one by one. */
  sys4(__NR_rt_sigprocmask, 0 /* SIG_BLOCK */, (long)&all, 0, sizeof(all));
  for (;;) {
    int code = reap(program);
    if (code >= 0) quit(code);
    char info[128];
    long sig = sys4(__NR_rt_sigtimedwait, (long)&all, (long)info, 0, sizeof(all));
    if (sig > 0 && sig != SIGCHLD) sys4(__NR_kill, program, sig, 0, 0);
  }
}

__asm__(".globl _start\n_start:\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call init_main\n  hlt\n");
