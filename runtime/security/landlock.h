// unveil(2) for containers on Landlock: OpenBSD/pledge.com-style "PERM:PATH"
// rules (PERM ⊆ rwxc) compiled into a Landlock ruleset for the running ABI.
// Prepare in the runtime (opens the paths, decides the masks, collects the
// warnings); apply in the container init just before the seccomp filter and
// execve (Landlock first: its syscalls are not in a pledge filter without
// `unveil`).
//
//   LandlockPolicy policy{.compat = Compat::kBestEffort};
//   policy.rules.push_back(SWORN_TRY(ParseUnveil("rwc:/data", "sworn.unveil[0]")));
//   LandlockPlan plan = SWORN_TRY(PrepareLandlock(policy, LandlockAbi(), rootfd));
//   for (auto& w : plan.warnings) log(w);
//   ... in the child, after pivot_root and every mount:
//   SWORN_TRY(ApplyLandlock(plan));  // sets NO_NEW_PRIVS
//
// Mapping (fact sheet §3.2, "recommended"), every right of the ABI handled:
//   r → READ_FILE | READ_DIR (READ_DIR on directories only)
//   w → WRITE_FILE | TRUNCATE (ABI 3) | IOCTL_DEV (ABI 5)
//   x → EXECUTE
//   c → MAKE_* | REMOVE_FILE | REMOVE_DIR | REFER (ABI 2); directories only
// Landlock rules add up along the path; OpenBSD's most-specific-rule-wins is
// rebuilt on top (unveil_expand.h). Denials are always EACCES; metadata
// (stat, readlink) is never hidden.
#pragma once

#include <fcntl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/fd.h"

namespace sworn::security {

// Landlock uapi up to ABI 7: Debian 12's <linux/landlock.h> stops at ABI 2.
namespace landlock {
inline constexpr uint64_t kFsExecute = 1ULL << 0;
inline constexpr uint64_t kFsWriteFile = 1ULL << 1;
inline constexpr uint64_t kFsReadFile = 1ULL << 2;
inline constexpr uint64_t kFsReadDir = 1ULL << 3;
inline constexpr uint64_t kFsRemoveDir = 1ULL << 4;
inline constexpr uint64_t kFsRemoveFile = 1ULL << 5;
inline constexpr uint64_t kFsMakeChar = 1ULL << 6;
inline constexpr uint64_t kFsMakeDir = 1ULL << 7;
inline constexpr uint64_t kFsMakeReg = 1ULL << 8;
inline constexpr uint64_t kFsMakeSock = 1ULL << 9;
inline constexpr uint64_t kFsMakeFifo = 1ULL << 10;
inline constexpr uint64_t kFsMakeBlock = 1ULL << 11;
inline constexpr uint64_t kFsMakeSym = 1ULL << 12;
inline constexpr uint64_t kFsRefer = 1ULL << 13;     // ABI 2
inline constexpr uint64_t kFsTruncate = 1ULL << 14;  // ABI 3
inline constexpr uint64_t kFsIoctlDev = 1ULL << 15;  // ABI 5
inline constexpr uint64_t kFsMake =
    kFsMakeChar | kFsMakeDir | kFsMakeReg | kFsMakeSock | kFsMakeFifo | kFsMakeBlock | kFsMakeSym;
// Rights the kernel accepts on a non-directory; anything else gives EINVAL.
inline constexpr uint64_t kFsFileRights = kFsExecute | kFsWriteFile | kFsReadFile | kFsTruncate | kFsIoctlDev;

inline constexpr uint64_t kNetBindTcp = 1ULL << 0;     // ABI 4
inline constexpr uint64_t kNetConnectTcp = 1ULL << 1;  // ABI 4

inline constexpr uint64_t kScopeAbstractUnixSocket = 1ULL << 0;  // ABI 6
inline constexpr uint64_t kScopeSignal = 1ULL << 1;              // ABI 6

inline constexpr uint32_t kCreateRulesetVersion = 1U << 0;
inline constexpr uint32_t kCreateRulesetErrata = 1U << 1;

inline constexpr uint32_t kRestrictLogSameExecOff = 1U << 0;    // ABI 7
inline constexpr uint32_t kRestrictLogNewExecOn = 1U << 1;      // ABI 7
inline constexpr uint32_t kRestrictLogSubdomainsOff = 1U << 2;  // ABI 7

inline constexpr int kRulePathBeneath = 1;
inline constexpr int kRuleNetPort = 2;

inline constexpr long kSysCreateRuleset = 444;
inline constexpr long kSysAddRule = 445;
inline constexpr long kSysRestrictSelf = 446;

// The newest ABI whose rights sworn knows; a newer kernel is used as this.
inline constexpr int kMaxKnownAbi = 7;

// All filesystem rights of `abi` (0 for abi <= 0).
uint64_t FsRightsForAbi(int abi);
}  // namespace landlock

// The running kernel's Landlock ABI; 0 when Landlock is not built in
// (ENOSYS) or disabled at boot (EOPNOTSUPP).
int LandlockAbi();

// Pass as root_fd to resolve paths on the host (`sworn pledge` mode)
// instead of inside a container root.
inline constexpr int kHostRoot = AT_FDCWD;

struct UnveilRule {
  std::string path;  // absolute, without repeated or trailing slashes
  bool r = false, w = false, x = false, c = false;
  // Added by sworn (the entrypoint, its libraries, pledge.com's per-promise
  // paths): it only adds rights, never narrows a broader rule.
  bool automatic = false;

