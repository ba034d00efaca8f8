#include "security/pledge.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/random.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <memory>

namespace sworn::security {
namespace {

using ScmpCtx = std::unique_ptr<void, decltype(&seccomp_release)>;

constexpr std::string_view kField = "annotations.sworn.pledge.promises";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Error UnknownPromise(std::string_view name) {
  return FieldError(kField, "unknown promise \"" + std::string(name) + "\"");
}

// The allow rules of a promise set without repeats. A syscall allowed
// outright by one promise drops the argument rules others have for it
// (mprotect under stdio + prot_exec), which also keeps libseccomp from
// merging an unconditional rule with conditional ones.
struct RuleSet {
  std::vector<int> plain;
  std::vector<const ArgRule*> restricted;
};

RuleSet Collect(std::span<const PromiseTable* const> promises) {
  RuleSet s;
  s.plain.assign(AlwaysAllowedSyscalls().begin(), AlwaysAllowedSyscalls().end());
  for (const auto* t : promises) s.plain.insert(s.plain.end(), t->plain.begin(), t->plain.end());
  std::ranges::sort(s.plain);
  s.plain.erase(std::unique(s.plain.begin(), s.plain.end()), s.plain.end());
  for (const auto* t : promises)
    for (const auto& r : t->restricted) {
      if (std::ranges::binary_search(s.plain, r.nr)) continue;
      if (std::ranges::none_of(s.restricted, [&](const ArgRule* o) { return *o == r; })) s.restricted.push_back(&r);
    }
  return s;
}

Result<void> AddRule(scmp_filter_ctx ctx, uint32_t action, int nr, std::span<const scmp_arg_cmp> cmps) {
  int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(cmps.size()), cmps.data());
  // Two promises can name the same rule (openat read-only under rpath and dns).
  if (rc < 0 && rc != -EEXIST) return Fail(SysError(-rc, "seccomp_rule_add", "pledge syscall " + std::to_string(nr)));
  return {};
}

// One ALLOW rule per combination of the ArgIns' values: libseccomp ANDs the
// comparisons of a rule and ORs rules.
Result<void> AddArgRule(scmp_filter_ctx ctx, const ArgRule& r) {
  std::vector<size_t> pick(r.all.size(), 0);
  std::vector<scmp_arg_cmp> cmps(r.all.size());
  for (;;) {
    for (size_t i = 0; i < r.all.size(); ++i)
      cmps[i] = scmp_arg_cmp{r.all[i].arg, SCMP_CMP_MASKED_EQ, r.all[i].mask, r.all[i].values[pick[i]]};
    SWORN_TRY(AddRule(ctx, SCMP_ACT_ALLOW, r.nr, cmps));
    size_t i = 0;
    for (; i < pick.size(); ++i) {
      if (++pick[i] < r.all[i].values.size()) break;
      pick[i] = 0;
    }
    if (i == pick.size()) return {};
  }
}

struct BuildInput {
  std::span<const PromiseTable* const> promises;
  uint32_t default_action;
  const std::optional<std::array<uint64_t, 3>>& secret;
  bool report;
};

// Args 3..5 of nr equal the secret (full 64-bit compares: hi and lo words).
Result<void> AddSecretRule(scmp_filter_ctx ctx, int nr, const std::array<uint64_t, 3>& k) {
  scmp_arg_cmp cmps[] = {{3, SCMP_CMP_EQ, k[0], 0}, {4, SCMP_CMP_EQ, k[1], 0}, {5, SCMP_CMP_EQ, k[2], 0}};
  return AddRule(ctx, SCMP_ACT_ALLOW, nr, cmps);
}

Result<void> AddAllRules(scmp_filter_ctx ctx, const BuildInput& in) {
  RuleSet s = Collect(in.promises);
  for (int nr : s.plain) SWORN_TRY(AddRule(ctx, SCMP_ACT_ALLOW, nr, {}));
  for (const ArgRule* r : s.restricted) SWORN_TRY(AddArgRule(ctx, *r));
  if (in.secret && !std::ranges::binary_search(s.plain, __NR_execve))
    SWORN_TRY(AddSecretRule(ctx, __NR_execve, *in.secret));
  // sworn-dmz sends the listener to the reporter with this one sendmsg.
  if (in.secret && in.report && !std::ranges::binary_search(s.plain, __NR_sendmsg))
    SWORN_TRY(AddSecretRule(ctx, __NR_sendmsg, *in.secret));
  // cosmo, for the empty set: exit_group answers EPERM even in kill mode, so
  // glibc's _exit falls back to exit instead of dying of SIGSYS.
  if (in.promises.empty() && in.default_action != SCMP_ACT_ERRNO(EPERM))
    SWORN_TRY(AddRule(ctx, SCMP_ACT_ERRNO(EPERM), __NR_exit_group, {}));
  return {};
}

// Runs before libseccomp's program (which starts by loading arch itself):
// foreign arches die, unknown-to-the-policy numbers get ENOSYS.
std::vector<sock_filter> Prefix(uint32_t native_arch) {
  std::vector<sock_filter> p;
  std::vector<std::pair<size_t, bool>> to_kill, to_enosys, to_body;  // insn, jump when true?
  auto jump = [&](auto& list, bool when, uint32_t op, uint32_t k) {
    list.push_back({p.size(), when});
    p.push_back(BPF_JUMP(BPF_JMP | op | BPF_K, k, 0, 0));
  };
  p.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  jump(to_kill, false, BPF_JEQ, native_arch);
  p.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  // x32 calls arrive with AUDIT_ARCH_X86_64 and bit 30 set in nr; they are
  // not "newer" syscalls. libseccomp kills them and sends nr -1 (a tracer
  // skipping the call) to the default action.
  jump(to_body, true, BPF_JGE, 0x40000000u);
  jump(to_enosys, true, BPF_JGT, static_cast<uint32_t>(NewestKnownSyscall()));
  for (int nr : EnosysSyscalls()) jump(to_enosys, true, BPF_JEQ, static_cast<uint32_t>(nr));
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JA, 2, 0, 0));
  size_t enosys = p.size();
  p.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
  size_t kill = p.size();
  p.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  for (auto [list, target] : {std::pair{&to_kill, kill}, std::pair{&to_enosys, enosys}, std::pair{&to_body, kill + 1}})
    for (auto [at, when] : *list) (when ? p[at].jt : p[at].jf) = static_cast<uint8_t>(target - at - 1);
  return p;
}

}  // namespace

