// The open exec sessions, so that DestroyTask, StopTask and plugin shutdown
// can end them.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace sworn::driver {

class SessionRegistry {
 public:
  uint64_t Add(const std::string& task_id, std::function<void()> kill);
  // Once it returns, kill is not running and never will be.
  void Remove(uint64_t token);
  // Calls kill of each session of the task ("" = every task).
  void KillTask(const std::string& task_id);
  // Waits until the task's sessions ("" = all) have ended, up to timeout_ms.
  bool WaitEnded(const std::string& task_id, int timeout_ms);
  size_t Count();

 private:
  struct Entry {
    std::string task_id;
    std::function<void()> kill;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Entry> sessions_;
  uint64_t next_ = 1;
};

}  // namespace sworn::driver
