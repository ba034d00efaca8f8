#include <cstring>

#include <catch2/catch.hpp>

#include "cgroup/dbus.h"
#include "cgroup/systemd.h"

using sworn::cgroup::systemd::ParsePath;

TEST_CASE("systemd cgroupsPath: slice:prefix:name, as runc", "[unit][systemd]") {
  auto u = ParsePath("machine.slice:sworn:abc", "id");
  REQUIRE(u);
  CHECK(u->slice == "machine.slice");
  CHECK(u->scope == "sworn-abc.scope");
  u = ParsePath(":docker:x", "id");
  REQUIRE(u);
  CHECK(u->slice == "system.slice");
  CHECK(u->scope == "docker-x.scope");
  u = ParsePath("", "c1");
  REQUIRE(u);
  CHECK(u->scope == "sworn-c1.scope");
  CHECK(ParsePath("a.slice::name.scope", "id")->scope == "name.scope");
  CHECK_FALSE(ParsePath("/a/b", "id"));
  CHECK_FALSE(ParsePath("notaslice:p:n", "id"));
  CHECK_FALSE(ParsePath("a.slice:p:", "id"));
  CHECK_FALSE(ParsePath("a.slice:p:x.slice", "id"));
  CHECK(ParsePath("/a/b", "id").error().Message().find("linux.cgroupsPath") != std::string::npos);
}

TEST_CASE("D-Bus marshalling: alignment, array lengths, variants", "[unit][systemd]") {
  sworn::dbus::Writer w;
  w.Str("ab");  // 4-byte length, bytes, NUL
  w.Array(8, [&] {  // a(sv): length excludes the padding before the first struct
    w.Struct([&] {
      w.Str("PIDs");
      w.Variant("au", [&] { w.Array(4, [&] { w.U32(42); }); });
    });
  });
  const std::string& d = w.data();
  uint32_t v;
  std::memcpy(&v, d.data(), 4);
  CHECK(v == 2);
  CHECK(d.substr(4, 3) == std::string("ab\0", 3));
  std::memcpy(&v, d.data() + 8, 4);  // array length at 8, elements from 16
  CHECK(v == d.size() - 16);
  sworn::dbus::Reader r(d);
  CHECK(*r.Str() == "ab");
  CHECK(*r.U32() == d.size() - 16);
  r.Pad(8);
  CHECK(*r.Str() == "PIDs");
  CHECK(*r.Sig() == "au");
  CHECK(*r.U32() == 4);
  CHECK(*r.U32() == 42);
  CHECK_FALSE(r.U32());  // past the end: an error, not a crash
}
