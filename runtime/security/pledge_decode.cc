// DescribeCall: how a denied syscall is printed. These tables say how to
// print arguments (which is a path, which holds open flags), never what a
// promise allows: that comes from promises.cc alone (pledge_explain.cc).
#include <sys/syscall.h>

#include <cstdio>
#include <string_view>
#include <utility>

#include "security/pledge_explain.h"

namespace sworn::security {
namespace {

// One letter per argument, in order:
//   p path string   d dirfd (AT_FDCWD omitted)   o open flags   m mode (octal)
//   f fd / int      x hex                        P mmap prot    M mmap flags
//   F socket family T socket type                I ioctl request
//   c clone flags   a address (NULL)             _ skipped
struct Shape {
  int nr;
  std::string_view args;
};

constexpr Shape kShapes[] = {
    {__NR_open, "pom"}, {__NR_openat, "dpom"}, {__NR_creat, "pm"}, {__NR_stat, "p"}, {__NR_lstat, "p"},
    {__NR_newfstatat, "dp_x"}, {__NR_statx, "dpx"}, {__NR_access, "pf"}, {__NR_faccessat, "dpf"},
    {__NR_faccessat2, "dpfx"}, {__NR_readlink, "p"}, {__NR_readlinkat, "dp"}, {__NR_mkdir, "pm"},
    {__NR_mkdirat, "dpm"}, {__NR_unlink, "p"}, {__NR_unlinkat, "dpx"}, {__NR_rmdir, "p"}, {__NR_rename, "pp"},
    {__NR_renameat, "dpdp"}, {__NR_renameat2, "dpdpx"}, {__NR_link, "pp"}, {__NR_linkat, "dpdpx"},
    {__NR_symlink, "pp"}, {__NR_symlinkat, "pdp"}, {__NR_chmod, "pm"}, {__NR_fchmod, "fm"},
    {__NR_fchmodat, "dpm"}, {__NR_chown, "pff"}, {__NR_lchown, "pff"}, {__NR_fchown, "fff"},
    {__NR_fchownat, "dpffx"}, {__NR_truncate, "pf"}, {__NR_chdir, "p"}, {__NR_chroot, "p"},
    {__NR_execve, "p"}, {__NR_execveat, "dp"}, {__NR_mknod, "pmx"}, {__NR_mknodat, "dpmx"},
    {__NR_utimensat, "dp"}, {__NR_utime, "p"}, {__NR_utimes, "p"}, {__NR_statfs, "p"},
    {__NR_setxattr, "pp"}, {__NR_lsetxattr, "pp"}, {__NR_getxattr, "pp"}, {__NR_lgetxattr, "pp"},
    {__NR_listxattr, "p"}, {__NR_llistxattr, "p"}, {__NR_removexattr, "pp"}, {__NR_lremovexattr, "pp"},
    {__NR_fsetxattr, "fp"}, {__NR_fgetxattr, "fp"}, {__NR_fremovexattr, "fp"}, {__NR_mount, "ppp"},
    {__NR_umount2, "px"}, {__NR_pivot_root, "pp"}, {__NR_inotify_add_watch, "fpx"}, {__NR_mmap, "afPMff"},
    {__NR_mprotect, "afP"}, {__NR_socket, "FTf"}, {__NR_socketpair, "FTf"}, {__NR_ioctl, "fI"},
    {__NR_clone, "c"}, {__NR_fcntl, "ff"}, {__NR_prctl, "ff"}, {__NR_kill, "ff"}, {__NR_tgkill, "fff"},
    {__NR_setsockopt, "fff"}, {__NR_getsockopt, "fff"}, {__NR_fallocate, "ffff"}, {__NR_bind, "f"},
    {__NR_connect, "f"}, {__NR_listen, "ff"}, {__NR_sendmsg, "f_x"}, {__NR_recvmsg, "f_x"},
    {__NR_setuid, "f"}, {__NR_setgid, "f"}, {__NR_unshare, "c"}, {__NR_setns, "fc"},
    // No arguments: what is in their registers is whatever the caller left.
    {__NR_fork, ""}, {__NR_vfork, ""}, {__NR_setsid, ""}, {__NR_sync, ""}, {__NR_pause, ""},
    {__NR_getpgrp, ""}, {__NR_vhangup, ""}, {__NR_munlockall, ""}, {__NR_inotify_init, ""},
};

using Bit = std::pair<uint64_t, const char*>;

constexpr Bit kOpenBits[] = {
    {0100, "O_CREAT"},        {0200, "O_EXCL"},          {0400, "O_NOCTTY"},     {01000, "O_TRUNC"},
    {02000, "O_APPEND"},      {04000, "O_NONBLOCK"},     {010000, "O_DSYNC"},    {0100000, "O_LARGEFILE"},
    {0200000, "O_DIRECTORY"}, {0400000, "O_NOFOLLOW"},   {01000000, "O_NOATIME"}, {02000000, "O_CLOEXEC"},
    {04000000, "__O_SYNC"},   {010000000, "O_PATH"},     {020000000, "__O_TMPFILE"}};
constexpr Bit kProtBits[] = {{1, "PROT_READ"}, {2, "PROT_WRITE"}, {4, "PROT_EXEC"}};
constexpr Bit kMapBits[] = {{1, "MAP_SHARED"},        {2, "MAP_PRIVATE"},     {0x10, "MAP_FIXED"},
                            {0x20, "MAP_ANONYMOUS"},  {0x100, "MAP_GROWSDOWN"}, {0x800, "MAP_DENYWRITE"},
                            {0x2000, "MAP_LOCKED"},   {0x4000, "MAP_NORESERVE"}, {0x8000, "MAP_POPULATE"},
                            {0x10000, "MAP_NONBLOCK"}, {0x20000, "MAP_STACK"},   {0x40000, "MAP_HUGETLB"},
                            {0x100000, "MAP_FIXED_NOREPLACE"}};
constexpr Bit kCloneBits[] = {
    {0x100, "CLONE_VM"},          {0x200, "CLONE_FS"},          {0x400, "CLONE_FILES"},
    {0x800, "CLONE_SIGHAND"},     {0x1000, "CLONE_PIDFD"},      {0x2000, "CLONE_PTRACE"},
    {0x4000, "CLONE_VFORK"},      {0x8000, "CLONE_PARENT"},     {0x10000, "CLONE_THREAD"},
    {0x20000, "CLONE_NEWNS"},     {0x40000, "CLONE_SYSVSEM"},   {0x80000, "CLONE_SETTLS"},
    {0x100000, "CLONE_PARENT_SETTID"}, {0x200000, "CLONE_CHILD_CLEARTID"}, {0x800000, "CLONE_UNTRACED"},
    {0x1000000, "CLONE_CHILD_SETTID"}, {0x2000000, "CLONE_NEWCGROUP"}, {0x4000000, "CLONE_NEWUTS"},
    {0x8000000, "CLONE_NEWIPC"},  {0x10000000, "CLONE_NEWUSER"}, {0x20000000, "CLONE_NEWPID"},
    {0x40000000, "CLONE_NEWNET"}, {0x80000000, "CLONE_IO"}};
constexpr Bit kSockTypeBits[] = {{04000, "SOCK_NONBLOCK"}, {02000000, "SOCK_CLOEXEC"}};
constexpr std::pair<uint64_t, const char*> kIoctls[] = {
    {0x5401, "TCGETS"},     {0x5402, "TCSETS"},     {0x5403, "TCSETSW"},    {0x5404, "TCSETSF"},
    {0x5409, "TCSBRK"},     {0x540A, "TCXONC"},     {0x540B, "TCFLSH"},     {0x540E, "TIOCSCTTY"},
    {0x540F, "TIOCGPGRP"},  {0x5410, "TIOCSPGRP"},  {0x5412, "TIOCSTI"},    {0x5413, "TIOCGWINSZ"},
    {0x5414, "TIOCSWINSZ"}, {0x541B, "FIONREAD"},   {0x5421, "FIONBIO"},    {0x5422, "TIOCNOTTY"},
    {0x5427, "TIOCSBRK"},   {0x5450, "FIONCLEX"},   {0x5451, "FIOCLEX"},    {0x8905, "SIOCATMARK"},
    {0x8912, "SIOCGIFCONF"}, {0x8913, "SIOCGIFFLAGS"}, {0x8933, "SIOCGIFINDEX"}, {0x80045430, "TIOCGPTN"},
    {0x40045431, "TIOCSPTLCK"}};
constexpr std::pair<uint64_t, const char*> kFamilies[] = {{1, "AF_UNIX"}, {2, "AF_INET"}, {10, "AF_INET6"},
                                                          {16, "AF_NETLINK"}, {17, "AF_PACKET"}};
constexpr std::pair<uint64_t, const char*> kSockTypes[] = {{1, "SOCK_STREAM"}, {2, "SOCK_DGRAM"}, {3, "SOCK_RAW"},
                                                           {5, "SOCK_SEQPACKET"}};

std::string Hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof(b), "%#llx", static_cast<unsigned long long>(v));
  return b;
}

