#include "linux/console.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "core/sys.h"
#include "core/unix_socket.h"

namespace sworn::linux_console {

Result<Pty> OpenPty(unsigned rows, unsigned cols) {
  Pty p;
  p.master.reset(open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!p.master) return Fail(SysError("open", "/dev/ptmx"));
  if (unlockpt(p.master.get()) < 0) return Fail(SysError("unlockpt"));
  // TIOCGPTPEER opens the peer without a path lookup, so a container that
  // replaced /dev/pts/N cannot hand us another file.
  p.slave.reset(ioctl(p.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!p.slave) return Fail(SysError("ioctl TIOCGPTPEER"));
  char name[64];
  if (ptsname_r(p.master.get(), name, sizeof(name)) != 0) return Fail(SysError("ptsname"));
  p.slave_path = name;
  if (rows || cols) {
    winsize ws{};
    ws.ws_row = static_cast<unsigned short>(rows);
    ws.ws_col = static_cast<unsigned short>(cols);
    if (ioctl(p.slave.get(), TIOCSWINSZ, &ws) < 0) return Fail(SysError("ioctl TIOCSWINSZ"));
  }
  return p;
}

Result<void> SendMaster(int socket_fd, const Pty& pty) {
  static const char kName[] = "/dev/ptmx";  // runc sends the master's name as the payload
  return SendWithFd(socket_fd, kName, sizeof(kName) - 1, pty.master.get(), "console socket");
}

Result<void> BecomeTerminal(const Pty& pty) {
  if (setsid() < 0) return Fail(SysError("setsid"));
  if (ioctl(pty.slave.get(), TIOCSCTTY, 0) < 0) return Fail(SysError("ioctl TIOCSCTTY"));
  for (int fd = 0; fd < 3; ++fd)
    if (dup2(pty.slave.get(), fd) < 0) return Fail(SysError("dup2", "pty slave"));
  return {};
}

Result<void> MountConsole(const Pty& pty) {
  struct stat st;
  if (lstat("/dev/console", &st) < 0) {
    UniqueFd f(open("/dev/console", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!f) return Fail(SysError("create", "/dev/console"));
  }
  if (mount(pty.slave_path.c_str(), "/dev/console", nullptr, MS_BIND, nullptr) < 0)
    return Fail(SysError("bind " + pty.slave_path + " on", "/dev/console"));
  return {};
}

}  // namespace sworn::linux_console
