// Pledge programs checked in userspace with EmulateBpf (Chromium's
// PolicyEmulator approach): no root, no seccomp load.
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <initializer_list>
#include <string>

#include "security/pledge.h"

using namespace sworn::security;

namespace {

constexpr uint32_t kAllow = SECCOMP_RET_ALLOW;
constexpr uint32_t kEperm = SECCOMP_RET_ERRNO | EPERM;
constexpr uint32_t kEnosys = SECCOMP_RET_ERRNO | ENOSYS;
constexpr uint32_t kKill = SECCOMP_RET_KILL_PROCESS;
constexpr pid_t kSelf = 4242;
constexpr uint64_t kCwd = static_cast<uint64_t>(int64_t{AT_FDCWD});  // sign-extended, as the kernel sees it
constexpr std::array<uint64_t, 3> kSecret = {0x1111222233334444, 0x5555666677778888, 0x99990000aaaabbbb};

struct Policy {
  std::vector<sock_filter> insns;
  uint32_t operator()(int nr, std::initializer_list<uint64_t> a = {}, uint32_t arch = AUDIT_ARCH_X86_64) const {
    uint64_t args[6] = {};
    size_t i = 0;
    for (uint64_t v : a) args[i++] = v;
    return EmulateBpf(insns, nr, arch, args);
  }
};

Policy Build(std::string_view promises, Penalty penalty = Penalty::kEperm) {
  auto names = ParsePromises(promises, nullptr);
  REQUIRE(names);
  auto prog = PledgeBuilder{}.Promises(*names).Penalty(penalty).SelfPid(kSelf).TryBuild();
  if (!prog) FAIL(prog.error().Message());
  return Policy{prog->insns};
}

std::string ErrorOf(sworn::Result<BpfProgram> r) { return r ? "" : r.error().Message(); }

}  // namespace

TEST_CASE("pledge: promise strings", "[unit][pledge]") {
  std::vector<std::string> warnings;
  auto p = ParsePromises("  stdio\tRPATH  stdio inet ", &warnings);
  REQUIRE(p);
  CHECK(*p == std::vector<std::string>{"stdio", "rpath", "inet"});
  CHECK(warnings.empty());

  auto empty = ParsePromises("", &warnings);
  REQUIRE(empty);
  CHECK(empty->empty());

  auto bad = ParsePromises("stdio foo", &warnings);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().Message() == "annotations.sworn.pledge.promises: unknown promise \"foo\"");
  CHECK(bad.error().code == sworn::Errc::kInvalidArgument);

  auto thread = ParsePromises("stdio thread", &warnings);
  REQUIRE(thread);
  CHECK(*thread == std::vector<std::string>{"stdio"});
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("\"thread\" is deprecated") != std::string::npos);
  CHECK(PromiseTables().size() == 23);
}

TEST_CASE("pledge: builder remembers the first error and builds once", "[unit][pledge]") {
  PledgeBuilder b;
  b.Promise("stdio").Promise("bogus").Promise("nope");
  CHECK(ErrorOf(b.TryBuild()) == "annotations.sworn.pledge.promises: unknown promise \"bogus\"");
  CHECK(ErrorOf(b.TryBuild()) == "pledge: the builder was already built");
  PledgeBuilder ok;
  REQUIRE(ok.Promise("stdio").TryBuild());
  CHECK(ErrorOf(ok.TryBuild()) == "pledge: the builder was already built");
  CHECK(ErrorOf(PledgeBuilder{}.ExecSecret({1, 0, 2}).TryBuild()) == "pledge: exec secret words must be nonzero");
  CHECK(ErrorOf(PledgeBuilder{}.SelfPid(0).TryBuild()) == "pledge: self pid must be positive");
}

