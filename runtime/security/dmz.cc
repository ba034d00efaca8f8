#include "security/dmz.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

extern "C" const char sworn_dmz_start[];
extern "C" const char sworn_dmz_end[];
extern "C" const char sworn_repledge_start[];
extern "C" const char sworn_repledge_end[];

namespace sworn::security {

namespace {

Result<UniqueFd> SealedBlob(const char* name, const void* data, size_t size) {
  UniqueFd fd(memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return Fail(SysError("memfd_create", name));
  if (write(fd.get(), data, size) != static_cast<ssize_t>(size)) return Fail(SysError("write", name));
  if (fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
    return Fail(SysError("fcntl F_ADD_SEALS", name));
  // Readers of the inherited description (the repledge preload) start here.
  if (lseek(fd.get(), 0, SEEK_SET) < 0) return Fail(SysError("lseek", name));
  return fd;
}

}  // namespace

Result<UniqueFd> SealedDmz() {
  return SealedBlob("sworn-dmz", sworn_dmz_start, static_cast<size_t>(sworn_dmz_end - sworn_dmz_start));
}

Result<UniqueFd> SealedRepledge() {
  return SealedBlob("sworn-repledge", sworn_repledge_start,
                    static_cast<size_t>(sworn_repledge_end - sworn_repledge_start));
}

Result<UniqueFd> SealedFilter(const BpfProgram& p) {
  return SealedBlob("sworn-pledge", p.insns.data(), p.insns.size() * sizeof(sock_filter));
}

Result<void> InheritRepledge(int so_fd, int prog_fd, std::vector<std::string>& env) {
  for (int fd : {so_fd, prog_fd})
    if (fcntl(fd, F_SETFD, 0) < 0) return Fail(SysError("fcntl F_SETFD", "repledge"));
  std::string preload = "/proc/self/fd/" + std::to_string(so_fd);
  bool merged = false;
  for (auto& e : env)
    if (e.rfind("LD_PRELOAD=", 0) == 0) e = "LD_PRELOAD=" + preload + ":" + e.substr(11), merged = true;
  if (!merged) env.push_back("LD_PRELOAD=" + preload);
  env.push_back("SWORN_PLEDGE_FD=" + std::to_string(prog_fd) + "," + std::to_string(so_fd));
  return {};
}

bool AllowsTrampoline(const BpfProgram& p) {
  if (p.empty()) return true;
  const uint64_t args[6] = {0, 0, 0, 0, AT_EMPTY_PATH, 0};
  uint32_t r = EmulateBpf(p.insns, SYS_execveat, AUDIT_ARCH_X86_64, args);
  return (r & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ALLOW || (r & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_LOG;
}

}  // namespace sworn::security
