#include "driver/hclog.h"

#include <sys/time.h>
#include <unistd.h>

#include <ctime>

#include <nlohmann/json.hpp>

namespace sworn::driver::hclog {

namespace {
// hclog's TimeFormat: 2006-01-02T15:04:05.000000Z07:00, here always UTC.
std::string Timestamp() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  gmtime_r(&tv.tv_sec, &t);
  char buf[64];
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &t);
  snprintf(buf + n, sizeof(buf) - n, ".%06ldZ", static_cast<long>(tv.tv_usec));
  return buf;
}
}  // namespace

void Write(std::string_view level, std::string_view message,
           std::initializer_list<std::pair<std::string_view, std::string>> kv) {
  nlohmann::json j = {{"@level", level}, {"@message", message}, {"@timestamp", Timestamp()}, {"@module", "sworn"}};
  for (const auto& [k, v] : kv) j[std::string(k)] = v;
  std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  (void)!::write(2, line.data(), line.size());  // one write per line: lines from threads don't interleave
}

}  // namespace sworn::driver::hclog
