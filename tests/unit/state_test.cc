#include <signal.h>

#include <catch2/catch.hpp>

#include "container/container.h"
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
  CHECK_FALSE(ParseSignal("0"));
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
    s.cgroup_dirs = {"/sys/fs/cgroup/pids/x"};
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
