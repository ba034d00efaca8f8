// Shared tail of ContainerInit and ExecInit: console, credentials, exec.
#pragma once

#include "core/error.h"
#include "process/sync.h"
#include "security/bpf.h"
#include "security/landlock.h"
#include "security/sandbox.h"
#include "spec/spec.h"

namespace sworn::process {

// Opens the pty and hands the master out (console socket or parent).
Result<void> SetupTerminal(const spec::Process& p, int console_fd, bool to_parent, const SyncSocket& sync,
                           bool mount_console);
// Closes every fd past the preserved ones, switches user and capabilities,
// sets no_new_privs, loads the seccomp programs (in order; they stack) and
// execs `path`. Returns only on failure.
struct ExecPlan {
  std::string path;  // the resolved program
  int preserve_fds = 0;
  std::vector<const security::BpfProgram*> filters;  // linux.seccomp
  int dmz_fd = -1;                                   // exec through the sealed trampoline
  const security::LandlockPlan* landlock = nullptr;  // sworn.unveil
  const security::PledgeProgram* pledge = nullptr;   // sworn.pledge.promises
  int repledge_so_fd = -1;                           // the preload holding pledge->after_startup
  int pledge_prog_fd = -1;                           // pledge->prog, for sworn-dmz to load
  bool dmz_by_path = false;                          // execve("/proc/self/fd/N"), not execveat
  int pledge_report_fd = -1;                         // socket to the pledge reporter (sworn-dmz sends the listener)
};
// The signals ignored by this process, read once from /proc/self/status.
// Called before clone so that the child inherits the answer: after
// pivot_root /proc is the container's.
uint64_t IgnoredSignals();
// Returns only on failure.
Error ExecProcess(const spec::Process& p, std::vector<std::string> env, const ExecPlan& plan);
// Loads a filter early (SCMP_ACT_NOTIFY needs the parent to forward the
// listener fd) and sends the listener over the sync socket.
Result<void> LoadNotifyFilter(const security::BpfProgram& p, const SyncSocket& sync);
// Reports err to the parent if it still listens, else to stderr; then _exit.
[[noreturn]] void ChildFail(const SyncSocket* sync, const Error& err);

}  // namespace sworn::process