TEST_CASE("pledge: skeleton — arch, ENOSYS, always allowed, penalty", "[unit][pledge]") {
  Policy p = Build("stdio");
  CHECK(p(__NR_getpid, {}, AUDIT_ARCH_I386) == kKill);
  CHECK(p(__NR_getpid, {}, AUDIT_ARCH_AARCH64) == kKill);
  CHECK(p(0x40000000 | __NR_getpid) == kKill);  // x32
  CHECK(p(0x40000000 | 1000) == kKill);
  CHECK(p(-1) == kEperm);  // a tracer skipping the call
  CHECK(NewestKnownSyscall() == __NR_landlock_restrict_self);
  for (int nr : {__NR_clone3, __NR_openat2, __NR_memfd_create, 447 /* memfd_secret */, 452, 462, 1000})
    CHECK(p(nr) == kEnosys);
  CHECK(p(__NR_exit) == kAllow);
  CHECK(p(__NR_arch_prctl) == kAllow);
  CHECK(p(__NR_getpid) == kAllow);
  CHECK(p(__NR_mount) == kEperm);
  CHECK(p(__NR_landlock_restrict_self) == kEperm);  // known, just not promised

  Policy k = Build("stdio", Penalty::kKill);
  CHECK(k(__NR_mount) == kKill);
  CHECK(k(__NR_getxattr) == kKill);
  CHECK(k(__NR_clone3) == kEnosys);  // whatever the penalty
  CHECK(k(999) == kEnosys);
  CHECK(k(__NR_getpid) == kAllow);
}

TEST_CASE("pledge: the empty promise set keeps only exit", "[unit][pledge]") {
  Policy e = Build("");
  CHECK(e(__NR_exit) == kAllow);
  CHECK(e(__NR_exit_group) == kEperm);
  CHECK(e(__NR_write, {1, 0, 0}) == kEperm);
  Policy k = Build("", Penalty::kKill);
  CHECK(k(__NR_exit_group) == kEperm);  // so _exit falls back to exit
  CHECK(k(__NR_write) == kKill);
  CHECK(Build("stdio", Penalty::kKill)(__NR_exit_group) == kAllow);
}

TEST_CASE("pledge: stdio", "[unit][pledge]") {
  Policy p = Build("stdio");
  for (int nr : {__NR_read, __NR_write, __NR_close, __NR_futex, __NR_rseq, __NR_tkill, __NR_wait4, __NR_brk})
    CHECK(p(nr) == kAllow);
  for (int nr : {__NR_open, __NR_socket, __NR_fork, __NR_execve, __NR_execveat, __NR_waitid, __NR_getxattr,
                 __NR_fallocate, __NR_seccomp, __NR_unshare})
    CHECK(p(nr) == kEperm);
  CHECK(p(__NR_fcntl, {3, F_GETFL}) == kAllow);
  CHECK(p(__NR_fcntl, {3, F_DUPFD_CLOEXEC}) == kAllow);
  CHECK(p(__NR_fcntl, {3, F_SETLK}) == kEperm);
  CHECK(p(__NR_fcntl, {3, F_SETPIPE_SZ}) == kEperm);
  CHECK(p(__NR_ioctl, {0, FIONBIO}) == kAllow);
  CHECK(p(__NR_ioctl, {0, TCGETS}) == kEperm);
  CHECK(p(__NR_mmap, {0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS}) == kAllow);
  CHECK(p(__NR_mmap, {0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE}) == kEperm);
  CHECK(p(__NR_mmap, {0, 4096, PROT_READ, MAP_PRIVATE | MAP_LOCKED}) == kEperm);
  CHECK(p(__NR_mprotect, {0, 4096, PROT_READ}) == kAllow);
  CHECK(p(__NR_mprotect, {0, 4096, PROT_READ | PROT_EXEC}) == kEperm);
  CHECK(p(__NR_sendto, {3, 0, 1, 0, 0, 0}) == kAllow);
  CHECK(p(__NR_sendto, {3, 0, 1, 0, 0x7fff00001000, 16}) == kEperm);
  CHECK(p(__NR_sendto, {3, 0, 1, 0, 0x100000000, 16}) == kEperm);  // NULL check covers the high word
  CHECK(p(__NR_prlimit64, {0, RLIMIT_NOFILE, 0, 0x7fff0000}) == kAllow);
  CHECK(p(__NR_prlimit64, {0, RLIMIT_NOFILE, 0x7fff0000, 0}) == kEperm);
  CHECK(p(__NR_prctl, {PR_SET_NAME}) == kAllow);
  CHECK(p(__NR_prctl, {PR_SET_NO_NEW_PRIVS, 1}) == kAllow);
  CHECK(p(__NR_prctl, {PR_SET_DUMPABLE, 1}) == kEperm);
  CHECK(p(__NR_kill, {kSelf, SIGTERM}) == kAllow);
  CHECK(p(__NR_kill, {0xFFFFFFFF00000000ull | kSelf, SIGTERM}) == kAllow);  // low 32 bits only
  CHECK(p(__NR_kill, {kSelf + 1, SIGTERM}) == kEperm);
  CHECK(p(__NR_kill, {0, SIGTERM}) == kEperm);  // process group
  CHECK(p(__NR_tgkill, {kSelf, kSelf + 3, SIGABRT}) == kAllow);
  CHECK(p(__NR_tgkill, {1, 1, SIGKILL}) == kEperm);
  uint64_t thread = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
                    CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
  CHECK(p(__NR_clone, {thread}) == kAllow);
  CHECK(p(__NR_clone, {thread | CLONE_NEWNS}) == kEperm);
  CHECK(p(__NR_clone, {SIGCHLD}) == kEperm);  // fork
  CHECK(p(__NR_clone, {CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD}) == kEperm);
}

