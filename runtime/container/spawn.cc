#include "container/spawn.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sys.h"
#include "process/final_exec.h"
#include "core/unix_socket.h"
#include "linux/idmap.h"
#include "pid1/pid1.h"
#include "security/pledge_learn.h"
#include "security/dmz.h"
#include "security/pledge_cache.h"
#include "security/pledge_reporter.h"
#include "security/sandbox.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include <nlohmann/json.hpp>

namespace sworn::container {

using spec::NsType;

Result<NsPlan> PlanNamespaces(const spec::Linux& linux) {
  NsPlan plan;
  const spec::Namespace* user = linux.Find(NsType::kUser);
  bool user_joined = user && !user->path.empty();
  plan.userns = user != nullptr;
  plan.write_maps = user && !user_joined;
  for (size_t i = 0; i < linux.namespaces.size(); ++i) {
    const auto& ns = linux.namespaces[i];
    int flag = spec::NsCloneFlag(ns.type);
    if (!ns.path.empty()) {
      UniqueFd fd(open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) return Fail(SysError("linux.namespaces[" + std::to_string(i) + "].path: open", ns.path));
      int kind = ioctl(fd.get(), NS_GET_NSTYPE);
      if (kind != flag)
        return Fail(FieldError("linux.namespaces[" + std::to_string(i) + "].path",
                               ns.path + " is not a " + spec::NsName(ns.type) + " namespace"));
      if (ns.type == NsType::kPid)
        plan.pid_join = std::move(fd);
      else if (ns.type == NsType::kUser)
        plan.joins.insert(plan.joins.begin(), process::JoinNs{ns.type, std::move(fd)});
      else
        plan.joins.push_back(process::JoinNs{ns.type, std::move(fd)});
      continue;
    }
    switch (ns.type) {
      case NsType::kCgroup: plan.unshare_cgroupns = true; break;
      case NsType::kTime: plan.time_create = true; break;
      case NsType::kPid: plan.clone_flags |= flag; break;
      default:
        if (user_joined)
          plan.unshare_flags |= flag;
        else
          plan.clone_flags |= flag;
    }
  }
  return plan;
}

Result<ChildNsScope> ChildNsScope::Enter(const NsPlan& plan, const spec::Linux& linux) {
  ChildNsScope s;
  if (plan.pid_join) {
    s.saved_pid_.reset(open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC));
    if (!s.saved_pid_) return Fail(SysError("open", "/proc/self/ns/pid_for_children"));
    if (setns(plan.pid_join.get(), CLONE_NEWPID) < 0) return Fail(SysError("setns", "pid namespace"));
  }
  if (plan.time_create) {
    s.saved_time_.reset(open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC));
    if (!s.saved_time_) return Fail(SysError("open", "/proc/self/ns/time_for_children"));
    if (unshare(CLONE_NEWTIME) < 0) return Fail(SysError("unshare", "time namespace"));
    // Offsets can only be written before any process enters the namespace.
    std::string offs;
    if (linux.time_monotonic_secs)
      offs += "monotonic " + std::to_string(*linux.time_monotonic_secs) + " " +
              std::to_string(*linux.time_monotonic_nanos) + "\n";
    if (linux.time_boottime_secs)
      offs += "boottime " + std::to_string(*linux.time_boottime_secs) + " " +
              std::to_string(*linux.time_boottime_nanos) + "\n";
    if (!offs.empty())
      SWORN_TRY(WithContext(WriteFile("/proc/self/timens_offsets", offs, O_WRONLY), "linux.timeOffsets"));
  }
  return s;
}

ChildNsScope::~ChildNsScope() {
  if (saved_pid_) setns(saved_pid_.get(), CLONE_NEWPID);
  if (saved_time_) setns(saved_time_.get(), CLONE_NEWTIME);
}

ChildGuard::~ChildGuard() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

Result<void> WriteIdMaps(pid_t pid, const spec::Linux& linux) {
  return linux_idmap::WriteIdMaps(pid, linux.uid_mappings, linux.gid_mappings);
}

Result<Spawned> SpawnRaw(int clone_flags, int cgroup_fd) {
  (void)process::IgnoredSignals();  // cached for the child's exec
  int pidfd = -1;
  Clone3Args a;
  a.flags = static_cast<uint64_t>(clone_flags) | CLONE_PIDFD;
  a.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  a.exit_signal = SIGCHLD;
  Spawned s;
  if (cgroup_fd >= 0) {
    Clone3Args b = a;
    b.flags |= CLONE_INTO_CGROUP;
    b.cgroup = static_cast<uint64_t>(cgroup_fd);
    auto r = Clone3(b);
    if (r) {
      s.pid = *r;
      s.in_cgroup = true;
      if (s.pid > 0) s.pidfd.reset(pidfd);
      return s;
    }
    // Older kernels, or a cgroup2 that refuses the placement: fall back to
    // a plain clone and a write to cgroup.procs before the child runs.
  }
  s.pid = SWORN_TRY(Clone3(a));
  if (s.pid > 0) s.pidfd.reset(pidfd);
  return s;
}

}  // namespace sworn::container

