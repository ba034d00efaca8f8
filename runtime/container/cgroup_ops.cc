// ps, pause, resume, update, events: the verbs that work on the cgroup.
#include "cgroup/cgroup.h"
#include "cgroup/devices.h"
#include "cgroup/resources.h"
#include "cgroup/stats.h"
#include "cgroup/systemd.h"
#include "container/container.h"

namespace sworn::container {
namespace {

using state::Status;

Result<std::pair<state::ContainerState, cgroup::CgroupSet>> Load(const std::string& root, const std::string& id,
                                                                 Status* status, bool lock) {
  auto dir = SWORN_TRY(state::ContainerDir::Open(root, id, lock));
  auto st = SWORN_TRY(dir.Load());
  *status = dir.CurrentStatus(st);
  auto set = SWORN_TRY(cgroup::ResolveSet(st.cgroup_dirs));
  return std::pair{std::move(st), std::move(set)};
}

Error WrongState(const char* verb, const std::string& id, Status s) {
  return MakeError(Errc::kBadState,
                   std::string("cannot ") + verb + " container \"" + id + "\": it is " + state::StatusName(s));
}

// linux.devices of the stored config (validated at create): their nodes stay
// allowed when an update replaces the device rules, as create allowed them.
std::vector<spec::Device> ConfigDeviceNodes(const nlohmann::json& config) {
  std::vector<spec::Device> out;
  auto devs = config.value("/linux/devices"_json_pointer, nlohmann::json::array());
  for (const auto& d : devs) {
    if (!d.is_object()) continue;
    spec::Device n;
    std::string type = d.value("type", std::string("c"));
    n.type = type.empty() ? 'c' : type[0];
    n.major = d.value("major", int64_t{0});
    n.minor = d.value("minor", int64_t{0});
    out.push_back(n);
  }
  return out;
}

}  // namespace

Result<std::vector<pid_t>> Pids(const std::string& root, const std::string& id) {
  Status s;
  auto [st, set] = SWORN_TRY(Load(root, id, &s, false));
  if (s == Status::kStopped) return std::vector<pid_t>{};
  return cgroup::Pids(st.cgroup_dirs);
}

Result<void> Pause(const std::string& root, const std::string& id) {
  Status s;
  auto [st, set] = SWORN_TRY(Load(root, id, &s, true));
  if (s != Status::kRunning && s != Status::kCreated) return Fail(WrongState("pause", id, s));
  return cgroup::Freeze(set, true);
}

Result<void> Resume(const std::string& root, const std::string& id) {
  Status s;
  auto [st, set] = SWORN_TRY(Load(root, id, &s, true));
  if (s != Status::kPaused) return Fail(WrongState("resume", id, s));
  return cgroup::Freeze(set, false);
}

Result<void> Update(const std::string& root, const std::string& id, const nlohmann::json& update) {
  auto dir = SWORN_TRY(state::ContainerDir::Open(root, id));
  auto st = SWORN_TRY(dir.Load());
  Status s = dir.CurrentStatus(st);
  if (s == Status::kStopped || s == Status::kCreating) return Fail(WrongState("update", id, s));
  auto res = SWORN_TRY(cgroup::ParseResources(update, "resources"));
  // memory.swap on v1 is memory+swap: an update of the limit alone must be
  // checked against the limit already in force, so merge with the stored one.
  nlohmann::json stored = st.config.value("/linux/resources"_json_pointer, nlohmann::json::object());
  auto base = SWORN_TRY(cgroup::ParseResources(stored));
  cgroup::Merge(base, res);
  if (base.mem_limit && base.mem_swap && *base.mem_swap != -1 && *base.mem_limit != -1 && *base.mem_swap < *base.mem_limit)
    return Fail(FieldError("resources.memory.swap", "must be at least the memory limit (" +
                                                        std::to_string(*base.mem_limit) + ")"));
  if (res.mem_swap && !res.mem_limit) res.mem_limit = base.mem_limit;
  res.mem_check_before_update = base.mem_check_before_update;
  auto set = SWORN_TRY(cgroup::ResolveSet(st.cgroup_dirs));
  // As runc: systemd is told first (else it would write its own, older
  // values back over the files at its next reload), with every limit in force.
  if (st.systemd_cgroup) {
    auto cgroups_path = st.config.value("/linux/cgroupsPath"_json_pointer, std::string());
    auto unit = SWORN_TRY(cgroup::systemd::ParsePath(cgroups_path, id));
    SWORN_TRY(cgroup::systemd::SetLimits(unit.scope, base));
  }
  if (res.has_devices) cgroup::AllowDeviceNodes(res.devices, ConfigDeviceNodes(st.config));
  SWORN_TRY(cgroup::Apply(res, set));
  stored.merge_patch(update);
  st.config["linux"]["resources"] = stored;
  return dir.Save(st);
}

Result<Sample> TakeSample(const std::string& root, const std::string& id) {
  Status s;
  auto [st, set] = SWORN_TRY(Load(root, id, &s, false));
  return Sample{cgroup::Stats(set), cgroup::OomKills(set), s};
}

Result<uint64_t> OomKills(const std::string& root, const std::string& id) {
  Status s;
  auto [st, set] = SWORN_TRY(Load(root, id, &s, false));
  return cgroup::OomKills(set);
}

}  // namespace sworn::container

namespace sworn::container {

Result<UniqueFd> WatchOom(const std::string& root, const std::string& id) {
  state::Status s;
  auto dir = SWORN_TRY(state::ContainerDir::Open(root, id, false));
  auto st = SWORN_TRY(dir.Load());
  (void)s;
  return cgroup::OomNotifier(SWORN_TRY(cgroup::ResolveSet(st.cgroup_dirs)));
}

}  // namespace sworn::container