Result<std::vector<std::string>> ParsePromises(std::string_view s, std::vector<std::string>* warnings) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    if (std::isspace(static_cast<unsigned char>(s[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    std::string_view word = s.substr(i, j - i);
    i = j;
    std::string name = Lower(word);
    if (name == "thread") {
      if (warnings)
        warnings->push_back(std::string(kField) +
                            ": \"thread\" is deprecated and adds nothing (thread creation is part of stdio)");
      continue;
    }
    if (!FindPromise(name)) return Fail(UnknownPromise(word));
    if (std::ranges::find(out, name) == out.end()) out.push_back(std::move(name));
  }
  return out;
}

Result<std::array<uint64_t, 3>> MakeExecSecret() {
  std::array<uint64_t, 3> k{};
  while (std::ranges::find(k, 0) != k.end()) {
    ssize_t n = getrandom(k.data(), sizeof(k), 0);
    if (n < 0 && errno != EINTR) return Fail(SysError("getrandom"));
    if (n >= 0 && static_cast<size_t>(n) != sizeof(k)) k = {};
  }
  return k;
}

size_t BindSelfPid(std::vector<sock_filter>& insns, pid_t pid) {
  if (pid <= 0) return 0;
  size_t n = 0;
  for (auto& f : insns)
    if (f.code == (BPF_JMP | BPF_JEQ | BPF_K) && f.k == kSelfPidPlaceholder) {
      f.k = static_cast<uint32_t>(pid);
      ++n;
    }
  return n;
}

void PledgeBuilder::SetError(Error e) {
  if (!error_) error_ = std::move(e);
}

PledgeBuilder& PledgeBuilder::Promise(std::string_view name) {
  std::string lower = Lower(name);
  if (lower == "thread") return *this;
  const PromiseTable* t = FindPromise(lower);
  if (!t) SetError(UnknownPromise(name));
  else if (std::ranges::find(promises_, t) == promises_.end()) promises_.push_back(t);
  return *this;
}

PledgeBuilder& PledgeBuilder::Promises(std::span<const std::string> names) {
  for (const auto& n : names) Promise(n);
  return *this;
}

PledgeBuilder& PledgeBuilder::Penalty(security::Penalty p) {
  penalty_ = p;
  return *this;
}

PledgeBuilder& PledgeBuilder::Report(bool on) {
  report_ = on;
  return *this;
}

PledgeBuilder& PledgeBuilder::ExecSecret(const std::array<uint64_t, 3>& secret) {
  // Registers a plain execve leaves behind are often zero.
  if (std::ranges::find(secret, 0) != secret.end())
    SetError(MakeError(Errc::kInvalidArgument, "pledge: exec secret words must be nonzero"));
  else secret_ = secret;
  return *this;
}

PledgeBuilder& PledgeBuilder::SelfPid(pid_t pid) {
  if (pid <= 0) SetError(MakeError(Errc::kInvalidArgument, "pledge: self pid must be positive"));
  else self_pid_ = pid;
  return *this;
}

Result<BpfProgram> PledgeBuilder::TryBuild() {
  if (built_) return Fail(MakeError(Errc::kBadState, "pledge: the builder was already built"));
  built_ = true;
  if (error_) return Fail(*error_);
  uint32_t def = report_ ? SCMP_ACT_NOTIFY
                 : penalty_ == security::Penalty::kKill ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_ERRNO(EPERM);
  ScmpCtx owner(seccomp_init(def), &seccomp_release);
  if (!owner) return Fail(MakeError(Errc::kSystem, "pledge: seccomp_init failed"));
  auto ctx = static_cast<scmp_filter_ctx>(owner.get());
  // sworn sets no_new_privs itself; libseccomp's default kills only the thread.
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  SWORN_TRY(AddAllRules(ctx, BuildInput{promises_, def, secret_, report_}));
  BpfProgram prog;
  prog.insns = Prefix(seccomp_arch_native());
  auto body = SWORN_TRY(ExportBpf(ctx));
  prog.insns.insert(prog.insns.end(), body.begin(), body.end());
  if (self_pid_) BindSelfPid(prog.insns, *self_pid_);
  return prog;
}

}  // namespace sworn::security