TEST_CASE("pledge: rpath wpath cpath dpath", "[unit][pledge]") {
  Policy r = Build("stdio rpath");
  CHECK(r(__NR_openat, {kCwd, 0, O_RDONLY | O_CLOEXEC | O_DIRECTORY}) == kAllow);
  CHECK(r(__NR_open, {0, O_RDONLY}) == kAllow);
  CHECK(r(__NR_openat, {kCwd, 0, O_WRONLY}) == kEperm);
  CHECK(r(__NR_openat, {kCwd, 0, O_RDWR}) == kEperm);
  CHECK(r(__NR_openat, {kCwd, 0, O_RDONLY | O_TRUNC}) == kEperm);
  CHECK(r(__NR_openat, {kCwd, 0, O_RDONLY | O_CREAT, 0644}) == kEperm);
  CHECK(r(__NR_newfstatat) == kAllow);
  CHECK(r(__NR_getdents64) == kAllow);
  CHECK(r(__NR_unlink) == kEperm);
  CHECK(r(__NR_chmod, {0, 0644}) == kEperm);

  Policy w = Build("stdio wpath");
  CHECK(w(__NR_openat, {kCwd, 0, O_WRONLY | O_TRUNC}) == kAllow);
  CHECK(w(__NR_open, {0, O_RDWR}) == kAllow);
  CHECK(w(__NR_openat, {kCwd, 0, O_RDONLY}) == kEperm);
  CHECK(w(__NR_openat, {kCwd, 0, O_RDONLY | O_TRUNC}) == kEperm);  // no promise covers it
  CHECK(w(__NR_openat, {kCwd, 0, O_WRONLY | O_CREAT, 0644}) == kEperm);
  CHECK(w(__NR_chmod, {0, 0644}) == kAllow);
  CHECK(w(__NR_fchmodat, {kCwd, 0, 04755}) == kEperm);
  CHECK(w(__NR_truncate) == kAllow);

  Policy c = Build("stdio cpath");
  CHECK(c(__NR_openat, {kCwd, 0, O_WRONLY | O_CREAT | O_EXCL, 0600}) == kAllow);
  CHECK(c(__NR_open, {0, O_RDWR | O_CREAT, 0644}) == kAllow);
  CHECK(c(__NR_openat, {kCwd, 0, O_RDWR | O_TMPFILE, 0600}) == kAllow);
  CHECK(c(__NR_openat, {kCwd, 0, O_WRONLY | O_CREAT, 04755}) == kEperm);
  CHECK(c(__NR_openat, {kCwd, 0, O_WRONLY}) == kEperm);
  CHECK(c(__NR_creat, {0, 0644}) == kAllow);
  CHECK(c(__NR_creat, {0, 01777}) == kEperm);
  CHECK(c(__NR_unlinkat) == kAllow);
  CHECK(c(__NR_mknod) == kEperm);

  Policy d = Build("stdio dpath");
  CHECK(d(__NR_mknodat) == kAllow);
  CHECK(d(__NR_mkdir) == kEperm);
}

