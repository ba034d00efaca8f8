// The foreground half of `run` and `exec`: forward signals to the child,
// proxy its pty to our stdio when we hold the master, return its exit code.
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "container/container.h"
#include "core/sys.h"

namespace sworn::container {
namespace {

constexpr int kForwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM};

// Puts our terminal in raw mode while proxying; restores it on scope exit.
class RawTerminal {
 public:
  explicit RawTerminal(bool enable) {
    if (!enable || !isatty(0) || tcgetattr(0, &saved_) < 0) return;
    termios raw = saved_;
    cfmakeraw(&raw);
    active_ = tcsetattr(0, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) tcsetattr(0, TCSANOW, &saved_);
  }

 private:
  termios saved_{};
  bool active_ = false;
};

void CopyWinsize(int master) {
  winsize ws;
  if (ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(master, TIOCSWINSZ, &ws);
}

// Copies what is readable from `from` to `to`; false on EOF or error.
bool Pump(int from, int to) {
  char buf[8192];
  ssize_t n = read(from, buf, sizeof(buf));
  if (n <= 0) return false;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = write(to, buf + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    off += w;
  }
  return true;
}

}  // namespace

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

int ExitSignal(int status, bool pid1) {
  if (WIFSIGNALED(status)) return WTERMSIG(status);
  if (pid1 && WIFEXITED(status) && WEXITSTATUS(status) > 128 && WEXITSTATUS(status) < 128 + NSIG)
    return WEXITSTATUS(status) - 128;
  return 0;
}

Result<int> WaitForward(const Created& c) {
  auto status = WaitForwardStatus(c);
  if (!status) return Fail(status.error());
  return ExitCode(*status);
}

Result<int> WaitForwardStatus(const Created& c) {
  sigset_t set, old;
  sigemptyset(&set);
  for (int s : kForwarded) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, &old);
  UniqueFd sfd(signalfd(-1, &set, SFD_CLOEXEC));
  if (!sfd) return Fail(SysError("signalfd"));
  int master = c.pty_master.get();
  RawTerminal raw(master >= 0);
  if (master >= 0) CopyWinsize(master);
  bool stdin_open = master >= 0;
  for (;;) {
    pollfd fds[4] = {{c.pidfd.get(), POLLIN, 0}, {sfd.get(), POLLIN, 0}, {master, POLLIN, 0},
                     {stdin_open ? 0 : -1, POLLIN, 0}};
    if (poll(fds, 4, -1) < 0 && errno != EINTR) return Fail(SysError("poll"));
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo si;
      if (read(sfd.get(), &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGWINCH && master >= 0)
          CopyWinsize(master);
        else
          kill(c.pid, static_cast<int>(si.ssi_signo));
      }
    }
    if (master >= 0 && (fds[2].revents & (POLLIN | POLLHUP)) && !Pump(master, 1)) master = -1;
    if (stdin_open && (fds[3].revents & (POLLIN | POLLHUP)) && !Pump(0, c.pty_master.get())) stdin_open = false;
    if (fds[0].revents & POLLIN) {
      // Drain what the pty still holds before reporting the exit.
      while (master >= 0 && poll(&fds[2], 1, 0) > 0 && Pump(master, 1)) {
      }
      break;
    }
  }
  int status = 0;
  while (waitpid(c.pid, &status, 0) < 0)
    if (errno != EINTR) return Fail(SysError("waitpid", std::to_string(c.pid)));
  sigprocmask(SIG_SETMASK, &old, nullptr);
  return status;
}

}  // namespace sworn::container
