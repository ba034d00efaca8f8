#include "linux/rootfs.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "core/sys.h"

namespace sworn::linux_fs {

namespace {

// A root of "/" (the host's own filesystem, in new namespaces): a bind of
// "/" onto itself stacks above the process's root, where lookups of "/"
// never look, so opening "/" afterwards still gives the old root and
// pivot_root fails (EBUSY). Clone the tree, attach the clone on "/" and keep
// the clone's own fd as the root: pivot_root(".", ".") from there works, and
// nothing of the host is hidden meanwhile (bind sources still resolve).
Result<void> StageHostRoot(RootfsContext& ctx) {
  UniqueFd tree(static_cast<int>(
      syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)));
  if (!tree) return Fail(SysError("open_tree", "/"));
  if (syscall(SYS_move_mount, tree.get(), "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return Fail(SysError("move_mount", "/"));
  ctx.root_fd = std::move(tree);
  return {};
}

}  // namespace

Result<void> PrepareRootfs(RootfsContext& ctx) {
  // Nothing mounted for the container may propagate back to the host, and
  // pivot_root refuses a shared new root or parent.
  // Without a mount namespace of its own the container shares the
  // runtime's: "/" keeps its propagation (runc makes the host's "/" rslave
  // here), and everything goes under a private bind of the rootfs, which
  // `delete` detaches.
  if (!ctx.host_mountns && mount(nullptr, "/", nullptr, MS_SLAVE | MS_REC, nullptr) < 0)
    return Fail(SysError("make / rslave"));
  if (ctx.rootfs == "/") {
    if (ctx.host_mountns)
      return Fail(FieldError("root.path", "\"/\" needs a mount namespace (the container's mounts would cover the host's)"));
    return StageHostRoot(ctx);
  }
  if (mount(ctx.rootfs.c_str(), ctx.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
    return Fail(SysError("bind mount rootfs", ctx.rootfs));
  // The bind is still shared with its source if that was shared; make it private.
  unsigned long priv = MS_PRIVATE | (ctx.host_mountns ? MS_REC : 0);
  if (mount(nullptr, ctx.rootfs.c_str(), nullptr, priv, nullptr) < 0)
    return Fail(SysError("make rootfs private", ctx.rootfs));
  ctx.root_fd.reset(open(ctx.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!ctx.root_fd) return Fail(SysError("open", ctx.rootfs));
  return {};
}

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Mount points of whole procfs and sysfs mounts outside the rootfs.
Result<std::vector<std::string>> HostProcAndSys(const std::string& rootfs) {
  auto text = SWORN_TRY(ReadFile("/proc/self/mountinfo"));
  std::vector<std::string> out;
  for (const auto& line : Split(text, '\n')) {
    auto fields = Split(line, ' ');
    size_t dash = 0;
    while (dash < fields.size() && fields[dash] != "-") ++dash;
    if (fields.size() < 5 || dash + 1 >= fields.size()) continue;
    const std::string& type = fields[dash + 1];
    std::string mp = Unescape(fields[4]);
    bool inside = rootfs == "/" || mp == rootfs || StartsWith(mp, rootfs + "/");
    if (fields[3] == "/" && (type == "proc" || type == "sysfs") && !inside) out.push_back(mp);
  }
  return out;
}

// What runc's msMoveRoot does before MS_MOVE: chroot leaves the host's
// /proc and /sys in the mount namespace, and the kernel lets a nested user
// namespace mount a fresh procfs or sysfs when any fully visible one exists
// there (mount_too_revealing looks at every mount of the namespace, not at
// what the root reaches). So they are detached, or covered where an
// unmount is refused.
Result<void> HideHostProcAndSys(const std::string& rootfs) {
  for (const auto& mp : SWORN_TRY(HostProcAndSys(rootfs))) {
    // A parent detached earlier took this one with it.
    if (mount(nullptr, mp.c_str(), nullptr, MS_SLAVE | MS_REC, nullptr) < 0) {
      if (errno == ENOENT || errno == EINVAL) continue;
      return Fail(SysError("--no-pivot: make rslave", mp));
    }
    if (umount2(mp.c_str(), MNT_DETACH) == 0) continue;
    if ((errno != EINVAL && errno != EPERM) || mount("tmpfs", mp.c_str(), "tmpfs", 0, nullptr) < 0)
      return Fail(SysError("--no-pivot: hide the host's", mp));
  }
  return {};
}

}  // namespace

Result<void> EnterRootfs(const RootfsContext& ctx, bool no_pivot) {
  if (ctx.host_mountns) {
    // pivot_root or MS_MOVE would move the runtime's own root: chroot, as
    // runc and crun do without a mount namespace.
    if (fchdir(ctx.root_fd.get()) < 0) return Fail(SysError("chdir", ctx.rootfs));
    if (chroot(".") < 0) return Fail(SysError("chroot", ctx.rootfs));
    if (chdir("/") < 0) return Fail(SysError("chdir", "/"));
    return {};
  }
  if (no_pivot) {
    // mountinfo shows canonical paths: a symlink in root.path must not make
    // the container's own /proc look like the host's.
    char canon[PATH_MAX];
    if (!realpath(ctx.rootfs.c_str(), canon)) return Fail(SysError("realpath", ctx.rootfs));
    SWORN_TRY(HideHostProcAndSys(canon));
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

// Both run after pivot_root, so "/" is the container's root; paths are
// resolved in it through an fd and mounted via /proc/self/fd, so a symlink
// planted in the image cannot redirect a mask or a read-only bind.
Result<UniqueFd> OpenMaskTarget(int root, const std::string& path, const char* field) {
  auto fd = OpenInRoot(root, path, O_PATH);
  if (!fd && fd.error().sys_errno == ENOENT) return UniqueFd();
  if (!fd) return Fail(SysError(std::string(field) + ": open", path));
  return fd;
}

// A read-only copy of what is at path, attached over it. mount_setattr
// keeps every other flag of the mount (the locked ones too, in a user
// namespace), and the copy is attached through the fd: no second lookup.
Result<void> ReadonlyPath(int root, const std::string& path) {
  auto fd = SWORN_TRY(OpenMaskTarget(root, path, "linux.readonlyPaths"));
  if (!fd) return {};
  UniqueFd tree(static_cast<int>(syscall(SYS_open_tree, fd.get(), "",
                                         OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE)));
  if (!tree) return Fail(SysError("linux.readonlyPaths: open_tree", path));
  if (RawMountSetattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0, 0) < 0)
    return Fail(SysError("linux.readonlyPaths: mount_setattr ro", path));
  if (syscall(SYS_move_mount, tree.get(), "", fd.get(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return Fail(SysError("linux.readonlyPaths: move_mount", path));
  return {};
}

// The null device used for masks, checked: an image whose /dev is a bind
// mount could make /dev/null a symlink to a file the mask would then expose
// read-write (runc's masked-path advisories of 2025).
Result<UniqueFd> VerifiedNull() {
  UniqueFd fd(open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Fail(SysError("linux.maskedPaths: open", "/dev/null"));
  struct stat st;
  if (fstat(fd.get(), &st) < 0) return Fail(SysError("fstat", "/dev/null"));
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
    return Fail(MakeError(Errc::kInvalidArgument, "linux.maskedPaths: /dev/null in the container is not the null device"));
  return fd;
}

Result<void> MaskPath(int root, int null_fd, const std::string& path) {
  auto fd = SWORN_TRY(OpenMaskTarget(root, path, "linux.maskedPaths"));
  if (!fd) return {};
  struct stat st;
  if (fstat(fd.get(), &st) < 0) return Fail(SysError("linux.maskedPaths: stat", path));
  std::string target = FdPath(fd.get());
  int r = S_ISDIR(st.st_mode) ? mount("tmpfs", target.c_str(), "tmpfs", MS_RDONLY, "size=0k,nr_inodes=1")
                              : mount(FdPath(null_fd).c_str(), target.c_str(), nullptr, MS_BIND, nullptr);
  if (r < 0) return Fail(SysError("linux.maskedPaths: mount over", path));
  return {};
}

}  // namespace

Result<void> FinalizeRootfs(const spec::Spec& spec, bool in_userns) {
  SWORN_TRY(WriteSysctls(spec));
  UniqueFd root(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Fail(SysError("open", "/"));
  for (const auto& p : spec.linux.readonly_paths) SWORN_TRY(ReadonlyPath(root.get(), p));
  if (!spec.linux.masked_paths.empty()) {
    auto null = SWORN_TRY(VerifiedNull());
    for (const auto& p : spec.linux.masked_paths) SWORN_TRY(MaskPath(root.get(), null.get(), p));
  }
  for (const auto& m : spec.mounts) {
    if (!DevMountReadonly(m)) continue;
    unsigned long f = MS_BIND | MS_REMOUNT | MS_RDONLY | StatFlags("/dev");
    if (mount(nullptr, "/dev", nullptr, f, nullptr) < 0) return Fail(SysError("remount ro", m.destination));
  }
  if (spec.root_readonly) {
    unsigned long f = MS_BIND | MS_REMOUNT | MS_RDONLY | (in_userns ? StatFlags("/") : 0);
    if (mount(nullptr, "/", nullptr, f, nullptr) < 0) return Fail(SysError("root.readonly: remount / ro"));
  }
  if (spec.linux.rootfs_propagation &&
      mount(nullptr, "/", nullptr, spec.linux.rootfs_propagation, nullptr) < 0)
    return Fail(SysError("linux.rootfsPropagation: mount /"));
  return {};
}

namespace {

constexpr unsigned kStatxMntIdUnique = 0x4000;  // STATX_MNT_ID_UNIQUE (6.8)

Result<uint64_t> MountId(const std::string& path) {
  struct statx sx {};
  if (statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, kStatxMntIdUnique | STATX_MNT_ID, &sx) < 0)
    return Fail(SysError("statx", path));
  return sx.stx_mnt_id;
}

}  // namespace

Result<void> RecordHostMounts(const std::string& state_dir, const std::string& rootfs) {
  uint64_t id = SWORN_TRY(MountId(rootfs));
  return WriteFileAtomic(state_dir + "/" + kHostMountsFile, std::to_string(id));
}

Result<void> DetachHostMounts(const std::string& state_dir, const std::string& rootfs) {
  std::string file = state_dir + "/" + kHostMountsFile;
  auto recorded = ReadFile(file);
  if (!recorded) return recorded.error().sys_errno == ENOENT ? Result<void>{} : Fail(recorded.error());
  // Only the bind create made: the rootfs may itself be a mount (an overlay).
  if (auto now = MountId(rootfs); now && std::to_string(*now) == *recorded &&
                                  umount2(rootfs.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
    return Fail(SysError("umount2", rootfs));
  unlink(file.c_str());
  return {};
}

}  // namespace sworn::linux_fs
