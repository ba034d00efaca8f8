// One epoll thread that watches every task's supervisor pidfd, instead of a
// thread per task.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "core/fd.h"

namespace sworn::driver {

class ExitWatcher {
 public:
  ExitWatcher();
  ~ExitWatcher();
  // Calls fn once on the watcher thread when fd turns readable (a pidfd: the
  // process exited). fd must stay open until fn ran or Remove returned.
  void Add(int fd, std::function<void()> fn);
  // Stops watching fd; once it returns fn is not running and never will.
  void Remove(int fd);

 private:
  void Run();
  UniqueFd epoll_, wake_;
  // Held while a callback runs, so Remove can wait it out; recursive because
  // a callback may drop the last reference to its task, whose destructor
  // calls Remove on this thread.
  std::recursive_mutex mu_;
  std::map<int, std::function<void()>> watched_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sworn::driver
