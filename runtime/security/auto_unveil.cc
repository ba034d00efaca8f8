#include "security/auto_unveil.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace sworn::security {
namespace {

struct Auto {
  const char* promise;  // "" for every program
  const char* perms;
  const char* path;
};

constexpr Auto kAuto[] = {
    {"stdio", "r", "/dev/fd"}, {"stdio", "r", "/dev/zero"}, {"stdio", "r", "/dev/urandom"},
    {"stdio", "w", "/dev/log"}, {"stdio", "rw", "/dev/null"}, {"stdio", "rw", "/dev/full"},
    {"stdio", "rw", "/dev/stdin"}, {"stdio", "rw", "/dev/stdout"}, {"stdio", "rw", "/dev/stderr"},
    {"stdio", "rw", "/proc/self/fd"}, {"stdio", "r", "/proc/self/stat"}, {"stdio", "r", "/proc/self/status"},
    {"stdio", "r", "/proc/self/cmdline"}, {"stdio", "r", "/etc/localtime"}, {"stdio", "r", "/usr/share/locale"},
    {"stdio", "r", "/usr/share/zoneinfo"}, {"stdio", "r", "/usr/share/common-licenses"},
    {"stdio", "r", "/proc/sys/kernel/version"}, {"stdio", "r", "/proc/sys/kernel/ngroups_max"},
    {"stdio", "r", "/proc/sys/kernel/cap_last_cap"}, {"stdio", "r", "/proc/sys/vm/overcommit_memory"},
    {"inet", "r", "/etc/ssl/certs/ca-certificates.crt"}, {"rpath", "r", "/proc/filesystems"},
    {"dns", "r", "/etc/hosts"}, {"dns", "r", "/etc/hostname"}, {"dns", "r", "/etc/services"},
    {"dns", "r", "/etc/protocols"}, {"dns", "r", "/etc/resolv.conf"},
    {"tty", "rw", "/dev/tty"}, {"tty", "rw", "/dev/console"}, {"tty", "r", "/usr/share/terminfo"},
    {"tty", "r", "/lib/terminfo"}, {"tty", "r", "/etc/terminfo"},
    {"vminfo", "r", "/proc/stat"}, {"vminfo", "r", "/proc/meminfo"}, {"vminfo", "r", "/proc/cpuinfo"},
    {"vminfo", "r", "/proc/diskstats"}, {"vminfo", "r", "/proc/self/maps"}, {"vminfo", "r", "/sys/devices/system/cpu"},
    {"tmppath", "rwc", "/tmp"},
};

UnveilRule Rule(const char* perms, std::string path) {
  UnveilRule r;
  r.automatic = true;
  r.path = std::move(path);
  std::string p = perms;
  r.r = p.find('r') != std::string::npos;
  r.w = p.find('w') != std::string::npos;
  r.c = p.find('c') != std::string::npos;
  return r;
}

}  // namespace

std::vector<UnveilRule> PromiseUnveils(const std::vector<std::string>& promises) {
  std::vector<UnveilRule> out;
  auto has = [&](const char* p) { return std::find(promises.begin(), promises.end(), p) != promises.end(); };
  for (const auto& a : kAuto) {
    // /dev/stdin and friends may lead to a pipe or socket, which Landlock
    // cannot take a rule on (EBADFD); only filesystem objects are unveiled.
    struct stat st;
    if (!has(a.promise) || stat(a.path, &st) < 0) continue;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
      out.push_back(Rule(a.perms, a.path));
  }
  if (has("tmppath"))
    if (const char* t = getenv("TMPPATH"); t && *t == '/' && access(t, F_OK) == 0) out.push_back(Rule("rwc", t));
  return out;
}

}  // namespace sworn::security
