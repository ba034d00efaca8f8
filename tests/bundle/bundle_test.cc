// cty msgpack decoding and the plugin/task config parsers.
#include "bundle/bundle.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

using nlohmann::json;
using sworn::Errc;
namespace bundle = sworn::bundle;

namespace {

// go-cty writes strings as fixstr below 32 bytes, str8 up to 255.
std::string S(std::string_view s) {
  std::string out;
  if (s.size() < 32)
    out += static_cast<char>(0xa0 | s.size());
  else
    out += {'\xd9', static_cast<char>(s.size())};
  return out + std::string(s);
}
std::string B(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out += static_cast<char>(b);
  return out;
}

json Decode(const std::string& bytes) {
  auto r = bundle::DecodeCtyMsgpack(bytes, "task config");
  INFO((r ? "" : r.error().Message()));
  REQUIRE(r);
  return *r;
}

std::string DecodeError(const std::string& bytes) {
  auto r = bundle::DecodeCtyMsgpack(bytes, "task config");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::kInvalidArgument);
  return r.error().Message();
}

std::string TaskError(const json& j) {
  auto r = bundle::ParseTaskDriverConfig(j);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::kInvalidArgument);
  return r.error().Message();
}

std::string PluginError(const json& j) {
  auto r = bundle::ParsePluginConfig(j);
  REQUIRE_FALSE(r);
  return r.error().Message();
}

bundle::TaskDriverConfig Task(json j) {
  if (!j.contains("command")) j["command"] = "/bin/true";
  auto r = bundle::ParseTaskDriverConfig(j);
  INFO((r ? "" : r.error().Message()));
  REQUIRE(r);
  return *r;
}

}  // namespace

TEST_CASE("cty msgpack: a task config object as go-cty writes it", "[bundle][msgpack]") {
  // Sorted attribute names, every one present, unset ones nil.
  std::string bytes = B({0x84}) + S("args") + B({0x92}) + S("-c") + S("echo hi") + S("command") + S("/bin/sh") +
                      S("promises") + B({0xc0}) + S("unveil") + B({0x90});
  json j = Decode(bytes);
  CHECK(j ==
        json{{"args", {"-c", "echo hi"}}, {"command", "/bin/sh"}, {"promises", nullptr}, {"unveil", json::array()}});
  auto c = bundle::ParseTaskDriverConfig(j);
  REQUIRE(c);
  CHECK(c->command == "/bin/sh");
  CHECK(c->args == std::vector<std::string>{"-c", "echo hi"});
  CHECK(c->promises.empty());
}

TEST_CASE("cty msgpack: numbers in every width go-cty uses", "[bundle][msgpack]") {
  std::string bytes = B({0x89}) + S("a") + B({0x05}) +                    // positive fixint
                      S("b") + B({0xcc, 0xc8}) +                          // uint8 200
                      S("c") + B({0xcd, 0x01, 0x2c}) +                    // uint16 300
                      S("d") + B({0xce, 0x00, 0x01, 0x86, 0xa0}) +        // uint32 100000
                      S("e") + B({0xff}) +                                // negative fixint -1
                      S("f") + B({0xd0, 0x80}) +                          // int8 -128
                      S("g") + B({0xd1, 0xfe, 0x0c}) +                    // int16 -500
                      S("h") + B({0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}) +  // float64 1.5
                      S("i") + B({0xcf, 0, 0, 0, 1, 0, 0, 0, 0});         // uint64 2^32
  json j = Decode(bytes);
  CHECK(j["a"] == 5);
  CHECK(j["b"] == 200);
  CHECK(j["c"] == 300);
  CHECK(j["d"] == 100000);
  CHECK(j["e"] == -1);
  CHECK(j["f"] == -128);
  CHECK(j["g"] == -500);
  CHECK(j["h"] == 1.5);
  CHECK(j["i"] == 4294967296ull);
}

TEST_CASE("cty msgpack: str8, bin, bools and nesting", "[bundle][msgpack]") {
  std::string long_str(40, 'x');
  std::string bytes = B({0x85}) + S("bin") + B({0xc4, 0x03, 'a', 'b', 'c'}) + S("flag") + B({0xc3}) + S("list") +
                      B({0x91, 0x81}) + S("k") + B({0x92, 0x01, 0xc2}) + S("long") + S(long_str) + S("map") +
                      B({0x82}) + S("/bin") + S("/bin") + S("/etc") + S("/etc");
  json j = Decode(bytes);
  CHECK(j["bin"] == "abc");
  CHECK(j["flag"] == true);
  CHECK(j["list"] == json::array({{{"k", {1, false}}}}));
  CHECK(j["long"] == long_str);
  CHECK(j["map"] == json{{"/bin", "/bin"}, {"/etc", "/etc"}});
}

