#include "process/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/sys.h"

namespace sworn::process {
namespace {

std::vector<char*> Argv(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

Result<int> WaitWithTimeout(pid_t pid, const std::optional<int>& timeout, const std::string& path) {
  auto pidfd = SWORN_TRY(PidfdOpen(pid));
  pollfd p{pidfd.get(), POLLIN, 0};
  int ms = timeout ? *timeout * 1000 : -1;
  int r;
  do r = poll(&p, 1, ms);
  while (r < 0 && errno == EINTR);
  if (r == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return Fail(MakeError(Errc::kTimeout, "hook " + path + " timed out after " + std::to_string(*timeout) + "s"));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return Fail(SysError("waitpid", path));
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
  auto envp = Argv(env);
  pid_t pid = fork();
  if (pid < 0) return Fail(SysError("fork", hook.path));
  if (pid == 0) {
    dup2(rd.get(), 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(hook.path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  rd.reset();
  // The hook may not read stdin at all; ignore EPIPE.
  signal(SIGPIPE, SIG_IGN);
  (void)!write(wr.get(), state_json.data(), state_json.size());
  wr.reset();
  int status = SWORN_TRY(WaitWithTimeout(pid, hook.timeout, hook.path));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  std::string how = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                      : "was killed by signal " + std::to_string(WTERMSIG(status));
  return Fail(MakeError(Errc::kSystem, "hook " + hook.path + " " + how));
}

Result<void> RunHooks(const std::vector<spec::Hook>& hooks, const char* list, const std::string& state_json) {
  for (size_t i = 0; i < hooks.size(); ++i)
    SWORN_TRY(WithContext(RunHook(hooks[i], state_json), std::string("hooks.") + list + "[" + std::to_string(i) + "]"));
  return {};
}

}  // namespace sworn::process
