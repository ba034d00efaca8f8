#include "core/rootless.h"

#include <unistd.h>

#include <cstdlib>

#include "core/sys.h"

namespace sworn {
namespace {

std::optional<bool> g_override;

}  // namespace

bool RunningInUserNs() {
  static const bool in_userns = [] {
    auto map = ReadFile("/proc/self/uid_map");
    // No /proc: assume the initial namespace, as moby/sys/userns does.
    if (!map) return false;
    auto f = Split(std::string(Trim(*map)), ' ');
    std::vector<std::string> nums;
    for (auto& x : f)
      if (!x.empty()) nums.push_back(x);
    return !(nums.size() == 3 && nums[0] == "0" && nums[1] == "0" && nums[2] == "4294967295");
  }();
  return in_userns;
}

void SetRootlessOverride(std::optional<bool> v) { g_override = v; }

bool RootlessCgroups() {
  if (g_override) return *g_override;
  return geteuid() != 0 || RunningInUserNs();
}

std::string DefaultStateRoot() {
  const char* xdg = getenv("XDG_RUNTIME_DIR");
  if (!xdg || !*xdg) return "/run/sworn";
  bool honor = geteuid() != 0;
  if (!honor && RunningInUserNs()) {
    const char* user = getenv("USER");
    honor = !user || std::string(user) != "root";
  }
  return honor ? std::string(xdg) + "/sworn" : "/run/sworn";
}

}  // namespace sworn
