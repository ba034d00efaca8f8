#include "core/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

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

// Messages quote config values, paths and flags: a newline or escape
// sequence in one must not forge log lines or drive the terminal.
std::string Escape(std::string_view msg) {
  std::string out;
  out.reserve(msg.size());
  for (unsigned char c : msg) {
    if (c >= 0x20 && c != 0x7f) {
      out += static_cast<char>(c);
      continue;
    }
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
    }
  }
  return out;
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

int FileFd() { return TheSink().fd == 2 ? -1 : TheSink().fd; }

// Debug stamps count from the runtime's start (static initialisation), so
// that they include argument parsing and the config read.
const auto kStart = std::chrono::steady_clock::now();

void Write(Level level, std::string_view msg) {
  Sink& s = TheSink();
  if (level == Level::kDebug && !s.debug) return;
  std::string line;
  std::string timed;
  if (level == Level::kDebug) {
    // Debug lines carry the time since start: where a run spends its time.
    // They go out at level debug, as runc's --debug lines do.
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - kStart).count();
    char stamp[32];
    std::snprintf(stamp, sizeof(stamp), "[%lld.%03lldms] ", static_cast<long long>(us / 1000),
                  static_cast<long long>(us % 1000));
    timed = stamp + std::string(msg);
    msg = timed;
  }
  std::string safe = Escape(msg);
  if (s.json) {
    // Invalid UTF-8 (a path from the command line) is replaced, not thrown.
    line = nlohmann::json{{"level", LevelName(level)}, {"msg", safe}, {"time", NowRfc3339()}}.dump(
               -1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  } else if (s.fd == 2) {
    line = "sworn: " + std::string(level == Level::kError ? "" : std::string(LevelName(level)) + ": ") +
           safe + "\n";
  } else {
    // logfmt, as runc's logrus writes it: the quoted value escapes " and \.
    std::string quoted;
    for (char c : safe) {
      if (c == '"' || c == '\\') quoted += '\\';
      quoted += c;
    }
    line = "time=\"" + NowRfc3339() + "\" level=" + LevelName(level) + " msg=\"" + quoted + "\"\n";
  }
  (void)!write(s.fd, line.data(), line.size());
  // Errors also reach the terminal when they go to a log file, as runc does.
  if (level == Level::kError && s.fd != 2) {
    std::string plain = "sworn: " + safe + "\n";
    (void)!write(2, plain.data(), plain.size());
  }
}

}  // namespace sworn::log
