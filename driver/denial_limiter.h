// Dedupe and rate limit for the pledge/unveil denial TaskEvents of one task:
// a program looping on a denied call must neither flood the Nomad client nor
// grow the plugin. Pure logic (the caller passes the time), unit-tested in
// tests/driver.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

namespace sworn::driver {

struct DenialLimits {
  size_t max_keys = 1024;       // distinct denials remembered per task
  size_t max_key_bytes = 512;   // a key longer than this is cut
  unsigned per_interval = 10;   // events per task per interval
  std::chrono::seconds interval{60};
};

class DenialLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Verdict { kEmit, kDuplicate, kSuppressed };
  DenialLimiter() = default;
  explicit DenialLimiter(DenialLimits l) : l_(l) {}

  Verdict Offer(std::string_view key, Clock::time_point now);
  // The distinct denials suppressed so far, once their interval has ended
  // (or at once with `force`, at task exit); 0 otherwise. Resets the count.
  uint64_t TakeSuppressed(Clock::time_point now, bool force = false);
  size_t Remembered() const { return seen_.size(); }

 private:
  void Roll(Clock::time_point now);
  DenialLimits l_;
  std::set<std::string, std::less<>> seen_;
  bool started_ = false;
  Clock::time_point window_start_{};
  unsigned emitted_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace sworn::driver
