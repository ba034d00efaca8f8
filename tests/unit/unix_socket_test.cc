#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/unix_socket.h"

using namespace sworn;

TEST_CASE("SendWithFd and RecvFd pass an fd; a message without one is kNotFound", "[unix_socket]") {
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  UniqueFd a(sv[0]), b(sv[1]);
  int p[2];
  REQUIRE(pipe(p) == 0);
  UniqueFd r(p[0]), w(p[1]);
  REQUIRE(SendWithFd(a.get(), "x", 1, w.get(), "test"));
  auto got = RecvFd(b.get(), "test");
  REQUIRE(got);
  struct stat want {}, have {};
  fstat(w.get(), &want);
  fstat(got->get(), &have);
  CHECK(want.st_ino == have.st_ino);
  CHECK(fcntl(got->get(), F_GETFD) & FD_CLOEXEC);
  REQUIRE(SendWithFd(a.get(), "y", 1, -1, "test"));
  auto none = RecvFd(b.get(), "test");
  REQUIRE_FALSE(none);
  CHECK(none.error().code == Errc::kNotFound);
}
