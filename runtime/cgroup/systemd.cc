#include "cgroup/systemd.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <optional>

#include "cgroup/dbus.h"
#include "core/log.h"
#include "core/sys.h"

namespace sworn::cgroup::systemd {
namespace {

constexpr const char* kDest = "org.freedesktop.systemd1";
constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr int kTimeoutMs = 30000;
constexpr int kStopTimeoutMs = 10000;

bool UnifiedOnly() { return access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0; }

// A bus daemon (not systemd's private socket) wants Hello first, and a
// match for the JobRemoved signals to be routed to us.
Result<dbus::Connection> Connect() {
  std::string addr = BusAddress();
  auto c = SWORN_TRY(WithContext(dbus::Connection::Open(addr), "--systemd-cgroup: connecting to systemd"));
  bool private_socket = addr.ends_with("/systemd/private");
  if (!private_socket) {
    auto s = SWORN_TRY(c.Call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", "", ""));
    SWORN_TRY(c.Wait(s, "Hello", kTimeoutMs));
    dbus::Writer w;
    w.Str("type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.systemd1.Manager',"
          "member='JobRemoved',path='/org/freedesktop/systemd1'");
    s = SWORN_TRY(c.Call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", "s", w.data()));
    SWORN_TRY(c.Wait(s, "AddMatch", kTimeoutMs));
  }
  // No Subscribe: systemd sends JobRemoved to the client that made the job.
  return c;
}

// Waits for the JobRemoved signal of job; its result ("done", "failed", ...).
Result<std::string> WaitJob(dbus::Connection& c, const std::string& job, const std::vector<dbus::Message>& early) {
  std::optional<std::string> early_result;
  auto result_of = [&](const dbus::Message& m) -> std::optional<std::string> {
    if (m.type != 4 || m.member != "JobRemoved") return std::nullopt;
    dbus::Reader r(m.body);
    auto id = r.U32();
    auto path = r.Str();
    auto unit = r.Str();
    auto res = r.Str();
    if (!id || !path || !unit || !res || *path != job) return std::nullopt;
    return *res;
  };
  for (const auto& m : early)
    if (auto res = result_of(m)) return *res;
  // JobRemoved goes to the job's requester; a job merged into one already
  // queued (a scope stopping as it empties) signals only subscribers, so
  // the job object is also polled: once it is gone, the job is done.
  for (int waited = 0; waited < kTimeoutMs; waited += 100) {
    auto m = c.Read(100);
    if (m) {
      if (auto res = result_of(*m)) return *res;
      continue;
    }
    if (m.error().code != Errc::kTimeout) return Fail(m.error());
    dbus::Writer q;
    q.Str("org.freedesktop.systemd1.Job");
    q.Str("State");
    auto s = SWORN_TRY(c.Call(kDest, job, "org.freedesktop.DBus.Properties", "Get", "ss", q.data()));
    auto st = c.Wait(s, "Get State of " + job, kTimeoutMs, [&](const dbus::Message& sig) {
      if (auto res = result_of(sig)) early_result = *res;
    });
    if (early_result) return *early_result;
    if (!st) return std::string("done");  // UnknownObject: the job finished
  }
  return Fail(MakeError(Errc::kTimeout, "systemd job " + job + " did not finish within " +
                                            std::to_string(kTimeoutMs / 1000) + " s"));
}

void Property(dbus::Writer& w, const std::string& name, const std::string& sig, const std::function<void()>& value) {
  w.Struct([&] {
    w.Str(name);
    w.Variant(sig, value);
  });
}

void U64Property(dbus::Writer& w, const std::string& name, uint64_t v) {
  Property(w, name, "t", [&] { w.U64(v); });
}

void BoolProperty(dbus::Writer& w, const std::string& name, bool v) {
  Property(w, name, "b", [&] { w.Bool(v); });
}

// systemd's "infinity" for MemoryMax, TasksMax and CPUQuotaPerSecUSec.
constexpr uint64_t kInfinity = UINT64_MAX;

// runc's limits as unit properties (systemd converts them for v1 or v2);
// -1 (unlimited, as `update` may ask) is systemd's infinity.
void LimitProperties(dbus::Writer& w, const Resources& r) {
  bool v2 = UnifiedOnly();
  auto limit = [](int64_t v) { return v < 0 ? kInfinity : static_cast<uint64_t>(v); };
  if (r.mem_limit && *r.mem_limit != 0) U64Property(w, v2 ? "MemoryMax" : "MemoryLimit", limit(*r.mem_limit));
  if (r.cpu_shares && *r.cpu_shares)
    U64Property(w, v2 ? "CPUWeight" : "CPUShares", v2 ? SharesToWeight(*r.cpu_shares) : *r.cpu_shares);
  if (r.cpu_quota && *r.cpu_quota > 0) {
    uint64_t period = r.cpu_period && *r.cpu_period ? *r.cpu_period : 100000;
    // runc: per-second quota, rounded up to systemd's 10 ms granularity.
    uint64_t per_sec = static_cast<uint64_t>(*r.cpu_quota) * 1000000 / period;
    if (per_sec % 10000) per_sec = (per_sec / 10000 + 1) * 10000;
    U64Property(w, "CPUQuotaPerSecUSec", per_sec);
  } else if (r.cpu_quota && *r.cpu_quota < 0) {
    U64Property(w, "CPUQuotaPerSecUSec", kInfinity);
  }
  if (r.cpu_period) U64Property(w, "CPUQuotaPeriodUSec", *r.cpu_period);
  if (r.pids_limit && *r.pids_limit != 0) U64Property(w, "TasksMax", limit(*r.pids_limit));
}

std::string StartBody(const Unit& unit, pid_t pid, const Resources& r, const std::string& description) {
  bool v2 = UnifiedOnly();
  dbus::Writer w;
  w.Str(unit.scope);
  w.Str("replace");
  w.Array(8, [&] {
    Property(w, "Description", "s", [&] { w.Str(description); });
    Property(w, "Slice", "s", [&] { w.Str(unit.slice); });
    BoolProperty(w, "Delegate", true);
    Property(w, "PIDs", "au", [&] { w.Array(4, [&] { w.U32(static_cast<uint32_t>(pid)); }); });
    BoolProperty(w, "DefaultDependencies", false);
    BoolProperty(w, "MemoryAccounting", true);
    BoolProperty(w, "CPUAccounting", true);
    BoolProperty(w, v2 ? "IOAccounting" : "BlockIOAccounting", true);
    BoolProperty(w, "TasksAccounting", true);
    LimitProperties(w, r);
  });
  w.Array(8, [] {});  // no auxiliary units
  return w.data();
}

Result<std::string> ControlGroup(dbus::Connection& c, const std::string& scope) {
  dbus::Writer name;
  name.Str(scope);
  auto s = SWORN_TRY(c.Call(kDest, kPath, kManager, "GetUnit", "s", name.data()));
  auto m = SWORN_TRY(c.Wait(s, "GetUnit " + scope, kTimeoutMs));
  std::string path = SWORN_TRY(dbus::Reader(m.body).Str());
  dbus::Writer q;
  q.Str("org.freedesktop.systemd1.Scope");
  q.Str("ControlGroup");
  s = SWORN_TRY(c.Call(kDest, path, "org.freedesktop.DBus.Properties", "Get", "ss", q.data()));
  m = SWORN_TRY(c.Wait(s, "Get ControlGroup of " + scope, kTimeoutMs));
  return dbus::Reader(m.body).VariantStr();
}

}  // namespace

bool IsSystemdPath(const std::string& p) { return std::count(p.begin(), p.end(), ':') == 2; }

Result<Unit> ParsePath(const std::string& cgroups_path, const std::string& id) {
  std::string path = cgroups_path.empty() ? "system.slice:sworn:" + id : cgroups_path;
  auto parts = Split(path, ':');
  auto bad = [&](const std::string& why) {
    return Fail(FieldError("linux.cgroupsPath", "\"" + cgroups_path + "\" " + why));
  };
  if (parts.size() != 3) return bad("must be \"slice:prefix:name\" with --systemd-cgroup");
  Unit u;
  u.slice = parts[0].empty() ? "system.slice" : parts[0];
  if (!u.slice.ends_with(".slice") || u.slice.find('/') != std::string::npos)
    return bad("names no slice (\"" + u.slice + "\" must end in .slice)");
  if (parts[2].empty() || parts[2].find('/') != std::string::npos) return bad("needs a unit name after the second colon");
  if (parts[2].ends_with(".slice")) return bad("names a slice as the container's unit; sworn makes scopes only");
  u.scope = parts[1].empty() ? parts[2] : parts[1] + "-" + parts[2];
  if (!u.scope.ends_with(".scope")) u.scope += ".scope";
  return u;
}

std::string BusAddress() {
  if (const char* a = getenv("DBUS_SYSTEM_BUS_ADDRESS"); a && *a) return a;
  if (geteuid() == 0 && access("/run/systemd/private", F_OK) == 0) return "unix:path=/run/systemd/private";
  return "unix:path=/run/dbus/system_bus_socket";
}

Result<std::string> StartScope(const Unit& unit, pid_t pid, const Resources& r, const std::string& description) {
  auto c = SWORN_TRY(Connect());
  auto s = SWORN_TRY(c.Call(kDest, kPath, kManager, "StartTransientUnit", "ssa(sv)a(sa(sv))",
                            StartBody(unit, pid, r, description)));
  std::vector<dbus::Message> early;  // JobRemoved may come before the reply
  auto m = SWORN_TRY(WithContext(c.Wait(s, "StartTransientUnit " + unit.scope, kTimeoutMs,
                                        [&](const dbus::Message& sig) { early.push_back(sig); }),
                                 "--systemd-cgroup"));
  std::string job = SWORN_TRY(dbus::Reader(m.body).Str());
  std::string result = SWORN_TRY(WaitJob(c, job, early));
  if (result != "done")
    return Fail(MakeError(Errc::kSystem, "--systemd-cgroup: starting " + unit.scope + " in " + unit.slice +
                                             ": systemd job " + result));
  return ControlGroup(c, unit.scope);
}

Result<void> SetLimits(const std::string& scope, const Resources& r) {
  dbus::Writer probe;  // an empty a(sv) is its length padded to 8: nothing to set
  probe.Array(8, [&] { LimitProperties(probe, r); });
  if (probe.data().size() <= 8) return {};
  dbus::Writer w;
  w.Str(scope);
  w.Bool(true);  // runtime: the change lasts as long as the transient unit
  w.Array(8, [&] { LimitProperties(w, r); });
  auto c = SWORN_TRY(Connect());
  auto s = SWORN_TRY(c.Call(kDest, kPath, kManager, "SetUnitProperties", "sba(sv)", w.data()));
  SWORN_TRY(WithContext(c.Wait(s, "SetUnitProperties " + scope, kTimeoutMs), "--systemd-cgroup: update"));
  return {};
}

Result<void> StopUnit(const std::string& name) {
  auto c = SWORN_TRY(Connect());
  dbus::Writer w;
  w.Str(name);
  w.Str("replace");
  auto s = SWORN_TRY(c.Call(kDest, kPath, kManager, "StopUnit", "ss", w.data()));
  std::vector<dbus::Message> early;
  auto m = c.Wait(s, "StopUnit " + name, kStopTimeoutMs, [&](const dbus::Message& sig) { early.push_back(sig); });
  if (!m && m.error().context.find("NoSuchUnit") != std::string::npos) return {};
  // As runc: a stop that systemd does not confirm in time is logged, and
  // delete goes on (the scope empties, and systemd drops an empty scope).
  if (!m && m.error().code == Errc::kTimeout) {
    log::Warn("--systemd-cgroup: systemd did not answer StopUnit(" + name + ") within " +
              std::to_string(kStopTimeoutMs / 1000) + " s; continuing");
    return {};
  }
  if (!m) return Fail(m.error());
  std::string job = SWORN_TRY(dbus::Reader(m->body).Str());
  SWORN_TRY(WaitJob(c, job, early));
  return {};
}

}  // namespace sworn::cgroup::systemd
