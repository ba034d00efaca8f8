// Unix stream sockets as sworn uses them: connecting to a path given by the
// user (--console-socket, linux.seccomp.listenerPath) and passing one fd
// with SCM_RIGHTS (pty masters, seccomp listeners, over the sync socket).
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"
#include "core/fd.h"

namespace sworn {

// Connects to the socket at `path`; errors name `field` and the path.
Result<UniqueFd> ConnectUnix(const std::string& path, std::string_view field);
// Sends `payload` with `pass_fd` attached (none when pass_fd < 0).
Result<void> SendWithFd(int sock, const void* payload, size_t size, int pass_fd, std::string_view what);
// The counterpart: one message's fd (close-on-exec); kNotFound when none came.
Result<UniqueFd> RecvFd(int sock, std::string_view what);

}  // namespace sworn
