#include "security/pledge_explain.h"

#include <seccomp.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cstdlib>

#include "security/promises.h"

namespace sworn::security {
namespace {

bool ArgHolds(const ArgIn& a, const uint64_t args[6], pid_t self_pid) {
  uint64_t v = args[a.arg] & a.mask;
  for (uint64_t want : a.values) {
    // The kill/tgkill "self" rules: the filter compares with the caller's
    // own pid, patched in at load time.
    if (want == kSelfPidPlaceholder) want = static_cast<uint64_t>(self_pid) & a.mask;
    if (v == want) return true;
  }
  return false;
}

bool TableAllows(const PromiseTable& t, int nr, const uint64_t args[6], pid_t self_pid) {
  if (std::ranges::find(t.plain, nr) != t.plain.end()) return true;
  for (const auto& r : t.restricted)
    if (r.nr == nr && std::ranges::all_of(r.all, [&](const ArgIn& a) { return ArgHolds(a, args, self_pid); }))
      return true;
  return false;
}

bool TableNames(const PromiseTable& t, int nr) {
  return std::ranges::find(t.plain, nr) != t.plain.end() ||
         std::ranges::any_of(t.restricted, [&](const ArgRule& r) { return r.nr == nr; });
}

}  // namespace

bool PromiseAllows(std::string_view name, int nr, const uint64_t args[6], pid_t self_pid) {
  const PromiseTable* t = FindPromise(name);
  return t && TableAllows(*t, nr, args, self_pid);
}

Explanation ExplainSyscall(int nr, const uint64_t args[6], pid_t self_pid) {
  Explanation e;
  std::vector<std::string> partial;  // promises with a rule for nr, other arguments
  for (const auto& t : PromiseTables()) {
    if (TableAllows(t, nr, args, self_pid)) e.promises.emplace_back(t.name);
    else if (TableNames(t, nr)) partial.emplace_back(t.name);
  }
  if (!e.promises.empty()) return e;
  std::string name = SyscallName(nr);
  if (std::ranges::find(EnosysSyscalls(), nr) != EnosysSyscalls().end())
    e.reason = name + " is answered ENOSYS under every promise set (callers fall back to an older call)";
  else if (nr > NewestKnownSyscall())
    e.reason = name + " is newer than the promise tables (answered ENOSYS)";
  else if (partial.empty())
    e.reason = name + " is in no promise";
  else {
    std::string list;
    for (const auto& p : partial) list += (list.empty() ? "" : ", ") + p;
    e.reason = "no promise allows these arguments (" + list + " allow" + (partial.size() == 1 ? "s" : "") +
               " other " + name + " calls)";
  }
  return e;
}

std::string SyscallName(int nr) {
  char* n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);
  std::string out = n ? n : "syscall_" + std::to_string(nr);
  std::free(n);
  return out;
}

std::string DescribeFix(int nr, const uint64_t args[6], const Explanation& e) {
  if (e.promises.empty()) return "no promise allows it: " + e.reason;
  std::string out = "needs ";
  for (size_t i = 0; i < e.promises.size(); ++i) out += (i ? " or " : "") + e.promises[i];
  bool exec_mem = (nr == __NR_mmap || nr == __NR_mprotect) && (args[2] & 4 /* PROT_EXEC */);
  if (exec_mem && std::ranges::find(e.promises, "prot_exec") != e.promises.end())
    out += " (executable memory: a dynamic program, shared library or JIT needs prot_exec)";
  return out;
}

std::string FormatDenial(int nr, const uint64_t args[6], const StringReader& read, const std::string& comm, pid_t pid,
                         const Explanation& e) {
  return "pledge: denied " + DescribeCall(nr, args, read) + " in " + comm + "[" + std::to_string(pid) +
         "]: " + DescribeFix(nr, args, e);
}

}  // namespace sworn::security
