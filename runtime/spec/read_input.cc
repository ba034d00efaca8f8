// Reading untrusted JSON files with a bound: a config.json that is a FIFO
// or a symlink to /dev/zero must fail, not hang or fill memory.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fd.h"
#include "core/json_input.h"
#include "spec/spec.h"

namespace sworn::spec {

Result<std::string> ReadJsonFile(const std::string& path, std::string_view what, bool regular_only) {
  // O_NONBLOCK: opening a FIFO with no writer would block before fstat.
  int flags = O_RDONLY | O_CLOEXEC | (regular_only ? O_NONBLOCK : 0);
  UniqueFd fd(open(path.c_str(), flags));
  if (!fd) return Fail(SysError("open", path));
  struct stat st;
  if (fstat(fd.get(), &st) < 0) return Fail(SysError("fstat", path));
  if (regular_only && !S_ISREG(st.st_mode))
    return Fail(MakeError(Errc::kInvalidArgument, std::string(what) + ": " + path + " is not a regular file"));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(SysError("read", path));
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxJsonBytes)
      return Fail(MakeError(Errc::kInvalidArgument, std::string(what) + ": " + path + " is larger than " +
                                                        std::to_string(kMaxJsonBytes >> 20) + " MiB"));
  }
}

}  // namespace sworn::spec
