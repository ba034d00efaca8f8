// config.json's linux object: namespaces, devices, cgroup placement and
// resource limits.
#include <cctype>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <set>

#include "bundle/internal.h"
#include "core/sys.h"

namespace sworn::bundle::internal {
namespace {

constexpr int64_t kMiB = 1024 * 1024;

// Directory names under /sys/fs/cgroup that are a v1 (or hybrid) hierarchy's
// mount point rather than a cgroup: "cpuset", "cpu,cpuacct", "unified".
bool IsHierarchyMount(const std::string& dir) {
  static const std::set<std::string> kNames = {"blkio",   "cpu",    "cpuacct", "cpuset",  "devices",  "freezer",
                                               "hugetlb", "memory", "misc",    "net_cls", "net_prio", "perf_event",
                                               "pids",    "rdma",   "systemd", "unified"};
  auto parts = Split(dir, ',');
  return !dir.empty() &&
         std::all_of(parts.begin(), parts.end(), [](const std::string& p) { return kNames.contains(p); });
}

Result<std::string> ModeFor(const std::string& task, const std::string& plugin_default, bool allowed, const char* field,
                            const char* allow_field) {
  if (task == "host" && !allowed)
    return Fail(FieldError(field, std::string("\"host\" is not allowed by the plugin (") + allow_field + " = false)"));
  return task.empty() ? plugin_default : task;
}

Result<json> Namespaces(const BuildContext& ctx) {
  std::string pid =
      SWORN_TRY(ModeFor(ctx.c.pid_mode, ctx.p.default_pid_mode, ctx.p.allow_host_pid, "pid_mode", "allow_host_pid"));
  std::string ipc =
      SWORN_TRY(ModeFor(ctx.c.ipc_mode, ctx.p.default_ipc_mode, ctx.p.allow_host_ipc, "ipc_mode", "allow_host_ipc"));
  json ns = json::array();
  if (pid != "host") ns.push_back({{"type", "pid"}});
  // No netns path: the task shares the host's network, as exec's host mode.
  if (!ctx.t.netns_path.empty()) ns.push_back({{"type", "network"}, {"path", ctx.t.netns_path}});
  if (ipc != "host") ns.push_back({{"type", "ipc"}});
  if (!ctx.t.hostname.empty()) ns.push_back({{"type", "uts"}});
  ns.push_back({{"type", "mount"}});
  ns.push_back({{"type", "cgroup"}});
  return ns;
}

Result<std::string> CgroupAccess(const std::string& perms, const std::string& field) {
  if (perms.empty()) return std::string("rwm");
  for (size_t i = 0; i < perms.size(); ++i)
    if (!std::string_view("rwm").contains(perms[i]) || perms.find(perms[i]) != i)
      return Fail(FieldError(field, "expected letters from \"rwm\", got \"" + perms + "\""));
  return perms;
}

// linux.devices (the node sworn creates) and the cgroup rule allowing it.
Result<void> AddDevices(const BuildContext& ctx, json& linux) {
  json& rules = linux["resources"]["devices"];
  rules = json::array({{{"allow", false}, {"access", "rwm"}}});
  for (size_t i = 0; i < ctx.t.devices.size(); ++i) {
    const Device& d = ctx.t.devices[i];
    std::string field = "devices[" + std::to_string(i) + "]";
    struct stat st;
    if (stat(d.host_path.c_str(), &st) < 0) return Fail(SysError(field + ".host_path: stat", d.host_path));
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
      return Fail(FieldError(field + ".host_path", d.host_path + " is not a device"));
    std::string type = S_ISCHR(st.st_mode) ? "c" : "b";
    std::string access = SWORN_TRY(CgroupAccess(d.cgroup_permissions, field + ".cgroup_permissions"));
    std::string path = d.task_path.empty() ? d.host_path : d.task_path;
    if (path[0] != '/') path = "/" + path;
    int64_t major = major(st.st_rdev), minor = minor(st.st_rdev);
    if (!ctx.host) {
      linux["devices"].push_back({{"path", path},
                                  {"type", type},
                                  {"major", major},
                                  {"minor", minor},
                                  {"fileMode", st.st_mode & 0777},
                                  {"uid", 0},
                                  {"gid", 0}});
    } else if (path != d.host_path) {
      // The host's /dev is the task's: a node elsewhere would be made on the host.
      return Fail(FieldError(field + ".task_path", "must equal host_path with filesystem = \"host\""));
    }
    rules.push_back({{"allow", true}, {"type", type}, {"major", major}, {"minor", minor}, {"access", access}});
  }
  return {};
}

void AddLimits(const TaskRequest& t, json& resources) {
  if (t.memory_max_mb > 0) {
    resources["memory"] = {{"limit", t.memory_max_mb * kMiB}};
    if (t.memory_mb > 0) resources["memory"]["reservation"] = t.memory_mb * kMiB;
  } else if (t.memory_mb > 0) {
    resources["memory"] = {{"limit", t.memory_mb * kMiB}};
  }
  if (t.cpu_shares >= 2) resources["cpu"]["shares"] = t.cpu_shares;
  // Nomad keeps re-partitioning the cpuset of a cgroup it made: leave it.
  if (t.cpuset_cgroup.empty() && !t.cpuset_cpus.empty()) resources["cpu"]["cpus"] = t.cpuset_cpus;
}

}  // namespace

// Nomad 1.6 on cgroup v1 hands every task without reserved cores the same
// shared cpuset cgroup (<parent>/shared): one cgroup per v1 hierarchy
// cannot hold them all (limits and stats would mix, and the first task to
// exit would kill the rest). Such a path gives only the cpus to copy.
bool IsV1ControllerPath(const std::string& cpuset_cgroup) {
  std::string p = TrimSlashes(cpuset_cgroup);
  const std::string mnt = "/sys/fs/cgroup";
  if (!IsUnder(p, mnt)) return false;
  auto parts = Split(p.substr(mnt.size()), '/');
  return parts.size() > 1 && parts[1] != "unified" && IsHierarchyMount(parts[1]);
}

Result<std::string> CgroupsPathFor(const std::string& cpuset_cgroup) {
  std::string p = TrimSlashes(cpuset_cgroup);
  const std::string mnt = "/sys/fs/cgroup";
  if (IsUnder(p, mnt)) {
    p.erase(0, mnt.size());
    auto parts = Split(p, '/');  // "", first, ...
    if (parts.size() > 1 && IsHierarchyMount(parts[1])) p.erase(0, 1 + parts[1].size());
  }
  if (!p.empty() && p[0] != '/') p = "/" + p;
  for (const auto& part : Split(p, '/'))
    if (part == "." || part == "..") return Fail(FieldError("cpuset_cgroup", "must not contain \".\" or \"..\""));
  if (p.empty() || p == "/")
    return Fail(FieldError("cpuset_cgroup", "\"" + cpuset_cgroup + "\" names no cgroup below the root"));
  return p;
}

Result<json> BuildLinux(const BuildContext& ctx, Bundle& b) {
  json linux = {
      {"namespaces", SWORN_TRY(Namespaces(ctx))},
      {"devices", json::array()},
      {"resources", json::object()},
      {"maskedPaths",
       {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"}},
      {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}},
  };
  SWORN_TRY(AddDevices(ctx, linux));
  AddLimits(ctx.t, linux["resources"]);
  if (!ctx.t.cpuset_cgroup.empty() && IsV1ControllerPath(ctx.t.cpuset_cgroup)) {
    // A snapshot: later re-partitioning by Nomad does not reach this task.
    auto cpus = ReadFile(TrimSlashes(ctx.t.cpuset_cgroup) + "/cpuset.cpus");
    std::string c = cpus ? *cpus : ctx.t.cpuset_cpus;
    while (!c.empty() && std::isspace(static_cast<unsigned char>(c.back()))) c.pop_back();
    if (!c.empty()) linux["resources"]["cpu"]["cpus"] = c;
  }
  if (!ctx.t.cpuset_cgroup.empty() && !IsV1ControllerPath(ctx.t.cpuset_cgroup)) {
    b.cgroups_path = SWORN_TRY(CgroupsPathFor(ctx.t.cpuset_cgroup));
    b.reuse_cgroup = true;
  } else {
    std::string parent = TrimSlashes(ctx.p.cgroup_parent);
    if (parent.empty() || parent[0] != '/') parent = "/" + parent;
    b.cgroups_path = (parent == "/" ? "" : parent) + "/" + b.container_id;
  }
  linux["cgroupsPath"] = b.cgroups_path;
  if (linux["devices"].empty()) linux.erase("devices");
  return linux;
}

}  // namespace sworn::bundle::internal
