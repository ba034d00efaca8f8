#include "security/promises.h"

#include <sys/syscall.h>

#include <algorithm>
#include <array>

#if !defined(__x86_64__)
#error "pledge promise tables use x86-64 syscall numbers"
#endif

namespace sworn::security {
namespace {

// args[arg] (low 32 bits) is one of `v`.
ArgIn In(unsigned arg, std::vector<uint64_t> v) { return ArgIn{arg, kLow32, std::move(v)}; }
// (args[arg] & mask) == value.
ArgIn Bits(unsigned arg, uint64_t mask, uint64_t value) { return ArgIn{arg, mask, {value}}; }

// open(2) flag bits (octal, x86-64 values).
constexpr uint64_t kAccMode = 03, kCreat = 0100, kTrunc = 01000, kDirectory = 0200000, kTmpFile = 020000000;
constexpr uint64_t kSetIdBits = 07000;  // setuid, setgid, sticky
// socket(2) type flags masked off before comparing the type.
constexpr uint64_t kSockTypeMask = kLow32 & ~uint64_t{02000000 | 04000};  // ~(SOCK_CLOEXEC|SOCK_NONBLOCK)
// clone(2) flags.
constexpr uint64_t kCloneThread = 0x00010F00;  // VM|FS|FILES|SIGHAND|THREAD
// No promise creates a namespace, through clone, clone3 (always ENOSYS),
// unshare or setns (in no promise): every CLONE_NEW* bit clone(2) takes is
// refused, beside cosmo's PTRACE and UNTRACED. (CLONE_NEWTIME shares its
// value with CSIGNAL bits in clone(2) and is only honoured by clone3/unshare.)
constexpr uint64_t kCloneNewNs = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 |
                                 0x40000000;  // NEWNS NEWCGROUP NEWUTS NEWIPC NEWUSER NEWPID NEWNET
constexpr uint64_t kCloneNever = kCloneNewNs | 0x2000 | 0x800000;  // + PTRACE UNTRACED

// open/openat with a read-only access mode and neither O_CREAT, O_TRUNC nor
// __O_TMPFILE.
std::vector<ArgRule> OpenRead() {
  constexpr uint64_t m = kAccMode | kCreat | kTrunc | kTmpFile;
  return {{__NR_open, {Bits(1, m, 0)}}, {__NR_openat, {Bits(2, m, 0)}}};
}

// O_WRONLY or O_RDWR without O_CREAT or __O_TMPFILE. O_TRUNC is allowed here
// (and O_RDONLY|O_TRUNC matches no promise, as in cosmo).
std::vector<ArgRule> OpenWrite() {
  constexpr uint64_t m = kAccMode | kCreat | kTmpFile;
  return {{__NR_open, {ArgIn{1, m, {1, 2}}}}, {__NR_openat, {ArgIn{2, m, {1, 2}}}}};
}

// O_CREAT, or O_TMPFILE (__O_TMPFILE|O_DIRECTORY), any access mode, and a
// mode without setuid/setgid/sticky bits.
std::vector<ArgRule> OpenCreate() {
  std::vector<ArgRule> out;
  for (auto [nr, fa] : {std::pair{__NR_open, 1u}, std::pair{__NR_openat, 2u}}) {
    out.push_back({nr, {Bits(fa, kCreat, kCreat), Bits(fa + 1, kSetIdBits, 0)}});
    out.push_back({nr, {Bits(fa, kTmpFile | kDirectory, kTmpFile | kDirectory), Bits(fa + 1, kSetIdBits, 0)}});
  }
  return out;
}

std::vector<ArgRule> ChmodNoBits() {
  return {{__NR_chmod, {Bits(1, kSetIdBits, 0)}},
          {__NR_fchmod, {Bits(1, kSetIdBits, 0)}},
          {__NR_fchmodat, {Bits(2, kSetIdBits, 0)}}};
}

// SOL_IP, SOL_SOCKET, SOL_TCP, SOL_IPV6 and option names, checked
// independently as cosmo does: any listed name passes at any listed level.
ArgRule SetSockOpt() {
  return {__NR_setsockopt,
          {In(1, {0, 1, 6, 41}),
           In(2, {1, 2, 3, 4, 5, 6, 9, 0x0b, 0x0c, 0x0f, 0x13, 0x14, 0x15, 0x17, 0x1a, 0x1e})}};
}

// SOL_SOCKET, SOL_TCP × SO_TYPE, SO_ERROR, SO_REUSEPORT, SO_REUSEADDR,
// SO_KEEPALIVE, SO_RCVTIMEO, SO_SNDTIMEO.
ArgRule GetSockOpt() { return {__NR_getsockopt, {In(1, {1, 6}), In(2, {3, 4, 15, 2, 9, 20, 21})}}; }

// AF_INET/AF_INET6, STREAM or DGRAM, protocol 0/ICMP/TCP/UDP: no raw sockets.
ArgRule SocketInet() {
  return {__NR_socket, {In(0, {2, 10}), ArgIn{1, kSockTypeMask, {1, 2}}, In(2, {0, 1, 6, 17})}};
}

ArgRule SioCatMark() { return {__NR_ioctl, {In(1, {0x8905})}}; }

template <class... Rs>
std::vector<ArgRule> Join(Rs... parts) {
  std::vector<ArgRule> out;
  (out.insert(out.end(), parts.begin(), parts.end()), ...);
  return out;
}

PromiseTable Stdio() {
  PromiseTable t{"stdio", {
      __NR_rt_sigreturn, __NR_restart_syscall, __NR_exit_group, __NR_sched_yield, __NR_sched_getaffinity,
      __NR_sched_setaffinity, __NR_clock_getres, __NR_clock_gettime, __NR_clock_nanosleep, __NR_close_range,
      __NR_close, __NR_write, __NR_writev, __NR_pwrite64, __NR_pwritev, __NR_pwritev2, __NR_read, __NR_readv,
      __NR_pread64, __NR_preadv, __NR_preadv2, __NR_dup, __NR_dup2, __NR_dup3, __NR_fchdir, __NR_fstat,
      __NR_fsync, __NR_fdatasync, __NR_ftruncate, __NR_sysinfo, __NR_getrandom, __NR_getgroups, __NR_getpgid,
      __NR_getpgrp, __NR_getpid, __NR_gettid, __NR_getuid, __NR_getgid, __NR_getsid, __NR_getppid, __NR_geteuid,
      __NR_getegid, __NR_getrlimit, __NR_getresgid, __NR_getresuid, __NR_getitimer, __NR_setitimer,
      __NR_timerfd_create, __NR_timerfd_settime, __NR_timerfd_gettime, __NR_copy_file_range, __NR_gettimeofday,
      __NR_sendfile, __NR_vmsplice, __NR_splice, __NR_tee, __NR_lseek, __NR_brk, __NR_msync, __NR_mlock,
      __NR_mlock2, __NR_munlock, __NR_mremap, __NR_munmap, __NR_mincore, __NR_madvise, __NR_fadvise64,
      __NR_migrate_pages, __NR_sync_file_range, __NR_set_tid_address, __NR_membarrier, __NR_nanosleep, __NR_pipe,
      __NR_pipe2, __NR_poll, __NR_ppoll, __NR_select, __NR_pselect6, __NR_epoll_create, __NR_epoll_create1,
      __NR_epoll_ctl, __NR_epoll_wait, __NR_epoll_pwait, __NR_epoll_pwait2, __NR_recvfrom, __NR_alarm, __NR_pause,
      __NR_shutdown, __NR_eventfd, __NR_eventfd2, __NR_signalfd, __NR_signalfd4, __NR_rt_sigaction,
      __NR_sigaltstack, __NR_rt_sigprocmask, __NR_rt_sigsuspend, __NR_rt_sigpending, __NR_rt_sigtimedwait,
      // tkill is unrestricted in cosmo: a tid cannot be tied to "self" in a
      // static filter, and a main thread's tid is its pid, so this can signal
      // any same-uid process. Landlock's signal scope (ABI 6) closes that.
      __NR_tkill, __NR_socketpair, __NR_getrusage, __NR_times, __NR_umask, __NR_wait4, __NR_uname, __NR_futex,
      __NR_set_robust_list, __NR_get_robust_list, __NR_getcpu, __NR_rseq}, {}};
  t.restricted = {
      {__NR_fcntl, {In(1, {0, 1, 2, 3, 4, 1030})}},  // F_DUPFD..F_SETFL, F_DUPFD_CLOEXEC
      // FIONREAD, FIONBIO, FIOCLEX, FIONCLEX. No TCGETS: isatty() needs `tty`.
      {__NR_ioctl, {In(1, {0x541B, 0x5421, 0x5451, 0x5450})}},
      // No PROT_EXEC; MAP_LOCKED/MAP_NONBLOCK would dodge RLIMIT_MEMLOCK checks.
      {__NR_mmap, {Bits(2, kLow32 & ~uint64_t{3}, 0), Bits(3, 0x2000 | 0x10000, 0)}},
      {__NR_mprotect, {Bits(2, kLow32 & ~uint64_t{3}, 0)}},
      {__NR_sendto, {Bits(4, kAll64, 0)}},      // connected sockets only: dest_addr == NULL
      {__NR_prlimit64, {Bits(2, kAll64, 0)}},   // read limits only: new_limit == NULL
      {__NR_kill, {In(0, {kSelfPidPlaceholder})}},
      {__NR_tgkill, {In(0, {kSelfPidPlaceholder})}},
      // PR_SET_NAME, PR_GET_NAME, PR_GET/SET_SECCOMP, PR_CAPBSET_READ/DROP,
      // PR_SET_NO_NEW_PRIVS: the process can only restrict itself further.
      {__NR_prctl, {In(0, {15, 16, 21, 22, 23, 24, 38})}},
      // Threads only: all of the thread flags, none of NEWNS/PTRACE/UNTRACED.
      {__NR_clone, {Bits(0, kCloneThread | kCloneNever, kCloneThread)}},
      // glibc >= 2.33 implements fstat(fd) as newfstatat(fd, "", AT_EMPTY_PATH)
      // (and stdio's first printf calls it): allow the AT_EMPTY_PATH form.
      // It could stat a path relative to fd too; that reveals metadata only.
      {__NR_newfstatat, {Bits(3, 0x1000, 0x1000)}},
      {__NR_statx, {Bits(2, 0x1000, 0x1000)}},
  };
  return t;
}

std::vector<PromiseTable> FilePromises() {
  return {
      {"rpath",
       {__NR_chdir, __NR_getcwd, __NR_stat, __NR_lstat, __NR_fstat, __NR_newfstatat, __NR_statx, __NR_access,
        __NR_faccessat, __NR_faccessat2, __NR_readlink, __NR_readlinkat, __NR_statfs, __NR_fstatfs,
        __NR_getdents64, __NR_getdents},
       OpenRead()},
      {"wpath",
       {__NR_getcwd, __NR_stat, __NR_fstat, __NR_lstat, __NR_newfstatat, __NR_statx, __NR_access, __NR_faccessat,
        __NR_faccessat2, __NR_readlinkat, __NR_truncate},
       Join(OpenWrite(), ChmodNoBits())},
      {"cpath",
       {__NR_rename, __NR_renameat, __NR_renameat2, __NR_link, __NR_linkat, __NR_symlink, __NR_symlinkat,
        __NR_rmdir, __NR_unlink, __NR_unlinkat, __NR_mkdir, __NR_mkdirat},
       Join(OpenCreate(), std::vector<ArgRule>{{__NR_creat, {Bits(1, kSetIdBits, 0)}}})},
      {"dpath", {__NR_mknod, __NR_mknodat}, {}},
      // F_GETLK, F_SETLK, F_SETLKW and the OFD variants.
      {"flock", {__NR_flock}, {{__NR_fcntl, {In(1, {5, 6, 7, 36, 37, 38})}}}},
      {"fattr", {__NR_utime, __NR_utimes, __NR_futimesat, __NR_utimensat}, ChmodNoBits()},
  };
}

std::vector<PromiseTable> NetPromises() {
  return {
      {"inet",
       {__NR_listen, __NR_bind, __NR_connect, __NR_accept, __NR_accept4, __NR_sendto, __NR_getpeername,
        __NR_getsockname},
       {SocketInet(), SioCatMark(), GetSockOpt(), SetSockOpt()}},
      // cosmo-only: inet without connect, TCP streams only.
      {"anet",
       {__NR_listen, __NR_bind, __NR_accept, __NR_accept4, __NR_sendto, __NR_getpeername, __NR_getsockname},
       {{__NR_socket, {In(0, {2, 10}), ArgIn{1, kSockTypeMask, {1}}, In(2, {0, 1, 6})}}, SioCatMark(),
        GetSockOpt(), SetSockOpt()}},
      // AF_UNIX stream or datagram; SEQPACKET is not allowed.
      {"unix",
       {__NR_listen, __NR_bind, __NR_connect, __NR_sendto, __NR_accept, __NR_accept4, __NR_getpeername,
        __NR_getsockname},
       {{__NR_socket, {In(0, {1}), ArgIn{1, kSockTypeMask, {1, 2}}, In(2, {0})}}, GetSockOpt(), SetSockOpt()}},
      // Enough for the resolver: UDP/TCP to the nameserver and reading
      // /etc/hosts, resolv.conf (openat read-only, as rpath).
      {"dns",
       {__NR_bind, __NR_connect, __NR_sendto, __NR_recvfrom, __NR_newfstatat, __NR_read, __NR_close,
        __NR_recvmsg, __NR_sendmsg},
       {SocketInet(), SetSockOpt(), OpenRead()[1]}},
      // TCGETS..TCSETSF, TIOCGWINSZ, TIOCSWINSZ, TIOCSPGRP, TIOCGPGRP, TCFLSH,
      // TCXONC, TCSBRK, TIOCSBRK.
      {"tty",
       {},
       {{__NR_ioctl,
         {In(1, {0x5401, 0x5402, 0x5403, 0x5404, 0x5413, 0x5414, 0x5410, 0x540F, 0x540B, 0x540A, 0x5409,
                 0x5427})}}}},
      // No SCM_RIGHTS inspection is possible in BPF: any recvmsg/sendmsg.
      {"recvfd", {__NR_recvmsg, __NR_recvmmsg}, {}},
      {"sendfd", {__NR_sendmsg, __NR_sendmmsg}, {}},
  };
}

std::vector<PromiseTable> ProcPromises() {
  return {
      // Unlike cosmo (sheet §1.6), clone may create no namespace here either,
      // as unshare(2) may not.
      {"proc",
       {__NR_fork, __NR_vfork, __NR_kill, __NR_tgkill, __NR_setsid, __NR_setpgid, __NR_prlimit64,
        __NR_setrlimit, __NR_getpriority, __NR_setpriority, __NR_ioprio_get, __NR_ioprio_set,
        __NR_sched_getscheduler, __NR_sched_setscheduler, __NR_sched_get_priority_min,
        __NR_sched_get_priority_max, __NR_sched_getparam, __NR_sched_setparam},
       {{__NR_clone, {Bits(0, kCloneNever, 0)}}}},
      {"exec", {__NR_execve, __NR_execveat}, {}},
      {"id",
       {__NR_setuid, __NR_setreuid, __NR_setresuid, __NR_setgid, __NR_setregid, __NR_setresgid,
        __NR_setgroups, __NR_setfsuid, __NR_setfsgid, __NR_prlimit64, __NR_setrlimit, __NR_getpriority,
        __NR_setpriority},
       {}},
      {"unveil", {__NR_landlock_create_ruleset, __NR_landlock_add_rule, __NR_landlock_restrict_self}, {}},
      // No clock_settime, as in cosmo: `date -s` fails even with settime.
      {"settime", {__NR_settimeofday, __NR_clock_adjtime}, {}},
      // Any prot (ld.so maps code); still no MAP_LOCKED/NONBLOCK/HUGETLB.
      {"prot_exec", {__NR_mprotect}, {{__NR_mmap, {Bits(3, 0x2000 | 0x10000 | 0x40000, 0)}}}},
      // A placeholder in cosmo (pledge.com unveils /proc files for it).
      {"vminfo", {__NR_sched_yield}, {}},
      {"tmppath", {__NR_lstat, __NR_unlink, __NR_unlinkat}, {}},
      {"chown", {__NR_chown, __NR_fchown, __NR_lchown, __NR_fchownat}, {}},
  };
}

// Concatenated in cosmo's order, the order the promise list is documented in.
std::vector<PromiseTable> MakeTables() {
  std::vector<PromiseTable> all{Stdio()};
  for (auto* part : {FilePromises, NetPromises, ProcPromises})
    for (auto& t : part()) all.push_back(std::move(t));
  return all;
}

constexpr int kAlways[] = {__NR_exit, __NR_arch_prctl};
constexpr int kEnosys[] = {__NR_clone3, __NR_openat2, __NR_memfd_create};

}  // namespace

const std::vector<PromiseTable>& PromiseTables() {
  static const std::vector<PromiseTable> tables = MakeTables();
  return tables;
}

const PromiseTable* FindPromise(std::string_view name) {
  for (const auto& t : PromiseTables())
    if (t.name == name) return &t;
  return nullptr;
}

std::span<const int> AlwaysAllowedSyscalls() { return kAlways; }
std::span<const int> EnosysSyscalls() { return kEnosys; }

int NewestKnownSyscall() {
  static const int newest = [] {
    int n = std::ranges::max(kAlways);
    for (const auto& t : PromiseTables()) {
      for (int nr : t.plain) n = std::max(n, nr);
      for (const auto& r : t.restricted) n = std::max(n, r.nr);
    }
    return n;
  }();
  return newest;
}

}  // namespace sworn::security
