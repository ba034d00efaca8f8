// The spec's mounts, mounted in order inside the rootfs.
#include <climits>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "core/sys.h"
#include "linux/idmap.h"
#include "linux/rootfs.h"

namespace sworn::linux_fs {
namespace {

constexpr unsigned long kPropagationMask = MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE;

Result<void> DoMount(const std::string& src, int target_fd, const std::string& dest, const char* type,
                     unsigned long flags, const std::string& data) {
  if (mount(src.c_str(), FdPath(target_fd).c_str(), type, flags, data.empty() ? nullptr : data.c_str()) < 0)
    return Fail(SysError("mount " + (src.empty() ? std::string(type ? type : "") : src) + " on", dest));
  return {};
}

// Flags the kernel locks on mounts that came from a more privileged mount
// namespace; a remount inside a user namespace must repeat them.
unsigned long LockedFlags(const std::string& path) {
  struct statvfs s;
  if (statvfs(path.c_str(), &s) < 0) return 0;
  unsigned long f = 0;
  if (s.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (s.f_flag & ST_NODEV) f |= MS_NODEV;
  if (s.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (s.f_flag & ST_RDONLY) f |= MS_RDONLY;
  return f;
}

// Applies what a plain mount(2) of a bind cannot: remount flags, recursive
// attributes and propagation, on the freshly mounted destination.
Result<void> FinishMount(RootfsContext& ctx, const spec::Mount& m, bool remount) {
  unsigned long rest = m.flags & ~(MS_BIND | MS_REC | MS_REMOUNT | kPropagationMask);
  if (!(remount && rest) && !m.attr_set && !m.attr_clr && !m.propagation) return {};
  auto fd = SWORN_TRY(OpenInRoot(ctx.root_fd.get(), m.destination, O_PATH));
  std::string p = FdPath(fd.get());
  unsigned long flags = m.flags & ~(MS_BIND | MS_REC | MS_REMOUNT | kPropagationMask);
  if (remount && flags) {
    if (ctx.in_userns) flags |= LockedFlags(p) & ~MS_RDONLY;
    if (mount(nullptr, p.c_str(), nullptr, MS_REMOUNT | MS_BIND | flags, nullptr) < 0)
      return Fail(SysError("remount", m.destination));
  }
  if (m.attr_set || m.attr_clr) {
    if (RawMountSetattr(fd.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, m.attr_set, m.attr_clr, 0) < 0)
      return Fail(SysError("mount_setattr", m.destination));
  }
  if (m.propagation && mount(nullptr, p.c_str(), nullptr, m.propagation, nullptr) < 0)
    return Fail(SysError("mount propagation", m.destination));
  return {};
}

std::string Readlink(const std::string& link) {
  char buf[PATH_MAX];
  ssize_t n = readlink(link.c_str(), buf, sizeof(buf) - 1);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

// Where fd is, as a path inside the root ("" when it is not under it).
std::string InRootPath(const RootfsContext& ctx, int fd) {
  const std::string& root = ctx.root_path;
  std::string at = Readlink(FdPath(fd));
  if (root.empty() || at.empty()) return "";
  if (root == "/") return at;
  if (at == root) return "/";
  return StartsWith(at, root + "/") ? at.substr(root.size()) : "";
}

bool IsProcRoot(const std::string& source) {
  struct statfs fs;
  struct stat st;
  return statfs(source.c_str(), &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC && stat(source.c_str(), &st) == 0 &&
         st.st_ino == 1;
}

// runc's checkProcMount, on where the target really is: over /proc only a
// procfs (fresh, or a bind of a procfs root), and inside /proc only the
// files lxcfs emulates. Anything else could cover a mask, or hand the
// runtime's later steps (which trust /proc/self) a fake.
Result<void> CheckProcDestination(const RootfsContext& ctx, const spec::Mount& m, int target_fd) {
  static const char* const kLxcfs[] = {"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",
                                       "/proc/swaps",   "/proc/uptime",    "/proc/loadavg", "/proc/slabinfo",
                                       "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"};
  std::string at = InRootPath(ctx, target_fd);
  if (at == "/proc") {
    if (m.bind ? IsProcRoot(m.source) : m.type == "proc") return {};
    return Fail(MakeError(Errc::kInvalidArgument, m.destination + ": only a procfs (a new one, or the root of one "
                                                  "bound) may be mounted over /proc; got " +
                                                  (m.bind ? "a bind of " + m.source : "type " + m.type)));
  }
  if (!StartsWith(at, "/proc/")) return {};
  for (const char* ok : kLxcfs)
    if (m.destination == ok || at == ok) return {};
  return Fail(MakeError(Errc::kInvalidArgument, m.destination + ": cannot be mounted inside /proc (it is at " + at +
                                                "); only files lxcfs emulates may be"));
}

Result<void> CopyTree(int from, int to);

// Copies the directory under a tmpfs mount into it ("tmpcopyup").
Result<void> CopyEntry(int from, int to, const dirent* e) {
  struct stat st;
  if (fstatat(from, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) return Fail(SysError("stat", e->d_name));
  if (S_ISDIR(st.st_mode)) {
    if (mkdirat(to, e->d_name, st.st_mode & 07777) < 0 && errno != EEXIST) return Fail(SysError("mkdir", e->d_name));
    UniqueFd a(openat(from, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    UniqueFd b(openat(to, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!a || !b) return Fail(SysError("open", e->d_name));
    SWORN_TRY(CopyTree(a.get(), b.get()));
  } else if (S_ISLNK(st.st_mode)) {
    char buf[4096];
    ssize_t n = readlinkat(from, e->d_name, buf, sizeof(buf) - 1);
    if (n < 0) return Fail(SysError("readlink", e->d_name));
    buf[n] = 0;
    if (symlinkat(buf, to, e->d_name) < 0) return Fail(SysError("symlink", e->d_name));
  } else if (S_ISREG(st.st_mode)) {
    UniqueFd a(openat(from, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    UniqueFd b(openat(to, e->d_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777));
    if (!a || !b) return Fail(SysError("copy", e->d_name));
    char buf[65536];
    for (ssize_t n; (n = read(a.get(), buf, sizeof(buf))) > 0;)
      if (write(b.get(), buf, n) != n) return Fail(SysError("write", e->d_name));
  } else {
    return {};
  }
  fchownat(to, e->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
  return {};
}

Result<void> CopyTree(int from, int to) {
  UniqueFd dup_fd(dup(from));
  DIR* d = fdopendir(dup_fd.release());
  if (!d) return Fail(SysError("fdopendir"));
  Result<void> r;
  while (dirent* e = readdir(d)) {
    if (std::string_view(e->d_name) == "." || std::string_view(e->d_name) == "..") continue;
    r = CopyEntry(from, to, e);
    if (!r) break;
  }
  closedir(d);
  return r;
}

Result<void> MountBind(RootfsContext& ctx, const spec::Mount& m, int idmap_fd) {
  struct stat st;
  // The tree is open already (the source's path may not be reachable from
  // the container's user namespace).
  int r = idmap_fd >= 0 ? fstat(idmap_fd, &st) : stat(m.source.c_str(), &st);
  if (r < 0) return Fail(SysError("bind mount source: stat", m.source));
  auto target = SWORN_TRY(EnsureTarget(ctx.root_fd.get(), m.destination, !S_ISDIR(st.st_mode)));
  SWORN_TRY(CheckProcDestination(ctx, m, target.get()));
  // The runtime made the tree (linux_idmap::IdMappedTrees): id-mapped, or
  // a source the container's user namespace may not reach.
  if (idmap_fd >= 0)
    SWORN_TRY(linux_idmap::AttachTree(idmap_fd, target.get(), m.destination));
  else
    SWORN_TRY(DoMount(m.source, target.get(), m.destination, nullptr, MS_BIND | (m.flags & MS_REC), ""));
  return FinishMount(ctx, m, true);
}

Result<void> MountTmpfs(RootfsContext& ctx, const spec::Mount& m) {
  auto target = SWORN_TRY(EnsureTarget(ctx.root_fd.get(), m.destination, false));
  SWORN_TRY(CheckProcDestination(ctx, m, target.get()));
  UniqueFd below;
  if (m.tmpcopyup) below.reset(openat(target.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  unsigned long flags = m.flags & ~kPropagationMask;
  // Copy-up needs a writable tmpfs; ro is applied afterwards.
  unsigned long first = m.tmpcopyup ? flags & ~MS_RDONLY : flags;
  SWORN_TRY(DoMount(m.source.empty() ? "tmpfs" : m.source, target.get(), m.destination, "tmpfs", first, m.data));
  if (below) {
    auto mounted = SWORN_TRY(OpenInRoot(ctx.root_fd.get(), m.destination, O_RDONLY | O_DIRECTORY));
    SWORN_TRY(CopyTree(below.get(), mounted.get()));
    if (flags & MS_RDONLY) {
      auto again = SWORN_TRY(OpenInRoot(ctx.root_fd.get(), m.destination, O_PATH));
      if (mount(nullptr, FdPath(again.get()).c_str(), nullptr, MS_REMOUNT | flags, m.data.c_str()) < 0)
        return Fail(SysError("remount", m.destination));
    }
  }
  spec::Mount rest = m;
  rest.flags = 0;
  return FinishMount(ctx, rest, false);
}

// "cgroup" on a v1 or hybrid host: a tmpfs with one directory per
// hierarchy, as runc builds it. With a cgroup namespace each is a real
// cgroup mount rooted at the container's cgroup; without, a bind mount of
// the container's own cgroup directory.
Result<void> MountCgroupV1(RootfsContext& ctx, const spec::Mount& m) {
  SWORN_TRY(PlainDirInRoot(ctx.root_fd.get(), m.destination));
  spec::Mount tmp = m;
  tmp.flags = m.flags & ~MS_RDONLY;
  tmp.data = "mode=755";
  tmp.tmpcopyup = false;
  SWORN_TRY(MountTmpfs(ctx, tmp));
  // The tmpfs is new and only this process sees it: its directories need no
  // in-root resolution.
  auto top = SWORN_TRY(OpenInRoot(ctx.root_fd.get(), m.destination, O_PATH | O_DIRECTORY));
  auto hs = SWORN_TRY(cgroup::Discover());
  for (size_t i = 0; i < hs.size(); ++i) {
    const auto& h = hs[i];
    // runc leaves the hybrid host's cgroup2 out, and the tmpfs writable.
    if (h.v2) continue;
    std::string name = h.controllers;
    if (StartsWith(name, "name=")) name = name.substr(5);
    std::string dest = m.destination + "/" + name;
    if (mkdirat(top.get(), name.c_str(), 0755) < 0 && errno != EEXIST) return Fail(SysError("mkdirat", dest));
    // Named through the tmpfs's fd: a walk from there crosses into what was
    // just mounted, so the remount needs no second open.
    std::string at = FdPath(top.get()) + "/" + name;
    unsigned long flags = m.flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME);
    if (ctx.cgroupns) {
      if (mount("cgroup", at.c_str(), h.v2 ? "cgroup2" : "cgroup", flags, h.v2 ? nullptr : h.controllers.c_str()) < 0)
        return Fail(SysError("mount cgroup on", dest));
    } else if (i < ctx.cgroup_dirs.size()) {
      if (mount(ctx.cgroup_dirs[i].c_str(), at.c_str(), nullptr, MS_BIND, nullptr) < 0)
        return Fail(SysError("mount " + ctx.cgroup_dirs[i] + " on", dest));
      if (mount(nullptr, at.c_str(), nullptr, MS_REMOUNT | MS_BIND | flags, nullptr) < 0)
        return Fail(SysError("remount", dest));
    }
  }
  if (!(m.flags & MS_RDONLY)) return {};
  // The tmpfs was left writable for the directories above; as crun does, a
  // read-only cgroup mount is read-only all the way, or the container could
  // create entries beside its hierarchies.
  std::string p = FdPath(top.get());
  unsigned long f = MS_REMOUNT | MS_BIND | MS_RDONLY | (m.flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC));
  if (ctx.in_userns) f |= LockedFlags(p);
  if (mount(nullptr, p.c_str(), nullptr, f, nullptr) < 0) return Fail(SysError("remount ro", m.destination));
  return {};
}

// Kernel filesystems whose mount point is checked as runc checks proc and
// sysfs: an ordinary directory, reached through no symlink.
bool IsSpecialFs(const std::string& type) {
  static const char* const kTypes[] = {"proc",    "sysfs",   "cgroup",   "cgroup2", "mqueue",     "devpts",
                                       "securityfs", "debugfs", "tracefs", "bpf",     "configfs",   "fusectl",
                                       "pstore",  "binfmt_misc", "efivarfs", "hugetlbfs", "selinuxfs", "nsfs"};
  for (const char* t : kTypes)
    if (type == t) return true;
  return false;
}

bool HostIsUnifiedOnly() { return access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0; }

Result<void> MountOne(RootfsContext& ctx, const spec::Mount& m, int idmap_fd) {
  if (m.bind) return MountBind(ctx, m, idmap_fd);
  if (m.type == "tmpfs") return MountTmpfs(ctx, m);
  if (m.type == "cgroup" && !HostIsUnifiedOnly()) return MountCgroupV1(ctx, m);
  std::string type = m.type == "cgroup" ? "cgroup2" : m.type;
  auto target = IsSpecialFs(type) ? SWORN_TRY(PlainDirInRoot(ctx.root_fd.get(), m.destination))
                                  : SWORN_TRY(EnsureTarget(ctx.root_fd.get(), m.destination, false));
  SWORN_TRY(CheckProcDestination(ctx, m, target.get()));
  std::string src = m.source.empty() ? type : m.source;
  auto r = DoMount(src, target.get(), m.destination, type.c_str(), m.flags & ~kPropagationMask, m.data);
  // sysfs cannot be mounted in a user namespace that does not own the
  // network namespace; fall back to a read-only bind of the host's, as runc does.
  if (!r && type == "sysfs" && r.error().sys_errno == EPERM && ctx.in_userns)
    r = DoMount("/sys", target.get(), m.destination, nullptr, MS_BIND | MS_REC, "");
  if (!r) return r;
  return FinishMount(ctx, m, false);
}

}  // namespace

Result<void> MountAll(RootfsContext& ctx) {
  // Where the rootfs is, for CheckProcDestination; it does not move while
  // the mounts are made.
  ctx.root_path = Readlink(FdPath(ctx.root_fd.get()));
  for (size_t i = 0; i < ctx.spec->mounts.size(); ++i) {
    spec::Mount m = ctx.spec->mounts[i];
    if (DevMountReadonly(m)) m.flags &= ~MS_RDONLY;
    SWORN_TRY(WithContext(MountOne(ctx, m, i < ctx.idmap_fds.size() ? ctx.idmap_fds[i] : -1),
                          "mounts[" + std::to_string(i) + "]"));
  }
  return {};
}

bool DevMountReadonly(const spec::Mount& m) {
  return !m.bind && (m.flags & MS_RDONLY) && (m.destination == "/dev" || m.destination == "/dev/");
}

}  // namespace sworn::linux_fs
