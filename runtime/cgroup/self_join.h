// cgroup v1 placement by the process itself.
//
// A write of a pid to cgroup.procs takes cgroup_threadgroup_rwsem for
// writing; when no migration ran within the last RCU grace period, that
// waits for a new one (6-14 ms on this 2-vCPU VM, HZ 250), and every
// runtime pays it at create on cgroup v1. A write of "0" to `tasks` moves
// the writer's own thread and skips that lock (the kernel's
// cgroup_procs_write_start: a single thread that is current cannot exit or
// exec under it). The init and exec'd processes are single-threaded, so
// they join their v1 hierarchies so, through fds the runtime opened (the
// kernel checks the opener's credentials). cgroup2 has no `tasks` file for
// domain cgroups: it is joined by CLONE_INTO_CGROUP or by the runtime.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "core/fd.h"

namespace sworn::cgroup {

struct SelfJoin {
  std::vector<UniqueFd> fds;       // <dir>/tasks, write-only
  std::vector<std::string> dirs;   // the directories they join, as given
  std::vector<int> raw() const;
};

// The v1 directories among dirs whose `tasks` opens; the others are left to
// the runtime's cgroup.procs write.
SelfJoin OpenSelfJoin(const std::vector<std::string>& dirs);
// In the child, before anything else: joins each; returns the failing dir.
Result<void> JoinSelf(const std::vector<int>& fds, const std::vector<std::string>& dirs);

}  // namespace sworn::cgroup
