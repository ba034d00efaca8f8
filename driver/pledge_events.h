// Pledge (and unveil) denials of the driver's tasks as Nomad TaskEvents and
// plugin log lines. sworn's reporter appends one JSON record per distinct
// denial to <state root>/<id>/pledge.log (capped, see pledge_reporter.h);
// the plugin holds that file open per task (it outlives `run` deleting the
// directory, which is how the learned policy of a learn task is read after
// its exit) and reads what was appended on a 1 s tick of the shared Ticker:
// no process or thread per task. How far it has read is kept in
// <bundle>/pledge.offset, so a restarted plugin (RecoverTask) goes on from
// there instead of announcing old denials again; a crash between publishing
// and saving the offset repeats at most that one tick's events.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/fd.h"
#include "driver/denial_limiter.h"
#include "driver/tasks.h"
#include "driver/ticker.h"

namespace sworn::driver {

class PledgeEvents {
 public:
  using Publish = std::function<void(const pb::DriverTaskEvent&)>;
  PledgeEvents(Publish publish, Ticker& ticker);
  ~PledgeEvents();
  // Starts reporting a pledged or learning task (others are ignored).
  // `started` (StartTask, not RecoverTask) also announces learn mode.
  void Watch(const std::shared_ptr<Task>& t, bool started);

 private:
  struct Watched {
    std::shared_ptr<Task> task;
    UniqueFd log, offset_file;
    size_t offset = 0;
    bool learn = false;
    int ticks_after_exit = 0;
    DenialLimiter limiter;
  };
  void Tick();
  // False once the task has exited and its record is drained.
  bool Poll(Watched& w);
  void Handle(Watched& w, const nlohmann::json& rec);
  void Emit(const Watched& w, const std::string& message, std::map<std::string, std::string> annotations,
            bool warn = true);
  Publish publish_;
  Ticker& ticker_;
  std::mutex mu_;
  std::map<std::string, Watched> tasks_;
  uint64_t tick_ = 0;
};

// The Nomad `config {}` lines of a learned record's annotations.
std::string LearnedConfigSnippet(const nlohmann::json& annotations);

}  // namespace sworn::driver
