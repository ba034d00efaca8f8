#include "driver/denial_limiter.h"

namespace sworn::driver {

void DenialLimiter::Roll(Clock::time_point now) {
  if (!started_ || now - window_start_ >= l_.interval) {
    started_ = true;
    window_start_ = now;
    emitted_ = 0;
  }
}

DenialLimiter::Verdict DenialLimiter::Offer(std::string_view key, Clock::time_point now) {
  key = key.substr(0, l_.max_key_bytes);
  if (seen_.contains(key)) return Verdict::kDuplicate;
  // Past max_keys a new key cannot be remembered, so it could come back as
  // new: counted, never shown.
  bool room = seen_.size() < l_.max_keys;
  if (room) seen_.emplace(key);
  Roll(now);
  if (room && emitted_ < l_.per_interval) {
    ++emitted_;
    return Verdict::kEmit;
  }
  ++suppressed_;
  return Verdict::kSuppressed;
}

uint64_t DenialLimiter::TakeSuppressed(Clock::time_point now, bool force) {
  if (suppressed_ == 0 || !(force || now - window_start_ >= l_.interval)) return 0;
  uint64_t n = suppressed_;
  suppressed_ = 0;
  Roll(now);
  return n;
}

}  // namespace sworn::driver
