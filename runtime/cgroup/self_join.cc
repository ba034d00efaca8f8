#include "cgroup/self_join.h"

#include <fcntl.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "core/sys.h"

namespace sworn::cgroup {

std::vector<int> SelfJoin::raw() const {
  std::vector<int> out;
  for (const auto& f : fds) out.push_back(f.get());
  return out;
}

SelfJoin OpenSelfJoin(const std::vector<std::string>& dirs) {
  SelfJoin out;
  auto hierarchies = Discover();
  if (!hierarchies) return out;
  for (const auto& dir : dirs) {
    bool v1 = false;
    for (const auto& h : *hierarchies)
      if (StartsWith(dir, h.mount + "/")) v1 = !h.v2;
    if (!v1) continue;
    UniqueFd fd(open((dir + "/tasks").c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) continue;
    out.fds.push_back(std::move(fd));
    out.dirs.push_back(dir);
  }
  return out;
}

Result<void> JoinSelf(const std::vector<int>& fds, const std::vector<std::string>& dirs) {
  for (size_t i = 0; i < fds.size(); ++i) {
    if (write(fds[i], "0", 1) != 1) return Fail(SysError("join cgroup: write 0 to", dirs[i] + "/tasks"));
    close(fds[i]);
  }
  return {};
}

}  // namespace sworn::cgroup
