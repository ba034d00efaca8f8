// ElfDeps on the host root and on a small fake root.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/fd.h"
#include "security/elf_deps.h"

using namespace sworn;
using namespace sworn::security;
namespace fs = std::filesystem;

namespace {

UniqueFd OpenRoot(const std::string& path) { return UniqueFd(open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)); }

bool Contains(const std::vector<std::string>& v, const std::string& s) { return std::ranges::find(v, s) != v.end(); }

bool AnyEndsWith(const std::vector<std::string>& v, const std::string& suffix) {
  return std::ranges::any_of(v, [&](const std::string& p) { return p.ends_with(suffix); });
}

struct FakeRoot {
  std::string base;
  FakeRoot() {
    char tmpl[] = "/tmp/sworn-elfdeps-XXXXXX";
    base = mkdtemp(tmpl);
  }
  ~FakeRoot() { fs::remove_all(base); }
  void Write(const std::string& rel, const std::string& text) {
    fs::create_directories(fs::path(base + rel).parent_path());
    std::ofstream(base + rel) << text;
  }
};

}  // namespace

TEST_CASE("ElfDeps of a dynamic binary on the host", "[unit][elf_deps]") {
  UniqueFd root = OpenRoot("/");
  auto deps = ElfDeps(root.get(), "/bin/ls");
  REQUIRE(deps);
  INFO([&] {
    std::string s;
    for (const auto& d : *deps) s += d + "\n";
    return s;
  }());
  CHECK(fs::equivalent(deps->front(), "/bin/ls"));
  CHECK(AnyEndsWith(*deps, "/ld-linux-x86-64.so.2"));
  CHECK(AnyEndsWith(*deps, "/libc.so.6"));
  CHECK(AnyEndsWith(*deps, "/libselinux.so.1"));
  CHECK(std::ranges::any_of(*deps, [](auto& d) { return d.find("/libpcre2-8.so.0") != std::string::npos; }));  // via libselinux
  CHECK(Contains(*deps, "/etc/ld.so.cache"));
  for (const auto& d : *deps) {
    CHECK(fs::is_regular_file(fs::symlink_status(d)));  // symlinks resolved
    CHECK(std::ranges::count(*deps, d) == 1);
  }
  bool interp_found = std::ranges::any_of(*deps, [](auto& d) {
    return fs::equivalent(d, "/lib64/ld-linux-x86-64.so.2");
  });
  CHECK(interp_found);

  auto detailed = ElfDepsDetailed(root.get(), "/bin/ls");
  REQUIRE(detailed);
  for (const auto& d : *detailed) CHECK(d.exec == (d.path.ends_with("/ls") || d.path.ends_with("ld-linux-x86-64.so.2")));
}

TEST_CASE("ElfDeps of a static binary is just itself", "[unit][elf_deps]") {
  if (!fs::exists("/bin/busybox")) {
    WARN("skipped: /bin/busybox is not installed");
    return;
  }
  UniqueFd root = OpenRoot("/");
  auto deps = ElfDeps(root.get(), "/bin/busybox");
  REQUIRE(deps);
  REQUIRE(deps->size() == 1);
  CHECK(fs::equivalent(deps->front(), "/bin/busybox"));
}

TEST_CASE("ElfDeps errors and scripts", "[unit][elf_deps]") {
  UniqueFd root = OpenRoot("/");
  auto missing = ElfDeps(root.get(), "/bin/no-such-binary");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::kNotFound);
  CHECK(missing.error().Message().find("/bin/no-such-binary") != std::string::npos);

  FakeRoot f;
  f.Write("/bin/notelf", "hello, this is not an ELF file\n");
  f.Write("/bin/script", "#! /bin/ls -l\necho\n");
  f.Write("/bin/loop", "#!/bin/loop\n");
  fs::create_directories(f.base + "/bin");
  fs::copy_file("/bin/busybox", f.base + "/bin/busybox");
  fs::create_symlink("/bin/busybox", f.base + "/bin/sh");
  fs::copy_file("/bin/ls", f.base + "/bin/ls");
  UniqueFd fake = OpenRoot(f.base);

  auto notelf = ElfDeps(fake.get(), "/bin/notelf");
  REQUIRE_FALSE(notelf);
  CHECK(notelf.error().Message().find("not a 64-bit little-endian ELF") != std::string::npos);

  // Symlinks resolve inside the root: /bin/sh → /bin/busybox of the fake root.
  auto sh = ElfDeps(fake.get(), "/bin/sh");
  REQUIRE(sh);
  CHECK(*sh == std::vector<std::string>{"/bin/busybox"});

  // The fake root has no interpreter for ls: an error naming what is missing.
  auto ls = ElfDeps(fake.get(), "/bin/ls");
  REQUIRE_FALSE(ls);
  CHECK(ls.error().Message().find("ld-linux-x86-64.so.2") != std::string::npos);

  auto loop = ElfDeps(fake.get(), "/bin/loop");
  REQUIRE_FALSE(loop);
  CHECK(loop.error().Message().find("too many #! levels") != std::string::npos);

  // A script on the host: itself, then its interpreter and that one's deps.
  auto script = ElfDepsDetailed(root.get(), "/usr/bin/ldd");
  if (script) {
    REQUIRE(script->size() >= 3);
    CHECK((*script)[0].path == "/usr/bin/ldd");
    CHECK((*script)[0].exec);
    CHECK((*script)[1].exec);
  }
  auto fake_script = ElfDeps(fake.get(), "/bin/script");
  REQUIRE_FALSE(fake_script);  // /bin/ls of the fake root lacks its interpreter
  CHECK(fake_script.error().Message().find("#! interpreter of /bin/script") != std::string::npos);
}
