#include "process/init.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/keyctl.h>

#include "cgroup/self_join.h"
#include "core/log.h"
#include "core/rootless.h"
#include "core/sys.h"
#include "linux/creds.h"
#include "pid1/pid1.h"
#include "linux/rootfs.h"
#include "process/final_exec.h"
#include "process/hooks.h"

namespace sworn::process {
namespace {

Result<void> EnterNamespaces(InitRequest& r) {
  for (auto& j : r.joins)
    if (setns(j.fd.get(), spec::NsCloneFlag(j.type)) < 0)
      return Fail(SysError(std::string("setns ") + spec::NsName(j.type)));
  if (r.userns) {
    // Become root of the new user namespace now that the maps are written.
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) return Fail(SysError("setresuid 0 in user namespace"));
  }
  if (r.unshare_flags && unshare(r.unshare_flags) < 0) return Fail(SysError("unshare"));
  // Only now that the parent placed us in our cgroups: the namespace's root
  // is the cgroup we are in when it is created.
  if (r.unshare_cgroupns && unshare(CLONE_NEWCGROUP) < 0) return Fail(SysError("unshare cgroup namespace"));
  const auto& s = *r.spec;
  if (!s.hostname.empty() && sethostname(s.hostname.data(), s.hostname.size()) < 0)
    return Fail(SysError("sethostname", s.hostname));
  if (!s.domainname.empty() && setdomainname(s.domainname.data(), s.domainname.size()) < 0)
    return Fail(SysError("setdomainname", s.domainname));
  return {};
}

Result<void> BuildRootfs(InitRequest& r) {
  linux_fs::RootfsContext ctx;
  ctx.spec = r.spec;
  ctx.rootfs = r.spec->root_path;
  // Or the runtime's own (rootless podman runs us as root of its user
  // namespace): no mknod there either, and mount flags are locked.
  ctx.in_userns = r.userns || RunningInUserNs();
  ctx.cgroupns = r.unshare_cgroupns || r.spec->linux.Find(spec::NsType::kCgroup);
  ctx.cgroup_dirs = r.cgroup_dirs;
  ctx.idmap_fds = r.idmap_fds;
  ctx.host_mountns = r.spec->linux.Find(spec::NsType::kMount) == nullptr;
  log::Debug("init: namespaces entered");
  SWORN_TRY(linux_fs::PrepareRootfs(ctx));
  SWORN_TRY(linux_fs::MountAll(ctx));
  SWORN_TRY(linux_fs::CreateDevices(ctx));
  // prestart and createRuntime run in the runtime's namespaces, by the
  // parent, once ours exist; createContainer runs here, before pivot_root.
  log::Debug("init: mounts done");
  SWORN_TRY(r.sync->Send(SyncType::kRunHooks));
  if (AwaitsRuntimeHooks(r.spec->hooks)) SWORN_TRY(r.sync->Expect(SyncType::kHooksDone));
  if (!r.spec->hooks.create_container.empty()) {
    r.hook_state["status"] = "creating";
    SWORN_TRY(RunHooks(r.spec->hooks.create_container, "createContainer", r.hook_state.dump()));
  }
  SWORN_TRY(linux_fs::EnterRootfs(ctx, r.no_pivot));
  log::Debug("init: pivoted");
  // runc creates a missing cwd, before root.readonly remounts / read-only;
  // it is resolved after pivot_root, so it is always inside the rootfs.
  if (r.spec->process) SWORN_TRY(MkdirAll(r.spec->process->cwd));
  return linux_fs::FinalizeRootfs(*r.spec, r.userns || RunningInUserNs());
}

Result<void> PrepareProcess(InitRequest& r) {
  const auto& p = *r.spec->process;
  if (p.terminal)
    SWORN_TRY(SetupTerminal(p, r.console_fd, r.pty_to_parent, *r.sync, true));
  // Like runc's init, lead a session and process group of our own: a
  // supervisor (conmon) that kills the container's group must not hit itself.
  else if (setsid() < 0)
    return Fail(SysError("setsid"));
  if (chdir(p.cwd.c_str()) < 0) return Fail(SysError("chdir", "process.cwd " + p.cwd));
  if (p.oom_score_adj)
    SWORN_TRY(WithContext(WriteFile("/proc/self/oom_score_adj", std::to_string(*p.oom_score_adj), O_WRONLY),
                          "process.oomScoreAdj"));
  SWORN_TRY(WithContext(linux_creds::ApplyRlimits(p.rlimits), "process.rlimits"));
  SWORN_TRY(linux_creds::ApplySchedulerAndIo(p));
  SWORN_TRY(linux_creds::ApplyLsmLabels(p));
  if (r.spec->linux.personality && personality(*r.spec->linux.personality) < 0)
    return Fail(SysError("personality", "linux.personality"));
  if (!r.no_new_keyring) {
    std::string name = "_ses." + r.id;
    if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.c_str()) < 0 && errno != ENOSYS)
      return Fail(SysError("keyctl join session keyring"));
  }
  return {};
}

