#include "process/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "core/log.h"
#include "core/sys.h"

namespace sworn::process {
namespace {

std::vector<char*> Argv(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Feeds the state to the hook's stdin and waits for it in one poll loop, so
// the timeout holds even when the hook never reads a state larger than the
// pipe. On timeout the hook's whole process group is killed.
Result<int> FeedAndWait(pid_t pid, int stdin_fd, std::string_view data, const spec::Hook& hook) {
  auto pidfd = SWORN_TRY(PidfdOpen(pid));
  using Clock = std::chrono::steady_clock;
  auto deadline = hook.timeout ? Clock::now() + std::chrono::seconds(*hook.timeout) : Clock::time_point::max();
  UniqueFd in(stdin_fd);
  for (;;) {
    pollfd p[2] = {{pidfd.get(), POLLIN, 0}, {in ? in.get() : -1, POLLOUT, 0}};
    int ms = -1;
    if (hook.timeout)
      ms = static_cast<int>(std::max<int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
    int r = poll(p, 2, ms);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return Fail(MakeError(Errc::kTimeout, "hook " + hook.path + " timed out after " + std::to_string(*hook.timeout) + "s"));
    }
    if (p[0].revents & POLLIN) break;
    if (p[1].revents & (POLLOUT | POLLERR | POLLHUP)) {
      ssize_t n = write(in.get(), data.data(), data.size());
      if (n > 0) data.remove_prefix(static_cast<size_t>(n));
      if (n < 0 && errno != EAGAIN && errno != EINTR) data = {};  // EPIPE: the hook does not read stdin
      if (data.empty()) in.reset();
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return Fail(SysError("waitpid", hook.path));
  return status;
}

}  // namespace

Result<void> RunHook(const spec::Hook& hook, const std::string& state_json) {
  int in[2];
  if (pipe2(in, O_CLOEXEC) < 0) return Fail(SysError("pipe2"));
  UniqueFd rd(in[0]), wr(in[1]);
  std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  std::vector<std::string> env = hook.env;
  auto argv = Argv(args);
  auto own = Argv(env);
  char** envp = hook.env_set ? own.data() : environ;
  pid_t pid = fork();
  if (pid < 0) return Fail(SysError("fork", hook.path));
  if (pid == 0) {
    setpgid(0, 0);  // its own group, so a timeout kills what it started too
    dup2(rd.get(), 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    execve(hook.path.c_str(), argv.data(), envp);
    _exit(127);
  }
  rd.reset();
  fcntl(wr.get(), F_SETFL, O_NONBLOCK);
  // A hook that exits without reading its stdin must not kill us.
  signal(SIGPIPE, SIG_IGN);
  int status = SWORN_TRY(FeedAndWait(pid, wr.release(), state_json, hook));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  std::string how = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                      : "was killed by signal " + std::to_string(WTERMSIG(status));
  return Fail(MakeError(Errc::kSystem, "hook " + hook.path + " " + how));
}

void RunHooksWarn(const std::vector<spec::Hook>& hooks, const char* list, const std::string& state_json) {
  for (size_t i = 0; i < hooks.size(); ++i)
    if (auto r = RunHook(hooks[i], state_json); !r)
      log::Warn(std::string("hooks.") + list + "[" + std::to_string(i) + "]: " + r.error().Message());
}

Result<void> RunHooks(const std::vector<spec::Hook>& hooks, const char* list, const std::string& state_json) {
  for (size_t i = 0; i < hooks.size(); ++i)
    SWORN_TRY(WithContext(RunHook(hooks[i], state_json), std::string("hooks.") + list + "[" + std::to_string(i) + "]"));
  return {};
}

}  // namespace sworn::process
