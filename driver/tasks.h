// The driver's tasks: start (bundle + supervisor), recover after a plugin
// restart, wait, stop, destroy, signal. The gRPC layer (driver_service.cc)
// only converts messages; everything stateful lives here.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "driver/exec_registry.h"
#include "driver/exit_watcher.h"
#include "driver/plugin.h"
#include "driver/supervisor.h"
#include "plugins/drivers/proto/driver.pb.h"

namespace sworn::driver {

namespace pb = hashicorp::nomad::plugins::drivers::proto;

// What driver_state holds: everything recovery needs, since Nomad does not
// persist the task's msgpack_driver_config.
struct TaskRecord {
  std::string id, name, alloc_id;
  std::string container_id, bundle_dir, state_root, sworn, exit_file, log_file;
  std::string cgroups_path;
  std::string recreate_cgroup;  // Nomad's own cgroup dir, recreated after sworn deletes it
  pid_t supervisor_pid = -1;
  uint64_t supervisor_start = 0;
  int64_t started_at = 0;  // unix ns
};
std::string EncodeRecord(const TaskRecord& r);
Result<TaskRecord> DecodeRecord(const std::string& bytes);

class Task {
 public:
  explicit Task(TaskRecord r, pb::TaskConfig config) : rec(std::move(r)), config(std::move(config)) {}
  ~Task();
  const TaskRecord rec;
  const pb::TaskConfig config;  // echoed in the handle

  bool Exited() const;
  // Blocks until the task exits or `cancelled` returns true (polled).
  std::optional<ExitInfo> Wait(const std::function<bool()>& cancelled, int timeout_ms = -1) const;
  ExitInfo Result() const;  // valid once Exited()
  int64_t CompletedAt() const;
  // Calls cb once the task has exited: at once if it has. Returns a token for
  // Unsubscribe, 0 when cb already ran.
  uint64_t OnExit(std::function<void(const ExitInfo&)> cb);
  // True if cb was removed before it was called.
  bool Unsubscribe(uint64_t token);
  // Watches the supervisor; sets the exit result when it ends.
  void Watch(Supervisor sup, ExitWatcher& w);
  void MarkExited(ExitInfo e);

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool exited_ = false;
  ExitInfo result_;
  int64_t completed_at_ = 0;
  std::map<uint64_t, std::function<void(const ExitInfo&)>> on_exit_;
  uint64_t next_token_ = 1;
  ExitWatcher* watcher_ = nullptr;
  UniqueFd pidfd_;  // the supervisor's, while watched
};

class TaskManager {
 public:
  explicit TaskManager(PluginState& ps) : ps_(ps) {}
  ExitWatcher& Watcher() { return watcher_; }
  SessionRegistry& Sessions() { return sessions_; }
  Result<std::shared_ptr<Task>> Start(const pb::TaskConfig& cfg);
  // True if this call adopted the task, false if it was already known.
  Result<bool> Recover(const pb::TaskHandle& h);
  std::shared_ptr<Task> Find(const std::string& id) const;
  Result<void> Stop(const std::string& id, int64_t timeout_ms, const std::string& signal);
  Result<void> Destroy(const std::string& id, bool force);
  Result<void> Signal(const std::string& id, const std::string& signal);

 private:
  Result<std::shared_ptr<Task>> StartTask(const pb::TaskConfig& cfg);
  Result<bool> RecoverTask(const pb::TaskHandle& h);
  // Ends the task's exec sessions (before its cgroups go away).
  void EndSessions(const std::string& id);
  void Forget(const std::shared_ptr<Task>& t);
  PluginState& ps_;
  ExitWatcher watcher_;
  SessionRegistry sessions_;
  std::mutex recover_mu_;  // a RecoverTask at a time: two of one task adopt it once
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Task>> tasks_;
};

}  // namespace sworn::driver
