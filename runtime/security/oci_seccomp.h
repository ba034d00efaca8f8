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
// The same through a cache in cache_dir (podman's default profile takes
// libseccomp 10-15 ms to compile; a cached one loads in microseconds).
Result<BpfProgram> CachedCompileOciSeccomp(const nlohmann::json& seccomp, const std::string& cache_dir);

}  // namespace sworn::security
