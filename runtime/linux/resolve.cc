#include <fcntl.h>
#include <sys/stat.h>

#include "core/sys.h"
#include "linux/rootfs.h"

namespace sworn::linux_fs {

Result<UniqueFd> MkdirAllInRoot(int root_fd, const std::string& rel, mode_t mode) {
  std::string cur;
  UniqueFd fd(dup(root_fd));
  for (const auto& part : Split(rel, '/')) {
    if (part.empty() || part == ".") continue;
    cur += "/" + part;
    auto next = OpenInRoot(root_fd, cur, O_PATH | O_DIRECTORY);
    if (!next && next.error().sys_errno == ENOENT) {
      // fd names the resolved parent; create the component there. mkdirat
      // does not follow a symlink in the last component, so a dangling
      // link fails with EEXIST instead of creating outside the root.
      auto parent = OpenInRoot(root_fd, cur.substr(0, cur.rfind('/')).empty() ? "/" : cur.substr(0, cur.rfind('/')),
                               O_PATH | O_DIRECTORY);
      if (!parent) return Fail(parent.error());
      if (mkdirat(parent->get(), part.c_str(), mode) < 0 && errno != EEXIST)
        return Fail(SysError("mkdirat", cur));
      next = OpenInRoot(root_fd, cur, O_PATH | O_DIRECTORY);
    }
    if (!next) return Fail(next.error());
    fd = std::move(*next);
  }
  return fd;
}

Result<UniqueFd> EnsureTarget(int root_fd, const std::string& dest, bool as_file) {
  auto fd = OpenInRoot(root_fd, dest, O_PATH);
  if (fd) return fd;
  if (fd.error().sys_errno != ENOENT) return Fail(fd.error());
  size_t slash = dest.rfind('/');
  std::string parent = slash == 0 || slash == std::string::npos ? "/" : dest.substr(0, slash);
  if (!as_file) return MkdirAllInRoot(root_fd, dest);
  auto pfd = SWORN_TRY(MkdirAllInRoot(root_fd, parent));
  std::string name = dest.substr(slash + 1);
  UniqueFd f(openat(pfd.get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!f && errno != EEXIST) return Fail(SysError("create", dest));
  return OpenInRoot(root_fd, dest, O_PATH);
}

}  // namespace sworn::linux_fs
