#include "process/final_exec.h"

#include <linux/close_range.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <cstring>

#include "core/sys.h"
#include "linux/console.h"
#include "linux/creds.h"
#include "security/dmz.h"

namespace sworn::process {
namespace {

std::optional<uint64_t> g_ignored;

}  // namespace

uint64_t IgnoredSignals() {
  if (g_ignored) return *g_ignored;
  // Unknown: every signal is reset.
  g_ignored = SelfStatusMask("SigIgn").value_or(~uint64_t{0});
  return *g_ignored;
}

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
  // As runc's fixStdioPermissions: the pty was made by root, and a program
  // run as another user would not own its terminal (chmod, mesg, script).
  // Only the uid: the gid is devpts' gid= (tty). Only the pty made here is
  // handed over, never an inherited host terminal (runc's foreground run
  // gives the container pipes instead). Best effort, as in runc: an
  // unmapped uid (EINVAL) or owner (EPERM) leaves it root's.
  (void)!fchown(pty.slave.get(), p.user.uid, static_cast<gid_t>(-1));
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

// sworn.unveil and sworn.pledge: Landlock first (it sets no_new_privs, so
// every filter after it loads without CAP_SYS_ADMIN), then the OCI profile
// and the user switch. The pledge filter comes last of all, loaded by
// sworn-dmz itself (runtime/dmz/dmz.c): after it, only its one execve passes.
Result<void> SandboxedSteps(const spec::Process& p, const ExecPlan& plan) {
  if (plan.landlock) SWORN_TRY(security::ApplyLandlock(*plan.landlock));
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return Fail(SysError("prctl PR_SET_NO_NEW_PRIVS"));
  SWORN_TRY(LoadFilters(plan.filters));
  return linux_creds::SwitchUserAndCaps(p.user, p.capabilities);
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
  if (!plan.pledge || (!plan.pledge->after_startup && !plan.pledge->startup_grant) || plan.repledge_so_fd < 0)
    return {};
  return security::InheritRepledge(plan.repledge_so_fd, env);
}

Error ExecProcess(const spec::Process& p, std::vector<std::string> env, const ExecPlan& plan) {
  // Nothing of the runtime may reach the container (CVE-2024-21626): every
  // fd past stdio and the preserved ones is closed at exec.
  if (RawCloseRange(3 + plan.preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0) return SysError("close_range");
  // execve resets caught signals itself; only ignored ones stay ignored.
  // Those are the ones inherited (read before clone: IgnoredSignals) and
  // SIGPIPE, which the hooks' runner ignores.
  uint64_t ignored = IgnoredSignals() | uint64_t{1} << (SIGPIPE - 1);
  for (int s = 1; s < NSIG && s <= 64; ++s)
    if (s != SIGKILL && s != SIGSTOP && (ignored >> (s - 1) & 1)) signal(s, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  linux_creds::AddHome(env, p.user.uid);
  if (auto r = PassRepledge(plan, env); !r) return r.error();
  bool dmz = plan.dmz_fd >= 0;
  // The pledge filter admits one execve, made by sworn-dmz; without the
  // trampoline there is no way to start a pledged program.
  if (plan.pledge && (!dmz || plan.pledge_prog_fd < 0))
    return MakeError(Errc::kInvalidArgument, "sworn.pledge.promises: linux.seccomp lets neither execve nor execveat "
                                             "through, so the pledged program cannot be started");
  if (plan.pledge && fcntl(plan.pledge_prog_fd, F_SETFD, 0) < 0) return SysError("fcntl F_SETFD", "pledge filter");
  // sworn-dmz makes it close-on-exec again once the listener is sent.
  int report_fd = plan.pledge ? plan.pledge_report_fd : -1;
  if (report_fd >= 0 && fcntl(report_fd, F_SETFD, 0) < 0) return SysError("fcntl F_SETFD", "pledge reporter socket");
  std::vector<char*> argv, envp;
  std::string target = plan.path;
  auto args = p.args;
  // sworn-dmz: argv = {mode, program, args...} (runtime/dmz/dmz.c).
  std::string mode = security::TrampolineMode(plan.pledge ? plan.pledge_prog_fd : -1, report_fd);
  if (dmz) argv.push_back(mode.data()), argv.push_back(target.data());
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string dmz_path = "/proc/self/fd/" + std::to_string(plan.dmz_fd);
  auto steps = plan.landlock || plan.pledge ? SandboxedSteps(p, plan) : PlainSteps(p, plan);
  if (!steps) return steps.error();
  if (dmz && plan.dmz_by_path) {
    // The profile denies execveat: reach the same sealed file by its path.
    execve(dmz_path.c_str(), argv.data(), envp.data());
    return SysError("exec through the sealed trampoline", dmz_path);
  }
  if (dmz) {
    syscall(SYS_execveat, plan.dmz_fd, "", argv.data(), envp.data(), AT_EMPTY_PATH);
    return SysError("exec through the sealed trampoline", plan.path);
  }
  execve(target.c_str(), argv.data(), envp.data());
  return SysError("exec", plan.path);
}

[[noreturn]] void ChildFail(const SyncSocket* sync, const Error& err) {
  if (!sync || sync->fd() < 0 || !sync->Send(SyncType::kError, err.sys_errno, err.context))
    dprintf(2, "sworn: %s\n", err.Message().c_str());
  _exit(err.sys_errno == ENOENT ? 127 : 126);
}

}  // namespace sworn::process
