// Log lines for Nomad: go-plugin parses each stderr line as hclog JSON
// (@level, @message, @timestamp with microseconds) and files it in the agent
// log under the plugin's name. Writes never fail the caller: after the agent
// dies, stderr has no reader (SIGPIPE is ignored, EPIPE dropped).
#pragma once

#include <string>
#include <string_view>

namespace sworn::driver::hclog {

void Write(std::string_view level, std::string_view message,
           std::initializer_list<std::pair<std::string_view, std::string>> kv = {});
inline void Info(std::string_view m, std::initializer_list<std::pair<std::string_view, std::string>> kv = {}) {
  Write("info", m, kv);
}
inline void Warn(std::string_view m, std::initializer_list<std::pair<std::string_view, std::string>> kv = {}) {
  Write("warn", m, kv);
}
inline void Error(std::string_view m, std::initializer_list<std::pair<std::string_view, std::string>> kv = {}) {
  Write("error", m, kv);
}
inline void Debug(std::string_view m, std::initializer_list<std::pair<std::string_view, std::string>> kv = {}) {
  Write("debug", m, kv);
}

}  // namespace sworn::driver::hclog
