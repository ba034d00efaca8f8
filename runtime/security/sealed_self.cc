#include "security/sealed_self.h"

#include <fcntl.h>
#include <linux/memfd.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/fd.h"

extern char** environ;

namespace sworn::security {

namespace {
constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
}

bool RunningSealed() {
  UniqueFd self(open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self) return false;
  int seals = fcntl(self.get(), F_GET_SEALS);
  return seals >= 0 && (seals & kSeals) == kSeals;
}

Error ReexecSealed(char** argv) {
  UniqueFd self(open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self) return SysError("open", "/proc/self/exe");
  struct stat st;
  if (fstat(self.get(), &st) < 0) return SysError("fstat", "/proc/self/exe");
  UniqueFd mem(memfd_create("sworn", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!mem) return SysError("memfd_create");
  for (off_t off = 0; off < st.st_size;) {
    ssize_t n = sendfile(mem.get(), self.get(), &off, static_cast<size_t>(st.st_size - off));
    if (n <= 0) return SysError("sendfile", "/proc/self/exe");
  }
  if (fcntl(mem.get(), F_ADD_SEALS, kSeals) < 0) return SysError("fcntl F_ADD_SEALS");
  self.reset();
  syscall(SYS_execveat, mem.get(), "", argv, environ, AT_EMPTY_PATH);
  return SysError("execveat", "sealed copy of sworn");
}

}  // namespace sworn::security
