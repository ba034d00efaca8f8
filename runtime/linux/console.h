// The container's terminal: a pty created inside the container (after
// pivot_root, on its own devpts), whose master goes to --console-socket over
// SCM_RIGHTS as runc sends it, and whose slave becomes stdio and the
// controlling terminal.
#pragma once

#include "core/error.h"
#include "core/fd.h"

namespace sworn::linux_console {

struct Pty {
  UniqueFd master, slave;
  std::string slave_path;
};

Result<Pty> OpenPty(unsigned rows, unsigned cols);
// Sends the master over a connected unix socket with its name as payload.
Result<void> SendMaster(int socket_fd, const Pty& pty);
// setsid, make slave the controlling terminal and stdin/stdout/stderr.
Result<void> BecomeTerminal(const Pty& pty);
// Bind-mounts the slave on /dev/console (when /dev/console can be created).
Result<void> MountConsole(const Pty& pty);

}  // namespace sworn::linux_console