TEST_CASE("pledge: flock fattr chown tmppath", "[unit][pledge]") {
  Policy f = Build("stdio flock");
  CHECK(f(__NR_flock) == kAllow);
  CHECK(f(__NR_fcntl, {3, F_SETLKW}) == kAllow);
  CHECK(f(__NR_fcntl, {3, F_OFD_SETLK}) == kAllow);
  CHECK(f(__NR_fcntl, {3, F_GETFD}) == kAllow);  // stdio's set still applies
  CHECK(f(__NR_fcntl, {3, F_SETOWN}) == kEperm);
  CHECK(Build("stdio")(__NR_flock) == kEperm);

  Policy a = Build("fattr");
  CHECK(a(__NR_utimensat) == kAllow);
  CHECK(a(__NR_fchmod, {3, 0600}) == kAllow);
  CHECK(a(__NR_fchmod, {3, 02755}) == kEperm);
  CHECK(a(__NR_fchown) == kEperm);

  Policy o = Build("chown");
  CHECK(o(__NR_fchownat) == kAllow);
  CHECK(o(__NR_lchown) == kAllow);
  Policy t = Build("tmppath");
  CHECK(t(__NR_unlinkat) == kAllow);
  CHECK(t(__NR_lstat) == kAllow);
  CHECK(t(__NR_stat) == kEperm);
}

TEST_CASE("pledge: inet anet unix dns", "[unit][pledge]") {
  Policy n = Build("stdio inet");
  CHECK(n(__NR_socket, {AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0}) == kAllow);
  CHECK(n(__NR_socket, {AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, IPPROTO_UDP}) == kAllow);
  CHECK(n(__NR_socket, {AF_INET, SOCK_RAW, IPPROTO_ICMP}) == kEperm);
  CHECK(n(__NR_socket, {AF_INET, SOCK_SEQPACKET, 0}) == kEperm);
  CHECK(n(__NR_socket, {AF_INET, SOCK_STREAM, IPPROTO_SCTP}) == kEperm);
  CHECK(n(__NR_socket, {AF_UNIX, SOCK_STREAM, 0}) == kEperm);
  CHECK(n(__NR_socket, {AF_NETLINK, SOCK_RAW, 0}) == kEperm);
  CHECK(n(__NR_connect) == kAllow);
  CHECK(n(__NR_sendto, {3, 0, 1, 0, 0x7fff00001000, 16}) == kAllow);
  CHECK(n(__NR_ioctl, {3, SIOCATMARK}) == kAllow);
  CHECK(n(__NR_ioctl, {3, TIOCGWINSZ}) == kEperm);
  CHECK(n(__NR_setsockopt, {3, SOL_SOCKET, SO_REUSEADDR}) == kAllow);
  CHECK(n(__NR_setsockopt, {3, IPPROTO_TCP, TCP_NODELAY}) == kAllow);
  CHECK(n(__NR_setsockopt, {3, SOL_SOCKET, SO_BINDTODEVICE}) == kEperm);
  CHECK(n(__NR_setsockopt, {3, SOL_RAW, SO_REUSEADDR}) == kEperm);
  CHECK(n(__NR_getsockopt, {3, SOL_SOCKET, SO_ERROR}) == kAllow);
  CHECK(n(__NR_getsockopt, {3, SOL_IP, SO_ERROR}) == kEperm);
  CHECK(n(__NR_recvmsg) == kEperm);  // stdio lacks it too

  Policy a = Build("stdio anet");
  CHECK(a(__NR_socket, {AF_INET6, SOCK_STREAM, IPPROTO_TCP}) == kAllow);
  CHECK(a(__NR_socket, {AF_INET, SOCK_DGRAM, 0}) == kEperm);
  CHECK(a(__NR_connect) == kEperm);
  CHECK(a(__NR_accept4) == kAllow);

  Policy u = Build("stdio unix");
  CHECK(u(__NR_socket, {AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0}) == kAllow);
  CHECK(u(__NR_socket, {AF_UNIX, SOCK_DGRAM, 0}) == kAllow);
  CHECK(u(__NR_socket, {AF_UNIX, SOCK_SEQPACKET, 0}) == kEperm);
  CHECK(u(__NR_socket, {AF_INET, SOCK_STREAM, 0}) == kEperm);
  CHECK(u(__NR_connect) == kAllow);

  Policy d = Build("dns");
  CHECK(d(__NR_socket, {AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0}) == kAllow);
  CHECK(d(__NR_openat, {kCwd, 0, O_RDONLY | O_CLOEXEC}) == kAllow);
  CHECK(d(__NR_open, {0, O_RDONLY}) == kEperm);  // only openat, as in cosmo
  CHECK(d(__NR_recvmsg) == kAllow);
  CHECK(d(__NR_getsockopt, {3, SOL_SOCKET, SO_ERROR}) == kEperm);
}

