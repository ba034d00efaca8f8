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

// Nomad 1.7+'s per-task scope below the reserved-cores partition on v2.
// It starts empty and would inherit reserve.slice, i.e. every alloc's
// reserved cores: the driver pins it (as exec does through libcontainer).
bool IsReserveScope(const std::string& cpuset_cgroup) {
  auto parts = Split(TrimSlashes(cpuset_cgroup), '/');
  return parts.size() >= 2 && parts[parts.size() - 2] == "reserve.slice";
}

void AddLimits(const TaskRequest& t, json& resources) {
  // Nomad 2.0's memory_max = -1: no hard limit, memory_mb is only reserved.
  if (t.memory_max_mb < 0) {
    resources["memory"] = {{"limit", -1}};
    if (t.memory_mb > 0) resources["memory"]["reservation"] = t.memory_mb * kMiB;
  } else if (t.memory_max_mb > 0) {
    resources["memory"] = {{"limit", t.memory_max_mb * kMiB}};
    if (t.memory_mb > 0) resources["memory"]["reservation"] = t.memory_mb * kMiB;
  } else if (t.memory_mb > 0) {
    resources["memory"] = {{"limit", t.memory_mb * kMiB}};
  }
  if (t.cpu_shares >= 2) resources["cpu"]["shares"] = t.cpu_shares;
  if (t.cpuset_cpus.empty()) return;
  // A 1.6 scope (nomad.slice/<a>.<t>.scope) and 1.7+'s share.slice scopes
  // have cpus Nomad re-partitions live: leave them. A v1 path is only read
  // (the task's cgroups are the plugin's own), so the cores are ours to set.
  if (t.cpuset_cgroup.empty() || IsReserveScope(t.cpuset_cgroup) || IsV1ControllerPath(t.cpuset_cgroup))
    resources["cpu"]["cpus"] = t.cpuset_cpus;
}

// Cgroups Nomad shares between tasks or makes as parents: a task placed in
// one (and `sworn delete` after it) would write, kill or remove them.
bool IsSharedNomadCgroup(const std::vector<std::string>& parts) {
  static const std::set<std::string> kV2 = {"nomad.slice", "share.slice", "reserve.slice", "init.scope"};
  const std::string& leaf = parts.back();
  return kV2.contains(leaf) || leaf.ends_with(".slice");
}

}  // namespace

// Refused before anything is created: a path outside /sys/fs/cgroup, with
// "." or "..", naming a hierarchy root, or (v2) a parent or shared cgroup.
Result<void> CheckCpusetCgroup(const std::string& cpuset_cgroup) {
  if (cpuset_cgroup.empty()) return {};
  auto bad = [&](const std::string& why) {
    return Fail(FieldError("cpuset_cgroup", "\"" + cpuset_cgroup + "\" " + why));
  };
  for (const auto& part : Split(cpuset_cgroup, '/'))
    if (part == "." || part == "..") return bad("must not contain \".\" or \"..\"");
  std::string p = TrimSlashes(cpuset_cgroup);
  const std::string mnt = "/sys/fs/cgroup";
  if (!IsUnder(p, mnt) || p == mnt) return bad("is not a cgroup below /sys/fs/cgroup");
  std::vector<std::string> parts;
  for (auto& s : Split(p.substr(mnt.size()), '/'))
    if (!s.empty()) parts.push_back(s);
  bool v1 = IsHierarchyMount(parts[0]);
  if (v1) parts.erase(parts.begin());
  if (parts.empty()) return bad("names a hierarchy root, not a task's cgroup");
  if (!IsV1ControllerPath(cpuset_cgroup) && IsSharedNomadCgroup(parts))
    return bad("names a cgroup shared by many tasks; the plugin must not place a task in it");
  return {};
}

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
  SWORN_TRY(CheckCpusetCgroup(ctx.t.cpuset_cgroup));
  SWORN_TRY(AddDevices(ctx, linux));
  AddLimits(ctx.t, linux["resources"]);
  if (ctx.t.cpuset_cpus.empty() && !ctx.t.cpuset_cgroup.empty() && IsV1ControllerPath(ctx.t.cpuset_cgroup)) {
    // A snapshot of the shared pool (1.6 "shared", 1.7+ "share"): later
    // re-partitioning does not reach this task, whose cgroups are its own.
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
