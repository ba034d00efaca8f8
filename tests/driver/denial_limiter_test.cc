// The dedupe and rate limit behind the pledge denial TaskEvents.
#include <catch2/catch.hpp>

#include <string>

#include "driver/denial_limiter.h"
#include "driver/pledge_events.h"

using sworn::driver::DenialLimiter;
using sworn::driver::DenialLimits;
using V = DenialLimiter::Verdict;
using namespace std::chrono_literals;

TEST_CASE("denials: the same denial is shown once", "[driver][denials]") {
  DenialLimiter l;
  auto t0 = DenialLimiter::Clock::time_point{} + 1h;
  CHECK(l.Offer("pledge: denied openat(\"/x\") in sh[1]: needs cpath", t0) == V::kEmit);
  for (int i = 0; i < 10000; ++i) CHECK(l.Offer("pledge: denied openat(\"/x\") in sh[1]: needs cpath", t0 + 1s) == V::kDuplicate);
  CHECK(l.TakeSuppressed(t0 + 2h, true) == 0);
  CHECK(l.Remembered() == 1);
}

TEST_CASE("denials: a cap per interval, then one count of the rest", "[driver][denials]") {
  DenialLimiter l(DenialLimits{.max_keys = 100, .max_key_bytes = 64, .per_interval = 3, .interval = 60s});
  auto t0 = DenialLimiter::Clock::time_point{} + 1h;
  int shown = 0;
  for (int i = 0; i < 10; ++i) shown += l.Offer("d" + std::to_string(i), t0) == V::kEmit;
  CHECK(shown == 3);
  CHECK(l.TakeSuppressed(t0 + 30s) == 0);  // the interval has not ended
  CHECK(l.TakeSuppressed(t0 + 60s) == 7);
  CHECK(l.TakeSuppressed(t0 + 61s, true) == 0);  // counted once
  // A new interval: three more.
  shown = 0;
  for (int i = 10; i < 20; ++i) shown += l.Offer("d" + std::to_string(i), t0 + 61s) == V::kEmit;
  CHECK(shown == 3);
  CHECK(l.TakeSuppressed(t0 + 62s, true) == 7);  // at exit: at once
  // Suppressed denials are remembered: shown neither now nor later.
  CHECK(l.Offer("d5", t0 + 1h) == V::kDuplicate);
}

TEST_CASE("denials: memory is bounded by max_keys and max_key_bytes", "[driver][denials]") {
  DenialLimiter l(DenialLimits{.max_keys = 50, .max_key_bytes = 16, .per_interval = 1000, .interval = 1s});
  auto t = DenialLimiter::Clock::time_point{} + 1h;
  uint64_t shown = 0, suppressed = 0;
  for (int i = 0; i < 100000; ++i) {
    t += 1ms;
    shown += l.Offer(std::to_string(i) + std::string(1000, 'x'), t) == V::kEmit;
    suppressed += l.TakeSuppressed(t);
  }
  suppressed += l.TakeSuppressed(t, true);
  CHECK(l.Remembered() == 50);
  CHECK(shown == 50);
  CHECK(shown + suppressed == 100000);
  // Keys are cut: two denials alike in their first 16 bytes are one.
  DenialLimiter cut(DenialLimits{.max_keys = 10, .max_key_bytes = 16, .per_interval = 10, .interval = 1s});
  CHECK(cut.Offer(std::string(16, 'a') + "1", t) == V::kEmit);
  CHECK(cut.Offer(std::string(16, 'a') + "2", t) == V::kDuplicate);
}

TEST_CASE("learned policy: the Nomad config snippet", "[driver][denials]") {
  auto ann = nlohmann::json{{"sworn.pledge.promises", "stdio rpath cpath"},
                            {"sworn.unveil", R"(["r:/etc","rwc:/local"])"}};
  CHECK(sworn::driver::LearnedConfigSnippet(ann) ==
        "config {\n  promises = \"stdio rpath cpath\"\n  unveil   = [\"r:/etc\", \"rwc:/local\"]\n}");
  CHECK(sworn::driver::LearnedConfigSnippet(nlohmann::json{{"sworn.pledge.promises", ""}}) ==
        "config {\n  promises = \"\"\n}");
}
