// Hostile config input (issue #14 items 3, 4, 9, 15, 16): ids that wrap to
// root, sysctls that reach the host, look-alike annotation keys, nesting and
// size bombs, NUL bytes. Each case names what a user would read.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cgroup/resources.h"
#include "container/container.h"
#include "core/json_input.h"
#include "security/oci_seccomp.h"
#include "security/sandbox.h"
#include "spec/json_field.h"
#include "spec/spec.h"

using nlohmann::json;

namespace {

struct Bundle {
  std::string dir;
  Bundle() {
    char tmpl[] = "/tmp/sworn-hostile-XXXXXX";
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

std::string ErrorOfText(const std::string& text) {
  Bundle b;
  auto r = sworn::spec::ParseSpec(text, b.dir);
  return r ? "" : r.error().Message();
}
std::string ErrorOf(const json& j) { return ErrorOfText(j.dump()); }

void AddNs(json& j, const char* type) { j["linux"]["namespaces"].push_back({{"type", type}}); }

}  // namespace

TEST_CASE("uids and gids are 0..4294967294: -1 and overflow are refused", "[unit][spec][hostile]") {
  for (const char* key : {"uid", "gid"}) {
    json j = Minimal();
    j["process"]["user"] = {{key, 4294967295u}};
    CHECK(ErrorOf(j) == std::string("process.user.") + key +
                            ": 4294967295 is not a valid id (valid: 0..4294967294; 4294967295 is -1, which would "
                            "leave the id unchanged)");
    j["process"]["user"] = {{key, 4294967296u}};
    CHECK(ErrorOf(j).starts_with(std::string("process.user.") + key + ": 4294967296 is not a valid id"));
    j["process"]["user"] = {{key, 4294967294u}};
    CHECK(ErrorOf(j) == "");
  }
  json j = Minimal();
  j["process"]["user"] = {{"additionalGids", {5, 4294967295u}}};
  CHECK(ErrorOf(j).starts_with("process.user.additionalGids[1]: 4294967295 is not a valid id"));

  j = Minimal();
  AddNs(j, "user");
  j["linux"]["uidMappings"] = json::array({{{"containerID", 0}, {"hostID", 4294967295u}, {"size", 1}}});
  CHECK(ErrorOf(j).starts_with("linux.uidMappings[0].hostID: 4294967295 is not a valid id"));
  j["linux"]["uidMappings"] = json::array({{{"containerID", 4294967295u}, {"hostID", 0}, {"size", 1}}});
  CHECK(ErrorOf(j).starts_with("linux.uidMappings[0].containerID: 4294967295 is not a valid id"));
  j["linux"]["uidMappings"] = json::array({{{"containerID", 0}, {"hostID", 100000}, {"size", 4294967295u}}});
  CHECK(ErrorOf(j).starts_with("linux.uidMappings[0].size: 4294967295 makes the range end at"));
  j["linux"]["gidMappings"] = json::array({{{"containerID", 0}, {"hostID", 1000}, {"size", 65536}}});
  j["linux"]["uidMappings"] = j["linux"]["gidMappings"];
  CHECK(ErrorOf(j) == "");

  j = Minimal();
  j["mounts"] = json::array({{{"destination", "/t"}, {"type", "tmpfs"}, {"options", {"uid=4294967295"}}}});
  CHECK(ErrorOf(j).starts_with("mounts[0].options uid=: 4294967295 is not a valid id"));
  j["mounts"][0]["options"] = {"gid=-1"};
  CHECK(ErrorOf(j) == "mounts[0].options gid=: expected a numeric id (0..4294967294), got \"-1\"");
  j["mounts"][0]["options"] = {"uid=1000", "gid=1000", "mode=755"};
  CHECK(ErrorOf(j) == "");

  j = Minimal();
  j["linux"]["devices"] = json::array({{{"path", "/dev/x"}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"uid", -1}}});
  CHECK(ErrorOf(j).starts_with("linux.devices[0].uid: -1 is not a valid id"));

