// The sealed trampoline (CVE-2019-5736): its memfd cannot be written, and
// it execs argv[0] with argv[1..] as the new program's arguments.
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "security/dmz.h"

TEST_CASE("the trampoline memfd is sealed against writes", "[unit][dmz]") {
  auto fd = sworn::security::SealedDmz();
  REQUIRE(fd);
  int seals = fcntl(fd->get(), F_GET_SEALS);
  CHECK((seals & F_SEAL_WRITE) != 0);
  CHECK((seals & F_SEAL_SEAL) != 0);
  CHECK(write(fd->get(), "x", 1) < 0);
  CHECK(ftruncate(fd->get(), 0) < 0);
}

TEST_CASE("the trampoline execs argv[0] with the rest as argv", "[unit][dmz]") {
  auto fd = sworn::security::SealedDmz();
  REQUIRE(fd);
  int out[2];
  REQUIRE(pipe(out) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    const char* argv[] = {"/bin/sh", "sh", "-c", "echo $0-$1", "a", "b", nullptr};
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
    const char* argv[] = {"/no/such/program", "x", nullptr};
    const char* envp[] = {nullptr};
    syscall(SYS_execveat, fd->get(), "", argv, envp, AT_EMPTY_PATH);
    _exit(99);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WEXITSTATUS(status) == 127);
}
