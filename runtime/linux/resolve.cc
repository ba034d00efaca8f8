#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <optional>

#include "core/sys.h"
#include "linux/rootfs.h"

namespace sworn::linux_fs {
namespace {

constexpr int kMaxLinks = 40;  // the kernel's own limit on nested symlinks

std::string Parent(const std::string& p) {
  size_t slash = p.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : p.substr(0, slash);
}

// When `path` names a symlink whose target is missing, the in-root path it
// points to. runc creates the target there, and so do we: the link is
// resolved with RESOLVE_IN_ROOT again afterwards, so it cannot lead out.
std::optional<std::string> DanglingTarget(int root_fd, const std::string& path) {
  auto parent = OpenInRoot(root_fd, Parent(path), O_PATH | O_DIRECTORY);
  if (!parent) return std::nullopt;
  char buf[PATH_MAX];
  ssize_t n = readlinkat(parent->get(), path.substr(path.rfind('/') + 1).c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return std::nullopt;
  std::string target(buf, static_cast<size_t>(n));
  return target[0] == '/' ? target : Parent(path) + "/" + target;
}

// The usual case: only the last component is missing (a mount point in an
// existing directory). One open of the parent instead of one per component.
std::optional<UniqueFd> MkdirLeaf(int root_fd, const std::string& rel, mode_t mode) {
  std::string path = rel[0] == '/' ? rel : "/" + rel;
  std::string leaf = path.substr(path.rfind('/') + 1);
  if (path.size() < 2 || leaf.empty() || leaf == "." || leaf == "..") return std::nullopt;
  auto parent = OpenInRoot(root_fd, Parent(path), O_PATH | O_DIRECTORY);
  if (!parent || mkdirat(parent->get(), leaf.c_str(), mode) < 0) return std::nullopt;
  auto fd = OpenInRoot(root_fd, path, O_PATH | O_DIRECTORY);
  if (!fd) return std::nullopt;
  return std::move(*fd);
}

Result<UniqueFd> MkdirAll(int root_fd, const std::string& rel, mode_t mode, int depth) {
  if (!rel.empty()) {
    auto whole = OpenInRoot(root_fd, rel, O_PATH | O_DIRECTORY);
    if (whole) return whole;
    if (whole.error().sys_errno == ENOENT)
      if (auto fd = MkdirLeaf(root_fd, rel, mode)) return std::move(*fd);
  }
  std::string cur;
  UniqueFd fd(dup(root_fd));
  for (const auto& part : Split(rel, '/')) {
    if (part.empty() || part == ".") continue;
    cur += "/" + part;
    auto next = OpenInRoot(root_fd, cur, O_PATH | O_DIRECTORY);
    if (!next && next.error().sys_errno == ENOENT) {
      // mkdirat does not follow a symlink in its last component: a dangling
      // link fails with EEXIST instead of creating anything outside.
      auto parent = OpenInRoot(root_fd, Parent(cur), O_PATH | O_DIRECTORY);
      if (!parent) return Fail(parent.error());
      if (mkdirat(parent->get(), part.c_str(), mode) < 0 && errno != EEXIST) return Fail(SysError("mkdirat", cur));
      next = OpenInRoot(root_fd, cur, O_PATH | O_DIRECTORY);
      if (!next && depth < kMaxLinks)
        if (auto t = DanglingTarget(root_fd, cur)) {
          SWORN_TRY(MkdirAll(root_fd, *t, mode, depth + 1));
          next = OpenInRoot(root_fd, cur, O_PATH | O_DIRECTORY);
        }
    }
    if (!next) return Fail(next.error());
    fd = std::move(*next);
  }
  return fd;
}

Result<UniqueFd> Ensure(int root_fd, const std::string& dest, bool as_file, int depth) {
  auto fd = OpenInRoot(root_fd, dest, O_PATH);
  if (fd) return fd;
  if (fd.error().sys_errno != ENOENT) return Fail(fd.error());
  if (!as_file) return MkdirAll(root_fd, dest, 0755, depth);
  auto pfd = SWORN_TRY(MkdirAll(root_fd, Parent(dest), 0755, depth));
  std::string name = dest.substr(dest.rfind('/') + 1);
  UniqueFd f(openat(pfd.get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!f && errno != EEXIST) return Fail(SysError("create", dest));
  auto again = OpenInRoot(root_fd, dest, O_PATH);
  if (!again && depth < kMaxLinks)
    if (auto t = DanglingTarget(root_fd, dest)) {
      SWORN_TRY(Ensure(root_fd, *t, true, depth + 1));
      return OpenInRoot(root_fd, dest, O_PATH);
    }
  return again;
}

constexpr uint64_t kNoLinks = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

Error NotPlain(const std::string& dest, int err) {
  const char* why = err == ELOOP ? "a symlink is on the way" : err == ENOTDIR ? "it is not a directory" : nullptr;
  if (!why) return SysError(err, "openat2", dest);
  return MakeError(Errc::kInvalidArgument,
                   dest + ": a special filesystem must be mounted on an ordinary directory, but " + why);
}

}  // namespace

Result<UniqueFd> PlainDirInRoot(int root_fd, const std::string& dest) {
  int fd = RawOpenat2(root_fd, dest.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kNoLinks);
  if (fd >= 0) return UniqueFd(fd);
  if (errno != ENOENT) return Fail(NotPlain(dest, errno));
  // mkdirat never follows a symlink in its last component, and the result
  // is reopened refusing symlinks anywhere. Usually only the leaf is missing.
  if (size_t slash = dest.rfind('/'); slash != std::string::npos && slash + 1 < dest.size()) {
    std::string leaf = dest.substr(slash + 1);
    int parent = leaf == "." || leaf == ".."
                     ? -1
                     : RawOpenat2(root_fd, slash ? dest.substr(0, slash).c_str() : "/",
                                  O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kNoLinks);
    if (parent >= 0) {
      UniqueFd p(parent);
      if (mkdirat(p.get(), leaf.c_str(), 0755) < 0 && errno != EEXIST) return Fail(SysError("mkdirat", dest));
      fd = RawOpenat2(root_fd, dest.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kNoLinks);
      if (fd >= 0) return UniqueFd(fd);
      return Fail(NotPlain(dest, errno));
    }
  }
  // Created one component at a time, each step reopened as above.
  std::string cur;
  UniqueFd parent(dup(root_fd));
  if (!parent) return Fail(SysError("dup", dest));
  for (const auto& part : Split(dest, '/')) {
    if (part.empty() || part == ".") continue;
    cur += "/" + part;
    if (part != ".." && mkdirat(parent.get(), part.c_str(), 0755) < 0 && errno != EEXIST)
      return Fail(SysError("mkdirat", cur));
    int next = RawOpenat2(root_fd, cur.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kNoLinks);
    if (next < 0) return Fail(NotPlain(cur == dest ? dest : dest + " (at " + cur + ")", errno));
    parent.reset(next);
  }
  return parent;
}

Result<UniqueFd> MkdirAllInRoot(int root_fd, const std::string& rel, mode_t mode) {
  return MkdirAll(root_fd, rel, mode, 0);
}

Result<UniqueFd> EnsureTarget(int root_fd, const std::string& dest, bool as_file) {
  return Ensure(root_fd, dest, as_file, 0);
}

}  // namespace sworn::linux_fs
