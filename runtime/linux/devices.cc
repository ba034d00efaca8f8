// /dev inside the container: runc's default device set plus linux.devices,
// created with mknod, or bind-mounted from the host inside a user namespace
// (where mknod is not allowed).
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/sys.h"
#include "linux/rootfs.h"

namespace sworn::linux_fs {
namespace {

const spec::Device kDefaults[] = {
    {"/dev/null", 'c', 1, 3, 0666, 0, 0},    {"/dev/zero", 'c', 1, 5, 0666, 0, 0},
    {"/dev/full", 'c', 1, 7, 0666, 0, 0},    {"/dev/random", 'c', 1, 8, 0666, 0, 0},
    {"/dev/urandom", 'c', 1, 9, 0666, 0, 0}, {"/dev/tty", 'c', 5, 0, 0666, 0, 0},
};

const char* const kLinks[][2] = {
    {"/proc/self/fd", "/dev/fd"},        {"/proc/self/fd/0", "/dev/stdin"},
    {"/proc/self/fd/1", "/dev/stdout"},  {"/proc/self/fd/2", "/dev/stderr"},
    {"pts/ptmx", "/dev/ptmx"},
};

mode_t TypeBits(char t) {
  switch (t) {
    case 'b': return S_IFBLK;
    case 'p': return S_IFIFO;
    default: return S_IFCHR;
  }
}

Result<void> BindHostDevice(const RootfsContext& ctx, const spec::Device& d) {
  auto target = SWORN_TRY(EnsureTarget(ctx.root_fd.get(), d.path, true));
  if (mount(d.path.c_str(), FdPath(target.get()).c_str(), nullptr, MS_BIND, nullptr) < 0)
    return Fail(SysError("bind device", d.path));
  return {};
}

// The directory fd of the last device made (runc's defaults all share
// /dev), and who owns a node made now.
struct DeviceDir {
  std::string path;
  UniqueFd fd;
  uid_t uid = geteuid();
  gid_t gid = getegid();
};

Result<int> OpenDeviceDir(const RootfsContext& ctx, DeviceDir& cache, const std::string& path) {
  if (cache.fd && cache.path == path) return cache.fd.get();
  auto dir = SWORN_TRY(MkdirAllInRoot(ctx.root_fd.get(), path));
  // mknodat needs a real directory fd, not O_PATH.
  UniqueFd real(openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!real) return Fail(SysError("open", path));
  cache.path = path;
  cache.fd = std::move(real);
  return cache.fd.get();
}

// Under CreateDevices' umask 0: mknod's mode is the spec's fileMode as is.
Result<void> MakeDevice(const RootfsContext& ctx, const spec::Device& d, DeviceDir& cache) {
  if (ctx.in_userns) return BindHostDevice(ctx, d);
  size_t slash = d.path.rfind('/');
  int dir = SWORN_TRY(OpenDeviceDir(ctx, cache, d.path.substr(0, slash)));
  std::string name = d.path.substr(slash + 1);
  mode_t mode = TypeBits(d.type) | d.file_mode.value_or(0666);
  dev_t dev = makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
  // What the rootfs has there is replaced, as in runc.
  if (mknodat(dir, name.c_str(), mode, dev) < 0 &&
      (errno != EEXIST || unlinkat(dir, name.c_str(), 0) < 0 || mknodat(dir, name.c_str(), mode, dev) < 0))
    return Fail(SysError("mknod", d.path));
  uid_t uid = d.uid.value_or(0);
  gid_t gid = d.gid.value_or(0);
  // A new node is the creator's already.
  if ((uid != cache.uid || gid != cache.gid) && fchownat(dir, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
    return Fail(SysError("chown", d.path));
  return {};
}

// umask(0) for as long as devices are made, then the init's own again.
struct ZeroUmask {
  mode_t old = umask(0);
  ~ZeroUmask() { umask(old); }
};

// config-linux.md: a file at a linux.devices path that is not the requested
// device MUST be an error. MakeDevice replaces what is there (as runc does),
// which deleted e.g. the rootfs's /etc/passwd for a device listed there.
Result<void> CheckExisting(const RootfsContext& ctx, const spec::Device& d) {
  auto fd = OpenInRoot(ctx.root_fd.get(), d.path, O_PATH | O_NOFOLLOW);
  if (!fd) return {};  // nothing there yet
  struct stat st;
  if (fstat(fd->get(), &st) < 0) return Fail(SysError("stat", d.path));
  dev_t want = makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
  if ((st.st_mode & S_IFMT) == TypeBits(d.type) && st.st_rdev == want) return {};
  return Fail(MakeError(Errc::kInvalidArgument, "a file that is not this device exists at " + d.path + " in the rootfs"));
}

bool DevIsBindMount(const spec::Spec& s) {
  for (const auto& m : s.mounts)
    if (m.destination == "/dev" && m.bind) return true;
  return false;
}

}  // namespace

Result<void> CreateDevices(RootfsContext& ctx) {
  if (DevIsBindMount(*ctx.spec)) return {};
  ZeroUmask zero;
  DeviceDir cache;
  for (const auto& d : kDefaults) {
    bool overridden = false;
    for (const auto& u : ctx.spec->linux.devices) overridden |= u.path == d.path;
    if (!overridden) SWORN_TRY(MakeDevice(ctx, d, cache));
  }
  for (const auto& d : ctx.spec->linux.devices) {
    SWORN_TRY(WithContext(CheckExisting(ctx, d), "linux.devices " + d.path));
    SWORN_TRY(WithContext(MakeDevice(ctx, d, cache), "linux.devices " + d.path));
  }
  int dev = SWORN_TRY(OpenDeviceDir(ctx, cache, "/dev"));
  for (const auto& l : kLinks) {
    std::string name = std::string(l[1]).substr(5);
    if (symlinkat(l[0], dev, name.c_str()) < 0 && errno != EEXIST) return Fail(SysError("symlink", l[1]));
  }
  struct stat st;
  if (stat("/proc/kcore", &st) == 0) symlinkat("/proc/kcore", dev, "core");
  return {};
}

}  // namespace sworn::linux_fs
