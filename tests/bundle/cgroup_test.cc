// Nomad's cgroups as each client version hands them over: 1.6 (v2 scope
// directly under nomad.slice, v1 <parent>/shared) and 1.7+ (v2
// share.slice/reserve.slice scopes, v1 cpuset nomad/share and
// nomad/reserve/<alloc>.<task>), and what the bundle does with each.
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/internal.h"
#include "core/sys.h"
#include "fixture.h"

using namespace bundle_test;
using sworn::bundle::internal::CheckCpusetCgroup;

namespace {

const std::string kScope = kAllocId + ".web.scope";

bundle::Bundle WithCgroup(AllocFixture& f, const std::string& cgroup, const std::string& cpus) {
  f.t.cpuset_cgroup = cgroup;
  f.t.cpuset_cpus = cpus;
  f.t.cpu_shares = 500;
  return Build(f.t, Command("x"));
}

}  // namespace

TEST_CASE("1.7+ v2: a reserved-cores scope is pinned to its cores", "[bundle][cgroup]") {
  AllocFixture f;
  auto b = WithCgroup(f, "/sys/fs/cgroup/nomad.slice/reserve.slice/" + kScope, "2,3");
  CHECK(b.config["linux"]["resources"]["cpu"] == json{{"shares", 500}, {"cpus", "2,3"}});
  CHECK(b.cgroups_path == "/nomad.slice/reserve.slice/" + kScope);
  CHECK(b.reuse_cgroup);
}

TEST_CASE("1.7+ v2: a shared scope inherits share.slice's live cpus", "[bundle][cgroup]") {
  AllocFixture f;
  auto b = WithCgroup(f, "/sys/fs/cgroup/nomad.slice/share.slice/" + kScope, "");
  CHECK(b.config["linux"]["resources"]["cpu"] == json{{"shares", 500}});
  CHECK(b.cgroups_path == "/nomad.slice/share.slice/" + kScope);
  CHECK(b.reuse_cgroup);
}

TEST_CASE("1.6 v2: the client's own scope keeps the cpus it writes", "[bundle][cgroup]") {
  AllocFixture f;
  auto b = WithCgroup(f, "/sys/fs/cgroup/nomad.slice/" + kScope, "1");
  CHECK(b.config["linux"]["resources"]["cpu"] == json{{"shares", 500}});
}

TEST_CASE("1.7+ v1: reserved cores come from cpuset_cpus, not the empty file", "[bundle][cgroup]") {
  AllocFixture f;
  // Nomad 1.7 makes cpuset/nomad/reserve/<alloc>.<task> with an empty
  // cpuset.cpus and leaves it to the driver; a missing dir reads the same.
  auto b = WithCgroup(f, "/sys/fs/cgroup/cpuset/sworn-no-such-dir/reserve/" + kAllocId + ".web", "1");
  CHECK(b.config["linux"]["resources"]["cpu"]["cpus"] == "1");
  CHECK_FALSE(b.reuse_cgroup);
  CHECK(b.cgroups_path == "/nomad.slice/" + b.container_id);
}

TEST_CASE("1.7+ v1: a shared task copies share's cpus into a cgroup of its own", "[bundle][cgroup][root]") {
  const std::string root = "/sys/fs/cgroup/cpuset";
  auto root_cpus = sworn::ReadFile(root + "/cpuset.cpus");
  if (!root_cpus || geteuid() != 0) {
    WARN("no v1 cpuset hierarchy (or not root): skipped");
    return;
  }
  std::string dir = root + "/sworn-bundle-test-" + std::to_string(getpid());
  std::string share = dir + "/share";
  REQUIRE(mkdir(dir.c_str(), 0755) == 0);
  REQUIRE(mkdir(share.c_str(), 0755) == 0);
  for (const char* f : {"cpuset.cpus", "cpuset.mems"})
    for (const auto& d : {dir, share}) CHECK(sworn::WriteFile(d + "/" + f, *sworn::ReadFile(root + "/" + f)));
  AllocFixture f;
  auto b = WithCgroup(f, share, "");
  std::string want = *root_cpus;
  while (!want.empty() && want.back() == '\n') want.pop_back();
  CHECK(b.config["linux"]["resources"]["cpu"]["cpus"] == want);
  CHECK_FALSE(b.reuse_cgroup);
  rmdir(share.c_str());
  rmdir(dir.c_str());
}

TEST_CASE("memory limits as Nomad's exec writes them", "[bundle][cgroup]") {
  AllocFixture f;
  f.t.memory_mb = 100;
  SECTION("memory_max = -1 (Nomad 2.0): no hard limit, memory reserved") {
    f.t.memory_max_mb = -1;
    CHECK(Build(f.t, Command("x")).config["linux"]["resources"]["memory"] ==
          json{{"limit", -1}, {"reservation", 100 * 1048576}});
  }
  SECTION("memory_max above memory: hard limit and reservation") {
    f.t.memory_max_mb = 200;
    CHECK(Build(f.t, Command("x")).config["linux"]["resources"]["memory"] ==
          json{{"limit", 200 * 1048576}, {"reservation", 100 * 1048576}});
  }
  SECTION("no memory_max: memory is the hard limit") {
    CHECK(Build(f.t, Command("x")).config["linux"]["resources"]["memory"] == json{{"limit", 100 * 1048576}});
  }
}

TEST_CASE("cpuset_cgroup: accepted as each Nomad version sends it", "[bundle][cgroup]") {
  for (const std::string& ok : std::vector<std::string>{"/sys/fs/cgroup/nomad.slice/" + kScope, "/sys/fs/cgroup/nomad.slice/share.slice/" + kScope,
                               "/sys/fs/cgroup/nomad.slice/reserve.slice/" + kScope + "/",
                               "/sys/fs/cgroup/cpuset/nomad/share", "/sys/fs/cgroup/cpuset/nomad/shared",
                               "/sys/fs/cgroup/cpuset/nomad/reserve/" + kAllocId + ".web",
                               "/sys/fs/cgroup/unified/x/nomad.slice/reserve.slice/" + kScope, ""}) {
    INFO(ok);
    auto r = CheckCpusetCgroup(ok);
    CHECK(r);
  }
}

TEST_CASE("cpuset_cgroup: bad paths are refused naming the field, before anything is made", "[bundle][cgroup]") {
  for (const std::string& bad : std::vector<std::string>{"/etc/nomad", "nomad.slice/a.t.scope", "/nomad/x", "/sys/fs/cgroupx/a.scope", "/sys/fs/cgroup",
        "/sys/fs/cgroup/", "/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup/nomad.slice/../system.slice/x.scope", "/sys/fs/cgroup/cpuset/nomad/../../../etc",
        "/sys/fs/cgroup/nomad.slice/./a.scope", "/sys/fs/cgroup/nomad.slice", "/sys/fs/cgroup/nomad.slice/share.slice",
        "/sys/fs/cgroup/nomad.slice/reserve.slice/", "/sys/fs/cgroup/unified/nomad.slice/share.slice",
        "/sys/fs/cgroup/system.slice", "/sys/fs/cgroup/init.scope"}) {
    INFO(bad);
    auto r = CheckCpusetCgroup(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == sworn::Errc::kInvalidArgument);
    CHECK(r.error().Message().find("cpuset_cgroup") != std::string::npos);
  }
  AllocFixture f;
  f.t.cpuset_cgroup = "/sys/fs/cgroup/nomad.slice/share.slice";
  CHECK(BuildError(f.t, Command("x")).find("cpuset_cgroup") != std::string::npos);
}
