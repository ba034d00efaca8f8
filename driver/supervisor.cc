#include "driver/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json_input.h"
#include "core/sys.h"
#include "state/state.h"

namespace sworn::driver {
namespace {

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
    auto parsed = ParseJsonInput(line, log_file);
    auto j = parsed ? std::move(*parsed) : nlohmann::json();
    if (j.is_object() && j.value("level", "") == "error") last = j.value("msg", line);
  }
  return last;
}

// The supervisor is started without fork(): a fork of the plugin (a large,
// multi-threaded gRPC process) copies its page tables, twice for a double
// fork, and cost ~10 ms per task. Instead two vfork-style clones share the
// plugin's memory until execve, as posix_spawn does: the calling thread
// waits (CLONE_VFORK) while the intermediate child starts the supervisor and
// leaves, so the supervisor is reparented away from the plugin. The
// intermediate also shares the fd table (CLONE_FILES) and opens the
// supervisor's pidfd while it is still its unreaped child: no pid race.
// Both children run on their own stacks and make only async-signal-safe
// calls; the parent's signals stay blocked until execve.
struct SpawnShared {
  const SupervisorSpec* spec;
  char* const* argv;
  int ready_w;
  char* grandchild_stack;
  pid_t pid = -1;  // written by the intermediate child
  int pidfd = -1;  // in the shared fd table
};

int SupervisorMain(void* arg) {
  auto* a = static_cast<SpawnShared*>(arg);
  const SupervisorSpec& s = *a->spec;
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || dup2(null, 0) < 0 || dup2(s.stdout_fd, 1) < 0 || dup2(s.stderr_fd, 2) < 0 ||
      dup2(a->ready_w, 3) < 0)
    _exit(126);
  if (a->ready_w == 3) fcntl(3, F_SETFD, 0);  // dup2 onto itself keeps O_CLOEXEC
  syscall(SYS_close_range, 4, ~0U, 0);
  // The plugin ignores these; ignored dispositions survive execve.
  signal(SIGPIPE, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execv(a->argv[0], a->argv);
  _exit(127);
}

int IntermediateMain(void* arg) {
  auto* a = static_cast<SpawnShared*>(arg);
  if (setsid() < 0) _exit(126);
  pid_t pid = clone(SupervisorMain, a->grandchild_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, a);
  if (pid < 0) _exit(126);
  a->pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  a->pid = pid;
  _exit(0);
}

}  // namespace

Result<Supervisor> SpawnSupervisor(const SupervisorSpec& s) {
  std::vector<std::string> args = {s.sworn, "--root", s.state_root, "--log", s.log_file, "--log-format", "json",
                                   "run", "--bundle", s.bundle_dir, "--exit-file", s.exit_file,
                                   "--ready-fd", "3", s.container_id};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) < 0) return Fail(SysError("pipe2"));
  UniqueFd ready_r(ready[0]), ready_w(ready[1]);
  unlink(s.exit_file.c_str());
  unlink(s.log_file.c_str());
  constexpr size_t kStack = 256 * 1024;
  void* stacks = mmap(nullptr, 2 * kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stacks == MAP_FAILED) return Fail(SysError("mmap", "supervisor stacks"));
  SpawnShared shared{&s, argv.data(), ready_w.get(), static_cast<char*>(stacks) + 2 * kStack};
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t mid = clone(IntermediateMain, static_cast<char*>(stacks) + kStack,
                    CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, &shared);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  int status = 0;
  while (mid > 0 && waitpid(mid, &status, __WALL) < 0 && errno == EINTR) {
  }
  munmap(stacks, 2 * kStack);
  ready_w.reset();
  if (mid < 0) return Fail(SysError(clone_errno, "clone", s.sworn));
  if (shared.pid <= 0 || shared.pidfd < 0)
    return Fail(MakeError(Errc::kSystem, "starting the supervisor (" + s.sworn + ") failed"));
  Supervisor sup{shared.pid, state::ProcessStartTime(shared.pid), UniqueFd(shared.pidfd)};
  ssize_t n;
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
  // Without a recorded start time a pid proves nothing (it may be reused).
  if (pid <= 0 || start_time == 0) return Fail(MakeError(Errc::kNotFound, "no supervisor pid and start time"));
  auto fd = PidfdOpen(pid);
  // Checked after opening the pidfd: if the start time still matches, the
  // pidfd names our supervisor and cannot be reused from now on.
  if (!fd || !state::ProcessAlive(pid, start_time))
    return Fail(MakeError(Errc::kNotFound, "supervisor " + std::to_string(pid) + " is gone"));
  return Supervisor{pid, start_time, std::move(*fd)};
}

std::optional<ExitInfo> ReadExitFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) return std::nullopt;
  auto parsed = ParseJsonInput(*text, path);
  auto j = parsed ? std::move(*parsed) : nlohmann::json();
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
