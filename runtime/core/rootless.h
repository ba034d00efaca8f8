// Rootless detection, as runc does it (rootless_linux.go): sworn is
// rootless when its euid is not 0, or when it is 0 inside a user namespace
// that is not the initial one (rootless podman runs the runtime so). A
// rootless runtime cannot expect to write cgroups, and keeps its state
// under $XDG_RUNTIME_DIR.
#pragma once

#include <optional>
#include <string>

namespace sworn {

// Whether this process is in a user namespace other than the initial one
// (its uid_map is not the identity map of all 2^32 ids).
bool RunningInUserNs();

// runc's --rootless: true or false forces the answer, nullopt ("auto",
// the default) detects it.
void SetRootlessOverride(std::optional<bool> v);
// Whether cgroup errors from missing permissions may be ignored (runc's
// RootlessCgroups): the override, else euid != 0 or RunningInUserNs().
bool RootlessCgroups();

// The state root when --root is not given: /run/sworn, or
// $XDG_RUNTIME_DIR/sworn when euid != 0, or euid is 0 in a user namespace
// and $USER is not "root" (runc's shouldHonorXDGRuntimeDir).
std::string DefaultStateRoot();

}  // namespace sworn
