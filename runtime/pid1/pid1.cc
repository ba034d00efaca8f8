#include "pid1/pid1.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <string>

#include "core/sys.h"
#include "linux/creds.h"

extern "C" const char sworn_pid1_start[];
extern "C" const char sworn_pid1_end[];

namespace sworn::pid1 {

namespace {

// PID 1 from here on: nothing of the runtime stays (fds, capabilities,
// dispositions); then sworn-init replaces this image.
[[noreturn]] void BecomeInit(pid_t program, int init_fd, const spec::User& user) {
  auto fail = [&](const Error& e) {
    dprintf(2, "sworn: sworn.init: %s\n", e.Message().c_str());
    kill(program, SIGKILL);
    _exit(126);
  };
  // exec keeps SIG_IGN, and an ignored SIGCHLD would reap the program
  // before sworn-init could learn its status.
  for (int s = 1; s < NSIG; ++s)
    if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
  if (init_fd > 0 && RawCloseRange(0, static_cast<unsigned>(init_fd) - 1, 0) < 0) fail(SysError("close_range"));
  if (RawCloseRange(static_cast<unsigned>(init_fd) + 1, ~0U, 0) < 0) fail(SysError("close_range"));
  if (auto ok = linux_creds::SwitchUserAndCaps(user, std::nullopt); !ok) fail(ok.error());
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(SysError("prctl PR_SET_NO_NEW_PRIVS"));
  std::string pid = std::to_string(program);
  const char* argv[] = {"sworn-init", pid.c_str(), nullptr};
  const char* envp[] = {nullptr};
  syscall(SYS_execveat, init_fd, "", argv, envp, AT_EMPTY_PATH);
  fail(SysError("exec", "sworn-init"));
  _exit(126);
}

}  // namespace

Result<UniqueFd> SealedInit() {
  return SealedMemfd("sworn-init", sworn_pid1_start, static_cast<size_t>(sworn_pid1_end - sworn_pid1_start));
}

Result<void> ForkProgram(int init_fd, const spec::User& user, bool terminal) {
  // Blocked across the fork: a signal for the program that arrives before
  // sworn-init waits stays pending for it (exec keeps pending signals).
  sigset_t all;
  sigfillset(&all);
  if (sigprocmask(SIG_BLOCK, &all, nullptr) < 0) return Fail(SysError("sigprocmask", "sworn.init"));
  pid_t pid = fork();
  if (pid < 0) return Fail(SysError("fork", "sworn.init"));
  if (pid > 0) BecomeInit(pid, init_fd, user);
  // The program: a process group of its own, the terminal's foreground one,
  // so keyboard signals reach it once (not also through the init).
  close(init_fd);
  if (setpgid(0, 0) < 0) return Fail(SysError("setpgid", "sworn.init"));
  if (terminal && isatty(0) && tcsetpgrp(0, getpid()) < 0) return Fail(SysError("tcsetpgrp", "sworn.init"));
  return {};
}

}  // namespace sworn::pid1
