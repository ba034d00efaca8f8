#include <signal.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <catch2/catch.hpp>

#include "container/container.h"
#include "cgroup/cgroup.h"
#include "core/sys.h"
#include "state/state.h"

TEST_CASE("container ids follow runc's rules", "[unit][state]") {
  for (const char* ok : {"a", "web-1", "A_b.c+d", "x..y"}) CHECK(sworn::state::ValidateId(ok));
  for (const char* bad : {"", ".", "..", "../x", "a/b", "a b", "a\nb", "é"}) CHECK_FALSE(sworn::state::ValidateId(bad));
  CHECK(sworn::state::ValidateId("a/b").error().Message() ==
        "container id \"a/b\": only letters, digits and _ + - . are allowed");
}

TEST_CASE("signals parse as names with or without SIG, and numbers", "[unit][signal]") {
  using sworn::container::ParseSignal;
  CHECK(*ParseSignal("TERM") == SIGTERM);
  CHECK(*ParseSignal("SIGTERM") == SIGTERM);
  CHECK(*ParseSignal("sigkill") == SIGKILL);
  CHECK(*ParseSignal("9") == SIGKILL);
  CHECK(*ParseSignal("RTMIN+2") == SIGRTMIN + 2);
  CHECK(*ParseSignal("SIGRTMAX") == SIGRTMAX);
  CHECK_FALSE(ParseSignal("SIGFOO"));
  CHECK(*ParseSignal("0") == 0);  // kill ID 0: does the init exist (kill(2), runc, crun)
  CHECK_FALSE(ParseSignal("99999"));
  CHECK_FALSE(ParseSignal("-1"));
  CHECK(ParseSignal("FOO").error().Message() == "unknown signal \"FOO\"");
}

TEST_CASE("state survives a save/load round trip", "[unit][state]") {
  char tmpl[] = "/tmp/sworn-state-XXXXXX";
  std::string root = mkdtemp(tmpl);
  {
    auto dir = sworn::state::ContainerDir::Create(root, "c1");
    REQUIRE(dir);
    CHECK(sworn::state::ContainerDir::Create(root, "c1").error().code == sworn::Errc::kAlreadyExists);
    sworn::state::ContainerState s;
    s.id = "c1";
    s.oci_version = "1.2.0";
    s.pid = 0;
    s.config = nlohmann::json::object();
    s.cgroup_dirs = {"/sys/fs/cgroup/pids/sworn/c1"};
    s.annotations = {{"k", "v"}};
    REQUIRE(dir->Save(s));
    auto back = dir->Load();
    REQUIRE(back);
    CHECK(back->cgroup_dirs == s.cgroup_dirs);
    CHECK(back->annotations == s.annotations);
    CHECK(dir->CurrentStatus(*back) == sworn::state::Status::kCreating);
    REQUIRE(dir->Remove());
  }
  CHECK(sworn::state::ContainerDir::Open(root, "c1").error().code == sworn::Errc::kNotFound);
  rmdir(root.c_str());
}

namespace {

// A temp root with one container "c1" whose state.json holds `text`.
struct DamagedState {
  std::string root;
  explicit DamagedState(const std::string& text) {
    char tmpl[] = "/tmp/sworn-state-XXXXXX";
    root = mkdtemp(tmpl);
    mkdir((root + "/c1").c_str(), 0711);
    std::ofstream(root + "/c1/state.json") << text;
  }
  ~DamagedState() {
    unlink((root + "/c1/state.json").c_str());
    rmdir((root + "/c1").c_str());
    rmdir(root.c_str());
  }
  sworn::Result<sworn::state::ContainerState> Load() {
    auto dir = sworn::state::ContainerDir::Open(root, "c1", false);
    REQUIRE(dir);
    return dir->Load();
  }
};

std::string StateText(const std::string& cgroups_path, const std::vector<std::string>& dirs) {
  sworn::state::ContainerState s;
  s.id = "c1";
  s.config = {{"linux", {{"cgroupsPath", cgroups_path}}}};
  s.cgroup_dirs = dirs;
  return s.ToJson().dump();
}

}  // namespace

