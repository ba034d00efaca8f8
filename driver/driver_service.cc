#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "container/container.h"
#include "driver/exec_session.h"
#include "driver/clock.h"
#include "driver/hclog.h"
#include "driver/network.h"
#include "driver/schema.h"
#include "driver/services.h"
#include "driver/stats.h"

namespace sworn::driver {
namespace {

void FillResult(const ExitInfo& e, pb::ExitResult* r) {
  r->set_exit_code(e.exit_code);
  r->set_signal(e.signal);
  r->set_oom_killed(e.oom_killed);
}

int64_t DurationMs(const google::protobuf::Duration& d) { return d.seconds() * 1000 + d.nanos() / 1000000; }

grpc::Status NotFound(const std::string& id) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND, "task not found for given id: " + id);
}

int LandlockAbi() {
  constexpr unsigned kVersion = 1;  // LANDLOCK_CREATE_RULESET_VERSION
  long abi = syscall(444 /* landlock_create_ruleset */, nullptr, 0, kVersion);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

std::string CgroupMode() {
  if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) return "v2";
  return access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0 ? "hybrid" : "v1";
}

}  // namespace

pb::FingerprintResponse TakeFingerprint(const PluginState& ps) {
  pb::FingerprintResponse r;
  auto attr = [&r](const std::string& k) -> auto& { return (*r.mutable_attributes())["driver.sworn." + k]; };
  std::string sworn = ps.Sworn();
  int abi = LandlockAbi();
  attr("version").set_string_val(kPluginVersion);
  attr("landlock_abi").set_int_val(abi);
  attr("cgroups").set_string_val(CgroupMode());
  if (sworn.empty()) {
    r.set_health(pb::FingerprintResponse::UNDETECTED);
    r.set_health_description("sworn binary not found: set sworn_path or put sworn in PATH");
    return r;
  }
  attr("path").set_string_val(sworn);
  // As Nomad's own drivers: driver.<name> = true once detected (constraints use it).
  (*r.mutable_attributes())["driver.sworn"].set_bool_val(true);
  if (geteuid() != 0) {
    r.set_health(pb::FingerprintResponse::UNHEALTHY);
    r.set_health_description("driver must run as root");
  } else if (access("/proc/sys/kernel/seccomp/actions_avail", R_OK) != 0) {
    r.set_health(pb::FingerprintResponse::UNHEALTHY);
    r.set_health_description("kernel lacks seccomp filters: promises cannot be enforced");
  } else {
    r.set_health(pb::FingerprintResponse::HEALTHY);
    r.set_health_description(abi > 0 ? "Healthy" : "Healthy (kernel Landlock disabled: unveil refused)");
  }
  return r;
}

grpc::Status DriverService::TaskConfigSchema(Ctx*, const pb::TaskConfigSchemaRequest*,
                                             pb::TaskConfigSchemaResponse* r) {
  *r->mutable_spec() = TaskConfigSpec();
  return grpc::Status::OK;
}

// Nomad 2.0.4+. Init follows SetConfig (or a reattach); nothing is left to
// do. Shutdown comes at agent or plugin cleanup: the tasks must outlive it
// (the next agent recovers them), so it only logs.
grpc::Status DriverService::Init(Ctx*, const pb::InitRequest*, pb::InitResponse*) { return grpc::Status::OK; }

grpc::Status DriverService::Shutdown(Ctx*, const pb::ShutdownRequest*, pb::ShutdownResponse*) {
  hclog::Info("driver shutdown requested; tasks keep running", {});
  return grpc::Status::OK;
}

grpc::Status DriverService::Capabilities(Ctx*, const pb::CapabilitiesRequest*, pb::CapabilitiesResponse* r) {
  auto* c = r->mutable_capabilities();
  c->set_send_signals(true);
  c->set_exec(true);
  // IMAGE, not CHROOT: with CHROOT the Nomad client copies chroot_env into
  // every task dir before StartTask; we bind-mount it instead.
  c->set_fs_isolation(pb::DriverCapabilities::IMAGE);
  c->add_network_isolation_modes(pb::NetworkIsolationSpec::HOST);
  c->add_network_isolation_modes(pb::NetworkIsolationSpec::GROUP);
  c->set_mount_configs(pb::DriverCapabilities::ANY_MOUNTS);
  return grpc::Status::OK;
}

grpc::Status DriverService::StartTask(Ctx*, const pb::StartTaskRequest* req, pb::StartTaskResponse* r) {
  auto t = tm_.Start(req->task());
  if (!t) {
    hclog::Error("StartTask failed", {{"task_id", req->task().id()}, {"error", t.error().Message()}});
    return ToStartStatus(t.error());
  }
  auto* h = r->mutable_handle();
  h->set_version(kHandleVersion);
  *h->mutable_config() = (*t)->config;
  h->set_state(pb::RUNNING);
  h->set_driver_state(EncodeRecord((*t)->rec));
  pledge_.Watch(*t, true);
  return grpc::Status::OK;
}

