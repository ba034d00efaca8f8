#include "cgroup/devices.h"

#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "core/fd.h"
#include "core/sys.h"

namespace sworn::cgroup {
namespace {

const DeviceRule kDefaultAllowed[] = {
    {true, 'c', -1, -1, "m"},  {true, 'b', -1, -1, "m"},  {true, 'c', 1, 3, "rwm"},  {true, 'c', 1, 8, "rwm"},
    {true, 'c', 1, 7, "rwm"},  {true, 'c', 5, 0, "rwm"},  {true, 'c', 1, 5, "rwm"},  {true, 'c', 1, 9, "rwm"},
    {true, 'c', 136, -1, "rwm"}, {true, 'c', 5, 2, "rwm"}, {true, 'c', 10, 200, "rwm"},
};

std::string V1Rule(const DeviceRule& r) {
  auto num = [](int64_t v) { return v < 0 ? std::string("*") : std::to_string(v); };
  if (r.type == 'a') return "a";
  return std::string(1, r.type) + " " + num(r.major) + ":" + num(r.minor) + " " + r.access;
}

// Where v1 starts writing: a rule of type 'a' resets the whole list (the
// kernel drops every exception), so the rules before the last one are moot,
// and a trailing deny-all is where we start anyway.
size_t V1Start(const std::vector<DeviceRule>& rules) {
  for (size_t i = rules.size(); i-- > 0;)
    if (rules[i].type == 'a') return rules[i].allow ? i : i + 1;
  return 0;
}

// devices.allow and devices.deny are opened once each: every write(2) to
// them is a rule of its own.
Result<void> ApplyV1(const std::vector<DeviceRule>& rules, const std::string& dir) {
  UniqueFd files[2];  // deny, allow
  auto put = [&](bool allow, const std::string& rule) -> Result<void> {
    std::string path = dir + (allow ? "/devices.allow" : "/devices.deny");
    UniqueFd& fd = files[allow];
    if (!fd) fd.reset(open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return Fail(SysError("open", path));
    if (write(fd.get(), rule.data(), rule.size()) != static_cast<ssize_t>(rule.size()))
      return Fail(SysError("write", path));
    return {};
  };
  // Start from nothing allowed; a v1 child inherits its parent's list.
  SWORN_TRY(WithContext(put(false, "a"), "linux.resources.devices"));
  for (size_t i = V1Start(rules); i < rules.size(); ++i)
    SWORN_TRY(WithContext(put(rules[i].allow, V1Rule(rules[i])), "linux.resources.devices: " + V1Rule(rules[i])));
  return {};
}

// eBPF encoding helpers (the kernel's uapi has no instruction macros).
BpfInsn Alu64Imm(uint8_t op, uint8_t dst, int32_t imm) { return {uint8_t(BPF_ALU64 | op | BPF_K), dst, 0, imm}; }
BpfInsn Mov64Reg(uint8_t dst, uint8_t src) { return {uint8_t(BPF_ALU64 | BPF_MOV | BPF_X), uint8_t(dst | src << 4), 0, 0}; }
BpfInsn LdxW(uint8_t dst, uint8_t src, int16_t off) { return {uint8_t(BPF_LDX | BPF_W | BPF_MEM), uint8_t(dst | src << 4), off, 0}; }
BpfInsn JmpImm(uint8_t op, uint8_t dst, int32_t imm, int16_t off) { return {uint8_t(BPF_JMP | op | BPF_K), dst, off, imm}; }
BpfInsn Exit() { return {uint8_t(BPF_JMP | BPF_EXIT), 0, 0, 0}; }

int32_t AccessBits(const std::string& a) {
  int32_t bits = 0;
  if (a.find('m') != std::string::npos) bits |= BPF_DEVCG_ACC_MKNOD;
  if (a.find('r') != std::string::npos) bits |= BPF_DEVCG_ACC_READ;
  if (a.find('w') != std::string::npos) bits |= BPF_DEVCG_ACC_WRITE;
  return bits;
}

}  // namespace

Result<UniqueFd> LoadDeviceProgram(const std::vector<DeviceRule>& rules) {
  auto prog = DeviceProgram(rules);
  union bpf_attr a;
  std::memset(&a, 0, sizeof(a));
  a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  a.insns = reinterpret_cast<uint64_t>(prog.data());
  a.insn_cnt = static_cast<uint32_t>(prog.size());
  static const char kLicense[] = "Apache";
  a.license = reinterpret_cast<uint64_t>(kLicense);
  long fd = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
  if (fd < 0) return Fail(SysError("bpf(BPF_PROG_LOAD)", "cgroup device program"));
  return UniqueFd(static_cast<int>(fd));
}

namespace {

Result<void> AttachV2(const std::vector<DeviceRule>& rules, const std::string& dir) {
  auto prog = SWORN_TRY(LoadDeviceProgram(rules));
  UniqueFd cg(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cg) return Fail(SysError("open", dir));
  // Programs attached before (an earlier create or update) are replaced.
  uint32_t old_ids[64];
  union bpf_attr q;
  std::memset(&q, 0, sizeof(q));
  q.query.target_fd = static_cast<uint32_t>(cg.get());
  q.query.attach_type = BPF_CGROUP_DEVICE;
  q.query.prog_ids = reinterpret_cast<uint64_t>(old_ids);
  q.query.prog_cnt = 64;
  uint32_t old_count = syscall(SYS_bpf, BPF_PROG_QUERY, &q, sizeof(q)) == 0 ? q.query.prog_cnt : 0;
  union bpf_attr at;
  std::memset(&at, 0, sizeof(at));
  at.target_fd = static_cast<uint32_t>(cg.get());
  at.attach_bpf_fd = static_cast<uint32_t>(prog.get());
  at.attach_type = BPF_CGROUP_DEVICE;
  at.attach_flags = BPF_F_ALLOW_MULTI;
  if (syscall(SYS_bpf, BPF_PROG_ATTACH, &at, sizeof(at)) < 0) return Fail(SysError("bpf(BPF_PROG_ATTACH)", dir));
  for (uint32_t i = 0; i < old_count && i < 64; ++i) {
    union bpf_attr g;
    std::memset(&g, 0, sizeof(g));
    g.prog_id = old_ids[i];
    UniqueFd old(static_cast<int>(syscall(SYS_bpf, BPF_PROG_GET_FD_BY_ID, &g, sizeof(g))));
    if (!old) continue;
    union bpf_attr d = at;
    d.attach_bpf_fd = static_cast<uint32_t>(old.get());
    syscall(SYS_bpf, BPF_PROG_DETACH, &d, sizeof(d));
  }
  return {};
}

}  // namespace

std::vector<DeviceRule> EffectiveRules(const std::vector<DeviceRule>& spec_rules) {
  std::vector<DeviceRule> out = spec_rules;
  out.insert(out.end(), std::begin(kDefaultAllowed), std::end(kDefaultAllowed));
  return out;
}

void AllowDeviceNodes(std::vector<DeviceRule>& rules, const std::vector<spec::Device>& nodes) {
  std::vector<DeviceRule> front;
  for (const auto& d : nodes)
    if (d.type != 'p') front.push_back({true, d.type == 'u' ? 'c' : d.type, d.major, d.minor, "rwm"});
  rules.insert(rules.begin(), front.begin(), front.end());
}

std::vector<BpfInsn> DeviceProgram(const std::vector<DeviceRule>& rules) {
  // r2 = type, r3 = access, r4 = major, r5 = minor (bpf_cgroup_dev_ctx).
  std::vector<BpfInsn> p = {LdxW(2, 1, 0),          Alu64Imm(BPF_AND, 2, 0xFFFF), LdxW(3, 1, 0),
                            Alu64Imm(BPF_RSH, 3, 16), LdxW(4, 1, 4),                LdxW(5, 1, 8)};
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    std::vector<BpfInsn> block;
    if (it->type != 'a')
      block.push_back(JmpImm(BPF_JNE, 2, it->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0));
    int32_t acc = AccessBits(it->access);
    if (acc != (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)) {
      // The request must be a subset of what the rule grants.
      block.push_back(Mov64Reg(1, 3));
      block.push_back(Alu64Imm(BPF_AND, 1, ~acc));
      block.push_back(JmpImm(BPF_JNE, 1, 0, 0));
    }
    if (it->major >= 0) block.push_back(JmpImm(BPF_JNE, 4, static_cast<int32_t>(it->major), 0));
    if (it->minor >= 0) block.push_back(JmpImm(BPF_JNE, 5, static_cast<int32_t>(it->minor), 0));
    block.push_back(Alu64Imm(BPF_MOV, 0, it->allow ? 1 : 0));
    block.push_back(Exit());
    // Each conditional jump skips to the end of its block when it fails.
    for (size_t i = 0; i < block.size(); ++i)
      if ((block[i].code & 0x07) == BPF_JMP && (block[i].code & 0xF0) == BPF_JNE)
        block[i].off = static_cast<int16_t>(block.size() - 1 - i);
    p.insert(p.end(), block.begin(), block.end());
    // A rule that matches everything ends the program: the verifier rejects
    // the unreachable instructions that would follow it.
    if (block.size() == 2) return p;
  }
  p.push_back(Alu64Imm(BPF_MOV, 0, 0));
  p.push_back(Exit());
  return p;
}

Result<void> ApplyDevices(const std::vector<DeviceRule>& spec_rules, const CgroupSet& s) {
  auto rules = EffectiveRules(spec_rules);
  auto v1 = s.v1.find("devices");
  if (v1 != s.v1.end()) return ApplyV1(rules, v1->second);
  if (!s.v2.empty()) return AttachV2(rules, s.v2);
  return Fail(MakeError(Errc::kUnsupported, "linux.resources.devices: the host has no devices cgroup and no cgroup2"));
}

}  // namespace sworn::cgroup
