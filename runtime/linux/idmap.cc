#include "linux/idmap.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/sys.h"

extern char** environ;

namespace sworn::linux_idmap {
namespace {

std::string MapText(const std::vector<spec::IdMap>& maps) {
  std::string text;
  for (const auto& m : maps)
    text += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " + std::to_string(m.size) + "\n";
  return text;
}

// What an unprivileged writer may put in the map itself: one id, its own.
bool SelfMap(const std::vector<spec::IdMap>& maps, unsigned own) {
  return maps.size() == 1 && maps[0].host_id == own && maps[0].size == 1;
}

// newuidmap PID CONTAINER HOST SIZE...; its stderr is sworn's.
Result<void> RunMapTool(const char* tool, pid_t pid, const std::vector<spec::IdMap>& maps, const std::string& field) {
  std::vector<std::string> args{tool, std::to_string(pid)};
  for (const auto& m : maps)
    for (uint32_t v : {m.container_id, m.host_id, m.size}) args.push_back(std::to_string(v));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t child;
  int err = posix_spawnp(&child, tool, nullptr, nullptr, argv.data(), environ);
  if (err != 0) {
    Error e = SysError(err, "posix_spawnp", tool);
    e.context = field + " (unprivileged, a map other than your own id needs " + tool + "): " + e.context;
    return Fail(e);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR) return Fail(SysError("waitpid", tool));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Fail(MakeError(Errc::kInvalidArgument, field + ": " + tool + " " + std::to_string(pid) +
                                                      " failed (are the ids in /etc/sub" +
                                                      (tool[3] == 'u' ? "uid" : "gid") + " for this user?)"));
  return {};
}

Result<void> WriteOne(pid_t pid, const std::vector<spec::IdMap>& maps, bool uid, const std::string& field) {
  if (maps.empty()) return {};
  std::string proc = "/proc/" + std::to_string(pid) + "/";
  if (geteuid() != 0) {
    if (!SelfMap(maps, uid ? geteuid() : getegid())) return RunMapTool(uid ? "newuidmap" : "newgidmap", pid, maps, field);
    if (!uid) SWORN_TRY(WithContext(WriteFile(proc + "setgroups", "deny", O_WRONLY), field));
  }
  return WithContext(WriteFile(proc + (uid ? "uid_map" : "gid_map"), MapText(maps), O_WRONLY), field);
}

}  // namespace

Result<void> WriteIdMaps(pid_t pid, const std::vector<spec::IdMap>& uids, const std::vector<spec::IdMap>& gids) {
  SWORN_TRY(WriteOne(pid, uids, true, "linux.uidMappings"));
  return WriteOne(pid, gids, false, "linux.gidMappings");
}

Result<UniqueFd> MakeUserNs(const std::vector<spec::IdMap>& uids, const std::vector<spec::IdMap>& gids,
                            const std::string& field) {
  // The child only has to exist in its namespace until the fd is open; it
  // waits for its parent's death signal or the SIGKILL below.
  pid_t pid = static_cast<pid_t>(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
  if (pid < 0) {
    Error e = SysError("clone", "CLONE_NEWUSER");
    e.context = field + ": " + e.context;
    return Fail(e);
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;) pause();
  }
  auto reap = [pid] {
    kill(pid, SIGKILL);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  auto r = WithContext(WriteOne(pid, uids, true, "uid_map"), field);
  if (r) r = WithContext(WriteOne(pid, gids, false, "gid_map"), field);
  if (!r) {
    reap();
    return Fail(r.error());
  }
  std::string ns = "/proc/" + std::to_string(pid) + "/ns/user";
  UniqueFd fd(open(ns.c_str(), O_RDONLY | O_CLOEXEC));
  int err = errno;
  reap();
  if (!fd) return Fail(SysError(err, "open", ns));
  return fd;
}

namespace {

constexpr unsigned kOpenTreeClone = 1;            // OPEN_TREE_CLONE
constexpr unsigned kMoveMountFEmptyPath = 0x4;    // MOVE_MOUNT_F_EMPTY_PATH
constexpr unsigned kMoveMountTEmptyPath = 0x40;   // MOVE_MOUNT_T_EMPTY_PATH
constexpr uint64_t kMountAttrIdmap = 0x00100000;  // MOUNT_ATTR_IDMAP

Error MountError(const std::string& field, const spec::Mount& m, Error e) {
  e.context = field + " (" + m.destination + "): id-mapped mount of " + m.source + ": " + e.context;
  return e;
}

}  // namespace

Result<UniqueFd> IdMappedTree(const spec::Mount& m, const std::string& field) {
  if (geteuid() != 0)
    return Fail(MountError(field, m, MakeError(Errc::kUnsupported, "not supported for rootless containers (as in runc): "
                                                                  "MOUNT_ATTR_IDMAP needs CAP_SYS_ADMIN over the "
                                                                  "source's filesystem")));
  unsigned flags = kOpenTreeClone | O_CLOEXEC | ((m.flags & MS_REC) ? AT_RECURSIVE : 0);
  UniqueFd tree(static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, m.source.c_str(), flags)));
  if (!tree) return Fail(MountError(field, m, SysError("open_tree", m.source)));
  auto userns = SWORN_TRY(MakeUserNs(m.uid_mappings, m.gid_mappings, field + " (" + m.destination + ")"));
  struct {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
  } attr = {kMountAttrIdmap, 0, 0, static_cast<uint64_t>(userns.get())};
  unsigned at = AT_EMPTY_PATH | (m.idmap_recursive ? AT_RECURSIVE : 0);
  if (syscall(SYS_mount_setattr, tree.get(), "", at, &attr, sizeof(attr)) < 0) {
    Error e = SysError("mount_setattr MOUNT_ATTR_IDMAP", m.source);
    if (e.sys_errno == EINVAL)
      e.context += " (the filesystem does not support id-mapped mounts on this kernel, or the source is "
                   "id-mapped already)";
    return Fail(MountError(field, m, e));
  }
  return tree;
}

