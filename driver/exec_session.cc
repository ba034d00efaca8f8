#include "driver/exec_session.h"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "container/container.h"
#include "core/unix_socket.h"
#include "driver/hclog.h"

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

std::vector<std::string> ExecArgs(const TaskRecord& r, const std::vector<std::string>& command, const std::string& console,
                                  const std::string& cgroup) {
  std::vector<std::string> a = {r.sworn, "--root", r.state_root, "exec", "--cgroup", cgroup};
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

void ExecProcess::Signal(int sig) {
  std::lock_guard l(mu_);
  cg.Signal(sig);
}

void ExecProcess::Kill() {
  std::lock_guard l(mu_);
  // Not sworn exec itself: it reaps the command once that is killed. A
  // command orphaned by a killed sworn exec would be left to the host's
  // init to reap, and until then its zombie holds the task's pid namespace
  // (and so StopTask) open.
  cg.Signal(SIGKILL);
}

void ExecProcess::ReleaseCgroupIfEmpty() {
  std::lock_guard l(mu_);
  cg.RemoveIfEmpty();
}

int ExecProcess::Reap() {
  if (pid > 0) {
    // sworn exec leaves once its command is gone. Repeated: a sworn exec
    // still starting puts the command into the session cgroup meanwhile.
    // One that hangs is killed after 1 s.
    pollfd p{pidfd.get(), POLLIN, 0};
    bool gone = !pidfd;
    for (int i = 0; i < 20 && !gone; ++i) {
      Kill();
      gone = poll(&p, 1, 50) > 0;
    }
    if (!gone) syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
    Wait();
  }
  std::lock_guard l(mu_);
  if (auto r = cg.Destroy(); !r) hclog::Error("exec session cleanup", {{"error", r.error().Message()}});
  return code_ < 0 ? 255 : code_;
}

int ExecProcess::Wait() {
  if (pid <= 0) return code_ < 0 ? 255 : code_;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return 255;
  pid = -1;
  if (WIFEXITED(status)) code_ = WEXITSTATUS(status);
  else code_ = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
  return code_;
}

Result<std::unique_ptr<ExecProcess>> SpawnExec(const TaskRecord& r, const std::vector<std::string>& command, bool tty) {
  if (command.empty()) return Fail(FieldError("command", "empty"));
  static std::atomic<uint64_t> counter{0};
  auto info = SWORN_TRY(container::Inspect(r.state_root, r.container_id));
  auto p = std::make_unique<ExecProcess>();
  p->cg = SWORN_TRY(SessionCgroup::Create(info.st.cgroup_dirs, std::to_string(getpid()) + "-" + std::to_string(++counter)));
  auto start = [&](int in, int out, int err, const std::string& console) -> Result<void> {
    p->pid = SWORN_TRY(Spawn(ExecArgs(r, command, console, p->cg.Flag()), in, out, err));
    p->pidfd = UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, p->pid, 0)));
    return {};
  };
  if (tty) {
    ConsoleSocket cs;
    SWORN_TRY(Listen(cs));
    UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
    SWORN_TRY(start(null.get(), null.get(), null.get(), cs.path));
    p->master = SWORN_TRY(ReceiveMaster(cs, p->pidfd.get()));
    return p;
  }
  auto in = SWORN_TRY(MakePipe()), out = SWORN_TRY(MakePipe()), err = SWORN_TRY(MakePipe());
  SWORN_TRY(start(in.r.get(), out.w.get(), err.w.get(), ""));
  p->in = std::move(in.w), p->out = std::move(out.r), p->err = std::move(err.r);
  return p;
}

