#include "process/sync.h"

#include "core/unix_socket.h"

#include <sys/socket.h>

#include <cstring>

namespace sworn::process {

Result<std::pair<SyncSocket, SyncSocket>> SyncSocket::Pair() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return Fail(SysError("socketpair"));
  return std::pair{SyncSocket(UniqueFd(sv[0])), SyncSocket(UniqueFd(sv[1]))};
}

Result<void> SyncSocket::Send(SyncType t, int err, std::string_view text, int pass_fd) const {
  SyncMsg m{};
  m.type = t;
  m.err = err;
  size_t n = std::min(text.size(), sizeof(m.text) - 1);
  std::memcpy(m.text, text.data(), n);
  return SendWithFd(fd_.get(), &m, sizeof(m), pass_fd, "sync socket");
}

Result<SyncMsg> SyncSocket::Recv(UniqueFd* fd_out) const {
  SyncMsg m{};
  iovec iov{&m, sizeof(m)};
  msghdr h{};
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  h.msg_control = cbuf;
  h.msg_controllen = sizeof(cbuf);
  ssize_t r;
  // ECONNRESET: the peer closed with messages of ours unread. The kernel
  // says so once, then still hands out what the peer sent before (its kError).
  bool reset_seen = false;
  for (;;) {
    r = recvmsg(fd_.get(), &h, MSG_CMSG_CLOEXEC);
    if (r >= 0 || (errno != EINTR && (errno != ECONNRESET || reset_seen))) break;
    reset_seen |= errno == ECONNRESET;
  }
  if (r < 0) return Fail(SysError("recvmsg", "sync socket"));
  if (r == 0) return Fail(MakeError(Errc::kNotFound, "the other side of the sync socket exited"));
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
      if (fd_out)
        fd_out->reset(fd);
      else
        close(fd);
    }
  }
  m.text[sizeof(m.text) - 1] = 0;
  return m;
}

Result<void> SyncSocket::Expect(SyncType t, UniqueFd* fd_out) const {
  SyncMsg m = SWORN_TRY(Recv(fd_out));
  if (m.type == SyncType::kError) return Fail(Error{Errc::kSystem, m.err, m.text});
  if (m.type != t)
    return Fail(MakeError(Errc::kSystem, "sync protocol: expected message " + std::to_string(int(t)) + ", got " +
                                             std::to_string(int(m.type))));
  return {};
}

}  // namespace sworn::process
