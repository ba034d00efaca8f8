// Process-wide log sink configured by the CLI's --log/--log-format/--debug.
// Containerd and podman read runc-style lines from --log: with json format
// each line is {"level","msg","time"}.
#pragma once

#include <string>
#include <string_view>

namespace sworn::log {

enum class Level { kDebug, kInfo, kWarn, kError };

void Configure(const std::string& path, bool json, bool debug);
void Write(Level level, std::string_view msg);
// The --log file's fd, or -1 while the log goes to stderr.
int FileFd();
inline void Warn(std::string_view m) { Write(Level::kWarn, m); }
inline void Error(std::string_view m) { Write(Level::kError, m); }
inline void Debug(std::string_view m) { Write(Level::kDebug, m); }

}  // namespace sworn::log
