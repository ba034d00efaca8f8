// systemd cgroup management (--systemd-cgroup), as runc does it: the
// container's cgroup is a transient scope unit made over D-Bus
// (StartTransientUnit) with the limits as unit properties, in the slice
// named by a "slice:prefix:name" cgroupsPath, and stopped on delete.
#pragma once

#include <sys/types.h>

#include <string>

#include "cgroup/resources.h"
#include "core/error.h"

namespace sworn::cgroup::systemd {

struct Unit {
  std::string slice;  // "system.slice", "machine-x.slice"
  std::string scope;  // "<prefix>-<name>.scope"
};

// Whether cgroups_path has the systemd form (two colons).
bool IsSystemdPath(const std::string& cgroups_path);
// runc's systemd cgroupsPath: "slice:prefix:name" (empty slice:
// system.slice; a name ending in .slice makes a slice, which sworn
// refuses); an empty path is "system.slice:sworn:<id>". Errors name the field.
Result<Unit> ParsePath(const std::string& cgroups_path, const std::string& id);

// The manager's address: $DBUS_SYSTEM_BUS_ADDRESS, else as root systemd's
// private socket /run/systemd/private, else the system bus.
std::string BusAddress();

// Starts unit.scope in unit.slice holding pid (Delegate=yes, accounting
// on, DefaultDependencies=no, limits from r as runc sets them), waits for
// its job and returns the scope's ControlGroup ("/system.slice/x.scope").
Result<std::string> StartScope(const Unit& unit, pid_t pid, const Resources& r, const std::string& description);
// SetUnitProperties(scope, runtime) with r's limits as StartScope sets
// them (what `update` changes); nothing is sent when r sets no limit.
Result<void> SetLimits(const std::string& scope, const Resources& r);
// StopUnit(name, "replace") and waits for its job; a unit systemd no
// longer knows is not an error.
Result<void> StopUnit(const std::string& name);

}  // namespace sworn::cgroup::systemd
