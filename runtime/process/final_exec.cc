#include "process/final_exec.h"

#include <linux/close_range.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "core/sys.h"
#include "linux/console.h"
#include "linux/creds.h"
#include "security/dmz.h"

namespace sworn::process {

Result<void> SetupTerminal(const spec::Process& p, int console_fd, bool to_parent, const SyncSocket& sync,
                           bool mount_console) {
  auto pty = SWORN_TRY(linux_console::OpenPty(p.console_height, p.console_width));
  if (console_fd >= 0)
    SWORN_TRY(linux_console::SendMaster(console_fd, pty));
  else if (to_parent)
    SWORN_TRY(sync.Send(SyncType::kFd, 0, "pty", pty.master.get()));
  else
    return Fail(MakeError(Errc::kInvalidArgument, "process.terminal is true but no --console-socket was given"));
  if (mount_console) SWORN_TRY(linux_console::MountConsole(pty));
  return linux_console::BecomeTerminal(pty);
}

Result<void> LoadNotifyFilter(const security::BpfProgram& p, const SyncSocket& sync) {
  auto listener = SWORN_TRY(security::LoadBpf(p));
  return sync.Send(SyncType::kFd, 0, "seccomp", listener.get());
}

static Result<void> LoadFilters(const std::vector<const security::BpfProgram*>& filters) {
  for (const auto* f : filters)
    if (f && !f->empty() && !f->notify) SWORN_TRY(security::LoadBpf(*f));
  return {};
}

namespace {

// sworn.unveil and sworn.pledge, in the order the issue fixes: Landlock
// first (it sets no_new_privs, so every filter after it loads without
// CAP_SYS_ADMIN), then the OCI profile, the user switch, and the pledge
// filter as the very last step: after it, only the secret execve passes.
Result<void> SandboxedSteps(const spec::Process& p, const ExecPlan& plan) {
  if (plan.landlock) SWORN_TRY(security::ApplyLandlock(*plan.landlock));
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return Fail(SysError("prctl PR_SET_NO_NEW_PRIVS"));
  SWORN_TRY(LoadFilters(plan.filters));
  SWORN_TRY(linux_creds::SwitchUserAndCaps(p.user, p.capabilities));
  if (plan.pledge) {
    // kill/tgkill to self: outside a new pid namespace only the child knows
    // its pid (a no-op when the parent baked in 1).
    security::BpfProgram prog = plan.pledge->prog;
    security::BindSelfPid(prog.insns, getpid());
    SWORN_TRY(security::LoadBpf(prog));
  }
  return {};
}

Result<void> PlainSteps(const spec::Process& p, const ExecPlan& plan) {
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
  // while still privileged (the profile must then allow the user switch).
  // With it, load last, so the profile governs only the user's program.
  if (!p.no_new_privileges) SWORN_TRY(LoadFilters(plan.filters));
  SWORN_TRY(linux_creds::SwitchUserAndCaps(p.user, p.capabilities));
  if (p.no_new_privileges) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return Fail(SysError("prctl PR_SET_NO_NEW_PRIVS"));
    SWORN_TRY(LoadFilters(plan.filters));
  }
  return {};
}

}  // namespace

// A dynamic pledged program starts with rpath and prot_exec for ld.so; the
// repledge preload (two fds the program inherits, closed by the preload)
// then narrows it to its promises before the program's own code runs.
Result<void> PassRepledge(const ExecPlan& plan, std::vector<std::string>& env) {
  if (!plan.pledge || !plan.pledge->after_startup || plan.repledge_so_fd < 0) return {};
  return security::InheritRepledge(plan.repledge_so_fd, plan.repledge_prog_fd, env);
}

Error ExecProcess(const spec::Process& p, std::vector<std::string> env, const ExecPlan& plan) {
  // Nothing of the runtime may reach the container (CVE-2024-21626): every
  // fd past stdio and the preserved ones is closed at exec.
  if (RawCloseRange(3 + plan.preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0) return SysError("close_range");
  for (int s = 1; s < NSIG; ++s)
    if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  linux_creds::AddHome(env, p.user.uid);
  if (auto r = PassRepledge(plan, env); !r) return r.error();
  std::vector<char*> argv, envp;
  std::string target = plan.path;
  auto args = p.args;
  bool dmz = plan.dmz_fd >= 0 && !plan.pledge;
  if (dmz) argv.push_back(target.data());  // sworn-dmz: execve(argv[0], argv + 1, envp)
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  auto steps = plan.landlock || plan.pledge ? SandboxedSteps(p, plan) : PlainSteps(p, plan);
  if (!steps) return steps.error();
  if (plan.pledge) {
    // The kernel ignores args 3..5 of execve; the pledge filter admits this
    // one call by them. Nothing may run between the filter and this line.
    const auto& s = plan.pledge->secret;
    syscall(SYS_execve, target.c_str(), argv.data(), envp.data(), s[0], s[1], s[2]);
    // Under the filter only write and exit are sure to pass: say why, and go.
    int err = errno;
    std::string msg = "sworn: exec " + plan.path + ": " + strerror(err) + "\n";
    (void)!write(2, msg.data(), msg.size());
    syscall(SYS_exit, err == ENOENT ? 127 : 126);
  } else if (dmz) {
    syscall(SYS_execveat, plan.dmz_fd, "", argv.data(), envp.data(), AT_EMPTY_PATH);
  } else {
    execve(target.c_str(), argv.data(), envp.data());
  }
  return SysError("exec", plan.path);
}

[[noreturn]] void ChildFail(const SyncSocket* sync, const Error& err) {
  if (!sync || sync->fd() < 0 || !sync->Send(SyncType::kError, err.sys_errno, err.context))
    dprintf(2, "sworn: %s\n", err.Message().c_str());
  _exit(err.sys_errno == ENOENT ? 127 : 126);
}

}  // namespace sworn::process
