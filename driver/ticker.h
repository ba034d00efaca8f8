// One thread that runs delayed callbacks for all long-lived streams (stats
// samples, fingerprint checks), so an open stream costs no thread of its own.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace sworn::driver {

class Ticker {
 public:
  Ticker();
  ~Ticker();
  // Runs f on the ticker thread after d; returns an id for Cancel (never 0).
  uint64_t After(std::chrono::milliseconds d, std::function<void()> f);
  // True if f was removed before it started; false if it ran or is running.
  bool Cancel(uint64_t id);

 private:
  void Run();
  using Key = std::pair<std::chrono::steady_clock::time_point, uint64_t>;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<Key, std::function<void()>> due_;
  uint64_t next_id_ = 1;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sworn::driver
