// Device access rules: devices.allow/deny on cgroup v1; on cgroup v2 (which
// has no devices files) an eBPF BPF_PROG_TYPE_CGROUP_DEVICE program, as runc
// and crun attach. runc's default allow list is appended to the spec's rules.
#pragma once

#include <vector>

#include "cgroup/resources.h"
#include "core/fd.h"
#include "spec/spec.h"

namespace sworn::cgroup {

// The rules to enforce: the spec's, then the devices every container needs.
std::vector<DeviceRule> EffectiveRules(const std::vector<DeviceRule>& spec_rules);
// Allows the nodes of linux.devices, placed before the spec's own rules so
// that a later rule wins: what linux.resources.devices denies (its usual
// leading deny-all above all) stays denied whatever linux.devices creates,
// as in runc, which never allows them. Without rules they are usable.
void AllowDeviceNodes(std::vector<DeviceRule>& rules, const std::vector<spec::Device>& nodes);
Result<void> ApplyDevices(const std::vector<DeviceRule>& spec_rules, const CgroupSet& s);

// The eBPF program for rules (exposed for tests): first match wins, so the
// rules are emitted last-to-first, matching v1's "later rule overrides".
struct BpfInsn {
  uint8_t code;
  uint8_t regs;  // dst | src << 4
  int16_t off;
  int32_t imm;
};
std::vector<BpfInsn> DeviceProgram(const std::vector<DeviceRule>& rules);
// Loads it (BPF_PROG_LOAD, root only): the kernel verifier's verdict.
Result<UniqueFd> LoadDeviceProgram(const std::vector<DeviceRule>& rules);

}  // namespace sworn::cgroup
