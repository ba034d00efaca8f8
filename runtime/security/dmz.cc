#include "security/dmz.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string_view>

#include "core/sys.h"

extern "C" const char sworn_dmz_start[];
extern "C" const char sworn_dmz_end[];
extern "C" const char sworn_repledge_start[];
extern "C" const char sworn_repledge_end[];

namespace sworn::security {


Result<UniqueFd> SealedDmz() {
  return SealedMemfd("sworn-dmz", sworn_dmz_start, static_cast<size_t>(sworn_dmz_end - sworn_dmz_start));
}

// The layout of `sworn_repledge_prog` in runtime/dmz/repledge.c.
constexpr std::string_view kRepledgeMagic{"SWORN-REPLEDGE-1", 16};
constexpr size_t kRepledgeMax = 4096;

Result<UniqueFd> SealedRepledge(const BpfProgram& after_startup) {
  std::string so(sworn_repledge_start, static_cast<size_t>(sworn_repledge_end - sworn_repledge_start));
  size_t at = so.find(kRepledgeMagic);
  if (at == std::string::npos || at + 24 + kRepledgeMax * sizeof(sock_filter) > so.size())
    return Fail(MakeError(Errc::kSystem, "repledge preload: no program slot in the embedded file"));
  if (after_startup.insns.empty() || after_startup.insns.size() > kRepledgeMax)
    return Fail(MakeError(Errc::kSystem, "repledge preload: program of " +
                                             std::to_string(after_startup.insns.size()) + " instructions"));
  uint32_t count = static_cast<uint32_t>(after_startup.insns.size());
  std::memcpy(so.data() + at + 16, &count, sizeof(count));
  std::memcpy(so.data() + at + 24, after_startup.insns.data(), count * sizeof(sock_filter));
  return SealedMemfd("sworn-repledge", so.data(), so.size());
}

Result<UniqueFd> SealedRepledgeSignal() {
  std::string so(sworn_repledge_start, static_cast<size_t>(sworn_repledge_end - sworn_repledge_start));
  size_t at = so.find(kRepledgeMagic);
  if (at == std::string::npos || at + 24 > so.size())
    return Fail(MakeError(Errc::kSystem, "repledge preload: no program slot in the embedded file"));
  std::memcpy(so.data() + at + 16, &kRepledgeSignalCount, sizeof(kRepledgeSignalCount));
  return SealedMemfd("sworn-repledge", so.data(), so.size());
}

Result<UniqueFd> SealedFilter(const BpfProgram& p) {
  return SealedMemfd("sworn-pledge", p.insns.data(), p.insns.size() * sizeof(sock_filter));
}

Result<void> InheritRepledge(int so_fd, std::vector<std::string>& env) {
  if (fcntl(so_fd, F_SETFD, 0) < 0) return Fail(SysError("fcntl F_SETFD", "repledge"));
  std::string preload = "/proc/self/fd/" + std::to_string(so_fd);
  bool merged = false;
  for (auto& e : env)
    if (e.rfind("LD_PRELOAD=", 0) == 0) e = "LD_PRELOAD=" + preload + ":" + e.substr(11), merged = true;
  if (!merged) env.push_back("LD_PRELOAD=" + preload);
  env.push_back("SWORN_REPLEDGE_FD=" + std::to_string(so_fd));
  return {};
}

namespace {

bool Allows(const BpfProgram& p, int nr, const uint64_t (&args)[6]) {
  uint32_t r = EmulateBpf(p.insns, nr, AUDIT_ARCH_X86_64, args);
  return (r & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ALLOW || (r & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_LOG;
}

}  // namespace

TrampolineCall TrampolineCallFor(const BpfProgram& p) {
  if (p.empty() || Allows(p, SYS_execveat, {0, 0, 0, 0, AT_EMPTY_PATH, 0})) return TrampolineCall::kExecveat;
  if (Allows(p, SYS_execve, {0, 0, 0, 0, 0, 0})) return TrampolineCall::kExecvePath;
  return TrampolineCall::kNone;  // the profile lets no exec through at all
}

std::string TrampolineMode(int pledge_prog_fd, int report_fd) {
  if (pledge_prog_fd < 0) return "-";
  std::string m = "p" + std::to_string(pledge_prog_fd);
  return report_fd < 0 ? m : m + ":" + std::to_string(report_fd);
}

}  // namespace sworn::security