TEST_CASE("cty msgpack: bin inside a list is a string too", "[bundle][msgpack]") {
  json j = Decode(B({0x81}) + S("args") + B({0x92, 0xc4, 0x01, 'x', 0xa1, 'y'}));
  CHECK(j["args"] == json{"x", "y"});
}

TEST_CASE("cty msgpack: empty input is an empty config", "[bundle][msgpack]") {
  CHECK(Decode("") == json::object());
  auto p = bundle::ParsePluginConfig(Decode(""));
  REQUIRE(p);
  CHECK(p->state_dir == "/run/nomad-driver-sworn");
}

TEST_CASE("cty msgpack: malformed input names what and where", "[bundle][msgpack]") {
  SECTION("truncated string") {
    std::string e = DecodeError(B({0x81}) + B({0xa4, 'a', 'r'}));
    CHECK_THAT(e, Catch::StartsWith("task config: malformed msgpack"));
    CHECK_THAT(e, Catch::Contains("at byte 5: syntax error"));
  }
  SECTION("truncated map") { CHECK_THAT(DecodeError(B({0x82}) + S("a") + B({0x01})), Catch::Contains("byte")); }
  SECTION("trailing bytes") { CHECK_THAT(DecodeError(B({0x80, 0x80})), Catch::Contains("at byte 2")); }
  SECTION("reserved byte 0xc1") { CHECK_THAT(DecodeError(B({0xc1})), Catch::Contains("at byte 1")); }
}

TEST_CASE("cty msgpack: unknown values and other ext types are refused", "[bundle][msgpack]") {
  // cty's unknown value: fixext1, type 0, one zero byte.
  std::string e = DecodeError(B({0x81}) + S("command") + B({0xd4, 0x00, 0x00}));
  CHECK_THAT(e, Catch::StartsWith("task config: command: an unknown value"));
  e = DecodeError(B({0x81}) + S("args") + B({0x91, 0xd4, 0x05, 0x00}));
  CHECK_THAT(e, Catch::Contains("args[0]: msgpack ext type 5"));
  CHECK_THAT(DecodeError(B({0xd4, 0x00, 0x00})), Catch::Contains("top level"));
}

TEST_CASE("cty msgpack: invalid UTF-8 is caught at decode time", "[bundle][msgpack]") {
  std::string e = DecodeError(B({0x81}) + S("command") + B({0xc4, 0x02, 0xff, 0xfe}));
  CHECK_THAT(e, Catch::Contains("command: string is not valid UTF-8"));
}

TEST_CASE("task config: defaults, nulls and unknown keys", "[bundle][config]") {
  auto c = Task({{"command", "x"}, {"args", nullptr}, {"importance", nullptr}, {"extra", 5}, {"pid_mode", ""}});
  CHECK(c.command == "x");
  CHECK(c.args.empty());
  CHECK(c.importance.empty());  // unset: nice 0, not the pledge driver's "normal"
  CHECK(c.filesystem == "image");
  CHECK(c.pid_mode.empty());
}

TEST_CASE("task config: every field, normalised", "[bundle][config]") {
  auto c = Task({{"command", "local/app"},
                 {"args", {"a", "b"}},
                 {"promises", " stdio  RPATH\n\tinet thread "},
                 {"unveil", {"r:/etc/ssl", "rwc:/local", ":/secrets/x"}},
                 {"unveil_tcp", {"bind:8080", "connect:1"}},
                 {"importance", "High"},
                 {"penalty", "kill"},
                 {"cap_add", {"net_raw", "Cap_Sys_Time"}},
                 {"cap_drop", {"ALL"}},
                 {"pid_mode", "host"},
                 {"ipc_mode", "private"},
                 {"work_dir", "/local"},
                 {"filesystem", "host"}});
  CHECK(c.promises == "stdio rpath inet thread");
  CHECK(c.unveil.size() == 3);
  CHECK(c.importance == "high");
  CHECK(c.cap_add == std::vector<std::string>{"CAP_NET_RAW", "CAP_SYS_TIME"});
  CHECK(c.cap_drop == std::vector<std::string>{"all"});
  CHECK(c.filesystem == "host");
  CHECK(Task({{"promises", " \n "}}).promises.empty());
}

