// Commands run inside a task: `sworn exec` spawned by the plugin, with pipes
// for stdio, or with a pty whose master sworn hands back over a console
// socket (so the plugin can resize it). Each runs in a session cgroup
// (exec_cgroup.h): ending the session kills its whole process tree.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fd.h"
#include "driver/exec_cgroup.h"
#include "driver/tasks.h"

namespace sworn::driver {

class ExecProcess {
 public:
  ExecProcess() = default;
  ExecProcess(const ExecProcess&) = delete;
  ExecProcess& operator=(const ExecProcess&) = delete;
  ~ExecProcess() { Reap(); }

  // Sends sig to every process of the session. Thread-safe.
  void Signal(int sig);
  // SIGKILL to the session's whole tree (sworn exec then exits). Thread-safe.
  void Kill();
  // Exit code as a shell reports it (128+N for a signal). Blocks until
  // sworn exec exits (it waits for the command).
  int Wait();
  // Once the command has ended: removes the session cgroup if nothing is
  // left in it (a task that exits cannot remove its cgroup while the
  // session's is inside). Thread-safe.
  void ReleaseCgroupIfEmpty();
  // Kills whatever is left of the session (daemonized children too),
  // reaps sworn exec (killing it if it hangs) and removes the session
  // cgroup. Returns sworn exec's exit code.
  int Reap();

  pid_t pid = -1;  // sworn exec
  UniqueFd pidfd;
  UniqueFd in, out, err;  // pipes; with a tty only `master` is used
  UniqueFd master;
  SessionCgroup cg;

 private:
  std::mutex mu_;  // Kill from another thread against Reap
  int code_ = -1;
};

Result<std::unique_ptr<ExecProcess>> SpawnExec(const TaskRecord& r, const std::vector<std::string>& command, bool tty);

struct ExecOutput {
  std::string out, err;
  int exit_code = 0;
  int signal = 0;
  bool timed_out = false;
};
// Runs to completion. A positive timeout sends SIGTERM to the session at the
// deadline and SIGKILL to its whole tree after a short grace; the output
// captured so far (up to 1 MiB a stream) is returned. It is registered in
// `sessions` so that it can be ended early.
Result<ExecOutput> RunExec(const TaskRecord& r, const std::vector<std::string>& command, int64_t timeout_ms,
                           SessionRegistry& sessions);

}  // namespace sworn::driver
