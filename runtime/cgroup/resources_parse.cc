#include "cgroup/resources.h"
#include "core/log.h"
#include "spec/json_field.h"

namespace sworn::cgroup {
namespace {

using nlohmann::json;
using spec::Get;
using spec::GetUint;
using spec::Idx;
using spec::Member;
using spec::Sub;

constexpr int64_t kMinMemoryLimit = 6 << 20;

Result<void> GetInt(const json& o, const char* k, const std::string& p, std::optional<int64_t>& out) {
  if (!Member(o, k)) return {};
  int64_t v = 0;
  SWORN_TRY(Get(o, k, p, v));
  out = v;
  return {};
}

// Interface and device names go into "NAME VALUE" lines of net_prio and
// rdma files: a space, newline or NUL would smuggle in another entry.
Result<void> CheckToken(const std::string& name, const std::string& field) {
  bool ok = !name.empty();
  for (unsigned char c : name) ok &= c > 0x20 && c != 0x7f;
  if (ok) return {};
  return Fail(FieldError(field, "\"" + name + "\" is not a device name (empty, or has spaces or control characters)"));
}

Result<void> ParseMemory(const json& j, const std::string& p, Resources& r) {
  SWORN_TRY(spec::ExpectType(j, json::value_t::object, p));
  SWORN_TRY(GetInt(j, "limit", p, r.mem_limit));
  SWORN_TRY(GetInt(j, "reservation", p, r.mem_reservation));
  SWORN_TRY(GetInt(j, "swap", p, r.mem_swap));
  SWORN_TRY(GetInt(j, "kernelTCP", p, r.mem_kernel_tcp));
  SWORN_TRY(GetUint(j, "swappiness", p, r.swappiness));
  if (r.swappiness && *r.swappiness > 100) return Fail(FieldError(Sub(p, "swappiness"), "must be 0..100"));
  SWORN_TRY(Get(j, "disableOOMKiller", p, r.disable_oom_killer));
  SWORN_TRY(Get(j, "checkBeforeUpdate", p, r.mem_check_before_update));
  for (auto* v : {&r.mem_limit, &r.mem_reservation, &r.mem_swap})
    if (*v && **v < -1) return Fail(FieldError(p, "memory values must be -1 (unlimited) or positive"));
  // Below a few MiB the runtime's own init is OOM-killed before it can
  // report anything; Docker refuses under 6 MiB for the same reason.
  if (r.mem_limit && *r.mem_limit != -1 && *r.mem_limit < kMinMemoryLimit)
    return Fail(FieldError(Sub(p, "limit"), std::to_string(*r.mem_limit) + " bytes is too small: the limit must be at least " +
                                                std::to_string(kMinMemoryLimit) + " (6 MiB), or -1 for unlimited"));
  if (r.mem_limit && r.mem_swap && *r.mem_swap != -1 && *r.mem_limit != -1 && *r.mem_swap < *r.mem_limit)
    return Fail(FieldError(Sub(p, "swap"), "must be at least memory.limit (it counts memory plus swap)"));
  return {};
}

Result<void> ParseCpu(const json& j, const std::string& p, Resources& r) {
  SWORN_TRY(spec::ExpectType(j, json::value_t::object, p));
  SWORN_TRY(GetUint(j, "shares", p, r.cpu_shares));
  SWORN_TRY(GetInt(j, "quota", p, r.cpu_quota));
  SWORN_TRY(GetUint(j, "period", p, r.cpu_period));
  SWORN_TRY(GetUint(j, "burst", p, r.cpu_burst));
  SWORN_TRY(GetInt(j, "realtimeRuntime", p, r.rt_runtime));
  SWORN_TRY(GetUint(j, "realtimePeriod", p, r.rt_period));
  SWORN_TRY(GetInt(j, "idle", p, r.cpu_idle));
  SWORN_TRY(Get(j, "cpus", p, r.cpus));
  SWORN_TRY(Get(j, "mems", p, r.mems));
  if (r.cpu_shares && *r.cpu_shares != 0 && (*r.cpu_shares < 2 || *r.cpu_shares > 262144))
    return Fail(FieldError(Sub(p, "shares"), "must be within 2..262144"));
  if (r.cpu_period && *r.cpu_period != 0 && (*r.cpu_period < 1000 || *r.cpu_period > 1000000))
    return Fail(FieldError(Sub(p, "period"), "must be within 1000..1000000 (microseconds)"));
  if (r.cpu_quota && *r.cpu_quota > 0 && *r.cpu_quota < 1000)
    return Fail(FieldError(Sub(p, "quota"), "must be at least 1000 microseconds, or -1"));
  if (r.cpu_idle && *r.cpu_idle != 0 && *r.cpu_idle != 1) return Fail(FieldError(Sub(p, "idle"), "must be 0 or 1"));
  return {};
}

Result<std::vector<BlockDevice>> ParseBlockList(const json& j, const char* key, const std::string& p, bool weights) {
  std::vector<BlockDevice> out;
  const json* a = Member(j, key);
  if (!a) return out;
  std::string path = Sub(p, key);
  SWORN_TRY(spec::ExpectType(*a, json::value_t::array, path));
  for (size_t i = 0; i < a->size(); ++i) {
    std::string e = Idx(path, i);
    SWORN_TRY(spec::ExpectType((*a)[i], json::value_t::object, e));
    BlockDevice d;
    SWORN_TRY(Get((*a)[i], "major", e, d.major));
    SWORN_TRY(Get((*a)[i], "minor", e, d.minor));
    if (d.major < 0 || d.minor < 0) return Fail(FieldError(e, "major and minor must not be negative"));
    if (weights) {
      SWORN_TRY(GetUint((*a)[i], "weight", e, d.weight));
      SWORN_TRY(GetUint((*a)[i], "leafWeight", e, d.leaf_weight));
    } else {
      if (!Member((*a)[i], "rate")) return Fail(FieldError(Sub(e, "rate"), "is required"));
      SWORN_TRY(GetUint((*a)[i], "rate", e, d.rate));
    }
    out.push_back(d);
  }
  return out;
}

Result<void> ParseBlockIO(const json& j, const std::string& p, Resources& r) {
  SWORN_TRY(spec::ExpectType(j, json::value_t::object, p));
  SWORN_TRY(GetUint(j, "weight", p, r.blkio_weight));
  SWORN_TRY(GetUint(j, "leafWeight", p, r.blkio_leaf_weight));
  if (r.blkio_weight && *r.blkio_weight != 0 && (*r.blkio_weight < 10 || *r.blkio_weight > 1000))
    return Fail(FieldError(Sub(p, "weight"), "must be within 10..1000"));
  r.weight_devices = SWORN_TRY(ParseBlockList(j, "weightDevice", p, true));
  r.read_bps = SWORN_TRY(ParseBlockList(j, "throttleReadBpsDevice", p, false));
  r.write_bps = SWORN_TRY(ParseBlockList(j, "throttleWriteBpsDevice", p, false));
  r.read_iops = SWORN_TRY(ParseBlockList(j, "throttleReadIOPSDevice", p, false));
  r.write_iops = SWORN_TRY(ParseBlockList(j, "throttleWriteIOPSDevice", p, false));
  return {};
}

Result<void> ParseDevices(const json& a, const std::string& p, Resources& r) {
  SWORN_TRY(spec::ExpectType(a, json::value_t::array, p));
  r.has_devices = true;
  for (size_t i = 0; i < a.size(); ++i) {
    std::string e = Idx(p, i);
    SWORN_TRY(spec::ExpectType(a[i], json::value_t::object, e));
    DeviceRule d;
    std::string type = "a";
    if (!Member(a[i], "allow")) return Fail(FieldError(Sub(e, "allow"), "is required"));
    SWORN_TRY(Get(a[i], "allow", e, d.allow));
    SWORN_TRY(Get(a[i], "type", e, type));
    if (type != "a" && type != "b" && type != "c")
      return Fail(FieldError(Sub(e, "type"), "must be a, b or c; got \"" + type + "\""));
    d.type = type[0];
    SWORN_TRY(Get(a[i], "major", e, d.major));
    SWORN_TRY(Get(a[i], "minor", e, d.minor));
    if (d.major < -1 || d.minor < -1 || d.major > 0xfff || d.minor > 0xfffff)
      return Fail(FieldError(e, "major/minor out of range"));
    SWORN_TRY(Get(a[i], "access", e, d.access));
    if (d.access.empty() || d.access.find_first_not_of("rwm") != std::string::npos)
      return Fail(FieldError(Sub(e, "access"), "must be a combination of r, w, m; got \"" + d.access + "\""));
    r.devices.push_back(d);
  }
  return {};
}

Result<void> ParseHugepages(const json& a, const std::string& p, Resources& r) {
  SWORN_TRY(spec::ExpectType(a, json::value_t::array, p));
  for (size_t i = 0; i < a.size(); ++i) {
    std::string e = Idx(p, i);
    SWORN_TRY(spec::ExpectType(a[i], json::value_t::object, e));
    std::string size;
    uint64_t limit = 0;
    SWORN_TRY(Get(a[i], "pageSize", e, size));
    SWORN_TRY(GetUint(a[i], "limit", e, limit));
    if (size.empty() || size.find_first_not_of("0123456789KMGB") != std::string::npos)
      return Fail(FieldError(Sub(e, "pageSize"), "expected a size like 2MB or 1GB, got \"" + size + "\""));
    r.hugepage_limits[size] = limit;
  }
  return {};
}

Result<void> ParseMaps(const json& j, const std::string& p, Resources& r) {
  if (const json* n = Member(j, "network")) {
    std::string np = Sub(p, "network");
    SWORN_TRY(spec::ExpectType(*n, json::value_t::object, np));
    SWORN_TRY(GetUint(*n, "classID", np, r.net_class_id));
    if (const json* pr = Member(*n, "priorities")) {
      SWORN_TRY(spec::ExpectType(*pr, json::value_t::array, Sub(np, "priorities")));
      for (size_t i = 0; i < pr->size(); ++i) {
        std::string name;
        uint32_t prio = 0;
        std::string e = Idx(Sub(np, "priorities"), i);
        SWORN_TRY(Get((*pr)[i], "name", e, name));
        SWORN_TRY(CheckToken(name, Sub(e, "name")));
        SWORN_TRY(GetUint((*pr)[i], "priority", e, prio));
        r.net_priorities[name] = prio;
      }
    }
  }
  if (const json* rd = Member(j, "rdma")) {
    SWORN_TRY(spec::ExpectType(*rd, json::value_t::object, Sub(p, "rdma")));
    for (auto it = rd->begin(); it != rd->end(); ++it) {
      std::string e = Sub(p, "rdma") + "." + it.key();
      SWORN_TRY(CheckToken(it.key(), e));
      uint32_t h = 0, o = 0;
      SWORN_TRY(GetUint(*it, "hcaHandles", e, h));
      SWORN_TRY(GetUint(*it, "hcaObjects", e, o));
      r.rdma[it.key()] = "hca_handle=" + std::to_string(h) + " hca_object=" + std::to_string(o);
    }
  }
  if (const json* u = Member(j, "unified")) {
    SWORN_TRY(spec::ExpectType(*u, json::value_t::object, Sub(p, "unified")));
    for (auto it = u->begin(); it != u->end(); ++it) {
      std::string e = Sub(p, "unified") + "." + it.key();
      SWORN_TRY(spec::ExpectType(*it, json::value_t::string, e));
      SWORN_TRY(spec::CheckNoNul(it->get_ref<const std::string&>(), e));
      const std::string& k = it.key();
      if (k.find('/') != std::string::npos || k.find('.') == std::string::npos || k[0] == '.')
        return Fail(FieldError(e, "not a cgroup v2 file name (expected controller.file)"));
      r.unified[k] = it->get<std::string>();
    }
  }
  return {};
}

}  // namespace

Result<Resources> ParseResources(const json& j, const std::string& p) {
  Resources r;
  if (j.is_null()) return r;
  SWORN_TRY(spec::ExpectType(j, json::value_t::object, p));
  static const char* kKnown[] = {"memory", "cpu", "pids", "blockIO", "hugepageLimits", "devices",
                                 "network", "rdma", "unified"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (const char* k : kKnown) known |= it.key() == k;
    // config.md, Extensibility: unknown properties MUST be ignored (runc's
    // own tests write linux.resources.CPU).
    if (!known) log::Warn(Sub(p, it.key().c_str()) + ": unknown property, ignored");
  }
  if (const json* m = Member(j, "memory")) SWORN_TRY(ParseMemory(*m, Sub(p, "memory"), r));
  if (const json* c = Member(j, "cpu")) SWORN_TRY(ParseCpu(*c, Sub(p, "cpu"), r));
  if (const json* pid = Member(j, "pids")) {
    SWORN_TRY(spec::ExpectType(*pid, json::value_t::object, Sub(p, "pids")));
    SWORN_TRY(GetInt(*pid, "limit", Sub(p, "pids"), r.pids_limit));
  }
  if (const json* b = Member(j, "blockIO")) SWORN_TRY(ParseBlockIO(*b, Sub(p, "blockIO"), r));
  if (const json* h = Member(j, "hugepageLimits")) SWORN_TRY(ParseHugepages(*h, Sub(p, "hugepageLimits"), r));
  if (const json* d = Member(j, "devices")) SWORN_TRY(ParseDevices(*d, Sub(p, "devices"), r));
  SWORN_TRY(ParseMaps(j, p, r));
  return r;
}

void Merge(Resources& b, const Resources& u) {
  auto take = [](auto& dst, const auto& src) {
    if (src) dst = src;
  };
  take(b.mem_limit, u.mem_limit);
  take(b.mem_reservation, u.mem_reservation);
  take(b.mem_swap, u.mem_swap);
  take(b.mem_kernel_tcp, u.mem_kernel_tcp);
  b.mem_check_before_update |= u.mem_check_before_update;
  take(b.swappiness, u.swappiness);
  take(b.cpu_shares, u.cpu_shares);
  take(b.cpu_period, u.cpu_period);
  take(b.cpu_burst, u.cpu_burst);
  take(b.rt_period, u.rt_period);
  take(b.cpu_quota, u.cpu_quota);
  take(b.rt_runtime, u.rt_runtime);
  take(b.cpu_idle, u.cpu_idle);
  take(b.pids_limit, u.pids_limit);
  take(b.blkio_weight, u.blkio_weight);
  take(b.blkio_leaf_weight, u.blkio_leaf_weight);
  if (!u.cpus.empty()) b.cpus = u.cpus;
  if (!u.mems.empty()) b.mems = u.mems;
  for (const auto& [k, v] : u.unified) b.unified[k] = v;
  for (const auto& [k, v] : u.hugepage_limits) b.hugepage_limits[k] = v;
  for (auto pair : {std::pair{&b.read_bps, &u.read_bps}, std::pair{&b.write_bps, &u.write_bps},
                     std::pair{&b.read_iops, &u.read_iops}, std::pair{&b.write_iops, &u.write_iops},
                     std::pair{&b.weight_devices, &u.weight_devices}})
    if (!pair.second->empty()) *pair.first = *pair.second;
}

}  // namespace sworn::cgroup