  CHECK(sworn::spec::ParseIdText("4294967296", "--user").error().Message().starts_with(
      "--user: 4294967296 is not a valid id"));
  CHECK(sworn::spec::ParseIdText("99999999999999999999999", "--user").error().Message().starts_with(
      "--user: 99999999999999999999999 is not a valid id"));
  CHECK(*sworn::spec::ParseIdText("4294967294", "--user") == 4294967294u);
}

TEST_CASE("sysctls are accepted only in a namespace the container has", "[unit][spec][hostile]") {
  auto with = [](const char* key, std::initializer_list<const char*> ns) {
    json j = Minimal();
    for (const char* n : ns) AddNs(j, n);
    j["linux"]["sysctl"] = {{key, "1"}};
    return ErrorOf(j);
  };
  CHECK(with("kernel.printk_ratelimit_burst", {"ipc", "uts", "network"}).starts_with(
      "linux.sysctl.kernel.printk_ratelimit_burst: \"kernel.printk_ratelimit_burst\" is not isolated by any namespace"));
  CHECK(with("vm.overcommit_memory", {"ipc", "uts", "network"}) != "");
  CHECK(with("net.ipv4.ip_forward", {}).starts_with(
      "linux.sysctl.net.ipv4.ip_forward: \"net.ipv4.ip_forward\" needs a network namespace of the container's own"));
  CHECK(with("net.ipv4.ip_forward", {"network"}) == "");
  CHECK(with("fs.mqueue.queues_max", {}).starts_with(
      "linux.sysctl.fs.mqueue.queues_max: \"fs.mqueue.queues_max\" needs an ipc namespace of the container's own"));
  CHECK(with("fs.mqueue.queues_max", {"ipc"}) == "");
  CHECK(with("kernel.shmmax", {"uts"}) != "");
  CHECK(with("kernel.shmmax", {"ipc"}) == "");
  CHECK(with("kernel.domainname", {"ipc"}).starts_with("linux.sysctl.kernel.domainname: \"kernel.domainname\" needs a uts"));
  CHECK(with("kernel.domainname", {"uts"}) == "");
  CHECK(with("kernel.hostname", {}) != "");

  // A joined network namespace that is the runtime's own is the host's.
  json j = Minimal();
  j["linux"]["namespaces"].push_back({{"type", "network"}, {"path", "/proc/self/ns/net"}});
  j["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}};
  CHECK(ErrorOf(j).find("needs a network namespace of the container's own") != std::string::npos);
  for (const char* type : {"ipc", "uts"}) {
    j = Minimal();
    j["linux"]["namespaces"].push_back({{"type", type}, {"path", std::string("/proc/self/ns/") + type}});
    j["linux"]["sysctl"] = {{std::string(type) == "ipc" ? "kernel.shmmni" : "kernel.domainname", "1"}};
    INFO(type);
    CHECK(ErrorOf(j).find(std::string(type == std::string("ipc") ? "an ipc" : "a uts") +
                          " namespace of the container's own") != std::string::npos);
  }
}

TEST_CASE("annotation keys that look like sworn's must be sworn's exactly", "[unit][schema][hostile]") {
  for (const char* key : {"SWORN.pledge.promises", " sworn.pledge.promises", "sworn.pledge.promises ",
                          "Sworn.Unveil", "\tsworn.unveil", "sworn.pledge.Promises"}) {
    INFO(key);
    auto r = sworn::security::ParseSandbox({{key, "stdio"}});
    REQUIRE_FALSE(r);
    CHECK(r.error().Message().find(key) != std::string::npos);
    CHECK(r.error().Message().find("unknown sworn annotation") != std::string::npos);
  }
  CHECK(sworn::security::ParseSandbox({{"io.sworn.x", "y"}, {"swornish", "z"}}));
  CHECK(sworn::security::ParseSandbox({{"sworn.pledge.promises", "stdio"}}));
}

TEST_CASE("ParseJsonInput bounds depth and size and names the input", "[unit][json][hostile]") {
  CHECK(sworn::JsonDepth(R"({"a":[1,{"b":"[[[[\"]]"}]})") == 3);
  auto ok = sworn::ParseJsonInput(R"({"a":[1,2]})", "x.json");
  REQUIRE(ok);
  CHECK((*ok)["a"][1] == 2);
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  auto r = sworn::ParseJsonInput(deep, "config.json");
  REQUIRE_FALSE(r);
  CHECK(r.error().Message() == "config.json: nested deeper than 256 levels");
  auto bad = sworn::ParseJsonInput("{\"a\":", "state.json");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().Message().starts_with("state.json: malformed JSON:"));
  CHECK_FALSE(sworn::ParseJsonInput("[[1]]", "a", 1));
  CHECK(sworn::ParseJsonInput("[1]", "a", 1));
  auto utf = sworn::ParseJsonInput("[\"\xff\"]", "p.json");
  REQUIRE_FALSE(utf);
  CHECK(utf.error().Message().starts_with("p.json: malformed JSON"));
}

TEST_CASE("config.json nested 100000 deep is refused, not a crash", "[unit][spec][hostile]") {
  for (std::string where : {"resources", "seccomp", "x-unknown"}) {
    std::string text = Minimal().dump();
    std::string deep = "\"" + where + "\":" + std::string(100000, '[') + std::string(100000, ']') + ",";
    text.insert(text.find("\"namespaces\""), deep);
    CHECK(ErrorOfText(text) == "config.json: nested deeper than 256 levels");
  }
  json j = Minimal();
  j["annotations"] = {{"sworn.unveil", std::string(5000, '[') + std::string(5000, ']')}};
  Bundle b;
  auto spec = sworn::spec::ParseSpec(j.dump(), b.dir);
  REQUIRE(spec);
  auto sb = sworn::security::ParseSandbox(spec->annotations);
  REQUIRE_FALSE(sb);
  CHECK(sb.error().Message() == "annotations.sworn.unveil: nested deeper than 1 levels");
}

TEST_CASE("NUL bytes in strings that reach the kernel are refused", "[unit][spec][hostile]") {
  const std::string nul("a\0b", 3);
  auto check = [&](json j, const std::string& field) {
    INFO(field);
    CHECK(ErrorOf(j) == field + ": contains a NUL byte (at offset 1)");
  };
  json j = Minimal();
  j["process"]["args"] = {"sh", nul};
  check(j, "process.args[1]");
  j = Minimal();
  j["process"]["env"] = {"A=" + nul};
  CHECK(ErrorOf(j) == "process.env[0]: contains a NUL byte (at offset 3)");
  j = Minimal();
  j["mounts"] = json::array({{{"destination", "/t"}, {"type", "tmpfs"}, {"source", nul}}});
  check(j, "mounts[0].source");
  j["mounts"][0]["source"] = "tmpfs";
  j["mounts"][0]["options"] = {nul};
  check(j, "mounts[0].options[0]");
  j["mounts"][0]["options"] = json::array();
  j["mounts"][0]["destination"] = "/" + nul;
  CHECK(ErrorOf(j) == "mounts[0].destination: contains a NUL byte (at offset 2)");
  j = Minimal();
  j["linux"]["cgroupsPath"] = "/x" + nul;
  CHECK(ErrorOf(j) == "linux.cgroupsPath: contains a NUL byte (at offset 3)");
  j = Minimal();
  AddNs(j, "uts");
  j["hostname"] = nul;
  check(j, "hostname");
  j = Minimal();
  j["hooks"] = {{"prestart", json::array({{{"path", "/bin/" + nul}}})}};
  CHECK(ErrorOf(j) == "hooks.prestart[0].path: contains a NUL byte (at offset 6)");
  j["hooks"] = {{"prestart", json::array({{{"path", "/bin/true"}, {"args", {"true", nul}}}})}};
  check(j, "hooks.prestart[0].args[1]");
  j = Minimal();
  AddNs(j, "network");
  j["linux"]["sysctl"] = {{"net.ipv4.ip_forward", nul}};
  check(j, "linux.sysctl.net.ipv4.ip_forward");
}

TEST_CASE("huge lists parse in linear time", "[unit][spec][hostile]") {
  json j = Minimal();
  json paths = json::array();
  for (int i = 0; i < 4096; ++i) paths.push_back("/p/" + std::to_string(i % 100) + std::string(i / 100, '/'));
  j["linux"]["readonlyPaths"] = paths;
  j["linux"]["maskedPaths"] = paths;
  auto t0 = std::chrono::steady_clock::now();
  {
    Bundle b;
    auto spec = sworn::spec::ParseSpec(j.dump(), b.dir);
    REQUIRE(spec);
    // One mount per directory, whatever the spelling.
    CHECK(spec->linux.readonly_paths.size() == 100);
    CHECK(spec->linux.masked_paths.front() == "/p/0");
  }
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  paths.push_back("/one/too/many");
  j["linux"]["readonlyPaths"] = paths;
  CHECK(ErrorOf(j) == "linux.readonlyPaths: 4097 entries is more than the 4096 sworn accepts");

  json names = json::array();
  for (int i = 0; i < 60000; ++i) names.push_back(i % 2 ? "read" : "write");
  json seccomp = {{"defaultAction", "SCMP_ACT_ERRNO"},
                  {"syscalls", json::array({{{"names", names}, {"action", "SCMP_ACT_ALLOW"}}})}};
  t0 = std::chrono::steady_clock::now();
  auto prog = sworn::security::CompileOciSeccomp(seccomp);
  CHECK(prog);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));

  // Distinct argument rules cannot be merged; their number is what is capped.
  json rules = json::array();
  for (int i = 0; i < 2000; ++i)
    rules.push_back({{"names", {"read"}}, {"action", "SCMP_ACT_ALLOW"},
                     {"args", {{{"index", 0}, {"value", i}, {"op", "SCMP_CMP_EQ"}}}}});
  seccomp["syscalls"] = rules;
  t0 = std::chrono::steady_clock::now();
  CHECK(sworn::security::CompileOciSeccomp(seccomp));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  for (int i = 2000; i < 4097; ++i)
    rules.push_back({{"names", {"read"}}, {"action", "SCMP_ACT_ALLOW"},
                     {"args", {{{"index", 0}, {"value", i}, {"op", "SCMP_CMP_EQ"}}}}});
  seccomp["syscalls"] = rules;
  auto many = sworn::security::CompileOciSeccomp(seccomp);
  REQUIRE_FALSE(many);
  CHECK(many.error().Message().starts_with("linux.seccomp.syscalls[4096]: the profile adds more than 4096 rules"));

  for (int i = 0; i < 40000; ++i) names.push_back("read");
  seccomp["syscalls"] = json::array({{{"names", names}, {"action", "SCMP_ACT_ALLOW"}}});
  auto big = sworn::security::CompileOciSeccomp(seccomp);
  REQUIRE_FALSE(big);
  CHECK(big.error().Message() ==
        "linux.seccomp.syscalls[0].names: the profile lists more than 65536 syscall names in all (a full profile needs "
        "about 500)");
}

TEST_CASE("numbers that would wrap when narrowed are refused", "[unit][spec][hostile]") {
  json j = Minimal();
  j["linux"]["devices"] = json::array({{{"path", "/dev/x"}, {"type", "c"}, {"major", 4294967297LL}, {"minor", 1}}});
  CHECK(ErrorOf(j) == "linux.devices[0]: 4294967297:1 is out of range (major 0..4095, minor 0..1048575)");
  j["linux"]["devices"][0]["major"] = 1;
  j["linux"]["devices"][0]["minor"] = 1048576;
  CHECK(ErrorOf(j) == "linux.devices[0]: 1:1048576 is out of range (major 0..4095, minor 0..1048575)");
  j["linux"]["devices"][0]["minor"] = 1048575;
  CHECK(ErrorOf(j) == "");

  j = Minimal();
  j["hooks"] = {{"prestart", json::array({{{"path", "/bin/true"}, {"timeout", 4294967297LL}}})}};
  CHECK(ErrorOf(j) == "hooks.prestart[0].timeout: 4294967297 is out of range (1..2147483647 seconds)");

  j = Minimal();
  j["process"]["scheduler"] = {{"policy", "SCHED_FIFO"}, {"priority", 4294967301LL}};
  CHECK(ErrorOf(j) == "process.scheduler.priority: 4294967301 is out of range (0..99)");
  j["process"]["scheduler"] = {{"policy", "SCHED_OTHER"}, {"priority", 4294967296LL}};
  CHECK(ErrorOf(j) == "process.scheduler.priority: 4294967296 is out of range (0..99)");
}

TEST_CASE("resource names and seccomp errnos cannot smuggle values", "[unit][hostile]") {
  json r = {{"network", {{"priorities", json::array({{{"name", "eth0 5\nlo"}, {"priority", 1}}})}}}};
  auto res = sworn::cgroup::ParseResources(r);
  REQUIRE_FALSE(res);
  CHECK(res.error().Message() ==
        "linux.resources.network.priorities[0].name: \"eth0 5\nlo\" is not a device name (empty, or has spaces or "
        "control characters)");
  r = {{"rdma", {{"mlx4_0 hca_handle=9", {{"hcaHandles", 1}}}}}};
  CHECK_FALSE(sworn::cgroup::ParseResources(r));
  r = {{"unified", {{"memory.high", std::string("max\0x", 5)}}}};
  CHECK_FALSE(sworn::cgroup::ParseResources(r));
  CHECK(sworn::cgroup::ParseResources(json{{"network", {{"priorities", json::array({{{"name", "eth0"}, {"priority", 1}}})}}}}));

  json s = {{"defaultAction", "SCMP_ACT_ALLOW"},
            {"syscalls", json::array({{{"names", {"getpid"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 65536}}})}};
  auto bpf = sworn::security::CompileOciSeccomp(s);
  REQUIRE_FALSE(bpf);
  CHECK(bpf.error().Message() == "linux.seccomp.syscalls[0].errnoRet: 65536 is out of range (0..4095)");
  s["syscalls"][0]["errnoRet"] = 1;
  CHECK(sworn::security::CompileOciSeccomp(s));
  s = {{"defaultAction", "SCMP_ACT_ERRNO"}, {"defaultErrnoRet", 70000}};
  CHECK_FALSE(sworn::security::CompileOciSeccomp(s));
}

TEST_CASE("signal numbers that would wrap are refused", "[unit][hostile]") {
  using sworn::container::ParseSignal;
  CHECK_FALSE(ParseSignal("4294967305"));  // atoi: 9, SIGKILL
  CHECK(ParseSignal("4294967311").error().Message() == "signal 4294967311: out of range");
  CHECK_FALSE(ParseSignal("RTMIN+4294967297"));
  CHECK_FALSE(ParseSignal("SIGRTMAX-4294967296"));
  CHECK(*ParseSignal("RTMIN+2") == SIGRTMIN + 2);
  CHECK(*ParseSignal("15") == 15);
}