TEST_CASE("pledge: tty recvfd sendfd", "[unit][pledge]") {
  Policy t = Build("stdio tty");
  CHECK(t(__NR_ioctl, {0, TIOCGWINSZ}) == kAllow);
  CHECK(t(__NR_ioctl, {0, TCGETS}) == kAllow);
  CHECK(t(__NR_ioctl, {0, FIONREAD}) == kAllow);
  CHECK(t(__NR_ioctl, {0, TIOCSTI}) == kEperm);
  CHECK(t(__NR_ioctl, {0, TIOCSCTTY}) == kEperm);
  CHECK(Build("stdio")(__NR_ioctl, {0, TIOCGWINSZ}) == kEperm);
  CHECK(Build("recvfd")(__NR_recvmmsg) == kAllow);
  CHECK(Build("recvfd")(__NR_sendmsg) == kEperm);
  CHECK(Build("sendfd")(__NR_sendmmsg) == kAllow);
}

TEST_CASE("pledge: proc id exec settime unveil vminfo prot_exec", "[unit][pledge]") {
  Policy p = Build("stdio proc");
  CHECK(p(__NR_fork) == kAllow);
  CHECK(p(__NR_clone, {SIGCHLD}) == kAllow);
  CHECK(p(__NR_clone, {CLONE_NEWNS | SIGCHLD}) == kEperm);
  CHECK(p(__NR_clone, {CLONE_PTRACE | SIGCHLD}) == kEperm);
  CHECK(p(__NR_kill, {kSelf + 1, SIGTERM}) == kAllow);
  CHECK(p(__NR_tgkill, {1, 1, SIGTERM}) == kAllow);
  CHECK(p(__NR_setpgid) == kAllow);
  CHECK(p(__NR_prlimit64, {0, RLIMIT_NOFILE, 0x7fff0000}) == kAllow);
  CHECK(p(__NR_setuid) == kEperm);

  Policy i = Build("id");
  CHECK(i(__NR_setresuid) == kAllow);
  CHECK(i(__NR_setgroups) == kAllow);
  CHECK(i(__NR_capset) == kEperm);

  CHECK(Build("exec")(__NR_execveat) == kAllow);
  Policy s = Build("settime");
  CHECK(s(__NR_settimeofday) == kAllow);
  CHECK(s(__NR_clock_settime) == kEperm);  // as in cosmo
  Policy u = Build("unveil");
  CHECK(u(__NR_landlock_create_ruleset) == kAllow);
  CHECK(u(__NR_landlock_restrict_self) == kAllow);
  CHECK(Build("vminfo")(__NR_sched_yield) == kAllow);

  Policy x = Build("stdio prot_exec");
  CHECK(x(__NR_mmap, {0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE}) == kAllow);
  CHECK(x(__NR_mmap, {0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_HUGETLB}) == kEperm);
  CHECK(x(__NR_mmap, {0, 4096, PROT_READ, MAP_PRIVATE | MAP_HUGETLB}) == kAllow);  // stdio's rule allows it
  CHECK(x(__NR_mprotect, {0, 4096, PROT_READ | PROT_EXEC}) == kAllow);
  Policy x_only = Build("prot_exec");
  CHECK(x_only(__NR_mmap, {0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_LOCKED}) == kEperm);
}

TEST_CASE("pledge: execve only with sworn's exec secret", "[unit][pledge]") {
  auto build = [](std::string_view promises) {
    auto names = ParsePromises(promises, nullptr);
    REQUIRE(names);
    auto prog = PledgeBuilder{}.Promises(*names).ExecSecret(kSecret).TryBuild();
    REQUIRE(prog);
    return Policy{prog->insns};
  };
  Policy p = build("stdio rpath");
  CHECK(p(__NR_execve, {1, 2, 3, kSecret[0], kSecret[1], kSecret[2]}) == kAllow);
  CHECK(p(__NR_execve, {1, 2, 3}) == kEperm);
  CHECK(p(__NR_execve, {1, 2, 3, kSecret[0], kSecret[1], kSecret[2] ^ 1}) == kEperm);
  CHECK(p(__NR_execve, {1, 2, 3, kSecret[0], kSecret[1] ^ (1ull << 63), kSecret[2]}) == kEperm);  // high word
  CHECK(p(__NR_execve, {1, 2, 3, kSecret[1], kSecret[0], kSecret[2]}) == kEperm);
  CHECK(p(__NR_execveat, {1, 2, 3, kSecret[0], kSecret[1], kSecret[2]}) == kEperm);
  Policy e = build("stdio exec");
  CHECK(e(__NR_execve, {1, 2, 3}) == kAllow);
  CHECK(e(__NR_execve, {1, 2, 3, 7, 8, 9}) == kAllow);
  CHECK(e(__NR_execveat) == kAllow);
  CHECK(Build("stdio rpath")(__NR_execve, {1, 2, 3, kSecret[0], kSecret[1], kSecret[2]}) == kEperm);
  auto secret = MakeExecSecret();
  REQUIRE(secret);
  CHECK(std::ranges::find(*secret, 0) == secret->end());
}

