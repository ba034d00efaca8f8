// Compiled pledge programs, cached per promise set under the state root.
// libseccomp takes about a millisecond per program; the cache brings a
// pledged container's start-up cost back under that. Programs are compiled
// with placeholder exec-secret words whose 32-bit halves occur nowhere else,
// and each container's real words are patched in (as the self-pid is).
#pragma once

#include <string>

#include "security/sandbox.h"

namespace sworn::security {

// CompilePledge through a cache in cache_dir (empty: no cache). Entries are
// keyed by the promises, penalty, dynamic, self_pid_one, the libseccomp
// version and the identity of the sworn binary, so a rebuilt runtime never
// reads an older table's program.
Result<PledgeProgram> CachedCompilePledge(const SandboxSpec& s, bool dynamic, bool self_pid_one,
                                          const std::string& cache_dir);

// What invalidates every cached program: the libseccomp version and the
// identity (device, inode, size, mtime) of the running sworn binary.
std::string RuntimeIdentity();
// <dir>/<prefix>-<hash of key>.bpf
std::string CacheFile(const std::string& dir, const char* prefix, const std::string& key);

// Replaces the placeholder secret's halves with `secret`'s; returns how many
// instructions changed (0 means the program has no secret check).
size_t PatchExecSecret(std::vector<sock_filter>& insns, const std::array<uint64_t, 3>& secret);
inline constexpr std::array<uint64_t, 3> kSecretPlaceholder = {0xC5A1D0E19B3F2C01ULL, 0xC5A1D0E29B3F2C02ULL,
                                                                0xC5A1D0E39B3F2C03ULL};

}  // namespace sworn::security
