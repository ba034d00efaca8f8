// linux.resources, typed and validated, and written to cgroup v2 or v1
// files. The same writer serves `create` and `update`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace sworn::cgroup {

struct DeviceRule {
  bool allow = false;
  char type = 'a';           // a, c, b
  int64_t major = -1, minor = -1;  // -1: any
  std::string access = "rwm";
};

struct BlockDevice {
  int64_t major = 0, minor = 0;
  std::optional<uint64_t> weight, leaf_weight, rate;
};

struct Resources {
  // memory (bytes; -1 = unlimited)
  std::optional<int64_t> mem_limit, mem_reservation, mem_swap, mem_kernel_tcp;
  std::optional<uint64_t> swappiness;
  bool disable_oom_killer = false;
  bool mem_check_before_update = false;  // refuse a limit below the usage (v2)
  // cpu
  std::optional<uint64_t> cpu_shares, cpu_period, cpu_burst, rt_period;
  std::optional<int64_t> cpu_quota, rt_runtime, cpu_idle;
  std::string cpus, mems;
  // pids (<= 0: unlimited)
  std::optional<int64_t> pids_limit;
  // block io
  std::optional<uint64_t> blkio_weight, blkio_leaf_weight;
  std::vector<BlockDevice> weight_devices, read_bps, write_bps, read_iops, write_iops;
  // hugetlb: page size ("2MB") → limit in bytes
  std::map<std::string, uint64_t> hugepage_limits;
  std::vector<DeviceRule> devices;
  bool has_devices = false;
  std::optional<uint32_t> net_class_id;
  std::map<std::string, uint32_t> net_priorities;
  std::map<std::string, std::string> rdma;  // device → "hca_handle=N hca_object=M"
  std::map<std::string, std::string> unified;
};

// Parses linux.resources; `field` prefixes errors ("linux.resources").
Result<Resources> ParseResources(const nlohmann::json& j, const std::string& field = "linux.resources");
// Overlays `update` onto `base` (for `sworn update`): set fields win.
void Merge(Resources& base, const Resources& update);

// The container's cgroup directories by controller.
struct CgroupSet {
  std::string v2;                           // cgroup2 dir, if any
  std::vector<std::string> v2_controllers;  // enabled for it
  std::map<std::string, std::string> v1;    // controller → dir
  // The dir that serves `controller`: cgroup2 when it has it, else v1.
  std::string Dir(const std::string& controller, bool* v2_out = nullptr) const;
};
Result<CgroupSet> ResolveSet(const std::vector<std::string>& dirs);

// Limits, and the device rules unless devices is false (then
// ApplyDeviceRules must follow before the container's program runs).
Result<void> Apply(const Resources& r, const CgroupSet& set, bool devices = true);
Result<void> ApplyDeviceRules(const Resources& r, const CgroupSet& set);

// runc's conversions from v1 values to v2 files.
uint64_t SharesToWeight(uint64_t shares);
uint64_t BlkioToIoWeight(uint64_t weight);
// memory.swap.max from the v1-style total (memory + swap); -1 = max.
Result<std::string> SwapMaxV2(std::optional<int64_t> limit, int64_t swap);

}  // namespace sworn::cgroup
