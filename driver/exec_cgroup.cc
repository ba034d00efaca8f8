#include "driver/exec_cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>

#include "core/sys.h"

namespace sworn::driver {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kPrefix = "sworn-exec-";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    if (nl > pos) out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

bool IsV1Freezer(const std::string& dir) { return access((dir + "/freezer.state").c_str(), F_OK) == 0; }
bool IsV2(const std::string& dir) { return access((dir + "/cgroup.kill").c_str(), F_OK) == 0; }

// The task's dir in the hierarchy we use: a v1 freezer if there is one
// (hybrid and v1 hosts), else the unified one.
std::optional<std::pair<std::string, bool>> PickTaskDir(const std::vector<std::string>& dirs) {
  for (const auto& d : dirs)
    if (IsV1Freezer(d)) return std::pair{d, false};
  for (const auto& d : dirs)
    if (IsV2(d)) return std::pair{d, true};
  return std::nullopt;
}

// Kills everything in dir until it is empty, then removes it.
Result<void> KillAndRemove(const std::string& dir, bool v2) {
  for (int attempt = 0; attempt < 400; ++attempt) {
    if (v2) (void)WriteFile(dir + "/cgroup.kill", "1", O_WRONLY);
    auto text = ReadFile(dir + "/cgroup.procs");
    if (!text) return {};  // gone already
    auto pids = Lines(*text);
    for (const auto& p : pids) kill(std::atoi(p.c_str()), SIGKILL);
    if (pids.empty() && (rmdir(dir.c_str()) == 0 || errno == ENOENT)) return {};
    if (pids.empty() && errno != EBUSY) return Fail(SysError("rmdir", dir));
    std::this_thread::sleep_for(attempt < 50 ? 1ms : 5ms);
  }
  return Fail(MakeError(Errc::kTimeout, "exec session cgroup " + dir + " did not empty after SIGKILL"));
}

}  // namespace

SessionCgroup& SessionCgroup::operator=(SessionCgroup&& o) noexcept {
  if (this == &o) return *this;
  (void)Destroy();
  dir_ = std::exchange(o.dir_, "");
  task_dir_ = std::move(o.task_dir_), name_ = std::move(o.name_);
  v2_ = o.v2_;
  return *this;
}

Result<SessionCgroup> SessionCgroup::Create(const std::vector<std::string>& task_dirs, const std::string& tag) {
  auto pick = PickTaskDir(task_dirs);
  if (!pick) return Fail(MakeError(Errc::kUnsupported, "the task has neither a v1 freezer nor a v2 cgroup for exec"));
  SessionCgroup c;
  c.task_dir_ = pick->first;
  c.v2_ = pick->second;
  c.name_ = kPrefix + tag;
  std::string dir = c.task_dir_ + "/" + c.name_;
  if (mkdir(dir.c_str(), 0755) < 0) return Fail(SysError("mkdir", dir));
  c.dir_ = dir;
  return c;
}

std::string SessionCgroup::Flag() const { return v2_ ? name_ : "freezer:" + name_; }

std::vector<pid_t> SessionCgroup::Pids() const {
  std::vector<pid_t> out;
  if (dir_.empty()) return out;
  auto text = ReadFile(dir_ + "/cgroup.procs");
  if (!text) return out;
  for (const auto& p : Lines(*text)) out.push_back(std::atoi(p.c_str()));
  return out;
}

void SessionCgroup::Signal(int sig) const {
  for (pid_t p : Pids()) kill(p, sig);
}

Result<void> SessionCgroup::Destroy() {
  if (dir_.empty()) return {};
  auto r = KillAndRemove(dir_, v2_);
  if (r) dir_.clear();
  return r;
}

void SessionCgroup::RemoveIfEmpty() {
  if (!dir_.empty() && Pids().empty() && (rmdir(dir_.c_str()) == 0 || errno == ENOENT)) dir_.clear();
}

void RemoveStaleSessions(const std::vector<std::string>& task_dirs) {
  auto pick = PickTaskDir(task_dirs);
  if (!pick) return;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(pick->first, ec))
    if (e.is_directory(ec) && e.path().filename().string().starts_with(kPrefix)) (void)KillAndRemove(e.path(), pick->second);
}

}  // namespace sworn::driver
