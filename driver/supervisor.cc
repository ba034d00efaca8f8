#include "driver/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/sys.h"

namespace sworn::driver {
namespace {

UniqueFd PidfdOpen(pid_t pid) { return UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0))); }

// The last error sworn logged (its --log file holds one JSON object per line).
std::string LastLoggedError(const std::string& log_file) {
  auto text = ReadFile(log_file);
  if (!text) return "";
  std::string last;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t nl = text->find('\n', pos);
    std::string line = text->substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text->size() : nl + 1;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("level", "") == "error") last = j.value("msg", line);
  }
  return last;
}

// Runs in the forked children of a multi-threaded process: only
// async-signal-safe calls until execve.
[[noreturn]] void ExecSupervisor(const SupervisorSpec& s, char* const* argv, int ready_w, int pid_w) {
  if (setsid() < 0) _exit(126);
  pid_t pid = fork();
  if (pid != 0) {
    // The intermediate child: report the grandchild's pid and leave, so the
    // supervisor is reparented away from the plugin.
    (void)!write(pid_w, &pid, sizeof(pid));
    _exit(pid < 0 ? 126 : 0);
  }
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || dup2(null, 0) < 0 || dup2(s.stdout_fd, 1) < 0 || dup2(s.stderr_fd, 2) < 0 || dup2(ready_w, 3) < 0)
    _exit(126);
  if (ready_w == 3) fcntl(3, F_SETFD, 0);  // dup2 onto itself keeps O_CLOEXEC
  syscall(SYS_close_range, 4, ~0U, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  execv(argv[0], argv);
  _exit(127);
}

}  // namespace

uint64_t ProcStartTime(pid_t pid) {
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return 0;
  // comm (field 2) may hold spaces and parentheses: count from the last ')'.
  size_t p = stat->rfind(')');
  if (p == std::string::npos) return 0;
  int field = 2;
  for (size_t i = p + 1; i < stat->size(); ++i) {
    if ((*stat)[i] != ' ') continue;
    if (++field == 22) return std::strtoull(stat->c_str() + i + 1, nullptr, 10);
  }
  return 0;
}

Result<Supervisor> SpawnSupervisor(const SupervisorSpec& s) {
  std::vector<std::string> args = {s.sworn, "--root", s.state_root, "--log", s.log_file, "--log-format", "json",
                                   "run", "--bundle", s.bundle_dir, "--exit-file", s.exit_file,
                                   "--ready-fd", "3", s.container_id};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int ready[2], pidp[2];
  if (pipe2(ready, O_CLOEXEC) < 0) return Fail(SysError("pipe2"));
  UniqueFd ready_r(ready[0]), ready_w(ready[1]);
  if (pipe2(pidp, O_CLOEXEC) < 0) return Fail(SysError("pipe2"));
  UniqueFd pid_r(pidp[0]), pid_w(pidp[1]);
  unlink(s.exit_file.c_str());
  unlink(s.log_file.c_str());
  pid_t mid = fork();
  if (mid < 0) return Fail(SysError("fork", s.sworn));
  if (mid == 0) ExecSupervisor(s, argv.data(), ready_w.get(), pid_w.get());
  ready_w.reset();
  pid_w.reset();
  pid_t pid = -1;
  ssize_t n = read(pid_r.get(), &pid, sizeof(pid));
  int status = 0;
  while (waitpid(mid, &status, 0) < 0 && errno == EINTR) {
  }
  if (n != sizeof(pid) || pid <= 0) return Fail(MakeError(Errc::kSystem, "starting the supervisor (" + s.sworn + ") failed"));
  Supervisor sup{pid, ProcStartTime(pid), PidfdOpen(pid)};
  // One byte: started. EOF: sworn exited before starting the process.
  char byte = 0;
  while ((n = read(ready_r.get(), &byte, 1)) < 0 && errno == EINTR) {
  }
  if (n == 1) return sup;
  if (sup.pidfd) poll(std::array<pollfd, 1>{{{sup.pidfd.get(), POLLIN, 0}}}.data(), 1, 5000);
  std::string why = LastLoggedError(s.log_file);
  return Fail(MakeError(Errc::kInvalidArgument, why.empty() ? "sworn run failed; see " + s.log_file : why));
}

Result<Supervisor> AdoptSupervisor(pid_t pid, uint64_t start_time) {
  if (pid <= 0) return Fail(MakeError(Errc::kNotFound, "no supervisor pid"));
  UniqueFd fd = PidfdOpen(pid);
  // Checked after opening the pidfd: if the start time still matches, the
  // pidfd names our supervisor and cannot be reused from now on.
  if (!fd || ProcStartTime(pid) != start_time)
    return Fail(MakeError(Errc::kNotFound, "supervisor " + std::to_string(pid) + " is gone"));
  return Supervisor{pid, start_time, std::move(fd)};
}

std::optional<ExitInfo> ReadExitFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  try {
    if (j.is_object())
      return ExitInfo{.exit_code = j.value("exit_code", 255),
                      .signal = j.value("signal", 0),
                      .oom_killed = j.value("oom_killed", false),
                      .exited_at_ns = j.value("exited_at_ns", j.value("exited_at", int64_t{0}) * 1000000000)};
  } catch (const nlohmann::json::exception&) {
  }
  return ExitInfo{.exit_code = 255, .err = "unreadable exit file " + path};
}

Result<UniqueFd> OpenLogWriter(const std::string& path, int timeout_ms) {
  const std::string p = path.empty() ? "/dev/null" : path;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    UniqueFd fd(open(p.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (fd) {
      int fl = fcntl(fd.get(), F_GETFL);
      fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK);
      return fd;
    }
    // ENXIO: a FIFO with no reader yet.
    if (errno != ENXIO || std::chrono::steady_clock::now() > deadline) return Fail(SysError("open", p));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace sworn::driver
