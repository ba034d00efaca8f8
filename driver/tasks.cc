#include "driver/tasks.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "container/container.h"
#include "core/json_input.h"
#include "driver/convert.h"
#include "driver/exec_cgroup.h"
#include "driver/clock.h"
#include "driver/hclog.h"

namespace sworn::driver {
namespace {

using nlohmann::json;

// Nomad 1.6 reuses its task cgroup on restart. sworn's delete keeps a
// cgroup that existed before create (the state's cgroup_reused); this puts
// it back should it be gone anyway, before Nomad places the next run there.
void RecreateCgroup(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
}

std::string CgroupDirToRecreate(const pb::TaskConfig& cfg, const bundle::Bundle& b) {
  const std::string& cg = cfg.resources().linux_resources().cpuset_cgroup();
  if (!b.reuse_cgroup || cg.empty()) return "";
  return cg.starts_with("/sys/fs/cgroup/") ? cg : "/sys/fs/cgroup" + (cg.starts_with("/") ? cg : "/" + cg);
}

}  // namespace

std::string EncodeRecord(const TaskRecord& r) {
  return json{{"id", r.id},
              {"name", r.name},
              {"alloc_id", r.alloc_id},
              {"container_id", r.container_id},
              {"bundle_dir", r.bundle_dir},
              {"state_root", r.state_root},
              {"sworn", r.sworn},
              {"exit_file", r.exit_file},
              {"log_file", r.log_file},
              {"cgroups_path", r.cgroups_path},
              {"recreate_cgroup", r.recreate_cgroup},
              {"supervisor_pid", r.supervisor_pid},
              {"supervisor_start", r.supervisor_start},
              {"started_at", r.started_at}}
      .dump();
}

Result<TaskRecord> DecodeRecord(const std::string& bytes) {
  auto parsed = ParseJsonInput(bytes, "handle.driver_state");
  json j = parsed ? std::move(*parsed) : json();
  if (!j.is_object()) return Fail(FieldError("handle.driver_state", "not a sworn driver state (expected JSON)"));
  try {
    TaskRecord r;
    r.id = j.at("id");
    r.name = j.value("name", "");
    r.alloc_id = j.value("alloc_id", "");
    r.container_id = j.at("container_id");
    r.bundle_dir = j.at("bundle_dir");
    r.state_root = j.at("state_root");
    r.sworn = j.at("sworn");
    r.exit_file = j.at("exit_file");
    r.log_file = j.value("log_file", "");
    r.cgroups_path = j.value("cgroups_path", "");
    r.recreate_cgroup = j.value("recreate_cgroup", "");
    r.supervisor_pid = j.at("supervisor_pid");
    r.supervisor_start = j.at("supervisor_start");
    r.started_at = j.value("started_at", int64_t{0});
    return r;
  } catch (const json::exception& e) {
    return Fail(FieldError("handle.driver_state", e.what()));
  }
}

Task::~Task() {
  if (watcher_ && pidfd_) watcher_->Remove(pidfd_.get());
}

bool Task::Exited() const {
  std::lock_guard l(mu_);
  return exited_;
}

ExitInfo Task::Result() const {
  std::lock_guard l(mu_);
  return result_;
}

int64_t Task::CompletedAt() const {
  std::lock_guard l(mu_);
  return completed_at_;
}

std::optional<ExitInfo> Task::Wait(const std::function<bool()>& cancelled, int timeout_ms) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock l(mu_);
  while (!exited_) {
    if (cancelled && cancelled()) return std::nullopt;
    if (timeout_ms >= 0 && std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    cv_.wait_for(l, std::chrono::milliseconds(100));
  }
  return result_;
}

void Task::MarkExited(ExitInfo e) {
  std::map<uint64_t, std::function<void(const ExitInfo&)>> callbacks;
  {
    std::lock_guard l(mu_);
    if (exited_) return;
    exited_ = true;
    result_ = std::move(e);
    completed_at_ = result_.exited_at_ns ? result_.exited_at_ns : NowNs();
    callbacks.swap(on_exit_);
  }
  cv_.notify_all();
  // A callback may drop the last reference to this task: use copies only.
  ExitInfo r = Result();
  for (auto& [token, cb] : callbacks) cb(r);
}

uint64_t Task::OnExit(std::function<void(const ExitInfo&)> cb) {
  std::unique_lock l(mu_);
  if (exited_) {
    ExitInfo r = result_;
    l.unlock();
    cb(r);
    return 0;
  }
  uint64_t token = next_token_++;
  on_exit_.emplace(token, std::move(cb));
  return token;
}

bool Task::Unsubscribe(uint64_t token) {
  std::lock_guard l(mu_);
  return on_exit_.erase(token) > 0;
}

void Task::Watch(Supervisor sup, ExitWatcher& w) {
  watcher_ = &w;
  pidfd_ = std::move(sup.pidfd);
  w.Add(pidfd_.get(), [this] {
    auto e = ReadExitFile(rec.exit_file);
    if (!e) {
      // The supervisor was killed: its container would run on unwatched, and
      // Nomad, told the task died, would start a second copy beside it.
      (void)container::Delete(rec.state_root, rec.container_id, true);
      e = ExitInfo{.exit_code = 255,
                   .err = "the task's supervisor died without recording an exit status; its processes were killed"};
    }
    hclog::Info("task exited", {{"task_id", rec.id}, {"exit_code", std::to_string(e->exit_code)},
                                {"signal", std::to_string(e->signal)}, {"oom_killed", e->oom_killed ? "true" : "false"}});
    RecreateCgroup(rec.recreate_cgroup);
    MarkExited(*e);
  });
}

// The long-lived plugin must never abort: anything thrown below (a library
// surprise, bad_alloc) becomes an error status for this one call.
Result<std::shared_ptr<Task>> TaskManager::Start(const pb::TaskConfig& cfg) {
  try {
    return StartTask(cfg);
  } catch (const std::exception& e) {
    return Fail(MakeError(Errc::kSystem, std::string("StartTask: ") + e.what()));
  }
}

Result<bool> TaskManager::Recover(const pb::TaskHandle& h) {
  try {
    return RecoverTask(h);
  } catch (const std::exception& e) {
    return Fail(MakeError(Errc::kSystem, std::string("RecoverTask: ") + e.what()));
  }
}

Result<std::shared_ptr<Task>> TaskManager::StartTask(const pb::TaskConfig& cfg) {
  if (cfg.id().empty()) return Fail(FieldError("task.id", "required"));
  if (Find(cfg.id())) return Fail(MakeError(Errc::kAlreadyExists, "task " + cfg.id() + " already exists"));
  auto plugin = ps_.Config();
  std::string sworn = ps_.Sworn();
  if (sworn.empty()) return Fail(MakeError(Errc::kUnsupported, "sworn binary not found (set sworn_path)"));
  auto cty = SWORN_TRY(bundle::DecodeCtyMsgpack(cfg.msgpack_driver_config(), "task config"));
  auto tc = SWORN_TRY(WithContext(bundle::ParseTaskDriverConfig(cty), "task config"));
  auto b = SWORN_TRY(bundle::BuildBundle(ToRequest(cfg), tc, plugin));
  TaskRecord r{.id = cfg.id(), .name = cfg.name(), .alloc_id = cfg.alloc_id(), .container_id = b.container_id,
               .bundle_dir = b.dir, .state_root = plugin.state_dir + "/containers", .sworn = sworn,
               .exit_file = b.dir + "/exit.json", .log_file = b.dir + "/sworn.log", .cgroups_path = b.cgroups_path,
               .recreate_cgroup = CgroupDirToRecreate(cfg, b)};
  SWORN_TRY(bundle::WriteBundle(b));
  std::error_code ec;
  std::filesystem::create_directories(r.state_root, ec);
  auto cleanup = [&](Error e) {
    std::filesystem::remove_all(r.bundle_dir, ec);
    RecreateCgroup(r.recreate_cgroup);
    return Fail(std::move(e));
  };
  auto out = OpenLogWriter(cfg.stdout_path(), 30000);
  if (!out) return cleanup(out.error());
  auto err = OpenLogWriter(cfg.stderr_path(), 30000);
  if (!err) return cleanup(err.error());
  auto sup = SpawnSupervisor({.sworn = sworn, .state_root = r.state_root, .bundle_dir = r.bundle_dir,
                              .container_id = r.container_id, .exit_file = r.exit_file, .log_file = r.log_file,
                              .stdout_fd = out->get(), .stderr_fd = err->get()});
  if (!sup) return cleanup(sup.error());
  r.supervisor_pid = sup->pid;
  r.supervisor_start = sup->start_time;
  r.started_at = NowNs();
  auto t = std::make_shared<Task>(std::move(r), cfg);
  t->Watch(std::move(*sup), watcher_);
  std::lock_guard l(mu_);
  tasks_[t->rec.id] = t;
  hclog::Info("task started", {{"task_id", t->rec.id}, {"container", t->rec.container_id}, {"bundle", t->rec.bundle_dir}});
  return t;
}

Result<bool> TaskManager::RecoverTask(const pb::TaskHandle& h) {
  if (h.version() < 1) return Fail(FieldError("handle.version", "a pre-0.9 handle cannot be recovered"));
  auto r = SWORN_TRY(DecodeRecord(h.driver_state()));
  std::string id = h.config().id().empty() ? r.id : h.config().id();
  std::lock_guard recovering(recover_mu_);
  if (Find(id)) return false;
  r.id = id;
  auto t = std::make_shared<Task>(r, h.config());
  if (auto sup = AdoptSupervisor(r.supervisor_pid, r.supervisor_start)) {
    // Sessions of the previous plugin instance lost their clients with it.
    if (auto info = container::Inspect(r.state_root, r.container_id)) RemoveStaleSessions(info->st.cgroup_dirs);
    t->Watch(std::move(*sup), watcher_);
  } else if (auto e = ReadExitFile(r.exit_file)) {
    t->MarkExited(*e);
  } else {
    // Whatever is left of the container can no longer be supervised: remove
    // it rather than leave an orphan for Nomad to start a second copy beside.
    (void)container::Delete(r.state_root, r.container_id, true);
    RecreateCgroup(r.recreate_cgroup);
    return Fail(MakeError(Errc::kNotFound, "task " + id + ": its supervisor is gone and left no exit status"));
  }
  std::lock_guard l(mu_);
  tasks_.emplace(id, t);
  hclog::Info("task recovered", {{"task_id", id}, {"running", t->Exited() ? "false" : "true"}});
  return true;
}

std::shared_ptr<Task> TaskManager::Find(const std::string& id) const {
  std::lock_guard l(mu_);
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : it->second;
}

Result<void> TaskManager::Stop(const std::string& id, int64_t timeout_ms, const std::string& signal) {
  auto t = Find(id);
  if (!t || t->Exited()) return {};  // Nomad cannot tell "not found" apart and would retry
  EndSessions(id);
  int sig = signal.empty() ? SIGINT : SWORN_TRY(WithContext(container::ParseSignal(signal), "signal"));
  if (auto k = container::Kill(t->rec.state_root, t->rec.container_id, sig, false); !k)
    hclog::Error("StopTask: signalling the task failed", {{"task_id", id}, {"error", k.error().Message()}});
  if (t->Wait(nullptr, static_cast<int>(std::max<int64_t>(timeout_ms, 0)))) return {};
  hclog::Info("task did not stop in time; killing every process", {{"task_id", id}});
  (void)container::Kill(t->rec.state_root, t->rec.container_id, SIGKILL, true);
  if (!t->Wait(nullptr, 15000)) return Fail(MakeError(Errc::kTimeout, "task " + id + " still running 15 s after SIGKILL"));
  return {};
}

Result<void> TaskManager::Destroy(const std::string& id, bool force) {
  auto t = Find(id);
  if (!t) return {};
  EndSessions(id);
  if (!t->Exited()) {
    if (!force) return Fail(MakeError(Errc::kBadState, "task " + id + " is still running (use force)"));
    (void)container::Kill(t->rec.state_root, t->rec.container_id, SIGKILL, true);
    if (!t->Wait(nullptr, 15000)) return Fail(MakeError(Errc::kTimeout, "task " + id + " still running 15 s after SIGKILL"));
  }
  Forget(t);
  return {};
}

Result<void> TaskManager::Signal(const std::string& id, const std::string& signal) {
  auto t = Find(id);
  if (!t) return Fail(MakeError(Errc::kNotFound, "task " + id + " not found"));
  if (t->Exited()) return Fail(MakeError(Errc::kBadState, "task " + id + " has exited"));
  int sig = SWORN_TRY(WithContext(container::ParseSignal(signal), "signal"));
  return container::Kill(t->rec.state_root, t->rec.container_id, sig, false);
}

void TaskManager::EndSessions(const std::string& id) {
  sessions_.KillTask(id);
  if (!sessions_.WaitEnded(id, 2000)) hclog::Error("exec sessions did not end within 2 s", {{"task_id", id}});
}

void TaskManager::Forget(const std::shared_ptr<Task>& t) {
  std::lock_guard l(mu_);
  tasks_.erase(t->rec.id);
}

}  // namespace sworn::driver
