#include <sys/capability.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "spec/spec.h"

using nlohmann::json;
using sworn::Errc;

namespace {

// A bundle dir with a rootfs, so root.path validation passes.
struct Bundle {
  std::string dir;
  Bundle() {
    char tmpl[] = "/tmp/sworn-spec-XXXXXX";
    dir = mkdtemp(tmpl);
    std::filesystem::create_directory(dir + "/rootfs");
  }
  ~Bundle() { std::filesystem::remove_all(dir); }
};

json Minimal() {
  return {{"ociVersion", "1.0.2"},
          {"root", {{"path", "rootfs"}}},
          {"process", {{"args", {"sh"}}, {"cwd", "/"}}},
          {"linux", {{"namespaces", json::array({{{"type", "mount"}}})}}}};
}

// Parses and returns the error message ("" on success).
std::string ErrorOf(const json& j) {
  Bundle b;
  auto r = sworn::spec::ParseSpec(j.dump(), b.dir);
  return r ? "" : r.error().Message();
}

}  // namespace

TEST_CASE("a minimal config parses and resolves root.path against the bundle", "[unit][spec]") {
  Bundle b;
  auto r = sworn::spec::ParseSpec(Minimal().dump(), b.dir);
  REQUIRE(r);
  CHECK(r->root_path == b.dir + "/rootfs");
  CHECK(r->process->args == std::vector<std::string>{"sh"});
  CHECK(r->linux.Find(sworn::spec::NsType::kMount) != nullptr);
}

TEST_CASE("errors name the offending field", "[unit][spec]") {
  json j = Minimal();
  j["process"]["args"] = {"sh", 3};
  CHECK(ErrorOf(j) == "process.args[1]: expected a string, got integer");

  j = Minimal();
  j["process"]["cwd"] = "relative";
  CHECK(ErrorOf(j) == "process.cwd: must be an absolute path, got \"relative\"");

  j = Minimal();
  j["process"]["rlimits"] = json::array({{{"type", "RLIMIT_BOGUS"}, {"soft", 1}, {"hard", 1}}});
  CHECK(ErrorOf(j) == "process.rlimits[0].type: unknown rlimit \"RLIMIT_BOGUS\"");

  // config.md (1.1+): an unknown capability is a warning (at create), not an error.
  j = Minimal();
  j["process"]["capabilities"] = {{"bounding", {"CAP_CHOWN", "CAP_NOPE"}}, {"effective", {"CAP_NOPE"}}};
  {
    Bundle b;
    auto r = sworn::spec::ParseSpec(j.dump(), b.dir);
    REQUIRE(r);
    CHECK(r->process->capabilities->bounding == std::vector<int>{CAP_CHOWN});
    CHECK(r->process->capabilities->unknown == std::vector<std::string>{"CAP_NOPE"});
  }

  // config.md: a relative mount destination is relative to "/".
  j = Minimal();
  j["mounts"] = json::array({{{"destination", "tmp"}, {"type", "tmpfs"}}});
  {
    Bundle b;
    auto r = sworn::spec::ParseSpec(j.dump(), b.dir);
    REQUIRE(r);
    CHECK(r->mounts[0].destination == "/tmp");
  }
  j["mounts"][0]["destination"] = "";
  CHECK(ErrorOf(j) == "mounts[0].destination: is required");

  j = Minimal();
  j["linux"]["uidMappings"] = json::array({{{"containerID", 0}, {"hostID", -1}, {"size", 1}}});
  CHECK(ErrorOf(j).starts_with("linux.uidMappings[0].hostID: -1 is not a valid id"));

  j = Minimal();
  j["linux"]["namespaces"].push_back({{"type", "mount"}});
  CHECK(ErrorOf(j) == "linux.namespaces[1].type: namespace \"mount\" listed twice");

  j = Minimal();
  j["hostname"] = "h";
  CHECK(ErrorOf(j) == "hostname: setting it needs a uts namespace");
}

TEST_CASE("ociVersion: any 1.x is accepted, another major is refused", "[unit][spec]") {
  for (const char* v : {"1.0.0", "1.0.2-dev", "1.1.0", "1.2.0", "1.3.0"}) {
    json j = Minimal();
    j["ociVersion"] = v;
    CHECK(ErrorOf(j).empty());
  }
  json j = Minimal();
  j["ociVersion"] = "2.0.0";
  CHECK(ErrorOf(j) == "ociVersion: version 2.0.0 is not supported (sworn implements 1.x)");
  j.erase("ociVersion");
  CHECK(ErrorOf(j) == "ociVersion: is required");
}

TEST_CASE("malformed JSON and a missing rootfs are clear errors", "[unit][spec]") {
  Bundle b;
  auto r = sworn::spec::ParseSpec("{\"ociVersion\": ", b.dir);
  REQUIRE(!r);
  CHECK(r.error().code == Errc::kInvalidArgument);
  CHECK(r.error().Message().find("config.json: malformed JSON") == 0);

  json j = Minimal();
  j["root"]["path"] = "nope";
  CHECK(ErrorOf(j).find("root.path: stat") == 0);
}

TEST_CASE("mount options map to flags, propagation, attributes and data", "[unit][spec]") {
  sworn::spec::Mount m;
  m.type = "tmpfs";
  m.options = {"ro", "nosuid", "rprivate", "rnoexec", "size=64k", "mode=755", "rw", "ro"};
  REQUIRE(sworn::spec::ApplyMountOptions(m, "mounts[0].options"));
  CHECK(m.flags == (MS_RDONLY | MS_NOSUID));
  CHECK(m.propagation == (MS_PRIVATE | MS_REC));
  CHECK(m.attr_set == MOUNT_ATTR_NOEXEC);
  CHECK(m.data == "size=64k,mode=755");
  CHECK_FALSE(m.bind);

  sworn::spec::Mount b;
  b.options = {"rbind", "rro"};
  REQUIRE(sworn::spec::ApplyMountOptions(b, "x"));
  CHECK(b.bind);
  CHECK((b.flags & (MS_BIND | MS_REC)) == (MS_BIND | MS_REC));
  CHECK(b.attr_set == MOUNT_ATTR_RDONLY);
}
