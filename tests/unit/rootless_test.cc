#include <cstdlib>

#include <catch2/catch.hpp>

#include "cgroup/cgroup.h"
#include "core/rootless.h"

namespace {

struct OverrideGuard {
  explicit OverrideGuard(bool v) { sworn::SetRootlessOverride(v); }
  ~OverrideGuard() { sworn::SetRootlessOverride(std::nullopt); }
};

}  // namespace

TEST_CASE("rootless: no cgroupsPath means <own cgroup>/<id>, as runc", "[unit][rootless]") {
  sworn::cgroup::Hierarchy h;
  h.mount = "/sys/fs/cgroup";
  h.v2 = true;
  h.own_path = "/user.slice/user-1000.slice/user@1000.service/app.slice";
  {
    OverrideGuard g(true);
    CHECK(sworn::cgroup::ResolvePath("", "c1", h) == h.own_path + "/c1");
    CHECK(sworn::cgroup::ResolvePath("/abs/x", "c1", h) == "/abs/x");
    CHECK(sworn::cgroup::ResolvePath("rel", "c1", h) == h.own_path + "/rel");
  }
  OverrideGuard g(false);
  CHECK(sworn::cgroup::ResolvePath("", "c1", h) == "/sworn/c1");
}

TEST_CASE("rootless: the state root is $XDG_RUNTIME_DIR/sworn when euid != 0", "[unit][rootless]") {
  const char* old = getenv("XDG_RUNTIME_DIR");
  std::string saved = old ? old : "";
  setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
  CHECK(sworn::DefaultStateRoot() == (geteuid() != 0 || sworn::RunningInUserNs() ? "/run/user/1000/sworn" : "/run/sworn"));
  unsetenv("XDG_RUNTIME_DIR");
  CHECK(sworn::DefaultStateRoot() == "/run/sworn");
  if (old) setenv("XDG_RUNTIME_DIR", saved.c_str(), 1);
}
