// Helpers shared by the bundle library's files; not part of its API.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bundle/bundle.h"

namespace sworn::bundle::internal {

using nlohmann::json;

// "net_raw", "CAP_NET_RAW", "Cap_Net_Raw" → "CAP_NET_RAW"; anything libcap
// does not name (numbers included) is an error naming `field`.
Result<std::string> NormaliseCap(std::string_view name, const std::string& field);
// Value checks shared by the parsers and BuildBundle (which may be handed
// structs that were never parsed); they normalise in place (caps to
// "CAP_X", promises to single spaces, cgroup_parent to an absolute path).
Result<void> CheckPluginValues(PluginConfig& c);
Result<void> CheckTaskValues(TaskDriverConfig& c);
// "/a/b/" → "/a/b"; "/" stays "/".
std::string TrimSlashes(std::string_view path);
bool IsUnder(std::string_view path, std::string_view dir);  // path == dir or below it

// Where a container path lives on the host, for checking paths before sworn
// runs. `source` is empty when the mount is not a bind of a host path
// (proc, tmpfs, or a file WriteBundle has yet to write).
struct MountView {
  std::string destination, source;
  bool checkable = true;
};

// Everything BuildBundle's steps need, filled in order.
struct BuildContext {
  const TaskRequest& t;
  const TaskDriverConfig& c;
  const PluginConfig& p;
  bool host = false;  // filesystem = "host"
  std::string task_dir, bundle_dir;
  std::map<std::string, std::string> env;  // the task's env as the task sees it
  json mounts = json::array();
  std::vector<MountView> views;
};

// mounts.cc
Result<void> BuildMounts(BuildContext& ctx);
Result<void> CheckUnveilPaths(const BuildContext& ctx, const std::vector<std::string>& unveil);
std::string ResolvConf(const TaskRequest& t);
std::string HostsFile(const TaskRequest& t);
// A container path rewritten for host mode: /alloc, /local, /secrets (as the
// env named them) become the task's host directories.
std::string HostModePath(const BuildContext& ctx, const std::string& path);

// process.cc
Result<json> BuildProcess(const BuildContext& ctx);
Result<json> ResolveUser(const std::string& user);

// linux.cc
Result<json> BuildLinux(const BuildContext& ctx, Bundle& b);
// Nomad's cpuset_cgroup as a cgroupsPath: "/sys/fs/cgroup/nomad.slice/x"
// (v2) and "/sys/fs/cgroup/cpuset/nomad/x" (v1) become "/nomad.slice/x" and "/nomad/x".
Result<std::string> CgroupsPathFor(const std::string& cpuset_cgroup);
// A v1 controller path (/sys/fs/cgroup/cpuset/...): read, never joined.
bool IsV1ControllerPath(const std::string& cpuset_cgroup);
// INVALID_ARGUMENT naming cpuset_cgroup for a path outside /sys/fs/cgroup,
// with "." or "..", a hierarchy root, or a v2 cgroup Nomad shares (a
// .slice: nomad.slice, share.slice, reserve.slice).
Result<void> CheckCpusetCgroup(const std::string& cpuset_cgroup);

}  // namespace sworn::bundle::internal
