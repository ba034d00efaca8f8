#include "security/landlock.h"

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "core/sys.h"
#include "security/unveil_expand.h"

namespace sworn::security {

namespace landlock {
uint64_t FsRightsForAbi(int abi) {
  if (abi <= 0) return 0;
  uint64_t fs = (kFsMakeSym << 1) - 1;  // ABI 1: bits 0..12
  if (abi >= 2) fs |= kFsRefer;
  if (abi >= 3) fs |= kFsTruncate;
  if (abi >= 5) fs |= kFsIoctlDev;
  return fs;
}
}  // namespace landlock

namespace {

using namespace landlock;

// The uapi structs at their ABI 6 size; older kernels accept the bigger
// size as long as the fields they do not know are zero.
struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};

struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
};

struct NetPortAttr {
  uint64_t allowed_access;
  uint64_t port;
};

std::string Quoted(std::string_view s) {
  std::string q(1, '"');
  q += s;
  q += '"';
  return q;
}

// Collapses repeated slashes and drops a trailing one, so that rules can be
// compared by prefix.
std::string NormalizePath(std::string_view p) {
  std::string out;
  for (char ch : p)
    if (ch != '/' || out.empty() || out.back() != '/') out += ch;
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// A feature the policy asks for that this ABI lacks.
struct Missing {
  std::string name;  // "TRUNCATE (ABI 3)"
  std::string effect;
};

std::vector<Missing> MissingFeatures(const LandlockPolicy& policy, int abi) {
  std::vector<Missing> m;
  bool any_c = std::ranges::any_of(policy.rules, [](const UnveilRule& r) { return r.c; });
  if (abi < 2 && any_c)
    m.push_back({"REFER (ABI 2)", "renaming or linking across directories fails with EXDEV even under c"});
  if (abi < 3 && policy.filesystem) m.push_back({"TRUNCATE (ABI 3)", "truncate(2) and O_TRUNC are not restricted"});
  if (abi < 4 && policy.tcp) m.push_back({"TCP rules (ABI 4)", "TCP bind and connect are not restricted"});
  if (abi < 5 && policy.filesystem) m.push_back({"IOCTL_DEV (ABI 5)", "ioctls on device files are not restricted"});
  if (abi < 6 && policy.scope)
    m.push_back({"scopes (ABI 6)", "signals and abstract unix sockets to outside the sandbox are not blocked"});
  return m;
}

// Applies Compat: warnings in best effort, one error naming everything in hard.
Result<void> CheckCompat(const LandlockPolicy& policy, int abi, std::vector<std::string>& warnings) {
  auto missing = MissingFeatures(policy, abi);
  if (missing.empty()) return {};
  std::string prefix = "Landlock ABI " + std::to_string(abi) + " lacks ";
  if (policy.compat == Compat::kHard) {
    std::string names;
    for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m.name;
    return Fail(MakeError(Errc::kUnsupported, prefix + names + " (Landlock compat is hard)"));
  }
  for (const auto& m : missing) warnings.push_back(prefix + m.name + ": " + m.effect);
  return {};
}

uint64_t RuleAccess(const UnveilRule& rule, bool is_dir) {
  uint64_t a = 0;
  if (rule.r) a |= kFsReadFile | (is_dir ? kFsReadDir : 0);
  if (rule.w) a |= kFsWriteFile | kFsTruncate | kFsIoctlDev;
  if (rule.x) a |= kFsExecute;
  if (rule.c) a |= kFsMake | kFsRemoveFile | kFsRemoveDir | kFsRefer;
  // Landlock rejects directory-only rights on a file rule with EINVAL.
  return is_dir ? a : (a & kFsFileRights);
}

Result<UniqueFd> OpenRulePath(int root_fd, const std::string& path) {
  if (root_fd != kHostRoot) return OpenInRoot(root_fd, path, O_PATH);
  int fd = open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) return Fail(SysError("open", path));
  return UniqueFd(fd);
}

Result<void> AddPathRule(const UnveilRule& rule, int root_fd, LandlockPlan& plan) {
  std::string what = "unveil " + Quoted(rule.Perms() + ":" + rule.path);
  UniqueFd fd = SWORN_TRY(WithContext(OpenRulePath(root_fd, rule.path), what));
  struct stat st{};
  if (fstat(fd.get(), &st) < 0) return Fail(SysError("fstat", rule.path));
  bool is_dir = S_ISDIR(st.st_mode);
  uint64_t access = RuleAccess(rule, is_dir) & plan.handled_fs;
  if (rule.c && !is_dir)
    plan.warnings.push_back(what + ": c has no effect on a file (creating and removing are rights of the directory)");
  // A rule granting nothing would fail with ENOMSG.
  if (access == 0) return {};
  plan.paths.push_back({std::move(fd), access, rule.path});
  return {};
}

void AddTcpRules(const LandlockPolicy& policy, LandlockPlan& plan) {
  if (!policy.tcp || plan.abi < 4) return;
  plan.handled_net = kNetBindTcp | kNetConnectTcp;
  for (const auto& t : *policy.tcp) plan.ports.push_back({t.bind ? kNetBindTcp : kNetConnectTcp, t.port});
}

