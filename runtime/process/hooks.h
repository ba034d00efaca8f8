// OCI hooks: each runs with the container state JSON on stdin, its own args
// and env, and an optional timeout after which it is killed.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "spec/spec.h"

namespace sworn::process {

Result<void> RunHook(const spec::Hook& hook, const std::string& state_json);
// Runs every hook in order; a failure is a warning and the rest still run
// (poststop, runtime-spec 1.3.0 lifecycle step 13).
void RunHooksWarn(const std::vector<spec::Hook>& hooks, const char* list, const std::string& state_json);
// Runs each hook in order; stops at the first failure, naming the hook list.
Result<void> RunHooks(const std::vector<spec::Hook>& hooks, const char* list, const std::string& state_json);

// Whether the init must wait, once its mounts are done, for the runtime to
// save the state with its pid and run prestart/createRuntime: only when one
// of these or createContainer (which may ask for that state) has hooks.
// Both sides decide from the same spec; without hooks the init goes on.
inline bool AwaitsRuntimeHooks(const spec::Hooks& h) {
  return !h.prestart.empty() || !h.create_runtime.empty() || !h.create_container.empty();
}

}  // namespace sworn::process
