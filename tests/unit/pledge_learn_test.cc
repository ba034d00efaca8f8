// Learn mode's proposal (security/pledge_learn.h): the smallest promises and
// the narrowest directory rules for the calls a run made.
#include <fcntl.h>
#include <sys/syscall.h>

#include <catch2/catch.hpp>

#include "security/pledge_learn.h"

using namespace sworn::security;

namespace {

// Records one path call as the reporter does: arguments that point at the
// strings, read back through `read`.
void RecordPath(PolicyLearner& l, int nr, const std::string& path, uint64_t flags = 0) {
  uint64_t args[6] = {uint64_t(AT_FDCWD), reinterpret_cast<uint64_t>(path.c_str()), flags, 0666, 0, 0};
  if (nr == __NR_execve || nr == __NR_mkdir) args[0] = args[1], args[1] = 0;
  auto read = [](uint64_t a) -> std::optional<std::string> { return std::string(reinterpret_cast<const char*>(a)); };
  auto resolve = [](int64_t, const std::string& p) { return "/cwd/" + p; };
  l.Record(nr, args, 1, PathUses(nr, args, read, resolve));
}

}  // namespace

TEST_CASE("learn: a shell that writes a file, lists its directory and execs", "[pledge][learn]") {
  PolicyLearner l;
  RecordPath(l, __NR_openat, "/tmp/out", O_WRONLY | O_CREAT | O_TRUNC);
  RecordPath(l, __NR_openat, "/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  RecordPath(l, __NR_openat, "/dev/null", O_WRONLY | O_CREAT | O_TRUNC);
  RecordPath(l, __NR_execve, "/bin/true");
  LearnedPolicy p = l.Propose({});
  CHECK(p.promises == std::vector<std::string>{"stdio", "rpath", "cpath", "exec"});
  // The listed directory keeps its read right: on "/" it would reach everything.
  CHECK(p.unveil == std::vector<std::string>{"rx:/bin", "wc:/dev", "rwc:/tmp"});
}

TEST_CASE("learn: files become rules on their directory, narrower rules under a wider one go", "[pledge][learn]") {
  PolicyLearner l;
  RecordPath(l, __NR_openat, "/etc/hosts", O_RDONLY);
  RecordPath(l, __NR_openat, "/etc/ssl/certs/a.pem", O_RDONLY);
  RecordPath(l, __NR_openat, "rel/f", O_RDONLY);
  RecordPath(l, __NR_openat, "/srv/x/../www/index.html", O_RDONLY);
  LearnedPolicy p = l.Propose({});
  CHECK(p.promises == std::vector<std::string>{"stdio", "rpath"});
  CHECK(p.unveil == std::vector<std::string>{"r:/cwd/rel", "r:/etc", "r:/srv/www"});
}

TEST_CASE("learn: the automatic entrypoint and libraries are left out", "[pledge][learn]") {
  PolicyLearner l;
  RecordPath(l, __NR_openat, "/usr/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY | O_CLOEXEC);
  RecordPath(l, __NR_openat, "/data/in", O_RDONLY);
  LearnedPolicy p = l.Propose({"/usr/lib/x86_64-linux-gnu/libc.so.6"});
  CHECK(p.unveil == std::vector<std::string>{"r:/data"});
}
