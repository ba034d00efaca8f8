// `exec`: a new process in every namespace and cgroup of a running container.
#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>

#include "cgroup/cgroup.h"
#include "cgroup/self_join.h"
#include "container/container.h"
#include "container/spawn.h"
#include "core/log.h"
#include "core/sys.h"
#include "linux/creds.h"
#include "linux/idmap.h"
#include "core/unix_socket.h"
#include "process/init.h"
#include "process/sync.h"
#include "security/oci_seccomp.h"
#include "security/sandbox.h"
#include "security/dmz.h"
#include "spec/json_field.h"

namespace sworn::container {
namespace {

constexpr spec::NsType kAllNs[] = {spec::NsType::kUser, spec::NsType::kMount,  spec::NsType::kNetwork,
                                   spec::NsType::kIpc,  spec::NsType::kUts,    spec::NsType::kCgroup,
                                   spec::NsType::kTime, spec::NsType::kPid};

ino_t NsInode(const std::string& pid, const char* name) {
  struct stat st;
  if (stat(("/proc/" + pid + "/ns/" + name).c_str(), &st) < 0) return 0;
  return st.st_ino;
}

// Flags of the namespaces in which the container differs from us; setns on
// an equal one (our own user namespace, notably) would fail with EINVAL.
int DifferingNamespaces(pid_t pid) {
  int flags = 0;
  std::string p = std::to_string(pid);
  for (auto t : kAllNs) {
    ino_t theirs = NsInode(p, spec::NsProcName(t));
    if (theirs && theirs != NsInode("self", spec::NsProcName(t))) flags |= spec::NsCloneFlag(t);
  }
  return flags;
}

// ready, then EOF when execve closed the CLOEXEC socket.
Result<UniqueFd> AwaitExec(const process::SyncSocket& sync, const security::BpfProgram* notify, pid_t pid,
                           const std::string& state_json) {
  auto pty = SWORN_TRY(AwaitReady(sync, notify, pid, state_json));
  auto after = sync.Recv();
  if (after && after->type == process::SyncType::kError) return Fail(Error{Errc::kSystem, after->err, after->text});
  return pty;
}

}  // namespace

Result<spec::Process> BaseProcess(const std::string& root, const std::string& id) {
  auto info = SWORN_TRY(Inspect(root, id));
  const auto* p = spec::Member(info.st.config, "process");
  if (!p) return Fail(FieldError("process", "the container has no process to base exec on"));
  return spec::ParseProcess(*p, "process");
}

Result<Created> Exec(const std::string& root, const ExecOptions& o) {
  auto info = SWORN_TRY(Inspect(root, o.id));
  bool paused = info.status == state::Status::kPaused;
  if (paused && !o.ignore_paused)
    return Fail(MakeError(Errc::kBadState, "cannot exec in a paused container \"" + o.id +
                                               "\" (use --ignore-paused to override)"));
  if (info.status != state::Status::kRunning && info.status != state::Status::kCreated && !paused)
    return Fail(MakeError(Errc::kBadState, "cannot exec in container \"" + o.id + "\": it is " +
                                               state::StatusName(info.status)));
  if (o.process.terminal && o.console_socket.empty() && !o.pty_to_parent)
    return Fail(MakeError(Errc::kInvalidArgument, "--tty needs --console-socket when detached"));
  // Checked before anything starts: a bad --cgroup leaves nothing behind.
  auto cgroup_dirs = SWORN_TRY(cgroup::SubCgroupDirs(info.st.cgroup_dirs, o.cgroups));
  auto pidfd = SWORN_TRY(PidfdOpen(info.st.pid));
  if (!state::ProcessAlive(info.st.pid, info.st.pid_start))
    return Fail(MakeError(Errc::kBadState, "container \"" + o.id + "\" is stopped"));
  int flags = DifferingNamespaces(info.st.pid);
  spec::Process process = o.process;
  if (process.capabilities)
    if (auto w = linux_creds::DropUngrantable(*process.capabilities, !(flags & CLONE_NEWUSER)); !w.empty())
      log::Warn(w);
  // Rootless, joining the container's pid namespace needs CAP_SYS_ADMIN
  // in its user namespace: the runtime joins that namespace first (it owns
  // it, so it may), as runc's nsexec does; the child is then born in it.
  if ((flags & CLONE_NEWUSER) && geteuid() != 0) {
    SWORN_TRY(linux_idmap::JoinUserNs(info.st.pid));
    flags &= ~CLONE_NEWUSER;
  }
  // No mount namespace of its own: setns would not give us its root.
  UniqueFd root_fd;
  if (!(flags & CLONE_NEWNS)) {
    root_fd.reset(open(("/proc/" + std::to_string(info.st.pid) + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd) return Fail(SysError("open", "/proc/" + std::to_string(info.st.pid) + "/root"));
  }
  // exec'd processes get the container's seccomp profile too, as with runc.
  const auto* linux = spec::Member(info.st.config, "linux");
  auto seccomp = SWORN_TRY(security::CachedCompileOciSeccomp(
      linux && spec::Member(*linux, "seccomp") ? (*linux)["seccomp"] : nlohmann::json(), root + "/@cache"));
  UniqueFd console;
  if (!o.console_socket.empty()) console = SWORN_TRY(ConnectUnix(o.console_socket, "--console-socket"));
  auto [parent_sock, child_sock] = SWORN_TRY(process::SyncSocket::Pair());

  process::ExecRequest req;
  req.process = std::move(process);
  req.sync = &child_sock;
  req.pidfd = pidfd.get();
  req.setns_flags = flags & ~CLONE_NEWPID;
  req.root_fd = root_fd.get();
  req.console_fd = console.get();
  req.pty_to_parent = o.pty_to_parent;
  req.preserve_fds = o.preserve_fds;
  if (!seccomp.empty()) req.filters.push_back(&seccomp);
  auto dmz = SWORN_TRY(TrampolineFor(seccomp));
  dmz.AttachTo(req);
  // An exec'd process lives under the container's promises and unveils too.
  auto sandbox = SWORN_TRY(PrepareSandbox(root, info.st.annotations, info.st.rootfs, o.process, false));
  SWORN_TRY(StartPledgeReporter(sandbox, root + "/" + o.id, !o.detach, o.process.args));
  sandbox.AttachTo(req);

  // Into a paused container the process is placed only once it has exec'd:
  // placed before, it would freeze on the way and exec would never return.
  auto self_join = cgroup::OpenSelfJoin(paused ? std::vector<std::string>{} : cgroup_dirs);
  req.join_fds = self_join.raw();
  req.join_dirs = self_join.dirs;
  UniqueFd v2;
  for (const auto& d : cgroup_dirs)
    if (!paused && access((d + "/cgroup.controllers").c_str(), F_OK) == 0)
      v2.reset(open(d.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  Spawned child;
  {
    NsPlan pidns;
    if (flags & CLONE_NEWPID) pidns.pid_join.reset(open(("/proc/" + std::to_string(info.st.pid) + "/ns/pid").c_str(), O_RDONLY | O_CLOEXEC));
    auto scope = SWORN_TRY(ChildNsScope::Enter(pidns, spec::Linux{}));
    child = SWORN_TRY(Spawn(0, v2.get(), [&] {
      parent_sock.Close();
      process::ExecInit(req);
    }));
  }
  ChildGuard guard(child.pid, child.pidfd.get());
  child_sock.Close();
  for (const auto& d : paused ? std::vector<std::string>{} : cgroup_dirs) {
    if (child.in_cgroup && v2 && access((d + "/cgroup.controllers").c_str(), F_OK) == 0) continue;
    if (std::find(self_join.dirs.begin(), self_join.dirs.end(), d) != self_join.dirs.end()) continue;
    SWORN_TRY(WriteFile(d + "/cgroup.procs", std::to_string(child.pid), O_WRONLY));
  }
  SWORN_TRY(parent_sock.Send(process::SyncType::kGo));
  auto pty = SWORN_TRY(AwaitExec(parent_sock, seccomp.notify ? &seccomp : nullptr, child.pid,
                                 HookState(info.st, info.status)));
  for (const auto& d : paused ? cgroup_dirs : std::vector<std::string>{}) {
    auto w = WriteFile(d + "/cgroup.procs", std::to_string(child.pid), O_WRONLY);
    if (!w && w.error().sys_errno != ESRCH) return Fail(w.error());  // ESRCH: it already exited
  }
  if (!o.pid_file.empty())
    SWORN_TRY(WithContext(WriteFileAtomic(o.pid_file, std::to_string(child.pid)), "--pid-file"));
  guard.Release();
  return Created{child.pid, std::move(child.pidfd), std::move(pty)};
}

}  // namespace sworn::container