TEST_CASE("damaged state files are errors naming state.json", "[unit][state]") {
  for (const char* text : {"", "{", "\x01garbage", "{\"id\": 5}", "[]"}) {
    DamagedState d(text);
    auto r = d.Load();
    REQUIRE_FALSE(r);
    CHECK(r.error().code != sworn::Errc::kNotFound);
    CHECK(r.error().Message().find("state.json") != std::string::npos);
  }
  DamagedState deep("{\"config\": " + std::string(100000, '[') + std::string(100000, ']') + "}");
  auto r = deep.Load();
  REQUIRE_FALSE(r);
  CHECK(r.error().Message().find("nested deeper") != std::string::npos);
}

TEST_CASE("state.json that is a fifo or a symlink is refused without blocking", "[unit][state]") {
  DamagedState d("");
  std::string f = d.root + "/c1/state.json";
  unlink(f.c_str());
  REQUIRE(mkfifo(f.c_str(), 0600) == 0);
  auto r = d.Load();
  REQUIRE_FALSE(r);
  CHECK(r.error().Message().find("not a regular file") != std::string::npos);
  unlink(f.c_str());
  REQUIRE(symlink("/dev/zero", f.c_str()) == 0);
  r = d.Load();
  REQUIRE_FALSE(r);
  CHECK(r.error().Message().find("symlink") != std::string::npos);
}

TEST_CASE("state cgroup dirs must be the container's own cgroup", "[unit][state]") {
  std::string own = "/sys/fs/cgroup/pids/sworn-u/c1";
  CHECK(DamagedState(StateText("/sworn-u/c1", {own})).Load());
  CHECK(DamagedState(StateText("/sworn-u/./c1/", {own})).Load());
  for (const auto& bad : {std::string("/tmp/x"), std::string("/sys/fs/cgroup/pids"), std::string("/sys/fs/cgroup/pids/"),
                          std::string("/sys/fs/cgroup/pids/sworn-u/other"),
                          std::string("/sys/fs/cgroup/pids/sworn-u/c1/../other"),
                          std::string("/sys/fs/cgroup/pids//sworn-u/c1"), std::string("/sys/fs/cgroup/pidsx/sworn-u/c1")}) {
    auto r = DamagedState(StateText("/sworn-u/c1", {bad})).Load();
    REQUIRE_FALSE(r);
    CHECK(r.error().Message().find("cgroup_dirs") != std::string::npos);
  }
  // A config whose own cgroupsPath is a hierarchy root fails like create.
  auto r = DamagedState(StateText("/", {"/sys/fs/cgroup/pids"})).Load();
  REQUIRE_FALSE(r);
  CHECK(r.error().Message().find("linux.cgroupsPath") != std::string::npos);
}

TEST_CASE("cgroupsPath that names a hierarchy root or climbs is refused", "[unit][cgroup]") {
  using sworn::cgroup::PathComponents;
  for (const std::string& bad :
       std::vector<std::string>{"/", "/.", "//", "/a/..", ".", "./", "a/../b", std::string("/x\0y", 4)}) {
    auto r = PathComponents(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().Message().rfind("linux.cgroupsPath: \"", 0) == 0);
  }
  CHECK(PathComponents("")->empty());
  CHECK(*PathComponents("/a/./b//") == std::vector<std::string>{"a", "b"});
  sworn::cgroup::Hierarchy h{.mount = "/sys/fs/cgroup/pids", .own_path = "/user/x"};
  CHECK(sworn::cgroup::ResolvePath("/a/./b//", "id", h) == "/a/b");
  CHECK(sworn::cgroup::ResolvePath("a/b", "id", h) == "/user/x/a/b");
  CHECK(sworn::cgroup::ResolvePath("", "id", h) == "/sworn/id");
}

