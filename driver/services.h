// The gRPC services one plugin process serves on its unix socket: Nomad's
// BasePlugin and Driver, and go-plugin's controller and stdio services.
// (grpc.health.v1 comes from gRPC's default health service.)
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

#include "driver/plugin.h"
#include "driver/tasks.h"
#include "go-plugin/grpc_controller.grpc.pb.h"
#include "go-plugin/grpc_stdio.grpc.pb.h"
#include "plugins/base/proto/base.grpc.pb.h"
#include "plugins/drivers/proto/driver.grpc.pb.h"

namespace sworn::driver {

namespace basepb = hashicorp::nomad::plugins::base::proto;

class BaseService final : public basepb::BasePlugin::Service {
 public:
  explicit BaseService(PluginState& ps) : ps_(ps) {}
  grpc::Status PluginInfo(grpc::ServerContext*, const basepb::PluginInfoRequest*, basepb::PluginInfoResponse*) override;
  grpc::Status ConfigSchema(grpc::ServerContext*, const basepb::ConfigSchemaRequest*,
                            basepb::ConfigSchemaResponse*) override;
  grpc::Status SetConfig(grpc::ServerContext*, const basepb::SetConfigRequest*, basepb::SetConfigResponse*) override;

 private:
  grpc::Status Configure(const basepb::SetConfigRequest& req);
  PluginState& ps_;
};

// go-plugin's Shutdown: the client waits 2 s, then SIGKILLs us.
class ControllerService final : public plugin::GRPCController::Service {
 public:
  explicit ControllerService(std::function<void()> shutdown) : shutdown_(std::move(shutdown)) {}
  grpc::Status Shutdown(grpc::ServerContext*, const plugin::Empty*, plugin::Empty*) override;

 private:
  std::function<void()> shutdown_;
};

// Held open, silent: Nomad discards plugin stdio anyway.
class StdioService final : public plugin::GRPCStdio::Service {
 public:
  grpc::Status StreamStdio(grpc::ServerContext*, const google::protobuf::Empty*,
                           grpc::ServerWriter<plugin::StdioData>*) override;
};

// Driver events, broadcast to every TaskEvents stream.
class EventHub {
 public:
  void Publish(pb::DriverTaskEvent e);
  // Blocks until an event newer than `seen` exists or `cancelled`.
  bool Next(uint64_t& seen, pb::DriverTaskEvent* out, const std::function<bool()>& cancelled);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<uint64_t, pb::DriverTaskEvent>> recent_;
  uint64_t next_ = 1;
};

// ExecTaskStreaming uses the callback API (exec_stream.cc); the rest is sync.
class DriverService final : public pb::Driver::WithCallbackMethod_ExecTaskStreaming<pb::Driver::Service> {
 public:
  DriverService(PluginState& ps, TaskManager& tm, EventHub& ev) : ps_(ps), tm_(tm), ev_(ev) {}
  using Ctx = grpc::ServerContext;
  grpc::Status TaskConfigSchema(Ctx*, const pb::TaskConfigSchemaRequest*, pb::TaskConfigSchemaResponse*) override;
  grpc::Status Capabilities(Ctx*, const pb::CapabilitiesRequest*, pb::CapabilitiesResponse*) override;
  grpc::Status Fingerprint(Ctx*, const pb::FingerprintRequest*, grpc::ServerWriter<pb::FingerprintResponse>*) override;
  grpc::Status RecoverTask(Ctx*, const pb::RecoverTaskRequest*, pb::RecoverTaskResponse*) override;
  grpc::Status StartTask(Ctx*, const pb::StartTaskRequest*, pb::StartTaskResponse*) override;
  grpc::Status WaitTask(Ctx*, const pb::WaitTaskRequest*, pb::WaitTaskResponse*) override;
  grpc::Status StopTask(Ctx*, const pb::StopTaskRequest*, pb::StopTaskResponse*) override;
  grpc::Status DestroyTask(Ctx*, const pb::DestroyTaskRequest*, pb::DestroyTaskResponse*) override;
  grpc::Status InspectTask(Ctx*, const pb::InspectTaskRequest*, pb::InspectTaskResponse*) override;
  grpc::Status TaskStats(Ctx*, const pb::TaskStatsRequest*, grpc::ServerWriter<pb::TaskStatsResponse>*) override;
  grpc::Status TaskEvents(Ctx*, const pb::TaskEventsRequest*, grpc::ServerWriter<pb::DriverTaskEvent>*) override;
  grpc::Status SignalTask(Ctx*, const pb::SignalTaskRequest*, pb::SignalTaskResponse*) override;
  grpc::Status ExecTask(Ctx*, const pb::ExecTaskRequest*, pb::ExecTaskResponse*) override;
  grpc::ServerBidiReactor<pb::ExecTaskStreamingRequest, pb::ExecTaskStreamingResponse>* ExecTaskStreaming(
      grpc::CallbackServerContext*) override;
  grpc::Status CreateNetwork(Ctx*, const pb::CreateNetworkRequest*, pb::CreateNetworkResponse*) override;
  grpc::Status DestroyNetwork(Ctx*, const pb::DestroyNetworkRequest*, pb::DestroyNetworkResponse*) override;

 private:
  PluginState& ps_;
  TaskManager& tm_;
  EventHub& ev_;
};

// The fingerprint as of now (health, description, attributes).
pb::FingerprintResponse TakeFingerprint(const PluginState& ps);

}  // namespace sworn::driver
