#include "linux/rootfs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/sys.h"

namespace sworn::linux_fs {

Result<void> PrepareRootfs(RootfsContext& ctx) {
  // Nothing mounted for the container may propagate back to the host, and
  // pivot_root refuses a shared new root or parent.
  if (mount(nullptr, "/", nullptr, MS_SLAVE | MS_REC, nullptr) < 0) return Fail(SysError("make / rslave"));
  if (mount(ctx.rootfs.c_str(), ctx.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
    return Fail(SysError("bind mount rootfs", ctx.rootfs));
  // The bind is still shared with its source if that was shared; make it private.
  if (mount(nullptr, ctx.rootfs.c_str(), nullptr, MS_PRIVATE, nullptr) < 0)
    return Fail(SysError("make rootfs private", ctx.rootfs));
  ctx.root_fd.reset(open(ctx.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!ctx.root_fd) return Fail(SysError("open", ctx.rootfs));
  return {};
}

Result<void> EnterRootfs(const RootfsContext& ctx, bool no_pivot) {
  if (no_pivot) {
    if (chdir(ctx.rootfs.c_str()) < 0) return Fail(SysError("chdir", ctx.rootfs));
    if (mount(ctx.rootfs.c_str(), "/", nullptr, MS_MOVE, nullptr) < 0) return Fail(SysError("move rootfs to /"));
    if (chroot(".") < 0) return Fail(SysError("chroot", ctx.rootfs));
    if (chdir("/") < 0) return Fail(SysError("chdir", "/"));
    return {};
  }
  UniqueFd old_root(open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!old_root) return Fail(SysError("open", "/"));
  if (fchdir(ctx.root_fd.get()) < 0) return Fail(SysError("chdir", ctx.rootfs));
  // pivot_root(".", ".") stacks the old root on top of the new one; it is
  // then reachable through old_root only, and detached below.
  if (RawPivotRoot(".", ".") < 0) return Fail(SysError("pivot_root", ctx.rootfs));
  if (fchdir(old_root.get()) < 0) return Fail(SysError("fchdir", "old root"));
  // rslave first: an unmount of a shared old root would propagate to the host.
  if (mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) < 0) return Fail(SysError("make old root rslave"));
  if (umount2(".", MNT_DETACH) < 0) return Fail(SysError("umount old root"));
  if (chdir("/") < 0) return Fail(SysError("chdir", "/"));
  return {};
}

namespace {

Result<void> WriteSysctls(const spec::Spec& spec) {
  for (const auto& [key, value] : spec.linux.sysctl) {
    std::string path = "/proc/sys/" + key;
    for (size_t i = 10; i < path.size(); ++i)
      if (path[i] == '.') path[i] = '/';
    SWORN_TRY(WithContext(WriteFile(path, value, O_WRONLY), "linux.sysctl." + key));
  }
  return {};
}

unsigned long StatFlags(const char* path) {
  struct statvfs s;
  if (statvfs(path, &s) < 0) return 0;
  unsigned long f = 0;
  if (s.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (s.f_flag & ST_NODEV) f |= MS_NODEV;
  if (s.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  return f;
}

Result<void> ReadonlyPath(const std::string& path) {
  if (mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0) {
    if (errno == ENOENT) return {};
    return Fail(SysError("linux.readonlyPaths: bind", path));
  }
  unsigned long f = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | StatFlags(path.c_str());
  if (mount(nullptr, path.c_str(), nullptr, f, nullptr) < 0)
    return Fail(SysError("linux.readonlyPaths: remount ro", path));
  return {};
}

Result<void> MaskPath(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) < 0) {
    if (errno == ENOENT) return {};
    return Fail(SysError("linux.maskedPaths: stat", path));
  }
  int r = S_ISDIR(st.st_mode) ? mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY, "size=0k,nr_inodes=1")
                              : mount("/dev/null", path.c_str(), nullptr, MS_BIND, nullptr);
  if (r < 0) return Fail(SysError("linux.maskedPaths: mount over", path));
  return {};
}

}  // namespace

Result<void> FinalizeRootfs(const spec::Spec& spec, bool in_userns) {
  SWORN_TRY(WriteSysctls(spec));
  for (const auto& p : spec.linux.readonly_paths) SWORN_TRY(ReadonlyPath(p));
  for (const auto& p : spec.linux.masked_paths) SWORN_TRY(MaskPath(p));
  if (spec.root_readonly) {
    unsigned long f = MS_BIND | MS_REMOUNT | MS_RDONLY | (in_userns ? StatFlags("/") : 0);
    if (mount(nullptr, "/", nullptr, f, nullptr) < 0) return Fail(SysError("root.readonly: remount / ro"));
  }
  if (spec.linux.rootfs_propagation &&
      mount(nullptr, "/", nullptr, spec.linux.rootfs_propagation, nullptr) < 0)
    return Fail(SysError("linux.rootfsPropagation: mount /"));
  return {};
}

}  // namespace sworn::linux_fs
