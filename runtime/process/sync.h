// Parent/child synchronisation over a SOCK_SEQPACKET socketpair.
//
//   parent (sworn create)                 child (container init)
//   clone3 ───────────────────────────▶   wait kGo
//   write uid/gid maps, join cgroups
//   send kGo ─────────────────────────▶   join/unshare namespaces, mounts
//                                 ◀─────  send kRunHooks (before pivot_root)
//   prestart + createRuntime hooks
//   send kHooksDone ──────────────────▶   createContainer hooks, pivot_root,
//                                         masks, console, cwd, rlimits
//                                 ◀─────  send kReady
//   save state, pid file; exit            block on the exec fifo until start
//                                         (`run` sends kStart here instead)
//
// `run` with no hook before the start, pid file or notify listener has
// nothing to wait for between kReady and the start: it writes the device
// rules while the child builds its rootfs, then queues kStart at once, which
// the child finds waiting when it is ready (no round trip). Only when the
// child joins all its cgroups itself (Placement::NeedsAttach): what the
// parent writes before kStart is then all the program needs. A child that
// fails with kStart unread makes the kernel report ECONNRESET to the parent
// first; Recv then still reads the kError it left.
//
// Without a cgroup namespace to create, kGo goes out before the parent
// joins the child to its cgroups, so the two work in parallel; the child
// reaches nothing user-controlled before kHooksDone, which follows the join.
// With no prestart, createRuntime or createContainer hooks there is no
// kHooksDone (process::AwaitsRuntimeHooks): the child goes on to kReady at
// once and runs nothing user-controlled before kStart or the exec fifo,
// which come after the join. (Its v1 cgroups it joins itself, first thing;
// on cgroup v2 it is cloned into its cgroup.)
//
// Any step may instead send kError (errno + message) and _exit. The child
// treats EOF (the parent died) as a reason to _exit. After clone the child
// never throws: it reports here and exits.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"
#include "core/fd.h"

namespace sworn::process {

enum class SyncType : uint32_t { kGo = 1, kRunHooks, kHooksDone, kReady, kError, kFd, kStart, kWarning };

struct SyncMsg {
  SyncType type;
  int32_t err;
  char text[2048];
};

class SyncSocket {
 public:
  static Result<std::pair<SyncSocket, SyncSocket>> Pair();
  explicit SyncSocket(UniqueFd fd) : fd_(std::move(fd)) {}
  int fd() const { return fd_.get(); }
  void Close() { fd_.reset(); }

  Result<void> Send(SyncType t, int err = 0, std::string_view text = {}, int pass_fd = -1) const;
  // Receives one message; EOF is an error with kNotFound. A passed fd is
  // returned through *fd_out.
  Result<SyncMsg> Recv(UniqueFd* fd_out = nullptr) const;
  // Receives and checks the type; a kError from the peer becomes an Error.
  Result<void> Expect(SyncType t, UniqueFd* fd_out = nullptr) const;

 private:
  UniqueFd fd_;
};

}  // namespace sworn::process