std::string Int(uint64_t v) { return std::to_string(static_cast<int32_t>(v)); }

template <size_t N>
std::string Bits(uint64_t v, const Bit (&names)[N], std::string out = {}) {
  for (const auto& [bit, name] : names)
    if ((v & bit) == bit) out += (out.empty() ? "" : "|") + std::string(name), v &= ~bit;
  if (v) out += (out.empty() ? "" : "|") + Hex(v);
  return out.empty() ? "0" : out;
}

template <size_t N>
std::string Named(uint64_t v, const std::pair<uint64_t, const char*> (&names)[N]) {
  for (const auto& [value, name] : names)
    if (value == v) return name;
  return Hex(v);
}

std::string OpenFlags(uint64_t v) {
  v &= 0xFFFFFFFF;
  static constexpr const char* kAcc[] = {"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"};
  std::string out = kAcc[v & 3];
  if (v & ~uint64_t{3}) out = Bits(v & ~uint64_t{3}, kOpenBits, out);
  return out;
}

std::string Quote(const std::optional<std::string>& s) {
  if (!s) return "?";
  std::string out = "\"";
  for (unsigned char c : *s) {
    if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
    else if (c < 0x20 || c >= 0x7f) {
      char b[8];
      std::snprintf(b, sizeof(b), "\\x%02x", c);
      out += b;
    } else out += static_cast<char>(c);
  }
  return out + "\"";
}

