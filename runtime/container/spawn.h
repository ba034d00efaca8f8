// Creating the container's first process: which namespaces are created by
// clone3, which joined by setns and by whom, and the clone itself.
#pragma once

#include <sys/types.h>

#include <vector>

#include "core/error.h"
#include "core/fd.h"
#include "process/init.h"
#include "process/sync.h"
#include "security/bpf.h"
#include "security/sandbox.h"
#include "spec/spec.h"

namespace sworn::container {

struct NsPlan {
  int clone_flags = 0;
  std::vector<process::JoinNs> joins;  // joined by the child, user first
  UniqueFd pid_join;                   // joined by the parent (affects children only)
  bool userns = false;      // the child runs in a user namespace
  bool write_maps = false;  // ... which it creates, so the parent writes its maps
  bool unshare_cgroupns = false;
  int unshare_flags = 0;  // created after joining a user namespace
  bool time_create = false;
};

Result<NsPlan> PlanNamespaces(const spec::Linux& linux);

// Runs child_fn in a process made by clone3 with plan.clone_flags, in the
// cgroup2 directory cgroup_fd when >= 0. pid and time namespaces that the
// parent must enter for its children are entered around the clone and left
// again, so hooks and the runtime itself stay outside.
struct Spawned {
  pid_t pid = -1;
  UniqueFd pidfd;
  bool in_cgroup = false;  // CLONE_INTO_CGROUP took effect
};

template <class F>
Result<Spawned> Spawn(int clone_flags, int cgroup_fd, F&& child_fn);

// Scoped entry into a pid namespace (for children) or a new time namespace
// with the spec's offsets; restores the parent's own on destruction.
class ChildNsScope {
 public:
  static Result<ChildNsScope> Enter(const NsPlan& plan, const spec::Linux& linux);
  ChildNsScope(ChildNsScope&&) = default;
  ~ChildNsScope();

 private:
  ChildNsScope() = default;
  UniqueFd saved_pid_, saved_time_;
};

// Kills and reaps a child unless released.
class ChildGuard {
 public:
  ChildGuard(pid_t pid, int pidfd) : pid_(pid), pidfd_(pidfd) {}
  ChildGuard(const ChildGuard&) = delete;
  ~ChildGuard();
  void Release() { pid_ = -1; }

 private:
  pid_t pid_;
  int pidfd_;
};

Result<void> WriteIdMaps(pid_t pid, const spec::Linux& linux);

// The sealed trampoline for the final exec, and whether it must be exec'd by
// path (the OCI profile denies execveat). Empty only when the profile lets no
// exec through at all.
struct Trampoline {
  UniqueFd fd;
  bool by_path = false;

  template <class Request>
  void AttachTo(Request& req) const {
    req.dmz_fd = fd.get();
    req.dmz_by_path = by_path;
  }
};
Result<Trampoline> TrampolineFor(const security::BpfProgram& seccomp);

// The sealed sworn-init for sworn.init (empty without it); refused unless
// the container has a pid namespace of its own.
Result<UniqueFd> Pid1For(const security::SandboxSpec& s, const spec::Linux& linux);

// When pledged: the pledge filter the trampoline loads and, for a dynamic
// entrypoint, the repledge preload holding the after-startup filter, as
// sealed memfds.
struct Repledge {
  UniqueFd so, prog;
  UniqueFd report;  // our end's peer for sworn-dmz, once StartPledgeReporter ran
};
Result<Repledge> RepledgeFor(const std::optional<security::PledgeProgram>& pledge);

// The sworn.* sandbox of a container process, ready for the child: the
// parsed annotations, the compiled pledge and, for a dynamic program, the
// repledge preload. The child's request points into it.
struct SandboxSetup {
  security::SandboxSpec spec;
  std::optional<security::PledgeProgram> pledge;
  Repledge repledge;

  template <class Request>
  void AttachTo(Request& req) const {
    req.sandbox = &spec;
    req.pledge = pledge ? &*pledge : nullptr;
    req.repledge_so_fd = repledge.so.get();
    req.pledge_prog_fd = repledge.prog.get();
    req.pledge_report_fd = repledge.report.get();
  }
};
// self_pid_one: the process will be pid 1 of a new pid namespace. Compiled
// pledge programs are cached under <root>/@cache (no container id has an @).
Result<SandboxSetup> PrepareSandbox(const std::string& root, const std::map<std::string, std::string>& annotations,
                                    const std::string& rootfs, const spec::Process& p, bool self_pid_one);

// With reporting on, forks the pledge reporter for this process tree
// (pledge_reporter.h): reports go to `state_dir`/pledge.log and, when
// `text`, to our stderr.
// args: the program's, for the learned `sworn pledge` line.
Result<void> StartPledgeReporter(SandboxSetup& s, const std::string& state_dir, bool text,
                                 const std::vector<std::string>& args);

// Reads the child's messages up to kReady: a pty master is returned, a
// seccomp listener is sent on to the profile's listenerPath along with the
// container state (runc's containerProcessState), an error is returned.
Result<UniqueFd> AwaitReady(const process::SyncSocket& sync, const security::BpfProgram* notify, pid_t pid,
                            const std::string& state_json, std::vector<std::string>* warnings = nullptr);

// Whether the program args[0] resolves to inside `rootfs` needs a dynamic
// loader (true when it cannot be found there: it may come from a mount).
bool EntrypointIsDynamic(const std::string& rootfs, const spec::Process& p);

Result<Spawned> SpawnRaw(int clone_flags, int cgroup_fd);

template <class F>
Result<Spawned> Spawn(int clone_flags, int cgroup_fd, F&& child_fn) {
  auto s = SpawnRaw(clone_flags, cgroup_fd);
  if (s && s->pid == 0) {
    child_fn();
    _exit(1);
  }
  return s;
}

}  // namespace sworn::container
