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
// A sealed, close-on-exec memfd holding a copy of libsworn-repledge.so with
// `after_startup` written into it (see runtime/dmz/repledge.c): the program
// it loads is part of the sealed file, chosen by nothing the entrypoint can
// touch.
Result<UniqueFd> SealedRepledge(const BpfProgram& after_startup);
// The same preload in signal mode (reporting, PledgeProgram::startup_grant):
// instead of stacking a filter it tells the reporter that the loader is
// done, with seccomp(kStartupDoneOp, 0, 0), a call no promise allows, which
// the reporter answers kStartupDoneAck; any other answer makes it exit.
Result<UniqueFd> SealedRepledgeSignal();
inline constexpr uint32_t kRepledgeSignalCount = 0xFFFFFFFFu;
inline constexpr uint32_t kStartupDoneOp = 0x5357444Eu, kStartupDoneAck = 0x5357414Bu;
// A sealed, close-on-exec memfd holding a filter's instructions, for the
// trampoline to load (pledge mode).
Result<UniqueFd> SealedFilter(const BpfProgram& p);

// Makes the preload inheritable across execve and points the program's
// environment at it (LD_PRELOAD first, SWORN_REPLEDGE_FD=<so> to close it).
Result<void> InheritRepledge(int so_fd, std::vector<std::string>& env);

// How the final exec reaches the trampoline under the OCI seccomp profile:
// execveat(fd) where the profile allows it, else execve("/proc/self/fd/N").
enum class TrampolineCall { kNone, kExecveat, kExecvePath };
TrampolineCall TrampolineCallFor(const BpfProgram& p);
// The trampoline's argv[0]: "-", or "p<fd>" to load the pledge filter on fd,
// or "p<fd>:<sock>" to load it with a new listener and send that listener
// over the socket <sock> to the pledge reporter.
std::string TrampolineMode(int pledge_prog_fd, int report_fd = -1);

}  // namespace sworn::security
