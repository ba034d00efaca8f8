// ps, pause, resume, update, events.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <set>
#include <thread>

#include "cli/cli.h"
#include "container/container.h"
#include "core/json_input.h"
#include "spec/spec.h"
#include "core/sys.h"
#include "security/pledge_reporter.h"

namespace sworn::cli {
namespace {

// Runs the host's ps with args and keeps the header and the container's lines.
int PsTable(const std::vector<pid_t>& pids, const std::vector<std::string>& ps_args) {
  std::string cmd = "ps";
  for (const auto& a : ps_args.empty() ? std::vector<std::string>{"-ef"} : ps_args) {
    if (a.find('\'') != std::string::npos) return Report("ps: argument with a quote: " + a);
    cmd += " '" + a + "'";
  }
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return Report("ps: cannot run " + cmd);
  std::set<pid_t> want(pids.begin(), pids.end());
  char line[4096];
  int pid_col = -1;
  while (fgets(line, sizeof(line), f)) {
    std::vector<std::string> cols;
    for (const auto& c : Split(Trim(line), ' '))
      if (!c.empty()) cols.push_back(c);
    if (pid_col < 0) {
      for (size_t i = 0; i < cols.size(); ++i)
        if (cols[i] == "PID") pid_col = static_cast<int>(i);
      std::fputs(line, stdout);
      if (pid_col < 0) break;
      continue;
    }
    if (static_cast<size_t>(pid_col) < cols.size() && want.count(std::atoi(cols[pid_col].c_str()))) std::fputs(line, stdout);
  }
  int rc = pclose(f);
  if (pid_col < 0) return Report("ps: couldn't find the PID column in the output of " + cmd);
  return rc == 0 ? 0 : 1;
}

// "64m", "1.5g", "1048576" → bytes; "-1" stays -1. Digits, an optional
// fraction and a unit only, as runc's RAMInBytes takes them: strtod alone
// would take 1e30, 0x10, inf and nan.
Result<int64_t> ParseSize(const std::string& s, const char* flag) {
  if (s == "-1") return -1;
  auto bad = [&] {
    return Fail(MakeError(Errc::kInvalidArgument, std::string(flag) + ": invalid size \"" + s +
                                                      "\" (expected bytes, or a number with k, m or g; or -1)"));
  };
  size_t int_end = s.find_first_not_of("0123456789");
  if (int_end == 0 || s.empty()) return bad();
  size_t num_end = int_end;
  if (num_end != std::string::npos && s[num_end] == '.') num_end = s.find_first_not_of("0123456789", num_end + 1);
  if (num_end == int_end + 1) return bad();  // "1." has no fraction
  std::string unit = num_end == std::string::npos ? "" : s.substr(num_end);
  for (auto& c : unit) c = static_cast<char>(tolower(c));
  int shift = unit.empty() || unit == "b" ? 0 : unit[0] == 'k' ? 10 : unit[0] == 'm' ? 20 : unit[0] == 'g' ? 30 : -1;
  if (shift < 0 || unit.size() > 2 || (unit.size() == 2 && unit[1] != 'b')) return bad();
  std::string whole = s.substr(0, int_end);
  if (whole.size() > 18) return bad();  // > 10^18: past int64 with any unit
  uint64_t v = std::stoull(whole);       // only digits, at most 18: cannot throw
  if (v > (static_cast<uint64_t>(INT64_MAX) >> shift)) return bad();
  v <<= shift;
  if (int_end != std::string::npos && int_end < s.size() && s[int_end] == '.') {
    std::string frac = s.substr(int_end + 1, num_end == std::string::npos ? std::string::npos : num_end - int_end - 1);
    v += static_cast<uint64_t>(std::strtod(("0." + frac).c_str(), nullptr) * static_cast<double>(uint64_t{1} << shift));
  }
  return static_cast<int64_t>(v);
}

// A Go duration as runc's --interval takes it ("5s", "100ms", "1m30s",
// "1.5h"), in milliseconds, within 1ms..24h.
Result<int64_t> ParseInterval(const std::string& s) {
  auto bad = [&](const char* why) {
    return Fail(MakeError(Errc::kInvalidArgument, "--interval: " + std::string(why) + " \"" + s +
                                                      "\" (expected a duration like 5s, 100ms or 1m30s, "
                                                      "between 1ms and 24h)"));
  };
  struct Unit {
    std::string_view name;
    double ns;
  };
  constexpr Unit kUnits[] = {{"ns", 1}, {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  double total = 0;
  size_t i = 0;
  if (s.empty()) return bad("empty duration");
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    std::string num = s.substr(start, i - start);
    if (num.empty() || num == "." || std::count(num.begin(), num.end(), '.') > 1 || num.size() > 20)
      return bad("not a duration:");
    size_t ustart = i;
    while (i < s.size() && !isdigit(static_cast<unsigned char>(s[i])) && s[i] != '.') ++i;
    std::string_view unit(s.data() + ustart, i - ustart);
    const Unit* u = nullptr;
    for (const auto& k : kUnits)
      if (k.name == unit) u = &k;
    if (!u) return bad(unit.empty() ? "missing unit in" : "unknown unit in");
    total += std::strtod(num.c_str(), nullptr) * u->ns;
    if (total > 24 * 3600e9) return bad("too long:");
  }
  if (total < 1e6) return bad("too short:");
  return static_cast<int64_t>(total / 1e6);
}

}  // namespace

int Ps(const Globals& g, const std::vector<std::string>& args) {
  std::string format = "table";
  po::options_description d("ps options");
  d.add_options()("format,f", po::value(&format), "table or json");
  auto p = ParseVerb(d, args, /*reorder=*/false);
  if (p.positional.empty()) return Report("ps: expected <container-id> [ps options]");
  if (format != "table" && format != "json") return Report("--format: expected table or json, got \"" + format + "\"");
  auto pids = container::Pids(g.root, p.positional[0]);
  if (!pids) return Report(pids.error().Message());
  if (format == "json") {
    std::cout << nlohmann::json(*pids).dump() << "\n";
    return 0;
  }
  return PsTable(*pids, std::vector<std::string>(p.positional.begin() + 1, p.positional.end()));
}

int Pause(const Globals& g, const std::vector<std::string>& args) {
  po::options_description d("pause options");
  auto p = ParseVerb(d, args);
  ExpectArgs("pause", p, 1, 1, "<container-id>");
  auto r = container::Pause(g.root, p.positional[0]);
  return r ? 0 : Report(r.error().Message());
}

int Resume(const Globals& g, const std::vector<std::string>& args) {
  po::options_description d("resume options");
  auto p = ParseVerb(d, args);
  ExpectArgs("resume", p, 1, 1, "<container-id>");
  auto r = container::Resume(g.root, p.positional[0]);
  return r ? 0 : Report(r.error().Message());
}

int Update(const Globals& g, const std::vector<std::string>& args) {
  std::string file, memory, reservation, swap, ktcp, cpus, mems;
  std::optional<uint64_t> shares, period, rt_period, weight;
  std::optional<int64_t> quota, rt_runtime, pids;
  po::options_description d("update options");
  d.add_options()("resources,r", po::value(&file), "linux.resources JSON file (- for stdin)")(
      "blkio-weight", po::value<uint64_t>()->notifier([&](uint64_t v) { weight = v; }), "")(
      "cpu-period", po::value<uint64_t>()->notifier([&](uint64_t v) { period = v; }), "")(
      "cpu-quota", po::value<int64_t>()->notifier([&](int64_t v) { quota = v; }), "")(
      "cpu-share", po::value<uint64_t>()->notifier([&](uint64_t v) { shares = v; }), "")(
      "cpu-rt-period", po::value<uint64_t>()->notifier([&](uint64_t v) { rt_period = v; }), "")(
      "cpu-rt-runtime", po::value<int64_t>()->notifier([&](int64_t v) { rt_runtime = v; }), "")(
      "cpuset-cpus", po::value(&cpus), "")("cpuset-mems", po::value(&mems), "")(
      "memory", po::value(&memory), "")("memory-reservation", po::value(&reservation), "")(
      "memory-swap", po::value(&swap), "")("kernel-memory", po::value<std::string>(), "ignored (deprecated)")(
      "kernel-memory-tcp", po::value(&ktcp), "")(
      "pids-limit", po::value<int64_t>()->notifier([&](int64_t v) { pids = v; }), "");
  auto p = ParseVerb(d, args);
  ExpectArgs("update", p, 1, 1, "<container-id>");
  nlohmann::json r = nlohmann::json::object();
  if (!file.empty()) {
    auto text = spec::ReadJsonFile(file == "-" ? "/dev/stdin" : file, "--resources", false);
    if (!text) return Report(text.error().Message());
    auto parsed = ParseJsonInput(*text, "--resources " + file);
    if (!parsed) return Report(parsed.error().Message());
    r = std::move(*parsed);
  }
  auto size = [&](const std::string& v, const char* flag, const char* sect, const char* key) -> bool {
    if (v.empty()) return true;
    auto n = ParseSize(v, flag);
    if (!n) return Report(n.error().Message()), false;
    r[sect][key] = *n;
    return true;
  };
  if (!size(memory, "--memory", "memory", "limit") || !size(reservation, "--memory-reservation", "memory", "reservation") ||
      !size(swap, "--memory-swap", "memory", "swap") || !size(ktcp, "--kernel-memory-tcp", "memory", "kernelTCP"))
    return 1;
  if (shares) r["cpu"]["shares"] = *shares;
  if (period) r["cpu"]["period"] = *period;
  if (quota) r["cpu"]["quota"] = *quota;
  if (rt_period) r["cpu"]["realtimePeriod"] = *rt_period;
  if (rt_runtime) r["cpu"]["realtimeRuntime"] = *rt_runtime;
  if (!cpus.empty()) r["cpu"]["cpus"] = cpus;
  if (!mems.empty()) r["cpu"]["mems"] = mems;
  if (pids) r["pids"]["limit"] = *pids;
  if (weight) r["blockIO"]["weight"] = *weight;
  auto res = container::Update(g.root, p.positional[0], r);
  return res ? 0 : Report(res.error().Message());
}

int Events(const Globals& g, const std::vector<std::string>& args) {
  bool stats_once = false;
  std::string interval = "5s";
  po::options_description d("events options");
  d.add_options()("stats", po::bool_switch(&stats_once), "print stats once and exit")(
      "interval", po::value(&interval), "stats interval (e.g. 5s, 500ms)");
  auto p = ParseVerb(d, args);
  ExpectArgs("events", p, 1, 1, "<container-id>");
  const std::string& id = p.positional[0];
  auto interval_ms = ParseInterval(interval);
  if (!interval_ms) return Report(interval_ms.error().Message());
  auto emit = [&](const char* type, const nlohmann::json& data) {
    // runc's order: type, id, data.
    std::string e = "{\"type\":" + nlohmann::json(type).dump() + ",\"id\":" + nlohmann::json(id).dump();
    if (!data.is_null()) e += ",\"data\":" + data.dump();
    std::cout << e << "}" << std::endl;
  };
  auto first = container::TakeSample(g.root, id);
  if (!first) return Report(first.error().Message());
  if (stats_once) {
    emit("stats", first->stats);
    return 0;
  }
  // OOMs arrive on a notifier (they must be seen even when the container
  // is deleted right after); stats go out every interval.
  // Pledge denials, from the record the container's reporters keep.
  std::string record = g.root + "/" + id + "/" + security::kPledgeRecordFile;
  size_t record_at = 0;
  auto pledge_events = [&] {
    for (const auto& r : security::ReadNewRecords(record, &record_at))
      emit(r.value("type", "") == "unveil" ? "unveil" : "pledge", r);  // unveil: Landlock's, from audit
  };
  pledge_events();
  uint64_t ooms = first->oom_kills;
  auto notifier = container::WatchOom(g.root, id);
  auto next_stats = std::chrono::steady_clock::now();
  for (;;) {
    pollfd p{notifier ? notifier->get() : -1, POLLIN, 0};
    bool woke = poll(&p, 1, 100) > 0;
    if (woke) {
      char buf[4096];
      (void)!read(p.fd, buf, sizeof(buf));
    }
    auto s = container::TakeSample(g.root, id);
    if (!s) {
      if (woke) emit("oom", nullptr);  // the cgroup is gone, the count with it
      return 0;
    }
    for (; ooms < s->oom_kills; ++ooms) emit("oom", nullptr);
    pledge_events();
    if (s->status == state::Status::kStopped) return 0;
    if (std::chrono::steady_clock::now() >= next_stats) {
      emit("stats", s->stats);
      next_stats += std::chrono::milliseconds(*interval_ms);
    }
  }
}

}  // namespace sworn::cli
