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
  std::string name = "/dev/ptmx";
  iovec iov{name.data(), name.size()};
  msghdr h{};
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  h.msg_control = cbuf;
  h.msg_controllen = sizeof(cbuf);
  cmsghdr* c = CMSG_FIRSTHDR(&h);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  int fd = pty.master.get();
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  if (sendmsg(socket_fd, &h, MSG_NOSIGNAL) < 0) return Fail(SysError("sendmsg", "console socket"));
  return {};
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
