// The container's filesystem view, built by the init process inside its new
// mount namespace. Destinations are resolved with openat2(RESOLVE_IN_ROOT)
// against an fd of the rootfs and mounted through /proc/self/fd/N, so a
// symlink or ".." in a destination (or one swapped in by a racing container
// on a shared volume, CVE-2021-30465) can never reach outside the rootfs.
#pragma once

#include <string>

#include "core/error.h"
#include "core/fd.h"
#include "spec/spec.h"

namespace sworn::linux_fs {

struct RootfsContext {
  const spec::Spec* spec;
  std::string rootfs;        // absolute host path of the rootfs
  UniqueFd root_fd;          // O_PATH fd of the rootfs after it was bind-mounted
  std::string root_path;     // where root_fd is (readlink), set by MountAll
  bool in_userns = false;    // no mknod; keep locked mount flags on remount
  bool cgroupns = false;     // mount real cgroup filesystems
  std::vector<std::string> cgroup_dirs;  // the container's cgroups, for bind mounts
  bool host_mountns = false; // no mount namespace: mounts stay under the rootfs bind, chroot
  // per spec mount: a detached tree to attach (id-mapped, or the bind source
  // of a user-namespaced container; linux_idmap::IdMappedTrees), or -1
  std::vector<int> idmap_fds;
};

// Slave propagation on "/", then the rootfs bind-mounted onto itself so it
// is a mount point pivot_root accepts.
Result<void> PrepareRootfs(RootfsContext& ctx);
// All spec mounts, in order.
Result<void> MountAll(RootfsContext& ctx);
// Default devices, linux.devices, /dev symlinks; skipped when /dev is a bind mount.
Result<void> CreateDevices(RootfsContext& ctx);
// A non-bind /dev mount with ro: mounted writable so that the devices,
// /dev/pts, /dev/shm and the symlinks can be made in it, then remounted
// read-only by FinalizeRootfs, as runc does.
bool DevMountReadonly(const spec::Mount& m);
// pivot_root (or chroot with MS_MOVE when no_pivot) and detach the old root.
Result<void> EnterRootfs(const RootfsContext& ctx, bool no_pivot);
// After entering the rootfs: sysctls, readonlyPaths, maskedPaths, a read-only
// root and the final root propagation.
Result<void> FinalizeRootfs(const spec::Spec& spec, bool in_userns);

// Without a mount namespace the container's mounts sit in the runtime's,
// under the rootfs bind: create records that bind's mount id in the state
// dir (HostMountsFile), delete detaches it if it is still the same mount.
constexpr const char* kHostMountsFile = "rootfs.mount";
Result<void> RecordHostMounts(const std::string& state_dir, const std::string& rootfs);
Result<void> DetachHostMounts(const std::string& state_dir, const std::string& rootfs);

// mkdir -p of `rel` inside the root, each component resolved in the root.
Result<UniqueFd> MkdirAllInRoot(int root_fd, const std::string& rel, mode_t mode = 0755);
// The mount point of a special filesystem (proc, sysfs, cgroup, ...): dest
// must be an ordinary directory reached through no symlink at all, else
// the error names it (runc: "must be mounted on ordinary directory"); the
// missing parts are created. CVE-2023-27561 and its kin mounted procfs
// wherever an image's /proc symlink pointed.
Result<UniqueFd> PlainDirInRoot(int root_fd, const std::string& dest);
// Makes sure dest exists inside the root as a dir (or an empty file when
// as_file), and returns an O_PATH fd of it.
Result<UniqueFd> EnsureTarget(int root_fd, const std::string& dest, bool as_file);

}  // namespace sworn::linux_fs
