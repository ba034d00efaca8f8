// The last steps before execve: rlimits, the user switch and capabilities.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "spec/spec.h"

namespace sworn::linux_creds {

Result<void> ApplyRlimits(const std::vector<spec::Rlimit>& rlimits);
// Drops capabilities from the bounding set, switches to user (keeping
// capabilities across setuid), then sets effective/permitted/inheritable
// and raises ambient. Without a capabilities object the process keeps none.
Result<void> SwitchUserAndCaps(const spec::User& user, const std::optional<spec::Capabilities>& caps);
// Drops what cannot be granted: names libcap does not know, capabilities the
// running kernel lacks and, when check_bounding (the process stays in our
// user namespace), those outside our own bounding set. Returns one warning
// naming them all, or "" (config.md: warn, SHOULD NOT fail).
std::string DropUngrantable(spec::Capabilities& caps, bool check_bounding);
// process.scheduler and process.ioPriority; a clear error where the kernel refuses.
Result<void> ApplySchedulerAndIo(const spec::Process& p);
// AppArmor profile / SELinux label for the exec: refused when the host's
// LSM is not enabled, never silently dropped.
Result<void> ApplyLsmLabels(const spec::Process& p);
// HOME from the container's /etc/passwd (or "/") when env has none, as runc does.
void AddHome(std::vector<std::string>& env, uid_t uid);
// Resolves args[0] against PATH from env, as execvp would inside the container.
Result<std::string> LookPath(const std::string& arg0, const std::vector<std::string>& env);

}  // namespace sworn::linux_creds