TEST_CASE("reused cgroup dirs round-trip and must be among the container's", "[unit][state]") {
  std::string own = "/sys/fs/cgroup/pids/sworn-u/c1";
  sworn::state::ContainerState s;
  s.id = "c1";
  s.config = {{"linux", {{"cgroupsPath", "/sworn-u/c1"}}}};
  s.cgroup_dirs = {own};
  s.cgroup_reused = {own};
  auto back = DamagedState(s.ToJson().dump()).Load();
  REQUIRE(back);
  CHECK(back->cgroup_reused == s.cgroup_reused);
  s.cgroup_reused = {"/sys/fs/cgroup/pids"};
  auto r = DamagedState(s.ToJson().dump()).Load();
  REQUIRE_FALSE(r);
  CHECK(r.error().Message().find("cgroup_reused") != std::string::npos);
  // State from before cgroup_reused existed: every dir was created by sworn.
  auto j = s.ToJson();
  j.erase("cgroup_reused");
  back = DamagedState(j.dump()).Load();
  REQUIRE(back);
  CHECK(back->cgroup_reused.empty());
}

TEST_CASE("a relative cgroupsPath's dirs are the container's, below any own cgroup", "[unit][state]") {
  // A relative cgroupsPath resolves below the runtime's own cgroup, which is
  // the hierarchy's root for many hierarchies (create succeeded, then every
  // later verb found the state damaged and delete left all behind).
  using sworn::cgroup::CheckStateDirs;
  CHECK(CheckStateDirs({"/sys/fs/cgroup/pids/rel/x"}, "rel/x", "c1"));
  CHECK(CheckStateDirs({"/sys/fs/cgroup/pids/user/a/rel/x"}, "rel/x", "c1"));
  CHECK_FALSE(CheckStateDirs({"/sys/fs/cgroup/pids/xrel/x"}, "rel/x", "c1"));
  CHECK_FALSE(CheckStateDirs({"/sys/fs/cgroup/pids/other"}, "rel/x", "c1"));
  CHECK(CheckStateDirs({"/sys/fs/cgroup/pids/rel/x"}, "/rel/x", "c1"));
  CHECK_FALSE(CheckStateDirs({"/sys/fs/cgroup/pids/user/rel/x"}, "/rel/x", "c1"));
}

TEST_CASE("created stamps are UTC RFC 3339, as gmtime gives them", "[unit][state]") {
  // 1970, leap days (2000 is a leap year, 2100 not), year ends, before 1970.
  for (int64_t t : {int64_t{0}, int64_t{951782400}, int64_t{951868799}, int64_t{4107542400}, int64_t{1796435501},
                    int64_t{1798761599}, int64_t{-1}, int64_t{-86400 * 365}}) {
    time_t tt = static_cast<time_t>(t);
    tm g;
    gmtime_r(&tt, &g);
    char want[64];
    strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S.000000042Z", &g);
    CHECK(sworn::Rfc3339(t, 42) == want);
  }
}

TEST_CASE("the state file Save writes is the state's JSON, config included", "[unit][state]") {
  sworn::state::ContainerState s;
  s.id = "c1";
  s.pid = 42;
  s.systemd_cgroup = true;
  s.config = {{"linux", {{"cgroupsPath", "/sworn-u/c1"}}}, {"process", {{"args", {"/bin/true"}}}}};
  s.annotations = {{"a", "b\"c"}};
  CHECK(nlohmann::json::parse(s.Dump()) == s.ToJson());
  s.systemd_cgroup = false;
  s.config = nlohmann::json::object();
  CHECK(nlohmann::json::parse(s.Dump()) == s.ToJson());
  // The text config.json was parsed from goes in as it is, whitespace and all.
  s.config_text = "{\n  \"ociVersion\": \"1.0.2\",\n  \"hostname\": \"h\"\n}\n";
  s.config = nlohmann::json::parse(s.config_text);
  CHECK(nlohmann::json::parse(s.Dump()) == s.ToJson());
  CHECK(s.Dump().find("\"hostname\": \"h\"") != std::string::npos);
}