grpc::Status DriverService::RecoverTask(Ctx*, const pb::RecoverTaskRequest* req, pb::RecoverTaskResponse*) {
  auto ok = tm_.Recover(req->handle());
  if (!ok) {
    hclog::Error("RecoverTask failed", {{"task_id", req->handle().config().id()}, {"error", ok.error().Message()}});
    return ToStatus(ok.error());
  }
  if (!*ok) return grpc::Status::OK;  // already recovered: one event per task, not per call
  pb::DriverTaskEvent e;
  e.set_task_id(req->handle().config().id());
  e.set_alloc_id(req->handle().config().alloc_id());
  e.set_task_name(req->handle().config().name());
  SetTime(e.mutable_timestamp(), NowNs());
  e.set_message("Task recovered by a new driver process");
  ev_.Publish(std::move(e));
  if (auto t = tm_.Find(req->handle().config().id())) pledge_.Watch(t, false);
  return grpc::Status::OK;
}

grpc::Status DriverService::StopTask(Ctx*, const pb::StopTaskRequest* req, pb::StopTaskResponse*) {
  auto ok = tm_.Stop(req->task_id(), DurationMs(req->timeout()), req->signal());
  return ok ? grpc::Status::OK : ToStatus(ok.error());
}

grpc::Status DriverService::DestroyTask(Ctx*, const pb::DestroyTaskRequest* req, pb::DestroyTaskResponse*) {
  auto ok = tm_.Destroy(req->task_id(), req->force());
  return ok ? grpc::Status::OK : ToStatus(ok.error());
}

grpc::Status DriverService::InspectTask(Ctx*, const pb::InspectTaskRequest* req, pb::InspectTaskResponse* r) {
  auto* s = r->mutable_task();
  SetTime(s->mutable_started_at(), 0);
  SetTime(s->mutable_completed_at(), 0);
  FillResult(ExitInfo{}, s->mutable_result());
  auto t = tm_.Find(req->task_id());
  if (!t) return NotFound(req->task_id());
  s->set_id(t->rec.id);
  s->set_name(t->rec.name);
  SetTime(s->mutable_started_at(), t->rec.started_at);
  bool exited = t->Exited();
  s->set_state(exited ? pb::EXITED : pb::RUNNING);
  if (exited) {
    SetTime(s->mutable_completed_at(), t->CompletedAt());
    FillResult(t->Result(), s->mutable_result());
  }
  auto& a = *r->mutable_driver()->mutable_attributes();
  a["container_id"] = t->rec.container_id;
  a["bundle"] = t->rec.bundle_dir;
  a["supervisor_pid"] = std::to_string(t->rec.supervisor_pid);
  if (auto info = container::Inspect(t->rec.state_root, t->rec.container_id)) a["pid"] = std::to_string(info->st.pid);
  return grpc::Status::OK;
}

grpc::Status DriverService::SignalTask(Ctx*, const pb::SignalTaskRequest* req, pb::SignalTaskResponse*) {
  auto ok = tm_.Signal(req->task_id(), req->signal());
  return ok ? grpc::Status::OK : ToStatus(ok.error());
}

grpc::Status DriverService::ExecTask(Ctx*, const pb::ExecTaskRequest* req, pb::ExecTaskResponse* r) {
  FillResult(ExitInfo{}, r->mutable_result());
  auto t = tm_.Find(req->task_id());
  if (!t) return NotFound(req->task_id());
  if (t->Exited()) return ToStatus(MakeError(Errc::kBadState, "task " + req->task_id() + " has exited"));
  auto o = RunExec(t->rec, {req->command().begin(), req->command().end()}, DurationMs(req->timeout()), tm_.Sessions());
  if (!o) return ToStatus(o.error());
  r->set_stdout(o->out);
  r->set_stderr(o->err);
  r->mutable_result()->set_exit_code(o->exit_code);
  r->mutable_result()->set_signal(o->signal);
  return grpc::Status::OK;
}

// Only called by a client when a driver claims must_create_network; we
// don't, but answer as the Nomad client's own implementation would.
grpc::Status DriverService::CreateNetwork(Ctx*, const pb::CreateNetworkRequest* req, pb::CreateNetworkResponse* r) {
  auto ns = CreateNetns(req->alloc_id());
  if (!ns) return ToStatus(ns.error());
  auto* spec = r->mutable_isolation_spec();
  spec->set_mode(pb::NetworkIsolationSpec::GROUP);
  spec->set_path(ns->path);
  r->set_created(ns->created);
  return grpc::Status::OK;
}

grpc::Status DriverService::DestroyNetwork(Ctx*, const pb::DestroyNetworkRequest* req, pb::DestroyNetworkResponse*) {
  std::string path = req->isolation_spec().path();
  if (path.empty()) {
    auto ns_path = NetnsPathFor(req->alloc_id());
    if (!ns_path) return ToStatus(ns_path.error());
    path = *ns_path;
  }
  auto ok = DestroyNetns(path);
  return ok ? grpc::Status::OK : ToStatus(ok.error());
}

}  // namespace sworn::driver
