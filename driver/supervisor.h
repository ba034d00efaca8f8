// The per-task supervisor: `sworn run --exit-file --ready-fd` in its own
// session, double-forked so it is not the plugin's child. It holds the
// container's init as its child, hands it Nomad's log FIFOs as stdout and
// stderr, and writes how the task ended to the exit file. The plugin only
// watches it through a pidfd, so a plugin restart loses nothing: the next
// plugin re-adopts it by pid and start time (pid reuse check) or, if it has
// finished meanwhile, reads the exit file.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/error.h"
#include "core/fd.h"

namespace sworn::driver {

struct ExitInfo {
  int exit_code = 0;
  int signal = 0;
  bool oom_killed = false;
  std::string err;  // set when the driver could not learn the real outcome
  int64_t exited_at_ns = 0;  // unix time
};

struct SupervisorSpec {
  std::string sworn, state_root, bundle_dir, container_id, exit_file, log_file;
  int stdout_fd = -1, stderr_fd = -1;
};

struct Supervisor {
  pid_t pid = -1;
  uint64_t start_time = 0;  // /proc/<pid>/stat field 22
  UniqueFd pidfd;           // readable once the supervisor has exited
};

// Starts the supervisor and returns once the task's process has started.
// If sworn fails first, the error carries sworn's own message (from its log).
Result<Supervisor> SpawnSupervisor(const SupervisorSpec& s);
// Re-adopts a supervisor after a plugin restart; kNotFound if it is gone or
// the pid now names another process.
Result<Supervisor> AdoptSupervisor(pid_t pid, uint64_t start_time);
// The exit file sworn wrote; nullopt when it does not exist (yet).
std::optional<ExitInfo> ReadExitFile(const std::string& path);
// Opens a Nomad log FIFO for writing. The reader (logmon) may not be there
// yet: retry without blocking, up to `timeout_ms`. "" and /dev/null give /dev/null.
Result<UniqueFd> OpenLogWriter(const std::string& path, int timeout_ms);

}  // namespace sworn::driver
