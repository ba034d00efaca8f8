// CVE-2019-5736: a container whose entrypoint is `#!/proc/self/exe` gets
// the runtime's own binary executed inside it, and can then write to the
// host's copy of it through /proc/PID/exe. Like runc and crun, sworn runs
// create/run/exec from a sealed memfd copy of itself: /proc/self/exe then
// names an anonymous file whose contents can never change.
#pragma once

#include "core/error.h"

namespace sworn::security {

// True when this process already runs from a sealed copy.
bool RunningSealed();
// Re-executes the current program from a sealed memfd; returns only on failure.
Error ReexecSealed(char** argv);

}  // namespace sworn::security
