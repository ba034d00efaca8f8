// The sealed trampoline (CVE-2019-5736): its memfd cannot be written; with
// argv = {"-", PROG, ARGS...} it execs PROG with ARGS, with {"pN", ...} it
// first loads the pledge filter on fd N and makes the one execve it admits.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "security/dmz.h"
#include "security/pledge_cache.h"
#include "security/sandbox.h"

namespace {

// Runs the trampoline in a child with argv; returns {exit status, stdout}.
std::pair<int, std::string> RunDmz(int dmz_fd, std::vector<const char*> argv, int keep_fd = -1) {
  int out[2];
  REQUIRE(pipe(out) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    if (keep_fd >= 0) fcntl(keep_fd, F_SETFD, 0);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    argv.push_back(nullptr);
    const char* envp[] = {"PATH=/usr/bin:/bin", nullptr};
    syscall(SYS_execveat, dmz_fd, "", argv.data(), envp, AT_EMPTY_PATH);
    _exit(99);
  }
  close(out[1]);
  std::string text;
  char buf[256];
  for (ssize_t n; (n = read(out[0], buf, sizeof(buf))) > 0;) text.append(buf, static_cast<size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), text};
}

}  // namespace

TEST_CASE("the trampoline memfd is sealed against writes", "[unit][dmz]") {
  auto fd = sworn::security::SealedDmz();
  REQUIRE(fd);
  int seals = fcntl(fd->get(), F_GET_SEALS);
  CHECK((seals & F_SEAL_WRITE) != 0);
  CHECK((seals & F_SEAL_SEAL) != 0);
  CHECK(write(fd->get(), "x", 1) < 0);
  CHECK(ftruncate(fd->get(), 0) < 0);
}

TEST_CASE("the trampoline execs argv[1] with the rest as argv", "[unit][dmz]") {
  auto fd = sworn::security::SealedDmz();
  REQUIRE(fd);
  int out[2];
  REQUIRE(pipe(out) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    const char* argv[] = {"-", "/bin/sh", "sh", "-c", "echo $0-$1", "a", "b", nullptr};
    const char* envp[] = {nullptr};
    syscall(SYS_execveat, fd->get(), "", argv, envp, AT_EMPTY_PATH);
    _exit(99);
  }
  close(out[1]);
  char buf[64] = {};
  ssize_t n = read(out[0], buf, sizeof(buf) - 1);
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0) == "a-b\n");
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("the trampoline reports a missing program with 127", "[unit][dmz]") {
  auto fd = sworn::security::SealedDmz();
  REQUIRE(fd);
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    const char* argv[] = {"-", "/no/such/program", "x", nullptr};
    const char* envp[] = {nullptr};
    syscall(SYS_execveat, fd->get(), "", argv, envp, AT_EMPTY_PATH);
    _exit(99);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WEXITSTATUS(status) == 127);
}

TEST_CASE("the trampoline refuses an argv it was not given by the runtime", "[unit][dmz]") {
  // What the kernel passes when it runs the trampoline as the interpreter of
  // a `#!/proc/self/exe` script (CVE-2019-5736): argv[0] is the script line.
  auto fd = sworn::security::SealedDmz();
  REQUIRE(fd);
  CHECK(RunDmz(fd->get(), {"/proc/self/exe", "/bin/evil"}).first == 126);
  CHECK(RunDmz(fd->get(), {"p", "/bin/true"}).first == 126);  // no fd number
  CHECK(RunDmz(fd->get(), {"-"}).first == 126);               // no program
}

TEST_CASE("in pledge mode the trampoline loads the filter and makes its one execve", "[unit][dmz]") {
  using namespace sworn::security;
  auto fd = SealedDmz();
  REQUIRE(fd);
  SandboxSpec spec;
  spec.promises = std::vector<std::string>{"stdio", "proc"};
  spec.report = false;  // no reporter here: the filter applies the penalty itself
  // A dynamic program's first filter: stdio plus rpath prot_exec for ld.so,
  // and the exec-secret rule with the placeholder words the trampoline replaces.
  auto pledge = CompilePledge(spec, true, false, kSecretPlaceholder);
  REQUIRE(pledge);
  auto prog = SealedFilter(pledge->prog);
  REQUIRE(prog);
  std::string mode = TrampolineMode(prog->get());
  // sh starts (its one execve was admitted); the child it forks to run
  // `true` is refused the exec by the filter, so sh reports 126.
  auto [rc, out] = RunDmz(fd->get(), {mode.c_str(), "/bin/sh", "sh", "-c", "/bin/true; echo $?"}, prog->get());
  CHECK(rc == 0);
  CHECK(out == "126\n");
}

TEST_CASE("the trampoline's secret placeholders are the runtime's", "[unit][dmz]") {
  auto fd = sworn::security::SealedDmz();
  REQUIRE(fd);
  std::string blob;
  char buf[4096];
  for (ssize_t n; (n = pread(fd->get(), buf, sizeof(buf), static_cast<off_t>(blob.size()))) > 0;)
    blob.append(buf, static_cast<size_t>(n));
  for (uint64_t w : sworn::security::kSecretPlaceholder)
    CHECK(blob.find(std::string(reinterpret_cast<const char*>(&w), sizeof(w))) != std::string::npos);
}
