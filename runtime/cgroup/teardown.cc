#include "cgroup/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "core/sys.h"

// Finding, signalling and removing what is in a container's cgroups.
namespace sworn::cgroup {

bool Contains(const std::vector<std::string>& dirs, pid_t pid) {
  if (dirs.empty()) return true;
  auto text = ReadFile("/proc/" + std::to_string(pid) + "/cgroup");
  auto hierarchies = Discover();
  if (!text || !hierarchies) return false;
  for (const auto& line : Split(*text, '\n')) {
    auto f = Split(line, ':');
    if (f.size() < 3) continue;
    std::string path = line.substr(f[0].size() + f[1].size() + 2);
    for (const auto& h : *hierarchies) {
      if (h.v2 ? !f[1].empty() : f[1] != h.controllers) continue;
      std::string full = h.mount + (path == "/" ? "" : path);
      for (const auto& d : dirs)
        if (full == d || StartsWith(full, d + "/")) return true;
    }
  }
  return false;
}

std::vector<pid_t> Pids(const std::vector<std::string>& dirs) {
  std::vector<pid_t> out;
  for (const auto& dir : dirs) {
    if (access(dir.c_str(), F_OK) < 0) continue;
    for (const auto& d : Tree(dir)) {
      auto text = ReadFile(d + "/cgroup.procs");
      if (!text) continue;
      for (const auto& l : Split(*text, '\n'))
        if (!l.empty()) out.push_back(std::stoi(l));
    }
    break;
  }
  return out;
}

Result<void> SignalAll(const std::vector<std::string>& dirs, int sig) {
  for (pid_t pid : Pids(dirs))
    if (kill(pid, sig) < 0 && errno != ESRCH) return Fail(SysError("kill", std::to_string(pid)));
  return {};
}

namespace {

// SIGKILL to everything in one cgroup dir (cgroup.kill where there is one),
// then thaw: frozen tasks take a SIGKILL only once thawed (paused
// containers). False if the directory is gone.
bool KillAndThaw(const std::string& dir) {
  if (access(dir.c_str(), F_OK) < 0) return false;
  // cgroup.kill takes the whole subtree; v1 has no such file.
  if (!WriteFile(dir + "/cgroup.kill", "1", O_WRONLY))
    for (pid_t pid : Pids({dir})) kill(pid, SIGKILL);
  for (const auto& d : Tree(dir)) {
    (void)WriteFile(d + "/freezer.state", "THAWED", O_WRONLY);
    (void)WriteFile(d + "/cgroup.freeze", "0", O_WRONLY);
  }
  return true;
}

// rmdir of dir's subtree, children first; false while any is busy.
Result<bool> RemoveTree(const std::string& dir) {
  auto tree = Tree(dir);
  bool done = true;
  for (auto it = tree.rbegin(); it != tree.rend(); ++it) {
    if (rmdir(it->c_str()) == 0 || errno == ENOENT) continue;
    if (errno != EBUSY) return Fail(SysError("rmdir", *it));
    done = false;
  }
  return done;
}

}  // namespace

Result<void> KillAll(const std::vector<std::string>& dirs) {
  // A killed task cannot fork any more, so repeating until the cgroup is
  // empty catches every child forked meanwhile; no freeze needed (a v1
  // freezer can take seconds to settle).
  for (int attempt = 0; attempt < 300; ++attempt) {
    auto pids = Pids(dirs);
    if (pids.empty()) return {};
    for (const auto& dir : dirs) KillAndThaw(dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(attempt < 50 ? 1 : 10));
  }
  return Fail(MakeError(Errc::kTimeout, "cgroup " + dirs.front() + " did not empty after SIGKILL"));
}

Result<void> Destroy(const std::vector<std::string>& dirs, const std::vector<std::string>& keep) {
  auto kept = [&](const std::string& d) { return std::find(keep.begin(), keep.end(), d) != keep.end(); };
  // Usually (the init exited and took its pid namespace along) every dir is
  // empty already: the kernel refuses to rmdir a cgroup with tasks or
  // children (EBUSY), so one rmdir each tells, and only the busy ones are
  // killed, walked and retried.
  std::vector<std::string> busy;
  for (const auto& dir : dirs)
    if (kept(dir) || (rmdir(dir.c_str()) < 0 && errno != ENOENT)) busy.push_back(dir);
  // Processes can fork while we kill; repeat until the cgroup is empty. The
  // rmdir also waits out exiting tasks, which the kernel still counts.
  for (int attempt = 0; !busy.empty() && attempt < 500; ++attempt) {
    bool left = false;
    for (const auto& dir : busy) {
      if (!KillAndThaw(dir)) continue;
      if (kept(dir)) {
        left = left || !Pids({dir}).empty();
        continue;
      }
      if (!SWORN_TRY(RemoveTree(dir))) left = true;
    }
    if (!left) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(attempt < 50 ? 1 : 10));
  }
  if (busy.empty()) return {};
  return Fail(MakeError(Errc::kTimeout, "cgroup " + busy.front() + " did not empty after SIGKILL"));
}

}  // namespace sworn::cgroup
