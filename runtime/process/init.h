// What runs in the cloned child. Both entry points never return and never
// throw: an error before the handoff is sent to the parent as kError, one
// after it is printed to stderr, and the child _exits.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/fd.h"
#include "process/sync.h"
#include "security/bpf.h"
#include "security/sandbox.h"
#include "spec/spec.h"

namespace sworn::process {

struct JoinNs {
  spec::NsType type;
  UniqueFd fd;  // opened by the parent, before clone
};

struct InitRequest {
  const spec::Spec* spec = nullptr;
  std::string id;
  const SyncSocket* sync = nullptr;  // the child's end
  int fifo_fd = -1;                  // create: blocks here until `start`
  int exec_done_fd = -1;             // create: closes with execve, telling `start`
  int console_fd = -1;               // connected --console-socket, or -1
  bool pty_to_parent = false;        // terminal without a console socket
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
  bool userns = false;               // created or joined a user namespace
  bool unshare_cgroupns = false;     // after the parent placed us in our cgroups
  int unshare_flags = 0;             // namespaces to create after joining a user ns
  std::vector<JoinNs> joins;         // user first
  std::vector<std::string> cgroup_dirs;
  std::vector<int> join_fds;                // cgroup v1 `tasks` to join first (cgroup/self_join.h)
  std::vector<std::string> join_dirs;       // their directories, for errors
  std::vector<int> idmap_fds;  // per spec mount: a tree the runtime made (linux_idmap::IdMappedTrees) or -1
  nlohmann::json hook_state;         // state for createContainer/startContainer; the
                                     // child fills in pid (from kGo) and status
  std::vector<const security::BpfProgram*> filters;  // linux.seccomp, then pledge
  int dmz_fd = -1;                   // sealed sworn-dmz, or -1 to exec directly
  bool dmz_by_path = false;          // execve /proc/self/fd/N: the profile denies execveat
  int repledge_so_fd = -1;           // preload for a dynamic pledged entrypoint
  int pledge_prog_fd = -1;           // the pledge filter, loaded by sworn-dmz
  int pledge_report_fd = -1;         // socket to the pledge reporter
  int pid1_fd = -1;                  // sealed sworn-init (sworn.init), or -1
  const security::SandboxSpec* sandbox = nullptr;      // sworn.* annotations
  const security::PledgeProgram* pledge = nullptr;     // compiled by the parent
};

[[noreturn]] void ContainerInit(InitRequest& req);

// The Landlock plan for the sandbox annotations (none without sworn.unveil);
// what Landlock cannot do on this kernel goes to the parent as warnings.
Result<std::optional<security::LandlockPlan>> PlanSandbox(const security::SandboxSpec* s, const std::string& path,
                                                          const SyncSocket& sync);

struct ExecRequest {
  spec::Process process;
  const SyncSocket* sync = nullptr;
  int pidfd = -1;       // container init, for setns
  int setns_flags = 0;  // namespaces that differ from ours (pid already entered)
  int root_fd = -1;     // the init's root, when its mount namespace is ours (chroot into it)
  int console_fd = -1;
  bool pty_to_parent = false;
  int preserve_fds = 0;
  std::vector<const security::BpfProgram*> filters;
  int dmz_fd = -1;
  bool dmz_by_path = false;
  int repledge_so_fd = -1, pledge_prog_fd = -1, pledge_report_fd = -1;
  std::vector<int> join_fds;                // as in InitRequest
  std::vector<std::string> join_dirs;
  const security::SandboxSpec* sandbox = nullptr;
  const security::PledgeProgram* pledge = nullptr;
};

[[noreturn]] void ExecInit(ExecRequest& req);

}  // namespace sworn::process
