#include "security/dmz.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

extern "C" const char sworn_dmz_start[];
extern "C" const char sworn_dmz_end[];

namespace sworn::security {

Result<UniqueFd> SealedDmz() {
  UniqueFd fd(memfd_create("sworn-dmz", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return Fail(SysError("memfd_create", "sworn-dmz"));
  size_t size = static_cast<size_t>(sworn_dmz_end - sworn_dmz_start);
  if (write(fd.get(), sworn_dmz_start, size) != static_cast<ssize_t>(size)) return Fail(SysError("write", "sworn-dmz"));
  if (fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
    return Fail(SysError("fcntl F_ADD_SEALS", "sworn-dmz"));
  return fd;
}

bool AllowsTrampoline(const BpfProgram& p) {
  if (p.empty()) return true;
  const uint64_t args[6] = {0, 0, 0, 0, AT_EMPTY_PATH, 0};
  uint32_t r = EmulateBpf(p.insns, SYS_execveat, AUDIT_ARCH_X86_64, args);
  return (r & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ALLOW || (r & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_LOG;
}

}  // namespace sworn::security
