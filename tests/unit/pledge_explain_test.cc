// The denial reporter's reasoning (security/pledge_explain.h) against the
// compiled filters: a promise "allows" a call in the explanation exactly when
// the filter compiled from that promise alone lets it through.
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

#include <catch2/catch.hpp>

#include "security/pledge.h"
#include "security/pledge_explain.h"
#include "security/promises.h"

using namespace sworn::security;

namespace {

struct Call {
  int nr;
  uint64_t args[6];
};

// Calls whose decisive arguments the tables look at, and some in no promise.
const Call kCalls[] = {
    {__NR_openat, {uint64_t(AT_FDCWD), 0x1000, O_RDONLY}},
    {__NR_openat, {uint64_t(AT_FDCWD), 0x1000, O_WRONLY}},
    {__NR_openat, {uint64_t(AT_FDCWD), 0x1000, O_WRONLY | O_CREAT | O_TRUNC, 0644}},
    {__NR_openat, {uint64_t(AT_FDCWD), 0x1000, O_WRONLY | O_CREAT, 04755}},
    {__NR_openat, {uint64_t(AT_FDCWD), 0x1000, O_RDONLY | O_TRUNC}},
    {__NR_ioctl, {1, 0x5401}},
    {__NR_ioctl, {1, 0x5421}},
    {__NR_mmap, {0, 4096, 5, 2, 3, 0}},
    {__NR_mmap, {0, 4096, 3, 0x22, uint64_t(-1), 0}},
    {__NR_mprotect, {0x1000, 4096, 5}},
    {__NR_socket, {2, 1, 0}},
    {__NR_socket, {1, 1, 0}},
    {__NR_socket, {1, 5, 0}},
    {__NR_socket, {17, 3, 0}},
    {__NR_clone, {0x01200011}},
    {__NR_clone, {0x10000000 | 17}},
    {__NR_clone, {0x003D0F00}},
    {__NR_fallocate, {3, 0, 0, 4096}},
    {__NR_setxattr, {0x1000, 0x2000}},
    {__NR_execve, {0x1000}},
    {__NR_sendmsg, {3, 0x1000, 0}},
    {__NR_fcntl, {3, 6}},
    {__NR_fchmodat, {uint64_t(AT_FDCWD), 0x1000, 04755}},
    {__NR_prctl, {4, 0}},
};

uint32_t Action(const BpfProgram& p, const Call& c) {
  return EmulateBpf(p.insns, c.nr, AUDIT_ARCH_X86_64, c.args) & SECCOMP_RET_ACTION_FULL;
}

}  // namespace

TEST_CASE("the explanation agrees with each promise's compiled filter", "[unit][pledge]") {
  for (const auto& t : PromiseTables()) {
    auto prog = PledgeBuilder{}.Promise(t.name).Penalty(Penalty::kEperm).TryBuild();
    REQUIRE(prog);
    for (const auto& c : kCalls) {
      bool filter = Action(*prog, c) == SECCOMP_RET_ALLOW;
      INFO(std::string(t.name) << " " << SyscallName(c.nr) << " " << c.args[0] << " " << c.args[1] << " "
                               << c.args[2]);
      CHECK(PromiseAllows(t.name, c.nr, c.args, 0) == filter);
    }
  }
}

TEST_CASE("denials name the promise that fixes them, or why none does", "[unit][pledge]") {
  auto fix = [](const Call& c) { return DescribeFix(c.nr, c.args, ExplainSyscall(c.nr, c.args, 0)); };
  CHECK(fix(kCalls[2]) == "needs cpath");
  CHECK(fix(kCalls[1]) == "needs wpath");
  CHECK(fix(kCalls[5]) == "needs tty");
  CHECK(fix(kCalls[7]).starts_with("needs prot_exec (executable memory"));
  CHECK(fix(kCalls[17]) == "no promise allows it: fallocate is in no promise");
  CHECK(fix(kCalls[15]).starts_with("no promise allows it: no promise allows these arguments (stdio, proc allow"));
  CHECK(fix(kCalls[4]).starts_with("no promise allows it: no promise allows these arguments"));
  Call clone3{__NR_clone3, {}};
  CHECK(ExplainSyscall(clone3.nr, clone3.args, 0).reason.find("ENOSYS") != std::string::npos);
  // kill(self) is stdio's only with the caller's own pid.
  Call kill_self{__NR_kill, {42, 10}};
  CHECK(ExplainSyscall(kill_self.nr, kill_self.args, 42).promises == std::vector<std::string>{"stdio", "proc"});
  CHECK(ExplainSyscall(kill_self.nr, kill_self.args, 7).promises == std::vector<std::string>{"proc"});
}

