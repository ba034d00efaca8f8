/* sworn-dmz: the last program sworn runs inside a container, from a sealed
 * memfd. Its only job is execve(argv[0], argv + 1, envp). While the user's
 * program is being exec'd, /proc/self/exe therefore names this immutable
 * file, not the sworn binary: a `#!/proc/self/exe` entrypoint can no longer
 * reach the runtime's binary on the host (CVE-2019-5736). No libc: the
 * whole file is about a kilobyte, so copying it into the memfd is free. */
#include <asm/unistd.h>

static long sys3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}

static unsigned long len(const char* s) {
  unsigned long n = 0;
  while (s[n]) ++n;
  return n;
}

__attribute__((noreturn, used)) void dmz_main(long* sp) {
  long argc = sp[0];
  char** argv = (char**)(sp + 1);
  char** envp = argv + argc + 1;
  long err = 22; /* EINVAL: called without a program */
  if (argc >= 2) err = -sys3(__NR_execve, (long)argv[0], (long)(argv + 1), (long)envp);
  static const char msg[] = "sworn: exec failed: ";
  sys3(__NR_write, 2, (long)msg, sizeof(msg) - 1);
  if (argc >= 1) sys3(__NR_write, 2, (long)argv[0], (long)len(argv[0]));
  /* " (errno N)": no strerror without libc, but the number tells EACCES
   * (13, e.g. Landlock) from ENOENT (2) or ENOEXEC (8). */
  char num[24] = " (errno ";
  int n = 8;
  char digits[8];
  int d = 0;
  for (long v = err; v > 0 && d < 8; v /= 10) digits[d++] = (char)('0' + v % 10);
  while (d > 0) num[n++] = digits[--d];
  num[n++] = ')';
  num[n++] = '\n';
  sys3(__NR_write, 2, (long)num, n);
  sys3(__NR_exit_group, err == 2 ? 127 : 126, 0, 0);
  for (;;) {
  }
}

__asm__(".globl _start\n_start:\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call dmz_main\n  hlt\n");
