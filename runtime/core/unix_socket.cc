#include "core/unix_socket.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

namespace sworn {

Result<UniqueFd> ConnectUnix(const std::string& path, std::string_view field) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path))
    return Fail(MakeError(Errc::kInvalidArgument, std::string(field) + ": path too long: " + path));
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Fail(SysError("socket"));
  path.copy(addr.sun_path, path.size());
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0)
    return Fail(SysError(std::string(field) + ": connect", path));
  return fd;
}

Result<void> SendWithFd(int sock, const void* payload, size_t size, int pass_fd, std::string_view what) {
  iovec iov{const_cast<void*>(payload), size};
  msghdr h{};
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  if (pass_fd >= 0) {
    h.msg_control = cbuf;
    h.msg_controllen = sizeof(cbuf);
    cmsghdr* c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  ssize_t r;
  do r = sendmsg(sock, &h, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r < 0) return Fail(SysError("sendmsg", what));
  return {};
}

Result<UniqueFd> RecvFd(int sock, std::string_view what) {
  char data[256];
  iovec iov{data, sizeof(data)};
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  msghdr h{};
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  h.msg_control = cbuf;
  h.msg_controllen = sizeof(cbuf);
  ssize_t r;
  do r = recvmsg(sock, &h, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r < 0) return Fail(SysError("recvmsg", what));
  cmsghdr* c = CMSG_FIRSTHDR(&h);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
    return Fail(MakeError(Errc::kNotFound, "no fd received on " + std::string(what)));
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof(fd));
  return UniqueFd(fd);
}

}  // namespace sworn
