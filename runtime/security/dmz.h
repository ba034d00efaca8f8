// The sealed trampoline every container process is exec'd through (see
// runtime/dmz/dmz.c for why). The parent makes the memfd before clone; the
// child keeps it open until its final execveat.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "core/fd.h"
#include "security/bpf.h"

namespace sworn::security {

// A sealed, close-on-exec memfd holding sworn-dmz.
Result<UniqueFd> SealedDmz();
// A sealed, close-on-exec memfd holding libsworn-repledge.so, and one
// holding a filter's instructions for it to load (see runtime/dmz/repledge.c).
Result<UniqueFd> SealedRepledge();
Result<UniqueFd> SealedFilter(const BpfProgram& p);

// Makes both inheritable across execve and points the program's
// environment at them (LD_PRELOAD first, SWORN_PLEDGE_FD=<filter>,<so>).
Result<void> InheritRepledge(int so_fd, int prog_fd, std::vector<std::string>& env);

// Whether a seccomp program lets the final execveat of the trampoline
// through (a profile may allow execve but not execveat; then the process is
// exec'd directly, without the trampoline).
bool AllowsTrampoline(const BpfProgram& p);

}  // namespace sworn::security
