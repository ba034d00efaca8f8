// The denial reporter's reasoning, beside the pledge compiler and fed by the
// same promise tables (promises.h): which promises would have allowed one
// exact syscall, and a one-line, human description of that call.
//
//   uint64_t args[6] = {AT_FDCWD, ptr, O_WRONLY | O_CREAT | O_TRUNC, 0644};
//   Explanation e = ExplainSyscall(__NR_openat, args, /*self_pid=*/12);
//   // e.promises == {"cpath"}
//   std::string line = FormatDenial(__NR_openat, args, read_path, "sh", 12, e);
//   // pledge: denied openat("/local/f", O_WRONLY|O_CREAT|O_TRUNC, 0644) in sh[12]: needs cpath
//
// Nothing here is a second list of what a promise allows: ExplainSyscall
// evaluates each PromiseTable's plain and argument rules on the call's
// registers, exactly as the compiled filter compares them.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sworn::security {

struct Explanation {
  std::vector<std::string> promises;  // each one alone allows the call (cosmo order)
  std::string reason;                 // when none does: why
};

// self_pid: the caller's pid as it sees itself (for the kill/tgkill "self"
// rules); 0 when unknown.
Explanation ExplainSyscall(int nr, const uint64_t args[6], pid_t self_pid);
// Whether the promise `name` alone allows the call.
bool PromiseAllows(std::string_view name, int nr, const uint64_t args[6], pid_t self_pid);

// "openat", or "syscall_451" for a number libseccomp does not know.
std::string SyscallName(int nr);

// Reads a NUL-terminated string at an address of the calling process.
using StringReader = std::function<std::optional<std::string>(uint64_t addr)>;
// `openat("/local/f", O_WRONLY|O_CREAT|O_TRUNC, 0644)`: the decisive
// arguments decoded (paths, open flags, prot, socket family/type, ioctl
// request, clone flags); the rest as numbers.
std::string DescribeCall(int nr, const uint64_t args[6], const StringReader& read);
// "needs cpath", "needs inet or dns", "needs prot_exec (...)", or
// "no promise allows it: <reason>".
std::string DescribeFix(int nr, const uint64_t args[6], const Explanation& e);
// The full report line, without a newline:
// `pledge: denied <call> in <comm>[<pid>]: <fix>`.
std::string FormatDenial(int nr, const uint64_t args[6], const StringReader& read, const std::string& comm, pid_t pid,
                         const Explanation& e);

}  // namespace sworn::security
