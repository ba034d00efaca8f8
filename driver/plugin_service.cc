#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "driver/hclog.h"
#include "driver/schema.h"
#include "driver/services.h"
#include "driver/stats.h"
#include "google/rpc/status.pb.h"
#include "plugins/shared/structs/proto/recoverable_error.pb.h"

namespace sworn::driver {

void PluginState::Set(bundle::PluginConfig c, std::string sworn) {
  std::lock_guard l(mu_);
  config_ = std::move(c);
  sworn_ = std::move(sworn);
}

bundle::PluginConfig PluginState::Config() const {
  std::lock_guard l(mu_);
  return config_;
}

std::string PluginState::Sworn() const {
  std::lock_guard l(mu_);
  return sworn_;
}

std::string FindSworn(const std::string& configured) {
  // Installed as <plugin_dir>/sworn (the job's driver name), this binary is
  // itself a "sworn" beside the plugin and in PATH: never pick it.
  struct stat self {};
  stat("/proc/self/exe", &self);
  auto executable = [&self](const std::filesystem::path& p) {
    struct stat st {};
    return access(p.c_str(), X_OK) == 0 && stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           !(st.st_dev == self.st_dev && st.st_ino == self.st_ino);
  };
  if (!configured.empty() && configured.find('/') != std::string::npos) return executable(configured) ? configured : "";
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (configured.empty() && !ec && executable(exe.parent_path() / "sworn")) return exe.parent_path() / "sworn";
  const char* path = getenv("PATH");
  std::string dirs = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (size_t pos = 0; pos <= dirs.size();) {
    size_t end = dirs.find(':', pos);
    if (end == std::string::npos) end = dirs.size();
    std::filesystem::path p = dirs.substr(pos, end - pos);
    std::string name = configured.empty() ? "sworn" : configured;
    if (p.is_absolute() && executable(p / name)) return p / name;
    pos = end + 1;
  }
  return "";
}

grpc::Status ToStatus(const Error& e) {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  switch (e.code) {
    case Errc::kInvalidArgument: code = grpc::StatusCode::INVALID_ARGUMENT; break;
    case Errc::kNotFound: code = grpc::StatusCode::NOT_FOUND; break;
    case Errc::kAlreadyExists: code = grpc::StatusCode::ALREADY_EXISTS; break;
    case Errc::kBadState: code = grpc::StatusCode::FAILED_PRECONDITION; break;
    case Errc::kTimeout: code = grpc::StatusCode::DEADLINE_EXCEEDED; break;
    case Errc::kUnsupported: code = grpc::StatusCode::FAILED_PRECONDITION; break;
    case Errc::kSystem: code = grpc::StatusCode::UNKNOWN; break;
  }
  return grpc::Status(code, e.Message());
}

grpc::Status ToStartStatus(const Error& e) {
  grpc::Status s = ToStatus(e);
  if (e.code != Errc::kSystem && e.code != Errc::kTimeout) return s;
  hashicorp::nomad::plugins::shared::structs::RecoverableError rec;
  rec.set_recoverable(true);
  google::rpc::Status details;
  details.set_code(grpc::StatusCode::FAILED_PRECONDITION);
  details.set_message(s.error_message());
  details.add_details()->PackFrom(rec);
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, s.error_message(), details.SerializeAsString());
}

grpc::Status BaseService::PluginInfo(grpc::ServerContext*, const basepb::PluginInfoRequest*,
                                     basepb::PluginInfoResponse* r) {
  r->set_type(basepb::DRIVER);
  r->add_plugin_api_versions(kApiVersion);
  r->set_plugin_version(kPluginVersion);
  r->set_name(kPluginName);
  return grpc::Status::OK;
}

grpc::Status BaseService::ConfigSchema(grpc::ServerContext*, const basepb::ConfigSchemaRequest*,
                                       basepb::ConfigSchemaResponse* r) {
  *r->mutable_spec() = PluginConfigSpec();
  return grpc::Status::OK;
}

grpc::Status BaseService::SetConfig(grpc::ServerContext*, const basepb::SetConfigRequest* req,
                                    basepb::SetConfigResponse*) {
  try {
    return Configure(*req);
  } catch (const std::exception& e) {
    return ToStatus(MakeError(Errc::kSystem, std::string("SetConfig: ") + e.what()));
  }
}

namespace {

// Nomad's numalib: TotalCompute (the override, else the sum of each core's
// base, else max, else guessed MHz) over NumCores, as exec2 sizes cpu.max.
double TopologyCoreMhz(const basepb::ClientTopology& t) {
  if (t.cores_size() == 0) return 0;
  uint64_t total = t.override_total_compute();
  if (total == 0)
    for (const auto& c : t.cores())
      total += c.base_speed() ? c.base_speed() : c.max_speed() ? c.max_speed() : c.guess_speed();
  return static_cast<double>(total) / t.cores_size();
}

}  // namespace

grpc::Status BaseService::Configure(const basepb::SetConfigRequest& r) {
  const auto* req = &r;
  auto cty = bundle::DecodeCtyMsgpack(req->msgpack_config(), "plugin config");
  if (!cty) return ToStatus(cty.error());
  auto c = bundle::ParsePluginConfig(*cty);
  if (!c) return ToStatus(WithContext(decltype(c)(std::unexpected(c.error())), "plugin config").error());
  std::string sworn = FindSworn(c->sworn_path);
  if (sworn.empty() && !c->sworn_path.empty())
    return ToStatus(FieldError("plugin config: sworn_path", c->sworn_path + (c->sworn_path.find('/') == std::string::npos ? " is not in PATH" : " is not an executable file")));
  // Validation launches (no nomad_config) must not touch the host.
  if (req->has_nomad_config()) {
    hclog::Info("configured", {{"sworn", sworn}, {"state_dir", c->state_dir}});
    const auto& d = req->nomad_config().driver();
    if (d.has_topology()) SetTopologyCoreMhz(TopologyCoreMhz(d.topology()));
  }
  ps_.Set(std::move(*c), std::move(sworn));
  return grpc::Status::OK;
}

grpc::Status ControllerService::Shutdown(grpc::ServerContext*, const plugin::Empty*, plugin::Empty*) {
  shutdown_();
  return grpc::Status::OK;
}

}  // namespace sworn::driver
