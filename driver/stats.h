// Task resource usage for TaskStats, from sworn's cgroup stats (the JSON of
// `sworn events --stats`). CPU percentages are of one core, computed from
// the change since the previous sample; total_ticks is in MHz as Nomad
// expects (percent/100 × node MHz per core).
#pragma once

#include <chrono>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "plugins/drivers/proto/driver.pb.h"

namespace sworn::driver {

class UsageSampler {
 public:
  void Fill(const nlohmann::json& stats, hashicorp::nomad::plugins::drivers::proto::TaskResourceUsage* out);

 private:
  bool have_prev_ = false;
  uint64_t total_ = 0, user_ = 0, kernel_ = 0;
  std::chrono::steady_clock::time_point at_;
};

// MHz of one core: the client's topology when SetConfig sent one (Nomad
// 1.7+), else /proc/cpuinfo's "cpu MHz" (0 if unknown).
double CoreMhz();
// From SetConfig: TotalCompute / NumCores of the client's topology; 0 = none.
void SetTopologyCoreMhz(double mhz);

}  // namespace sworn::driver
