// Resources → cgroup files. Where the host offers a controller on cgroup2
// it is used there (runc's conversions for the values); otherwise on v1.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "cgroup/cgroup.h"
#include "cgroup/devices.h"
#include "cgroup/resources.h"
#include "core/log.h"
#include "core/rootless.h"
#include "core/sys.h"

namespace sworn::cgroup {
namespace {

Result<void> Put(const std::string& dir, const std::string& file, const std::string& value) {
  return WithContext(WriteFile(dir + "/" + file, value, O_WRONLY | O_TRUNC), "cgroup " + file + "=" + value);
}

Result<std::string> Need(const CgroupSet& s, const char* controller, const char* field, bool* v2) {
  std::string d = s.Dir(controller, v2);
  if (d.empty() && RootlessCgroups())
    return Fail(MakeError(Errc::kUnsupported, std::string("linux.resources.") + field + ": cannot set a " + controller +
                                                  " limit: the rootless container could not join or create a " +
                                                  controller + " cgroup (no permission)"));
  if (d.empty())
    return Fail(MakeError(Errc::kUnsupported, std::string("linux.resources.") + field + ": the host has no " +
                                                  controller + " cgroup controller"));
  return d;
}

std::string Dev(int64_t maj, int64_t min) { return std::to_string(maj) + ":" + std::to_string(min); }
std::string MaxOr(int64_t v) { return v < 0 ? "max" : std::to_string(v); }

Result<void> ApplyMemory(const Resources& r, const CgroupSet& s) {
  if (!r.mem_limit && !r.mem_reservation && !r.mem_swap && !r.swappiness && !r.disable_oom_killer && !r.mem_kernel_tcp)
    return {};
  bool v2 = false;
  std::string d = SWORN_TRY(Need(s, "memory", "memory", &v2));
  if (v2) {
    // config-linux.md checkBeforeUpdate: v1 refuses a limit below the usage
    // itself; v2 would reclaim, then OOM-kill.
    if (r.mem_check_before_update && r.mem_limit && *r.mem_limit > 0)
      if (auto used = ReadFile(d + "/memory.current"); used && std::stoll(*used) >= *r.mem_limit)
        return Fail(FieldError("linux.resources.memory.limit",
                               std::to_string(*r.mem_limit) + " is below the container's memory usage (" +
                                   Trim(*used) + "), and checkBeforeUpdate is set"));
    if (r.mem_limit) SWORN_TRY(Put(d, "memory.max", MaxOr(*r.mem_limit)));
    if (r.mem_reservation) SWORN_TRY(Put(d, "memory.low", MaxOr(*r.mem_reservation)));
    if (r.mem_swap) SWORN_TRY(Put(d, "memory.swap.max", SWORN_TRY(SwapMaxV2(r.mem_limit, *r.mem_swap))));
    // v2 has no per-cgroup OOM-killer switch; memory.oom.group is the closest
    // and is not what the field means, so it is left alone (as runc does).
    return {};
  }
  // v1 refuses a memory limit above memsw and vice versa: raise in the order
  // that keeps memory <= memsw at every step.
  auto cur = ReadFile(d + "/memory.limit_in_bytes");
  bool raising = r.mem_limit && cur && (*r.mem_limit == -1 || std::stoll(*cur) < *r.mem_limit);
  bool has_memsw = access((d + "/memory.memsw.limit_in_bytes").c_str(), F_OK) == 0;
  if (r.mem_swap && has_memsw && raising) SWORN_TRY(Put(d, "memory.memsw.limit_in_bytes", std::to_string(*r.mem_swap)));
  if (r.mem_limit) SWORN_TRY(Put(d, "memory.limit_in_bytes", std::to_string(*r.mem_limit)));
  if (r.mem_swap && !raising) {
    if (!has_memsw) return Fail(MakeError(Errc::kUnsupported, "linux.resources.memory.swap: the host has no swap accounting"));
    SWORN_TRY(Put(d, "memory.memsw.limit_in_bytes", std::to_string(*r.mem_swap)));
  }
  if (r.mem_reservation) SWORN_TRY(Put(d, "memory.soft_limit_in_bytes", std::to_string(*r.mem_reservation)));
  if (r.mem_kernel_tcp) SWORN_TRY(Put(d, "memory.kmem.tcp.limit_in_bytes", std::to_string(*r.mem_kernel_tcp)));
  if (r.swappiness) SWORN_TRY(Put(d, "memory.swappiness", std::to_string(*r.swappiness)));
  if (r.disable_oom_killer) SWORN_TRY(Put(d, "memory.oom_control", "1"));
  return {};
}

// As runc: a period smaller than the current one can make old_quota/new_period
// exceed the parent's quota, and the kernel refuses it (EINVAL). When a quota
// comes too, it is written first and the period retried after it.
Result<void> ApplyCfsV1(const Resources& r, const std::string& d) {
  bool retry_period = false;
  if (r.cpu_period) {
    auto w = Put(d, "cpu.cfs_period_us", std::to_string(*r.cpu_period));
    if (!w && !(w.error().sys_errno == EINVAL && r.cpu_quota && *r.cpu_quota != 0)) return w;
    retry_period = !w;
  }
  if (r.cpu_quota) SWORN_TRY(Put(d, "cpu.cfs_quota_us", std::to_string(*r.cpu_quota)));
  if (retry_period) SWORN_TRY(Put(d, "cpu.cfs_period_us", std::to_string(*r.cpu_period)));
  return {};
}

Result<void> ApplyCpu(const Resources& r, const CgroupSet& s) {
  if (r.cpu_shares || r.cpu_quota || r.cpu_period || r.cpu_burst || r.cpu_idle || r.rt_runtime || r.rt_period) {
    bool v2 = false;
    std::string d = SWORN_TRY(Need(s, "cpu", "cpu", &v2));
    if (v2) {
      if (r.cpu_shares && *r.cpu_shares) SWORN_TRY(Put(d, "cpu.weight", std::to_string(SharesToWeight(*r.cpu_shares))));
      if (r.cpu_quota || r.cpu_period) {
        std::string q = r.cpu_quota && *r.cpu_quota > 0 ? std::to_string(*r.cpu_quota) : "max";
        SWORN_TRY(Put(d, "cpu.max", q + " " + std::to_string(r.cpu_period.value_or(100000))));
      }
      if (r.cpu_burst) SWORN_TRY(Put(d, "cpu.max.burst", std::to_string(*r.cpu_burst)));
      if (r.cpu_idle) SWORN_TRY(Put(d, "cpu.idle", std::to_string(*r.cpu_idle)));
      if (r.rt_runtime || r.rt_period)
        return Fail(MakeError(Errc::kUnsupported, "linux.resources.cpu.realtimeRuntime: cgroup v2 has no realtime budget"));
    } else {
      if (r.cpu_shares && *r.cpu_shares) SWORN_TRY(Put(d, "cpu.shares", std::to_string(*r.cpu_shares)));
      SWORN_TRY(ApplyCfsV1(r, d));
      if (r.cpu_burst) SWORN_TRY(Put(d, "cpu.cfs_burst_us", std::to_string(*r.cpu_burst)));
      if (r.rt_period) SWORN_TRY(Put(d, "cpu.rt_period_us", std::to_string(*r.rt_period)));
      if (r.rt_runtime) SWORN_TRY(Put(d, "cpu.rt_runtime_us", std::to_string(*r.rt_runtime)));
      if (r.cpu_idle) SWORN_TRY(Put(d, "cpu.idle", std::to_string(*r.cpu_idle)));
    }
  }
  if (!r.cpus.empty()) SWORN_TRY(Put(SWORN_TRY(Need(s, "cpuset", "cpu.cpus", nullptr)), "cpuset.cpus", r.cpus));
  if (!r.mems.empty()) SWORN_TRY(Put(SWORN_TRY(Need(s, "cpuset", "cpu.mems", nullptr)), "cpuset.mems", r.mems));
  return {};
}

Result<void> ApplyBlkio(const Resources& r, const CgroupSet& s) {
  bool any = r.blkio_weight || r.blkio_leaf_weight || !r.weight_devices.empty() || !r.read_bps.empty() ||
             !r.write_bps.empty() || !r.read_iops.empty() || !r.write_iops.empty();
  if (!any) return {};
  bool v2 = false;
  std::string d = s.Dir("io", &v2);
  if (d.empty()) d = SWORN_TRY(Need(s, "blkio", "blockIO", &v2));
  if (v2) {
    if (r.blkio_weight) SWORN_TRY(Put(d, "io.weight", "default " + std::to_string(BlkioToIoWeight(*r.blkio_weight))));
    for (const auto& w : r.weight_devices)
      if (w.weight) SWORN_TRY(Put(d, "io.weight", Dev(w.major, w.minor) + " " + std::to_string(BlkioToIoWeight(*w.weight))));
    auto limit = [&](const std::vector<BlockDevice>& v, const char* key) -> Result<void> {
      for (const auto& b : v) SWORN_TRY(Put(d, "io.max", Dev(b.major, b.minor) + " " + key + "=" + std::to_string(*b.rate)));
      return {};
    };
    SWORN_TRY(limit(r.read_bps, "rbps"));
    SWORN_TRY(limit(r.write_bps, "wbps"));
    SWORN_TRY(limit(r.read_iops, "riops"));
    return limit(r.write_iops, "wiops");
  }
  std::string weight_file = access((d + "/blkio.weight").c_str(), F_OK) == 0 ? "blkio.weight" : "blkio.bfq.weight";
  if (r.blkio_weight) SWORN_TRY(Put(d, weight_file, std::to_string(*r.blkio_weight)));
  if (r.blkio_leaf_weight) SWORN_TRY(Put(d, "blkio.leaf_weight", std::to_string(*r.blkio_leaf_weight)));
  for (const auto& w : r.weight_devices) {
    if (w.weight) SWORN_TRY(Put(d, weight_file + "_device", Dev(w.major, w.minor) + " " + std::to_string(*w.weight)));
    if (w.leaf_weight) SWORN_TRY(Put(d, "blkio.leaf_weight_device", Dev(w.major, w.minor) + " " + std::to_string(*w.leaf_weight)));
  }
  auto throttle = [&](const std::vector<BlockDevice>& v, const char* file) -> Result<void> {
    for (const auto& b : v) SWORN_TRY(Put(d, file, Dev(b.major, b.minor) + " " + std::to_string(*b.rate)));
    return {};
  };
  SWORN_TRY(throttle(r.read_bps, "blkio.throttle.read_bps_device"));
  SWORN_TRY(throttle(r.write_bps, "blkio.throttle.write_bps_device"));
  SWORN_TRY(throttle(r.read_iops, "blkio.throttle.read_iops_device"));
  return throttle(r.write_iops, "blkio.throttle.write_iops_device");
}

Result<void> ApplyRest(const Resources& r, const CgroupSet& s) {
  if (r.pids_limit) {
    std::string d = SWORN_TRY(Need(s, "pids", "pids", nullptr));
    SWORN_TRY(Put(d, "pids.max", *r.pids_limit > 0 ? std::to_string(*r.pids_limit) : "max"));
  }
  for (const auto& [size, limit] : r.hugepage_limits) {
    bool v2 = false;
    std::string d = SWORN_TRY(Need(s, "hugetlb", "hugepageLimits", &v2));
    std::string file = "hugetlb." + size + (v2 ? ".max" : ".limit_in_bytes");
    if (access((d + "/" + file).c_str(), F_OK) < 0)
      return Fail(FieldError("linux.resources.hugepageLimits", "page size " + size + " is not supported by this host"));
    SWORN_TRY(Put(d, file, std::to_string(limit)));
  }
  if (r.net_class_id) SWORN_TRY(Put(SWORN_TRY(Need(s, "net_cls", "network.classID", nullptr)), "net_cls.classid", std::to_string(*r.net_class_id)));
  for (const auto& [iface, prio] : r.net_priorities)
    SWORN_TRY(Put(SWORN_TRY(Need(s, "net_prio", "network.priorities", nullptr)), "net_prio.ifpriomap", iface + " " + std::to_string(prio)));
  for (const auto& [dev, limits] : r.rdma) SWORN_TRY(Put(SWORN_TRY(Need(s, "rdma", "rdma", nullptr)), "rdma.max", dev + " " + limits));
  // As runc: unified is for a cgroup v2 host; on a v1 or hybrid host
  // (whose cgroup2 holds few controllers, if any) it is an invalid configuration.
  if (!r.unified.empty() && access("/sys/fs/cgroup/cgroup.controllers", F_OK) < 0)
    return Fail(FieldError("linux.resources.unified." + r.unified.begin()->first,
                           "invalid configuration: needs a cgroup v2 host, and this host uses cgroup v1"));
  for (const auto& [key, value] : r.unified) {
    if (s.v2.empty()) return Fail(FieldError("linux.resources.unified", "needs cgroup v2, which this host does not mount"));
    if (access((s.v2 + "/" + key).c_str(), F_OK) < 0)
      return Fail(FieldError("linux.resources.unified." + key, "no such file in the container's cgroup (controller not available?)"));
    SWORN_TRY(Put(s.v2, key, value));
  }
  return {};
}

}  // namespace

uint64_t SharesToWeight(uint64_t shares) { return shares == 0 ? 0 : 1 + ((shares - 2) * 9999) / 262142; }
uint64_t BlkioToIoWeight(uint64_t w) { return w == 0 ? 0 : 1 + (w - 10) * 9999 / 990; }

Result<std::string> SwapMaxV2(std::optional<int64_t> limit, int64_t swap) {
  if (swap == -1) return std::string("max");
  if (!limit || *limit == -1)
    return Fail(FieldError("linux.resources.memory.swap", "a swap limit needs a memory limit on cgroup v2"));
  return std::to_string(swap - *limit);
}

std::string CgroupSet::Dir(const std::string& controller, bool* v2_out) const {
  if (!v2.empty() && std::find(v2_controllers.begin(), v2_controllers.end(), controller) != v2_controllers.end()) {
    if (v2_out) *v2_out = true;
    return v2;
  }
  if (v2_out) *v2_out = false;
  auto it = v1.find(controller);
  return it == v1.end() ? "" : it->second;
}

Result<CgroupSet> ResolveSet(const std::vector<std::string>& dirs) {
  CgroupSet s;
  auto hs = SWORN_TRY(Discover());
  for (const auto& dir : dirs) {
    for (const auto& h : hs) {
      if (!StartsWith(dir, h.mount + "/") && dir != h.mount) continue;
      if (h.v2) {
        s.v2 = dir;
        auto ctl = ReadFile(dir + "/cgroup.controllers");
        if (ctl)
          for (const auto& c : Split(Trim(*ctl), ' '))
            if (!c.empty()) s.v2_controllers.push_back(c);
      } else {
        for (const auto& c : Split(h.controllers, ',')) s.v1[c] = dir;
      }
    }
  }
  return s;
}

Result<void> ApplyDeviceRules(const Resources& r, const CgroupSet& s) {
  if (!r.has_devices) return {};
  // Rootless, device rules are not expected to work (the v1 devices
  // controller and cgroup2 device programs need privilege), as in runc;
  // the kernel still keeps the user from nodes it may not open.
  auto dev = ApplyDevices(r.devices, s);
  if (!dev && !RootlessCgroups()) return dev;
  if (!dev) log::Debug("rootless: device rules not applied: " + dev.error().Message());
  return {};
}

Result<void> Apply(const Resources& r, const CgroupSet& s, bool devices) {
  SWORN_TRY(ApplyMemory(r, s));
  SWORN_TRY(ApplyCpu(r, s));
  SWORN_TRY(ApplyBlkio(r, s));
  SWORN_TRY(ApplyRest(r, s));
  if (devices) SWORN_TRY(ApplyDeviceRules(r, s));
  return {};
}

}  // namespace sworn::cgroup