  bool hidden() const { return !r && !w && !x && !c; }
  std::string Perms() const;  // "rwc", "" when hidden
  bool operator==(const UnveilRule&) const = default;
};

// "PERM:PATH" with PERM ⊆ rwxc; ":PATH" hides PATH (no access). As in
// pledge.com, a spec without ':' means "r:PATH", and the text before the
// first ':' is the perm, so a path containing ':' needs an explicit perm.
// Errors name the field and the spec:
//   sworn.unveil[2]: "rz:/etc": unknown permission 'z' (expected letters from rwxc)
Result<UnveilRule> ParseUnveil(std::string_view spec, std::string_view field);

struct TcpRule {
  bool bind = false;  // false: connect
  uint16_t port = 0;
  bool operator==(const TcpRule&) const = default;
};

// "bind:PORT" or "connect:PORT", PORT in 0..65535.
Result<TcpRule> ParseTcpRule(std::string_view spec, std::string_view field);

enum class Compat {
  kBestEffort,  // drop what the kernel lacks, with a warning for each
  kHard,        // fail unless everything asked for is enforced
};

struct LandlockPolicy {
  std::vector<UnveilRule> rules;
  // nullopt leaves TCP unhandled (the `inet` promise then decides alone);
  // a list, even empty, denies every TCP bind/connect not listed (ABI 4).
  std::optional<std::vector<TcpRule>> tcp;
  // Block signals and abstract unix sockets to outside the sandbox (ABI 6).
  bool scope = true;
  Compat compat = Compat::kBestEffort;
  // false when only TCP rules were asked for: filesystem access is then not
  // handled at all (and `rules` is ignored).
  bool filesystem = true;
  // Landlock logs denials only until the first execve by default, i.e. never
  // for a container's entrypoint; this asks for LOG_NEW_EXEC_ON (ABI 7), so
  // that the unveil reporter (unveil_reporter.h) sees them. Without ABI 7
  // the reporter says so; enforcement is the same either way.
  bool log_new_exec = true;
};

// What ApplyLandlock installs. Move-only: it owns the O_PATH fds.
struct LandlockPlan {
  struct PathRule {
    UniqueFd fd;
    uint64_t access = 0;
    std::string path;  // for errors only
  };
  struct PortRule {
    uint64_t access = 0;
    uint16_t port = 0;
  };

  int abi = 0;  // 0: nothing to apply (Landlock unavailable, best effort)
  uint64_t handled_fs = 0;
  uint64_t handled_net = 0;
  uint64_t scoped = 0;
  uint32_t restrict_flags = 0;
  std::vector<PathRule> paths;
  std::vector<PortRule> ports;
  // Dropped features and rules that Landlock makes wider than asked.
  std::vector<std::string> warnings;
};

// Opens every rule's path O_PATH|O_CLOEXEC, following symlinks, resolved
// inside root_fd (RESOLVE_IN_ROOT; magic links such as /dev/stdin are then
// refused) or on the host for kHostRoot, after ExpandNarrowed (a broader
// rule above a narrower one becomes rules for its other entries). Hidden
// rules open nothing. A missing path is an error naming it.
// `abi` is normally LandlockAbi(); with a higher one than the kernel's,
// ApplyLandlock fails with EINVAL.
Result<LandlockPlan> PrepareLandlock(const LandlockPolicy& policy, int abi, int root_fd);

// create_ruleset + add_rule for each rule + PR_SET_NO_NEW_PRIVS +
// restrict_self. Allocates only on failure. A plan with abi 0 is a no-op.
// Applies to the calling thread and its future children only.
Result<void> ApplyLandlock(const LandlockPlan& plan);

}  // namespace sworn::security
