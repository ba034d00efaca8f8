// A minimal PID 1 for containers that ask for one (annotation sworn.init;
// the Nomad driver's default for a private pid namespace). The init forks
// the program right before its exec and turns itself into sworn-init
// (runtime/pid1/pid1.c): no capabilities, no_new_privs, a sealed memfd as
// /proc/1/exe, a seccomp filter allowing only wait, kill and exit. It
// forwards every catchable signal to the program and reaps orphans.
//
//   auto init = SWORN_TRY(pid1::SealedInit());       // parent, before clone
//   ... in the container init, after `start`:
//   SWORN_TRY(pid1::ForkProgram(init_fd, user, tty)); // returns in the program
//   ExecProcess(...);
#pragma once

#include "core/error.h"
#include "core/fd.h"
#include "spec/spec.h"

namespace sworn::pid1 {

// A sealed, close-on-exec memfd holding sworn-init.
Result<UniqueFd> SealedInit();

// Forks the program. Returns (in the program, pid 2) with every signal
// still blocked, as ExecProcess expects to reset them; the calling process
// becomes sworn-init running as `user` and never returns (if it cannot, it
// kills the program and exits 126).
Result<void> ForkProgram(int init_fd, const spec::User& user, bool terminal);

}  // namespace sworn::pid1