TEST_CASE("pledge: kill-self pid is patched in the child", "[unit][pledge]") {
  auto prog = PledgeBuilder{}.Promise("stdio").TryBuild();
  REQUIRE(prog);
  Policy before{prog->insns};
  CHECK(before(__NR_kill, {1, SIGTERM}) == kEperm);
  // libseccomp emits the identical args[0] test of kill and tgkill once.
  CHECK(BindSelfPid(prog->insns, 1) >= 1);
  Policy after{prog->insns};
  CHECK(after(__NR_kill, {1, SIGTERM}) == kAllow);
  CHECK(after(__NR_tgkill, {1, 1, SIGABRT}) == kAllow);
  CHECK(after(__NR_kill, {2, SIGTERM}) == kEperm);
  CHECK(BindSelfPid(prog->insns, 7) == 0);  // already bound
}

// Instruction counts (prefix + libseccomp 2.5.4 output). A change here means
// the tables or the compiler changed: update deliberately.
TEST_CASE("pledge: golden instruction counts", "[unit][pledge]") {
  auto count = [](std::string_view promises) { return Build(promises).insns.size(); };
  CHECK(count("") == 21);
  CHECK(count("stdio") == 221);  // 207 + newfstatat/statx AT_EMPTY_PATH (glibc fstat)
  CHECK(count("stdio rpath") == 236);
  CHECK(count("stdio rpath wpath cpath") == 311);
  CHECK(count("stdio inet dns") == 411);
  CHECK(count("stdio rpath exec prot_exec") == 238);
  CHECK(count("stdio rpath wpath cpath dpath flock fattr inet anet unix dns tty recvfd sendfd proc exec id "
              "unveil settime prot_exec vminfo tmppath chown") == 575);
}

// No promise may create a namespace (issue #14, item 8): cosmo masked only
// NEWNS, so clone(THREAD|...|NEWNET) passed under stdio and
// clone(NEWUSER|NEWNET) under proc, while unshare of the same was refused.
TEST_CASE("pledge: clone never creates a namespace", "[unit][pledge]") {
  constexpr uint64_t kThread = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD;
  constexpr uint64_t kNews[] = {CLONE_NEWNS,  CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                                CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET};
  Policy stdio = Build("stdio");
  Policy proc = Build("stdio proc");
  CHECK(stdio(__NR_clone, {kThread | CLONE_SYSVSEM | CLONE_SETTLS}) == kAllow);
  CHECK(proc(__NR_clone, {SIGCHLD}) == kAllow);
  CHECK(proc(__NR_clone, {kThread}) == kAllow);
  for (uint64_t ns : kNews) {
    INFO("flag " << std::hex << ns);
    CHECK(stdio(__NR_clone, {kThread | ns}) == kEperm);
    CHECK(proc(__NR_clone, {SIGCHLD | ns}) == kEperm);
    CHECK(proc(__NR_clone, {kThread | ns}) == kEperm);
  }
  CHECK(proc(__NR_clone, {SIGCHLD | CLONE_NEWUSER | CLONE_NEWNET}) == kEperm);
  for (int nr : {__NR_unshare, __NR_setns}) CHECK(proc(nr, {CLONE_NEWUSER}) == kEperm);
  CHECK(proc(__NR_clone3) == kEnosys);
  // Every promise at once still creates none.
  Policy all = Build("stdio rpath wpath cpath dpath flock fattr inet unix dns tty recvfd sendfd proc exec id "
                     "unveil settime prot_exec vminfo tmppath chown");
  CHECK(all(__NR_clone, {SIGCHLD | CLONE_NEWUSER}) == kEperm);
  CHECK(all(__NR_unshare, {CLONE_NEWUSER}) == kEperm);
}
