// The gRPC services one plugin process serves on its unix socket: Nomad's
// BasePlugin and Driver, and go-plugin's controller and stdio services.
// (grpc.health.v1 comes from gRPC's default health service.)
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <functional>
#include <mutex>

#include "driver/plugin.h"
#include "driver/pledge_events.h"
#include "driver/tasks.h"
#include "driver/ticker.h"
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
class StdioService final : public plugin::GRPCStdio::WithCallbackMethod_StreamStdio<plugin::GRPCStdio::Service> {
 public:
  grpc::ServerWriteReactor<plugin::StdioData>* StreamStdio(grpc::CallbackServerContext*,
                                                           const google::protobuf::Empty*) override;
};

// Driver events, broadcast to every open TaskEvents stream.
class EventHub {
 public:
  uint64_t Subscribe(std::function<void(const pb::DriverTaskEvent&)> fn);
  // Returns once no publish is calling fn any more.
  void Unsubscribe(uint64_t token);
  void Publish(const pb::DriverTaskEvent& e);

 private:
  std::mutex mu_;
  std::map<uint64_t, std::function<void(const pb::DriverTaskEvent&)>> subscribers_;
  uint64_t next_ = 1;
};

// The long-lived calls use the callback API (streams.cc, exec_stream.cc);
// the short unary ones are sync.
using DriverBase = pb::Driver::WithCallbackMethod_Fingerprint<pb::Driver::WithCallbackMethod_WaitTask<
    pb::Driver::WithCallbackMethod_TaskStats<pb::Driver::WithCallbackMethod_TaskEvents<
        pb::Driver::WithCallbackMethod_ExecTaskStreaming<pb::Driver::Service>>>>>;

class DriverService final : public DriverBase {
 public:
  DriverService(PluginState& ps, TaskManager& tm, EventHub& ev, Ticker& ticker)
      : ps_(ps), tm_(tm), ev_(ev), ticker_(ticker) {}
  using Ctx = grpc::ServerContext;
  grpc::Status TaskConfigSchema(Ctx*, const pb::TaskConfigSchemaRequest*, pb::TaskConfigSchemaResponse*) override;
  grpc::Status Capabilities(Ctx*, const pb::CapabilitiesRequest*, pb::CapabilitiesResponse*) override;
  grpc::ServerWriteReactor<pb::FingerprintResponse>* Fingerprint(grpc::CallbackServerContext*,
                                                                 const pb::FingerprintRequest*) override;
  grpc::Status RecoverTask(Ctx*, const pb::RecoverTaskRequest*, pb::RecoverTaskResponse*) override;
  grpc::Status StartTask(Ctx*, const pb::StartTaskRequest*, pb::StartTaskResponse*) override;
  grpc::ServerUnaryReactor* WaitTask(grpc::CallbackServerContext*, const pb::WaitTaskRequest*,
                                     pb::WaitTaskResponse*) override;
  grpc::Status StopTask(Ctx*, const pb::StopTaskRequest*, pb::StopTaskResponse*) override;
  grpc::Status DestroyTask(Ctx*, const pb::DestroyTaskRequest*, pb::DestroyTaskResponse*) override;
  grpc::Status InspectTask(Ctx*, const pb::InspectTaskRequest*, pb::InspectTaskResponse*) override;
  grpc::ServerWriteReactor<pb::TaskStatsResponse>* TaskStats(grpc::CallbackServerContext*,
                                                            const pb::TaskStatsRequest*) override;
  grpc::ServerWriteReactor<pb::DriverTaskEvent>* TaskEvents(grpc::CallbackServerContext*,
                                                           const pb::TaskEventsRequest*) override;
  grpc::Status SignalTask(Ctx*, const pb::SignalTaskRequest*, pb::SignalTaskResponse*) override;
  grpc::Status ExecTask(Ctx*, const pb::ExecTaskRequest*, pb::ExecTaskResponse*) override;
  grpc::ServerBidiReactor<pb::ExecTaskStreamingRequest, pb::ExecTaskStreamingResponse>* ExecTaskStreaming(
      grpc::CallbackServerContext*) override;
  grpc::Status CreateNetwork(Ctx*, const pb::CreateNetworkRequest*, pb::CreateNetworkResponse*) override;
  grpc::Status DestroyNetwork(Ctx*, const pb::DestroyNetworkRequest*, pb::DestroyNetworkResponse*) override;
  grpc::Status Init(Ctx*, const pb::InitRequest*, pb::InitResponse*) override;
  grpc::Status Shutdown(Ctx*, const pb::ShutdownRequest*, pb::ShutdownResponse*) override;

 private:
  PluginState& ps_;
  TaskManager& tm_;
  EventHub& ev_;
  Ticker& ticker_;
  PledgeEvents pledge_{[this](const pb::DriverTaskEvent& e) { ev_.Publish(e); }, ticker_};
};

// The fingerprint as of now (health, description, attributes).
pb::FingerprintResponse TakeFingerprint(const PluginState& ps);

}  // namespace sworn::driver
