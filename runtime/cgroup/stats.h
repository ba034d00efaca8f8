// Reading a container's cgroup back: stats as runc's `events --stats`
// prints them, OOM-kill counts, freezing.
#pragma once

#include <nlohmann/json.hpp>

#include "cgroup/resources.h"

namespace sworn::cgroup {

nlohmann::json Stats(const CgroupSet& s);
// Cumulative OOM kills in the cgroup (memory.events or memory.oom_control).
uint64_t OomKills(const CgroupSet& s);
// Freezes or thaws every process, and waits until the kernel says so.
Result<void> Freeze(const CgroupSet& s, bool frozen);

}  // namespace sworn::cgroup