namespace {

constexpr size_t kMaxCaptured = 1 << 20;  // per stream; the rest is read and dropped
constexpr auto kKillGrace = std::chrono::milliseconds(1000);

// Reads both pipes until EOF, the deadline or `stop`; escalates at the
// deadline: SIGTERM to the session, SIGKILL to its tree after the grace.
void Collect(ExecProcess& p, ExecOutput& o, int64_t timeout_ms, const std::atomic<bool>& stop, int wake) {
  using Clock = std::chrono::steady_clock;
  auto deadline = timeout_ms > 0 ? Clock::now() + std::chrono::milliseconds(timeout_ms) : Clock::time_point::max();
  int stage = 0;  // 1: SIGTERM sent, 2: SIGKILL sent
  while ((p.out || p.err) && !stop) {
    auto now = Clock::now();
    if (now >= deadline) {
      o.timed_out = true;
      if (stage == 2) break;  // something outside the session holds a pipe: stop reading
      if (stage == 0) p.Signal(SIGTERM);
      if (stage == 1) p.Kill();
      o.signal = stage == 0 ? SIGTERM : SIGKILL;
      deadline = now + (stage == 0 ? kKillGrace : std::chrono::milliseconds(500));
      ++stage;
    }
    int wait = deadline == Clock::time_point::max()
                   ? -1
                   : static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count());
    pollfd fds[3] = {{p.out.get(), POLLIN, 0}, {p.err.get(), POLLIN, 0}, {wake, POLLIN, 0}};
    if (poll(fds, 3, wait) < 0 && errno != EINTR) break;
    UniqueFd* fdp[2] = {&p.out, &p.err};
    std::string* dst[2] = {&o.out, &o.err};
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[16384];
      ssize_t k = read(fdp[i]->get(), buf, sizeof(buf));
      if (k > 0) dst[i]->append(buf, std::min<size_t>(k, kMaxCaptured - std::min(kMaxCaptured, dst[i]->size())));
      else if (k == 0 || errno != EINTR) fdp[i]->reset();
    }
  }
}

}  // namespace

Result<ExecOutput> RunExec(const TaskRecord& r, const std::vector<std::string>& command, int64_t timeout_ms,
                           SessionRegistry& sessions) {
  // Registered before sworn exec starts, so that a shutdown or DestroyTask
  // meanwhile ends the run as soon as it exists.
  std::atomic<bool> stop{false};
  std::mutex mu;
  ExecProcess* raw = nullptr;
  UniqueFd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  uint64_t token = sessions.Add(r.id, [&] {
    stop = true;
    uint64_t one = 1;
    (void)!write(wake.get(), &one, sizeof(one));
    std::lock_guard l(mu);
    if (raw) raw->Kill();
  });
  auto spawned = SpawnExec(r, command, false);
  {
    std::lock_guard l(mu);
    raw = spawned ? spawned->get() : nullptr;
  }
  if (!spawned) {
    sessions.Remove(token);
    return Fail(spawned.error());
  }
  auto& p = *spawned;
  p->in.reset();
  ExecOutput o;
  Collect(*p, o, timeout_ms, stop, wake.get());
  // Killed: the tree goes first, then sworn exec (Reap). Otherwise the
  // command's exit code, then its leftovers (daemonized children).
  int code = o.timed_out || stop ? p->Reap() : p->Wait();
  p->Reap();
  sessions.Remove(token);
  if (sessions.Count() == 0) malloc_trim(0);  // see exec_stream.cc
  if (o.timed_out) {
    o.exit_code = 124;  // as timeout(1) reports it: script checks go critical
    o.err += "\nnomad-driver-sworn: exec timed out after " + std::to_string(timeout_ms) +
             " ms; the command's processes were killed\n";
  } else {
    o.exit_code = code;
    o.signal = code > 128 ? code - 128 : 0;
  }
  return o;
}

uint64_t SessionRegistry::Add(const std::string& task_id, std::function<void()> kill) {
  std::lock_guard l(mu_);
  sessions_.emplace(next_, Entry{task_id, std::move(kill)});
  return next_++;
}

void SessionRegistry::Remove(uint64_t token) {
  std::lock_guard l(mu_);
  sessions_.erase(token);
  cv_.notify_all();
}

void SessionRegistry::KillTask(const std::string& task_id) {
  std::lock_guard l(mu_);  // held: Remove waits for a kill in progress
  for (auto& [token, e] : sessions_)
    if (task_id.empty() || e.task_id == task_id) e.kill();
}

bool SessionRegistry::WaitEnded(const std::string& task_id, int timeout_ms) {
  std::unique_lock l(mu_);
  return cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [&] {
    for (auto& [token, e] : sessions_)
      if (task_id.empty() || e.task_id == task_id) return false;
    return true;
  });
}

size_t SessionRegistry::Count() {
  std::lock_guard l(mu_);
  return sessions_.size();
}

}  // namespace sworn::driver
