// Pledge promises as data (Chromium syscall_sets / sandbox2 allowlists
// style): for each of cosmo's 23 Linux promises, the syscalls it allows
// outright and the argument-restricted ones. Source: cosmopolitan
// libc/calls/pledge-linux.c @eedf7d2, summarised in
// shared/reference/pledge-unveil.md §1.3/§1.4. The builder (pledge.h) turns
// these tables into libseccomp rules; nothing here touches libseccomp.
//
//   const PromiseTable* t = FindPromise("rpath");
//   for (int nr : t->plain) ...            // allow whatever the arguments
//   for (const ArgRule& r : t->restricted) // allow when every ArgIn holds
//
// The tables use x86-64 syscall numbers; other architectures are killed.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace sworn::security {

// Compare only the low 32 bits, as cosmo does (BPF_LD|BPF_W of args[n]):
// int arguments may reach the kernel with sign-extended or garbage upper
// halves, which a full 64-bit compare would wrongly reject.
inline constexpr uint64_t kLow32 = 0xFFFFFFFFu;
// Pointer-NULL checks (sendto addr, prlimit64 new_limit) test both halves.
inline constexpr uint64_t kAll64 = ~uint64_t{0};

// Holds when (args[arg] & mask) equals one of `values`.
struct ArgIn {
  unsigned arg = 0;
  uint64_t mask = kLow32;
  std::vector<uint64_t> values;
  bool operator==(const ArgIn&) const = default;
};

// The syscall `nr` is allowed when every ArgIn holds (the cartesian product
// of their values). Several ArgRules for one nr are alternatives.
struct ArgRule {
  int nr = -1;
  std::vector<ArgIn> all;
  bool operator==(const ArgRule&) const = default;
};

struct PromiseTable {
  std::string_view name;
  std::vector<int> plain;           // allowed whatever the arguments
  std::vector<ArgRule> restricted;  // allowed when an ArgRule holds
};

// kill/tgkill "self" rules compare args[0] with this value until
// BindSelfPid (pledge.h) patches in the real pid. It is above
// PID_MAX_LIMIT (2^22), so until then no process matches: self-signalling
// fails closed rather than naming the parent's pid.
inline constexpr uint32_t kSelfPidPlaceholder = 0x7FFFFFFE;
static_assert(kSelfPidPlaceholder > (1u << 22));

// The 23 promises, in cosmo's order.
const std::vector<PromiseTable>& PromiseTables();
// nullptr for an unknown name; `name` must already be lower case.
const PromiseTable* FindPromise(std::string_view name);
// Allowed whatever the promises: exit, arch_prctl (musl sets TLS with it).
std::span<const int> AlwaysAllowedSyscalls();
// Newer interfaces whose callers fall back on ENOSYS (clone3 → clone,
// openat2 → openat, memfd_create → tmpfile); answered ENOSYS in any mode.
std::span<const int> EnosysSyscalls();
// Highest syscall number the tables name; every number above it is newer
// than the policy and gets ENOSYS.
int NewestKnownSyscall();

}  // namespace sworn::security
