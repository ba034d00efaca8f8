// The cgroup-v2 device program must pass the kernel's verifier for every
// shape of rule list (the VM lane then checks what it enforces).
#include <linux/bpf.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "cgroup/devices.h"

using sworn::cgroup::DeviceRule;

TEST_CASE("device programs pass the verifier", "[unit][devices][root]") {
  if (geteuid() != 0) {
    WARN("skipped: loading BPF programs needs root");
    return;
  }
  const std::vector<std::vector<DeviceRule>> cases = {
      {},
      {{false, 'a', -1, -1, "rwm"}},  // deny all, then the defaults: a rule that matches everything
      {{true, 'a', -1, -1, "rwm"}},
      {{false, 'a', -1, -1, "rwm"}, {true, 'c', 1, 11, "r"}, {true, 'b', 8, -1, "rw"}},
  };
  for (const auto& rules : cases) {
    auto fd = sworn::cgroup::LoadDeviceProgram(sworn::cgroup::EffectiveRules(rules));
    INFO("rules: " << rules.size());
    CHECK(fd);
  }
}

TEST_CASE("a match-everything rule ends the program", "[unit][devices]") {
  auto prog = sworn::cgroup::DeviceProgram({{false, 'a', -1, -1, "rwm"}});
  // 6 loads and shifts, then mov r0, 0; exit; nothing after.
  REQUIRE(prog.size() == 8);
  CHECK(prog.back().code == (BPF_JMP | BPF_EXIT));
}