TEST_CASE("task config: each error names its field", "[bundle][config]") {
  CHECK(TaskError(json::object()) == "command: required");
  CHECK(TaskError(nullptr) == "command: required");
  CHECK(TaskError({{"command", ""}}) == "command: required");
  CHECK_THAT(TaskError({{"command", 5}}), Catch::StartsWith("command: expected a string"));
  CHECK_THAT(TaskError(json::array()), Catch::StartsWith("task config: expected an object"));
  json base = {{"command", "x"}};
  auto with = [&](const char* k, json v) {
    json j = base;
    j[k] = std::move(v);
    return TaskError(j);
  };
  CHECK_THAT(with("args", {"a", 1}), Catch::StartsWith("args[1]: expected a string"));
  CHECK_THAT(with("args", "a b"), Catch::StartsWith("args: expected an array"));
  CHECK_THAT(with("args", {"a", nullptr}), Catch::StartsWith("args[1]: expected a string"));
  CHECK(with("promises", "stdio foo") == "promises: unknown promise \"foo\"");
  CHECK_THAT(with("promises", {"stdio"}), Catch::StartsWith("promises: expected a string"));
  CHECK_THAT(with("unveil", {"r:/ok", "r:relative"}), Catch::StartsWith("unveil[1]: path must be absolute"));
  CHECK_THAT(with("unveil", {"/etc"}), Catch::StartsWith("unveil[0]: expected \"perms:path\""));
  CHECK_THAT(with("unveil", {"rq:/etc"}), Catch::StartsWith("unveil[0]: unknown permission 'q'"));
  CHECK_THAT(with("unveil", {"r:"}), Catch::StartsWith("unveil[0]: path must be absolute"));
  CHECK_THAT(with("unveil_tcp", {"bind:0"}), Catch::StartsWith("unveil_tcp[0]: port must be 1..65535"));
  CHECK_THAT(with("unveil_tcp", {"bind:80", "connect:65536"}), Catch::StartsWith("unveil_tcp[1]: port must be"));
  CHECK_THAT(with("unveil_tcp", {"listen:80"}), Catch::StartsWith("unveil_tcp[0]: expected \"bind:PORT\""));
  CHECK_THAT(with("unveil_tcp", {"bind:8o"}), Catch::StartsWith("unveil_tcp[0]: expected"));
  CHECK_THAT(with("unveil_tcp", {"bind:123456"}), Catch::StartsWith("unveil_tcp[0]: expected"));
  CHECK_THAT(with("importance", "urgent"), Catch::StartsWith("importance: expected one of lowest, low"));
  CHECK_THAT(with("penalty", "abort"), Catch::StartsWith("penalty: expected one of"));
  CHECK_THAT(with("pid_mode", "shared"), Catch::StartsWith("pid_mode: expected one of"));
  CHECK_THAT(with("ipc_mode", "shared"), Catch::StartsWith("ipc_mode: expected one of"));
  CHECK_THAT(with("filesystem", "overlay"), Catch::StartsWith("filesystem: expected one of image, host"));
  CHECK(with("cap_add", {"chown", "CAP_FOO"}) == "cap_add[1]: unknown capability \"CAP_FOO\"");
  CHECK(with("cap_add", {"12"}) == "cap_add[0]: unknown capability \"12\"");
  CHECK(with("cap_add", {"all"}) == "cap_add[0]: unknown capability \"all\"");
  CHECK(with("cap_drop", {"bogus"}) == "cap_drop[0]: unknown capability \"bogus\"");
  CHECK_THAT(with("work_dir", true), Catch::StartsWith("work_dir: expected a string"));
  CHECK_THAT(with("cap_drop", 3), Catch::StartsWith("cap_drop: expected an array"));
}

TEST_CASE("plugin config: defaults", "[bundle][config]") {
  auto p = bundle::ParsePluginConfig(json::object());
  REQUIRE(p);
  CHECK(p->state_dir == "/run/nomad-driver-sworn");
  CHECK(p->chroot_env.empty());
  CHECK(p->allow_caps.size() == bundle::DefaultCaps().size());
  CHECK(p->allow_caps.front() == "CAP_AUDIT_WRITE");
  CHECK(p->default_pid_mode == "private");
  CHECK(p->cgroup_parent == "/nomad.slice");
  CHECK(p->default_user == "nobody");
  CHECK_FALSE(p->allow_host_pid);
  CHECK(bundle::ParsePluginConfig(nullptr));
  CHECK(bundle::DefaultChrootEnv().at("/usr") == "/usr");
  CHECK(std::find(bundle::DefaultCaps().begin(), bundle::DefaultCaps().end(), "NET_RAW") ==
        bundle::DefaultCaps().end());
}