namespace {

std::string MountinfoUnescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Whether a mount sits strictly below dir (the mountinfo mount points).
bool HasSubmounts(const std::string& dir) {
  auto info = ReadFile("/proc/self/mountinfo");
  if (!info) return true;
  std::string prefix = dir == "/" ? "/" : dir + "/";
  for (size_t at = 0; at < info->size();) {
    size_t nl = info->find('\n', at);
    std::string_view line(info->data() + at, (nl == std::string::npos ? info->size() : nl) - at);
    at = nl == std::string::npos ? info->size() : nl + 1;
    size_t f = 0;
    for (int field = 0; field < 4 && f != std::string_view::npos; ++field) f = line.find(' ', f + 1);
    if (f == std::string_view::npos) continue;
    size_t end = line.find(' ', f + 1);
    std::string point = MountinfoUnescape(line.substr(f + 1, end - f - 1));
    if (point.size() > prefix.size() && point.starts_with(prefix)) return true;
  }
  return false;
}

// Whether a detached copy holds what the kernel would have locked had a
// user-namespaced init's mount namespace inherited the mounts: ro, nosuid,
// nodev, noexec (the container's root could remount a read-only host mount
// read-write), and (recursive) submounts (MNT_LOCKED: it could unmount one
// and see what it covers). A tree attached from outside is not locked.
bool CarriesLockableFlags(int tree, const spec::Mount& m) {
  struct statvfs vfs;
  if (fstatvfs(tree, &vfs) < 0 || (vfs.f_flag & (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC))) return true;
  char real[PATH_MAX];
  return (m.flags & MS_REC) && (!realpath(m.source.c_str(), real) || HasSubmounts(real));
}

// A plain detached copy of a bind source, for the init of a user-namespaced
// container, which may not reach the source's path; not when it carries
// lockable flags. Then (or when the runtime may not clone, rootless) the
// init binds the path itself, as before.
UniqueFd BindSourceTree(const spec::Mount& m) {
  bool rec = (m.flags & MS_REC) != 0;
  UniqueFd tree(static_cast<int>(
      syscall(SYS_open_tree, AT_FDCWD, m.source.c_str(), kOpenTreeClone | O_CLOEXEC | (rec ? AT_RECURSIVE : 0))));
  if (!tree || CarriesLockableFlags(tree.get(), m)) return {};
  return tree;
}

}  // namespace

Result<std::vector<UniqueFd>> IdMappedTrees(const spec::Spec& spec) {
  std::vector<UniqueFd> out(spec.mounts.size());
  // In a user namespace the init is root of that namespace only: a source
  // under a directory only the host's root may enter (0700) is out of its
  // reach. runc 1.2 (goCreateMountSources) clones such sources in the
  // runtime; so do we. Best effort: where the clone fails (a rootless
  // runtime lacks CAP_SYS_ADMIN for it) the init binds the path itself and
  // reports what it finds there.
  bool userns = spec.linux.Find(spec::NsType::kUser) != nullptr;
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const auto& m = spec.mounts[i];
    std::string field = "mounts[" + std::to_string(i) + "]";
    if (m.idmap) {
      out[i] = SWORN_TRY(IdMappedTree(m, field));
      if (userns && CarriesLockableFlags(out[i].get(), m))
        return Fail(MountError(field, m, MakeError(Errc::kInvalidArgument,
                                                   "the source is on a read-only, nosuid, nodev or noexec mount of "
                                                   "the host, or (rbind) has mounts below it, which the container's "
                                                   "root could lift on an id-mapped copy in its user namespace")));
    }
    else if (userns && m.bind)
      out[i] = BindSourceTree(m);
  }
  return out;
}

Result<void> AttachTree(int tree_fd, int target_fd, const std::string& dest) {
  if (syscall(SYS_move_mount, tree_fd, "", target_fd, "", kMoveMountFEmptyPath | kMoveMountTEmptyPath) < 0)
    return Fail(SysError("move_mount", dest));
  return {};
}

Result<void> JoinUserNs(pid_t pid) {
  std::string ns = "/proc/" + std::to_string(pid) + "/ns/user";
  UniqueFd fd(open(ns.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Fail(SysError("open", ns));
  if (setns(fd.get(), CLONE_NEWUSER) < 0) return Fail(SysError("setns", ns));
  return {};
}

}  // namespace sworn::linux_idmap