// syscall() returns long; fds and results fit in int.
int Sys(long nr, auto... args) { return static_cast<int>(syscall(nr, args...)); }

}  // namespace

int LandlockAbi() {
  int abi = Sys(kSysCreateRuleset, nullptr, 0, kCreateRulesetVersion);
  return abi < 0 ? 0 : abi;
}

std::string UnveilRule::Perms() const {
  std::string s;
  if (r) s += 'r';
  if (w) s += 'w';
  if (x) s += 'x';
  if (c) s += 'c';
  return s;
}

Result<UnveilRule> ParseUnveil(std::string_view spec, std::string_view field) {
  auto bad = [&](std::string_view what) { return Fail(FieldError(field, Quoted(spec) + ": " + std::string(what))); };
  if (spec.empty()) return bad("empty unveil rule (expected PERM:PATH)");
  UnveilRule rule;
  size_t colon = spec.find(':');
  std::string_view perms = colon == std::string_view::npos ? "r" : spec.substr(0, colon);
  std::string_view path = colon == std::string_view::npos ? spec : spec.substr(colon + 1);
  for (char ch : perms) {
    switch (ch) {
      case 'r': rule.r = true; break;
      case 'w': rule.w = true; break;
      case 'x': rule.x = true; break;
      case 'c': rule.c = true; break;
      default: return bad(std::string("unknown permission '") + ch + "' (expected letters from rwxc)");
    }
  }
  if (path.empty()) return bad("empty path");
  if (path.front() != '/') return bad("path must be absolute");
  rule.path = NormalizePath(path);
  return rule;
}

Result<TcpRule> ParseTcpRule(std::string_view spec, std::string_view field) {
  auto bad = [&](std::string_view what) { return Fail(FieldError(field, Quoted(spec) + ": " + std::string(what))); };
  size_t colon = spec.find(':');
  if (colon == std::string_view::npos) return bad("expected bind:PORT or connect:PORT");
  std::string_view kind = spec.substr(0, colon), num = spec.substr(colon + 1);
  TcpRule rule;
  if (kind == "bind")
    rule.bind = true;
  else if (kind != "connect")
    return bad("unknown TCP access \"" + std::string(kind) + "\" (expected bind or connect)");
  unsigned port = 0;
  auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), port);
  if (num.empty() || ec != std::errc() || end != num.data() + num.size() || port > 65535)
    return bad("port must be a number from 0 to 65535");
  rule.port = static_cast<uint16_t>(port);
  return rule;
}

Result<LandlockPlan> PrepareLandlock(const LandlockPolicy& policy, int abi, int root_fd) {
  LandlockPlan plan;
  if (abi <= 0) {
    if (policy.compat == Compat::kHard)
      return Fail(MakeError(Errc::kUnsupported, "Landlock is unavailable (not built in or disabled at boot)"
                                                " and Landlock compat is hard"));
    plan.warnings.push_back("Landlock is unavailable (not built in or disabled at boot): unveil rules are not enforced");
    return plan;
  }
  plan.abi = std::min(abi, kMaxKnownAbi);
  SWORN_TRY(CheckCompat(policy, plan.abi, plan.warnings));
  // Only TCP rules asked for: the filesystem stays as it is.
  plan.handled_fs = policy.filesystem ? FsRightsForAbi(plan.abi) : 0;
  if (policy.scope && plan.abi >= 6) plan.scoped = kScopeAbstractUnixSocket | kScopeSignal;
  if (policy.log_new_exec && plan.abi >= 7) plan.restrict_flags = kRestrictLogNewExecOn;
  AddTcpRules(policy, plan);
  if (!policy.filesystem) return plan;
  for (const auto& rule : SWORN_TRY(ExpandNarrowed(policy.rules, root_fd, plan.warnings)))
    if (!rule.hidden()) SWORN_TRY(AddPathRule(rule, root_fd, plan));
  return plan;
}

Result<void> ApplyLandlock(const LandlockPlan& plan) {
  if (plan.abi == 0) return {};
  RulesetAttr attr{plan.handled_fs, plan.handled_net, plan.scoped};
  UniqueFd ruleset(Sys(kSysCreateRuleset, &attr, sizeof(attr), 0));
  if (!ruleset) return Fail(SysError("landlock_create_ruleset"));
  for (const auto& p : plan.paths) {
    PathBeneathAttr a{p.access, p.fd.get()};
    if (Sys(kSysAddRule, ruleset.get(), kRulePathBeneath, &a, 0) < 0)
      return Fail(SysError("landlock_add_rule", p.path));
  }
  for (const auto& p : plan.ports) {
    NetPortAttr a{p.access, p.port};
    if (Sys(kSysAddRule, ruleset.get(), kRuleNetPort, &a, 0) < 0)
      return Fail(SysError("landlock_add_rule", "tcp port " + std::to_string(p.port)));
  }
  // Without CAP_SYS_ADMIN in the user namespace, restrict_self needs NNP.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return Fail(SysError("prctl", "PR_SET_NO_NEW_PRIVS"));
  if (Sys(kSysRestrictSelf, ruleset.get(), plan.restrict_flags) < 0) return Fail(SysError("landlock_restrict_self"));
  return {};
}

}  // namespace sworn::security
