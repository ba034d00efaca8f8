#include "driver/stats.h"

#include <atomic>
#include <fstream>
#include <string>

namespace sworn::driver {
namespace {

namespace pb = hashicorp::nomad::plugins::drivers::proto;

uint64_t U(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* p = &j;
  for (const char* k : path) {
    if (!p->is_object() || !p->contains(k)) return 0;
    p = &(*p)[k];
  }
  return p->is_number_unsigned() || p->is_number_integer() ? p->get<uint64_t>() : 0;
}

void FillMemory(const nlohmann::json& m, pb::MemoryUsage* out) {
  uint64_t usage = U(m, {"usage", "usage"});
  out->set_usage(usage);
  out->set_max_usage(U(m, {"usage", "max"}));
  out->set_cache(U(m, {"cache"}));
  // v1 reports rss, v2 anon; v1's memsw counts memory too.
  uint64_t rss = U(m, {"raw", "rss"});
  if (!rss) rss = U(m, {"raw", "anon"});
  out->set_rss(rss);
  uint64_t swap = U(m, {"swap", "usage"});
  if (m.contains("kernel")) swap = swap > usage ? swap - usage : 0;
  out->set_swap(swap);
  for (auto f : {pb::MemoryUsage::RSS, pb::MemoryUsage::CACHE, pb::MemoryUsage::SWAP, pb::MemoryUsage::USAGE,
                 pb::MemoryUsage::MAX_USAGE})
    out->add_measured_fields(f);
}

}  // namespace

namespace {
std::atomic<double> topology_mhz{0};
}  // namespace

void SetTopologyCoreMhz(double mhz) { topology_mhz.store(mhz > 0 ? mhz : 0); }

double CoreMhz() {
  if (double t = topology_mhz.load(); t > 0) return t;
  static const double mhz = [] {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
      if (line.starts_with("cpu MHz")) return std::strtod(line.c_str() + line.find(':') + 1, nullptr);
    return 0.0;
  }();
  return mhz;
}

void UsageSampler::Fill(const nlohmann::json& stats, pb::TaskResourceUsage* out) {
  const auto& cpu = stats.contains("cpu") ? stats["cpu"] : nlohmann::json::object();
  uint64_t total = U(cpu, {"usage", "total"}), user = U(cpu, {"usage", "user"}), kernel = U(cpu, {"usage", "kernel"});
  auto now = std::chrono::steady_clock::now();
  auto* c = out->mutable_cpu();
  if (have_prev_) {
    double wall = std::chrono::duration<double, std::nano>(now - at_).count();
    auto pct = [wall](uint64_t cur, uint64_t prev) { return wall > 0 && cur >= prev ? (cur - prev) * 100.0 / wall : 0; };
    c->set_percent(pct(total, total_));
    c->set_user_mode(pct(user, user_));
    c->set_system_mode(pct(kernel, kernel_));
    c->set_total_ticks(c->percent() / 100.0 * CoreMhz());
  }
  c->set_throttled_periods(U(cpu, {"throttling", "throttled_periods"}));
  c->set_throttled_time(U(cpu, {"throttling", "throttled_time"}));
  for (auto f : {pb::CPUUsage::SYSTEM_MODE, pb::CPUUsage::USER_MODE, pb::CPUUsage::TOTAL_TICKS,
                 pb::CPUUsage::THROTTLED_PERIODS, pb::CPUUsage::THROTTLED_TIME, pb::CPUUsage::PERCENT})
    c->add_measured_fields(f);
  have_prev_ = true;
  total_ = total, user_ = user, kernel_ = kernel, at_ = now;
  FillMemory(stats.contains("memory") ? stats["memory"] : nlohmann::json::object(), out->mutable_memory());
}

}  // namespace sworn::driver
