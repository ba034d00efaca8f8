// Unveil denial reports: Landlock's audit blockers → the access and the
// unveil rule that would allow it (no kernel needed).
#include <catch2/catch.hpp>

#include "security/unveil_reporter.h"

using sworn::security::ExplainUnveil;

TEST_CASE("a file access needs the permission on the file's directory", "[unveil_reporter]") {
  auto f = ExplainUnveil("fs.write_file", "/data/x");
  CHECK(f.access == "write");
  CHECK(f.rule == "w:/data");
  f = ExplainUnveil("fs.execute", "/usr/bin/id");
  CHECK(f.access == "execute");
  CHECK(f.rule == "x:/usr/bin");
  CHECK(ExplainUnveil("fs.read_file", "/etc").rule == "r:/");
}

TEST_CASE("a directory change needs c on the directory itself", "[unveil_reporter]") {
  auto f = ExplainUnveil("fs.make_reg", "/data/sub");
  CHECK(f.access == "create a file in");
  CHECK(f.rule == "c:/data/sub");
  CHECK(ExplainUnveil("fs.read_dir", "/srv").rule == "r:/srv");
}

TEST_CASE("several blockers add up; unknown ones are named, never dropped", "[unveil_reporter]") {
  auto f = ExplainUnveil("fs.write_file,fs.truncate", "/data/x");
  CHECK(f.access == "write+truncate");
  CHECK(f.rule == "w:/data");
  f = ExplainUnveil("fs.read_file,fs.write_file", "/data/x");
  CHECK(f.rule == "rw:/data");
  f = ExplainUnveil("net.connect_tcp", "");
  CHECK(f.access == "net.connect_tcp");
  CHECK(f.rule == "no unveil rule (net.connect_tcp)");
}
