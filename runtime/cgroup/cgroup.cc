#include "cgroup/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <thread>

#include "core/sys.h"

namespace sworn::cgroup {
namespace {

// Maps each hierarchy's controller list (or "" for cgroup2) to this
// process's path in it.
std::vector<std::pair<std::string, std::string>> OwnCgroups() {
  std::vector<std::pair<std::string, std::string>> out;
  auto text = ReadFile("/proc/self/cgroup");
  if (!text) return out;
  for (const auto& line : Split(*text, '\n')) {
    auto f = Split(line, ':');
    if (f.size() < 3) continue;
    std::string path = line.substr(f[0].size() + f[1].size() + 2);
    out.emplace_back(f[1], path);
  }
  return out;
}

bool HasController(const std::string& list, std::string_view c) {
  for (const auto& x : Split(list, ','))
    if (x == c) return true;
  return false;
}

// v1 cpuset cgroups start with empty cpus/mems and refuse tasks until both
// are filled; copy them from the parent as runc does.
Result<void> InitCpuset(const std::string& dir) {
  std::string parent = dir.substr(0, dir.rfind('/'));
  for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
    auto cur = ReadFile(dir + "/" + f);
    if (cur && !Trim(*cur).empty()) continue;
    auto val = SWORN_TRY(ReadFile(parent + "/" + f));
    SWORN_TRY(WriteFile(dir + "/" + f, Trim(val), O_WRONLY));
  }
  return {};
}

// cgroup2 hands controllers down only when the parent lists them in
// cgroup.subtree_control; enable every one the parent has, as runc does.
// A parent with processes of its own refuses (no internal processes), and
// then its children simply lack the controller.
void EnableControllers(const std::string& parent) {
  auto avail = ReadFile(parent + "/cgroup.controllers");
  if (!avail) return;
  std::string req;
  for (const auto& c : Split(Trim(*avail), ' '))
    if (!c.empty()) req += (req.empty() ? "+" : " +") + c;
  if (!req.empty()) (void)WriteFile(parent + "/cgroup.subtree_control", req, O_WRONLY);
}

}  // namespace

Result<std::vector<Hierarchy>> Discover() {
  // Mounts do not change under a running command; read them once.
  static std::optional<std::vector<Hierarchy>> cache;
  if (cache) return *cache;
  std::vector<Hierarchy> out;
  auto text = SWORN_TRY(ReadFile("/proc/self/mountinfo"));
  auto own = OwnCgroups();
  for (const auto& line : Split(text, '\n')) {
    size_t sep = line.find(" - ");
    if (sep == std::string::npos) continue;
    auto pre = Split(line.substr(0, sep), ' ');
    auto post = Split(line.substr(sep + 3), ' ');
    if (pre.size() < 5 || post.size() < 3) continue;
    Hierarchy h;
    h.mount = pre[4];
    if (post[0] == "cgroup2") {
      h.v2 = true;
    } else if (post[0] == "cgroup") {
      for (const auto& o : Split(post[2], ','))
        if (o != "rw" && o != "ro" && o != "relatime" && o.find("release_agent") != 0 && o != "clone_children" &&
            o != "noprefix" && o != "xattr")
          h.controllers += (h.controllers.empty() ? "" : ",") + o;
    } else {
      continue;
    }
    bool dup = std::any_of(out.begin(), out.end(), [&](const Hierarchy& o) {
      return o.v2 == h.v2 && o.controllers == h.controllers;
    });
    if (dup) continue;
    for (const auto& [ctrl, path] : own) {
      if (h.v2 ? ctrl.empty() : ctrl == h.controllers) h.own_path = path;
    }
    out.push_back(std::move(h));
  }
  cache = out;
  return out;
}

std::string ResolvePath(const std::string& cgroups_path, const std::string& id, const Hierarchy& h) {
  if (cgroups_path.empty()) return "/sworn/" + id;
  if (cgroups_path[0] == '/') return cgroups_path;
  std::string base = h.own_path == "/" ? "" : h.own_path;
  return base + "/" + cgroups_path;
}

Result<Placement> Placement::Create(const std::string& cgroups_path, const std::string& id) {
  for (const auto& part : Split(cgroups_path, '/'))
    if (part == "..") return Fail(FieldError("linux.cgroupsPath", "must not contain \"..\""));
  Placement p;
  for (const auto& h : SWORN_TRY(Discover())) {
    std::string rel = ResolvePath(cgroups_path, id, h);
    std::string dir = h.mount;
    for (const auto& part : Split(rel, '/')) {
      if (part.empty()) continue;
      if (h.v2) EnableControllers(dir);
      dir += "/" + part;
      if (mkdir(dir.c_str(), 0755) == 0)
        p.created_.push_back(dir);
      else if (errno != EEXIST)
        return Fail(SysError("mkdir", dir));
      if (HasController(h.controllers, "cpuset")) SWORN_TRY(InitCpuset(dir));
    }
    if (h.v2) {
      p.v2_fd_.reset(open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!p.v2_fd_) return Fail(SysError("open", dir));
    }
    p.dirs_.push_back(dir);
  }
  if (p.dirs_.empty()) return Fail(MakeError(Errc::kUnsupported, "no cgroup hierarchy is mounted"));
  return p;
}

Placement::~Placement() {
  if (committed_) return;
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) rmdir(it->c_str());
}

Result<void> Placement::Attach(pid_t pid, bool skip_v2) const {
  std::string p = std::to_string(pid);
  for (const auto& dir : dirs_) {
    if (skip_v2 && v2_fd_ && access((dir + "/cgroup.controllers").c_str(), F_OK) == 0) continue;
    SWORN_TRY(WriteFile(dir + "/cgroup.procs", p, O_WRONLY));
  }
  return {};
}

std::vector<pid_t> Pids(const std::vector<std::string>& dirs) {
  std::vector<pid_t> out;
  for (const auto& dir : dirs) {
    auto text = ReadFile(dir + "/cgroup.procs");
    if (!text) continue;
    for (const auto& l : Split(*text, '\n'))
      if (!l.empty()) out.push_back(std::stoi(l));
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
  if (!WriteFile(dir + "/cgroup.kill", "1", O_WRONLY))
    for (pid_t pid : Pids({dir})) kill(pid, SIGKILL);
  (void)WriteFile(dir + "/freezer.state", "THAWED", O_WRONLY);
  (void)WriteFile(dir + "/cgroup.freeze", "0", O_WRONLY);
  return true;
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

Result<void> Destroy(const std::vector<std::string>& dirs) {
  // Processes can fork while we kill; repeat until the cgroup is empty. The
  // rmdir also waits out exiting tasks, which the kernel still counts.
  for (int attempt = 0; attempt < 500; ++attempt) {
    bool left = false;
    for (const auto& dir : dirs) {
      if (!KillAndThaw(dir)) continue;
      if (rmdir(dir.c_str()) < 0 && errno != ENOENT) {
        if (errno != EBUSY) return Fail(SysError("rmdir", dir));
        left = true;
      }
    }
    if (!left) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(attempt < 50 ? 1 : 10));
  }
  return Fail(MakeError(Errc::kTimeout, "cgroup " + dirs.front() + " did not empty after SIGKILL"));
}

}  // namespace sworn::cgroup
