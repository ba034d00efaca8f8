// A temporary directory laid out like a Nomad allocation directory, and
// small helpers for looking into a built config.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "bundle/bundle.h"

namespace bundle_test {

using nlohmann::json;
namespace fs = std::filesystem;
namespace bundle = sworn::bundle;

inline const std::string kAllocId = "5c3a1c4e-4b1d-8f0e-1234-0a1b2c3d4e5f";

// root/alloc/<alloc id>/{alloc/{logs,tmp,data}, web/{local,secrets,tmp,private}}
struct AllocFixture {
  std::string root, alloc_dir, task_dir;
  bundle::TaskRequest t;

  AllocFixture() {
    char tmpl[] = "/tmp/sworn-bundle-test-XXXXXX";
    root = mkdtemp(tmpl);
    chmod(root.c_str(), 0755);
    alloc_dir = root + "/alloc/" + kAllocId;
    task_dir = alloc_dir + "/web";
    for (const char* d :
         {"alloc/logs", "alloc/tmp", "alloc/data", "web/local", "web/secrets", "web/tmp", "web/private"})
      fs::create_directories(alloc_dir + "/" + d);
    t.id = kAllocId + "/web/0123abcd";
    t.name = "web";
    t.alloc_id = kAllocId;
    t.alloc_dir = alloc_dir;
    t.env = {{"NOMAD_ALLOC_DIR", "/alloc"},
             {"NOMAD_TASK_DIR", "/local"},
             {"NOMAD_SECRETS_DIR", "/secrets"},
             {"NOMAD_TASK_NAME", "web"}};
  }
  ~AllocFixture() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  AllocFixture(const AllocFixture&) = delete;
  AllocFixture& operator=(const AllocFixture&) = delete;
};

inline bundle::TaskDriverConfig Command(std::string cmd, std::vector<std::string> args = {}) {
  bundle::TaskDriverConfig c;
  c.command = std::move(cmd);
  c.args = std::move(args);
  return c;
}

inline bundle::Bundle Build(const bundle::TaskRequest& t, const bundle::TaskDriverConfig& c,
                            const bundle::PluginConfig& p = {}) {
  auto r = bundle::BuildBundle(t, c, p);
  INFO((r ? "" : r.error().Message()));
  REQUIRE(r);
  return *r;
}

inline std::string BuildError(const bundle::TaskRequest& t, const bundle::TaskDriverConfig& c,
                              const bundle::PluginConfig& p = {}) {
  auto r = bundle::BuildBundle(t, c, p);
  REQUIRE_FALSE(r);
  return r.error().Message();
}

// The last mount at `dest` (later mounts shadow earlier ones), or null.
inline json MountAt(const json& config, const std::string& dest) {
  json found;
  for (const auto& m : config["mounts"])
    if (m["destination"] == dest) found = m;
  return found;
}

inline bool HasOption(const json& mount, const std::string& opt) {
  for (const auto& o : mount["options"])
    if (o == opt) return true;
  return false;
}

inline std::vector<std::string> NsTypes(const json& config) {
  std::vector<std::string> out;
  for (const auto& n : config["linux"]["namespaces"]) out.push_back(n["type"]);
  return out;
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace bundle_test
