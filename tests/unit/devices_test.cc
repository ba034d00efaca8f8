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

namespace {

// Runs a device program on one access, interpreting the few instructions
// DeviceProgram emits (the kernel has no test-run for cgroup device programs).
int RunProgram(const std::vector<sworn::cgroup::BpfInsn>& prog, uint32_t type, uint32_t access, uint32_t major,
               uint32_t minor) {
  const uint32_t ctx[3] = {type | access << 16, major, minor};
  uint64_t reg[11] = {};
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const auto& in = prog[pc];
    uint8_t dst = in.regs & 0xF, src = in.regs >> 4;
    switch (in.code) {
      case BPF_LDX | BPF_W | BPF_MEM: reg[dst] = ctx[in.off / 4]; break;
      case BPF_ALU64 | BPF_AND | BPF_K: reg[dst] &= static_cast<uint64_t>(static_cast<int64_t>(in.imm)); break;
      case BPF_ALU64 | BPF_RSH | BPF_K: reg[dst] >>= in.imm; break;
      case BPF_ALU64 | BPF_MOV | BPF_K: reg[dst] = static_cast<uint64_t>(static_cast<int64_t>(in.imm)); break;
      case BPF_ALU64 | BPF_MOV | BPF_X: reg[dst] = reg[src]; break;
      case BPF_JMP | BPF_JNE | BPF_K:
        if (reg[dst] != static_cast<uint64_t>(static_cast<int64_t>(in.imm))) pc += in.off;
        break;
      case BPF_JMP | BPF_EXIT: return static_cast<int>(reg[0]);
      default: FAIL("unexpected instruction " << int(in.code)); return -1;
    }
  }
  FAIL("program ran off its end");
  return -1;
}

bool Allowed(const std::vector<DeviceRule>& rules, uint32_t major, uint32_t minor, uint32_t access) {
  return RunProgram(sworn::cgroup::DeviceProgram(sworn::cgroup::EffectiveRules(rules)), BPF_DEVCG_DEV_CHAR, access,
                    major, minor) == 1;
}

sworn::spec::Device Node(const char* path, int64_t major, int64_t minor) {
  sworn::spec::Device d;
  d.path = path;
  d.major = major;
  d.minor = minor;
  return d;
}

}  // namespace

TEST_CASE("linux.devices do not undo a deny-all of linux.resources.devices", "[unit][devices]") {
  const std::vector<sworn::spec::Device> nodes = {Node("/dev/kmsg", 1, 11), Node("/dev/fuse", 10, 229)};
  std::vector<DeviceRule> rules = {{false, 'a', -1, -1, "rwm"}};
  sworn::cgroup::AllowDeviceNodes(rules, nodes);
  CHECK_FALSE(Allowed(rules, 1, 11, BPF_DEVCG_ACC_WRITE));
  CHECK_FALSE(Allowed(rules, 10, 229, BPF_DEVCG_ACC_READ));
  CHECK(Allowed(rules, 1, 3, BPF_DEVCG_ACC_WRITE));  // /dev/null, from the default list

  SECTION("an explicit allow after the deny-all still wins") {
    std::vector<DeviceRule> explicit_rules = {{false, 'a', -1, -1, "rwm"}, {true, 'c', 10, 229, "rw"}};
    sworn::cgroup::AllowDeviceNodes(explicit_rules, nodes);
    CHECK(Allowed(explicit_rules, 10, 229, BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE));
    CHECK_FALSE(Allowed(explicit_rules, 1, 11, BPF_DEVCG_ACC_WRITE));
  }
  SECTION("without rules the nodes are usable") {
    std::vector<DeviceRule> none;
    sworn::cgroup::AllowDeviceNodes(none, nodes);
    CHECK(Allowed(none, 1, 11, BPF_DEVCG_ACC_WRITE));
    CHECK_FALSE(Allowed(none, 1, 1, BPF_DEVCG_ACC_READ));  // /dev/mem, never listed
  }
}
