#include "driver/ticker.h"

namespace sworn::driver {

Ticker::Ticker() : thread_([this] { Run(); }) {}

Ticker::~Ticker() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

uint64_t Ticker::After(std::chrono::milliseconds d, std::function<void()> f) {
  std::lock_guard l(mu_);
  uint64_t id = next_id_++;
  due_.emplace(Key{std::chrono::steady_clock::now() + d, id}, std::move(f));
  cv_.notify_all();
  return id;
}

bool Ticker::Cancel(uint64_t id) {
  std::lock_guard l(mu_);
  for (auto it = due_.begin(); it != due_.end(); ++it)
    if (it->first.second == id) {
      due_.erase(it);
      return true;
    }
  return false;
}

void Ticker::Run() {
  std::unique_lock l(mu_);
  while (!stop_) {
    if (due_.empty()) {
      cv_.wait(l);
      continue;
    }
    auto first = due_.begin();
    if (first->first.first > std::chrono::steady_clock::now()) {
      cv_.wait_until(l, first->first.first);
      continue;
    }
    auto f = std::move(first->second);
    due_.erase(first);
    l.unlock();
    f();
    l.lock();
  }
}

}  // namespace sworn::driver
