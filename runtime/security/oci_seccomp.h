// linux.seccomp from config.json, compiled with libseccomp in the parent.
// Syscall names this libseccomp does not know are skipped (as runc does);
// syscalls newer than every one the profile names get ENOSYS rather than
// the default action, so libc falls back (runc's patchbpf, Chromium's
// clone3 rule).
#pragma once

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "security/bpf.h"

namespace sworn::security {

Result<BpfProgram> CompileOciSeccomp(const nlohmann::json& seccomp);

}  // namespace sworn::security
