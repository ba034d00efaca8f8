// Every exec session runs in a cgroup of its own, so that its whole process
// tree (daemonized children, children that ignore signals) can be found and
// killed when the session ends: a child of the task's v1 freezer cgroup
// (hybrid and v1 hosts) or of its unified cgroup (v2). `sworn exec --cgroup`
// puts the command there before it runs; on v1 only the freezer hierarchy
// gets the sub-cgroup, so the task's limits still bind the session.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace sworn::driver {

class SessionCgroup {
 public:
  // Creates the session cgroup under the task's (task_dirs: the
  // container's cgroup dirs). `tag` makes the name unique within the task.
  static Result<SessionCgroup> Create(const std::vector<std::string>& task_dirs, const std::string& tag);
  SessionCgroup() = default;
  SessionCgroup(SessionCgroup&& o) noexcept { *this = std::move(o); }
  SessionCgroup& operator=(SessionCgroup&& o) noexcept;
  ~SessionCgroup() { (void)Destroy(); }

  // The value for `sworn exec --cgroup`.
  std::string Flag() const;
  // Sends sig to every process of the session.
  void Signal(int sig) const;
  // SIGKILL until empty, then removes the cgroup. Idempotent.
  Result<void> Destroy();
  // Removes the cgroup now if no process is left in it.
  void RemoveIfEmpty();

 private:
  std::vector<pid_t> Pids() const;
  std::string dir_;       // the session cgroup
  std::string task_dir_;  // the task's cgroup in the same hierarchy
  std::string name_;      // dir_ relative to task_dir_
  bool v2_ = false;
};

// Kills and removes session cgroups a previous plugin instance left for
// this task (its sessions' clients are gone).
void RemoveStaleSessions(const std::vector<std::string>& task_dirs);

}  // namespace sworn::driver