namespace sworn::container {
namespace {

Result<void> ForwardListener(const security::BpfProgram& p, int listener, pid_t pid, const std::string& state_json) {
  auto sock = SWORN_TRY(ConnectUnix(p.listener_path, "linux.seccomp.listenerPath"));
  nlohmann::json j = {{"ociVersion", spec::kSpecVersion}, {"fds", {"seccompFd"}}, {"pid", pid},
                      {"metadata", p.listener_metadata}, {"state", nlohmann::json::parse(state_json)}};
  std::string payload = j.dump();
  return SendWithFd(sock.get(), payload.data(), payload.size(), listener, p.listener_path);
}

}  // namespace

bool EntrypointIsDynamic(const std::string& rootfs, const spec::Process& p) {
  UniqueFd root(open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return true;
  const std::string& arg0 = p.args[0];
  std::vector<std::string> candidates;
  if (arg0.find('/') != std::string::npos) {
    candidates.push_back(arg0[0] == '/' ? arg0 : p.cwd + "/" + arg0);
  } else {
    for (const auto& e : p.env)
      if (StartsWith(e, "PATH="))
        for (const auto& dir : Split(e.substr(5), ':')) candidates.push_back((dir.empty() ? "." : dir) + "/" + arg0);
  }
  for (const auto& c : candidates)
    if (OpenInRoot(root.get(), c, O_PATH)) return security::IsDynamic(root.get(), c);
  return true;
}

Result<Repledge> RepledgeFor(const std::optional<security::PledgeProgram>& pledge) {
  Repledge r;
  if (!pledge) return r;
  r.prog = SWORN_TRY(security::SealedFilter(pledge->prog));
  if (pledge->after_startup) r.so = SWORN_TRY(security::SealedRepledge(*pledge->after_startup));
  else if (pledge->startup_grant) r.so = SWORN_TRY(security::SealedRepledgeSignal());
  return r;
}

Result<SandboxSetup> PrepareSandbox(const std::string& root, const std::map<std::string, std::string>& annotations,
                                    const std::string& rootfs, const spec::Process& p, bool self_pid_one) {
  SandboxSetup s;
  s.spec = SWORN_TRY(security::ParseSandbox(annotations));
  for (const auto& w : s.spec.warnings) log::Warn(w);
  if (s.spec.learn)
    log::Warn("sworn.pledge.learn: LEARN MODE: every system call is allowed and recorded; this is NOT a sandbox");
  // Under sworn.init the program is pid 2: its kill-self rules keep the
  // placeholder, which sworn-dmz replaces with its pid.
  bool pid_one = self_pid_one && !s.spec.init;
  if (s.spec.promises)
    s.pledge = SWORN_TRY(
        security::CachedCompilePledge(s.spec, EntrypointIsDynamic(rootfs, p), pid_one, root + "/@cache"));
  s.repledge = SWORN_TRY(RepledgeFor(s.pledge));
  return s;
}

Result<void> StartPledgeReporter(SandboxSetup& s, const std::string& state_dir, bool text,
                                 const std::vector<std::string>& args) {
  if (!s.pledge || !s.pledge->report) return {};
  security::ReporterOptions o;
  o.penalty = s.spec.penalty;
  o.startup_grant = s.pledge->startup_grant;
  o.text = text;
  o.record_path = state_dir + "/" + security::kPledgeRecordFile;
  o.learn = s.spec.learn;
  o.unveil = s.spec.unveil.has_value();
  o.learned_path = state_dir + "/" + security::kPledgeLearnedFile;
  o.program = security::ShellJoin(args);
  s.repledge.report = SWORN_TRY(security::StartReporter(o));
  return {};
}

Result<UniqueFd> Pid1For(const security::SandboxSpec& s, const spec::Linux& linux) {
  if (!s.init) return UniqueFd();
  const spec::Namespace* pid = linux.Find(spec::NsType::kPid);
  if (!pid || !pid->path.empty())
    return Fail(FieldError("annotations.sworn.init", "a PID 1 of our own needs a new pid namespace (linux.namespaces "
                                                     "has no \"pid\" entry, or joins one by path)"));
  return pid1::SealedInit();
}

// Every container process is exec'd through sworn-dmz, so that its
// /proc/self/exe never names the sworn binary while a program from the image
// is being exec'd (CVE-2019-5736).
Result<Trampoline> TrampolineFor(const security::BpfProgram& seccomp) {
  auto call = security::TrampolineCallFor(seccomp);
  if (call == security::TrampolineCall::kNone) return Trampoline{};  // nothing can exec at all
  return Trampoline{SWORN_TRY(security::SealedDmz()), call == security::TrampolineCall::kExecvePath};
}

Result<UniqueFd> AwaitReady(const process::SyncSocket& sync, const security::BpfProgram* notify, pid_t pid,
                            const std::string& state_json, std::vector<std::string>* warnings) {
  UniqueFd pty;
  for (;;) {
    UniqueFd fd;
    auto m = SWORN_TRY(sync.Recv(&fd));
    if (m.type == process::SyncType::kError) return Fail(Error{Errc::kSystem, m.err, m.text});
    if (m.type == process::SyncType::kReady) return pty;
    if (m.type == process::SyncType::kWarning) {
      log::Warn(m.text);
      if (warnings) warnings->push_back(m.text);
      continue;
    }
    if (m.type != process::SyncType::kFd)
      return Fail(MakeError(Errc::kSystem, "sync protocol: unexpected message " + std::to_string(int(m.type))));
    if (std::strcmp(m.text, "pty") == 0)
      pty = std::move(fd);
    else if (notify)
      SWORN_TRY(ForwardListener(*notify, fd.get(), pid, state_json));
  }
}

}  // namespace sworn::container
