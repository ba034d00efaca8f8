#include "driver/exec_session.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/unix_socket.h"

extern char** environ;

namespace sworn::driver {
namespace {

struct Pipe {
  UniqueFd r, w;
};
Result<Pipe> MakePipe() {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return Fail(SysError("pipe2"));
  return Pipe{UniqueFd(p[0]), UniqueFd(p[1])};
}

// A listening socket for sworn's --console-socket, in a private temp dir.
struct ConsoleSocket {
  std::string dir, path;
  UniqueFd fd;
  ~ConsoleSocket() {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
};
Result<void> Listen(ConsoleSocket& s) {
  char tmpl[] = "/tmp/sworn-exec-XXXXXX";
  if (!mkdtemp(tmpl)) return Fail(SysError("mkdtemp", tmpl));
  s.dir = tmpl;
  s.path = s.dir + "/console.sock";
  s.fd = UniqueFd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, s.path.c_str(), sizeof(a.sun_path) - 1);
  if (!s.fd || bind(s.fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0 || listen(s.fd.get(), 1) < 0)
    return Fail(SysError("bind", s.path));
  return {};
}

// Accepts sworn's connection and takes the pty master it sends.
Result<UniqueFd> ReceiveMaster(ConsoleSocket& s, int pidfd) {
  pollfd fds[2] = {{s.fd.get(), POLLIN, 0}, {pidfd, POLLIN, 0}};
  if (poll(fds, 2, 30000) <= 0 || !(fds[0].revents & POLLIN))
    return Fail(MakeError(Errc::kSystem, "sworn exec did not send a pty master"));
  UniqueFd conn(accept4(s.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn) return Fail(SysError("accept", s.path));
  return RecvFd(conn.get(), s.path);
}

std::vector<std::string> ExecArgs(const TaskRecord& r, const std::vector<std::string>& command, const std::string& console) {
  std::vector<std::string> a = {r.sworn, "--root", r.state_root, "exec"};
  if (!console.empty()) a.insert(a.end(), {"--tty", "--console-socket", console});
  a.push_back(r.container_id);
  a.insert(a.end(), command.begin(), command.end());
  return a;
}

// posix_spawn: safe in a multi-threaded process. The plugin ignores SIGINT
// and SIGPIPE; the command must not inherit that.
Result<pid_t> Spawn(std::vector<std::string> args, int in, int out, int err) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in, 0);
  posix_spawn_file_actions_adddup2(&fa, out, 1);
  posix_spawn_file_actions_adddup2(&fa, err, 2);
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  sigset_t def, none;
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  sigaddset(&def, SIGINT);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&at, &def);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSID);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &fa, &at, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (rc != 0) return Fail(SysError(rc, "posix_spawn", argv[0]));
  return pid;
}

}  // namespace

void ExecProcess::Reap() {
  if (pid > 0) {
    kill(pid, SIGKILL);
    Wait();
  }
}

int ExecProcess::Wait() {
  if (pid <= 0) return 255;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return 255;
  pid = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
}

Result<ExecProcess> SpawnExec(const TaskRecord& r, const std::vector<std::string>& command, bool tty) {
  if (command.empty()) return Fail(FieldError("command", "empty"));
  ExecProcess p;
  if (tty) {
    ConsoleSocket cs;
    SWORN_TRY(Listen(cs));
    UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
    p.pid = SWORN_TRY(Spawn(ExecArgs(r, command, cs.path), null.get(), null.get(), null.get()));
    p.pidfd = UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, p.pid, 0)));
    p.master = SWORN_TRY(ReceiveMaster(cs, p.pidfd.get()));
    return p;
  }
  auto in = SWORN_TRY(MakePipe()), out = SWORN_TRY(MakePipe()), err = SWORN_TRY(MakePipe());
  p.pid = SWORN_TRY(Spawn(ExecArgs(r, command, ""), in.r.get(), out.w.get(), err.w.get()));
  p.pidfd = UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, p.pid, 0)));
  p.in = std::move(in.w), p.out = std::move(out.r), p.err = std::move(err.r);
  return p;
}

Result<ExecOutput> RunExec(const TaskRecord& r, const std::vector<std::string>& command, int64_t timeout_ms) {
  auto p = SWORN_TRY(SpawnExec(r, command, false));
  p.in.reset();
  ExecOutput o;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool killed = false;
  while (p.out || p.err) {
    pollfd fds[2] = {{p.out.get(), POLLIN, 0}, {p.err.get(), POLLIN, 0}};
    int wait = -1;
    if (timeout_ms > 0 && !killed)
      wait = static_cast<int>(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                       deadline - std::chrono::steady_clock::now()).count()));
    int n = poll(fds, 2, wait);
    if (n == 0) {  // timed out: sworn exec forwards SIGTERM, then give up on it
      kill(p.pid, SIGTERM);
      killed = true;
      continue;
    }
    UniqueFd* fdp[2] = {&p.out, &p.err};
    std::string* dst[2] = {&o.out, &o.err};
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t k = read(fdp[i]->get(), buf, sizeof(buf));
      if (k > 0) dst[i]->append(buf, k);
      else if (k == 0 || errno != EINTR) fdp[i]->reset();
    }
  }
  o.exit_code = p.Wait();
  return o;
}

}  // namespace sworn::driver
