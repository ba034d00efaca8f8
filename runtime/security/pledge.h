// pledge(2) for containers: compiles OpenBSD/cosmo-style promises into a
// seccomp program with libseccomp. Compile in the parent, load the bytes in
// the container init just before the final execve (LoadBpf).
//
//   std::vector<std::string> warnings;
//   auto names = SWORN_TRY(ParsePromises("stdio rpath", &warnings));
//   BpfProgram prog = SWORN_TRY(PledgeBuilder{}
//                                   .Promises(names)
//                                   .Penalty(Penalty::kEperm)
//                                   .ExecSecret(secret)
//                                   .TryBuild());
//   ... in the child, after entering the pid namespace:
//   BindSelfPid(prog.insns, getpid());
//   LoadBpf(prog); syscall(SYS_execve, path, argv, envp, s[0], s[1], s[2]);
//
// Program layout, first match wins:
//   1. arch != native, or an x32 number (bit 30) → KILL_PROCESS;
//   2. nr newer than every table entry, clone3, openat2, memfd_create →
//      ENOSYS whatever the penalty, so libc falls back (glibc 2.36
//      pthread_create fails on EPERM from clone3 but retries clone on ENOSYS);
//   3. exit, arch_prctl, and the promises' rules → ALLOW;
//   4. anything else → the penalty (or, with Report, the listener).
// The tables are data in promises.h.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "security/bpf.h"
#include "security/promises.h"

namespace sworn::security {

enum class Penalty {
  kEperm,  // SECCOMP_RET_ERRNO(EPERM), cosmo's default
  kKill,   // SECCOMP_RET_KILL_PROCESS (pledge.com -k)
};

// Splits a space-separated promise string (case-insensitive, duplicates
// dropped). "" is valid: only exit survives. "thread" is accepted as a
// deprecated alias that adds nothing (thread creation is part of stdio
// since 2022-07), with a warning. Unknown names fail:
//   sworn.pledge.promises: unknown promise "foo"
Result<std::vector<std::string>> ParsePromises(std::string_view space_separated,
                                               std::vector<std::string>* warnings);

// Three random words for ExecSecret (getrandom).
Result<std::array<uint64_t, 3>> MakeExecSecret();

// Rewrites the kill/tgkill "self" placeholder with `pid`; returns how many
// comparisons were patched (0 when no promise restricts kill to self). The
// parent cannot know the child's in-namespace pid, so the child patches its
// copy before loading (pid 1 for a container init in a new pid namespace).
size_t BindSelfPid(std::vector<sock_filter>& insns, pid_t pid);

class PledgeBuilder {
 public:
  // Adds one promise by name (lower case; "thread" is a no-op).
  PledgeBuilder& Promise(std::string_view name);
  PledgeBuilder& Promises(std::span<const std::string> names);
  PledgeBuilder& Penalty(security::Penalty p);
  // Without `exec`, execve is still allowed once: for sworn's own final exec
  // of the entrypoint, which passes the secret in args[3..5] (registers the
  // kernel ignores for execve). The entrypoint cannot learn the secret (a
  // filter can only be read back with CAP_SYS_ADMIN from outside seccomp),
  // so it can never exec again. execveat stays denied. Words must be nonzero.
  PledgeBuilder& ExecSecret(const std::array<uint64_t, 3>& secret);
  // Denied calls go to a seccomp user-notification listener
  // (SECCOMP_RET_USER_NOTIF) instead of the penalty: a reporter outside the
  // sandbox (pledge_reporter.h) explains each one, then answers EPERM or kills
  // as the penalty says. Allowed calls are unchanged. With ExecSecret, one
  // sendmsg whose args 3..5 hold the secret is admitted too: sworn-dmz's
  // handover of the listener, made before its execve.
  PledgeBuilder& Report(bool on);
  // Bakes the pid that kill/tgkill may target; without it the program keeps
  // the placeholder for BindSelfPid.
  PledgeBuilder& SelfPid(pid_t pid);
  // Returns the first error any method met; a builder builds once.
  Result<BpfProgram> TryBuild();

 private:
  void SetError(Error e);

  std::vector<const PromiseTable*> promises_;
  security::Penalty penalty_ = security::Penalty::kEperm;
  bool report_ = false;
  std::optional<std::array<uint64_t, 3>> secret_;
  std::optional<pid_t> self_pid_;
  std::optional<Error> error_;
  bool built_ = false;
};

}  // namespace sworn::security
