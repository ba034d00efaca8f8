// Thin wrappers for syscalls that glibc 2.36 lacks or hides, and small file
// helpers. Each returns Result with the syscall name and path in the error.
#pragma once

#include <linux/openat2.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/fd.h"

// glibc 2.36's <sched.h> predates these clone3 flags.
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace sworn {

// The args layout of clone3(2); only the fields sworn uses are named.
struct Clone3Args {
  uint64_t flags = 0;
  uint64_t pidfd = 0;
  uint64_t child_tid = 0;
  uint64_t parent_tid = 0;
  uint64_t exit_signal = 0;
  uint64_t stack = 0;
  uint64_t stack_size = 0;
  uint64_t tls = 0;
  uint64_t set_tid = 0;
  uint64_t set_tid_size = 0;
  uint64_t cgroup = 0;
};

// fork-like clone3: returns 0 in the child, the pid in the parent.
Result<pid_t> Clone3(Clone3Args& args);
Result<UniqueFd> PidfdOpen(pid_t pid);
Result<void> PidfdSendSignal(int pidfd, int sig);
int RawOpenat2(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve);
// openat2 with RESOLVE_IN_ROOT: `path` is resolved as if `rootfd` were "/".
Result<UniqueFd> OpenInRoot(int rootfd, std::string_view path, uint64_t flags, uint64_t mode = 0);
int RawPivotRoot(const char* new_root, const char* put_old);
int RawCloseRange(unsigned first, unsigned last, unsigned flags);
// Closes every fd >= first except those in keep. A forked child uses it to
// drop what it inherited from the runtime (the state lock, above all: a
// flock lives as long as any copy of its fd).
void CloseFdsExcept(int first, std::vector<int> keep);
int RawMountSetattr(int dirfd, const char* path, unsigned flags, uint64_t attr_set, uint64_t attr_clr,
                    uint64_t propagation);

// "/proc/self/fd/N": mounting onto this path mounts onto what fd N names,
// which is how sworn mounts onto a destination it resolved safely.
std::string FdPath(int fd);

Result<std::string> ReadFile(const std::string& path);
Result<std::string> ReadFileAt(int dirfd, const std::string& path);
// A hex mask of /proc/self/status ("CapBnd", "SigIgn"), from the file as it
// was at the first call: it is read once per process (before clone: the init
// inherits it). nullopt if the line is missing.
std::optional<uint64_t> SelfStatusMask(std::string_view key);
Result<void> WriteFile(const std::string& path, std::string_view data, int flags = 0, mode_t mode = 0644);
Result<void> WriteFileAt(int dirfd, const std::string& path, std::string_view data);
// Writes to a temp file beside `path`, fsyncs nothing, and renames over it.
Result<void> WriteFileAtomic(const std::string& path, std::string_view data);
Result<void> MkdirAll(const std::string& path, mode_t mode = 0755);
// The host's name for uid from /etc/passwd ("" if it has none). sworn is
// linked statically and uses no NSS (getpwuid would dlopen its modules).
std::string HostUserName(uid_t uid);

std::vector<std::string> Split(std::string_view s, char sep);
// Split without copies: the pieces point into s.
std::vector<std::string_view> SplitView(std::string_view s, char sep);
bool StartsWith(std::string_view s, std::string_view prefix);
std::string Trim(std::string_view s);
// A close-on-exec memfd holding data, sealed against any change (what the
// container may execute or read of the runtime's blobs), read offset at 0.
Result<UniqueFd> SealedMemfd(const char* name, const void* data, size_t size);
// UTC as RFC 3339 with nanoseconds, as Go formats it for runc's state
// "created": "2026-12-05T02:12:35.505826858Z".
std::string Rfc3339(int64_t secs_since_epoch, long nsec);
std::string NowRfc3339();

}  // namespace sworn