TEST_CASE("denied calls are printed with their decisive arguments", "[unit][pledge]") {
  StringReader read = [](uint64_t addr) -> std::optional<std::string> {
    if (addr == 0x1000) return std::string("/local/f");
    return std::nullopt;
  };
  CHECK(DescribeCall(kCalls[2].nr, kCalls[2].args, read) == "openat(\"/local/f\", O_WRONLY|O_CREAT|O_TRUNC, 0644)");
  CHECK(DescribeCall(kCalls[5].nr, kCalls[5].args, read) == "ioctl(1, TCGETS)");
  CHECK(DescribeCall(kCalls[7].nr, kCalls[7].args, read) ==
        "mmap(NULL, 4096, PROT_READ|PROT_EXEC, MAP_PRIVATE, 3, 0)");
  CHECK(DescribeCall(kCalls[13].nr, kCalls[13].args, read) == "socket(AF_PACKET, SOCK_RAW, 0)");
  CHECK(DescribeCall(kCalls[15].nr, kCalls[15].args, read) == "clone(CLONE_NEWUSER|17)");
  Call vfork{__NR_vfork, {0x559c88e705aa, 0x7ffd41e36f80}};  // dash's registers at its vfork
  CHECK(DescribeCall(vfork.nr, vfork.args, read) == "vfork()");
  Call unreadable{__NR_openat, {3, 0x2000, O_RDONLY}};
  CHECK(DescribeCall(unreadable.nr, unreadable.args, read) == "openat(3, ?, O_RDONLY)");
  CHECK(FormatDenial(kCalls[2].nr, kCalls[2].args, read, "sh", 12, ExplainSyscall(kCalls[2].nr, kCalls[2].args, 0)) ==
        "pledge: denied openat(\"/local/f\", O_WRONLY|O_CREAT|O_TRUNC, 0644) in sh[12]: needs cpath");
}

TEST_CASE("with reports, denied calls go to the listener and allowed ones are untouched", "[unit][pledge]") {
  const std::array<uint64_t, 3> k = {11, 22, 33};
  auto prog = PledgeBuilder{}.Promises(std::vector<std::string>{"stdio"}).Penalty(Penalty::kKill)
                  .ExecSecret(k).Report(true).TryBuild();
  REQUIRE(prog);
  CHECK(Action(*prog, kCalls[1]) == SECCOMP_RET_USER_NOTIF);
  CHECK(Action(*prog, Call{__NR_getpid, {}}) == SECCOMP_RET_ALLOW);
  CHECK(Action(*prog, Call{__NR_clone3, {}}) == SECCOMP_RET_ERRNO);  // ENOSYS stubs stay
  // sworn-dmz's handover: sendmsg with the secret words, and only with them.
  CHECK(Action(*prog, Call{__NR_sendmsg, {3, 0x1000, 0x4000, 11, 22, 33}}) == SECCOMP_RET_ALLOW);
  CHECK(Action(*prog, Call{__NR_sendmsg, {3, 0x1000, 0x4000, 11, 22, 0}}) == SECCOMP_RET_USER_NOTIF);
  CHECK(Action(*prog, Call{__NR_execve, {0x1000, 0, 0, 11, 22, 33}}) == SECCOMP_RET_ALLOW);
  // Without reports nothing else changes: the penalty, no sendmsg rule.
  auto silent = PledgeBuilder{}.Promises(std::vector<std::string>{"stdio"}).Penalty(Penalty::kKill)
                    .ExecSecret(k).TryBuild();
  REQUIRE(silent);
  CHECK(Action(*silent, kCalls[1]) == SECCOMP_RET_KILL_PROCESS);
  CHECK(Action(*silent, Call{__NR_sendmsg, {3, 0x1000, 0x4000, 11, 22, 33}}) == SECCOMP_RET_KILL_PROCESS);
}
