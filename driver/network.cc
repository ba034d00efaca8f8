#include "driver/network.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "core/fd.h"

namespace sworn::driver {
namespace {

constexpr const char* kNetnsDir = "/var/run/netns";
constexpr long kNsfsMagic = 0x6e736673;

bool IsNetns(const std::string& path) {
  struct statfs s;
  return statfs(path.c_str(), &s) == 0 && s.f_type == kNsfsMagic;
}

// Runs on a thread of its own: unshare(CLONE_NEWNET) moves only the calling
// thread, which ends right after, so the rest of the plugin stays put.
Result<void> BindNewNetns(const std::string& path) {
  Result<void> out;
  std::thread([&] {
    if (unshare(CLONE_NEWNET) < 0) {
      out = Fail(SysError("unshare(CLONE_NEWNET)"));
      return;
    }
    UniqueFd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (s && ioctl(s.get(), SIOCGIFFLAGS, &ifr) == 0) {
      ifr.ifr_flags |= IFF_UP;
      ioctl(s.get(), SIOCSIFFLAGS, &ifr);
    }
    if (mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) < 0)
      out = Fail(SysError("mount", path));
  }).join();
  return out;
}

// Only a plain name directly in /var/run/netns: never "..", never a deeper
// path, so a hostile spec cannot unmount or delete anything else.
bool ValidName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

}  // namespace

Result<std::string> NetnsPathFor(const std::string& alloc_id) {
  if (!ValidName(alloc_id)) return Fail(FieldError("alloc_id", "\"" + alloc_id + "\" is not a valid allocation id"));
  return std::string(kNetnsDir) + "/" + alloc_id;
}

Result<NetnsResult> CreateNetns(const std::string& alloc_id) {
  std::string path = SWORN_TRY(NetnsPathFor(alloc_id));
  if (IsNetns(path)) return NetnsResult{path, false};
  mkdir("/var/run", 0755);
  if (mkdir(kNetnsDir, 0755) < 0 && errno != EEXIST) return Fail(SysError("mkdir", kNetnsDir));
  UniqueFd f(open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (!f) return Fail(SysError("open", path));
  f.reset();
  if (auto r = BindNewNetns(path); !r) {
    unlink(path.c_str());
    return Fail(r.error());
  }
  return NetnsResult{path, true};
}

Result<void> DestroyNetns(const std::string& path) {
  const std::string prefix = std::string(kNetnsDir) + "/";
  if (!path.starts_with(prefix) || !ValidName(path.substr(prefix.size())))
    return Fail(FieldError("isolation_spec.path", path + " is not a network namespace in " + kNetnsDir));
  if (IsNetns(path) && umount2(path.c_str(), MNT_DETACH) < 0) return Fail(SysError("umount", path));
  if (unlink(path.c_str()) < 0 && errno != ENOENT) return Fail(SysError("unlink", path));
  return {};
}

}  // namespace sworn::driver