std::string One(char kind, uint64_t v, uint64_t flags_hint, const StringReader& read) {
  switch (kind) {
    case 'p': return v ? Quote(read(v)) : "NULL";
    case 'd': return static_cast<int32_t>(v) == -100 ? "" : Int(v);
    case 'o': return OpenFlags(v);
    case 'm': {
      if (!(flags_hint & (0100 | 020000000))) return "";  // no O_CREAT/O_TMPFILE: mode unused
      char b[16];
      std::snprintf(b, sizeof(b), "0%llo", static_cast<unsigned long long>(v & 07777));
      return b;
    }
    case 'f': return Int(v);
    case 'P': return (v & 7) == 0 ? "PROT_NONE" : Bits(v & 0xFFFFFFFF, kProtBits);
    case 'M': return Bits(v & 0xFFFFFFFF, kMapBits);
    case 'F': return Named(v & 0xFFFFFFFF, kFamilies);
    case 'T': return Bits(v & 0xFFFFFFFF & ~uint64_t{0xF}, kSockTypeBits, Named(v & 0xF, kSockTypes));
    case 'I': return Named(v & 0xFFFFFFFF, kIoctls);
    case 'c': return Bits(v & ~uint64_t{0xFF}, kCloneBits) + ((v & 0xFF) ? "|" + Int(v & 0xFF) : "");
    case 'x': return v ? Hex(v) : "0";
    case 'a': return v ? Hex(v) : "NULL";
    default: return "";
  }
}

}  // namespace

std::string DescribeCall(int nr, const uint64_t args[6], const StringReader& read) {
  std::string_view shape = "xxx";
  for (const auto& s : kShapes)
    if (s.nr == nr) shape = s.args;
  // The open flags decide whether a mode is printed.
  uint64_t flags = 0;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] == 'o') flags = args[i];
  if (nr == __NR_mkdir || nr == __NR_mkdirat || nr == __NR_chmod || nr == __NR_fchmod || nr == __NR_fchmodat ||
      nr == __NR_creat || nr == __NR_mknod || nr == __NR_mknodat)
    flags = 0100;
  std::string out = SyscallName(nr) + "(";
  bool first = true;
  for (size_t i = 0; i < shape.size() && i < 6; ++i) {
    std::string a = One(shape[i], args[i], flags, read);
    if (a.empty()) continue;
    out += (first ? "" : ", ") + a;
    first = false;
  }
  return out + ")";
}

}  // namespace sworn::security
