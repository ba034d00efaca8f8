// Destinations are resolved inside the rootfs: symlinks and ".." cannot
// lead a mount target out of it (CVE-2021-30465 and friends).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "linux/rootfs.h"

namespace fs = std::filesystem;

namespace {

struct Tree {
  std::string base;
  Tree() {
    char tmpl[] = "/tmp/sworn-resolve-XXXXXX";
    base = mkdtemp(tmpl);
    fs::create_directories(base + "/root/etc");
    fs::create_directories(base + "/outside");
  }
  ~Tree() { fs::remove_all(base); }
  std::string root() const { return base + "/root"; }
};

std::string RealPathOfFd(int fd) {
  char buf[4096];
  ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), buf, sizeof(buf) - 1);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

}  // namespace

TEST_CASE("dot-dot in a destination stays inside the root", "[unit][mount]") {
  Tree t;
  sworn::UniqueFd root(open(t.root().c_str(), O_PATH | O_DIRECTORY));
  auto fd = sworn::linux_fs::EnsureTarget(root.get(), "/../../outside/x", false);
  REQUIRE(fd);
  CHECK(RealPathOfFd(fd->get()) == t.root() + "/outside/x");
  CHECK_FALSE(fs::exists(t.base + "/outside/x"));
}

TEST_CASE("an absolute symlink in a destination resolves inside the root", "[unit][mount]") {
  Tree t;
  fs::create_symlink(t.base + "/outside", t.root() + "/evil");
  fs::create_directories(t.root() + t.base + "/outside");  // the in-root twin
  sworn::UniqueFd root(open(t.root().c_str(), O_PATH | O_DIRECTORY));
  auto fd = sworn::linux_fs::EnsureTarget(root.get(), "/evil/file", true);
  REQUIRE(fd);
  CHECK(RealPathOfFd(fd->get()) == t.root() + t.base + "/outside/file");
  CHECK_FALSE(fs::exists(t.base + "/outside/file"));
}

TEST_CASE("a dangling symlink is never followed out of the root", "[unit][mount]") {
  Tree t;
  fs::create_symlink("/../../../" + t.base + "/outside/made", t.root() + "/dangling");
  sworn::UniqueFd root(open(t.root().c_str(), O_PATH | O_DIRECTORY));
  auto fd = sworn::linux_fs::EnsureTarget(root.get(), "/dangling/sub", false);
  CHECK_FALSE(fs::exists(t.base + "/outside/made"));
  if (fd) CHECK(RealPathOfFd(fd->get()).rfind(t.root(), 0) == 0);
}

TEST_CASE("missing parents are created inside the root", "[unit][mount]") {
  Tree t;
  sworn::UniqueFd root(open(t.root().c_str(), O_PATH | O_DIRECTORY));
  auto fd = sworn::linux_fs::EnsureTarget(root.get(), "/a/b/c.txt", true);
  REQUIRE(fd);
  CHECK(fs::is_regular_file(t.root() + "/a/b/c.txt"));
}

TEST_CASE("a special filesystem's mount point is never reached through a symlink", "[unit][mount]") {
  Tree t;
  fs::create_directories(t.root() + "/elsewhere/fs");
  fs::create_symlink("/elsewhere", t.root() + "/proc");
  fs::create_symlink("/elsewhere", t.root() + "/sys");
  fs::create_symlink("/missing", t.root() + "/mq");
  sworn::UniqueFd root(open(t.root().c_str(), O_PATH | O_DIRECTORY));
  for (const char* dest : {"/proc", "/sys/fs/cgroup", "/mq", "/mq/sub"}) {
    auto fd = sworn::linux_fs::PlainDirInRoot(root.get(), dest);
    INFO(dest);
    REQUIRE_FALSE(fd);
    CHECK_THAT(fd.error().Message(), Catch::Contains("ordinary directory") && Catch::Contains(dest));
  }
  CHECK_FALSE(fs::exists(t.root() + "/missing"));
  CHECK_FALSE(fs::exists(t.root() + "/elsewhere/fs/cgroup"));
}

TEST_CASE("a special filesystem's missing mount point is created as plain directories", "[unit][mount]") {
  Tree t;
  sworn::UniqueFd root(open(t.root().c_str(), O_PATH | O_DIRECTORY));
  auto fd = sworn::linux_fs::PlainDirInRoot(root.get(), "/sys/fs/cgroup");
  REQUIRE(fd);
  CHECK(RealPathOfFd(fd->get()) == t.root() + "/sys/fs/cgroup");
  { std::ofstream(t.root() + "/etc/regular") << "x"; }
  auto notdir = sworn::linux_fs::PlainDirInRoot(root.get(), "/etc/regular");
  REQUIRE_FALSE(notdir);
  CHECK_THAT(notdir.error().Message(), Catch::Contains("not a directory"));
}
