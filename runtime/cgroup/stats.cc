#include "cgroup/stats.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <thread>

#include "core/sys.h"

namespace sworn::cgroup {
namespace {

using nlohmann::json;

uint64_t Num(const std::string& dir, const char* file) {
  auto t = ReadFile(dir + "/" + file);
  if (!t) return 0;
  std::string v = Trim(*t);
  if (v == "max") return UINT64_MAX;
  return std::strtoull(v.c_str(), nullptr, 10);
}

// "key value" lines (memory.stat, cpu.stat, memory.events).
std::map<std::string, uint64_t> KeyValues(const std::string& path) {
  std::map<std::string, uint64_t> out;
  auto t = ReadFile(path);
  if (!t) return out;
  for (const auto& line : Split(*t, '\n')) {
    auto sp = line.find(' ');
    if (sp != std::string::npos) out[line.substr(0, sp)] = std::strtoull(line.c_str() + sp + 1, nullptr, 10);
  }
  return out;
}

json CpuStats(const CgroupSet& s) {
  bool v2 = false;
  std::string d = s.Dir("cpu", &v2);
  json cpu = {{"usage", json::object()}, {"throttling", json::object()}};
  if (v2 || (!s.v2.empty() && d.empty())) {
    auto st = KeyValues((v2 ? d : s.v2) + "/cpu.stat");
    cpu["usage"] = {{"total", st["usage_usec"] * 1000}, {"kernel", st["system_usec"] * 1000}, {"user", st["user_usec"] * 1000}};
    cpu["throttling"] = {{"periods", st["nr_periods"]}, {"throttled_periods", st["nr_throttled"]},
                         {"throttled_time", st["throttled_usec"] * 1000}};
    return cpu;
  }
  std::string acct = s.Dir("cpuacct");
  if (!acct.empty()) {
    json percpu = json::array();
    if (auto t = ReadFile(acct + "/cpuacct.usage_percpu"))
      for (const auto& v : Split(Trim(*t), ' '))
        if (!v.empty()) percpu.push_back(std::strtoull(v.c_str(), nullptr, 10));
    auto st = KeyValues(acct + "/cpuacct.stat");
    long hz = sysconf(_SC_CLK_TCK);
    cpu["usage"] = {{"total", Num(acct, "cpuacct.usage")}, {"percpu", percpu},
                    {"kernel", st["system"] * 1000000000 / hz}, {"user", st["user"] * 1000000000 / hz}};
  }
  if (!d.empty()) {
    auto st = KeyValues(d + "/cpu.stat");
    cpu["throttling"] = {{"periods", st["nr_periods"]}, {"throttled_periods", st["nr_throttled"]},
                         {"throttled_time", st["throttled_time"]}};
  }
  return cpu;
}

json MemoryStats(const CgroupSet& s) {
  bool v2 = false;
  std::string d = s.Dir("memory", &v2);
  if (d.empty()) return json::object();
  if (v2) {
    auto st = KeyValues(d + "/memory.stat");
    return {{"usage", {{"usage", Num(d, "memory.current")}, {"limit", Num(d, "memory.max")},
                       {"max", Num(d, "memory.peak")}, {"failcnt", KeyValues(d + "/memory.events")["max"]}}},
            {"swap", {{"usage", Num(d, "memory.swap.current")}, {"limit", Num(d, "memory.swap.max")}}},
            {"cache", st["file"]},
            {"raw", st}};
  }
  auto st = KeyValues(d + "/memory.stat");
  return {{"usage", {{"usage", Num(d, "memory.usage_in_bytes")}, {"limit", Num(d, "memory.limit_in_bytes")},
                     {"max", Num(d, "memory.max_usage_in_bytes")}, {"failcnt", Num(d, "memory.failcnt")}}},
          {"swap", {{"usage", Num(d, "memory.memsw.usage_in_bytes")}, {"limit", Num(d, "memory.memsw.limit_in_bytes")},
                    {"max", Num(d, "memory.memsw.max_usage_in_bytes")}, {"failcnt", Num(d, "memory.memsw.failcnt")}}},
          {"kernel", {{"usage", Num(d, "memory.kmem.usage_in_bytes")}, {"limit", Num(d, "memory.kmem.limit_in_bytes")},
                      {"max", Num(d, "memory.kmem.max_usage_in_bytes")}, {"failcnt", Num(d, "memory.kmem.failcnt")}}},
          {"cache", st["cache"]},
          {"raw", st}};
}

json BlkioStats(const CgroupSet& s) {
  bool v2 = false;
  std::string d = s.Dir("io", &v2);
  json entries = json::array();
  if (v2) {
    auto t = ReadFile(d + "/io.stat");
    for (const auto& line : Split(t ? *t : "", '\n')) {
      auto f = Split(line, ' ');
      if (f.size() < 2) continue;
      auto mm = Split(f[0], ':');
      if (mm.size() != 2) continue;
      for (size_t i = 1; i < f.size(); ++i) {
        auto kv = Split(f[i], '=');
        if (kv.size() != 2) continue;
        std::string op = kv[0] == "rbytes" ? "Read" : kv[0] == "wbytes" ? "Write" : "";
        if (op.empty()) continue;
        entries.push_back({{"major", std::stoull(mm[0])}, {"minor", std::stoull(mm[1])}, {"op", op},
                           {"value", std::stoull(kv[1])}});
      }
    }
    return {{"ioServiceBytesRecursive", entries}};
  }
  d = s.Dir("blkio");
  auto t = d.empty() ? std::nullopt : std::optional(ReadFile(d + "/blkio.throttle.io_service_bytes_recursive").value_or(""));
  for (const auto& line : Split(t.value_or(""), '\n')) {
    auto f = Split(line, ' ');
    auto mm = Split(f[0], ':');
    if (f.size() != 3 || mm.size() != 2) continue;
    entries.push_back({{"major", std::stoull(mm[0])}, {"minor", std::stoull(mm[1])}, {"op", f[1]},
                       {"value", std::stoull(f[2])}});
  }
  return {{"ioServiceBytesRecursive", entries}};
}

json HugetlbStats(const CgroupSet& s) {
  bool v2 = false;
  std::string d = s.Dir("hugetlb", &v2);
  json out = json::object();
  if (d.empty()) return out;
  for (const char* size : {"2MB", "1GB"}) {
    std::string base = std::string("hugetlb.") + size;
    if (access((d + "/" + base + (v2 ? ".current" : ".usage_in_bytes")).c_str(), F_OK) < 0) continue;
    if (v2)
      out[size] = {{"usage", Num(d, (base + ".current").c_str())}, {"failcnt", KeyValues(d + "/" + base + ".events")["max"]}};
    else
      out[size] = {{"usage", Num(d, (base + ".usage_in_bytes").c_str())}, {"max", Num(d, (base + ".max_usage_in_bytes").c_str())},
                   {"failcnt", Num(d, (base + ".failcnt").c_str())}};
  }
  return out;
}

}  // namespace

json Stats(const CgroupSet& s) {
  std::string pids = s.Dir("pids");
  json p = pids.empty() ? json::object() : json{{"current", Num(pids, "pids.current")}, {"limit", Num(pids, "pids.max")}};
  if (!p.empty() && p["limit"] == UINT64_MAX) p["limit"] = 0;
  return {{"cpu", CpuStats(s)}, {"memory", MemoryStats(s)}, {"pids", p}, {"blkio", BlkioStats(s)},
          {"hugetlb", HugetlbStats(s)}};
}

uint64_t OomKills(const CgroupSet& s) {
  bool v2 = false;
  std::string d = s.Dir("memory", &v2);
  if (d.empty()) return 0;
  return KeyValues(d + (v2 ? "/memory.events" : "/memory.oom_control"))["oom_kill"];
}

Result<UniqueFd> OomNotifier(const CgroupSet& s) {
  bool v2 = false;
  std::string d = s.Dir("memory", &v2);
  if (d.empty()) return Fail(MakeError(Errc::kUnsupported, "no memory cgroup to watch for OOM"));
  if (v2) {
    UniqueFd in(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!in) return Fail(SysError("inotify_init1"));
    if (inotify_add_watch(in.get(), (d + "/memory.events").c_str(), IN_MODIFY) < 0)
      return Fail(SysError("inotify_add_watch", d + "/memory.events"));
    return in;
  }
  UniqueFd ev(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  UniqueFd oom(open((d + "/memory.oom_control").c_str(), O_RDONLY | O_CLOEXEC));
  if (!ev || !oom) return Fail(SysError("open", d + "/memory.oom_control"));
  SWORN_TRY(WriteFile(d + "/cgroup.event_control", std::to_string(ev.get()) + " " + std::to_string(oom.get()), O_WRONLY));
  return ev;
}

Result<void> Freeze(const CgroupSet& s, bool frozen) {
  std::string v1 = s.Dir("freezer");
  bool has_v2 = !s.v2.empty() && access((s.v2 + "/cgroup.freeze").c_str(), F_OK) == 0;
  // A v1 freezer wins where there is one (hybrid hosts), as with runc, so
  // that containers paused by either runtime can be resumed by the other;
  // thawing clears both.
  bool v2 = v1.empty() && has_v2;
  if (!has_v2 && v1.empty()) return Fail(MakeError(Errc::kUnsupported, "no freezer: neither cgroup.freeze nor a v1 freezer"));
  if (!frozen && has_v2) SWORN_TRY(WriteFile(s.v2 + "/cgroup.freeze", "0", O_WRONLY));
  if (v2)
    SWORN_TRY(WriteFile(s.v2 + "/cgroup.freeze", frozen ? "1" : "0", O_WRONLY));
  else
    SWORN_TRY(WriteFile(v1 + "/freezer.state", frozen ? "FROZEN" : "THAWED", O_WRONLY));
  // Freezing is asynchronous: wait for the kernel to report it.
  for (int i = 0; i < 1000; ++i) {
    bool done;
    if (v2) {
      auto ev = ReadFile(s.v2 + "/cgroup.events");
      done = ev && ev->find(frozen ? "frozen 1" : "frozen 0") != std::string::npos;
    } else {
      auto st = ReadFile(v1 + "/freezer.state");
      done = st && Trim(*st) == (frozen ? "FROZEN" : "THAWED");
      // v1 gives up on a task caught mid-fork or mid-exit and stays in
      // FREEZING until FROZEN is written again (runc rewrites it too).
      if (!done && frozen && st && Trim(*st) == "FREEZING") (void)WriteFile(v1 + "/freezer.state", "FROZEN", O_WRONLY);
    }
    if (done) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(i < 100 ? 1 : 10));
  }
  return Fail(MakeError(Errc::kTimeout, std::string("cgroup did not become ") + (frozen ? "frozen" : "thawed")));
}

}  // namespace sworn::cgroup
