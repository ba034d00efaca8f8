#include "core/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "core/sys.h"

namespace sworn::log {
namespace {

struct Sink {
  int fd = 2;
  bool json = false;
  bool debug = false;
};

Sink& TheSink() {
  static Sink s;
  return s;
}

const char* LevelName(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warning";
    case Level::kError: return "error";
  }
  return "info";
}

}  // namespace

void Configure(const std::string& path, bool json, bool debug) {
  Sink& s = TheSink();
  s.json = json;
  s.debug = debug;
  if (!path.empty()) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) s.fd = fd;
  }
}

void Write(Level level, std::string_view msg) {
  Sink& s = TheSink();
  if (level == Level::kDebug && !s.debug) return;
  std::string line;
  if (level == Level::kDebug) {
    // Debug lines carry the time since start: where a run spends its time.
    static const auto start = std::chrono::steady_clock::now();
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
    std::string m = "[" + std::to_string(us / 1000) + "." + std::to_string(us % 1000 / 100) + "ms] " + std::string(msg);
    return Write(Level::kInfo, m);
  }
  if (s.json) {
    line = nlohmann::json{{"level", LevelName(level)}, {"msg", msg}, {"time", NowRfc3339()}}.dump() + "\n";
  } else if (s.fd == 2) {
    line = "sworn: " + std::string(level == Level::kError ? "" : std::string(LevelName(level)) + ": ") +
           std::string(msg) + "\n";
  } else {
    line = "time=\"" + NowRfc3339() + "\" level=" + LevelName(level) + " msg=\"" + std::string(msg) + "\"\n";
  }
  (void)!write(s.fd, line.data(), line.size());
  // Errors also reach the terminal when they go to a log file, as runc does.
  if (level == Level::kError && s.fd != 2) {
    std::string plain = "sworn: " + std::string(msg) + "\n";
    (void)!write(2, plain.data(), plain.size());
  }
}

}  // namespace sworn::log
