// Commands run inside a task: `sworn exec` spawned by the plugin, with pipes
// for stdio, or with a pty whose master sworn hands back over a console
// socket (so the plugin can resize it).
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/fd.h"
#include "driver/tasks.h"

namespace sworn::driver {

struct ExecProcess {
  pid_t pid = -1;
  UniqueFd pidfd;
  UniqueFd in, out, err;  // pipes; with a tty only `master` is used
  UniqueFd master;
  ExecProcess() = default;
  ExecProcess(ExecProcess&& o) noexcept
      : pid(std::exchange(o.pid, -1)), pidfd(std::move(o.pidfd)), in(std::move(o.in)), out(std::move(o.out)),
        err(std::move(o.err)), master(std::move(o.master)) {}
  ExecProcess& operator=(ExecProcess&& o) noexcept {
    if (this == &o) return *this;
    Reap();
    pid = std::exchange(o.pid, -1);
    pidfd = std::move(o.pidfd), in = std::move(o.in), out = std::move(o.out), err = std::move(o.err);
    master = std::move(o.master);
    return *this;
  }
  ~ExecProcess() { Reap(); }
  // Kills and reaps a process still running.
  void Reap();
  // Exit code as a shell reports it (128+N for a signal). Blocks.
  int Wait();
};

Result<ExecProcess> SpawnExec(const TaskRecord& r, const std::vector<std::string>& command, bool tty);

struct ExecOutput {
  std::string out, err;
  int exit_code = 0;
};
// Runs to completion; a positive timeout kills the command when it expires.
Result<ExecOutput> RunExec(const TaskRecord& r, const std::vector<std::string>& command, int64_t timeout_ms);

}  // namespace sworn::driver