TEST_CASE("plugin config: every field", "[bundle][config]") {
  auto p = bundle::ParsePluginConfig({{"sworn_path", "/opt/sworn"},
                                      {"state_dir", "/var/lib/sworn"},
                                      {"chroot_env", {{"/opt/tools/", "/tools/"}, {"/bin", "/bin"}}},
                                      {"allow_caps", {"ALL", "net_raw"}},
                                      {"default_pid_mode", "host"},
                                      {"default_ipc_mode", "host"},
                                      {"allow_host_pid", true},
                                      {"allow_host_ipc", true},
                                      {"cgroup_parent", "sworn.slice/"},
                                      {"default_user", "root"},
                                      {"no_pivot_root", false}});
  REQUIRE(p);
  CHECK(p->sworn_path == "/opt/sworn");
  CHECK(p->chroot_env == std::map<std::string, std::string>{{"/opt/tools", "/tools"}, {"/bin", "/bin"}});
  CHECK(p->allow_caps == std::vector<std::string>{"all", "CAP_NET_RAW"});
  CHECK(p->default_pid_mode == "host");
  CHECK(p->allow_host_pid);
  CHECK(p->cgroup_parent == "/sworn.slice");
  CHECK(p->default_user == "root");
  CHECK(bundle::ParsePluginConfig({{"sworn_path", "sworn"}}));
  CHECK(bundle::ParsePluginConfig({{"allow_caps", json::array()}})->allow_caps.empty());
}

TEST_CASE("plugin config: each error names its field", "[bundle][config]") {
  CHECK(PluginError({{"allow_caps", {"chown", "kill", "FOO"}}}) == "allow_caps[2]: unknown capability \"FOO\"");
  CHECK_THAT(PluginError({{"allow_caps", {"chown", 1}}}), Catch::StartsWith("allow_caps[1]: expected a string"));
  CHECK_THAT(PluginError({{"chroot_env", {{"/opt", "opt"}}}}),
             Catch::StartsWith("chroot_env[\"/opt\"]: must be an absolute path"));
  CHECK_THAT(PluginError({{"chroot_env", {{"opt", "/opt"}}}}), Catch::StartsWith("chroot_env[\"opt\"] (host path)"));
  CHECK_THAT(PluginError({{"chroot_env", {{"/opt", 1}}}}),
             Catch::StartsWith("chroot_env[\"/opt\"]: expected a string"));
  CHECK_THAT(PluginError({{"chroot_env", {{"/opt", "/"}}}}), Catch::StartsWith("chroot_env[\"/opt\"]: cannot replace"));
  CHECK_THAT(PluginError({{"chroot_env", {"/bin"}}}), Catch::StartsWith("chroot_env: expected an object"));
  CHECK_THAT(PluginError({{"default_pid_mode", "shared"}}), Catch::StartsWith("default_pid_mode: expected one of"));
  CHECK_THAT(PluginError({{"default_ipc_mode", ""}}), Catch::StartsWith("default_ipc_mode: expected one of"));
  CHECK_THAT(PluginError({{"allow_host_pid", "yes"}}), Catch::StartsWith("allow_host_pid: expected a boolean"));
  CHECK_THAT(PluginError({{"allow_host_ipc", 1}}), Catch::StartsWith("allow_host_ipc: expected a boolean"));
  CHECK_THAT(PluginError({{"state_dir", "run/sworn"}}), Catch::StartsWith("state_dir: must be an absolute path"));
  CHECK_THAT(PluginError({{"sworn_path", "bin/sworn"}}), Catch::StartsWith("sworn_path: must be an absolute path"));
  CHECK_THAT(PluginError({{"cgroup_parent", "/a/../b"}}), Catch::StartsWith("cgroup_parent: must not contain"));
  CHECK(PluginError({{"default_user", "no-such-user-sworn"}}) == "default_user: unknown user \"no-such-user-sworn\"");
}

TEST_CASE("plugin config decoded from msgpack", "[bundle][config][msgpack]") {
  std::string bytes = B({0x84}) + S("allow_caps") + B({0x91}) + S("chown") + S("allow_host_pid") + B({0xc2}) +
                      S("chroot_env") + B({0xc0}) + S("state_dir") + S("/run/x");
  auto p = bundle::ParsePluginConfig(Decode(bytes));
  REQUIRE(p);
  CHECK(p->allow_caps == std::vector<std::string>{"CAP_CHOWN"});
  CHECK(p->state_dir == "/run/x");
}

TEST_CASE("ContainerId", "[bundle]") {
  CHECK(bundle::ContainerId("5c3a1c4e-4b1d-8f0e-1234-0a1b2c3d4e5f/web/0123abcd") ==
        "5c3a1c4e-4b1d-8f0e-1234-0a1b2c3d4e5f.web.0123abcd");
  CHECK(bundle::ContainerId("a/my task:1/ff") == "a.my_task_1.ff");
  CHECK(bundle::ContainerId("") == "_");
  std::string long_id = "alloc/" + std::string(200, 't') + "/0123abcd";
  std::string id = bundle::ContainerId(long_id);
  CHECK(id.size() == 128);
  CHECK(id.substr(0, 10) == "alloc.tttt");
  CHECK(id != bundle::ContainerId("alloc/" + std::string(200, 't') + "/0123abce"));
  CHECK(id == bundle::ContainerId(long_id));
  CHECK(bundle::ContainerId(std::string(128, 'a')) == std::string(128, 'a'));
}