// Blocks until `sworn start` writes to the exec fifo, or, under `run`,
// until the parent says so on the sync socket.
Result<void> WaitForStart(int fifo_fd, const SyncSocket& sync) {
  if (fifo_fd < 0) return sync.Expect(SyncType::kStart);
  char c;
  ssize_t n;
  do n = read(fifo_fd, &c, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) return Fail(SysError("read", "exec fifo"));
  close(fifo_fd);
  return {};
}

// SCMP_ACT_NOTIFY filters are loaded now, while the parent can still pass
// their listener on; then the parent hears that we are ready.
void ReportReady(const std::vector<const security::BpfProgram*>& filters, const SyncSocket& sync) {
  for (const auto* f : filters)
    if (f->notify)
      if (auto ok = LoadNotifyFilter(*f, sync); !ok) ChildFail(&sync, ok.error());
  if (!sync.Send(SyncType::kReady)) _exit(1);
}

}  // namespace

Result<std::optional<security::LandlockPlan>> PlanSandbox(const security::SandboxSpec* s, const std::string& path,
                                                          const SyncSocket& sync) {
  if (!s || !s->unveil) return std::optional<security::LandlockPlan>();
  // Unveil paths are container paths: resolved in "/" after pivot_root.
  UniqueFd root(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Fail(SysError("open", "/"));
  auto plan = SWORN_TRY(security::PlanUnveil(*s, root.get(), path));
  for (const auto& w : plan.warnings) SWORN_TRY(sync.Send(SyncType::kWarning, 0, w));
  return std::optional(std::move(plan));
}

[[noreturn]] void ContainerInit(InitRequest& r) {
  std::vector<int> keep = {r.sync->fd(),  r.fifo_fd,          r.exec_done_fd,        r.console_fd,
                           r.dmz_fd,      r.repledge_so_fd,   r.pledge_prog_fd,      r.pid1_fd,
                           r.pledge_report_fd};
  for (const auto& j : r.joins) keep.push_back(j.fd.get());
  for (int fd : r.idmap_fds) keep.push_back(fd);
  keep.insert(keep.end(), r.join_fds.begin(), r.join_fds.end());
  CloseFdsExcept(3 + r.preserve_fds, keep);
  // First, and before a cgroup namespace is made: our own v1 cgroups.
  if (auto joined = cgroup::JoinSelf(r.join_fds, r.join_dirs); !joined) ChildFail(r.sync, joined.error());
  // kGo carries our pid as the runtime's namespace sees it, for hooks.
  auto go = r.sync->Recv();
  if (!go || go->type != SyncType::kGo) _exit(1);  // the parent is gone or gave up
  // Until execve, nothing in the container may ptrace us or open our
  // /proc/PID/{mem,fd,exe}: we still hold the runtime's fds. Run as root
  // the runtime was non-dumpable already and so are we; a rootless runtime
  // writes our id maps before kGo, which it could not do to a non-dumpable
  // process (runc's nsexec is dumpable for that step too).
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (!r.hook_state.is_null()) r.hook_state["pid"] = go->err;
  ExecPlan plan{{}, r.preserve_fds, r.filters, r.dmz_fd, nullptr, r.pledge, r.repledge_so_fd, r.pledge_prog_fd, r.dmz_by_path};
  plan.pledge_report_fd = r.pledge_report_fd;
  std::optional<security::LandlockPlan> landlock;
  auto setup = [&]() -> Result<void> {
    SWORN_TRY(EnterNamespaces(r));
    SWORN_TRY(BuildRootfs(r));
    SWORN_TRY(PrepareProcess(r));
    plan.path = SWORN_TRY(linux_creds::LookPath(r.spec->process->args[0], r.spec->process->env));
    landlock = SWORN_TRY(PlanSandbox(r.sandbox, plan.path, *r.sync));
    if (landlock) plan.landlock = &*landlock;
    return {};
  };
  if (auto ok = setup(); !ok) ChildFail(r.sync, ok.error());
  ReportReady(r.filters, *r.sync);
  if (auto ok = WaitForStart(r.fifo_fd, *r.sync); !ok) ChildFail(nullptr, ok.error());
  if (!r.spec->hooks.start_container.empty()) {
    r.hook_state["status"] = "created";
    if (auto ok = RunHooks(r.spec->hooks.start_container, "startContainer", r.hook_state.dump()); !ok)
      ChildFail(nullptr, ok.error());
  }
  // sworn.init: we stay behind as PID 1 (sworn-init); the program goes on.
  if (r.pid1_fd >= 0)
    if (auto ok = pid1::ForkProgram(r.pid1_fd, r.spec->process->user, r.spec->process->terminal); !ok)
      ChildFail(nullptr, ok.error());
  ChildFail(nullptr, ExecProcess(*r.spec->process, r.spec->process->env, plan));
}

[[noreturn]] void ExecInit(ExecRequest& r) {
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  std::vector<int> keep = {r.sync->fd(),      r.pidfd,          r.console_fd,        r.dmz_fd,
                           r.repledge_so_fd,  r.pledge_prog_fd, r.pledge_report_fd, r.root_fd};
  keep.insert(keep.end(), r.join_fds.begin(), r.join_fds.end());
  CloseFdsExcept(3 + r.preserve_fds, keep);
  if (auto joined = cgroup::JoinSelf(r.join_fds, r.join_dirs); !joined) ChildFail(r.sync, joined.error());
  if (auto go = r.sync->Expect(SyncType::kGo); !go) _exit(1);
  ExecPlan plan{{}, r.preserve_fds, r.filters, r.dmz_fd, nullptr, r.pledge, r.repledge_so_fd, r.pledge_prog_fd, r.dmz_by_path};
  plan.pledge_report_fd = r.pledge_report_fd;
  std::optional<security::LandlockPlan> landlock;
  auto setup = [&]() -> Result<void> {
    if (r.setns_flags && setns(r.pidfd, r.setns_flags) < 0) return Fail(SysError("setns", "container namespaces"));
    close(r.pidfd);
    if (r.root_fd >= 0 && (fchdir(r.root_fd) < 0 || chroot(".") < 0))
      return Fail(SysError("chroot", "the container's root"));
    const auto& p = r.process;
    if (p.terminal) SWORN_TRY(SetupTerminal(p, r.console_fd, r.pty_to_parent, *r.sync, false));
    if (chdir(p.cwd.c_str()) < 0) return Fail(SysError("chdir", "cwd " + p.cwd));
    SWORN_TRY(WithContext(linux_creds::ApplyRlimits(p.rlimits), "process.rlimits"));
    SWORN_TRY(linux_creds::ApplySchedulerAndIo(p));
    SWORN_TRY(linux_creds::ApplyLsmLabels(p));
    plan.path = SWORN_TRY(linux_creds::LookPath(p.args[0], p.env));
    landlock = SWORN_TRY(PlanSandbox(r.sandbox, plan.path, *r.sync));
    if (landlock) plan.landlock = &*landlock;
    return {};
  };
  if (auto ok = setup(); !ok) ChildFail(r.sync, ok.error());
  ReportReady(r.filters, *r.sync);
  // On success the sync socket closes with exec (CLOEXEC): the parent reads EOF.
  ChildFail(r.sync, ExecProcess(r.process, r.process.env, plan));
}

}  // namespace sworn::process
