// The sealed trampoline every container process is exec'd through (see
// runtime/dmz/dmz.c for why). The parent makes the memfd before clone; the
// child keeps it open until its final execveat.
#pragma once

#include "core/error.h"
#include "core/fd.h"
#include "security/bpf.h"

namespace sworn::security {

// A sealed, close-on-exec memfd holding sworn-dmz.
Result<UniqueFd> SealedDmz();
// Whether a seccomp program lets the final execveat of the trampoline
// through (a profile may allow execve but not execveat; then the process is
// exec'd directly, without the trampoline).
bool AllowsTrampoline(const BpfProgram& p);

}  // namespace sworn::security
