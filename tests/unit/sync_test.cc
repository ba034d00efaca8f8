#include <catch2/catch.hpp>

#include "process/sync.h"

using namespace sworn;
using process::SyncSocket;
using process::SyncType;

TEST_CASE("a child that exits with a queued kStart unread still gets its error through", "[sync]") {
  auto pair = SyncSocket::Pair();
  REQUIRE(pair);
  auto& [parent, child] = *pair;
  // `run` queues kStart while the child builds its rootfs (process/sync.h).
  REQUIRE(parent.Send(SyncType::kStart));
  REQUIRE(child.Send(SyncType::kError, 2, "mounts[7]: bind mount source: stat /x: No such file or directory"));
  // Closing with kStart unread: the kernel reports ECONNRESET to the parent.
  child.Close();
  auto m = parent.Recv();
  REQUIRE(m);
  CHECK(m->type == SyncType::kError);
  CHECK(m->err == 2);
  CHECK(std::string(m->text).find("mounts[7]") != std::string::npos);
  auto eof = parent.Recv();
  REQUIRE_FALSE(eof);
  CHECK(eof.error().code == Errc::kNotFound);
}
