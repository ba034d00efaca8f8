// The plugin's shared pieces: identity, the operator's config (set by
// SetConfig, read by every RPC), and the mapping of errors to gRPC statuses.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <mutex>
#include <string>

#include "bundle/bundle.h"
#include "core/error.h"

namespace sworn::driver {

inline constexpr const char* kPluginName = "sworn";       // PluginInfo name = driver name in jobs
inline constexpr const char* kPluginVersion = "0.1.0";    // must parse as a go-version
inline constexpr const char* kApiVersion = "v0.1.0";      // the only driver API Nomad 1.6 speaks
inline constexpr int kHandleVersion = 1;                   // TaskHandle.version; bump with driver_state

class PluginState {
 public:
  void Set(bundle::PluginConfig c, std::string sworn);
  bundle::PluginConfig Config() const;
  // Absolute path of the sworn binary; "" when none was found.
  std::string Sworn() const;

 private:
  mutable std::mutex mu_;
  bundle::PluginConfig config_;
  std::string sworn_;
};

// sworn_path if set; else `sworn` beside this binary; else the first in PATH.
std::string FindSworn(const std::string& configured);

// Errors become statuses with the message as text. Never UNAVAILABLE: Nomad
// reads that as "the plugin is gone".
grpc::Status ToStatus(const Error& e);
// For StartTask: failures of the host (kSystem, kTimeout) carry Nomad's
// RecoverableError{recoverable: true} detail, so the client retries them under
// the task's restart policy; bad input fails the task at once.
grpc::Status ToStartStatus(const Error& e);

}  // namespace sworn::driver
