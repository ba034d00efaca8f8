// Reading a container's cgroup back: stats as runc's `events --stats`
// prints them, OOM-kill counts, freezing.
#pragma once

#include <nlohmann/json.hpp>

#include "cgroup/resources.h"
#include "core/fd.h"

namespace sworn::cgroup {

nlohmann::json Stats(const CgroupSet& s);
// Cumulative OOM kills in the cgroup (memory.events or memory.oom_control).
uint64_t OomKills(const CgroupSet& s);
// An fd that turns readable when the cgroup meets an OOM: an eventfd tied
// to memory.oom_control on v1, inotify on memory.events on v2. The event
// arrives even if the cgroup is removed right after (as `run` does).
Result<UniqueFd> OomNotifier(const CgroupSet& s);

// Freezes or thaws every process, and waits until the kernel says so.
Result<void> Freeze(const CgroupSet& s, bool frozen);

}  // namespace sworn::cgroup
